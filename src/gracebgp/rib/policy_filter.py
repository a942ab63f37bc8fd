"""One assignment (a peer's import or export policies) run over groups of routes that
share a Path: what the channel (import) and the Adj-RIB-Out (export) call.

Issue 16 item 6: a policy whose statements test only attributes (no prefix-set,
afi-safi-in or next-hop-in-list condition) gives the same result for every prefix of one
Path, so it runs once per Path and the result is kept (``_whole``); one with per-route
conditions runs per prefix, with the attribute-only conditions evaluated once per
attribute set (``attr_verdict``, ``_verdicts``) and equal results shared (``ResultMemo``).
Every statement's counter still counts routes, not Paths: a kept result adds the group's
size to the counters of the statements that matched.

The semantics kept with policy in place (issue 16 item 2) are applied after the policy,
so no policy can undo them (``export_step.reassert``: LLGR_STALE stays, no LOCAL_PREF to
eBGP). An export policy that does the same to every route of a route type does not run
here at all: the Adj-RIB-Out applies it inside the export rules (``static_step``).
"""

from __future__ import annotations

from collections.abc import Sequence

from gracebgp.policy.compiled import Compiled, Outcome
from gracebgp.policy.conditions import MatchPrefixSet
from gracebgp.policy.definitions import Assignment, Disposition, MatchCounter
from gracebgp.policy.evaluate import Decision, evaluate
from gracebgp.policy.prefixes import PrefixSet
from gracebgp.policy.route import Route, RouteType, Source
from gracebgp.policy.static import fold
from gracebgp.rib.export import ExportPolicy, finish_export
from gracebgp.rib.export_step import PolicyStep, choose_next_hop, reassert, route_type, with_next_hop
from gracebgp.rib.path import Path, PathTable, PeerInfo
from gracebgp.types import Family
from gracebgp.wire.attrset import intern_value
from gracebgp.wire.nlri import key_parts, width_of

#: Kept results (Path, signature): a route's group is decided in one call (``run``) or in
#: consecutive keys (the Adj-RIB-Out), so few are needed, and each keeps Paths alive.
_MEMO_LIMIT = 4096
_CLASS_LIMIT = 1 << 18  # prefix classes whose prefix-set answers are kept (``signature``)

#: A kept per-Path result: the Path (None: rejected) and the counters of the statements
#: that matched, to count the other routes of a group.
_Kept = tuple[Path | None, tuple[MatchCounter, ...]]


def passes_all(assignment: Assignment) -> bool:
    """No policy and a default of accept: every route passes unchanged (no filter needed)."""
    return not assignment.policies and assignment.default is Disposition.ACCEPT


def _address_bits(size: int) -> int:
    """The address bits of a plain prefix key of ``size`` bits (below its length octet):
    the sizes of keys with 0, 1, 2 ... address octets do not overlap."""
    return 8 * ((((size + 7) >> 3) or 1) - 1)


class PolicyFilter:
    """``assignment`` for routes of ``family`` seen by one peer as ``source``.

    ``self_next_hop``: the next hop ``set-next-hop self`` gives (our address on the
    session; empty: "self" leaves the next hop as it is). ``shift``: Adj-RIB-In keys carry
    a Path Identifier in their low 32 bits (ADD-PATH): the prefix is ``key >> 32``.
    ``external``: the peer is an eBGP peer (export: LOCAL_PREF is dropped).

    Routes sharing a Path differ only in their prefix, and of the conditions only the
    prefix sets test the prefix (afi-safi-in and next-hop-in-list see the same family and
    next hop for all of them). So a route's decision is a function of the Path and of which
    prefix sets hold its prefix (its ``signature``): it is evaluated once per (Path,
    signature) and kept (``_kept``), and each route costs one probe per prefix set."""

    __slots__ = ("_by_class", "_compiled", "_kept_by", "_none", "_prefix_sets", "_shifts", "assignment",
                 "external", "family", "self_next_hop", "shift", "source", "table", "width")

    def __init__(self, assignment: Assignment, source: Source, family: Family, table: PathTable, *,
                 self_next_hop: tuple[str, ...] = (), shift: int = 0, external: bool = False) -> None:
        self.assignment = assignment
        self.source = source
        self.family = family
        self.table = table
        self.self_next_hop = self_next_hop
        self.shift = shift
        self.external = external
        self.width = width_of(family.afi)
        conditions = (c for p in assignment.policies for s in p.statements for c in s.route_conditions)
        sets = {id(c.prefix_set): c.prefix_set for c in conditions if isinstance(c, MatchPrefixSet)}
        self._prefix_sets: tuple[PrefixSet, ...] = tuple(sets.values())
        self._kept_by: dict[tuple[Path, Path | None, tuple[bool, ...]], _Kept] = {}
        self._shifts: dict[int, int] = {}
        self._by_class: dict[int, tuple[bool, ...]] = {}
        self._none = (False,) * len(self._prefix_sets)
        self._compiled = Compiled(assignment, source, family, self._prefix_sets)

    @property
    def per_route(self) -> bool:
        """Whether routes sharing a Path may be decided differently (a prefix set is tested)."""
        return bool(self._prefix_sets)

    def decide(self, key: int, path: Path, explain: bool = False, count: bool = True) -> Decision:
        """The policy's decision for the route ``key`` (a channel or Adj-RIB-Out key);
        ``explain``: with the trace; ``count``: add to the statements' counters."""
        route = Route(self.family, key >> self.shift, path.next_hop[0] if path.next_hop else "", self.source)
        return evaluate(self.assignment, route, path.attrs, None, explain, None, count)

    def outcome(self, decision: Decision | Outcome, path: Path,
                original: tuple[str, ...] = ()) -> Path | None:
        """The Path a decision makes of ``path`` (None: rejected). ``original``: the next
        hop the route had before export rewrote it (what ``set-next-hop unchanged`` keeps;
        GoBGP's meaning); on import the next hop is as received already."""
        if not decision.accepted:
            return None
        if decision.next_hop is None and decision.attrs is path.attrs:
            return path  # (the usual: the policy changed nothing)
        next_hop = choose_next_hop(decision.next_hop, path.next_hop, self.self_next_hop, original)
        attrs = reassert(path.attrs, decision.attrs, self.external)
        if next_hop != path.next_hop:
            changed = with_next_hop(attrs, next_hop)
            if changed is not attrs:
                attrs = intern_value(changed)
        if attrs is path.attrs and next_hop == path.next_hop:
            return path
        return self.table.get(attrs, next_hop)

    def signature(self, key: int) -> tuple[bool, ...]:
        """Which of the policy's prefix sets hold the prefix of ``key``.

        A prefix's answer depends only on its length and its first m bits, m the longest
        entry length (of any of the sets) not above its own: a plain key is the length
        octet then the address octets, so ``key >> shift`` (the shift found once per prefix
        length) names that class of prefixes, and the answer is kept per class. Consecutive
        /24s of one UPDATE mostly share their /16: one probe for all of them."""
        sets = self._prefix_sets
        if not sets:
            return ()
        plain = key >> self.shift
        length = plain >> _address_bits(plain.bit_length())
        shift = self._shifts.get(length)
        if shift is None:
            shift = self._shifts[length] = self._shift_for(plain)
        if shift < 0:
            return self._none
        coarse = plain >> shift
        sig = self._by_class.get(coarse)
        if sig is None:
            if len(self._by_class) >= _CLASS_LIMIT:
                self._by_class.clear()
            address, length = key_parts(plain, self.width)
            afi = self.family.afi
            sig = self._by_class[coarse] = tuple(s.matches(afi, address, length) for s in sets)
        return sig

    def _shift_for(self, plain: int) -> int:
        """For keys of ``plain``'s size: how far to shift a key to keep its length octet
        and its first m address bits (-1: no entry is short enough, nothing matches)."""
        nb = (((plain.bit_length() + 7) >> 3) or 1) - 1  # address octets (a /0: none)
        length = plain >> (8 * nb)
        afi = self.family.afi
        shorter = [n for s in self._prefix_sets for n in s.lengths(afi) if n <= length]
        if not shorter:
            return -1
        return 8 * nb - max(shorter)

    def kept(self, key: int, path: Path, original: Path | None = None,
             signature: tuple[bool, ...] | None = None) -> _Kept:
        """The outcome of the routes of ``path`` with the signature of ``key`` and the
        counters of the statements they match (not counted here: the caller adds its
        number of routes). Export passes ``original``, the Loc-RIB's path ``path`` was
        exported from: its next hop is what ``set-next-hop unchanged`` keeps."""
        sig = self.signature(key) if signature is None else signature
        memo = (path, original, sig)
        kept = self._kept_by.get(memo)
        if kept is None:
            if len(self._kept_by) >= _MEMO_LIMIT:
                self._kept_by.clear()
            kept = self._kept_by[memo] = self._decide(key, path, original, sig)
        return kept

    def _decide(self, key: int, path: Path, original: Path | None, sig: tuple[bool, ...]) -> _Kept:
        """``kept``'s answer, computed."""
        next_hop = path.next_hop[0] if path.next_hop else ""
        outcome = self._compiled.run(path.attrs, sig, key >> self.shift, next_hop)
        accepted, attrs, choice, matched = outcome
        counters = tuple([st.counter for st in matched]) if matched else ()
        if not accepted:
            return None, counters
        if choice is None and attrs is path.attrs:
            return path, counters
        return self.outcome(outcome, path, original.next_hop if original else ()), counters

    def one(self, key: int, path: Path, original: Path | None = None) -> Path | None:
        """The outcome for one route (counted)."""
        out, counters = self.kept(key, path, original)
        for counter in counters:
            counter.matches += 1
        return out

    def _one_class(self, keys: Sequence[int]) -> tuple[bool, ...] | None:
        """The signature of ``keys`` when they all share the first one's class of
        prefixes (one UPDATE's prefixes mostly do), else None. A key of another length
        or size never shifts to the same class: the class keeps the length octet."""
        first = keys[0]
        plain = first >> self.shift
        shift = self._shifts.get(plain >> _address_bits(plain.bit_length()))
        if shift is None or shift < 0:
            return None  # (not seen yet, or none: the general way)
        down = self.shift + shift
        coarse = first >> down
        for k in keys:
            if k >> down != coarse:
                return None
        sig = self._by_class.get(coarse)  # (``signature``'s class is this ``coarse``)
        return self.signature(first) if sig is None else sig

    def run(self, keys: Sequence[int], path: Path) -> tuple[dict[Path, Sequence[int]], Sequence[int]]:
        """The routes ``keys`` sharing ``path`` (counted): the accepted ones grouped by the
        Path the policy made of them, and the rejected keys."""
        if not keys:
            return {}, []
        one = self._one_class(keys) if self._prefix_sets else ()
        if one is not None:  # (the usual: one decision for all the keys)
            out, counters = self._decide(keys[0], path, None, one)
            for counter in counters:
                counter.matches += len(keys)
            return ({out: keys}, ()) if out is not None else ({}, keys)
        # ``signature`` inlined: consecutive keys mostly share a class (and a size)
        groups: dict[tuple[bool, ...], list[int]] = {}
        shifts, by_class, down = self._shifts, self._by_class, self.shift
        last_size = last_length = -1
        last_coarse: int | None = None  # (no key's class: -1 - length is one)
        shift = bits = -1
        group: list[int] = []
        for k in keys:
            plain = k >> down
            size = plain.bit_length()
            if size != last_size:
                last_size, bits = size, _address_bits(size)
            length = plain >> bits
            if length != last_length:
                last_length = length
                known = shifts.get(length)
                shift = known if known is not None else shifts.setdefault(length, self._shift_for(plain))
            coarse = plain >> shift if shift >= 0 else -1 - length
            if coarse != last_coarse:
                last_coarse = coarse
                sig = by_class.get(coarse) if shift >= 0 else self._none
                if sig is None:
                    sig = self.signature(k)
                found = groups.get(sig)
                if found is None:
                    group = groups[sig] = []
                else:
                    group = found
            group.append(k)
        accepted: dict[Path, Sequence[int]] = {}
        rejected: list[int] = []
        for sig, group in groups.items():
            out, counters = self._decide(group[0], path, None, sig)  # (no memo: once per call)
            for counter in counters:
                counter.matches += len(group)
            if out is None:
                rejected += group
            else:
                prior = accepted.get(out)
                accepted[out] = group if prior is None else [*prior, *group]
        return accepted, rejected


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

    def static_step(self) -> PolicyStep | None:
        """The policy as one step inside the export rules (``rib.export_step``), when it
        does the same to every route of each route type and accepts them; else None."""
        folds = []
        for kind in (RouteType.INTERNAL, RouteType.EXTERNAL, RouteType.LOCAL):
            folded = fold(self.assignment, Source(self.peer, self.peer_as, kind), self.family)
            if folded is None or not folded.accepted:
                return None
            folds.append(folded)
        return PolicyStep((folds[0], folds[1], folds[2]), self.self_next_hop)

    @property
    def per_route(self) -> bool:
        """Whether routes sharing a Path may be exported differently (a prefix set is tested)."""
        return any(isinstance(c, MatchPrefixSet) for p in self.assignment.policies for s in p.statements
                   for c in s.route_conditions)

    def outcome(self, key: int, source: PeerInfo, original: Path, exported: Path,
                rules: ExportPolicy) -> _Kept:
        """``exported`` (``original`` from ``source`` after the export ``rules``) through
        the policy, then ``finish_export``; with the counters of the statements it matched
        (the caller counts)."""
        out, counters = self.filter_for(source).kept(key, exported, original)
        if out is None or out is exported:
            return out, counters
        attrs = finish_export(rules, out.attrs)
        return (out if attrs is out.attrs else self.table.derived(attrs, out.next_hop)), counters

    def one(self, key: int, source: PeerInfo, original: Path, exported: Path,
            rules: ExportPolicy) -> Path | None:
        """``outcome`` for one route, counted."""
        out, counters = self.outcome(key, source, original, exported, rules)
        for counter in counters:
            counter.matches += 1
        return out
