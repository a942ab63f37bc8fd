"""No owner step long enough to miss a KEEPALIVE (issue 10 finding 4), with a live gracebgpd
and a raw-socket BGP peer (tests/integration/bgp_probe.py) that negotiates the shortest
sensible hold time, 3 s, sends its KEEPALIVEs every second from its own thread and notes
when each of gracebgpd's messages arrives. While gracebgpd adds and deletes many routes
through the API client (split into requests as the CLI does), refuses 100 MB bodies and
ingests a table from the peer, the session must never drop: no NOTIFICATION, no silence
from gracebgpd as long as the hold time, the session Established once.

The route count is the documented limit, 1M (``GRACEBGP_STEP_ROUTES`` sets another; the
module takes about 45 s on the 2-core machine). Wall-clock speed is never asserted, only
the property: no gap of the hold time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gracebgp.api.client import Client
from gracebgp.api.schema import PathSpec

from .api_daemons import _gracebgpd, _stop, free_port, wait_until
from .bgp_probe import Probe

ROUTES = int(os.environ.get("GRACEBGP_STEP_ROUTES", "1000000"))
HOLD = 3.0
ADDR, PROBE_ADDR = "127.0.0.1", "127.0.0.3"


class Speaker:
    def __init__(self, state: Path, probe: Probe) -> None:
        self.socket = state / "gracebgpd.sock"
        self.log = state / "gracebgpd.log"
        conf = state / "gracebgpd.toml"
        conf.write_text(f"""
[global.config]
as = 65001
router-id = "{ADDR}"
port = {free_port(ADDR)}
local-address-list = ["{ADDR}"]

[[neighbors]]
[neighbors.config]
neighbor-address = "{PROBE_ADDR}"
peer-as = {probe.asn}
[neighbors.timers.config]
hold-time = 3
keepalive-interval = 1
connect-retry = 1
[neighbors.transport.config]
local-address = "{ADDR}"
remote-port = {probe.port}

[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv4-unicast"

[gracebgp]
state-dir = '{state}'
api-socket = '{self.socket}'
""")
        self.proc = _gracebgpd(conf, self.log)

    def client(self) -> Client:
        return Client(f"unix:{self.socket}", timeout=120.0)

    def peer(self) -> dict[str, Any]:
        with self.client() as c:
            return c.peer(PROBE_ADDR).model_dump()


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[Speaker, Probe]]:
    state = Path(tempfile.mkdtemp(prefix="gbstep", dir="/tmp"))
    probe = Probe(PROBE_ADDR, 65003, hold=int(HOLD))
    probe.start()
    speaker = Speaker(state, probe)
    try:
        assert probe.established.wait(20), f"no session:\n{speaker.log.read_text()[-3000:]}"
        wait_until("gracebgpd Established with the probe",
                   lambda: speaker.peer()["state"] == "Established")
        yield speaker, probe
    finally:
        _stop(speaker.proc)
        probe.stop()
        shutil.rmtree(state, ignore_errors=True)


def check_session(speaker: Speaker, probe: Probe, since: float, what: str) -> None:
    """The property: nothing from gracebgpd ever went silent for the hold time, no
    NOTIFICATION either way, the session is the one that came up first."""
    any_gap, keepalive_gap = probe.gaps(since)
    print(f"\n{what}: longest silence {any_gap:.3f}s, between KEEPALIVEs {keepalive_gap:.3f}s")
    assert not probe.notifications, f"{what}: NOTIFICATION {probe.notifications[0].hex()}"
    assert not probe.closed and not probe.error, f"{what}: {probe.error or 'connection closed'}"
    # RFC 4271 §4.4: any message restarts the peer's hold timer, and an UPDATE sent
    # restarts our KeepaliveTimer, so KEEPALIVEs alone may be far apart during a flood.
    assert any_gap < HOLD, f"{what}: gracebgpd was silent for {any_gap:.1f}s (hold time {HOLD:g}s)"
    peer = speaker.peer()
    assert peer["state"] == "Established" and peer["established_count"] == 1, peer
    assert speaker.proc.poll() is None


def advertised(c: Client, probe: Probe) -> int:
    assert not probe.closed, f"the session dropped: {probe.error or 'closed'}"
    return c.peer(PROBE_ADDR).families[0].advertised


def owner_step_max(speaker: Speaker) -> str:
    with speaker.client() as c:
        return next(line for line in c.metrics().splitlines()
                    if line.startswith("gracebgp_owner_step_seconds_max"))


def test_a_large_add_and_delete_through_the_client_keep_the_session(setup: tuple[Speaker, Probe]) -> None:
    speaker, probe = setup
    prefixes = [f"{10 + i // 65536}.{(i // 256) % 256}.{i % 256}.0/24" for i in range(ROUTES)]
    specs = [PathSpec(prefix=p, next_hop="192.0.2.1") for p in prefixes]
    since = time.monotonic()
    updates_before = sum(1 for _, k in probe.arrivals if k == 2)
    with speaker.client() as c:
        added = c.add_paths(specs)
        assert (added.changed, added.unchanged) == (ROUTES, 0)
        wait_until("the probe received the routes", lambda: advertised(c, probe) == ROUTES, timeout=120)
        check_session(speaker, probe, since, f"AddPaths of {ROUTES} routes")
        deleted = c.delete_paths(prefixes)
        assert deleted.changed == ROUTES
        wait_until("the routes withdrawn", lambda: advertised(c, probe) == 0, timeout=120)
    check_session(speaker, probe, since, f"AddPaths and DeletePaths of {ROUTES} routes")
    assert sum(1 for _, k in probe.arrivals if k == 2) > updates_before
    print(owner_step_max(speaker))


def test_100_mb_bodies_are_refused_quickly_and_keep_the_session(setup: tuple[Speaker, Probe]) -> None:
    speaker, probe = setup
    since = time.monotonic()
    size = 100 * 1000 * 1000
    # Declared: 413 on the headers, before any of the body is read.
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(str(speaker.socket))
        s.sendall(f"POST /v1/paths HTTP/1.1\r\nHost: gracebgpd\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {size}\r\n\r\n".encode())
        with contextlib.suppress(OSError):  # the daemon may have answered and closed already
            s.sendall(b'{"paths": [' + b" " * (1 << 20))
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    # Streamed (chunked, no Content-Length): 413 once 32 MiB have arrived.
    piece = b'{"prefix": "10.0.0.0/24", "next_hop": "192.0.2.1"}, ' * 20000

    def body() -> Iterator[bytes]:
        yield b'{"paths": ['
        sent = 0
        while sent < size:
            yield piece
            sent += len(piece)
        yield b"]}"

    with httpx.Client(transport=httpx.HTTPTransport(uds=str(speaker.socket)), base_url="http://gracebgpd",
                      timeout=120) as c:
        try:
            r = c.post("/v1/paths", content=body(), headers={"content-type": "application/json"})
            assert r.status_code == 413, r.text[:300]
        except httpx.TransportError:
            pass  # refused and closed while we were still sending: refused all the same
    check_session(speaker, probe, since, "100 MB bodies")
    assert speaker.peer()["families"][0]["advertised"] == 0  # nothing of them was taken


def test_a_table_from_the_peer_keeps_the_session(setup: tuple[Speaker, Probe]) -> None:
    speaker, probe = setup
    since = time.monotonic()
    probe.send_table(ROUTES, PROBE_ADDR)
    def accepted() -> bool:
        assert not probe.closed, f"the session dropped: {probe.error or 'closed'}"
        return bool(speaker.peer()["families"][0]["accepted"] == ROUTES)

    wait_until("gracebgpd accepted the table", accepted, timeout=120)
    check_session(speaker, probe, since, f"ingest of {ROUTES} routes")
    print(owner_step_max(speaker))
