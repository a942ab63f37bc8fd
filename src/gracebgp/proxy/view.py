"""What ``gracebgp proxy sessions`` shows of one session: the relay's records joined with
what only the runtime knows (addresses, ports, TCP states), times as Unix time."""

from __future__ import annotations

from dataclasses import dataclass

from gracebgp.api.proxy_schema import ProxyDirection, ProxyRehoming, ProxySession
from gracebgp.proxy.placement import SessionKind
from gracebgp.proxy.record import Direction
from gracebgp.proxy.relay import Phase, Relay, Upstream


@dataclass(slots=True)
class SessionMeta:
    """The runtime's facts about one session."""

    network: str
    interface: str
    vm_address: str
    vm_port: int
    facing_address: str
    kind: SessionKind
    nat_port: int
    upstream_address: str
    vm_tcp: str = "established"
    node_tcp: str = "connecting"


def _wall(t: float | None, offset: float) -> float | None:
    return None if t is None else round(t + offset, 3)


def _direction(d: Direction, offset: float) -> ProxyDirection:
    return ProxyDirection(counts=dict(d.counts), octets=d.octets, last_message=_wall(d.last_message, offset),
                          last_keepalive=_wall(d.last_keepalive, offset),
                          last_notification=d.last_notification,
                          last_notification_at=_wall(d.last_notification_at, offset))


def role(relay: Relay, kind: SessionKind) -> str:
    """primary/secondary as configured for this session; standby for any other node."""
    first = relay.nodes.index(relay.node) if relay.node in relay.nodes else -1
    if first == 0:
        return "primary" if kind is SessionKind.GATEWAY or len(relay.nodes) == 1 else "secondary"
    if first == 1:
        return "secondary" if kind is SessionKind.GATEWAY else "primary"
    return "standby"


def _vm_bgp(relay: Relay) -> str:
    if relay.phase is Phase.CLOSED:
        return "closed"
    if relay.phase in (Phase.ESTABLISHED, Phase.REHOMING):
        return "established"
    return "open-confirm" if relay.vm_open is not None and relay.node_open is not None else "open-sent"


def session_view(meta: SessionMeta, relay: Relay, offset: float) -> ProxySession:
    """``offset`` turns the relay's monotonic times into Unix time."""
    vm, node, neg = relay.vm_open, relay.node_open, relay.negotiated
    rehomings = [ProxyRehoming.model_validate(r.as_dict()) for r in relay.rehomings]
    for r in rehomings:
        r.started = _wall(r.started, offset) or 0.0
        r.upstream_up, r.finished = _wall(r.upstream_up, offset), _wall(r.finished, offset)
    node_bgp = relay.upstream.value if relay.phase is not Phase.OPENING else (
        "open-confirm" if node is not None else Upstream.OPEN_SENT.value)
    return ProxySession(
        network=meta.network, vm_interface=meta.interface, vm_address=meta.vm_address,
        vm_port=meta.vm_port, vm_facing_address=meta.facing_address, kind=meta.kind.value,
        nat_port=meta.nat_port, upstream_address=meta.upstream_address, control_node=relay.node,
        control_node_role=role(relay, meta.kind), control_nodes=list(relay.nodes),
        phase=relay.phase.value, vm_tcp=meta.vm_tcp, vm_bgp=_vm_bgp(relay), node_tcp=meta.node_tcp,
        node_bgp=node_bgp, hold_time=neg.hold_time if neg else None,
        vm_as=vm.asn if vm else None, vm_router_id=vm.bgp_id if vm else None,
        node_as=node.asn if node else None, node_router_id=node.bgp_id if node else None,
        established_since=_wall(relay.established_at, offset),
        prefixes_from_vm=relay.vm_routes.count(), prefixes_to_vm=relay.node_routes.count(),
        from_vm=_direction(relay.from_vm, offset), from_node=_direction(relay.from_node, offset),
        rehomings=rehomings, closed_reason=relay.closed_reason)
