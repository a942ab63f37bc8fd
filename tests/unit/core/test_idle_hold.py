"""idle-hold-time-after-reset with GoBGP's meaning (issue 11: nothing accepted is ignored):
after an operator's reset (``gracebgp neighbor ADDR reset``, ResetPeer hard) the session
stays Idle that many seconds, refusing connections (RFC 4271 §8.1.1 IdleHoldTimer), before
it connects again. gracebgp's default is 0 (GoBGP: 30): the peer then keeps our routes stale
under graceful restart for as short a time as possible. Resets that are not the operator's
(a reload, a protocol error) never wait for it, as in GoBGP."""

from __future__ import annotations

from dataclasses import replace

from gracebgp.config import parse
from gracebgp.config.default import demo_configs
from gracebgp.core import events as ev
from gracebgp.core.commands import EnablePeer, ResetPeer
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.session.state import State

from .net import SpeakerNet
from .test_speaker import speaker_from

A, B = "127.0.0.1", "127.0.0.2"


def pair(idle: int | None) -> tuple[SpeakerNet, Speaker, Speaker]:
    """The demo pair; A's neighbor B with ``idle-hold-time-after-reset = idle`` (None: unset)."""
    a_text, b_text = demo_configs(1179, 1180, "/tmp/gracebgp-test")
    if idle is not None:
        a_text = a_text.replace("[neighbors.timers.config]\n",
                                f"[neighbors.timers.config]\nidle-hold-time-after-reset = {idle}\n", 1)
    net = SpeakerNet()
    a = net.add(A, speaker_from(a_text))
    b = net.add(B, speaker_from(b_text))
    net.run()
    assert a.peers[B].session.state is State.ESTABLISHED
    return net, a, b


def test_default_reconnects_as_soon_as_the_notification_is_read() -> None:
    """Unset (0): the reset session is back within the same step, as before."""
    net, a, _b = pair(None)
    assert a.peers[B].settings.idle_hold_after_reset == 0.0
    reply = net.command(A, ResetPeer(B, "hard"))
    assert reply.message == f"peer {B} reset"
    assert a.peers[B].session.state is State.ESTABLISHED


def test_operator_reset_stays_idle_for_idle_hold_time_after_reset() -> None:
    net, a, b = pair(5)
    assert a.peers[B].settings.idle_hold_after_reset == 5.0
    t0 = net.now
    reply = net.command(A, ResetPeer(B, "hard"))
    assert reply.message == (f"peer {B} reset; idle for 5s (idle-hold-time-after-reset) "
                             "before it connects again")
    assert a.peers[B].session.state is State.IDLE
    assert a.next_deadline() == t0 + 5
    # B tries again meanwhile (its own back-off): A is Idle and refuses the connection
    # with Cease / Connection Rejected (RFC 4486)
    since = len(net.logs)
    net.advance(4.5, step=0.5)
    assert a.peers[B].session.state is State.IDLE
    assert b.peers[A].stats.established_count == 1
    assert any(n == B and "CONNECTION_REJECTED" in log.message for n, log in net.logs[since:])
    net.advance(1.0, step=0.5)
    assert a.peers[B].session.state is State.ESTABLISHED
    assert a.peers[B].idle_until is None and a.peers[B].start_at is None


def test_only_the_operators_reset_waits() -> None:
    """A reload whose change needs a new session (here: hold-time) reconnects at once."""
    net, a, _b = pair(30)
    neighbors = tuple(replace(p.settings, session=replace(p.settings.session, hold_time=12))
                      for p in a.peers.values())
    out = a.handle(ev.Reconfigured(neighbors, ()), net.now)
    for o in out:
        net.execute(A, o)
    net.run()
    assert a.peers[B].session.state is State.ESTABLISHED


def test_enable_during_the_idle_hold_starts_at_once() -> None:
    """The operator's own EnablePeer (or a new reset) is not held back by the old one."""
    net, a, _b = pair(60)
    net.command(A, ResetPeer(B, "hard"))
    assert a.peers[B].session.state is State.IDLE and a.peers[B].idle_until is not None
    a.peers[B].admin_down = True  # as ShutdownPeer leaves it; EnablePeer clears both
    net.command(A, EnablePeer(B))
    assert a.peers[B].session.state is State.ESTABLISHED and a.peers[B].idle_until is None


def test_the_key_reaches_the_neighbor_settings() -> None:
    text = demo_configs(1179, 1180, "/tmp/gracebgp-test")[0].replace(
        "[neighbors.timers.config]\n", "[neighbors.timers.config]\nidle-hold-time-after-reset = 7\n", 1)
    cfg = parse(text)
    s = NeighborSettings.from_config(cfg.neighbors[0], cfg.global_)
    assert s.idle_hold_after_reset == 7.0
    assert s.session.max_idle_hold_time == 120.0  # no longer the cap of the failure back-off
