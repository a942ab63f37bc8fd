"""Next hops that can be reached: the kernel's routes, as the runtime's FIB reports them,
decide which routes are candidates in selection (issue 17, item 2).

RFC 4271 §9.1.2.1: "If the NEXT_HOP attribute of a BGP route depicts an address that is
not resolvable ... the BGP route MUST be excluded from the Phase 2 decision function."
The kernel's routes arrive as facts (``KernelRoutes``: a full table at start-up, then the
monitor's changes; sans-IO, through the owner's queue as a command without a reply); each
family's ``fib.resolve.Resolver`` becomes its Loc-RIB's ``reach``, so a route whose next
hop does not resolve is parked there, and a change of reachability moves the routes
through the next hops concerned in or out of selection. Their prefixes go to the next
flush like any other change: withdrawn from (or advertised again to) the other peers and
taken out of (or put back into) the kernel FIB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gracebgp.fib.model import Entry
from gracebgp.fib.resolve import Resolver
from gracebgp.rib.loc_rib import LocRib
from gracebgp.types import Family

_WIDTH = {1: 32, 2: 128}


@dataclass(frozen=True, slots=True)
class KernelRoutes:
    """Routes of other protocols in the kernel for ``family``: (network, length, hops)
    added, (network, length) removed; ``full``: a whole table that replaces what was known
    (the start-up dump, or a dump after a link or address change)."""

    family: Family
    added: tuple[tuple[int, int, Entry], ...] = ()
    removed: tuple[tuple[int, int], ...] = ()
    full: bool = False
    via_default: bool = False


class TrackHost(Protocol):
    """What the tracking needs of the speaker: the Loc-RIBs and their changed prefixes."""

    @property
    def loc(self) -> dict[Family, LocRib]: ...

    @property
    def changed(self) -> dict[Family, set[int]]: ...


def apply(host: TrackHost, cmd: KernelRoutes) -> int:
    """Take ``cmd`` into the family's resolver; returns how many prefixes changed."""
    loc = host.loc.get(cmd.family)
    width = _WIDTH.get(cmd.family.afi)
    if loc is None or width is None:
        return 0
    old = loc.reach
    resolver = old if isinstance(old, Resolver) and not cmd.full else Resolver(width, cmd.via_default)
    if isinstance(old, Resolver) and resolver is not old:
        resolver.adopt_answers(old)
    for network, length in cmd.removed:
        resolver.remove(network, length)
    for network, length, hops in cmd.added:
        resolver.add(network, length, hops)
    loc.reach = resolver
    if old is None:  # the first table: every route in the Loc-RIB is checked once
        addresses = {c[1].next_hop[0] for _, e in loc.entries.items()
                     for c in ([e] if isinstance(e, tuple) else e) if c[1].next_hop}
        moved = {a for a in addresses if not resolver.resolves(a)}
    else:
        moved = resolver.refresh()
    keys = loc.reresolve(moved)
    host.changed[cmd.family].update(keys)
    return len(keys)
