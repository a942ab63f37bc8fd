"""Values of the kernel FIB: a resolved next hop, an entry (the next hops of one prefix),
a route as the kernel holds it, and the operations that change the kernel's table.

An entry is a sorted tuple of ``Hop`` so that two computations of the same forwarding
state compare equal (an ECMP route is one entry with several hops; RFC 4271 §9.1.4 leaves
installing several paths to the implementation). Prefixes are the RIB's integer keys
(``wire.nlri``), per family.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from gracebgp.types import Family


@dataclass(frozen=True, slots=True, order=True)
class Hop:
    """One next hop as the kernel is given it: the gateway on a link (``ifindex`` 0: the
    kernel picks the link from its connected routes)."""

    gateway: str
    ifindex: int = 0


#: The next hops of one prefix, sorted, none repeated; never empty.
Entry = tuple[Hop, ...]


def entry(hops: list[Hop] | tuple[Hop, ...]) -> Entry:
    """The canonical entry of ``hops`` (sorted, without repeats)."""
    return tuple(sorted(set(hops)))


@dataclass(frozen=True, slots=True)
class KernelRoute:
    """A unicast route of one table as a netlink dump or monitor reports it."""

    family: Family
    key: int
    hops: Entry
    protocol: int
    metric: int = 0


class OpKind(IntEnum):
    """What one operation asks of the kernel (RTM_NEWROUTE with NLM_F_CREATE, with
    NLM_F_REPLACE, or RTM_DELROUTE)."""

    ADD = 1
    REPLACE = 2
    DELETE = 3


@dataclass(frozen=True, slots=True)
class Op:
    """One route change for the kernel; ``hops`` empty for a delete (the kernel route is
    known by prefix, table, protocol and metric)."""

    kind: OpKind
    family: Family
    key: int
    hops: Entry = ()
