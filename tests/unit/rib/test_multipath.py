"""The multipath (equal-cost) set: the candidates RFC 4271 §9.1.2.2 cannot tell from the
best before its tie-breaks (f: BGP identifier, RFC 4456 §9 CLUSTER_LIST, g: peer
address), from the best's neighbouring AS unless allow-multiple-as, capped by the eBGP or
iBGP maximum-paths; the best alone without [global.use-multiple-paths]."""

from __future__ import annotations

from gracebgp.rib.decision import Candidate, Multipath, equal_cost, multipath_set, ranked
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import PeerInfo
from gracebgp.wire.iana import WellKnownCommunity

from .helpers import EBGP_A, EBGP_B, IBGP_C, IBGP_D, cand, path

A2 = PeerInfo(8, "192.0.2.8", 65001, "10.0.0.8", ibgp=False)  # a second peer in EBGP_A's AS
A3 = PeerInfo(9, "192.0.2.9", 65001, "10.0.0.9", ibgp=False)
ON = Multipath()
ANY_AS = Multipath(allow_multiple_as=True)


def sources(cands: list[Candidate]) -> list[int]:
    return [c[0].index for c in cands]


def test_without_use_multiple_paths_the_best_alone() -> None:
    cands = [cand(EBGP_A, path(65001)), cand(A2, path(65001, nh="192.0.2.8"))]
    assert sources(multipath_set(cands, False, None)) == [1]
    assert multipath_set([], False, ON) == []


def test_paths_equal_but_for_the_tie_breaks_share_the_set() -> None:
    """Same LOCAL_PREF, AS_PATH length, ORIGIN, MED, both eBGP: the router id (§9.1.2.2 f)
    and the peer address (g) only pick one of them; they are equal for forwarding."""
    cands = [cand(A2, path(65001, nh="192.0.2.8")), cand(EBGP_A, path(65001)),
             cand(A3, path(65001, nh="192.0.2.9"))]
    best = ranked(cands)[0]
    got = equal_cost(cands)
    assert got[0] is best and sorted(sources(got)) == [1, 8, 9]


def test_each_step_before_the_tie_breaks_excludes() -> None:
    base = cand(EBGP_A, path(65001, med=5))
    worse = {
        "longer AS_PATH (a)": cand(A2, path(65001, 65009, med=5, nh="192.0.2.8")),
        "worse ORIGIN (b)": cand(A2, path(65001, origin=1, med=5, nh="192.0.2.8")),
        "higher MED, same AS (c)": cand(A2, path(65001, med=9, nh="192.0.2.8")),
        "lower LOCAL_PREF": cand(A2, path(65001, med=5, lp=50, nh="192.0.2.8")),
        "LLGR-stale (RFC 9494 §4.3)": cand(A2, path(65001, med=5, nh="192.0.2.8",
                                                     comms=(int(WellKnownCommunity.LLGR_STALE),))),
    }
    for why, other in worse.items():
        assert sources(multipath_set([base, other], False, ANY_AS)) == [1], why


def test_ebgp_over_ibgp_step_d() -> None:
    cands = [cand(EBGP_A, path(65001)), cand(IBGP_C, path(65001, nh="10.1.0.3"))]
    assert sources(multipath_set(cands, False, ANY_AS)) == [1]


def test_other_neighbouring_as_only_with_allow_multiple_as() -> None:
    cands = [cand(EBGP_A, path(65001, med=7)), cand(EBGP_B, path(65002, med=1, nh="192.0.2.2"))]
    # §9.1.2.2 c compares MED only within one AS: both survive it; B wins on the router id
    assert sources(multipath_set(cands, False, ON)) == [1]
    assert sorted(sources(multipath_set(cands, False, ANY_AS))) == [1, 2]
    # always-compare-med compares across ASes: B's lower MED wins, A is out
    assert sources(multipath_set(cands, True, ANY_AS)) == [2]


def test_maximum_paths_for_ebgp_and_ibgp_bests() -> None:
    ebgp = [cand(EBGP_A, path(65001)), cand(A2, path(65001, nh="192.0.2.8")),
            cand(A3, path(65001, nh="192.0.2.9"))]
    assert len(multipath_set(ebgp, False, Multipath(ebgp_maximum_paths=2))) == 2
    assert len(multipath_set(ebgp, False, Multipath(ibgp_maximum_paths=1))) == 3  # an eBGP best
    ibgp = [cand(IBGP_C, path(65001, nh="10.1.0.3")), cand(IBGP_D, path(65001, nh="10.1.0.4"))]
    assert len(multipath_set(ibgp, False, Multipath(ibgp_maximum_paths=1))) == 1
    assert len(multipath_set(ibgp, False, Multipath(ebgp_maximum_paths=1))) == 2


def test_the_loc_rib_computes_the_set_when_asked() -> None:
    loc = LocRib()
    loc.offer(EBGP_A, [1], path(65001))
    loc.offer(A2, [1], path(65001, nh="192.0.2.8"))
    loc.offer(A3, [1], path(65001, 65009, nh="192.0.2.9"))
    assert len(loc.multipath_set(1)) == 1
    loc.multipath = ON
    got = loc.multipath_set(1)
    assert got[0] is loc.best(1) and sorted(sources(got)) == [1, 8]
    assert loc.multipath_set(2) == []
