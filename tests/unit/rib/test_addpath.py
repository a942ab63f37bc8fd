"""ADD-PATH (RFC 7911): a peer's several paths for one prefix are several Loc-RIB
candidates (receive), and up to send-max paths per prefix go to a peer that negotiated
Receive, each under a Path Identifier of ours that stays while the path stays (send)."""

from __future__ import annotations

import random

from gracebgp.restart.shutdown import llgr_stale_attrs
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.adj_rib_out_addpath import AddPathRibOut, rib_out_for
from gracebgp.rib.channel import Channel
from gracebgp.rib.channel_addpath import AddPathChannel, channel_for
from gracebgp.rib.export import ExportPolicy
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PeerInfo
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire.context import CodecContext
from gracebgp.wire.iana import WellKnownCommunity as WK
from gracebgp.wire.nlri import addpath_key, parse_prefix
from gracebgp.wire.update import parse_update

from .helpers import EBGP_A, EBGP_B, TABLE, path

V4 = IPV4_UNICAST
K1, K2 = parse_prefix("10.1.0.0/24")[1], parse_prefix("10.2.0.0/24")[1]
SHORT, LONG, LONGER = path(65001, nh="192.0.2.11"), path(65001, 65005, nh="192.0.2.12"), path(
    65001, 65005, 65006, nh="192.0.2.13")
TO = PeerInfo(7, "192.0.2.7", 65007, "10.0.0.7", ibgp=False)
TX = CodecContext(addpath=frozenset({V4}))


def receiving(loc: LocRib | None = None, info: PeerInfo = EBGP_A) -> tuple[AddPathChannel, LocRib, set[int]]:
    loc = loc if loc is not None else LocRib()
    changed: dict[Family, set[int]] = {V4: set()}
    return AddPathChannel(V4, loc, changed, info), loc, changed[V4]


def sources(loc: LocRib, key: int) -> list[tuple[int, int | None, Path]]:
    found = [(c[0].index, c[0].path_id, c[1]) for c in loc.candidates(key)]
    return sorted(found, key=lambda t: (t[0], t[1] or 0))


# --- receive ------------------------------------------------------------------------------


def test_two_paths_of_one_peer_for_one_prefix_are_two_candidates_rfc7911_5() -> None:
    ch, loc, changed = receiving()
    ch.announce([addpath_key(K1, 1), addpath_key(K2, 1)], SHORT)
    ch.announce([addpath_key(K1, 2)], LONG)
    assert loc.keys() == [K1, K2]  # plain prefix keys: no Path Identifier in the Loc-RIB
    assert sources(loc, K1) == [(1, 1, SHORT), (1, 2, LONG)]
    assert loc.best(K1)[1] is SHORT and changed == {K1, K2}  # type: ignore[index]
    assert len(ch) == 3  # the Adj-RIB-In keeps every path by (prefix, path id)


def test_a_new_path_replaces_only_the_same_path_id_rfc7911_5() -> None:
    ch, loc, _ = receiving()
    ch.announce([addpath_key(K1, 1)], SHORT)
    ch.announce([addpath_key(K1, 2)], LONG)
    ch.announce([addpath_key(K1, 2)], LONGER)  # path 2 replaced, path 1 untouched
    assert sources(loc, K1) == [(1, 1, SHORT), (1, 2, LONGER)]


def test_withdrawing_one_path_id_keeps_the_other_and_reselects() -> None:
    ch, loc, changed = receiving()
    ch.announce([addpath_key(K1, 1)], SHORT)
    ch.announce([addpath_key(K1, 2)], LONG)
    changed.clear()
    assert ch.withdraw([addpath_key(K1, 1), addpath_key(K1, 9)]) == [addpath_key(K1, 1)]  # 9: never seen
    assert sources(loc, K1) == [(1, 2, LONG)] and changed == {K1}
    ch.withdraw([addpath_key(K1, 2)])
    assert len(loc) == 0


def test_a_source_knows_its_adj_rib_in_key() -> None:
    assert EBGP_A.adj_key(K1) == K1 and EBGP_A.path_id is None
    src = EBGP_A.for_path_id(7)
    assert src.adj_key(K1) == addpath_key(K1, 7) and src.path_id == 7 and src.index == EBGP_A.index
    assert src != EBGP_A.for_path_id(8) and src.source != EBGP_B.for_path_id(7).source


def test_paths_of_two_peers_and_the_session_clear() -> None:
    ch, loc, _ = receiving()
    plain = Channel(V4, loc, {V4: set()}, EBGP_B)
    plain.announce([K1], LONGER)
    ch.announce([addpath_key(K1, 1)], LONG)
    ch.announce([addpath_key(K1, 2)], SHORT)
    assert sources(loc, K1) == [(1, 1, LONG), (1, 2, SHORT), (2, None, LONGER)]
    assert sorted(ch.clear()) == [addpath_key(K1, 1), addpath_key(K1, 2)]
    assert sources(loc, K1) == [(2, None, LONGER)]


def test_refresh_sweeps_per_path_and_restamp() -> None:
    ch, loc, _ = receiving()
    ch.announce([addpath_key(K1, 1), addpath_key(K1, 2)], SHORT, now=1.0)
    ch.begin_refresh()
    ch.announce([addpath_key(K1, 2)], SHORT)  # re-learned: path 1 is not
    assert ch.end_refresh() == [addpath_key(K1, 1)]
    assert sources(loc, K1) == [(1, 2, SHORT)]
    ch.restamp(5.0)
    assert loc.candidates(K1)[0][2] == 5.0


def test_a_new_session_renews_the_sources_and_the_shape_is_chosen_per_session() -> None:
    ch, loc, changed = receiving()
    ch.announce([addpath_key(K1, 1)], SHORT)
    again = EBGP_A.__class__(1, "192.0.2.1", 65001, "10.0.0.9", ibgp=False)  # new router id
    kept = channel_for(V4, loc, {V4: changed}, again, True, ch)
    assert kept is ch
    ch.info = again
    ch.announce([addpath_key(K1, 1)], LONG)  # same path id, same candidate: replaced
    assert [(c[0].router_id, c[1]) for c in loc.candidates(K1)] == [("10.0.0.9", LONG)]
    plain = channel_for(V4, loc, {V4: changed}, again, False, ch)  # no ADD-PATH now
    assert type(plain) is Channel and len(loc) == 0 and len(ch) == 0


# --- send -----------------------------------------------------------------------------------


def policy(peer: PeerInfo) -> ExportPolicy:
    return ExportPolicy(peer, 65000, "10.0.0.100", next_hop_v4="192.0.2.100")


def sent(updates: list[bytes]) -> tuple[list[int], list[tuple[int, tuple[int, ...]]]]:
    """(withdrawn keys, [(first AS of the path, announced keys)]) of the UPDATE bodies."""
    withdrawn: list[int] = []
    announced = []
    for msg in updates:
        u = parse_update(msg[19:], TX).update
        assert u is not None
        withdrawn += u.withdrawn
        if u.nlri:
            announced.append((u.attrs.as_path[0][1][1], u.nlri))  # type: ignore[union-attr]
    return withdrawn, announced


def three_paths() -> tuple[LocRib, AddPathChannel]:
    ch, loc, _ = receiving()
    ch.announce([addpath_key(K1, 1)], LONG)
    ch.announce([addpath_key(K1, 2)], SHORT)
    ch.announce([addpath_key(K1, 3)], LONGER)
    return loc, ch


def test_send_max_best_first_with_distinct_path_ids_rfc7911_5() -> None:
    loc, _ = three_paths()
    out = AddPathRibOut(V4, policy(TO), TABLE, 2)
    out.consider_all(loc)
    withdrawn, announced = sent(out.flush(TX))
    # best (the shortest AS_PATH) and the next best, each its own path id; the third not
    assert withdrawn == [] and sorted(k & 0xFFFFFFFF for _, ks in announced for k in ks) == [1, 2]
    assert {k >> 32 for _, ks in announced for k in ks} == {K1}
    assert out.chosen(K1, loc) == {out.path_id(c[0]): out.advertised[K1 << 32 | out.path_id(c[0])]
                                   for c in loc.candidates(K1) if c[1] is not LONGER}
    assert len(out) == 2


def test_path_ids_stay_and_only_changes_are_sent() -> None:
    loc, ch = three_paths()
    out = AddPathRibOut(V4, policy(TO), TABLE, 2)
    out.consider_all(loc)
    out.flush(TX)
    before = dict(out.advertised)
    ch.withdraw([addpath_key(K1, 1)])  # LONG goes: LONGER takes its place, under a new id
    out.consider([K1], loc)
    withdrawn, announced = sent(out.flush(TX))
    gone = next(k for k, p in before.items() if p.attrs.as_path == policy_path(LONG, out))
    assert withdrawn == [gone] and len(announced) == 1 and len(announced[0][1]) == 1
    assert announced[0][1][0] not in before  # a new path id, the best's id unchanged
    out.consider([K1], loc)
    assert out.flush(TX) == []  # nothing changed: nothing sent


def test_path_ids_no_prefix_uses_are_given_again_rfc7911_3() -> None:
    """An ADD-PATH peer upstream that names a new path id for each change (its session
    up for months) must not make ours grow: an id no prefix uses is given to the next new
    source, and one still used by another prefix is not."""
    ch, loc, _ = receiving()
    ch.announce([addpath_key(K2, 1)], SHORT)  # K2 keeps upstream path id 1 (ours: 1) throughout
    out = AddPathRibOut(V4, policy(TO), TABLE, 2)
    out.consider_all(loc)
    out.flush(TX)
    ours_k2 = set(out._sent[K2])
    for n in range(2, 200):
        ch.announce([addpath_key(K1, n)], LONG if n % 2 else LONGER)
        if n > 2:
            ch.withdraw([addpath_key(K1, n - 1)])
        out.consider([K1], loc)
        withdrawn, announced = sent(out.flush(TX))
        assert len(out._sent[K1]) == 1 and set(out._sent[K2]) == ours_k2
        assert {k & 0xFFFFFFFF for k in withdrawn}.isdisjoint(ours_k2)
        assert len(announced) == 1 and announced[0][1] == (K1 << 32 | next(iter(out._sent[K1])),)
    assert len(out._ids) <= 3 and max(out._owner) <= 3  # K2's source, and K1's current two at most
    assert out.sent(K2) == [(next(iter(ours_k2)), out.advertised[K2 << 32 | next(iter(ours_k2))])]


def _churn(seed: int, send_max: int) -> None:
    """One random run of upstream ADD-PATH announcements and withdrawals (path ids 1..29
    over 4 prefixes), route refreshes and flushes at random points; a model of the peer
    applies every UPDATE we send."""
    rnd = random.Random(seed)
    keys = [parse_prefix(f"10.{i}.0.0/24")[1] for i in range(1, 5)]
    paths = [path(65001, 65100 + n, nh="192.0.2.11") for n in range(30)]
    ch, loc, changed = receiving()
    out = AddPathRibOut(V4, policy(TO), TABLE, send_max)
    peer: dict[int, object] = {}  # what the peer holds: ADD-PATH key -> AS_PATH
    live: dict[int, set[int]] = {k: set() for k in keys}
    for step in range(300):
        k = rnd.choice(keys)
        if live[k] and rnd.random() < 0.5:
            upstream = rnd.choice(sorted(live[k]))
            live[k].discard(upstream)
            ch.withdraw([addpath_key(k, upstream)])
        else:
            upstream = rnd.randrange(1, 30)
            live[k].add(upstream)
            ch.announce([addpath_key(k, upstream)], paths[upstream])
        out.consider(sorted(changed), loc, again=rnd.random() < 0.03)
        changed.clear()
        if rnd.random() < 0.4:
            for msg in out.flush(TX):
                u = parse_update(msg[19:], TX).update
                assert u is not None
                for w in u.withdrawn:
                    peer.pop(w, None)
                for n in u.nlri:
                    assert u.attrs is not None
                    peer[n] = u.attrs.as_path
            chosen = {p << 32 | pid: x.attrs.as_path for p, d in out._sent.items() for pid, x in d.items()}
            assert peer == chosen, (seed, step)
        uses: dict[int, int] = {}
        for d in out._sent.values():
            for pid in d:
                uses[pid] = uses.get(pid, 0) + 1
        assert uses == out._uses and set(out._owner) == set(uses), (seed, step)
        assert {v: s for s, v in out._ids.items()} == out._owner
        ids = set(out._free) | set(out._owner)
        assert len(ids) == len(out._free) + len(out._owner) and ids == set(range(1, len(ids) + 1))


def test_random_upstream_churn_leaves_the_peer_holding_what_we_chose_rfc7911_5() -> None:
    """After every flush the peer holds exactly the paths chosen for it, each under the
    identifier chosen; identifiers in use are counted right and stay 1..N."""
    for seed in range(40):
        for send_max in (1, 2, 3):
            _churn(seed, send_max)


def policy_path(p: Path, out: AdjRibOut) -> object:
    exported = out._export(EBGP_A.for_path_id(1), p)
    assert exported is not None
    return exported.attrs.as_path


def test_never_sends_a_peer_its_own_paths_but_sends_the_others() -> None:
    loc, _ = three_paths()
    out = AddPathRibOut(V4, policy(EBGP_A), TABLE, 4)  # the source of all three
    out.consider_all(loc)
    assert out.flush(TX) == []
    Channel(V4, loc, {V4: set()}, EBGP_B).announce([K1], path(65002, 65009, 65010, 65011))
    out.consider([K1], loc)
    _, announced = sent(out.flush(TX))
    assert [asn for asn, _ in announced] == [65002]


def test_without_add_path_send_the_plain_adj_rib_out() -> None:
    assert type(rib_out_for(V4, policy(TO), TABLE, None)) is AdjRibOut
    assert type(rib_out_for(V4, policy(TO), TABLE, 3)) is AddPathRibOut


def test_route_refresh_resends_every_path_and_reset_forgets() -> None:
    loc, _ = three_paths()
    out = AddPathRibOut(V4, policy(TO), TABLE, 3)
    out.consider_all(loc)
    out.flush(TX)
    out.consider([K1], loc, again=True)
    assert len(out.pending) == 3
    out.reset()
    out.consider_all(loc)
    assert len(out.pending) == 3 and len(out.advertised) == 0


def test_the_loc_rib_reports_every_candidate_change_once_a_peer_takes_several_paths() -> None:
    loc = LocRib()
    Channel(V4, loc, {V4: set()}, EBGP_A).announce([K1], SHORT)
    assert loc.offer(EBGP_B, [K1], LONG) == []  # the best stays: nothing to send one path
    loc.every_change = True  # an ADD-PATH Send session came up (Peer.open_family)
    assert loc.offer(EBGP_B, [K1], LONGER) == [K1]  # another path: send-max peers must see it
    assert loc.retract(EBGP_B, [K1]) == [K1]


def test_llgr_relabels_each_path_and_deletes_no_llgr_ones_rfc9494_4_2() -> None:
    ch, loc, _ = receiving()
    no_llgr = path(65001, comms=(int(WK.NO_LLGR),), nh="192.0.2.14")
    ch.announce([addpath_key(K1, 1)], SHORT)
    ch.announce([addpath_key(K1, 2)], no_llgr)
    ch.begin_refresh()
    assert ch.relabel_stale(lambda p: None if p.no_llgr else TABLE.get(llgr_stale_attrs(p.attrs), p.next_hop),
                            now=3.0) == (1, 1)
    [(src, kept, _)] = loc.candidates(K1)
    assert src.path_id == 1 and int(WK.LLGR_STALE) in kept.attrs.communities
    assert ch.end_refresh() == [addpath_key(K1, 1)] and len(loc) == 0
