"""Two gracebgpd processes peered on loopback, for the API tests (test_api, test_api_fuzz,
test_metrics): speaker A (AS 65001, 127.0.0.1) and speaker B (AS 65002, 127.0.0.2) from
``gracebgp.config.default.demo_configs``, each with its API on a Unix socket; A also
serves the API on TCP (127.0.0.1, a free port) guarded by a bearer token.

Everything is bounded: every wait polls for at most ``TIMEOUT`` seconds, and only the
processes started here are stopped, by PID (SIGINT, then SIGKILL), also when a test fails.
"""

from __future__ import annotations

import json
import os
import secrets
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

import httpx

from gracebgp.config.default import demo_configs

T = TypeVar("T")
TIMEOUT = 20.0
POLL = 0.1
A_ADDR, B_ADDR = "127.0.0.1", "127.0.0.2"
A_AS, B_AS = 65001, 65002
#: The demo routes each speaker originates (gracebgp.config.default).
DEMO_V4 = {A_ADDR: ("192.0.2.0/26", "198.51.100.0/26", "203.0.113.0/26"),
           B_ADDR: ("192.0.2.64/26", "198.51.100.64/26", "203.0.113.64/26")}
DEMO_V6 = {A_ADDR: ("2001:db8:a::/48", "2001:db8:a:1::/64"),
           B_ADDR: ("2001:db8:b::/48", "2001:db8:b:1::/64")}


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until(what: str, probe: Callable[[], T | None], timeout: float = TIMEOUT,
               interval: float = POLL) -> T:
    """Poll ``probe`` until it returns something other than None/False; transport errors
    count as "not yet". Raises AssertionError (naming ``what``) after ``timeout`` s."""
    end = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            got = probe()
        except (httpx.TransportError, json.JSONDecodeError) as exc:
            got, last = None, exc
        if got is not None and got is not False:
            return got
        if time.monotonic() >= end:
            raise AssertionError(f"{what}: not within {timeout:.0f}s (last error: {last!r})")
        time.sleep(interval)


@dataclass
class Daemon:
    name: str
    address: str
    asn: int
    port: int
    conf: Path
    log: Path
    socket: Path
    proc: subprocess.Popen[bytes]

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """A client of this daemon's Unix-socket API (no token needed)."""
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)),
                            base_url="http://gracebgpd", timeout=timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Pair:
    a: Daemon
    b: Daemon
    state_dir: Path
    api_port: int
    token: str

    @property
    def base_url(self) -> str:
        """A's TCP API."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def tcp_client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.auth, timeout=timeout)

    def daemons(self) -> tuple[Daemon, Daemon]:
        return self.a, self.b

    def assert_alive(self) -> None:
        for d in self.daemons():
            assert d.alive(), f"gracebgpd {d.name} exited with {d.proc.returncode}:\n{d.log_tail()}"


def peer_of(client: httpx.Client, address: str) -> dict[str, Any] | None:
    r = client.get(f"/v1/peers/{address}")
    if r.status_code != 200:
        return None
    peer: dict[str, Any] = r.json()
    return peer


def family_row(peer: dict[str, Any], family: str) -> dict[str, Any]:
    rows = [f for f in peer["families"] if f["family"] == family]
    assert len(rows) == 1, peer["families"]
    return rows[0]  # type: ignore[no-any-return]


def established(client: httpx.Client, address: str) -> dict[str, Any] | None:
    peer = peer_of(client, address)
    return peer if peer is not None and peer["state"] == "Established" else None


def wait_established(pair: Pair, timeout: float = TIMEOUT) -> None:
    """Both ends Established and the demo routes of each side received by the other."""
    for me, other in ((pair.a, pair.b), (pair.b, pair.a)):
        with me.client() as c:
            def exchanged(c: httpx.Client = c, other: Daemon = other) -> bool:
                peer = established(c, other.address)
                return peer is not None and (
                    family_row(peer, "ipv4-unicast")["accepted"] >= len(DEMO_V4[other.address])
                    and family_row(peer, "ipv6-unicast")["accepted"] >= len(DEMO_V6[other.address]))
            wait_until(f"{me.name} Established with {other.name} and its routes received", exchanged,
                       timeout)


def _gracebgpd(conf: Path, log: Path, append: bool = False) -> subprocess.Popen[bytes]:
    with log.open("ab" if append else "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "gracebgp.daemon", "-f", str(conf), "-l", "info"],
                                stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_answers(pair: Pair, d: Daemon) -> None:
    """Until ``d`` answers GET /v1/global (failing at once if any daemon of ``pair`` died)."""
    with d.client() as c:
        def answers() -> bool:
            pair.assert_alive()
            return c.get("/v1/global").status_code == 200
        wait_until(f"{d.name} answers GET /v1/global", answers)


def kill(d: Daemon) -> None:
    """Crash ``d``: SIGKILL by PID (no NOTIFICATION, nothing flushed), then reap it."""
    if d.proc.poll() is None:
        os.kill(d.proc.pid, signal.SIGKILL)
    d.proc.wait(timeout=10)


def relaunch(pair: Pair, d: Daemon) -> None:
    """Start ``d`` (stopped or killed) again with the same configuration, hence the same
    state directory; its log continues in the same file. Returns once the API answers."""
    assert not d.alive(), f"{d.name} is still running"
    with d.log.open("ab") as out:
        out.write(b"--- relaunched by the test ---\n")
    d.proc = _gracebgpd(d.conf, d.log, append=True)
    wait_answers(pair, d)


def start_pair() -> Iterator[Pair]:
    """Generator for a fixture: yields a Pair whose session is Established and whose demo
    routes are exchanged; stops both daemons (by PID) and removes the state afterwards."""
    state = Path(tempfile.mkdtemp(prefix="gb", dir="/tmp"))  # short: socket paths <= 107 bytes
    port_a, port_b, api_port = free_port(A_ADDR), free_port(B_ADDR), free_port("127.0.0.1")
    token = secrets.token_hex(16)
    token_file = state / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    text_a, text_b = demo_configs(port_a, port_b, str(state))
    assert text_a.count("\n[gracebgp]\n") == 1
    text_a = text_a.replace("\n[gracebgp]\n", f"\n[gracebgp]\napi-listen = '127.0.0.1:{api_port}'\n"
                                              f"api-token-file = '{token_file}'\n")
    daemons: list[Daemon] = []
    try:
        for name, address, asn, port, text in (("A", A_ADDR, A_AS, port_a, text_a),
                                                ("B", B_ADDR, B_AS, port_b, text_b)):
            conf, log = state / f"{name}.toml", state / f"{name}.log"
            conf.write_text(text)
            sock = state / f"speaker-{name.lower()}" / "gracebgpd.sock"
            daemons.append(Daemon(name, address, asn, port, conf, log, sock, _gracebgpd(conf, log)))
        pair = Pair(daemons[0], daemons[1], state, api_port, token)
        for d in daemons:
            wait_answers(pair, d)
        with pair.tcp_client() as c:
            wait_until("A answers on TCP", lambda: c.get("/v1/global").status_code == 200)
        wait_established(pair)
        yield pair
    finally:
        for d in daemons:
            _stop(d.proc)
        shutil.rmtree(state, ignore_errors=True)
