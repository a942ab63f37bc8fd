"""Next hops in selection (RFC 4271 §9.1.2.1): a route whose NEXT_HOP does not resolve
through the kernel's routes is parked out of the Loc-RIB (LocRib.reach), and a change of
reachability (core.nexthop_track.KernelRoutes) moves the routes through the next hops
concerned out of or back into selection, their prefixes marked changed for the flush."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from gracebgp.core.nexthop_track import KernelRoutes, apply
from gracebgp.fib.model import Hop
from gracebgp.fib.resolve import ON_LINK, Resolver
from gracebgp.rib.loc_rib import LocRib
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from tests.unit.rib.helpers import EBGP_A, EBGP_B, LOCAL, path

FAMILIES = (IPV4_UNICAST, IPV6_UNICAST)
K1, K2 = 0x18_0A0100, 0x18_0A0200  # 10.1.0.0/24, 10.2.0.0/24
A_NH, B_NH = "192.0.2.1", "198.51.100.2"


def net(text: str) -> tuple[int, int]:
    n = ipaddress.ip_network(text)
    return int(n.network_address), n.prefixlen


def connected(*nets: str) -> tuple[tuple[int, int, tuple[Hop, ...]], ...]:
    return tuple((*net(n), (Hop(ON_LINK, 2),)) for n in nets)


@dataclass
class Host:
    """The two things nexthop_track reads of a speaker, as plain values."""

    loc: dict[Family, LocRib] = field(default_factory=lambda: {f: LocRib() for f in FAMILIES})
    changed: dict[Family, set[int]] = field(default_factory=lambda: {f: set() for f in FAMILIES})


def test_an_unresolvable_next_hop_is_parked_and_loses_to_a_resolvable_one() -> None:
    loc = LocRib()
    r = Resolver(32)
    r.add(*net("192.0.2.0/24"), (Hop(ON_LINK, 2),))
    loc.reach = r
    a, b = path(65001, nh=A_NH), path(65002, nh=B_NH, lp=200)  # b is better but unreachable
    assert loc.offer(EBGP_A, [K1], a) == [K1]
    assert loc.offer(EBGP_B, [K1], b) == []
    best = loc.best(K1)
    assert best is not None and best[1] is a
    assert loc.parked == {(EBGP_B.source, K1): (EBGP_B, b, 0.0)}
    assert loc.retract(EBGP_B, [K1]) == [] and loc.parked == {}  # a withdrawal unparks
    assert loc.offer(EBGP_B, [K2], b) == [] and loc.best(K2) is None  # no candidate at all


def test_locally_originated_routes_are_never_parked() -> None:
    loc = LocRib()
    loc.reach = Resolver(32)
    assert loc.offer(LOCAL, [K1], path(nh="203.0.113.9")) == [K1]


def test_reachability_changes_move_routes_out_and_back() -> None:
    host = Host()
    apply(host, KernelRoutes(IPV4_UNICAST, connected("192.0.2.0/24", "198.51.100.0/24"), full=True))
    loc = host.loc[IPV4_UNICAST]
    a, b = path(65001, nh=A_NH), path(65002, nh=B_NH, lp=200)
    loc.offer(EBGP_A, [K1, K2], a)
    loc.offer(EBGP_B, [K1], b)
    assert loc.best(K1)[1] is b  # type: ignore[index]
    # the link towards B loses its address: B's route leaves selection, A's is best again
    apply(host, KernelRoutes(IPV4_UNICAST, removed=(net("198.51.100.0/24"),)))
    assert host.changed[IPV4_UNICAST] == {K1}
    assert loc.best(K1)[1] is a and (EBGP_B.source, K1) in loc.parked  # type: ignore[index]
    # and comes back
    host.changed[IPV4_UNICAST].clear()
    apply(host, KernelRoutes(IPV4_UNICAST, connected("198.51.100.0/24")))
    assert host.changed[IPV4_UNICAST] == {K1} and loc.best(K1)[1] is b and not loc.parked  # type: ignore[index]
    # a full table without A's link: A's routes go, the prefix only A offered has none left
    host.changed[IPV4_UNICAST].clear()
    apply(host, KernelRoutes(IPV4_UNICAST, connected("198.51.100.0/24"), full=True))
    assert host.changed[IPV4_UNICAST] == {K2}  # K1: B stays best
    assert loc.best(K2) is None and loc.best(K1)[1] is b  # type: ignore[index]


def test_the_first_table_checks_the_routes_already_selected() -> None:
    host = Host()
    loc = host.loc[IPV4_UNICAST]
    loc.offer(EBGP_A, [K1], path(65001, nh=A_NH))  # learned before the kernel's routes were known
    assert apply(host, KernelRoutes(IPV4_UNICAST, connected("198.51.100.0/24"), full=True)) == 1
    assert loc.best(K1) is None and host.changed[IPV4_UNICAST] == {K1}
    assert apply(host, KernelRoutes(Family(25, 70))) == 0  # a family without a Loc-RIB here
