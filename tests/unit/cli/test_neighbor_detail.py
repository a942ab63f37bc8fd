"""``gracebgp neighbor ADDR``: the capabilities of both OPENs and what the session uses,
from a real sans-IO Speaker through the API's view (api.service) to the CLI's rows."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from gracebgp.api import schema
from gracebgp.api.service import get_peer
from gracebgp.cli.capabilities import capability_note, capability_rows
from gracebgp.core import events as ev
from gracebgp.core.commands import ResetPeer
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.session.config import GrConfig, SessionConfig
from gracebgp.session.negotiate import build_open
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import Open
from gracebgp.wire.iana import AddPathMode
from gracebgp.wire.messages import KEEPALIVE_BYTES

X = "127.0.0.50"
BOTH = (IPV4_UNICAST, IPV6_UNICAST)


def ours() -> SessionConfig:
    """AS 4200000001 (4 octets), both families, GR with N (restart 120 s, F for IPv4),
    LLGR for IPv4 (3600 s), ADD-PATH receive for IPv4."""
    gr = GrConfig(restart_time=120, notification=True, forwarding=frozenset({IPV4_UNICAST}))
    return SessionConfig(4200000001, "127.0.0.1", X, 65050, families=BOTH, graceful_restart=gr,
                         llgr=((IPV4_UNICAST, 3600),), add_path=((IPV4_UNICAST, AddPathMode.RECEIVE),))


def theirs(notification: bool = True) -> Open:
    """The peer: both families, GR (R=1, restart 90 s) for IPv4 only, N as given, LLGR
    for IPv4 (86400 s), ADD-PATH send for IPv4, no enhanced route refresh."""
    gr = GrConfig(restart_time=90, notification=notification, restarting=True)
    cfg = SessionConfig(65050, "10.0.0.50", "127.0.0.1", 4200000001, families=BOTH,
                        graceful_restart=gr, llgr=((IPV4_UNICAST, 86400),),
                        add_path=((IPV4_UNICAST, AddPathMode.SEND),), enhanced_route_refresh=False)
    message = build_open(cfg)
    return message


def peer(established: bool = True, notification: bool = True) -> schema.Peer:
    s = Speaker(4200000001, "127.0.0.1", [NeighborSettings(X, ours())], [])
    out = s.handle(ev.Started(), 10.0)
    conn = next(o.conn for o in out if isinstance(o, ev.Connect))
    if established:
        s.handle(ev.Connected(X, conn, "127.0.0.1", outgoing=True), 10.0)
        s.handle(ev.Received(X, conn, theirs(notification).encode()), 11.0)
        s.handle(ev.Received(X, conn, KEEPALIVE_BYTES), 11.0)
    return get_peer(s, X, 12.0)


def test_the_api_carries_both_opens_and_the_negotiation() -> None:
    p = peer()
    assert p.state == "Established"
    assert p.local_capabilities is not None and p.peer_capabilities is not None and p.negotiated
    mine, yours, n = p.local_capabilities, p.peer_capabilities, p.negotiated
    assert (mine.four_octet_as, yours.four_octet_as) == (4200000001, 65050)
    assert mine.graceful_restart and yours.graceful_restart
    assert (mine.graceful_restart.restart_time, mine.graceful_restart.restart_state) == (120, False)
    assert (yours.graceful_restart.restart_time, yours.graceful_restart.restart_state) == (90, True)
    assert [(f.family, f.forwarding) for f in mine.graceful_restart.families] == [
        ("ipv4-unicast", True), ("ipv6-unicast", False)]
    assert [(f.family, f.stale_time) for f in yours.llgr or []] == [("ipv4-unicast", 86400)]
    assert n.notification and n.four_octet_as and not n.enhanced_route_refresh
    assert n.add_path_receive == ["ipv4-unicast"] and n.add_path_send == []
    assert n.gr_peer_keeps == ["ipv4-unicast", "ipv6-unicast"]
    assert n.gr_we_keep == ["ipv4-unicast", "ipv6-unicast"]  # the peer lists every family (none configured)
    assert n.llgr_we_keep == ["ipv4-unicast"] and n.llgr_peer_keeps == ["ipv4-unicast"]


def test_the_rows_show_every_capability_both_sides_and_what_is_used() -> None:
    rows = {r[0]: r[1:] for r in capability_rows(peer())}
    assert rows["4-octet AS"] == ["AS 4200000001", "AS 65050", "yes"]
    assert rows["Multiprotocol"] == ["ipv4-unicast, ipv6-unicast"] * 3
    assert rows["Enhanced route refresh"] == ["yes", "no", "no"]
    assert rows["Route refresh"] == ["yes", "yes", "yes"]
    assert rows["ADD-PATH ipv4-unicast"] == ["receive", "send", "we receive"]
    assert rows["Graceful restart"] == ["R=0 N=1, restart time 120s", "R=1 N=1, restart time 90s",
                                        "yes, with N (RFC 8538)"]
    assert rows["GR ipv4-unicast"] == ["F=1", "F=0", "each keeps the other's routes"]
    assert rows["GR ipv6-unicast"] == ["F=0", "F=0", "each keeps the other's routes"]
    assert rows["LLGR ipv4-unicast"] == ["stale time 3600s, F=1", "stale time 86400s, F=0",
                                         "each keeps the other's routes"]
    assert capability_note(peer()) is None


def test_without_n_on_one_side_graceful_restart_runs_without_it() -> None:
    rows = {r[0]: r[1:] for r in capability_rows(peer(notification=False))}
    assert rows["Graceful restart"][1:] == ["R=1 N=0, restart time 90s", "yes, without N"]


def test_before_established_only_our_open_is_shown() -> None:
    p = peer(established=False)
    assert p.peer_capabilities is None and p.negotiated is None
    rows = {r[0]: r[1:] for r in capability_rows(p)}
    assert rows["Graceful restart"] == ["R=0 N=1, restart time 120s", "-", "-"]
    assert rows["4-octet AS"] == ["AS 4200000001", "-", "-"]
    assert "not Established" in (capability_note(p) or "")


def _speaker_established() -> Speaker:
    s = Speaker(4200000001, "127.0.0.1", [NeighborSettings(X, ours())], [])
    conn = next(o.conn for o in s.handle(ev.Started(), 10.0) if isinstance(o, ev.Connect))
    s.handle(ev.Connected(X, conn, "127.0.0.1", outgoing=True), 10.0)
    s.handle(ev.Received(X, conn, theirs().encode()), 11.0)
    s.handle(ev.Received(X, conn, KEEPALIVE_BYTES), 11.0)
    return s


def _notification(out: Sequence[object]) -> bytes:
    sent = [o.data for o in out if isinstance(o, ev.Send) and o.data[18] == 3]  # type 3: NOTIFICATION
    assert len(sent) == 1, out
    return sent[0][19:]


def test_reset_sends_administrative_reset_and_hard_reset_wraps_it() -> None:
    """``reset``: Cease/Administrative Reset (6/4) as it is, so a peer with N keeps our
    routes; ``reset --hard``: Cease/Hard Reset (6/9) whose data is 6/4 (RFC 8538 §3)."""
    s = _speaker_established()
    out = s.handle(ev.CommandRequested(1, ResetPeer(X, "hard")), 12.0)
    assert _notification(out)[:2] == bytes([6, 4])
    assert next(o for o in out if isinstance(o, ev.Reply)).message == f"peer {X} reset"
    s = _speaker_established()
    out = s.handle(ev.CommandRequested(1, ResetPeer(X, "hard", "", True)), 12.0)
    assert _notification(out)[:4] == bytes([6, 9, 6, 4])
    reply = next(o for o in out if isinstance(o, ev.Reply))
    assert reply.message == f"peer {X} reset with a Hard Reset (RFC 8538)"
    out = s.handle(ev.CommandRequested(2, ResetPeer(X, "soft", "", True)), 13.0)
    assert next(o for o in out if isinstance(o, ev.Reply)).status == 400
    with pytest.raises(ValidationError, match="hard_reset goes with mode hard"):
        schema.PeerReset(mode="soft", hard_reset=True)
