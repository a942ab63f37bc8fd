"""The speaker's state as text lines, for the log (the daemon writes them on SIGUSR1):
one line per peer (state, routes received and stale, families, hold time), one per
Loc-RIB route (next hop, attributes, where from, stale), then a total."""

from __future__ import annotations

from typing import Protocol

from gracebgp.core.views import Peers
from gracebgp.rib.loc_rib import LocRib
from gracebgp.types import Family
from gracebgp.wire.nlri import format_prefix
from gracebgp.wire.text import format_attrs


class Dumped(Peers, Protocol):
    """What the dump reads of the speaker."""

    @property
    def local_as(self) -> int: ...

    @property
    def router_id(self) -> str: ...

    @property
    def loc(self) -> dict[Family, LocRib]: ...


def lines(sp: Dumped) -> list[str]:
    out = [f"speaker AS {sp.local_as} router-id {sp.router_id}"]
    for peer in sp.peers.values():
        neg = peer.negotiated
        fams = ", ".join(str(f) for f in sorted(peer.adj_in)) or "-"
        n_stale = sum(a.stale_count for a in peer.adj_in.values())
        out.append(f"peer {peer.address} AS {peer.settings.session.peer_as} "
                   f"{peer.session.state.name} received {peer.route_count()} stale {n_stale} "
                   f"families {fams}" + (f" hold {neg.hold_time}s" if neg else ""))
    total = 0
    for family, loc in sp.loc.items():
        for key, (src, path, _) in sorted(loc.items()):
            origin = "local" if src.local else f"from {src.address}"
            source = sp.peers.get(src.address)
            adj = source.adj_in.get(family) if source is not None else None
            mark = " stale" if adj is not None and adj.is_stale(src.adj_key(key)) else ""
            out.append(f"route {format_prefix(key, family.afi)} via {','.join(path.next_hop) or '-'} "
                       f"{format_attrs(path.attrs)} ({origin}){mark}")
            total += 1
    out.append(f"end of state: {len(sp.peers)} peers, {total} routes")
    return out
