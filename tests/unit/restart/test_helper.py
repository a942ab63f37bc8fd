"""The graceful-restart helper table (``restart.helper``), rule by rule.

RFC 4724 §4.2 (retain, restart timer, re-established session, End-of-RIB, consecutive
restarts), RFC 9494 §4.2 (GR period, then LLGR period, per-family timers), spec
sections 3 and 5. Pure: no Speaker, no I/O, times are plain floats.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from gracebgp.restart.helper import TABLE, Action, Event, GrHelper, Phase, Step
from gracebgp.rib.adj_rib_in import AdjRibIn
from gracebgp.rib.path import PathTable
from gracebgp.session.config import GrConfig, SessionConfig
from gracebgp.session.negotiate import Negotiated, build_open, negotiate
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire import (
    AttrSet,
    Capability,
    FourOctetAs,
    GracefulRestart,
    LongLivedGracefulRestart,
    Multiprotocol,
    Open,
    Origin,
)

V4, V6 = IPV4_UNICAST, IPV6_UNICAST
BOTH = (V4, V6)
F_BIT = 0x80
T0 = 1000.0


def negotiated(*, ours: tuple[Family, ...] = BOTH, theirs: tuple[Family, ...] = BOTH,
               gr: bool = True, restart_time: int = 120, gr_families: tuple[Family, ...] | None = None,
               forwarding: tuple[Family, ...] | None = None, r: bool = False, n: bool = True,
               llgr: Mapping[Family, tuple[int, bool]] | None = None, our_llgr: bool = True,
               our_gr: bool = True, our_n: bool = True) -> Negotiated:
    """The Negotiated value of a session between us (AS 65001, GR for ``ours`` and, with
    ``our_llgr``, LLGR 3600 s for them) and a peer (AS 65002) that sends Multiprotocol for
    ``theirs``, and (with ``gr``) a GR capability listing ``gr_families`` (default:
    ``theirs``) with F set for ``forwarding`` (default: all listed), R=``r``, N=``n``;
    ``llgr`` maps a family to (Long-lived Stale Time, F) of the peer's LLGR capability."""
    cfg = SessionConfig(65001, "10.0.0.1", "192.0.2.2", 65002, families=ours,
                        graceful_restart=GrConfig(120, notification=our_n, forwarding=frozenset(ours))
                        if our_gr else None,
                        llgr=tuple((f, 3600) for f in ours) if our_llgr and our_gr else ())
    caps: list[Capability] = [Multiprotocol(f.afi, f.safi) for f in theirs]
    if gr:
        listed = theirs if gr_families is None else gr_families
        fwd = listed if forwarding is None else forwarding
        flags = (0x8 if r else 0) | (0x4 if n else 0)
        caps.append(GracefulRestart(flags, restart_time,
                                    tuple((f.afi, f.safi, F_BIT if f in fwd else 0) for f in listed)))
    caps.append(FourOctetAs(65002))
    if llgr:
        caps.append(LongLivedGracefulRestart(tuple(
            (f.afi, f.safi, F_BIT if fbit else 0, t) for f, (t, fbit) in llgr.items())))
    peer = Open.build(65002, 90, "10.0.0.2", tuple(caps))
    return negotiate(cfg, build_open(cfg), peer)


def down(h: GrHelper, neg: Negotiated, now: float = T0, retained: bool = True,
         families: tuple[Family, ...] = BOTH) -> list[Step]:
    return h.session_down(families, neg, retained, now)


# --- the table ------------------------------------------------------------------------------

S, L, W = Phase.STALE, Phase.LLGR, Phase.AWAIT_EOR
PHASES: tuple[Phase | None, ...] = (None, S, L, W)

#: The transitions of spec sections 3 and 5, written out here independently of the code.
EXPECTED: dict[tuple[Phase | None, Event], tuple[Phase | None, Action]] = {
    **{(p, Event.DOWN_RETAIN): (S, Action.MARK) for p in PHASES},
    **{(p, Event.DOWN_LLGR): (L, Action.MARK_LLGR) for p in PHASES},
    **{(p, Event.DOWN_DELETE): (None, Action.DELETE) for p in PHASES},
    (S, Event.RESTART_TIMER): (None, Action.PURGE),
    (S, Event.RESTART_TIMER_LLGR): (L, Action.TO_LLGR),
    (L, Event.LLGR_TIMER): (None, Action.PURGE),
    (S, Event.UP_COVERED): (W, Action.NONE),
    (L, Event.UP_COVERED): (W, Action.NONE),
    (S, Event.UP_NOT_COVERED): (None, Action.PURGE),
    (L, Event.UP_NOT_COVERED): (None, Action.PURGE),
    (W, Event.EOR): (None, Action.PURGE),
    (W, Event.STALE_TIMER): (None, Action.PURGE),
    # RFC 9494 §4.2: the Long-lived Stale Time timer runs on after re-establishment, and
    # a new session loss during it keeps the LLGR-stale routes and the timer.
    (W, Event.LLGR_TIMER): (None, Action.PURGE),
    (W, Event.DOWN_IN_LLGR): (L, Action.MARK_KEEP_LLGR),
}

PAIRS = [(p, e) for p in PHASES for e in Event]


def test_spec3_5_table_is_exactly_the_documented_transitions() -> None:
    assert TABLE == EXPECTED


@pytest.mark.parametrize(("phase", "event"), PAIRS,
                         ids=[f"{p.value if p else 'none'}-{e.value}" for p, e in PAIRS])
def test_spec3_5_every_phase_event_pair(phase: Phase | None, event: Event) -> None:
    """A listed pair gives the listed phase and action; an unlisted one changes nothing."""
    h = GrHelper()
    if phase is not None:
        h.phases[V4] = phase
    if phase is L:
        h.llgr_deadlines[V4] = 5000.0
    h.phases[V6] = W  # a bystander family never moves
    before_phases, before_llgr = dict(h.phases), dict(h.llgr_deadlines)
    step = h.step(V4, event)
    hit = EXPECTED.get((phase, event))
    if hit is None:
        assert step is None
        assert h.phases == before_phases and h.llgr_deadlines == before_llgr
        return
    nxt, action = hit
    assert step == Step(V4, event, action, nxt)
    assert h.phases.get(V4) is nxt
    assert h.phases[V6] is W
    # an LLGR deadline survives until the episode ends or a GR period starts over
    assert (V4 in h.llgr_deadlines) == (phase is L and nxt in (L, W))


# --- session down: mark, LLGR at once, or delete ----------------------------------------------

def test_rfc4724_4_2_down_retained_marks_every_gr_family_stale_and_starts_restart_timer() -> None:
    h = GrHelper()
    steps = down(h, negotiated(llgr=None))
    assert steps == [Step(V4, Event.DOWN_RETAIN, Action.MARK, S), Step(V6, Event.DOWN_RETAIN, Action.MARK, S)]
    assert h.active and h.phases == {V4: S, V6: S}
    assert h.restart_time == 120
    assert h.restart_deadline == T0 + 120 and h.next_deadline() == T0 + 120
    assert h.stale_deadline is None and h.llgr_deadlines == {}


def test_rfc4724_4_down_not_retained_deletes_every_family() -> None:
    h = GrHelper()
    steps = down(h, negotiated(), retained=False)
    assert [(s.family, s.event, s.action, s.phase) for s in steps] == [
        (V4, Event.DOWN_DELETE, Action.DELETE, None), (V6, Event.DOWN_DELETE, Action.DELETE, None)]
    assert not h.active and h.next_deadline() is None


def test_spec3_mark_family_missing_from_peer_gr_capability_is_deleted_now() -> None:
    h = GrHelper()
    steps = down(h, negotiated(gr_families=(V4,), llgr=None))
    assert [(s.family, s.action) for s in steps] == [(V4, Action.MARK), (V6, Action.DELETE)]
    assert h.phases == {V4: S}


def test_rfc4724_4_2_peer_restart_time_zero_without_llgr_deletes() -> None:
    h = GrHelper()
    steps = down(h, negotiated(restart_time=0, llgr=None))
    assert {s.action for s in steps} == {Action.DELETE}
    assert h.restart_deadline is None and not h.active


# --- restart timer ---------------------------------------------------------------------------

def test_rfc4724_4_2_restart_timer_purges_stale_routes_when_no_llgr() -> None:
    h = GrHelper()
    down(h, negotiated(llgr=None))
    assert h.timers(T0 + 119.9) == []
    assert h.phases == {V4: S, V6: S}
    steps = h.timers(T0 + 120)
    assert steps == [Step(V4, Event.RESTART_TIMER, Action.PURGE, None),
                     Step(V6, Event.RESTART_TIMER, Action.PURGE, None)]
    assert not h.active and h.restart_deadline is None and h.next_deadline() is None
    assert h.timers(T0 + 1000) == []


def test_rfc4724_4_2_restart_timer_stops_when_peer_is_back() -> None:
    h = GrHelper()
    neg = negotiated(llgr=None)
    down(h, neg)
    h.established(neg, T0 + 10, stale_path_time=360)
    assert h.restart_deadline is None
    assert h.timers(T0 + 120) == []  # the restart timer no longer fires
    assert h.phases == {V4: W, V6: W}


# --- re-established session ------------------------------------------------------------------

def test_rfc4724_4_2_reestablished_covered_families_wait_for_eor_under_stale_path_timer() -> None:
    h = GrHelper()
    neg = negotiated(llgr=None)
    down(h, neg)
    steps = h.established(neg, T0 + 10, stale_path_time=360)
    assert steps == [Step(V4, Event.UP_COVERED, Action.NONE, W), Step(V6, Event.UP_COVERED, Action.NONE, W)]
    assert h.waiting_for_eor() == [V4, V6]
    assert h.stale_deadline == T0 + 370 and h.next_deadline() == T0 + 370


def test_spec3_stale_path_timer_purges_what_is_still_stale() -> None:
    h = GrHelper()
    neg = negotiated(llgr=None)
    down(h, neg)
    h.established(neg, T0 + 10, stale_path_time=360)
    assert h.timers(T0 + 369) == []
    steps = h.timers(T0 + 370)
    assert steps == [Step(V4, Event.STALE_TIMER, Action.PURGE, None),
                     Step(V6, Event.STALE_TIMER, Action.PURGE, None)]
    assert not h.active and h.stale_deadline is None and h.next_deadline() is None


def test_rfc4724_4_2_reestablished_with_f_bit_zero_purges_that_family() -> None:
    h = GrHelper()
    down(h, negotiated(llgr=None))
    steps = h.established(negotiated(forwarding=(V4,), llgr=None), T0 + 10, 360)
    assert steps == [Step(V4, Event.UP_COVERED, Action.NONE, W),
                     Step(V6, Event.UP_NOT_COVERED, Action.PURGE, None)]
    assert h.phases == {V4: W}


def test_rfc4724_4_2_reestablished_without_the_family_purges_it() -> None:
    h = GrHelper()
    down(h, negotiated(llgr=None))
    steps = h.established(negotiated(theirs=(V4,), llgr=None), T0 + 10, 360)  # not negotiated
    assert [(s.family, s.action) for s in steps] == [(V4, Action.NONE), (V6, Action.PURGE)]
    h2 = GrHelper()
    down(h2, negotiated(llgr=None))
    steps = h2.established(negotiated(gr_families=(V4,), llgr=None), T0 + 10, 360)  # not in GR cap
    assert [(s.family, s.action) for s in steps] == [(V4, Action.NONE), (V6, Action.PURGE)]


def test_rfc4724_4_2_reestablished_without_gr_capability_purges_everything() -> None:
    h = GrHelper()
    down(h, negotiated(llgr=None))
    steps = h.established(negotiated(gr=False), T0 + 10, 360)
    assert [(s.event, s.action) for s in steps] == [(Event.UP_NOT_COVERED, Action.PURGE)] * 2
    assert steps[0].phase is None and not h.active
    assert h.stale_deadline is None and h.next_deadline() is None


# --- End-of-RIB -------------------------------------------------------------------------------

def test_rfc4724_4_2_eor_purges_only_its_own_family() -> None:
    h = GrHelper()
    neg = negotiated(llgr=None)
    down(h, neg)
    h.established(neg, T0 + 10, 360)
    assert h.end_of_rib(V4) == Step(V4, Event.EOR, Action.PURGE, None)
    assert h.phases == {V6: W} and h.waiting_for_eor() == [V6]
    assert h.stale_deadline == T0 + 370  # still bounding the wait for the IPv6 EoR
    assert h.end_of_rib(V6) == Step(V6, Event.EOR, Action.PURGE, None)
    assert not h.active and h.stale_deadline is None and h.next_deadline() is None


def test_rfc4724_4_2_eor_outside_a_restart_does_nothing() -> None:
    h = GrHelper()
    assert h.end_of_rib(V4) is None
    neg = negotiated(llgr=None)
    down(h, neg)
    assert h.end_of_rib(V4) is None  # peer still away: STALE does not take an EoR
    assert h.phases == {V4: S, V6: S}


# --- consecutive restarts -------------------------------------------------------------------

def test_rfc4724_4_2_consecutive_restart_marks_again_and_sweeps_what_is_still_stale() -> None:
    """The helper answers a second session loss with MARK again; carried out with the
    Adj-RIB-In primitive, MARK deletes the routes left stale by the first restart."""
    h = GrHelper()
    neg = negotiated(llgr=None)
    adj = AdjRibIn()
    path = PathTable().get(AttrSet((Origin(0),)), ("192.0.2.1",))
    adj.announce([1, 2, 3], path)
    assert down(h, neg)[0].action is Action.MARK
    adj.begin_refresh()
    h.established(neg, T0 + 10, 360)
    adj.announce([1], path)  # re-learned on the new session; 2 and 3 not yet
    steps = down(h, neg, now=T0 + 20)  # the session drops again before the EoR
    assert steps[0] == Step(V4, Event.DOWN_RETAIN, Action.MARK, S)
    assert h.restart_deadline == T0 + 20 + 120  # a fresh restart timer
    assert h.stale_deadline is None
    assert sorted(adj.begin_refresh()) == [2, 3]  # still stale from the first restart: deleted
    assert adj.routes.keys() == {1} and adj.is_stale(1)


# --- RFC 9494 long-lived GR -------------------------------------------------------------------

LLGR_BOTH = {V4: (100, True), V6: (200, True)}


def test_rfc9494_4_2_restart_time_zero_with_llgr_goes_llgr_stale_at_once() -> None:
    h = GrHelper()
    steps = down(h, negotiated(restart_time=0, llgr=LLGR_BOTH))
    assert steps == [Step(V4, Event.DOWN_LLGR, Action.MARK_LLGR, L),
                     Step(V6, Event.DOWN_LLGR, Action.MARK_LLGR, L)]
    assert h.restart_deadline is None
    assert h.llgr_deadlines == {V4: T0 + 100, V6: T0 + 200}
    assert h.next_deadline() == T0 + 100


def test_rfc9494_4_2_family_not_in_gr_capability_but_in_llgr_goes_llgr_stale_at_once() -> None:
    # "the GR Restart Time shall be deemed zero for those AFIs/SAFIs that are not listed"
    h = GrHelper()
    steps = down(h, negotiated(gr_families=(V4,), llgr=LLGR_BOTH))
    assert [(s.family, s.action, s.phase) for s in steps] == [(V4, Action.MARK, S),
                                                              (V6, Action.MARK_LLGR, L)]
    assert h.restart_deadline == T0 + 120 and h.llgr_deadlines == {V6: T0 + 200}


def test_rfc9494_4_2_restart_timer_moves_to_llgr_with_its_own_deadline() -> None:
    h = GrHelper()
    down(h, negotiated(llgr={V4: (100, True)}))  # V6 not listed: its LLST is deemed zero
    steps = h.timers(T0 + 120)
    assert steps == [Step(V4, Event.RESTART_TIMER_LLGR, Action.TO_LLGR, L),
                     Step(V6, Event.RESTART_TIMER, Action.PURGE, None)]
    # the LLGR period starts when the GR period ends, not when the session went down
    assert h.llgr_deadlines == {V4: T0 + 120 + 100}
    assert h.restart_deadline is None and h.next_deadline() == T0 + 220


def test_rfc9494_4_2_llgr_timer_purges() -> None:
    h = GrHelper()
    down(h, negotiated(llgr={V4: (100, True)}), families=(V4,))
    h.timers(T0 + 120)
    assert h.timers(T0 + 219) == []
    assert h.timers(T0 + 220) == [Step(V4, Event.LLGR_TIMER, Action.PURGE, None)]
    assert not h.active and h.llgr_deadlines == {} and h.next_deadline() is None


def test_rfc9494_4_2_llgr_timers_are_per_family() -> None:
    h = GrHelper()
    down(h, negotiated(restart_time=0, llgr=LLGR_BOTH))
    assert h.timers(T0 + 100) == [Step(V4, Event.LLGR_TIMER, Action.PURGE, None)]
    assert h.phases == {V6: L} and h.next_deadline() == T0 + 200
    assert h.timers(T0 + 200) == [Step(V6, Event.LLGR_TIMER, Action.PURGE, None)]


def test_rfc9494_4_2_llgr_stale_time_zero_means_gr_only() -> None:
    h = GrHelper()
    down(h, negotiated(llgr={V4: (0, True), V6: (0, True)}))
    assert [s.event for s in h.timers(T0 + 120)] == [Event.RESTART_TIMER] * 2


@pytest.mark.parametrize(("our_llgr", "peer_llgr"), [(False, True), (True, False)],
                         ids=["only-peer", "only-us"])
def test_rfc9494_4_1_llgr_only_when_both_sides_advertised_it(our_llgr: bool, peer_llgr: bool) -> None:
    llgr = LLGR_BOTH if peer_llgr else None
    h = GrHelper()
    down(h, negotiated(llgr=llgr, our_llgr=our_llgr))
    assert [s.event for s in h.timers(T0 + 120)] == [Event.RESTART_TIMER] * 2  # PURGE, no LLGR
    assert not h.active and h.llgr_deadlines == {}
    h = GrHelper()
    steps = down(h, negotiated(restart_time=0, llgr=llgr, our_llgr=our_llgr))
    assert {s.action for s in steps} == {Action.DELETE}  # no GR period and no LLGR period


def test_rfc9494_4_1_llgr_without_gr_capability_is_disregarded() -> None:
    h = GrHelper()
    steps = down(h, negotiated(gr=False, llgr=LLGR_BOTH))
    assert {s.action for s in steps} == {Action.DELETE}


def test_rfc9494_4_2_reestablished_during_llgr_waits_for_eor() -> None:
    h = GrHelper()
    neg = negotiated(restart_time=0, llgr=LLGR_BOTH)
    down(h, neg)
    steps = h.established(neg, T0 + 50, 360)
    assert [(s.event, s.phase) for s in steps] == [(Event.UP_COVERED, W)] * 2
    assert h.end_of_rib(V4) == Step(V4, Event.EOR, Action.PURGE, None)


def test_rfc9494_4_2_reestablished_during_llgr_with_llgr_f_bit_zero_purges() -> None:
    h = GrHelper()
    down(h, negotiated(restart_time=0, gr_families=(), llgr=LLGR_BOTH))
    new = negotiated(restart_time=0, gr_families=(), llgr={V4: (100, False), V6: (200, True)})
    steps = h.established(new, T0 + 50, 360)
    assert [(s.family, s.action, s.phase) for s in steps] == [(V4, Action.PURGE, None), (V6, Action.NONE, W)]


def test_rfc9494_4_2_reestablished_during_llgr_without_llgr_capability_purges() -> None:
    """RFC 9494 §4.2: "once the LLGR Period begins, the Helper MUST immediately remove all
    the stale routes ... if ... a specific address family is not included in the newly
    received LLGR Capability"."""
    h = GrHelper()
    down(h, negotiated(restart_time=0, llgr=LLGR_BOTH))
    assert h.phases == {V4: L, V6: L}
    steps = h.established(negotiated(restart_time=0, llgr=None), T0 + 50, 360)  # GR F=1, no LLGR
    assert [s.action for s in steps] == [Action.PURGE, Action.PURGE]


def test_rfc9494_4_2_llgr_timer_keeps_running_after_reestablish_until_eor() -> None:
    """RFC 9494 §4.2: "the timer continues to run once the session has re-established. The
    timer is neither stopped nor updated until the EoR marker is received ... If the timer
    expires during synchronization with the peer, any stale routes that the peer has not
    refreshed are removed." """
    h = GrHelper()
    neg = negotiated(restart_time=0, llgr={V4: (100, True)})
    down(h, neg, families=(V4,))
    h.established(neg, T0 + 90, stale_path_time=360)
    assert h.next_deadline() == T0 + 100
    assert [s.action for s in h.timers(T0 + 100)] == [Action.PURGE]


# --- bookkeeping ------------------------------------------------------------------------------

def test_spec3_forget_ends_the_episode() -> None:
    h = GrHelper()
    down(h, negotiated(restart_time=30, llgr={V4: (0, True), V6: (100, True)}, gr_families=(V4,)))
    assert h.next_deadline() == T0 + 30
    h.forget()
    assert not h.active and h.next_deadline() is None and h.timers(T0 + 10_000) == []


def test_spec3_timers_never_leave_a_past_deadline_behind() -> None:
    """Whatever timers() does at its next deadline, that deadline is gone afterwards (the
    runtime would spin on a deadline that stays in the past)."""
    h = GrHelper()
    neg = negotiated(llgr={V4: (100, True)})
    down(h, neg)
    seen: list[float] = []
    while (due := h.next_deadline()) is not None:
        assert not seen or due > seen[-1]
        seen.append(due)
        h.timers(due)
        assert len(seen) < 10
    assert seen == [T0 + 120, T0 + 220]
