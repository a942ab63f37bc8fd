"""The relay's vocabulary (issue 20): its two legs, its phases, the actions it returns to
the runtime, its options, and the NOTIFICATION and message framing it builds (RFC 4271
§4.1 header, §4.5 NOTIFICATION; RFC 9003 text in a Cease)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gracebgp.wire import KEEPALIVE, Notification
from gracebgp.wire.iana import CeaseSubcode

KEEPALIVE_BYTES = KEEPALIVE.encode()


class Leg(StrEnum):
    VM = "vm"
    NODE = "node"


@dataclass(frozen=True, slots=True)
class Send:
    """Write ``data`` to one leg's connection."""

    leg: Leg
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Close one leg's connection once what was sent before is written."""

    leg: Leg
    reason: str


@dataclass(frozen=True, slots=True)
class Connect:
    """Open the upstream connection to control node ``node``; report ``node_connected`` or
    ``node_failed``."""

    node: str


Action = Send | Close | Connect


class Phase(StrEnum):
    CONNECTING = "connecting"
    OPENING = "opening"
    ESTABLISHED = "established"
    REHOMING = "rehoming"
    CLOSED = "closed"


class Upstream(StrEnum):
    """The control-node leg's own state during a re-homing (RFC 4271 §8.2.2 names)."""

    CONNECT = "connect"
    OPEN_SENT = "open-sent"
    OPEN_CONFIRM = "open-confirm"
    ESTABLISHED = "established"
    DOWN = "down"


#: Prefixes a VM may announce on one session unless configured otherwise: what the proxy
#: records of a VM is bounded whatever it sends.
DEFAULT_PREFIX_LIMIT = 10_000
#: Re-homing records kept per session (the latest).
REHOMINGS_KEPT = 20


@dataclass(frozen=True, slots=True)
class RelayOptions:
    """``next_hop_ipv4``/``next_hop_ipv6``: the gateway addresses to put in next hops sent
    to the VM (None: unchanged). ``prefix_limit``: most prefixes the VM may announce on
    this session (None: no limit, for tests). ``buffer_limit``: octets of VM messages held while re-homing.
    ``attempt_timeout``: seconds a candidate node has to reach Established.
    ``eor_timeout``: seconds to wait for the new node's End-of-RIB."""

    next_hop_ipv4: str | None = None
    next_hop_ipv6: str | None = None
    prefix_limit: int | None = DEFAULT_PREFIX_LIMIT
    rehome: bool = True
    buffer_limit: int = 1 << 20
    attempt_timeout: float = 10.0
    eor_timeout: float = 30.0


def cease(text: str) -> Notification:
    return Notification.cease(CeaseSubcode.ADMINISTRATIVE_RESET, "gracebgp-proxy: " + text)


def message(mtype: int, body: bytes) -> bytes:
    """A BGP message: marker, length, type (RFC 4271 §4.1), then ``body``."""
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + bytes([mtype]) + body
