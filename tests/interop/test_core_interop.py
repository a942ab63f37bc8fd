"""gracebgpd with the real thing (issue 3): for gobgpd, BIRD, FRR and ExaBGP, over iBGP and
eBGP (eBGP with our 4-octet AS 4200000001), one session over IPv4 transport for IPv4
unicast and one over IPv6 transport for IPv6 unicast:

* sessions establish;
* our routes reach the peer with the right next hop, AS_PATH, MED / LOCAL_PREF and
  communities -- read through the peer's own CLI;
* the peer's routes reach us with theirs;
* a withdrawal in either direction is seen on the other side;
* resetting the session from either side recovers it and the routes.
"""

from __future__ import annotations

import pytest

from tests.interop.common import AS4, checked_lab, interop, pair_neighbors, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import wait_until
from tests.interop.peers import Bird, ExaBgp, Frr, GoBgpd, PeerDaemon, RouteSpec

PEERS: dict[str, type[PeerDaemon]] = {"gobgpd": GoBgpd, "bird": Bird, "frr": Frr, "exabgp": ExaBgp}
IBGP_AS = 65010


@interop
@pytest.mark.parametrize("mode", ["ebgp", "ibgp"])
@pytest.mark.parametrize("kind", sorted(PEERS))
def test_gracebgpd_with_real_peer(kind: str, mode: str) -> None:
    require(PEERS[kind])
    ebgp = mode == "ebgp"
    ours, theirs = (AS4, 65002) if ebgp else (IBGP_AS, IBGP_AS)
    with checked_lab() as lab:
        link = lab.links[0]
        g, p = GraceBgpd(), PEERS[kind]()
        g.start(lab, lab.ns(0), asn=ours, router_id=link.a_v4, neighbors=pair_neighbors(lab, 0, theirs),
                originate=[RouteSpec("10.1.0.0/24", communities=("65001:100", "65535:65281"), med=50,
                                     local_pref=None if ebgp else 200),
                           RouteSpec("10.1.1.0/24", large_communities=(f"{AS4}:1:2",)),
                           RouteSpec("2001:db8:1::/48", communities=("65001:6",))])
        p.start(lab, lab.ns(1), asn=theirs, router_id=link.b_v4, neighbors=pair_neighbors(lab, 1, ours),
                originate=[RouteSpec("10.2.0.0/24", communities=("65002:7",), med=33),
                           RouteSpec("2001:db8:2::/48", large_communities=("65002:1:1",))])
        for addr in (link.b_v4, link.b_v6):
            g.wait_established(addr, timeout=45)
        for addr in (link.a_v4, link.a_v6):
            p.wait_established(addr, timeout=45)

        # ours -> peer, through the peer's CLI
        r = p.wait_route(link.a_v4, "ipv4", "10.1.0.0/24")
        assert r.as_path == ([ours] if ebgp else []), r
        assert r.next_hop == link.a_v4 and r.med == 50, r
        assert set(r.communities) >= {"65001:100", "65535:65281"}, r
        if not ebgp:
            assert r.local_pref == 200, r
        r = p.wait_route(link.a_v4, "ipv4", "10.1.1.0/24")
        assert r.large_communities == [f"{AS4}:1:2"], r
        r = p.wait_route(link.a_v6, "ipv6", "2001:db8:1::/48")
        assert r.next_hop == link.a_v6 and r.as_path == ([ours] if ebgp else []), r
        assert "65001:6" in r.communities, r

        # peer -> ours
        r = g.wait_route(link.b_v4, "ipv4", "10.2.0.0/24")
        assert r.as_path == ([theirs] if ebgp else []) and r.med == 33, r
        assert "65002:7" in r.communities and r.next_hop is not None, r
        if ebgp:
            assert r.next_hop == link.b_v4, r
        r = g.wait_route(link.b_v6, "ipv6", "2001:db8:2::/48")
        assert r.large_communities == ["65002:1:1"], r

        # withdrawals, both ways
        p.withdraw("10.2.0.0/24")
        g.wait_route_gone(link.b_v4, "ipv4", "10.2.0.0/24")
        g.withdraw("2001:db8:1::/48")
        p.wait_route_gone(link.a_v6, "ipv6", "2001:db8:1::/48")

        # a reset from our side: the session and the routes come back
        g.reset(link.b_v4)
        g.wait_established(link.b_v4, timeout=60)
        p.wait_route(link.a_v4, "ipv4", "10.1.0.0/24", timeout=30)

        # a reset from the peer's side (ExaBGP's reset is not a hard reset; see its README)
        if kind != "exabgp":
            p.announce(RouteSpec("10.2.1.0/24", med=7))
            g.wait_route(link.b_v4, "ipv4", "10.2.1.0/24")
            p.reset(link.a_v4)
            wait_until(lambda: g.session_state(link.b_v4) != "Established" or None, 10, 0.2,
                       what="our session to go down")
            g.wait_established(link.b_v4, timeout=60)
            assert g.wait_route(link.b_v4, "ipv4", "10.2.1.0/24", timeout=30).med == 7
            p.wait_route(link.a_v4, "ipv4", "10.1.0.0/24", timeout=30)
