"""The relay: pass-through, records, options and a VM's errors (issue 20 item 2)."""

from __future__ import annotations

from gracebgp.proxy.actions import DEFAULT_PREFIX_LIMIT, REHOMINGS_KEPT
from gracebgp.proxy.relay import Action, Leg, Phase, Relay, RelayOptions, Upstream
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import NextHop, Notification
from gracebgp.wire.iana import AttrType, CeaseSubcode, NotificationCode
from tests.unit.proxy.helpers import (
    EOR,
    KEEPALIVE,
    NODE_AS,
    VM_AS,
    announced,
    closes,
    connects,
    established,
    open_bytes,
    parsed,
    sends,
    update,
)
from tests.unit.wire.wirebytes import ORIGIN_IGP, attr, body, message


def notification(data: bytes) -> Notification:
    assert data[18] == 3
    return Notification.decode(data[19:])


def test_messages_pass_unchanged_both_ways_and_are_recorded() -> None:
    relay = established()
    up = update("192.168.200.0/24", next_hop="192.168.100.3")
    assert sends(relay.vm_bytes(up, 1.0), Leg.NODE) == [up]
    down = update("10.1.0.0/16", "10.2.0.0/16")
    assert sends(relay.node_bytes(down, 2.0), Leg.VM) == [down]
    assert relay.vm_routes.count() == 1 and relay.node_routes.count() == 2
    assert relay.from_vm.counts == {"open": 1, "keepalive": 1, "update": 1}
    assert relay.from_node.counts == {"open": 1, "keepalive": 1, "update": 1}
    assert relay.from_node.last_message == 2.0 and relay.from_vm.last_keepalive == 0.0
    assert relay.vm_open is not None and relay.vm_open.asn == VM_AS
    assert relay.negotiated is not None and relay.negotiated.hold_time == 90
    withdraw = update(withdrawn=("10.1.0.0/16",))
    assert sends(relay.node_bytes(withdraw, 3.0), Leg.VM) == [withdraw]
    assert relay.node_routes.count() == 1


def test_several_messages_in_one_read_and_one_message_over_two_reads() -> None:
    relay = established()
    a, b = update("192.168.1.0/24"), update("192.168.2.0/24")
    assert sends(relay.vm_bytes(a + b[:7], 1.0), Leg.NODE) == [a]
    assert sends(relay.vm_bytes(b[7:], 1.0), Leg.NODE) == [b]


def test_next_hop_rewritten_to_the_gateway_towards_the_vm_only() -> None:
    relay = established(RelayOptions(next_hop_ipv4="192.168.100.1"))
    out = sends(relay.node_bytes(update("10.1.0.0/16", next_hop="10.0.0.11"), 1.0), Leg.VM)
    result = parsed(out[0])
    assert result.update is not None and result.update.attrs is not None
    assert result.update.attrs.get(AttrType.NEXT_HOP) == NextHop("192.168.100.1")
    up = update("192.168.200.0/24", next_hop="192.168.100.3")
    assert sends(relay.vm_bytes(up, 1.0), Leg.NODE) == [up]


def test_malformed_update_from_the_vm_notifies_the_vm_and_ends_only_this_session() -> None:
    relay = established()
    bad_origin = attr(0x40, 1, b"\x00\x00")  # ORIGIN of length 2: RFC 7606 §7.1 treat-as-withdraw
    bad_len = message(2, body(b"", attr(0x40, 2, b"\x02"), b""))  # AS_PATH cut short, no NLRI
    out = relay.vm_bytes(message(2, body(b"", bad_origin[:2] + b"\x09\x00", b"")), 1.0)
    sent = sends(out, Leg.VM)
    assert len(sent) == 1
    note = notification(sent[0])
    assert note.code == NotificationCode.UPDATE_MESSAGE_ERROR
    assert closes(out) == {Leg.VM, Leg.NODE}
    to_node = notification(sends(out, Leg.NODE)[0])
    assert (to_node.code, to_node.subcode) == (NotificationCode.CEASE, CeaseSubcode.ADMINISTRATIVE_RESET)
    assert relay.phase is Phase.CLOSED
    assert relay.vm_bytes(bad_len, 2.0) == []  # nothing after the end


def test_treat_as_withdraw_passes_and_removes_the_prefixes() -> None:
    relay = established()
    relay.vm_bytes(update("192.168.1.0/24"), 1.0)
    bad_origin = attr(0x40, 1, b"\x07")  # undefined ORIGIN value: RFC 7606 §7.1
    from tests.unit.wire.wirebytes import AS_PATH_4, NEXT_HOP
    msg = message(2, body(b"", bad_origin + AS_PATH_4 + NEXT_HOP, bytes([24, 192, 168, 1])))
    assert sends(relay.vm_bytes(msg, 2.0), Leg.NODE) == [msg]
    assert relay.vm_routes.count() == 0 and relay.phase is Phase.ESTABLISHED


def test_bad_marker_from_the_vm_is_a_header_error() -> None:
    relay = established()
    out = relay.vm_bytes(b"\x00" * 19, 1.0)
    note = notification(sends(out, Leg.VM)[0])
    assert (note.code, note.subcode) == (NotificationCode.MESSAGE_HEADER_ERROR, 1)
    assert closes(out) == {Leg.VM, Leg.NODE}


def test_prefix_limit_ends_the_session_with_cease_max_prefixes() -> None:
    relay = established(RelayOptions(prefix_limit=2))
    assert sends(relay.vm_bytes(update("192.168.1.0/24", "192.168.2.0/24"), 1.0), Leg.NODE)
    out = relay.vm_bytes(update("192.168.3.0/24"), 2.0)
    note = notification(sends(out, Leg.VM)[0])
    assert (note.code, note.subcode) == (NotificationCode.CEASE, CeaseSubcode.MAX_PREFIXES_REACHED)
    assert note.data == b"\x00\x01\x01" + (2).to_bytes(4, "big")  # RFC 4486 §4
    assert update("192.168.3.0/24") not in sends(out, Leg.NODE)
    assert closes(out) == {Leg.VM, Leg.NODE}


def test_vm_notification_goes_to_the_node_and_closes_both() -> None:
    relay = established()
    cease = Notification.cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, "bye").encode()
    out = relay.vm_bytes(cease, 1.0)
    assert sends(out, Leg.NODE) == [cease] and closes(out) == {Leg.VM, Leg.NODE}
    assert relay.from_vm.last_notification == "CEASE/ADMINISTRATIVE_SHUTDOWN: 'bye'"


def test_node_error_notification_goes_to_the_vm() -> None:
    relay = established()
    error = Notification(NotificationCode.UPDATE_MESSAGE_ERROR, 1).encode()
    out = relay.node_bytes(error, 1.0)
    assert sends(out, Leg.VM) == [error] and closes(out) == {Leg.VM, Leg.NODE}
    assert connects(out) == []


def test_first_node_unreachable_second_one_used_unseen_by_the_vm() -> None:
    relay = Relay(("n1", "n2"))
    relay.start(0.0)
    relay.vm_bytes(open_bytes(VM_AS, "192.168.100.3"), 0.0)
    out = relay.node_failed(1.0, "connection refused")
    assert connects(out) == ["n2"] and sends(out, Leg.VM) == []
    assert sends(relay.node_connected(1.5), Leg.NODE) == [open_bytes(VM_AS, "192.168.100.3")]
    assert relay.node == "n2"


def test_no_node_at_all_closes_the_vm_with_a_cease() -> None:
    relay = Relay(("n1",))
    relay.start(0.0)
    out = relay.node_failed(1.0, "connection refused")
    note = notification(sends(out, Leg.VM)[0])
    assert note.code == NotificationCode.CEASE
    assert Leg.VM in closes(out) and relay.phase is Phase.CLOSED


def test_attempt_timeout_moves_to_the_next_node() -> None:
    relay = Relay(("n1", "n2"), RelayOptions(attempt_timeout=5.0))
    relay.start(0.0)
    assert relay.next_deadline() == 5.0
    assert relay.tick(4.9) == []
    out = relay.tick(5.0)
    assert connects(out) == ["n2"] and Leg.NODE in closes(out)


def test_open_exchange_is_bounded_by_the_attempt_timeout() -> None:
    relay = Relay(("n1", "n2"), RelayOptions(attempt_timeout=5.0))
    relay.start(0.0)
    relay.vm_bytes(open_bytes(VM_AS, "192.168.100.3"), 0.0)
    relay.node_connected(1.0)  # TCP is up; the node never sends its OPEN
    assert relay.next_deadline() == 5.0 and relay.tick(4.9) == []
    out = relay.tick(5.0)
    assert notification(sends(out, Leg.VM)[0]).code == NotificationCode.CEASE  # not Established: told
    assert closes(out) == {Leg.VM, Leg.NODE} and relay.phase is Phase.CLOSED


def test_vm_hold_timer_expiry_notifies_the_vm() -> None:
    relay = established(hold=9)
    assert relay.negotiated is not None and relay.negotiated.hold_time == 9
    out = relay.tick(9.5)
    note = notification(sends(out, Leg.VM)[0])
    assert note.code == NotificationCode.HOLD_TIMER_EXPIRED


def test_keepalives_owed_are_sent_and_deadline_reported() -> None:
    relay = established(hold=9)
    assert relay.next_deadline() == 3.0  # a third of the Hold Time (RFC 4271 §10)
    relay.node_bytes(KEEPALIVE, 3.0)  # passed to the VM: it owes the VM nothing now
    out = relay.tick(3.0)
    assert sends(out, Leg.VM) == [] and sends(out, Leg.NODE) == [KEEPALIVE]  # the VM was silent
    relay.vm_bytes(KEEPALIVE, 4.0)
    assert relay.tick(5.9) == []
    assert relay.upstream is Upstream.ESTABLISHED


def test_node_routes_recorded_without_rewrite_keep_the_announced_keys() -> None:
    relay = established()
    out = sends(relay.node_bytes(update("10.1.0.0/16", "10.2.0.0/16"), 1.0), Leg.VM)
    assert announced(out) == set(relay.node_routes.families[IPV4_UNICAST])


def test_vm_open_of_an_unknown_version_still_passes() -> None:
    relay = Relay(("n1",))
    relay.start(0.0)
    relay.node_connected(0.0)
    raw = bytearray(open_bytes(VM_AS, "192.168.100.3"))
    raw[19] = 5  # version 5: the control node answers it (RFC 4271 §6.2), not the proxy
    assert sends(relay.vm_bytes(bytes(raw), 0.0), Leg.NODE) == [bytes(raw)]
    assert ORIGIN_IGP  # the helpers import stays used


def test_vm_messages_sent_before_the_upstream_is_up_count_when_it_is() -> None:
    relay = Relay(("n1",))
    relay.start(0.0)
    up = update("192.168.1.0/24")
    assert relay.vm_bytes(open_bytes(VM_AS, "192.168.100.3") + KEEPALIVE, 0.0) == []
    assert sends(relay.node_connected(0.5), Leg.NODE) == [open_bytes(VM_AS, "192.168.100.3"), KEEPALIVE]
    relay.node_bytes(open_bytes(64512, "10.0.0.11") + KEEPALIVE, 0.6)
    assert relay.phase is Phase.ESTABLISHED and relay.established_at == 0.6
    assert sends(relay.vm_bytes(up, 1.0), Leg.NODE) == [up]


def test_a_leg_not_read_for_flow_control_keeps_its_hold_timer_until_read_again() -> None:
    relay = established(hold=9)
    relay.pause(Leg.NODE)  # the VM is slow to take what the node sent: the node is not read
    relay.pause(Leg.VM)  # and the node is slow: the VM is not read either
    out = relay.tick(20.0)
    assert relay.phase is Phase.ESTABLISHED and closes(out) == set() and connects(out) == []
    assert sends(out, Leg.VM) == [KEEPALIVE] and sends(out, Leg.NODE) == [KEEPALIVE]  # still owed
    deadline = relay.next_deadline()
    assert deadline is not None and deadline == 23.0  # the next KEEPALIVE only, no expiry
    relay.resume(Leg.NODE, 21.0)
    relay.resume(Leg.VM, 21.0)
    assert relay.next_deadline() == 23.0
    assert relay.tick(30.0) and relay.phase is Phase.ESTABLISHED  # 9 s from 21.0 not yet over
    out = relay.tick(30.1)  # the VM's Hold Timer, from its resumption (RFC 4271 §6.5)
    assert notification(sends(out, Leg.VM)[0]).code == NotificationCode.HOLD_TIMER_EXPIRED


def test_a_flood_under_default_settings_is_stopped_at_the_default_prefix_limit() -> None:
    relay = established()  # RelayOptions(): no limit configured
    assert relay.options.prefix_limit == DEFAULT_PREFIX_LIMIT
    flood = [update(*(f"10.{i // 256}.{i % 256}.0/24" for i in range(n, n + 800)), next_hop="192.168.100.3")
             for n in range(0, DEFAULT_PREFIX_LIMIT + 800, 800)]
    out: list[Action] = []
    sent = 0
    while relay.phase is not Phase.CLOSED:
        out = relay.vm_bytes(flood[sent], 1.0)
        sent += 1
    assert sent * 800 > DEFAULT_PREFIX_LIMIT >= (sent - 1) * 800  # stopped by the UPDATE that passed it
    note = notification(sends(out, Leg.VM)[0])
    assert (note.code, note.subcode) == (NotificationCode.CEASE, CeaseSubcode.MAX_PREFIXES_REACHED)
    assert relay.vm_routes.count() <= DEFAULT_PREFIX_LIMIT + 800


def test_only_the_latest_rehomings_are_kept() -> None:
    relay = established()
    for n in range(REHOMINGS_KEPT + 5):
        node = relay.node
        relay.node_failed(float(n), "reset")
        relay.node_connected(float(n))
        relay.node_bytes(open_bytes(NODE_AS, "10.0.0.12") + KEEPALIVE, float(n))
        relay.node_bytes(EOR, float(n))
        assert relay.phase is Phase.ESTABLISHED and relay.node != node
    assert len(relay.rehomings) == REHOMINGS_KEPT and relay.rehomings[-1].started == REHOMINGS_KEPT + 4.0
