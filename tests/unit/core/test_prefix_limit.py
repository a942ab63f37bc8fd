"""Prefix limits on the sans-IO Speaker (core.limits): the threshold warning (event,
health, metric), the NOTIFICATION above the limit octet for octet (RFC 4486 §4: Cease /
Maximum Number of Prefixes Reached with AFI, SAFI and the limit; RFC 8538 §3 and §5: as a
Hard Reset where N was negotiated), both sides dropping the routes at once, the session
held down until restart-timer or EnablePeer, and a reload that lowers the limit."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gracebgp.api import metrics
from gracebgp.api.service import DaemonInfo, health, list_peers
from gracebgp.config.default import demo_configs
from gracebgp.config.model import Global
from gracebgp.core import commands as cmd
from gracebgp.core import events as ev
from gracebgp.core import limits
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import Peer
from gracebgp.core.speaker import Speaker
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import Notification
from gracebgp.wire.nlri import parse_prefix

from .net import SpeakerNet
from .test_speaker import learned, speaker_from

A, B = "127.0.0.1", "127.0.0.2"
MARKER = b"\xff" * 16
B_V4 = {"192.0.2.64/26", "198.51.100.64/26", "203.0.113.64/26"}  # what demo speaker B sends


def with_limit(text: str, limit: str) -> str:
    """Demo speaker text with ``limit`` as the ipv4-unicast prefix-limit of its neighbor."""
    name = 'afi-safi-name = "ipv4-unicast"\n'
    assert text.count(name) == 1
    return text.replace(name, name + "[neighbors.afi-safis.prefix-limit.config]\n" + limit)


def pair(limit: str, n_bit: bool = True) -> tuple[SpeakerNet, Speaker, Speaker, list[bytes]]:
    """Demo speakers A and B; A limits what B sends. Returns what A puts on the wire too."""
    a_text, b_text = demo_configs(1179, 1180, "/tmp/gracebgp-test")
    if not n_bit:
        b_text = b_text.replace("notification-enabled = true", "notification-enabled = false")
    net = SpeakerNet()
    a = net.add(A, speaker_from(with_limit(a_text, limit)))
    b = net.add(B, speaker_from(b_text))
    sent: list[bytes] = []
    handle = a.handle

    def recording(inp: ev.Input, now: float) -> list[ev.Output]:
        out = handle(inp, now)
        sent.extend(o.data for o in out if isinstance(o, ev.Send))
        return out

    setattr(a, "handle", recording)  # noqa: B010
    net.run()
    return net, a, b, sent


def notifications(sent: list[bytes]) -> list[bytes]:
    """Every NOTIFICATION (whole message) in what was sent."""
    out = []
    for chunk in sent:
        i = 0
        while i + 19 <= len(chunk):
            length = int.from_bytes(chunk[i + 16:i + 18], "big")
            if chunk[i + 18] == 3:
                out.append(chunk[i:i + length])
            i += length
    return out


def state(peer: Peer) -> State:
    """The session state (a call, so that mypy does not narrow it across commands)."""
    return peer.session.state


def kinds(net: SpeakerNet, who: str = A) -> list[str]:
    return [n.data["event"] for name, n in net.notices if name == who and n.kind == "prefix-limit"]


def withdraw(net: SpeakerNet, b: Speaker, prefix: str) -> None:
    """B stops originating one of its configured routes."""
    assert b.delete_route(IPV4_UNICAST, parse_prefix(prefix)[1])
    net.run()


def info() -> DaemonInfo:
    return DaemonInfo("test", "n", 0.0, 179, (A,), "retain", True, Global(asn=65001, router_id=A))


def scrape(a: Speaker, now: float) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render(metrics.registry_for(a, info(), lambda: now)).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name.startswith("gracebgp_prefix_limit")}


def test_threshold_warns_once_per_crossing_with_event_health_and_metric() -> None:
    # 3 routes, limit 5, threshold 40% = 2: GoBGP warns when more than 5 * 40 / 100 are in.
    net, a, b, _ = pair("max-prefixes = 5\nshutdown-threshold-pct = 40\n")
    peer = a.peers[B]
    assert state(peer) == State.ESTABLISHED and set(learned(a)) == B_V4
    assert kinds(net) == ["threshold-reached"]
    (notice,) = [n for name, n in net.notices if name == A and n.kind == "prefix-limit"]
    assert notice.data == {"event": "threshold-reached", "family": "ipv4-unicast", "accepted": 3,
                           "max_prefixes": 5, "threshold": 2}
    (cond,) = health(a, info(), net.now).conditions
    assert (cond.type, cond.severity, cond.subject) == ("PrefixLimitThreshold", "warning", B)
    assert "3 ipv4-unicast routes accepted, over the warning threshold 2 of max-prefixes 5" in cond.message
    m = scrape(a, net.now)
    fam = (("family", "ipv4-unicast"), ("peer", B))
    assert m[("gracebgp_prefix_limit", fam)] == 5
    assert m[("gracebgp_prefix_limit_accepted", fam)] == 3
    assert m[("gracebgp_prefix_limit_reached", fam)] == 1
    assert m[("gracebgp_prefix_limit_exceeded_total", fam)] == 0
    assert m[("gracebgp_prefix_limit_held_down", (("peer", B),))] == 0
    assert not any(k[1] == (("family", "ipv6-unicast"), ("peer", B)) for k in m)  # no limit there
    (row,) = [r for r in list_peers(a, net.now)[0].families if r.family == "ipv4-unicast"]
    assert row.max_prefixes == 5

    # Back at the threshold: the warning clears; over it again: one more event.
    withdraw(net, b, "198.51.100.64/26")
    assert health(a, info(), net.now).healthy
    assert scrape(a, net.now)[("gracebgp_prefix_limit_reached", fam)] == 0
    assert net.command(B, cmd.AddRoutes((LocalRoute("10.8.0.0/24"), LocalRoute("10.9.0.0/24")))).status == 200
    assert kinds(net) == ["threshold-reached", "threshold-reached"]
    assert state(peer) == State.ESTABLISHED  # 4 of 5


def test_over_the_limit_sends_hard_reset_wrapping_cease_1_with_afi_safi_limit() -> None:
    net, a, b, sent = pair("max-prefixes = 3\nrestart-timer = 30\n")
    assert set(learned(a)) == B_V4 and kinds(net) == []  # exactly at the limit: fine
    b_neg = b.peers[A].negotiated
    assert learned(b) and b_neg is not None and b_neg.notification_supported
    sent.clear()  # (the demo pair's connection collision sent a 6/7)
    net.command(B, cmd.AddRoutes((LocalRoute("10.9.0.0/24"),)))  # one over

    # RFC 8538 §3: Cease (6) / Hard Reset (9), data = inner code 6, subcode 1 and the
    # RFC 4486 §4 data: AFI 1 (2 octets), SAFI 1 (1 octet), the limit 3 (4 octets).
    body = bytes([6, 9, 6, 1, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x03])
    assert notifications(sent) == [MARKER + (19 + len(body)).to_bytes(2, "big") + b"\x03" + body]
    assert Notification.decode(body).unwrap() == Notification(6, 1, bytes.fromhex("00010100000003"))

    peer = a.peers[B]
    assert state(peer) == State.IDLE and peer.limit.held == IPV4_UNICAST
    assert learned(a) == {} and learned(a, IPV6_UNICAST) == {}  # dropped at once, nothing stale
    assert peer.adj_in.get(IPV4_UNICAST) is None or len(peer.adj_in[IPV4_UNICAST]) == 0
    assert not [n for name, n in net.notices if name == A and n.data.get("event") == "helper-started"]
    # B got the Hard Reset: it must not keep our routes stale either (RFC 8538 §5).
    assert learned(b) == {} and learned(b, IPV6_UNICAST) == {}
    assert not [n for name, n in net.notices if name == B and n.data.get("event") == "helper-started"]
    assert "CEASE/HARD_RESET wrapping CEASE/MAX_PREFIXES_REACHED" in b.peers[A].stats.last_error

    (exceeded,) = [n for name, n in net.notices if name == A and n.kind == "prefix-limit"]
    assert exceeded.data == {"event": "limit-exceeded", "family": "ipv4-unicast", "accepted": 4,
                             "max_prefixes": 3, "threshold": None, "restart_in": 30.0}
    assert any(lg.level == "warning" and "prefix limit exceeded" in lg.message
               for n, lg in net.logs if n == A)
    view = list_peers(a, net.now)[0]
    assert view.state == "Idle" and view.held_down == "prefix-limit" and view.restart_in == 30.0
    assert not view.admin_down
    (cond,) = health(a, info(), net.now).conditions  # no PeerDown besides it
    assert (cond.type, cond.severity, cond.reason) == ("PrefixLimitExceeded", "error", "MaxPrefixesReached")
    assert "sent 4 ipv4-unicast routes, over max-prefixes 3" in cond.message and "30s" in cond.message
    m = scrape(a, net.now)
    fam = (("family", "ipv4-unicast"), ("peer", B))
    assert m[("gracebgp_prefix_limit_exceeded_total", fam)] == 1
    assert m[("gracebgp_prefix_limit_reached", fam)] == 1
    assert m[("gracebgp_prefix_limit_held_down", (("peer", B),))] == 1
    assert m[("gracebgp_prefix_limit_restart_seconds", (("peer", B),))] == 30


def test_without_n_the_cease_goes_plain_and_the_peer_still_drops_our_routes() -> None:
    net, a, b, sent = pair("max-prefixes = 3\n", n_bit=False)
    neg = a.peers[B].negotiated
    assert neg is not None and not neg.notification_supported and neg.graceful_families
    sent.clear()
    net.command(B, cmd.AddRoutes((LocalRoute("10.9.0.0/24"),)))
    body = bytes([6, 1, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x03])
    assert notifications(sent) == [MARKER + (19 + len(body)).to_bytes(2, "big") + b"\x03" + body]
    # RFC 4724 §4: a NOTIFICATION without N ends GR for both sides: no stale routes.
    assert learned(a) == {} and learned(b) == {}
    assert "CEASE/MAX_PREFIXES_REACHED" in b.peers[A].stats.last_error


def test_held_down_until_restart_timer_then_it_comes_back() -> None:
    net, a, b, _ = pair("max-prefixes = 3\nrestart-timer = 30\n")
    net.command(B, cmd.AddRoutes((LocalRoute("10.9.0.0/24"),)))
    net.command(B, cmd.DeleteRoutes(("10.9.0.0/24",)))  # B fixes its side while A waits
    peer = a.peers[B]
    tripped = net.now
    assert a.next_deadline() is not None
    net.advance(29)  # B keeps knocking (its own restart); A lets nothing in
    assert state(peer) == State.IDLE and peer.limit.held == IPV4_UNICAST
    assert b.peers[A].session.state != State.ESTABLISHED
    net.advance(6)
    assert state(peer) == State.ESTABLISHED and peer.limit.held is None
    assert set(learned(a)) == B_V4 and learned(b)
    assert kinds(net) == ["limit-exceeded", "released"]
    released = [n for name, n in net.notices if name == A and n.data.get("event") == "released"]
    assert released[0].data["reason"] == "restart-timer expired"
    assert net.now - tripped >= 30


def test_restart_timer_zero_holds_until_enable_and_a_hard_reset_is_refused() -> None:
    net, a, _b, _ = pair("max-prefixes = 3\n")
    net.command(B, cmd.AddRoutes((LocalRoute("10.9.0.0/24"),)))
    peer = a.peers[B]
    assert peer.limit.restart_at is None  # no timer brings it back
    net.advance(300, step=10)
    assert state(peer) == State.IDLE and peer.limit.held == IPV4_UNICAST
    assert list_peers(a, net.now)[0].restart_in is None
    refused = net.command(A, cmd.ResetPeer(B, "hard"))
    assert refused.status == 400 and "held down over its prefix limit" in refused.message
    # Still 4 routes at B: enabling brings the session up and closes it again at once.
    assert net.command(A, cmd.EnablePeer(B)).status == 200
    assert peer.limit.held == IPV4_UNICAST and kinds(net) == ["limit-exceeded", "released", "limit-exceeded"]
    assert peer.limit.exceeded == {IPV4_UNICAST: 2}
    net.command(B, cmd.DeleteRoutes(("10.9.0.0/24",)))
    reply = net.command(A, cmd.EnablePeer(B))
    assert reply.status == 200 and reply.message == f"peer {B} enabled"
    net.advance(5)
    assert state(peer) == State.ESTABLISHED and set(learned(a)) == B_V4
    assert net.command(A, cmd.EnablePeer(B)).message == f"peer {B} is already enabled"


def test_shutdown_while_held_keeps_it_down_after_the_restart_timer() -> None:
    net, a, _b, _ = pair("max-prefixes = 3\nrestart-timer = 10\n")
    net.command(B, cmd.AddRoutes((LocalRoute("10.9.0.0/24"),)))
    net.command(B, cmd.DeleteRoutes(("10.9.0.0/24",)))
    assert net.command(A, cmd.ShutdownPeer(B, "looking into it")).status == 200
    net.advance(20)
    peer = a.peers[B]
    assert peer.limit.held is None and peer.admin_down and state(peer) == State.IDLE
    net.command(A, cmd.EnablePeer(B))
    net.advance(5)
    assert state(peer) == State.ESTABLISHED


def test_updates_after_the_one_that_trips_are_not_applied() -> None:
    # One TCP read can carry several UPDATEs: once the limit closed the session, the rest
    # of the batch (more routes, the End-of-RIB of B's initial table) must not be applied.
    net, a, _b, _ = pair("max-prefixes = 2\n")  # B's initial table has 3
    peer = a.peers[B]
    assert peer.limit.held == IPV4_UNICAST and learned(a) == {} and not peer.adj_in.get(IPV4_UNICAST)
    events = [(n.kind, n.data.get("event"), n.data.get("family")) for name, n in net.notices if name == A]
    tripped = events.index(("prefix-limit", "limit-exceeded", "ipv4-unicast"))
    assert ("restart", "eor-received", "ipv4-unicast") not in events[tripped:]
    extra = tuple(LocalRoute(f"10.9.{i}.0/24", med=i) for i in range(5))  # one UPDATE each (MED differs)
    assert net.command(B, cmd.AddRoutes(extra)).status == 200
    assert learned(a) == {} and not peer.adj_in.get(IPV4_UNICAST)


def test_stale_routes_from_the_last_session_do_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # Under graceful restart the routes kept from the previous session are not what the
    # peer sends now: only announced routes count. B comes back with 3 other routes while
    # A still holds the 3 old ones stale: 6 in the table until B's End-of-RIB, 3 counted.
    net, a, b, _ = pair("max-prefixes = 3\n")
    net.cut(B)  # B's host vanishes: A keeps its 3 routes stale (helper)
    net.run()
    adj = a.peers[B].adj_in[IPV4_UNICAST]
    assert adj.stale_count == len(adj) == 3 and limits.accepted(a.peers[B], IPV4_UNICAST) == 0
    for prefix in sorted(B_V4):
        assert b.delete_route(IPV4_UNICAST, parse_prefix(prefix)[1])
    for i in range(3):
        b.add_route(LocalRoute(f"10.7.{i}.0/24"))
    net.down.discard(B)
    seen: list[tuple[int, int]] = []  # (routes in the table, routes counted) at each check
    check = limits.check

    def spy(sp: Speaker, peer: Peer, now: float) -> None:
        t = peer.adj_in[IPV4_UNICAST]
        seen.append((len(t), limits.accepted(peer, IPV4_UNICAST)))
        check(sp, peer, now)

    monkeypatch.setattr(limits, "check", spy)
    net.advance(30)
    assert state(a.peers[B]) == State.ESTABLISHED and a.peers[B].limit.held is None
    assert (6, 3) in seen  # old (stale) and new side by side before the End-of-RIB
    assert set(learned(a)) == {"10.7.0.0/24", "10.7.1.0/24", "10.7.2.0/24"}
    assert limits.accepted(a.peers[B], IPV4_UNICAST) == 3 and kinds(net) == []


def test_reload_lowering_the_limit_applies_in_place_and_to_what_is_there() -> None:
    net, a, _b, sent = pair("max-prefixes = 10\n")
    sent.clear()
    a_text, _ = demo_configs(1179, 1180, "/tmp/gracebgp-test")
    same = speaker_from(with_limit(a_text, "max-prefixes = 5\nshutdown-threshold-pct = 50\n"))
    a.handle(ev.Reconfigured(tuple(p.settings for p in same.peers.values()), ()), net.now)
    assert state(a.peers[B]) == State.ESTABLISHED and notifications(sent) == []
    assert a.peers[B].settings.prefix_limits[0][1].max_prefixes == 5
    lower = speaker_from(with_limit(a_text, "max-prefixes = 2\n"))
    out = a.handle(ev.Reconfigured(tuple(p.settings for p in lower.peers.values()), ()), net.now)
    reload_notice = next(o for o in out if isinstance(o, ev.Notice) and o.kind == "reload")
    assert reload_notice.data["peers"][0]["changed"] == ["prefix-limit"]
    assert reload_notice.data["peers"][0]["action"] == "applied in place"
    assert a.peers[B].limit.held == IPV4_UNICAST
    assert any(isinstance(o, ev.Send) and o.data[18] == 3 and o.data[21:23] == b"\x06\x01" for o in out)
