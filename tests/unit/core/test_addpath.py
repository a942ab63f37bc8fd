"""Speakers in memory with ADD-PATH (RFC 7911): configuration to OPEN to wire to Loc-RIB.
M learns one prefix from X and from Y and sends both to Z (send-max 2, Z receives); Z
keeps both as candidates of that prefix, each under its own Path Identifier."""

from __future__ import annotations

import json
from dataclasses import replace

from gracebgp.api.service import PathQuery, paths
from gracebgp.config import parse
from gracebgp.core import events as ev
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.reload import RESET, plan
from gracebgp.core.speaker import Speaker
from gracebgp.rib.decision import Multipath
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire.nlri import parse_prefix

from .net import SpeakerNet
from .test_route_server import neighbor, route, speaker

X, Y, M, Z = "127.0.0.1", "127.0.0.2", "127.0.0.10", "127.0.0.20"
K = parse_prefix("10.9.0.0/24")[1]
SEND2 = "[neighbors.add-paths.config]\nsend-max = 2\n"
RECEIVE = "[neighbors.add-paths.config]\nreceive = true\n"


def paths_at(s: Speaker) -> list[tuple[int | None, tuple[int, ...], tuple[str, ...]]]:
    """(path id of the source, AS numbers, next hop) of every candidate for K."""
    return sorted((c[0].path_id, tuple(a for _, seg in c[1].attrs.as_path for a in seg), c[1].next_hop)
                  for c in s.loc[IPV4_UNICAST].candidates(K))


def network(m_to_z: str = SEND2, z_to_m: str = RECEIVE) -> tuple[SpeakerNet, Speaker, Speaker, Speaker]:
    net = SpeakerNet()
    x = net.add(X, speaker(65001, X, neighbor(M, 65000), route("10.9.0.0/24")))
    net.add(Y, speaker(65002, Y, neighbor(M, 65000), route("10.9.0.0/24")))
    m = net.add(M, speaker(65000, M, neighbor(X, 65001) + neighbor(Y, 65002) + neighbor(Z, 65003, m_to_z)))
    z = net.add(Z, speaker(65003, Z, neighbor(M, 65000, z_to_m)))
    net.run()
    return net, x, m, z


def test_two_paths_arrive_with_distinct_path_ids_and_are_kept_rfc7911_5() -> None:
    net, x, m, z = network()
    neg = m.peers[Z].negotiated
    assert neg is not None and IPV4_UNICAST in neg.add_path_tx  # M: Send (2) meets Z: Receive (1)
    got = paths_at(z)
    assert len(got) == 2 and got[0][0] != got[1][0] and None not in (got[0][0], got[1][0])
    assert {p[1] for p in got} == {(65000, 65001), (65000, 65002)}
    assert len(z.peers[M].adj_in[IPV4_UNICAST]) == 2  # Adj-RIB-In: by (prefix, path id)
    # X withdraws: Z keeps the other path, under its path id
    y_id = next(p[0] for p in got if p[1] == (65000, 65002))
    x.delete_route(IPV4_UNICAST, K)
    net.run()
    assert paths_at(z) == [(y_id, (65000, 65002), (M,))]


def test_without_receive_at_the_peer_one_path_without_path_ids() -> None:
    _, _, m, z = network(z_to_m="")
    neg = m.peers[Z].negotiated
    assert neg is not None and not neg.add_path_tx
    assert [p[0] for p in paths_at(z)] == [None]


def test_send_max_1_sends_the_best_only_with_a_path_id() -> None:
    _, _, m, z = network(m_to_z="[neighbors.add-paths.config]\nsend-max = 1\n")
    got = paths_at(z)
    best = m.loc[IPV4_UNICAST].best(K)
    assert best is not None and len(got) == 1 and got[0][0] is not None
    assert got[0][1] == (65000, best[1].attrs.as_path[0][1][0])


def listed(s: Speaker, table: str = "loc", peer: str | None = None) -> list[dict[str, object]]:
    """ListPaths lines for K (the API's NDJSON)."""
    q = PathQuery(table, peer=peer, prefix="10.9.0.0/24")
    return [json.loads(line) for chunk in paths(s, q, 0.0) for line in chunk.decode().splitlines()]


def test_listings_show_path_ids_both_ways_and_the_multipath_set() -> None:
    _, _, m, z = network()
    got = listed(z, "adj-in", M)  # received: one line per path, each with the id M chose
    assert len(got) == 2 and {e["path_id"] for e in got} == {p[0] for p in paths_at(z)}
    sent = listed(m, "adj-out", Z)
    assert sorted(e["path_id"] for e in sent) == sorted(e["path_id"] for e in got)  # type: ignore[type-var]
    loc = listed(z)
    assert [e["best"] for e in loc].count(True) == 1 and all(e["path_id"] is not None for e in loc)
    # without [global.use-multiple-paths] the set is the best alone
    assert [e["multipath"] for e in loc] == [e["best"] for e in loc]
    # with it and allow-multiple-as, M's two paths (through 65001 and 65002, equal up to the
    # router-id tie-break) are both in the set
    z.loc[IPV4_UNICAST].multipath = Multipath(allow_multiple_as=True)
    assert [e["multipath"] for e in listed(z)] == [True, True]


def test_a_reload_applies_use_multiple_paths() -> None:
    _, _, _, z = network()
    assert z.loc[IPV4_UNICAST].multipath is None
    settings = tuple(p.settings for p in z.peers.values())
    tunables = ev.Tunables(multipath=True, multipath_ebgp_maximum_paths=2)
    z.handle(ev.Reconfigured(settings, (), tunables), 2000.0)
    assert z.loc[IPV4_UNICAST].multipath == Multipath(ebgp_maximum_paths=2)
    assert z.peers[M].negotiated is not None  # the session stays up


def test_a_changed_send_max_resets_the_session() -> None:
    cfg = parse(f'[global.config]\nas = 65000\nrouter-id = "{M}"\n' + neighbor(Z, 65003, SEND2))
    old = NeighborSettings.from_config(cfg.neighbors[0], cfg.global_)
    new = replace(old, add_path_send_max=((IPV4_UNICAST, 4),))
    p = plan(old, new)
    assert p.action == RESET and p.changed == ("add-paths send-max",)


def test_stale_marks_follow_each_paths_own_key() -> None:
    _, _, _, z = network()
    adj = z.peers[M].adj_in[IPV4_UNICAST]
    adj.begin_refresh()  # as graceful restart marks them (DESIGN.md rule 6)
    first = adj.paths(K)[0][1]
    adj.announce([first], adj.routes[first])  # one path re-learned
    assert sorted(bool(e["stale"]) for e in listed(z)) == [False, True]
    assert sorted(bool(e["stale"]) for e in listed(z, "adj-in", M)) == [False, True]
