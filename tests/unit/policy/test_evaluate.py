"""Evaluation order, fall-through, defaults, the trace, the counters and the attribute
verdict a caller may cache."""

from __future__ import annotations

import pytest

from gracebgp.policy import (
    AddressSet,
    Assignment,
    Disposition,
    MatchCommunitySet,
    MatchNeighborSet,
    MatchOption,
    MatchPrefixSet,
    NextHopInList,
    NextHopKind,
    Policy,
    PrefixSet,
    ResultMemo,
    SetLocalPref,
    SetMed,
    SetNextHop,
    SetOp,
    Statement,
    TextSet,
    attr_verdict,
    default_disposition,
    evaluate,
    set_community,
)
from gracebgp.policy.conditions import AsPathLength, Comparison

from .helpers import EBGP, IBGP, attrs, route

ACCEPT, REJECT, NONE = Disposition.ACCEPT, Disposition.REJECT, Disposition.NONE
PODS = PrefixSet.parse("pods", (("10.0.0.0/8", "24..32"),))
TAGGED = TextSet.communities("tagged", ("65000:666",))


def _stmt(name: str, *conds: object, actions: tuple[object, ...] = (),
          disposition: Disposition = NONE) -> Statement:
    return Statement(name, conds, actions, disposition)  # type: ignore[arg-type]


def test_no_policies_uses_the_default() -> None:
    a = attrs(1)
    accept = evaluate(Assignment(), route("10.1.1.0/24"), a)
    assert accept.accepted and accept.by_default and accept.attrs is a
    assert not evaluate(Assignment((), REJECT), route("10.1.1.0/24"), a).accepted


def test_first_statement_with_a_disposition_decides() -> None:
    pol = Policy("p", (_stmt("reject-tagged", MatchCommunitySet(TAGGED), disposition=REJECT),
                       _stmt("accept-pods", MatchPrefixSet(PODS), disposition=ACCEPT)))
    assignment = Assignment((pol,), REJECT)
    assert evaluate(assignment, route("10.1.1.0/24"), attrs(1)).accepted
    assert not evaluate(assignment, route("10.1.1.0/24"), attrs(1, comms=("65000:666",))).accepted
    outside = evaluate(assignment, route("192.0.2.0/24"), attrs(1))
    assert not outside.accepted and outside.by_default


def test_statement_without_disposition_applies_and_falls_through() -> None:
    p1 = Policy("p1", (_stmt("tag", actions=(set_community(SetOp.ADD, ("65000:1",)),)),
                       _stmt("med", actions=(SetMed("50"),))))
    p2 = Policy("p2", (_stmt("lp", MatchPrefixSet(PODS), actions=(SetLocalPref(300),),
                             disposition=ACCEPT),
                       _stmt("never", actions=(SetMed("999"),), disposition=ACCEPT)))
    d = evaluate(Assignment((p1, p2), REJECT), route("10.1.1.0/24"), attrs(1))
    assert d.accepted and not d.by_default
    assert d.attrs.communities == (0xFDE80001,) and d.attrs.med == 50 and d.attrs.local_pref == 300
    # Nothing decides: the default does, and the fall-through changes stay.
    d = evaluate(Assignment((p1,), ACCEPT), route("192.0.2.0/24"), attrs(1))
    assert d.accepted and d.by_default and d.attrs.med == 50


def test_later_statements_see_the_changed_attributes() -> None:
    pol = Policy("p", (_stmt("tag", actions=(set_community(SetOp.ADD, ("65000:666",)),)),
                       _stmt("drop-tagged", MatchCommunitySet(TAGGED), disposition=REJECT)))
    a = attrs(1)
    assignment = Assignment((pol,))
    verdict = attr_verdict(assignment, a, EBGP)
    assert verdict == ((True, False),)  # on the original attributes, the tag is absent
    assert not evaluate(assignment, route("10.1.1.0/24"), a, verdict).accepted


def test_reject_returns_the_original_attributes() -> None:
    pol = Policy("p", (_stmt("r", actions=(SetMed("1"),), disposition=REJECT),))
    a = attrs(1, med=5)
    d = evaluate(Assignment((pol,)), route("10.1.1.0/24"), a)
    assert not d.accepted and d.attrs is a


def test_conditions_are_anded_and_empty_conditions_match_all() -> None:
    pol = Policy("p", (_stmt("both", MatchPrefixSet(PODS), AsPathLength(Comparison.LE, 1),
                             disposition=ACCEPT),))
    assignment = Assignment((pol,), REJECT)
    assert evaluate(assignment, route("10.1.1.0/24"), attrs(1)).accepted
    assert not evaluate(assignment, route("10.1.1.0/24"), attrs(1, 2)).accepted
    assert not evaluate(assignment, route("11.1.1.0/24"), attrs(1)).accepted


def test_next_hop_choice_and_next_hop_condition_after_it() -> None:
    pol = Policy("p", (
        _stmt("nh", actions=(SetNextHop.parse("198.51.100.1"),)),
        _stmt("moved", NextHopInList(AddressSet("l", ("198.51.100.0/24",))), disposition=REJECT),
    ))
    d = evaluate(Assignment((pol,)), route("10.1.1.0/24", nh="192.0.2.254"), attrs(1))
    assert not d.accepted  # the second statement saw the new next hop
    pol = Policy("p", (_stmt("self", actions=(SetNextHop.parse("self"),), disposition=ACCEPT),))
    d = evaluate(Assignment((pol,)), route("10.1.1.0/24"), attrs(1))
    assert d.next_hop is not None and d.next_hop.kind is NextHopKind.SELF


def test_cached_verdict_gives_the_same_decisions() -> None:
    pol = Policy("p", (
        _stmt("peer", MatchNeighborSet(AddressSet("n", ("192.0.2.1",)), MatchOption.INVERT),
              disposition=REJECT),
        _stmt("tagged", MatchCommunitySet(TAGGED), MatchPrefixSet(PODS), actions=(SetLocalPref(7),),
              disposition=ACCEPT),
    ))
    assignment = Assignment((pol,), REJECT)
    for a in (attrs(1), attrs(1, comms=("65000:666",))):
        for source in (EBGP, IBGP):
            verdict = attr_verdict(assignment, a, source)
            for prefix in ("10.1.1.0/24", "10.1.1.0/23", "192.0.2.0/24"):
                r = route(prefix, source)
                assert evaluate(assignment, r, a, verdict) == evaluate(assignment, r, a)


def test_the_verdict_spares_the_attribute_conditions() -> None:
    """With a verdict saying "no", a statement's attribute conditions are not run: a
    verdict claiming the community condition holds makes the statement match."""
    pol = Policy("p", (_stmt("tagged", MatchCommunitySet(TAGGED), disposition=REJECT),))
    assignment = Assignment((pol,))
    a = attrs(1)
    assert evaluate(assignment, route("10.1.1.0/24"), a).accepted
    assert not evaluate(assignment, route("10.1.1.0/24"), a, ((True,),)).accepted


def test_trace_only_when_asked() -> None:
    p1 = Policy("p1", (_stmt("miss", MatchCommunitySet(TAGGED), disposition=REJECT),
                       _stmt("tag", actions=(set_community(SetOp.ADD, ("65000:1",)),))))
    p2 = Policy("p2", (_stmt("accept-pods", MatchPrefixSet(PODS), disposition=ACCEPT),
                       _stmt("unreached", disposition=REJECT)))
    assignment = Assignment((p1, p2))
    assert evaluate(assignment, route("10.1.1.0/24"), attrs(1)).trace is None
    d = evaluate(assignment, route("10.1.1.0/24"), attrs(1), explain=True)
    assert d.trace is not None
    assert [(s.policy, s.statement, s.matched, s.decided) for s in d.trace] == [
        ("p1", "miss", False, NONE), ("p1", "tag", True, NONE), ("p2", "accept-pods", True, ACCEPT)]
    assert d.trace[1].actions == ("set-community add 65000:1",)


def test_counters_count_matches_only() -> None:
    hit = _stmt("hit", MatchPrefixSet(PODS))
    miss = _stmt("miss", MatchCommunitySet(TAGGED))
    assignment = Assignment((Policy("p", (hit, miss)),))
    for prefix in ("10.1.1.0/24", "10.2.2.0/24", "192.0.2.0/24"):
        evaluate(assignment, route(prefix), attrs(1))
    assert hit.counter.matches == 2 and miss.counter.matches == 0


def test_statement_names_are_unique_and_default_is_a_decision() -> None:
    with pytest.raises(ValueError, match="used twice"):
        Policy("p", (_stmt("a"), _stmt("a")))
    with pytest.raises(ValueError):
        Assignment((), NONE)


@pytest.mark.parametrize(("external", "has", "rfc8212", "expected"), [
    (True, False, False, ACCEPT),   # GoBGP's default
    (True, False, True, REJECT),    # RFC 8212 §3
    (True, True, True, ACCEPT),
    (False, False, True, ACCEPT),   # iBGP is not concerned
])
def test_default_disposition(external: bool, has: bool, rfc8212: bool, expected: Disposition) -> None:
    assert default_disposition(external, has, rfc8212) is expected


def test_result_memo_is_keyed_by_attributes_and_applied_statements() -> None:
    pol = Policy("p", (_stmt("lp", MatchPrefixSet(PODS), actions=(SetLocalPref(300),)),
                       _stmt("med", actions=(SetMed("9"),), disposition=ACCEPT)))
    assignment = Assignment((pol,))
    memo: ResultMemo = {}
    a = attrs(1)
    first = evaluate(assignment, route("10.1.1.0/24"), a, results=memo)
    assert first.attrs.local_pref == 300 and first.attrs.med == 9
    assert set(memo) == {(a, ((0, 0), (0, 1)))}
    other = evaluate(assignment, route("192.0.2.0/24"), a, results=memo)  # only "med" applies
    assert other.attrs.local_pref is None and other.attrs.med == 9
    assert len(memo) == 2
    # The memo is what is returned for a known key: a planted entry proves it is read.
    planted = attrs(1, med=12345)
    memo[(a, ((0, 0), (0, 1)))] = planted
    assert evaluate(assignment, route("10.2.2.0/24"), a, results=memo).attrs is planted
    assert evaluate(assignment, route("10.2.2.0/24"), a).attrs == first.attrs
