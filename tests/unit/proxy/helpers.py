"""A relay driven through its opening, and hand-built messages (tests/unit/wire/wirebytes
builds the UPDATE bytes independently of the codec)."""

from __future__ import annotations

from gracebgp.proxy.relay import Action, Close, Connect, Leg, Phase, Relay, RelayOptions, Send
from gracebgp.wire import (
    DEFAULT_CONTEXT,
    Capability,
    FourOctetAs,
    GracefulRestart,
    Multiprotocol,
    Open,
    RouteRefreshCapability,
    decode_message,
)
from gracebgp.wire.update import UpdateResult
from tests.unit.wire.wirebytes import AS_PATH_4, ORIGIN_IGP, attr, body, message

KEEPALIVE = message(4, b"")
VM_AS, NODE_AS = 65001, 64512


def open_bytes(asn: int, bgp_id: str, hold: int = 90, v6: bool = False, refresh: bool = True,
               n_bit: bool = False, gr: bool = True) -> bytes:
    """An OPEN with graceful restart (RFC 4724 §3) unless not ``gr``, its N bit (RFC 8538
    §2) when ``n_bit``."""
    caps: list[Capability] = [Multiprotocol(1, 1), FourOctetAs(asn)]
    if gr:
        caps.append(GracefulRestart(flags=0x4 if n_bit else 0, restart_time=120, families=()))
    if v6:
        caps.insert(1, Multiprotocol(2, 1))
    if refresh:
        caps.append(RouteRefreshCapability())
    return Open.build(asn, hold, bgp_id, tuple(caps)).encode()


def prefix(text: str) -> bytes:
    net, length = text.split("/")
    octets = bytes(int(x) for x in net.split("."))
    n = (int(length) + 7) // 8
    return bytes([int(length)]) + octets[:n]


def update(*prefixes: str, next_hop: str = "10.9.9.9", withdrawn: tuple[str, ...] = ()) -> bytes:
    nh = attr(0x40, 3, bytes(int(x) for x in next_hop.split(".")))
    attrs = ORIGIN_IGP + AS_PATH_4 + nh if prefixes else b""
    return message(2, body(b"".join(prefix(p) for p in withdrawn), attrs,
                           b"".join(prefix(p) for p in prefixes)))


EOR = message(2, body())


def sends(actions: list[Action], leg: Leg) -> list[bytes]:
    return [a.data for a in actions if isinstance(a, Send) and a.leg is leg]


def closes(actions: list[Action]) -> set[Leg]:
    return {a.leg for a in actions if isinstance(a, Close)}


def connects(actions: list[Action]) -> list[str]:
    return [a.node for a in actions if isinstance(a, Connect)]


def parsed(data: bytes) -> UpdateResult:
    msg = decode_message(data, DEFAULT_CONTEXT)
    assert isinstance(msg, UpdateResult)
    return msg


def announced(messages: list[bytes]) -> set[int]:
    return {k for m in messages for k in (parsed(m).update or ((), None, ())).nlri}  # type: ignore[union-attr]


def established(options: RelayOptions | None = None, nodes: tuple[str, ...] = ("n1", "n2"),
                hold: int = 90, now: float = 0.0, n_bit: bool = False) -> Relay:
    relay = Relay(nodes, options)
    assert connects(relay.start(now)) == [nodes[0]]
    vm_open, node_open = open_bytes(VM_AS, "192.168.100.3", hold, n_bit=n_bit), \
        open_bytes(NODE_AS, "10.0.0.11", n_bit=n_bit)
    assert relay.vm_bytes(vm_open, now) == []  # held back
    out = relay.node_connected(now)
    assert sends(out, Leg.NODE) == [vm_open]
    assert sends(relay.node_bytes(node_open, now), Leg.VM) == [node_open]
    assert sends(relay.vm_bytes(KEEPALIVE, now), Leg.NODE) == [KEEPALIVE]
    assert sends(relay.node_bytes(KEEPALIVE, now), Leg.VM) == [KEEPALIVE]
    assert relay.phase is Phase.ESTABLISHED
    return relay
