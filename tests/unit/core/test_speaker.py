"""Two and three Speakers in memory: sessions establish, routes flow with the export
rules applied, withdrawals propagate, and the basic GR helper keeps a vanished peer's
routes stale until its Restart Time (RFC 4724 §4.2)."""

from __future__ import annotations

import ipaddress

from gracebgp.config import parse
from gracebgp.config.default import demo_configs
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire.nlri import format_prefix

from .net import SpeakerNet


def speaker_from(text: str) -> Speaker:
    cfg = parse(text)
    neighbors = [NeighborSettings.from_config(n, cfg.global_) for n in cfg.neighbors]
    routes = [LocalRoute.from_config(r) for r in cfg.gracebgp.routes]
    return Speaker(cfg.global_.asn, cfg.global_.router_id, neighbors, routes)


def demo_pair(tmp: str = "/tmp/gracebgp-test") -> tuple[SpeakerNet, Speaker, Speaker]:
    a_text, b_text = demo_configs(1179, 1180, tmp)
    net = SpeakerNet()
    a = net.add("127.0.0.1", speaker_from(a_text))
    b = net.add("127.0.0.2", speaker_from(b_text))
    net.run()
    return net, a, b


def learned(s: Speaker, family: object = IPV4_UNICAST) -> dict[str, tuple[str, ...]]:
    afi = 1 if family == IPV4_UNICAST else 2
    return {format_prefix(k, afi): cand[1].next_hop
            for k, cand in s.loc[family].items() if not cand[0].local}  # type: ignore[index]


def test_demo_speakers_establish_and_exchange_routes() -> None:
    _net, a, b = demo_pair()
    assert all(p.session.state == State.ESTABLISHED for p in (*a.peers.values(), *b.peers.values()))
    a_own = {format_prefix(k, fam.afi) for fam, k in a.local_routes}
    b_v4 = set(learned(b))
    b_v6 = set(learned(b, IPV6_UNICAST))
    assert a_own <= b_v4 | b_v6 and a_own
    # eBGP: AS 65001 prepended, next hop = A's session address (IPv4-mapped for IPv6).
    key = next(iter(k for fam, k in a.local_routes if fam == IPV4_UNICAST))
    cand = b.loc[IPV4_UNICAST].best(key)
    assert cand is not None
    assert cand[1].attrs.as_path == ((2, (65001,)),)
    assert cand[1].next_hop == ("127.0.0.1",)
    v6 = next(iter(learned(b, IPV6_UNICAST).values()))
    assert [ipaddress.ip_address(a) for a in v6] == [ipaddress.ip_address("::ffff:127.0.0.1")]


def test_withdrawal_propagates() -> None:
    net, a, b = demo_pair()
    fam, key = next(iter(a.local_routes))
    assert b.loc[fam].best(key) is not None
    assert a.delete_route(fam, key)
    net.run()
    assert b.loc[fam].best(key) is None


def test_new_route_reaches_the_peer() -> None:
    net, a, b = demo_pair()
    fam, key = a.add_route(LocalRoute("203.0.113.128/25", communities=("65001:7",), med=20))
    net.run()
    cand = b.loc[fam].best(key)
    assert cand is not None and cand[1].attrs.communities == (65001 << 16 | 7,)
    assert cand[1].attrs.med == 20  # locally originated MED goes to eBGP


def test_graceful_restart_helper_keeps_routes_until_restart_time() -> None:
    net, _a, b = demo_pair()
    before = set(learned(b))
    assert before
    net.cut("127.0.0.1")  # A's host vanishes: B sees the TCP connection fail
    net.run()
    assert set(learned(b)) == before  # retained (stale) -- RFC 4724 §4.2
    peer = b.peers["127.0.0.1"]
    assert all(adj.stale_count == len(adj) for adj in peer.adj_in.values())
    restart_time = peer.session.config.graceful_restart.restart_time  # type: ignore[union-attr]
    net.advance(restart_time - 5)
    assert set(learned(b)) == before
    net.advance(10)
    # The demo peers negotiate LLGR (3600 s): after the restart time the routes are kept as
    # LLGR-stale, tagged LLGR_STALE (RFC 9494 §4.2), and purged when that time passes.
    assert set(learned(b)) == before
    assert all(0xFFFF0006 in p.attrs.communities for adj in peer.adj_in.values() for p in adj.routes.values())
    net.advance(3600, step=100)
    assert learned(b) == {}


def test_routes_from_a_reset_without_gr_are_withdrawn() -> None:
    net, a, b = demo_pair()
    # A withdrawing stop: Cease, peers must delete our routes at once.
    from gracebgp.core import events as ev
    for out in a.handle(ev.StopRequested(graceful=False, message="decommission"), net.now):
        net.execute("127.0.0.1", out)
    net.run()
    assert learned(b) == {}
    assert any("decommission" in log.message for name, log in net.logs if name == "127.0.0.2")


def test_three_speakers_transit_and_loop_prevention() -> None:
    # C (AS 65003) peers with B only; A's routes reach C through B with path [65002 65001].
    a_text, b_text = demo_configs(1179, 1180, "/tmp/gracebgp-test3")
    b_text += """
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.3"
    peer-as = 65003
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"""
    c_text = """
[global.config]
  as = 65003
  router-id = "127.0.0.3"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.2"
    peer-as = 65002
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"""
    net = SpeakerNet()
    a = net.add("127.0.0.1", speaker_from(a_text))
    net.add("127.0.0.2", speaker_from(b_text))
    c = net.add("127.0.0.3", speaker_from(c_text))
    net.run()
    key = next(k for fam, k in a.local_routes if fam == IPV4_UNICAST)
    cand = c.loc[IPV4_UNICAST].best(key)
    assert cand is not None and cand[1].attrs.as_path == ((2, (65002, 65001)),)
    assert cand[1].next_hop == ("127.0.0.2",)
    # A never re-learns its own routes back through B (AS loop / sender-side check).
    own = {format_prefix(k, 1) for f, k in a.local_routes if f == IPV4_UNICAST}
    assert learned(a).keys().isdisjoint(own)


def test_reload_adds_removes_and_leaves_untouched_sessions_up() -> None:
    from gracebgp.core import events as ev

    net, a, b = demo_pair()
    peer_b_in_a = a.peers["127.0.0.2"]
    since = peer_b_in_a.session.established_since
    neighbors = tuple(p.settings for p in a.peers.values())
    routes = (LocalRoute("192.0.2.0/24"), LocalRoute("198.51.100.77/32", med=5))
    for out in a.handle(ev.Reconfigured(neighbors, routes), net.now):
        net.execute("127.0.0.1", out)
    net.run()
    assert a.peers["127.0.0.2"].session.established_since == since  # untouched: still up
    assert set(learned(b)) == {"192.0.2.0/24", "198.51.100.77/32"}
    assert learned(b, IPV6_UNICAST) == {}
    # Removing the neighbor stops it with Cease/Peer De-configured; B drops A's routes.
    for out in a.handle(ev.Reconfigured((), routes), net.now):
        net.execute("127.0.0.1", out)
    net.run()
    assert "127.0.0.2" not in a.peers
    assert learned(b) == {}
    assert any("PEER_DECONFIGURED" in log.message for n, log in net.logs if n == "127.0.0.2")


def test_describe_lists_peers_and_routes() -> None:
    _net, a, _b = demo_pair()
    text = "\n".join(a.describe())
    assert "peer 127.0.0.2 AS 65002 ESTABLISHED" in text
    assert "(from 127.0.0.2)" in text and "(local)" in text


def test_speaker_is_importable_from_the_package_root() -> None:
    import gracebgp

    assert gracebgp.Speaker is Speaker
