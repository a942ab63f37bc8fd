"""The Speaker: the one owner of all routing state (DESIGN.md rule 1). ``handle(input,
now) -> outputs`` drives every peer's session, applies UPDATEs to the RIBs (RFC 4271
§9.1), and sends the differences to the other peers in batches (§9.1.3, §9.2).

    runtime --facts--> Speaker --session inputs--> Session (one per peer)
                          |  <--facts (Established, UpdateReceived, SessionDown)--
                          |--> Adj-RIB-In -> Loc-RIB -> Adj-RIB-Out --UPDATE bytes--> peers
    runtime <--commands (Connect, Send, Close, Log)--

A peer's routes reach the Loc-RIB only through its ``rib.channel.Channel`` per family (its
Adj-RIB-In). Graceful restart in both roles, LLGR, selection deferral and drain are carried
out by ``core.restart_control`` and ``core.drain`` on the pure rules of ``gracebgp.restart``
(spec sections 3-6, 8).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from gracebgp.core import bfd, dynamic, limits, nexthop, refresh, reload, routewatch, statedump, wirelog
from gracebgp.core import events as ev
from gracebgp.core.advertise import advertise_round
from gracebgp.core.commands import RouteJob, advance, execute
from gracebgp.core.drain import DrainControl
from gracebgp.core.originate import LocalRoute, to_path, to_paths
from gracebgp.core.peer import NeighborSettings, Peer, next_hops_for
from gracebgp.core.restart_control import RestartControl, TableSend, notice
from gracebgp.policy.book import PolicyBook
from gracebgp.restart.restarting import Deferral
from gracebgp.restart.shutdown import retain_stop, withdraw_stop
from gracebgp.rib.aspath_rules import own_as_loop
from gracebgp.rib.channel import Channel
from gracebgp.rib.export import ExportPolicy
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PathTable, PeerInfo
from gracebgp.session import events as se
from gracebgp.session.fsm import Session
from gracebgp.session.negotiate import Negotiated
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire import Notification, UpdateAction, UpdateResult
from gracebgp.wire.attrset import AttrSet
from gracebgp.wire.iana import CeaseSubcode

FAMILIES = (IPV4_UNICAST, IPV6_UNICAST)
# Routes per owner step for AddPaths/DeletePaths: 4-12 µs each (checked, applied and
# stored), so a slice takes 10-25 ms, inside the 50 ms bound with room for a busy host,
# and a KEEPALIVE or hold timer is never late by more (issue 10 finding 4).
SLICE_ROUTES = 2000
# Routes per owner step of a session's initial table (about 1-2 µs each, in Loc-RIB
# order, so routes sharing attributes stay in one UPDATE).
TABLE_SLICE = 20_000
# Route-and-peer pairs one flush exports (InputDrained), the rest waits for the next turn:
# larger than a table slice (a flush's keys come in no useful order; 20,000 made the 1M
# propagation 9% slower); 100,000 only cuts a backlog such as a whole table withdrawn.
FLUSH_BUDGET = 100_000
_EMPTY = AttrSet(())
_TREAT_AS_WITHDRAW = UpdateAction.TREAT_AS_WITHDRAW  # (read once per UPDATE: no enum lookup)
_DEFAULTS = ev.Tunables()
#: A reset starts the peer again once the connections that carried its NOTIFICATION are gone.
CLOSE_WAIT = 3.0


class Speaker:
    def __init__(self, local_as: int, router_id: str, neighbors: Sequence[NeighborSettings] = (),
                 routes: Sequence[LocalRoute] = (), always_compare_med: bool = False,
                 stored_routes: Sequence[LocalRoute] = (), tunables: ev.Tunables = _DEFAULTS,
                 config_file: str = "", ranges: Sequence[dynamic.DynamicRange] = (),
                 policy_book: PolicyBook | None = None) -> None:
        self.local_as = local_as
        self.router_id = router_id
        self.local = PeerInfo(0, "", local_as, router_id, ibgp=False)
        self.table = PathTable()
        self.loc = {f: LocRib(always_compare_med) for f in FAMILIES}
        self.peers: dict[str, Peer] = {}
        self.ranges = dynamic.Ranges(ranges)  # [[dynamic-neighbors]] and the peers accepted through them
        self.local_routes: dict[tuple[Family, int], Path] = {}  # what we originate, by family
        self.policy_book = policy_book or PolicyBook()  # routing policy (rib.policy_attach)
        # Our own routes reach the Loc-RIB through the same door as a peer's (rib.channel).
        self.changed: dict[Family, set[int]] = {f: set() for f in FAMILIES}  # best path moved
        for family, loc in self.loc.items():
            loc.dirty = self.changed[family]  # (the same set: LocRib.before's reference)
        self.local_in = {f: Channel(f, self.loc[f], self.changed, self.local) for f in FAMILIES}
        self.config_routes: set[tuple[Family, int]] = set()  # the rest came from the API
        self.config_file = config_file  # where config_routes come from, for the API's refusals
        self.watch_routes = False  # emit a "route" Notice per best-path change
        self.now = 0.0  # the time of the input being handled
        self._out: list[ev.Output] = []
        self._started = False
        self._next_index = 1
        self._conn_ids = itertools.count(1)  # of every session's connections (runtime's: >= 1 << 20)
        self.restart = ("cold", "")  # how this run started (events.Started)
        self.stopping = False
        # ev.Tunables: LLGR-stale routes to iBGP peers without LLGR (NO_EXPORT, LP 0); how long
        # deferral waits for a peer to come up at all; RFC 8538 §5 provisional Ceases as Hard Reset
        self.llgr_ibgp, self.establish_wait, self.provisional_hard = False, 30.0, False
        self._tune(tunables)
        self.jobs: deque[RouteJob] = deque()  # large commands in progress, oldest first
        self.slice_routes = SLICE_ROUTES  # routes checked or applied per owner step
        self.table_slice = TABLE_SLICE  # keys per owner step of a table being sent
        self.flush_budget = FLUSH_BUDGET  # route-peer pairs per flush
        # Graceful restart (helper, deferral, initial tables) and the RFC 8326 drain: objects
        # of their own; their steps are handed narrow views of this speaker (core.views).
        self.restart_control = RestartControl()
        self.drain_control = DrainControl(self.restart_control)
        self.own: frozenset[str] = frozenset()  # our ends of the open connections (core.nexthop)
        self.refreshing: dict[tuple[str, Family], float] = {}  # a peer's BoRR..EoRR: deadline (refresh)
        self.debug = False  # debug log lines (events.DebugLogged, core.wirelog); off: none of that code runs
        self.tallies: wirelog.Tallies = {}  # UPDATEs per peer and direction in this input
        for n in neighbors:
            self._add_peer(n)
        # Added through the API before a restart (the durable store checked them).
        for family, key, path in to_paths(stored_routes, self.table, len(stored_routes) + 1)[0]:
            self.originate(family, key, path)
        for r in routes:
            self.config_routes.add(self.add_route(r))

    # --- queries ---------------------------------------------------------------------
    def peer_for(self, address: str) -> str | None:
        """The configured peer an accepted connection from ``address`` belongs to."""
        return address if address in self.peers else self.ranges.covers(address)

    def next_deadline(self) -> float | None:
        times = []
        for p in self.peers.values():
            times += [t for t in (p.session.next_deadline(), p.gr.next_deadline()) if t is not None]
        for t in (self.restart_control.next_deadline(), self.drain_control.deadline):
            if t is not None:
                times.append(t)
        times += [p.start_at for p in self.peers.values() if p.start_at is not None]
        times += limits.deadlines(self.peers.values())
        times += self.refreshing.values()
        return min(times, default=None)

    def pending(self) -> bool:
        """Work is left for ``Continue`` inputs (a large AddRoutes/DeleteRoutes, a table
        being sent) or the next ``InputDrained`` (changes over one flush's budget)."""
        return bool(self.jobs or self.sending or any(self.changed.values()))

    # --- the one entry point -----------------------------------------------------------
    def handle(self, inp: ev.Input, now: float) -> list[ev.Output]:
        self._out = []
        self.now = now
        if isinstance(inp, ev.Received):
            self._to_session(inp.peer, se.BytesReceived(inp.conn, inp.data), now)
        elif isinstance(inp, ev.InputDrained):
            self._flush(now)
        elif isinstance(inp, ev.Connected):
            peer = self.peers.get(inp.peer) or self.ranges.admit(self, inp, now)
            if peer is not None:
                peer.local_addresses[inp.conn] = inp.local_address
                peer.stats.tcp_up_at, peer.stats.connect_error = now, ""
                self.own = nexthop.own_addresses(self.peers.values())
                event: se.Input = se.TcpConnected(inp.conn) if inp.outgoing else se.TcpAccepted(inp.conn)
                self._to_session(inp.peer, event, now)
            else:
                self._out.append(ev.Close(inp.peer, inp.conn))
        elif isinstance(inp, ev.ConnectFailed):
            if (failed := self.peers.get(inp.peer)) is not None:
                failed.stats.connect_error = inp.error
            self._to_session(inp.peer, se.TcpFailed(inp.conn, inp.error), now)
        elif isinstance(inp, ev.Disconnected):
            self._to_session(inp.peer, se.TcpClosed(inp.conn, inp.error or "connection closed"), now)
            self._closed(inp.peer, inp.conn, now)
        elif isinstance(inp, ev.TimerDue):
            self._timers(now)
        elif isinstance(inp, ev.Continue):
            if self.sending:
                self.restart_control.advance_tables(self, now)
            elif self.jobs:
                advance(self, now)
        elif isinstance(inp, ev.Started):
            self._started = True
            for channel in self.local_in.values():  # configured before the clock started
                channel.restamp(now)
            self.restart = (inp.restart, inp.detail)
            notice(self, "process-started", f"started ({inp.restart} start: {inp.detail or 'R=0'})",
                   restart=inp.restart, detail=inp.detail)
            if inp.restart not in ("cold", "handover"):  # handover: the sessions went on
                self.restart_control.begin_restart(self, inp.restart, inp.detail, now)
            for peer in self.peers.values():
                self._start(peer, now)
        elif isinstance(inp, ev.StopRequested):
            self._stop_all(inp.graceful, inp.message, now)
        elif isinstance(inp, ev.Reconfigured):
            if inp.tunables is not None:
                self._tune(inp.tunables)
            reload.reconfigure(self, inp.neighbors, inp.routes, inp.policy_book, now)
        elif isinstance(inp, ev.RoutesWatched):
            self.watch_routes = inp.on
        elif isinstance(inp, ev.DebugLogged):
            self._set_debug(inp.on)
        elif isinstance(inp, ev.RestartDecided):
            self.restart = (inp.restart, inp.detail)
        elif isinstance(inp, ev.CommandRequested):
            execute(self, inp.ref, inp.command, now)
        elif isinstance(inp, ev.BfdChanged):
            bfd.changed(self, inp, now)
        if self.tallies:
            self._out += wirelog.summaries(self.tallies)
            self.tallies = {}
        self.ranges.after_input(self, inp, self._out, now)  # a reload; peers whose session is gone
        return self._out

    def _tune(self, t: ev.Tunables) -> None:
        self.establish_wait, self.llgr_ibgp, self.provisional_hard = t.establish_wait, t.llgr_ibgp, \
            t.provisional_hard
        for family, loc in self.loc.items():
            loc.multipath = t.use_multiple_paths(family)

    def _set_debug(self, on: bool) -> None:
        """Debug log lines (core.wirelog) on or off (events.DebugLogged)."""
        if on != self.debug:
            self.debug = on
            for peer in self.peers.values():
                peer.session.trace = on

    def emit(self, output: ev.Output) -> None:
        """Add an output to the answer of the input being handled."""
        self._out.append(output)

    @property
    def deferral(self) -> Deferral | None:
        """Selection deferral after our restart (RFC 4724 §4.1); None when we did not restart."""
        return self.restart_control.deferral

    @property
    def sending(self) -> dict[tuple[str, Family], TableSend]:
        """The initial tables (and refresh answers, drain re-exports) going out."""
        return self.restart_control.sending

    @property
    def drain(self) -> str | None:
        """None, "gshut" or "withdrawn" (RFC 8326 drain)."""
        return self.drain_control.phase

    def describe(self) -> list[str]:
        """Peers and Loc-RIB as text lines (the daemon logs them on SIGUSR1)."""
        return statedump.lines(self)

    # --- peers -------------------------------------------------------------------------
    def _add_peer(self, settings: NeighborSettings, dynamic: bool = False) -> Peer:
        peer = Peer(self._next_index, settings, Session(settings.session, conn_ids=self._conn_ids),
                    admin_down=settings.admin_down, dynamic=dynamic)
        self._next_index += 1
        peer.session.trace = self.debug
        peer.stats.created = self.now
        self.peers[settings.address] = peer
        return peer

    def add_peer(self, settings: NeighborSettings, now: float, dynamic: bool = True) -> Peer:
        """A new peer (AddPeer): started at once unless it is administratively down."""
        peer = self._add_peer(settings, dynamic)
        self.emit(ev.AcceptFrom(peer.address, settings.sockets))
        self.emit(ev.Notice("peer-added", f"peer {peer.address} added (AS {settings.session.peer_as})",
                            peer.address, {"dynamic": dynamic}))
        if self._started:
            self._start(peer, now)
        return peer

    def _start(self, peer: Peer, now: float) -> None:
        peer.start_at = peer.idle_until = None
        if peer.admin_down:
            self.log("info", "administratively down, not started", peer, event="admin-down")
            return
        if limits.holding(self, peer) or bfd.holding(self, peer):
            return
        self._to_session(peer.address, se.Start(), now)

    def accept_commands(self) -> list[ev.AcceptFrom]:
        """What the listening sockets need for every peer (MD5 keys): the runtime carries
        these out before it listens, so no SYN is accepted unchecked."""
        return self.ranges.accept_commands(self.peers.values())  # and each dynamic range's

    def start_peer(self, peer: Peer, now: float) -> None:
        """EnablePeer: clear the administrative shutdown (and a prefix limit's hold) and
        start the session."""
        peer.admin_down = False
        limits.release(self, peer, "enabled by the operator")
        self._start(peer, now)

    def stop_peer(self, peer: Peer, note: Notification | None, why: str, now: float) -> None:
        """Stop the session (``note`` is sent when a connection is open)."""
        self._to_session(peer.address, se.Stop(note, why), now)

    def reset_peer(self, peer: Peer, note: Notification | None, why: str, now: float,
                   idle_hold: float = 0.0) -> None:
        """Stop with ``note``, then start again once every connection that carried it is
        gone (RFC 4271 §6: the NOTIFICATION is sent, then the connection is closed). A new
        connection before the peer has read the NOTIFICATION looks like our restart to a
        GR helper (RFC 4724 §4.2): FRR then drops the old session as "NSF peer closed the
        session" with the NOTIFICATION unread, and keeps our routes stale. ``idle_hold``:
        stay Idle (refusing connections) that many seconds first (idle-hold-time-after-reset)."""
        self.stop_peer(peer, note, why, now)
        if peer.admin_down:
            return
        peer.idle_until = now + idle_hold if idle_hold > 0 else None
        if peer.closing:
            peer.start_at = now + max(CLOSE_WAIT, idle_hold)
        elif peer.idle_until is not None:
            peer.start_at = peer.idle_until
        else:
            self._start(peer, now)

    def _closed(self, address: str, conn: int, now: float) -> None:
        """The runtime reports a connection gone: a reset waiting for it may start."""
        peer = self.peers.get(address)
        if peer is None or conn not in peer.closing:
            return
        peer.closing.discard(conn)
        if not peer.closing and peer.start_at is not None:
            if peer.idle_until is not None and peer.idle_until > now:
                peer.start_at = peer.idle_until
            else:
                self._start(peer, now)

    def remove_peer(self, peer: Peer, now: float, why: str) -> None:
        """Stop with Cease/Peer De-configured (spec section 6: Hard Reset where N is
        negotiated) and forget the peer and its routes."""
        note = withdraw_stop("", CeaseSubcode.PEER_DECONFIGURED)
        up = peer.session.state is State.ESTABLISHED
        self._session_outputs(peer, peer.session.handle(se.Stop(note, why), now), now)
        peer.gr.forget()
        left = 0  # kept stale for a restart of the peer (its session was down already)
        for adj in peer.adj_in.values():
            left += len(adj.clear())
        del self.peers[peer.address]
        self.emit(ev.AcceptFrom(peer.address, None))
        said = ["peer removed"] + ["Cease/Peer De-configured sent, the peer deletes our routes"] * up
        said += [f"the {left} stale routes we kept for it deleted"] * bool(left)
        self.log("info", f"{why}: {'; '.join(said)}", peer, "config", "peer-removed", reason=why,
                 session_was_up=up, stale_deleted=left)
        self.emit(ev.Notice("peer-removed", f"peer {peer.address} removed: {why}", peer.address))

    def _stop_all(self, graceful: bool, message: str, now: float) -> None:
        notice(self, "stopping", "stopping: " + ("sessions closed the graceful-restart way, peers keep "
               "our routes" if graceful else "withdrawing: peers delete our routes"), retain=graceful,
               text=message)
        self.stopping = True  # our own stop: no helper episodes for the peers we leave
        for peer in self.peers.values():
            neg = peer.session.negotiated
            # spec section 6: retain = Cease/Administrative Reset with N, else no NOTIFICATION;
            # withdraw = Hard Reset with N (the session unwraps it for a peer without N).
            note = (retain_stop(neg is not None and neg.notification_supported, message) if graceful
                    else withdraw_stop(message))
            self._to_session(peer.address, se.Stop(note, "graceful stop" if graceful else "stop"), now)

    def _to_session(self, address: str, event: se.Input, now: float) -> None:
        peer = self.peers.get(address)
        if peer is None:
            return
        self._session_outputs(peer, peer.session.handle(event, now), now)

    def _session_outputs(self, peer: Peer, outputs: Iterable[se.Output], now: float) -> None:
        out = self._out
        debug = self.debug
        for o in outputs:
            if isinstance(o, se.SendBytes):
                peer.stats.count_sent(o.data)
                out.append(ev.Send(peer.address, o.conn, o.data))
                if debug:
                    wirelog.count_sent(self.tallies, peer.address, o.data)
            elif isinstance(o, se.UpdateReceived):
                if debug:
                    wirelog.count_received(self.tallies, peer.address, o.result)
                self._apply(peer, o.result)
            elif isinstance(o, se.Connect):
                s = peer.settings
                out.append(ev.Connect(peer.address, o.conn, s.address, s.port, s.local_address, s.sockets))
            elif isinstance(o, se.CloseConnection):
                if peer.local_addresses.pop(o.conn, None) is not None:
                    self.own = nexthop.own_addresses(self.peers.values())
                if o.after_notification:
                    peer.closing.add(o.conn)
                out.append(ev.Close(peer.address, o.conn, o.after_notification))
            elif isinstance(o, se.StateChanged):
                self.log("info", f"{o.old.name} -> {o.new.name}: {o.reason}", peer, event="peer-state",
                         old=o.old.name, new=o.new.name, reason=o.reason)
                if o.new in (State.IDLE, State.ACTIVE) and o.old is not State.IDLE and o.reason:
                    peer.stats.last_error = o.reason
                if o.old is State.ESTABLISHED:
                    peer.stats.down_since = now
                out.append(ev.Notice("peer-state", f"peer {peer.address}: {o.old.name} -> {o.new.name}: "
                                     f"{o.reason}", peer.address,
                                     {"old": o.old.name, "new": o.new.name, "reason": o.reason}))
            elif isinstance(o, se.Established):
                self._established(peer, o.negotiated, now)
            elif isinstance(o, se.SessionDown):
                self._down(peer, o, now)
            elif isinstance(o, se.RouteRefreshReceived):
                refresh.received(self, peer, o, now)
            elif isinstance(o, se.NotificationReceived):
                out.append(wirelog.peer_notification(o.notification, peer.address))
                peer.stats.last_error = f"NOTIFICATION received: {o.notification.describe()}"
            elif isinstance(o, se.MessageTraced):
                out.append(wirelog.message_log(o.message, o.sent, peer.address))

    def log(self, level: str, message: str, peer: Peer | None = None, subsystem: str = "session",
             event: str = "", **fields: Any) -> None:  # events.Log: fields are JSON values
        self._out.append(ev.Log(level, message, peer.address if peer else None, subsystem, event, fields))

    def gate_open(self, family: Family) -> bool:
        """False while route selection for ``family`` is deferred (RFC 4724 §4.1)."""
        return self.restart_control.gate_open(family)

    def send(self, peer: Peer, data: bytes, now: float) -> None:
        """UPDATE octets to ``peer``'s Established session."""
        if data:
            self._session_outputs(peer, peer.session.send_update(data, now), now)

    # --- session up / down ---------------------------------------------------------------
    def _established(self, peer: Peer, neg: Negotiated, now: float, adopted: bool = False) -> None:
        conn = peer.established_conn()
        local_address = peer.local_addresses.get(conn, "") if conn is not None else ""
        info = PeerInfo(peer.index, peer.address, neg.peer_as, neg.peer_router_id, neg.ibgp,
                        peer.settings.rr_client)
        peer.info, peer.negotiated = info, neg
        peer.stats.established_count += 1
        v4, v6 = next_hops_for(local_address or self.router_id, self.router_id)
        policy = ExportPolicy(info, neg.local_as, self.router_id, v4, v6,
                              peer.settings.cluster_id if peer.settings.rr_client else None,
                              **peer.settings.export_options())
        families = [f for f in FAMILIES if f in neg.families]
        self._out.append(wirelog.session_up(neg, families, peer.address))
        peer.policy = policy
        self.restart_control.established(self, peer, neg, now)
        for family, adj in list(peer.adj_in.items()):
            adj.info = info  # the routes kept from the last session are this session's now
            if family not in families:
                adj.clear()
                del peer.adj_in[family]
        for family in families:
            export = self.drain_control.policy(self, peer, family)
            peer.open_family(family, neg, info, self.loc[family], self.changed, export, self.table,
                             self.policy_book, now)
        # RFC 4724 §4.2: our routes and End-of-RIB at once, not waiting for theirs; after our
        # restart, once selection is done (§4.1); not to a session handed over (core.handover).
        for family in () if adopted else families:
            self.restart_control.send_table(self, peer, family, now)
        self.restart_control.evaluate_deferral(self, now)

    def _down(self, peer: Peer, down: se.SessionDown, now: float) -> None:
        peer.adj_out.clear()
        peer.rejected.clear()
        peer.negotiated = None
        peer.eor_received.clear()
        peer.policy = None
        what = down.reason
        for label, note in (("sent", down.sent), ("received", down.received)):
            if note is not None and note.describe() not in what:
                what += f" ({label} {note.describe()})"
        peer.stats.last_error = what
        refresh.session_down(self, peer)  # before GR marks the routes
        self.restart_control.session_down(self, peer, down, what, now)
        self.restart_control.evaluate_deferral(self, now)

    def _timers(self, now: float) -> None:
        for peer in list(self.peers.values()):
            if peer.start_at is not None and peer.start_at <= now:
                peer.closing.clear()  # not reported gone in time: start anyway
                self._start(peer, now)
        for peer in limits.due(self, now):  # restart-timer of a prefix limit
            self._start(peer, now)
        for peer in self.peers.values():
            deadline = peer.session.next_deadline()
            if deadline is not None and deadline <= now:
                self._session_outputs(peer, peer.session.handle(se.TimerFired(), now), now)
        self.restart_control.timers(self, now)
        self.drain_control.timers(self, now)
        refresh.timers(self, now)

    # --- routes ----------------------------------------------------------------------
    def add_route(self, route: LocalRoute) -> tuple[Family, int]:
        """Originate ``route`` (ValueError on bad input)."""
        family, key, path = to_path(route, self.table)
        self.originate(family, key, path)
        return family, key

    def originate(self, family: Family, key: int, path: Path) -> None:
        if family not in self.loc:
            raise ValueError(f"{family} routes are not supported")
        self.local_routes[(family, key)] = path
        self.local_in[family].announce((key,), path, self.now)

    def delete_route(self, family: Family, key: int) -> bool:
        if self.local_routes.pop((family, key), None) is None:
            return False
        self.local_in[family].withdraw((key,))
        return True

    def _apply(self, peer: Peer, result: UpdateResult) -> None:
        """RFC 4271 §9 Phase 1-2 for one UPDATE; RFC 7606 treat-as-withdraw included."""
        info, u = peer.info, result.update
        if info is None or u is None or peer.negotiated is None:
            return  # (negotiated: the session went down earlier in this batch)
        withdraw_all = result.action == _TREAT_AS_WITHDRAW
        attrs = u.attrs if u.attrs is not None else _EMPTY
        if u.withdrawn or (withdraw_all and u.nlri):
            self._withdraw(peer, info, IPV4_UNICAST, u.withdrawn + (u.nlri if withdraw_all else ()))
        if u.mp_unreach is not None:
            self._withdraw(peer, info, u.mp_unreach.family, u.mp_unreach.withdrawn)
        if u.nlri and not withdraw_all:
            self._announce(peer, info, IPV4_UNICAST, u.nlri, attrs, (attrs.next_hop or "",))
        if u.mp_reach is not None:
            mp = u.mp_reach
            if withdraw_all:
                self._withdraw(peer, info, mp.family, mp.nlri)
            else:
                self._announce(peer, info, mp.family, mp.nlri, attrs, mp.next_hop)
        if peer.settings.prefix_limits:
            limits.check(self, peer, self.now)  # per UPDATE: len() of the tables
        if result.eor is not None:
            self.log("info", f"End-of-RIB received for {result.eor}", peer, event="eor-received",
                     family=str(result.eor))
            self.restart_control.end_of_rib(self, peer, result.eor, self.now)

    def _announce(self, peer: Peer, info: PeerInfo, family: Family, keys: Sequence[int], attrs: AttrSet,
                  next_hop: tuple[str, ...]) -> None:
        adj = peer.adj_in.get(family)
        if adj is None:
            return  # not negotiated: RFC 4760 §7 says ignore
        path = self.table.get(attrs, next_hop)
        rejected = peer.rejected.get(family)
        # RFC 4271 §9.1.2: a route whose AS_PATH holds our AS (more than allow-own-as times)
        # is not a candidate.
        loop = own_as_loop(attrs.as_path, self.local_as, peer.settings.allow_own_as)
        why = ("AS loop (our AS in AS_PATH, RFC 4271 §9.1.2)" if loop else nexthop.REASON
               if next_hop and next_hop[0] in self.own and nexthop.ignored(self, peer, family, next_hop,
                                                                          len(keys)) else None)
        if why is not None:  # the peer's previous route for these keys is replaced: withdrawn
            self._withdraw(peer, info, family, keys)
            if rejected is None:
                rejected = peer.rejected[family] = {}
            entry = (path, why)
            for k in keys:
                rejected[k] = entry
            return
        if rejected:
            for k in keys:
                rejected.pop(k, None)
        adj.announce(keys, path, self.now)

    def _withdraw(self, peer: Peer, info: PeerInfo, family: Family, keys: Sequence[int]) -> None:
        adj = peer.adj_in.get(family)
        if adj is None or not keys:
            return
        rejected = peer.rejected.get(family)
        if rejected:
            for k in keys:
                rejected.pop(k, None)
        adj.withdraw(keys)

    def request_refresh(self, peer: Peer, family: Family, now: float) -> None:
        """Send ROUTE-REFRESH for ``family`` (NotEstablishedError when not negotiated)."""
        self._session_outputs(peer, peer.session.send_route_refresh(family), now)

    def resend(self, peer: Peer, family: Family, now: float) -> None:
        """RFC 2918 §4: the peer asked for our routes of ``family`` again (or soft reset
        out); RFC 7313 §4: between BoRR and EoRR. In slices, as a new session's table."""
        refresh.answer(self, peer, family, now)

    def _flush(self, now: float) -> None:
        """Send what changed since the last flush to every Established peer."""
        targets = sum(1 for p in self.peers.values() if p.negotiated is not None)
        budget = max(10_000, self.flush_budget // max(1, targets))
        for family, dirty in self.changed.items():
            if not dirty or budget <= 0:
                continue
            loc = self.loc[family]
            if len(dirty) > budget:  # the rest at the next InputDrained (pending())
                keys = set(itertools.islice(dirty, budget))
                dirty.difference_update(keys)
                before = loc.take_before(keys)
            else:
                keys, self.changed[family] = dirty, set()
                loc.dirty = self.changed[family]
                before = loc.take_before()
            budget -= len(keys)
            self._out += routewatch.flushed(self, family, keys)  # and to the kernel FIB
            advertise_round(self, self.peers.values(), family, keys, before, now)
            for peer in self.peers.values():  # each Adj-RIB-In held or read from the Loc-RIB
                channel = peer.adj_in.get(family)
                if channel is not None:
                    channel.settle()
