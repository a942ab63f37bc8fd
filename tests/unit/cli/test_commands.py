"""The commands end to end against fake daemons: output, --json, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gracebgp.cli.main import run
from tests.unit.cli.fake import FakeDaemon, install

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> FakeDaemon:
    fake = FakeDaemon()
    install(monkeypatch, {"/a.sock": fake, "/b.sock": FakeDaemon("edge2", "192.0.2.9")})
    return fake


def cli(capsys: Capture, *args: str) -> tuple[int, str, str]:
    code = run(["--socket", "/a.sock", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_peers_table_and_json(daemon: FakeDaemon, capsys: Capture) -> None:
    code, out, _ = cli(capsys, "peers")
    assert code == 0
    assert out.splitlines()[1].split() == ["192.0.2.2", "65001", "65002", "Established", "1h2m3s",
                                           "ipv4-unicast", "3", "2", "5", "0"]
    code, out, _ = cli(capsys, "--json", "peers")
    assert json.loads(out)[0]["address"] == "192.0.2.2"


def test_fleet_merges_with_node_column(daemon: FakeDaemon, capsys: Capture) -> None:
    code = run(["--host", "/a.sock", "--host", "b=/b.sock", "--json", "peers"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert [p["node"] for p in json.loads(out)] == ["edge1", "b"]
    run(["--host", "/a.sock", "--host", "b=/b.sock", "routes", "available", "ipv4", "unicast"])
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].split()[:2] == ["Node", "Prefix"]
    assert out.splitlines()[1].split()[:3] == ["edge1", "*>", "10.0.0.0/24"]


def test_neighbor_actions_send_the_right_request(daemon: FakeDaemon, capsys: Capture) -> None:
    out = cli(capsys, "neighbor", "192.0.2.2", "softreset", "in")[1]
    assert out == "soft reset (soft-in) neighbor 192.0.2.2\n"
    assert b'"mode":"soft-in"' in daemon.requests[-1].content
    assert cli(capsys, "neighbor", "192.0.2.2", "shutdown", "--message", "maint")[0] == 0
    assert b'"message":"maint"' in daemon.requests[-1].content


@pytest.mark.parametrize(("args", "code", "message"), [
    (["neighbor", "10.0.0.9", "reset"], 1, "gracebgp: error: peer 10.0.0.9 not found\n"),
    (["neighbor", "192.0.2.2", "bounce"], 2, "unknown neighbor action 'bounce'"),
    (["neighbor", "192.0.2.2", "softreset", "sideways"], 2, "softreset takes 'in' or 'out'"),
    (["neighbor", "192.0.2.2", "enable", "--as", "5"], 2, "--as only go with 'neighbor add ADDR'"),
    (["neighbor", "add", "192.0.2.7"], 2, "--as N is required"),
    (["neighbor", "add", "192.0.2.7", "--as", "0"], 2, "peer_as"),
    (["routes", "received", "ipv4", "unicast"], 2, "routes received needs --peer ADDR"),
    (["routes", "available", "ipv5", "unicast"], 2, "unknown address family 'ipv5'"),
    (["rib", "add", "10.0.0.0/24", "colour", "blue"], 2, "rib add: unknown word 'colour'"),
    (["rib", "add"], 2, "give a PREFIX"),
    (["bogus"], 2, "No such command 'bogus'"),
])
def test_errors(daemon: FakeDaemon, capsys: Capture, args: list[str], code: int, message: str) -> None:
    got, _, err = cli(capsys, *args)
    assert got == code
    assert message in err
    assert err.count("\n") == 1 and err.startswith("gracebgp: error: ")
    assert "Traceback" not in err


def test_rib_add_file(daemon: FakeDaemon, capsys: Capture, tmp_path: Path) -> None:
    routes = tmp_path / "routes.txt"
    routes.write_text("10.0.0.0/24 med 5\n# skip\n10.0.1.0/24 community 1:1\n")
    code, out, _ = cli(capsys, "rib", "add", "--file", str(routes))
    assert (code, out) == (0, "added 2 routes\n")
    assert json.loads(daemon.requests[-1].content)["paths"][1]["communities"] == ["1:1"]
    code, out, _ = cli(capsys, "--json", "rib", "del", "-f", str(routes), "10.0.2.0/24")
    assert json.loads(out) == {"changed": 3, "unchanged": 0}


def test_health_exit_code(daemon: FakeDaemon, capsys: Capture) -> None:
    assert cli(capsys, "health") == (0, "healthy\n", "")
    daemon.healthy = False
    code, out, _ = cli(capsys, "health")
    assert code == 1
    assert out.splitlines()[1].split()[:4] == ["PeerDown", "error", "192.0.2.9", "Idle"]
    assert out.splitlines()[-1] == "not healthy"


def test_events(daemon: FakeDaemon, capsys: Capture) -> None:
    code, out, _ = cli(capsys, "events")
    assert code == 0 and "peer-state" in out and "route" not in out.split("\n", 1)[1]
    code, out, _ = cli(capsys, "--json", "events", "--routes")
    assert [e["kind"] for e in json.loads(out)] == ["peer-state", "route"]
    code, out, _ = cli(capsys, "--json", "events", "--follow", "--count", "2")
    assert code == 0
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2]
    code, out, err = cli(capsys, "events", "--follow")  # the fake stream ends after 3 events
    assert code == 1 and len(out.splitlines()) == 3 and "closed the event stream" in err


def test_global_and_metrics(daemon: FakeDaemon, capsys: Capture) -> None:
    code, out, _ = cli(capsys, "global")
    assert code == 0 and "Router ID" in out and "192.0.2.1" in out
    assert cli(capsys, "metrics")[1] == "# HELP x\nx 1\n"
