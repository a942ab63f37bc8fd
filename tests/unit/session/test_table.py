"""Every (state, event) pair of both FSM tables (RFC 4271 §8.2.2, RFC 6608, RFC 6.8 dumps).

Each case puts a fresh session (side A: AS 65001, 10.0.0.1, active, hold 90, no GR) into a
state through public inputs, produces the event through public inputs where one exists
(bytes from the peer, a TimerFired at the deadline, TcpFailed, ...), and compares the
whole output list (summarised) and the resulting peer state. Events that cannot happen in
a state (a timer that is not running there, the internal collision dump) are injected
straight into the table through the session's dispatcher, and the test says so.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gracebgp.session import (
    CONN_TABLE,
    PEER_TABLE,
    BytesReceived,
    ConnEvent,
    Output,
    PeerEvent,
    Start,
    State,
    Stop,
    TcpAccepted,
    TcpConnected,
    TcpFailed,
)
from gracebgp.session.state import CONNECTION_STATES
from gracebgp.wire import Notification, RouteRefresh, UpdateAction, parse_update

from ..wire.wirebytes import MANDATORY, NEXT_HOP, NLRI_10_0_1, ORIGIN_IGP, attr, body, message
from .helpers import BAD_MARKER, BAD_UPDATE, EOR_V4, KEEPALIVE_MSG, Probe, peer_open, summary

S, P, E = State, PeerEvent, ConnEvent

SETUP: dict[State, Callable[[Probe], Probe]] = {
    S.IDLE: lambda p: p,
    S.CONNECT: Probe.to_connect,
    S.ACTIVE: Probe.to_active,
    S.OPENSENT: Probe.to_opensent,
    S.OPENCONFIRM: Probe.to_openconfirm,
    S.ESTABLISHED: Probe.to_established,
}


def test_tables_are_complete() -> None:
    """DESIGN.md rule 3: every State x Input pair has an entry."""
    assert set(PEER_TABLE) == {(s, e) for s in State for e in PeerEvent}
    assert set(CONN_TABLE) == {(s, e) for s in CONNECTION_STATES for e in ConnEvent}


# --- peer table ------------------------------------------------------------------------------

def _inject_peer(p: Probe, event: PeerEvent) -> list[Output]:
    m = p.session.machine
    m.out, m.facts, m.reason = [], [], "injected"
    PEER_TABLE[(m.state, event)](m, None, p.clock.now)
    m.sync(p.clock.now)
    return m.out


def _timer(p: Probe, attr: str, event: PeerEvent) -> list[Output]:
    deadline = getattr(p.session.machine, attr)
    if deadline is None:  # not running in this state: the pair can only be injected
        return _inject_peer(p, event)
    return p.fire_at(deadline)


PEER_DRIVE: dict[PeerEvent, Callable[[Probe], list[Output]]] = {
    P.MANUAL_START: lambda p: p(Start()),
    P.MANUAL_START_PASSIVE: lambda p: p(Start(passive=True)),
    P.MANUAL_STOP: lambda p: p(Stop(Notification.cease(2))),
    P.TCP_ACCEPTED: lambda p: p(TcpAccepted(99)),
    P.CONNECT_RETRY_EXPIRES: lambda p: _timer(p, "connect_retry_at", P.CONNECT_RETRY_EXPIRES),
    P.IDLE_HOLD_EXPIRES: lambda p: _timer(p, "idle_hold_at", P.IDLE_HOLD_EXPIRES),
}

_STOPPED = ["NOTIFICATION 6/2@1", "close@1", "state IDLE"]
PEER_EXPECT: dict[tuple[State, PeerEvent], tuple[State, list[str]]] = {
    (S.IDLE, P.MANUAL_START): (S.CONNECT, ["connect@1", "state CONNECT"]),
    (S.IDLE, P.MANUAL_START_PASSIVE): (S.ACTIVE, ["state ACTIVE"]),
    (S.IDLE, P.MANUAL_STOP): (S.IDLE, []),
    (S.IDLE, P.TCP_ACCEPTED): (S.IDLE, ["NOTIFICATION 6/5@99", "close@99"]),  # stopped: refused
    (S.IDLE, P.CONNECT_RETRY_EXPIRES): (S.IDLE, []),
    (S.IDLE, P.IDLE_HOLD_EXPIRES): (S.IDLE, []),  # stopped: no restart (see the waiting case)
    (S.CONNECT, P.MANUAL_START): (S.CONNECT, []),
    (S.CONNECT, P.MANUAL_START_PASSIVE): (S.CONNECT, []),
    (S.CONNECT, P.MANUAL_STOP): (S.IDLE, ["close@1", "state IDLE"]),
    (S.CONNECT, P.TCP_ACCEPTED): (S.OPENSENT, ["OPEN@99", "state OPENSENT"]),
    (S.CONNECT, P.CONNECT_RETRY_EXPIRES): (S.CONNECT, ["close@1", "connect@2"]),
    (S.CONNECT, P.IDLE_HOLD_EXPIRES): (S.CONNECT, []),
    (S.ACTIVE, P.MANUAL_START): (S.ACTIVE, []),
    (S.ACTIVE, P.MANUAL_START_PASSIVE): (S.ACTIVE, []),
    (S.ACTIVE, P.MANUAL_STOP): (S.IDLE, ["state IDLE"]),
    (S.ACTIVE, P.TCP_ACCEPTED): (S.OPENSENT, ["OPEN@99", "state OPENSENT"]),
    (S.ACTIVE, P.CONNECT_RETRY_EXPIRES): (S.CONNECT, ["connect@2", "state CONNECT"]),
    (S.ACTIVE, P.IDLE_HOLD_EXPIRES): (S.ACTIVE, []),
    (S.OPENSENT, P.MANUAL_START): (S.OPENSENT, []),
    (S.OPENSENT, P.MANUAL_START_PASSIVE): (S.OPENSENT, []),
    (S.OPENSENT, P.MANUAL_STOP): (S.IDLE, _STOPPED),
    (S.OPENSENT, P.TCP_ACCEPTED): (S.OPENSENT, ["OPEN@99"]),  # tracked for collision
    (S.OPENSENT, P.CONNECT_RETRY_EXPIRES): (S.OPENSENT, []),
    (S.OPENSENT, P.IDLE_HOLD_EXPIRES): (S.OPENSENT, []),
    (S.OPENCONFIRM, P.MANUAL_START): (S.OPENCONFIRM, []),
    (S.OPENCONFIRM, P.MANUAL_START_PASSIVE): (S.OPENCONFIRM, []),
    (S.OPENCONFIRM, P.MANUAL_STOP): (S.IDLE, _STOPPED),
    (S.OPENCONFIRM, P.TCP_ACCEPTED): (S.OPENCONFIRM, ["OPEN@99"]),
    (S.OPENCONFIRM, P.CONNECT_RETRY_EXPIRES): (S.OPENCONFIRM, []),
    (S.OPENCONFIRM, P.IDLE_HOLD_EXPIRES): (S.OPENCONFIRM, []),
    (S.ESTABLISHED, P.MANUAL_START): (S.ESTABLISHED, []),
    (S.ESTABLISHED, P.MANUAL_START_PASSIVE): (S.ESTABLISHED, []),
    (S.ESTABLISHED, P.MANUAL_STOP): (S.IDLE, [*_STOPPED, "down graceful=False"]),
    (S.ESTABLISHED, P.TCP_ACCEPTED): (S.ESTABLISHED, ["NOTIFICATION 6/5@99", "close@99"]),
    (S.ESTABLISHED, P.CONNECT_RETRY_EXPIRES): (S.ESTABLISHED, []),
    (S.ESTABLISHED, P.IDLE_HOLD_EXPIRES): (S.ESTABLISHED, []),
}


@pytest.mark.parametrize(("state", "event"), sorted(PEER_EXPECT), ids=lambda v: v.name)
def test_peer_table(state: State, event: PeerEvent) -> None:
    p = SETUP[state](Probe())
    assert p.state is state
    out = PEER_DRIVE[event](p)
    want_state, want = PEER_EXPECT[(state, event)]
    assert summary(out) == want
    assert p.state is want_state


def test_idle_waiting_for_idle_hold() -> None:
    """Idle after a failure (RFC 4271 §8.1.1 IdleHoldTimer): the expiry is an
    AutomaticStart; a Start cuts the wait short; the peer's connection is taken (as FRR
    does); a Stop cancels the restart."""
    p = Probe().to_idle_waiting()
    assert p.state is S.IDLE and p.session.next_deadline() == p.clock.now + 1.0
    assert summary(p.fire_at(p.clock.now + 1.0)) == ["connect@2", "state CONNECT"]

    p = Probe().to_idle_waiting()
    assert summary(p(Start())) == ["connect@2", "state CONNECT"]

    p = Probe().to_idle_waiting()
    assert summary(p(TcpAccepted(99))) == ["OPEN@99", "state OPENSENT"]

    p = Probe().to_idle_waiting()
    assert summary(p(Stop())) == [] and p.session.next_deadline() is None


# --- connection table --------------------------------------------------------------------------

def _inject_conn(p: Probe, event: ConnEvent) -> list[Output]:
    m = p.session.machine
    m.out, m.facts, m.reason = [], [], "injected"
    conn = m.conns[1]
    CONN_TABLE[(conn.state, event)](m, conn, None, p.clock.now)
    m.sync(p.clock.now)
    return m.out


def _conn_timer(p: Probe, attr: str, event: ConnEvent) -> list[Output]:
    deadline = getattr(p.session.machine.conns[1], attr)
    if deadline is None:
        return _inject_conn(p, event)
    return p.fire_at(deadline)


def _bytes(data: bytes) -> Callable[[Probe], list[Output]]:
    return lambda p: p(BytesReceived(1, data))


CONN_DRIVE: dict[ConnEvent, Callable[[Probe], list[Output]]] = {
    E.TCP_CONNECTED: lambda p: p(TcpConnected(1)),
    E.TCP_FAILED: lambda p: p(TcpFailed(1)),
    E.HOLD_TIMER_EXPIRES: lambda p: _conn_timer(p, "hold_at", E.HOLD_TIMER_EXPIRES),
    E.KEEPALIVE_TIMER_EXPIRES: lambda p: _conn_timer(p, "keepalive_at", E.KEEPALIVE_TIMER_EXPIRES),
    E.OPEN: _bytes(peer_open().encode()),
    E.OPEN_ERROR: _bytes(peer_open(asn=65099).encode()),  # Bad Peer AS
    E.MESSAGE_ERROR: _bytes(BAD_MARKER),
    E.NOTIFICATION: _bytes(Notification.cease(2).encode()),
    E.KEEPALIVE: _bytes(KEEPALIVE_MSG),
    E.UPDATE: _bytes(EOR_V4),
    E.UPDATE_ERROR: _bytes(BAD_UPDATE),
    E.ROUTE_REFRESH: _bytes(RouteRefresh(1, 1).encode()),
    E.COLLISION_DUMP: lambda p: _inject_conn(p, E.COLLISION_DUMP),
}


def _err(note: str, down: bool = False) -> list[str]:
    return [f"NOTIFICATION {note}@1", "close@1", "state IDLE", *(["down graceful=False"] if down else [])]


_DROPPED = ["close@1", "state IDLE"]
CONN_EXPECT: dict[tuple[State, ConnEvent], tuple[State, list[str]]] = {
    (S.CONNECT, E.TCP_CONNECTED): (S.OPENSENT, ["OPEN@1", "state OPENSENT"]),
    (S.CONNECT, E.TCP_FAILED): (S.ACTIVE, ["close@1", "state ACTIVE"]),
    (S.CONNECT, E.HOLD_TIMER_EXPIRES): (S.CONNECT, []),
    (S.CONNECT, E.KEEPALIVE_TIMER_EXPIRES): (S.CONNECT, []),
    **{(S.CONNECT, e): (S.IDLE, _DROPPED) for e in (
        E.OPEN, E.OPEN_ERROR, E.MESSAGE_ERROR, E.NOTIFICATION, E.KEEPALIVE, E.UPDATE,
        E.UPDATE_ERROR, E.ROUTE_REFRESH, E.COLLISION_DUMP)},
    (S.OPENSENT, E.TCP_CONNECTED): (S.OPENSENT, []),
    (S.OPENSENT, E.TCP_FAILED): (S.ACTIVE, ["close@1", "state ACTIVE"]),
    (S.OPENSENT, E.HOLD_TIMER_EXPIRES): (S.IDLE, _err("4/0")),
    (S.OPENSENT, E.KEEPALIVE_TIMER_EXPIRES): (S.OPENSENT, []),
    (S.OPENSENT, E.OPEN): (S.OPENCONFIRM, ["KEEPALIVE@1", "state OPENCONFIRM"]),
    (S.OPENSENT, E.OPEN_ERROR): (S.IDLE, _err("2/2")),
    (S.OPENSENT, E.MESSAGE_ERROR): (S.IDLE, _err("1/1")),
    (S.OPENSENT, E.NOTIFICATION): (S.IDLE, [*_DROPPED, "notification 6/2"]),
    (S.OPENSENT, E.KEEPALIVE): (S.IDLE, _err("5/1 04")),
    (S.OPENSENT, E.UPDATE): (S.IDLE, _err("5/1 02")),
    (S.OPENSENT, E.UPDATE_ERROR): (S.IDLE, _err("5/1 02")),
    (S.OPENSENT, E.ROUTE_REFRESH): (S.IDLE, _err("5/1 05")),
    (S.OPENSENT, E.COLLISION_DUMP): (S.IDLE, _err("6/7")),
    (S.OPENCONFIRM, E.TCP_CONNECTED): (S.OPENCONFIRM, []),
    (S.OPENCONFIRM, E.TCP_FAILED): (S.IDLE, _DROPPED),
    (S.OPENCONFIRM, E.HOLD_TIMER_EXPIRES): (S.IDLE, _err("4/0")),
    (S.OPENCONFIRM, E.KEEPALIVE_TIMER_EXPIRES): (S.OPENCONFIRM, ["KEEPALIVE@1"]),
    (S.OPENCONFIRM, E.OPEN): (S.IDLE, _err("5/2 01")),
    (S.OPENCONFIRM, E.OPEN_ERROR): (S.IDLE, _err("2/2")),
    (S.OPENCONFIRM, E.MESSAGE_ERROR): (S.IDLE, _err("1/1")),
    (S.OPENCONFIRM, E.NOTIFICATION): (S.IDLE, [*_DROPPED, "notification 6/2"]),
    (S.OPENCONFIRM, E.KEEPALIVE): (S.ESTABLISHED, ["state ESTABLISHED", "established"]),
    (S.OPENCONFIRM, E.UPDATE): (S.IDLE, _err("5/2 02")),
    (S.OPENCONFIRM, E.UPDATE_ERROR): (S.IDLE, _err("5/2 02")),
    (S.OPENCONFIRM, E.ROUTE_REFRESH): (S.IDLE, _err("5/2 05")),
    (S.OPENCONFIRM, E.COLLISION_DUMP): (S.IDLE, _err("6/7")),
    (S.ESTABLISHED, E.TCP_CONNECTED): (S.ESTABLISHED, []),
    (S.ESTABLISHED, E.TCP_FAILED): (S.IDLE, [*_DROPPED, "down graceful=False"]),
    (S.ESTABLISHED, E.HOLD_TIMER_EXPIRES): (S.IDLE, _err("4/0", down=True)),
    (S.ESTABLISHED, E.KEEPALIVE_TIMER_EXPIRES): (S.ESTABLISHED, ["KEEPALIVE@1"]),
    (S.ESTABLISHED, E.OPEN): (S.IDLE, _err("5/3 01", down=True)),
    (S.ESTABLISHED, E.OPEN_ERROR): (S.IDLE, _err("5/3 01", down=True)),
    (S.ESTABLISHED, E.MESSAGE_ERROR): (S.IDLE, _err("1/1", down=True)),
    (S.ESTABLISHED, E.NOTIFICATION): (S.IDLE, [*_DROPPED, "notification 6/2", "down graceful=False"]),
    (S.ESTABLISHED, E.KEEPALIVE): (S.ESTABLISHED, []),
    (S.ESTABLISHED, E.UPDATE): (S.ESTABLISHED, ["update"]),
    (S.ESTABLISHED, E.UPDATE_ERROR): (S.IDLE, _err("3/1", down=True)),
    (S.ESTABLISHED, E.ROUTE_REFRESH): (S.ESTABLISHED, ["refresh"]),
    (S.ESTABLISHED, E.COLLISION_DUMP): (S.IDLE, _err("6/7", down=True)),
}


@pytest.mark.parametrize(("state", "event"), sorted(CONN_EXPECT), ids=lambda v: v.name)
def test_connection_table(state: State, event: ConnEvent) -> None:
    p = SETUP[state](Probe())
    assert p.session.connections == {1: state}
    out = CONN_DRIVE[event](p)
    want_state, want = CONN_EXPECT[(state, event)]
    assert summary(out) == want
    assert p.state is want_state


# --- the (Established, UPDATE) cell, done inline by Session._receive ------------------------

_UPDATES = [
    message(2, body(attrs=MANDATORY, nlri=NLRI_10_0_1)),  # accepted
    EOR_V4,
    message(2, body(withdrawn=NLRI_10_0_1)),
    message(2, body(attrs=ORIGIN_IGP + NEXT_HOP, nlri=NLRI_10_0_1)),  # no AS_PATH: treat-as-withdraw
    message(2, body(attrs=MANDATORY + attr(0xC0, 8, b"\x00\x01\x02"), nlri=NLRI_10_0_1)),  # RFC 7606 §7.8
    BAD_UPDATE,  # a session reset: the table's UPDATE_ERROR cell
]


@pytest.mark.parametrize("data", _UPDATES)
def test_an_update_in_established_does_what_the_tables_cell_does(data: bytes) -> None:
    """``Session._receive`` runs the (ESTABLISHED, UPDATE) cell (``_c_update``) inline, without
    the dispatch: the same outputs, timers and state as running the table's cell by hand
    and then ``sync``. (A change of the cell that is not made to the inline fails here.)"""
    inline, by_hand = Probe().to_established(), Probe().to_established()
    inline.clock.now = by_hand.clock.now = inline.clock.now + 7.0
    got = inline(BytesReceived(1, data))
    m = by_hand.session.machine
    conn = m.conns[1]
    m.out, m.facts = [], []
    result = parse_update(data[19:], conn.rx_context)
    event = E.UPDATE_ERROR if result.action is UpdateAction.SESSION_RESET else E.UPDATE
    CONN_TABLE[(conn.state, event)](m, conn, result, by_hand.clock.now)
    m.sync(by_hand.clock.now)
    assert got == m.out

    def timers(p: Probe) -> object:
        return [(c.state, c.hold_at, c.keepalive_at) for c in p.session.machine.conns.values()]

    assert (timers(inline), inline.session.next_deadline(), inline.state) == (
        timers(by_hand), by_hand.session.next_deadline(), by_hand.state)
