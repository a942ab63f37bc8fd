"""TCP MD5 (RFC 2385) on the sans-IO speaker (issue 11 finding 1): ``auth-password`` (or
``[neighbors.gracebgp] auth-password-file``) reaches the Connect command and the listeners
(``AcceptFrom``, before any listener accepts, when peers come and go); a reload that
changes only the key re-keys the listeners without touching an established session and
says so in the reload event, and restarts a session that is not up at once; the health
report names MD5 as the likely cause of a silent peer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gracebgp.api.service import DaemonInfo, health
from gracebgp.config import parse
from gracebgp.config.model import Global
from gracebgp.core import events as ev
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.reload import IN_PLACE, REKEYED, RESET
from gracebgp.core.speaker import Speaker
from gracebgp.session.config import SessionConfig
from gracebgp.session.state import State

from .test_reload import _reload
from .test_speaker import demo_pair

A, B = "127.0.0.1", "127.0.0.2"
X = "192.0.2.9"
KEY = ev.SocketOptions(md5_password="s3cret")
EBGP_KEY = ev.SocketOptions(md5_password="s3cret", ttl=1)  # single-hop eBGP sends with TTL 1

CONFIG = """
[global.config]
as = 65000
router-id = "192.0.2.1"
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.9"
peer-as = 65009
auth-password = "s3cret"
"""


def _with_key(settings: NeighborSettings, key: str | None) -> NeighborSettings:
    return replace(settings, sockets=replace(settings.sockets, md5_password=key))


def test_auth_password_reaches_the_connect_and_the_listeners_before_they_accept() -> None:
    cfg = parse(CONFIG)
    settings = NeighborSettings.from_config(cfg.neighbors[0], cfg.global_)
    assert settings.sockets.md5_password == "s3cret"
    s = Speaker(65000, "192.0.2.1", [settings], [])
    assert s.accept_commands() == [ev.AcceptFrom(X, EBGP_KEY)]
    out = s.handle(ev.Started(), 1.0)
    (connect,) = [o for o in out if isinstance(o, ev.Connect)]
    assert connect.options.md5_password == "s3cret" and connect.host == X


def test_no_password_means_no_key() -> None:
    cfg = parse(CONFIG.replace('auth-password = "s3cret"\n', ""))
    settings = NeighborSettings.from_config(cfg.neighbors[0], cfg.global_)
    assert settings.sockets.md5_password is None


def test_peers_added_and_removed_by_a_reload_set_and_clear_their_listener_keys() -> None:
    net, a, _b = demo_pair()
    old = a.peers[B].settings
    new_peer = replace(_with_key(old, "k2"), address="127.0.0.9",
                       session=replace(old.session, peer_address="127.0.0.9"))
    out = a.handle(ev.Reconfigured((new_peer,), ()), net.now)
    accepts = [o for o in out if isinstance(o, ev.AcceptFrom)]
    assert ev.AcceptFrom("127.0.0.9", new_peer.sockets) in accepts
    assert ev.AcceptFrom(B, None) in accepts  # removed: its key leaves the listeners


def test_a_new_key_rekeys_the_listeners_and_keeps_the_established_session() -> None:
    net, a, _b = demo_pair()
    since = a.peers[B].session.established_since
    out, entry = _reload(net, a, lambda s: _with_key(s, "rotated"))
    assert [o for o in out if isinstance(o, ev.AcceptFrom)] == [
        ev.AcceptFrom(B, ev.SocketOptions(md5_password="rotated", ttl=1))]
    assert not [o for o in out if isinstance(o, (ev.Send, ev.Close, ev.Connect))]
    assert entry == {"peer": B, "changed": ["auth-password"], "action": IN_PLACE, "notification": None,
                     "detail": REKEYED}
    assert a.peers[B].session.state is State.ESTABLISHED
    assert a.peers[B].session.established_since == since
    assert a.peers[B].settings.sockets.md5_password == "rotated"  # the next connection's key


def test_a_new_key_restarts_a_session_that_is_not_up_at_once() -> None:
    s = Speaker(65000, "192.0.2.1", [NeighborSettings(X, SessionConfig(65000, "192.0.2.1", X, 65009),
                                                      sockets=KEY)], [])
    out = s.handle(ev.Started(), 1.0)
    conn = next(o.conn for o in out if isinstance(o, ev.Connect))
    s.handle(ev.ConnectFailed(X, conn, "TimeoutError"), 6.0)
    assert s.peers[X].session.state is State.ACTIVE
    fixed = _with_key(s.peers[X].settings, "right")
    out = s.handle(ev.Reconfigured((fixed,), ()), 7.0)
    connects = [o for o in out if isinstance(o, ev.Connect)]
    assert connects and connects[0].options.md5_password == "right"  # not after connect-retry
    (notice,) = [o for o in out if isinstance(o, ev.Notice) and o.kind == "reload"]
    entry: dict[str, Any] = notice.data["peers"][0]
    assert entry["action"] == RESET and entry["notification"] is None
    assert entry["detail"] == "TCP MD5 key changed: connecting with it now"


def test_removing_the_key_is_a_rekey_too() -> None:
    net, a, _b = demo_pair()
    a.peers[B].settings = _with_key(a.peers[B].settings, "old")
    out, entry = _reload(net, a, lambda s: _with_key(s, None))
    assert ev.AcceptFrom(B, ev.SocketOptions(ttl=1)) in out
    assert entry["action"] == IN_PLACE and entry["changed"] == ["auth-password"]


def _info(started: float) -> DaemonInfo:
    return DaemonInfo("test", "node1", started, 179, ("0.0.0.0",), "retain", True,
                      Global(asn=65000, router_id="192.0.2.1"))


def _silent(error: str, sockets: ev.SocketOptions = KEY) -> Speaker:
    s = Speaker(65000, "192.0.2.1", [NeighborSettings(X, SessionConfig(65000, "192.0.2.1", X, 65009),
                                                      sockets=sockets)], [])
    out = s.handle(ev.Started(), 10.0)
    conn = next(o.conn for o in out if isinstance(o, ev.Connect))
    s.handle(ev.ConnectFailed(X, conn, error), 15.0)
    return s


def test_health_names_md5_when_the_peer_stays_silent() -> None:
    s = _silent("TimeoutError (TCP MD5 is configured: ...)")
    assert not [c for c in health(s, _info(10.0), 15.0).conditions if c.type == "TcpMd5Suspected"]
    conds = {c.type: c for c in health(s, _info(10.0), 21.0).conditions}
    c = conds["TcpMd5Suspected"]
    assert (c.severity, c.subject, c.reason) == ("error", X, "PeerSilent")
    assert "TCP MD5" in c.message and "auth-password" in c.message
    assert "PeerNeverEstablished" in conds  # and the usual one


def test_no_md5_condition_for_a_refused_connection_or_without_a_key() -> None:
    # a RST (no listener) is an answer: not what a key mismatch looks like
    s = _silent("[Errno 111] Connect call failed ('192.0.2.9', 179)")
    assert "TcpMd5Suspected" not in {c.type for c in health(s, _info(10.0), 30.0).conditions}
    s = _silent("TimeoutError", ev.SocketOptions())
    assert "TcpMd5Suspected" not in {c.type for c in health(s, _info(10.0), 30.0).conditions}
