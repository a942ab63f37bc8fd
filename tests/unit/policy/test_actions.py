"""Each action on a Draft of a real AttrSet, and interning of the results."""

from __future__ import annotations

import pytest

from gracebgp.policy import (
    Draft,
    NextHopKind,
    PrependAsPath,
    SetLocalPref,
    SetMed,
    SetNextHop,
    SetOp,
    set_community,
    set_ext_community,
    set_large_community,
)
from gracebgp.policy.actions import prepend
from gracebgp.policy.textsets import parse_ext_community
from gracebgp.wire import As4Path, AsPath, AttrSet, NextHop, Origin
from gracebgp.wire.communities import parse_community
from gracebgp.wire.iana import AttrType

from .helpers import attrs


def _run(action: object, base: AttrSet) -> AttrSet:
    draft = Draft(base)
    action.apply(draft)  # type: ignore[attr-defined]
    return draft.result()


def _comms(a: AttrSet) -> tuple[int, ...]:
    return a.communities


C = parse_community


def test_community_add_keeps_order_and_skips_present_values() -> None:
    out = _run(set_community(SetOp.ADD, ("65000:2", "65000:1", "65000:3")), attrs(1, comms=("65000:1",)))
    assert _comms(out) == (C("65000:1"), C("65000:2"), C("65000:3"))


def test_community_add_creates_the_attribute() -> None:
    out = _run(set_community(SetOp.ADD, ("no-export",)), attrs(1))
    assert _comms(out) == (C("NO_EXPORT"),)


def test_community_replace_and_replace_with_nothing() -> None:
    base = attrs(1, comms=("65000:1", "65000:2"))
    assert _comms(_run(set_community(SetOp.REPLACE, ("65001:9",)), base)) == (C("65001:9"),)
    cleared = _run(set_community(SetOp.REPLACE, ()), base)
    assert cleared.get(AttrType.COMMUNITIES) is None


def test_community_remove_takes_regexes_and_exact_values() -> None:
    base = attrs(1, comms=("65000:1", "65000:10", "65100:5", "65200:5"))
    out = _run(set_community(SetOp.REMOVE, ("65000:1", "^65100:.*$")), base)
    assert _comms(out) == (C("65000:10"), C("65200:5"))  # "65000:1" is exact: 65000:10 stays
    gone = _run(set_community(SetOp.REMOVE, (".*",)), base)
    assert gone.get(AttrType.COMMUNITIES) is None  # emptied: removed, never empty


def test_ext_community_actions() -> None:
    rt1, rt2 = parse_ext_community("rt:65000:1"), parse_ext_community("rt:65000:2")
    out = _run(set_ext_community(SetOp.ADD, ("rt:65000:2",)), attrs(1, ext=(rt1,)))
    assert out.extended_communities == (rt1, rt2)
    out = _run(set_ext_community(SetOp.REMOVE, ("rt:^65000:1$",)), attrs(1, ext=(rt1, rt2)))
    assert out.extended_communities == (rt2,)
    out = _run(set_ext_community(SetOp.REPLACE, ("soo:65000:7",)), attrs(1, ext=(rt1,)))
    assert out.extended_communities == (parse_ext_community("soo:65000:7"),)


def test_large_community_actions() -> None:
    out = _run(set_large_community(SetOp.ADD, ("65000:0:1",)), attrs(1, large=((1, 2, 3),)))
    assert out.large_communities == ((1, 2, 3), (65000, 0, 1))
    out = _run(set_large_community(SetOp.REMOVE, ("^1:.*$",)), out)
    assert out.large_communities == ((65000, 0, 1),)
    out = _run(set_large_community(SetOp.REPLACE, ("7:7:7",)), out)
    assert out.large_communities == ((7, 7, 7),)


def test_bad_action_values_are_errors() -> None:
    with pytest.raises(ValueError):
        set_community(SetOp.ADD, ("65536:1",))
    with pytest.raises(ValueError):
        set_large_community(SetOp.ADD, ("1:2",))
    with pytest.raises(ValueError):
        set_ext_community(SetOp.ADD, ("zz:1:1",))


@pytest.mark.parametrize(("text", "before", "after"), [
    ("100", 5, 100),
    ("100", None, 100),
    ("+10", 5, 15),
    ("+10", None, 10),          # no MED: counted from 0
    ("-10", 5, 5),              # below 0: not applied (GoBGP's rule)
    ("+10", 0xFFFFFFFA, 0xFFFFFFFA),  # above 2^32-1: not applied
    ("-10", None, None),        # no MED, and 0 - 10 is below 0: still none
    ("-3", 10, 7),
])
def test_set_med(text: str, before: int | None, after: int | None) -> None:
    assert _run(SetMed(text), attrs(1, med=before)).med == after


@pytest.mark.parametrize("text", ["abc", "+", "4294967296", "1.5"])
def test_set_med_refuses_bad_values(text: str) -> None:
    with pytest.raises(ValueError):
        SetMed(text)


def test_set_local_pref() -> None:
    assert _run(SetLocalPref(200), attrs(1)).local_pref == 200
    assert _run(SetLocalPref(50), attrs(1, lp=100)).local_pref == 50
    with pytest.raises(ValueError):
        SetLocalPref(-1)


@pytest.mark.parametrize(("text", "kind", "address"), [
    ("self", NextHopKind.SELF, ""),
    ("unchanged", NextHopKind.UNCHANGED, ""),
    ("192.0.2.9", NextHopKind.ADDRESS, "192.0.2.9"),
    ("2001:db8::1", NextHopKind.ADDRESS, "2001:db8::1"),
])
def test_set_next_hop_is_recorded_not_written(text: str, kind: NextHopKind, address: str) -> None:
    base = attrs(1)
    draft = Draft(base)
    SetNextHop.parse(text).apply(draft)
    assert draft.next_hop is not None and draft.next_hop.kind is kind
    assert draft.next_hop.address == address
    assert draft.result() is base  # the attributes themselves did not change


def test_set_next_hop_refuses_other_words() -> None:
    with pytest.raises(ValueError):
        SetNextHop.parse("peer-address")


def test_prepend_as_and_last_as() -> None:
    out = _run(PrependAsPath.parse("65000", 2), attrs(65001, 65002))
    assert out.as_path == ((2, (65000, 65000, 65001, 65002)),)
    out = _run(PrependAsPath.parse("last-as", 3), attrs(65001, 65002))
    assert out.as_path == ((2, (65001, 65001, 65001, 65001, 65002)),)


def test_prepend_in_front_of_a_set_and_on_empty_paths() -> None:
    assert prepend(((1, (7, 8)),), 65000, 1) == ((2, (65000,)), (1, (7, 8)))
    assert _run(PrependAsPath.parse("65000"), attrs()).as_path == ((2, (65000,)),)
    base = attrs()
    assert _run(PrependAsPath.parse("last-as"), base) is base  # nothing to repeat
    led_by_set = attrs(segments=((1, (7, 8)), (2, (9,))))
    assert _run(PrependAsPath.parse("last-as"), led_by_set) is led_by_set
    confed_first = attrs(segments=((3, (64512,)), (2, (65001, 2))))
    out = _run(PrependAsPath.parse("last-as"), confed_first)
    assert out.as_path == ((2, (65001,)), (3, (64512,)), (2, (65001, 2)))


def test_prepend_splits_segments_at_255() -> None:
    segments = prepend(((2, (1,) * 250),), 65000, 10)
    assert [len(asns) for _, asns in segments] == [255, 5]


def test_prepend_refuses_bad_values() -> None:
    with pytest.raises(ValueError):
        PrependAsPath.parse("x")
    with pytest.raises(ValueError):
        PrependAsPath(65000, 0)


def test_equal_results_are_one_interned_object() -> None:
    one = _run(SetLocalPref(321), attrs(65001, comms=("65000:1",)))
    two = _run(SetLocalPref(321), attrs(65001, comms=("65000:1",)))
    assert one is two
    assert _run(SetLocalPref(322), attrs(65001)) is not one


def test_no_change_gives_the_original_set() -> None:
    base = attrs(1, comms=("65000:1",))
    assert _run(set_community(SetOp.ADD, ("65000:1",)), base) is base
    same_med = attrs(1, med=7)
    assert _run(SetMed("7"), same_med) is same_med


def test_two_octet_session_set_is_edited_on_its_effective_path() -> None:
    # AS_PATH with AS_TRANS and the true path in AS4_PATH (RFC 6793 §4.2.3).
    base = AttrSet([Origin(0), AsPath(((2, (23456, 65001)),)), NextHop("192.0.2.1"),
                    As4Path(((2, (4200000000, 65001)),))], as4=False)
    out = _run(PrependAsPath.parse("65000"), base)
    assert out.as_path == ((2, (65000, 4200000000, 65001)),)
    assert out.get(AttrType.AS4_PATH) is None
