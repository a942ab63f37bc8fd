"""gracebgpd's log as an operator and a log shipper see it, with two real daemons on
loopback (the demo configuration: eBGP, both families, GR with N, LLGR):

* ``--log-format json`` across ``gracebgp restart`` (the lossless re-exec, same PID, same
  stderr): every line of standard error, from both processes, is one JSON object with
  time, level, logger, peer, event, msg and fields; the restart reads off the events in
  order; the peer's log says it keeps our routes stale; no framework banner anywhere;
* ``-l debug`` in text: each OPEN with its capabilities decoded, UPDATE summaries per
  family (no prefix by prefix), the logger of every line in brackets.

Only the processes started here are stopped, by PID; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gracebgp.config.default import demo_configs

from .api_daemons import A_ADDR, B_ADDR, free_port

T = TypeVar("T")
TIMEOUT = 30.0
KEYS = {"time", "level", "logger", "peer", "event", "msg", "fields"}
LOGGERS = {"daemon", "session", "restart", "rib", "config", "api", "transport", "runtime"}


@dataclass
class Speaker:
    name: str
    conf: Path
    err: Path
    out: Path
    socket: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        with self.err.open("wb") as err, self.out.open("wb") as out:
            argv = [sys.executable, "-m", "gracebgp.daemon", "-f", str(self.conf), *args]
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)

    def text(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def records(self) -> list[dict[str, Any]]:
        """Every line of standard error, parsed as JSON (a line that is not JSON fails)."""
        out = []
        for n, line in enumerate(self.text().splitlines(), 1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                pytest.fail(f"{self.name}'s stderr line {n} is not JSON: {line!r}")
            assert isinstance(obj, dict) and set(obj) - {"exc", "stack"} == KEYS, line
            out.append(obj)
        return out

    def stop(self, sig: int = signal.SIGINT) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            return None


def wait_until(what: str, probe: Callable[[], T | None], speakers: tuple[Speaker, ...],
               timeout: float = TIMEOUT) -> T:
    end = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        for s in speakers:
            assert s.proc is not None and s.proc.poll() is None, \
                f"gracebgpd {s.name} exited ({s.proc and s.proc.returncode}):\n{s.text()[-3000:]}"
        if time.monotonic() >= end:
            tails = "\n".join(f"--- {s.name}:\n{s.text()[-2000:]}" for s in speakers)
            raise AssertionError(f"{what}: not within {timeout:.0f}s\n{tails}")
        time.sleep(0.1)


@pytest.fixture
def speakers() -> Iterator[tuple[Speaker, Speaker]]:
    state = Path(tempfile.mkdtemp(prefix="gbl", dir="/tmp"))  # short: socket paths <= 107 bytes
    texts = demo_configs(free_port(A_ADDR), free_port(B_ADDR), str(state))
    pair = []
    for name, text in zip("AB", texts, strict=True):
        conf = state / f"{name}.toml"
        conf.write_text(text)
        pair.append(Speaker(name, conf, state / f"{name}.err", state / f"{name}.out",
                            state / f"speaker-{name.lower()}" / "gracebgpd.sock"))
    try:
        yield pair[0], pair[1]
    finally:
        for s in pair:
            s.stop()
        shutil.rmtree(state, ignore_errors=True)


def events(records: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == event]


def test_json_log_across_a_planned_restart(speakers: tuple[Speaker, Speaker]) -> None:
    a, b = speakers
    a.start("-l", "debug", "--log-format", "json")
    b.start("--log-format", "json")
    both = (a, b)
    wait_until("A Established with B, B's routes in", lambda: any(
        r["event"] == "updates-received" for r in a.records()) and events(a.records(), "session-up"), both)
    pid = a.proc.pid if a.proc else 0
    restart = subprocess.run([sys.executable, "-m", "gracebgp.cli.main", "--socket", str(a.socket), "restart",
                              "--graceful", "--wait"], check=False, capture_output=True, text=True,
                             timeout=90)
    assert restart.returncode == 0, restart.stderr
    wait_until("A's restart complete", lambda: events(a.records(), "restart-complete"), both)
    wait_until("B purged what A did not re-advertise", lambda: events(b.records(), "eor-purged"), both)
    assert a.proc is not None and a.proc.pid == pid and a.proc.poll() is None  # same process
    assert a.stop(signal.SIGTERM) == 0 and b.stop(signal.SIGTERM) == 0

    recs = a.records()  # both processes of A, one stderr
    assert recs and not a.out.read_text()  # the log goes to stderr only
    times = [datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in recs]
    assert times == sorted(times)
    for r in recs:
        assert r["level"] in {"debug", "info", "warning", "error", "critical"}, r
        assert r["logger"] in LOGGERS, r
        assert isinstance(r["fields"], dict) and isinstance(r["msg"], str) and r["msg"], r
        assert r["peer"] in (None, B_ADDR), r
        assert not r["msg"].startswith("peer "), r  # the peer is its own field
    for banner in ("CTRL+C", "Uvicorn", "Started server process", "Shutting down", "Using selector"):
        assert banner not in a.text() and banner not in b.text(), banner
    assert "error" not in {r["level"] for r in recs} | {r["level"] for r in b.records()}

    def index(event: str, after: int = -1, **want: Any) -> int:
        for i, r in enumerate(recs):
            if i > after and r["event"] == event and all(r[k] == v for k, v in want.items()):
                return i
        raise AssertionError(f"no {event} {want} after line {after + 1}: {[r['event'] for r in recs]}")

    starts = [i for i, r in enumerate(recs) if r["logger"] == "daemon" and r["msg"].startswith("gracebgpd ")]
    assert len(starts) == 2, [r["msg"] for r in recs if r["logger"] == "daemon"]
    # The old process: A closes the session the graceful-restart way; the peer keeps our routes.
    down = index("session-down", peer=B_ADDR, logger="session")
    assert down < starts[1]
    gone = recs[down]
    assert gone["fields"]["routes_to_peer"]["fate"] == "kept-stale", gone
    assert "our routes: the peer keeps them stale for up to" in gone["msg"]
    assert "routes withdrawn" not in a.text()
    sent = [i for i, r in enumerate(recs) if r["event"] == "notification-sent"  # not a collision's
            and r["fields"]["subcode_name"] == "ADMINISTRATIVE_RESET"]
    assert sent and sent[0] < down, [recs[i] for i in sent]  # (the last: our SIGTERM's, retaining)
    # The new process: deferral, the session with R=1, selection, restart complete.
    deferral = index("deferral-started", starts[1], logger="restart")
    opened = index("open-sent", deferral, peer=B_ADDR)
    assert recs[opened]["fields"]["capabilities"]["graceful_restart"]["restart_state"] is True
    up = index("session-up", opened, peer=B_ADDR)
    index("selection-done", up, logger="restart")
    index("restart-complete", up, logger="restart")
    summary = recs[index("updates-sent", up, peer=B_ADDR)]["fields"]
    assert summary["families"]["ipv4-unicast"] == {"announced": 3, "withdrawn": 0, "end_of_rib": True}

    theirs = b.records()
    held = events(theirs, "session-down")[0]
    assert held["peer"] == A_ADDR and held["fields"]["routes_from_peer"]["fate"] == "kept-stale", held
    assert "its 5 routes: kept stale for up to" in held["msg"]
    assert not any(r["level"] == "debug" for r in theirs)  # B runs at info


def test_debug_text_shows_opens_and_update_summaries(speakers: tuple[Speaker, Speaker]) -> None:
    a, b = speakers
    a.start("-l", "debug")
    b.start()
    wait_until("A sees B's UPDATEs", lambda: "UPDATEs received:" in a.text() and "ipv6-unicast" in a.text()
               and "End-of-RIB" in a.text(), (a, b))
    assert a.stop() == 0
    text = a.text()
    opens = [ln for ln in text.splitlines() if "[session] peer 127.0.0.2: OPEN received: AS 65002" in ln]
    assert opens and all(" DEBUG " in ln for ln in opens), text[-3000:]
    for cap in ("multiprotocol ipv4-unicast, ipv6-unicast", "4-octet-as 65002", "route-refresh",
                "graceful-restart R=0 N=1 restart-time", "ipv4-unicast F=1",
                "long-lived-graceful-restart ipv4-unicast stale-time 3600s F=1", "extended-message",
                "enhanced-route-refresh"):
        assert cap in opens[0], (cap, opens[0])
    summaries = [ln for ln in text.splitlines() if "UPDATEs received:" in ln]
    assert any("ipv4-unicast 3 announced, End-of-RIB" in ln for ln in summaries), summaries
    assert "192.0.2.64" not in text  # counted per family, never listed prefix by prefix
    assert "OPEN sent: AS 65001" in text and " [transport] listening on 127.0.0.1 port " in text
    assert "CTRL+C" not in text and "Using selector" not in text
    for line in text.splitlines():
        assert line.split(" ", 4)[3].startswith("["), line  # date time LEVEL [logger] message


def test_json_even_for_an_invalid_configuration(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[global.config]\n  as = 65001\n  router-id = "10.0.0.1"\n  colour = "blue"\n')
    daemon = [sys.executable, "-m", "gracebgp.daemon", "-f", str(bad)]
    r = subprocess.run([*daemon, "--log-format", "json"], check=False, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and not r.stdout
    (line,) = r.stderr.splitlines()  # one line, the file's problems inside it
    got = json.loads(line)
    assert got["event"] == "config-invalid" and got["level"] == "error" and got["logger"] == "daemon"
    assert f"{bad}:4:" in got["msg"] and "colour" in got["msg"]
    text = subprocess.run(daemon, check=False, capture_output=True, text=True, timeout=60)
    assert text.returncode == 1 and text.stderr.startswith(f"{bad}:")  # text: as it always was
    wrong = subprocess.run([*daemon, "--log-format", "xml"], check=False, capture_output=True, text=True,
                           timeout=60)
    assert wrong.returncode == 2 and "invalid choice: 'xml'" in wrong.stderr
