"""Export rules (RFC 4271 §5.1, §9.2; RFC 4456 §8; RFC 1997) and Adj-RIB-Out packing."""

from __future__ import annotations

from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.export import ExportPolicy, export_path, prepend
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PeerInfo
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import CodecContext, OriginatorId, UnknownAttribute, decode_message
from gracebgp.wire.iana import AttrType
from gracebgp.wire.iana import WellKnownCommunity as WK
from gracebgp.wire.nlri import format_prefix, parse_prefix

from .helpers import CLIENT_E, EBGP_A, EBGP_B, IBGP_C, IBGP_D, LOCAL, TABLE, path


def policy(peer: PeerInfo, **kw: object) -> ExportPolicy:
    return ExportPolicy(peer, 65000, "10.0.0.100", next_hop_v4="192.0.2.100",
                        next_hop_v6=("2001:db8::100",), **kw)  # type: ignore[arg-type]


def out(source: PeerInfo, p: Path, target: PeerInfo, **kw: object) -> Path | None:
    return export_path(source, p, policy(target, **kw), IPV4_UNICAST, TABLE)


def test_prepend() -> None:
    assert prepend(((2, (1, 2)),), 9) == ((2, (9, 1, 2)),)
    assert prepend(((1, (1, 2)),), 9) == ((2, (9,)), (1, (1, 2)))
    assert prepend((), 9) == ((2, (9,)),)


def test_never_back_to_the_source() -> None:
    assert out(EBGP_A, path(65001), EBGP_A) is None


def test_ebgp_export_prepends_sets_next_hop_strips_internal_attributes() -> None:
    src = path(65001, med=5, lp=300, extra=(OriginatorId("1.1.1.1"),))
    sent = out(IBGP_C, src, EBGP_B)
    assert sent is not None
    a = sent.attrs
    assert a.as_path == ((2, (65000, 65001)),)
    assert a.next_hop == "192.0.2.100" and sent.next_hop == ("192.0.2.100",)
    for code in (AttrType.LOCAL_PREF, AttrType.ORIGINATOR_ID, AttrType.MULTI_EXIT_DISC):
        assert a.get(code) is None
    assert [x.code for x in a.attrs] == sorted(x.code for x in a.attrs)


def test_locally_originated_med_goes_to_ebgp() -> None:
    sent = out(LOCAL, path(med=7), EBGP_B)
    assert sent is not None and sent.attrs.med == 7
    assert sent.attrs.as_path == ((2, (65000,)),)


def test_ibgp_export_keeps_next_hop_and_sets_local_pref() -> None:
    sent = out(EBGP_A, path(65001), IBGP_C)
    assert sent is not None
    assert sent.attrs.local_pref == 100 and sent.attrs.next_hop == "192.0.2.254"
    assert sent.attrs.as_path == ((2, (65001,)),)
    forced = out(EBGP_A, path(65001), IBGP_C, next_hop_self=True)
    assert forced is not None and forced.attrs.next_hop == "192.0.2.100"


def test_ibgp_split_horizon_9_2() -> None:
    assert out(IBGP_C, path(65001), IBGP_D) is None


def test_route_reflection_rfc4456_8() -> None:
    # client -> non-client and client -> client: reflected with ORIGINATOR_ID / CLUSTER_LIST
    sent = out(CLIENT_E, path(65001), IBGP_C, cluster_id="10.255.255.1")
    assert sent is not None
    assert sent.attrs.get(AttrType.ORIGINATOR_ID).address == "10.0.0.5"
    assert sent.attrs.get(AttrType.CLUSTER_LIST).ids == ("10.255.255.1",)
    # non-client -> client: reflected; non-client -> non-client: not (split horizon)
    assert out(IBGP_C, path(65001), CLIENT_E) is not None
    assert out(IBGP_C, path(65001), IBGP_D) is None


def test_well_known_communities_rfc1997() -> None:
    no_export = path(65001, comms=(int(WK.NO_EXPORT),))
    assert out(EBGP_A, no_export, EBGP_B) is None
    assert out(EBGP_A, no_export, IBGP_C) is not None
    no_adv = path(65001, comms=(int(WK.NO_ADVERTISE),))
    assert out(EBGP_A, no_adv, IBGP_C) is None


def test_own_routes_carry_no_export_to_the_neighbor() -> None:
    # RFC 1997 applies to received routes; an originated route tagged NO_EXPORT is sent so
    # that the eBGP neighbor does not pass it on.
    sent = out(LOCAL, path(comms=(int(WK.NO_EXPORT),)), EBGP_B)
    assert sent is not None and int(WK.NO_EXPORT) in sent.attrs.communities


def test_sender_side_loop_check() -> None:
    assert out(EBGP_A, path(65001, 65002), EBGP_B) is None


def test_unknown_attributes_transitive_partial_nontransitive_dropped() -> None:
    src = path(65001, extra=(UnknownAttribute(99, b"x", 0xC0), UnknownAttribute(98, b"y", 0x80)))
    sent = out(EBGP_A, src, EBGP_B)
    assert sent is not None
    assert sent.attrs.get(99).flags == 0xE0
    assert sent.attrs.get(98) is None


def test_ipv6_export_uses_session_next_hop_for_ebgp() -> None:
    src = TABLE.get(path(65001).attrs, ("2001:db8::1", "fe80::1"))
    sent = export_path(EBGP_A, src, policy(EBGP_B), IPV6_UNICAST, TABLE)
    assert sent is not None and sent.next_hop == ("2001:db8::100",)
    assert sent.attrs.get(AttrType.NEXT_HOP) is None
    kept = export_path(EBGP_A, src, policy(IBGP_C), IPV6_UNICAST, TABLE)
    assert kept is not None and kept.next_hop == ("2001:db8::1", "fe80::1")


def test_adj_rib_out_sends_only_differences_and_packs_by_attribute_set() -> None:
    loc = LocRib()
    keys = [parse_prefix(f"10.{i // 256}.{i % 256}.0/24")[1] for i in range(300)]
    loc.offer(EBGP_A, keys[:200], path(65001))
    loc.offer(EBGP_A, keys[200:], path(65001, 65009))
    ctx = CodecContext(as4=True, ibgp=False)
    rib_out = AdjRibOut(IPV4_UNICAST, policy(EBGP_B), TABLE)
    rib_out.consider_all(loc)
    msgs = rib_out.flush(ctx)
    assert len(msgs) == 2  # one UPDATE per attribute set
    announced = [format_prefix(k, 1) for m in msgs for k in decode_message(m, ctx).update.nlri]  # type: ignore[union-attr]
    assert sorted(announced) == sorted(format_prefix(k, 1) for k in keys)
    rib_out.consider(keys, loc)
    assert rib_out.flush(ctx) == []  # nothing changed, nothing sent
    changed = loc.retract(EBGP_A, keys[:3])
    rib_out.consider(changed, loc)
    (withdraw,) = rib_out.flush(ctx)
    result = decode_message(withdraw, ctx)
    assert sorted(result.update.withdrawn) == sorted(keys[:3])  # type: ignore[union-attr]
    assert len(rib_out) == 297


def test_two_octet_peer_gets_as4_path() -> None:
    loc = LocRib()
    key = parse_prefix("10.0.0.0/8")[1]
    loc.offer(EBGP_A, [key], path(4200000001))
    ctx = CodecContext(as4=False)
    rib_out = AdjRibOut(IPV4_UNICAST, policy(EBGP_B), TABLE)
    rib_out.consider_all(loc)
    (msg,) = rib_out.flush(ctx)
    attrs = decode_message(msg, ctx).update.attrs  # type: ignore[union-attr]
    assert attrs is not None
    assert attrs.get(AttrType.AS_PATH).segments == ((2, (65000, 23456)),)
    assert attrs.as_path == ((2, (65000, 4200000001)),)
