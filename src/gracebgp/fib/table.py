"""The FIB's state in the owner: per family what selection wants, what the kernel holds
of ours, other protocols' routes of the same prefixes, the routes adopted from the
previous run, and the recovery gate; it turns changes into kernel operations.

Spec section 7 and section 4, RFC 4724 §4.1. One family's FIB:

    state          input                               -> next state, effect
    -----          -----                               -----------------------------------
    HOLDING        adopt(routes)                       HOLDING: routes are installed+adopted
    HOLDING        desired changes                     HOLDING: remembered, no operation
    HOLDING        open_gate (selection done)          SYNCED: full reconcile of every prefix
    HOLDING        sweep deadline passed               SYNCED: full reconcile (the sweep),
                                                       adopted routes selection lacks go
    SYNCED         desired / kernel changes            SYNCED: reconcile of those prefixes
    any            applied(op, errno=0)                installed follows the op
    any            applied(op, errno!=0)               failure counted for the prefix

A fresh start with nothing to adopt still holds until the gate opens: selection has not
run (RFC 4724 §4.1) so anything installed before would be a guess. The runtime carries the
operations out (``runtime.fibkernel``) and reports each result with ``applied``.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gracebgp.fib.model import Entry, KernelRoute, Op, OpKind
from gracebgp.fib.reconcile import Plan, reconcile
from gracebgp.types import Family, family_name

#: Default bound on how long adopted routes may stay when selection never completes (s).
SWEEP_TIME = 600.0


@dataclass(slots=True)
class FamilyFib:
    """One family's FIB (see the module's table)."""

    family: Family
    desired: dict[int, Entry] = field(default_factory=dict)
    installed: dict[int, Entry] = field(default_factory=dict)
    foreign: dict[int, int] = field(default_factory=dict)  # prefix -> other protocol number
    # prefix -> (protocol, metric) of every other protocol's route of it in our table
    others: dict[int, set[tuple[int, int]]] = field(default_factory=dict)
    adopted: set[int] = field(default_factory=set)  # installed by the previous run, not reconciled
    gate_open: bool = False
    dirty: set[int] = field(default_factory=set)
    pending: dict[int, Op] = field(default_factory=dict)  # handed to the kernel, no answer yet
    conflicts: dict[int, int] = field(default_factory=dict)
    failures: dict[int, tuple[int, int]] = field(default_factory=dict)  # prefix -> (errno, count)
    adopted_at_start: int = 0
    added: int = 0
    replaced: int = 0
    deleted: int = 0


@dataclass(frozen=True, slots=True)
class Reconciled:
    """A full reconcile happened (the gate opened, or the sweep): for the timeline."""

    family: Family
    cause: str  # "selection done" or "sweep"
    added: int
    replaced: int
    deleted: int
    unchanged: int
    conflicts: int


class FibTable:
    """Every family's FIB and the sweep timer; pure (time comes in as ``now``)."""

    def __init__(self, families: Iterable[Family], sweep_time: float = SWEEP_TIME) -> None:
        self.families = {f: FamilyFib(f) for f in families}
        self.sweep_time = sweep_time
        self.sweep_at: float | None = None
        self.reconciled: list[Reconciled] = []  # full reconciles not yet reported
        self._opened: dict[Family, list[Op]] = {}  # a full reconcile's operations, not handed out yet

    # --- inputs ------------------------------------------------------------------------
    def adopt(self, routes: Iterable[KernelRoute], now: float) -> dict[Family, int]:
        """Our protocol's routes found in the kernel at start-up: installed, adopted, left
        alone until the family's gate opens or the sweep (``sweep_time`` from ``now``)."""
        counts = dict.fromkeys(self.families, 0)
        for r in routes:
            fib = self.families.get(r.family)
            if fib is None:
                continue
            fib.installed[r.key] = r.hops
            fib.adopted.add(r.key)
            counts[r.family] += 1
        for family, n in counts.items():
            self.families[family].adopted_at_start = n
        self.sweep_at = now + self.sweep_time
        return counts

    def want(self, family: Family, key: int, hops: Entry | None) -> None:
        """Selection's entry for ``key`` (None: no route)."""
        fib = self.families[family]
        if hops is None:
            if fib.desired.pop(key, None) is None and key not in fib.installed:
                return
        elif fib.desired.get(key) == hops:
            return
        else:
            fib.desired[key] = hops
        fib.dirty.add(key)

    def kernel_route(self, route: KernelRoute, ours: bool, gone: bool = False) -> None:
        """The monitor saw a route of our table appear (or go): ours (someone else changed
        it, e.g. ``ip route del``) or another protocol's at any metric (a conflict: with a
        lower metric it takes the traffic, with a higher one ours would take its)."""
        fib = self.families.get(route.family)
        if fib is None:
            return
        if ours:
            if gone:
                fib.installed.pop(route.key, None)
            elif route.key not in fib.pending:
                fib.installed[route.key] = route.hops
        else:
            seen = fib.others.setdefault(route.key, set())
            if gone:
                seen.discard((route.protocol, route.metric))
            else:
                seen.add((route.protocol, route.metric))
            if seen:
                fib.foreign[route.key] = min(seen)[0]
            else:
                del fib.others[route.key]
                fib.foreign.pop(route.key, None)
                fib.conflicts.pop(route.key, None)
        fib.dirty.add(route.key)

    def ours_in_kernel(self, family: Family, found: Mapping[int, Entry], skip: set[int]) -> int:
        """A dump's routes of ours for ``family``: what we believe installed is corrected
        where the kernel says otherwise (the kernel flushes our routes without telling us
        when their link goes down or an address goes; someone may ``ip route del`` them);
        prefixes in ``skip`` (changed by us since the dump began) and pending ones are left.
        Returns how many were corrected; they are reconciled again."""
        fib = self.families[family]
        fixed = 0
        for key in set(fib.installed).union(found):
            if key in skip or key in fib.pending:
                continue
            now = found.get(key)
            if fib.installed.get(key) == now:
                continue
            if now is None:
                del fib.installed[key]
            else:
                fib.installed[key] = now
            fib.dirty.add(key)
            fixed += 1
        return fixed

    def retry(self) -> int:
        """Failed prefixes are looked at again (a timer: the cause may have gone, e.g. the
        next hop's link is back); returns how many."""
        n = 0
        for fib in self.families.values():
            if fib.gate_open:
                fib.dirty.update(fib.failures)
                n += len(fib.failures)
        return n

    def open_gate(self, family: Family, cause: str = "selection done") -> None:
        """Selection for ``family`` is done (the recovery gate, spec section 4): reconcile
        every prefix selection or the kernel knows."""
        fib = self.families[family]
        if fib.gate_open:
            return
        fib.gate_open = True
        fib.dirty.update(fib.desired, fib.installed)
        plan = self._plan(fib)
        self.reconciled.append(Reconciled(family, cause, plan.count(OpKind.ADD), plan.count(OpKind.REPLACE),
                                          plan.count(OpKind.DELETE), plan.unchanged, len(plan.conflicts)))
        fib.dirty = set()
        self._opened[family] = plan.ops  # handed out by the next ``operations``

    def timer(self, now: float) -> None:
        """The sweep: adopted routes may not outlive ``sweep_time`` when selection never
        completes for their family."""
        if self.sweep_at is not None and now >= self.sweep_at:
            self.sweep_at = None
            for family, fib in self.families.items():
                if not fib.gate_open:
                    self.open_gate(family, "sweep")

    def remove_all(self) -> list[Op]:
        """Every route of ours, deleted (the last step of ``stop --withdraw``, ``fib.stop``):
        each becomes pending; nothing is added any more."""
        out: list[Op] = []
        for family, fib in self.families.items():
            fib.desired.clear()
            fib.dirty.clear()
            self._opened.pop(family, None)
            for key in sorted(fib.installed):
                op = fib.pending[key] = Op(OpKind.DELETE, family, key)
                out.append(op)
        return out

    def next_deadline(self) -> float | None:
        return self.sweep_at

    # --- outputs -----------------------------------------------------------------------
    def _plan(self, fib: FamilyFib) -> Plan:
        plan = reconcile(fib.family, sorted(fib.dirty), fib.desired, fib.installed, fib.foreign,
                         fib.gate_open)
        for key in fib.dirty:
            fib.conflicts.pop(key, None)
        fib.conflicts.update(plan.conflicts)
        return plan

    def operations(self) -> list[Op]:
        """The operations the kernel should carry out now (each one becomes pending)."""
        out: list[Op] = []
        for family, fib in self.families.items():
            ops = self._opened.pop(family, [])
            if fib.dirty and fib.gate_open:
                ops += self._plan(fib).ops  # a later op of a prefix supersedes an earlier one
                fib.dirty = set()
            for op in ops:
                fib.pending[op.key] = op
            out += ops
        return out

    def applied(self, op: Op, errno: int = 0) -> None:
        """The kernel's answer to ``op`` (0: done; else its errno, counted per prefix and
        never fatal). A failed operation is tried again at the prefix's next change and by
        ``retry``. A delete that finds no route (ESRCH: the kernel flushed it already) is done."""
        fib = self.families[op.family]
        if fib.pending.get(op.key) is op:
            del fib.pending[op.key]
        fib.adopted.discard(op.key)
        if errno == _errno.ESRCH and op.kind == OpKind.DELETE:
            errno = 0
        if errno:
            count = fib.failures.get(op.key, (0, 0))[1]
            fib.failures[op.key] = (errno, count + 1)
            return
        fib.failures.pop(op.key, None)
        if op.kind == OpKind.DELETE:
            fib.installed.pop(op.key, None)
            fib.deleted += 1
        else:
            fib.installed[op.key] = op.hops
            if op.kind == OpKind.ADD:
                fib.added += 1
            else:
                fib.replaced += 1

    # --- the operator's view -----------------------------------------------------------
    def in_sync(self, family: Family) -> bool:
        """The kernel holds what selection wants for ``family`` (no pending operation, no
        failed one, no difference other than conflicts)."""
        fib = self.families[family]
        if fib.pending or fib.failures or not fib.gate_open:
            return False
        for key, hops in fib.desired.items():
            if fib.installed.get(key) != hops and key not in fib.conflicts:
                return False
        return all(k in fib.desired for k in fib.installed)

    def summary(self) -> list[dict[str, object]]:
        """Per family: the counts ``gracebgp fib`` shows."""
        return [{"family": family_name(f), "gate": "open" if fib.gate_open else "holding",
                 "desired": len(fib.desired), "installed": len(fib.installed), "pending": len(fib.pending),
                 "adopted": len(fib.adopted), "adopted_at_start": fib.adopted_at_start,
                 "conflicts": len(fib.conflicts), "failures": len(fib.failures), "added": fib.added,
                 "replaced": fib.replaced, "deleted": fib.deleted}
                for f, fib in self.families.items()]
