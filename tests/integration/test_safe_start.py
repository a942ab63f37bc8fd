"""Mistakes that must not cost traffic (issue 10, findings 1, 2, 3 and 7), with real
gracebgpd processes on loopback (tests/integration/api_daemons.py):

* ``gracebgp restart`` with a configuration that no longer validates is refused before
  any session is closed: same PID, B's session with A never flaps;
* a second gracebgpd on the same state directory exits 3 naming the running PID, and
  the first keeps its session, its API socket and its running.json;
* a BGP port in use, an API socket path over 107 bytes: a non-zero exit with one line;
  ``--check`` reports the long path and an unusable state directory;
* damaged state: an unusable route store is a health condition and AddPaths is not
  acknowledged as durable; a damaged running.json/restart.json is set aside and reported.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gracebgp.config import load_file
from gracebgp.config.default import demo_configs
from gracebgp.runtime.fromconfig import peers_hold
from gracebgp.runtime.restartstate import HEARTBEAT
from gracebgp.runtime.store import FILE_NAME

from .api_daemons import A_ADDR, Daemon, Pair, free_port, kill, relaunch, start_pair, wait_until

GRACEBGPD = [sys.executable, "-m", "gracebgp.daemon"]
CLI = [sys.executable, "-m", "gracebgp.cli.main"]
V4 = {"prefix": "198.18.7.0/24", "next_hop": "192.0.2.1"}


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    yield from start_pair()


def peer_seen_by_b(pair: Pair) -> dict[str, Any]:
    with pair.b.client() as c:
        r = c.get(f"/v1/peers/{A_ADDR}")
        assert r.status_code == 200, r.text
        return dict(r.json())


def run(argv: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def test_restart_with_a_broken_configuration_is_refused_and_nothing_flaps(pair: Pair) -> None:
    before = peer_seen_by_b(pair)
    assert before["state"] == "Established"
    good = pair.a.conf.read_text()
    pair.a.conf.write_text(good.replace("[global.config]", "[global.config]\ncolour = 'blue'", 1))
    try:
        r = run([*CLI, "--socket", str(pair.a.socket), "restart"])
        with pair.a.client() as c:
            api = c.post("/v1/restart")
    finally:
        pair.a.conf.write_text(good)
    # The CLI: one line, exit 1 (docs/cli.md), the file, line and key that are wrong.
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gracebgp: error: restart refused: "), r.stderr
    assert f"{pair.a.conf}:" in lines[0] and "colour" in lines[0]
    assert api.status_code == 409 and api.json()["error"].startswith("restart refused: "), api.text
    # Same process, still serving; the session never went down (B saw no flap).
    assert pair.a.alive()
    after = peer_seen_by_b(pair)
    assert after["state"] == "Established"
    assert after["established_count"] == before["established_count"]
    assert after["uptime"] >= before["uptime"]
    assert "restart refused, every session stays up" in pair.a.log_tail(100_000)
    assert "graceful stop" not in pair.a.log_tail(100_000)


def test_a_second_instance_exits_at_once_naming_the_pid_and_touches_nothing(pair: Pair) -> None:
    state = pair.a.socket.parent  # speaker-a: the state dir and the socket's directory
    sock_inode = os.stat(pair.a.socket).st_ino
    running = (state / "running.json").read_bytes()
    before = peer_seen_by_b(pair)
    r = run([*GRACEBGPD, "-f", str(pair.a.conf)], timeout=30)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert f"another gracebgpd (pid {pair.a.proc.pid}) is running" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    # Nothing touched: same socket file, running.json, session; the API still answers.
    assert os.stat(pair.a.socket).st_ino == sock_inode
    assert (state / "running.json").read_bytes() == running
    with pair.a.client() as c:
        assert c.get("/v1/global").status_code == 200
    after = peer_seen_by_b(pair)
    assert after["state"] == "Established" and after["established_count"] == before["established_count"]


def test_a_live_api_socket_is_never_taken_over(pair: Pair, tmp_path: Path) -> None:
    """Another state-dir (so the lock does not stop it) but A's API socket: exit 4, and
    A's socket stays A's (before the fix, ApiServer.start unlinked it)."""
    conf = _conf(tmp_path, free_port(A_ADDR), str(pair.a.socket))
    inode = os.stat(pair.a.socket).st_ino
    r = run([*GRACEBGPD, "-f", str(conf)], timeout=30)
    assert r.returncode == 4, (r.returncode, r.stderr[-2000:])
    assert f"API socket {pair.a.socket}: in use by another process" in r.stderr, r.stderr
    assert os.stat(pair.a.socket).st_ino == inode
    with pair.a.client() as c:
        assert c.get("/v1/global").status_code == 200


def test_the_lock_is_held_across_a_planned_restart(pair: Pair) -> None:
    with pair.a.client() as c:
        before = c.get("/v1/global").json()["uptime"]
        assert c.post("/v1/restart").status_code == 202

    def restarted() -> bool:
        with pair.a.client() as c:
            return bool(c.get("/v1/global").json()["uptime"] < before)

    wait_until("A's new process answers", restarted)
    assert pair.a.alive()
    r = run([*GRACEBGPD, "-f", str(pair.a.conf)], timeout=30)
    assert r.returncode == 3 and f"(pid {pair.a.proc.pid})" in r.stderr, r.stderr
    wait_until("B Established with A again", lambda: peer_seen_by_b(pair)["state"] == "Established")


def _conf(tmp: Path, port: int, api_socket: str | None = None) -> Path:
    text, _ = demo_configs(port, free_port("127.0.0.2"), str(tmp))
    if api_socket is not None:
        text = text.replace(f"api-socket = '{tmp}/speaker-a/gracebgpd.sock'", f"api-socket = '{api_socket}'")
        assert api_socket in text
    conf = tmp / "A.toml"
    conf.write_text(text)
    return conf


def test_a_bgp_port_in_use_is_a_startup_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind((A_ADDR, 0))
        busy.listen()
        conf = _conf(tmp_path, busy.getsockname()[1])
        r = run([*GRACEBGPD, "-f", str(conf)], timeout=30)
    assert r.returncode == 4, (r.returncode, r.stderr[-2000:])
    assert f"cannot start: cannot listen on {A_ADDR} port" in r.stderr and "(BGP)" in r.stderr
    state = tmp_path / "speaker-a"
    assert not (state / "running.json").exists()  # the next start is not taken for a crash
    assert not (state / "gracebgpd.sock").exists()


def test_a_tcp_api_port_in_use_is_a_startup_error(tmp_path: Path) -> None:
    conf = _conf(tmp_path, free_port(A_ADDR))
    token = tmp_path / "token"
    token.write_text("secret\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        extra = f"\n[gracebgp]\napi-listen = '127.0.0.1:{port}'\napi-token-file = '{token}'\n"
        conf.write_text(conf.read_text().replace("\n[gracebgp]\n", extra, 1))
        r = run([*GRACEBGPD, "-f", str(conf)], timeout=30)
    assert r.returncode == 4, (r.returncode, r.stderr[-2000:])
    assert f"cannot serve the API: API on TCP 127.0.0.1 port {port}: " in r.stderr, r.stderr
    assert not (tmp_path / "speaker-a" / "gracebgpd.sock").exists()  # the Unix one is not left behind


def test_an_api_socket_path_too_long_fails_check_and_start(tmp_path: Path) -> None:
    long_path = str(tmp_path / ("s" * 120) / "gracebgpd.sock")
    conf = _conf(tmp_path, free_port(A_ADDR), long_path)
    r = run([*GRACEBGPD, "-f", str(conf), "--check"], timeout=30)
    assert r.returncode == 1 and "gracebgp.api-socket" in r.stderr, r.stderr
    assert "a Unix socket path has at most 107" in r.stderr
    r = run([*GRACEBGPD, "-f", str(conf)], timeout=30)
    assert r.returncode == 1 and "at most 107" in r.stderr


def test_check_reports_an_unusable_state_directory(tmp_path: Path) -> None:
    conf = _conf(tmp_path, free_port(A_ADDR))
    (tmp_path / "speaker-a").write_text("a file where the state directory should be")
    r = run([*GRACEBGPD, "-f", str(conf), "--check"], timeout=30)
    assert r.returncode == 1, r.stdout
    assert "gracebgp.state-dir" in r.stderr and "is not a directory" in r.stderr, r.stderr
    line = next(n for n, text in enumerate(conf.read_text().splitlines(), 1) if text.startswith("state-dir"))
    assert f"{conf}:{line}: gracebgp.state-dir" in r.stderr


def health(d: Daemon) -> dict[str, Any]:
    with d.client() as c:
        r = c.get("/v1/health")
        assert r.status_code == 200, r.text
        return dict(r.json())


def test_a_crash_longer_ago_than_peers_hold_our_routes_is_a_cold_start(pair: Pair) -> None:
    """The demo config advertises restart-time 120 (+ LLGR): an hour-old crash is cold (R=0);
    before the fix anything up to 4095 + 60 s after the last heartbeat came back with R=1."""
    state = pair.a.socket.parent
    kill(pair.a)
    running = json.loads((state / "running.json").read_text())
    hold = peers_hold(load_file(pair.a.conf))
    assert hold == 120 + 3600  # restart-time + the LLGR stale time of the demo configuration
    running["time"] -= hold + HEARTBEAT + 30  # its last heartbeat: beyond the hold and a heartbeat
    (state / "running.json").write_text(json.dumps(running))
    relaunch(pair, pair.a)
    with pair.a.client() as c:
        status = c.get("/v1/gr").json()
    assert status["restart"] == "cold" and status["restart_bit"] is False, status
    assert "after the" in status["detail"] and "peers hold our routes" in status["detail"], status


def test_damaged_state_is_reported_and_routes_are_not_acknowledged_as_durable(pair: Pair) -> None:
    """Last in this module: leaves A running without a usable store."""
    state = pair.a.socket.parent
    kill(pair.a)
    store = state / FILE_NAME
    for extra in ("", "-wal", "-shm"):
        Path(f"{store}{extra}").unlink(missing_ok=True)
    store.mkdir()  # a directory where the store should be: unusable, not set aside
    (state / "running.json").write_text('{"time": null}')
    (state / "restart.json").write_text('{"events": 5}')
    relaunch(pair, pair.a)  # before the fix: exit 1 with a traceback
    conds = {c["reason"]: c for c in health(pair.a)["conditions"]}
    assert health(pair.a)["healthy"] is False
    assert "StoreUnusable" in conds and str(store) in conds["StoreUnusable"]["message"], conds
    damaged = [c for c in conds.values() if c["type"] == "StateFileDamaged"]
    assert len([c for c in health(pair.a)["conditions"] if c["type"] == "StateFileDamaged"]) == 2, conds
    assert damaged and all("set aside as" in c["message"] for c in damaged)
    assert sorted(p.name.split(".damaged-")[0] for p in state.glob("*.damaged-*")) == [
        "restart.json", "running.json"]
    with pair.a.client() as c:
        r = c.post("/v1/paths", json={"paths": [V4]})
        assert r.status_code == 500, r.text
        error = r.json()["error"]
        assert "could not be stored" in error and "will not survive a restart" in error, error
        listed = [json.loads(x) for x in c.get("/v1/paths", params={"table": "loc"}).text.splitlines() if x]
        assert V4["prefix"] in {e["prefix"] for e in listed}  # in effect all the same
    wait_until("B Established with A again", lambda: peer_seen_by_b(pair)["state"] == "Established")
