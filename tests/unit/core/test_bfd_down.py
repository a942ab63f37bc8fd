"""BFD Down on an Established session (RFC 9384, RFC 5882 §4.3, core.bfd), on the in-memory
network: the session goes down at once with Cease/BFD Down, and the peer's routes are kept
stale or flushed as restart.bfd_down's table says; AdminDown is never a failure; with
wait-for-up no session comes up while BFD is not Up."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gracebgp.core import events as ev
from gracebgp.session.state import State
from gracebgp.wire.iana import CeaseSubcode

from .grnet import A_V4, B_V4, A, B, Net, learned, neighbor, pair, routes, speaker, stale


def _down(remote_c: bool, *, old: str = "up", remote_state: str = "down",
          diag: str = "control-detection-time-expired") -> ev.BfdChanged:
    return ev.BfdChanged(B, old, "down", remote_state, diag, remote_c)


@pytest.mark.parametrize(("gr", "notification", "remote_c", "graceful", "kept"), [
    (False, False, False, False, False),  # no GR: flush
    (False, False, True, True, False),
    (True, True, False, False, True),  # C=0: its control plane may be restarting: keep
    (True, False, False, False, True),  # the same without N: closed with no NOTIFICATION
    (True, True, True, False, False),  # C=1: its forwarding failed: flush (Hard Reset)
    (True, False, True, False, False),  # ... plain Cease/BFD Down without N
    (True, True, True, True, True),  # bfd graceful: keep anyway
])
def test_bfd_down_on_established_session(gr: bool, notification: bool, remote_c: bool, graceful: bool,
                                         kept: bool) -> None:
    mine = replace(neighbor(A, B, gr=gr, notification=notification), bfd_graceful=graceful)
    net, a, b = pair(a_neighbor=mine, b_neighbor=neighbor(B, A, gr=gr, notification=notification))
    assert set(learned(a)) == set(B_V4)
    mark = net.mark()
    net.deliver(A, _down(remote_c))
    notes = [m.body for m in net.messages(A, B, mark) if m.kind == "notification"]
    if kept and not notification:
        assert notes == []  # RFC 4724 §4: a NOTIFICATION would end GR without N
    else:
        [note] = notes
        inner = note.unwrap()
        assert (inner.code, inner.subcode) == (6, CeaseSubcode.BFD_DOWN)
        assert note.is_hard_reset == (notification and not kept)
    events = net.events(A, mark)
    (down,) = [e for e in events if e["event"] == "session-down"]
    assert down["retained"] is kept  # kept stale (GR helper) or deleted at once
    names = [e["event"] for e in events]
    assert names.index("bfd-down") < names.index("session-down")
    assert ("helper-started" in names) == kept
    net.run()  # the session comes back (the link is fine in this network): B's routes again
    assert set(learned(a)) == set(B_V4) and set(learned(b)) == set(A_V4)


@pytest.mark.parametrize("change", [
    ev.BfdChanged(B, "up", "down", "admin-down", "neighbor-signaled-session-down", True),  # peer AdminDown
    ev.BfdChanged(B, "up", "admin-down", "up", "administratively-down", False),  # ours
    ev.BfdChanged(B, "init", "down", "down", "control-detection-time-expired", False),  # never was Up
    ev.BfdChanged(B, "down", "up", "init", "none", True),
])
def test_not_a_failure_leaves_the_session(change: ev.BfdChanged) -> None:
    net, a, b = pair()
    mark = net.mark()
    net.deliver(A, change)
    assert [m for m in net.messages(A, B, mark) if m.kind == "notification"] == []
    assert set(learned(a)) == set(B_V4) and stale(a, B) == set()
    assert set(learned(b)) == set(A_V4)


def test_unknown_peer_is_ignored() -> None:
    net, a, _ = pair()
    net.deliver(A, ev.BfdChanged("192.0.2.99", "up", "down"))
    assert set(learned(a)) == set(B_V4)


def test_wait_for_up_holds_the_session_until_bfd_is_up() -> None:
    """[neighbors.bfd.gracebgp] wait-for-up: no session while BFD is not Up; it starts when
    BFD comes Up, a BFD failure takes it down and it waits again."""
    net = Net()
    mine = replace(neighbor(A, B), bfd_wait=True)
    a = net.add(A, speaker(A, mine, originate=routes(A_V4)))
    b = net.add(B, speaker(B, neighbor(B, A), originate=routes(B_V4, me=B)))
    net.run()
    net.advance(30)  # B keeps trying; A neither connects nor accepts
    assert a.peers[B].session.state != State.ESTABLISHED and learned(b) == {}
    net.deliver(A, ev.BfdChanged(B, "init", "up", "up", "none", False))
    net.run()
    assert a.peers[B].session.state == State.ESTABLISHED and set(learned(b)) == set(A_V4)
    net.deliver(A, _down(False))
    net.advance(30)
    assert a.peers[B].session.state != State.ESTABLISHED
    net.deliver(A, ev.BfdChanged(B, "down", "up", "up", "none", False))
    net.run()
    assert a.peers[B].session.state == State.ESTABLISHED


def test_wait_for_up_stops_a_session_still_coming_up_when_bfd_goes_down() -> None:
    net = Net()
    mine = replace(neighbor(A, B), bfd_wait=True)
    a = net.add(A, speaker(A, mine))
    net.add(B, speaker(B, neighbor(B, A)))
    net.down.add(B)  # B does not answer: A's session stays short of Established
    net.deliver(A, ev.BfdChanged(B, "init", "up", "up", "none", False))
    assert a.peers[B].session.state != State.IDLE
    net.deliver(A, ev.BfdChanged(B, "up", "down", "down", "control-detection-time-expired", False))
    assert a.peers[B].session.state == State.IDLE


def test_a_failure_missed_while_bfdd_was_away_acts_on_the_snapshot() -> None:
    """gracebgpd reconnects to gracebgp-bfdd (bfdd replaced, connection lost): the snapshot
    says "adopted"; a session we knew Up that is now Down by a failure is one (the state
    event went by while we were away), one still Up is no change."""
    net, _a, _b = pair(a_neighbor=neighbor(A, B, gr=False), b_neighbor=neighbor(B, A, gr=False))
    net.deliver(A, ev.BfdChanged(B, "init", "up", "up"))
    mark = net.mark()
    net.deliver(A, ev.BfdChanged(B, "adopted", "up", "up"))
    assert [e["event"] for e in net.events(A, mark) if e["event"].startswith("bfd")] == []
    net.deliver(A, _down(False, old="adopted"))
    names = [e["event"] for e in net.events(A, mark)]
    assert "bfd-down" in names and "session-down" in names
