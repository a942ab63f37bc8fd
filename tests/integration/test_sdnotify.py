"""gracebgpd under a service manager's eyes: the daemon runs with ``NOTIFY_SOCKET`` naming
a datagram socket this test binds (as systemd does for ``Type=notify``), and the test reads
what a systemd unit would hear (runtime/sdnotify.py, deploy/systemd/gracebgpd.service):

* ``MAINPID`` and ``READY=1`` once the API answers and the BGP port is bound;
* ``RELOADING=1`` with ``MONOTONIC_USEC`` at SIGHUP, then ``READY=1`` (a broken file too:
  the running configuration is kept, and the status says so);
* ``gracebgp restart``: ``RELOADING=1``, then, from the re-executed process, the same
  ``MAINPID`` and ``READY=1``; never ``STOPPING``;
* ``STOPPING=1`` at SIGTERM, and exit 0.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .api_daemons import free_port

GRACEBGPD = [sys.executable, "-m", "gracebgp.daemon"]
CLI = [sys.executable, "-m", "gracebgp.cli.main"]
TIMEOUT = 30.0
HOST = "127.0.0.1"


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    notify: socket.socket
    conf: Path
    log: Path
    api: Path
    port: int

    def next(self, timeout: float = TIMEOUT) -> dict[str, str]:
        """The next notification, as KEY -> VALUE (the daemon must still be alive to send)."""
        self.notify.settimeout(timeout)
        try:
            data = self.notify.recv(4096)
        except TimeoutError:
            state = "alive" if self.proc.poll() is None else f"exited {self.proc.returncode}"
            raise AssertionError(f"no notification within {timeout:.0f}s; daemon {state}:\n"
                                 f"{self.log.read_text(errors='replace')[-3000:]}") from None
        out = {}
        for line in data.decode().split("\n"):
            key, sep, value = line.partition("=")
            assert sep and key not in out, f"malformed notification {data!r}"
            out[key] = value
        return out

    def quiet(self, wait: float = 0.5) -> None:
        """Nothing else arrives within ``wait`` seconds."""
        self.notify.settimeout(wait)
        try:
            data = self.notify.recv(4096)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected notification {data!r}")


def config(port: int, state: Path, neighbors: int = 1) -> str:
    text = (f'[global.config]\nas = 65001\nrouter-id = "192.0.2.1"\nport = {port}\n'
            f'local-address-list = ["{HOST}"]\n')
    for i in range(neighbors):  # nobody answers there: the session stays down, that is fine
        text += (f'\n[[neighbors]]\n[neighbors.config]\nneighbor-address = "127.0.0.{20 + i}"\n'
                 f'peer-as = 65002\n[neighbors.transport.config]\npassive-mode = true\n'
                 '[neighbors.graceful-restart.config]\nenabled = true\nrestart-time = 120\n'
                 '[[neighbors.afi-safis]]\n[neighbors.afi-safis.config]\nafi-safi-name = "ipv4-unicast"\n'
                 '[neighbors.afi-safis.mp-graceful-restart.config]\nenabled = true\n')
    return text + (f"\n[gracebgp]\nstate-dir = '{state}'\napi-socket = '{state / 'api.sock'}'\n"
                   '\n[[gracebgp.routes]]\nprefix = "198.51.100.0/24"\n')


@pytest.fixture
def run() -> Iterator[Run]:
    state = Path(tempfile.mkdtemp(prefix="gbn", dir="/tmp"))  # short: socket paths <= 107 bytes
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(state / "notify"))
    port = free_port(HOST)
    conf, log = state / "gracebgpd.toml", state / "gracebgpd.log"
    conf.write_text(config(port, state))
    env = {**os.environ, "NOTIFY_SOCKET": str(state / "notify")}
    with log.open("wb") as out:
        proc = subprocess.Popen([*GRACEBGPD, "-f", str(conf)], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield Run(proc, notify, conf, log, state / "api.sock", port)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        notify.close()
        shutil.rmtree(state, ignore_errors=True)


def api_answers(r: Run) -> bool:
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(r.api)), base_url="http://gracebgpd",
                      timeout=5) as c:
        return c.get("/v1/global").status_code == 200


def bgp_port_bound(r: Run) -> bool:
    with socket.create_connection((HOST, r.port), timeout=5):
        return True


def test_ready_reload_restart_stop(run: Run) -> None:
    ready = run.next()
    assert ready["READY"] == "1"
    assert ready["MAINPID"] == str(run.proc.pid)
    assert "AS 65001" in ready["STATUS"] and "cold start" in ready["STATUS"]
    # READY means ready: no polling from here on.
    assert api_answers(run) and bgp_port_bound(run)

    # SIGHUP: RELOADING with the monotonic clock, then READY.
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    os.kill(run.proc.pid, signal.SIGHUP)
    reloading = run.next()
    assert reloading["RELOADING"] == "1"
    assert before <= int(reloading["MONOTONIC_USEC"]) <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    done = run.next()
    assert done["READY"] == "1" and "reloaded" in done["STATUS"]

    # A broken file: still RELOADING then READY (the running configuration is kept).
    good = run.conf.read_text()
    run.conf.write_text(good.replace("peer-as = 65002", 'peer-as = "65002"'))
    os.kill(run.proc.pid, signal.SIGHUP)
    assert run.next()["RELOADING"] == "1"
    kept = run.next()
    assert kept["READY"] == "1" and "reload failed" in kept["STATUS"], kept
    run.conf.write_text(good)

    # gracebgp restart --graceful: a reload to systemd; the re-executed process (same PID) is READY.
    r = subprocess.run([*CLI, "--socket", str(run.api), "restart", "--graceful"], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    restarting = run.next()
    assert restarting["RELOADING"] == "1" and "MONOTONIC_USEC" in restarting, restarting
    assert "STOPPING" not in restarting
    back = run.next()
    assert back == {**back, "MAINPID": str(run.proc.pid), "READY": "1"}, back
    assert "planned start" in back["STATUS"]
    assert run.proc.poll() is None
    assert api_answers(run) and bgp_port_bound(run)
    run.quiet()

    # SIGTERM: STOPPING, then a clean exit.
    os.kill(run.proc.pid, signal.SIGTERM)
    stopping = run.next()
    assert stopping["STOPPING"] == "1" and "SIGTERM" in stopping["STATUS"]
    assert run.proc.wait(timeout=TIMEOUT) == 0
    run.quiet()
