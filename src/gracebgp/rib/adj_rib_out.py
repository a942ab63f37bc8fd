"""Adj-RIB-Out of one peer for one family: what was sent, what must be sent, and the
UPDATEs that carry the difference.

RFC 4271 §9.1.3 / §9.2: only changes are sent; announcements are grouped by attribute
set so each attribute block is encoded once and carries as many prefixes as fit
(DESIGN.md section 3); withdrawals go first.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from gracebgp.policy.definitions import MatchCounter
from gracebgp.rib.aspath_rules import holds_as
from gracebgp.rib.decision import Candidate
from gracebgp.rib.export import ExportPolicy, export_class, export_path
from gracebgp.rib.export_step import PolicyStep
from gracebgp.rib.loc_rib import LocRib, Lookup
from gracebgp.rib.path import Exported, Path, PathTable, PeerInfo
from gracebgp.rib.policy_filter import ExportFilter
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire.attrset import to_two_octet
from gracebgp.wire.context import CodecContext
from gracebgp.wire.update import end_of_rib, pack_ipv4_block, pack_mp_block, pack_withdrawals

_SAME = object()  # export memo: the exported path is the source path itself (no cycle)
_NO_ENTRY = object()  # consider: no entry seen yet whose export holds for the next key


def _slot_of(entry: Any) -> int:
    """The slot of one export-memo entry (a tuple, or an ``Exported`` that is its own)."""
    return entry.slot if entry.__class__ is Exported else int(entry[0])

#: The old bests of the prefixes a round flushes (``LocRib.take_before``): prefix -> the
#: best it had at the last round (a prefix of the round not in it had none).
Before = dict[int, Candidate]


#: (export class, family, export policy step) -> the slot its entries carry in
#: ``Path.exports`` (an int never given twice: when the table is full its older half is
#: forgotten, which only makes the next Adj-RIB-Out of such a class start a new slot,
#: never share a wrong one).
_SLOTS: dict[tuple[ExportPolicy, Family, PolicyStep | None, bool], int] = {}
_SLOTS_LIMIT = 4096  # (each export policy an operator or a controller sets is one key)
_next_slot = itertools.count(1)


#: Export-memo entries one source path keeps at most: an export policy changed by reload
#: or the API is a new slot, and the entries of slots no peer uses any more would
#: otherwise stay on every path (a memo: what is dropped is exported again when needed).
_MEMO_SLOTS = 8


def _slot(shared: ExportPolicy, family: Family, step: PolicyStep | None, after: bool) -> int:
    """``after``: an export policy runs after the rules, so the export is a Path of a set
    interned by value (the policy reads it), not an ``Exported``: another slot."""
    key = (shared, family, step, after)
    slot = _SLOTS.get(key)
    if slot is None:
        if len(_SLOTS) >= _SLOTS_LIMIT:
            for old in list(itertools.islice(_SLOTS, len(_SLOTS) // 2)):  # (in insertion order)
                del _SLOTS[old]
        slot = _SLOTS[key] = next(_next_slot)
    return slot


#: UPDATEs packed in one flush of the speaker, by exported path: (codec context, keys,
#: messages). The caller makes one per round of peers and drops it after.
Packed = dict[Path, tuple[CodecContext, list[int], list[bytes]]]


def _merged(groups: dict[Path, list[int]]) -> dict[Path, list[int]]:
    """Groups whose paths send the same attributes and next hop (``Path.same``: equal
    exports of different source paths) as one, so they share UPDATEs (DESIGN.md
    section 3: one attribute block per set, as many prefixes as fit)."""
    first: dict[tuple[bytes, tuple[str, ...]], list[int]] = {}
    out: dict[Path, list[int]] = {}
    for path, keys in groups.items():
        sig = (path.block, path.next_hop)
        known = first.get(sig)
        if known is None:
            first[sig] = out[path] = keys
        else:
            known += keys
    return out


class AdjRibOut:
    """Peers whose policies differ only in who the peer is share an export class
    (``export.export_class``, an update group) and with it one ``slot`` in the export memo
    each source Path carries (``Path.exports``: one ``(slot, source, exported)`` tuple,
    or slot -> tuple when several classes export it): a path is exported once per class,
    however many peers the class has, and each peer adds only the rules that depend on
    it (``_export``). The memo lives on the source path, so it goes with the last route
    using that path and never holds a path alive; a new policy (``repolicy``) is another
    class and slot, while a peer back with the same session parameters finds its
    class's entries still good, so a flapping peer gets the same exported Paths again
    without exporting anything anew.

    **In sync, nothing per prefix** (issue 14 item 3). Once what the peer has is the
    export of the Loc-RIB's best for every prefix (``settle``: after a table sent in full,
    or every prefix considered, and a round that leaves no change unsent), the table of
    what was sent is dropped: for a prefix the speaker's round flushes, the peer has the
    export of its old best (``LocRib.take_before``), for every other prefix the export of
    its best, and ``consider`` compares the two. The export is a function of the best
    path and this peer's export rules and policy (the memo only caches it), so the count
    of routes advertised is all that is kept. Whatever else would change what the peer
    has - a route refresh, a table sent in slices, a new export policy, a drain, a round
    this peer misses - first makes the table again from the Loc-RIB (``desync``, one pass).
    Not in sync: a session's first table, an ADD-PATH peer, and an export policy that
    tests prefix sets (per route)."""

    __slots__ = ("_count", "_exporter", "_held", "_loc", "_loop_asn", "_missed", "_pending", "_ready",
                 "_runs", "_shared", "_step", "_table", "epoch", "family", "policy", "slot")
    #: Whether this kind of Adj-RIB-Out may hold nothing per prefix in sync.
    _syncs = True
    #: Whether an export policy that does the same to every route of a route type runs
    #: inside the export rules (``export_step``): one attribute set per exported path
    #: instead of two, and the policy's result shares the class's memo slot.
    _fuses = True

    def __init__(self, family: Family, policy: ExportPolicy, table: PathTable) -> None:
        self.family = family
        self._table = table
        self._held: dict[int, Path] = {}  # what the peer has, out of sync (empty in sync)
        self._loc: LocRib | None = None  # in sync with this Loc-RIB
        self._count = 0  # in sync: routes advertised
        self._ready = False  # every prefix was considered: ``settle`` may drop the table
        #: Counts what makes a table sent in slices no proof of sync when it ends: a new
        #: export, a session reset, a round missed (``table_sent``).
        self.epoch = 0
        self._missed = False  # a round was missed: what the peer has may hold routes the Loc-RIB lost
        self._pending: dict[int, Path | None] = {}  # key -> path to announce, None: withdraw
        #: Announcements ``_consider_runs`` made, by exported path, in the order ``flush``
        #: sends them; ``pending`` holds them too once anything reads it (``_spill``).
        self._runs: dict[Path, list[int]] = {}
        self._exporter: ExportFilter | None = None
        self._step: PolicyStep | None = None
        self.repolicy(policy)

    @property
    def pending(self) -> dict[int, Path | None]:
        """Prefix -> the path to announce (None: to withdraw) at the next ``flush``."""
        if self._runs:
            self._spill()
        return self._pending

    def _spill(self) -> None:
        """The announcements of ``_runs`` into ``pending``, as ``flush`` would send them."""
        pending = self._pending
        for out, keys in self._runs.items():
            for k in keys:
                pending[k] = out
        self._runs = {}

    @property
    def exporter(self) -> ExportFilter | None:
        """The peer's export policy (issue 16), after the export rules; None: none."""
        return self._exporter

    @exporter.setter
    def exporter(self, exporter: ExportFilter | None) -> None:
        self._unsettle()
        self._exporter = exporter
        self._step = exporter.static_step() if exporter is not None and self._fuses else None
        self._reslot()

    def _reslot(self) -> None:
        after = self._exporter is not None and self._step is None
        self.slot = _slot(self._shared, self.family, self._step, after)

    def __len__(self) -> int:
        return self._count if self._loc is not None else len(self._held)

    @property
    def synced(self) -> bool:
        """Whether it holds nothing per prefix (in sync with the Loc-RIB)."""
        return self._loc is not None

    @property
    def advertised(self) -> dict[int, Path]:
        """Prefix -> what the peer has. Out of sync, the table itself (a hand-over fills
        it); in sync, made from the Loc-RIB on each call (the views, a hand-over, tests)."""
        loc = self._loc
        return self._held if loc is None else self._table_of(loc)

    def _sent_for(self, key: int, best: Candidate | None) -> Path | None:
        """What the peer has for ``key`` in sync, its best (or old best) being ``best``: the
        export ``consider`` made of it, the export policy's matches not counted again."""
        if best is None:
            return None
        peer, path, _ = best
        if peer.index == self.policy.peer.index:
            return None  # its own route: never sent back
        out = self._export(peer, path)
        if out is not None and self._exporter is not None and self._step is None:
            out = self._exporter.outcome(key, peer, path, out, self.policy)[0]
        return out

    def _table_of(self, loc: LocRib, before: Before | None = None,
                  keys: AbstractSet[int] = frozenset()) -> dict[int, Path]:
        """What the peer has, prefix by prefix, in sync: the export of each prefix's best,
        or, while its change is not flushed (``LocRib.dirty``; ``keys``, a round going on),
        of its old best (``LocRib.before``, the round's ``before``; none: nothing)."""
        olds = {**loc.before, **before} if before else loc.before
        dirty = loc.dirty or ()
        held: dict[int, Path] = {}
        last: object = _NO_ENTRY
        out: Path | None = None
        for k, e in loc.entries.items():
            best: Candidate | None
            if k in dirty or k in keys:
                best = olds.get(k)
            else:
                best = e if isinstance(e, tuple) else e[0]
            if best is not last:  # (the prefixes of one UPDATE share their candidate)
                last, out = best, self._sent_for(k, best)
            if out is not None:
                held[k] = out
        entries = loc.entries
        for k, best in olds.items():  # left the Loc-RIB, the withdrawal not sent yet
            if k not in entries and (out := self._sent_for(k, best)) is not None:
                held[k] = out
        return held

    def desync(self, loc: LocRib, before: Before | None = None, keys: AbstractSet[int] = frozenset()) -> None:
        """Hold what the peer has as a table again (``keys`` and ``before``: a round going
        on, and its old bests), made from ``loc``; nothing to do out of sync."""
        if self._loc is not None:
            self._held = self._table_of(self._loc, before, keys)
            self._loc = None
        self._ready = False

    def miss(self, loc: LocRib, before: Before, keys: Iterable[int]) -> None:
        """A round of ``keys`` (old bests ``before``) not sent to this peer (its session is
        not Established, or the gate is closed): what it has stays a table."""
        if self._loc is not None:
            self.desync(loc, before, set(keys))
        self._ready = False
        self.epoch += 1
        if self._held or self.pending:  # (nothing sent yet: nothing can be left over)
            self._missed = True

    def _unsettle(self) -> None:
        """The export changes (a new policy): what the peer has is a table until every
        prefix has been considered with the new export."""
        if self._loc is not None:
            self.desync(self._loc)
        self._ready = False
        self.epoch += 1

    def settle(self, loc: LocRib) -> None:
        """Drop the table when what the peer has is the export of ``loc``'s best for every
        prefix: every prefix was considered since the export last changed (``table_sent``,
        ``consider_all``), nothing is pending, and no change of ``loc`` is left unflushed
        (each was considered by the rounds). Not for an export policy that tests prefix
        sets (per route)."""
        if (self._ready and self._loc is None and not self.pending and loc.dirty is not None and not loc.dirty
                and self._syncs
                and not (self._exporter is not None and self._step is None and self._exporter.per_route)):
            self._count = len(self._held)
            self._held = {}
            self._loc = loc
            self._ready = False

    def table_sent(self, loc: LocRib, epoch: int) -> None:
        """A table (the Loc-RIB's keys when it began, in slices, at ``epoch``) went out in
        full, each change meanwhile with the rounds: in sync when no change is left
        (``settle``), unless the export changed or a round was missed since it began."""
        if epoch == self.epoch and not self._missed:
            self._ready = True
            self.settle(loc)

    def _export(self, source: PeerInfo, path: Path) -> Path | None:
        """``path`` from ``source`` as sent to this peer: its class's export, from the
        memo or computed, then this peer's own AS-loop check (RFC 4271 §9.1.2: the peer
        would drop a path holding its AS). Never called for the peer's own routes."""
        slot = self.slot
        memo = path.exports
        hit = memo.get(slot) if memo.__class__ is dict else memo
        out: Any  # (an entry's: a Path, None or _SAME)
        if hit is not None:
            if hit.__class__ is Exported:  # (an Exported is its own entry)
                at, was, out = hit.slot, hit.source, hit
            else:
                at, was, out = hit
            if at == slot and (was is source or was == source):
                if was is not source:  # the source's new session, equal: still good
                    self._remember(path, memo, (slot, source, out) if out is not hit else hit, source)
                return self._loop_checked(path, path if out is _SAME else out)
        out = export_path(source, path, self._shared, self.family, self._table,
                          self._exporter is not None and self._step is None, self._step)
        if out is path:
            entry: Any = (slot, source, _SAME)
        else:
            entry = out if out.__class__ is Exported else (slot, source, out)
        self._remember(path, memo, entry, source)
        return self._loop_checked(path, out)

    def _remember(self, path: Path, memo: Any, entry: Any, source: PeerInfo) -> None:
        """Keep ``entry`` as ``path``'s export in this class: a ``(slot, source, exported)``
        tuple, or the ``Exported`` itself (given its slot and source here); the memo before
        was ``memo`` (None, one entry, or slot -> entry)."""
        slot = self.slot
        if entry.__class__ is Exported:
            entry.slot, entry.source = slot, source
        if memo is None or (memo.__class__ is not dict and _slot_of(memo) == slot):
            path.exports = entry
        elif memo.__class__ is not dict:
            path.exports = {_slot_of(memo): memo, slot: entry}
        else:
            if len(memo) >= _MEMO_SLOTS and slot not in memo:
                memo.clear()  # (old slots: a reloaded export policy, a drain that ended)
            memo[slot] = entry

    def _loop_checked(self, path: Path, out: Path | None) -> Path | None:
        asn = self._loop_asn
        if out is not None and asn is not None and holds_as(path.attrs.as_path, asn):
            return None
        return out

    def exported(self, source: PeerInfo, path: Path) -> Path | None:
        """``path`` from ``source`` after the export rules, before the export policy
        (None: not sent to this peer); ``--explain`` shows what the policy then made of it."""
        if source.index == self.policy.peer.index:
            return None
        if self._step is None:
            return self._export(source, path)
        # (the memo holds the policy's result: the rules' alone are made anew, not kept)
        rules = export_path(source, path, self._shared, self.family, self._table, True)
        return self._loop_checked(path, rules)

    def prefix_keys(self) -> list[int]:
        """The prefixes advertised (the views list them)."""
        return list(self.advertised)

    def sent(self, key: int) -> list[tuple[int | None, Path]]:
        """(Path Identifier, path) of what is advertised for prefix ``key``."""
        loc = self._loc
        if loc is None:
            path = self._held.get(key)
        else:
            path = self._sent_for(key, loc.before.get(key) if key in (loc.dirty or ()) else loc.best(key))
        return [] if path is None else [(None, path)]

    #: ``consider`` takes the round's ``found`` (the ADD-PATH one reads every candidate)
    takes_found = True

    def consider(self, keys: Collection[int], loc: LocRib, again: bool = False,
                 before: Before | None = None, found: Lookup | None = None) -> None:
        """Re-evaluate ``keys`` against the Loc-RIB's current best paths; ``again``: send
        them even when unchanged (a route refresh re-advertises the Adj-RIB-Out, RFC 2918
        §4, RFC 7313 §4), keeping what was advertised, so a withdrawal still goes out.
        ``before``: the speaker's round, with the old bests of its keys: in sync, what the
        peer has for a key is the export of its old best; without it (a table slice, a
        refresh) the table is made first (``desync``). ``found``: the Loc-RIB's entries
        of ``keys`` (``found.keys``), in their order, as they are now (a round looks them
        up once for all its peers: in a table of a million prefixes each lookup is a
        cache miss); without it ``keys`` is iterated twice, side by side."""
        if found is not None and found.keys is not keys:
            raise ValueError("found: the lookup of other keys")
        if self._loc is not None and (again or before is None):
            self.desync(loc)
        olds = before if self._loc is not None else None  # in sync: no table, the old bests
        advertised, pending = self._held, self.pending
        # (pending is empty in sync at each round, every consider being followed by a
        # flush; a leftover takes the per-key decisions, which may drop it)
        if found is not None and found.runs is not None and olds is not None and not olds and not pending \
                and not again and self.takes_runs:
            self._consider_runs(found)
            return
        count = 0
        last_o: object = _NO_ENTRY  # (in sync: the old best of the key before, and its export)
        last_sent: Path | None = None
        entries = loc.entries
        target = self.policy.peer.index
        last_path: Path | None = None  # consecutive keys mostly share a path (one UPDATE)
        last_peer: PeerInfo | None = None
        last_out: Path | None = None
        exporter, step = self._exporter, self._step
        # Export policy: inside the export rules when it is the same for every route of a
        # route type (``_step``: the statements it matches counted per run of keys sharing
        # a Path), else per Path after them, unless a prefix set makes it per route
        # (rib.policy_filter).
        if step is not None:
            exporter = None
        per_route = exporter is not None and exporter.per_route
        last_class: Path | None = None
        counters: tuple[MatchCounter, ...] = ()
        run = 0
        last_e: object = _NO_ENTRY  # the entry of the key before, when its export holds for the next
        for k, e in zip(keys, map(entries.get, keys) if found is None else found.entries, strict=True):
            out: Path | None = None
            if e is last_e:  # (the prefixes of one UPDATE share their candidate: same export)
                out = last_out
                run += 1
            elif e is not None:
                peer, path, _ = e if isinstance(e, tuple) else e[0]
                if peer.index == target:
                    # Its own route: never sent back (export_path's first rule), so only a
                    # route advertised earlier needs a withdrawal.
                    last_e = _NO_ENTRY
                else:
                    if path is last_path and peer is last_peer:
                        out = last_out
                        run += 1
                    else:
                        out = last_class = self._export(peer, path)
                        for counter in counters:
                            counter.matches += run
                        counters, run = (), 0
                        if step is not None and out is not None:
                            counters, run = step.counters(peer), 1
                        elif exporter is not None and out is not None and not per_route:
                            out, counters = exporter.outcome(k, peer, path, out, self.policy)
                            run = 1
                        last_path, last_peer, last_out = path, peer, out
                    if per_route and last_class is not None:
                        assert exporter is not None
                        out = exporter.one(k, peer, path, last_class, self.policy)
                        last_e = _NO_ENTRY  # (per route: the next key of any entry runs the policy too)
                    else:
                        last_e = e
            if olds is None:
                sent = advertised.get(k)
            else:  # the export of its old best (none: a new prefix)
                o = olds.get(k)
                if o is not last_o:
                    last_sent = self._sent_for(k, o)
                    last_o = o
                sent = last_sent
            if again or (sent is not out and (sent is None or out is None or not out.same(sent))):
                pending[k] = out
                if olds is not None:  # (in sync: never ``again``, so sent is not out)
                    count += 1 if sent is None else -1 if out is None else 0
            else:  # what the peer has (an equal export of another source path, or policy, included)
                pending.pop(k, None)
        for counter in counters:
            counter.matches += run
        if olds is not None:
            self._count += count

    @property
    def takes_runs(self) -> bool:
        """``consider`` can take a round's runs (``Lookup.runs``): in sync, no export policy."""
        return self._loc is not None and self._exporter is None and self._step is None

    def _consider_runs(self, found: Lookup) -> None:
        """``consider`` of a round that only adds prefixes (``before`` is empty: no key of
        it had a best at the last flush that included it), for a peer in sync with nothing
        pending and no export policy. The peer has nothing for any key, so a key whose
        export is None needs nothing and one with an export is an announcement. One
        decision per run of keys sharing an entry (``found.runs``), its keys added to the
        group of its export (``_runs``), which ``flush`` sends as it is."""
        assert found.runs is not None
        keys, entries, groups = found.keys, found.entries, self._runs
        target = self.policy.peer.index
        last_path: Path | None = None
        last_peer: PeerInfo | None = None
        out: Path | None = None
        count = 0
        for i, j in found.runs:
            e = entries[i]
            assert e is not None  # (no run is of keys without an entry)
            peer, path, _ = e if isinstance(e, tuple) else e[0]
            if peer.index == target:
                continue  # its own route: never sent back, and the peer has nothing for it
            if path is not last_path or peer is not last_peer:
                out = self._export(peer, path)
                last_path, last_peer = path, peer
            if out is None:
                continue
            group = groups.get(out)
            if group is None:
                groups[out] = keys[i:j]
            else:
                group += keys[i:j]
            count += j - i
        self._count += count

    def consider_all(self, loc: LocRib) -> None:
        """The whole table, e.g. when the session comes up (RFC 4271 §9.1.3): every prefix
        considered, so in sync after the flush of a round that leaves no change (``settle``).
        A prefix the peer has that the Loc-RIB no longer holds and no round withdrew (one
        missed) is withdrawn too."""
        keys = loc.keys()
        if self._missed:
            entries = loc.entries
            keys += [k for k in self._held if k not in entries]
            self._missed = False
        self.consider(keys, loc)
        self._ready = True

    def flush(self, ctx: CodecContext, packed: Packed | None = None) -> list[bytes]:
        """UPDATEs for everything pending; ``advertised`` then reflects them. ``packed``:
        what other peers' flushes of this round packed, reused where the path, the keys
        and the codec context are the same (the peers of one class send the same bytes),
        and added to."""
        groups = self._runs
        if groups and not self._pending and self._loc is not None:  # (a round of runs: grouped already)
            self._runs = {}
            return self._packed(groups, [], ctx, packed)
        if not self.pending:
            return []
        withdraw: list[int] = []
        groups = {}
        advertised = self._held
        track = self._loc is None  # (in sync: no table; a withdrawal pending is of a route sent)
        last: Path | None = None  # (runs of keys share a path: no list made per key)
        group: list[int] = []
        for k, path in self.pending.items():
            if path is None:
                if not track or advertised.pop(k, None) is not None:
                    withdraw.append(k)
            else:
                if track:
                    advertised[k] = path
                if path is not last:
                    last = path
                    found = groups.get(path)
                    if found is None:
                        found = groups[path] = []
                    group = found
                group.append(k)
        self._pending = {}
        return self._packed(groups, withdraw, ctx, packed)

    def _packed(self, groups: dict[Path, list[int]], withdraw: list[int], ctx: CodecContext,
                packed: Packed | None) -> list[bytes]:
        """``flush``'s UPDATEs: the withdrawals, then each group's keys with its path."""
        out: list[bytes] = []
        if withdraw:
            out += pack_withdrawals(self.family, withdraw, ctx)
        for path, keys in (_merged(groups) if len(groups) > 1 else groups).items():
            if packed is not None:
                hit = packed.get(path)
                if hit is not None and hit[1] == keys and (hit[0] is ctx or hit[0] == ctx):
                    out += hit[2]
                    continue
            block = path.block if ctx.as4 else to_two_octet(path.attrs).wire(False)
            if self.family == IPV4_UNICAST:
                messages = pack_ipv4_block(block, keys, ctx)
            else:
                messages = pack_mp_block(block, self.family, path.next_hop, keys, ctx)
            if packed is not None:
                packed[path] = (ctx, keys, messages)
            out += messages
        return out

    def end_of_rib(self, ctx: CodecContext) -> bytes:
        """RFC 4724 §2 marker after the initial table."""
        return end_of_rib(self.family, ctx)

    def repolicy(self, policy: ExportPolicy) -> None:
        """Export with ``policy`` from now on (drain, LLGR): its class has its own slot,
        so the memo entries made with the old one no longer match; call ``consider_all``
        next to send the difference."""
        self._unsettle()  # (what the peer has is the old export's)
        self.policy = policy
        self._shared = export_class(policy)
        self._reslot()
        # The AS-loop check the class leaves to each peer (eBGP; with replace-peer-as the
        # peer's AS is in the class and export_path checks it there).
        self._loop_asn = None if policy.peer.ibgp or policy.replace_peer_as else policy.peer.asn

    def reset(self) -> None:
        """The session went down: nothing is advertised any more."""
        self._held.clear()
        self._pending.clear()
        self._runs = {}
        self._loc, self._count, self._ready, self._missed = None, 0, False, False
        self.epoch += 1
