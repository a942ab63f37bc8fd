"""Each condition and each match-set-option, on real AttrSets."""

from __future__ import annotations

import pytest

from gracebgp.policy import (
    AddressSet,
    AfiSafiIn,
    AsPathLength,
    CommunityCount,
    Comparison,
    ExtCommunitySet,
    MatchAsPathSet,
    MatchCommunitySet,
    MatchExtCommunitySet,
    MatchLargeCommunitySet,
    MatchNeighborSet,
    MatchOption,
    MatchPrefixSet,
    NextHopInList,
    PrefixSet,
    RouteType,
    RouteTypeIs,
    TextSet,
)
from gracebgp.policy.textsets import parse_ext_community
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST

from .helpers import EBGP, IBGP, LOCAL, attrs, route

ANY, ALL, INVERT = MatchOption.ANY, MatchOption.ALL, MatchOption.INVERT
PSET = PrefixSet.parse("p", (("10.0.0.0/8", "16..24"),))
CSET = TextSet.communities("c", ("65000:1", "65000:2"))


@pytest.mark.parametrize(("option", "prefix", "expected"), [
    (ANY, "10.1.0.0/16", True), (ANY, "192.0.2.0/24", False),
    (INVERT, "10.1.0.0/16", False), (INVERT, "192.0.2.0/24", True),
])
def test_prefix_set(option: MatchOption, prefix: str, expected: bool) -> None:
    assert MatchPrefixSet(PSET, option).test(attrs(1), EBGP, route(prefix)) is expected


def test_prefix_and_neighbor_sets_refuse_all() -> None:
    with pytest.raises(ValueError, match="only any or invert"):
        MatchPrefixSet(PSET, ALL)
    with pytest.raises(ValueError, match="only any or invert"):
        MatchNeighborSet(AddressSet("n", ("192.0.2.1",)), ALL)


@pytest.mark.parametrize(("option", "source", "expected"), [
    (ANY, EBGP, True), (ANY, IBGP, False), (INVERT, EBGP, False), (INVERT, IBGP, True),
])
def test_neighbor_set(option: MatchOption, source: object, expected: bool) -> None:
    cond = MatchNeighborSet(AddressSet("n", ("192.0.2.0/24",)), option)
    assert cond.test(attrs(1), source, None) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("option", "comms", "expected"), [
    (ANY, ("65000:1",), True),
    (ANY, ("65000:3",), False),
    (ANY, (), False),
    (ALL, ("65000:1",), False),
    (ALL, ("65000:2", "65000:1", "65000:9"), True),
    (ALL, (), False),
    (INVERT, ("65000:3",), True),
    (INVERT, ("65000:2",), False),
    (INVERT, (), True),
])
def test_community_set_options(option: MatchOption, comms: tuple[str, ...], expected: bool) -> None:
    assert MatchCommunitySet(CSET, option).test(attrs(1, comms=comms), EBGP, None) is expected


def test_community_regex_entry() -> None:
    cond = MatchCommunitySet(TextSet.communities("r", ("^65100:.*$",)))
    assert cond.test(attrs(1, comms=("65100:42",)), EBGP, None)
    assert not cond.test(attrs(1, comms=("65101:42",)), EBGP, None)


def test_large_community_set() -> None:
    lset = TextSet.large_communities("l", ("65000:1:1", "^65000:2:.*$"))
    a = attrs(1, large=((65000, 2, 77),))
    assert MatchLargeCommunitySet(lset, ANY).test(a, EBGP, None)
    assert not MatchLargeCommunitySet(lset, ALL).test(a, EBGP, None)
    assert MatchLargeCommunitySet(lset, ALL).test(attrs(1, large=((65000, 2, 7), (65000, 1, 1))), EBGP, None)
    assert MatchLargeCommunitySet(lset, INVERT).test(attrs(1), EBGP, None)


def test_ext_community_set() -> None:
    eset = ExtCommunitySet("e", ("rt:65000:100", "soo:65000:1"))
    rt = parse_ext_community("rt:65000:100")
    soo = parse_ext_community("soo:65000:1")
    assert MatchExtCommunitySet(eset, ANY).test(attrs(1, ext=(rt,)), EBGP, None)
    assert not MatchExtCommunitySet(eset, ALL).test(attrs(1, ext=(rt,)), EBGP, None)
    assert MatchExtCommunitySet(eset, ALL).test(attrs(1, ext=(rt, soo)), EBGP, None)
    assert MatchExtCommunitySet(eset, INVERT).test(attrs(1), EBGP, None)
    assert not MatchExtCommunitySet(eset, INVERT).test(attrs(1, ext=(soo,)), EBGP, None)


def test_as_path_set_options() -> None:
    aset = TextSet.as_paths("a", ("^65001_", "_65003$"))
    assert MatchAsPathSet(aset, ANY).test(attrs(65001, 2), EBGP, None)
    assert not MatchAsPathSet(aset, ALL).test(attrs(65001, 2), EBGP, None)
    assert MatchAsPathSet(aset, ALL).test(attrs(65001, 2, 65003), EBGP, None)
    assert MatchAsPathSet(aset, INVERT).test(attrs(2, 65001), EBGP, None)


@pytest.mark.parametrize(("op", "value", "expected"), [
    (Comparison.EQ, 3, True), (Comparison.EQ, 2, False),
    (Comparison.GE, 3, True), (Comparison.GE, 4, False),
    (Comparison.LE, 3, True), (Comparison.LE, 2, False),
])
def test_as_path_length(op: Comparison, value: int, expected: bool) -> None:
    # 65001 65002 {7,8}: two ASes and one AS_SET counting 1 (RFC 4271 §9.1.2.2 a).
    a = attrs(segments=((2, (65001, 65002)), (1, (7, 8))))
    assert AsPathLength(op, value).test(a, EBGP, None) is expected


def test_as_path_length_ignores_confederation_segments() -> None:
    a = attrs(segments=((3, (64512, 64513)), (2, (65001,))))
    assert AsPathLength(Comparison.EQ, 1).test(a, EBGP, None)


@pytest.mark.parametrize(("op", "value", "expected"), [
    (Comparison.EQ, 2, True), (Comparison.GE, 3, False), (Comparison.LE, 2, True),
    (Comparison.LE, 1, False),
])
def test_community_count(op: Comparison, value: int, expected: bool) -> None:
    a = attrs(1, comms=("65000:1", "65000:2"))
    assert CommunityCount(op, value).test(a, EBGP, None) is expected


def test_community_count_of_none_is_zero() -> None:
    assert CommunityCount(Comparison.EQ, 0).test(attrs(1), EBGP, None)


@pytest.mark.parametrize(("rtype", "source", "expected"), [
    (RouteType.EXTERNAL, EBGP, True), (RouteType.EXTERNAL, IBGP, False),
    (RouteType.INTERNAL, IBGP, True), (RouteType.INTERNAL, LOCAL, False),
    (RouteType.LOCAL, LOCAL, True), (RouteType.LOCAL, EBGP, False),
])
def test_route_type(rtype: RouteType, source: object, expected: bool) -> None:
    assert RouteTypeIs(rtype).test(attrs(), source, None) is expected  # type: ignore[arg-type]


def test_afi_safi_in() -> None:
    cond = AfiSafiIn(frozenset({IPV6_UNICAST}))
    assert cond.test(attrs(), EBGP, route("2001:db8::/32"))
    assert not cond.test(attrs(), EBGP, route("10.0.0.0/8"))
    assert AfiSafiIn(frozenset({IPV4_UNICAST, IPV6_UNICAST})).test(attrs(), EBGP, route("10.0.0.0/8"))


def test_next_hop_in_list() -> None:
    cond = NextHopInList(AddressSet("nh", ("192.0.2.254", "198.51.100.0/24")))
    assert cond.test(attrs(), EBGP, route("10.0.0.0/8", nh="192.0.2.254"))
    assert cond.test(attrs(), EBGP, route("10.0.0.0/8", nh="198.51.100.9"))
    assert not cond.test(attrs(), EBGP, route("10.0.0.0/8", nh="192.0.2.253"))


def test_attribute_only_conditions_say_so() -> None:
    assert MatchPrefixSet.per_route and AfiSafiIn.per_route and NextHopInList.per_route
    for cls in (MatchNeighborSet, MatchCommunitySet, MatchExtCommunitySet, MatchLargeCommunitySet,
                MatchAsPathSet, AsPathLength, CommunityCount, RouteTypeIs):
        assert not cls.per_route
