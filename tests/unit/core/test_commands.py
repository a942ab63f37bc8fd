"""Operator commands on the sans-IO Speaker (core.commands): what goes on the wire and
what the peer does with our routes (spec/graceful-restart.md section 6, RFC 8538 §5,
RFC 9003, RFC 2918), all-or-nothing AddPaths, and what a reload leaves alone."""

from __future__ import annotations

from gracebgp.config.default import demo_configs
from gracebgp.core import commands as cmd
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.session.config import SessionConfig
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire.nlri import parse_prefix

from .test_speaker import demo_pair, learned, speaker_from

A, B = "127.0.0.1", "127.0.0.2"


def test_shutdown_sends_rfc9003_message_as_hard_reset_and_peer_drops_our_routes() -> None:
    # RFC 8538 §5: Administrative Shutdown goes out as Hard Reset where N is negotiated,
    # so B must not keep A's routes as stale.
    net, a, b = demo_pair()
    assert learned(b)
    reply = net.command(A, cmd.ShutdownPeer(B, "maintenance window"))
    assert reply.status == 200 and "maintenance window" in reply.message
    assert a.peers[B].admin_down and a.peers[B].session.state == State.IDLE
    assert learned(b) == {}
    assert b.peers[A].stats.last_error.startswith("NOTIFICATION received: CEASE/HARD_RESET")
    assert "'maintenance window'" in b.peers[A].stats.last_error
    assert a.peers[B].stats.last_sent_notification == (6, 9)  # Cease / Hard Reset
    net.advance(120)  # stays down: no automatic restart after an administrative shutdown
    assert a.peers[B].session.state == State.IDLE
    assert net.command(A, cmd.EnablePeer(B)).status == 200
    net.advance(5)
    assert a.peers[B].session.state == State.ESTABLISHED and learned(b)


def test_hard_reset_command_is_administrative_reset_so_a_gr_peer_keeps_routes() -> None:
    # Spec section 6: Administrative Reset is "provisional", sent plain; with N negotiated
    # the peer runs graceful restart (RFC 8538 §4) and keeps our routes while we return.
    net, a, b = demo_pair()
    before = learned(b)
    reply = net.command(A, cmd.ResetPeer(B, "hard"))
    assert reply.status == 200
    assert a.peers[B].stats.last_sent_notification == (6, 4)
    kinds = [n.data.get("event") for name, n in net.notices if name == B and n.kind == "restart"]
    assert "helper-started" in kinds  # B kept A's routes stale...
    net.advance(5)
    assert learned(b) == before  # ...and they are back, fresh, after A's End-of-RIB
    assert b.peers[A].stats.stale_since is None
    assert b.peers[A].stats.last_stale_duration is not None
    assert b.peers[A].stats.gr_events == {"helper-started": 1, "eor-purged": 2}


def test_soft_reset_in_sends_route_refresh_and_out_resends() -> None:
    net, a, b = demo_pair()
    b_updates = b.peers[A].session.received_counts[2]
    reply = net.command(A, cmd.ResetPeer(B, "soft-in"))
    assert reply.status == 200 and "ROUTE-REFRESH" in reply.message
    assert a.peers[B].stats.sent[5] == 2  # one per negotiated family (RFC 2918 §3)
    assert b.peers[A].session.received_counts[5] == 2
    assert a.peers[B].session.received_counts[2] > 0
    reply = net.command(A, cmd.ResetPeer(B, "soft-out"))
    assert reply.status == 200
    assert b.peers[A].session.received_counts[2] > b_updates
    assert a.peers[B].session.state == State.ESTABLISHED


def test_reset_modes_and_unknown_peers_are_refused_with_reasons() -> None:
    net, _a, _b = demo_pair()
    assert net.command(A, cmd.ResetPeer("127.0.0.9")).status == 404
    assert net.command(A, cmd.ResetPeer(B, "sideways")).status == 400
    assert net.command(A, cmd.ShutdownPeer(B, "é" * 128)).status == 400  # 256 octets > RFC 9003 §2
    net.command(A, cmd.ShutdownPeer(B))
    refused = net.command(A, cmd.ResetPeer(B, "soft-in"))
    assert refused.status == 400 and "not ESTABLISHED" in refused.message


def test_add_routes_is_all_or_nothing_and_counts_changes() -> None:
    net, a, b = demo_pair()
    good = LocalRoute("10.20.0.0/24", communities=("65001:9",))
    bad = LocalRoute("10.21.0.0/24", next_hop="2001:db8::1")
    reply = net.command(A, cmd.AddRoutes((good, bad)))
    assert reply.status == 400 and "paths[1] 10.21.0.0/24" in reply.message
    assert "10.20.0.0/24" not in learned(b)
    reply = net.command(A, cmd.AddRoutes((good, LocalRoute("10.21.0.0/24"))))
    assert reply.status == 200 and reply.result == {"changed": 2, "unchanged": 0}
    assert {"10.20.0.0/24", "10.21.0.0/24"} <= learned(b).keys()
    assert net.command(A, cmd.AddRoutes((good,))).result == {"changed": 0, "unchanged": 1}
    reply = net.command(A, cmd.DeleteRoutes(("10.20.0.0/24", "10.99.0.0/24")))
    assert reply.result == {"changed": 1, "unchanged": 1}
    assert "10.20.0.0/24" not in learned(b) and "10.21.0.0/24" in learned(b)
    assert net.command(A, cmd.DeleteRoutes(("banana",))).status == 400
    assert len(a.local_routes) == 6  # 5 from the configuration + 10.21.0.0/24


def test_add_and_delete_peer() -> None:
    net, a, _b = demo_pair()
    assert net.command(A, cmd.AddPeer(a.peers[B].settings)).status == 409
    settings = NeighborSettings("127.0.0.9", SessionConfig(65001, "127.0.0.1", "127.0.0.9", 65009))
    assert net.command(A, cmd.AddPeer(settings)).status == 201
    assert a.peers["127.0.0.9"].dynamic
    assert any(n.kind == "peer-added" for _, n in net.notices)
    assert net.command(A, cmd.DeletePeer("127.0.0.9")).status == 200
    assert "127.0.0.9" not in a.peers
    assert net.command(A, cmd.DeletePeer("127.0.0.9")).status == 404


def test_reload_keeps_api_peers_and_api_routes() -> None:
    net, a, _b = demo_pair()
    settings = NeighborSettings("127.0.0.9", SessionConfig(65001, "127.0.0.1", "127.0.0.9", 65009))
    net.command(A, cmd.AddPeer(settings))
    net.command(A, cmd.AddRoutes((LocalRoute("10.30.0.0/24"),)))
    a_text, _ = demo_configs(1179, 1180, "/tmp/gracebgp-test")
    again = speaker_from(a_text)  # the same file, reloaded with one route left in it
    routes = (LocalRoute("192.0.2.0/26"),)
    a.handle(ev.Reconfigured(tuple(p.settings for p in again.peers.values()), routes), net.now)
    assert "127.0.0.9" in a.peers  # not the file's to remove
    assert (IPV4_UNICAST, parse_prefix("10.30.0.0/24")[1]) in a.local_routes
    assert (IPV4_UNICAST, parse_prefix("198.51.100.0/26")[1]) not in a.local_routes  # the file's


def test_message_counters_follow_the_wire() -> None:
    _net, a, b = demo_pair()
    sent, got = a.peers[B].stats.sent, b.peers[A].session.received_counts
    assert sent[1] == got[1] >= 1  # OPENs (two each way when the connections collided)
    assert sent[2] == got[2] > 0  # every UPDATE A sent, B received
    assert sent[4] == got[4] >= 1


def test_commands_on_a_bare_speaker_do_not_need_a_network() -> None:
    s = Speaker(65000, "192.0.2.1")

    out = s.handle(ev.CommandRequested(7, cmd.AddRoutes((LocalRoute("192.0.2.0/24"),))), 1.0)
    assert [o for o in out if isinstance(o, ev.Reply)] == [ev.Reply(7, 200, "1 routes added",
                                                                   {"changed": 1, "unchanged": 0})]
    out = s.handle(ev.CommandRequested(8, "not a command"), 1.0)
    assert out == [ev.Reply(8, 400, "unknown command str")]


# --- configured routes belong to the file (issue 10 finding 10) ---------------------------

CONFIGURED = "198.51.100.0/26"  # one of demo speaker A's [[gracebgp.routes]]


def test_add_or_delete_of_a_configured_route_is_refused_with_the_file_to_edit() -> None:
    net, a, b = demo_pair()
    a.config_file = "/etc/gracebgp/a.toml"
    key = (IPV4_UNICAST, parse_prefix(CONFIGURED)[1])
    before = a.local_routes[key]
    reply = net.command(A, cmd.AddRoutes((LocalRoute("10.40.0.0/24"), LocalRoute(CONFIGURED, med=5))))
    assert (reply.status, reply.message) == (409, (
        f"{CONFIGURED} is configured in /etc/gracebgp/a.toml ([[gracebgp.routes]]); change it there "
        "and reload (SIGHUP); nothing was added"))
    assert a.local_routes[key] is before  # not replaced ...
    assert "10.40.0.0/24" not in learned(b)  # ... and all or nothing
    reply = net.command(A, cmd.DeleteRoutes(("10.99.0.0/24", CONFIGURED)))
    assert (reply.status, reply.message) == (409, (
        f"{CONFIGURED} is configured in /etc/gracebgp/a.toml ([[gracebgp.routes]]); remove it there "
        "and reload (SIGHUP); nothing was deleted"))
    assert CONFIGURED in learned(b)
    many = ("192.0.2.0/26", CONFIGURED, "203.0.113.0/26", "2001:db8:a::/48", "10.99.0.0/24")
    reply = net.command(A, cmd.DeleteRoutes(many))
    assert reply.status == 409 and reply.message.startswith(
        "192.0.2.0/26, 198.51.100.0/26, 203.0.113.0/26 and 1 more are configured in /etc/gracebgp/a.toml "
        "([[gracebgp.routes]]); remove them there")
    reply = net.command(A, cmd.AddRoutes((LocalRoute("2001:db8:a:1::/64"),)))
    assert reply.status == 409 and reply.message.startswith("2001:db8:a:1::/64 is configured")
    assert len(a.local_routes) == 5 and not any(n.kind == "command" for _, n in net.notices)


def test_configured_route_refused_in_any_slice_before_anything_changes() -> None:
    s = speaker_from(demo_configs(1179, 1180, "/tmp/gracebgp-test")[0])
    s.slice_routes = 2
    adds = (*(LocalRoute(f"10.41.{i}.0/24") for i in range(5)), LocalRoute(CONFIGURED))
    out = s.handle(ev.CommandRequested(1, cmd.AddRoutes(adds)), 1.0)
    while not any(isinstance(o, ev.Reply) for o in out):
        out = s.handle(ev.Continue(), 1.0)
    reply = next(o for o in out if isinstance(o, ev.Reply))
    assert reply.status == 409 and "the configuration file ([[gracebgp.routes]])" in reply.message
    assert len(s.local_routes) == 5 and not s.jobs


def test_a_route_the_file_no_longer_has_is_the_apis_again() -> None:
    net, a, _b = demo_pair()
    a_text, _ = demo_configs(1179, 1180, "/tmp/gracebgp-test")
    again = speaker_from(a_text)
    a.handle(ev.Reconfigured(tuple(p.settings for p in again.peers.values()), (LocalRoute("192.0.2.0/26"),)),
             net.now)
    assert net.command(A, cmd.AddRoutes((LocalRoute(CONFIGURED, med=5),))).status == 200
    assert net.command(A, cmd.DeleteRoutes((CONFIGURED,))).status == 200
    assert net.command(A, cmd.DeleteRoutes(("192.0.2.0/26",))).status == 409
