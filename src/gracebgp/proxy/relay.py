"""One proxied BGP session, VM <-> control node, as a sans-IO state machine (issue 20).

Both byte streams are cut into BGP messages (RFC 4271 §4.1) and passed on unchanged by
default, so the control node sees the VM's own OPEN; on the way the relay records each
side's OPEN, the negotiated session, the routes each side announced and counts per type.
Options: the next hop sent to the VM becomes the gateway address (RFC 4271 §5.1.3), and a
per-session prefix limit (RFC 4486 §4 Cease / Maximum Number of Prefixes Reached).

A VM message that does not decode ends that VM's session only, with the NOTIFICATION
RFC 4271 §6 / RFC 7606 §2-§5 names (treat-as-withdraw and attribute-discard UPDATEs pass,
the control node applies the same rules).

Re-homing (item 4): when the established control node fails (connection lost, our Hold
Timer for it expired, RFC 4271 §6.5, or it closed with a Cease or its own Hold Timer
Expired; a Cease for too many prefixes, RFC 4486 §4, is the VM's doing and reaches the
VM, as does any other NOTIFICATION: it judges what the VM sent) the relay opens the next node of
its list with the VM's recorded OPEN, checks the node's OPEN against what the VM negotiated
(``compat``), answers it with a KEEPALIVE, replays the VM's routes then what the VM sent
meanwhile (buffered within a bound) then End-of-RIB (RFC 4724 §2), keeps the VM's session
alive with KEEPALIVEs within its Hold Time (RFC 4271 §4.4), passes the new node's routes
to the VM as replacements and, after the node's End-of-RIB (or ``eor_timeout``), withdraws
from the VM only what the new node did not send. When no node can take the session, its
connection is closed as if the node had gone (a Cease only when both OPENs had RFC 8538's
N bit), so that the VM's graceful restart keeps the routes::

    CONNECTING --node up--> OPENING --OPENs + KEEPALIVEs both ways--> ESTABLISHED
        ^                                                               |    ^
        |                                                node fails     v    | EoR / timeout
        +-- next node <---- REHOMING (connect, OPEN, KEEPALIVE, replay, sync)
    any --VM error / NOTIFICATION / close, no node left--> CLOSED
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from gracebgp.errors import CodecError
from gracebgp.proxy.actions import (
    KEEPALIVE_BYTES,
    REHOMINGS_KEPT,
    Action,
    Close,
    Connect,
    Leg,
    Phase,
    RelayOptions,
    Send,
    Upstream,
    cease,
    message,
)
from gracebgp.proxy.compat import incompatibility, negotiate_legs
from gracebgp.proxy.record import Direction, Rehoming
from gracebgp.proxy.routes import RouteTable, rewrite_next_hop, withdrawals
from gracebgp.session.negotiate import Negotiated, keepalive_time
from gracebgp.types import Family
from gracebgp.wire import (
    DEFAULT_CONTEXT,
    CodecContext,
    Framer,
    Notification,
    Open,
    UpdateAction,
    encode_update,
    end_of_rib,
    parse_update,
)
from gracebgp.wire.iana import CeaseSubcode, MessageType, NotificationCode

# the vocabulary, for the runtime and the tests
__all__ = ["Action", "Close", "Connect", "Leg", "Phase", "Relay", "RelayOptions", "Send", "Upstream"]


def _node_failed(notification: Notification) -> bool:
    """A NOTIFICATION from an Established control node that says the node failed, not
    that the VM did something wrong: the session is re-homed and the VM never sees it.
    A node leaving (Cease), or one whose Hold Timer expired (RFC 4271 §6.5: it went
    without our KEEPALIVEs for its Hold Time, e.g. it was stalled and read them too
    late; the VM's liveness is the proxy's own timer's business). Not a Cease for too
    many prefixes (RFC 4486 §4): every node would refuse the same routes, so the VM is
    told why."""
    if notification.code == NotificationCode.CEASE:
        return notification.subcode != CeaseSubcode.MAX_PREFIXES_REACHED
    return notification.code == NotificationCode.HOLD_TIMER_EXPIRED


@dataclass(slots=True)
class _Sync:
    """A re-homing in progress."""

    record: Rehoming
    old_routes: RouteTable  # what the VM may still hold from earlier nodes
    new_routes: RouteTable = field(default_factory=RouteTable)
    buffered: list[bytes] = field(default_factory=list)
    buffered_octets: int = 0
    tried: set[str] = field(default_factory=set)
    deadline: float = 0.0
    eor_pending: set[Family] = field(default_factory=set)

    def restart(self) -> None:
        """A candidate failed: what it sent the VM joins what the VM may hold (withdrawn
        after the next node's End-of-RIB unless that node has it too)."""
        if self.new_routes.count():
            self.old_routes = self.old_routes.union(self.new_routes)
            self.new_routes = RouteTable()
        self.eor_pending = set()


class Relay:
    """One VM session and its upstream leg. Feed it facts, execute the actions it returns
    in order; ``next_deadline`` says when ``tick`` wants to run."""

    def __init__(self, nodes: tuple[str, ...], options: RelayOptions | None = None) -> None:
        if not nodes:
            raise ValueError("a relay needs at least one control node")
        self.nodes = nodes
        self.options = options or RelayOptions()
        self.node = nodes[0]
        self.phase = Phase.CONNECTING
        self.upstream = Upstream.CONNECT
        self.vm_open: Open | None = None
        self.vm_open_bytes = b""
        self.node_open: Open | None = None
        self.negotiated: Negotiated | None = None  # with the node the VM negotiated with
        self.negotiated_with: Open | None = None  # that node's OPEN
        self.upstream_hold = 0
        self.vm_routes = RouteTable()
        self.node_routes = RouteTable()
        self.from_vm = Direction()
        self.from_node = Direction()
        self.rehomings: list[Rehoming] = []
        self.established_at: float | None = None
        self.closed_reason = ""
        self._vm_framer = Framer()
        self._node_framer = Framer()
        self._pending: list[bytes] = []  # VM messages before the first upstream connection
        self._keepalive_seen = {Leg.VM: False, Leg.NODE: False}
        self._last_rx = {Leg.VM: 0.0, Leg.NODE: 0.0}
        self._last_tx = {Leg.VM: 0.0, Leg.NODE: 0.0}
        self._tried: set[str] = set()
        self._attempt_deadline: float | None = None
        self._sync: _Sync | None = None
        self._paused: set[Leg] = set()  # legs the runtime does not read (flow control)
        #: The nodes the VM's other sessions use now (the runtime sets it): a re-homing
        #: tries the others first, so a control node that keys peers by address (most
        #: speakers; RFC 4271 §6.8 collision) never gets two sessions of one VM.
        self.busy_nodes: Callable[[], Collection[str]] = frozenset

    # --- contexts -----------------------------------------------------------------------

    @property
    def vm_hold(self) -> int:
        return self.negotiated.hold_time if self.negotiated else 0

    def _vm_ctx(self) -> CodecContext:
        return self.negotiated.rx_context() if self.negotiated else DEFAULT_CONTEXT

    def _node_ctx(self) -> CodecContext:
        return self.negotiated.tx_context() if self.negotiated else DEFAULT_CONTEXT

    # --- facts from the runtime -----------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        self._last_rx[Leg.VM] = now
        return self._attempt(now)

    def node_connected(self, now: float) -> list[Action]:
        self._last_rx[Leg.NODE] = now
        if self.phase is Phase.CONNECTING:
            self.phase, self.upstream = Phase.OPENING, Upstream.OPEN_SENT  # deadline kept
            out: list[Action] = [self._send(Leg.NODE, data, now) for data in self._pending]
            self._pending.clear()
            return out
        if self.phase is Phase.REHOMING:
            self.upstream = Upstream.OPEN_SENT
            return [self._send(Leg.NODE, self.vm_open_bytes, now)]
        return []

    def node_failed(self, now: float, reason: str) -> list[Action]:
        """The upstream connection could not be opened, was reset or closed."""
        if self.phase is Phase.CLOSED:
            return []
        self.upstream = Upstream.DOWN
        return self._node_gone(now, reason, [])

    def vm_closed(self, now: float, reason: str) -> list[Action]:
        if self.phase is Phase.CLOSED:
            return []
        # mirrored: the node sees the TCP connection go, as it would without the proxy, so
        # its graceful restart (RFC 4724 §4.2) keeps the VM's routes
        return self._close_all(f"VM closed: {reason}", None, None)

    def pause(self, leg: Leg) -> None:
        """The runtime stopped reading ``leg`` because the other leg's peer is slow to
        take what it sent (flow control): what ``leg`` sends now waits in TCP, KEEPALIVEs
        too, so its Hold Timer (RFC 4271 §6.5) is not run until ``resume``."""
        self._paused.add(leg)

    def resume(self, leg: Leg, now: float) -> None:
        """Reading ``leg`` again: its Hold Timer starts afresh."""
        if leg in self._paused:
            self._paused.discard(leg)
            self._last_rx[leg] = max(self._last_rx[leg], now)

    def vm_bytes(self, data: bytes, now: float) -> list[Action]:
        out: list[Action] = []
        self._vm_framer.push(data)
        while self.phase is not Phase.CLOSED:
            try:
                msg = self._vm_framer.next_message()
            except CodecError as exc:  # RFC 4271 §6.1
                return out + self._vm_error(Notification.from_error(exc), exc.reason)
            if msg is None:
                break
            out += self._from_vm(msg[0], msg[1], now)
        return out

    def node_bytes(self, data: bytes, now: float) -> list[Action]:
        out: list[Action] = []
        self._node_framer.push(data)
        while self.phase is not Phase.CLOSED and self.upstream is not Upstream.DOWN:
            try:
                msg = self._node_framer.next_message()
            except CodecError as exc:
                return out + self._node_error(now, Notification.from_error(exc), exc.reason)
            if msg is None:
                break
            out += self._from_node(msg[0], msg[1], now)
        return out

    def tick(self, now: float) -> list[Action]:
        """Hold timers (RFC 4271 §6.5), KEEPALIVEs we owe (§4.4), re-homing deadlines."""
        out: list[Action] = []
        if self.phase is Phase.CLOSED:
            return out
        if self._attempt_deadline is not None and now >= self._attempt_deadline:
            self.upstream = Upstream.DOWN
            return self._node_gone(now, "no session with the control node in time",
                                   [Close(Leg.NODE, "attempt timed out")])
        sync = self._sync
        if sync is not None and sync.eor_pending and self.upstream is Upstream.ESTABLISHED \
                and now >= sync.deadline:
            for family in sorted(sync.eor_pending):
                out += self._node_eor(family, now)
        vm_hold = self.vm_hold
        if vm_hold and self.phase in (Phase.ESTABLISHED, Phase.REHOMING):
            if now - self._last_rx[Leg.VM] > vm_hold and Leg.VM not in self._paused:
                return out + self._vm_error(Notification(NotificationCode.HOLD_TIMER_EXPIRED, 0),
                                            "VM hold timer expired")
            if now - self._last_tx[Leg.VM] >= keepalive_time(None, vm_hold):
                out.append(self._send(Leg.VM, KEEPALIVE_BYTES, now))
        hold = self.upstream_hold
        if hold and self.upstream is Upstream.ESTABLISHED and self.phase is not Phase.OPENING:
            if now - self._last_rx[Leg.NODE] > hold and Leg.NODE not in self._paused:
                notification = Notification(NotificationCode.HOLD_TIMER_EXPIRED, 0)
                return out + self._node_error(now, notification, "control node hold timer expired")
            if now - self._last_tx[Leg.NODE] >= keepalive_time(None, hold):
                out.append(self._send(Leg.NODE, KEEPALIVE_BYTES, now))
        return out

    def next_deadline(self) -> float | None:
        if self.phase is Phase.CLOSED:
            return None
        times: list[float] = []
        if self._attempt_deadline is not None:
            times.append(self._attempt_deadline)
        if self._sync is not None and self._sync.eor_pending and self.upstream is Upstream.ESTABLISHED:
            times.append(self._sync.deadline)
        vm_hold = self.vm_hold
        if vm_hold and self.phase in (Phase.ESTABLISHED, Phase.REHOMING):
            times.append(self._last_tx[Leg.VM] + keepalive_time(None, vm_hold))
            if Leg.VM not in self._paused:
                times.append(self._last_rx[Leg.VM] + vm_hold + 0.001)
        hold = self.upstream_hold
        if hold and self.upstream is Upstream.ESTABLISHED and self.phase is not Phase.OPENING:
            times.append(self._last_tx[Leg.NODE] + keepalive_time(None, hold))
            if Leg.NODE not in self._paused:
                times.append(self._last_rx[Leg.NODE] + hold + 0.001)
        return min(times) if times else None

    # --- the proxy's own upgrade (proxy.snapshot) ------------------------------------------

    def clocks(self) -> dict[str, dict[str, float]]:
        """When each leg last received and sent (the hold and keepalive timers)."""
        return {"rx": {leg.value: t for leg, t in self._last_rx.items()},
                "tx": {leg.value: t for leg, t in self._last_tx.items()}}

    def unread(self, leg: Leg) -> bytes:
        """Octets of ``leg`` read but not yet a complete message."""
        return (self._vm_framer if leg is Leg.VM else self._node_framer).unread()

    def adopt(self, clocks: dict[str, dict[str, float]], unread: dict[Leg, bytes]) -> None:
        """An Established session taken over from another process: its timers and the
        octets it had read of each leg's next message (``vm_bytes``/``node_bytes`` go on
        from there)."""
        assert self.negotiated is not None
        self.phase, self.upstream = Phase.ESTABLISHED, Upstream.ESTABLISHED
        self._keepalive_seen = {Leg.VM: True, Leg.NODE: True}
        self._tried = {self.node}
        for leg in Leg:
            self._last_rx[leg] = float(clocks["rx"][leg.value])
            self._last_tx[leg] = float(clocks["tx"][leg.value])
        size = self._vm_ctx().max_message_len
        self._vm_framer, self._node_framer = Framer(size), Framer(size)
        self._vm_framer.push(unread[Leg.VM])
        self._node_framer.push(unread[Leg.NODE])

    # --- VM to control node ---------------------------------------------------------------

    def _from_vm(self, mtype: int, body: bytes, now: float) -> list[Action]:
        raw = message(mtype, body)
        self._last_rx[Leg.VM] = now
        self.from_vm.saw(mtype, len(raw), now)
        if mtype == MessageType.OPEN:
            try:
                self.vm_open = Open.decode(body)
            except CodecError as exc:  # RFC 4271 §6.2
                return self._vm_error(Notification.from_error(exc), exc.reason)
            self.vm_open_bytes = raw
            self._negotiate()
        elif mtype == MessageType.KEEPALIVE:
            if self.phase in (Phase.CONNECTING, Phase.OPENING):  # held back or passed on
                self._keepalive_seen[Leg.VM] = True
                self._maybe_established(now)
            if self.phase is Phase.REHOMING and self.upstream is not Upstream.ESTABLISHED:
                return []  # the new node has its own KEEPALIVEs from us
        elif mtype == MessageType.NOTIFICATION:
            try:
                notification = Notification.decode(body)
            except CodecError:
                notification = Notification(0, 0, body)
            self.from_vm.notified(notification, now)
            node_up = self.upstream not in (Upstream.DOWN, Upstream.CONNECT)
            sends = [self._send(Leg.NODE, raw, now)] if node_up else []
            return sends + self._close_all(f"VM sent {notification.describe()}", None, None)
        elif mtype == MessageType.UPDATE:
            result = parse_update(body, self._vm_ctx())
            if result.action == UpdateAction.SESSION_RESET:  # RFC 7606 §2, RFC 4271 §6.3
                error = result.error or CodecError(NotificationCode.UPDATE_MESSAGE_ERROR, 0)
                return self._vm_error(Notification.from_error(error), error.reason)
            self.vm_routes.apply(result)
            limit = self.options.prefix_limit
            if limit is not None and self.vm_routes.count() > limit:
                return self._prefix_limit(limit)
        return self._to_node(raw, mtype, now)

    def _to_node(self, raw: bytes, mtype: int, now: float) -> list[Action]:
        if self.phase is Phase.CONNECTING:
            self._pending.append(raw)
            return []
        sync = self._sync
        if sync is not None and self.upstream is not Upstream.ESTABLISHED:
            if mtype == MessageType.OPEN:
                return []
            sync.buffered.append(raw)
            sync.buffered_octets += len(raw)
            sync.record.buffered_updates += mtype == MessageType.UPDATE
            if sync.buffered_octets > self.options.buffer_limit:
                return self._give_up(now, f"more than {self.options.buffer_limit} octets from the VM "
                                          "while re-homing")
            return []
        return [self._send(Leg.NODE, raw, now)]

    def _prefix_limit(self, limit: int) -> list[Action]:
        # RFC 4486 §4: AFI (2), SAFI (1), upper bound (4). The limit counts every family of
        # the session; the NOTIFICATION names the one holding most of the prefixes.
        family = max(self.vm_routes.families, key=self.vm_routes.count_of)
        data = family.afi.to_bytes(2, "big") + bytes([family.safi]) + limit.to_bytes(4, "big")
        notification = Notification(NotificationCode.CEASE, CeaseSubcode.MAX_PREFIXES_REACHED, data)
        return self._vm_error(notification, f"VM announced more than {limit} prefixes")

    def _vm_error(self, notification: Notification, reason: str) -> list[Action]:
        """End this VM's session (and only it) with ``notification`` to the VM."""
        return self._close_all(reason, notification, cease(f"VM session ended ({reason})"))

    # --- control node to VM ---------------------------------------------------------------

    def _from_node(self, mtype: int, body: bytes, now: float) -> list[Action]:
        raw = message(mtype, body)
        self._last_rx[Leg.NODE] = now
        self.from_node.saw(mtype, len(raw), now)
        if mtype == MessageType.OPEN:
            try:
                node_open = Open.decode(body)
            except CodecError as exc:
                return self._node_error(now, Notification.from_error(exc), exc.reason)
            if self.phase is Phase.REHOMING:
                return self._rehome_open(node_open, now)
            self.node_open = node_open
            self._negotiate()
        elif mtype == MessageType.KEEPALIVE:
            if self.phase is Phase.OPENING:
                self._keepalive_seen[Leg.NODE] = True
                self._maybe_established(now)
            elif self.phase is Phase.REHOMING:
                if self.upstream is Upstream.OPEN_CONFIRM:
                    return self._upstream_established(now)
                return []
        elif mtype == MessageType.NOTIFICATION:
            try:
                notification = Notification.decode(body)
            except CodecError:
                notification = Notification(0, 0, body)
            self.from_node.notified(notification, now)
            # a node that failed (``_node_failed``), or any NOTIFICATION from a re-homing
            # candidate (its OPEN refused: Bad Peer AS, Unacceptable Hold Time...): the VM,
            # Established, never sees it
            if self.phase is Phase.REHOMING or (self.phase is Phase.ESTABLISHED and
                                                _node_failed(notification)):
                self.upstream = Upstream.DOWN
                return self._node_gone(now, f"control node sent {notification.describe()}",
                                       [Close(Leg.NODE, "NOTIFICATION received")])
            reason = f"control node sent {notification.describe()}"
            return [self._send(Leg.VM, raw, now), *self._close_all(reason, None, None)]
        elif mtype == MessageType.UPDATE:
            return self._node_update(raw, body, now)
        if self.phase is Phase.REHOMING:
            return []
        return [self._send(Leg.VM, raw, now)]

    def _node_update(self, raw: bytes, body: bytes, now: float) -> list[Action]:
        ctx = self._node_ctx()
        result = parse_update(body, ctx)
        if result.action == UpdateAction.SESSION_RESET:
            error = result.error or CodecError(NotificationCode.UPDATE_MESSAGE_ERROR, 0)
            return self._node_error(now, Notification.from_error(error), error.reason)
        sync = self._sync
        if result.eor is not None and sync is not None:
            return self._node_eor(result.eor, now)
        (sync.new_routes if sync is not None else self.node_routes).apply(result)
        update = result.update
        opts = self.options
        if update is not None and result.eor is None and (opts.next_hop_ipv4 or opts.next_hop_ipv6):
            changed = rewrite_next_hop(update, opts.next_hop_ipv4, opts.next_hop_ipv6, ctx.as4)
            if changed is not update:
                raw = encode_update(changed, ctx)
        return [self._send(Leg.VM, raw, now)]

    def _node_error(self, now: float, notification: Notification, reason: str) -> list[Action]:
        """The control node broke the protocol or went silent: tell it, drop the leg and
        re-home (the VM did nothing wrong)."""
        self.upstream = Upstream.DOWN
        out: list[Action] = [self._send(Leg.NODE, notification.encode(), now),
                             Close(Leg.NODE, reason)]
        return self._node_gone(now, reason, out)

    # --- opening ------------------------------------------------------------------------

    def _negotiate(self) -> None:
        if self.vm_open is not None and self.node_open is not None and self.phase is Phase.OPENING:
            self.negotiated = negotiate_legs(self.node_open, self.vm_open)
            self.negotiated_with = self.node_open
            self.upstream_hold = self.negotiated.hold_time if self.negotiated else 0
            ctx = self._vm_ctx()
            self._vm_framer.max_len = self._node_framer.max_len = ctx.max_message_len

    def _maybe_established(self, now: float) -> None:
        if all(self._keepalive_seen.values()) and self.negotiated is not None:
            self.phase, self.upstream = Phase.ESTABLISHED, Upstream.ESTABLISHED
            self.established_at = now
            self._attempt_deadline = None  # the OPEN exchange is bounded too (RFC 4271 §8.2.2)

    def _attempt(self, now: float) -> list[Action]:
        candidates = [n for n in self.nodes if n not in self._tried]
        if self._sync is not None:
            busy = self.busy_nodes()
            candidates.sort(key=lambda n: n in busy)  # stable: configured order otherwise
        if not candidates:
            failures = self._sync.record.failures if self._sync is not None else []
            last = f" (last: {failures[-1]})" if failures else ""
            return self._give_up(now, "no control node could take the session" + last)
        self.node = candidates[0]
        self._tried.add(self.node)
        if self._sync is not None:
            self._sync.record.tried.append(self.node)
        self.upstream = Upstream.CONNECT
        self._node_framer = Framer(self._node_framer.max_len)
        self._attempt_deadline = now + self.options.attempt_timeout
        return [Connect(self.node)]

    def _node_gone(self, now: float, reason: str, out: list[Action]) -> list[Action]:
        self._attempt_deadline = None
        if self._sync is not None:
            self._sync.record.failures.append(reason)
            self._sync.restart()
        if self.phase is Phase.CONNECTING or self.phase is Phase.REHOMING:
            return out + self._attempt(now)
        if self.phase is Phase.ESTABLISHED and self.options.rehome:
            return out + self._start_rehome(now, reason)
        return out + self._close_all(reason, self._leaving(f"control node lost ({reason})"), None)

    def _give_up(self, now: float, reason: str) -> list[Action]:
        if self._sync is not None:
            self._sync.record.outcome = f"failed: {reason}"
            self._sync.record.finished = now
            self._sync = None
        node = None if self.upstream is Upstream.DOWN else cease(reason)
        return self._close_all(reason, self._leaving(reason), node)

    def _leaving(self, reason: str) -> Notification | None:
        """What the VM gets when no control node is left: an Established VM keeps the
        routes (its graceful restart, RFC 4724 §4.2) only after a TCP failure, unless both
        OPENs carried the N bit (RFC 8538 §4: then a Cease other than Hard Reset keeps them
        too), so without the N bit the connection is only closed; a VM not Established yet
        is told why."""
        neg = self.negotiated
        if self.phase in (Phase.ESTABLISHED, Phase.REHOMING) and not (neg and neg.notification_supported):
            return None
        return cease(reason)

    def _close_all(self, reason: str, to_vm: Notification | None,
                   to_node: Notification | None) -> list[Action]:
        out: list[Action] = []
        if to_vm is not None:
            out.append(Send(Leg.VM, to_vm.encode()))
        out.append(Close(Leg.VM, reason))
        if self.upstream is not Upstream.DOWN:  # connected, or a connection being opened
            if to_node is not None and self.upstream is not Upstream.CONNECT:
                out.append(Send(Leg.NODE, to_node.encode()))
            out.append(Close(Leg.NODE, reason))
        self.phase, self.upstream = Phase.CLOSED, Upstream.DOWN
        self.closed_reason = reason
        self._attempt_deadline = None
        return out

    def _send(self, leg: Leg, data: bytes, now: float) -> Send:
        self._last_tx[leg] = now
        return Send(leg, data)

    # --- re-homing ------------------------------------------------------------------------

    def _start_rehome(self, now: float, reason: str) -> list[Action]:
        record = Rehoming(started=now, from_node=self.node, reason=reason)
        self.rehomings.append(record)
        del self.rehomings[:-REHOMINGS_KEPT]
        self._sync = _Sync(record, self.node_routes, tried=set(self._tried))
        self._tried = {self.node}
        self.phase = Phase.REHOMING
        return self._attempt(now)

    def _rehome_open(self, node_open: Open, now: float) -> list[Action]:
        assert self.vm_open is not None and self.negotiated is not None
        new = negotiate_legs(node_open, self.vm_open)
        problem = "the node's OPEN is invalid" if new is None else incompatibility(self.negotiated, new)
        if problem is not None or new is None:
            self.upstream = Upstream.DOWN
            refusal = Notification.cease(CeaseSubcode.OTHER_CONFIGURATION_CHANGE)
            return self._node_gone(now, f"{self.node}: {problem}",
                                   [self._send(Leg.NODE, refusal.encode(), now),
                                    Close(Leg.NODE, problem or "")])
        self.node_open = node_open
        self.upstream_hold = new.hold_time
        self.upstream = Upstream.OPEN_CONFIRM
        return [self._send(Leg.NODE, KEEPALIVE_BYTES, now)]

    def _upstream_established(self, now: float) -> list[Action]:
        sync = self._sync
        assert sync is not None and self.negotiated is not None
        self.upstream = Upstream.ESTABLISHED
        self._attempt_deadline = None
        sync.record.to_node = self.node
        sync.record.upstream_up = now
        ctx = self._vm_ctx()
        out: list[Action] = []
        for data in self.vm_routes.replay(ctx):  # live: with what the VM sent meanwhile
            out.append(self._send(Leg.NODE, data, now))
        sync.record.replayed_updates = len(out)
        out += [self._send(Leg.NODE, data, now) for data in sync.buffered]
        families = sorted(self.negotiated.families)
        out += [self._send(Leg.NODE, end_of_rib(f, ctx), now) for f in families]  # RFC 4724 §2
        sync.buffered.clear()
        sync.buffered_octets = 0
        sync.eor_pending = set(families) | set(sync.old_routes.families)
        sync.deadline = now + self.options.eor_timeout
        return out

    def _node_eor(self, family: Family, now: float) -> list[Action]:
        """The new node finished ``family``: withdraw from the VM what it no longer has."""
        sync = self._sync
        assert sync is not None
        out: list[Action] = []
        if family in sync.eor_pending:
            sync.eor_pending.discard(family)
            gone = sync.old_routes.missing_from(sync.new_routes, family)
            sync.record.withdrawn_from_vm += len(gone)
            out += [self._send(Leg.VM, data, now) for data in withdrawals(family, gone, self._node_ctx())]
        if not sync.eor_pending:
            self.node_routes = sync.new_routes
            sync.record.finished = now
            sync.record.outcome = "re-homed"
            self._sync = None
            self.phase = Phase.ESTABLISHED
        return out
