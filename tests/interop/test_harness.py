"""Self-tests of the interop library: real daemons peering with each other, no gracebgp.

Every pair runs in a fresh :class:`Lab` of two namespaces joined by one veth link
(10.254.0.1/24 + fd00:254::1/64 on namespace 0, ``.2``/``::2`` on namespace 1), one
session over IPv4 transport for ipv4 unicast and one over IPv6 transport for ipv6 unicast.
Everything a test asserts is read through the daemons' own CLIs by the drivers.

After each lab closes, the test checks that none of its namespaces is left in
``ip netns list`` and none of the processes it spawned is alive.
"""

from __future__ import annotations

import time

import pytest

from tests.interop.common import AS4, assert_nothing_left, checked_lab, has, interop, pair_neighbors, require
from tests.interop.netns import Lab, wait_until
from tests.interop.peers import (
    Bird,
    ExaBgp,
    Frr,
    GoBgpd,
    GrSpec,
    RouteSpec,
    parse_bird_routes,
)

# --------------------------------------------------------------------------------------
# library basics (root + netns only)


@interop
def test_lab_builds_links_and_cleans_up_after_an_error() -> None:
    require()
    lab = Lab(3)
    with pytest.raises(RuntimeError, match="boom"), lab:
        ns0, ns1, ns2 = lab.namespaces
        assert len(lab.links) == 2
        assert lab.addr(0, 1) == "10.254.0.1" and lab.addr(1, 0, 6) == "fd00:254::2"
        assert lab.addr(1, 2) == "10.254.1.1" and lab.addr(2, 1, 6) == "fd00:254:1::2"
        assert lab.local_addr_towards(ns1, "fd00:254:1::2") == "fd00:254:1::1"
        # a TCP listener in ns1 is reachable from ns0 over IPv6 and IPv4, not from ns2 via link 0
        srv = lab.spawn(
            ns1, ["python3", "-m", "http.server", "--bind", "::", "18080"], lab.workdir / "http.log"
        )
        assert lab.tcp_ready(ns0, lab.addr(1, 0, 6), 18080, timeout=10)
        assert lab.tcp_ready(ns0, lab.addr(1, 0), 18080, timeout=5)
        assert lab.tcp_ready(ns2, lab.addr(1, 2), 18080, timeout=5)
        with pytest.raises(TimeoutError, match=r"TCP 10\.254\.0\.2:18081"):
            lab.tcp_ready(ns0, lab.addr(1, 0), 18081, timeout=0.5)
        assert srv.alive()
        raise RuntimeError("boom")
    assert_nothing_left(lab)


def test_wait_until_reports_the_last_observation() -> None:
    values = iter(range(1000))

    def pred() -> int:
        n = next(values)
        if n % 2:
            raise ValueError(f"odd {n}")
        return 0

    with pytest.raises(TimeoutError, match=r"counter; last observed: (0|ValueError\('odd \d+'\))$"):
        wait_until(pred, timeout=0.3, interval=0.05, what="counter")
    assert wait_until(lambda: "yes", timeout=1) == "yes"


def test_parse_bird_routes_text_format() -> None:
    text = (
        "BIRD 2.0.12 ready.\n"
        "Table master4:\n"
        "10.9.0.0/24          unicast [n0 15:02:26.421 from 10.254.0.1] * (100s) [AS4200000001?]\n"
        "\tvia 10.254.0.1 on veth0\n"
        "\tType: BGP univ\n"
        "\tBGP.origin: Incomplete\n"
        "\tBGP.as_path: 4200000001 {65001 65002}\n"
        "\tBGP.next_hop: 10.254.0.1\n"
        "\tBGP.med: 5\n"
        "\tBGP.local_pref: 100\n"
        "\tBGP.community: (65001,1) (65535,6)\n"
        "\tBGP.large_community: (4200000001, 1, 1)\n"
        "                     unicast [n1 15:02:26.438] (100) [AS4200000001?]\n"
        "\tvia fd00:254::1 on veth0\n"
        "\tBGP.next_hop: fd00:254::1 fe80::1\n"
        "10.1.0.0/24          blackhole [gbi_s4 15:02:14.990] * (200)\n"
        "\tType: static univ\n"
    )
    routes = parse_bird_routes(text)
    assert [(r["prefix"], r["proto"], r["primary"], r["flags"]) for r in routes] == [
        ("10.9.0.0/24", "n0", True, "s"),
        ("10.9.0.0/24", "n1", False, ""),
        ("10.1.0.0/24", "gbi_s4", True, ""),
    ]
    assert routes[0]["from"] == "10.254.0.1"
    assert routes[0]["attrs"]["BGP.community"] == "(65001,1) (65535,6)"
    assert routes[1]["attrs"]["BGP.next_hop"] == "fd00:254::1 fe80::1"


# --------------------------------------------------------------------------------------
# daemon pairs


@interop
def test_gobgpd_bird_ebgp_as4_attributes_withdraw_reset() -> None:
    """gobgpd (AS 4200000001) <-> BIRD (AS 65002), eBGP over v4 and v6 transport."""
    require(GoBgpd, Bird)
    with checked_lab() as lab:
        link = lab.links[0]
        g, b = GoBgpd(), Bird()
        g.start(
            lab,
            lab.ns(0),
            asn=AS4,
            router_id=link.a_v4,
            neighbors=pair_neighbors(lab, 0, 65002),
            originate=[
                RouteSpec("10.1.0.0/24", communities=("65001:100", "65535:65281"), med=50),
                RouteSpec("10.1.1.0/24", large_communities=(f"{AS4}:1:2",)),
                RouteSpec("2001:db8:1::/48", communities=("65001:6",)),
            ],
        )
        b.start(
            lab,
            lab.ns(1),
            asn=65002,
            router_id=link.b_v4,
            neighbors=pair_neighbors(lab, 1, AS4),
            originate=[
                RouteSpec("10.2.0.0/24", communities=("65002:7",), med=33, next_hop="10.254.0.99"),
                RouteSpec("2001:db8:2::/48", large_communities=("65002:1:1",)),
            ],
        )
        for addr in (link.b_v4, link.b_v6):
            g.wait_established(addr)
        # gobgpd -> BIRD: 4-octet AS path, communities (incl. NO_EXPORT), MED, large community
        r = b.wait_route(link.a_v4, "ipv4", "10.1.0.0/24")
        assert has(r, as_path=[AS4], med=50, next_hop=link.a_v4, peer=link.a_v4)
        assert r.communities == ["65001:100", "65535:65281"] and not r.stale
        r = b.wait_route(link.a_v4, "ipv4", "10.1.1.0/24")
        assert r.large_communities == [f"{AS4}:1:2"]
        r = b.wait_route(link.a_v6, "ipv6", "2001:db8:1::/48")
        assert has(r, next_hop=link.a_v6, as_path=[AS4], communities=["65001:6"])
        # BIRD -> gobgpd: third-party next hop set by export filter, MED on eBGP
        r = g.wait_route(link.b_v4, "ipv4", "10.2.0.0/24")
        assert has(r, as_path=[65002], med=33, next_hop="10.254.0.99", communities=["65002:7"])
        r = g.wait_route(link.b_v6, "ipv6", "2001:db8:2::/48")
        assert has(r, next_hop=link.b_v6, large_communities=["65002:1:1"])
        assert {x.prefix for x in g.best_routes("ipv4")} >= {"10.1.0.0/24", "10.2.0.0/24"}
        assert any(x.prefix == "10.1.0.0/24" and x.peer == link.a_v4 for x in b.best_routes("ipv4"))
        # announcements after start and withdrawals, both ways
        b.announce(RouteSpec("10.2.1.0/24", med=7))
        assert g.wait_route(link.b_v4, "ipv4", "10.2.1.0/24").med == 7
        b.withdraw("10.2.0.0/24")
        g.wait_route_gone(link.b_v4, "ipv4", "10.2.0.0/24")
        g.withdraw("2001:db8:1::/48")
        b.wait_route_gone(link.a_v6, "ipv6", "2001:db8:1::/48")
        # hard reset from BIRD's side: the session and the routes come back
        b.reset(link.a_v4)
        wait_until(lambda: g.session_state(link.b_v4) != "Established", 5, 0.05, what="session down")
        g.wait_established(link.b_v4)
        assert g.wait_route(link.b_v4, "ipv4", "10.2.1.0/24").med == 7
        b.wait_route(link.a_v4, "ipv4", "10.1.0.0/24")
        # administrative shutdown with a message, then enable
        g.shutdown(link.b_v6, "interop self-test maintenance")
        b.wait_state(link.a_v6, "Active", timeout=10)
        b.wait_route_gone(link.a_v6, "ipv6", "2001:db8:1::/48")
        g.wait_route_gone(link.b_v6, "ipv6", "2001:db8:2::/48")
        assert "interop self-test maintenance" in b.logs()
        g.enable(link.b_v6)
        g.wait_established(link.b_v6)
        g.wait_route(link.b_v6, "ipv6", "2001:db8:2::/48")


@interop
def test_bird_frr_ibgp_local_pref_ipv6_next_hop_and_graceful_restart() -> None:
    """BIRD <-> FRR, iBGP AS 65010: LOCAL_PREF, IPv6 next hop, GR helper on FRR's side."""
    require(Bird, Frr)
    with checked_lab() as lab:
        link = lab.links[0]
        gr = GrSpec(restart_time=60)
        b, f = Bird(), Frr()
        b.start(
            lab,
            lab.ns(0),
            asn=65010,
            router_id=link.a_v4,
            neighbors=pair_neighbors(lab, 0, 65010, gr),
            originate=[
                RouteSpec("10.1.0.0/24", local_pref=200, communities=("65010:1",)),
                RouteSpec("2001:db8:1::/48", next_hop="fd00:254::99", local_pref=150),
            ],
        )
        f.start(
            lab,
            lab.ns(1),
            asn=65010,
            router_id=link.b_v4,
            neighbors=pair_neighbors(lab, 1, 65010, gr),
            originate=[
                RouteSpec("10.2.0.0/24", local_pref=250, med=9, large_communities=("65010:2:3",)),
                RouteSpec("2001:db8:2::/48", next_hop="fd00:254::2", communities=("65010:6",)),
            ],
        )
        for addr in (link.b_v4, link.b_v6):
            b.wait_established(addr)
        r = f.wait_route(link.a_v4, "ipv4", "10.1.0.0/24")
        assert has(r, as_path=[], local_pref=200, communities=["65010:1"], next_hop=link.a_v4)
        r = f.wait_route(link.a_v6, "ipv6", "2001:db8:1::/48")
        assert has(r, next_hop="fd00:254::99", local_pref=150)
        r = b.wait_route(link.b_v4, "ipv4", "10.2.0.0/24")
        assert has(r, local_pref=250, med=9, large_communities=["65010:2:3"])
        r = b.wait_route(link.b_v6, "ipv6", "2001:db8:2::/48")
        assert has(r, next_hop=link.b_v6, local_pref=100, communities=["65010:6"])
        # a changed announcement replaces the old one; a withdrawal removes it
        f.announce(RouteSpec("10.2.0.0/24", local_pref=90))
        # (FRR sends MED 0 for a `network` route that sets no metric)
        b.wait_route(link.b_v4, "ipv4", "10.2.0.0/24", where=lambda r: r.local_pref == 90 and r.med == 0)
        f.withdraw("2001:db8:2::/48")
        b.wait_route_gone(link.b_v6, "ipv6", "2001:db8:2::/48")
        # soft reset keeps the session; hard reset from FRR recovers
        f.reset(link.a_v4, soft=True)
        f.reset(link.a_v6)
        b.wait_established(link.b_v6)
        f.wait_route(link.a_v6, "ipv6", "2001:db8:1::/48")
        # BIRD crashes: FRR keeps its routes as stale (GR helper), then refreshes them
        b.kill9()
        stale = f.wait_route(link.a_v4, "ipv4", "10.1.0.0/24", where=lambda r: r.stale, timeout=10)
        assert stale.local_pref == 200 and not stale.llgr_stale
        assert f.session_state(link.a_v4) != "Established"
        b.restart()
        f.wait_established(link.a_v4)
        f.wait_route(link.a_v4, "ipv4", "10.1.0.0/24", where=lambda r: not r.stale)


@interop
def test_frr_gobgpd_ebgp_as4_and_llgr() -> None:
    """FRR (AS 4200000003) <-> gobgpd (AS 4200000004): 4-octet ASes both sides, GR -> LLGR."""
    require(Frr, GoBgpd)
    with checked_lab() as lab:
        link = lab.links[0]
        gr = GrSpec(restart_time=3, llgr_stale_time=60)
        f, g = Frr(), GoBgpd()
        f.start(
            lab,
            lab.ns(0),
            asn=4200000003,
            router_id=link.a_v4,
            neighbors=pair_neighbors(lab, 0, 4200000004, gr),
            originate=[
                RouteSpec("10.3.0.0/24", communities=("65003:1", "65003:2"), med=77),
                RouteSpec("2001:db8:3::/48", large_communities=("4200000003:0:1",)),
            ],
        )
        g.start(
            lab,
            lab.ns(1),
            asn=4200000004,
            router_id=link.b_v4,
            neighbors=pair_neighbors(lab, 1, 4200000003, gr),
            originate=[RouteSpec("10.4.0.0/24", communities=("65004:4",), med=1)],
        )
        for addr in (link.a_v4, link.a_v6):
            g.wait_established(addr)
        r = g.wait_route(link.a_v4, "ipv4", "10.3.0.0/24")
        assert has(r, as_path=[4200000003], med=77, communities=["65003:1", "65003:2"], next_hop=link.a_v4)
        r = g.wait_route(link.a_v6, "ipv6", "2001:db8:3::/48")
        assert has(r, next_hop=link.a_v6, large_communities=["4200000003:0:1"], as_path=[4200000003])
        r = f.wait_route(link.b_v4, "ipv4", "10.4.0.0/24")
        assert has(r, as_path=[4200000004], med=1, communities=["65004:4"])
        f.withdraw("10.3.0.0/24")
        g.wait_route_gone(link.a_v4, "ipv4", "10.3.0.0/24")
        f.announce(RouteSpec("10.3.0.0/24", communities=("65003:9",)))
        g.wait_route(link.a_v4, "ipv4", "10.3.0.0/24", where=lambda r: r.communities == ["65003:9"])
        # FRR's bgpd crashes: gobgpd marks the routes stale, then LLGR-stale (65535:6) after
        # the 3 s restart time, and replaces them once bgpd is back.
        f.kill9()
        r = g.wait_route(link.a_v4, "ipv4", "10.3.0.0/24", where=lambda r: r.stale, timeout=10)
        r = g.wait_route(link.a_v4, "ipv4", "10.3.0.0/24", where=lambda r: r.llgr_stale, timeout=15)
        assert "65535:6" in r.communities and "65003:9" in r.communities
        f.restart()
        g.wait_established(link.a_v4)
        r = g.wait_route(link.a_v4, "ipv4", "10.3.0.0/24", where=lambda r: not r.stale and not r.llgr_stale)
        assert r.communities == ["65003:9"]


@interop
def test_exabgp_to_gobgpd_ibgp_attributes_withdraw_reset() -> None:
    """ExaBGP -> gobgpd, iBGP AS 65005; gobgpd's routes are seen in ExaBGP's update log."""
    require(ExaBgp, GoBgpd)
    with checked_lab() as lab:
        link = lab.links[0]
        e, g = ExaBgp(), GoBgpd()
        e.start(
            lab,
            lab.ns(0),
            asn=65005,
            router_id=link.a_v4,
            neighbors=pair_neighbors(lab, 0, 65005, port=1179),
            originate=[
                RouteSpec(
                    "10.5.0.0/24",
                    communities=("65005:1", "65535:0"),
                    large_communities=("65005:1:2",),
                    med=7,
                    local_pref=300,
                ),
                RouteSpec("2001:db8:5::/48", next_hop="fd00:254::55", local_pref=120),
            ],
        )
        # gobgpd listens on port 1179 only and never connects out (passive neighbors):
        # ExaBGP's neighbors point at that port.
        g.start(
            lab,
            lab.ns(1),
            asn=65005,
            router_id=link.b_v4,
            neighbors=pair_neighbors(lab, 1, 65005, passive=True),
            originate=[RouteSpec("10.6.0.0/24", local_pref=220, communities=("65006:7",))],
            listen_port=1179,
        )
        for addr in (link.a_v4, link.a_v6):
            g.wait_established(addr)
        assert e.session_state(link.b_v4) == "Established"
        r = g.wait_route(link.a_v4, "ipv4", "10.5.0.0/24")
        assert has(r, as_path=[], local_pref=300, med=7, next_hop=link.a_v4)
        assert r.communities == ["65005:1", "65535:0"] and r.large_communities == ["65005:1:2"]
        r = g.wait_route(link.a_v6, "ipv6", "2001:db8:5::/48")
        assert has(r, next_hop="fd00:254::55", local_pref=120)
        r = e.wait_route(link.b_v4, "ipv4", "10.6.0.0/24")
        assert has(r, local_pref=220, communities=["65006:7"], next_hop=link.b_v4, peer=link.b_v4)
        # API announce / withdraw (also of a route that came from ExaBGP's config)
        e.announce(RouteSpec("10.5.1.0/24", communities=("65005:9",)))
        assert g.wait_route(link.a_v4, "ipv4", "10.5.1.0/24").communities == ["65005:9"]
        e.withdraw("10.5.0.0/24")
        g.wait_route_gone(link.a_v4, "ipv4", "10.5.0.0/24")
        g.withdraw("10.6.0.0/24")
        e.wait_route_gone(link.b_v4, "ipv4", "10.6.0.0/24")
        # hard reset from ExaBGP (Cease/Administrative Reset): the session comes back
        t0 = time.monotonic()
        e.reset(link.b_v4)
        wait_until(lambda: g.session_state(link.a_v4) != "Established", 5, 0.05, what="session down")
        g.wait_established(link.a_v4)
        g.wait_route(link.a_v4, "ipv4", "10.5.1.0/24")
        assert time.monotonic() - t0 < 30
