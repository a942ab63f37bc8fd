"""Session hand-over inside the Speaker (issue 19): what a running speaker's Established
sessions are, as ``restart.handover.SessionRecord`` (``capture``), and how a new speaker
takes them over (``adopt``, then its Adj-RIB-Ins from the records' UPDATEs, then
``reconcile``) so that the peer sees nothing: no OPEN, no End-of-RIB, and an UPDATE only
where the new process's export differs from what the old one had advertised (RFC 4271
§9.1.3: only changes are sent).

Not handed over yet (``capture`` refuses, naming the peer): sessions with ADD-PATH
(RFC 7911) negotiated, whose Adj-RIBs are keyed by Path Identifier, and peers in a
graceful-restart helper episode, whose stale routes and timers the state does not
carry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from gracebgp.core import events as ev
from gracebgp.core import nexthop
from gracebgp.core.peer import Peer
from gracebgp.core.views import Emits, Peers
from gracebgp.restart.handover import OutGroup, SessionRecord
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PathTable
from gracebgp.session import events as se
from gracebgp.session.adopt import AdoptError, adopt
from gracebgp.session.negotiate import Negotiated
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire.attrset import AttrSet, to_two_octet
from gracebgp.wire.context import CodecContext
from gracebgp.wire.update import pack_ipv4, pack_mp


class HandoverRefused(Exception):
    """The sessions cannot be handed over (the operator can restart with --graceful)."""


class HandoverHost(Emits, Peers, Protocol):
    """What the hand-over needs of the speaker: the peers, the Loc-RIBs and the path
    table, our next-hop addresses, and how a session comes up and says so."""

    own: frozenset[str]
    _out: list[ev.Output]  # the outputs of the input being handled

    @property
    def loc(self) -> dict[Family, LocRib]: ...

    @property
    def changed(self) -> dict[Family, set[int]]: ...

    @property
    def table(self) -> PathTable: ...

    def _established(self, peer: Peer, neg: Negotiated, now: float, adopted: bool = False) -> None: ...

    def _session_outputs(self, peer: Peer, outputs: Iterable[se.Output], now: float) -> None: ...


def _pack(groups: dict[Path, list[int]], family: Family, ctx: CodecContext) -> list[bytes]:
    out: list[bytes] = []
    for path, keys in groups.items():
        keys.sort()
        if family == IPV4_UNICAST:
            out += pack_ipv4(path.attrs if ctx.as4 else to_two_octet(path.attrs), keys, ctx)
        else:
            out += pack_mp(path.attrs, family, path.next_hop, keys, ctx)
    return out


def _grouped(routes: Iterable[tuple[int, Path]]) -> dict[Path, list[int]]:
    groups: dict[Path, list[int]] = defaultdict(list)
    for key, path in routes:
        groups[path].append(key)
    return groups


def established(sp: Peers) -> list[Peer]:
    """The peers whose session is Established (those the hand-over carries)."""
    return [p for p in sp.peers.values() if p.negotiated is not None and p.established_conn() is not None]


def refusals(sp: Peers) -> list[str]:
    """Why the sessions cannot be handed over; empty when they can. A peer in a
    graceful-restart helper episode (its routes kept stale, RFC 4724 §4.2) is a refusal
    too: the state does not carry stale routes and their timers yet, and the new
    process would drop them."""
    out = [f"peer {p.address}: ADD-PATH is negotiated (not handed over yet)" for p in established(sp)
           if p.negotiated is not None and (p.negotiated.add_path_rx or p.negotiated.add_path_tx)]
    out += [f"peer {p.address}: it is restarting and we keep its routes stale (graceful-restart helper); "
            "retry once it is back and has sent its End-of-RIB" for p in sp.peers.values()
            if p.gr.active or any(a.stale_count for a in p.adj_in.values())]
    return out


def capture(sp: Peers, fds: dict[str, int], wall_offset: float) -> list[SessionRecord]:
    """Each Established session of ``fds`` (peer -> the descriptor the new process will
    find its socket at) as a record: its OPENs, the octets read but not cut, both
    Adj-RIBs. Call at the clean point (the runtime stopped reading, the queue is empty).
    ``wall_offset``: wall-clock time minus the speaker's clock (uptimes go on)."""
    why = refusals(sp)
    if why:
        raise HandoverRefused("; ".join(why))
    records = []
    for peer in established(sp):
        neg, conn = peer.negotiated, peer.session.machine.established()
        if neg is None or conn is None or peer.address not in fds:
            continue
        rx = neg.rx_context()
        adj_in: list[bytes] = []
        for family, channel in peer.adj_in.items():
            routes = list(channel.routes.items())
            routes += [(k, p) for k, (p, _) in peer.rejected.get(family, {}).items()]
            adj_in += _pack(_grouped(routes), family, rx)
        adj_out = tuple(OutGroup(family, path.attrs.wire(True),
                                 () if family == IPV4_UNICAST else path.next_hop,
                                 tuple(sorted(keys)))
                        for family, rib in peer.adj_out.items()
                        for path, keys in _grouped(rib.advertised.items()).items())
        since = peer.session.established_since
        records.append(SessionRecord(
            peer.address, fds[peer.address], conn.outgoing, peer.local_addresses.get(conn.id, ""),
            (since if since is not None else 0.0) + wall_offset,
            neg.local_open.encode(), neg.peer_open.encode(), conn.framer.unread(),
            b"".join(adj_in), adj_out, tuple(sorted(peer.eor_received))))
    return records


def adopt_session(sp: HandoverHost, record: SessionRecord, conn: int, established_at: float,
                  now: float) -> str:
    """Make ``record`` the Established session of its peer on connection ``conn``, without
    sending anything; "" when done, else why not (the runtime then closes the socket, and
    the peer connects again: a session reset, like any changed configuration)."""
    peer = sp.peers.get(record.peer)
    if peer is None:
        return "no longer a configured neighbor"
    if peer.admin_down:
        return "administratively down in the new configuration"
    if peer.session.state is not State.IDLE:
        return f"its session is {peer.session.state.name} already"
    try:
        neg, out = adopt(peer.session, conn, record.outgoing, record.our_open, record.their_open,
                         established_at, now)
    except AdoptError as exc:
        return str(exc)
    if (neg.add_path_rx or neg.add_path_tx):
        return "ADD-PATH is negotiated (not handed over yet)"
    peer.local_addresses[conn] = record.local_address
    sp.own = nexthop.own_addresses(sp.peers.values())
    sp._session_outputs(peer, out, now)
    sp._established(peer, neg, now, adopted=True)
    peer.eor_received.update(f for f in record.eor_received if f in neg.families)
    return ""


def adopt_all(sp: HandoverHost, items: list[tuple[SessionRecord, int, float]],
              now: float) -> tuple[list[ev.Output], dict[str, str]]:
    """``adopt_session`` for each (record, connection, established at); returns the
    outputs (state changes, logs) and, per peer not adopted, why."""
    sp._out = []
    refused = {}
    for record, conn, at in items:
        why = adopt_session(sp, record, conn, at, now)
        if why:
            refused[record.peer] = why
    out, sp._out = sp._out, []
    return out, refused


def reconcile(sp: HandoverHost, record: SessionRecord, now: float) -> int:
    """After the Adj-RIB-Ins are back: the peer's Adj-RIB-Out is what the old process had
    advertised where this process would advertise the same (nothing is sent for it),
    and the rest is pending (an UPDATE or a withdrawal at the next flush). The HoldTimer
    runs from ``now`` (RFC 4271 §4.4: what the peer sent meanwhile is still unread in
    the socket; reading a large table must not count against it). Returns how many
    prefixes differ."""
    peer = sp.peers.get(record.peer)
    if peer is None or peer.negotiated is None:
        return 0
    conn = peer.session.machine.established()
    if conn is not None:
        peer.session.machine.restart_hold(conn, now)
    saved: dict[Family, dict[int, tuple[bytes, tuple[str, ...]]]] = defaultdict(dict)
    for g in record.adj_out:
        sig = (g.attrs, g.next_hop)
        table = saved[g.family]
        for k in g.keys:
            table[k] = sig
    differ = 0
    for family, rib in peer.adj_out.items():
        differ += _reconcile_family(rib, sp.loc[family], saved.get(family, {}), sp.table)
        sp.changed[family].update(rib.pending)  # the next flush sends them
    return differ


def _reconcile_family(rib: AdjRibOut, loc: LocRib, saved: dict[int, tuple[bytes, tuple[str, ...]]],
                      table: PathTable) -> int:
    rib.consider_all(loc)
    pending, advertised = rib.pending, rib.advertised
    sigs: dict[Path, tuple[bytes, tuple[str, ...]]] = {}
    ipv4 = rib.family == IPV4_UNICAST
    for k, path in list(pending.items()):
        if path is None:
            continue
        sig = sigs.get(path)
        if sig is None:
            sig = sigs[path] = (path.attrs.wire(True), () if ipv4 else path.next_hop)
        if saved.get(k) == sig:
            advertised[k] = path
            del pending[k]
    # Advertised by the old process, not by this one: withdrawn at the next flush.
    placeholder: Path | None = None
    for k in saved:
        if k not in advertised and pending.get(k) is None:
            if placeholder is None:
                placeholder = table.get(AttrSet(()), ())
            advertised[k] = placeholder
            pending[k] = None
    return len(pending)


