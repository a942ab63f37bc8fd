"""Adj-RIB-In mark-and-sweep (DESIGN.md rule 6, RFC 4724 §4.2), Loc-RIB candidates."""

from __future__ import annotations

from gracebgp.rib.adj_rib_in import AdjRibIn
from gracebgp.rib.loc_rib import LocRib

from .helpers import EBGP_A, EBGP_B, path

P1 = path(65001)
P2 = path(65001, 65005)


def test_refresh_sweeps_what_was_not_relearned() -> None:
    rib = AdjRibIn()
    rib.announce([1, 2, 3], P1)
    assert rib.begin_refresh() == []
    assert rib.stale_count == 3 and rib.is_stale(2)
    rib.announce([1], P2)  # re-learned (with new attributes)
    rib.withdraw([3])
    assert rib.stale_count == 1
    assert rib.end_refresh() == [2]
    assert rib.routes == {1: P2}
    assert not rib.refreshing and rib.end_refresh() == []


def test_consecutive_restart_deletes_routes_still_stale_rfc4724_4_2() -> None:
    rib = AdjRibIn()
    rib.announce([1, 2], P1)
    rib.begin_refresh()
    rib.announce([1], P1)
    # The peer restarts again before its End-of-RIB: what is still stale goes now.
    assert rib.begin_refresh() == [2]
    assert rib.routes == {1: P1} and rib.is_stale(1)


def test_loc_rib_single_candidate_fast_path_and_changes() -> None:
    loc = LocRib()
    assert loc.offer(EBGP_A, [1, 2], P1) == [1, 2]
    assert loc.offer(EBGP_A, [1, 2], P1) == []  # same path: nothing changed
    assert loc.offer(EBGP_A, [1], P2) == [1]
    assert loc.best(1) == (EBGP_A, P2, 0.0)
    assert loc.retract(EBGP_A, [2, 9]) == [2]
    assert loc.best(2) is None and len(loc) == 1


def test_loc_rib_second_peer_and_reselection() -> None:
    loc = LocRib()
    loc.offer(EBGP_A, [1], P2)  # AS path length 2
    assert loc.offer(EBGP_B, [1], path(65002)) == [1]  # shorter: new best
    assert loc.best(1) is not None and loc.best(1)[0] is EBGP_B  # type: ignore[index]
    assert len(loc.candidates(1)) == 2
    assert loc.offer(EBGP_A, [1], path(65003, 65004, 65005)) == []  # A still loses
    assert loc.retract(EBGP_B, [1]) == [1]
    assert loc.best(1) is not None and loc.best(1)[0] is EBGP_A  # type: ignore[index]
    assert loc.retract(EBGP_A, [1]) == [1] and loc.best(1) is None


def test_path_table_shares_paths_and_keeps_next_hops_apart() -> None:
    from gracebgp.rib.path import PathTable
    from gracebgp.wire import AsPath, AttrSet, Origin

    table = PathTable()
    attrs = AttrSet([Origin(0), AsPath(((2, (65001,)),))])
    a = table.get(attrs, ("2001:db8::1",))
    b = table.get(attrs, ("2001:db8::2",))
    assert a is not b
    assert table.get(attrs, ("2001:db8::1",)) is a and table.get(attrs, ("2001:db8::2",)) is b
    other = AttrSet([Origin(0), AsPath(((2, (65001,)),))])  # equal, but another object
    assert table.get(other, ("2001:db8::1",)) is not a
