"""Statement conditions, with GoBGP's match-set-options.

Each condition says whether it needs the route (``per_route``: the prefix, family or next
hop) or only the attributes and the source (everything else): the attribute-only ones
can be evaluated once per (AttrSet, Source) and cached (package docstring).

match-set-options, as GoBGP allows them: prefix-set and neighbor-set take ``any`` or
``invert``; community, ext-community, large-community and as-path sets take ``any``,
``all`` or ``invert``. ``any``: some entry matches some value; ``all``: every entry
matches some value; ``invert``: no entry matches any value. A route without the
attribute has no values: ``any`` and ``all`` fail, ``invert`` holds.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Protocol

from gracebgp.policy.prefixes import AddressSet, PrefixSet
from gracebgp.policy.route import Route, RouteType, Source
from gracebgp.policy.textsets import (
    ExtCommunitySet,
    TextSet,
    as_path_text,
    community_text,
    large_community_text,
)
from gracebgp.types import Family
from gracebgp.wire.attributes import path_length
from gracebgp.wire.attrset import AttrSet
from gracebgp.wire.iana import AttrType

_COMMUNITIES = int(AttrType.COMMUNITIES)


class MatchOption(IntEnum):
    ANY = 0
    ALL = 1
    INVERT = 2


class Comparison(IntEnum):
    """GoBGP's as-path-length / community-count operators."""

    EQ = 0
    GE = 1
    LE = 2

    def holds(self, actual: int, value: int) -> bool:
        if self is Comparison.EQ:
            return actual == value
        if self is Comparison.GE:
            return actual >= value
        return actual <= value


class Condition(Protocol):
    per_route: ClassVar[bool]

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        """Whether the condition holds; ``route`` is None only for attribute-only ones."""
        ...

    def describe(self) -> str: ...


_RESTRICTED = (MatchOption.ANY, MatchOption.INVERT)


def _restricted(option: MatchOption, what: str) -> None:
    if option not in _RESTRICTED:
        raise ValueError(f"match-{what}-set: match-set-options {option.name.lower()} is not "
                         "allowed (only any or invert)")


def match_texts(patterns: tuple[re.Pattern[str], ...], texts: Iterable[str],
                option: MatchOption) -> bool:
    """The any/all/invert rule over regular expressions and value texts."""
    return match_values(tuple(p.search for p in patterns), tuple(texts), option)


def match_values(tests: Sequence[Callable[[Any], object]], values: Sequence[Any],
                 option: MatchOption) -> bool:
    """The any/all/invert rule: ``tests`` are the set's entries, ``values`` the route's."""
    hit = [any(t(v) for v in values) for t in tests]
    if option is MatchOption.ALL:
        return bool(hit) and all(hit)
    found = any(hit)
    return not found if option is MatchOption.INVERT else found


@dataclass(frozen=True, slots=True)
class MatchPrefixSet:
    per_route: ClassVar[bool] = True
    prefix_set: PrefixSet
    option: MatchOption = MatchOption.ANY

    def __post_init__(self) -> None:
        _restricted(self.option, "prefix")

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        assert route is not None
        parts = route.prefix()
        found = parts is not None and self.prefix_set.matches(route.family.afi, *parts)
        return not found if self.option is MatchOption.INVERT else found

    def describe(self) -> str:
        return f"match-prefix-set {self.prefix_set.name} {self.option.name.lower()}"


@dataclass(frozen=True, slots=True)
class MatchNeighborSet:
    per_route: ClassVar[bool] = False
    neighbor_set: AddressSet
    option: MatchOption = MatchOption.ANY

    def __post_init__(self) -> None:
        _restricted(self.option, "neighbor")

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        found = self.neighbor_set.contains(source.peer)
        return not found if self.option is MatchOption.INVERT else found

    def describe(self) -> str:
        return f"match-neighbor-set {self.neighbor_set.name} {self.option.name.lower()}"


@dataclass(frozen=True, slots=True)
class _TextSetMatch(ABC):
    """A regular-expression set against the texts of the route's values (any|all|invert).

    Which of the set's expressions match one value is kept per value on the set
    (``TextSet.hits``): a full table repeats a few thousand communities and AS paths over
    a hundred thousand attribute sets, so each value is turned into text and searched
    once (issue 16 item 6)."""

    per_route: ClassVar[bool] = False
    label: ClassVar[str] = ""
    defined_set: TextSet
    option: MatchOption = MatchOption.ANY

    @abstractmethod
    def values(self, attrs: AttrSet) -> Sequence[Any]:
        """The route's values of this set's kind (hashable)."""

    @abstractmethod
    def text(self, value: Any) -> str:
        """One value as the set's expressions read it."""

    def texts(self, attrs: AttrSet) -> Iterable[str]:
        return [self.text(v) for v in self.values(attrs)]

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        option = self.option
        if option is MatchOption.ALL:
            found = self.defined_set.hits_of(self.values(attrs), self.text)
            return bool(found) and all(found)
        hit = self.defined_set.any_of(self.values(attrs), self.text)
        return not hit if option is MatchOption.INVERT else hit

    def describe(self) -> str:
        return f"match-{self.label}-set {self.defined_set.name} {self.option.name.lower()}"


@dataclass(frozen=True, slots=True)
class MatchCommunitySet(_TextSetMatch):
    """RFC 1997 COMMUNITIES against a community-set."""

    label: ClassVar[str] = "community"

    def values(self, attrs: AttrSet) -> Sequence[Any]:
        return attrs.communities

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        option = self.option
        if option is MatchOption.ALL:
            return _TextSetMatch.test(self, attrs, source, route)
        values: Sequence[int] = ()
        for a in attrs.attrs:  # (``attrs.communities`` inlined: one test per attribute set)
            if a.code == _COMMUNITIES:
                values = a.values
                break
        hit = self.defined_set.any_of(values, community_text)
        return not hit if option is MatchOption.INVERT else hit

    def text(self, value: Any) -> str:
        return community_text(value)


@dataclass(frozen=True, slots=True)
class MatchLargeCommunitySet(_TextSetMatch):
    """RFC 8092 LARGE_COMMUNITY against a large-community-set."""

    label: ClassVar[str] = "large-community"

    def values(self, attrs: AttrSet) -> Sequence[Any]:
        return attrs.large_communities

    def text(self, value: Any) -> str:
        return large_community_text(value)


@dataclass(frozen=True, slots=True)
class MatchAsPathSet(_TextSetMatch):
    """The effective AS path (RFC 6793 merge applied) against an as-path-set."""

    label: ClassVar[str] = "as-path"

    def values(self, attrs: AttrSet) -> Sequence[Any]:
        return (attrs.as_path,)

    def text(self, value: Any) -> str:
        return as_path_text(value)


@dataclass(frozen=True, slots=True)
class MatchExtCommunitySet:
    """RFC 4360 EXTENDED_COMMUNITIES against an ext-community-set."""

    per_route: ClassVar[bool] = False
    defined_set: ExtCommunitySet
    option: MatchOption = MatchOption.ANY

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        tests = tuple(p.matches for p in self.defined_set.patterns)
        return match_values(tests, attrs.extended_communities, self.option)

    def describe(self) -> str:
        return f"match-ext-community-set {self.defined_set.name} {self.option.name.lower()}"


@dataclass(frozen=True, slots=True)
class _Count(ABC):
    """A number taken from the attributes, compared with eq/ge/le."""

    per_route: ClassVar[bool] = False
    label: ClassVar[str] = ""
    operator: Comparison
    value: int

    @abstractmethod
    def count(self, attrs: AttrSet) -> int:
        """The number compared: what the subclass counts in the attributes."""

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        return self.operator.holds(self.count(attrs), self.value)

    def describe(self) -> str:
        return f"{self.label} {self.operator.name.lower()} {self.value}"


@dataclass(frozen=True, slots=True)
class AsPathLength(_Count):
    """RFC 4271 §9.1.2.2 a: an AS_SET counts 1; confederation segments count 0."""

    label: ClassVar[str] = "as-path-length"

    def count(self, attrs: AttrSet) -> int:
        return path_length(attrs.as_path)


@dataclass(frozen=True, slots=True)
class CommunityCount(_Count):
    """The number of RFC 1997 communities the route carries."""

    label: ClassVar[str] = "community-count"

    def count(self, attrs: AttrSet) -> int:
        return len(attrs.communities)


@dataclass(frozen=True, slots=True)
class RouteTypeIs:
    per_route: ClassVar[bool] = False
    route_type: RouteType

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        return source.route_type is self.route_type

    def describe(self) -> str:
        return f"route-type {self.route_type.name.lower()}"


@dataclass(frozen=True, slots=True)
class AfiSafiIn:
    per_route: ClassVar[bool] = True
    families: frozenset[Family]

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        assert route is not None
        return route.family in self.families

    def describe(self) -> str:
        return "afi-safi-in " + ",".join(sorted(str(f) for f in self.families))


@dataclass(frozen=True, slots=True)
class NextHopInList:
    """The route's next hop is one of the addresses or inside one of the prefixes."""

    per_route: ClassVar[bool] = True
    next_hops: AddressSet

    def test(self, attrs: AttrSet, source: Source, route: Route | None) -> bool:
        assert route is not None
        return self.next_hops.contains(route.next_hop)

    def describe(self) -> str:
        return "next-hop-in-list " + ",".join(self.next_hops.items)


#: The conditions a route's source and family answer alone (match-neighbor-set,
#: route-type, afi-safi-in): known before any route is seen.
STATIC_CONDITIONS = (MatchNeighborSet, RouteTypeIs, AfiSafiIn)


def open_conditions(conditions: Iterable[Condition], source: Source,
                     family: Family) -> tuple[Condition, ...] | None:
    """``conditions`` (one statement's) for the routes of ``family`` seen as ``source``:
    the static ones answered, the others returned, in order, for a test per route; None
    when a static one fails, so the statement matches no such route."""
    probe, nothing = Route(family, 0, "", source), AttrSet(())
    rest: list[Condition] = []
    for c in conditions:
        if isinstance(c, STATIC_CONDITIONS):
            if not c.test(nothing, source, probe):
                return None
        else:
            rest.append(c)
    return tuple(rest)
