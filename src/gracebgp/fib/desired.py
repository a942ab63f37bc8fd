"""The desired FIB entry of one prefix: the Loc-RIB's best path, or its equal-cost set
when ``use-multiple-paths`` is on for the family (``rib.decision.multipath_set``), with
each next hop resolved through the kernel's routes (``fib.resolve``).

RFC 4271 §9.1.2.1: a route whose NEXT_HOP does not resolve is not used; RFC 4271 §9.1.4
leaves the installation of several equal paths to the implementation (ECMP here).
Locally originated routes (``[[defined-routes]]``-style config, the API) are not
installed: they describe what this speaker announces, not where it forwards. With an
MP_REACH next hop of two addresses (global and link-local, RFC 2545 §3) the global one is
installed.
"""

from __future__ import annotations

from collections.abc import Iterator

from gracebgp.fib.model import Entry, Hop, entry
from gracebgp.fib.resolve import Resolver
from gracebgp.rib.loc_rib import LocRib


def next_hops(loc: LocRib, key: int) -> Iterator[str]:
    """The BGP next hops that carry traffic for ``key`` (its multipath set), ours excluded."""
    for source, path, _ in loc.multipath_set(key):
        if source.local or not path.next_hop:
            continue
        yield path.next_hop[0]


def entry_for(loc: LocRib, key: int, resolver: Resolver) -> Entry | None:
    """What the kernel should hold for ``key``; None: no route (none, or none resolves)."""
    hops: list[Hop] = []
    for address in next_hops(loc, key):
        resolved = resolver.resolve(address)
        if resolved is not None:
            hops.extend(resolved)
    return entry(hops) if hops else None
