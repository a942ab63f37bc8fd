"""Running an assignment over one route: ``attr_verdict`` (cacheable) and ``evaluate``.

GoBGP's order: policies in order, statements in order. A statement matches when all its
conditions hold; its actions then apply (also when it rejects). If it has a disposition
(accept or reject) that decides the route and evaluation stops; if not, evaluation goes
on with the next statement, then the next policy, seeing the attributes as changed so far.
When no statement decides, the assignment's default does, and the changes made by the
matching statements stay.
"""

from __future__ import annotations

from dataclasses import dataclass

from gracebgp.policy.actions import Draft, NextHopChoice, NextHopKind
from gracebgp.policy.definitions import Assignment, Disposition, Statement
from gracebgp.policy.route import Route, Source
from gracebgp.wire.attrset import AttrSet

#: Per policy, per statement: whether the attribute-only conditions hold.
AttrVerdict = tuple[tuple[bool, ...], ...]

#: (original attributes, the (policy, statement) indexes whose actions applied, in order)
#: -> the resulting attribute set. Actions are functions of the attributes alone, so one
#: assignment turns the same set through the same statements into the same result: a
#: caller may keep this dict per assignment (dropped with it) and skip re-encoding and
#: re-interning the result for every prefix sharing the attributes.
ResultMemo = dict[tuple[AttrSet, tuple[tuple[int, int], ...]], AttrSet]


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One statement evaluated: whether it matched, the actions applied (their
    descriptions) and its disposition when it decided the route."""

    policy: str
    statement: str
    matched: bool
    actions: tuple[str, ...] = ()
    decided: Disposition = Disposition.NONE


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one route.

    ``attrs`` is the route's AttrSet (the same object when no action changed it, else one
    interned derived set; the original when rejected); ``next_hop`` the set-next-hop
    choice of the statements that matched, or None; ``by_default`` whether the
    assignment's default decided; ``trace`` the statements evaluated, only when asked for (None otherwise).
    """

    accepted: bool
    attrs: AttrSet
    next_hop: NextHopChoice | None = None
    by_default: bool = False
    trace: tuple[TraceStep, ...] | None = None


def _attrs_hold(statement: Statement, attrs: AttrSet, source: Source) -> bool:
    return all(c.test(attrs, source, None) for c in statement.attr_conditions)


def attr_verdict(assignment: Assignment, attrs: AttrSet, source: Source) -> AttrVerdict:
    """The attribute-only conditions of every statement, for one attribute set and source.
    Depends on nothing else, so a caller may keep it per (attrs, source, assignment)."""
    return tuple(tuple(_attrs_hold(s, attrs, source) for s in policy.statements)
                 for policy in assignment.policies)


def _route_holds(statement: Statement, attrs: AttrSet, route: Route) -> bool:
    return all(c.test(attrs, route.source, route) for c in statement.route_conditions)


def evaluate(assignment: Assignment, route: Route, attrs: AttrSet,
             verdict: AttrVerdict | None = None, explain: bool = False,
             results: ResultMemo | None = None, count: bool = True,
             matched: list[Statement] | None = None) -> Decision:
    """Run ``assignment`` over ``route`` with attributes ``attrs``.

    ``verdict``: ``attr_verdict(assignment, attrs, route.source)``, from the caller's
    cache; it is used until a statement's actions change the attributes (later statements
    then test the changed ones). ``results``: the caller's memo of changed attribute sets
    for this assignment (see ``ResultMemo``). ``explain``: also return the trace.
    ``count``: add to the matching statements' counters (not for an operator's question).
    ``matched``: the statements that matched are appended to it (a caller that keeps the
    result counts them itself, without the cost of a trace).
    """
    source = route.source
    draft: Draft | None = None
    current: AttrSet | None = attrs  # None: the draft changed since it was last viewed
    applied: list[tuple[int, int]] = []
    trace: list[TraceStep] | None = [] if explain else None
    decided = Disposition.NONE
    for pi, policy in enumerate(assignment.policies):
        for si, statement in enumerate(policy.statements):
            hold = True
            if statement.conditions:  # (a statement without conditions matches every route)
                if current is None:
                    assert draft is not None
                    current = draft.view()
                if verdict is not None and current is attrs:
                    hold = verdict[pi][si]
                else:
                    for condition in statement.attr_conditions:
                        if not condition.test(current, source, None):
                            hold = False
                            break
                if hold and statement.route_conditions:
                    hold = _route_holds(statement, current, route)
            if not hold:
                if trace is not None:
                    trace.append(TraceStep(policy.name, statement.name, False))
                continue
            if count:
                statement.counter.matches += 1
            if matched is not None:
                matched.append(statement)
            if statement.actions:
                if draft is None:
                    draft = Draft(attrs)
                for action in statement.actions:
                    action.apply(draft)
                applied.append((pi, si))
                current = None
                nh = draft.next_hop
                if nh is not None and nh.kind is NextHopKind.ADDRESS and nh.address != route.next_hop:
                    route = Route(route.family, route.key, nh.address, source)
            decided = statement.disposition
            if trace is not None:
                trace.append(TraceStep(policy.name, statement.name, True,
                                       tuple(a.describe() for a in statement.actions), decided))
            if decided is not Disposition.NONE:
                break
        if decided is not Disposition.NONE:
            break
    by_default = decided is Disposition.NONE
    if by_default:
        decided = assignment.default
    accepted = decided is Disposition.ACCEPT
    final = attrs  # unchanged, or rejected: no derived set is made for a reject
    if draft is not None and accepted:
        if results is None:
            final = draft.result()
        else:
            key = (attrs, tuple(applied))
            known = results.get(key)
            if known is None:
                known = results[key] = draft.result()
            final = known
    return Decision(accepted, final,
                    None if draft is None else draft.next_hop, by_default,
                    None if trace is None else tuple(trace))
