"""RFC 6793: AS_PATH / AS4_PATH and AGGREGATOR / AS4_AGGREGATOR on 2-octet sessions."""

from __future__ import annotations

from gracebgp.wire import (
    Aggregator,
    As4Aggregator,
    As4Path,
    AsPath,
    AttrSet,
    CodecContext,
    NextHop,
    Origin,
    UpdateAction,
    parse_update,
    to_two_octet,
)
from gracebgp.wire.attrset import merge_as4_path

from .wirebytes import NLRI_10_0_1, ORIGIN_IGP, attr, body

OLD = CodecContext(as4=False)
NEW = CodecContext(as4=True)
SEQ, SET, CSEQ = 1 + 1, 1, 3
BIG = 4200000001


def seg2(stype: int, *asns: int) -> bytes:
    return bytes([stype, len(asns)]) + b"".join(a.to_bytes(2, "big") for a in asns)


def seg4(stype: int, *asns: int) -> bytes:
    return bytes([stype, len(asns)]) + b"".join(a.to_bytes(4, "big") for a in asns)


def effective(as_path: bytes, extra: bytes = b"", ctx: CodecContext = OLD) -> AttrSet:
    nh = attr(0x40, 3, bytes([10, 0, 0, 1]))
    r = parse_update(body(attrs=ORIGIN_IGP + attr(0x40, 2, as_path) + nh + extra, nlri=NLRI_10_0_1), ctx)
    assert r.action == UpdateAction.ACCEPT and r.update is not None and r.update.attrs is not None
    return r.update.attrs


def test_as4_path_replaces_as_trans() -> None:
    attrs = effective(seg2(SEQ, 23456, 65001), attr(0xC0, 17, seg4(SEQ, BIG, 65001)))
    assert attrs.as_path == ((SEQ, (BIG, 65001)),)


def test_leading_ases_added_by_old_speakers_are_kept() -> None:
    attrs = effective(seg2(SEQ, 65002, 23456, 65001), attr(0xC0, 17, seg4(SEQ, BIG, 65001)))
    assert attrs.as_path == ((SEQ, (65002,)), (SEQ, (BIG, 65001)))


def test_as_set_counts_one_and_confed_segments_zero() -> None:
    as_path = seg2(CSEQ, 64512) + seg2(SEQ, 23456) + seg2(SET, 1, 2, 3)
    as4 = seg4(SEQ, BIG) + seg4(SET, 1, 2, 3)
    attrs = effective(as_path, attr(0xC0, 17, as4))
    assert attrs.as_path == ((CSEQ, (64512,)), (SEQ, (BIG,)), (SET, (1, 2, 3)))


def test_longer_as4_path_is_ignored() -> None:
    attrs = effective(seg2(SEQ, 23456), attr(0xC0, 17, seg4(SEQ, BIG, 65001)))
    assert attrs.as_path == ((SEQ, (23456,)),)


def test_aggregator_not_as_trans_means_as4_attributes_are_ignored() -> None:
    agg = attr(0xC0, 7, (65010).to_bytes(2, "big") + bytes([192, 0, 2, 9]))
    as4_agg = attr(0xC0, 18, BIG.to_bytes(4, "big") + bytes([192, 0, 2, 9]))
    attrs = effective(seg2(SEQ, 23456), agg + attr(0xC0, 17, seg4(SEQ, BIG)) + as4_agg)
    assert attrs.as_path == ((SEQ, (23456,)),)
    assert attrs.aggregator == (65010, "192.0.2.9")


def test_as_trans_aggregator_takes_the_as4_aggregator() -> None:
    agg = attr(0xC0, 7, (23456).to_bytes(2, "big") + bytes([192, 0, 2, 9]))
    as4_agg = attr(0xC0, 18, BIG.to_bytes(4, "big") + bytes([192, 0, 2, 9]))
    attrs = effective(seg2(SEQ, 23456), agg + attr(0xC0, 17, seg4(SEQ, BIG)) + as4_agg)
    assert attrs.as_path == ((SEQ, (BIG,)),)
    assert attrs.aggregator == (BIG, "192.0.2.9")


def test_as4_path_from_a_new_speaker_is_ignored() -> None:
    attrs = effective(seg4(SEQ, 65001), attr(0xC0, 17, seg4(SEQ, BIG)), NEW)
    assert attrs.as_path == ((SEQ, (65001,)),)


def test_merge_function_directly() -> None:
    assert merge_as4_path(((SEQ, (1, 2, 3, 4)),), ((SEQ, (BIG, 4)),)) == ((SEQ, (1, 2)), (SEQ, (BIG, 4)))


def test_to_two_octet_adds_as4_attributes_and_writes_as_trans() -> None:
    attrs = AttrSet([Origin(0), AsPath(((SEQ, (BIG, 65001)),)), NextHop("10.0.0.1"),
                     Aggregator(BIG, "192.0.2.9")])
    old = to_two_octet(attrs)
    assert old.get(17) == As4Path(((SEQ, (BIG, 65001)),))
    assert old.get(18) == As4Aggregator(BIG, "192.0.2.9")
    wire = old.wire(as4=False)
    assert seg2(SEQ, 23456, 65001) in wire  # AS_PATH with AS_TRANS
    assert (23456).to_bytes(2, "big") + bytes([192, 0, 2, 9]) in wire  # AGGREGATOR
    # A 2-octet receiver merges it back to the true path.
    r = parse_update(body(attrs=wire, nlri=NLRI_10_0_1), OLD)
    assert r.update is not None and r.update.attrs is not None
    assert r.update.attrs.as_path == ((SEQ, (BIG, 65001)),)
    assert r.update.attrs.aggregator == (BIG, "192.0.2.9")


def test_to_two_octet_leaves_small_paths_alone() -> None:
    attrs = AttrSet([Origin(0), AsPath(((SEQ, (65002, 65001)),)), NextHop("10.0.0.1")])
    assert to_two_octet(attrs).get(17) is None


def test_aggregator_alone_does_not_hide_as4_path() -> None:
    # RFC 6793 §4.2.3 ignores AS4_PATH only when AGGREGATOR *and* AS4_AGGREGATOR arrive.
    agg = attr(0xC0, 7, (65010).to_bytes(2, "big") + bytes([192, 0, 2, 9]))
    attrs = effective(seg2(SEQ, 23456), agg + attr(0xC0, 17, seg4(SEQ, BIG)))
    assert attrs.as_path == ((SEQ, (BIG,)),)
    assert attrs.aggregator == (65010, "192.0.2.9")


def test_a_decoded_set_knows_its_effective_path_and_aggregator_as_a_scan_finds_them() -> None:
    """``AttrSet.decoded`` fills the effective AS_PATH and AGGREGATOR on 4-octet sessions
    from the decoder's map; on both kinds of session they are what a set built from the
    same attributes works out (``AttrSet._effective``)."""
    agg4 = attr(0xC0, 7, (4200000002).to_bytes(4, "big") + bytes([10, 0, 0, 9]))
    agg2 = attr(0xC0, 7, (23456).to_bytes(2, "big") + bytes([10, 0, 0, 9]))
    as4_path = attr(0xC0, 17, seg4(SEQ, BIG, 65001))
    cases = [(seg4(SEQ, BIG, 65001), agg4, NEW), (seg4(SEQ, 65001), b"", NEW), (b"", b"", NEW),
             (seg2(SEQ, 23456, 65001), agg2 + as4_path, OLD)]
    for as_path, extra, ctx in cases:
        decoded = effective(as_path, extra, ctx)
        built = AttrSet(decoded.attrs, as4=ctx.as4)
        assert (decoded.as_path, decoded.aggregator) == (built.as_path, built.aggregator)
    assert effective(seg4(SEQ, BIG, 65001), agg4, NEW).aggregator == (4200000002, "10.0.0.9")
    assert effective(b"", b"", NEW).as_path == ()
    # no AS_PATH at all (treat-as-withdraw, RFC 7606 §3 d; the set is decoded all the same)
    r = parse_update(body(attrs=ORIGIN_IGP + attr(0x40, 3, bytes([10, 0, 0, 1])), nlri=NLRI_10_0_1), NEW)
    assert r.update is not None and r.update.attrs is not None
    assert (r.update.attrs.as_path, r.update.attrs.aggregator) == ((), None)
