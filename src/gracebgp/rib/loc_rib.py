"""Loc-RIB of one family: every candidate per prefix and the selected best.

RFC 4271 §9.1: Phase 2 (route selection) runs per prefix when a candidate changes. An
entry is one (PeerInfo, Path, learned-at) tuple when a single peer offers the prefix (the common
case for a full table from one upstream, kept allocation-free: the candidate tuple is
shared by every prefix of an UPDATE), else a list with the best first. A candidate is known
by its source's ``source`` (the peer's index, or one per Path Identifier of an ADD-PATH
peer, RFC 7911 §5; its PeerInfo is rebuilt when its session comes up again).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple, Protocol

from gracebgp.rib.decision import Candidate, Multipath, multipath_set, select
from gracebgp.rib.path import Path, PeerInfo

Entry = Candidate | list[Candidate]


class Lookup(NamedTuple):
    """The Loc-RIB's entries of a round's ``keys`` (in their order), looked up once for all
    its peers (``AdjRibOut.consider``); with ``runs`` (``LocRib.lookup(keys, runs=True)``)
    also the runs of keys sharing one entry, ``(i, j)``: keys ``i`` to ``j - 1`` (the
    prefixes of one UPDATE mostly; an entry that is None is in no run)."""

    keys: list[int]
    entries: list[Entry | None]
    runs: list[tuple[int, int]] | None


class Reach(Protocol):
    """Next-hop reachability (``fib.resolve.Resolver``): does ``address`` resolve?"""

    def resolves(self, address: str) -> bool: ...


class LocRib:
    """``every_change``: ``offer`` and ``retract`` report a prefix when any of its
    candidates changed, not only its best (set for good once a peer of the family takes
    several paths per prefix, RFC 7911 §5: that peer's Adj-RIB-Out must see them).
    ``multipath``: ``[global.use-multiple-paths]``, read only by ``multipath_set``.
    ``fib_keys``: the kernel FIB's subscription (None: no FIB): the Speaker adds every key
    of a flush to it; the FIB takes them (``runtime.fibdriver``).
    ``reach`` (None: every next hop counts as reachable): RFC 4271 §9.1.2.1, a route whose
    NEXT_HOP does not resolve is excluded from the decision: it is *parked* (kept out of
    ``entries``, by (source, prefix)) until ``reresolve`` finds its next hop reachable.
    Locally originated routes are never parked.
    ``dirty``: the prefixes whose best changed since the speaker's last flush (the
    speaker's set for the family: ``offer`` and ``retract`` add what they return before
    they return, so the next change of the same prefix sees it; None, the default: nobody
    flushes, nothing is recorded); ``before``: for each of them that had a best then,
    that best (the first change writes it; a prefix in ``dirty`` but not in ``before``
    had none, and costs no record). An Adj-RIB-Out in sync with this table
    (``AdjRibOut.synced``) reads from them what its peer has for a changed prefix.
    ``moved``: how many prefixes the last ``offer`` gave a candidate of its source that had
    none (entered or parked), or the last ``retract`` took one from: an Adj-RIB-In read
    from this table (``SourceRoutes``) counts its routes with it (read it right after the
    call: the next ``offer`` or ``retract``, ``reresolve``'s too, overwrites it)."""

    __slots__ = ("always_compare_med", "before", "dirty", "entries", "every_change", "fib_keys", "moved",
                 "multipath", "parked", "reach")

    def __init__(self, always_compare_med: bool = False) -> None:
        self.entries: dict[int, Entry] = {}
        self.always_compare_med = always_compare_med
        self.every_change = False
        self.multipath: Multipath | None = None
        self.fib_keys: set[int] | None = None
        self.reach: Reach | None = None
        self.parked: dict[tuple[int, int], Candidate] = {}
        self.before: dict[int, Candidate] = {}
        self.dirty: set[int] | None = None
        self.moved = 0

    def take_before(self, keys: set[int] | None = None) -> dict[int, Candidate]:
        """The old bests of ``keys`` (None: of every changed prefix), which leave ``before``:
        the speaker takes them with the keys it flushes."""
        before = self.before
        if keys is None:
            self.before = {}
            return before
        if not before:
            return {}
        return {k: before.pop(k) for k in keys if k in before}

    def _was(self, key: int, best: Candidate) -> None:
        """``key``'s best ``best`` is replaced: remember it, unless ``key`` changed since the
        last flush already (its first old best, or none, stands)."""
        dirty = self.dirty
        if dirty is not None and key not in dirty and key not in self.before:
            self.before[key] = best

    def touch(self, keys: Iterable[int]) -> None:
        """Flush ``keys`` at the next round though their best did not change (a hand-over's
        differences): what a peer in sync has for them is the export of their best."""
        entries, dirty = self.entries, self.dirty
        assert dirty is not None, "touch: a Loc-RIB a speaker flushes"
        for k in keys:
            e = entries.get(k)
            if e is not None:
                self._was(k, e if isinstance(e, tuple) else e[0])
            dirty.add(k)

    def __len__(self) -> int:
        return len(self.entries)

    def best(self, key: int) -> Candidate | None:
        e = self.entries.get(key)
        if e is None:
            return None
        return e if isinstance(e, tuple) else e[0]

    def candidates(self, key: int) -> list[Candidate]:
        e = self.entries.get(key)
        if e is None:
            return []
        return [e] if isinstance(e, tuple) else list(e)

    def multipath_set(self, key: int) -> list[Candidate]:
        """The candidates of ``key`` that carry traffic: its equal-cost set with
        ``[global.use-multiple-paths]`` (``decision.equal_cost``), else the best alone.
        Computed when asked (the API, the FIB), never on the way routes are learned."""
        return multipath_set(self.candidates(key), self.always_compare_med, self.multipath)

    def keys(self) -> list[int]:
        """Every prefix key with a route, in the table's order."""
        return list(self.entries)

    def path_count(self) -> int:
        """Candidate paths over all prefixes."""
        return sum(1 if isinstance(e, tuple) else len(e) for e in self.entries.values())

    def lookup(self, keys: list[int], runs: bool) -> Lookup:
        """``keys``' entries (None: not in the table), and with ``runs`` their runs."""
        entries = list(map(self.entries.get, keys))
        if not runs:
            return Lookup(keys, entries, None)
        found: list[tuple[int, int]] = []
        start, last = 0, None
        for i, e in enumerate(entries):
            if e is not last:
                if last is not None:
                    found.append((start, i))
                start, last = i, e
        if last is not None:
            found.append((start, len(entries)))
        return Lookup(keys, entries, found)

    def items(self) -> Iterator[tuple[int, Candidate]]:
        for k, e in self.entries.items():
            yield k, (e if isinstance(e, tuple) else e[0])

    def offer(self, peer: PeerInfo, keys: Sequence[int], path: Path, now: float = 0.0) -> list[int]:
        """``peer`` now offers ``path`` for ``keys`` (at time ``now``); returns the keys whose
        best changed. Offering the same path again keeps the entry (and its age)."""
        cand = (peer, path, now)
        entries = self.entries
        changed: list[int] = []
        index = peer.source
        reach = self.reach
        if reach is not None and path.next_hop and not peer.local and not reach.resolves(path.next_hop[0]):
            gone = self.retract(peer, keys)  # RFC 4271 §9.1.2.1: not a candidate, parked
            parked, had = self.parked, self.moved
            for k in keys:
                parked[(index, k)] = cand
            self.moved = len(set(keys)) - had
            return gone
        added = 0
        if self.parked:  # a parked candidate is one the source had: not an added one
            parked = self.parked
            added = -sum(1 for k in keys if parked.pop((index, k), None) is not None)
        for k in keys:
            e = entries.get(k)
            if e is None:
                entries[k] = cand
                changed.append(k)
                added += 1
            elif isinstance(e, tuple):
                if e[0].source == index:
                    if e[1] is not path:
                        self._was(k, e)
                        entries[k] = cand
                        changed.append(k)
                else:
                    added += 1
                    if self._reselect(k, [e, cand], e):
                        changed.append(k)
            else:
                old = next((c for c in e if c[0].source == index), None)
                if old is not None and old[1] is path:
                    continue
                if old is None:
                    added += 1
                others = [c for c in e if c[0].source != index]
                if self._reselect(k, [*others, cand], e[0]):
                    changed.append(k)
        self.moved = added
        if changed and self.dirty is not None:
            self.dirty.update(changed)  # (at once: a second change of a new key must see it)
        return changed

    # --- one source's candidates, as an Adj-RIB-In read from this table -------------------
    def source_path(self, source: int, key: int) -> Path | None:
        """The path of ``source``'s candidate for ``key``, entered or parked; else None."""
        e = self.entries.get(key)
        if e is not None:
            if isinstance(e, tuple):
                if e[0].source == source:
                    return e[1]
            else:
                for c in e:
                    if c[0].source == source:
                        return c[1]
        if self.parked:
            parked = self.parked.get((source, key))
            if parked is not None:
                return parked[1]
        return None

    def source_items(self, source: int) -> Iterator[tuple[int, Path]]:
        """(key, path) of every candidate of ``source``, entered or parked: one pass over
        the table (``channel.Channel`` reads from it only while the source holds a large
        share of the table)."""
        for k, e in self.entries.items():
            if isinstance(e, tuple):
                if e[0].source == source:
                    yield k, e[1]
            else:
                for c in e:
                    if c[0].source == source:
                        yield k, c[1]
                        break
        for (index, k), c in list(self.parked.items()):
            if index == source:
                yield k, c[1]

    def restamp(self, peer: PeerInfo, keys: Sequence[int], now: float) -> None:
        """Set the learned-at time of ``peer``'s candidates for ``keys`` (routes configured
        before the clock started)."""
        entries = self.entries
        for k in keys:
            e = entries.get(k)
            if isinstance(e, tuple):
                if e[0].source == peer.source:
                    entries[k] = (e[0], e[1], now)
            elif e is not None:
                entries[k] = [(c[0], c[1], now) if c[0].source == peer.source else c for c in e]

    def retract(self, peer: PeerInfo, keys: Sequence[int], gone: list[int] | None = None) -> list[int]:
        """``peer`` no longer offers ``keys``; returns the keys whose best changed. ``gone``
        (when given) gets each key that had a candidate of ``peer``'s source, once."""
        entries = self.entries
        changed: list[int] = []
        index = peer.source
        taken = 0
        if self.parked:
            parked = self.parked
            was_parked = [k for k in keys if parked.pop((index, k), None) is not None]
            taken = len(was_parked)
            if gone is not None:
                gone += was_parked
        for k in keys:
            e = entries.get(k)
            if e is None:
                continue
            if isinstance(e, tuple):
                if e[0].source == index:
                    self._was(k, e)
                    del entries[k]
                    changed.append(k)
                    taken += 1
                    if gone is not None:
                        gone.append(k)
                continue
            others = [c for c in e if c[0].source != index]
            if len(others) == len(e):
                continue
            taken += 1
            if gone is not None:
                gone.append(k)
            if self._reselect(k, others, e[0]):
                changed.append(k)
        self.moved = taken
        if changed and self.dirty is not None:
            self.dirty.update(changed)
        return changed

    def reresolve(self, moved: Iterable[str]) -> list[int]:
        """After the next hops ``moved`` changed reachability (``reach``): park the
        candidates through them that no longer resolve, offer again the parked ones that
        now do; returns the keys whose best changed. One pass over the table (a rare event:
        a link or a route of the kernel changed)."""
        moved = set(moved)
        reach = self.reach
        if not moved or reach is None:
            return []
        changed: list[int] = []
        back = [(k, c) for (_, k), c in self.parked.items() if c[1].next_hop and c[1].next_hop[0] in moved
                and reach.resolves(c[1].next_hop[0])]
        lost = [(k, c) for k, e in self.entries.items() for c in ([e] if isinstance(e, tuple) else e)
                if not c[0].local and c[1].next_hop and c[1].next_hop[0] in moved
                and not reach.resolves(c[1].next_hop[0])]
        for k, (peer, path, when) in lost:
            changed += self.offer(peer, [k], path, when)  # parks it
        for k, (peer, path, when) in back:
            changed += self.offer(peer, [k], path, when)
        return changed

    def _reselect(self, key: int, cands: list[Candidate], old_best: Candidate) -> bool:
        if len(cands) > 1:
            i = select(cands, self.always_compare_med)
            if i:
                cands[0], cands[i] = cands[i], cands[0]
            self.entries[key] = cands
        else:
            self.entries[key] = cands[0]
        if cands[0] is not old_best or self.every_change:
            self._was(key, old_best)
            return True
        return False


class SourceRoutes(Mapping[int, Path]):
    """The routes of one source as a read-only mapping key -> path, read from ``loc``'s
    candidates; ``count`` is how many there are (kept by the reader, ``Channel``)."""

    __slots__ = ("count", "loc", "source")

    def __init__(self, loc: LocRib, source: int, count: int) -> None:
        self.loc, self.source, self.count = loc, source, count

    def __getitem__(self, key: int) -> Path:
        path = self.loc.source_path(self.source, key)
        if path is None:
            raise KeyError(key)
        return path

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self.loc.source_path(self.source, key) is not None

    def __iter__(self) -> Iterator[int]:
        return (k for k, _ in self.loc.source_items(self.source))

    def __len__(self) -> int:
        return self.count

    def items(self) -> Iterator[tuple[int, Path]]:  # type: ignore[override]  # (one pass, not a view)
        return self.loc.source_items(self.source)
