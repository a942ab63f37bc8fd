"""Which NOTIFICATIONs keep the routes: RFC 8538 (N bit, Hard Reset) and RFC 4724 §4
without N; spec section 6 (retaining and withdrawing stops), on the in-memory network."""

from __future__ import annotations

from gracebgp.core import commands as cmd
from gracebgp.core import events as ev

from .grnet import A_V4, V6, A, B, learned, neg, neighbor, pair, stale


def test_rfc8538_4_with_n_a_notification_other_than_hard_reset_keeps_routes() -> None:
    net, a, b = pair()
    net.deliver(A, ev.StopRequested(graceful=True, message="upgrade"))
    net.down.add(A)  # the process is gone
    assert a.peers[B].stats.last_sent_notification == (6, 4)  # Cease / Administrative Reset
    assert set(learned(b)) == set(A_V4) and stale(b, A) == set(A_V4)
    (down,) = [e for e in net.events(B) if e["event"] == "session-down"]
    assert down["retained"] is True and down["notification"] == "CEASE/ADMINISTRATIVE_RESET"
    assert "helper-started" in net.event_names(B)


def test_rfc8538_4_hard_reset_deletes_routes_at_once() -> None:
    net, a, b = pair()
    reply = net.command(A, cmd.ShutdownPeer(B, "decommission"))
    assert reply.status == 200
    assert a.peers[B].stats.last_sent_notification == (6, 9)
    assert learned(b) == {} and learned(b, V6) == {}
    (down,) = [e for e in net.events(B) if e["event"] == "session-down"]
    assert down["retained"] is False and down["notification"] == "CEASE/ADMINISTRATIVE_SHUTDOWN"
    assert "helper-started" not in net.event_names(B)
    (note,) = [m.body for m in net.messages(A, B) if m.kind == "notification"]
    assert note.is_hard_reset and note.unwrap().communication == "decommission"


def test_rfc8538_4_hard_reset_received_from_the_peer_deletes_the_peers_routes_too() -> None:
    net, a, _b = pair()
    net.command(A, cmd.ShutdownPeer(B))
    assert learned(a) == {}  # A dropped B's routes: it sent a Hard Reset


def test_rfc4724_4_without_n_any_notification_deletes_routes() -> None:
    net, a, b = pair(a_neighbor=neighbor(A, B, notification=False))
    assert not neg(a, B).notification_supported
    reply = net.command(A, cmd.ResetPeer(B, "hard"))  # plain Cease/Administrative Reset
    assert reply.status == 200
    (down,) = [e for e in net.events(B) if e["event"] == "session-down"]
    assert down["retained"] is False and down["notification"] == "CEASE/ADMINISTRATIVE_RESET"
    assert "helper-started" not in net.event_names(B)
    net.advance(10)  # the session comes back and A re-advertises
    assert set(learned(b)) == set(A_V4)


def test_rfc8538_5_spec6_never_send_hard_reset_to_a_peer_without_n() -> None:
    net, _a, b = pair(a_neighbor=neighbor(A, B, notification=False))
    net.command(A, cmd.ShutdownPeer(B, "bye"))
    (note,) = [m.body for m in net.messages(A, B) if m.kind == "notification"]
    assert not note.is_hard_reset and (note.code, note.subcode) == (6, 2)
    assert learned(b) == {}


def test_spec6_retain_stop_without_n_closes_tcp_without_notification_and_peer_keeps_routes() -> None:
    net, _a, b = pair(a_neighbor=neighbor(A, B, notification=False))
    net.deliver(A, ev.StopRequested(graceful=True))
    net.down.add(A)
    assert [m for m in net.messages(A, B) if m.kind == "notification"] == []
    assert set(learned(b)) == set(A_V4) and stale(b, A) == set(A_V4)


def test_spec6_withdrawing_stop_deletes_routes_at_the_peer() -> None:
    net, _a, b = pair()
    net.deliver(A, ev.StopRequested(graceful=False, message="decommission"))
    net.down.add(A)
    assert learned(b) == {} and learned(b, V6) == {}
