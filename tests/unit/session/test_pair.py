"""Two Sessions back to back over the in-memory transport: whole sessions, end to end.

RFC 4271 §8.2.2 (the full Idle -> Established walk on both sides), §4.2 (both OPENs decide
one session), RFC 7911 §5 (ADD-PATH directions mirror each other), RFC 4724 §2 (EOR).
"""

from __future__ import annotations

import pytest

from gracebgp.session import (
    Established,
    GrConfig,
    NotificationReceived,
    SessionDown,
    Start,
    State,
    StateChanged,
    Stop,
    TcpClosed,
    UpdateReceived,
)
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import Notification, end_of_rib
from gracebgp.wire.iana import AddPathMode

from .helpers import SessionPair, config, peer_config, summary, with_gr

V4, V6 = IPV4_UNICAST, IPV6_UNICAST


def test_active_to_passive_walk() -> None:
    """Every state in order on both sides, and one Established fact each."""
    pair = SessionPair()
    pair.establish()
    assert [o.new for o in pair.a.of(StateChanged)] == [
        State.CONNECT, State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED]
    assert [o.new for o in pair.b.of(StateChanged)] == [
        State.ACTIVE, State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED]
    assert len(pair.a.of(Established)) == len(pair.b.of(Established)) == 1
    assert pair.a.session.established_since == pair.clock.now
    assert pair.a.session.config.router_id == "10.0.0.1"


@pytest.mark.parametrize("chunk", [1, 7, 19, 4096])
def test_any_segmentation(chunk: int) -> None:
    """The session does its own framing: bytes cut anywhere make the same session."""
    pair = SessionPair(chunk=chunk)
    pair.establish()
    eor = end_of_rib(V6, pair.a.session.negotiated.tx_context())  # type: ignore[union-attr]
    for o in pair.a.session.send_update(eor, pair.clock.now):
        pair.route(pair.a, o)
    pair.run()
    (u,) = pair.b.of(UpdateReceived)
    assert u.result.eor == V6


def test_negotiated_values_mirror_each_other() -> None:
    a = config(add_path=((V4, AddPathMode.SEND),), graceful_restart=GrConfig())
    b = peer_config(add_path=((V4, AddPathMode.RECEIVE),), graceful_restart=GrConfig(), hold_time=30)
    pair = SessionPair(a, b)
    pair.establish()
    na, nb = pair.a.session.negotiated, pair.b.session.negotiated
    assert na is not None and nb is not None
    assert na.add_path_tx == nb.add_path_rx == {V4} and na.add_path_rx == nb.add_path_tx == frozenset()
    assert na.tx_context() == nb.rx_context()
    assert na.hold_time == nb.hold_time == 30 and na.families == nb.families == {V4, V6}
    assert na.notification_supported and nb.notification_supported
    assert na.gr_families == nb.gr_families == {V4, V6}
    assert (na.local_open, na.peer_open) == (nb.peer_open, nb.local_open)


def test_both_active_collide_and_settle() -> None:
    pair = SessionPair()
    pair.establish(a_passive=False, b_passive=False)
    assert len(pair.a.session.connections) == len(pair.b.session.connections) == 1


def test_stop_with_cease_takes_both_down_for_good() -> None:
    """The peer sees our Cease as NOTIFICATION; we stay down; the passive peer waits."""
    pair = SessionPair()
    pair.establish()
    pair.clear()
    note = Notification.cease(2, "maintenance")
    pair.feed(pair.a, Stop(note))
    pair.run()
    (d,) = pair.b.of(SessionDown)
    assert d.received == note and not d.graceful
    assert d.reason == "NOTIFICATION received: CEASE/ADMINISTRATIVE_SHUTDOWN: 'maintenance'"
    assert pair.b.of(NotificationReceived)[0].notification == note
    pair.advance(600)
    assert pair.a.session.state is State.IDLE
    assert pair.b.session.state is State.ACTIVE  # passive: listening, never connecting


def test_session_comes_back_within_a_second_after_a_drop() -> None:
    """After a TCP drop the active side restarts after IdleHold (1 s), not ConnectRetry."""
    pair = SessionPair()
    pair.establish()
    (link,) = [k for k in pair.peer_of if k[0] == "a"]
    pair.feed(pair.a, TcpClosed(link[1]))
    pair.run()
    assert pair.a.session.state is State.IDLE
    pair.advance(1.0)
    assert pair.a.session.state is pair.b.session.state is State.ESTABLISHED


def test_fresh_start_connects_at_once() -> None:
    """Issue 5: a (re)started speaker connects immediately: no initial idle hold."""
    pair = SessionPair()
    pair.feed(pair.b, Start(passive=True))
    assert summary(pair.feed(pair.a, Start())) == ["connect@1", "state CONNECT"]
    t0 = pair.clock.now
    pair.run()
    assert pair.a.session.state is State.ESTABLISHED and pair.clock.now == t0


def test_refused_connection_retries_on_connect_retry() -> None:
    pair = SessionPair(config(connect_retry_time=30), peer_config())
    pair.refuse.add("b")
    pair.feed(pair.a, Start())
    pair.run()
    assert pair.a.session.state is State.ACTIVE
    pair.refuse.clear()
    pair.feed(pair.b, Start(passive=True))
    pair.advance(29.9)
    assert pair.a.session.state is State.ACTIVE
    pair.advance(0.2)
    assert pair.a.session.state is pair.b.session.state is State.ESTABLISHED


def test_restart_bit_via_reconfigure() -> None:
    """The R bit goes into the next OPEN only (RFC 4724 §4.1)."""
    pair = SessionPair(with_gr(config()), with_gr(peer_config()))
    pair.a.session.reconfigure(with_gr(config(), GrConfig(restarting=True)))
    pair.establish()
    nb = pair.b.session.negotiated
    assert nb is not None and nb.peer_gr is not None and nb.peer_gr.restart_state
