"""BFD Down on an Established session (RFC 9384, RFC 5882 §4.3, core.bfd), on the in-memory
network: the session goes down at once with Cease/BFD Down, and the peer's routes are kept
stale or flushed as restart.bfd_down's table says; AdminDown is never a failure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gracebgp.core import events as ev
from gracebgp.wire.iana import CeaseSubcode

from .grnet import A_V4, B_V4, A, B, learned, neighbor, pair, stale


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
