"""The one way our routes go out to a peer: check the gate, consider, flush, send.

RFC 4271 §9.2 (Update-Send: the Adj-RIB-Out's changes as UPDATEs), §9.1.3 (the Adj-RIB-Out
takes the Loc-RIB's best routes through the export policy); RFC 4724 §4.1 (no route goes
out while selection is deferred for its family: the gate) and §2 (End-of-RIB after the
initial table); RFC 7313 §4 (EoRR after the whole Adj-RIB-Out, in the same write).

The normal flush of changed prefixes (``Speaker``), a session's initial table, a route
refresh answer and a drain's re-export (``restart_control``, in table slices) all send
through ``advertise``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from typing import Protocol

from gracebgp.core import wirelog
from gracebgp.core.peer import Peer
from gracebgp.rib.adj_rib_out import AdjRibOut, Before, Packed
from gracebgp.rib.loc_rib import LocRib, Lookup
from gracebgp.types import Family
from gracebgp.wire.iana import RouteRefreshSubtype
from gracebgp.wire.messages import RouteRefresh


class Outbound(Protocol):
    """What ``advertise`` needs of the speaker (the Speaker is one)."""

    debug: bool  # count what goes out for the debug log's per-input summaries
    tallies: wirelog.Tallies
    loc: dict[Family, LocRib]

    def gate_open(self, family: Family) -> bool:
        """False while selection for ``family`` is deferred (RFC 4724 §4.1)."""
        ...

    def send(self, peer: Peer, data: bytes, now: float) -> None:
        """UPDATE octets to ``peer``'s Established session (nothing when empty). It must
        not change the Loc-RIB: a round's ``found`` is the Loc-RIB's before every peer."""
        ...


def advertise(out: Outbound, peer: Peer, family: Family, rib_out: AdjRibOut, keys: Collection[int],
              now: float, *, again: bool = False, eor: bool = False, eorr: bool = False,
              packed: Packed | None = None, before: Before | None = None,
              found: Lookup | None = None) -> bool:
    """Send ``peer`` what changed in ``rib_out`` for ``keys`` of the Loc-RIB (each key
    again with ``again``: a route refresh), then End-of-RIB (``eor``) and EoRR (``eorr``).
    False, and nothing considered, while the gate of ``family`` is closed or the session
    is not Established. ``packed``: shared by the peers of one round (``AdjRibOut.flush``);
    ``before``: the round's old bests (``LocRib.take_before``), None outside a round;
    ``found``: the round's Loc-RIB entries of ``keys`` (``AdjRibOut.consider``)."""
    neg = peer.negotiated
    loc = out.loc[family]
    if neg is None or not out.gate_open(family):
        if before is not None:  # a round it misses: it keeps what its peer has as a table
            rib_out.miss(loc, before, keys)
        return False
    rib_out.consider(keys, loc, again, before, found)
    tx = neg.tx_context()
    if out.debug:
        wirelog.count_pending(out.tallies, peer.address, rib_out)
    data = b"".join(rib_out.flush(tx, packed))
    if eor:
        data += rib_out.end_of_rib(tx)
        if out.debug:
            wirelog.count_eor(out.tallies, peer.address, family)
    if eorr:
        data += RouteRefresh(family.afi, family.safi, RouteRefreshSubtype.EORR).encode()
    out.send(peer, data, now)
    return True


def advertise_round(out: Outbound, peers: Iterable[Peer], family: Family, keys: Collection[int],
                    before: Before, now: float) -> None:
    """The changed ``keys`` of ``family`` (``before``: their old bests) to every peer with
    an Adj-RIB-Out for it. Peers of one export class (``AdjRibOut.slot``) flush the same
    groups: the UPDATEs packed for the first are reused for the others when their codec
    contexts are equal (a peer alone in its class packs as before, without keeping what
    it packed). The Loc-RIB entries of the keys are looked up once for all the peers
    (``found``): nothing a peer's turn does changes the Loc-RIB. After the round, an
    Adj-RIB-Out that may hold nothing per prefix does (``AdjRibOut.settle``)."""
    outs = [(peer, rib_out) for peer in peers if (rib_out := peer.adj_out.get(family)) is not None]
    classes = Counter(rib_out.slot for _, rib_out in outs)
    packed: Packed = {}
    loc = out.loc[family]
    found: Lookup | None = None
    if sum(1 for _, rib_out in outs if rib_out.takes_found) > 1 and out.gate_open(family):
        # The Loc-RIB's entries of the keys looked up once, not per peer; in a round that
        # only adds prefixes, with their runs if a peer can take them (``AdjRibOut.consider``:
        # one decision a run).
        keys = list(keys)
        found = loc.lookup(keys, runs=not before and any(rib_out.takes_runs for _, rib_out in outs))
    for peer, rib_out in outs:
        advertise(out, peer, family, rib_out, keys, now, packed=packed if classes[rib_out.slot] > 1 else None,
                  before=before, found=found)
        rib_out.settle(loc)
