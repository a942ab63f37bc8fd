"""BFD timers and sequences: negotiation (RFC 5880 §6.8.2-§6.8.4), the one-second rate while
not Up (§6.8.3), Poll/Final (§6.5, §6.8.3, §6.8.7), jitter (§6.8.7), Passive role,
authentication (§6.8.6), AdminDown (§6.8.16)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gracebgp.bfd import BfdParams, Diag, DiscardReason, SessionState
from gracebgp.bfd.codes import AuthType
from gracebgp.bfd.packet import Auth, Discard, SimplePassword
from gracebgp.bfd.timing import detection_time_us, jittered_us, tx_interval_us

from .helpers import T0, feed, half, peer, sent, session, to_state

S = SessionState
FAST = BfdParams(desired_min_tx_us=300_000, required_min_rx_us=300_000, detect_mult=3)


def test_negotiation_takes_the_slower_side() -> None:
    assert tx_interval_us(300_000, 500_000) == 500_000
    assert tx_interval_us(500_000, 300_000) == 500_000
    assert tx_interval_us(300_000, 0) == 0  # the peer wants no packets
    # §6.8.4: the peer's multiplier x max(our RequiredMinRx, its DesiredMinTx)
    assert detection_time_us(5, 300_000, 100_000) == 1_500_000
    assert detection_time_us(3, 100_000, 400_000) == 1_200_000


def test_up_session_uses_negotiated_intervals() -> None:
    s = session(FAST)
    feed(s, peer(S.INIT, desired_min_tx_us=400_000, required_min_rx_us=500_000, detect_mult=4))
    assert s.state == S.UP
    assert s.tx_interval_us == 500_000  # max(our 300 ms, its 500 ms)
    assert s.detection_time_us == 4 * 400_000  # its mult x max(our 300 ms, its 400 ms)
    assert s.detect_at == pytest.approx(T0 + 1.6)
    assert s.remote_detection_time_us == 3 * 500_000


def test_one_second_while_not_up() -> None:
    """§6.8.3: not Up, bfd.DesiredMinTxInterval >= 1 s, in packets and in the rate."""
    s = session(FAST)
    first = sent(s.expire(T0))
    assert [p.desired_min_tx_us for p in first] == [1_000_000]
    assert s.next_tx == pytest.approx(T0 + 1_000_000 * 0.875 / 1e6)  # rand 0.5 -> 87.5 %
    feed(s, peer(S.DOWN))
    assert s.state == S.INIT and s.advertised_tx_us == 1_000_000


def test_going_up_lowers_the_rate_with_a_poll_and_final_ends_it() -> None:
    s = session(FAST)
    out = feed(s, peer(S.INIT, required_min_rx_us=300_000, desired_min_tx_us=300_000))
    assert s.state == S.UP and s.poll_active
    [told] = sent(out)
    assert (told.state, told.poll, told.desired_min_tx_us) == (S.UP, True, 300_000)
    assert s.tx_in_use_us == 300_000  # a faster TX applies at once
    periodic = sent(s.expire(s.next_tx or 0))
    assert [p.poll for p in periodic] == [True]  # P stays set until the Final
    feed(s, peer(S.UP, final=True, desired_min_tx_us=300_000), T0 + 0.5)
    assert not s.poll_active
    assert [p.poll for p in sent(s.expire(s.next_tx or 0))] == [False]


def test_poll_is_answered_with_final_at_once() -> None:
    s = to_state(session(FAST), S.UP)
    out = feed(s, peer(S.UP, poll=True), T0 + 0.2)
    assert [(p.final, p.poll) for p in sent(out)] == [(True, False)]


def test_slower_tx_waits_for_final_faster_rx_too() -> None:
    """§6.8.3: a larger DesiredMinTx, or a smaller RequiredMinRx, waits for the Final."""
    s = to_state(session(FAST), S.UP)
    feed(s, peer(S.UP, final=True, desired_min_tx_us=300_000, required_min_rx_us=300_000))
    assert (s.tx_in_use_us, s.rx_in_use_us, s.poll_active) == (300_000, 300_000, False)
    slower = BfdParams(desired_min_tx_us=600_000, required_min_rx_us=100_000, detect_mult=3)
    out = s.set_params(slower, T0 + 1)
    [poll] = sent(out)
    assert (poll.poll, poll.desired_min_tx_us, poll.required_min_rx_us) == (True, 600_000, 100_000)
    assert (s.tx_in_use_us, s.rx_in_use_us) == (300_000, 300_000)  # not yet
    feed(s, peer(S.UP, final=True, desired_min_tx_us=300_000, required_min_rx_us=300_000), T0 + 1.1)
    assert (s.tx_in_use_us, s.rx_in_use_us) == (600_000, 100_000)
    assert s.tx_interval_us == 600_000 and s.detection_time_us == 3 * 300_000


def test_larger_rx_applies_at_once_and_change_while_down_needs_no_poll() -> None:
    s = to_state(session(FAST), S.UP)
    feed(s, peer(S.UP, final=True))
    s.set_params(BfdParams(300_000, 900_000, 3), T0 + 1)
    assert s.rx_in_use_us == 900_000 and s.poll_active
    down = session(FAST)
    assert sent(down.set_params(BfdParams(200_000, 200_000, 3), T0)) == []
    assert not down.poll_active and down.rx_in_use_us == 200_000


def test_leaving_up_returns_to_one_second() -> None:
    s = to_state(session(FAST), S.UP)
    feed(s, peer(S.UP, final=True))
    s.expire(s.detect_at or 0)
    assert s.state == S.DOWN and s.local_diag == Diag.CONTROL_DETECTION_TIME_EXPIRED
    assert s.tx_in_use_us == 1_000_000 and s.remote_discr == 0


def _const(value: float) -> Callable[[], float]:
    return lambda: value


@pytest.mark.parametrize("mult", [1, 2, 3, 255])
def test_jitter_bounds(mult: int) -> None:
    """§6.8.7: 75-100 % of the interval; with DetectMult 1, at most 90 %."""
    top = 0.90 if mult == 1 else 1.0
    for r in (0.0, 0.25, 0.5, 0.999999):
        got = jittered_us(1_000_000, mult, _const(r))
        assert 750_000 <= got <= top * 1_000_000
    assert jittered_us(1_000_000, mult, lambda: 0.0) == 750_000
    assert jittered_us(1_000_000, mult, lambda: 0.999999) >= top * 1_000_000 - 1


def test_jitter_is_drawn_per_interval_from_the_injected_source() -> None:
    draws = iter([0.0, 0.999999, 0.5])
    s = session(FAST, rand=lambda: next(draws))
    s.expire(T0)
    assert s.next_tx == pytest.approx(T0 + 0.75)
    s.expire(s.next_tx or 0)
    assert s.next_tx == pytest.approx(T0 + 0.75 + 0.999999)


def test_passive_role_waits_for_the_peer() -> None:
    s = session(BfdParams(passive=True))
    assert s.next_deadline() is None and s.expire(T0 + 10) == []
    out = feed(s, peer(S.DOWN), T0 + 10)
    assert [p.state for p in sent(out)] == [S.INIT]


def test_peer_asking_for_no_packets_stops_periodic_transmission() -> None:
    s = to_state(session(FAST), S.UP)
    feed(s, peer(S.UP, required_min_rx_us=0), T0 + 0.1)
    assert s.next_tx is None and s.tx_interval_us == 0


def test_authentication_required_and_unexpected() -> None:
    key = SimplePassword(1, b"secret")
    s = session(BfdParams(auth=key))
    got = s.receive(peer(S.DOWN), T0)
    assert isinstance(got, Discard) and got.reason is DiscardReason.AUTH_MISSING
    good = peer(S.DOWN, auth=Auth(AuthType.SIMPLE_PASSWORD, 1, b"secret"))
    assert [p.auth for p in sent(feed(s, good))] == [key.section()]
    plain = session()
    got = plain.receive(good, T0)
    assert isinstance(got, Discard) and got.reason is DiscardReason.AUTH_NOT_EXPECTED
    assert plain.state == S.DOWN and plain.remote_discr == 0 and plain.discarded == 1


def test_admin_down_is_announced_and_c_bit_is_sent_as_configured() -> None:
    s = to_state(session(BfdParams(control_plane_independent=True)), S.UP)
    out = s.disable(T0 + 1)
    [p] = sent(out)
    assert (p.state, p.diag, p.control_plane_independent) == (
        S.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN, True)
    assert s.detect_at is None
    assert [q.state for q in sent(s.expire(s.next_tx or 0))] == [S.ADMIN_DOWN]
    s.enable(T0 + 2)
    assert s.state == S.DOWN and s.local_diag == Diag.NONE


def test_params_are_checked() -> None:
    with pytest.raises(ValueError):
        BfdParams(detect_mult=0)
    with pytest.raises(ValueError):
        BfdParams(desired_min_tx_us=0)


def test_admin_down_goes_out_at_the_up_rate_for_one_detection_time() -> None:
    """RFC 5880 §6.8.16: AdminDown leaves Up at the negotiated rate (300 ms here), not at
    the 1 s floor of §6.8.3, until the peer's Detection Time (900 ms) has passed, so one
    lost packet does not leave the peer to detect a failure (review of issue 18, item 2)."""
    s = to_state(session(FAST), S.UP)
    feed(s, peer(S.UP, final=True, desired_min_tx_us=300_000, required_min_rx_us=300_000, detect_mult=3))
    now = T0 + 1
    times = [now] if sent(s.disable(now)) else []
    while s.next_tx is not None and s.next_tx < now + 2.0:
        at = s.next_tx
        times.extend(at for p in sent(s.expire(at)) if p.state == S.ADMIN_DOWN)
    within = [t for t in times if t - now < 0.9]
    assert len(within) >= 3, times  # every 75-100% of 300 ms: four, at least three
    assert times[-1] - times[-2] > 0.7  # then the 1 s floor (jittered)
    assert s.tx_in_use_us == 1_000_000


def test_export_and_restore_carry_the_session_over() -> None:
    """What a gracebgp-bfdd hand-over carries (BfdSession.export): the restored session
    sends the same packets and keeps the same deadlines (the clock is the host's)."""
    s = to_state(session(FAST), S.UP)
    feed(s, peer(S.UP, final=True, desired_min_tx_us=300_000, required_min_rx_us=300_000, detect_mult=3))
    data = s.export()
    assert all(isinstance(v, (int, float, bool, type(None))) for v in data.values()), data  # JSON-able
    r = type(s).restore(data, FAST, half)
    assert (r.state, r.remote_discr, r.local_discr, r.next_tx, r.detect_at, r.up_since) == (
        s.state, s.remote_discr, s.local_discr, s.next_tx, s.detect_at, s.up_since)
    at = s.next_tx or 0
    assert sent(r.expire(at)) == sent(s.expire(at))
    assert r.detection_time_us == s.detection_time_us == 900_000
