"""Inputs (facts the runtime or the speaker report) and outputs (commands and facts the
session produces), all frozen slotted dataclasses so tests compare whole lists.

RFC 4271 §8.1 (the events the inputs become), DESIGN.md rule 2 ("facts in, commands out").

Connection ids: the session picks the id of each outgoing connection (``Connect``); the
runtime picks the id of each accepted one (``TcpAccepted``). Ids must be unique among the
connections a session knows; pass the same ``itertools.count()`` to the sessions and the
acceptor to get that for free. Every connection the session learns about ends with exactly
one ``CloseConnection`` from it, whoever closed first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from gracebgp.session.negotiate import Negotiated
from gracebgp.session.state import State
from gracebgp.wire import Notification, Open, RouteRefresh, UpdateResult

# --- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """ManualStart (RFC 4271 §8.1.2 Event 1), or with ``passive`` (or a passive config)
    ManualStart_with_PassiveTcpEstablishment (Event 4): listen only, never connect."""

    passive: bool = False


@dataclass(frozen=True, slots=True)
class Stop:
    """ManualStop (Event 2). ``notification`` None closes TCP without a NOTIFICATION: from
    the peer's side that is a TCP failure, so it keeps our routes if we advertised GR
    (RFC 4724 §4.2, spec section 6 "retain" without N). A Hard Reset goes out as its inner
    NOTIFICATION to a peer that did not negotiate N (spec section 6: never Hard Reset to
    such a peer)."""

    notification: Notification | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TcpConnected:
    """Our outgoing connection ``conn`` (from ``Connect``) is up (Event 16, Tcp_CR_Acked)."""

    conn: int


@dataclass(frozen=True, slots=True)
class TcpAccepted:
    """The runtime accepted connection ``conn`` from this peer's address (Event 17)."""

    conn: int


@dataclass(frozen=True, slots=True)
class TcpFailed:
    """Connection ``conn`` failed: connect refused or timed out, or reset (Event 18)."""

    conn: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TcpClosed:
    """The peer closed connection ``conn`` (end of stream; Event 18 as well)."""

    conn: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BytesReceived:
    """Octets read from connection ``conn``, cut anywhere: the session does the framing."""

    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The runtime's one timer went off: call at or after ``next_deadline()``. The session
    works out which of its deadlines have passed (RFC 4271 §8.1.3 timer events)."""


Input = Union[Start, Stop, TcpConnected, TcpAccepted, TcpFailed, TcpClosed, BytesReceived, TimerFired]

# --- outputs: commands for the runtime --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    """Open a TCP connection to the peer; report ``TcpConnected``/``TcpFailed`` with ``conn``."""

    conn: int


@dataclass(frozen=True, slots=True)
class SendBytes:
    """Write ``data`` (one or more whole BGP messages) to connection ``conn``."""

    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close connection ``conn`` after writing what was queued for it (or cancel the
    connect attempt). Harmless for a connection the runtime already saw fail.
    ``after_notification``: the last ``SendBytes`` on it was a NOTIFICATION, which must
    reach the peer (RFC 4271 §6): the runtime closes the write side and lingers."""

    conn: int
    after_notification: bool = False


# --- outputs: facts for the speaker -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The peer's FSM state changed (the state of its most advanced connection)."""

    old: State
    new: State
    reason: str


@dataclass(frozen=True, slots=True)
class Established:
    """The session is up (RFC 4271 §8.2.2 OpenConfirm, KEEPALIVE received)."""

    negotiated: Negotiated


@dataclass(frozen=True, slots=True)
class SessionDown:
    """An Established session ended.

    ``graceful``: the peer's routes should be retained and marked stale under the helper
    rules (spec section 3), for ``negotiated.graceful_families``; False means delete them
    now. See ``graceful.retain_routes`` for the exact rules.
    """

    reason: str
    sent: Notification | None
    received: Notification | None
    graceful: bool
    negotiated: Negotiated


@dataclass(frozen=True, slots=True)
class UpdateReceived:
    """An UPDATE whose RFC 7606 outcome is not a session reset; apply ``result``."""

    result: UpdateResult


@dataclass(frozen=True, slots=True)
class RouteRefreshReceived:
    """A ROUTE-REFRESH (RFC 2918 §4, RFC 7313 §4). ``ignored``: why the session ignores it
    (a family not negotiated, a subtype unknown or not negotiated), for the log (RFC 7313
    §5: "It SHOULD log an error"); empty when it is to be carried out."""

    message: RouteRefresh
    ignored: str = ""


@dataclass(frozen=True, slots=True)
class NotificationReceived:
    """The peer sent a NOTIFICATION on connection ``conn`` (in any state)."""

    conn: int
    notification: Notification


@dataclass(frozen=True, slots=True)
class MessageTraced:
    """Only with ``Session.trace`` on (the debug log wants it): an OPEN, NOTIFICATION or
    ROUTE-REFRESH sent (``sent``) or received on connection ``conn``, decoded; it follows
    the ``SendBytes`` that carries it, or comes where the received message is decoded."""

    conn: int
    sent: bool
    message: Open | Notification | RouteRefresh


Output = Union[Connect, SendBytes, CloseConnection, StateChanged, Established, SessionDown,
               UpdateReceived, RouteRefreshReceived, NotificationReceived, MessageTraced]
