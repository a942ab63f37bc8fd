"""Re-homing a VM session to another control node (issue 20 item 4)."""

from __future__ import annotations

from gracebgp.proxy.relay import Leg, Phase, Relay, RelayOptions, Upstream
from gracebgp.wire import Notification
from gracebgp.wire.iana import CeaseSubcode, NotificationCode
from gracebgp.wire.nlri import parse_prefix
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


def key(text: str) -> int:
    return parse_prefix(text)[1]


def vm_routes_and_node_routes() -> Relay:
    relay = established()
    relay.vm_bytes(update("192.168.1.0/24", "192.168.2.0/24", next_hop="192.168.100.3"), 1.0)
    relay.node_bytes(update("10.1.0.0/16", "10.2.0.0/16"), 1.0)
    return relay


def up_to_new_node(relay: Relay, now: float) -> list[bytes]:
    """n2 accepts the VM's OPEN; returns what the relay sent n2 once it was Established."""
    assert sends(relay.node_connected(now), Leg.NODE) == [open_bytes(VM_AS, "192.168.100.3")]
    out = relay.node_bytes(open_bytes(NODE_AS, "10.0.0.12"), now)
    assert sends(out, Leg.NODE) == [KEEPALIVE] and sends(out, Leg.VM) == []
    assert relay.upstream is Upstream.OPEN_CONFIRM
    out = relay.node_bytes(KEEPALIVE, now)
    assert sends(out, Leg.VM) == []
    return sends(out, Leg.NODE)


def test_node_reset_rehomes_replays_and_withdraws_only_what_the_new_node_lacks() -> None:
    relay = vm_routes_and_node_routes()
    relay.options = RelayOptions(attempt_timeout=60.0)
    out = relay.node_failed(10.0, "connection reset")
    assert connects(out) == ["n2"] and sends(out, Leg.VM) == [] and Leg.VM not in closes(out)
    assert relay.phase is Phase.REHOMING
    # meanwhile the VM's session is kept alive and its UPDATEs held
    assert sends(relay.tick(30.9), Leg.VM) == []  # the last message it got was at 1.0
    assert sends(relay.tick(31.0), Leg.VM) == [KEEPALIVE]
    late = update("192.168.3.0/24", next_hop="192.168.100.3")
    assert relay.vm_bytes(late, 31.0) == []
    assert relay.vm_bytes(KEEPALIVE, 31.0) == []  # not for a node that is not up yet
    to_node = up_to_new_node(relay, 32.0)
    assert to_node[-1] == EOR  # RFC 4724 §2 after the replay and the held UPDATE
    assert late in to_node
    assert announced(to_node[:-1]) == {key("192.168.1.0/24"), key("192.168.2.0/24"), key("192.168.3.0/24")}
    # the new node's routes reach the VM as they come: replacements, no withdrawal first
    fresh = update("10.1.0.0/16", next_hop="10.0.0.12")
    assert sends(relay.node_bytes(fresh, 33.0), Leg.VM) == [fresh]
    out = relay.node_bytes(EOR, 34.0)
    (withdrawal,) = sends(out, Leg.VM)
    result = parsed(withdrawal)
    assert result.update is not None and result.update.withdrawn == (key("10.2.0.0/16"),)
    assert str(relay.phase) == "established" and relay.node == "n2"
    history = relay.rehomings[0]
    assert (history.from_node, history.to_node, history.outcome) == ("n1", "n2", "re-homed")
    assert (history.started, history.upstream_up, history.finished) == (10.0, 32.0, 34.0)
    assert history.withdrawn_from_vm == 1 and history.buffered_updates == 1
    # and the session goes on through n2
    up = update("192.168.4.0/24", next_hop="192.168.100.3")
    assert sends(relay.vm_bytes(up, 35.0), Leg.NODE) == [up]


def test_node_hold_timer_expiry_starts_a_rehoming() -> None:
    relay = established(hold=9)
    relay.vm_bytes(KEEPALIVE, 9.0)
    relay.node_bytes(b"", 9.0)
    out = relay.tick(9.5)
    note = Notification.decode(sends(out, Leg.NODE)[0][19:])
    assert note.code == NotificationCode.HOLD_TIMER_EXPIRED
    assert Leg.NODE in closes(out) and connects(out) == ["n2"]
    assert Leg.VM not in closes(out)


def test_node_cease_starts_a_rehoming_not_a_vm_notification() -> None:
    relay = established()
    cease = Notification.cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, "maintenance").encode()
    out = relay.node_bytes(cease, 5.0)
    assert sends(out, Leg.VM) == [] and connects(out) == ["n2"]
    assert relay.rehomings[0].reason == "control node sent CEASE/ADMINISTRATIVE_SHUTDOWN: 'maintenance'"


def test_node_sending_hold_timer_expired_is_a_failed_node_not_a_vm_notification() -> None:
    """A node that was stalled (SIGSTOP, a paused VM) reads our KEEPALIVEs too late and
    sends Hold Timer Expired: the node failed, the VM's session goes on through another."""
    relay = vm_routes_and_node_routes()
    out = relay.node_bytes(Notification(NotificationCode.HOLD_TIMER_EXPIRED, 0).encode(), 5.0)
    assert sends(out, Leg.VM) == [] and Leg.VM not in closes(out)
    assert Leg.NODE in closes(out) and connects(out) == ["n2"] and relay.phase is Phase.REHOMING
    assert sends(out, Leg.NODE) == []  # (nothing answers a NOTIFICATION, RFC 4271 §6)
    assert relay.rehomings[0].reason == "control node sent HOLD_TIMER_EXPIRED/0"
    assert up_to_new_node(relay, 6.0)[-1] == EOR and relay.node == "n2"


def test_node_update_error_notification_still_reaches_the_vm() -> None:
    """Any other NOTIFICATION from an Established node judges what the VM sent: passed on,
    and the session ends (the proxy is transparent)."""
    relay = established()
    note = Notification(NotificationCode.UPDATE_MESSAGE_ERROR, 3).encode()
    out = relay.node_bytes(note, 5.0)
    assert sends(out, Leg.VM) == [note] and Leg.VM in closes(out) and relay.phase is Phase.CLOSED
    assert connects(out) == [] and relay.rehomings == []


def test_node_cease_for_too_many_prefixes_reaches_the_vm_rfc4486() -> None:
    """Every node would refuse the same routes: no re-homing round of replays, the VM is
    told why (Cease / Maximum Number of Prefixes Reached) and the session ends."""
    relay = vm_routes_and_node_routes()
    note = Notification.cease(CeaseSubcode.MAX_PREFIXES_REACHED).encode()
    out = relay.node_bytes(note, 5.0)
    assert sends(out, Leg.VM) == [note] and Leg.VM in closes(out) and relay.phase is Phase.CLOSED
    assert connects(out) == [] and relay.rehomings == []


def test_incompatible_new_node_is_refused_and_without_others_the_vm_connection_closes() -> None:
    relay = vm_routes_and_node_routes()
    relay.node_failed(10.0, "connection reset")
    relay.node_connected(11.0)
    out = relay.node_bytes(open_bytes(64999, "10.0.0.12"), 11.0)  # another AS
    assert Leg.NODE in closes(out)
    # no N bit (RFC 8538): only a TCP failure leaves the VM's graceful restart to apply
    assert sends(out, Leg.VM) == []
    assert Leg.VM in closes(out) and relay.phase is Phase.CLOSED
    assert "AS 64999 differs" in relay.rehomings[0].outcome


def test_new_node_without_the_vms_route_refresh_is_incompatible() -> None:
    relay = established(nodes=("n1", "n2", "n3"))
    relay.node_failed(1.0, "reset")
    relay.node_connected(1.0)
    out = relay.node_bytes(open_bytes(NODE_AS, "10.0.0.12", refresh=False), 1.0)
    assert connects(out) == ["n3"] and Leg.VM not in closes(out)
    assert relay.rehomings[0].tried == ["n2", "n3"]


def test_unreachable_candidate_then_the_next_one() -> None:
    relay = established(nodes=("n1", "n2", "n3"))
    assert connects(relay.node_failed(1.0, "reset")) == ["n2"]
    assert connects(relay.node_failed(1.1, "connection refused")) == ["n3"]
    assert up_to_new_node(relay, 2.0)[-1] == EOR
    assert relay.node == "n3"


def test_buffer_bound_exceeded_gives_up_with_a_cease_when_both_opens_had_the_n_bit() -> None:
    relay = established(RelayOptions(buffer_limit=100), n_bit=True)
    relay.node_failed(1.0, "reset")
    many = update(*(f"192.168.{i}.0/24" for i in range(30)), next_hop="192.168.100.3")
    out = relay.vm_bytes(many, 2.0)
    note = Notification.decode(sends(out, Leg.VM)[0][19:])
    assert note.code == NotificationCode.CEASE and Leg.VM in closes(out)
    assert relay.rehomings[0].outcome.startswith("failed: more than 100 octets")


def test_missing_end_of_rib_is_presumed_after_the_timeout() -> None:
    relay = vm_routes_and_node_routes()
    relay.options = RelayOptions(eor_timeout=5.0)
    relay.node_failed(10.0, "reset")
    up_to_new_node(relay, 11.0)
    relay.node_bytes(update("10.2.0.0/16"), 12.0)
    assert relay.phase is Phase.REHOMING
    assert relay.next_deadline() is not None and relay.next_deadline() <= 16.0  # type: ignore[operator]
    out = relay.tick(16.0)
    (withdrawal,) = sends(out, Leg.VM)
    result = parsed(withdrawal)
    assert result.update is not None and result.update.withdrawn == (key("10.1.0.0/16"),)
    assert str(relay.phase) == "established"


def test_vm_silent_while_rehoming_hits_its_hold_timer() -> None:
    relay = established(hold=9)
    relay.node_failed(1.0, "reset")
    out = relay.tick(9.5)
    note = Notification.decode(sends(out, Leg.VM)[0][19:])
    assert note.code == NotificationCode.HOLD_TIMER_EXPIRED and relay.phase is Phase.CLOSED


def test_rehoming_off_mirrors_the_nodes_loss_to_the_vm() -> None:
    relay = established(RelayOptions(rehome=False))
    out = relay.node_failed(1.0, "reset")
    assert sends(out, Leg.VM) == [] and Leg.VM in closes(out) and connects(out) == []
    relay = established(RelayOptions(rehome=False), n_bit=True)
    out = relay.node_failed(1.0, "reset")
    note = Notification.decode(sends(out, Leg.VM)[0][19:])
    # RFC 8538 §4: with N both ways a Cease other than Hard Reset keeps graceful restart
    assert (note.code, note.subcode) == (NotificationCode.CEASE, CeaseSubcode.ADMINISTRATIVE_RESET)
    assert connects(out) == []


def test_no_node_left_with_only_one_side_sending_n_closes_without_a_notification() -> None:
    relay = Relay(("n1",))
    relay.start(0.0)
    relay.vm_bytes(open_bytes(VM_AS, "192.168.100.3", n_bit=True), 0.0)
    relay.node_connected(0.0)
    relay.node_bytes(open_bytes(NODE_AS, "10.0.0.11"), 0.0)
    relay.vm_bytes(KEEPALIVE, 0.0)
    relay.node_bytes(KEEPALIVE, 0.0)
    out = relay.node_failed(1.0, "reset")  # no other node: the re-homing gives up at once
    assert sends(out, Leg.VM) == [] and Leg.VM in closes(out)
    assert relay.rehomings[0].outcome.startswith("failed: no control node")


def test_vm_tcp_loss_is_passed_on_as_a_tcp_close_not_a_notification() -> None:
    for n_bit in (False, True):
        relay = established(n_bit=n_bit)
        out = relay.vm_closed(5.0, "connection reset")
        assert sends(out, Leg.NODE) == [] and closes(out) == {Leg.VM, Leg.NODE}


def test_failure_before_established_is_not_rehomed() -> None:
    relay = Relay(("n1", "n2"))
    relay.start(0.0)
    relay.vm_bytes(open_bytes(VM_AS, "192.168.100.3"), 0.0)
    relay.node_connected(0.0)
    relay.node_bytes(open_bytes(NODE_AS, "10.0.0.11"), 0.0)
    out = relay.node_failed(1.0, "reset")
    assert Leg.VM in closes(out) and connects(out) == [] and relay.rehomings == []


def test_rehoming_prefers_a_node_the_vms_other_session_does_not_use() -> None:
    relay = established(nodes=("n1", "n2", "n3"))
    relay.busy_nodes = lambda: {"n2"}  # the VM's service session is on n2
    assert connects(relay.node_failed(1.0, "reset")) == ["n3"]
    assert connects(relay.node_failed(1.1, "connection refused")) == ["n2"]  # better than nothing


def test_candidate_refusing_the_open_is_a_failed_candidate_not_a_vm_notification() -> None:
    relay = established(nodes=("n1", "n2", "n3"))
    relay.node_failed(1.0, "reset")
    relay.node_connected(1.1)
    # n2 does not know this peer: OPEN Message Error / Bad Peer AS (RFC 4271 §6.2)
    out = relay.node_bytes(Notification(NotificationCode.OPEN_MESSAGE_ERROR, 2).encode(), 1.2)
    assert sends(out, Leg.VM) == [] and Leg.VM not in closes(out)
    assert Leg.NODE in closes(out) and connects(out) == ["n3"]
    assert relay.phase is Phase.REHOMING
    assert "OPEN_MESSAGE_ERROR" in relay.rehomings[0].failures[0]
    assert up_to_new_node(relay, 2.0)[-1] == EOR and relay.node == "n3"


def test_candidate_notification_after_its_open_is_a_failed_candidate_too() -> None:
    relay = established(nodes=("n1", "n2", "n3"))
    relay.node_failed(1.0, "reset")
    up_to_new_node(relay, 1.1)  # n2 Established, its End-of-RIB pending
    out = relay.node_bytes(Notification(NotificationCode.UPDATE_MESSAGE_ERROR, 3).encode(), 1.2)
    assert sends(out, Leg.VM) == [] and connects(out) == ["n3"] and relay.phase is Phase.REHOMING


def test_second_candidate_gets_the_vms_latest_routes_and_the_first_ones_routes_are_withdrawn() -> None:
    relay = vm_routes_and_node_routes()  # n1 sent 10.1/16 and 10.2/16
    relay.nodes = ("n1", "n2", "n3")
    relay.node_failed(10.0, "reset")
    up_to_new_node(relay, 11.0)  # n2 Established, its End-of-RIB pending
    relay.node_bytes(update("10.7.0.0/16"), 11.5)  # only n2 has it; the VM now does too
    late = update("192.168.9.0/24", next_hop="192.168.100.3")
    assert sends(relay.vm_bytes(late, 11.6), Leg.NODE) == [late]  # straight to n2
    withdrawn = update(withdrawn=("192.168.1.0/24",))
    assert sends(relay.vm_bytes(withdrawn, 11.7), Leg.NODE) == [withdrawn]
    assert connects(relay.node_failed(12.0, "reset")) == ["n3"]  # n2 dies before its EoR
    to_n3 = up_to_new_node(relay, 13.0)
    assert announced(to_n3[:-1]) == {key("192.168.2.0/24"), key("192.168.9.0/24")}
    relay.node_bytes(update("10.1.0.0/16"), 13.5)
    out = relay.node_bytes(EOR, 14.0)
    updates = [parsed(m).update for m in sends(out, Leg.VM)]
    gone = {k for u in updates if u is not None for k in u.withdrawn}
    assert gone == {key("10.2.0.0/16"), key("10.7.0.0/16")}
    assert relay.phase is Phase.ESTABLISHED and relay.node == "n3"
    assert relay.rehomings[0].withdrawn_from_vm == 2


def test_new_node_with_another_graceful_restart_is_incompatible() -> None:
    relay = established(nodes=("n1", "n2", "n3", "n4"), n_bit=True)  # GR with N both ways
    relay.node_failed(1.0, "reset")
    relay.node_connected(1.0)
    out = relay.node_bytes(open_bytes(NODE_AS, "10.0.0.12", gr=False), 1.0)  # no GR at all
    assert connects(out) == ["n3"] and Leg.VM not in closes(out)
    relay.node_connected(1.1)
    out = relay.node_bytes(open_bytes(NODE_AS, "10.0.0.13"), 1.1)  # GR without N
    assert connects(out) == ["n4"] and Leg.VM not in closes(out)
    failures = relay.rehomings[0].failures
    assert failures[-2].startswith("n2: graceful restart (families) negotiated differently")
    assert failures[-1] == "n3: the graceful restart N bit negotiated differently (True before, False now)"
    relay.node_connected(2.0)
    out = relay.node_bytes(open_bytes(NODE_AS, "10.0.0.14", n_bit=True), 2.0)  # the same: taken
    assert relay.upstream is Upstream.OPEN_CONFIRM and sends(out, Leg.NODE) == [KEEPALIVE]
