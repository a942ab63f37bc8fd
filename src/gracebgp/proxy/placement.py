"""Where a proxied VM session goes: its control nodes in order and its NAT source port.

Selection (issue 20 item 1, after Tungsten Fabric's BGPaaS): the gateway session goes to
the primary control node and the service session to the secondary, so that one control
node failure leaves the VM one session. With one or two control nodes the configured order
decides (first = primary); with more, rendezvous hashing (highest random weight) over the
VM interface ranks the nodes, so adding or removing a node moves only the sessions whose
first choices change. The rest of the ranking is the re-homing order.

NAT source ports: each (network, VM interface, session) gets a port of the configured
range. The port is a hash of the key, probed forward past taken ports; ``plan`` assigns a
whole configured set in one deterministic order (preferred port, then key), so the same
configuration always gives the same ports and no two sessions share one. The ports an
earlier run used (remembered in the state directory by the daemon) are kept first, so a
session added to the file never moves an existing session's port.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class SessionKind(StrEnum):
    """The VM-facing address a session was opened to."""

    GATEWAY = "gateway"
    SERVICE = "service"


def _weight(*parts: str) -> int:
    """A stable 64-bit hash (never Python's per-process ``hash``)."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rank_nodes(network: str, interface: str, nodes: Sequence[str]) -> tuple[str, ...]:
    """Every control node, best first, for one VM interface (both its sessions share it)."""
    if len(nodes) <= 2:
        return tuple(nodes)
    return tuple(sorted(nodes, key=lambda n: (-_weight(network, interface, n), n)))


def nodes_for(network: str, interface: str, kind: SessionKind, nodes: Sequence[str]) -> tuple[str, ...]:
    """The control nodes of one session in the order to use them: the gateway session's
    first is the primary, the service session's first the secondary (always another node
    when there are two or more); the others follow in ranking order for re-homing."""
    ranked = rank_nodes(network, interface, nodes)
    if kind is SessionKind.SERVICE and len(ranked) >= 2:
        return (ranked[1], ranked[0], *ranked[2:])
    return ranked


@dataclass(frozen=True, slots=True)
class PortKey:
    """One proxied session as the NAT port allocator sees it."""

    network: str
    interface: str
    kind: SessionKind

    def text(self) -> str:
        return f"{self.network}/{self.interface}/{self.kind.value}"


class PortRangeFull(ValueError):
    """More sessions than ports in the range."""


def preferred_port(key: PortKey, low: int, high: int) -> int:
    return low + _weight("nat", key.text()) % (high - low + 1)


def plan(keys: Iterable[PortKey], low: int, high: int,
         kept: Mapping[str, int] | None = None) -> dict[PortKey, int]:
    """One distinct port in ``low..high`` per key, the same for the same set of keys.
    ``kept`` (key text -> port, what an earlier run used) wins: a key keeps its port
    when it is still in the range and no other key kept it first (in key order)."""
    if not 0 < low <= high <= 0xFFFF:
        raise ValueError(f"NAT port range {low}-{high} is not within 1-65535")
    size = high - low + 1
    ordered = sorted(set(keys), key=lambda k: (preferred_port(k, low, high), k.text()))
    if len(ordered) > size:
        raise PortRangeFull(f"{len(ordered)} sessions do not fit in NAT ports {low}-{high}")
    taken: set[int] = set()
    out: dict[PortKey, int] = {}
    for key in sorted(ordered, key=PortKey.text):
        port = (kept or {}).get(key.text())
        if port is not None and low <= port <= high and port not in taken:
            taken.add(port)
            out[key] = port
    for key in ordered:
        if key in out:
            continue
        port = preferred_port(key, low, high)
        while port in taken:
            port = low if port == high else port + 1
        taken.add(port)
        out[key] = port
    return out
