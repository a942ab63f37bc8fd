"""What gracebgpd records replays (DESIGN.md rule 9: the daemon's recorder output can be
dropped into the replay tests): two real gracebgpd on loopback, A recording through its
``[gracebgp] record`` key at ``-l debug``; A adds a route through the API, restarts the
planned way (the same PID re-executes and appends a second run to the file) and stops.
The recording then replays in this process, output for output."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from gracebgp.config.default import demo_configs
from gracebgp.core import events as ev
from gracebgp.runtime import recorder

from ..integration.api_daemons import (
    A_ADDR,
    B_ADDR,
    DEMO_V4,
    DEMO_V6,
    established,
    family_row,
    free_port,
    wait_until,
)


def _start(conf: Path, log: Path, level: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "gracebgp.daemon", "-f", str(conf), "-l", level],
                                stdout=out, stderr=subprocess.STDOUT)


def _client(sock: Path) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://gracebgpd", timeout=30)


def _up_with_routes(sock: Path, peer: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    with _client(sock) as c:
        def ready() -> bool:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            row = established(c, peer)
            return row is not None and (family_row(row, "ipv4-unicast")["accepted"] >= len(DEMO_V4[peer])
                                        and family_row(row, "ipv6-unicast")["accepted"] >= len(DEMO_V6[peer]))
        wait_until(f"Established with {peer}, its routes received", ready)


def test_a_real_daemons_recording_replays() -> None:
    state = Path(tempfile.mkdtemp(prefix="gbrec", dir="/tmp"))  # short: socket paths <= 107 bytes
    procs: list[subprocess.Popen[bytes]] = []
    try:
        text_a, text_b = demo_configs(free_port(A_ADDR), free_port(B_ADDR), str(state))
        rec = state / "a.jsonl"
        text_a = text_a.replace("\n[gracebgp]\n", f"\n[gracebgp]\nrecord = '{rec}'\n", 1)
        sockets = {}
        for name, text, level in (("A", text_a, "debug"), ("B", text_b, "info")):
            conf = state / f"{name}.toml"
            conf.write_text(text)
            sockets[name] = state / f"speaker-{name.lower()}" / "gracebgpd.sock"
            procs.append(_start(conf, state / f"{name}.log", level))
        a, _b = procs
        log_a = state / "A.log"
        _up_with_routes(sockets["A"], B_ADDR, a, log_a)
        with _client(sockets["A"]) as c:
            assert c.post("/v1/paths", json={"paths": [{"prefix": "10.9.0.0/16"}]}).status_code == 200
            # the graceful-restart path: the new run starts from Started and replays from
            # its own inputs (a hand-over's adoption is not an input yet: its run does not replay)
            assert c.post("/v1/restart?graceful=true").status_code == 202
        wait_until("A's planned restart re-executed", lambda: "start: planned restart" in log_a.read_text())
        _up_with_routes(sockets["A"], B_ADDR, a, log_a)
        os.kill(a.pid, signal.SIGINT)
        assert a.wait(timeout=20) == 0, log_a.read_text(errors="replace")[-3000:]

        text = rec.read_text()
        runs = recorder.read(text)
        assert len(runs) == 2, "the planned restart appends a second run"
        assert any(isinstance(s.inp, ev.DebugLogged) and s.inp.on for s in runs[0].steps)  # -l debug
        inputs = {type(s.inp).__name__ for run in runs for s in run.steps if not s.call}
        assert {"Started", "RestartDecided", "Connected", "Received", "CommandRequested",
                "StopRequested", "InputDrained"} <= inputs
        assert "10.9.0.0/16" in recorder.line({"r": recorder.encode(runs[1].args.stored_routes)})
        mismatch = recorder.replay(text)
        assert mismatch is None, mismatch.describe(str(rec))
    finally:
        for p in procs:  # ours, by PID
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        shutil.rmtree(state, ignore_errors=True)
