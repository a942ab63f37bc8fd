"""Issue 10 finding 6: gracebgpd's memory does not grow with the number of sessions seen.

One gracebgpd on loopback (127.0.0.1) originates 5,000 routes through the API, each with
its own attribute set, and has a passive neighbor 127.0.0.2. A raw-socket peer bound to
127.0.0.2 connects, takes the whole table up to the End-of-RIB, sends a NOTIFICATION
(Cease) and closes, 500 times. Before the fix every session up exported new attribute
sets that were never freed (about 3.4 MB per flap with this table); now the RSS after
500 flaps stays within a few MB of the RSS after the first 20.

Loopback only; every wait is bounded; only the gracebgpd started here is stopped, by PID.
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
from pathlib import Path

import httpx
import pytest

from .api_daemons import free_port, wait_until
from .bgp_probe import KEEPALIVE, NOTIFICATION, message, open_message

DUT, PEER = "127.0.0.1", "127.0.0.2"
ROUTES = 5000
FLAPS = 500
WARMUP = 20
BOUND_MB = 20
EOR = message(2, b"\x00\x00\x00\x00")  # RFC 4724 §2: the IPv4 unicast End-of-RIB


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class Dut:
    def __init__(self, base: Path) -> None:
        self.port = free_port(DUT)
        self.socket = base / "gracebgpd.sock"
        self.log = base / "gracebgpd.log"
        conf = base / "dut.toml"
        conf.write_text(f"""
[global.config]
as = 65001
router-id = "{DUT}"
port = {self.port}
local-address-list = ["{DUT}"]

[[neighbors]]
[neighbors.config]
neighbor-address = "{PEER}"
peer-as = 65002
[neighbors.transport.config]
passive-mode = true
[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv4-unicast"

[gracebgp]
state-dir = '{base / "state"}'
api-socket = '{self.socket}'
""")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "gracebgp.daemon", "-f", str(conf),
                                          "-l", "warning"], stdout=out, stderr=subprocess.STDOUT)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)),
                            base_url="http://gracebgpd", timeout=30.0)

    def peer_state(self, c: httpx.Client) -> str:
        assert self.proc.poll() is None, f"gracebgpd exited:\n{self.log.read_text()[-3000:]}"
        r = c.get(f"/v1/peers/{PEER}")
        return str(r.json()["state"]) if r.status_code == 200 else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture
def dut() -> Iterator[Dut]:
    base = Path(tempfile.mkdtemp(prefix="gbleak", dir="/tmp"))
    d = Dut(base)
    try:
        with d.client() as c:
            wait_until("gracebgpd answers", lambda: c.get("/v1/global").status_code == 200)
            paths = [{"prefix": f"10.{i >> 8}.{i & 255}.0/24", "med": i,
                      "communities": [f"65001:{i}"]} for i in range(ROUTES)]
            r = c.post("/v1/paths", json={"paths": paths})
            assert r.status_code == 200, r.text
        yield d
    finally:
        d.stop()
        shutil.rmtree(base, ignore_errors=True)


def flap(d: Dut, c: httpx.Client) -> int:
    """One session: OPEN, the whole table up to End-of-RIB, Cease, close. Returns the
    octets received; waits (bounded) until gracebgpd has seen the session go down."""
    got = bytearray()
    with socket.socket() as s:
        s.settimeout(10.0)
        s.bind((PEER, 0))
        s.connect((DUT, d.port))
        s.sendall(open_message(65002, 90, PEER) + message(KEEPALIVE))
        end = time.monotonic() + 10.0
        while not got.endswith(EOR):
            assert time.monotonic() < end, f"no End-of-RIB within 10 s ({len(got)} octets)"
            chunk = s.recv(1 << 20)
            assert chunk, f"gracebgpd closed the session ({len(got)} octets)"
            got += chunk
        s.sendall(message(NOTIFICATION, bytes([6, 2])))  # Cease, Administrative Shutdown
    wait_until("gracebgpd sees the session down", lambda: d.peer_state(c) != "Established",
               timeout=10.0, interval=0.005)
    return len(got)


def test_rss_stays_flat_through_500_session_flaps(dut: Dut) -> None:
    started = time.monotonic()
    with dut.client() as c:
        first = flap(dut, c)
        assert first > ROUTES * 40  # every route went out
        for _ in range(WARMUP - 1):
            flap(dut, c)
        warm = rss_mb(dut.proc.pid)
        for _ in range(FLAPS - WARMUP):
            assert flap(dut, c) == first
        after = rss_mb(dut.proc.pid)
    took = time.monotonic() - started
    print(f"\nRSS after {WARMUP} flaps {warm:.1f} MB, after {FLAPS} {after:.1f} MB "
          f"(+{after - warm:.1f} MB), {took:.1f} s")
    assert after - warm < BOUND_MB, (warm, after)
