"""Which import and export filters a peer's session gets from the policy book (issue 16
item 2): the assignment of the level that applies (``policy.book``), for this peer as
the session negotiated it (iBGP or eBGP, its AS, our address on the session), and
none at all when the assignment lets every route pass unchanged.
"""

from __future__ import annotations

from gracebgp.policy.book import ApplyPolicy, PolicyBook
from gracebgp.policy.definitions import Direction
from gracebgp.policy.route import RouteType, Source
from gracebgp.rib.export import ExportPolicy
from gracebgp.rib.path import PathTable, PeerInfo
from gracebgp.rib.policy_filter import ExportFilter, PolicyFilter, passes_all
from gracebgp.types import IPV4_UNICAST, Family


def our_next_hop(export: ExportPolicy, family: Family) -> tuple[str, ...]:
    """Our address on the session for ``family`` (``set-next-hop self``)."""
    if family == IPV4_UNICAST:
        return (export.next_hop_v4,) if export.next_hop_v4 else ()
    return export.next_hop_v6


def import_filter(book: PolicyBook, own: ApplyPolicy | None, family: Family, info: PeerInfo,
                  export: ExportPolicy | None, table: PathTable, add_path: bool) -> PolicyFilter | None:
    """The import filter of the peer ``info`` (None: no policy applies). ``export``: the
    session's export rules, for our address on it (None while the session is down:
    ``set-next-hop self`` then leaves the next hop as it is)."""
    assignment = book.assignment(own, Direction.IMPORT, external=not info.ibgp)
    if passes_all(assignment):
        return None
    source = Source(info.address, info.asn, RouteType.INTERNAL if info.ibgp else RouteType.EXTERNAL)
    return PolicyFilter(assignment, source, family, table,
                        self_next_hop=() if export is None else our_next_hop(export, family),
                        shift=32 if add_path else 0)


def export_filter(book: PolicyBook, own: ApplyPolicy | None, family: Family, export: ExportPolicy,
                  table: PathTable) -> ExportFilter | None:
    """The export filter towards the peer of ``export`` (None: no policy applies)."""
    peer = export.peer
    assignment = book.assignment(own, Direction.EXPORT, external=not peer.ibgp)
    if passes_all(assignment):
        return None
    return ExportFilter(assignment, peer.address, peer.asn, peer.ibgp, family, table,
                        our_next_hop(export, family))


def same(old: PolicyFilter | ExportFilter | None, new: PolicyFilter | ExportFilter | None) -> bool:
    """Whether two filters run the same assignment (then routes need not be run again)."""
    if old is None or new is None:
        return old is new
    return old.assignment is new.assignment
