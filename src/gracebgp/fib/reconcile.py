"""Reconcile: (desired, installed) -> the operations that make the kernel's table equal to
selection, touching nothing that is already right and nothing that is not ours.

Spec section 7 and section 4 ("run selection, update the FIB"), RFC 4724 §4.1 (the
restarting speaker defers route selection, and so the FIB update, until the End-of-RIBs
are in or the deferral timer fires). Per prefix of one family:

    desired   installed(ours)  another protocol's   ->  outcome
    -------   ---------------  ------------------       --------------------------------
    E         E                any                      unchanged: no operation
    E         F != E           any                      REPLACE in place (NLM_F_REPLACE,
                                                        never delete + add: no gap)
    E         none             none                     ADD
    E         none             yes                      conflict: reported, not installed
    none      F                any                      DELETE
    none      none             any                      nothing

While the family's gate is closed every prefix is *held*: adopted routes of the previous
run stay as they are (they are what F=1 promised, RFC 4724 §3) and nothing is added,
since selection has not run yet. The sweep (``table.FibTable``) opens the gate for the FIB
when selection never completes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gracebgp.fib.model import Entry, Op, OpKind
from gracebgp.types import Family


@dataclass(slots=True)
class Plan:
    """What one reconcile step found: the operations, the prefixes held by another
    protocol (conflicts, with its protocol number), and counts for the timeline."""

    ops: list[Op] = field(default_factory=list)
    conflicts: dict[int, int] = field(default_factory=dict)
    unchanged: int = 0

    def count(self, kind: OpKind) -> int:
        return sum(1 for op in self.ops if op.kind == kind)


def reconcile(family: Family, keys: Iterable[int], desired: Mapping[int, Entry],
              installed: Mapping[int, Entry], foreign: Mapping[int, int], gate_open: bool) -> Plan:
    """The plan for ``keys`` of ``family`` (every key whose desired or installed entry may
    differ; all of them for a full reconcile). ``foreign``: prefix -> protocol number of
    another protocol's route of the same prefix, table and metric."""
    plan = Plan()
    if not gate_open:
        return plan
    ops, conflicts = plan.ops, plan.conflicts
    for key in keys:
        want = desired.get(key)
        have = installed.get(key)
        if want is None:
            if have is not None:
                ops.append(Op(OpKind.DELETE, family, key))
        elif have is None:
            other = foreign.get(key)
            if other is not None:
                conflicts[key] = other
            else:
                ops.append(Op(OpKind.ADD, family, key, want))
        elif have == want:
            plan.unchanged += 1
        else:
            ops.append(Op(OpKind.REPLACE, family, key, want))
    return plan
