"""DESIGN.md section 3: a path-attribute block is decoded once; the same raw block again
returns the same AttrSet object without decoding anything."""

from __future__ import annotations

from typing import Any

import pytest

from gracebgp.wire import CodecContext, UpdateResult, parse_update
from gracebgp.wire import attrset as attrset_module
from gracebgp.wire.attrset import clear_caches
from gracebgp.wire.attrtable import decode_one

from .wirebytes import (
    AS_PATH_4,
    MANDATORY,
    NLRI_10_0_1,
    NLRI_10_0_2,
    ORIGIN_IGP,
    V6_2001_DB8_1,
    attr,
    body,
    mp_reach_v6,
)

CTX = CodecContext()


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    clear_caches()
    calls: list[int] = []
    real = decode_one

    def counting(*args: Any) -> Any:
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(attrset_module, "decode_one", counting)
    return calls


def attrs_of(result: UpdateResult) -> object:
    assert result.update is not None and result.update.attrs is not None
    return result.update.attrs


def test_same_block_same_object_no_second_decode(decode_calls: list[int]) -> None:
    first = parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_1), CTX)
    assert sorted(decode_calls) == [1, 2, 3]
    second = parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_2), CTX)
    assert attrs_of(second) is attrs_of(first)
    assert sorted(decode_calls) == [1, 2, 3]  # nothing decoded again


def test_known_attributes_in_a_new_block_are_not_decoded_again(decode_calls: list[int]) -> None:
    parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_1), CTX)
    comm = attr(0xC0, 8, (65000 << 16 | 7).to_bytes(4, "big"))
    parse_update(body(attrs=MANDATORY + comm, nlri=NLRI_10_0_1), CTX)
    assert sorted(decode_calls) == [1, 2, 3, 8]


def test_mp_updates_share_the_attrset_of_their_other_attributes(decode_calls: list[int]) -> None:
    rest = ORIGIN_IGP + AS_PATH_4
    a = parse_update(body(attrs=mp_reach_v6(V6_2001_DB8_1) + rest), CTX)
    b = parse_update(body(attrs=mp_reach_v6(bytes([32, 0x20, 0x01, 0x0D, 0xB9])) + rest), CTX)
    assert attrs_of(a) is attrs_of(b)
    assert sorted(decode_calls) == [1, 2]


def test_contexts_do_not_share_decodings(decode_calls: list[int]) -> None:
    a = parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_1), CodecContext(ibgp=True))
    b = parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_1), CodecContext(ibgp=False))
    assert attrs_of(a) == attrs_of(b) and attrs_of(a) is not attrs_of(b)


def test_cached_block_is_still_checked_for_mandatory_attributes() -> None:
    clear_caches()
    no_next_hop = ORIGIN_IGP + AS_PATH_4
    assert parse_update(body(attrs=no_next_hop + mp_reach_v6(V6_2001_DB8_1)), CTX).action == 0
    # The non-MP part is now interned; with IPv4 NLRI it lacks NEXT_HOP (RFC 7606 §3 d).
    again = parse_update(body(attrs=no_next_hop, nlri=NLRI_10_0_1), CTX)
    assert again.action == 2


def test_equal_numbers_of_different_attributes_are_one_object(monkeypatch: pytest.MonkeyPatch) -> None:
    """wire/numbers.py: two COMMUNITIES, two LARGE_COMMUNITY and two AS_PATH values decoded
    apart (different TLVs, so not the same attribute) hold one int object per number, and
    the table starts again when it is full: the values stay right."""
    from gracebgp.wire import numbers
    from gracebgp.wire.attributes import AsPath
    from gracebgp.wire.communities import Communities, LargeCommunities

    a = Communities.decode_value(bytes.fromhex("fde80064fde800c8"), 0xC0, True)
    b = Communities.decode_value(bytes.fromhex("fde800c8fde8012c"), 0xC0, True)
    assert a.values == (0xFDE80064, 0xFDE800C8) and b.values == (0xFDE800C8, 0xFDE8012C)
    assert a.values[1] is b.values[0]
    big = 4_200_000_123
    p = AsPath.decode_value(bytes.fromhex("0202") + (65001).to_bytes(4, "big") + big.to_bytes(4, "big"),
                            0x40, True)
    q = AsPath.decode_value(bytes.fromhex("0201") + big.to_bytes(4, "big"), 0x40, True)
    assert p.segments[0][1][1] == big and p.segments[0][1][1] is q.segments[0][1][0]
    lc = bytes.fromhex("fde80000" "00000001" "00000002")
    x = LargeCommunities.decode_value(lc, 0xC0, True)
    y = LargeCommunities.decode_value(lc + lc, 0xC0, True)
    assert x.values == ((0xFDE80000, 1, 2),) and y.values[1][0] is x.values[0][0]
    monkeypatch.setattr(numbers, "_LIMIT", 2)
    c = Communities.decode_value(bytes.fromhex("fde80064fde800c8fde8012c"), 0xC0, True)
    assert c.values == (0xFDE80064, 0xFDE800C8, 0xFDE8012C)
    assert len(numbers._SHARED) == 3  # emptied, then these three


def test_a_received_communities_keeps_its_tlv_and_reads_like_a_built_one() -> None:
    """wire/communities.py: COMMUNITIES decoded from a TLV holds that TLV (the attribute
    table's key) and no tuple; its values, equality, hash and encoding are those of the
    attribute built from the same values, with and without Extended Length."""
    from gracebgp.wire.attributes import encode_attribute
    from gracebgp.wire.attrset import decode_attribute
    from gracebgp.wire.communities import Communities

    values = (0xFDE80064, 0xFFFFFF01)  # 65000:100, NO_EXPORT
    for tlv in (bytes.fromhex("c00808fde80064ffffff01"), bytes.fromhex("d0080008fde80064ffffff01")):
        got, problem = decode_attribute(tlv)
        assert problem is None and isinstance(got, Communities)
        assert got._src is decode_attribute(tlv)[0]._src  # (one decoding per TLV)
        assert isinstance(got._src, bytes) and got._src == tlv
        built = Communities(values, tlv[0])
        assert got.values == values and got == built and hash(got) == hash(built)
        assert encode_attribute(got, True) == tlv == encode_attribute(built, True)
        assert got.tlv() == tlv == built.tlv()
        assert got.reserved() == built.reserved() == (0xFFFFFF01,)
        assert got != Communities(values[:1], tlv[0]) and got != Communities(values, 0xE0)
        with pytest.raises(AttributeError):
            got.flags = 0
    # reserved(): only the values in 0xFFFF0000-0xFFFFFFFF; two 0xFF octets that are not
    # the top of one value (the 0xFF00FFFF and 0x00FFFF00 below) are not one.
    for vals, marks in (((0xFDE80064,), ()), ((0xFF00FFFF, 0x00FFFF00, 0x01FFFF02, 0xFFFEFFFF), ()),
                        ((0x00010002, 0xFFFF0006, 0xFFFF029A), (0xFFFF0006, 0xFFFF029A)),
                        ((0xFFFF0000,), (0xFFFF0000,)), ((0xFFFFFF01, 0x00010002), (0xFFFFFF01,))):
        for flags in (0xC0, 0xD0, 0xE0, 0xF0):  # (Partial, Extended Length: the TLV as it came)
            tlv = encode_attribute(Communities(vals, flags), True)
            got = decode_attribute(tlv)[0]
            assert got.reserved() == Communities(vals, flags).reserved() == marks
            assert got.tlv() == tlv == encode_attribute(got, True)
    bad, problem = decode_attribute(bytes.fromhex("c00806fde80064ffff"))  # RFC 7606 §7.8
    assert bad is None and problem is not None and "multiple of 4" in problem.reason


def test_a_received_communities_copies_and_rewrites_like_a_built_one() -> None:
    """The TLV-backed COMMUNITIES (the review of 7e68b25): copy, deepcopy and pickle give an
    equal attribute, ``del`` is refused, one decoded with its block (``decode_block``, as
    an export's attributes are read) re-encodes to the same octets, a community added to
    it by an export rule keeps the received ones, and it finds a built one's dict entry."""
    import copy
    import pickle

    from gracebgp.rib.attr_edit import ListDraft, add_communities
    from gracebgp.wire.attributes import encode_attribute
    from gracebgp.wire.attrset import AttrSet, decode_attribute, decode_block
    from gracebgp.wire.communities import Communities

    tlv = bytes.fromhex("d0080008fde80064ffffff01")
    got = decode_attribute(tlv)[0]
    assert isinstance(got, Communities) and isinstance(got._src, bytes)
    for dup in (copy.copy(got), copy.deepcopy(got), pickle.loads(pickle.dumps(got))):
        assert dup == got and hash(dup) == hash(got) and dup.values == got.values
    with pytest.raises(AttributeError):
        del got.flags
    viewed = decode_block(tlv).get(8)
    assert viewed == got and encode_attribute(viewed, True) == tlv
    draft = ListDraft.of(AttrSet([got]))
    add_communities(draft, (0xFFFF0006,))
    new = draft.get(8)
    assert isinstance(new, Communities) and new.values == (*got.values, 0xFFFF0006)
    assert {got: 1}[Communities(got.values, got.flags)] == 1
