"""Every (state, event) pair of the BFD state machine (RFC 5880 §6.2, §6.8.4, §6.8.6, §6.8.16),
checked in the table and through a session's public inputs."""

from __future__ import annotations

import pytest

from gracebgp.bfd import TABLE, BfdSession, Diag, Event, SessionState
from gracebgp.bfd.session import Output, StateChanged

from .helpers import T0, changes, feed, peer, sent, session, to_state

S, E, D = SessionState, Event, Diag

# (state, event) -> (next state, diag after, or None: unchanged). Restated from RFC 5880
# rather than read from the table, so the two are checked against each other.
EXPECTED: dict[tuple[SessionState, Event], tuple[SessionState, Diag | None]] = {
    (S.ADMIN_DOWN, E.RECV_ADMIN_DOWN): (S.ADMIN_DOWN, None),
    (S.ADMIN_DOWN, E.RECV_DOWN): (S.ADMIN_DOWN, None),
    (S.ADMIN_DOWN, E.RECV_INIT): (S.ADMIN_DOWN, None),
    (S.ADMIN_DOWN, E.RECV_UP): (S.ADMIN_DOWN, None),
    (S.ADMIN_DOWN, E.DETECTION_TIMEOUT): (S.ADMIN_DOWN, None),
    (S.ADMIN_DOWN, E.ADMIN_DISABLE): (S.ADMIN_DOWN, None),
    (S.ADMIN_DOWN, E.ADMIN_ENABLE): (S.DOWN, D.NONE),
    (S.DOWN, E.RECV_ADMIN_DOWN): (S.DOWN, None),
    (S.DOWN, E.RECV_DOWN): (S.INIT, None),
    (S.DOWN, E.RECV_INIT): (S.UP, D.NONE),
    (S.DOWN, E.RECV_UP): (S.DOWN, None),
    (S.DOWN, E.DETECTION_TIMEOUT): (S.DOWN, None),
    (S.DOWN, E.ADMIN_DISABLE): (S.ADMIN_DOWN, D.ADMINISTRATIVELY_DOWN),
    (S.DOWN, E.ADMIN_ENABLE): (S.DOWN, None),
    (S.INIT, E.RECV_ADMIN_DOWN): (S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (S.INIT, E.RECV_DOWN): (S.INIT, None),
    (S.INIT, E.RECV_INIT): (S.UP, D.NONE),
    (S.INIT, E.RECV_UP): (S.UP, D.NONE),
    (S.INIT, E.DETECTION_TIMEOUT): (S.DOWN, D.CONTROL_DETECTION_TIME_EXPIRED),
    (S.INIT, E.ADMIN_DISABLE): (S.ADMIN_DOWN, D.ADMINISTRATIVELY_DOWN),
    (S.INIT, E.ADMIN_ENABLE): (S.INIT, None),
    (S.UP, E.RECV_ADMIN_DOWN): (S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (S.UP, E.RECV_DOWN): (S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN),
    (S.UP, E.RECV_INIT): (S.UP, None),
    (S.UP, E.RECV_UP): (S.UP, None),
    (S.UP, E.DETECTION_TIMEOUT): (S.DOWN, D.CONTROL_DETECTION_TIME_EXPIRED),
    (S.UP, E.ADMIN_DISABLE): (S.ADMIN_DOWN, D.ADMINISTRATIVELY_DOWN),
    (S.UP, E.ADMIN_ENABLE): (S.UP, None),
}


def test_table_is_complete_and_as_specified() -> None:
    """DESIGN.md rule 3: every state x event pair has an entry."""
    assert set(TABLE) == {(s, e) for s in SessionState for e in Event} == set(EXPECTED)
    for key, (nxt, diag) in EXPECTED.items():
        assert (TABLE[key].next_state, TABLE[key].diag) == (nxt, diag), key


def _drive(state: SessionState, event: Event) -> tuple[BfdSession, Diag | int, list[Output]]:
    s = to_state(session(), state)
    before_diag = s.local_diag
    out: list[Output]
    if event <= E.RECV_UP:
        out = feed(s, peer(SessionState(int(event))), T0 + 0.1)
    elif event is E.DETECTION_TIMEOUT:
        if s.detect_at is None:  # fresh Down / AdminDown: no Detection Time is running
            assert state in (S.DOWN, S.ADMIN_DOWN)
            if state is S.DOWN:
                feed(s, peer(S.ADMIN_DOWN))  # heard once: the Detection Time starts
        out = s.expire(T0 + 3600)
    elif event is E.ADMIN_DISABLE:
        out = s.disable(T0 + 0.1)
    else:
        out = s.enable(T0 + 0.1)
    return s, before_diag, out


@pytest.mark.parametrize(("state", "event"), sorted(EXPECTED))
def test_every_pair_through_the_session(state: SessionState, event: Event) -> None:
    s, before_diag, out = _drive(state, event)
    nxt, diag = EXPECTED[(state, event)]
    assert s.state == nxt
    assert s.local_diag == (before_diag if diag is None else diag)
    assert changes(out) == ([] if nxt == state else [(state, nxt)])
    if nxt != state:
        # a change is told to the peer at once, in the new state (the Passive role aside)
        assert [p.state for p in sent(out)][:1] == [nxt]


def test_admin_down_ignores_packets_but_learns_the_remote() -> None:
    s = to_state(session(), S.ADMIN_DOWN)
    out = feed(s, peer(S.UP, desired_min_tx_us=50_000, control_plane_independent=True))
    assert out == [] and s.state == S.ADMIN_DOWN
    assert s.remote_state == S.UP and s.remote_c and s.remote_desired_min_tx_us == 50_000
    assert s.detect_at is None


def test_detection_timeout_in_down_clears_remote_discriminator() -> None:
    s = session()
    feed(s, peer(S.ADMIN_DOWN))
    assert s.remote_discr != 0
    s.expire(s.detect_at or 0)
    assert s.remote_discr == 0 and s.state == S.DOWN


def test_up_to_down_counts_a_flap_and_reports_the_remote_c_bit() -> None:
    s = to_state(session(), S.UP)
    feed(s, peer(S.UP, control_plane_independent=True))
    out = feed(s, peer(S.DOWN, diag=Diag.PATH_DOWN, control_plane_independent=True), T0 + 1)
    change = next(o for o in out if isinstance(o, StateChanged))
    assert (change.new, change.diag, change.remote_diag, change.remote_c) == (
        S.DOWN, D.NEIGHBOR_SIGNALED_SESSION_DOWN, D.PATH_DOWN, True)
    assert s.flaps == 1 and s.up_since is None
