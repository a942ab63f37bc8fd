"""The ``gracebgp`` CLI against two real gracebgpd daemons on loopback (high ports, no root):
every command through a subprocess, its table and its ``--json`` output, the fleet view
and the one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gracebgp.config.default import demo_configs

T = TypeVar("T")
A_ADDR, B_ADDR = "127.0.0.1", "127.0.0.2"  # A's peer is B_ADDR and B's peer is A_ADDR


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Pair:
    a: str  # API sockets
    b: str
    logs: tuple[Path, Path]


def gb(*args: str, sock: str | None = None, timeout: float = 30.0,
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``gracebgp [--socket SOCK] ARGS`` as a subprocess."""
    head = ["--socket", sock] if sock else []
    return subprocess.run([sys.executable, "-m", "gracebgp.cli.main", *head, *args], check=False,
                          capture_output=True, text=True, timeout=timeout, env=env)


def ok(*args: str, sock: str | None = None) -> str:
    r = gb(*args, sock=sock)
    assert r.returncode == 0, f"gracebgp {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert r.stderr == ""
    return r.stdout


def as_json(*args: str, sock: str | None = None) -> Any:
    return json.loads(ok("--json", *args, sock=sock))


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stderr.startswith("gracebgp: error: ") and r.stderr.count("\n") == 1, r.stderr
    return r.stderr


def until(check: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
    """Poll every 0.2 s until ``check()`` is truthy; bounded."""
    end = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.2)


def peer_of(sock: str, address: str) -> dict[str, Any] | None:
    r = gb("--json", "peers", sock=sock)
    if r.returncode != 0:
        return None
    return next((p for p in json.loads(r.stdout) if p["address"] == address), None)


def established(pair: Pair) -> None:
    def up(sock: str, peer: str) -> Callable[[], bool]:
        return lambda: (peer_of(sock, peer) or {}).get("state") == "Established"

    for sock, peer in ((pair.a, B_ADDR), (pair.b, A_ADDR)):
        until(up(sock, peer), f"{sock}: {peer} Established")


def received(sock: str, peer: str, prefix: str) -> list[dict[str, Any]]:
    r = gb("--json", "routes", "received", "ipv4", "unicast", "--peer", peer, sock=sock)
    assert r.returncode == 0, r.stderr
    return [e for e in json.loads(r.stdout) if e["prefix"] == prefix]


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    state = tempfile.mkdtemp(prefix="gb")  # short: a Unix socket path has at most 107 bytes
    texts = demo_configs(free_port(A_ADDR), free_port(B_ADDR), state)
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for name, text in zip("ab", texts, strict=True):
            conf, log = Path(state, f"{name}.toml"), Path(state, f"{name}.log")
            conf.write_text(text)
            with log.open("wb") as out:
                procs.append(subprocess.Popen([sys.executable, "-m", "gracebgp.daemon", "-f", str(conf)],
                                              stdout=out, stderr=subprocess.STDOUT))
            logs.append(log)
        result = Pair(f"{state}/speaker-a/gracebgpd.sock", f"{state}/speaker-b/gracebgpd.sock",
                      (logs[0], logs[1]))
        try:
            established(result)
        except AssertionError:
            raise AssertionError("\n".join(log.read_text()[-2000:] for log in logs)) from None
        yield result
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        shutil.rmtree(state, ignore_errors=True)


def test_peers_global_health_metrics(pair: Pair) -> None:
    lines = ok("peers", sock=pair.a).splitlines()
    assert lines[0].split() == ["Peer", "Address", "Local", "AS", "Peer", "AS", "State", "Uptime", "Family",
                                "Received", "Accepted", "Advertised", "Stale"]
    rows = [line.split() for line in lines[1:]]
    assert [r[5] for r in rows] == ["ipv4-unicast", "ipv6-unicast"]
    assert rows[0][:4] == [B_ADDR, "65001", "65002", "Established"]
    assert int(rows[0][6]) >= 3  # B's three IPv4 routes
    peers = as_json("peers", sock=pair.b)
    assert peers[0]["address"] == A_ADDR and peers[0]["peer_as"] == 65001
    assert {f["family"] for f in peers[0]["families"]} == {"ipv4-unicast", "ipv6-unicast"}
    g = ok("global", sock=pair.a)
    assert ["Router", "ID", "127.0.0.1"] in [line.split() for line in g.splitlines()]
    assert as_json("global", sock=pair.b)["asn"] == 65002
    health = gb("health", sock=pair.a)
    healthy = as_json("health", sock=pair.a)["healthy"]
    assert health.returncode == (0 if healthy else 1)
    assert health.stdout.splitlines()[-1] == ("healthy" if healthy else "not healthy")
    assert 'gracebgp_peer_up{peer="127.0.0.2"} 1.0' in ok("metrics", sock=pair.a)


def test_routes_views(pair: Pair) -> None:
    loc = ok("routes", "available", "ipv4", "unicast", sock=pair.b)
    assert loc.splitlines()[0].split() == ["Prefix", "NextHop", "Peer", "Age", "Attrs"]
    line = next(x for x in loc.splitlines() if "192.0.2.0/26" in x)
    assert line.split()[:4] == ["*>", "192.0.2.0/26", A_ADDR, A_ADDR]
    assert "communities 65001:100" in line
    assert "local" in next(x for x in loc.splitlines() if "192.0.2.64/26" in x)
    best = as_json("routes", "available", "ipv4", "unicast", "--best", sock=pair.b)
    assert all(e["best"] for e in best) and len(best) == 6
    adj_in = ok("routes", "received", "ipv6", "unicast", "--peer", A_ADDR, sock=pair.b)
    assert "2001:db8:a::/48" in adj_in and "large 65001:1:1" in adj_in
    pre = as_json("routes", "received", "ipv4", "unicast", "--peer", A_ADDR, "--all", sock=pair.b)
    assert {e["prefix"] for e in pre} >= {"192.0.2.0/26", "198.51.100.0/26", "203.0.113.0/26"}
    out = as_json("routes", "advertised", "ipv4", "unicast", "-p", B_ADDR, sock=pair.a)
    assert sorted(e["prefix"] for e in out) == ["192.0.2.0/26", "198.51.100.0/26", "203.0.113.0/26"]
    one = as_json("routes", "available", "ipv4", "unicast", "192.0.2.0/24", "--longer", sock=pair.a)
    assert sorted(e["prefix"] for e in one) == ["192.0.2.0/26", "192.0.2.64/26"]
    exact = as_json("routes", "available", "ipv4", "unicast", "192.0.2.70", sock=pair.a)
    assert [e["prefix"] for e in exact] == ["192.0.2.64/26"]
    assert ok("routes", "available", "ipv4", "unicast", "10.250.0.0/16", sock=pair.a) == \
        "no routes for 10.250.0.0/16\n"
    for view in ("received", "advertised"):
        r = gb("routes", view, "ipv4", "unicast", sock=pair.a)
        assert r.returncode == 2
        assert f"routes {view} needs --peer ADDR" in one_line_error(r)


def test_rib_add_reaches_the_peer_and_del_withdraws(pair: Pair, tmp_path: Path) -> None:
    established(pair)
    assert ok("rib", "add", "10.99.0.0/24", "community", "65000:7", "65000:8", "med", "10",
              sock=pair.a) == "added 1 route\n"
    got = until(lambda: received(pair.b, A_ADDR, "10.99.0.0/24"), "10.99.0.0/24 at B")
    assert got[0]["attrs"]["communities"] == ["65000:7", "65000:8"] and got[0]["attrs"]["med"] == 10
    table = ok("routes", "received", "ipv4", "unicast", "--peer", A_ADDR, "10.99.0.0/24", sock=pair.b)
    assert "*>  10.99.0.0/24  127.0.0.1" in table and "med 10 communities 65000:7,65000:8" in table
    assert as_json("rib", "del", "10.99.0.0/24", sock=pair.a) == {"changed": 1, "unchanged": 0}
    until(lambda: not received(pair.b, A_ADDR, "10.99.0.0/24"), "10.99.0.0/24 withdrawn at B")
    # --file: bulk add and delete, one spec per line
    routes = tmp_path / "routes.txt"
    routes.write_text("".join(f"10.98.{i}.0/24 community 65000:{i}  # bulk\n" for i in range(20)))
    assert ok("rib", "add", "--file", str(routes), sock=pair.a) == "added 20 routes\n"
    until(lambda: received(pair.b, A_ADDR, "10.98.19.0/24"), "bulk routes at B")
    again = ok("rib", "add", "-f", str(routes), sock=pair.a)
    assert again == "added 0 routes; 20 were already there, identical\n"
    assert ok("rib", "del", "--file", str(routes), sock=pair.a) == "deleted 20 routes\n"
    # a prefix that is not there: said so, not "deleted 0 routes (1 unchanged)"
    assert ok("rib", "del", "10.97.0.0/24", sock=pair.a) == (
        "no route 10.97.0.0/24 to delete: this speaker does not originate it\n")
    assert ok("rib", "del", "10.97.0.0/24", "10.98.0.0/24", sock=pair.a) == (
        "deleted 0 routes; 2 prefixes not found (not originated here)\n")
    until(lambda: not received(pair.b, A_ADDR, "10.98.19.0/24"), "bulk routes withdrawn at B")
    # bad words are caught by the CLI, bad values by the daemon: one line each
    assert "unknown word 'colour'" in one_line_error(gb("rib", "add", "10.0.0.0/24", "colour", "red",
                                                         sock=pair.a))
    assert "not a prefix" in one_line_error(gb("rib", "add", "10.0.0.0/33", sock=pair.a))
    assert "nexthop needs a value" in one_line_error(gb("rib", "add", "10.0.0.0/24", "nexthop", sock=pair.a))


def test_events_history_follow_and_ctrl_c(pair: Pair) -> None:
    history = ok("events", sock=pair.a)
    assert history.splitlines()[0].split() == ["Time", "Kind", "Peer", "Message"]
    assert "peer-state" in history and "ESTABLISHED" in history
    kinds = {e["kind"] for e in as_json("events", sock=pair.a)}
    assert "peer-state" in kinds and "route" not in kinds
    follower = subprocess.Popen([sys.executable, "-m", "gracebgp.cli.main", "--socket", pair.a, "--json",
                                 "events", "--follow", "--routes", "--count", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def changed() -> bool:  # keep changing a route until the follower has seen two events
            ok("rib", "add", "10.97.0.0/24", sock=pair.a)
            ok("rib", "del", "10.97.0.0/24", sock=pair.a)
            return follower.poll() is not None
        until(changed, "events --follow --count 2 to end")
        out, err = follower.communicate(timeout=10)
    finally:
        if follower.poll() is None:
            os.kill(follower.pid, signal.SIGKILL)
            follower.wait(timeout=10)
    assert follower.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 2 and {e["kind"] for e in events} <= {"route", "command"}
    # Ctrl-C: quiet, exit code 130
    follower = subprocess.Popen([sys.executable, "-m", "gracebgp.cli.main", "--socket", pair.a, "events",
                                 "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        os.kill(follower.pid, signal.SIGINT)
        out, err = follower.communicate(timeout=10)
    finally:
        if follower.poll() is None:
            os.kill(follower.pid, signal.SIGKILL)
            follower.wait(timeout=10)
    assert follower.returncode == 130
    assert "Traceback" not in err and "Traceback" not in out


def test_soft_and_hard_reset(pair: Pair) -> None:
    established(pair)
    before = peer_of(pair.a, B_ADDR)
    assert before is not None
    assert ok("neighbor", B_ADDR, "softreset", "out", sock=pair.a).endswith("\n")
    assert as_json("neighbor", B_ADDR, "softreset", "in", sock=pair.a)["ok"] is True
    assert ok("neighbor", B_ADDR, "softreset", sock=pair.a)
    after = peer_of(pair.a, B_ADDR)
    assert after is not None and after["established_count"] == before["established_count"]
    assert after["messages_sent"]["route_refresh"] > before["messages_sent"]["route_refresh"]
    ok("neighbor", B_ADDR, "reset", sock=pair.a)
    until(lambda: (peer_of(pair.a, B_ADDR) or {}).get("established_count", 0) > before["established_count"],
          "session re-established after the hard reset")
    established(pair)


def test_shutdown_with_message_then_enable(pair: Pair) -> None:
    established(pair)
    ok("neighbor", B_ADDR, "shutdown", "--message", "maint", sock=pair.a)
    table = ok("peers", sock=pair.a)
    assert "Idle (admin down)" in table
    a_view = peer_of(pair.a, B_ADDR)
    assert a_view is not None and a_view["admin_down"] and a_view["state"] == "Idle"
    # B heard the RFC 9003 communication (its last_error until B's next attempt is refused)
    until(lambda: any("maint" in e["message"] and e["peer"] == A_ADDR
                      for e in as_json("events", sock=pair.b)), "B: the shutdown communication")
    assert "maint" in ok("events", sock=pair.b)
    assert (peer_of(pair.b, A_ADDR) or {}).get("state") != "Established"
    ok("neighbor", B_ADDR, "enable", sock=pair.a)
    established(pair)
    assert not (peer_of(pair.a, B_ADDR) or {}).get("admin_down")


def test_neighbor_add_show_del(pair: Pair) -> None:
    out = ok("neighbor", "add", "127.0.0.9", "--as", "65009", "--passive", "--description", "test peer",
             sock=pair.a)
    assert out == "added neighbor 127.0.0.9 (AS 65009)\n"
    new = peer_of(pair.a, "127.0.0.9")
    assert new is not None and new["dynamic"] and new["peer_as"] == 65009
    detail = ok("neighbor", "127.0.0.9", sock=pair.a)
    pairs = [line.split() for line in detail.splitlines()]
    assert ["Description", "test", "peer"] in pairs
    assert ["Dynamic", "yes,", "added", "through", "the", "API"] in pairs
    assert as_json("neighbor", "127.0.0.9", sock=pair.a)["description"] == "test peer"
    err = one_line_error(gb("neighbor", "add", "127.0.0.9", "--as", "65009", sock=pair.a))
    assert "already exists" in err
    ok("neighbor", "del", "127.0.0.9", sock=pair.a)
    assert peer_of(pair.a, "127.0.0.9") is None


def test_neighbor_add_with_families(pair: Pair) -> None:
    out = ok("neighbor", "add", "127.0.0.10", "--as", "65010", "--passive", "--family", "ipv4-unicast",
             "--family", "ipv6", "--gr", "--port", "1179", "--local-address", A_ADDR, sock=pair.a)
    assert out == "added neighbor 127.0.0.10 (AS 65010)\n"
    new = peer_of(pair.a, "127.0.0.10")
    assert new is not None and new["graceful_restart"]
    assert {f["family"] for f in new["families"] if f["configured"]} == {"ipv4-unicast", "ipv6-unicast"}
    assert ok("neighbor", "del", "127.0.0.10", sock=pair.a)


def test_fleet_view(pair: Pair) -> None:
    established(pair)
    named = ["--host", f"a=unix:{pair.a}", "--host", f"b={pair.b}"]
    lines = ok(*named, "peers").splitlines()
    assert lines[0].split()[:3] == ["Node", "Peer", "Address"]
    assert [line.split()[:2] for line in lines[1:]] == [["a", B_ADDR]] * 2 + [["b", A_ADDR]] * 2
    merged = as_json(*named, "peers")
    assert [(p["node"], p["address"]) for p in merged] == [("a", B_ADDR), ("b", A_ADDR)]
    # unnamed: each daemon's node name, made unique with its router id (both run on this host)
    nodes = {p["node"] for p in as_json("--host", pair.a, "--host", pair.b, "peers")}
    assert len(nodes) == 2 and {n.rsplit("@", 1)[-1] for n in nodes} == {A_ADDR, B_ADDR}
    g = ok(*named, "global").splitlines()
    assert g[0].split()[:4] == ["Node", "AS", "Router", "ID"]
    assert [line.split()[:3] for line in g[1:]] == [["a", "65001", A_ADDR], ["b", "65002", B_ADDR]]
    routes = as_json(*named, "routes", "available", "ipv4", "unicast", "--best")
    assert {r["node"] for r in routes} == {"a", "b"} and len(routes) == 12
    assert [h["node"] for h in as_json(*named, "health")] == ["a", "b"]
    # one node down: the other is still shown, the failure is one line, the exit code 1
    r = gb("--host", f"a={pair.a}", "--host", "gone=/tmp/gb-no-such.sock", "peers")
    assert r.returncode == 1
    assert r.stderr.startswith("gracebgp: error: node gone: cannot reach gracebgpd at /tmp/gb-no-such.sock")
    assert B_ADDR in r.stdout


def test_errors_are_one_line(pair: Pair) -> None:
    r = gb("neighbor", "10.0.0.9", "reset", sock=pair.a)
    assert r.returncode == 1
    assert one_line_error(r) == "gracebgp: error: peer 10.0.0.9 not found\n"
    r = gb("--socket", "/tmp/gb-no-such.sock", "peers")
    assert r.returncode == 1
    assert one_line_error(r) == ("gracebgp: error: cannot reach gracebgpd at /tmp/gb-no-such.sock: No such "
                                 "file or directory (is gracebgpd running? see --socket)\n")
    env = {**os.environ, "GRACEBGP_SOCKET": pair.b}
    assert json.loads(gb("--json", "global", env=env).stdout)["asn"] == 65002
    r = gb("frobnicate", sock=pair.a)
    assert r.returncode == 2 and "No such command 'frobnicate'" in one_line_error(r)
    r = gb("neighbor", B_ADDR, "softreset", "sideways", sock=pair.a)
    assert r.returncode == 2 and "softreset takes 'in' or 'out'" in one_line_error(r)
    r = gb("routes", "available", "ipv4", "multicast", sock=pair.a)
    assert r.returncode == 2 and "unknown subsequent address family 'multicast'" in one_line_error(r)
    r = gb("--url", "http://127.0.0.1:1", "peers")
    assert "cannot reach gracebgpd at http://127.0.0.1:1: Connection refused" in one_line_error(r)


def test_bad_requests_are_refused_before_anything_is_sent(pair: Pair) -> None:
    """Issue 10: an RFC 9003 message over 255 octets (counted in octets), flags that
    exclude each other: one line, exit code 2, and the daemon and its session untouched."""
    established(pair)
    before = (peer_of(pair.a, B_ADDR) or {})["established_count"]
    too_long = "octets of UTF-8; RFC 9003 §2 allows at most 255"
    for args, says in (
            (["neighbor", B_ADDR, "shutdown", "-m", "x" * 300], f"is 300 {too_long}"),
            (["neighbor", B_ADDR, "shutdown", "--message", "\u00e9" * 128], f"is 256 {too_long}"),
            (["neighbor", B_ADDR, "reset", "-m", "x" * 256], f"is 256 {too_long}"),
            (["stop", "-m", "x" * 300], f"is 300 {too_long}"),
            (["stop", "--retain", "-m", "\u00e9" * 128], f"is 256 {too_long}"),
            (["stop", "--withdraw", "--retain"], "--withdraw and --retain exclude each other"),
            (["drain", "--cancel", "--wait"], "--cancel ends a drain; it does not go with --wait"),
            (["neighbor", B_ADDR, "-m", "hello"], "--message only goes with")):
        r = gb(*args, sock=pair.a)
        err = one_line_error(r)
        assert r.returncode == 2 and says in err, (args, err)
        assert "internal error" not in err and "pydantic" not in err
    peer = peer_of(pair.a, B_ADDR) or {}
    assert peer["state"] == "Established" and peer["established_count"] == before and not peer["admin_down"]
    assert as_json("global", sock=pair.a)["asn"] == 65001  # not stopped


def test_configured_routes_are_refused_by_rib_add_and_del(pair: Pair) -> None:
    """Issue 10: a route of [[gracebgp.routes]] is the file's; rib add/del would be undone
    by the next reload or restart, so the daemon refuses (409) and names the file."""
    established(pair)
    conf = f"{pair.logs[0].with_name('a.toml')} ([[gracebgp.routes]])"
    r = gb("rib", "del", "198.51.100.0/26", sock=pair.a)
    assert r.returncode == 1
    assert one_line_error(r) == (f"gracebgp: error: 198.51.100.0/26 is configured in {conf}; "
                                 "remove it there and reload (SIGHUP); nothing was deleted\n")
    r = gb("rib", "add", "10.97.0.0/24", sock=pair.a)  # an API route is fine ...
    assert r.returncode == 0, r.stderr
    r = gb("rib", "add", "198.51.100.0/26", "med", "5", sock=pair.a)  # ... a configured one is not
    assert r.returncode == 1
    assert f"198.51.100.0/26 is configured in {conf}; change it there" in one_line_error(r)
    r = gb("rib", "del", "10.97.0.0/24", "2001:db8:a::/48", sock=pair.a)  # all or nothing
    assert r.returncode == 1 and "2001:db8:a::/48 is configured" in one_line_error(r)
    assert received(pair.b, A_ADDR, "10.97.0.0/24")
    got = received(pair.b, A_ADDR, "198.51.100.0/26")
    assert got and "med" not in got[0]["attrs"]
    assert as_json("rib", "del", "10.97.0.0/24", sock=pair.a) == {"changed": 1, "unchanged": 0}


#: Commands that end, restart or drain the daemon, or follow forever: not walked live.
NOT_WALKED = {"stop", "restart", "drain", "events"}


def test_garbage_against_a_live_daemon_is_one_line_with_a_documented_code(
        pair: Pair, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10: the unit walk (tests/unit/cli/test_garbage.py) against gracebgpd itself,
    so what the daemon answers is covered too; the session with B stays up."""
    from gracebgp.cli.main import run
    from tests.unit.cli.test_garbage import COMMANDS, GARBAGE, check

    established(pair)
    before = (peer_of(pair.a, B_ADDR) or {})["established_count"]
    walked = 0
    for path, command in COMMANDS:
        if path[0] in NOT_WALKED:
            continue
        options = [p.opts[0] for p in command.params if p.param_type_name == "option" and not p.is_flag]
        for g in GARBAGE:
            for args in ([*path, g], [*path, g, g], *([*path, option, g] for option in options)):
                code = run(["--socket", pair.a, *args])
                check(code, capsys.readouterr().err, args)
                walked += 1
    assert walked > 500
    peer = peer_of(pair.a, B_ADDR) or {}
    assert peer["state"] == "Established" and peer["established_count"] == before
