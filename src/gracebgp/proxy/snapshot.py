"""The state gracebgp-proxyd passes to the process that takes its sessions over (its own
upgrade, issue 20 item 4, over issue 19's take-over socket): per relayed session the
runtime's facts (``SessionMeta``), both OPENs and the one negotiated from, the routes
each side announced, counts and timestamps, re-homing history, the hold and keepalive
timers, and the octets read on each leg but not yet a complete message. Pure: dicts and
bytes in and out; the runtime passes the sockets (``proxy.handover``).

The format is JSON (octet strings as hex) with a format name and a version: a reader
accepts the versions in ``READABLE`` and refuses any other, or anything malformed, with
``SnapshotError``, never another exception. Times are the host's monotonic clock
(``CLOCK_MONOTONIC``: one per host, and a take-over is between two processes of one host);
a state whose clock is not ours is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gracebgp.errors import CodecError, GraceBGPError
from gracebgp.proxy.compat import negotiate_legs
from gracebgp.proxy.placement import SessionKind
from gracebgp.proxy.record import Direction, Rehoming
from gracebgp.proxy.relay import Leg, Phase, Relay, RelayOptions, Upstream
from gracebgp.proxy.view import SessionMeta
from gracebgp.wire import Open, UpdateAction, parse_update
from gracebgp.wire.iana import HEADER_LEN

FORMAT = "gracebgp-proxy-handover"
VERSION = 1  # the one this code writes
READABLE = frozenset({1})  # the versions this code reads (add the previous one on each bump)
#: Seconds between writing a state and reading it beyond which it is not this host's (or stale).
CLOCK_SLACK = 60.0


class SnapshotError(GraceBGPError):
    """The state cannot be used: another version, malformed, or another host's clock."""


@dataclass(frozen=True, slots=True)
class SessionState:
    """One session as passed: the runtime's facts, the relay's record, the two sockets'
    numbers in the state (``vm_fd``, ``node_fd``)."""

    meta: SessionMeta
    vm_fd: int
    node_fd: int
    relay: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProxyState:
    pid: int
    now: float  # the old process's monotonic clock when it wrote the state
    sessions: tuple[SessionState, ...]
    listeners: tuple[int, ...]  # listening sockets' numbers in the state
    node_failures: dict[str, int]
    rejected: int


def handable(relay: Relay) -> str:
    """"" when the session can be handed over now, else why not (Established both ways,
    no re-homing, no leg waiting on flow control)."""
    if relay.phase is not Phase.ESTABLISHED or relay.upstream is not Upstream.ESTABLISHED:
        return f"{relay.phase.value} (upstream {relay.upstream.value})"
    if relay.negotiated_with is None or relay.vm_open is None or relay.node_open is None:
        return "no negotiated session"
    return ""


def capture(relay: Relay) -> dict[str, Any]:
    """The relay's record of an Established session (``handable``)."""
    neg, node_open, with_open = relay.negotiated, relay.node_open, relay.negotiated_with
    assert neg is not None and node_open is not None and with_open is not None
    return {
        "nodes": list(relay.nodes), "node": relay.node, "vm_open": relay.vm_open_bytes.hex(),
        "node_open": node_open.encode().hex(), "negotiated_with": with_open.encode().hex(),
        "upstream_hold": relay.upstream_hold, "established_at": relay.established_at,
        "vm_routes": [u.hex() for u in relay.vm_routes.replay(neg.rx_context())],
        "node_routes": [u.hex() for u in relay.node_routes.replay(neg.tx_context())],
        "from_vm": relay.from_vm.as_dict(), "from_node": relay.from_node.as_dict(),
        "rehomings": [r.as_dict() for r in relay.rehomings], "clocks": relay.clocks(),
        "unread": {leg.value: relay.unread(leg).hex() for leg in Leg},
    }


def _open(raw: str) -> Open:
    return Open.decode(bytes.fromhex(raw)[HEADER_LEN:])


def restore(data: dict[str, Any], nodes: tuple[str, ...], options: RelayOptions) -> Relay:
    """A relay carrying on with a captured session; ``nodes`` and ``options`` are the new
    configuration's. SnapshotError when the record is malformed."""
    try:
        relay = Relay(nodes, options)
        relay.node = str(data["node"])
        relay.vm_open_bytes = bytes.fromhex(data["vm_open"])
        relay.vm_open = Open.decode(relay.vm_open_bytes[HEADER_LEN:])
        relay.node_open = _open(data["node_open"])
        relay.negotiated_with = _open(data["negotiated_with"])
        relay.negotiated = negotiate_legs(relay.negotiated_with, relay.vm_open)
        if relay.negotiated is None:
            raise SnapshotError("the two OPENs do not negotiate a session")
        relay.upstream_hold = int(data["upstream_hold"])
        established = data["established_at"]
        relay.established_at = None if established is None else float(established)
        for key, table, ctx in (("vm_routes", relay.vm_routes, relay.negotiated.rx_context()),
                                ("node_routes", relay.node_routes, relay.negotiated.tx_context())):
            for raw in data[key]:
                result = parse_update(bytes.fromhex(raw)[HEADER_LEN:], ctx)
                if result.action == UpdateAction.SESSION_RESET:
                    raise SnapshotError(f"a session's {key} has a malformed UPDATE")
                table.apply(result)
        relay.from_vm, relay.from_node = Direction(**data["from_vm"]), Direction(**data["from_node"])
        relay.rehomings = [Rehoming(**r) for r in data["rehomings"]]
        relay.adopt(data["clocks"], {leg: bytes.fromhex(data["unread"][leg.value]) for leg in Leg})
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, CodecError) as exc:
        raise SnapshotError(f"a session's relay record is malformed ({exc!r})") from None
    return relay


def _meta(m: SessionMeta) -> dict[str, Any]:
    return {"network": m.network, "interface": m.interface, "vm_address": m.vm_address, "vm_port": m.vm_port,
            "facing_address": m.facing_address, "kind": m.kind.value, "nat_port": m.nat_port,
            "upstream_address": m.upstream_address}


def encode(state: ProxyState) -> bytes:
    body = {"format": FORMAT, "version": VERSION, "pid": state.pid, "now": state.now,
            "sessions": [{"meta": _meta(s.meta), "vm_fd": s.vm_fd, "node_fd": s.node_fd, "relay": s.relay}
                         for s in state.sessions],
            "listeners": list(state.listeners), "node_failures": state.node_failures,
            "rejected": state.rejected}
    return json.dumps(body, separators=(",", ":")).encode()


def check_version(version: object) -> str:
    """"" when this code reads state format ``version``, else why not."""
    if isinstance(version, int) and not isinstance(version, bool) and version in READABLE:
        return ""
    return (f"proxy hand-over state format version {version!r} is not readable by this code (it reads "
            f"{', '.join(str(v) for v in sorted(READABLE))})")


def decode(data: bytes, now: float) -> ProxyState:
    """The state as written by ``encode``; ``now`` is our monotonic clock (the state must
    have been written on this host, less than ``CLOCK_SLACK`` seconds ago)."""
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SnapshotError("not a proxy hand-over state (not JSON)") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise SnapshotError("not a proxy hand-over state (no format name)")
    why = check_version(body.get("version"))
    if why:
        raise SnapshotError(why)
    try:
        written = float(body["now"])
        if not 0 <= now - written <= CLOCK_SLACK:
            raise SnapshotError(f"the state's clock ({written:.1f}) is not this host's ({now:.1f})")
        sessions = []
        for item in body["sessions"]:
            m = item["meta"]
            meta = SessionMeta(str(m["network"]), str(m["interface"]), str(m["vm_address"]),
                               int(m["vm_port"]), str(m["facing_address"]), SessionKind(m["kind"]),
                               int(m["nat_port"]), str(m["upstream_address"]), "established", "established")
            if not isinstance(item["relay"], dict):
                raise TypeError("relay is not an object")
            sessions.append(SessionState(meta, int(item["vm_fd"]), int(item["node_fd"]), item["relay"]))
        failures = {str(k): int(v) for k, v in body["node_failures"].items()}
        listeners = tuple(int(n) for n in body["listeners"])
        return ProxyState(int(body["pid"]), written, tuple(sessions), listeners, failures,
                          int(body["rejected"]))
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotError(f"the proxy hand-over state is malformed ({exc!r})") from None
