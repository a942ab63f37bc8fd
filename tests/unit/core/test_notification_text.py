"""Logs, events and the timeline name the NOTIFICATION that went on the wire: a
withdrawing stop (SIGTERM) sends a Hard Reset to a peer with N and, unwrapped, the plain
Cease to a peer without N (RFC 8538 §3, spec section 6); the text says which."""

from __future__ import annotations

import pytest

from gracebgp.core import events as ev

from .grnet import A, B, neighbor, pair

SHUT = "CEASE/ADMINISTRATIVE_SHUTDOWN: 'bye'"


@pytest.mark.parametrize(("n_bit", "said"), [
    (True, f"stop (sent CEASE/HARD_RESET wrapping {SHUT})"),
    (False, f"stop (sent {SHUT})"),
])
def test_rfc8538_3_withdrawing_stop_says_the_notification_that_was_sent(n_bit: bool, said: str) -> None:
    net, a, _b = pair(a_neighbor=neighbor(A, B, notification=n_bit))
    logs, notices, wire = len(net.logs), len(net.notices), len(net.wire)
    net.deliver(A, ev.StopRequested(graceful=False, message="bye"))
    (note,) = [m.body for m in net.wire[wire:] if m.sender == A and m.kind == "notification"]
    assert note.is_hard_reset is n_bit and f"sent {note.describe()})" in said
    texts = [lg.message for name, lg in net.logs[logs:] if name == A]
    assert f"ESTABLISHED -> IDLE: {said}" in texts  # the log
    assert any(t.startswith(f"session down: {said};") for t in texts)
    mine = {n.kind if n.kind != "restart" else n.data["event"]: n for name, n in net.notices[notices:]
            if name == A}
    assert mine["peer-state"].data["reason"] == said  # the timeline
    assert mine["peer-state"].message == f"peer {B}: ESTABLISHED -> IDLE: {said}"
    assert mine["session-down"].data["reason"] == said  # the event
    assert a.peers[B].stats.last_error == said
    if not n_bit:
        assert not any("HARD_RESET" in t for t in texts)
