"""AS_PATH options (allow-own-as, replace-peer-as, remove-private-as: GoBGP's meanings) and
route-server clients (RFC 7947 §2.2) in the export rules."""

from __future__ import annotations

import pytest

from gracebgp.rib.aspath_rules import (
    RemovePrivateAs,
    count_as,
    holds_as,
    is_private_as,
    own_as_loop,
    remove_private,
    replace_as,
)
from gracebgp.rib.export import ExportPolicy, export_path
from gracebgp.rib.path import Path, PeerInfo
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import OriginatorId, UnknownAttribute
from gracebgp.wire.iana import AttrType
from gracebgp.wire.iana import WellKnownCommunity as WK

from .helpers import EBGP_A, EBGP_B, IBGP_C, LOCAL, TABLE, path

SEQ, SET = 2, 1
LOCAL_AS = 65000
CLIENT_C = PeerInfo(6, "192.0.2.3", 65003, "10.0.0.6", ibgp=False)


def out(source: PeerInfo, p: Path, target: PeerInfo, **kw: object) -> Path | None:
    pol = ExportPolicy(target, LOCAL_AS, "10.0.0.100", next_hop_v4="192.0.2.100",
                       next_hop_v6=("2001:db8::100",), **kw)  # type: ignore[arg-type]
    return export_path(source, p, pol, IPV4_UNICAST, TABLE)


# --- the rules themselves -----------------------------------------------------------------

@pytest.mark.parametrize(("asn", "private"), [
    (64511, False), (64512, True), (65534, True), (65535, False),  # 65535 reserved (RFC 7300)
    (4199999999, False), (4200000000, True), (4294967294, True), (4294967295, False), (1, False),
])
def test_private_ranges_rfc6996(asn: int, private: bool) -> None:
    assert is_private_as(asn) is private


def test_own_as_loop_counts_every_segment_against_allow_own_as() -> None:
    segs = ((SEQ, (65001, 65000, 65009)), (SET, (65000, 65010)))
    assert count_as(segs, LOCAL_AS) == 2
    assert own_as_loop(segs, LOCAL_AS)  # RFC 4271 §9.1.2: refused by default
    assert own_as_loop(segs, LOCAL_AS, 1)  # twice is more than once
    assert not own_as_loop(segs, LOCAL_AS, 2)
    assert not own_as_loop(((SEQ, (65001,)),), LOCAL_AS)
    assert holds_as(segs, 65010) and not holds_as(segs, 65011)


def test_replace_as_keeps_segment_types_and_order() -> None:
    segs = ((SEQ, (65002, 65001, 65002)), (SET, (65002, 7)))
    assert replace_as(segs, 65002, LOCAL_AS) == ((SEQ, (LOCAL_AS, 65001, LOCAL_AS)), (SET, (LOCAL_AS, 7)))
    assert replace_as(segs, 65099, LOCAL_AS) is segs  # nothing to replace: the same object


def test_remove_private_all_and_replace_gobgp_meaning() -> None:
    # Private numbers go even where public ones stand beside them (GoBGP; not Cisco's
    # original all-private-only rule); a segment left empty is dropped.
    segs = ((SEQ, (64512, 3356, 4200000001)), (SET, (65001, 65002)), (SEQ, (174,)))
    assert remove_private(segs, RemovePrivateAs.ALL, LOCAL_AS) == ((SEQ, (3356,)), (SEQ, (174,)))
    assert remove_private(segs, RemovePrivateAs.REPLACE, 1) == (
        (SEQ, (1, 3356, 1)), (SET, (1, 1)), (SEQ, (174,)))
    assert remove_private(segs, RemovePrivateAs.NONE, LOCAL_AS) is segs
    public = ((SEQ, (3356, 174)),)
    assert remove_private(public, RemovePrivateAs.ALL, LOCAL_AS) is public


# --- export: AS_PATH options ----------------------------------------------------------------

def test_replace_peer_as_rewrites_and_lets_the_route_through_the_loop_check() -> None:
    src = path(65001, 65002, 65003)  # B's AS (65002) is in the path
    assert out(EBGP_A, src, EBGP_B) is None  # B would refuse it as a loop (RFC 4271 §9.1.2)
    sent = out(EBGP_A, src, EBGP_B, replace_peer_as=True)
    assert sent is not None
    assert sent.attrs.as_path == ((SEQ, (LOCAL_AS, 65001, LOCAL_AS, 65003)),)
    # another peer's AS is left alone
    other = out(EBGP_A, path(65001, 65009), EBGP_B, replace_peer_as=True)
    assert other is not None and other.attrs.as_path == ((SEQ, (LOCAL_AS, 65001, 65009)),)


def test_remove_private_as_on_export_before_our_prepend() -> None:
    src = path(65001, 3356, 64999)
    removed = out(EBGP_A, src, EBGP_B, remove_private_as=RemovePrivateAs.ALL)
    assert removed is not None and removed.attrs.as_path == ((SEQ, (LOCAL_AS, 3356)),)
    replaced = out(EBGP_A, src, EBGP_B, remove_private_as=RemovePrivateAs.REPLACE)
    assert replaced is not None and replaced.attrs.as_path == ((SEQ, (LOCAL_AS, LOCAL_AS, 3356, LOCAL_AS)),)
    plain = out(EBGP_A, src, EBGP_B)
    assert plain is not None and plain.attrs.as_path == ((SEQ, (LOCAL_AS, 65001, 3356, 64999)),)


def test_remove_private_as_leaves_ibgp_alone() -> None:
    # GoBGP applies it to eBGP peers only (and refuses it on an iBGP neighbor, as the
    # configuration does here): the export rule does nothing towards iBGP.
    sent = out(EBGP_A, path(65001), IBGP_C, remove_private_as=RemovePrivateAs.ALL)
    assert sent is not None and sent.attrs.as_path == ((SEQ, (65001,)),)


# --- export: route-server clients (RFC 7947) -------------------------------------------------

def rs_source() -> Path:
    return path(65001, 65100, med=42, comms=(65001 << 16 | 7,), nh="192.0.2.1",
                extra=(UnknownAttribute(99, b"x", 0xC0),))


def test_route_server_client_gets_the_route_as_it_came_rfc7947_2_2() -> None:
    sent = out(EBGP_A, rs_source(), EBGP_B, route_server_client=True)
    assert sent is not None
    a = sent.attrs
    assert a.as_path == ((SEQ, (65001, 65100)),)  # §2.2.2.1: our AS not prepended
    assert a.next_hop == "192.0.2.1" and sent.next_hop == ("192.0.2.1",)  # §2.2.1
    assert a.med == 42  # §2.2.3
    assert a.communities == (65001 << 16 | 7,)  # §2.2.4
    assert a.get(99) is not None
    # the same route to an ordinary eBGP peer: prepended, next hop self, MED dropped
    plain = out(EBGP_A, rs_source(), EBGP_B)
    assert plain is not None
    assert plain.attrs.as_path == ((SEQ, (LOCAL_AS, 65001, 65100)),)
    assert plain.next_hop == ("192.0.2.100",) and plain.attrs.med is None


def test_route_server_client_ipv6_next_hops_unchanged() -> None:
    src = TABLE.get(rs_source().attrs, ("2001:db8::1", "fe80::1"))
    pol = ExportPolicy(EBGP_B, LOCAL_AS, "10.0.0.100", "192.0.2.100", ("2001:db8::100",),
                       route_server_client=True)
    sent = export_path(EBGP_A, src, pol, IPV6_UNICAST, TABLE)
    assert sent is not None and sent.next_hop == ("2001:db8::1", "fe80::1")


def test_route_server_never_sends_a_client_its_own_routes_or_its_as() -> None:
    assert out(EBGP_A, rs_source(), EBGP_A, route_server_client=True) is None  # where it came from
    # a path through the client's AS: the client would refuse it (RFC 4271 §9.1.2)
    assert out(EBGP_A, path(65001, 65003), CLIENT_C, route_server_client=True) is None


def test_route_server_client_still_loses_internal_attributes_and_honours_rfc1997() -> None:
    src = path(65001, lp=300, extra=(OriginatorId("1.1.1.1"),))
    sent = out(IBGP_C, src, EBGP_B, route_server_client=True)
    assert sent is not None
    assert sent.attrs.get(AttrType.LOCAL_PREF) is None and sent.attrs.get(AttrType.ORIGINATOR_ID) is None
    no_export = path(65001, comms=(int(WK.NO_EXPORT),))
    assert out(EBGP_A, no_export, EBGP_B, route_server_client=True) is None


def test_route_server_own_routes_carry_its_as_and_next_hop() -> None:
    # RFC 7947 is about the clients' routes; a route the server originates is its own.
    sent = out(LOCAL, path(med=3, nh="192.0.2.99"), EBGP_B, route_server_client=True)
    assert sent is not None
    assert sent.attrs.as_path == ((SEQ, (LOCAL_AS,)),) and sent.next_hop == ("192.0.2.100",)


def test_route_server_client_with_replace_peer_as() -> None:
    # GoBGP applies replace-peer-as before the route-server rules; so does gracebgp.
    sent = out(EBGP_A, path(65001, 65002), EBGP_B, route_server_client=True, replace_peer_as=True)
    assert sent is not None and sent.attrs.as_path == ((SEQ, (65001, LOCAL_AS)),)


def test_policies_differ_by_the_new_fields() -> None:
    # the Adj-RIB-Out's exported-path memo compares policies by equality
    base = ExportPolicy(EBGP_B, LOCAL_AS, "10.0.0.100")
    for kw in ({"route_server_client": True}, {"replace_peer_as": True},
               {"remove_private_as": RemovePrivateAs.ALL}):
        assert ExportPolicy(EBGP_B, LOCAL_AS, "10.0.0.100", **kw) != base
