"""A family's own ``[global.afi-safis.use-multiple-paths]`` reaches its Loc-RIB and the
global block the others: the same candidates give IPv4 (its own block: any neighbouring AS)
and IPv6 (the global block: one AS) different equal-cost sets, in the Loc-RIB and in
ListPaths' ``multipath``; a reload moves them."""

from __future__ import annotations

import json

from gracebgp.api.service import PathQuery, paths
from gracebgp.config import parse
from gracebgp.core import events as ev
from gracebgp.core.speaker import Speaker
from gracebgp.rib.path import PathTable, PeerInfo
from gracebgp.runtime.fromconfig import build_speaker, tunables_of
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire import AsPath, AttrSet, NextHop, Origin
from gracebgp.wire.nlri import parse_prefix

BASE = """\
[global.config]
as = 65000
router-id = "192.0.2.1"
[global.use-multiple-paths.config]
enabled = true
"""
V4_ANY_AS = """\
[[global.afi-safis]]
[global.afi-safis.config]
afi-safi-name = "ipv4-unicast"
[global.afi-safis.use-multiple-paths.config]
enabled = true
[global.afi-safis.use-multiple-paths.ebgp.config]
allow-multiple-as = true
"""
PREFIXES = {IPV4_UNICAST: "10.9.0.0/24", IPV6_UNICAST: "2001:db8:9::/48"}
# two eBGP sources in different neighbouring ASes, equal but for the router-id tie-break
A = PeerInfo(1, "192.0.2.11", 65001, "10.0.0.1", ibgp=False)
B = PeerInfo(2, "192.0.2.12", 65002, "10.0.0.2", ibgp=False)
TABLE = PathTable()


def learn(s: Speaker) -> None:
    """Both sources' path for each family's prefix, straight into the Loc-RIBs."""
    for family, prefix in PREFIXES.items():
        key = parse_prefix(prefix)[1]
        for peer in (A, B):
            attrs = AttrSet([Origin(0), AsPath(((2, (peer.asn,)),)), NextHop(peer.address)])
            s.loc[family].offer(peer, [key], TABLE.get(attrs, (peer.address,)))


def loc_set(s: Speaker, family: Family) -> list[int]:
    return sorted(c[0].index for c in s.loc[family].multipath_set(parse_prefix(PREFIXES[family])[1]))


def listed(s: Speaker, family: str, prefix: str) -> list[bool]:
    """ListPaths' ``multipath`` flag of each path of ``prefix`` (``routes available``)."""
    q = PathQuery("loc", family=family, prefix=prefix)
    lines = [json.loads(line) for chunk in paths(s, q, 0.0) for line in chunk.decode().splitlines()]
    return sorted(bool(e["multipath"]) for e in lines)


def test_ipv4_with_its_own_block_and_ipv6_with_the_global_one_differ() -> None:
    s = build_speaker(parse(BASE + V4_ANY_AS))
    learn(s)
    assert loc_set(s, IPV4_UNICAST) == [1, 2]  # allow-multiple-as: both ASes
    assert len(loc_set(s, IPV6_UNICAST)) == 1  # the global block: the best's AS alone
    assert listed(s, "ipv4-unicast", PREFIXES[IPV4_UNICAST]) == [True, True]
    assert listed(s, "ipv6-unicast", PREFIXES[IPV6_UNICAST]) == [False, True]


def test_a_reload_applies_a_familys_block() -> None:
    s = build_speaker(parse(BASE))
    learn(s)
    assert len(loc_set(s, IPV4_UNICAST)) == 1
    settings = tuple(p.settings for p in s.peers.values())
    s.handle(ev.Reconfigured(settings, (), tunables_of(parse(BASE + V4_ANY_AS))), 10.0)
    assert loc_set(s, IPV4_UNICAST) == [1, 2] and len(loc_set(s, IPV6_UNICAST)) == 1
    s.handle(ev.Reconfigured(settings, (), tunables_of(parse(BASE))), 20.0)  # the block removed
    assert len(loc_set(s, IPV4_UNICAST)) == 1
