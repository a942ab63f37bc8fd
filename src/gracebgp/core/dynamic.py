"""Dynamic neighbors (GoBGP's ``[[dynamic-neighbors]]``): passive sessions accepted from
any address inside a configured prefix, each taking its peer group's settings, created
when the connection arrives and forgotten when the session is gone.

    accepted connection from A, no configured peer A
        |- A in no range ..................... refused (closed)
        |- the longest prefix holding A ...... its range
        |- range at its max-peers ............ NOTIFICATION Cease/Out of Resources, closed
        '- else: peer A created (passive, the group's settings, "any AS" when the
           group's peer-as is omitted or 0), the connection handed to its session

    session of a dynamic peer down
        |- graceful restart helper episode ... kept (stale routes) until the peer comes
        |  (RFC 4724 §4.2, RFC 9494 §4.2)       back from A or the Restart Time (and any
        |                                       LLGR stale time) runs out
        '- otherwise ......................... forgotten at once

A configured neighbor (or one added through the API) for an address wins over every
range. A dynamic peer an operator shuts down stays (down, refusing its connections) until
it is enabled or deleted. The cap counts the range's peers that exist: connecting, up, or kept for a
graceful restart (a restarting peer keeps its slot).

Over the cap: RFC 4486 §3 gives Cease/Out of Resources for a speaker that "decides to
terminate a BGP connection due to out of resources"; it is sent on the accepted
connection at once, before any OPEN (RFC 4271 §4.5: a NOTIFICATION is sent when an
error condition is detected, and the connection is closed right after it), so the peer
logs why instead of seeing a bare close, and retries after its ConnectRetry time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from gracebgp.core import events as ev
from gracebgp.core.peer import NeighborSettings, Peer
from gracebgp.core.reload import ReloadHost, apply_settings
from gracebgp.session.state import State
from gracebgp.wire import Notification
from gracebgp.wire.iana import CeaseSubcode

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Inputs that end a session only by a state change the speaker reports ("peer-state").
_HOT = (ev.Received, ev.InputDrained, ev.Continue)


@dataclass(frozen=True, slots=True)
class DynamicRange:
    """One ``[[dynamic-neighbors]]`` entry: ``prefix``, the peer group's name, the group's
    settings (``template``: its address is the prefix's; ``session.peer_as`` None is any
    AS) and the most peers of this range that may exist at once (None: no limit)."""

    prefix: str
    group: str
    template: NeighborSettings
    max_peers: int | None = None

    @property
    def network(self) -> Network:
        return ipaddress.ip_network(self.prefix)

    def settings_for(self, address: str) -> NeighborSettings:
        """The settings of the peer at ``address``: the group's, passive (RFC 4271 §8.2.1.1:
        a dynamic peer is only ever accepted, never connected to)."""
        session = replace(self.template.session, peer_address=address, passive=True)
        return replace(self.template, address=address, session=session)


def _best(ranges: Iterable[DynamicRange], address: str) -> DynamicRange | None:
    """Longest prefix match: the most specific range holding ``address``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    holding = [r for r in ranges if ip.version == r.network.version and ip in r.network]
    return max(holding, key=lambda r: r.network.prefixlen, default=None)


class Ranges:
    """The configured ranges and the peers accepted through them (owned by the Speaker)."""

    def __init__(self, ranges: Sequence[DynamicRange] = ()) -> None:
        self.ranges: tuple[DynamicRange, ...] = tuple(ranges)
        self.members: dict[str, str] = {}  # peer address -> the prefix it was accepted through

    def match(self, address: str) -> DynamicRange | None:
        return _best(self.ranges, address)

    def covers(self, address: str) -> str | None:
        """``address`` when a range holds it (``Speaker.peer_for``: the runtime accepts the
        connection and reports it; whether a peer is made of it is decided in ``admit``)."""
        return address if self.ranges and _best(self.ranges, address) is not None else None

    def accept_commands(self, peers: Iterable[Peer]) -> list[ev.AcceptFrom]:
        """What the listeners need before they accept: each peer's options (its MD5 key),
        then each range's, its key scoped to the prefix (``runtime.sockopts``)."""
        return [ev.AcceptFrom(p.address, p.settings.sockets) for p in peers] + \
            [ev.AcceptFrom(r.prefix, r.template.sockets) for r in self.ranges]

    def count(self, prefix: str) -> int:
        return sum(1 for p in self.members.values() if p == prefix)

    # --- a connection arrives ------------------------------------------------------------
    def admit(self, sp: ReloadHost, inp: ev.Connected, now: float) -> Peer | None:
        """A peer for the accepted connection ``inp`` from an address no peer has, or None
        (the caller closes the connection)."""
        if inp.outgoing or (r := self.match(inp.peer)) is None:
            return None
        if r.max_peers is not None and self.count(r.prefix) >= r.max_peers:
            why = (f"connection from {inp.peer} refused: dynamic-neighbors range {r.prefix} has its "
                   f"max-peers ({r.max_peers}) peers already")
            sp.log("warning", why + "; sent Cease/Out of Resources (RFC 4486 §3)", None, "session",
                   "dynamic-peer-refused", peer_address=inp.peer, range=r.prefix, max_peers=r.max_peers)
            sp.emit(ev.Send(inp.peer, inp.conn, Notification.cease(CeaseSubcode.OUT_OF_RESOURCES).encode()))
            return None
        settings = r.settings_for(inp.peer)
        peer = sp.add_peer(settings, now, dynamic=True)
        peer.dynamic_range = r.prefix
        self.members[inp.peer] = r.prefix
        peer_as = settings.session.peer_as
        sp.log("info", f"dynamic peer accepted through range {r.prefix} (peer group {r.group!r}, "
               f"{'any AS' if peer_as is None else f'AS {peer_as}'})", peer, "config", "dynamic-peer-added",
               range=r.prefix, group=r.group, peer_as=peer_as)
        return peer

    # --- after each input ------------------------------------------------------------------
    def after_input(self, sp: ReloadHost, inp: ev.Input, out: Sequence[ev.Output], now: float) -> None:
        """After the speaker handled ``inp`` (its outputs: ``out``): a reload's new ranges
        (after the configured neighbors were applied), then the dynamic peers whose session
        is gone. The inputs of the hot path (bytes received, a flush, the next slice) are
        looked at only when a session changed state in them."""
        if isinstance(inp, ev.Reconfigured):
            self.reconfigure(sp, inp.ranges, inp.neighbors, now)
        if not self.members:
            return
        if isinstance(inp, _HOT) and not any(isinstance(o, ev.Notice) and o.kind == "peer-state"
                                             and o.peer in self.members for o in out):
            return
        self.sweep(sp)

    def sweep(self, sp: ReloadHost) -> None:
        """Forget the dynamic peers whose session is gone and who have no graceful-restart
        helper state left (RFC 4724 §4.2: the helper keeps a peer's routes for its Restart
        Time, so the peer stays until it comes back or that time is up)."""
        for address in [a for a in self.members if _gone(sp.peers.get(a))]:
            peer = sp.peers.get(address)
            del self.members[address]
            if peer is None or not peer.dynamic_range:
                continue  # removed (DeletePeer), or a configured neighbor now
            for adj in peer.adj_in.values():
                adj.clear()
            del sp.peers[address]
            sp.emit(ev.AcceptFrom(address, None))
            sp.log("info", f"dynamic peer forgotten: its session is down (range {peer.dynamic_range})",
                   peer, "config", "dynamic-peer-removed", range=peer.dynamic_range)
            sp.emit(ev.Notice("peer-removed", f"dynamic peer {address} removed: session down", address,
                              {"dynamic_range": peer.dynamic_range}))

    # --- reload --------------------------------------------------------------------------
    def reconfigure(self, sp: ReloadHost, ranges: Sequence[DynamicRange],
                    neighbors: Sequence[NeighborSettings], now: float) -> None:
        """A reload: the current dynamic peers are handled as configured neighbors would be
        whose configuration was removed (no range holds them any more) or changed (their
        range's settings changed, or another range holds them now). A configured neighbor
        for the address of a dynamic peer has been applied to it already (``reload``): the
        peer is that neighbor from now on."""
        old = {r.prefix: r for r in self.ranges}
        self.ranges = tuple(ranges)
        kept = {r.prefix for r in ranges}
        for prefix in old:
            if prefix not in kept:
                sp.emit(ev.AcceptFrom(prefix, None))
        for r in ranges:
            if r.prefix not in old or old[r.prefix].template.sockets != r.template.sockets:
                sp.emit(ev.AcceptFrom(r.prefix, r.template.sockets))
        static = {n.address for n in neighbors}
        for address in list(self.members):
            peer = sp.peers.get(address)
            if peer is None:
                del self.members[address]
                continue
            if address in static:
                del self.members[address]
                peer.dynamic, peer.dynamic_range = False, None
                sp.log("info", "a configured neighbor now (it was a dynamic peer)", peer, "config",
                       "dynamic-peer-configured")
                continue
            found = self.match(address)
            if found is None:
                del self.members[address]
                sp.remove_peer(peer, now, "removed from the configuration: no dynamic-neighbors range "
                                          "holds it any more")
                continue
            self.members[address] = peer.dynamic_range = found.prefix
            apply_settings(sp, peer, found.settings_for(address), now)


def _gone(peer: Peer | None) -> bool:
    """A dynamic peer with nothing left to keep: no connection, no session, no helper state.
    One an operator shut down (ShutdownPeer) stays, down, so that it cannot come straight
    back as a new peer; EnablePeer (or DeletePeer) ends that."""
    if peer is None:
        return True
    s = peer.session
    return (s.state in (State.IDLE, State.ACTIVE) and not s.connections and not peer.closing
            and not peer.gr.active and peer.start_at is None and not peer.admin_down)
