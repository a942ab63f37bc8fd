"""Exports kept as their encoding (``rib.path.Exported``, issue 14): what goes on the wire
is what the attribute sets gave before. Equal exports of different source paths share an
UPDATE and are never sent again; an ADD-PATH peer gets nothing again for an unchanged
table; a 2-octet-AS peer's AS_PATH is as short as before; reading an export's attributes
fills no shared table."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from gracebgp.rib import export
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.adj_rib_out_addpath import AddPathRibOut
from gracebgp.rib.aspath_rules import RemovePrivateAs
from gracebgp.rib.export import ExportPolicy, export_class, export_path
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Exported, PeerInfo
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import (
    AsPath,
    AttrSet,
    CodecContext,
    Communities,
    LocalPref,
    MultiExitDisc,
    NextHop,
    Origin,
    parse_update,
)
from gracebgp.wire.attributes import (
    OPTIONAL,
    OPTIONAL_TRANSITIVE,
    WELL_KNOWN,
    Aggregator,
    As4Aggregator,
    As4Path,
    AtomicAggregate,
    ClusterList,
    OriginatorId,
    UnknownAttribute,
    encode_attribute,
)
from gracebgp.wire.attrset import attr_cache, decode_attribute
from gracebgp.wire.communities import ExtendedCommunities, LargeCommunities
from gracebgp.wire.iana import AttrType
from gracebgp.wire.nlri import parse_prefix

from .helpers import EBGP_A, IBGP_C, IBGP_D, LOCAL, TABLE, path

V4 = IPV4_UNICAST
TO = PeerInfo(7, "192.0.2.7", 65007, "10.0.0.7", ibgp=False)
POLICY = ExportPolicy(TO, 65000, "10.0.0.100", "10.0.0.100")


def key(i: int) -> int:
    return parse_prefix(f"10.{i // 256}.{i % 256}.0/24")[1]


def test_equal_exports_of_different_source_paths_share_an_update_and_are_not_sent_again() -> None:
    """100 iBGP paths that differ only in their next hop are one set to an eBGP peer
    (next hop self): one UPDATE (DESIGN.md section 3); a best path moving to another of
    them sends nothing."""
    loc = LocRib()
    for i in range(100):
        loc.offer(IBGP_C, [key(i)], path(65100, 7, lp=100, nh=f"10.1.1.{i + 1}"))
    out = AdjRibOut(V4, POLICY, TABLE)
    out.consider_all(loc)
    assert len(out.flush(CodecContext())) == 1
    loc.offer(IBGP_D, [key(0)], path(65100, 7, lp=200, nh="10.1.2.1"))  # a new best, same export
    out.consider([key(0)], loc)
    assert isinstance(out.advertised[key(0)], Exported) and out.flush(CodecContext()) == []
    out.consider([key(0)], loc, again=True)  # a route refresh sends it all the same
    assert len(out.flush(CodecContext())) == 1


def test_an_add_path_peer_gets_nothing_again_for_an_unchanged_table_rfc7911_5() -> None:
    """One Path that two route reflectors gave us is two candidates: each makes its own
    export (the memo is per source), and considering the table again sends nothing."""
    loc = LocRib()
    shared = path(65100, 7, lp=100, nh="10.1.1.1")
    loc.offer(IBGP_C, [key(1)], shared)
    loc.offer(IBGP_D, [key(1)], shared)
    tx = CodecContext(addpath=frozenset({V4}))
    out = AddPathRibOut(V4, POLICY, TABLE, 2)
    out.consider_all(loc)
    assert len(out.flush(tx)) == 1
    out.consider_all(loc)
    assert out.flush(tx) == []


def test_a_two_octet_peer_gets_the_as_path_as_short_as_before() -> None:
    """An AS_PATH of 70 ASes takes 282 octets with 4-octet ASes (Extended Length forced)
    and 142 with 2-octet ones: one length octet then (RFC 4271 §4.3), as when exports
    were attribute sets; and decoding the export for it adds nothing to the shared
    attribute table."""
    loc = LocRib()
    long_path = path(*range(64601, 64671), nh="192.0.2.1")
    loc.offer(EBGP_A, [key(2)], long_path)
    out = AdjRibOut(V4, POLICY, TABLE)
    out.consider_all(loc)
    cached = len(attr_cache(True, True))
    two = CodecContext(as4=False)
    (message,) = out.flush(two)
    assert len(attr_cache(True, True)) == cached
    body = message[19:]
    block = body[4:4 + int.from_bytes(body[2:4], "big")]
    i = 0
    while block[i + 1] != AttrType.AS_PATH:
        i += (4 + int.from_bytes(block[i + 2:i + 4], "big")) if block[i] & 0x10 else 3 + block[i + 2]
    assert block[i] == 0x40 and block[i + 2] == 2 + 2 * 71  # well-known, one length octet
    update = parse_update(body, two).update
    assert update is not None and update.attrs is not None
    assert update.attrs.as_path == ((2, (65000, *range(64601, 64671))),)


def test_the_shared_as_path_and_next_hop_are_encoded_once_and_give_the_same_bytes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Exports that share their prepended AS_PATH and our NEXT_HOP encode each of them
    once (kept in ``export._PREPENDED_TLV``, the usual eBGP export keeping no AsPath, and
    ``_NEXT_HOPS``), and the block is
    what encoding every attribute gives; when a table is emptied at its bound, the next
    export encodes anew what it needs."""
    from gracebgp.rib import export as export_mod
    from gracebgp.rib.export import export_path
    from gracebgp.wire.attributes import encode_attribute

    encoded: list[int] = []

    def counting(attr: object, as4: bool) -> bytes:
        encoded.append(attr.code)  # type: ignore[attr-defined]
        return encode_attribute(attr, as4)

    monkeypatch.setattr(export_mod, "encode_attribute", counting)
    monkeypatch.setattr(export_mod, "_SHARED_LIMIT", 1)  # (so the bound is reached here)
    export_mod._PREPENDED.clear()
    export_mod._PREPENDED_TLV.clear()
    export_mod._NEXT_HOPS.clear()
    first = export_path(EBGP_A, path(64999, 9, comms=(5,)), POLICY, V4, TABLE)
    second = export_path(EBGP_A, path(64999, 9, comms=(6,)), POLICY, V4, TABLE)
    assert isinstance(first, Exported) and isinstance(second, Exported)
    assert encoded.count(AttrType.AS_PATH) == 1 and encoded.count(AttrType.NEXT_HOP) == 1
    as_path = bytes([0x40, 2, 14, 2, 3]) + b"".join(n.to_bytes(4, "big") for n in (65000, 64999, 9))
    next_hop = bytes([0x40, 3, 4, 10, 0, 0, 100])
    for out in (first, second):  # (RFC 4271 §4.3: the TLVs as the wire has them)
        assert as_path in out.block and next_hop in out.block and out.next_hop == ("10.0.0.100",)
        assert out.block == b"".join(encode_attribute(a, True) for a in out.attrs.attrs)
    third = export_path(EBGP_A, path(64998, 9, comms=(5,)), POLICY, V4, TABLE)  # the bound: emptied
    assert len(export_mod._PREPENDED_TLV) == 1 and encoded.count(AttrType.AS_PATH) == 2
    assert not export_mod._PREPENDED
    assert isinstance(third, Exported) and third.attrs.as_path == ((2, (65000, 64998, 9)),)
    assert as_path.replace((64999).to_bytes(4, "big"), (64998).to_bytes(4, "big")) in third.block
    again = export_path(EBGP_A, path(64999, 9, comms=(5,)), POLICY, V4, TABLE)
    assert isinstance(again, Exported) and again.block == first.block
    assert encoded.count(AttrType.AS_PATH) == 3 and encoded.count(AttrType.NEXT_HOP) == 1


def test_interleaved_keys_of_two_paths_go_out_as_one_update_per_path() -> None:
    """The flush groups keys by exported path however they interleave (RFC 4271 §9.2:
    one UPDATE per attribute set while the prefixes fit)."""
    loc = LocRib()
    first, second = path(65100, 7), path(65100, 8)
    for i in range(6):
        loc.offer(EBGP_A, [key(i)], first if i % 2 == 0 else second)
    out = AdjRibOut(V4, POLICY, TABLE)
    out.consider([key(i) for i in range(6)], loc)
    sent = [parse_update(m[19:], CodecContext()).update for m in out.flush(CodecContext())]
    assert [(u.attrs.as_path if u and u.attrs else None, list(u.nlri) if u else None) for u in sent] == [
        (((2, (65000, 65100, 7)),), [key(0), key(2), key(4)]),
        (((2, (65000, 65100, 8)),), [key(1), key(3), key(5)]),
    ]
    assert sorted(out.advertised) == sorted(key(i) for i in range(6)) and out.pending == {}


def _random_asn(rng: random.Random) -> int:
    return rng.choice((rng.randrange(1, 64512), rng.randrange(64512, 65535),
                       rng.randrange(4200000000, 4294967295), rng.randrange(65536, 4200000000)))


def _random_communities(rng: random.Random) -> Communities:
    """Built from values or decoded from a TLV (which it then keeps), with Partial and
    Extended Length, now and then a well-known community among the values."""
    values = tuple(rng.choice((rng.randrange(1 << 32), 0xFFFFFF01, 0xFFFF0006, 0xFFFF0000))
                   if rng.random() < 0.1 else rng.randrange(1 << 32) for _ in range(rng.randrange(1, 5)))
    built = Communities(values, OPTIONAL_TRANSITIVE | (0x20 if rng.random() < 0.2 else 0)
                        | (0x10 if rng.random() < 0.2 else 0))
    if rng.random() < 0.5:
        return built
    got = decode_attribute(encode_attribute(built, True))[0]
    assert isinstance(got, Communities)
    return got


def _random_attrs(rng: random.Random) -> list[Any]:
    """Any subset of the attributes an eBGP export copies, drops or replaces, with the
    flags a peer may set (Extended Length, Partial), unknown ones of both kinds."""
    ext = 0x10 if rng.random() < 0.2 else 0
    pool: list[Any] = [
        Origin(rng.randrange(3), WELL_KNOWN | ext),
        AsPath(tuple((rng.choice((1, 2)), tuple(_random_asn(rng) for _ in range(rng.randrange(1, 6))))
                     for _ in range(rng.randrange(1, 3))) if rng.random() < 0.9 else ()),
        NextHop(f"192.0.2.{rng.randrange(1, 255)}"),
        MultiExitDisc(rng.randrange(1 << 32)),
        LocalPref(rng.randrange(1 << 32)),
        AtomicAggregate(),
        Aggregator(_random_asn(rng), "10.9.9.9"),
        _random_communities(rng),
        OriginatorId("10.0.0.9"),
        ClusterList(("10.0.0.8",)),
        As4Path(((2, (_random_asn(rng),)),)),
        As4Aggregator(_random_asn(rng), "10.9.9.8"),
        ExtendedCommunities((rng.randrange(1 << 64),)),
        LargeCommunities(((65000, 1, rng.randrange(1 << 32)),)),
        UnknownAttribute(rng.choice((99, 200, 241)), bytes(rng.randrange(4)),
                         rng.choice((OPTIONAL_TRANSITIVE, OPTIONAL, OPTIONAL_TRANSITIVE | 0x20))),
    ]
    return rng.sample(pool, rng.randrange(0, len(pool) + 1))


def test_the_ebgp_export_in_one_pass_gives_the_octets_of_the_general_way(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``export._ebgp_block`` against the general way (the same call with it refusing):
    same octets and next hop, or both nothing, for random sets in code order and not,
    our own routes and received ones, and every policy the one-pass way is for or not."""
    rng = random.Random(14)
    rs_client = PeerInfo(7, "192.0.2.7", 65007, "10.0.0.7", ibgp=False)
    policies = [POLICY, export_class(POLICY), replace(POLICY, remove_private_as=RemovePrivateAs.ALL),
                replace(POLICY, remove_private_as=RemovePrivateAs.REPLACE),
                replace(POLICY, replace_peer_as=True),
                replace(POLICY, route_server_client=True, peer=rs_client), replace(POLICY, gshut=True),
                replace(POLICY, llgr=True), replace(POLICY, next_hop_v4=None)]
    one_pass = export._ebgp_block
    blocks = 0

    def counted(*args: Any) -> bytes | None:
        nonlocal blocks
        block = one_pass(*args)
        blocks += block is not None
        return block

    for _ in range(4000):
        attrs = _random_attrs(rng)
        if rng.random() < 0.8:
            attrs.sort(key=lambda a: a.code)
        source = rng.choice((EBGP_A, LOCAL))
        policy = rng.choice(policies)
        p = TABLE.get(AttrSet(attrs), ("192.0.2.1",))
        monkeypatch.setattr(export, "_ebgp_block", counted)
        fast = export_path(source, p, policy, V4, TABLE)
        monkeypatch.setattr(export, "_ebgp_block", lambda *_: None)
        general = export_path(source, p, policy, V4, TABLE)
        if general is None:
            assert fast is None, attrs
        else:
            assert fast is not None, attrs
            assert (fast.block, fast.next_hop) == (general.block, general.next_hop), attrs
    assert blocks > 1000  # (the one-pass way did run)


def test_an_exported_memo_entry_is_kept_per_source_and_slot() -> None:
    """An Exported is its own export-memo entry on the source path (its slot and source
    on it): another source of the same Path is exported anew, an equal source (the
    session back) keeps the entry, another class adds a slot beside it."""
    src = path(65001, 1001, lp=120)  # one Path object, whoever sent it
    to_ibgp = AdjRibOut(V4, ExportPolicy(IBGP_D, 65000, "10.0.0.100", "10.0.0.100"), TABLE)
    to_ebgp = AdjRibOut(V4, ExportPolicy(replace(EBGP_A, index=9, asn=65009), 65000, "10.0.0.100",
                                         "10.0.0.100"), TABLE)
    first = to_ibgp._export(EBGP_A, src)
    assert isinstance(first, Exported) and (first.slot, first.source) == (to_ibgp.slot, EBGP_A)
    # Same Path from an iBGP source: split horizon (RFC 4271 §9.2), not the eBGP source's export.
    assert to_ibgp._export(IBGP_C, src) is None
    again = to_ibgp._export(EBGP_A, src)
    assert isinstance(again, Exported) and again.same(first)
    # The source's new session, equal PeerInfo: the same object, now naming the new source.
    new = replace(EBGP_A)
    assert to_ibgp._export(new, src) is again and again.source is new
    # Another class on the same path: its own entry; the first stays right.
    other = to_ebgp._export(new, src)
    assert isinstance(other, Exported) and other is not again and isinstance(src.exports, dict)
    assert (other.slot, again.slot) == (to_ebgp.slot, to_ibgp.slot)
    assert src.exports == {to_ibgp.slot: again, to_ebgp.slot: other}
    assert to_ibgp._export(new, src) is again and to_ebgp._export(new, src) is other
