"""The channel, the one door between a peer's routes of one family and the Loc-RIB: every
change of its Adj-RIB-In reaches the Loc-RIB (RFC 4271 §9.1) and the set of changed
prefixes in the same call, the mark-and-sweep refresh included (DESIGN.md rule 6, RFC
4724 §4.2), and the LLGR relabelling of stale routes (RFC 9494 §4.2-§4.3)."""

from __future__ import annotations

from gracebgp.restart.shutdown import llgr_stale_attrs
from gracebgp.rib.channel import Channel
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire.iana import WellKnownCommunity as WK

from .helpers import EBGP_A, EBGP_B, TABLE, path

V4 = IPV4_UNICAST
P1, P2 = path(65001), path(65001, 65005)
NO_LLGR = path(65001, comms=(int(WK.NO_LLGR),))


def door(loc: LocRib | None = None) -> tuple[Channel, LocRib, dict[Family, set[int]]]:
    loc = loc if loc is not None else LocRib()
    changed: dict[Family, set[int]] = {V4: set()}
    return Channel(V4, loc, changed, EBGP_A), loc, changed


def best(loc: LocRib) -> dict[int, Path]:
    return {k: c[1] for k, c in loc.items()}


def test_announce_and_withdraw_reach_the_loc_rib_and_the_changed_set() -> None:
    ch, loc, changed = door()
    ch.announce([1, 2, 3], P1, now=5.0)
    assert best(loc) == {1: P1, 2: P1, 3: P1} and changed[V4] == {1, 2, 3}
    assert loc.best(1) == (EBGP_A, P1, 5.0)
    changed[V4] = set()  # the speaker swaps the set out when it flushes
    assert ch.withdraw([2, 9]) == [2]  # 9 was never announced
    assert best(loc) == {1: P1, 3: P1} and changed[V4] == {2}
    assert ch.withdraw([]) == [] and changed[V4] == {2}


def test_withdraw_leaves_another_peers_route_best() -> None:
    ch, loc, changed = door()
    other, _, _ = door(loc)
    other.info = EBGP_B
    other.announce([1], P2)
    ch.announce([1], P1)
    changed[V4].clear()
    ch.withdraw([1])
    assert loc.best(1) is not None and loc.best(1)[0] is EBGP_B  # type: ignore[index]


def test_clear_takes_every_route_out_of_the_loc_rib() -> None:
    ch, loc, changed = door()
    ch.announce([1, 2], P1)
    assert sorted(ch.clear()) == [1, 2]
    assert len(loc) == 0 and len(ch) == 0 and changed[V4] == {1, 2}


def test_refresh_sweep_leaves_the_loc_rib_rfc4724_4_2() -> None:
    ch, loc, _ = door()
    ch.announce([1, 2, 3], P1)
    assert ch.begin_refresh() == []
    ch.announce([1], P2)  # re-learned
    assert sorted(ch.end_refresh()) == [2, 3]
    assert best(loc) == {1: P2}


def test_consecutive_refresh_sweeps_the_still_stale_from_the_loc_rib() -> None:
    ch, loc, _ = door()
    ch.announce([1, 2], P1)
    ch.begin_refresh()
    ch.announce([1], P1)
    assert ch.begin_refresh() == [2]
    assert best(loc) == {1: P1}
    ch.begin_refresh(sweep=False)  # RFC 9494 §4.2: LLGR-stale routes wait for their timer
    assert best(loc) == {1: P1}


def test_relabel_stale_rfc9494_4_2_llgr_stale_or_deleted_and_still_marked() -> None:
    ch, loc, changed = door()
    ch.announce([1, 2], P1)
    ch.announce([3], NO_LLGR)
    ch.announce([4], P2)
    ch.begin_refresh()
    ch.announce([4], P2)  # re-learned: not stale, not relabelled
    changed[V4].clear()
    made: dict[Path, Path | None] = {}

    def relabel(p: Path) -> Path | None:
        made[p] = None if p.no_llgr else TABLE.get(llgr_stale_attrs(p.attrs), p.next_hop)
        return made[p]

    assert ch.relabel_stale(relabel, now=7.0) == (2, 1)
    assert set(made) == {P1, NO_LLGR}  # once per distinct path, not per route
    llgr = made[P1]
    assert llgr is not None and int(WK.LLGR_STALE) in llgr.attrs.communities
    assert best(loc) == {1: llgr, 2: llgr, 4: P2} and changed[V4] == {1, 2, 3}
    assert loc.best(1) == (EBGP_A, llgr, 7.0)
    assert ch.is_stale(1) and ch.is_stale(2) and not ch.is_stale(4)
    assert sorted(ch.end_refresh()) == [1, 2]  # the peer's End-of-RIB still sweeps them
    assert best(loc) == {4: P2}
