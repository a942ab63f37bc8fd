"""Session hand-over inside the Speaker (issue 19): what a running speaker's Established
sessions are, as ``restart.handover.SessionRecord`` (``capture``), and how a new speaker
takes them over (``adopt``, then its Adj-RIB-Ins from the records' UPDATEs, then
``reconcile``) so that the peer sees nothing: no OPEN, no End-of-RIB, and an UPDATE only
where the new process's export differs from what the old one had advertised (RFC 4271
§9.1.3: only changes are sent).

A peer that is away while we keep its routes (RFC 4724 §4.2, RFC 9494 §4.2) is carried
too (``capture_helpers``, ``restore_helper``): its stale routes and the helper's phases
and timers. Not handed over yet (``refusals`` names the peer): sessions with ADD-PATH
(RFC 7911) negotiated, whose Adj-RIBs are keyed by Path Identifier, and a peer back from
its restart whose End-of-RIB we still wait for (which routes are stale is not carried).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from gracebgp.core import events as ev
from gracebgp.core import nexthop
from gracebgp.core.peer import Peer
from gracebgp.core.restart_control import TableSend
from gracebgp.core.views import Emits, Peers
from gracebgp.restart.handover import HelperRecord, OutGroup, SessionRecord
from gracebgp.restart.helper import Phase
from gracebgp.restart.restarting import Deferral
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.channel import Channel
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PathTable, PeerInfo
from gracebgp.session import events as se
from gracebgp.session.adopt import AdoptError, adopt
from gracebgp.session.negotiate import Negotiated
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire.attrset import AttrSet, to_two_octet
from gracebgp.wire.context import CodecContext
from gracebgp.wire.framing import split_messages
from gracebgp.wire.update import pack_ipv4, pack_mp, parse_update


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


def _helping(p: Peer) -> bool:
    """A peer whose session is down while we keep its routes (the state's helper records)."""
    return p.negotiated is None and p.info is not None and p.gr.active


class Restarting(Peers, Protocol):
    """What ``refusals`` reads besides the peers: our own restart's progress."""

    @property
    def deferral(self) -> Deferral | None: ...

    @property
    def sending(self) -> dict[tuple[str, Family], TableSend]: ...


def refusals(sp: Restarting) -> list[str]:
    """Why the sessions cannot be handed over; empty when they can. A peer that is back
    from its restart but has not sent its End-of-RIB yet (stale routes on an Established
    session) is a refusal: the state does not carry which of its routes are stale. A
    peer still away is carried (``capture_helpers``), unless it used ADD-PATH. Our own
    selection deferral (RFC 4724 §4.1) and a table still going out (its End-of-RIB, RFC
    4724 §2, or a route refresh's End-of-RIB Refresh, RFC 7313 §4, still owed) are
    refusals too: the new process starts without either, and would never send the
    End-of-RIB the peer waits for."""
    out = []
    d = sp.deferral
    if d is not None and not d.done:
        out.append("route selection is still deferred after our own restart (RFC 4724 §4.1); retry once "
                   "`gracebgp gr status` says the restart is complete")
    if sp.sending:
        peers = sorted({address for address, _ in sp.sending})
        out.append(f"a table (and its End-of-RIB) is still going out to {', '.join(peers)}; retry in a "
                   "moment")
    out += [f"peer {p.address}: ADD-PATH is negotiated (not handed over yet)" for p in established(sp)
           if p.negotiated is not None and (p.negotiated.add_path_rx or p.negotiated.add_path_tx)]
    out += [f"peer {p.address}: it is back from a restart and we wait for its End-of-RIB (graceful-restart "
            "helper); retry once it has sent it" for p in sp.peers.values()
            if not _helping(p) and (p.gr.active or any(a.stale_count for a in p.adj_in.values()))]
    out += [f"peer {p.address}: it is restarting and its ADD-PATH routes are kept stale (not handed over yet)"
            for p in sp.peers.values()
            if _helping(p) and any(type(a) is not Channel for a in p.adj_in.values())]
    return out


def helping(sp: Peers) -> int:
    """How many peers the state carries as helper records."""
    return sum(1 for p in sp.peers.values() if _helping(p))


def capture_helpers(sp: Peers, wall_offset: float) -> list[HelperRecord]:
    """The peers we keep stale routes for while they restart (RFC 4724 §4.2, RFC 9494
    §4.2), with the helper's phases and timers (wall-clock)."""
    out = []
    for p in sp.peers.values():
        info = p.info
        if not _helping(p) or info is None:
            continue
        ctx = CodecContext(as4=True, ibgp=info.ibgp)
        routes: list[bytes] = []
        for family, channel in p.adj_in.items():
            routes += _pack(_grouped(channel.routes.items()), family, ctx)
        g = p.gr
        out.append(HelperRecord(
            p.address, info.asn, info.router_id, info.ibgp, b"".join(routes),
            tuple((f, ph.value) for f, ph in sorted(g.phases.items())),
            None if g.restart_deadline is None else g.restart_deadline + wall_offset,
            tuple((f, t + wall_offset) for f, t in sorted(g.llgr_deadlines.items())),
            tuple(sorted(g.llgr_times.items())), g.restart_time))
    return out


def restore_helper(sp: HandoverHost, record: HelperRecord, wall_offset: float, now: float) -> str:
    """Put a restarting peer's stale routes and helper state back (before the Adj-RIB-Outs
    are reconciled: its routes are still advertised); "" when done, else why not."""
    peer = sp.peers.get(record.peer)
    if peer is None or peer.negotiated is not None or peer.adj_in:
        return "no longer a configured neighbor" if peer is None else "its session is up in this process"
    info = PeerInfo(peer.index, peer.address, record.asn, record.router_id, record.ibgp,
                    peer.settings.rr_client)
    peer.info = info
    ctx = CodecContext(as4=True, ibgp=record.ibgp)
    for _, body in split_messages(record.routes):
        u = parse_update(body, ctx).update
        if u is None or u.attrs is None:
            continue
        hops: tuple[str, ...]
        if u.nlri:
            family, keys, hops = IPV4_UNICAST, u.nlri, (u.attrs.next_hop or "",)
        elif u.mp_reach is not None:
            family, keys, hops = u.mp_reach.family, u.mp_reach.nlri, u.mp_reach.next_hop
        else:
            continue
        if family not in sp.loc:
            continue
        channel = peer.adj_in.get(family)
        if channel is None:
            channel = peer.adj_in[family] = Channel(family, sp.loc[family], sp.changed, info)
        channel.announce(keys, sp.table.get(u.attrs, hops), now)
    for channel in peer.adj_in.values():
        channel.begin_refresh()  # every route kept for the restart is stale (RFC 4724 §4.2)
    g = peer.gr
    g.phases = {f: Phase(v) for f, v in record.phases}
    g.restart_deadline = None if record.restart_deadline is None else record.restart_deadline - wall_offset
    g.stale_deadline = None
    g.llgr_deadlines = {f: t - wall_offset for f, t in record.llgr_deadlines}
    g.llgr_times = dict(record.llgr_times)
    g.restart_time = record.restart_time
    sp.log("info", f"restarting peer's {peer.route_count()} stale routes and helper timers taken over", peer,
           "restart", "handover-helper", routes=peer.route_count())
    return ""


def capture(sp: Restarting, fds: dict[str, int], wall_offset: float) -> list[SessionRecord]:
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
        adj_out = tuple(OutGroup(family, path.block,
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


def adopt_all(sp: HandoverHost, items: list[tuple[SessionRecord, int, float]], now: float,
              helpers: Iterable[HelperRecord] = (),
              wall_offset: float = 0.0) -> tuple[list[ev.Output], dict[str, str]]:
    """``adopt_session`` for each (record, connection, established at) and
    ``restore_helper`` for each helper record; returns the outputs (state changes, logs)
    and, per peer not adopted or restored, why."""
    sp._out = []
    refused = {}
    for record, conn, at in items:
        why = adopt_session(sp, record, conn, at, now)
        if why:
            refused[record.peer] = why
    for helper in helpers:
        why = restore_helper(sp, helper, wall_offset, now)
        if why:
            refused[helper.peer] = why
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
        sp.loc[family].touch(rib.pending)  # the next flush sends them
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
            sig = sigs[path] = (path.block, () if ipv4 else path.next_hop)
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


