"""The close path after a NOTIFICATION (issue 10 finding 8), on real loopback sockets: the
NOTIFICATION goes out, then a FIN, never a RST, even when the peer floods us with data
while we close (unread data in our receive queue would make Linux answer the close with
a RST, and a RST may make the peer drop the NOTIFICATION unread, RFC 4271 §6: "the
NOTIFICATION message is sent, then the BGP connection is closed"). The peer must read
every octet of the NOTIFICATION and then a clean end of stream."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
import threading
import time
from dataclasses import dataclass, field

import pytest

from gracebgp.core import events as ev
from gracebgp.runtime import transport as tr
from gracebgp.wire import Notification
from gracebgp.wire.iana import CeaseSubcode

KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"
NOTE = Notification.cease(CeaseSubcode.OTHER_CONFIGURATION_CHANGE, "closing with care").encode()


@dataclass
class RawPeer:
    """A peer on a plain socket: floods KEEPALIVEs at us from the moment it accepts, reads
    everything we send until end of stream or an error, then (if ``closes``) closes."""

    closes: bool = True
    listener: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    received: bytearray = field(default_factory=bytearray)
    error: BaseException | None = None
    eof: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        self.listener.settimeout(5)
        conn, _ = self.listener.accept()
        conn.settimeout(5)
        stop = threading.Event()

        def flood() -> None:
            chunk = KEEPALIVE * 500
            while not stop.is_set():
                try:
                    conn.sendall(chunk)
                except OSError:
                    return

        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    self.eof.set()
                    break
                self.received += data
        except OSError as exc:
            self.error = exc
        if self.closes or self.error is not None:
            stop.set()
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            sender.join(5)
            conn.close()
        else:  # keeps the connection open and keeps sending until we give up on it
            sender.join(10)
            stop.set()
            conn.close()
        self.listener.close()
        self.done.set()


def _unread(sock: socket.socket) -> int:
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0])


async def _until(queue: asyncio.Queue[ev.Input], kind: type, timeout: float) -> ev.Input:
    async def wait() -> ev.Input:
        while True:
            item = await queue.get()
            if isinstance(item, kind):
                return item

    return await asyncio.wait_for(wait(), timeout)


async def _close_while_flooded(peer: RawPeer) -> tuple[float, ev.Input]:
    """Connect to ``peer``; once its flood sits unread in our receive queue, write the
    NOTIFICATION and close the way the owner does for ``Close(after_notification=True)``.
    Returns how long until the connection was reported gone, and that report."""
    queue: asyncio.Queue[ev.Input] = asyncio.Queue()
    t = tr.Transport(queue, lambda _host: None)
    t.connect("p", 1, "127.0.0.1", peer.port, None, None)
    await _until(queue, ev.Connected, 5)
    proto = t.conns[("p", 1)]
    assert proto.transport is not None
    sock = proto.transport.get_extra_info("socket")
    # No await from here on: the event loop cannot read what the peer sends meanwhile.
    end = time.monotonic() + 5
    while _unread(sock) == 0 and time.monotonic() < end:
        time.sleep(0.001)  # the kernel condition we need: data queued, not read
    assert _unread(sock) > 0
    t.send("p", 1, NOTE)
    t.close("p", 1, after_notification=True)
    started = time.monotonic()
    gone = await _until(queue, ev.Disconnected, tr.CLOSE_LINGER + 3)
    elapsed = time.monotonic() - started
    assert await t.wait_closed(1.0)
    await t.shutdown()
    return elapsed, gone


def test_notification_then_fin_while_the_peer_floods_us() -> None:
    peer = RawPeer(closes=True)
    peer.start()
    elapsed, _gone = asyncio.run(_close_while_flooded(peer))
    assert peer.done.wait(5)
    assert peer.error is None, f"peer saw {peer.error!r} instead of the end of stream (a RST)"
    assert peer.eof.is_set()
    assert bytes(peer.received).endswith(NOTE), "the NOTIFICATION was not the last thing read"
    assert elapsed < tr.CLOSE_LINGER  # closed when the peer closed, not at the linger bound


def test_a_peer_that_never_closes_is_closed_after_the_linger_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tr, "CLOSE_LINGER", 0.3)
    peer = RawPeer(closes=False)
    peer.start()
    elapsed, _gone = asyncio.run(_close_while_flooded(peer))
    assert 0.25 <= elapsed < 2.0
    assert peer.done.wait(15)
    assert bytes(peer.received).endswith(NOTE)
    assert peer.eof.is_set() and peer.error is None  # FIN first; what follows is our business


def test_plain_close_still_closes_at_once() -> None:
    """A close without NOTIFICATION (the GR-way stop towards a peer without N) is not delayed."""

    async def scenario() -> float:
        server = socket.create_server(("127.0.0.1", 0))
        queue: asyncio.Queue[ev.Input] = asyncio.Queue()
        t = tr.Transport(queue, lambda _host: None)
        t.connect("p", 1, "127.0.0.1", server.getsockname()[1], None, None)
        await _until(queue, ev.Connected, 5)
        conn, _ = server.accept()
        started = time.monotonic()
        t.close("p", 1)
        await _until(queue, ev.Disconnected, 2)
        elapsed = time.monotonic() - started
        conn.close()
        server.close()
        await t.shutdown()
        return elapsed

    assert asyncio.run(scenario()) < 0.5
