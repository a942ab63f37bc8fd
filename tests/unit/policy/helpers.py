"""Builders for policy tests: real AttrSets and routes."""

from __future__ import annotations

from typing import Any

from gracebgp.policy import Route, RouteType, Source
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import (
    AsPath,
    AttrSet,
    Communities,
    ExtendedCommunities,
    LargeCommunities,
    LocalPref,
    MultiExitDisc,
    NextHop,
    Origin,
)
from gracebgp.wire.communities import parse_community
from gracebgp.wire.nlri import parse_prefix

EBGP = Source("192.0.2.1", 65001, RouteType.EXTERNAL)
IBGP = Source("10.1.0.3", 65000, RouteType.INTERNAL)
LOCAL = Source("", 65000, RouteType.LOCAL)


def attrs(*asns: int, med: int | None = None, lp: int | None = None, comms: tuple[str, ...] = (),
          ext: tuple[int, ...] = (), large: tuple[tuple[int, int, int], ...] = (),
          segments: tuple[Any, ...] | None = None, nh: str = "192.0.2.254") -> AttrSet:
    path = segments if segments is not None else (((2, asns),) if asns else ())
    out: list[Any] = [Origin(0), AsPath(path), NextHop(nh)]
    if med is not None:
        out.append(MultiExitDisc(med))
    if lp is not None:
        out.append(LocalPref(lp))
    if comms:
        out.append(Communities(tuple(parse_community(c) for c in comms)))
    if ext:
        out.append(ExtendedCommunities(ext))
    if large:
        out.append(LargeCommunities(large))
    return AttrSet(out)


def route(prefix: str, source: Source = EBGP, nh: str = "192.0.2.254") -> Route:
    afi, key = parse_prefix(prefix)
    return Route(IPV4_UNICAST if afi == 1 else IPV6_UNICAST, key, nh, source)
