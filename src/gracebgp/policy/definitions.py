"""Statements, policy definitions and policy assignments (GoBGP's model).

A statement is conditions (all must hold; none: it matches every route), actions and a
route disposition. A policy definition is an ordered list of statements; an assignment
(one direction of one peer, or global) is an ordered list of policies and a default
disposition for routes no statement decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from gracebgp.policy.actions import Action
from gracebgp.policy.conditions import Condition


class Disposition(IntEnum):
    """GoBGP's route-disposition: NONE ("none") leaves the decision to the next
    statement, then the next policy, then the assignment's default."""

    NONE = 0
    ACCEPT = 1
    REJECT = 2


class Direction(IntEnum):
    IMPORT = 0
    EXPORT = 1


class MatchCounter:
    """How many routes a statement matched (read by ``gracebgp policies``); mutable,
    owned by the statement, reset only by building the statement again."""

    __slots__ = ("matches",)

    def __init__(self) -> None:
        self.matches = 0

    def __repr__(self) -> str:
        return f"MatchCounter({self.matches})"


@dataclass(frozen=True, slots=True)
class Statement:
    name: str
    conditions: tuple[Condition, ...] = ()
    actions: tuple[Action, ...] = ()
    disposition: Disposition = Disposition.NONE
    counter: MatchCounter = field(default_factory=MatchCounter, compare=False, repr=False)
    #: The conditions that need only the attributes and the source, then those that need
    #: the route (prefix, family, next hop): split once here.
    attr_conditions: tuple[Condition, ...] = field(init=False, compare=False, repr=False)
    route_conditions: tuple[Condition, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attr_conditions",
                           tuple(c for c in self.conditions if not c.per_route))
        object.__setattr__(self, "route_conditions",
                           tuple(c for c in self.conditions if c.per_route))


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]

    def __post_init__(self) -> None:
        names = [s.name for s in self.statements]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"policy {self.name}: statement names used twice: {', '.join(dupes)}")


@dataclass(frozen=True, slots=True)
class Assignment:
    """The policies of one direction, in order, and the default disposition (GoBGP's
    default-import-policy / default-export-policy: accept-route unless configured)."""

    policies: tuple[Policy, ...] = ()
    default: Disposition = Disposition.ACCEPT

    def __post_init__(self) -> None:
        if self.default is Disposition.NONE:
            raise ValueError("an assignment's default must be accept or reject")


def default_disposition(external: bool, has_policies: bool, rfc8212: bool) -> Disposition:
    """GoBGP's default is accept. With ``rfc8212`` (a gracebgp switch), RFC 8212 §3: an
    eBGP session with no policy configured in a direction accepts or sends nothing."""
    if rfc8212 and external and not has_policies:
        return Disposition.REJECT
    return Disposition.ACCEPT
