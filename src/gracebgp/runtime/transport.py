"""TCP for BGP sessions on asyncio: outgoing connects (source address, socket options set
before the SYN), listeners (each peer's MD5 key set on them), and a Protocol per
connection that turns socket events into Speaker inputs.

The owner task is the only reader of the queue these callbacks fill (DESIGN.md rule 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import ipaddress
import logging
import socket
import sys
import termios
from collections.abc import Callable
from typing import Any

from gracebgp.core.events import Connected, ConnectFailed, Disconnected, Input, Received, SocketOptions
from gracebgp.runtime import tcpao
from gracebgp.runtime.limits import RateLimited, quiet_accept_errors
from gracebgp.runtime.sockopts import (
    apply_accepted,
    apply_listener,
    apply_outgoing,
    listener_ttls,
    save_syns,
    set_min_ttl,
    set_ttl,
    syn_ttl,
)

log = logging.getLogger("gracebgp.transport")
#: A flood from unconfigured addresses logs its first refusal, then a count per interval.
_refused = RateLimited(log, logging.WARNING,
                       "%d more connections from addresses that are not configured neighbors refused "
                       "in the last %d s", event="connection-refused")
_too_far = RateLimited(log, logging.WARNING,
                       "%d more connections from GTSM neighbors whose SYN arrived with a TTL below their "
                       "ttl-min refused in the last %d s", event="connection-refused")

CONNECT_TIMEOUT = 5.0
#: How long a connection closed after a NOTIFICATION waits for the peer to close its side.
CLOSE_LINGER = 2.0
ACCEPTED_BASE = 1 << 20  # connection ids the runtime gives accepted connections


def _tune(sock: socket.socket | None) -> None:
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _peer_host(address: Any) -> str:
    host = str(address[0])
    return host[7:] if host.startswith("::ffff:") else host  # IPv4-mapped IPv6


class BgpProtocol(asyncio.Protocol):
    """One TCP connection; its bytes go to the owner's queue unchanged."""

    def __init__(self, peer: str, conn: int, owner: Transport, outgoing: bool) -> None:
        self.peer, self.conn, self.owner, self.outgoing = peer, conn, owner, outgoing
        self.queue = owner.queue
        self.transport: asyncio.Transport | None = None
        self.closing = False  # closed after a NOTIFICATION: reading only to discard
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        _tune(transport.get_extra_info("socket"))
        # Registered before the owner hears of it, so its first Send finds the connection.
        self.owner.conns[(self.peer, self.conn)] = self
        self.owner.live.add(self)
        local = transport.get_extra_info("sockname")
        self.queue.put_nowait(Connected(self.peer, self.conn, _peer_host(local), self.outgoing))

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return  # read and dropped: unread data would turn our close into a RST
        self.queue.put_nowait(Received(self.peer, self.conn, data))

    def close_after_notification(self, linger: float) -> None:
        """The one close path after a NOTIFICATION (RFC 4271 §6: send it, then close).
        Closing a socket whose receive queue holds unread data makes Linux answer with a
        RST, and a RST may make the peer drop the NOTIFICATION before its application has
        read it. So: flush what is queued, then shut down the write side (FIN after the
        NOTIFICATION), keep reading and discarding until the peer closes its side (it has
        read the NOTIFICATION then), and close; after ``linger`` seconds close anyway."""
        t = self.transport
        if t is None or t.is_closing() or self.closing:
            return
        self.closing = True
        if not t.can_write_eof():
            t.close()
            return
        t.write_eof()  # SHUT_WR once the write buffer is empty
        self._linger = asyncio.get_running_loop().call_later(linger, self._linger_over)

    def _linger_over(self) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            log.info("peer %s did not close the connection within %.1f s of our NOTIFICATION; "
                     "closing it", self.peer, CLOSE_LINGER,
                     extra={"peer": self.peer, "event": "linger-expired"})
            t.abort()

    def eof_received(self) -> bool | None:
        return None  # the peer closed its side: close ours (after the write buffer, if any)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        self.owner.live.discard(self)
        self.owner.lost.set()
        if self.owner.conns.get((self.peer, self.conn)) is self:
            del self.owner.conns[(self.peer, self.conn)]
        self.queue.put_nowait(Disconnected(self.peer, self.conn, _lost(exc) if exc else ""))


class Transport:
    """Owns every TCP connection of the daemon."""

    def __init__(self, queue: asyncio.Queue[Input], peer_of: Callable[[str], str | None]) -> None:
        self.queue = queue
        self.peer_of = peer_of  # remote address -> configured peer name, or None
        self.conns: dict[tuple[str, int], BgpProtocol] = {}
        self.live: set[BgpProtocol] = set()  # open until connection_lost (writes flushed)
        self.lost = asyncio.Event()  # set at each connection_lost (wait_closed waits on it)
        self.servers: list[asyncio.base_events.Server] = []
        self._next_accepted = ACCEPTED_BASE
        self._tasks: set[asyncio.Task[None]] = set()
        #: Connects in progress: a Close cancels one, so that its SYN (retransmitted for a
        #: second or more, a signed SYN to a port without a listener gets no RST) does not
        #: reach the peer after the session came up on another connection (RFC 4724 §4.2:
        #: a GR peer would take a new connection for our restart and drop the session).
        self._connecting: dict[tuple[str, int], asyncio.Task[None]] = {}
        #: Per peer address: the options of its connections (events.AcceptFrom).
        self.accepting: dict[str, SocketOptions] = {}
        #: Peers whose MD5 key could not be set on a listener: their connections are
        #: refused, never accepted unsigned.
        self.unkeyed: set[str] = set()

    async def listen(self, host: str, port: int) -> None:
        """Listen on ``host``; the keys of the peers known so far are set before
        ``listen()``, so no SYN reaches an unkeyed socket."""
        loop = asyncio.get_running_loop()
        quiet_accept_errors(loop)  # EMFILE on accept: one line per interval, not one per attempt
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio does: "::" takes no IPv4 connections
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            for peer, options in self.accepting.items():
                self._key_listener(sock, peer, options)
            self._ttl_listener(sock)
            server = await loop.create_server(self._accept, sock=sock)
        except BaseException:
            sock.close()
            raise
        self.servers.append(server)
        log.info("listening on %s port %d", host, port, extra={"event": "listening",
                                                               "fields": {"address": host, "port": port}})

    def accept_from(self, peer: str, options: SocketOptions | None) -> None:
        """events.AcceptFrom: set (or remove) ``peer``'s key on every listening socket;
        changed TCP-AO keys are rolled over on its established connections too."""
        old = self.accepting.get(peer)
        if options is None:
            self.accepting.pop(peer, None)
        else:
            self.accepting[peer] = options
        self.unkeyed.discard(peer)
        for server in self.servers:
            for sock in server.sockets:
                self._key_listener(sock, peer, options, old)
                self._ttl_listener(sock)
        if old is not None and options is not None and old.ao_keys and options.ao_keys \
                and (old.ao_keys, old.ao_current) != (options.ao_keys, options.ao_current):
            self._roll_over(peer, old, options)

    def _roll_over(self, peer: str, old: SocketOptions, new: SocketOptions) -> None:
        """RFC 5925 §3.3: new MKTs and a new current key on the live connections, no reset."""
        for (name, _conn), proto in list(self.conns.items()):
            sock = proto.transport.get_extra_info("socket") if proto.transport is not None else None
            if name != peer or sock is None:
                continue
            try:
                tcpao.roll_over(sock, peer, old.ao_keys, new.ao_keys, new.ao_current)
            except OSError as exc:
                log.error("TCP-AO keys of %s not rolled over on the established connection: %s; it keeps "
                          "signing with the keys it had", peer, exc.strerror or exc)
                continue
            info = tcpao.read_info(sock)
            log.info("TCP-AO keys of %s rolled over on the established connection: now signing with "
                     "key %d and asking the peer for key %d", peer, info["current_key"], info["rnext"])

    def _ttl_listener(self, sock: Any) -> None:
        ttl, min_ttl = listener_ttls(sock, self.accepting)
        try:
            set_ttl(sock, ttl)
            set_min_ttl(sock, min_ttl)
            save_syns(sock, ttl == 255)  # a GTSM peer may arrive: its SYN's TTL is checked
        except OSError as exc:
            log.error("cannot set the TTL (%d) or minimum TTL (%d) of the listener %s: %s", ttl, min_ttl,
                      sock.getsockname()[0], exc.strerror or exc)

    def _key_listener(self, sock: Any, peer: str, options: SocketOptions | None,
                      old: SocketOptions | None = None) -> None:
        try:
            apply_listener(sock, peer, options, old)
        except OSError as exc:
            if options is not None and (options.md5_password or options.ao_keys):
                self.unkeyed.add(peer)
                kind = "TCP MD5 key" if options.md5_password else "TCP-AO keys"
                log.error("cannot set the %s of %s on the listener %s: %s; its connections "
                          "are refused", kind, peer, sock.getsockname()[0], exc.strerror or exc)

    def options_key(self, peer: str) -> str | None:
        """Where the options of ``peer``'s accepted connections are kept: its own entry,
        else the longest dynamic-neighbors prefix holding it (the same key the kernel
        checked its SYN with)."""
        if peer in self.accepting:
            return peer
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return None
        best: tuple[int, str] | None = None
        for name in self.accepting:
            if "/" in name:
                net = ipaddress.ip_network(name, strict=False)
                if net.version == ip.version and ip in net and (best is None or net.prefixlen > best[0]):
                    best = (net.prefixlen, name)
        return best[1] if best is not None else None

    def _accept(self) -> asyncio.Protocol:
        return _Acceptor(self)

    def connect(self, peer: str, conn: int, host: str, port: int, local_address: str | None,
                options: SocketOptions | None = None) -> None:
        coro = self._connect(peer, conn, host, port, local_address, options or SocketOptions())
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        self._connecting[(peer, conn)] = task
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _t: self._connecting.pop((peer, conn), None))

    async def _connect(self, peer: str, conn: int, host: str, port: int, local_address: str | None,
                       options: SocketOptions) -> None:
        """Our own socket, so that its options (the MD5 key above all) are set before the
        SYN; then a non-blocking connect, and asyncio's transport on top."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            try:
                apply_outgoing(sock, host, options)
            except OSError as exc:
                raise OSError(exc.errno, f"cannot set the socket options ({_named(options)}): "
                                         f"{exc.strerror or exc}") from None
            if local_address or options.local_port:
                if options.local_port:  # a fixed source port: the last connection may be in TIME_WAIT
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                wildcard = "::" if sock.family == socket.AF_INET6 else "0.0.0.0"
                sock.bind((local_address or wildcard, options.local_port or 0))
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), CONNECT_TIMEOUT)
            await loop.create_connection(lambda: BgpProtocol(peer, conn, self, True), sock=sock)
        except (TimeoutError, OSError) as exc:
            sock.close()
            why = connect_failure(exc, host, port)
            if isinstance(exc, TimeoutError) and (options.md5_password or options.ao_keys):
                kind = "TCP MD5" if options.md5_password else "TCP-AO"
                why += (f" ({kind} is configured: a key mismatch, or no listener, makes the peer "
                        "drop our signed SYN silently)")
            self.queue.put_nowait(ConnectFailed(peer, conn, why))
        except BaseException:
            sock.close()
            raise

    def send(self, peer: str, conn: int, data: bytes) -> None:
        proto = self.conns.get((peer, conn))
        if proto is not None and proto.transport is not None and not proto.transport.is_closing():
            proto.transport.write(data)

    def close(self, peer: str, conn: int, after_notification: bool = False) -> None:
        """Close a connection. ``after_notification`` (events.Close): the NOTIFICATION just
        written must arrive: ``BgpProtocol.close_after_notification``. Otherwise a plain
        close (what was written is still sent first)."""
        proto = self.conns.pop((peer, conn), None)
        pending = self._connecting.pop((peer, conn), None)
        if pending is not None and proto is None:
            pending.cancel()  # closes its socket: no SYN leaves any more
        if proto is None or proto.transport is None:
            return
        if after_notification:
            proto.close_after_notification(CLOSE_LINGER)
        else:
            proto.transport.close()

    async def wait_closed(self, timeout: float) -> bool:
        """Wait until every connection is gone (those closed after a NOTIFICATION end
        within CLOSE_LINGER); True when none is left within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.live:
            left = end - loop.time()
            if left <= 0:
                return False
            self.lost.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.lost.wait(), left)
        return True

    def write_buffer_size(self, peer: str, conn: int) -> int:
        proto = self.conns.get((peer, conn))
        if proto is None or proto.transport is None:
            return 0
        return proto.transport.get_write_buffer_size()

    def unsent(self) -> int:
        """Octets not yet acknowledged by any peer: our write buffers plus each socket's
        kernel send queue (TIOCOUTQ, Linux: sent but unacknowledged included). 0 means
        everything written (a drain's withdrawals, for instance) has reached the peers."""
        total = 0
        for proto in list(self.conns.values()):
            t = proto.transport
            if t is None or t.is_closing():
                continue
            total += t.get_write_buffer_size()
            sock = t.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
                    total += int.from_bytes(buf, sys.byteorder, signed=True)
        return total

    async def shutdown(self) -> None:
        for server in self.servers:
            server.close()
        for key in list(self.conns):
            self.close(*key)
        for proto in list(self.live):  # still lingering after a NOTIFICATION
            if proto.closing and proto.transport is not None:
                proto.transport.abort()
        for task in list(self._tasks):
            task.cancel()


class _Acceptor(asyncio.Protocol):
    """Accepts a connection, maps it to a configured peer, then hands over to BgpProtocol."""

    def __init__(self, transport_owner: Transport) -> None:
        self.owner = transport_owner
        self.inner: BgpProtocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        host = _peer_host(transport.get_extra_info("peername"))
        peer = self.owner.peer_of(host)
        if peer is None:
            _refused("connection from %s refused: not a configured neighbor", host)
            transport.close()
            return
        key = self.owner.options_key(peer)
        if key in self.owner.unkeyed:
            _refused("connection from %s refused: its TCP MD5 or TCP-AO key is not set on the listener", host)
            transport.close()
            return
        options = self.owner.accepting.get(key) if key is not None else None
        if options is not None:
            sock = transport.get_extra_info("socket")
            ttl = syn_ttl(sock) if options.min_ttl else None
            if options.min_ttl and (ttl is None or ttl < options.min_ttl):
                _too_far("connection from %s refused: its SYN arrived with TTL %s, below ttl-min %d "
                         "(GTSM, RFC 5082)", host, "unknown" if ttl is None else ttl, options.min_ttl)
                transport.abort()
                return
            try:
                apply_accepted(sock, options)
            except OSError as exc:
                log.error("connection from %s refused: cannot set its socket options: %s", host,
                          exc.strerror or exc)
                transport.close()
                return
        conn = self.owner._next_accepted
        self.owner._next_accepted += 1
        self.inner = BgpProtocol(peer, conn, self.owner, False)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is not None:
            self.inner.connection_lost(exc)


def _named(options: SocketOptions) -> str:
    """The options that are set, by name (never the key)."""
    names = [("TCP MD5", options.md5_password), ("TCP-AO", options.ao_keys or None),
             ("TTL", options.ttl), ("minimum TTL", options.min_ttl),
             ("tcp-mss", options.tcp_mss), ("ip-tos", options.tos),
             ("bind-interface", options.bind_interface), ("mtu-discovery", options.pmtu_discovery)]
    return ", ".join(name for name, value in names if value is not None) or "none"


#: Why a connection attempt failed, in an operator's words (health, events, ``neighbor``):
#: errno -> text with {where} (the peer's address and port); never Python's own message.
_CONNECT_WORDS = {
    errno.ECONNREFUSED: "connection refused by {where} (nothing listens there, or a firewall rejects it)",
    errno.EHOSTUNREACH: "no route to {where} (host unreachable)",
    errno.ENETUNREACH: "no route to {where} (network unreachable)",
    errno.EADDRNOTAVAIL: "the local address cannot be used to reach {where} (not configured on this host?)",
    errno.EADDRINUSE: "the local address and port are in use, cannot connect to {where}",
    errno.ECONNRESET: "connection reset by {where}",
    errno.EACCES: "not permitted to connect to {where} (a local firewall, or a privileged option)",
    errno.EPERM: "not permitted to connect to {where} (a local firewall, or a privileged option)",
}


def connect_failure(exc: BaseException, host: str, port: int) -> str:
    """``[Errno 111] Connect call failed ('192.0.2.1', 179)`` -> ``connection refused by
    192.0.2.1 port 179 (...)``; a timeout -> ``no answer from ...``."""
    where = f"{host} port {port}"
    if isinstance(exc, TimeoutError):
        return (f"no answer from {where} within {CONNECT_TIMEOUT:g}s (timed out: the peer is down or "
                "unreachable, or a firewall drops our SYN)")
    number = getattr(exc, "errno", None)
    if number in _CONNECT_WORDS:
        return _CONNECT_WORDS[number].format(where=where)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"cannot connect to {where}: {text}"


def _lost(exc: BaseException) -> str:
    """Why an established connection went away, without Python's ``[Errno N]``."""
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the peer"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
