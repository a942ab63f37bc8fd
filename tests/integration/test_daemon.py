"""gracebgpd as a real process on loopback (high ports, no root): --check, two daemons
establishing and exchanging routes, SIGHUP reload, SIGUSR1 state dump, SIGINT stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gracebgp.config.default import demo_configs


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(path: Path, text: str, timeout: float = 20.0, count: int = 1) -> str:
    end = time.monotonic() + timeout
    content = ""
    while time.monotonic() < end:
        content = path.read_text() if path.exists() else ""
        if content.count(text) >= count:
            return content
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not seen {count}x in {path} within {timeout}s:\n{content[-3000:]}")


def gracebgpd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gracebgp.daemon", *args]


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(gracebgpd("-f", str(path), "--check"), check=False, capture_output=True,
                          text=True, timeout=30)


def test_check_reports_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[global.config]\n  as = 65001\n  router-id = "10.0.0.1"\n  colour = "blue"\n'
                   '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "10.0.0.2"\n'
                   '    peer-as = 65002\n  [neighbors.timers.config]\n    hold-time = 2\n')
    r = check(bad)
    assert r.returncode == 1
    assert f"{bad}:4:" in r.stderr and "colour" in r.stderr
    assert f"{bad}:10:" in r.stderr and "hold-time" in r.stderr
    good = tmp_path / "good.toml"
    good.write_text('[global.config]\n  as = 65001\n  router-id = "10.0.0.1"\n')
    r = check(good)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[list[subprocess.Popen[bytes]], list[Path], list[Path]]]:
    texts = demo_configs(free_port("127.0.0.1"), free_port("127.0.0.2"), str(tmp_path))
    procs, logs, confs = [], [], []
    try:
        for name, text in zip("AB", texts, strict=True):
            conf, log = tmp_path / f"{name}.toml", tmp_path / f"{name}.log"
            conf.write_text(text)
            with log.open("wb") as out:
                procs.append(subprocess.Popen(gracebgpd("-f", str(conf), "-l", "debug"),
                                              stdout=out, stderr=subprocess.STDOUT))
            logs.append(log)
            confs.append(conf)
        yield procs, logs, confs
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)


def test_two_daemons_exchange_routes_reload_and_stop(
        pair: tuple[list[subprocess.Popen[bytes]], list[Path], list[Path]]) -> None:
    procs, logs, confs = pair
    for log in logs:
        wait_for(log, "established:")
        wait_for(log, "End-of-RIB received for ipv6-unicast")
    procs[1].send_signal(signal.SIGUSR1)
    text = wait_for(logs[1], "state: route", count=10)
    assert "route 192.0.2.0/26 via 127.0.0.1 origin igp as-path [65001]" in text
    assert "route 2001:db8:a::/48 via ::ffff:7f00:1" in text
    # SIGHUP: A gets one more route; the session stays up (no second "established").
    confs[0].write_text(confs[0].read_text() + '\n[[gracebgp.routes]]\n  prefix = "198.51.100.200/32"\n'
                        '  communities = ["65001:9"]\n')
    procs[0].send_signal(signal.SIGHUP)
    wait_for(logs[0], "reload: 0 peers added, 0 removed, 0 changed, 1 routes added")
    time.sleep(0.5)
    procs[1].send_signal(signal.SIGUSR1)
    text = wait_for(logs[1], "route 198.51.100.200/32 via 127.0.0.1")
    assert "communities 65001:9" in text
    assert logs[0].read_text().count("established:") == 1
    # A new global AS needs a restart: the reload says so and applies none of it (before, the
    # session that relies on the global AS was reset to the new AS the speaker does not use).
    # (At start both connect at once: -l debug logs the Connection Collision Resolution
    # NOTIFICATION that closes one of the two connections, RFC 4271 §6.8; not a reset.)
    before = len(logs[1].read_text())
    confs[0].write_text(confs[0].read_text().replace("as = 65001", "as = 65009", 1))
    procs[0].send_signal(signal.SIGHUP)
    wait_for(logs[0], "need a restart and are not applied: global.config.as changed from 65001 to 65009")
    wait_for(logs[0], "reload: 0 peers added, 0 removed, 0 changed", count=2)
    procs[1].send_signal(signal.SIGUSR1)
    wait_for(logs[1], "route 198.51.100.200/32 via 127.0.0.1", count=2)
    assert logs[0].read_text().count("established:") == 1
    assert "NOTIFICATION" not in logs[1].read_text()[before:]
    # A broken file on SIGHUP is reported and the daemon keeps running.
    confs[0].write_text("[global.config]\n  as = -1\n")
    procs[0].send_signal(signal.SIGHUP)
    wait_for(logs[0], "reload failed, keeping the running configuration")
    assert procs[0].poll() is None
    # SIGINT: withdrawing stop; B hears a Hard Reset-wrapped Administrative Shutdown.
    procs[0].send_signal(signal.SIGINT)
    assert procs[0].wait(timeout=10) == 0
    wait_for(logs[1], "NOTIFICATION received: CEASE/HARD_RESET wrapping CEASE/ADMINISTRATIVE_SHUTDOWN")
    # B says what happened to the routes on both sides: its copy of A's deleted, and A's
    # copy of B's too (a Hard Reset deletes both ways, RFC 8538).
    wait_for(logs[1], "its 6 routes: deleted (Hard Reset, RFC 8538); our routes: the peer deletes them")
    procs[1].send_signal(signal.SIGINT)
    assert procs[1].wait(timeout=10) == 0
