r"""One BGP peer's session: the RFC 4271 §8 FSM as two (state, event) tables, sans-IO.

RFC 4271 §8.2.2 (the FSM), §6.1-§6.8 (errors, Cease, collision), §4.4 and §10 (hold and
keepalive timers); RFC 6608 (FSM error subcodes); RFC 4724 §4.2 and §5 (a new connection
while Established); RFC 7606 (UPDATE outcomes); RFC 8538 (N bit); RFC 2918 and RFC 7313
(ROUTE-REFRESH); RFC 8654 §5 (NOTIFICATION size).

A peer can have several TCP connections at once (ours and the peer's, RFC 4271 §6.8), so
the FSM runs at two levels, each a complete table:

* ``PEER_TABLE[(peer state, PeerEvent)]``: Start, Stop, an accepted connection, the
  ConnectRetry and IdleHold timers. The peer state is that of its most advanced
  connection; with none it is Active (started, listening, maybe waiting to reconnect) or
  Idle (stopped, or waiting out the IdleHold back-off).
* ``CONN_TABLE[(connection state, ConnEvent)]``: TCP events, received messages and the
  Hold and Keepalive timers of one connection (Connect, OpenSent, OpenConfirm or
  Established). Its (Established, UPDATE) cell, the one a full table runs 100,000 times,
  ``Session._receive`` does inline, without the dispatch (tests/unit/session/test_table.py
  checks that the two agree).

Peer state diagram. "fail" is an error either way, a NOTIFICATION, Hold expiry or a TCP
failure: that connection closes and, if it was the last one, the peer waits out the IdleHold
back-off in Idle (automatic restart). Stop leads to Idle from every state, for good::

          Start: connect          TcpConnected: send OPEN
   +------+ -------------> +---------+ ------------------------+
   |      |    IdleHold    | Connect | <--+ ConnectRetry:       |
   |      | -------------> |         | ---+ connect again       |
   |      |                +---------+                          v
   |      |       TcpFailed  |     ^ ConnectRetry          +----------+  TcpFailed
   |      |                  v     |                       | OpenSent | ----------> Active
   |      | Start(passive) +--------+  TcpAccepted:        +----------+
   | Idle | -------------> | Active | -- send OPEN ---------->  |  valid OPEN, collision
   |      |    IdleHold    +--------+                           |  won: send KEEPALIVE
   |      |                                                     v
   |      | <------------------ fail ---------------------- +-------------+
   |      |                                                 | OpenConfirm |
   |      | TcpAccepted when started: send OPEN -> OpenSent +-------------+
   |      |                                                        | KEEPALIVE
   |      | <------------ fail: SessionDown ---------------- +-------------+
   +------+                                                  | Established |
             OpenSent <-- TcpAccepted and the peer has GR: - +-------------+
                          old connection closed, no NOTIFICATION

Outputs of one input come in this order: commands (Connect, SendBytes, CloseConnection),
then StateChanged, then facts for the speaker (Established, SessionDown, UpdateReceived,
RouteRefreshReceived, NotificationReceived); per received message when a read holds several.
With ``trace`` on, a MessageTraced comes among the commands: where a received message is
decoded, or right after the SendBytes that carries one (for the debug log only).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from gracebgp.errors import CodecError, GraceBGPError
from gracebgp.session.config import SessionConfig
from gracebgp.session.connection import Connection
from gracebgp.session.events import (
    BytesReceived,
    CloseConnection,
    Input,
    MessageTraced,
    Output,
    SendBytes,
    Start,
    Stop,
    TcpAccepted,
    TcpClosed,
    TcpConnected,
    TimerFired,
    UpdateReceived,
)
from gracebgp.session.machine import PeerMachine
from gracebgp.session.negotiate import Negotiated, check_open
from gracebgp.session.state import ConnEvent, PeerEvent, State
from gracebgp.session.timers import Jitter
from gracebgp.session.transitions import CONN_TABLE, PEER_TABLE
from gracebgp.types import Family
from gracebgp.wire import (
    Keepalive,
    Notification,
    Open,
    RouteRefresh,
    UpdateAction,
    decode_body,
    parse_update,
)
from gracebgp.wire.iana import DEMARCATION, RouteRefreshSubtype

S, P, E = State, PeerEvent, ConnEvent
_RECEIVED = {e: e.name.replace("_", " ") + " received" for e in ConnEvent}
# (an enum member looked up in its class costs 60 ns on CPython 3.11: the UPDATE's outcomes bound once)
_UPDATE, _UPDATE_ERROR, _SESSION_RESET = E.UPDATE, E.UPDATE_ERROR, UpdateAction.SESSION_RESET
_ESTABLISHED = S.ESTABLISHED


class NotEstablishedError(GraceBGPError):
    """The speaker tried to send on a session that is not Established (or not negotiated)."""


class Session:
    """The FSM of one configured peer. Feed it ``handle(input, now)``; execute what it
    returns; call ``handle(TimerFired(), now)`` at ``next_deadline()``.

    ``conn_ids`` numbers our outgoing connections (share one counter with the acceptor,
    see ``events``); ``jitter_seed`` enables RFC 4271 §10 jitter (None: exact timers).
    """

    __slots__ = ("_m", "_rx")

    def __init__(self, config: SessionConfig, *, conn_ids: Iterator[int] | None = None,
                 jitter_seed: int | None = None) -> None:
        self._m = PeerMachine(config, conn_ids if conn_ids is not None else itertools.count(1),
                              Jitter(jitter_seed))
        self._rx = [0] * 6  # messages received by type (index 0: any other type)

    # --- public surface -----------------------------------------------------------------

    @property
    def trace(self) -> bool:
        """Report each OPEN, NOTIFICATION and ROUTE-REFRESH sent or received as a
        MessageTraced output (the speaker turns them into debug log lines)."""
        return self._m.trace

    @trace.setter
    def trace(self, on: bool) -> None:
        self._m.trace = on

    @property
    def machine(self) -> PeerMachine:
        """The FSM's state and primitives (``machine``), for tests that drive the tables
        directly; the speaker uses the surface above."""
        return self._m

    @property
    def config(self) -> SessionConfig:
        return self._m.cfg

    @property
    def state(self) -> State:
        return self._m.state

    @property
    def negotiated(self) -> Negotiated | None:
        """What the Established session negotiated, else None."""
        conn = self._m.established()
        return conn.negotiated if conn else None

    @property
    def established_since(self) -> float | None:
        return self._m.established_at

    @property
    def received_counts(self) -> list[int]:
        """Messages received, indexed by type (1 OPEN ... 5 ROUTE-REFRESH; 0 other)."""
        return list(self._rx)

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last reset of the back-off (see ``timers.idle_hold_delay``)."""
        return self._m.failures

    @property
    def connections(self) -> dict[int, State]:
        """Each open connection's own state (more than one only around a collision)."""
        return {cid: c.state for cid, c in sorted(self._m.conns.items())}

    def reconfigure(self, config: SessionConfig) -> None:
        """Use ``config`` from the next OPEN on (the R/F bits of a restart, for instance).
        Connections that already sent their OPEN are not touched."""
        self._m.cfg = config

    def next_deadline(self) -> float | None:
        times = [t for c in self._m.conns.values() for t in (c.hold_at, c.keepalive_at) if t is not None]
        times += [t for t in (self._m.connect_retry_at, self._m.idle_hold_at) if t is not None]
        return min(times, default=None)

    def handle(self, event: Input, now: float) -> list[Output]:
        self._m.out, self._m.facts = [], []
        if isinstance(event, BytesReceived):
            self._receive(event, now)
        elif isinstance(event, TimerFired):
            self._fire_timers(now)
        elif isinstance(event, Start):
            self._peer(P.MANUAL_START_PASSIVE if event.passive or self._m.cfg.passive else P.MANUAL_START,
                       event, now, "started")
        elif isinstance(event, Stop):
            self._peer(P.MANUAL_STOP, event, now, event.reason or "stopped")
        elif isinstance(event, TcpAccepted):
            if event.conn in self._m.conns:
                raise ValueError(f"connection id {event.conn} is already in use")
            self._peer(P.TCP_ACCEPTED, event, now, "connection accepted; OPEN sent")
        elif isinstance(event, TcpConnected):
            conn = self._m.conns.get(event.conn)
            if conn is None:  # we gave up on it (ConnectRetry, Stop) before it connected
                self._m.out.append(CloseConnection(event.conn))
            else:
                self._dispatch(conn, E.TCP_CONNECTED, None, now, "TCP connection up; OPEN sent")
        else:
            conn = self._m.conns.get(event.conn)
            if conn is not None:
                why = "TCP connection closed by the peer" if isinstance(event, TcpClosed) else "TCP failed"
                why += f": {event.reason}" if event.reason else ""
                self._dispatch(conn, E.TCP_FAILED, None, now, why)
        out = self._m.out
        self._m.out, self._m.facts = [], []
        return out

    def send_update(self, data: bytes, now: float) -> list[Output]:
        """SendBytes for pre-encoded UPDATE(s) (encode with ``negotiated.tx_context()``).
        RFC 4271 §8.2.2: sending an UPDATE restarts the KeepaliveTimer."""
        m = self._m
        conn = m.established()
        if conn is None:
            raise NotEstablishedError(f"peer {m.cfg.peer_address} is {m.state.name}, not ESTABLISHED")
        m.arm_keepalive(conn, now)
        return [SendBytes(conn.id, data)]

    def send_route_refresh(self, family: Family, subtype: int = RouteRefreshSubtype.NORMAL) -> list[Output]:
        """SendBytes for a ROUTE-REFRESH: only for a negotiated family, when the peer can take
        it (RFC 2918 §4); BoRR/EoRR only with Enhanced Route Refresh (RFC 7313 §4)."""
        conn = self._m.established()
        neg = conn.negotiated if conn else None
        if conn is None or neg is None:
            raise NotEstablishedError(f"peer {self._m.cfg.peer_address} is not ESTABLISHED")
        no_err = subtype in DEMARCATION and not neg.enhanced_route_refresh
        if family not in neg.families or not neg.route_refresh or no_err:
            raise NotEstablishedError(f"ROUTE-REFRESH {family} subtype {subtype} was not negotiated")
        msg = RouteRefresh(family.afi, family.safi, subtype)
        out: list[Output] = [SendBytes(conn.id, msg.encode())]
        if self._m.trace:
            out.append(MessageTraced(conn.id, True, msg))
        return out

    # --- dispatch -------------------------------------------------------------------------

    def _peer(self, event: PeerEvent, inp: Input | None, now: float, reason: str) -> None:
        m = self._m
        m.reason = reason
        PEER_TABLE[(m.state, event)](m, inp, now)
        m.sync(now)

    def _dispatch(self, conn: Connection, event: ConnEvent, payload: object, now: float, reason: str) -> None:
        m = self._m
        m.reason = reason
        CONN_TABLE[(conn.state, event)](m, conn, payload, now)
        m.sync(now)

    def _receive(self, inp: BytesReceived, now: float) -> None:
        conns = self._m.conns
        conn = conns.get(inp.conn)
        if conn is None:
            return  # bytes that were in flight when we closed the connection
        conn.framer.push(inp.data)
        cut = conn.framer.next_message
        m, rx = self._m, self._rx
        payload: object
        while conns.get(conn.id) is conn:
            try:
                msg = cut()
            except CodecError as exc:  # RFC 4271 §6.1: the stream cannot be trusted further
                self._dispatch(conn, E.MESSAGE_ERROR, exc, now, exc.reason)
                return
            if msg is None:
                return
            mtype, body = msg
            rx[mtype if mtype < 6 else 0] += 1
            if mtype == 2 and conn.state is _ESTABLISHED:
                # The hot path: CONN_TABLE's (ESTABLISHED, UPDATE) cell, ``_c_update``, done
                # here without the dispatch. RFC 4271 §8.2.2, Established, UpdateMsg (Event
                # 27): restart the HoldTimer and process the UPDATE (RFC 7606 §2: unless its
                # outcome is a session reset, which goes through the table). An Established
                # connection is the only one and ``sync`` has settled it, so ``sync`` would
                # add nothing: the fact goes straight out, in its place after the commands.
                result = parse_update(body, conn.rx_context)
                if result.action is not _SESSION_RESET:
                    m.restart_hold(conn, now)
                    m.out.append(UpdateReceived(result))
                    continue
                event, payload = _UPDATE_ERROR, result
            else:
                event, payload = self._classify(conn, mtype, body)
            self._dispatch(conn, event, payload, now, _RECEIVED[event])

    def _classify(self, conn: Connection, mtype: int, body: bytes) -> tuple[ConnEvent, object]:
        if mtype == 2:  # (before Established: an FSM error; parse_update never raises)
            result = parse_update(body, conn.rx_context)
            return (_UPDATE_ERROR if result.action == _SESSION_RESET else _UPDATE), result
        try:
            msg = decode_body(mtype, body, conn.rx_context)
        except CodecError as exc:
            return E.MESSAGE_ERROR, exc
        if self._m.trace and isinstance(msg, (Open, Notification, RouteRefresh)):
            self._m.out.append(MessageTraced(conn.id, False, msg))
        if isinstance(msg, Keepalive):
            return E.KEEPALIVE, msg
        if isinstance(msg, Open):
            error = check_open(self._m.cfg, msg)
            return (E.OPEN, msg) if error is None else (E.OPEN_ERROR, error)
        if isinstance(msg, Notification):
            return E.NOTIFICATION, msg
        return E.ROUTE_REFRESH, msg

    def _fire_timers(self, now: float) -> None:
        """Each deadline that has passed fires once, earliest first; a timer re-armed by a
        handler waits for the next TimerFired (no loops on a zero interval)."""
        due: list[tuple[float, int, int]] = []
        for c in self._m.conns.values():
            if c.hold_at is not None and c.hold_at <= now:
                due.append((c.hold_at, 0, c.id))
            if c.keepalive_at is not None and c.keepalive_at <= now:
                due.append((c.keepalive_at, 1, c.id))
        if self._m.connect_retry_at is not None and self._m.connect_retry_at <= now:
            due.append((self._m.connect_retry_at, 2, 0))
        if self._m.idle_hold_at is not None and self._m.idle_hold_at <= now:
            due.append((self._m.idle_hold_at, 3, 0))
        for deadline, kind, cid in sorted(due):
            conn = self._m.conns.get(cid)
            if kind == 0 and conn is not None and conn.hold_at == deadline:
                conn.hold_at = None
                self._dispatch(conn, E.HOLD_TIMER_EXPIRES, None, now, "hold timer expired")
            elif kind == 1 and conn is not None and conn.keepalive_at == deadline:
                conn.keepalive_at = None
                self._dispatch(conn, E.KEEPALIVE_TIMER_EXPIRES, None, now, "keepalive timer expired")
            elif kind == 2 and self._m.connect_retry_at == deadline:
                self._m.connect_retry_at = None
                self._peer(P.CONNECT_RETRY_EXPIRES, None, now, "ConnectRetry timer expired; connecting")
            elif kind == 3 and self._m.idle_hold_at == deadline:
                self._m.idle_hold_at = None
                self._peer(P.IDLE_HOLD_EXPIRES, None, now, "IdleHold timer expired; automatic restart")
