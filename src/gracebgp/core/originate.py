"""Locally originated routes (config ``[[gracebgp.routes]]`` and, later, the API) as RIB
paths: ORIGIN, an empty AS_PATH, optional next hop, MED, LOCAL_PREF and communities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gracebgp.rib.path import Path, PathTable
from gracebgp.types import AFI, SAFI, Family
from gracebgp.wire import (
    AsPath,
    AttrSet,
    Communities,
    LargeCommunities,
    LocalPref,
    MultiExitDisc,
    NextHop,
    Origin,
)
from gracebgp.wire.communities import parse_community, parse_large_community
from gracebgp.wire.iana import Origin as OriginCode
from gracebgp.wire.nlri import parse_prefix

_ORIGINS = {"igp": OriginCode.IGP, "egp": OriginCode.EGP, "incomplete": OriginCode.INCOMPLETE}


@dataclass(frozen=True, slots=True)
class LocalRoute:
    """A route this speaker originates, as the operator wrote it."""

    prefix: str
    next_hop: str | None = None
    origin: str = "igp"
    communities: tuple[str, ...] = ()
    large_communities: tuple[str, ...] = ()
    med: int | None = None
    local_pref: int | None = None

    @classmethod
    def from_config(cls, route: Any) -> LocalRoute:
        """From a ``gracebgp.config`` Route (duck-typed: this layer does not import config)."""
        return cls(route.prefix, route.next_hop, route.origin,
                   tuple(str(c) for c in route.communities),
                   tuple(str(c) for c in route.large_communities), route.med, route.local_pref)


def to_path(route: LocalRoute, table: PathTable) -> tuple[Family, int, Path]:
    """(family, prefix key, path); ValueError on bad input, with the reason."""
    afi, key = parse_prefix(route.prefix)
    family = Family(afi, SAFI.UNICAST)
    if route.origin not in _ORIGINS:
        raise ValueError(f"origin must be igp, egp or incomplete, not {route.origin!r}")
    attrs: list[Any] = [Origin(_ORIGINS[route.origin]), AsPath(())]
    next_hop: tuple[str, ...] = ()
    if route.next_hop:
        nh_v6 = ":" in route.next_hop
        if afi == AFI.IPV4 and not nh_v6:
            attrs.append(NextHop(route.next_hop))
        elif afi == AFI.IPV4:
            raise ValueError("an IPv4 route needs an IPv4 next hop")
        elif not nh_v6:
            raise ValueError("an IPv6 route needs an IPv6 next hop")
        next_hop = (route.next_hop,)
    if route.med is not None:
        attrs.append(MultiExitDisc(route.med))
    if route.local_pref is not None:
        attrs.append(LocalPref(route.local_pref))
    if route.communities:
        attrs.append(Communities(tuple(parse_community(c) for c in route.communities)))
    if route.large_communities:
        attrs.append(LargeCommunities(tuple(parse_large_community(c) for c in route.large_communities)))
    return family, key, table.derived(AttrSet(attrs), next_hop)


def to_paths(routes: Sequence[LocalRoute], table: PathTable, max_problems: int = 20,
             first: int = 0) -> tuple[list[tuple[Family, int, Path]], list[str]]:
    """Many routes at once: (family, key, path) for each, and the problems (at most
    ``max_problems``, "paths[i] prefix: why", i counted from ``first``: a slice of a
    larger request). Bulk adds mostly repeat one set of attributes, so each set's Path
    is built once."""
    paths: list[tuple[Family, int, Path]] = []
    problems: list[str] = []
    shapes: dict[tuple[object, ...], tuple[Family, Path]] = {}
    for i, route in enumerate(routes, first):
        try:
            shape = (":" in route.prefix, route.next_hop, route.origin, route.communities,
                     route.large_communities, route.med, route.local_pref)
            hit = shapes.get(shape)
            if hit is None:
                family, key, path = to_path(route, table)
                shapes[shape] = (family, path)
            else:
                family, path = hit
                afi, key = parse_prefix(route.prefix)
                if afi != family.afi:
                    raise ValueError(f"{route.prefix} is not in {family}")
            paths.append((family, key, path))
        except ValueError as exc:
            problems.append(f"paths[{i}] {route.prefix}: {exc}")
            if len(problems) >= max_problems:
                break
    return paths, problems
