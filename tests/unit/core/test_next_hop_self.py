"""Issue 11 finding 10: a route whose NEXT_HOP is an address of ours is ignored (RFC 4271
§6.3 a: semantically incorrect, "the error SHOULD be logged, and the route SHOULD be
ignored"; §5.1.3: "SHALL NOT install a route with itself as the next hop"), for eBGP and
iBGP, for the NEXT_HOP attribute and the MP_REACH_NLRI next hop; the session stays up, the
log is rate-limited per peer and the routes are counted.

The sans-IO Speaker is driven by hand-made peer bytes: our end of the connection is
192.0.2.1, the peer is 192.0.2.2.
"""

from __future__ import annotations

import pytest

from gracebgp.config import parse
from gracebgp.core import events as ev
from gracebgp.core.nexthop import LOG_INTERVAL, REASON
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire import AsPath, AttrSet, CodecContext, NextHop, Origin
from gracebgp.wire.capabilities import FourOctetAs, Multiprotocol
from gracebgp.wire.messages import Open
from gracebgp.wire.nlri import format_prefix, parse_prefix
from gracebgp.wire.update import pack_ipv4, pack_mp

US, PEER, OTHER = "192.0.2.1", "192.0.2.2", "198.51.100.1"
PEER2 = "198.51.100.2"  # a second peer, reached from our address OTHER (or an IPv6 one)
KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"
CONN = 7


def speaker(peer_as: int) -> Speaker:
    cfg = parse(f"""
[global.config]
  as = 65000
  router-id = "10.255.0.1"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{PEER}"
    peer-as = {peer_as}
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{PEER2}"
    peer-as = 65002
  [neighbors.transport.config]
    passive-mode = true
""")
    sp = Speaker(cfg.global_.asn, cfg.global_.router_id,
                 [NeighborSettings.from_config(n, cfg.global_) for n in cfg.neighbors])
    sp.handle(ev.Started(), 1000.0)
    hello = Open.build(peer_as, 90, "10.255.0.2", (Multiprotocol(1, 1), Multiprotocol(2, 1),
                                                    FourOctetAs(peer_as))).encode()
    sp.handle(ev.Connected(PEER, CONN, US, outgoing=False), 1000.0)
    sp.handle(ev.Received(PEER, CONN, hello + KEEPALIVE), 1000.0)
    assert sp.peers[PEER].session.state == State.ESTABLISHED
    return sp


def attrs(peer_as: int, next_hop: str | None) -> AttrSet:
    path = ((2, (peer_as,)),) if peer_as != 65000 else ()
    return AttrSet([Origin(0), AsPath(path)] + ([NextHop(next_hop)] if next_hop else []))


def v4(sp: Speaker, next_hop: str, prefixes: list[str], now: float = 1000.0,
       peer_as: int = 65001) -> list[ev.Output]:
    keys = [parse_prefix(p)[1] for p in prefixes]
    data = b"".join(pack_ipv4(attrs(peer_as, next_hop), keys, CodecContext()))
    return sp.handle(ev.Received(PEER, CONN, data), now)


def installed(sp: Speaker, family: Family = IPV4_UNICAST) -> set[str]:
    return {format_prefix(k, family.afi) for k, c in sp.loc[family].items() if not c[0].local}


def warnings(outputs: list[ev.Output]) -> list[str]:
    return [o.message for o in outputs if isinstance(o, ev.Log) and o.level == "warning"]


@pytest.mark.parametrize("peer_as", [65001, 65000], ids=["ebgp", "ibgp"])
def test_next_hop_of_ours_is_ignored_and_the_session_stays_up(peer_as: int) -> None:
    sp = speaker(peer_as)
    out = v4(sp, US, ["10.0.1.0/24", "10.0.2.0/24"], peer_as=peer_as)
    out += v4(sp, OTHER, ["10.0.3.0/24"], peer_as=peer_as)
    assert installed(sp) == {"10.0.3.0/24"}
    peer = sp.peers[PEER]
    assert peer.session.state == State.ESTABLISHED  # §6.3: no NOTIFICATION, no close
    assert not any(isinstance(o, ev.Send) and o.data[18] == 3 for o in out)
    assert peer.stats.own_next_hop == 2
    # Shown as received but not accepted, with the reason (ListPaths "rejected").
    assert {format_prefix(k, 1): why for k, (_, why) in peer.rejected[IPV4_UNICAST].items()} == {
        "10.0.1.0/24": REASON, "10.0.2.0/24": REASON}
    [line] = warnings(out)
    assert "2 ipv4-unicast route(s) with NEXT_HOP 192.0.2.1" in line and "RFC 4271" in line


def test_replacing_a_route_with_one_via_us_withdraws_it() -> None:
    # The new announcement replaces the peer's previous route for the prefix; ignoring it
    # must not leave the old one installed.
    sp = speaker(65001)
    v4(sp, OTHER, ["10.0.1.0/24"])
    assert installed(sp) == {"10.0.1.0/24"}
    v4(sp, US, ["10.0.1.0/24"])
    assert installed(sp) == set()
    v4(sp, OTHER, ["10.0.1.0/24"])  # and a good one later is taken again
    assert installed(sp) == {"10.0.1.0/24"}
    assert sp.peers[PEER].rejected[IPV4_UNICAST] == {}


def test_the_log_is_rate_limited_per_peer_and_counts_everything() -> None:
    sp = speaker(65001)
    lines: list[str] = []
    for i in range(30):  # one UPDATE per second
        lines += warnings(v4(sp, US, [f"10.1.{i}.0/24"], now=1000.0 + i))
    assert len(lines) == 1
    lines += warnings(v4(sp, US, ["10.2.0.0/24"], now=1000.0 + LOG_INTERVAL))
    assert len(lines) == 2
    assert lines[1].startswith("30 ipv4-unicast route(s)") and "31 in all" in lines[1]
    assert sp.peers[PEER].stats.own_next_hop == 31


@pytest.mark.parametrize("next_hop", [("::ffff:192.0.2.1",), ("2001:db8::1",)], ids=["mapped", "v6"])
def test_mp_reach_next_hop_of_ours_is_ignored(next_hop: tuple[str, ...]) -> None:
    sp = speaker(65001)
    # Our end of another peer's connection is an address of ours too.
    sp.handle(ev.Connected(PEER2, CONN + 1, "2001:db8:0:0::1", outgoing=False), 1000.0)
    keys = [parse_prefix("2001:db8:1::/48")[1]]
    for nh in (next_hop, ("2001:db8::99",)):
        data = b"".join(pack_mp(attrs(65001, None), IPV6_UNICAST, nh, keys, CodecContext()))
        sp.handle(ev.Received(PEER, CONN, data), 1000.0)
        assert installed(sp, IPV6_UNICAST) == (set() if nh == next_hop else {"2001:db8:1::/48"})


def test_the_peers_own_address_is_never_ours() -> None:
    # Two speakers on one host (127.0.0.1, other ports) share the address: a next hop that
    # is the sending peer's address is the peer's.
    sp = speaker(65001)
    sp.handle(ev.Connected(PEER2, CONN + 1, PEER, outgoing=False), 1000.0)
    v4(sp, PEER, ["10.0.1.0/24"])
    assert installed(sp) == {"10.0.1.0/24"}


def test_an_address_is_ours_only_while_a_connection_uses_it() -> None:
    sp = speaker(65001)
    sp.handle(ev.Connected(PEER2, CONN + 1, OTHER, outgoing=False), 1000.0)  # OpenSent
    v4(sp, OTHER, ["10.0.1.0/24"])
    assert installed(sp) == set()
    sp.handle(ev.Disconnected(PEER2, CONN + 1, "closed by the peer"), 1000.0)
    v4(sp, OTHER, ["10.0.1.0/24"])
    assert installed(sp) == {"10.0.1.0/24"}


def test_the_count_is_a_metric() -> None:
    from gracebgp.api.metrics import SpeakerCollector
    from gracebgp.api.service import DaemonInfo
    from gracebgp.config.model import Global

    sp = speaker(65001)
    v4(sp, US, ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"])
    info = DaemonInfo("test", "node1", 1000.0, 179, (US,), "retain", True, Global(asn=65000, router_id=US))
    [metric] = [m for m in SpeakerCollector(sp, info, lambda: 1000.0).collect()
                if m.name == "gracebgp_peer_own_next_hop_routes"]
    assert {(s.labels["peer"], s.value) for s in metric.samples if s.name.endswith("_total")} == {
        (PEER, 3.0), (PEER2, 0.0)}
