"""TCP MD5 (RFC 2385) for a dynamic-neighbors range on real loopback sockets: the range's
key is set on the listener once for the whole prefix (TCP_MD5SIG_EXT with
TCP_MD5SIG_FLAG_PREFIX), so a connection from any address inside it is accepted when it
is signed with that key and never without it; an address outside the prefix has no key
(its signed SYN is dropped); a configured neighbor's own key inside the range wins (the
kernel takes the longest matching key)."""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import subprocess

import pytest

from gracebgp.core import events as ev
from gracebgp.runtime import transport as tr

from .test_tcp_md5 import _connect_with, _until, free_port

RANGE, OWN = "127.0.0.0/29", "127.0.0.5"


def listener_keys(port: int) -> list[str]:
    """The prefixes the listener on ``port`` has MD5 keys for (``ss -e``: ``md5keys:A/N=,B/M=``)."""
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is needed to read TCP MD5 keys back from the kernel")
    out = subprocess.run(["ss", "-Htnie", "state", "listening", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    words = [w.removeprefix("md5keys:") for w in out.split() if w.startswith("md5keys:")]
    return sorted(k.split("=")[0] for w in words for k in w.split(",") if k)


def peer_of(host: str) -> str | None:
    """As Speaker.peer_for with one range and one configured neighbor inside it."""
    return host if host == OWN or ipaddress.ip_address(host) in ipaddress.ip_network(RANGE) else None


def test_range_key_scoped_to_the_prefix_and_a_neighbors_own_key_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tr, "CONNECT_TIMEOUT", 2.0)
    port = free_port("127.0.0.1")

    async def run() -> None:
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        t = tr.Transport(queue, peer_of)
        t.accept_from(RANGE, ev.SocketOptions(md5_password="range"))  # before listening
        t.accept_from(OWN, ev.SocketOptions(md5_password="own"))
        await t.listen("127.0.0.1", port)
        assert listener_keys(port) == ["127.0.0.0/29", "127.0.0.5/32"]
        try:
            for client in ("127.0.0.3", "127.0.0.6"):
                ok = await _connect_with("127.0.0.1", client, port, "range")
                assert isinstance(ok, ev.Connected), ok
                accepted = await _until(queue, ev.Connected, 5)
                assert (accepted.peer, accepted.outgoing) == (client, False)
            for client, key in (("127.0.0.3", None), ("127.0.0.3", "wrong"), ("127.0.0.9", "range"),
                                (OWN, "range")):
                failed = await _connect_with("127.0.0.1", client, port, key)
                assert isinstance(failed, ev.ConnectFailed), (client, key, failed)
            assert isinstance(await _connect_with("127.0.0.1", OWN, port, "own"), ev.Connected)
            t.accept_from(RANGE, None)  # the range removed by a reload: its key leaves the listener
            assert listener_keys(port) == ["127.0.0.5/32"]
        finally:
            await t.shutdown()

    asyncio.run(run())
