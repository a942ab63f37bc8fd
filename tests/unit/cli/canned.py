"""Canned API answers for the CLI's unit tests (schema objects, no daemon)."""

from __future__ import annotations

from typing import Any

from gracebgp.api.schema import (
    Condition,
    Event,
    Global,
    Health,
    MessageCounts,
    PathEntry,
    Peer,
    PeerFamily,
    RibSize,
)


def peer(address: str = "192.0.2.2", state: str = "Established", uptime: float | None = 3723.4,
         admin_down: bool = False, **extra: Any) -> Peer:
    families = [PeerFamily(family="ipv4-unicast", configured=True, negotiated=True, received=3,
                           accepted=2, advertised=5, stale=0),
                PeerFamily(family="ipv6-unicast", configured=True, negotiated=True, received=1,
                           accepted=1, advertised=2, stale=1)]
    fields: dict[str, Any] = {
        "address": address, "local_as": 65001, "peer_as": 65002, "state": state,
        "admin_down": admin_down, "dynamic": False, "uptime": uptime, "router_id": "192.0.2.2",
        "hold_time": 90, "keepalive_time": 30, "established_count": 1, "last_error": "",
        "families": families, "messages_received": MessageCounts(update=4),
        "messages_sent": MessageCounts(update=7), "graceful_restart": True,
        "peer_restart_time": 120, "stale_until": None,
    }
    fields.update(extra)
    return Peer(**fields)


def path(prefix: str = "10.0.0.0/24", best: bool = True, stale: bool = False,
         source: str | None = "192.0.2.2",
         rejected: str | None = None, attrs_text: str = "origin igp as-path [65002]",
         multipath: bool = False, path_id: int | None = None) -> PathEntry:
    return PathEntry(prefix=prefix, family="ipv4-unicast", next_hop=["192.0.2.2"], source=source, best=best,
                     stale=stale, rejected=rejected, age=65.0, attrs={"origin": "igp"}, attrs_text=attrs_text,
                     multipath=multipath, path_id=path_id)


def global_(node: str = "edge1", router_id: str = "192.0.2.1") -> Global:
    return Global(version="0.1.0", node=node, asn=65001, router_id=router_id, listen_port=179,
                  listen_addresses=["192.0.2.1"], uptime=90061.0, peers=2, established=1,
                  rib=[RibSize(family="ipv4-unicast", prefixes=10, paths=12)], sigterm="retain",
                  forwarding_state_preserved=True)


def health(healthy: bool = False) -> Health:
    conditions = [] if healthy else [Condition(type="PeerDown", severity="error", subject="192.0.2.9",
                                               reason="Idle", message="session down since 5m")]
    return Health(healthy=healthy, conditions=conditions)


def event(seq: int = 1, kind: str = "peer-state", message: str = "Established") -> Event:
    return Event(seq=seq, time=1_700_000_000.0, kind=kind, peer="192.0.2.2", message=message)
