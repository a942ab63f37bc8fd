"""Reload (SIGHUP) classes on the sans-IO speaker (issue 10 finding 8): a cosmetic change
is applied in place with nothing on the wire; a change that needs a new session resets it
with the right NOTIFICATION (RFC 4486 §4 Other Configuration Change, provisional under
RFC 8538 §5; Hard Reset when the peer's identity changes), and only after the old
connection is gone does the peer connect again; the "reload" event says per peer what
changed and what was done."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gracebgp.core import events as ev
from gracebgp.core.commands import ResetPeer
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.reload import IN_PLACE, RESET, SHUTDOWN, STARTED, changed_settings, plan
from gracebgp.core.speaker import CLOSE_WAIT, Speaker
from gracebgp.session.state import State
from gracebgp.wire import Notification
from gracebgp.wire.iana import CeaseSubcode, MessageType

from .net import SpeakerNet
from .test_speaker import demo_pair

A, B = "127.0.0.1", "127.0.0.2"
_OTHER_CHANGE = Notification.cease(CeaseSubcode.OTHER_CONFIGURATION_CHANGE)


def _reload(net: SpeakerNet, a: Speaker, change: Any) -> tuple[list[ev.Output], dict[str, Any]]:
    """Reload A with B's neighbor settings changed by ``change``; returns A's outputs and the
    reload event's entry for B."""
    neighbors = tuple(change(p.settings) if p.address == B else p.settings for p in a.peers.values())
    routes: tuple[Any, ...] = ()
    out = a.handle(ev.Reconfigured(neighbors, routes), net.now)
    notices = [o for o in out if isinstance(o, ev.Notice) and o.kind == "reload"]
    assert len(notices) == 1, out
    entry = next(p for p in notices[0].data["peers"] if p["peer"] == B)
    return out, entry


def _notifications(out: list[ev.Output]) -> list[Notification]:
    return [Notification.decode(o.data[19:]) for o in out
            if isinstance(o, ev.Send) and o.data[18] == MessageType.NOTIFICATION]


def _settle(net: SpeakerNet, out: list[ev.Output]) -> None:
    for o in out:
        net.execute(A, o)
    net.run()


def test_description_only_is_applied_in_place() -> None:
    net, a, _b = demo_pair()
    since = a.peers[B].session.established_since
    out, entry = _reload(net, a, lambda s: replace(s, description="rack 7 uplink"))
    assert not [o for o in out if isinstance(o, (ev.Send, ev.Close, ev.Connect))]
    assert entry == {"peer": B, "changed": ["description"], "action": IN_PLACE, "notification": None}
    assert a.peers[B].settings.description == "rack 7 uplink"  # visible at once (ListPeers)
    _settle(net, out)
    assert a.peers[B].session.state is State.ESTABLISHED
    assert a.peers[B].session.established_since == since


def test_next_connection_settings_are_applied_in_place() -> None:
    net, a, _b = demo_pair()
    out, entry = _reload(net, a, lambda s: replace(
        s, stale_path_time=99.0, deferral_time=50.0, idle_hold_after_reset=60.0,
        session=replace(s.session, connect_retry_time=7.0)))
    assert not [o for o in out if isinstance(o, (ev.Send, ev.Close, ev.Connect))]
    assert entry["action"] == IN_PLACE
    assert set(entry["changed"]) == {"graceful-restart deferral-time", "graceful-restart stale-routes-time",
                                     "connect-retry", "idle-hold-time-after-reset"}
    assert a.peers[B].session.config.connect_retry_time == 7.0


def test_hold_time_change_resets_with_other_configuration_change() -> None:
    net, a, _b = demo_pair()
    out, entry = _reload(net, a, lambda s: replace(s, session=replace(s.session, hold_time=30)))
    # RFC 8538 §5: provisional, so not wrapped in Hard Reset; with N both sides keep routes.
    assert _notifications(out) == [_OTHER_CHANGE]
    closes = [o for o in out if isinstance(o, ev.Close)]
    assert closes and all(c.after_notification for c in closes)
    assert not [o for o in out if isinstance(o, ev.Connect)]  # not before the old one is gone
    assert entry == {"peer": B, "changed": ["hold-time"], "action": RESET,
                     "notification": _OTHER_CHANGE.describe()}
    _settle(net, out)
    assert a.peers[B].session.state is State.ESTABLISHED
    neg = a.peers[B].negotiated
    assert neg is not None and neg.hold_time == 9  # B's is lower
    assert any("Other Configuration Change" in log.message or "OTHER_CONFIGURATION_CHANGE" in log.message
               for n, log in net.logs if n == B)


def test_peer_as_change_is_a_hard_reset() -> None:
    net, a, _b = demo_pair()
    out, entry = _reload(net, a, lambda s: replace(s, session=replace(s.session, peer_as=65099)))
    assert _notifications(out) == [_OTHER_CHANGE.hard_reset()]
    assert entry["action"] == RESET and entry["changed"] == ["peer-as"]
    assert entry["notification"] == _OTHER_CHANGE.hard_reset().describe()


def test_provisional_hard_wraps_other_configuration_change() -> None:
    net, a, _b = demo_pair()
    a.provisional_hard = True
    out, _entry = _reload(net, a, lambda s: replace(s, session=replace(s.session, hold_time=30)))
    assert _notifications(out) == [_OTHER_CHANGE.hard_reset()]


def test_admin_down_stops_with_admin_shutdown_and_up_starts() -> None:
    net, a, _b = demo_pair()
    out, entry = _reload(net, a, lambda s: replace(s, admin_down=True))
    shutdown = Notification.cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN).hard_reset()
    assert _notifications(out) == [shutdown]
    assert entry["action"] == SHUTDOWN and entry["changed"] == ["admin-down"]
    _settle(net, out)
    assert a.peers[B].session.state is State.IDLE
    out, entry = _reload(net, a, lambda s: replace(s, admin_down=False))
    assert entry["action"] == STARTED and entry["notification"] is None
    _settle(net, out)
    assert a.peers[B].session.state is State.ESTABLISHED


def test_reset_reconnects_when_the_old_connection_is_gone_or_after_close_wait() -> None:
    net, a, _b = demo_pair()
    out, _ = _reload(net, a, lambda s: replace(s, session=replace(s.session, hold_time=30)))
    closed = [o.conn for o in out if isinstance(o, ev.Close)]
    peer = a.peers[B]
    assert peer.closing == set(closed) and peer.start_at == net.now + CLOSE_WAIT
    assert a.next_deadline() is not None and a.next_deadline() <= net.now + CLOSE_WAIT  # type: ignore[operator]
    # nothing reported gone: the bound starts it anyway
    later = a.handle(ev.TimerDue(), net.now + CLOSE_WAIT)
    assert peer.start_at is None and not peer.closing
    assert [o for o in later if isinstance(o, ev.Connect)] or peer.session.state is not State.IDLE
    # reported gone: starts at once
    net2, a2, _ = demo_pair()
    out2, _ = _reload(net2, a2, lambda s: replace(s, session=replace(s.session, hold_time=30)))
    conns = [o.conn for o in out2 if isinstance(o, ev.Close)]
    starts: list[ev.Output] = []
    for c in conns:
        starts += a2.handle(ev.Disconnected(B, c, "closed"), net2.now)
    assert a2.peers[B].start_at is None and a2.peers[B].session.state is not State.IDLE


def test_reload_event_lists_added_removed_and_unchanged_peers() -> None:
    net, a, _b = demo_pair()
    settings = a.peers[B].settings
    new = NeighborSettings("127.0.0.3", replace(settings.session, peer_address="127.0.0.3"))
    out = a.handle(ev.Reconfigured((new,), ()), net.now)
    notice = next(o for o in out if isinstance(o, ev.Notice) and o.kind == "reload")
    peers = {p["peer"]: p for p in notice.data["peers"]}
    assert peers[B]["action"] == "removed"
    deconfigured = Notification.cease(CeaseSubcode.PEER_DECONFIGURED).hard_reset()
    assert peers[B]["notification"] == deconfigured.describe()
    assert peers["127.0.0.3"] == {"peer": "127.0.0.3", "changed": ["neighbor"], "action": "added",
                                  "notification": None}
    assert "127.0.0.2: removed with" in notice.message
    out = a.handle(ev.Reconfigured((new,), ()), net.now)
    notice = next(o for o in out if isinstance(o, ev.Notice) and o.kind == "reload")
    assert notice.data["peers"] == [] and "no peer changed" in notice.message


def test_changed_settings_ignore_the_r_bit_and_name_config_keys() -> None:
    _net, a, _b = demo_pair()
    s = a.peers[B].settings
    gr = s.session.graceful_restart
    assert gr is not None
    restarting = replace(s, session=replace(s.session, graceful_restart=replace(gr, restarting=True)))
    assert changed_settings(s, restarting) == ()
    no_f = replace(s, session=replace(s.session, graceful_restart=replace(gr, forwarding=frozenset())))
    assert plan(s, no_f).action == IN_PLACE  # the F bit goes out in the next OPEN
    assert plan(s, no_f).changed == ("forwarding-state-preserved",)
    no_gr = replace(s, session=replace(s.session, graceful_restart=None, llgr=()))
    p = plan(s, no_gr)
    assert p.action == RESET and p.changed == ("graceful-restart enabled", "long-lived-graceful-restart")
    assert p.notification == _OTHER_CHANGE


def test_operator_reset_reconnects_only_after_the_old_connection_is_gone() -> None:
    """ResetPeer hard: the NOTIFICATION's connection closes first, then the peer connects
    again (a new connection racing the NOTIFICATION looks like our restart to FRR)."""
    net, a, _b = demo_pair()
    out = a.handle(ev.CommandRequested(1, ResetPeer(B, "hard")), net.now)
    assert _notifications(out) == [Notification.cease(CeaseSubcode.ADMINISTRATIVE_RESET)]
    assert [o for o in out if isinstance(o, ev.Close)] and not [o for o in out if isinstance(o, ev.Connect)]
    assert a.peers[B].start_at is not None
    _settle(net, out)
    assert a.peers[B].start_at is None and a.peers[B].session.state is State.ESTABLISHED


def test_a_new_router_id_waits_for_a_restart() -> None:
    """The router-id is the speaker's identity (config.diff: needs_restart): a reload keeps
    the running one and resets nothing for it."""
    net, a, _b = demo_pair()
    out = a.handle(ev.Reconfigured(tuple(replace(p.settings, session=replace(p.settings.session,
                                                                             router_id="192.0.2.99"))
                                         for p in a.peers.values()), ()), net.now)
    assert not [o for o in out if isinstance(o, (ev.Send, ev.Close, ev.Connect))]
    notice = next(o for o in out if isinstance(o, ev.Notice) and o.kind == "reload")
    assert notice.data["peers"] == []
    assert a.peers[B].session.config.router_id == a.router_id
