"""One assignment (a peer's import or export policies) run over groups of routes that
share a Path: what the channel (import) and the Adj-RIB-Out (export) call.

Issue 16 item 6: a policy whose statements test only attributes (no prefix-set,
afi-safi-in or next-hop-in-list condition) gives the same result for every prefix of one
Path, so it runs once per Path and the result is kept (``_whole``); one with per-route
conditions runs per prefix, with the attribute-only conditions evaluated once per
attribute set (``attr_verdict``, ``_verdicts``) and equal results shared (``ResultMemo``).
Every statement's counter still counts routes, not Paths: a kept result adds the group's
size to the counters of the statements that matched.

The semantics kept with policy in place (issue 16 item 2), applied after the policy, so no
policy can undo them (``reassert``):
* RFC 9494 §4.3: a route that came in LLGR-stale keeps LLGR_STALE (selection and export
  treat it as stale; a policy that drops the community does not make it fresh).
* RFC 4271 §5.1.5: LOCAL_PREF is never sent to an external peer, even when set by policy.
"""

from __future__ import annotations

from collections.abc import Sequence

from gracebgp.policy.actions import NextHopKind
from gracebgp.policy.definitions import Assignment, Disposition, MatchCounter
from gracebgp.policy.evaluate import AttrVerdict, Decision, ResultMemo, attr_verdict, evaluate
from gracebgp.policy.route import Route, RouteType, Source
from gracebgp.rib.export import ExportPolicy, finish_export
from gracebgp.rib.path import Path, PathTable, PeerInfo
from gracebgp.types import Family
from gracebgp.wire.attributes import NextHop
from gracebgp.wire.attrset import AttrSet, intern_derived
from gracebgp.wire.communities import Communities
from gracebgp.wire.iana import AttrType, WellKnownCommunity

_LLGR_STALE = int(WellKnownCommunity.LLGR_STALE)
_MEMO_LIMIT = 1 << 16
_MISS = object()

#: A kept per-Path result: the Path (None: rejected) and the counters of the statements
#: that matched, to count the other routes of a group.
_Kept = tuple[Path | None, tuple[MatchCounter, ...]]


def route_type(source: PeerInfo) -> RouteType:
    """GoBGP's route-type of a route from ``source``: local, internal (iBGP), external."""
    if source.local:
        return RouteType.LOCAL
    return RouteType.INTERNAL if source.ibgp else RouteType.EXTERNAL


def passes_all(assignment: Assignment) -> bool:
    """No policy and a default of accept: every route passes unchanged (no filter needed)."""
    return not assignment.policies and assignment.default is Disposition.ACCEPT


def reassert(before: AttrSet, after: AttrSet, external: bool) -> AttrSet:
    """The rules no policy may undo (module docstring)."""
    if after is before:
        return after
    out = after
    if _LLGR_STALE in before.communities and _LLGR_STALE not in out.communities:
        kept = [a for a in out.attrs if a.code != AttrType.COMMUNITIES]
        kept.append(Communities((*out.communities, _LLGR_STALE)))
        kept.sort(key=lambda a: int(a.code))
        out = intern_derived(AttrSet(kept))
    if external and out.get(AttrType.LOCAL_PREF) is not None:
        out = intern_derived(AttrSet([a for a in out.attrs if a.code != AttrType.LOCAL_PREF]))
    return out


class PolicyFilter:
    """``assignment`` for routes of ``family`` seen by one peer as ``source``.

    ``self_next_hop``: the next hop ``set-next-hop self`` gives (our address on the
    session; empty: "self" leaves the next hop as it is). ``shift``: Adj-RIB-In keys carry
    a Path Identifier in their low 32 bits (ADD-PATH): the prefix is ``key >> 32``.
    ``external``: the peer is an eBGP peer (export: LOCAL_PREF is dropped)."""

    __slots__ = ("_results", "_verdicts", "_whole", "assignment", "external", "family", "per_route",
                 "self_next_hop", "shift", "source", "table")

    def __init__(self, assignment: Assignment, source: Source, family: Family, table: PathTable, *,
                 self_next_hop: tuple[str, ...] = (), shift: int = 0, external: bool = False) -> None:
        self.assignment = assignment
        self.source = source
        self.family = family
        self.table = table
        self.self_next_hop = self_next_hop
        self.shift = shift
        self.external = external
        self.per_route = any(s.route_conditions for p in assignment.policies for s in p.statements)
        self._whole: dict[Path, _Kept] = {}
        self._verdicts: dict[AttrSet, AttrVerdict] = {}
        self._results: ResultMemo = {}

    def decide(self, key: int, path: Path, explain: bool = False, count: bool = True) -> Decision:
        """The policy's decision for the route ``key`` (a channel or Adj-RIB-Out key);
        ``explain``: with the trace; ``count``: add to the statements' counters."""
        src = self.source
        route = Route(self.family, key >> self.shift, path.next_hop[0] if path.next_hop else "", src)
        attrs = path.attrs
        verdict = None
        if not explain and self.per_route:
            verdict = self._verdicts.get(attrs)
            if verdict is None:
                if len(self._verdicts) >= _MEMO_LIMIT:
                    self._verdicts.clear()
                verdict = self._verdicts[attrs] = attr_verdict(self.assignment, attrs, src)
        if len(self._results) >= _MEMO_LIMIT:
            self._results.clear()
        return evaluate(self.assignment, route, attrs, verdict, explain, None if explain else self._results,
                        count)

    def outcome(self, decision: Decision, path: Path, original: tuple[str, ...] = ()) -> Path | None:
        """The Path a decision makes of ``path`` (None: rejected). ``original``: the next
        hop the route had before export rewrote it (what ``set-next-hop unchanged`` keeps;
        GoBGP's meaning); on import the next hop is as received already."""
        if not decision.accepted:
            return None
        next_hop = path.next_hop
        choice = decision.next_hop
        if choice is not None:
            if choice.kind is NextHopKind.ADDRESS:
                next_hop = (choice.address,)
            elif choice.kind is NextHopKind.SELF:
                next_hop = self.self_next_hop or next_hop
            elif original:
                next_hop = original
        attrs = reassert(path.attrs, decision.attrs, self.external)
        if next_hop != path.next_hop and attrs.get(AttrType.NEXT_HOP) is not None:
            # IPv4 unicast carries its next hop in the NEXT_HOP attribute (RFC 4271 §5.1.3)
            kept = [a for a in attrs.attrs if a.code != AttrType.NEXT_HOP]
            kept.append(NextHop(next_hop[0]))
            kept.sort(key=lambda a: int(a.code))
            attrs = intern_derived(AttrSet(kept))
        if attrs is path.attrs and next_hop == path.next_hop:
            return path
        return self.table.get(attrs, next_hop)

    def _counters(self, decision: Decision) -> tuple[MatchCounter, ...]:
        assert decision.trace is not None
        by_name = {(p.name, s.name): s.counter for p in self.assignment.policies for s in p.statements}
        return tuple(by_name[(t.policy, t.statement)] for t in decision.trace if t.matched)

    def one(self, key: int, path: Path, original: Path | None = None) -> Path | None:
        """The outcome for one route. Export passes ``original``, the Loc-RIB's path that
        ``path`` was exported from: its next hop is what ``unchanged`` keeps, and results
        are kept per original (one original always exports to the same ``path``)."""
        if not self.per_route:
            return self._kept(key, path, 1, original)[0]
        return self.outcome(self.decide(key, path), path, original.next_hop if original else ())

    def _kept(self, key: int, path: Path, more: int, original: Path | None = None) -> _Kept:
        """The kept whole-Path result (computed for ``key`` when missing), with ``more``
        added to the counters of its matching statements."""
        memo_key = original or path
        kept = self._whole.get(memo_key, _MISS)
        if kept is _MISS:
            decision = self.decide(key, path, explain=True)
            if len(self._whole) >= _MEMO_LIMIT:
                self._whole.clear()
            kept = self._whole[memo_key] = (
                self.outcome(decision, path, original.next_hop if original else ()), self._counters(decision))
            more -= 1  # evaluate counted this route
        assert isinstance(kept, tuple)
        if more > 0:
            for counter in kept[1]:
                counter.matches += more
        return kept

    def run(self, keys: Sequence[int], path: Path) -> tuple[dict[Path, list[int]], list[int]]:
        """The routes ``keys`` sharing ``path``: the accepted ones grouped by the Path the
        policy made of them, and the rejected keys."""
        if not keys:
            return {}, []
        if not self.per_route:
            out = self._kept(keys[0], path, len(keys))[0]
            if out is None:
                return {}, list(keys)
            return {out: list(keys)}, []
        groups: dict[Path, list[int]] = {}
        rejected: list[int] = []
        for k in keys:
            out = self.outcome(self.decide(k, path), path)
            if out is None:
                rejected.append(k)
            else:
                group = groups.get(out)
                if group is None:
                    groups[out] = [k]
                else:
                    group.append(k)
        return groups, rejected


class ExportFilter:
    """One peer's export assignment, after the export rules (``rib.export``), per route
    type of the route's source (route-type conditions see local, internal, external).

    GoBGP's order: the export policy sees the route as the peer would get it (our AS
    prepended and next hop self on eBGP), so ``set-as-path-prepend last-as`` repeats our
    AS there and ``set-next-hop unchanged`` restores the next hop the route came with.
    The drain's GRACEFUL_SHUTDOWN (RFC 8326 §4: LOCAL_PREF 0 to iBGP) and LLGR's NO_EXPORT
    fallback to iBGP (RFC 9494 §4.6) are applied again after the policy, so a policy
    cannot undo them (``export.finish_export``)."""

    __slots__ = ("_by_type", "assignment", "family", "ibgp", "peer", "peer_as", "self_next_hop", "table")

    def __init__(self, assignment: Assignment, peer: str, peer_as: int, ibgp: bool, family: Family,
                 table: PathTable, self_next_hop: tuple[str, ...]) -> None:
        self.assignment = assignment
        self.peer = peer
        self.peer_as = peer_as
        self.ibgp = ibgp
        self.family = family
        self.table = table
        self.self_next_hop = self_next_hop
        self._by_type: dict[RouteType, PolicyFilter] = {}

    def filter_for(self, source: PeerInfo) -> PolicyFilter:
        kind = route_type(source)
        f = self._by_type.get(kind)
        if f is None:
            f = self._by_type[kind] = PolicyFilter(
                self.assignment, Source(self.peer, self.peer_as, kind), self.family, self.table,
                self_next_hop=self.self_next_hop, external=not self.ibgp)
        return f

    def one(self, key: int, source: PeerInfo, original: Path, exported: Path,
            rules: ExportPolicy) -> Path | None:
        """``exported`` (``original`` from ``source`` after the export ``rules``) through
        the policy, then ``finish_export``."""
        out = self.filter_for(source).one(key, exported, original)
        if out is None or out is exported:
            return out
        attrs = finish_export(rules, out.attrs)
        return out if attrs is out.attrs else self.table.derived(attrs, out.next_hop)
