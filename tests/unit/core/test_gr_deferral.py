"""The restarting speaker: R bit and selection deferral (RFC 4724 §4.1, spec section 4),
on the in-memory network of ``grnet``."""

from __future__ import annotations

from dataclasses import replace

from gracebgp.core import commands as cmd
from gracebgp.session.config import GrConfig
from gracebgp.wire import GracefulRestart

from .grnet import (
    A_V4,
    A_V6,
    BOTH,
    V4,
    V6,
    A,
    B,
    C,
    deferral,
    learned,
    neg,
    neighbor,
    pair,
    restart_a,
    restarted_a,
    stale,
)


def test_rfc4724_4_1_restarted_speaker_sets_r_and_clears_it_after_selection() -> None:
    net, _a, b = pair()
    a, since = restart_a(net)
    opens = [m.body for m in net.messages(A, B, since) if m.kind == "open"]
    assert opens  # one per connection: both sides connect, RFC 4271 §6.8 resolves it
    for open_msg in opens:
        (gr,) = [c for c in open_msg.capabilities if isinstance(c, GracefulRestart)]
        assert gr.flags & 0x8 and gr.flags & 0x4  # R and N
        assert {(afi, safi, flags) for afi, safi, flags in gr.families} == {(1, 1, 0x80), (2, 1, 0x80)}
    peer_gr = neg(b, A).peer_gr
    assert peer_gr is not None and peer_gr.restart_state
    assert a.deferral is not None and a.deferral.done
    cfg = a.peers[B].session.config.graceful_restart
    assert cfg is not None and not cfg.restarting  # R only in the OPENs of the restart
    net.command(A, cmd.ResetPeer(B, "hard"))
    net.advance(5)
    peer_gr = neg(b, A).peer_gr
    assert peer_gr is not None and not peer_gr.restart_state


def test_spec4_cold_start_sends_r_0_and_does_not_defer() -> None:
    net, a, b = pair()
    peer_gr = neg(b, A).peer_gr
    assert peer_gr is not None and not peer_gr.restart_state
    assert a.deferral is None and "deferral-started" not in net.event_names(A)


def test_rfc4724_4_1_spec4_no_update_before_the_peers_eor_and_own_routes_before_own_eor() -> None:
    net, _a, b = pair()
    _a2, since = restart_a(net)
    order = [m for m in net.wire[since[0]:] if {m.sender, m.to} == {A, B} and m.kind in ("update", "eor")]
    for family, mine in ((V4, set(A_V4)), (V6, set(A_V6))):
        fam = [m for m in order if m.family == family]
        first_from_a = next(i for i, m in enumerate(fam) if m.sender == A)
        b_eor = next(i for i, m in enumerate(fam) if m.sender == B and m.kind == "eor")
        assert b_eor < first_from_a, f"{family}: A spoke before B's End-of-RIB"
        a_eor = next(i for i, m in enumerate(fam) if m.sender == A and m.kind == "eor")
        before_eor = {p for m in fam[:a_eor] if m.sender == A for p in m.announced}
        assert mine <= before_eor, f"{family}: A's own routes must precede its End-of-RIB"
    assert set(learned(b)) == set(A_V4) and set(learned(b, V6)) == set(A_V6)
    assert stale(b, A) == set()


def test_spec4_locally_originated_routes_survive_the_helpers_eor_sweep() -> None:
    net, _a, _b = pair()
    restart_a(net)
    purged = [(e["family"], e["purged"]) for e in net.events(B) if e["event"] == "eor-purged"]
    assert purged == [("ipv4-unicast", 0), ("ipv6-unicast", 0)]


def test_spec_problem2_six_minutes_selection_runs_at_the_peers_ipv4_eor() -> None:
    """Deferral 360 s; A configures IPv4 and IPv6, the switch (B) negotiates IPv4 only."""
    net, _a, b = pair(a_neighbor=neighbor(A, B, deferral=360), b_neighbor=neighbor(B, A, families=(V4,)))
    t0 = net.now
    a, since = restart_a(net, neighbor(A, B, deferral=360))
    assert a.deferral is not None and a.deferral.families == BOTH
    done = {e["family"]: e for e in net.events(A, since) if e["event"] == "selection-done"}
    assert done["ipv4-unicast"]["reason"] == "End-of-RIB received from every peer in the wait set"
    assert done["ipv4-unicast"]["after"] < 1 and done["ipv6-unicast"]["after"] < 1
    assert a.deferral.done and net.now - t0 < 1
    assert "restart-complete" in net.event_names(A)
    assert set(learned(b)) == set(A_V4)


def test_rfc4724_4_1_selection_deferral_timer_ends_the_wait_for_a_silent_peer() -> None:
    net, _a, b = pair(a_neighbor=neighbor(A, B, deferral=60))
    net.hold_eor_from.add(B)  # B never completes its initial update to A
    a, _since = restart_a(net, neighbor(A, B, deferral=60))
    net.advance(59)
    assert not deferral(a).done and stale(b, A) == set(A_V4)
    status = deferral(a).status([], net.now)
    assert [s["deferral_expires_in"] for s in status] == [1.0, 1.0]
    net.advance(1)
    reasons = {e["reason"] for e in net.events(A) if e["event"] == "selection-done"}
    assert reasons == {"Selection_Deferral_Timer expired"}
    assert set(learned(b)) == set(A_V4) and stale(b, A) == set()


def test_spec4_neighbor_that_never_comes_up_holds_selection_only_until_establish_wait() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    a = restarted_a(neighbor(A, B), neighbor(A, C))  # C is configured but unreachable
    a.establish_wait = 30
    net.start(A, a)
    assert not deferral(a).done
    net.advance(29)
    assert not deferral(a).done
    net.advance(1)
    assert deferral(a).done
    assert set(learned(b)) == set(A_V4)


def test_spec_problem2_down_neighbor_never_holds_a_family_it_is_not_configured_for() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    a = restarted_a(neighbor(A, B), neighbor(A, C, families=(V4,)))  # C: IPv4 only, unreachable
    net.start(A, a)
    assert a.deferral is not None and a.deferral.is_open(V6)  # B's IPv6 EoR is all IPv6 can wait for
    assert set(learned(b, V6)) == set(A_V6)


def test_spec4_helper_only_peer_is_not_waited_for_and_gets_r_0() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    settings = neighbor(A, B)
    grc = replace(GrConfig(120, True), helper_only=True)
    helper_only = replace(settings, session=replace(settings.session, graceful_restart=grc))
    net.start(A, restarted_a(helper_only))
    assert "deferral-started" not in net.event_names(A)
    peer_gr = neg(b, A).peer_gr
    assert peer_gr is not None and not peer_gr.restart_state and peer_gr.families == frozenset()
