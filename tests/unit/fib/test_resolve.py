"""fib.resolve (next hops through the kernel's routes) and fib.desired (the Loc-RIB's
best path or multipath set, only with next hops that resolve)."""

from __future__ import annotations

import ipaddress

from gracebgp.fib.desired import entry_for
from gracebgp.fib.model import Hop
from gracebgp.fib.resolve import ON_LINK, Resolver
from gracebgp.rib.decision import Multipath
from gracebgp.rib.loc_rib import LocRib
from tests.unit.rib.helpers import EBGP_A, EBGP_B, LOCAL, path


def net(text: str) -> tuple[int, int]:
    n = ipaddress.ip_network(text)
    return int(n.network_address), n.prefixlen


def v4() -> Resolver:
    r = Resolver(32)
    r.add(*net("192.0.2.0/24"), (Hop(ON_LINK, 3),))  # connected on ifindex 3
    r.add(*net("198.51.100.0/24"), (Hop("192.0.2.254", 3),))  # static via a gateway
    return r


def test_a_connected_next_hop_resolves_to_itself_on_its_link() -> None:
    assert v4().resolve("192.0.2.1") == (Hop("192.0.2.1", 3),)


def test_a_recursive_next_hop_resolves_to_the_covering_routes_gateway() -> None:
    assert v4().resolve("198.51.100.7") == (Hop("192.0.2.254", 3),)


def test_longest_prefix_wins() -> None:
    r = v4()
    r.add(*net("192.0.2.128/25"), (Hop(ON_LINK, 9),))
    assert r.resolve("192.0.2.200") == (Hop("192.0.2.200", 9),)
    assert r.resolve("192.0.2.100") == (Hop("192.0.2.100", 3),)


def test_unresolvable_and_default_only() -> None:
    r = v4()
    assert r.resolve("203.0.113.1") is None
    r.add(0, 0, (Hop("192.0.2.254", 3),))
    assert r.resolve("203.0.113.9") is None  # not through the default route ...
    d = Resolver(32, via_default=True)
    d.add(0, 0, (Hop("192.0.2.254", 3),))
    assert d.resolve("203.0.113.9") == (Hop("192.0.2.254", 3),)  # ... unless asked to
    assert r.resolve("not an address") is None
    assert r.resolve("2001:db8::1") is None  # another family
    assert r.resolve("::ffff:192.0.2.5") == (Hop("::ffff:192.0.2.5", 3),)


def test_refresh_names_the_next_hops_whose_answer_changed() -> None:
    r = v4()
    assert r.resolve("192.0.2.1") is not None
    assert r.resolve("203.0.113.1") is None
    r.remove(*net("192.0.2.0/24"))  # the link's address went away
    r.add(*net("203.0.113.0/24"), (Hop(ON_LINK, 4),))
    assert r.refresh() == {"192.0.2.1", "203.0.113.1"}
    assert r.resolve("192.0.2.1") is None and r.resolve("203.0.113.1") == (Hop("203.0.113.1", 4),)
    assert r.refresh() == set()
    r.forget("203.0.113.1")
    r.remove(*net("203.0.113.0/24"))
    assert r.refresh() == set() and len(r) == 1


def test_ipv6() -> None:
    r = Resolver(128)
    r.add(*net("2001:db8:1::/64"), (Hop(ON_LINK, 5),))
    assert r.resolve("2001:db8:1::2") == (Hop("2001:db8:1::2", 5),)
    assert r.resolve("2001:db8:2::2") is None


K = 0x18_0A0100  # 10.1.0.0/24 as a prefix key


def test_desired_is_the_best_path_when_its_next_hop_resolves() -> None:
    loc = LocRib()
    loc.offer(EBGP_A, [K], path(65001, nh="192.0.2.1"))
    loc.offer(EBGP_B, [K], path(65002, 65003, nh="192.0.2.2"))
    assert entry_for(loc, K, v4()) == (Hop("192.0.2.1", 3),)
    r = Resolver(32)
    assert entry_for(loc, K, r) is None  # RFC 4271 §9.1.2.1: not resolvable, not installed


def test_desired_is_the_equal_cost_set_with_multipath() -> None:
    loc = LocRib()
    loc.multipath = Multipath(allow_multiple_as=True)
    loc.offer(EBGP_A, [K], path(65001, nh="192.0.2.1"))
    loc.offer(EBGP_B, [K], path(65002, nh="192.0.2.2"))
    assert entry_for(loc, K, v4()) == (Hop("192.0.2.1", 3), Hop("192.0.2.2", 3))
    r = Resolver(32)
    r.add(*net("192.0.2.2/32"), (Hop(ON_LINK, 7),))
    assert entry_for(loc, K, r) == (Hop("192.0.2.2", 7),)  # only the hop that resolves


def test_locally_originated_routes_are_not_installed() -> None:
    loc = LocRib()
    loc.offer(LOCAL, [K], path(nh="192.0.2.9"))
    assert entry_for(loc, K, v4()) is None
    assert entry_for(loc, 0x18_0A0200, v4()) is None  # no route at all
