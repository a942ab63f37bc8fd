"""Guards for the API's HTTP listeners, at the connection level (before any ASGI code):
a cap on concurrent connections per listener, and deadlines for a request's head and
body (docs/api.md, "Connection limits").

The cap is enforced in the listening socket's ``accept()`` (:class:`GatedSocket`): a
connection over the cap is closed in the same call that accepted it, so a flood costs one
file descriptor for an instant. (At the protocol level it would be too late: asyncio
accepts up to ``backlog`` connections per turn of the loop before any protocol exists,
and uvicorn's own ``limit_concurrency`` keeps the connection and answers 503 only once a
request has arrived.) A client that has not sent a complete request head within
HEAD_TIMEOUT, or the body within its deadline, is closed: a slowloris holds nothing for
long. Refusals and
closures are logged rate-limited with a count (runtime/limits.py), and so is uvicorn's
line for each invalid request.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

from gracebgp.runtime.limits import RateLimited, api_connection_cap

log = logging.getLogger("gracebgp.api")

HEAD_TIMEOUT = 10.0
#: A body's deadline: BODY_TIMEOUT plus its declared length at BODY_RATE octets/s
#: (the largest AddPaths body, 32 MiB, gets 164 s: the daemon reads it while it works through it);
#: a body of unknown length (chunked) gets 10 x BODY_TIMEOUT.
BODY_TIMEOUT = 30.0
BODY_RATE = 250_000
#: Connections one accept() call takes (and closes, over the cap) before it lets the loop run.
ACCEPT_BATCH = 64


class ListenerGuard:
    """The shared state of one listener's connections: how many are open, the cap, and
    the rate-limited log lines about refused and slow ones."""

    def __init__(self, name: str, listeners: int = 2, cap: int | None = None,
                 head_timeout: float = HEAD_TIMEOUT, body_timeout: float = BODY_TIMEOUT) -> None:
        self.name, self.listeners, self.fixed_cap = name, listeners, cap
        self.head_timeout, self.body_timeout = head_timeout, body_timeout
        self.open: set[socket.socket] = set()  # accepted, not yet closed
        self.refused = 0
        self.closed_slow = 0
        self._refused_log = RateLimited(
            log, logging.WARNING, f"API {name}: %d more connections refused over the cap in the last %d s",
            event="connection-refused")
        self._slow_log = RateLimited(
            log, logging.WARNING, f"API {name}: %d more slow connections closed in the last %d s",
            event="slow-client")

    @property
    def cap(self) -> int:
        """Read per connection: the share follows the fd limit (runtime/limits.py)."""
        return self.fixed_cap if self.fixed_cap is not None else api_connection_cap(self.listeners)

    @property
    def active(self) -> int:
        self.open = {s for s in self.open if s.fileno() >= 0}  # closed by their transport
        return len(self.open)

    def admit(self, conn: socket.socket) -> bool:
        cap = self.cap
        if self.active >= cap:
            self.refused += 1
            self._refused_log("API %s: %d connections open (the cap): new connections are closed at once",
                              self.name, cap)
            return False
        self.open.add(conn)
        return True

    def body_deadline(self, length: int | None) -> float:
        if length is None:
            return 10 * self.body_timeout
        return self.body_timeout + length / BODY_RATE

    def slow(self, client: object, what: str, seconds: float) -> None:
        self.closed_slow += 1
        self._slow_log("API %s: closed the connection from %s: %s not received within %.0f s",
                       self.name, _client(client), what, seconds)


class GatedSocket(socket.socket):
    """A listening socket whose ``accept()`` keeps at most ``guard.cap`` connections open:
    one over the cap is closed at once and the next pending one taken."""

    guard: ListenerGuard

    @classmethod
    def gate(cls, sock: socket.socket, guard: ListenerGuard) -> GatedSocket:
        """The same listening socket (its descriptor moves over), gated by ``guard``."""
        gated = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        gated.guard = guard
        return gated

    def accept(self) -> tuple[socket.socket, object]:
        for _ in range(ACCEPT_BATCH):
            conn, address = super().accept()  # BlockingIOError when none is pending: the loop waits
            if self.guard.admit(conn):
                return conn, address
            conn.close()
        raise BlockingIOError  # more are pending: the next turn of the loop takes them


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with the deadlines of its listener (see :func:`protocol_for`)."""

    guard: ClassVar[ListenerGuard]
    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _body_of: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch(arrived=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request
        self._watch(arrived=False)

    def _watch(self, arrived: bool) -> None:
        """After input: a head being received has a deadline, a body being received its own."""
        if self.transport is None or self.transport.is_closing():
            self._cancel_timers()
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            if arrived:
                self._arm_head()  # bytes of a next request are in: its head has a deadline
            return  # idle between requests: uvicorn's keep-alive timeout closes it
        self._cancel(self._head_timer)
        self._head_timer = None
        if not cycle.more_body:
            self._cancel(self._body_timer)
            self._body_timer = None
        elif self._body_of is not cycle:
            self._body_of = cycle
            self._cancel(self._body_timer)
            seconds = self.guard.body_deadline(_length(self.headers))
            self._body_timer = self.loop.call_later(seconds, self._expired, "the request body", seconds)

    def _arm_head(self) -> None:
        if self._head_timer is None:
            seconds = self.guard.head_timeout
            self._head_timer = self.loop.call_later(seconds, self._expired, "a complete request head",
                                                    seconds)

    def _expired(self, what: str, seconds: float) -> None:
        self._head_timer = self._body_timer = None
        if self.transport is not None and not self.transport.is_closing():
            self.guard.slow(self.client, what, seconds)
            self.transport.abort()

    def _cancel_timers(self) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._body_timer)
        self._head_timer = self._body_timer = None

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()


class _QuietInvalid(logging.Filter):
    """uvicorn logs "Invalid HTTP request received." once per such connection: under a
    flood of garbage that is a line per connection. Here: the first, then a count."""

    def __init__(self) -> None:
        super().__init__()
        self.limited = RateLimited(log, logging.WARNING,
                                   "API: %d more invalid HTTP requests (answered 400) in the last %d s",
                                   event="invalid-request")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != "Invalid HTTP request received.":
            return True
        self.limited("API: invalid HTTP request received (answered 400)")
        return False


def _quiet_invalid_requests() -> None:
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietInvalid) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(_QuietInvalid())


def protocol_for(guard: ListenerGuard) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn (``Config(http=...)``) for one listener."""
    _quiet_invalid_requests()

    class Guarded(GuardedH11):
        pass

    Guarded.guard = guard
    return Guarded


def _length(headers: list[tuple[bytes, bytes]] | None) -> int | None:
    for name, value in headers or ():
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _client(client: object) -> str:
    if isinstance(client, tuple) and len(client) == 2:
        return f"{client[0]}:{client[1]}"
    return "a local client"
