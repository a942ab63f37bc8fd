"""RFC 4271 §9.1.2.2 step by step, RFC 4456 §9, RFC 9494 §4.3, RFC 8326."""

from __future__ import annotations

from gracebgp.rib.decision import select
from gracebgp.rib.path import PeerInfo
from gracebgp.wire import ClusterList, OriginatorId
from gracebgp.wire.iana import WellKnownCommunity as WK

from .helpers import EBGP_A, EBGP_B, IBGP_C, IBGP_D, LOCAL, cand, path


def test_single_candidate() -> None:
    assert select([cand(EBGP_A, path(65001))]) == 0


def test_higher_local_pref_wins_9_1_2_1() -> None:
    assert select([cand(IBGP_C, path(65001, lp=100)), cand(IBGP_D, path(65001, 65002, lp=200))]) == 1


def test_missing_local_pref_counts_as_100() -> None:
    assert select([cand(EBGP_A, path(65001)), cand(IBGP_C, path(65002, lp=99))]) == 0


def test_graceful_shutdown_lowers_local_pref_to_zero_rfc8326() -> None:
    gshut = path(65001, comms=(int(WK.GRACEFUL_SHUTDOWN),))
    assert gshut.local_pref == 0
    assert select([cand(EBGP_A, gshut), cand(EBGP_B, path(65002, 65003, 65004))]) == 1


def test_llgr_stale_is_least_preferred_rfc9494_4_3() -> None:
    stale = path(65001, lp=500, comms=(int(WK.LLGR_STALE),))
    assert select([cand(IBGP_C, stale), cand(EBGP_B, path(65002, 65003, 65004, lp=10))]) == 1


def test_locally_originated_beats_learned() -> None:
    assert select([cand(EBGP_A, path()), cand(LOCAL, path(65009))]) == 1


def test_shorter_as_path_wins_a() -> None:
    assert select([cand(EBGP_A, path(65001, 65010)), cand(EBGP_B, path(65002))]) == 1


def test_as_set_counts_one() -> None:
    from gracebgp.rib.path import Path
    from gracebgp.wire import AsPath, AttrSet, NextHop, Origin
    with_set = Path(AttrSet([Origin(0), AsPath(((2, (65001,)), (1, (1, 2, 3, 4)))), NextHop("192.0.2.1")]),
                    ("192.0.2.1",))
    assert with_set.as_path_len == 2
    assert select([cand(EBGP_A, with_set), cand(EBGP_B, path(65002, 65003, 65004))]) == 0


def test_lower_origin_wins_b() -> None:
    assert select([cand(EBGP_A, path(65001, origin=2)), cand(EBGP_B, path(65002, origin=1))]) == 1


def test_med_compared_only_within_the_same_neighbour_as_c() -> None:
    a_high = path(65001, 65100, med=50)
    a_low = path(65001, 65200, med=10)
    assert select([cand(EBGP_A, a_high), cand(EBGP_B, a_low)]) == 1  # same neighbour AS 65001
    b = path(65002, 65100, med=5)
    # different neighbour AS: MED not compared, falls to router id (10.0.0.1 < 10.0.0.2)
    assert select([cand(EBGP_A, a_high), cand(EBGP_B, b)]) == 0
    assert select([cand(EBGP_A, a_high), cand(EBGP_B, b)], always_compare_med=True) == 1


def test_missing_med_is_the_lowest_c() -> None:
    assert select([cand(EBGP_A, path(65001, med=1)), cand(EBGP_B, path(65001))]) == 1


def test_med_step_is_not_pairwise_c() -> None:
    # The classic non-transitive triple: the elimination must look at the whole set.
    r1 = path(65001, med=100)
    r2 = path(65002, med=50)
    r3 = path(65001, med=10)
    peers = [PeerInfo(i, f"192.0.2.{i}", 65000 + i, f"10.0.0.{i}", ibgp=False) for i in (1, 2, 3)]
    cands = [cand(peers[0], r1), cand(peers[1], r2), cand(peers[2], r3)]
    # r1 loses to r3 (same AS); r2 and r3 remain; router id 10.0.0.2 < 10.0.0.3.
    assert select(cands) == 1


def test_ebgp_over_ibgp_d() -> None:
    assert select([cand(IBGP_C, path(65001)), cand(EBGP_B, path(65002))]) == 1


def test_lowest_router_id_f_and_originator_id_rfc4456() -> None:
    assert select([cand(IBGP_D, path(65001)), cand(IBGP_C, path(65001))]) == 1
    reflected = path(65001, extra=(OriginatorId("10.0.0.1"),))
    assert select([cand(IBGP_C, path(65001)), cand(IBGP_D, reflected)]) == 1


def test_shorter_cluster_list_rfc4456_9() -> None:
    same_orig = (OriginatorId("10.9.9.9"),)
    long = path(65001, extra=(*same_orig, ClusterList(("1.1.1.1", "2.2.2.2"))))
    short = path(65001, extra=(*same_orig, ClusterList(("1.1.1.1",))))
    assert select([cand(IBGP_C, long), cand(IBGP_D, short)]) == 1


def test_lowest_peer_address_g() -> None:
    p1 = PeerInfo(7, "10.1.0.9", 65000, "10.0.0.7", ibgp=True)
    p2 = PeerInfo(8, "10.1.0.8", 65000, "10.0.0.7", ibgp=True)
    assert select([cand(p1, path(65001)), cand(p2, path(65001))]) == 1
