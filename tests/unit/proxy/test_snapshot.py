"""The proxy's hand-over state (proxy.snapshot): a relay captured and restored carries on
as the original would (routes, counts, timers, a message cut in two); other versions,
other formats, another host's clock and damaged records are refused with a reason."""

from __future__ import annotations

import json

import pytest

from gracebgp.proxy.placement import SessionKind
from gracebgp.proxy.relay import Leg, Phase, Relay, RelayOptions
from gracebgp.proxy.snapshot import (
    VERSION,
    ProxyState,
    SessionState,
    SnapshotError,
    capture,
    decode,
    encode,
    handable,
    restore,
)
from gracebgp.proxy.view import SessionMeta
from tests.unit.proxy.helpers import KEEPALIVE, announced, established, sends, update

META = SessionMeta("blue", "vmi-1", "192.168.100.3", 40123, "192.168.100.1", SessionKind.GATEWAY, 50007,
                   "10.0.0.1", "established", "established")


def busy_relay() -> Relay:
    relay = established(hold=9)
    relay.vm_bytes(update("198.51.100.0/24", "203.0.113.0/24"), 1.0)
    relay.node_bytes(update("192.0.2.0/24", next_hop="10.0.0.11"), 1.5)
    relay.vm_bytes(update("198.51.101.0/24")[:25], 2.0)  # the next message, cut
    return relay


def state_of(relay: Relay, now: float = 2.0) -> bytes:
    return encode(ProxyState(4242, now, (SessionState(META, 7, 8, capture(relay)),), (5,), {"n1": 1}, 3))


def test_round_trip_carries_on() -> None:
    relay = busy_relay()
    rest = update("198.51.101.0/24")[25:]
    state = decode(state_of(relay), 2.5)
    assert (state.pid, state.listeners, state.node_failures, state.rejected) == (4242, (5,), {"n1": 1}, 3)
    (s,) = state.sessions
    assert (s.meta, s.vm_fd, s.node_fd) == (META, 7, 8)
    copy = restore(s.relay, ("n1", "n2"), RelayOptions())
    assert handable(copy) == ""
    assert (copy.phase, copy.node, copy.vm_hold, copy.upstream_hold) == (Phase.ESTABLISHED, "n1", 9, 9)
    assert copy.vm_routes.count() == 2 and copy.node_routes.count() == 1
    assert copy.from_vm.counts == relay.from_vm.counts and copy.from_node.octets == relay.from_node.octets
    assert copy.next_deadline() == relay.next_deadline()
    # the cut UPDATE completes in the copy exactly as in the original
    original, carried = relay.vm_bytes(rest, 3.0), copy.vm_bytes(rest, 3.0)
    assert sends(carried, Leg.NODE) == sends(original, Leg.NODE) == [update("198.51.101.0/24")]
    assert copy.vm_routes.count() == 3
    # and the timers: the KEEPALIVE due to the VM goes out at the same time
    assert sends(copy.tick(4.4), Leg.VM) == sends(relay.tick(4.4), Leg.VM) == []
    assert sends(copy.tick(4.5), Leg.VM) == sends(relay.tick(4.5), Leg.VM) == [KEEPALIVE]
    assert copy.negotiated is not None and relay.negotiated is not None
    assert announced(list(copy.vm_routes.replay(copy.negotiated.rx_context()))) == \
        announced(list(relay.vm_routes.replay(relay.negotiated.rx_context())))


def test_only_established_sessions_are_handed_over() -> None:
    relay = Relay(("n1",))
    relay.start(0.0)
    assert "connecting" in handable(relay)


@pytest.mark.parametrize("change, reason", [
    ({"version": VERSION + 1}, f"version {VERSION + 1} is not readable"),
    ({"version": "1"}, "version '1' is not readable"),
    ({"format": "gracebgp-handover"}, "not a proxy hand-over state"),
    ({"now": 1000.0}, "is not this host's"),
    ({"sessions": [{"meta": {}}]}, "malformed"),
])
def test_refusals(change: dict[str, object], reason: str) -> None:
    body = json.loads(state_of(busy_relay()))
    body.update(change)
    with pytest.raises(SnapshotError, match=reason):
        decode(json.dumps(body).encode(), 2.5)
    with pytest.raises(SnapshotError, match="not JSON"):
        decode(b"\x00garbage", 2.5)


def test_a_damaged_relay_record_is_refused() -> None:
    (s,) = decode(state_of(busy_relay()), 2.5).sessions
    for key, value in (("vm_routes", ["ffff"]), ("negotiated_with", "00"), ("clocks", {})):
        record = dict(s.relay)
        record[key] = value
        with pytest.raises(SnapshotError):
            restore(record, ("n1",), RelayOptions())
