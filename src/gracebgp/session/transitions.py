"""What each FSM event does in each state: the handlers and the two transition tables.

RFC 4271 §8.2.2 (state by state), §6.1-§6.8; RFC 6608 §3 (FSM error subcodes, Data = the
message type); RFC 4724 §4.2 and §5; RFC 7606 §2; RFC 2918 §4 and RFC 7313 §4-§5.

``PEER_TABLE`` and ``CONN_TABLE`` list every (state, event) pair explicitly, the pairs
RFC 4271 calls "ignored" and those that cannot happen here included (a timer that is
stopped when the peer leaves the states it runs in). The tests walk both tables. The
state they change and the machinery they drive (timers, teardown, back-off) is
``machine.PeerMachine``, a module below this one; ``fsm.Session`` dispatches to the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from gracebgp.errors import CodecError
from gracebgp.session.collision import keep_outgoing
from gracebgp.session.connection import Connection
from gracebgp.session.events import (
    CloseConnection,
    Established,
    Input,
    MessageTraced,
    NotificationReceived,
    RouteRefreshReceived,
    SendBytes,
    Start,
    Stop,
    TcpAccepted,
    UpdateReceived,
)
from gracebgp.session.machine import PeerMachine
from gracebgp.session.negotiate import negotiate
from gracebgp.session.state import MESSAGE_TYPE_OF, ConnEvent, PeerEvent, State
from gracebgp.wire import Notification, Open, RouteRefresh, UpdateResult
from gracebgp.wire.iana import DEMARCATION, CeaseSubcode, NotificationCode, RouteRefreshSubtype
from gracebgp.wire.messages import KEEPALIVE_BYTES

S, P, E = State, PeerEvent, ConnEvent
_FSM_SUBCODE = {S.OPENSENT: 1, S.OPENCONFIRM: 2, S.ESTABLISHED: 3}  # RFC 6608 §3
_HOLD_EXPIRED = Notification(NotificationCode.HOLD_TIMER_EXPIRED, 0)  # RFC 4271 §6.5
_COLLISION = Notification.cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION)  # RFC 4486
_REJECTED = Notification.cease(CeaseSubcode.CONNECTION_REJECTED)


# --- peer handlers: (session, input, now) -------------------------------------------------


def _p_ignore(s: PeerMachine, inp: Input | None, now: float) -> None:
    """RFC 4271 §8.2.2: start events are ignored outside Idle."""


def _p_not_running(s: PeerMachine, inp: Input | None, now: float) -> None:
    """The timer is stopped whenever the peer leaves the states it runs in: unreachable."""


def _p_start(s: PeerMachine, inp: Input | None, now: float) -> None:
    """Idle + ManualStart: reset the back-off, connect at once (or listen when passive)."""
    s.enabled = True
    s.passive = s.cfg.passive or (isinstance(inp, Start) and inp.passive)
    s.failures = 0
    s.begin(now)
    s.reason = "started (passive)" if s.passive else "started; connecting"


def _p_auto_start(s: PeerMachine, inp: Input | None, now: float) -> None:
    """Idle + IdleHold expiry: AutomaticStart (RFC 4271 §8.1.2 Events 3 and 5), only for a
    started peer (the timer is cancelled by Stop, so this guards a stale expiry)."""
    if s.enabled:
        s.begin(now)


def _p_stop(s: PeerMachine, inp: Input | None, now: float) -> None:
    """ManualStop in any state: NOTIFICATION (if given) on connections that sent their
    OPEN, close everything, no automatic restart. In Idle it only cancels that."""
    note = inp.notification if isinstance(inp, Stop) else None
    s.enabled = False
    s.failures = 0
    s.idle_hold_at = None
    why = s.reason
    text = why + (f" (sent {note.describe()})" if note else "")
    for conn in list(s.conns.values()):
        # The text names the NOTIFICATION that goes out on this connection: for a peer
        # without N, the Hard Reset is unwrapped first (RFC 8538 §3, spec section 6).
        sent = s.wire(conn, note) if note is not None and conn.state >= S.OPENSENT else None
        said = why + (f" (sent {sent.describe()})" if sent else "")
        if sent is not None:
            text = said
        s.close(conn, now, said, sent=sent, then=None)
    s.reason = text


def _p_accept(s: PeerMachine, inp: Input | None, now: float) -> None:
    """Track the accepted connection (RFC 4271 §8.2.2, Events 16/17 in every state) and
    send our OPEN. The peer's newest connection supersedes an older one from it that is
    not Established: a peer has one connection attempt of its own at a time."""
    assert isinstance(inp, TcpAccepted)
    for old in [c for c in s.conns.values() if not c.outgoing and c.state is not S.ESTABLISHED]:
        s.close(old, now, "superseded by a newer connection from the peer", then=None)
    conn = Connection(inp.conn, False, S.OPENSENT)
    s.conns[inp.conn] = conn
    s.send_open(conn, now)
    s.reason = "connection accepted; OPEN sent"


def _p_accept_idle(s: PeerMachine, inp: Input | None, now: float) -> None:
    """Idle refuses connections (RFC 4271 §8.2.2) with Cease / Connection Rejected (RFC
    4486 §4) unless the peer is started and only waiting out the IdleHold back-off: then
    take the peer's connection. The back-off spaces our own attempts; refusing a peer that
    is back would only delay the session (and a restarted GR peer's routes)."""
    if s.enabled:
        _p_accept(s, inp, now)
    else:
        _reject(s, inp)


def _reject(s: PeerMachine, inp: Input | None) -> None:
    assert isinstance(inp, TcpAccepted)
    s.out.append(SendBytes(inp.conn, _REJECTED.encode()))
    if s.trace:
        s.out.append(MessageTraced(inp.conn, True, _REJECTED))
    s.out.append(CloseConnection(inp.conn, after_notification=True))


def _p_accept_established(s: PeerMachine, inp: Input | None, now: float) -> None:
    """RFC 4724 §4.2 and §5: with the peer's GR capability (one or more families), a new
    connection means the peer restarted: close the old one without NOTIFICATION, keep its
    routes, go on with the new one. Otherwise RFC 4271 §6.8: a collision with an
    Established connection closes the new one (Cease / Connection Rejected, RFC 4486 §4)."""
    assert isinstance(inp, TcpAccepted)
    old = s.established()
    if old is not None and old.negotiated is not None and old.negotiated.graceful_families:
        why = "peer restarted (new connection while established)"
        s.close(old, now, why, then=None)
        s.failures = 0
        _p_accept(s, inp, now)
        s.reason = why
    else:
        _reject(s, inp)


def _p_retry(s: PeerMachine, inp: Input | None, now: float) -> None:
    """Connect/Active + ConnectRetry expiry: drop a pending attempt, connect again."""
    for c in [c for c in s.conns.values() if c.state is S.CONNECT]:
        s.close(c, now, "connect attempt timed out", then=None)
    s.connect(now)
    s.reason = "ConnectRetry timer expired; connecting"


# --- connection handlers: (session, connection, payload, now) --------------------------------


def _c_ignore(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """Nothing to do: a duplicate TcpConnected, or a timer that does not run in this state."""


def _c_connected(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """Connect + TCP up: send OPEN, Hold = 240 s, OpenSent (no DelayOpen)."""
    s.send_open(conn, now)


def _c_unexpected_before_open(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """Connect + a message before TCP was reported up (RFC 4271 §8.2.2 Connect, "any other
    event"): drop the connection; no NOTIFICATION, as no OPEN was sent."""
    s.close(conn, now, "message before the connection was up")


def _c_tcp_failed_early(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """Connect or OpenSent + TCP failure: Active, ConnectRetry restarted (RFC 4271 §8.2.2
    OpenSent Event 18, and Connect's DelayOpen branch): keep listening, retry later."""
    s.connect_retry_at = None
    s.close(conn, now, s.reason, then=S.ACTIVE)


def _c_tcp_failed(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    s.close(conn, now, s.reason)


def _c_hold_expired(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    s.close(conn, now, "hold timer expired", sent=_HOLD_EXPIRED, hold_expired=True)


def _c_send_keepalive(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    s.out.append(SendBytes(conn.id, KEEPALIVE_BYTES))
    s.arm_keepalive(conn, now)


def _c_open(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """OpenSent + valid OPEN: resolve collisions (RFC 4271 §6.8), then send KEEPALIVE, set
    the negotiated Hold and Keepalive timers, OpenConfirm."""
    assert isinstance(payload, Open) and conn.local_open is not None
    neg = negotiate(s.cfg, conn.local_open, payload)
    rivals = [c for c in s.conns.values() if c is not conn and c.state in (S.OPENSENT, S.OPENCONFIRM)]
    if rivals:
        outgoing = keep_outgoing(s.cfg.router_id, s.cfg.local_as, payload.bgp_id, neg.peer_as)
        winner = conn if conn.outgoing == outgoing else next(
            (r for r in rivals if r.outgoing == outgoing), conn)
        for loser in [c for c in (conn, *rivals) if c is not winner]:
            CONN_TABLE[(loser.state, E.COLLISION_DUMP)](s, loser, None, now)
        if winner is not conn:
            return
    conn.use(neg)
    conn.state = S.OPENCONFIRM
    s.out.append(SendBytes(conn.id, KEEPALIVE_BYTES))
    s.restart_hold(conn, now)
    s.arm_keepalive(conn, now)
    s.reason = "OPEN received; KEEPALIVE sent"


def _c_collision_dump(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    s.close(conn, now, "connection collision resolution (RFC 4271 §6.8)", sent=_COLLISION)


def _c_open_error(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    assert isinstance(payload, Notification)
    s.close(conn, now, f"OPEN rejected: sent {payload.describe()}", sent=payload)


def _c_message_error(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """A CodecError: send the NOTIFICATION it carries (RFC 4271 §6.1-§6.4, RFC 7313 §5).
    In Established too: RFC 4271 §6 names the code, not the FSM's "any other event"."""
    assert isinstance(payload, CodecError)
    note = Notification.from_error(payload)
    s.close(conn, now, f"{payload.reason}: sent {note.describe()}", sent=note)


def _c_notification(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """Any state: close without answering (RFC 4271 §6.4: a NOTIFICATION is never answered)."""
    assert isinstance(payload, Notification)
    s.facts.append(NotificationReceived(conn.id, payload))
    s.close(conn, now, f"NOTIFICATION received: {payload.describe()}", received=payload)


def _c_establish(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """OpenConfirm + KEEPALIVE: Established. Other connections to the peer close (RFC 4271
    §6.8: a collision with an Established connection closes the newer one)."""
    assert conn.negotiated is not None
    conn.state = S.ESTABLISHED
    s.restart_hold(conn, now)
    s.established_at = now
    for other in [c for c in s.conns.values() if c is not conn]:
        s.close(other, now, "collision with the established connection",
                 sent=_COLLISION if other.state >= S.OPENSENT else None, then=None)
    s.reason = "KEEPALIVE received"
    s.facts.append(Established(conn.negotiated))


def _c_keepalive(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    s.restart_hold(conn, now)


def _c_update(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    assert isinstance(payload, UpdateResult)
    s.restart_hold(conn, now)
    s.facts.append(UpdateReceived(payload))


def _c_update_error(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """RFC 7606 §2 session reset: the UPDATE Message Error the codec chose."""
    assert isinstance(payload, UpdateResult) and payload.error is not None
    note = Notification.from_error(payload.error)
    s.close(conn, now, f"UPDATE error (RFC 7606 session reset): {payload.error.reason}", sent=note)


def _c_route_refresh(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
    """Ignored unless for a negotiated family (RFC 2918 §4) with a known subtype (RFC 7313
    §5), BoRR/EoRR only with Enhanced Route Refresh (RFC 7313 §4)."""
    assert isinstance(payload, RouteRefresh) and conn.negotiated is not None
    s.restart_hold(conn, now)
    neg = conn.negotiated
    why = ""
    if (payload.afi, payload.safi) not in neg.families:
        why = f"AFI {payload.afi} SAFI {payload.safi} not negotiated (RFC 2918 §4)"
    elif payload.subtype == RouteRefreshSubtype.NORMAL:
        why = "" if neg.route_refresh or neg.enhanced_route_refresh else "route refresh not negotiated"
    elif payload.subtype not in DEMARCATION:
        why = f"unknown subtype {payload.subtype} (RFC 7313 §5)"
    elif not neg.enhanced_route_refresh:
        why = "BoRR/EoRR without Enhanced Route Refresh negotiated (RFC 7313 §4)"
    s.facts.append(RouteRefreshReceived(payload, why))


PeerHandler: TypeAlias = "Callable[[PeerMachine, Input | None, float], None]"
ConnHandler: TypeAlias = "Callable[[PeerMachine, Connection, object, float], None]"


def _unexpected(event: ConnEvent) -> ConnHandler:
    """RFC 6608 §3: FSM Error, subcode per state, Data = the unexpected message type."""
    mtype = MESSAGE_TYPE_OF[event]

    def handler(s: PeerMachine, conn: Connection, payload: object, now: float) -> None:
        note = Notification(NotificationCode.FSM_ERROR, _FSM_SUBCODE[conn.state], bytes([mtype]))
        s.close(conn, now, f"unexpected {event.name} in {conn.state.name}: sent {note.describe()}",
                 sent=note)

    handler.__name__ = f"_unexpected_{event.name.lower()}"
    return handler


_X = {e: _unexpected(e) for e in MESSAGE_TYPE_OF}  # FSM errors by message event


PEER_TABLE: dict[tuple[State, PeerEvent], PeerHandler] = {
    # Idle: refuses connections unless started; Stop is "ignored" (here: cancels the restart)
    (S.IDLE, P.MANUAL_START): _p_start,
    (S.IDLE, P.MANUAL_START_PASSIVE): _p_start,
    (S.IDLE, P.MANUAL_STOP): _p_stop,
    (S.IDLE, P.TCP_ACCEPTED): _p_accept_idle,
    (S.IDLE, P.CONNECT_RETRY_EXPIRES): _p_not_running,
    (S.IDLE, P.IDLE_HOLD_EXPIRES): _p_auto_start,
    # Connect: waiting for our TCP connection
    (S.CONNECT, P.MANUAL_START): _p_ignore,
    (S.CONNECT, P.MANUAL_START_PASSIVE): _p_ignore,
    (S.CONNECT, P.MANUAL_STOP): _p_stop,
    (S.CONNECT, P.TCP_ACCEPTED): _p_accept,
    (S.CONNECT, P.CONNECT_RETRY_EXPIRES): _p_retry,
    (S.CONNECT, P.IDLE_HOLD_EXPIRES): _p_not_running,
    # Active: listening, ConnectRetry running unless passive
    (S.ACTIVE, P.MANUAL_START): _p_ignore,
    (S.ACTIVE, P.MANUAL_START_PASSIVE): _p_ignore,
    (S.ACTIVE, P.MANUAL_STOP): _p_stop,
    (S.ACTIVE, P.TCP_ACCEPTED): _p_accept,
    (S.ACTIVE, P.CONNECT_RETRY_EXPIRES): _p_retry,
    (S.ACTIVE, P.IDLE_HOLD_EXPIRES): _p_not_running,
    # OpenSent / OpenConfirm: a second connection is tracked until its OPEN (RFC 4271 §6.8)
    (S.OPENSENT, P.MANUAL_START): _p_ignore,
    (S.OPENSENT, P.MANUAL_START_PASSIVE): _p_ignore,
    (S.OPENSENT, P.MANUAL_STOP): _p_stop,
    (S.OPENSENT, P.TCP_ACCEPTED): _p_accept,
    (S.OPENSENT, P.CONNECT_RETRY_EXPIRES): _p_not_running,
    (S.OPENSENT, P.IDLE_HOLD_EXPIRES): _p_not_running,
    (S.OPENCONFIRM, P.MANUAL_START): _p_ignore,
    (S.OPENCONFIRM, P.MANUAL_START_PASSIVE): _p_ignore,
    (S.OPENCONFIRM, P.MANUAL_STOP): _p_stop,
    (S.OPENCONFIRM, P.TCP_ACCEPTED): _p_accept,
    (S.OPENCONFIRM, P.CONNECT_RETRY_EXPIRES): _p_not_running,
    (S.OPENCONFIRM, P.IDLE_HOLD_EXPIRES): _p_not_running,
    # Established: a new connection is a restart (GR) or rejected
    (S.ESTABLISHED, P.MANUAL_START): _p_ignore,
    (S.ESTABLISHED, P.MANUAL_START_PASSIVE): _p_ignore,
    (S.ESTABLISHED, P.MANUAL_STOP): _p_stop,
    (S.ESTABLISHED, P.TCP_ACCEPTED): _p_accept_established,
    (S.ESTABLISHED, P.CONNECT_RETRY_EXPIRES): _p_not_running,
    (S.ESTABLISHED, P.IDLE_HOLD_EXPIRES): _p_not_running,
}


CONN_TABLE: dict[tuple[State, ConnEvent], ConnHandler] = {
    # Connect: our TCP connection is pending; no Hold/Keepalive timer runs, no OPEN was sent,
    # messages cannot arrive yet (a runtime that delivers some gets the connection dropped)
    (S.CONNECT, E.TCP_CONNECTED): _c_connected,
    (S.CONNECT, E.TCP_FAILED): _c_tcp_failed_early,
    (S.CONNECT, E.HOLD_TIMER_EXPIRES): _c_ignore,
    (S.CONNECT, E.KEEPALIVE_TIMER_EXPIRES): _c_ignore,
    (S.CONNECT, E.OPEN): _c_unexpected_before_open,
    (S.CONNECT, E.OPEN_ERROR): _c_unexpected_before_open,
    (S.CONNECT, E.MESSAGE_ERROR): _c_unexpected_before_open,
    (S.CONNECT, E.NOTIFICATION): _c_unexpected_before_open,
    (S.CONNECT, E.KEEPALIVE): _c_unexpected_before_open,
    (S.CONNECT, E.UPDATE): _c_unexpected_before_open,
    (S.CONNECT, E.UPDATE_ERROR): _c_unexpected_before_open,
    (S.CONNECT, E.ROUTE_REFRESH): _c_unexpected_before_open,
    (S.CONNECT, E.COLLISION_DUMP): _c_unexpected_before_open,  # never: no OPEN, no collision
    # OpenSent: our OPEN is out, waiting for theirs; the Keepalive timer does not run yet
    (S.OPENSENT, E.TCP_CONNECTED): _c_ignore,
    (S.OPENSENT, E.TCP_FAILED): _c_tcp_failed_early,
    (S.OPENSENT, E.HOLD_TIMER_EXPIRES): _c_hold_expired,
    (S.OPENSENT, E.KEEPALIVE_TIMER_EXPIRES): _c_ignore,
    (S.OPENSENT, E.OPEN): _c_open,
    (S.OPENSENT, E.OPEN_ERROR): _c_open_error,
    (S.OPENSENT, E.MESSAGE_ERROR): _c_message_error,
    (S.OPENSENT, E.NOTIFICATION): _c_notification,
    (S.OPENSENT, E.KEEPALIVE): _X[E.KEEPALIVE],
    (S.OPENSENT, E.UPDATE): _X[E.UPDATE],
    (S.OPENSENT, E.UPDATE_ERROR): _X[E.UPDATE_ERROR],
    (S.OPENSENT, E.ROUTE_REFRESH): _X[E.ROUTE_REFRESH],
    (S.OPENSENT, E.COLLISION_DUMP): _c_collision_dump,
    # OpenConfirm: both OPENs known, waiting for their KEEPALIVE; an OPEN is checked and
    # its errors sent (RFC 4271 §8.2.2), a valid one on this connection is unexpected
    (S.OPENCONFIRM, E.TCP_CONNECTED): _c_ignore,
    (S.OPENCONFIRM, E.TCP_FAILED): _c_tcp_failed,
    (S.OPENCONFIRM, E.HOLD_TIMER_EXPIRES): _c_hold_expired,
    (S.OPENCONFIRM, E.KEEPALIVE_TIMER_EXPIRES): _c_send_keepalive,
    (S.OPENCONFIRM, E.OPEN): _X[E.OPEN],
    (S.OPENCONFIRM, E.OPEN_ERROR): _c_open_error,
    (S.OPENCONFIRM, E.MESSAGE_ERROR): _c_message_error,
    (S.OPENCONFIRM, E.NOTIFICATION): _c_notification,
    (S.OPENCONFIRM, E.KEEPALIVE): _c_establish,
    (S.OPENCONFIRM, E.UPDATE): _X[E.UPDATE],
    (S.OPENCONFIRM, E.UPDATE_ERROR): _X[E.UPDATE_ERROR],
    (S.OPENCONFIRM, E.ROUTE_REFRESH): _X[E.ROUTE_REFRESH],
    (S.OPENCONFIRM, E.COLLISION_DUMP): _c_collision_dump,
    # Established (RFC 4271 §8.2.2; RFC 6608 for the unexpected OPEN)
    (S.ESTABLISHED, E.TCP_CONNECTED): _c_ignore,
    (S.ESTABLISHED, E.TCP_FAILED): _c_tcp_failed,
    (S.ESTABLISHED, E.HOLD_TIMER_EXPIRES): _c_hold_expired,
    (S.ESTABLISHED, E.KEEPALIVE_TIMER_EXPIRES): _c_send_keepalive,
    (S.ESTABLISHED, E.OPEN): _X[E.OPEN],
    (S.ESTABLISHED, E.OPEN_ERROR): _X[E.OPEN_ERROR],
    (S.ESTABLISHED, E.MESSAGE_ERROR): _c_message_error,
    (S.ESTABLISHED, E.NOTIFICATION): _c_notification,
    (S.ESTABLISHED, E.KEEPALIVE): _c_keepalive,
    (S.ESTABLISHED, E.UPDATE): _c_update,  # done inline by Session._receive (test_table pins them)
    (S.ESTABLISHED, E.UPDATE_ERROR): _c_update_error,
    (S.ESTABLISHED, E.ROUTE_REFRESH): _c_route_refresh,
    (S.ESTABLISHED, E.COLLISION_DUMP): _c_collision_dump,  # never: we keep the Established one
}
