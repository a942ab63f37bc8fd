"""RFC 7606 outcomes for malformed UPDATEs: one test per error case, exact results.

Each test names the section it pins. Bytes are assembled by hand (wirebytes.py).
"""

from __future__ import annotations

import pytest

from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import CodecContext, UnknownAttribute, Update, UpdateAction, UpdateResult, parse_update
from gracebgp.wire.attrset import clear_caches
from gracebgp.wire.iana import AttrType, UpdateSubcode
from gracebgp.wire.nlri import format_prefix

from .wirebytes import (
    AS_PATH_2,
    AS_PATH_4,
    MANDATORY,
    NEXT_HOP,
    NLRI_10_0_1,
    NLRI_10_0_2,
    ORIGIN_IGP,
    V6_2001_DB8_1,
    attr,
    body,
    mp_reach_v6,
    mp_unreach_v6,
)

EBGP = CodecContext(as4=True, ibgp=False)
IBGP = CodecContext(as4=True, ibgp=True)
A = UpdateAction
S = UpdateSubcode


@pytest.fixture(autouse=True)
def _cold_caches() -> None:
    clear_caches()


def parse(b: bytes, ctx: CodecContext = EBGP) -> UpdateResult:
    result = parse_update(b, ctx)
    assert isinstance(result, UpdateResult)
    if result.action == A.SESSION_RESET:
        assert result.error is not None and result.error.code == 3
    else:
        assert result.error is None
    return result


def only_problem(result: UpdateResult) -> tuple[A, int, int | None, bytes]:
    assert len(result.problems) == 1, result.problems
    p = result.problems[0]
    return p.action, p.subcode, p.attr_type, p.data


def prefixes(result: UpdateResult) -> list[str]:
    assert result.update is not None
    return [format_prefix(k, 1) for k in result.update.nlri]


def test_valid_update_is_accepted() -> None:
    r = parse(body(attrs=MANDATORY, nlri=NLRI_10_0_1 + NLRI_10_0_2))
    assert r.action == A.ACCEPT and r.problems == ()
    assert prefixes(r) == ["10.0.1.0/24", "10.0.2.0/24"]


def test_the_hot_path_builds_what_the_constructors_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path makes its result by tuple.__new__ (every field given): the same values,
    of the same types, with every field where the constructors put it; for a block
    decoded and one found interned."""
    from gracebgp.wire import update as update_module

    made: list[type] = []

    def counted(cls: type, fields: tuple[object, ...]) -> object:
        made.append(cls)
        return tuple.__new__(cls, fields)

    monkeypatch.setattr(update_module, "_new", counted)
    b = body(attrs=MANDATORY, nlri=NLRI_10_0_1)
    decoded, interned = parse(b), parse(b)
    assert made == [Update, UpdateResult] * 2  # (both took the hot path)
    assert decoded.update is not None and interned.update is not None
    assert interned.update.attrs is decoded.update.attrs
    for r in (decoded, interned):
        u = r.update
        assert u is not None and u.attrs is not None
        assert type(r) is UpdateResult and type(u) is Update
        assert prefixes(r) == ["10.0.1.0/24"]
        assert r == UpdateResult(A.ACCEPT, Update((), u.attrs, u.nlri)) and r.eor is None
        assert (u.withdrawn, u.mp_reach, u.mp_unreach, u.layout) == ((), None, None, ())
        assert (r.problems, r.error) == ((), None)


# --- RFC 7606 §7.1-§7.14: per attribute ------------------------------------------------

def test_origin_bad_length_is_treat_as_withdraw_7_1() -> None:
    bad = attr(0x40, 1, b"\x00\x00")
    r = parse(body(attrs=bad + AS_PATH_4 + NEXT_HOP, nlri=NLRI_10_0_1))
    assert r.action == A.TREAT_AS_WITHDRAW
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.ATTRIBUTE_LENGTH_ERROR, 1, bad)
    assert prefixes(r) == ["10.0.1.0/24"]  # still known, so they can be withdrawn


def test_origin_undefined_value_7_1() -> None:
    bad = attr(0x40, 1, b"\x03")
    r = parse(body(attrs=bad + AS_PATH_4 + NEXT_HOP, nlri=NLRI_10_0_1))
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.INVALID_ORIGIN_ATTRIBUTE, 1, bad)


@pytest.mark.parametrize(("segments", "why"), [
    (b"\x05\x01" + (1).to_bytes(4, "big"), "unknown segment type"),
    (b"\x02\x00", "segment length zero"),
    (b"\x02\x02" + (1).to_bytes(4, "big"), "segment overrun"),
    (b"\x02\x01" + (1).to_bytes(4, "big") + b"\x02", "one octet left: underrun"),
])
def test_malformed_as_path_is_treat_as_withdraw_7_2(segments: bytes, why: str) -> None:
    bad = attr(0x40, 2, segments)
    r = parse(body(attrs=ORIGIN_IGP + bad + NEXT_HOP, nlri=NLRI_10_0_1))
    assert r.action == A.TREAT_AS_WITHDRAW, why
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.MALFORMED_AS_PATH, 2, bad)


def test_two_octet_as_path_decodes_on_a_two_octet_session() -> None:
    ctx = CodecContext(as4=False, ibgp=False)
    r = parse(body(attrs=ORIGIN_IGP + AS_PATH_2 + NEXT_HOP, nlri=NLRI_10_0_1), ctx)
    assert r.action == A.ACCEPT and r.update is not None and r.update.attrs is not None
    assert r.update.attrs.as_path == ((2, (65001,)),)


def test_next_hop_bad_length_7_3() -> None:
    bad = attr(0x40, 3, bytes([10, 0, 0, 1, 0]))
    r = parse(body(attrs=ORIGIN_IGP + AS_PATH_4 + bad, nlri=NLRI_10_0_1))
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.ATTRIBUTE_LENGTH_ERROR, 3, bad)


@pytest.mark.parametrize("address", [(0, 0, 0, 0), (0, 1, 2, 3), (224, 0, 0, 1), (255, 255, 255, 255)])
def test_next_hop_that_is_not_a_host_address_withdraws_4271_6_3(address: tuple[int, ...]) -> None:
    bad = attr(0x40, 3, bytes(address))
    r = parse(body(attrs=ORIGIN_IGP + AS_PATH_4 + bad, nlri=NLRI_10_0_1))
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.INVALID_NEXT_HOP_ATTRIBUTE, 3, bad)


def test_loopback_next_hop_is_accepted() -> None:
    r = parse(body(attrs=ORIGIN_IGP + AS_PATH_4 + attr(0x40, 3, bytes([127, 0, 0, 2])), nlri=NLRI_10_0_1))
    assert r.action == A.ACCEPT


def test_med_bad_length_7_4() -> None:
    bad = attr(0x80, 4, b"\x00\x00\x01")
    r = parse(body(attrs=MANDATORY + bad, nlri=NLRI_10_0_1))
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.ATTRIBUTE_LENGTH_ERROR, 4, bad)


def test_local_pref_from_ebgp_is_discarded_7_5() -> None:
    lp = attr(0x40, 5, (200).to_bytes(4, "big"))
    r = parse(body(attrs=MANDATORY + lp, nlri=NLRI_10_0_1), EBGP)
    assert r.action == A.ATTRIBUTE_DISCARD
    assert r.update is not None and r.update.attrs is not None
    assert r.update.attrs.local_pref is None
    assert prefixes(r) == ["10.0.1.0/24"]


def test_local_pref_from_ibgp_kept_and_bad_length_withdraws_7_5() -> None:
    lp = attr(0x40, 5, (200).to_bytes(4, "big"))
    ok = parse(body(attrs=MANDATORY + lp, nlri=NLRI_10_0_1), IBGP)
    assert ok.action == A.ACCEPT and ok.update is not None and ok.update.attrs is not None
    assert ok.update.attrs.local_pref == 200
    bad = attr(0x40, 5, b"\x00\x00\xc8")
    r = parse(body(attrs=MANDATORY + bad, nlri=NLRI_10_0_1), IBGP)
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.ATTRIBUTE_LENGTH_ERROR, 5, bad)


def test_atomic_aggregate_bad_length_is_discarded_7_6() -> None:
    bad = attr(0x40, 6, b"\x01")
    r = parse(body(attrs=MANDATORY + bad, nlri=NLRI_10_0_1))
    assert only_problem(r) == (A.ATTRIBUTE_DISCARD, S.ATTRIBUTE_LENGTH_ERROR, 6, bad)
    assert r.update is not None and r.update.attrs is not None
    assert AttrType.ATOMIC_AGGREGATE not in r.update.attrs.by_code
    assert prefixes(r) == ["10.0.1.0/24"]


@pytest.mark.parametrize(("as4", "length"), [(True, 6), (False, 8)])
def test_aggregator_wrong_length_for_the_session_is_discarded_7_7(as4: bool, length: int) -> None:
    bad = attr(0xC0, 7, bytes(length))
    path = AS_PATH_4 if as4 else AS_PATH_2
    r = parse(body(attrs=ORIGIN_IGP + path + NEXT_HOP + bad, nlri=NLRI_10_0_1),
              CodecContext(as4=as4))
    assert only_problem(r) == (A.ATTRIBUTE_DISCARD, S.ATTRIBUTE_LENGTH_ERROR, 7, bad)
    assert r.action == A.ATTRIBUTE_DISCARD


@pytest.mark.parametrize(("code", "value"), [
    (8, b"\x00\x01\x00"),  # COMMUNITIES: not a multiple of 4 (§7.8)
    (16, bytes(12)),  # EXTENDED COMMUNITIES: not a multiple of 8 (§7.14)
    (32, bytes(13)),  # LARGE_COMMUNITY: not a multiple of 12 (RFC 8092 §6)
])
def test_community_attributes_bad_length_withdraw(code: int, value: bytes) -> None:
    bad = attr(0xC0, code, value)
    r = parse(body(attrs=MANDATORY + bad, nlri=NLRI_10_0_1))
    assert r.action == A.TREAT_AS_WITHDRAW
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.OPTIONAL_ATTRIBUTE_ERROR, code, bad)


def test_zero_length_attribute_is_a_syntax_error_4() -> None:
    bad = attr(0xC0, 8, b"")
    r = parse(body(attrs=MANDATORY + bad, nlri=NLRI_10_0_1))
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.ATTRIBUTE_LENGTH_ERROR, 8, bad)


def test_empty_as_path_and_atomic_aggregate_are_valid_4() -> None:
    r = parse(body(attrs=ORIGIN_IGP + attr(0x40, 2, b"") + NEXT_HOP + attr(0x40, 6, b""),
                   nlri=NLRI_10_0_1), IBGP)
    assert r.action == A.ACCEPT


@pytest.mark.parametrize("code", [9, 10])
def test_route_reflection_attributes_from_ebgp_are_discarded_7_9_7_10(code: int) -> None:
    rr = attr(0x80, code, bytes([1, 1, 1, 1]))
    r = parse(body(attrs=MANDATORY + rr, nlri=NLRI_10_0_1), EBGP)
    assert only_problem(r)[:3] == (A.ATTRIBUTE_DISCARD, S.ATTRIBUTE_LENGTH_ERROR, code)
    assert r.update is not None and r.update.attrs is not None and code not in r.update.attrs.by_code


@pytest.mark.parametrize(("code", "value"), [(9, bytes(5)), (10, bytes(6))])
def test_route_reflection_attributes_malformed_from_ibgp_withdraw_7_9_7_10(code: int, value: bytes) -> None:
    bad = attr(0x80, code, value)
    r = parse(body(attrs=MANDATORY + bad, nlri=NLRI_10_0_1), IBGP)
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.ATTRIBUTE_LENGTH_ERROR, code, bad)


# --- §3 c: attribute flags --------------------------------------------------------------

@pytest.mark.parametrize(("flags", "code", "value", "action"), [
    (0xC0, 1, b"\x00", A.TREAT_AS_WITHDRAW),  # ORIGIN marked optional
    (0x80, 8, bytes(4), A.TREAT_AS_WITHDRAW),  # COMMUNITIES not transitive
    (0x00, 4, bytes(4), A.TREAT_AS_WITHDRAW),  # MED marked well-known non-transitive
    (0x40, 7, bytes(8), A.ATTRIBUTE_DISCARD),  # AGGREGATOR: §3 f, discard
])
def test_flag_conflicts_3c(flags: int, code: int, value: bytes, action: A) -> None:
    bad = attr(flags, code, value)
    others = MANDATORY if code != 1 else AS_PATH_4 + NEXT_HOP
    r = parse(body(attrs=others + bad, nlri=NLRI_10_0_1))
    assert code in {p.attr_type for p in r.problems}
    p = next(p for p in r.problems if p.attr_type == code)
    assert (p.action, p.subcode, p.data) == (action, S.ATTRIBUTE_FLAGS_ERROR, bad)
    assert r.action == action


def test_partial_and_extended_length_bits_do_not_conflict() -> None:
    comm = attr(0xF0, 8, (65000 << 16 | 1).to_bytes(4, "big"))  # O T P E
    r = parse(body(attrs=MANDATORY + comm, nlri=NLRI_10_0_1))
    assert r.action == A.ACCEPT and r.update is not None and r.update.attrs is not None
    assert r.update.attrs.communities == (65000 << 16 | 1,)


# --- §3 d: missing well-known mandatory attributes --------------------------------------

@pytest.mark.parametrize(("attrs", "missing"), [
    (AS_PATH_4 + NEXT_HOP, 1),
    (ORIGIN_IGP + NEXT_HOP, 2),
    (ORIGIN_IGP + AS_PATH_4, 3),
])
def test_missing_mandatory_attribute_withdraws_3d(attrs: bytes, missing: int) -> None:
    r = parse(body(attrs=attrs, nlri=NLRI_10_0_1))
    assert only_problem(r) == (A.TREAT_AS_WITHDRAW, S.MISSING_WELL_KNOWN_ATTRIBUTE, missing,
                               bytes([missing]))


def test_next_hop_not_needed_with_mp_reach_only() -> None:
    r = parse(body(attrs=mp_reach_v6(V6_2001_DB8_1) + ORIGIN_IGP + AS_PATH_4))
    assert r.action == A.ACCEPT
    assert r.update is not None and r.update.mp_reach is not None
    assert [format_prefix(k, 2) for k in r.update.mp_reach.nlri] == ["2001:db8:1::/48"]


def test_mp_reach_without_origin_withdraws_its_nlri_3d() -> None:
    r = parse(body(attrs=mp_reach_v6(V6_2001_DB8_1) + AS_PATH_4))
    assert r.action == A.TREAT_AS_WITHDRAW
    assert r.update is not None and r.update.mp_reach is not None and r.update.mp_reach.nlri


# --- §3 g: duplicates ------------------------------------------------------------------

def test_duplicate_attribute_keeps_the_first_3g() -> None:
    c1 = attr(0xC0, 8, (1).to_bytes(4, "big"))
    c2 = attr(0xC0, 8, (2).to_bytes(4, "big"))
    r = parse(body(attrs=MANDATORY + c1 + c2, nlri=NLRI_10_0_1))
    assert r.action == A.ATTRIBUTE_DISCARD
    assert only_problem(r) == (A.ATTRIBUTE_DISCARD, S.MALFORMED_ATTRIBUTE_LIST, 8, c2)
    assert r.update is not None and r.update.attrs is not None
    assert r.update.attrs.communities == (1,)


@pytest.mark.parametrize("mp", [mp_reach_v6(V6_2001_DB8_1), mp_unreach_v6(V6_2001_DB8_1)])
def test_duplicate_mp_attribute_resets_3g(mp: bytes) -> None:
    r = parse(body(attrs=mp + ORIGIN_IGP + AS_PATH_4 + mp))
    assert r.action == A.SESSION_RESET
    assert r.error is not None and r.error.subcode == S.MALFORMED_ATTRIBUTE_LIST


# --- §3 b, §3 i, §5.3: lengths and NLRI syntax ------------------------------------------

def test_withdrawn_routes_length_too_large_3b() -> None:
    b = (200).to_bytes(2, "big") + NLRI_10_0_1 + b"\x00\x00"
    r = parse(b)
    assert r.action == A.SESSION_RESET and r.update is None
    assert r.error is not None and (r.error.subcode, r.error.data) == (S.MALFORMED_ATTRIBUTE_LIST, b"")


def test_total_attribute_length_too_large_3b() -> None:
    b = b"\x00\x00" + (len(MANDATORY) + 1).to_bytes(2, "big") + MANDATORY
    r = parse(b)
    assert r.action == A.SESSION_RESET
    assert r.error is not None and r.error.subcode == S.MALFORMED_ATTRIBUTE_LIST


@pytest.mark.parametrize(("field", "nlri"), [
    ("nlri", bytes([33, 10, 0, 0, 0, 0])),  # length > 32
    ("nlri", bytes([24, 10, 0])),  # overruns the field
    ("withdrawn", bytes([25, 10, 0, 0])),  # overrun in Withdrawn Routes (§3 i)
])
def test_bad_nlri_length_resets_5_3(field: str, nlri: bytes) -> None:
    b = body(withdrawn=nlri, attrs=b"") if field == "withdrawn" else body(attrs=MANDATORY, nlri=nlri)
    r = parse(b)
    assert r.action == A.SESSION_RESET
    assert r.error is not None and r.error.subcode == S.INVALID_NETWORK_FIELD


@pytest.mark.parametrize(("mp", "why"), [
    (mp_reach_v6(bytes([129]) + bytes(17)), "IPv6 prefix length 129"),
    (mp_reach_v6(bytes([64, 0x20])), "NLRI overruns the attribute"),
    (mp_reach_v6(V6_2001_DB8_1, next_hop=bytes(5)), "next hop length 5 (§7.11)"),
    (attr(0x80, 14, b"\x00\x02\x01\x10"), "MP_REACH shorter than 5"),
    (attr(0x80, 15, b"\x00\x02"), "MP_UNREACH shorter than 3"),
])
def test_incorrect_mp_attribute_resets_with_optional_attribute_error(mp: bytes, why: str) -> None:
    r = parse(body(attrs=mp + ORIGIN_IGP + AS_PATH_4))
    assert r.action == A.SESSION_RESET, why
    assert r.error is not None and r.error.subcode == S.OPTIONAL_ATTRIBUTE_ERROR
    assert r.error.data == mp  # the erroneous attribute


V4_NLRI = bytes([24, 10, 0, 1])
V6_NH = bytes.fromhex("20010db8000000000000000000000001")
V6_LL = bytes.fromhex("fe800000000000000000000000000001")


def mp_reach_v4(next_hop: bytes, safi: int = 1) -> bytes:
    return attr(0x80, 14, b"\x00\x01" + bytes([safi, len(next_hop)]) + next_hop + b"\x00" + V4_NLRI)


@pytest.mark.parametrize("next_hop", [V6_NH, V6_NH + V6_LL], ids=["16", "32"])
@pytest.mark.parametrize("safi", [1, 2])
def test_ipv6_next_hop_for_ipv4_without_extended_next_hop_resets_7_11(next_hop: bytes, safi: int) -> None:
    # Issue 11 finding 9. RFC 7606 §7.11: the length "expected" is the one the AFI/SAFI
    # defines (4 for AFI 1) unless an extension is in use (RFC 8950, negotiated per
    # family, §4); the NLRI cannot be located reliably, so "session reset" MUST be used,
    # with Optional Attribute Error (RFC 4760 §7).
    mp = mp_reach_v4(next_hop, safi)
    r = parse(body(attrs=mp + ORIGIN_IGP + AS_PATH_4))
    assert r.action == A.SESSION_RESET
    assert r.error is not None and (r.error.subcode, r.error.data) == (S.OPTIONAL_ATTRIBUTE_ERROR, mp)
    assert "Extended Next Hop" in r.error.reason


@pytest.mark.parametrize("next_hop", [V6_NH, V6_NH + V6_LL], ids=["16", "32"])
def test_ipv6_next_hop_for_ipv4_with_extended_next_hop_is_accepted_rfc8950(next_hop: bytes) -> None:
    ctx = CodecContext(extended_next_hop=frozenset({IPV4_UNICAST}))
    r = parse(body(attrs=mp_reach_v4(next_hop) + ORIGIN_IGP + AS_PATH_4), ctx)
    assert r.action == A.ACCEPT and r.update is not None and r.update.mp_reach is not None
    assert r.update.mp_reach.next_hop[0] == "2001:db8::1"
    assert [format_prefix(k, 1) for k in r.update.mp_reach.nlri] == ["10.0.1.0/24"]
    # Negotiated for unicast only: IPv4 multicast still expects 4 octets.
    assert parse(body(attrs=mp_reach_v4(next_hop, 2) + ORIGIN_IGP + AS_PATH_4), ctx).action == A.SESSION_RESET


@pytest.mark.parametrize("ctx", [EBGP, CodecContext(extended_next_hop=frozenset({IPV4_UNICAST}))])
def test_ipv4_next_hop_in_mp_reach_is_accepted_with_or_without_extended_next_hop(ctx: CodecContext) -> None:
    r = parse(body(attrs=mp_reach_v4(bytes([192, 0, 2, 1])) + ORIGIN_IGP + AS_PATH_4), ctx)
    assert r.action == A.ACCEPT and r.update is not None and r.update.mp_reach is not None
    assert r.update.mp_reach.next_hop == ("192.0.2.1",)


@pytest.mark.parametrize("next_hop", [bytes(4), V6_NH + bytes(8)], ids=["4", "24"])
def test_ipv6_needs_a_16_or_32_octet_next_hop_7_11(next_hop: bytes) -> None:
    mp = mp_reach_v6(V6_2001_DB8_1, next_hop=next_hop)
    r = parse(body(attrs=mp + ORIGIN_IGP + AS_PATH_4))
    assert r.action == A.SESSION_RESET
    assert r.error is not None and (r.error.subcode, r.error.data) == (S.OPTIONAL_ATTRIBUTE_ERROR, mp)


def test_mp_attribute_with_wrong_flags_resets_5_3() -> None:
    mp = mp_reach_v6(V6_2001_DB8_1, flags=0xC0)
    r = parse(body(attrs=mp + ORIGIN_IGP + AS_PATH_4))
    assert r.action == A.SESSION_RESET
    assert r.error is not None and (r.error.subcode, r.error.data) == (S.ATTRIBUTE_FLAGS_ERROR, mp)


# --- §4: attribute lengths vs the Total Attribute Length --------------------------------

def test_attribute_overrunning_the_block_withdraws_4() -> None:
    # The last attribute says 4 octets of value but only 2 remain before the NLRI.
    block = MANDATORY + bytes([0xC0, 8, 4, 0, 1])
    b = b"\x00\x00" + len(block).to_bytes(2, "big") + block + NLRI_10_0_1
    r = parse(b)
    assert r.action == A.TREAT_AS_WITHDRAW
    assert only_problem(r)[:3] == (A.TREAT_AS_WITHDRAW, S.ATTRIBUTE_LENGTH_ERROR, 8)
    assert prefixes(r) == ["10.0.1.0/24"]  # the NLRI was found via Total Attribute Length


def test_attribute_header_underrun_withdraws_4() -> None:
    block = MANDATORY + b"\xc0\x08"
    r = parse(b"\x00\x00" + len(block).to_bytes(2, "big") + block + NLRI_10_0_1)
    assert only_problem(r)[:2] == (A.TREAT_AS_WITHDRAW, S.MALFORMED_ATTRIBUTE_LIST)


# --- §5.2: errors in an UPDATE without reachable NLRI -----------------------------------

def test_withdraw_only_update_with_bad_attribute_resets_5_2() -> None:
    r = parse(body(withdrawn=NLRI_10_0_1, attrs=attr(0x40, 1, b"\x07")))
    assert r.action == A.SESSION_RESET
    assert r.error is not None and r.error.subcode == S.INVALID_ORIGIN_ATTRIBUTE


def test_withdraw_only_update_with_discard_error_is_not_reset_5_2() -> None:
    r = parse(body(withdrawn=NLRI_10_0_1, attrs=attr(0x40, 6, b"\x01")))
    assert r.action == A.ATTRIBUTE_DISCARD
    assert r.update is not None and [format_prefix(k, 1) for k in r.update.withdrawn] == ["10.0.1.0/24"]


# --- §3 h: the strongest action wins ----------------------------------------------------

def test_strongest_action_wins_3h() -> None:
    r = parse(body(attrs=MANDATORY + attr(0x40, 6, b"\x01") + attr(0xC0, 8, b"\x00"), nlri=NLRI_10_0_1))
    assert r.action == A.TREAT_AS_WITHDRAW
    assert {p.action for p in r.problems} == {A.ATTRIBUTE_DISCARD, A.TREAT_AS_WITHDRAW}


BAD_COMMUNITIES = attr(0xC0, 8, b"\x01")  # c0080101: treat-as-withdraw (RFC 7606 §7.8)
WELL_KNOWN_77 = attr(0x40, 77, b"\x78")  # 404d0178: session reset (RFC 4271 §6.3)


@pytest.mark.parametrize("order", ["withdraw error first", "reset error first"])
def test_notification_names_the_error_that_resets_3h(order: str) -> None:
    # Issue 11 finding 8: the NOTIFICATION named the treat-as-withdraw error (3/9 c0080101).
    errors = BAD_COMMUNITIES + WELL_KNOWN_77
    if order == "reset error first":
        errors = WELL_KNOWN_77 + BAD_COMMUNITIES
    r = parse(body(attrs=MANDATORY + errors, nlri=NLRI_10_0_1))
    assert r.action == A.SESSION_RESET
    assert r.error is not None
    assert (r.error.code, r.error.subcode, r.error.data.hex()) == (3, 2, "404d0178")
    assert "77" in r.error.reason


_FLAGS_MP = mp_reach_v6(V6_2001_DB8_1, flags=0xC0)
_NH5_MP = mp_reach_v6(V6_2001_DB8_1, next_hop=bytes(5))
_BAD_LARGE = attr(0xC0, 32, bytes(5))  # LARGE_COMMUNITIES not 12n: treat-as-withdraw


@pytest.mark.parametrize(("errors", "subcode", "data"), [
    # bad LARGE_COMMUNITIES, then an MP_REACH whose flags are wrong (RFC 7606 §5.3)
    (_BAD_LARGE + _FLAGS_MP, S.ATTRIBUTE_FLAGS_ERROR, _FLAGS_MP),
    # a short MED, then an MP_REACH whose next hop length is impossible (RFC 7606 §7.11)
    (attr(0x80, 4, b"\x00") + _NH5_MP, S.OPTIONAL_ATTRIBUTE_ERROR, _NH5_MP),
    # an unrecognized well-known attribute, then one overrunning the block (§4)
    (attr(0x40, 99, b"x") + bytes([0xC0, 8, 4, 0, 1]), S.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
     attr(0x40, 99, b"x")),
    # bad COMMUNITIES, then MP_REACH twice (§3 g; the data is empty)
    (BAD_COMMUNITIES + mp_reach_v6(V6_2001_DB8_1) * 2, S.MALFORMED_ATTRIBUTE_LIST, b""),
], ids=["mp-flags", "mp-next-hop-length", "well-known-then-overrun", "mp-twice"])
def test_reset_error_is_named_whatever_else_is_wrong_3h(errors: bytes, subcode: int, data: bytes) -> None:
    block = MANDATORY + errors
    r = parse(b"\x00\x00" + len(block).to_bytes(2, "big") + block + NLRI_10_0_1)
    assert r.action == A.SESSION_RESET
    assert {p.action for p in r.problems} >= {A.TREAT_AS_WITHDRAW, A.SESSION_RESET}
    assert r.error is not None and (r.error.subcode, r.error.data) == (subcode, data)


def test_escalated_withdraw_error_is_named_when_nothing_else_resets_5_2() -> None:
    bad = attr(0x40, 1, b"\x07")
    r = parse(body(withdrawn=NLRI_10_0_1, attrs=attr(0x40, 6, b"\x01") + bad))
    assert r.action == A.SESSION_RESET
    assert r.error is not None and (r.error.subcode, r.error.data) == (S.INVALID_ORIGIN_ATTRIBUTE, bad)


# --- RFC 4271 §5 / §6.3: unrecognized attributes ----------------------------------------

def test_unrecognized_well_known_attribute_resets() -> None:
    bad = attr(0x40, 99, b"x")
    r = parse(body(attrs=MANDATORY + bad, nlri=NLRI_10_0_1))
    assert r.action == A.SESSION_RESET
    assert r.error is not None
    assert (r.error.subcode, r.error.data) == (S.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, bad)


def test_unknown_optional_transitive_is_kept_and_forwarded_partial() -> None:
    r = parse(body(attrs=MANDATORY + attr(0xC0, 99, b"xyz"), nlri=NLRI_10_0_1))
    assert r.action == A.ACCEPT and r.update is not None and r.update.attrs is not None
    unknown = r.update.attrs.get(99)
    assert unknown == UnknownAttribute(99, b"xyz", 0xC0)
    assert unknown.for_forwarding().flags == 0xE0


# --- RFC 6793 §6: AS4 attributes --------------------------------------------------------

def test_malformed_as4_path_is_discarded() -> None:
    ctx = CodecContext(as4=False)
    bad = attr(0xC0, 17, b"\x02\x02" + bytes(4))  # segment claims 2 ASNs, has 1
    r = parse(body(attrs=ORIGIN_IGP + AS_PATH_2 + NEXT_HOP + bad, nlri=NLRI_10_0_1), ctx)
    assert only_problem(r)[:3] == (A.ATTRIBUTE_DISCARD, S.MALFORMED_AS_PATH, 17)
    assert r.update is not None and r.update.attrs is not None
    assert r.update.attrs.as_path == ((2, (65001,)),)


# --- End-of-RIB (RFC 4724 §2) -----------------------------------------------------------

def test_end_of_rib_ipv4_and_ipv6() -> None:
    assert parse(body()).eor == IPV4_UNICAST
    assert parse(body(attrs=mp_unreach_v6(b""))).eor == IPV6_UNICAST
    assert parse(body(attrs=mp_unreach_v6(V6_2001_DB8_1))).eor is None
    assert parse(body(withdrawn=NLRI_10_0_1)).eor is None


def test_addpath_context_changes_nlri_parsing() -> None:
    ctx = CodecContext(addpath=frozenset({IPV4_UNICAST}))
    nlri = (0x40000007).to_bytes(4, "big") + NLRI_10_0_1
    r = parse(body(attrs=MANDATORY, nlri=nlri), ctx)
    assert r.action == A.ACCEPT and r.update is not None
    assert [format_prefix(k, 1, addpath=True) for k in r.update.nlri] == [f"10.0.1.0/24#{0x40000007}"]
    # Without ADD-PATH the path id's first octet reads as a prefix length of 64.
    assert parse(body(attrs=MANDATORY, nlri=nlri)).action == A.SESSION_RESET
