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


def resolved(addresses: tuple[str, ...], resolver: Resolver) -> Entry | None:
    """The entry of the BGP next hops ``addresses``: each resolved (``fib.resolve``), those
    that do not resolve left out; None when none does."""
    if len(addresses) == 1:  # the common case: the resolver's answer is the entry
        return resolver.resolve(addresses[0])
    hops: list[Hop] = []
    for address in addresses:
        answer = resolver.resolve(address)
        if answer is not None:
            hops.extend(answer)
    return entry(hops) if hops else None


def entry_for(loc: LocRib, key: int, resolver: Resolver) -> Entry | None:
    """What the kernel should hold for ``key``; None: no route (none, or none resolves)."""
    return resolved(tuple(next_hops(loc, key)), resolver)
