"""An assignment prepared once for one source and family: what a filter runs per
(attribute set, prefix-set answers) instead of ``evaluate`` (issue 16 item 6).

``evaluate`` is the reference (and the only one that traces, for ``--explain``); this
gives the same decision with less work per call:

1. Conditions on the source and family (match-neighbor-set, route-type, afi-safi-in) are
   answered here: a statement one of them fails is dropped, the ones that hold are gone.
2. A prefix-set condition reads the caller's answer for the route's prefix (its
   ``signature``: one flag per prefix set, found once per class of prefixes), not the set.
3. The rest (attribute conditions; next-hop-in-list, which sees a next hop changed by an
   earlier ``set-next-hop``) are tested as ``evaluate`` tests them, in its order.

The statements that match are returned rather than counted, so a caller that keeps the
result for a group of routes counts them once per route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from gracebgp.policy.actions import Action, Draft, NextHopChoice, NextHopKind
from gracebgp.policy.conditions import Condition, MatchOption, MatchPrefixSet, open_conditions
from gracebgp.policy.definitions import Assignment, Disposition, Statement
from gracebgp.policy.prefixes import PrefixSet
from gracebgp.policy.route import Route, Source
from gracebgp.types import Family
from gracebgp.wire.attrset import AttrSet

_NONE = Disposition.NONE
_ACCEPT = Disposition.ACCEPT


@dataclass(frozen=True, slots=True)
class _Step:
    """One statement as prepared: ``prefixes`` (signature index, whether the answer must
    be "held" for the condition to hold), ``attr_tests`` and ``route_tests`` (conditions
    tested on the route's current attributes / with the route), its actions and
    disposition."""

    statement: Statement
    prefixes: tuple[tuple[int, bool], ...]
    attr_tests: tuple[Condition, ...]
    route_tests: tuple[Condition, ...]
    actions: tuple[Action, ...]
    disposition: Disposition


class Outcome(NamedTuple):
    """A decision without a trace: ``accepted``; ``attrs`` (the same set when nothing
    changed or rejected, else the one interned derived set); the set-next-hop choice;
    the statements that matched, in order. (A tuple: made once per attribute set.)"""

    accepted: bool
    attrs: AttrSet
    next_hop: NextHopChoice | None
    matched: tuple[Statement, ...]


class Compiled:
    """``assignment`` for routes of ``family`` seen as ``source``; ``prefix_sets``: the
    order of the flags in the signatures ``run`` is given (every prefix set the
    assignment tests must be among them)."""

    __slots__ = ("default", "family", "source", "steps")

    def __init__(self, assignment: Assignment, source: Source, family: Family,
                 prefix_sets: tuple[PrefixSet, ...]) -> None:
        self.source = source
        self.family = family
        self.default = assignment.default
        index = {id(s): i for i, s in enumerate(prefix_sets)}
        steps: list[_Step] = []
        for policy in assignment.policies:
            for statement in policy.statements:
                rest = open_conditions(statement.conditions, source, family)  # rule 1
                if rest is None:
                    continue
                prefixes: list[tuple[int, bool]] = []
                attr_tests: list[Condition] = []
                route_tests: list[Condition] = []
                for c in rest:
                    if isinstance(c, MatchPrefixSet):  # rule 2
                        prefixes.append((index[id(c.prefix_set)], c.option is not MatchOption.INVERT))
                    elif c.per_route:
                        route_tests.append(c)
                    else:
                        attr_tests.append(c)
                steps.append(_Step(statement, tuple(prefixes), tuple(attr_tests), tuple(route_tests),
                                   statement.actions, statement.disposition))
        self.steps = tuple(steps)

    def run(self, attrs: AttrSet, signature: tuple[bool, ...], key: int, next_hop: str) -> Outcome:
        """The decision for the routes with attributes ``attrs``, prefix-set answers
        ``signature``, one of whose prefix keys is ``key`` (for next-hop-in-list's Route),
        and next hop ``next_hop``."""
        source = self.source
        draft: Draft | None = None
        current: AttrSet | None = attrs  # None: the draft changed since it was last viewed
        matched: list[Statement] = []
        decided = _NONE
        for step in self.steps:
            hold = True
            for i, want in step.prefixes:
                if signature[i] != want:
                    hold = False
                    break
            if not hold:
                continue
            if step.attr_tests or step.route_tests:
                if current is None:
                    assert draft is not None
                    current = draft.view()
                for c in step.attr_tests:
                    if not c.test(current, source, None):
                        hold = False
                        break
                if hold and step.route_tests:
                    route = Route(self.family, key, next_hop, source)
                    for c in step.route_tests:
                        if not c.test(current, source, route):
                            hold = False
                            break
                if not hold:
                    continue
            matched.append(step.statement)
            if step.actions:
                if draft is None:
                    draft = Draft(attrs)
                for action in step.actions:
                    action.apply(draft)
                current = None
                nh = draft.next_hop
                if nh is not None and nh.kind is NextHopKind.ADDRESS:
                    next_hop = nh.address
            decided = step.disposition
            if decided is not _NONE:
                break
        if decided is _NONE:
            decided = self.default
        accepted = decided is _ACCEPT
        final = attrs if draft is None or not accepted else draft.result()
        choice = None if draft is None else draft.next_hop
        # (tuple.__new__: a NamedTuple's own constructor is a Python function)
        return tuple.__new__(Outcome, (accepted, final, choice, tuple(matched)))
