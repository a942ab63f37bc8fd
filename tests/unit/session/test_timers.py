"""Timers as deadlines with a fake clock: Hold, Keepalive, ConnectRetry, IdleHold back-off.

RFC 4271 §4.4 and §10 (keepalive = hold/3, none with hold 0), §6.5 (Hold Timer Expired),
§8.2.2 (240 s hold in OpenSent; sending UPDATE/KEEPALIVE restarts the KeepaliveTimer;
receiving KEEPALIVE/UPDATE restarts the HoldTimer), §8.1.1 (IdleHold damping), §10 (jitter).
"""

from __future__ import annotations

import pytest

from gracebgp.session import (
    BytesReceived,
    Connect,
    NotEstablishedError,
    SendBytes,
    Start,
    State,
    Stop,
    TcpConnected,
    TcpFailed,
    TimerFired,
)
from gracebgp.session.timers import Jitter, idle_hold_delay
from gracebgp.wire import Notification

from .helpers import (
    EOR_V4,
    KEEPALIVE_MSG,
    Probe,
    SessionPair,
    config,
    peer_config,
    peer_open,
    summary,
)


def test_keepalives_every_third_of_the_hold_time() -> None:
    """RFC 4271 §10: KeepaliveTime = a third of the negotiated Hold Time, both sides."""
    pair = SessionPair(config(hold_time=30), peer_config(hold_time=90))
    pair.establish()
    pair.clear()
    pair.advance(35)
    assert summary(pair.a.outputs) == ["KEEPALIVE@1", "KEEPALIVE@1", "KEEPALIVE@1"]  # 10, 20, 30
    assert len(pair.b.outputs) == 3
    pair.advance(1000)
    assert pair.a.session.state is pair.b.session.state is State.ESTABLISHED  # keepalives hold it up


def test_keepalives_at_the_configured_interval() -> None:
    """keepalive-interval 5 with hold time 90: a KEEPALIVE every 5 s, not every 30 s; the
    peer that negotiated 90 keeps its third (issue 11 finding 5)."""
    pair = SessionPair(config(hold_time=90, keepalive_time=5), peer_config(hold_time=90))
    pair.establish()
    pair.clear()
    pair.advance(31)
    assert summary(pair.a.outputs) == ["KEEPALIVE@1"] * 6  # 5, 10, ... 30
    assert summary(pair.b.outputs) == ["KEEPALIVE@2"]  # 30


def test_hold_timer_expires_without_keepalives() -> None:
    """RFC 4271 §6.5: nothing for Hold Time seconds -> Hold Timer Expired (4/0), Idle."""
    p = Probe().to_established()
    start = p.clock.now
    assert p.session.next_deadline() == start + 30  # keepalive first
    p.fire_at(start + 30)
    p.fire_at(start + 60)
    out = p.fire_at(start + 90)
    assert summary(out) == ["NOTIFICATION 4/0@1", "close@1", "state IDLE", "down graceful=False"]


def test_messages_restart_the_hold_timer() -> None:
    """RFC 4271 §8.2.2 Established: KEEPALIVE and UPDATE restart the HoldTimer."""
    p = Probe().to_established()
    t0 = p.clock.now
    p.clock.now = t0 + 80
    p(BytesReceived(1, KEEPALIVE_MSG))
    assert p.session.machine.conns[1].hold_at == t0 + 170
    p.clock.now = t0 + 150
    p(BytesReceived(1, EOR_V4))
    assert p.session.machine.conns[1].hold_at == t0 + 240
    p.fire_at(t0 + 239.9)
    assert p.state is State.ESTABLISHED
    assert "NOTIFICATION 4/0@1" in summary(p.fire_at(t0 + 240))


def test_sending_an_update_restarts_the_keepalive_timer() -> None:
    """RFC 4271 §8.2.2: "Each time the local system sends a KEEPALIVE or UPDATE message, it
    restarts its KeepaliveTimer"."""
    p = Probe().to_established()
    t0 = p.clock.now
    p.clock.now = t0 + 25
    assert p.session.send_update(EOR_V4, p.clock.now) == [SendBytes(1, EOR_V4)]
    assert p.session.machine.conns[1].keepalive_at == t0 + 55


def test_send_update_outside_established() -> None:
    p = Probe().to_openconfirm()
    with pytest.raises(NotEstablishedError):
        p.session.send_update(EOR_V4, p.clock.now)


def test_hold_time_zero_means_no_timers() -> None:
    """RFC 4271 §4.2/§10: with a negotiated Hold Time of 0 no KEEPALIVEs are sent and the
    session never expires."""
    p = Probe(config(hold_time=0)).to_established()
    assert p.session.next_deadline() is None
    assert p.session.negotiated is not None and p.session.negotiated.keepalive_time == 0
    p.clock.now += 10**6
    assert p(TimerFired()) == [] and p.state is State.ESTABLISHED


def test_hold_time_zero_from_the_peer() -> None:
    p = Probe().to_established(peer_open(hold=0))
    assert p.session.next_deadline() is None


def test_opensent_uses_the_large_hold_time() -> None:
    """RFC 4271 §8.2.2: after sending OPEN the HoldTimer is "a large value": 4 minutes."""
    p = Probe().to_opensent()
    t0 = p.clock.now
    assert p.session.next_deadline() == t0 + 240
    assert summary(p.fire_at(t0 + 240)) == ["NOTIFICATION 4/0@1", "close@1", "state IDLE"]


def test_openconfirm_uses_the_negotiated_hold_time() -> None:
    p = Probe().to_openconfirm(peer_open(hold=9))
    assert p.session.machine.conns[1].hold_at == p.clock.now + 9
    assert p.session.machine.conns[1].keepalive_at == p.clock.now + 3


def test_connect_retry() -> None:
    """RFC 4271 §8.2.2 Connect/Active: a pending connect is dropped and retried every
    ConnectRetryTime; a refused connect waits in Active for the next attempt."""
    p = Probe(config(connect_retry_time=5))
    t0 = p.clock.now
    assert summary(p(Start())) == ["connect@1", "state CONNECT"]  # at once: no initial delay
    assert summary(p.fire_at(t0 + 5)) == ["close@1", "connect@2"]
    assert summary(p(TcpFailed(2, "refused"))) == ["close@2", "state ACTIVE"]
    assert p.session.next_deadline() == t0 + 10
    assert summary(p.fire_at(t0 + 10)) == ["connect@3", "state CONNECT"]


def test_passive_never_connects() -> None:
    p = Probe(config(passive=True))
    assert summary(p(Start())) == ["state ACTIVE"]
    assert p.session.next_deadline() is None
    p.clock.now += 10**5
    assert p(TimerFired()) == []


def test_idle_hold_back_off_formula() -> None:
    assert [idle_hold_delay(n, 1.0, 120.0) for n in range(0, 11)] == [
        0, 1, 2, 4, 8, 16, 32, 64, 120, 120, 120]
    assert idle_hold_delay(10**6, 1.0, 120.0) == 120.0
    assert idle_hold_delay(3, 0.0, 120.0) == 0.0


def _fail_in_opensent(p: Probe) -> float:
    """Connect, get the peer's NOTIFICATION, return the IdleHold delay that follows."""
    conn = next(o.conn for o in p.fire_at(p.session.next_deadline() or p.clock.now) if isinstance(o, Connect))
    p(TcpConnected(conn))
    p(BytesReceived(conn, Notification.cease(2).encode()))
    assert p.state is State.IDLE
    return (p.session.next_deadline() or 0) - p.clock.now


def test_back_off_sequence_on_flapping() -> None:
    """Consecutive failures double the IdleHold wait up to the cap (RFC 4271 §8.1.1)."""
    p = Probe(config(idle_hold_time=1, max_idle_hold_time=10))
    p.to_idle_waiting()
    delays = [(p.session.next_deadline() or 0) - p.clock.now]
    delays += [_fail_in_opensent(p) for _ in range(5)]
    assert delays == [1, 2, 4, 8, 10, 10]
    assert p.session.consecutive_failures == 6


def test_back_off_resets_after_a_stable_session() -> None:
    """A session that stayed Established ``stable_time`` or longer starts over at 1 s; a
    shorter one keeps backing off."""
    p = Probe(config(stable_time=60))
    p.to_idle_waiting()
    p.fire_at(p.clock.now + 1)  # reconnect: conn 2
    p(TcpConnected(2))
    p(BytesReceived(2, peer_open().encode() + KEEPALIVE_MSG))
    assert p.state is State.ESTABLISHED and p.session.consecutive_failures == 1
    p.clock.now += 10  # short-lived
    p(TcpFailed(2))
    assert p.session.consecutive_failures == 2
    assert p.session.next_deadline() == p.clock.now + 2

    q = Probe(config(stable_time=60)).to_established()
    q.session.machine.failures = 5
    q.clock.now += 60
    q(BytesReceived(1, KEEPALIVE_MSG))
    q(TcpFailed(1))
    assert q.session.consecutive_failures == 1 and q.session.next_deadline() == q.clock.now + 1


def test_start_and_stop_reset_the_back_off() -> None:
    """RFC 4271 §8.2.2: ManualStart / ManualStop set the ConnectRetryCounter to zero."""
    p = Probe().to_idle_waiting()
    p.session.machine.failures = 4
    p(Stop())
    assert p.session.consecutive_failures == 0 and p.session.next_deadline() is None
    assert p.state is State.IDLE


def test_jitter_is_deterministic_and_in_range() -> None:
    """RFC 4271 §10: a random factor in [0.75, 1.0]; here seeded, so replays repeat it."""
    a, b = Jitter(42), Jitter(42)
    seq = [a.factor() for _ in range(1000)]
    assert seq == [b.factor() for _ in range(1000)]
    assert all(0.75 <= f <= 1.0 for f in seq) and len(set(seq)) > 900
    assert Jitter(None).factor() == 1.0 and Jitter(None).apply(30) == 30


def test_jittered_session_timers() -> None:
    from gracebgp.session import Session
    s = Session(config(), jitter_seed=7)
    s.handle(Start(), 0.0)
    assert 22.5 <= (s.next_deadline() or 0) <= 30.0
