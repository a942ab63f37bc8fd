"""The state of one peer's FSM and the primitives its transition handlers use, sans-IO.

RFC 4271 §8.2.2 (connect, OPEN, teardown), §4.4 and §10 (Hold and Keepalive timers,
jitter), §8.1.1 (IdleHold back-off); RFC 4724 §4.2 and RFC 8538 (routes retained at the
end of an Established session); RFC 8538 §3 and RFC 8654 §5 (the NOTIFICATION sent).

The layering inside the session package, top to bottom: ``fsm.Session`` (the public
surface, reading bytes and timers into events) -> ``transitions`` (what each event does
in each state: the two tables) -> this module (the state the handlers change, with a
public interface) -> connections, timers, negotiation, events. A handler is a function of
a ``PeerMachine``; nothing here knows the tables, so there is no import circle and no
handler reaches into another module's private names.
"""

from __future__ import annotations

from collections.abc import Iterator

from gracebgp.session.config import SessionConfig
from gracebgp.session.connection import Connection
from gracebgp.session.events import (
    CloseConnection,
    Connect,
    MessageTraced,
    Output,
    SendBytes,
    SessionDown,
    StateChanged,
)
from gracebgp.session.negotiate import build_open
from gracebgp.session.retention import retain_routes
from gracebgp.session.state import State
from gracebgp.session.timers import OPENSENT_HOLD_TIME, Jitter, idle_hold_delay
from gracebgp.wire import Notification

S = State
_RETRYING = (S.CONNECT, S.ACTIVE)  # (sync runs once per event, each message received: bound once)


class PeerMachine:
    """Mutable, owned by one ``fsm.Session``; changed only by the transition handlers and
    the session's dispatcher.

    ``out`` collects the commands of the input being handled, ``facts`` the facts for the
    speaker (emitted after StateChanged by ``sync``); ``reason`` is the text of the next
    StateChanged. ``state`` is the peer state ``sync`` derives from the connections.
    """

    __slots__ = (
        "cfg",
        "connect_retry_at",
        "conns",
        "enabled",
        "established_at",
        "facts",
        "failures",
        "idle_hold_at",
        "ids",
        "jitter",
        "out",
        "passive",
        "reason",
        "state",
        "trace",
    )

    def __init__(self, config: SessionConfig, conn_ids: Iterator[int], jitter: Jitter) -> None:
        self.cfg = config
        self.ids = conn_ids
        self.jitter = jitter
        self.conns: dict[int, Connection] = {}
        self.enabled = False
        self.passive = config.passive
        self.connect_retry_at: float | None = None
        self.idle_hold_at: float | None = None
        self.failures = 0
        self.established_at: float | None = None
        self.state = S.IDLE
        self.out: list[Output] = []
        self.facts: list[Output] = []
        self.reason = ""
        #: Report each OPEN, NOTIFICATION and ROUTE-REFRESH sent or received as a
        #: MessageTraced output (the speaker turns them into debug log lines).
        self.trace = False

    def established(self) -> Connection | None:
        return next((c for c in self.conns.values() if c.state is S.ESTABLISHED), None)

    def sync(self, now: float) -> None:
        """Derive the peer state, keep the ConnectRetry timer running exactly in Connect and
        Active (when not passive), and emit StateChanged, then the facts."""
        conns = self.conns
        if conns:
            self.idle_hold_at = None
            new = max(c.state for c in conns.values()) if len(conns) > 1 else next(iter(conns.values())).state
        else:
            new = S.ACTIVE if self.enabled and self.idle_hold_at is None else S.IDLE
        if new in _RETRYING:
            if self.connect_retry_at is None and not self.passive:
                self.connect_retry_at = now + self.jitter.apply(self.cfg.connect_retry_time)
        elif self.connect_retry_at is not None:
            self.connect_retry_at = None
        if new is not self.state:
            self.out.append(StateChanged(self.state, new, self.reason))
            self.state = new
        if self.facts:
            self.out.extend(self.facts)
            self.facts = []

    def connect(self, now: float) -> None:
        cid = next(self.ids)
        self.conns[cid] = Connection(cid, True, S.CONNECT)
        self.out.append(Connect(cid))
        self.connect_retry_at = now + self.jitter.apply(self.cfg.connect_retry_time)

    def begin(self, now: float) -> None:
        """ManualStart / AutomaticStart: connect at once (no initial delay), or just listen."""
        self.idle_hold_at = None
        if not self.passive:
            self.connect(now)

    def send_open(self, conn: Connection, now: float) -> None:
        conn.state = S.OPENSENT
        conn.local_open = build_open(self.cfg)
        conn.hold_at = now + OPENSENT_HOLD_TIME  # RFC 4271 §8.2.2: "a large value"
        self.out.append(SendBytes(conn.id, conn.local_open.encode()))
        if self.trace:
            self.out.append(MessageTraced(conn.id, True, conn.local_open))

    def arm_keepalive(self, conn: Connection, now: float) -> None:
        ka = conn.negotiated.keepalive_time if conn.negotiated else 0
        conn.keepalive_at = now + self.jitter.apply(ka) if ka else None  # none with hold time 0

    def restart_hold(self, conn: Connection, now: float) -> None:
        hold = conn.negotiated.hold_time if conn.negotiated else 0
        conn.hold_at = now + hold if hold else None

    def wire(self, conn: Connection, n: Notification) -> Notification:
        """Never Hard Reset to a peer without N (spec section 6, RFC 8538 §3); never more
        than the peer can take (RFC 8654 §5: 4096 octets unless Extended Message)."""
        if n.is_hard_reset and not (conn.negotiated and conn.negotiated.notification_supported):
            n = n.unwrap()
        room = conn.max_tx - 21
        return n if len(n.data) <= room else Notification(n.code, n.subcode, n.data[:room])

    def close(self, conn: Connection, now: float, reason: str, *, sent: Notification | None = None,
               received: Notification | None = None, hold_expired: bool = False,
               then: State | None = S.IDLE) -> None:
        """Tear down one connection (NOTIFICATION first when ``sent``). When it was the last
        one of a started peer, continue in ``then``: Active (listen; ConnectRetry when not
        passive) or Idle (automatic restart after the IdleHold back-off); None: stay put."""
        if sent is not None:
            sent = self.wire(conn, sent)
            self.out.append(SendBytes(conn.id, sent.encode()))
            if self.trace:
                self.out.append(MessageTraced(conn.id, True, sent))
        self.out.append(CloseConnection(conn.id, after_notification=sent is not None))
        del self.conns[conn.id]
        self.reason = reason
        if conn.state is S.ESTABLISHED and conn.negotiated is not None:
            if self.established_at is not None and now - self.established_at >= self.cfg.stable_time:
                self.failures = 0
            self.established_at = None
            graceful = retain_routes(conn.negotiated, sent, received, hold_timer_expired=hold_expired)
            self.facts.append(SessionDown(reason, sent, received, graceful, conn.negotiated))
        if self.conns or not self.enabled or then is None:
            return
        if then is S.IDLE:
            self.failures += 1
            delay = idle_hold_delay(self.failures, self.cfg.idle_hold_time, self.cfg.max_idle_hold_time)
            self.idle_hold_at = now + self.jitter.apply(delay)
