"""The graceful-restart helper keeps a restarting peer's routes (RFC 4724 §4.2, spec
section 3), on the in-memory network of ``grnet``."""

from __future__ import annotations

import pytest

from gracebgp.core import events as ev
from gracebgp.rib import channel
from gracebgp.session.state import State

from .grnet import A_V4, A_V6, B_V4, V4, V6, A, B, learned, neighbor, pair, restarted_a, stale


def test_rfc4724_4_2_helper_keeps_routes_across_tcp_cut_and_eor_purges_only_what_is_gone() -> None:
    net, _a, b = pair()
    assert set(learned(b)) == set(A_V4) and set(learned(b, V6)) == set(A_V6)
    net.cut(A)
    net.run()
    assert set(learned(b)) == set(A_V4) and set(learned(b, V6)) == set(A_V6)  # kept, stale
    assert stale(b, A) == set(A_V4) and stale(b, A, V6) == set(A_V6)
    net.advance(30)
    assert set(learned(b)) == set(A_V4)  # well within the 120 s Restart Time
    # A comes back without 203.0.113.0/26: only that one goes, at A's End-of-RIB.
    net.start(A, restarted_a(v4=A_V4[:2]), restart="unplanned")
    assert set(learned(b)) == set(A_V4[:2]) and set(learned(b, V6)) == set(A_V6)
    assert stale(b, A) == set() and stale(b, A, V6) == set()
    purged = [(e["family"], e["purged"], e["reason"]) for e in net.events(B) if e["event"] == "eor-purged"]
    assert purged == [("ipv4-unicast", 1, "End-of-RIB"), ("ipv6-unicast", 0, "End-of-RIB")]
    assert b.peers[A].stats.stale_since is None and b.peers[A].stats.last_stale_duration == 30


def test_rfc4724_4_2_new_open_while_established_closes_the_old_session_and_keeps_routes() -> None:
    net, _a, b = pair()
    net.links = [lk for lk in net.links if A not in (lk.a[0], lk.b[0])]  # B never sees A's TCP die
    since = net.mark()
    net.start(A, restarted_a(v4=A_V4[:2]), restart="unplanned")
    down, started = (e for e in net.events(B, since) if e["event"] in ("session-down", "helper-started"))
    assert down["retained"] is True and down["notification"] is None
    assert "new connection while established" in down["reason"]
    assert started["stale"] == {"ipv4-unicast": 3, "ipv6-unicast": 1}
    assert [m for m in net.messages(B, A, since) if m.kind == "notification"] == []  # closed silently
    assert b.peers[A].session.state == State.ESTABLISHED
    assert set(learned(b)) == set(A_V4[:2])  # and the EoR swept the route A no longer has


def test_spec3_hold_timer_expiry_keeps_routes() -> None:
    net, _a, b = pair()
    net.links = [lk for lk in net.links if A not in (lk.a[0], lk.b[0])]
    net.down.add(A)  # silence: no TCP reset reaches B
    net.advance(95)
    (down,) = [e for e in net.events(B) if e["event"] == "session-down"]
    assert down["retained"] is True and down["notification"] == "HOLD_TIMER_EXPIRED/0"
    assert set(learned(b)) == set(A_V4) and stale(b, A) == set(A_V4)


def test_spec6_planned_restart_end_to_end_never_loses_a_route() -> None:
    """Problem 1: stop the retain way, come back planned; the peer never loses a route."""
    net, _a, b = pair()
    net.deliver(A, ev.StopRequested(graceful=True, message="upgrade"))
    net.down.add(A)
    assert set(learned(b)) == set(A_V4) and set(learned(b, V6)) == set(A_V6)
    net.advance(20)
    assert set(learned(b)) == set(A_V4)
    net.start(A, restarted_a())
    assert set(learned(b)) == set(A_V4) and set(learned(b, V6)) == set(A_V6)
    assert stale(b, A) == set() and stale(b, A, V6) == set()
    assert [w for m in net.wire if m.sender == A for w in m.withdrawn] == []
    purged = [e["purged"] for e in net.events(B) if e["event"] in ("eor-purged", "stale-purged")]
    assert purged == [0, 0]


def test_rfc4724_4_2_helper_sends_its_routes_and_eor_without_waiting_for_the_peers() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    since = net.mark()
    net.start(A, restarted_a())  # A defers until B's EoR: B must not wait for A's
    to_a = net.messages(B, A, since)
    from_a = net.messages(A, B, since)
    b_eor = next(m for m in to_a if m.kind == "eor")
    a_eor = next(m for m in from_a if m.kind == "eor")
    assert net.wire.index(b_eor) < net.wire.index(a_eor)
    assert set(B_V4) <= {p for m in to_a for p in m.announced}
    assert set(learned(b)) == set(A_V4)


def test_rfc4724_4_2_restarted_peer_open_without_gr_purges_at_once() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    net.start(A, restarted_a(neighbor(A, B, gr=False), v4=A_V4[:1]), restart="cold")
    events = [e for e in net.events(B) if e["event"] in ("session-up", "stale-purged", "eor-received")]
    assert [(e["event"], e.get("family"), e.get("purged"), e.get("reason")) for e in events[-5:]] == [
        ("session-up", None, None, None),
        ("stale-purged", "ipv4-unicast", 3, "F=0 or capability missing"),
        ("stale-purged", "ipv6-unicast", 1, "F=0 or capability missing"),
        ("eor-received", "ipv4-unicast", None, None),  # a speaker without GR still sends EoR
        ("eor-received", "ipv6-unicast", None, None),
    ]
    assert set(learned(b)) == set(A_V4[:1])


def test_rfc4724_4_2_restarted_peer_with_f_bit_zero_purges_at_once() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    net.start(A, restarted_a(neighbor(A, B, forwarding=False)), restart="unplanned")
    purges = [(e["family"], e["reason"]) for e in net.events(B) if e["event"] == "stale-purged"]
    assert purges == [("ipv4-unicast", "F=0 or capability missing"),
                      ("ipv6-unicast", "F=0 or capability missing")]
    assert set(learned(b)) == set(A_V4)  # re-learned from the new session


def test_rfc4724_4_2_restarted_peer_without_a_family_purges_that_family() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    net.start(A, restarted_a(neighbor(A, B, families=(V4,))), restart="unplanned")
    purges = [(e["family"], e["purged"]) for e in net.events(B) if e["event"] == "stale-purged"]
    assert purges == [("ipv6-unicast", 1)]
    assert learned(b, V6) == {} and set(learned(b)) == set(A_V4)


def test_rfc4724_4_2_restart_timer_deletes_stale_routes_when_the_peer_stays_away() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    net.advance(119)
    assert set(learned(b)) == set(A_V4)
    net.advance(1)
    assert learned(b) == {} and learned(b, V6) == {}
    purges = [(e["event"], e["family"], e["purged"], e["reason"]) for e in net.events(B)
              if e["event"] == "stale-purged"]
    assert purges == [("stale-purged", "ipv4-unicast", 3, "restart timer"),
                      ("stale-purged", "ipv6-unicast", 1, "restart timer")]


def test_spec3_stale_path_timer_bounds_the_wait_for_the_restarted_peers_eor() -> None:
    net, _a, b = pair(b_neighbor=neighbor(B, A, stale_path=20))
    net.cut(A)
    net.run()
    net.hold_eor_from.add(A)  # the new A never finishes its initial update
    net.start(A, restarted_a(v4=A_V4[:2]), restart="cold")
    assert b.peers[A].gr.waiting_for_eor() == [V4, V6]
    assert stale(b, A) == {A_V4[2]}
    net.advance(19)
    assert A_V4[2] in learned(b)
    net.advance(1)
    assert set(learned(b)) == set(A_V4[:2])
    purges = [(e["family"], e["purged"], e["reason"]) for e in net.events(B) if e["event"] == "stale-purged"]
    assert purges == [("ipv4-unicast", 1, "stale-path timer"), ("ipv6-unicast", 0, "stale-path timer")]


def test_rfc4724_4_2_consecutive_restart_deletes_still_stale() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    net.hold_eor_from.add(A)
    net.start(A, restarted_a(v4=A_V4[:2]), restart="cold")  # re-announces two of three, no EoR
    assert stale(b, A) == {A_V4[2]}
    net.advance(5)
    net.cut(A)  # and is gone again before its End-of-RIB
    net.run()
    assert set(learned(b)) == set(A_V4[:2])  # the fresh ones are kept (stale again) ...
    assert stale(b, A) == set(A_V4[:2])
    sweeps = [(e["family"], e["purged"], e["reason"]) for e in net.events(B)
              if e["event"] == "stale-purged" and e["reason"] == "consecutive restart"]
    assert sweeps == [("ipv4-unicast", 1, "consecutive restart")]  # ... the one still stale is not
    assert b.peers[A].gr.restart_deadline == net.now + 120


def test_issue14_a_helper_reading_the_adj_rib_in_from_the_loc_rib_keeps_and_sweeps_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first test with A's Adj-RIB-In at B read from B's Loc-RIB (A's routes are most
    of it; ``READ_MIN`` lowered to these tables): the speaker settles it at a flush round,
    and the routes are kept, marked and swept as when it holds them."""
    monkeypatch.setattr(channel, "READ_MIN", 1)
    net, _a, b = pair()
    adj = b.peers[A].adj_in
    assert adj[V4].reads_loc and adj[V6].reads_loc and len(adj[V4]) == 3 and len(adj[V6]) == 1
    net.cut(A)
    net.run()
    assert set(learned(b)) == set(A_V4) and stale(b, A) == set(A_V4) and stale(b, A, V6) == set(A_V6)
    net.advance(30)
    net.start(A, restarted_a(v4=A_V4[:2]), restart="unplanned")
    assert set(learned(b)) == set(A_V4[:2]) and set(learned(b, V6)) == set(A_V6)
    assert stale(b, A) == set() and len(b.peers[A].adj_in[V4]) == 2 and b.peers[A].route_count() == 3
    assert b.peers[A].adj_in[V4].reads_loc  # 2 of B's 3 prefixes
    purged = [(e["family"], e["purged"]) for e in net.events(B) if e["event"] == "eor-purged"]
    assert purged == [("ipv4-unicast", 1), ("ipv6-unicast", 0)]
