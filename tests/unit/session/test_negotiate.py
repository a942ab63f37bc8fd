"""negotiate(): one Negotiated value from both OPENs, and the codec contexts it implies.

RFC 5492 §3 (both sides), RFC 4271 §4.2 and §10 (hold / keepalive), RFC 4760 §8 and spec
section 2 (families, implied IPv4 unicast), RFC 7911 §4-§5 (ADD-PATH per direction),
RFC 4724 §3, RFC 8538 §2, RFC 9494 §4.1-§4.2, RFC 6793, RFC 8654, RFC 8950.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gracebgp.session import GrCapability, GrConfig, Negotiated, build_open, negotiate
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire import (
    AddPath,
    CapabilitiesParam,
    Capability,
    CodecContext,
    EnhancedRouteRefresh,
    ExtendedMessage,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    LongLivedGracefulRestart,
    Multiprotocol,
    Open,
    RouteRefreshCapability,
)
from gracebgp.wire.iana import AddPathMode

from .helpers import config

V4, V6 = IPV4_UNICAST, IPV6_UNICAST
VECTORS = Path(__file__).parents[2] / "vectors" / "peers"


def theirs(*caps: Capability, hold: int = 90, asn: int = 65002, bgp_id: str = "10.0.0.2") -> Open:
    return Open(asn if asn <= 0xFFFF else 23456, hold, bgp_id, (CapabilitiesParam(caps),) if caps else ())


def neg(their_open: Open, **kw: Any) -> Negotiated:
    cfg = config(**kw)
    return negotiate(cfg, build_open(cfg), their_open)


BASIC = (Multiprotocol(1, 1), Multiprotocol(2, 1), FourOctetAs(65002))


@pytest.mark.parametrize(("ours", "their", "hold", "keepalive"), [
    (90, 90, 90, 30), (90, 30, 30, 10), (9, 180, 9, 3), (3, 90, 3, 1),
    (0, 90, 0, 0), (90, 0, 0, 0), (0, 0, 0, 0),
])
def test_hold_time_is_the_smaller(ours: int, their: int, hold: int, keepalive: int) -> None:
    """RFC 4271 §4.2: the smaller Hold Time, 0 if either is 0; keepalive a third (§10)."""
    n = neg(theirs(*BASIC, hold=their), hold_time=ours)
    assert (n.hold_time, n.keepalive_time) == (hold, keepalive)


@pytest.mark.parametrize(("ours", "configured", "their", "keepalive"), [
    (90, 10, 90, 10),  # the configured interval
    (90, 30, 90, 30),
    (90, 20, 30, 10),  # the peer's shorter hold time bounds it: a third of 30
    (90, 5, 30, 5),
    (9, 3, 3, 1),  # RFC 4271 §4.2: 3 s is the least non-zero hold time
    (90, 10, 0, 0),  # RFC 4271 §4.4: hold time 0, no KEEPALIVE at all
])
def test_keepalive_is_the_configured_interval_bounded_by_the_hold_time(
        ours: int, configured: int, their: int, keepalive: int) -> None:
    """keepalive-interval (issue 11 finding 5): min(configured, negotiated Hold Time / 3),
    RFC 4271 §10 ("one third of the HoldTime") and §4.4 (none with Hold Time 0)."""
    n = neg(theirs(*BASIC, hold=their), hold_time=ours, keepalive_time=configured)
    assert n.keepalive_time == keepalive


def test_families_intersection() -> None:
    """RFC 5492 §3: a family is used only when both Multiprotocol capabilities list it."""
    n = neg(theirs(Multiprotocol(2, 1), Multiprotocol(1, 128), FourOctetAs(65002)))
    assert n.families == {V6}


def test_no_mp_capability_implies_ipv4_unicast() -> None:
    """Spec section 2 / RFC 4760 §8: a side that sends no MP capability speaks IPv4 unicast."""
    assert neg(theirs(FourOctetAs(65002))).families == {V4}
    assert neg(theirs()).families == {V4}


def test_identity_and_ibgp() -> None:
    n = neg(theirs(*BASIC))
    assert (n.peer_as, n.peer_router_id, n.ibgp, n.local_as, n.local_router_id) == (
        65002, "10.0.0.2", False, 65001, "10.0.0.1")
    n = neg(theirs(Multiprotocol(1, 1), FourOctetAs(65001), asn=65001), peer_as=65001)
    assert n.ibgp and n.rx_context().ibgp and n.tx_context().ibgp


def test_as4_needs_both() -> None:
    """RFC 6793 §4.1: 4-octet AS numbers only between two NEW speakers."""
    assert neg(theirs(*BASIC)).as4
    old = neg(theirs(Multiprotocol(1, 1)))
    assert not old.as4 and not old.rx_context().as4 and not old.tx_context().as4
    big = theirs(Multiprotocol(1, 1), FourOctetAs(4200000002), asn=4200000002)
    assert big.my_as == 23456 and neg(big, peer_as=4200000002).peer_as == 4200000002


# RFC 7911 §5 matrix: (our Send/Receive, theirs) -> (we send path ids, we receive them)
@pytest.mark.parametrize(("ours", "their", "tx", "rx"), [
    (AddPathMode.BOTH, 3, True, True),
    (AddPathMode.SEND, 1, True, False),
    (AddPathMode.SEND, 2, False, False),
    (AddPathMode.RECEIVE, 2, False, True),
    (AddPathMode.RECEIVE, 1, False, False),
    (AddPathMode.BOTH, 1, True, False),
    (AddPathMode.BOTH, 2, False, True),
    (AddPathMode.SEND, 3, True, False),
])
def test_add_path_per_direction(ours: AddPathMode, their: int, tx: bool, rx: bool) -> None:
    """RFC 7911 §5: we send Path Identifiers for F iff we advertised Send and they advertised
    Receive; we receive them iff they advertised Send and we advertised Receive."""
    n = neg(theirs(*BASIC, AddPath(((1, 1, their),))), add_path=((V4, ours),))
    assert (V4 in n.add_path_tx, V4 in n.add_path_rx) == (tx, rx)
    assert (V4 in n.tx_context().addpath, V4 in n.rx_context().addpath) == (tx, rx)
    assert not n.add_path_tx & {V6} and not n.add_path_rx & {V6}


def test_add_path_only_for_negotiated_families_and_valid_values() -> None:
    """RFC 7911 §4: a Send/Receive value outside 1..3 makes the capability ignored."""
    n = neg(theirs(Multiprotocol(1, 1), FourOctetAs(65002), AddPath(((2, 1, 3),))),
            add_path=((V6, AddPathMode.BOTH),))
    assert n.add_path_rx == n.add_path_tx == frozenset()
    n = neg(theirs(*BASIC, AddPath(((1, 1, 3), (2, 1, 7)))), add_path=((V4, AddPathMode.BOTH),))
    assert n.add_path_rx == n.add_path_tx == frozenset()


@pytest.mark.parametrize(("ours", "their", "both"), [(True, True, True), (True, False, False),
                                                    (False, True, False)])
def test_extended_message_needs_both(ours: bool, their: bool, both: bool) -> None:
    """RFC 8654 §4: messages above 4096 octets only with the capability exchanged."""
    caps = BASIC + ((ExtendedMessage(),) if their else ())
    n = neg(theirs(*caps), extended_message=ours)
    assert n.extended_message is both
    assert n.rx_context().max_message_len == n.tx_context().max_message_len == (65535 if both else 4096)


def test_route_refresh_needs_both() -> None:
    """RFC 2918 / RFC 7313 §4 (and RFC 5492 §3)."""
    n = neg(theirs(*BASIC, RouteRefreshCapability()))
    assert n.route_refresh and not n.enhanced_route_refresh
    n = neg(theirs(*BASIC, RouteRefreshCapability(), EnhancedRouteRefresh()))
    assert n.route_refresh and n.enhanced_route_refresh
    n = neg(theirs(*BASIC, RouteRefreshCapability(), EnhancedRouteRefresh()),
            route_refresh=False, enhanced_route_refresh=False)
    assert not n.route_refresh and not n.enhanced_route_refresh


def test_peer_gr_capability_and_gr_families() -> None:
    """RFC 4724 §3: R, Restart Time, families with F; gr_families = negotiated ones only."""
    gr = GracefulRestart(0x8, 120, ((1, 1, 0x80), (2, 1, 0), (1, 128, 0x80)))
    n = neg(theirs(Multiprotocol(1, 1), Multiprotocol(2, 1), Multiprotocol(1, 128), FourOctetAs(65002), gr))
    assert n.peer_gr == GrCapability(True, False, 120, frozenset({V4, V6, Family(1, 128)}),
                                     frozenset({V4, Family(1, 128)}))
    assert n.gr_families == {V4, V6}  # 1/128 is not negotiated
    assert n.local_gr is None and not n.notification_supported


def test_gr_last_instance_wins() -> None:
    """RFC 4724 §3: with several GR capabilities, "ignore all but the last instance"."""
    n = neg(theirs(*BASIC, GracefulRestart(0, 10, ((2, 1, 0),)), GracefulRestart(0, 20, ((1, 1, 0),))))
    assert n.peer_gr is not None and n.peer_gr.restart_time == 20 and n.gr_families == {V4}


@pytest.mark.parametrize(("ours", "their", "both"), [(True, True, True), (True, False, False),
                                                    (False, True, False)])
def test_n_bit_only_when_both(ours: bool, their: bool, both: bool) -> None:
    """RFC 8538 §2: the N-bit procedures apply only when both sides set N."""
    gr = GracefulRestart(0x4 if their else 0, 120, ((1, 1, 0),))
    n = neg(theirs(*BASIC, gr), graceful_restart=GrConfig(notification=ours))
    assert n.notification_supported is both
    assert n.local_gr is not None and n.local_gr.notification is ours


def test_no_n_without_peer_gr() -> None:
    assert not neg(theirs(*BASIC), graceful_restart=GrConfig()).notification_supported


def test_llgr() -> None:
    """RFC 9494 §3.1: per family stale time and F; §4.2: unlisted families have zero."""
    llgr = LongLivedGracefulRestart(((1, 1, 0x80, 3600), (2, 1, 0, 60)))
    n = neg(theirs(Multiprotocol(1, 1), FourOctetAs(65002), GracefulRestart(0, 0, ()), llgr))
    assert n.peer_llgr is not None
    assert n.peer_llgr.stale_time(V4) == 3600 and n.peer_llgr.stale_time(Family(1, 128)) is None
    assert n.peer_llgr.forwarding == {V4}
    assert n.llgr_families == {V4}  # IPv6 is not negotiated
    assert n.gr_families == frozenset() and n.graceful_families == {V4}  # LLGR alone retains


def test_llgr_without_gr_is_disregarded() -> None:
    """RFC 9494 §4.1: "If it is not so advertised, the LLGR Capability MUST be disregarded"."""
    n = neg(theirs(*BASIC, LongLivedGracefulRestart(((1, 1, 0, 3600),))))
    assert n.peer_llgr is None and n.llgr_families == frozenset() and n.graceful_families == frozenset()


def test_our_llgr_is_reported() -> None:
    n = neg(theirs(*BASIC), graceful_restart=GrConfig(), llgr=((V4, 7200),))
    assert n.local_llgr is not None and n.local_llgr.stale_time(V4) == 7200


def test_extended_next_hop_needs_both() -> None:
    """RFC 8950 §3: IPv4 NLRI with IPv6 next hops only when both sides list it."""
    n = neg(theirs(*BASIC, ExtendedNextHop(((1, 1, 2), (1, 128, 2)))), extended_next_hop=(V4,))
    assert n.extended_next_hop == {V4}
    assert neg(theirs(*BASIC, ExtendedNextHop(((1, 1, 2),)))).extended_next_hop == frozenset()


def test_extended_next_hop_reaches_the_receive_context() -> None:
    # RFC 8950 §4: the decoder accepts an IPv6 next hop for IPv4 only where negotiated.
    n = neg(theirs(*BASIC, ExtendedNextHop(((1, 1, 2),))), extended_next_hop=(V4,))
    assert n.rx_context().extended_next_hop == {V4}
    assert neg(theirs(*BASIC)).rx_context().extended_next_hop == frozenset()


def test_hostname() -> None:
    n = neg(theirs(*BASIC, Fqdn("rtr1", "example.net")))
    assert (n.peer_hostname, n.peer_domain) == ("rtr1", "example.net")
    assert neg(theirs(*BASIC)).peer_hostname is None


def test_contexts_default_case() -> None:
    n = neg(theirs(*BASIC, ExtendedMessage()))
    assert n.rx_context() == n.tx_context() == CodecContext(as4=True, addpath=frozenset(),
                                                            extended_message=True, ibgp=False)


def test_with_the_open_frr_sent_in_the_golden_vectors() -> None:
    """A real FRR 8.4 OPEN (tests/vectors/peers): R and N set, LLGR, ADD-PATH, FQDN."""
    first = json.loads((VECTORS / "frr_to_gobgpd.jsonl").read_text().splitlines()[0])
    frr = Open.decode(bytes.fromhex(first["hex"])[19:])
    cfg = config(local_as=4200000004, peer_as=4200000003, hold_time=90,
                 add_path=((V4, AddPathMode.BOTH),), graceful_restart=GrConfig())
    n = negotiate(cfg, build_open(cfg), frr)
    assert (n.peer_as, n.peer_router_id, n.hold_time, n.keepalive_time) == (4200000003, "10.255.3.1", 9, 3)
    assert n.families == {V4} and n.as4 and n.extended_message
    assert n.add_path_rx == n.add_path_tx == {V4}
    assert n.route_refresh and n.enhanced_route_refresh
    assert n.peer_gr == GrCapability(True, True, 120, frozenset({V4}), frozenset())
    assert n.notification_supported and n.gr_families == {V4}
    assert n.peer_llgr is not None and n.peer_llgr.stale_time(V4) == 3600 and n.peer_llgr.forwarding == {V4}
    assert (n.peer_hostname, n.peer_domain) == ("frr-ns31", "example.test")
