"""Best-path selection: RFC 4271 §9.1.2.2 (with RFC 4456 §9 for route reflection) and
RFC 9494 §4.3 (LLGR-stale routes are the least preferred of all).

Candidates are (PeerInfo, Path, learned-at) triples. Selection is an elimination over the whole set,
step by step as §9.1.2.2 describes, because the MED step is not a total order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gracebgp.rib.path import Path, PeerInfo

#: (source, path, when the source offered it: the route's age for the API)
Candidate = tuple[PeerInfo, Path, float]


def _keep_best(cands: list[Candidate], key: Callable[[Candidate], object]) -> list[Candidate]:
    best = min(key(c) for c in cands)  # type: ignore[type-var]
    return [c for c in cands if key(c) == best]


def _med_step(cands: list[Candidate], always_compare_med: bool) -> list[Candidate]:
    """§9.1.2.2 c: among routes from the same neighbouring AS, keep the lowest MED."""
    if always_compare_med:
        return _keep_best(cands, lambda c: c[1].med)
    lowest: dict[int, int] = {}
    for c in cands:
        path = c[1]
        n = path.neighbor_as
        if n not in lowest or path.med < lowest[n]:
            lowest[n] = path.med
    return [c for c in cands if c[1].med == lowest[c[1].neighbor_as]]


def _router_id(c: Candidate) -> int:
    # RFC 4456 §9: the ORIGINATOR_ID takes the place of the BGP identifier.
    originator = c[1].originator_id
    if originator is not None:
        return originator
    return int.from_bytes(bytes(int(x) for x in c[0].router_id.split(".")), "big")


#: How many of ``_steps`` come before the tie-breaks: §9.1.2.2 f (BGP identifier), RFC 4456
#: §9 (CLUSTER_LIST length) and §9.1.2.2 g (peer address) only pick one of routes that are
#: equally good for forwarding, so the equal-cost set (``equal_cost``) stops before them.
_TIE_BREAKS = 7


def _steps(always_compare_med: bool) -> tuple[Callable[[list[Candidate]], list[Candidate]], ...]:
    return (
        lambda cs: _keep_best(cs, lambda c: c[1].llgr_stale),  # RFC 9494 §4.3
        lambda cs: _keep_best(cs, lambda c: -c[1].local_pref),  # §9.1.2.1 degree of preference
        lambda cs: _keep_best(cs, lambda c: not c[0].local),  # locally originated first
        lambda cs: _keep_best(cs, lambda c: c[1].as_path_len),  # §9.1.2.2 a
        lambda cs: _keep_best(cs, lambda c: c[1].origin),  # §9.1.2.2 b
        lambda cs: _med_step(cs, always_compare_med),  # §9.1.2.2 c
        lambda cs: _keep_best(cs, lambda c: c[0].ibgp),  # §9.1.2.2 d: eBGP over iBGP
        # §9.1.2.2 e (interior cost to the next hop): no IGP here, all equal.
        lambda cs: _keep_best(cs, _router_id),  # §9.1.2.2 f
        lambda cs: _keep_best(cs, lambda c: c[1].cluster_len),  # RFC 4456 §9
        lambda cs: _keep_best(cs, lambda c: c[0].address_key),  # §9.1.2.2 g
    )


def select(candidates: Sequence[Candidate], always_compare_med: bool = False) -> int:
    """Index of the best candidate. Each step keeps only the best by one criterion."""
    if len(candidates) == 1:
        return 0
    cands = list(candidates)
    for step in _steps(always_compare_med):
        if len(cands) == 1:
            break
        cands = step(cands)
    winner = cands[0]
    return next(i for i, c in enumerate(candidates) if c is winner)


def ranked(candidates: Sequence[Candidate], always_compare_med: bool = False) -> list[Candidate]:
    """The candidates best first: the best, then the best of the rest, and so on (the
    order in which ADD-PATH Send offers paths, RFC 7911 §5)."""
    rest = list(candidates)
    out: list[Candidate] = []
    while rest:
        out.append(rest.pop(select(rest, always_compare_med)))
    return out


def equal_cost(candidates: Sequence[Candidate], always_compare_med: bool = False,
               allow_multiple_as: bool = False, maximum: int = 0) -> list[Candidate]:
    """The multipath set: the best candidate first, then every candidate the decision
    process cannot tell from it before the tie-breaks (RFC 4271 §9.1.2.2 a-e: LOCAL_PREF,
    AS_PATH length, ORIGIN, MED, eBGP over iBGP, with RFC 9494 §4.3 first), in the order of
    ``candidates``. Unless ``allow_multiple_as``, only routes from the best's neighbouring
    AS (§9.1.2.2 c compares MEDs only within one AS, so without it paths through different
    ASes would be mixed on a MED nobody compared). ``maximum`` > 0 caps the set's size."""
    if not candidates:
        return []
    best = candidates[select(candidates, always_compare_med)]
    cands = list(candidates)
    for step in _steps(always_compare_med)[:_TIE_BREAKS]:
        cands = step(cands)
    if not allow_multiple_as:
        asn = best[1].neighbor_as
        cands = [c for c in cands if c[1].neighbor_as == asn]
    out = [best, *(c for c in cands if c is not best)]
    return out[:maximum] if maximum > 0 else out


@dataclass(frozen=True, slots=True)
class Multipath:
    """``[global.use-multiple-paths]`` (GoBGP's keys, OpenConfig's meaning): the Loc-RIB
    marks each prefix's equal-cost set (``equal_cost``) for the FIB to install as ECMP.
    ``allow_multiple_as``: paths from different neighbouring ASes may share the set
    (``[...ebgp.config] allow-multiple-as``); the maximum paths cap the set when the best
    is an eBGP (``[...ebgp.config] maximum-paths``) or an iBGP path (``[...ibgp.config]
    maximum-paths``); 0: no cap."""

    allow_multiple_as: bool = False
    ebgp_maximum_paths: int = 0
    ibgp_maximum_paths: int = 0


def multipath_set(candidates: Sequence[Candidate], always_compare_med: bool,
                  multipath: Multipath | None) -> list[Candidate]:
    """The candidates that carry traffic for a prefix whose ``candidates`` are listed best
    first: the equal-cost set with ``multipath``, the best alone without it."""
    if multipath is None or len(candidates) < 2:
        return list(candidates[:1])
    limit = multipath.ibgp_maximum_paths if candidates[0][0].ibgp else multipath.ebgp_maximum_paths
    return equal_cost(candidates, always_compare_med, multipath.allow_multiple_as, limit)
