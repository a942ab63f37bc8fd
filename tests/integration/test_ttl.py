"""TTL and GTSM (RFC 5082) on real loopback sockets (issue 11 deliverable 4): the TTL and
the minimum TTL are read back from the kernel on the outgoing socket, the accepted one
and the listener; a listener for GTSM peers drops a SYN sent with TTL 254 (loopback does
not decrement the TTL, so what we send is what arrives) and takes one sent with 255."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from gracebgp.core import events as ev
from gracebgp.runtime import transport as tr
from gracebgp.runtime.sockopts import get_ttls, read_back

from .test_tcp_md5 import _until, free_port

A = "127.0.0.1"
GTSM = ev.SocketOptions(ttl=255, min_ttl=255)


def _socket(t: tr.Transport, peer: str, conn: int) -> Any:
    proto = t.conns[(peer, conn)]
    assert proto.transport is not None
    return proto.transport.get_extra_info("socket")


async def _pair(host: str, client: str, port: int, server_opts: ev.SocketOptions,
                client_opts: ev.SocketOptions, others: dict[str, ev.SocketOptions] | None = None,
                ) -> tuple[ev.Input, list[tuple[int, int]]]:
    """A listener with ``server_opts`` for ``client`` (and ``others``), a connect with
    ``client_opts``; the first outcome and the (TTL, minimum TTL) of the listener, the
    outgoing and the accepted socket (as far as they exist)."""
    queue: asyncio.Queue[ev.Input] = asyncio.Queue()
    server = tr.Transport(queue, lambda h: h if h == client else None)  # the speaker names peers so
    server.accept_from(client, server_opts)
    for addr, opts in (others or {}).items():
        server.accept_from(addr, opts)
    await server.listen(host, port)
    ttls = [get_ttls(server.servers[0].sockets[0])]
    out: asyncio.Queue[ev.Input] = asyncio.Queue()
    t = tr.Transport(out, lambda _h: None)
    t.connect("p", 1, host, port, client, client_opts)
    try:
        got = await _until(out, (ev.Connected, ev.ConnectFailed), 8)
        if isinstance(got, ev.Connected):
            accepted = await _until(queue, ev.Connected, 5)
            ttls += [get_ttls(_socket(t, "p", 1)), get_ttls(_socket(server, client, accepted.conn))]
        result: ev.Input = got
        return result, ttls
    finally:
        await t.shutdown()
        await server.shutdown()


@pytest.mark.parametrize(("host", "client"), [(A, "127.0.0.3"), ("::1", "::1")])
def test_gtsm_both_ends_read_back(host: str, client: str) -> None:
    got, ttls = asyncio.run(_pair(host, client, free_port(host), GTSM, GTSM))
    assert isinstance(got, ev.Connected), got
    listener, outgoing, accepted = ttls
    assert listener == (255, 255)  # every peer of this listener is GTSM
    assert outgoing == (255, 255) and accepted == (255, 255)


def test_single_hop_ebgp_sends_with_ttl_1_both_ways() -> None:
    one = ev.SocketOptions(ttl=1)
    got, ttls = asyncio.run(_pair(A, "127.0.0.3", free_port(A), one, one))
    assert isinstance(got, ev.Connected), got
    default = socket.socket().getsockopt(socket.IPPROTO_IP, socket.IP_TTL)
    assert ttls == [(default, 0), (1, 0), (1, 0)]  # the listener's SYN-ACK keeps the default


def test_a_listener_shared_with_a_peer_without_gtsm_checks_on_the_accepted_socket() -> None:
    got, ttls = asyncio.run(_pair(A, "127.0.0.3", free_port(A), GTSM, GTSM,
                                  {"127.0.0.4": ev.SocketOptions(ttl=1)}))
    assert isinstance(got, ev.Connected), got
    assert ttls[0] == (255, 0) and ttls[2] == (255, 255)


def test_gtsm_drops_a_sender_one_hop_too_far(monkeypatch: pytest.MonkeyPatch) -> None:
    """TTL 254 arrives as 254 on loopback: below ttl-min 255, the SYN is dropped
    (IP_MINTTL), so the connect times out; ttl-min 254 lets it in."""
    monkeypatch.setattr(tr, "CONNECT_TIMEOUT", 2.0)
    far = ev.SocketOptions(ttl=254)
    got, _ = asyncio.run(_pair(A, "127.0.0.3", free_port(A), GTSM, far))
    assert isinstance(got, ev.ConnectFailed) and "no answer from" in got.error, got
    got, _ = asyncio.run(_pair(A, "127.0.0.3", free_port(A), ev.SocketOptions(ttl=255, min_ttl=254), far))
    assert isinstance(got, ev.Connected), got


def test_a_shared_listener_refuses_a_gtsm_peer_whose_syn_came_from_too_far() -> None:
    """The listener also serves a peer without GTSM, so it checks no minimum itself: the
    handshake with a sender one hop too far completes, and what that sender queues right
    after it arrives before the accepted socket's own minimum is set. The SYN's saved
    TTL (TCP_SAVE_SYN) refuses the connection before anything is read."""

    async def run() -> tuple[list[ev.Input], ev.Input]:
        port = free_port(A)
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        server = tr.Transport(queue, lambda h: h)
        server.accept_from("127.0.0.3", GTSM)
        server.accept_from("127.0.0.4", ev.SocketOptions(ttl=1))
        await server.listen(A, port)
        out: asyncio.Queue[ev.Input] = asyncio.Queue()
        client = tr.Transport(out, lambda _h: None)
        client.connect("p", 1, A, port, "127.0.0.3", ev.SocketOptions(ttl=254))
        try:
            assert isinstance(await _until(out, ev.Connected, 5), ev.Connected)  # the handshake
            client.send("p", 1, b"\xff" * 16 + b"\x00\x13\x04")  # queued at once
            gone = await _until(out, ev.Disconnected, 5)  # refused: closed by the server
            await asyncio.sleep(0.2)
            return [queue.get_nowait() for _ in range(queue.qsize())], gone
        finally:
            await client.shutdown()
            await server.shutdown()

    seen, gone = asyncio.run(run())
    assert seen == [], seen  # nothing accepted, nothing read
    assert isinstance(gone, ev.Disconnected)


def test_gobgp_transport_keys_read_back_on_both_sockets() -> None:
    """tcp-mss, ip-tos, bind-interface, mtu-discovery, ttl on the outgoing socket (set
    before the SYN) and on the accepted one (set at accept), read back from the kernel;
    local-port is the outgoing connection's source port."""
    port, local_port = free_port(A), free_port("127.0.0.3")
    opts = ev.SocketOptions(ttl=7, tcp_mss=1200, tos=0xC0, bind_interface="lo", pmtu_discovery=False,
                            local_port=local_port)

    async def run() -> tuple[list[dict[str, object]], tuple[str, int], tuple[str, int]]:
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        server = tr.Transport(queue, lambda h: h)
        server.accept_from("127.0.0.3", opts)
        await server.listen(A, port)
        out: asyncio.Queue[ev.Input] = asyncio.Queue()
        client = tr.Transport(out, lambda _h: None)
        client.connect("p", 1, A, port, "127.0.0.3", opts)
        try:
            assert isinstance(await _until(out, ev.Connected, 5), ev.Connected)
            accepted = await _until(queue, ev.Connected, 5)
            mine, theirs = _socket(client, "p", 1), _socket(server, "127.0.0.3", accepted.conn)
            return [read_back(mine), read_back(theirs)], mine.getsockname(), theirs.getpeername()
        finally:
            await client.shutdown()
            await server.shutdown()

    (outgoing, accepted), ours, seen = asyncio.run(run())
    want = {"ttl": 7, "min_ttl": 0, "tos": 0xC0, "bind_interface": "lo", "pmtu": 0}
    for got in (outgoing, accepted):
        mss = got.pop("tcp_mss")
        assert isinstance(mss, int) and 1200 - 40 <= mss <= 1200, mss  # less the TCP options in use
        assert got == want, got  # loopback's own MSS would be 65483
    assert ours == ("127.0.0.3", local_port) == seen


def test_pmtu_discovery_on_and_ipv6_traffic_class() -> None:
    opts = ev.SocketOptions(tos=0xB8, pmtu_discovery=True)
    port = free_port("::1")

    async def run() -> list[dict[str, object]]:
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        server = tr.Transport(queue, lambda h: h)
        server.accept_from("::1", opts)
        await server.listen("::1", port)
        out: asyncio.Queue[ev.Input] = asyncio.Queue()
        client = tr.Transport(out, lambda _h: None)
        client.connect("p", 1, "::1", port, None, opts)
        try:
            assert isinstance(await _until(out, ev.Connected, 5), ev.Connected)
            accepted = await _until(queue, ev.Connected, 5)
            return [read_back(_socket(client, "p", 1)), read_back(_socket(server, "::1", accepted.conn))]
        finally:
            await client.shutdown()
            await server.shutdown()

    for seen in asyncio.run(run()):
        assert (seen["tos"], seen["pmtu"]) == (0xB8, 2), seen  # IPV6_TCLASS, IPV6_PMTUDISC_DO
