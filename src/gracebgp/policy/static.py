"""An assignment folded for one source and family, before any route is seen.

Issue 16 item 6: most export policies (kube-router's next-hop-self and prepend, Cilium's
and MetalLB's communities per peer) test nothing of the route itself: their statements
have no conditions, or only conditions on who the route is for and how it was learned
(match-neighbor-set, route-type, afi-safi-in). For one source and family such an
assignment does the same to every route: the statements that match, their actions in
order and the disposition are known once (``fold``), and a caller may apply them inside
its own attribute rewrite instead of evaluating the policy per attribute set.

``fold`` follows ``evaluate``'s rules exactly (statements in order, a statement without a
disposition falls through, the assignment's default when none decides); it gives up
(None) as soon as a statement it reaches has a condition that reads the route's
attributes, prefix or next hop, where ``evaluate`` must run per route.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gracebgp.policy.actions import COMMUNITY, Action, Draft, NextHopChoice, SetCommunities, SetOp
from gracebgp.policy.conditions import open_conditions
from gracebgp.policy.definitions import Assignment, Disposition, Statement
from gracebgp.policy.route import Source
from gracebgp.types import Family
from gracebgp.wire.attrset import AttrSet


@dataclass(frozen=True, slots=True)
class Folded:
    """What the assignment does to every route of one source and family: ``accepted``,
    the ``actions`` of the matching statements in order, and those statements
    (``matched``, whose counters count the routes)."""

    accepted: bool
    actions: tuple[Action, ...]
    matched: tuple[Statement, ...]
    #: When every action adds RFC 1997 communities (the most common export policy): the
    #: values they add, in order, each once; else None. Adding them one by one, each
    #: when the route lacks it, is what the actions do in turn.
    community_adds: tuple[int, ...] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        adds = None
        if all(isinstance(a, SetCommunities) and a.kind is COMMUNITY and a.op is SetOp.ADD
               for a in self.actions):
            adds = tuple(dict.fromkeys(v for a in self.actions for v in a.values))  # type: ignore[attr-defined]
        object.__setattr__(self, "community_adds", adds)

    def apply(self, attrs: AttrSet) -> tuple[AttrSet, NextHopChoice | None]:
        """The actions run over ``attrs``: the changed set (not interned: the caller
        makes it final) or ``attrs`` itself, and the set-next-hop choice (or None)."""
        if not self.actions:
            return attrs, None
        draft = Draft(attrs)
        for action in self.actions:
            action.apply(draft)
        return draft.view(), draft.next_hop


def fold(assignment: Assignment, source: Source, family: Family) -> Folded | None:
    """``assignment`` folded for routes of ``family`` seen as ``source`` (module
    docstring); None when some statement it reaches reads the route."""
    matched: list[Statement] = []
    actions: list[Action] = []
    for policy in assignment.policies:
        for statement in policy.statements:
            rest = open_conditions(statement.conditions, source, family)
            if rest is None:
                continue  # one condition fails for every route: the statement never matches
            if rest:
                return None
            matched.append(statement)
            actions += statement.actions
            if statement.disposition is not Disposition.NONE:
                return Folded(statement.disposition is Disposition.ACCEPT, tuple(actions), tuple(matched))
    return Folded(assignment.default is Disposition.ACCEPT, tuple(actions), tuple(matched))
