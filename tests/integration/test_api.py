"""The gracebgpd API (docs/api.md) against two running daemons peered on loopback
(tests/integration/api_daemons.py): bad requests get a 4xx with a one-line ``error``
and the daemon lives on; AddPaths/DeletePaths/ListPaths, WatchEvents and ListEvents do
what the document says, checked through the other speaker; the served OpenAPI document is
the committed docs/openapi.json.
"""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from ipaddress import ip_address, ip_network
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import httpx
import pytest

from gracebgp.api.guards import MAX_BODY

from .api_daemons import (
    A_ADDR,
    A_AS,
    B_ADDR,
    B_AS,
    DEMO_V4,
    Pair,
    family_row,
    start_pair,
    wait_established,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "openapi.json"
#: A peer address nobody configured.
NOBODY = "127.0.0.77"


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    yield from start_pair()


@pytest.fixture
def a(pair: Pair) -> Iterator[httpx.Client]:
    with pair.a.client() as c:
        yield c


@pytest.fixture
def b(pair: Pair) -> Iterator[httpx.Client]:
    with pair.b.client() as c:
        yield c


@pytest.fixture(autouse=True)
def daemons_survive(pair: Pair) -> Iterator[None]:
    """Whatever a test sent, both daemons are still running and answering afterwards."""
    yield
    pair.assert_alive()
    for d in pair.daemons():
        with d.client() as c:
            assert c.get("/v1/global").status_code == 200


def error_of(r: httpx.Response, status: int) -> str:
    """The one-line message of an error answer (docs/api.md, "Errors")."""
    assert r.status_code == status, f"{r.status_code} (wanted {status}): {r.text[:500]}"
    body = r.json()
    assert set(body) == {"error", "detail"}, body
    message = body["error"]
    assert isinstance(message, str) and message and "\n" not in message, body
    return message


def paths(client: httpx.Client, **query: Any) -> list[dict[str, Any]]:
    params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()}
    r = client.get("/v1/paths", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in r.text.splitlines() if line]


def prefixes_of(entries: list[dict[str, Any]]) -> list[str]:
    return [e["prefix"] for e in entries]


# --- bad requests -------------------------------------------------------------------------


BAD_PREFIXES = ["10.0.0.1/24", "300.0.0.0/8", "banana", "10.0.0.0/33", "2001:db8::1/32", "", "10.0.0.0/24x"]


@pytest.mark.parametrize("prefix", [*BAD_PREFIXES, "10.0.0.0"])
def test_add_paths_refuses_an_invalid_prefix(a: httpx.Client, prefix: str) -> None:
    good = "10.9.9.0/24"
    r = a.post("/v1/paths", json={"paths": [{"prefix": good}, {"prefix": prefix}]})
    assert "prefix" in error_of(r, 400)
    # AddPaths is all or nothing: the good route of the refused call is not there.
    assert paths(a, prefix=good) == []


@pytest.mark.parametrize("prefix", [*BAD_PREFIXES, "10.0.0.0"])
def test_delete_paths_refuses_an_invalid_prefix(a: httpx.Client, prefix: str) -> None:
    """What AddPaths refuses, DeletePaths refuses too (not: deletes another prefix)."""
    good = "10.9.9.0/24"
    assert a.post("/v1/paths", json={"paths": [{"prefix": good}]}).json()["changed"] == 1
    try:
        assert error_of(a.post("/v1/paths/delete", json={"prefixes": [good, prefix]}), 400)
        assert prefixes_of(paths(a, prefix=good)) == [good]  # all or nothing
    finally:
        a.post("/v1/paths/delete", json={"prefixes": [good]})


@pytest.mark.parametrize("prefix", BAD_PREFIXES)
def test_list_paths_refuses_an_invalid_prefix(a: httpx.Client, prefix: str) -> None:
    """(A bare address is a valid filter: the longest match.)"""
    family = "ipv6-unicast" if ":" in prefix else "ipv4-unicast"
    assert "prefix" in error_of(a.get("/v1/paths", params={"prefix": prefix, "family": family}), 400)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/peers/{}"), ("DELETE", "/v1/peers/{}"), ("POST", "/v1/peers/{}/enable"),
    ("POST", "/v1/peers/{}/shutdown"), ("POST", "/v1/peers/{}/reset")])
def test_unknown_peer_is_404(a: httpx.Client, method: str, path: str) -> None:
    message = error_of(a.request(method, path.format(NOBODY)), 404)
    assert NOBODY in message and "not found" in message


@pytest.mark.parametrize("table", ["loc", "adj-in", "adj-out"])
def test_list_paths_of_unknown_peer_is_404(a: httpx.Client, table: str) -> None:
    assert NOBODY in error_of(a.get("/v1/paths", params={"table": table, "peer": NOBODY}), 404)


def test_adj_tables_need_a_peer(a: httpx.Client) -> None:
    for table in ("adj-in", "adj-out"):
        assert "needs a peer" in error_of(a.get("/v1/paths", params={"table": table}), 400)


def test_wrong_family(a: httpx.Client) -> None:
    assert "family" in error_of(a.get("/v1/paths", params={"family": "ipv5-unicast"}), 422)
    assert "table" in error_of(a.get("/v1/paths", params={"table": "rib"}), 422)
    # An IPv6 next hop on an IPv4 route, and the other way round.
    for prefix, next_hop in (("10.9.8.0/24", "2001:db8::1"), ("2001:db8:99::/48", "192.0.2.1")):
        body = {"paths": [{"prefix": prefix, "next_hop": next_hop}]}
        message = error_of(a.post("/v1/paths", json=body), 400)
        assert next_hop in message and "family" in message
        assert paths(a, prefix=prefix, family="ipv6-unicast" if ":" in prefix else "ipv4-unicast") == []
    # A prefix (or address) of the other family than the one listed.
    assert "ipv4-unicast" in error_of(a.get("/v1/paths", params={"prefix": "2001:db8::/32"}), 400)
    assert "ipv6-unicast" in error_of(
        a.get("/v1/paths", params={"prefix": "192.0.2.0/24", "family": "ipv6-unicast"}), 400)
    assert error_of(a.get("/v1/paths", params={"prefix": "192.0.2.1", "family": "ipv6-unicast"}), 400)
    assert error_of(a.get("/v1/paths", params={"prefix": "2001:db8::1"}), 400)


@pytest.mark.parametrize(("address", "family"),
                         [("192.0.2.1", "ipv6-unicast"), ("2001:db8::1", "ipv4-unicast")])
def test_list_paths_address_of_the_other_family_says_so(a: httpx.Client, address: str, family: str) -> None:
    """An address filter of the other family: the message names the family, and does not
    speak of a prefix length the user never wrote ("'192.0.2.1/128' does not appear to be
    an IPv4 or IPv6 network")."""
    message = error_of(a.get("/v1/paths", params={"prefix": address, "family": family}), 400)
    assert family in message and "/128" not in message and "/32" not in message, message


def test_declared_body_over_the_limit_is_413(pair: Pair) -> None:
    """A Content-Length over MAX_BODY is refused before the body is read."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(pair.a.socket))
        s.sendall(f"POST /v1/paths HTTP/1.1\r\nHost: gracebgpd\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {MAX_BODY + 1}\r\n\r\n{{\"paths\": []}}".encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), head
    message = json.loads(body)["error"]
    assert str(MAX_BODY) in message


def test_streamed_body_over_the_limit_is_413() -> None:
    """A body without Content-Length (chunked) that grows over the limit is a 413 as well
    (guards.limit_body), not a 400 "There was an error parsing the body". In process,
    with a 1 KiB limit: the daemon's 256 MiB would take too long to send."""
    from gracebgp import __version__
    from gracebgp.api.guards import limit_body
    from gracebgp.api.server import build_app
    from gracebgp.api.service import DaemonInfo
    from gracebgp.config import parse
    from gracebgp.core.speaker import Speaker
    from gracebgp.runtime.owner import Owner

    async def post(content: bytes | None) -> httpx.Response:
        cfg = parse('[global.config]\nas = 64512\nrouter-id = "192.0.2.1"\n')
        owner = Owner(Speaker(64512, "192.0.2.1"), [])
        info = DaemonInfo(__version__, "test", 0.0, 179, (), "retain", True, cfg.global_)
        app = limit_body(build_app(owner, info, None), limit=1024)

        async def chunks() -> Any:
            for _ in range(8):
                yield b" " * 512

        transport = httpx.ASGITransport(app=cast(Any, app))
        async with httpx.AsyncClient(transport=transport, base_url="http://gracebgpd") as c:
            return await asyncio.wait_for(
                c.post("/v1/paths", content=content if content is not None else chunks(),
                       headers={"content-type": "application/json"}), 10)

    declared = asyncio.run(post(b" " * 4096))
    assert "1024" in error_of(declared, 413)
    streamed = asyncio.run(post(None))
    assert "1024" in error_of(streamed, 413)


def test_shutdown_message_is_at_most_255_octets(a: httpx.Client) -> None:
    peer = "127.0.0.50"
    r = a.post("/v1/peers", json={"address": peer, "peer_as": 65050, "admin_down": True})
    assert r.status_code == 201, r.text
    try:
        ok = a.post(f"/v1/peers/{peer}/shutdown", json={"message": "é" * 100})  # 200 octets
        assert ok.status_code == 200 and ok.json()["ok"] is True, ok.text
        # 128 characters but 256 octets of UTF-8: RFC 9003 §2 counts octets; refused where
        # the body is parsed (422), with one line that counts octets (issue 10).
        too_long = "body.message: the shutdown message is 256 octets of UTF-8; RFC 9003 §2 allows at most 255"
        assert error_of(a.post(f"/v1/peers/{peer}/shutdown", json={"message": "é" * 128}), 422) == too_long
        assert error_of(a.post(f"/v1/peers/{peer}/shutdown", json={"message": "x" * 256}), 422) == too_long
        assert error_of(
            a.post(f"/v1/peers/{peer}/reset", json={"mode": "soft", "message": "é" * 128}), 422) == too_long
        # Stop too: a refused stop leaves the daemon running (the autouse fixture checks).
        r = a.post("/v1/stop", json={"withdraw": True, "message": "x" * 300})
        assert "300 octets" in error_of(r, 422)
        assert "mode" in error_of(a.post(f"/v1/peers/{peer}/reset", json={"mode": "banana"}), 422)
        # A hard reset of a peer that is administratively down is refused with a reason.
        assert "enable it first" in error_of(a.post(f"/v1/peers/{peer}/reset", json={"mode": "hard"}), 400)
    finally:
        assert a.delete(f"/v1/peers/{peer}").status_code == 200


def test_duplicate_add_peer_is_409(a: httpx.Client) -> None:
    peer = "127.0.0.51"
    body = {"address": peer, "peer_as": 65051, "admin_down": True}
    first = a.post("/v1/peers", json=body)
    assert first.status_code == 201 and first.json()["ok"] is True, first.text
    try:
        assert peer in error_of(a.post("/v1/peers", json=body), 409)
        # The configured peer too, also when spelt differently.
        assert B_ADDR in error_of(a.post("/v1/peers", json={"address": B_ADDR, "peer_as": B_AS}), 409)
        assert "already exists" in error_of(
            a.post("/v1/peers", json={"address": f" {B_ADDR}", "peer_as": B_AS}), 409)
        got = a.get(f"/v1/peers/{peer}").json()
        assert got["dynamic"] is True and got["admin_down"] is True and got["peer_as"] == 65051
        assert got["state"] == "Idle"
    finally:
        done = a.delete(f"/v1/peers/{peer}")
        assert done.status_code == 200 and done.json()["ok"] is True
    assert error_of(a.get(f"/v1/peers/{peer}"), 404)


def test_add_peer_with_families(a: httpx.Client) -> None:
    """``families`` is part of PeerAdd: a peer for both families (and an IPv6 peer for
    IPv6 only) can be added."""
    for peer, families in (("127.0.0.52", ["ipv4-unicast", "ipv6-unicast"]), ("::1", ["ipv6-unicast"])):
        r = a.post("/v1/peers", json={"address": peer, "peer_as": 65052, "families": families,
                                       "admin_down": True})
        assert r.status_code == 201, r.text
        try:
            got = a.get(f"/v1/peers/{peer}").json()
            assert [f["family"] for f in got["families"] if f["configured"]] == families
        finally:
            assert a.delete(f"/v1/peers/{peer}").status_code == 200


def test_add_peer_refuses_bad_settings(a: httpx.Client) -> None:
    for body, words in (({"address": "banana", "peer_as": 65053}, "banana"),
                        ({"address": "127.0.0.53", "peer_as": 65053, "hold_time": 2}, "hold"),
                        ({"address": "127.0.0.53", "peer_as": 65053, "local_address": "::1"}, "family")):
        r = a.post("/v1/peers", json=body)
        message = error_of(r, 400)
        assert "invalid settings" in message
        assert any(words in d for d in r.json()["detail"]), r.json()
    assert "peer_as" in error_of(a.post("/v1/peers", json={"address": "127.0.0.53", "peer_as": 0}), 422)
    assert "colour" in error_of(a.post("/v1/peers", json={"address": "127.0.0.53", "peer_as": 1,
                                                           "colour": "blue"}), 422)
    assert error_of(a.get("/v1/peers/127.0.0.53"), 404)


def test_tcp_listener_needs_the_token(pair: Pair) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": pair.token},
                    {"Authorization": f"Basic {pair.token}"}, {"Authorization": f"Bearer {pair.token}x"}):
        with httpx.Client(base_url=pair.base_url, headers=headers, timeout=10) as c:
            for method, path in (("GET", "/v1/global"), ("GET", "/metrics"), ("GET", "/openapi.json"),
                                 ("POST", "/v1/peers/127.0.0.2/shutdown"), ("DELETE", "/v1/peers/127.0.0.2")):
                assert "token" in error_of(c.request(method, path), 401)
    with pair.tcp_client() as c:
        assert c.get("/v1/global").json()["asn"] == A_AS
    with pair.a.client() as c:  # the 401s changed nothing
        peer = c.get(f"/v1/peers/{B_ADDR}").json()
        assert peer["state"] == "Established" and not peer["admin_down"]


def test_malformed_json_is_422(a: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    for path, content in (("/v1/paths", b'{"paths": ['), ("/v1/paths/delete", b"{prefixes: []}"),
                          ("/v1/peers", b'{"address": "127.0.0.54", "peer_as": 1'),
                          (f"/v1/peers/{NOBODY}/shutdown", b"{")):
        assert "JSON" in error_of(a.post(path, content=content, headers=headers), 422)
    for path, body in (("/v1/paths", []), ("/v1/paths", {"paths": "10.0.0.0/8"}), ("/v1/peers", [])):
        assert error_of(a.post(path, json=body), 422)
    assert error_of(a.get("/v1/paths", params={"longer": "maybe"}), 422)


# --- paths ----------------------------------------------------------------------------------


def test_add_and_delete_many_paths(pair: Pair, a: httpx.Client, b: httpx.Client) -> None:
    n = 5000
    prefixes = [f"10.{i // 256}.{i % 256}.0/24" for i in range(n)]
    spec = {"origin": "incomplete", "med": 42, "communities": ["65001:777", "65001:778"],
            "large_communities": ["65001:7:7"]}
    wait_established(pair)
    r = a.post("/v1/paths", json={"paths": [{"prefix": p, **spec} for p in prefixes]})
    assert r.status_code == 200 and r.json() == {"changed": n, "unchanged": 0}, r.text
    try:
        again = a.post("/v1/paths", json={"paths": [{"prefix": p, **spec} for p in prefixes[:10]]})
        assert again.json() == {"changed": 0, "unchanged": 10}
        local = paths(a, prefix="10.0.0.0/8", longer=True)
        assert prefixes_of(local) == prefixes  # sorted by address
        assert all(e["source"] is None and e["best"] for e in local)
        # B received all of them from A, with A's attributes and A as next hop.
        received = wait_until("B has A's 5000 routes", lambda: (
            got if len(got := paths(b, table="adj-in", peer=A_ADDR, prefix="10.0.0.0/8", longer=True)) == n
            else None))
        assert prefixes_of(received) == prefixes
        for e in received:
            assert e["next_hop"] == [A_ADDR] and e["source"] == A_ADDR and e["rejected"] is None
            assert e["attrs"] == {"origin": "incomplete", "as_path": str(A_AS), "med": 42,
                                  "communities": ["65001:777", "65001:778"],
                                  "large_communities": ["65001:7:7"]}, e
            assert e["best"] is True and e["stale"] is False
        assert "as-path [65001]" in received[0]["attrs_text"]
        row = family_row(b.get(f"/v1/peers/{A_ADDR}").json(), "ipv4-unicast")
        assert row["received"] == row["accepted"] == n + len(DEMO_V4[A_ADDR])
    finally:
        gone = a.post("/v1/paths/delete", json={"prefixes": prefixes})
    assert gone.json() == {"changed": n, "unchanged": 0}, gone.text
    again = a.post("/v1/paths/delete", json={"prefixes": prefixes[:7]})
    assert again.json() == {"changed": 0, "unchanged": 7}
    assert paths(a, prefix="10.0.0.0/8", longer=True) == []
    wait_until("B has withdrawn A's routes",
               lambda: paths(b, table="adj-in", peer=A_ADDR, prefix="10.0.0.0/8", longer=True) == [])
    # The demo routes stay.
    assert prefixes_of(paths(b, table="adj-in", peer=A_ADDR)) == sorted(DEMO_V4[A_ADDR], key=ip_network)


def test_list_paths_filters(pair: Pair, a: httpx.Client, b: httpx.Client) -> None:
    wait_established(pair)
    from_a = ["10.200.0.0/16", "10.200.1.0/24", "10.200.1.128/25", "10.201.0.0/24"]
    assert a.post("/v1/paths", json={"paths": [{"prefix": p} for p in from_a]}).json()["changed"] == 4
    own = {"prefix": "10.201.0.0/24", "med": 5, "local_pref": 300}
    assert b.post("/v1/paths", json={"paths": [own]}).json()["changed"] == 1
    try:
        wait_until("B has A's test routes", lambda: len(paths(b, prefix="10.200.0.0/15", longer=True)) == 5)
        assert prefixes_of(paths(b, prefix="10.200.1.0/24")) == ["10.200.1.0/24"]
        assert prefixes_of(paths(b, prefix="10.200.0.0/16", longer=True)) == from_a[:3]
        assert paths(b, prefix="10.200.0.0/17") == []  # exact: nothing there
        # An address: the longest match only.
        for address, want in (("10.200.1.200", "10.200.1.128/25"), ("10.200.1.5", "10.200.1.0/24"),
                              ("10.200.77.1", "10.200.0.0/16")):
            assert prefixes_of(paths(b, prefix=address)) == [want], address
        assert paths(b, prefix="10.202.0.1") == []
        # Two candidates for 10.201.0.0/24 at B: its own (AS_PATH empty) wins over A's.
        both = paths(b, prefix="10.201.0.0/24")
        assert sorted((e["source"], e["best"]) for e in both if e["source"]) == [(A_ADDR, False)]
        assert [e["best"] for e in both if e["source"] is None] == [True]
        best = paths(b, prefix="10.201.0.0/24", best=True)
        assert len(best) == 1 and best[0]["source"] is None
        assert best[0]["attrs"] == {"origin": "igp", "as_path": "", "med": 5, "local_pref": 300}
        only_a = paths(b, prefix="10.201.0.0/24", peer=A_ADDR)
        assert [(e["source"], e["attrs"]["as_path"]) for e in only_a] == [(A_ADDR, str(A_AS))]
        # IPv6 (an IPv4 session: the next hop is A's IPv4-mapped address).
        v6 = paths(b, family="ipv6-unicast", prefix="2001:db8:a::/48")
        # (Python 3.11 spells it ::ffff:7f00:1, 3.13 ::ffff:127.0.0.1: compare addresses.)
        assert [(e["source"], [ip_address(n) for n in e["next_hop"]]) for e in v6] == \
            [(A_ADDR, [ip_address(f"::ffff:{A_ADDR}")])]
        assert prefixes_of(paths(b, family="ipv6-unicast", prefix="2001:db8:a:1::1")) == ["2001:db8:a:1::/64"]
        # Adj-RIB-Out: what B sends A (its own routes; A's own never go back to A).
        out = paths(b, table="adj-out", peer=A_ADDR)
        mine = set(DEMO_V4[B_ADDR]) | {"10.201.0.0/24"}
        assert set(prefixes_of(out)) == mine
        assert all(e["next_hop"] == [B_ADDR] and e["attrs"]["as_path"] == str(B_AS) for e in out), out
        # B's own MED goes to the external peer, LOCAL_PREF does not (RFC 4271 §5.1.4, §5.1.5).
        assert [e["attrs"] for e in out if e["prefix"] == "10.201.0.0/24"] == \
            [{"origin": "igp", "as_path": str(B_AS), "med": 5}]
        wait_until("A has B's 10.201.0.0/24",
                   lambda: [e["source"] for e in paths(a, prefix="10.201.0.0/24", peer=B_ADDR)] == [B_ADDR])
    finally:
        a.post("/v1/paths/delete", json={"prefixes": from_a})
        b.post("/v1/paths/delete", json={"prefixes": ["10.201.0.0/24"]})


# --- a hand-made BGP speaker for routes B must refuse ----------------------------------------


def _bgp(kind: int, body: bytes) -> bytes:
    """RFC 4271 §4.1: 16-octet marker, 2-octet length, 1-octet type."""
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body


def _open(asn: int, router_id: str) -> bytes:
    """RFC 4271 §4.2 OPEN, hold time 0 (no keepalives), capabilities: multiprotocol IPv4
    unicast (RFC 4760 §8) and four-octet AS (RFC 6793 §3)."""
    caps = bytes([1, 4, 0, 1, 0, 1]) + bytes([65, 4]) + struct.pack("!I", asn)
    params = bytes([2, len(caps)]) + caps
    return _bgp(1, struct.pack("!BHH4sB", 4, asn, 0, socket.inet_aton(router_id), len(params)) + params)


def _update(as_path: list[int], next_hop: str, prefix: str) -> bytes:
    """RFC 4271 §4.3 UPDATE: ORIGIN IGP, AS_PATH (one AS_SEQUENCE, four-octet ASNs),
    NEXT_HOP, one IPv4 NLRI."""
    segment = bytes([2, len(as_path)]) + b"".join(struct.pack("!I", n) for n in as_path)
    attrs = (bytes([0x40, 1, 1, 0]) + bytes([0x40, 2, len(segment)]) + segment
             + bytes([0x40, 3, 4]) + socket.inet_aton(next_hop))
    address, length = prefix.split("/")
    nlri = bytes([int(length)]) + socket.inet_aton(address)[:(int(length) + 7) // 8]
    return _bgp(2, struct.pack("!HH", 0, len(attrs)) + attrs + nlri)


class FakeSpeaker:
    """Just enough BGP to reach Established with a gracebgpd and send it UPDATEs."""

    def __init__(self, local: str, remote: tuple[str, int], asn: int) -> None:
        self.sock = socket.create_connection(remote, timeout=10, source_address=(local, 0))
        self.sock.sendall(_open(asn, local))
        got = [self._read()[0] for _ in range(2)]
        assert got == [1, 4], f"wanted OPEN and KEEPALIVE, got message types {got}"
        self.sock.sendall(_bgp(4, b""))

    def _read(self) -> tuple[int, bytes]:
        head = self._exactly(19)
        length, kind = struct.unpack("!HB", head[16:])
        body = self._exactly(length - 19)
        assert kind != 3, f"NOTIFICATION {body.hex()}"
        return kind, body

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "connection closed"
            data += chunk
        return data

    def __enter__(self) -> FakeSpeaker:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.sock.close()


def test_rejected_routes_show_before_policy(pair: Pair, b: httpx.Client) -> None:
    """A route whose AS_PATH holds B's AS is refused (RFC 4271 §9.1.2): ListPaths shows it
    on the peer's Adj-RIB-In only with post_policy=false, with the reason."""
    fake, fake_as = "127.0.0.3", 65003
    r = b.post("/v1/peers", json={"address": fake, "peer_as": fake_as, "passive": True})
    assert r.status_code == 201, r.text
    try:
        with FakeSpeaker(fake, (B_ADDR, pair.b.port), fake_as) as speaker:
            wait_until("B Established with the fake speaker",
                       lambda: b.get(f"/v1/peers/{fake}").json()["state"] == "Established")
            speaker.sock.sendall(_update([fake_as, B_AS], fake, "10.250.0.0/24")
                                 + _update([fake_as], fake, "10.251.0.0/24"))
            wait_until("B has the fake speaker's routes", lambda: len(
                paths(b, table="adj-in", peer=fake, post_policy=False)) == 2)
            pre = paths(b, table="adj-in", peer=fake, post_policy=False)
            assert [(e["prefix"], e["rejected"] is not None) for e in pre] == [("10.250.0.0/24", True),
                                                                              ("10.251.0.0/24", False)]
            assert "AS loop" in pre[0]["rejected"] and pre[0]["best"] is False
            assert pre[0]["attrs"]["as_path"] == f"{fake_as} {B_AS}"
            post = paths(b, table="adj-in", peer=fake)
            assert prefixes_of(post) == ["10.251.0.0/24"] and post[0]["rejected"] is None
            assert paths(b, prefix="10.250.0.0/24") == []
            assert prefixes_of(paths(b, prefix="10.251.0.0/24")) == ["10.251.0.0/24"]
            row = family_row(b.get(f"/v1/peers/{fake}").json(), "ipv4-unicast")
            assert (row["received"], row["accepted"]) == (2, 1)
    finally:
        assert b.delete(f"/v1/peers/{fake}").status_code == 200
    assert paths(b, prefix="10.251.0.0/24") == []


# --- events ---------------------------------------------------------------------------------


class EventStream:
    """WatchEvents, read by a thread into a queue so that every wait has a deadline."""

    def __init__(self, client: httpx.Client, **query: str) -> None:
        self._cm = client.stream("GET", "/v1/events", params=query, timeout=httpx.Timeout(10.0, read=None))
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._taken: set[int] = set()  # indexes in ``seen`` until() returned

    def __enter__(self) -> EventStream:
        self.response = self._cm.__enter__()
        assert self.response.status_code == 200
        assert self.response.headers["content-type"].startswith("text/event-stream")
        threading.Thread(target=self._read, daemon=True).start()
        first = self._lines.get(timeout=10)  # sent once the subscription is in place
        assert first is not None and first.startswith(":"), first
        return self

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines():
                self._lines.put(line)
        except httpx.HTTPError:
            pass  # closed by __exit__
        self._lines.put(None)

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._cm.__exit__(t, e, tb)

    def until(self, what: str, match: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
        """The first event not returned before whose fields (``data.x``: its data fields)
        include ``match``, waiting for it at most ``timeout`` seconds."""
        def matches(event: dict[str, Any]) -> bool:
            return all((event["data"] if k.startswith("data.") else event).get(k.removeprefix("data.")) == v
                       for k, v in match.items())
        end = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.seen):
                if i not in self._taken and matches(event):
                    self._taken.add(i)
                    return event
            try:
                line = self._lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {what} event within {timeout}s; seen: {self.seen[-20:]}") from None
            assert line is not None, f"the event stream ended; seen: {self.seen[-20:]}"
            assert not line.startswith("event: overflow"), line
            if line.startswith("data: "):
                event = json.loads(line[len("data: "):])
                assert set(event) == {"seq", "time", "kind", "peer", "message", "data"}, event
                self.seen.append(event)


def test_watch_events_peer_state(pair: Pair, a: httpx.Client, b: httpx.Client) -> None:
    wait_established(pair)
    note = "é" * 100  # 200 octets: within RFC 9003's 255
    started = time.time()
    try:
        with EventStream(a) as events:
            r = a.post(f"/v1/peers/{B_ADDR}/shutdown", json={"message": note})
            assert r.status_code == 200 and note in r.json()["message"]
            command = events.until("ShutdownPeer", {"kind": "command", "data.command": "ShutdownPeer"})
            assert command["peer"] == B_ADDR and note in command["message"]
            down = events.until("down", {"kind": "peer-state", "peer": B_ADDR, "data.old": "ESTABLISHED"})
            assert down["data"]["new"] == "IDLE" and note in down["data"]["reason"]
            assert down["message"].startswith(f"peer {B_ADDR}: ESTABLISHED -> IDLE: administrative shutdown")
            assert started - 1 <= down["time"] <= time.time() + 1
            assert a.get(f"/v1/peers/{B_ADDR}").json()["admin_down"] is True
            # B heard why (RFC 9003), every octet of it.
            wait_until("B saw the shutdown",
                       lambda: note in b.get(f"/v1/peers/{A_ADDR}").json()["last_error"])
            r = a.post(f"/v1/peers/{B_ADDR}/enable")
            assert r.status_code == 200 and r.json()["ok"] is True
            enabled = events.until("EnablePeer command", {"kind": "command", "data.command": "EnablePeer"})
            up = events.until("peer up", {"kind": "peer-state", "peer": B_ADDR, "data.new": "ESTABLISHED"})
            assert up["seq"] > enabled["seq"] > down["seq"]
    finally:
        a.post(f"/v1/peers/{B_ADDR}/enable")
    seqs = [e["seq"] for e in events.seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    wait_established(pair)
    # ListEvents has the same events (route events are not kept).
    history = a.get("/v1/events/history").json()
    by_seq = {e["seq"]: e for e in history}
    for e in (command, down, enabled, up):
        assert by_seq[e["seq"]] == e
    assert all(e["kind"] != "route" for e in history)
    assert [e["seq"] for e in history] == sorted(e["seq"] for e in history)
    peer = a.get(f"/v1/peers/{B_ADDR}").json()
    assert peer["established_count"] >= 2 and not peer["admin_down"]


def test_watch_events_routes(pair: Pair, a: httpx.Client) -> None:
    prefix = "10.240.0.0/24"
    with EventStream(a, routes="true") as routes, EventStream(a) as plain:
        r = a.post("/v1/paths", json={"paths": [{"prefix": prefix, "communities": ["65001:5"]}]})
        assert r.json() == {"changed": 1, "unchanged": 0}
        added = routes.until("route added", {"kind": "route", "data.prefix": prefix})
        assert added["data"]["family"] == "ipv4-unicast" and added["data"]["source"] is None
        assert "65001:5" in added["data"]["attrs"] and prefix in added["message"]
        assert a.post("/v1/paths/delete", json={"prefixes": [prefix]}).json()["changed"] == 1
        gone = routes.until("route withdrawn", {"kind": "route", "data.prefix": prefix, "data.best": None})
        assert gone["seq"] > added["seq"] and "withdrawn" in gone["message"]
        # Without routes=true: the commands, none of the route changes between them.
        plain.until("AddRoutes command", {"kind": "command", "data.command": "AddRoutes"})
        plain.until("DeleteRoutes command", {"kind": "command", "data.command": "DeleteRoutes"})
        assert [e for e in plain.seen if e["kind"] == "route"] == []
    assert all(e["kind"] != "route" for e in a.get("/v1/events/history").json())


def test_watch_events_history_replays(a: httpx.Client) -> None:
    for path, body in (("/v1/paths", {"paths": [{"prefix": "10.241.0.0/24"}]}),
                       ("/v1/paths/delete", {"prefixes": ["10.241.0.0/24"]})):
        assert a.post(path, json=body).json()["changed"] == 1
    history = a.get("/v1/events/history").json()
    assert {"peer-state", "command"} <= {e["kind"] for e in history}
    with EventStream(a, history="true") as events:
        last = history[-1]
        replayed = events.until("the last past event", {"seq": last["seq"]})
        assert replayed == last
    assert [e["seq"] for e in events.seen] == [e["seq"] for e in history]


# --- soft reset -----------------------------------------------------------------------------


def test_soft_reset_sends_route_refresh(pair: Pair, a: httpx.Client, b: httpx.Client) -> None:
    wait_established(pair)
    before = b.get(f"/v1/peers/{A_ADDR}").json()["messages_received"]["route_refresh"]
    r = a.post(f"/v1/peers/{B_ADDR}/reset", json={"mode": "soft-in"})
    assert r.status_code == 200 and "ROUTE-REFRESH" in r.json()["message"], r.text
    # One ROUTE-REFRESH per negotiated family (IPv4 and IPv6 unicast).
    wait_until("B got A's ROUTE-REFRESH", lambda: b.get(f"/v1/peers/{A_ADDR}").json()["messages_received"]
               ["route_refresh"] == before + 2)
    sent = a.get(f"/v1/peers/{B_ADDR}").json()
    assert sent["messages_sent"]["route_refresh"] >= 2 and sent["established_count"] >= 1
    assert sent["state"] == "Established"


# --- the OpenAPI document -----------------------------------------------------------------


def test_served_openapi_is_the_committed_one(a: httpx.Client) -> None:
    served = a.get("/openapi.json").json()
    committed = json.loads(OPENAPI.read_text())
    assert served == committed, (
        "docs/openapi.json is not what gracebgpd serves; regenerate it with "
        "`python tools/openapi.py > docs/openapi.json`")
    operations = {op["operationId"] for methods in served["paths"].values() for op in methods.values()}
    assert {"AddPeer", "ListPeers", "AddPaths", "DeletePaths", "ListPaths", "ShutdownPeer", "ResetPeer",
            "WatchEvents"} <= operations


def test_openapi_tool_prints_the_committed_document() -> None:
    """tools/openapi.py (no daemon needed) writes docs/openapi.json byte for byte."""
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "openapi.py")], capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == OPENAPI.read_text(), \
        "docs/openapi.json is stale; regenerate it with `python tools/openapi.py > docs/openapi.json`"
