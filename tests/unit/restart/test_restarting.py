"""Selection deferral after our own restart (``restart.restarting``): whom each family
waits for, when its gate opens, what ``status()`` tells an operator, and that the next
deadline always moves on.

RFC 4724 §4.1 (Selection_Deferral_Timer, a peer with R set waits for us too), spec
section 4 (a)-(c) and problem 2 (never wait for an End-of-RIB the peer cannot send).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gracebgp.restart.restarting import Deferral, PeerView, Waiting, wait_set
from gracebgp.session.negotiate import Negotiated
from gracebgp.types import Family

from .test_helper import BOTH, V4, V6, negotiated

T0 = 1000.0
EST = T0 + 30  # establish deadline
DEADLINE = T0 + 360  # Selection_Deferral_Timer
ALL_EORS = "End-of-RIB received from every peer in the wait set"
NO_ONE_OWES = "no peer owes an End-of-RIB (none negotiated GR for it, or all restarting)"


def up(address: str, neg: Negotiated | None = None, eor: Iterable[Family] = ()) -> PeerView:
    """An Established peer (GR for both families unless ``neg`` says otherwise)."""
    return PeerView(address, True, True, neg if neg is not None else negotiated(llgr=None),
                    frozenset(eor), True)


def not_up(address: str, *, enabled: bool = True, gr: bool = True, ever: bool = False) -> PeerView:
    return PeerView(address, enabled, gr, None, frozenset(), ever)


def deferral(families: tuple[Family, ...] = BOTH) -> Deferral:
    return Deferral(T0, DEADLINE, EST, families)


# --- the wait set (spec section 4 (a)-(c)) ------------------------------------------------------

def test_spec4_wait_set_established_gr_peer_without_eor_is_waited_for() -> None:
    assert wait_set(V4, [up("p")], T0, EST) == [Waiting("p", "End-of-RIB")]
    assert wait_set(V6, [up("p")], T0, EST) == [Waiting("p", "End-of-RIB")]


def test_spec4_a_family_not_negotiated_on_the_session_is_not_waited_for() -> None:
    p = up("p", negotiated(theirs=(V4,), llgr=None))
    assert wait_set(V4, [p], T0, EST) == [Waiting("p", "End-of-RIB")]
    assert wait_set(V6, [p], T0, EST) == []


def test_spec4_b_family_not_in_peer_gr_capability_is_not_waited_for() -> None:
    p = up("p", negotiated(gr_families=(V4,), llgr=None))
    assert wait_set(V6, [p], T0, EST) == []
    assert wait_set(V4, [up("q", negotiated(gr=False))], T0, EST) == []  # no GR capability at all


def test_rfc4724_4_1_spec4_c_peer_that_set_r_is_not_waited_for() -> None:
    assert wait_set(V4, [up("p", negotiated(r=True, llgr=None))], T0, EST) == []


def test_spec4_eor_received_removes_the_peer_from_that_family_only() -> None:
    p = up("p", eor=(V4,))
    assert wait_set(V4, [p], T0, EST) == []
    assert wait_set(V6, [p], T0, EST) == [Waiting("p", "End-of-RIB")]


def test_spec4_peer_not_established_is_waited_for_only_until_the_establish_deadline() -> None:
    p = not_up("p")
    assert wait_set(V4, [p], T0, EST) == [Waiting("p", "not Established yet")]
    assert wait_set(V4, [p], EST - 0.001, EST) == [Waiting("p", "not Established yet")]
    assert wait_set(V4, [p], EST, EST) == []


@pytest.mark.parametrize("view", [not_up("p", enabled=False), not_up("p", gr=False), not_up("p", ever=True)],
                         ids=["disabled", "no-gr-configured", "was-established-since-our-start"])
def test_spec4_peer_not_established_that_is_never_waited_for(view: PeerView) -> None:
    assert wait_set(V4, [view], T0, EST) == []


# --- problem 2: the six silent minutes ---------------------------------------------------------

def test_spec_problem2_configured_but_unnegotiated_family_never_waited_for() -> None:
    """We configured IPv4 and IPv6, the switch negotiated IPv4 only: IPv6 selection opens at
    once, IPv4 as soon as its End-of-RIB arrives; nobody waits for the 360 s timer."""
    d = deferral()
    peer = negotiated(ours=BOTH, theirs=(V4,), llgr=None)
    assert d.evaluate([up("tor", peer)], T0 + 1) == [(V6, NO_ONE_OWES)]
    assert not d.is_open(V4) and d.is_open(V6) and not d.done
    assert d.evaluate([up("tor", peer, eor=(V4,))], T0 + 2) == [(V4, ALL_EORS)]
    assert d.done and d.next_deadline() is None
    assert d.opened[V4][0] - d.started == 2  # not 360


# --- gates ------------------------------------------------------------------------------------

def test_rfc4724_4_1_deferral_timer_opens_every_family() -> None:
    d = deferral()
    views = [up("p"), not_up("q")]
    assert d.evaluate(views, DEADLINE - 1) == []
    assert d.evaluate(views, DEADLINE) == [(V4, "Selection_Deferral_Timer expired"),
                                           (V6, "Selection_Deferral_Timer expired")]
    assert d.done


def test_spec4_a_gate_opens_once_and_never_closes() -> None:
    d = deferral((V4,))
    assert d.evaluate([up("p", eor=(V4,))], T0 + 5) == [(V4, ALL_EORS)]
    assert d.evaluate([up("p")], T0 + 6) == []  # a new session without EoR: still open
    assert d.evaluate([up("p")], DEADLINE) == []
    assert d.is_open(V4) and d.opened[V4] == (T0 + 5, ALL_EORS)


def test_spec4_dead_neighbor_holds_selection_only_until_the_establish_deadline() -> None:
    d = deferral((V4,))
    views = [up("p", eor=(V4,)), not_up("dead")]
    assert d.evaluate(views, T0 + 1) == []
    assert d.evaluate(views, EST) == [(V4, ALL_EORS)]


def test_spec4_no_peer_at_all_opens_at_once() -> None:
    d = deferral()
    assert [f for f, _ in d.evaluate([], T0)] == [V4, V6]


# --- status: "what are we waiting for?" -------------------------------------------------------

def test_spec4_status_says_whom_each_family_waits_for_and_when_the_timer_fires() -> None:
    d = deferral()
    views = [up("p", eor=(V4,)), up("q"), not_up("dead")]
    d.evaluate(views, T0 + 10)
    assert d.status(views, T0 + 10) == [
        {"family": "ipv4-unicast", "deferring": True,
         "waiting_for": [{"peer": "q", "reason": "End-of-RIB"},
                         {"peer": "dead", "reason": "not Established yet"}],
         "eor_received_from": ["p"], "deferral_expires_in": 350.0, "selection_done_after": None,
         "reason": None},
        {"family": "ipv6-unicast", "deferring": True,
         "waiting_for": [{"peer": "p", "reason": "End-of-RIB"}, {"peer": "q", "reason": "End-of-RIB"},
                         {"peer": "dead", "reason": "not Established yet"}],
         "eor_received_from": [], "deferral_expires_in": 350.0, "selection_done_after": None, "reason": None},
    ]
    views = [up("p", eor=(V4,)), up("q", eor=(V4,)), not_up("dead")]
    d.evaluate(views, EST + 0.5)
    v4, v6 = d.status(views, EST + 0.5)
    assert v4 == {"family": "ipv4-unicast", "deferring": False, "waiting_for": [],
                  "eor_received_from": ["p", "q"], "deferral_expires_in": None,
                  "selection_done_after": 30.5, "reason": ALL_EORS}
    assert v6["deferring"] is True and v6["waiting_for"] == [{"peer": "p", "reason": "End-of-RIB"},
                                                             {"peer": "q", "reason": "End-of-RIB"}]
    assert v6["deferral_expires_in"] == 329.5
    assert d.status(views, DEADLINE + 100)[1]["deferral_expires_in"] == 0.0  # never negative


# --- next_deadline never stays in the past ----------------------------------------------------

def _drive(d: Deferral, views: list[PeerView]) -> list[float]:
    """What the runtime does: wake at next_deadline(), evaluate, ask again."""
    seen: list[float] = []
    while (due := d.next_deadline()) is not None:
        assert not seen or due > seen[-1], f"deadline {due} did not move on after {seen}"
        seen.append(due)
        d.evaluate(views, due)
        assert len(seen) <= 3
    return seen


def test_spec4_next_deadline_moves_on_after_evaluate_at_that_time() -> None:
    d = deferral()
    assert _drive(d, [up("p"), not_up("dead")]) == [EST, DEADLINE]
    assert d.done


def test_spec4_next_deadline_after_establish_deadline_is_the_deferral_timer() -> None:
    d = deferral()
    d.evaluate([up("p")], EST + 1)  # woken late, for another reason
    assert d.next_deadline() == DEADLINE


def test_spec4_next_deadline_when_establish_deadline_is_after_the_timer() -> None:
    d = Deferral(T0, T0 + 10, T0 + 30, BOTH)
    assert _drive(d, [up("p")]) == [T0 + 10]


@given(deferral_time=st.floats(0, 1000), establish_wait=st.floats(0, 1000),
       eor=st.sets(st.sampled_from(BOTH)), with_dead=st.booleans(), r=st.booleans())
def test_spec4_next_deadline_always_terminates(deferral_time: float, establish_wait: float,
                                               eor: set[Family], with_dead: bool, r: bool) -> None:
    d = Deferral(T0, T0 + deferral_time, T0 + establish_wait, BOTH)
    views = [up("p", negotiated(r=r, llgr=None), eor=eor)] + ([not_up("dead")] if with_dead else [])
    _drive(d, views)
    assert d.done and d.next_deadline() is None
