"""FakeClock and SessionPair: two Sessions wired back to back in memory (no sockets), with
a transport that behaves like TCP between them, and config / OPEN builders for the tests."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from gracebgp.session import (
    BytesReceived,
    CloseConnection,
    Connect,
    Established,
    GrConfig,
    Input,
    NotificationReceived,
    Output,
    RouteRefreshReceived,
    SendBytes,
    Session,
    SessionConfig,
    SessionDown,
    Start,
    State,
    StateChanged,
    TcpAccepted,
    TcpClosed,
    TcpConnected,
    TcpFailed,
    TimerFired,
    UpdateReceived,
)
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import (
    Capability,
    EnhancedRouteRefresh,
    FourOctetAs,
    Multiprotocol,
    Notification,
    Open,
    RouteRefreshCapability,
    split_messages,
)
from gracebgp.wire.iana import MARKER


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def config(**kw: Any) -> SessionConfig:
    """An eBGP peer config for side A (AS 65001, 10.0.0.1) talking to AS 65002."""
    base: dict[str, Any] = {
        "local_as": 65001, "router_id": "10.0.0.1", "peer_address": "192.0.2.2", "peer_as": 65002,
        "families": (IPV4_UNICAST, IPV6_UNICAST),
    }
    base.update(kw)
    return SessionConfig(**base)


def peer_config(**kw: Any) -> SessionConfig:
    """The mirror image: side B (AS 65002, 10.0.0.2) talking to AS 65001."""
    base: dict[str, Any] = {
        "local_as": 65002, "router_id": "10.0.0.2", "peer_address": "192.0.2.1", "peer_as": 65001,
        "families": (IPV4_UNICAST, IPV6_UNICAST),
    }
    base.update(kw)
    return SessionConfig(**base)


GR = GrConfig(restart_time=120, notification=True)


@dataclass
class Side:
    name: str
    session: Session
    outputs: list[Output] = field(default_factory=list)

    def of(self, kind: type[Any]) -> list[Any]:
        return [o for o in self.outputs if isinstance(o, kind)]


class SessionPair:
    """Side ``a`` and side ``b`` connected by an in-memory transport.

    ``Connect`` from one side becomes ``TcpAccepted`` on the other and ``TcpConnected``
    back; ``SendBytes`` is delivered as ``BytesReceived`` (optionally cut into pieces);
    ``CloseConnection`` becomes ``TcpClosed`` on the other end. Deliveries go through one
    FIFO queue, so the order is what two real TCP peers would see with zero latency.
    """

    def __init__(self, a: SessionConfig | None = None, b: SessionConfig | None = None,
                 clock: FakeClock | None = None, chunk: int | None = None) -> None:
        self.clock = clock or FakeClock()
        self.ids: Iterator[int] = itertools.count(1)
        self.a = Side("a", Session(a or config(), conn_ids=self.ids))
        self.b = Side("b", Session(b or peer_config(), conn_ids=self.ids))
        self.peer_of: dict[tuple[str, int], tuple[Side, int]] = {}
        self.queue: deque[tuple[Side, Input]] = deque()
        self.chunk = chunk
        self.refuse: set[str] = set()  # sides whose "listener" refuses connections

    def other(self, side: Side) -> Side:
        return self.b if side is self.a else self.a

    def feed(self, side: Side, event: Input) -> list[Output]:
        out = side.session.handle(event, self.clock.now)
        side.outputs.extend(out)
        for o in out:
            self.route(side, o)
        return out

    def route(self, side: Side, o: Output) -> None:
        """Carry one output of ``side`` to the other side (queued)."""
        other = self.other(side)
        if isinstance(o, Connect):
            if other.name in self.refuse:
                self.queue.append((side, TcpFailed(o.conn, "connection refused")))
                return
            theirs = next(self.ids)
            self.peer_of[(side.name, o.conn)] = (other, theirs)
            self.peer_of[(other.name, theirs)] = (side, o.conn)
            self.queue.append((other, TcpAccepted(theirs)))
            self.queue.append((side, TcpConnected(o.conn)))
        elif isinstance(o, SendBytes):
            link = self.peer_of.get((side.name, o.conn))
            if link is not None:
                step = self.chunk or len(o.data)
                for i in range(0, len(o.data), step):
                    self.queue.append((link[0], BytesReceived(link[1], o.data[i:i + step])))
        elif isinstance(o, CloseConnection):
            link = self.peer_of.pop((side.name, o.conn), None)
            if link is not None:
                self.peer_of.pop((link[0].name, link[1]), None)
                self.queue.append((link[0], TcpClosed(link[1])))

    def run(self, limit: int = 10000) -> None:
        while self.queue:
            limit -= 1
            if limit < 0:
                raise AssertionError("the two sessions do not settle")
            side, event = self.queue.popleft()
            self.feed(side, event)

    def start(self, a_passive: bool = False, b_passive: bool = True) -> None:
        self.feed(self.b, Start(passive=b_passive))
        self.feed(self.a, Start(passive=a_passive))
        self.run()

    def establish(self, **kw: bool) -> None:
        self.start(**kw)
        assert self.a.session.state is State.ESTABLISHED, self.a.outputs
        assert self.b.session.state is State.ESTABLISHED, self.b.outputs

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every deadline on the way at its own time."""
        end = self.clock.now + seconds
        while True:
            due = [(d, s.name) for s in (self.a, self.b)
                   if (d := s.session.next_deadline()) is not None and d <= end]
            if not due:
                break
            when, name = min(due)
            self.clock.now = max(self.clock.now, when)
            self.feed(self.a if name == "a" else self.b, TimerFired())
            self.run()
        self.clock.now = end

    def clear(self) -> None:
        self.a.outputs.clear()
        self.b.outputs.clear()


def with_gr(cfg: SessionConfig, gr: GrConfig = GR, **kw: Any) -> SessionConfig:
    return replace(cfg, graceful_restart=gr, **kw)


# --- single-session probes: a session driven by hand-made peer bytes ----------------------

def peer_open(asn: int = 65002, bgp_id: str = "10.0.0.2", hold: int = 90,
              caps: tuple[Capability, ...] | None = None) -> Open:
    """The OPEN a plain peer (side B) sends: MP v4+v6, route refresh, 4-octet AS."""
    if caps is None:
        caps = (Multiprotocol(1, 1), Multiprotocol(2, 1), RouteRefreshCapability(),
                EnhancedRouteRefresh(), FourOctetAs(asn))
    return Open.build(asn, hold, bgp_id, caps)


KEEPALIVE_MSG = MARKER + b"\x00\x13\x04"
EOR_V4 = MARKER + b"\x00\x17\x02" + b"\x00\x00\x00\x00"  # RFC 4724 §2: empty UPDATE
BAD_UPDATE = MARKER + b"\x00\x17\x02" + b"\x00\x05\x00\x00"  # Withdrawn Routes Length too large
BAD_MARKER = b"\x00" * 16 + b"\x00\x13\x04"


def summary(outputs: list[Output]) -> list[str]:
    """Outputs as short strings: "OPEN@1", "NOTIFICATION 5/1 02@1", "close@1", "state IDLE"..."""
    out: list[str] = []
    for o in outputs:
        if isinstance(o, Connect):
            out.append(f"connect@{o.conn}")
        elif isinstance(o, SendBytes):
            out.append(f"{_message_name(o.data)}@{o.conn}")
        elif isinstance(o, CloseConnection):
            out.append(f"close@{o.conn}")
        elif isinstance(o, StateChanged):
            out.append(f"state {o.new.name}")
        elif isinstance(o, Established):
            out.append("established")
        elif isinstance(o, SessionDown):
            out.append(f"down graceful={o.graceful}")
        elif isinstance(o, UpdateReceived):
            out.append("update")
        elif isinstance(o, RouteRefreshReceived):
            out.append("refresh")
        elif isinstance(o, NotificationReceived):
            out.append(f"notification {o.notification.code}/{o.notification.subcode}")
    return out


def _message_name(data: bytes) -> str:
    names = []
    for mtype, body in split_messages(data, 65535):
        if mtype == 3:
            n = Notification.decode(body)
            names.append(f"NOTIFICATION {n.code}/{n.subcode}" + (f" {n.data.hex()}" if n.data else ""))
        else:
            names.append({1: "OPEN", 2: "UPDATE", 4: "KEEPALIVE", 5: "RR"}[mtype])
    return "+".join(names)


def sent_notifications(outputs: list[Output]) -> list[Notification]:
    return [Notification.decode(body) for o in outputs if isinstance(o, SendBytes)
            for mtype, body in split_messages(o.data, 65535) if mtype == 3]


class Probe:
    """One Session (side A) and a clock; the test plays the peer with raw bytes."""

    def __init__(self, cfg: SessionConfig | None = None, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.session = Session(cfg or config(), conn_ids=itertools.count(1))

    def __call__(self, event: Input) -> list[Output]:
        return self.session.handle(event, self.clock.now)

    @property
    def state(self) -> State:
        return self.session.state

    def fire_at(self, when: float) -> list[Output]:
        """Fire every deadline before ``when`` at its own time, then return what firing at
        ``when`` itself produces."""
        while (d := self.session.next_deadline()) is not None and d < when:
            self.clock.now = max(self.clock.now, d)
            self(TimerFired())
        self.clock.now = when
        return self(TimerFired())

    def to_connect(self) -> Probe:
        self(Start())
        return self

    def to_active(self) -> Probe:
        """Active with ConnectRetry running: our connect attempt failed."""
        self(Start())
        self(TcpFailed(1, "refused"))
        return self

    def to_opensent(self) -> Probe:
        self(Start())
        self(TcpConnected(1))
        return self

    def to_openconfirm(self, their_open: Open | None = None) -> Probe:
        self.to_opensent()
        self(BytesReceived(1, (their_open or peer_open()).encode()))
        return self

    def to_established(self, their_open: Open | None = None) -> Probe:
        self.to_openconfirm(their_open)
        self(BytesReceived(1, KEEPALIVE_MSG))
        return self

    def to_idle_waiting(self) -> Probe:
        """Idle, started, waiting out the IdleHold back-off after a failure."""
        self.to_opensent()
        self(BytesReceived(1, Notification.cease(2).encode()))
        return self
