"""Routing policy on the running speaker (issue 16 items 3 and 5): a new policy book (a
reload, an API change) or a neighbor's new apply-policy re-runs the import policy over
the kept Adj-RIBs-In and the export policy over the Loc-RIB, and sends only the
differences (no session reset, no ROUTE-REFRESH: the Adj-RIB-In is kept pre-policy);
and ``explain`` runs one route through one peer's policy with the trace.

Nothing is withdrawn on the way: the channel offers each route's new outcome to the
Loc-RIB in place (``Channel.reimport``), and the Adj-RIB-Out compares the new exports
with what it advertised (``AdjRibOut.consider_all``), so a route that stays accepted
with the same attributes sends nothing at all.
"""

from __future__ import annotations

from typing import Any, Protocol

from gracebgp.core.advertise import Outbound, advertise
from gracebgp.core.peer import Peer
from gracebgp.core.views import Peers
from gracebgp.policy.book import PolicyBook
from gracebgp.policy.definitions import Direction
from gracebgp.policy.evaluate import Decision
from gracebgp.rib.path import Path, PathTable
from gracebgp.rib.policy_attach import export_filter, import_filter, same
from gracebgp.rib.policy_filter import PolicyFilter
from gracebgp.types import Family


class PolicyHost(Outbound, Peers, Protocol):
    policy_book: PolicyBook
    table: PathTable


def rebind(sp: PolicyHost, book: PolicyBook, now: float,
           only: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Use ``book`` from now on (``only``: just these peers' filters changed, the book is
    the same). Every import first, then every export, so the export counts include what
    the new import policies changed. Returns, per peer and family whose filters changed,
    how many prefixes' best path moved (import) and how many routes go out again or are
    withdrawn (export)."""
    sp.policy_book = book
    peers = [p for p in sp.peers.values() if only is None or p.address in only]
    moved: dict[tuple[str, Family], int] = {}
    for peer in peers:
        own = peer.settings.apply_policy
        for family, channel in peer.adj_in.items():
            importer = import_filter(book, own, family, channel.info, peer.policy, sp.table,
                                     channel.with_path_ids)
            if not same(channel.importer, importer):
                moved[(peer.address, family)] = channel.reimport(importer, now)
    sent: dict[tuple[str, Family], int] = {}
    for peer in peers:
        own = peer.settings.apply_policy
        for family, rib_out in peer.adj_out.items():
            exporter = export_filter(book, own, family, rib_out.policy, sp.table)
            if same(rib_out.exporter, exporter):
                continue
            rib_out.exporter = exporter
            sent[(peer.address, family)] = 0
            if peer.negotiated is not None and sp.gate_open(family):
                rib_out.consider_all(sp.loc[family])
                sent[(peer.address, family)] = len(rib_out.pending)
                advertise(sp, peer, family, rib_out, (), now)
    return [{"peer": address, "family": str(family), "import_changed": moved.get((address, family), 0),
             "export_changed": sent.get((address, family), 0)}
            for address, family in sorted({*moved, *sent}, key=lambda k: (k[0], str(k[1])))]


def explain(sp: PolicyHost, peer: Peer, family: Family, key: int, direction: Direction,
            ) -> tuple[Path | None, Decision | None]:
    """The route ``key`` through ``peer``'s policy in ``direction``, with the trace: import
    runs the peer's route as received (its Adj-RIB-In, pre-policy); export runs the
    Loc-RIB's best path as the export rules make it for this peer. (None, None): no such
    route; (path, None): no policy applies (every route passes unchanged)."""
    if direction is Direction.IMPORT:
        channel = peer.adj_in.get(family)
        path = None if channel is None else channel.routes.get(key)
        if channel is None or path is None:
            return None, None
        importer = channel.importer
        return path, None if importer is None else importer.decide(key, path, explain=True, count=False)
    rib_out = peer.adj_out.get(family)
    best = sp.loc[family].best(key)
    if rib_out is None or best is None:
        return None, None
    source, original = best[0], best[1]
    exported = rib_out.exported(source, original)
    if exported is None or rib_out.exporter is None:
        return exported, None
    flt: PolicyFilter = rib_out.exporter.filter_for(source)
    return exported, flt.decide(key, exported, explain=True, count=False)
