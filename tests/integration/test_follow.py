"""``gracebgp events --follow`` across ``gracebgp restart --wait`` with live daemons on
loopback (tests/integration/api_daemons.py): the daemon ends the stream with
``event: end`` (reason "restart") before it re-executes, so its log has no cancelled task
and no traceback; the follower says on stderr that it reconnects, then that it has, and
prints the events of the new process, none twice.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

import pytest

from .api_daemons import Daemon, Pair, start_pair, wait_answers, wait_until


@pytest.fixture
def pair() -> Iterator[Pair]:
    yield from start_pair()


def gracebgp(d: Daemon, *args: str) -> list[str]:
    return [sys.executable, "-m", "gracebgp.cli.main", "--socket", str(d.socket), *args]


class Lines:
    """A pipe read line by line in a thread (bounded waits on what has arrived)."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)


def rib(d: Daemon, verb: str, prefix: str) -> None:
    r = subprocess.run(gracebgp(d, "rib", verb, prefix), check=False, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr


def test_follower_survives_a_restart(pair: Pair) -> None:
    a = pair.a
    log_start = a.log.stat().st_size
    follower = subprocess.Popen(gracebgp(a, "--json", "events", "--follow", "--routes"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert follower.stdout is not None and follower.stderr is not None
    out, err = Lines(follower.stdout), Lines(follower.stderr)
    try:
        changes = [0]

        def shows(prefix: str) -> bool:  # until the follower prints it: add, delete, add...
            rib(a, "del" if changes[0] % 2 else "add", prefix)
            changes[0] += 1
            assert follower.poll() is None, err.text()
            return any(prefix in line for line in out.lines)
        wait_until("the follower prints a route event", lambda: shows("10.91.0.0/24"), interval=0.3)
        restart = subprocess.run(gracebgp(a, "restart", "--wait"), check=False, capture_output=True,
                                 text=True, timeout=90)
        assert restart.returncode == 0, restart.stderr
        wait_answers(pair, a)
        wait_until("the follower says it reconnected", lambda: "reconnected" in err.text())
        wait_until("the follower prints an event of the new process", lambda: shows("10.91.1.0/24"),
                   interval=0.3)
        assert follower.poll() is None, err.text()
    finally:
        if follower.poll() is None:
            follower.kill()  # by PID: the one we started
        follower.wait(timeout=10)
    # the stream ended cleanly (event: end, reason restart), not with a broken connection
    assert "gracebgpd restarting; reconnecting..." in err.text(), err.text()
    assert "lost the connection" not in err.text() and "Traceback" not in err.text(), err.text()
    events: list[dict[str, Any]] = [json.loads(line) for line in out.lines if line.startswith("{")]
    keys = [(e["time"], e["kind"], e["peer"], e["message"]) for e in events]
    assert len(keys) == len(set(keys)), "an event was printed twice"
    assert any(e["kind"] == "restart" for e in events), [e["kind"] for e in events]
    log = a.log.read_bytes()[log_start:].decode(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "timeout graceful shutdown exceeded" not in log and "Cancel " not in log, log[-3000:]
