"""The proxy's route tables (replay, stale comparison) and the next-hop rewrite, with
IPv4 in NLRI and IPv6 in MP_REACH_NLRI (RFC 4760 §3)."""

from __future__ import annotations

from gracebgp.proxy.relay import Leg, Relay, RelayOptions
from gracebgp.proxy.routes import RouteTable, rewrite_next_hop
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import DEFAULT_CONTEXT, CodecContext, parse_update
from gracebgp.wire.nlri import parse_prefix
from tests.unit.proxy.helpers import KEEPALIVE, NODE_AS, VM_AS, open_bytes, parsed, sends
from tests.unit.wire.wirebytes import (
    AS_PATH_4,
    ORIGIN_IGP,
    V6_2001_DB8_1,
    body,
    message,
    mp_reach_v6,
    mp_unreach_v6,
)

V6_NH = bytes.fromhex("20010db8000000000000000000000009")


def v6_update(nlri: bytes = V6_2001_DB8_1) -> bytes:
    return message(2, body(b"", mp_reach_v6(nlri, V6_NH) + ORIGIN_IGP + AS_PATH_4, b""))


def table_of(*messages: bytes, ctx: CodecContext = DEFAULT_CONTEXT) -> RouteTable:
    table = RouteTable()
    for m in messages:
        table.apply(parse_update(m[19:], ctx))
    return table


def test_replay_restores_both_families_with_their_next_hops() -> None:
    table = table_of(v6_update())
    key = parse_prefix("2001:db8:1::/48")[1]
    assert table.families[IPV6_UNICAST][key][1] == ("2001:db8::9",)
    (replayed,) = list(table.replay(DEFAULT_CONTEXT))
    again = table_of(replayed)
    assert again.families == table.families
    withdraw = message(2, body(b"", mp_unreach_v6(V6_2001_DB8_1), b""))
    table.apply(parse_update(withdraw[19:], DEFAULT_CONTEXT))
    assert table.count() == 0 and table.count_of(IPV6_UNICAST) == 0


def test_missing_from_is_per_family() -> None:
    old = table_of(v6_update(), v6_update(bytes([32]) + bytes.fromhex("20010db8")))
    new = table_of(v6_update())
    assert old.missing_from(new, IPV6_UNICAST) == [parse_prefix("2001:db8::/32")[1]]
    assert old.missing_from(new, IPV4_UNICAST) == []


def test_ipv6_next_hop_rewritten_to_the_gateways_ipv6_address() -> None:
    result = parse_update(v6_update()[19:], DEFAULT_CONTEXT)
    assert result.update is not None
    changed = rewrite_next_hop(result.update, "192.168.100.1", "fd00:100::1", True)
    assert changed.mp_reach is not None and changed.mp_reach.next_hop == ("fd00:100::1",)
    assert changed.mp_reach.nlri == result.update.mp_reach.nlri  # type: ignore[union-attr]
    # without an IPv6 gateway address the IPv6 next hop stays
    assert rewrite_next_hop(result.update, "192.168.100.1", None, True) is result.update


def test_relay_rewrites_mp_next_hops_towards_the_vm() -> None:
    relay = Relay(("n1",), RelayOptions(next_hop_ipv6="fd00:100::1"))
    relay.start(0.0)
    relay.node_connected(0.0)
    relay.vm_bytes(open_bytes(VM_AS, "192.168.100.3", v6=True) + KEEPALIVE, 0.0)
    relay.node_bytes(open_bytes(NODE_AS, "10.0.0.11", v6=True) + KEEPALIVE, 0.0)
    out = sends(relay.node_bytes(v6_update(), 1.0), Leg.VM)
    result = parsed(out[0])
    assert result.update is not None and result.update.mp_reach is not None
    assert result.update.mp_reach.next_hop == ("fd00:100::1",)
    assert relay.node_routes.count_of(IPV6_UNICAST) == 1
