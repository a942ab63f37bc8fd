"""Graceful restart end to end on the in-memory network (``net.SpeakerNet``, fake clock):
the helper (RFC 4724 §4.2, spec section 3), the restarting speaker's selection deferral
(RFC 4724 §4.1, spec section 4), long-lived GR (RFC 9494 §4.2-§4.3), RFC 8538 Hard Reset,
the RFC 8326 drain (spec section 6) and the "restart" events of spec section 8.

Speaker A (AS 65001) is usually the one that restarts; B (AS 65002) is its helper.
``Net`` below records every message on the wire and can hold back a speaker's End-of-RIB
markers, which is how a test keeps a re-established session from completing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from gracebgp.core import commands as cmd
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.restart.restarting import Deferral
from gracebgp.session.config import GrConfig, SessionConfig
from gracebgp.session.negotiate import Negotiated
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire import DEFAULT_CONTEXT, GracefulRestart, Notification, Open, parse_update, split_messages
from gracebgp.wire.iana import MARKER, MessageType
from gracebgp.wire.iana import WellKnownCommunity as WK
from gracebgp.wire.nlri import format_prefix

from .net import SpeakerNet, count_inputs

V4, V6 = IPV4_UNICAST, IPV6_UNICAST
BOTH = (V4, V6)
A, B, C, D, E = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
ASN = {A: 65001, B: 65002, C: 65003, D: 65004, E: 65001}  # E is internal to A
GSHUT, LLGR_STALE, NO_LLGR = int(WK.GRACEFUL_SHUTDOWN), int(WK.LLGR_STALE), int(WK.NO_LLGR)

A_V4 = ("192.0.2.0/26", "198.51.100.0/26", "203.0.113.0/26")
A_V6 = ("2001:db8:a::/48",)
B_V4 = ("192.0.2.64/26",)
B_V6 = ("2001:db8:b::/48",)


# --- builders ---------------------------------------------------------------------------------

def neighbor(me: str, peer: str, *, families: tuple[Family, ...] = BOTH, gr: bool = True,
             restart_time: int = 120, notification: bool = True, forwarding: bool = True,
             llgr: int = 0, deferral: float = 360.0, stale_path: float = 360.0) -> NeighborSettings:
    """``me``'s configuration of ``peer``: GR with N (unless told otherwise), F set when
    ``forwarding``, LLGR with stale time ``llgr`` for every family when nonzero."""
    grc = GrConfig(restart_time, notification, forwarding=frozenset(families) if forwarding else frozenset())
    session = SessionConfig(ASN[me], me, peer, ASN[peer], families=families,
                            graceful_restart=grc if gr else None,
                            llgr=tuple((f, llgr) for f in families) if llgr and gr else (),
                            connect_retry_time=5.0)
    return NeighborSettings(peer, session, local_address=me, deferral_time=deferral,
                            stale_path_time=stale_path)


def routes(v4: tuple[str, ...], v6: tuple[str, ...] = (), me: str = A,
           communities: tuple[str, ...] = ()) -> tuple[LocalRoute, ...]:
    return (tuple(LocalRoute(p, communities=communities) for p in v4)
            + tuple(LocalRoute(p, next_hop=f"::ffff:{me}", communities=communities) for p in v6))


def speaker(me: str, *neighbors: NeighborSettings, originate: tuple[LocalRoute, ...] = ()) -> Speaker:
    return Speaker(ASN[me], me, neighbors, originate)


class Msg(NamedTuple):
    """One message on the wire, in delivery order."""

    time: float
    sender: str
    to: str
    kind: str  # "open", "keepalive", "update", "eor", "notification", "route-refresh"
    family: Family | None = None  # of an eor; of the prefixes of an update
    announced: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    communities: tuple[int, ...] = ()
    body: Any = None  # the decoded Open / Notification


def _frame(mtype: int, body: bytes) -> bytes:
    return MARKER + (19 + len(body)).to_bytes(2, "big") + bytes([mtype]) + body


@dataclass
class Net(SpeakerNet):
    """SpeakerNet that records the wire and can hold back End-of-RIB markers."""

    wire: list[Msg] = field(default_factory=list)
    hold_eor_from: set[str] = field(default_factory=set)

    def _execute(self, name: str, out: ev.Output) -> None:
        if isinstance(out, ev.Send) and self._other(name, out.peer, out.conn) is not None:
            data = self._record(name, out)
            if not data:
                return
            out = ev.Send(out.peer, out.conn, data)
        super()._execute(name, out)

    def _record(self, name: str, out: ev.Send) -> bytes:
        peer = self.speakers[name].peers.get(out.peer)
        neg = peer.negotiated if peer is not None else None
        ctx = neg.tx_context() if neg is not None else DEFAULT_CONTEXT
        kept = b""
        for mtype, body in split_messages(out.data, 65535):
            msg = Msg(self.now, name, out.peer, MessageType(mtype).name.lower().replace("_", "-"))
            if mtype == MessageType.OPEN:
                msg = msg._replace(body=Open.decode(body))
            elif mtype == MessageType.NOTIFICATION:
                msg = msg._replace(body=Notification.decode(body))
            elif mtype == MessageType.UPDATE:
                res = parse_update(body, ctx)
                if res.eor is not None:
                    msg = msg._replace(kind="eor", family=res.eor)
                    if name in self.hold_eor_from:
                        continue
                elif res.update is not None:
                    u = res.update
                    family, ann, wd = V4, list(u.nlri), list(u.withdrawn)
                    if u.mp_reach is not None:
                        family, ann = u.mp_reach.family, ann + list(u.mp_reach.nlri)
                    if u.mp_unreach is not None:
                        family, wd = u.mp_unreach.family, wd + list(u.mp_unreach.withdrawn)
                    msg = msg._replace(family=family,
                                       announced=tuple(format_prefix(k, family.afi) for k in ann),
                                       withdrawn=tuple(format_prefix(k, family.afi) for k in wd),
                                       communities=u.attrs.communities if u.attrs is not None else ())
            self.wire.append(msg)
            kept += _frame(mtype, body)
        return kept

    def start(self, address: str, sp: Speaker, restart: str = "planned") -> Speaker:
        """The process at ``address`` (re)starts as ``sp``: Started(restart) says how."""
        self.down.discard(address)
        self.speakers[address] = sp
        self._queue.append((address, ev.Started(restart, f"test: {restart} restart")))
        self.run()
        return sp

    def deliver(self, address: str, inp: ev.Input) -> None:
        self._queue.append((address, inp))
        self.run()

    def mark(self) -> tuple[int, int]:
        """Where the wire log and the notices are now: pass as ``since`` to see only what follows."""
        return len(self.wire), len(self.notices)

    def messages(self, sender: str, to: str, since: tuple[int, int] = (0, 0)) -> list[Msg]:
        return [m for m in self.wire[since[0]:] if m.sender == sender and m.to == to]

    def events(self, at: str | None = None, since: tuple[int, int] = (0, 0)) -> list[dict[str, Any]]:
        """The "restart" Notices (spec section 8) as data dicts, with "at" and "peer" added."""
        return [{**n.data, "at": name, "peer": n.peer} for name, n in self.notices[since[1]:]
                if n.kind == "restart" and (at is None or name == at)]

    def event_names(self, at: str | None = None) -> list[str]:
        return [e["event"] for e in self.events(at)]


def pair(a_neighbor: NeighborSettings | None = None, b_neighbor: NeighborSettings | None = None,
         a_routes: tuple[LocalRoute, ...] | None = None) -> tuple[Net, Speaker, Speaker]:
    """A and B established, each with its routes learned by the other (cold starts)."""
    net = Net()
    a = net.add(A, speaker(A, a_neighbor or neighbor(A, B),
                           originate=routes(A_V4, A_V6) if a_routes is None else a_routes))
    b = net.add(B, speaker(B, b_neighbor or neighbor(B, A), originate=routes(B_V4, B_V6, me=B)))
    net.run()
    assert a.peers[B].session.state == State.ESTABLISHED
    return net, a, b


def learned(s: Speaker, family: Family = V4, source: str | None = None) -> dict[str, Any]:
    """Prefix -> best Path of the routes ``s`` learned (from ``source`` only, when given)."""
    return {format_prefix(k, family.afi): c[1] for k, c in s.loc[family].items()
            if not c[0].local and (source is None or c[0].address == source)}


def stale(s: Speaker, peer: str, family: Family = V4) -> set[str]:
    adj = s.peers[peer].adj_in.get(family)
    return {format_prefix(k, family.afi) for k in adj.stale_keys()} if adj is not None else set()


def neg(s: Speaker, peer: str) -> Negotiated:
    got = s.peers[peer].negotiated
    assert got is not None, f"{peer} is not Established"
    return got


def deferral(s: Speaker) -> Deferral:
    assert s.deferral is not None, "no selection deferral"
    return s.deferral


def restarted_a(*neighbors: NeighborSettings, v4: tuple[str, ...] = A_V4,
                v6: tuple[str, ...] = A_V6) -> Speaker:
    return speaker(A, *(neighbors or (neighbor(A, B),)), originate=routes(v4, v6))


# --- helper: keep the routes (RFC 4724 §4.2, spec section 3) ------------------------------------

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


# --- RFC 8538: which NOTIFICATIONs keep the routes -------------------------------------------------

def test_rfc8538_4_with_n_a_notification_other_than_hard_reset_keeps_routes() -> None:
    net, a, b = pair()
    net.deliver(A, ev.StopRequested(graceful=True, message="upgrade"))
    net.down.add(A)  # the process is gone
    assert a.peers[B].stats.last_sent_notification == (6, 4)  # Cease / Administrative Reset
    assert set(learned(b)) == set(A_V4) and stale(b, A) == set(A_V4)
    (down,) = [e for e in net.events(B) if e["event"] == "session-down"]
    assert down["retained"] is True and down["notification"] == "CEASE/ADMINISTRATIVE_RESET"
    assert "helper-started" in net.event_names(B)


def test_rfc8538_4_hard_reset_deletes_routes_at_once() -> None:
    net, a, b = pair()
    reply = net.command(A, cmd.ShutdownPeer(B, "decommission"))
    assert reply.status == 200
    assert a.peers[B].stats.last_sent_notification == (6, 9)
    assert learned(b) == {} and learned(b, V6) == {}
    (down,) = [e for e in net.events(B) if e["event"] == "session-down"]
    assert down["retained"] is False and down["notification"] == "CEASE/ADMINISTRATIVE_SHUTDOWN"
    assert "helper-started" not in net.event_names(B)
    (note,) = [m.body for m in net.messages(A, B) if m.kind == "notification"]
    assert note.is_hard_reset and note.unwrap().communication == "decommission"


def test_rfc8538_4_hard_reset_received_from_the_peer_deletes_the_peers_routes_too() -> None:
    net, a, _b = pair()
    net.command(A, cmd.ShutdownPeer(B))
    assert learned(a) == {}  # A dropped B's routes: it sent a Hard Reset


def test_rfc4724_4_without_n_any_notification_deletes_routes() -> None:
    net, a, b = pair(a_neighbor=neighbor(A, B, notification=False))
    assert not neg(a, B).notification_supported
    reply = net.command(A, cmd.ResetPeer(B, "hard"))  # plain Cease/Administrative Reset
    assert reply.status == 200
    (down,) = [e for e in net.events(B) if e["event"] == "session-down"]
    assert down["retained"] is False and down["notification"] == "CEASE/ADMINISTRATIVE_RESET"
    assert "helper-started" not in net.event_names(B)
    net.advance(10)  # the session comes back and A re-advertises
    assert set(learned(b)) == set(A_V4)


def test_rfc8538_5_spec6_never_send_hard_reset_to_a_peer_without_n() -> None:
    net, _a, b = pair(a_neighbor=neighbor(A, B, notification=False))
    net.command(A, cmd.ShutdownPeer(B, "bye"))
    (note,) = [m.body for m in net.messages(A, B) if m.kind == "notification"]
    assert not note.is_hard_reset and (note.code, note.subcode) == (6, 2)
    assert learned(b) == {}


def test_spec6_retain_stop_without_n_closes_tcp_without_notification_and_peer_keeps_routes() -> None:
    net, _a, b = pair(a_neighbor=neighbor(A, B, notification=False))
    net.deliver(A, ev.StopRequested(graceful=True))
    net.down.add(A)
    assert [m for m in net.messages(A, B) if m.kind == "notification"] == []
    assert set(learned(b)) == set(A_V4) and stale(b, A) == set(A_V4)


def test_spec6_withdrawing_stop_deletes_routes_at_the_peer() -> None:
    net, _a, b = pair()
    net.deliver(A, ev.StopRequested(graceful=False, message="decommission"))
    net.down.add(A)
    assert learned(b) == {} and learned(b, V6) == {}


# --- restarting speaker: selection deferral (RFC 4724 §4.1, spec section 4) --------------------------

def _restart_a(net: Net, *neighbors: NeighborSettings,
               kind: str = "planned") -> tuple[Speaker, tuple[int, int]]:
    """Cut A, start it again as ``kind``; returns it and the log mark of its start."""
    net.cut(A)
    net.run()
    since = net.mark()
    return net.start(A, restarted_a(*neighbors), restart=kind), since


def test_rfc4724_4_1_restarted_speaker_sets_r_and_clears_it_after_selection() -> None:
    net, _a, b = pair()
    a, since = _restart_a(net)
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
    _a2, since = _restart_a(net)
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
    _restart_a(net)
    purged = [(e["family"], e["purged"]) for e in net.events(B) if e["event"] == "eor-purged"]
    assert purged == [("ipv4-unicast", 0), ("ipv6-unicast", 0)]


def test_spec_problem2_six_minutes_selection_runs_at_the_peers_ipv4_eor() -> None:
    """Deferral 360 s; A configures IPv4 and IPv6, the switch (B) negotiates IPv4 only."""
    net, _a, b = pair(a_neighbor=neighbor(A, B, deferral=360), b_neighbor=neighbor(B, A, families=(V4,)))
    t0 = net.now
    a, since = _restart_a(net, neighbor(A, B, deferral=360))
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
    a, _since = _restart_a(net, neighbor(A, B, deferral=60))
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


# --- long-lived GR (RFC 9494) -------------------------------------------------------------------

def llgr_net(restart_time: int = 10, llgr: int = 100) -> tuple[Net, Speaker, Speaker, Speaker, Speaker]:
    """A -- B -- C (LLGR) and B -- D (no LLGR). A originates A_V4 plus one NO_LLGR route."""
    net = Net()
    a_routes = (*routes(A_V4, A_V6), LocalRoute("10.7.0.0/16", communities=("65535:7",)))
    a = net.add(A, speaker(A, neighbor(A, B, restart_time=restart_time, llgr=llgr), originate=a_routes))
    b = net.add(B, speaker(B, neighbor(B, A, restart_time=restart_time, llgr=llgr),
                           neighbor(B, C, llgr=llgr), neighbor(B, D, gr=False)))
    c = net.add(C, speaker(C, neighbor(C, B, llgr=llgr)))
    d = net.add(D, speaker(D, neighbor(D, B, gr=False)))
    net.run()
    assert "10.7.0.0/16" in learned(c) and "10.7.0.0/16" in learned(d)
    return net, a, b, c, d


def test_rfc9494_4_2_restart_timer_moves_stale_routes_to_llgr_and_deletes_no_llgr() -> None:
    net, _a, b, _c, _d = llgr_net()
    assert NO_LLGR in learned(b)["10.7.0.0/16"].attrs.communities
    net.cut(A)
    net.run()
    assert not any(p.llgr_stale for p in learned(b).values())  # GR period: unchanged
    net.advance(10)
    got = learned(b)
    assert set(got) == set(A_V4) and "10.7.0.0/16" not in got  # NO_LLGR: deleted
    assert all(LLGR_STALE in p.attrs.communities and p.llgr_stale for p in got.values())
    assert all(p.llgr_stale for p in learned(b, V6).values())
    entered = [e for e in net.events(B) if e["event"] == "llgr-entered"]
    got_events = [(e["family"], e["llgr_stale"], e["deleted"], e["stale_time"], e["expires_in"])
                  for e in entered]
    assert got_events == [("ipv4-unicast", 3, 1, 100, 100), ("ipv6-unicast", 1, 0, 100, 100)]


def test_rfc9494_4_3_llgr_stale_routes_go_only_to_llgr_peers_with_llgr_stale() -> None:
    net, _a, _b, c, d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(10)
    assert set(learned(c)) == set(A_V4)
    assert all(p.llgr_stale for p in learned(c).values())  # the community was kept
    assert learned(d) == {}  # eBGP without LLGR: withdrawn
    withdrawn = {p for m in net.messages(B, D) for p in m.withdrawn}
    assert set(A_V4) | {"10.7.0.0/16"} <= withdrawn


def test_rfc9494_4_2_llgr_timer_deletes_the_routes() -> None:
    net, _a, b, c, _d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(10 + 99)
    assert set(learned(b)) == set(A_V4)
    net.advance(1)
    assert learned(b) == {} and learned(c) == {} and learned(b, V6) == {}
    expired = [(e["family"], e["purged"], e["reason"]) for e in net.events(B) if e["event"] == "llgr-expired"]
    assert expired == [("ipv4-unicast", 3, "long-lived stale timer"),
                       ("ipv6-unicast", 1, "long-lived stale timer")]


def test_rfc9494_4_2_restart_time_zero_goes_llgr_stale_at_once() -> None:
    net, _a, b, _c, _d = llgr_net(restart_time=0)
    net.cut(A)
    net.run()
    assert all(p.llgr_stale for p in learned(b).values()) and set(learned(b)) == set(A_V4)
    assert b.peers[A].gr.restart_deadline is None


def test_rfc9494_4_2_peer_back_during_llgr_refreshes_and_eor_purges() -> None:
    net, _a, b, c, _d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(20)
    net.start(A, speaker(A, neighbor(A, B, restart_time=10, llgr=100), originate=routes(A_V4[:1], A_V6)),
              restart="unplanned")
    assert set(learned(b)) == set(A_V4[:1])
    assert not any(p.llgr_stale for p in learned(b).values())  # fresh again, community gone
    assert not any(p.llgr_stale for p in learned(c).values())


def test_rfc9494_4_2_consecutive_restart_keeps_llgr_stale_routes_until_the_llgr_timer() -> None:
    net, _a, b, _c, _d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(20)  # LLGR period since +10, its timer runs until +110
    net.hold_eor_from.add(A)
    net.start(A, speaker(A, neighbor(A, B, restart_time=10, llgr=100), originate=routes(A_V4[:1], A_V6)),
              restart="cold")
    net.cut(A)  # down again before A's End-of-RIB
    net.run()
    assert set(A_V4) <= set(learned(b))  # A_V4[1:] must stay until the LLGR timer fires


# --- drain (RFC 8326, spec section 6) ----------------------------------------------------------------

def test_rfc8326_drain_readvertises_with_graceful_shutdown_then_withdraws_after_the_delay() -> None:
    net, a, b = pair()
    since = net.mark()
    reply = net.command(A, cmd.Drain(delay=30))
    assert reply.status == 200 and reply.result == {"phase": "gshut", "changed": 4}
    got = learned(b)
    assert set(got) == set(A_V4)
    assert all(GSHUT in p.attrs.communities and p.local_pref == 0 for p in got.values())  # RFC 8326 §4
    assert all(p.gshut for p in learned(b, V6).values())
    updates = [m for m in net.messages(A, B, since) if m.kind == "update"]
    assert {p for m in updates for p in m.announced} == set(A_V4) | set(A_V6)
    assert all(GSHUT in m.communities for m in updates)
    net.advance(29)
    assert set(learned(b)) == set(A_V4)
    net.advance(1)
    assert learned(b) == {} and learned(b, V6) == {}
    assert a.peers[B].session.state == State.ESTABLISHED  # the session stays up
    assert set(learned(a)) == set(B_V4)  # and A still uses B's routes
    drain = [e["event"] for e in net.events(A) if e["event"].startswith("drain")]
    assert drain == ["drain-gshut", "drain-withdrawn"]


def test_rfc8326_drain_cancel_restores_plain_advertisements() -> None:
    net, _a, b = pair()
    net.command(A, cmd.Drain(delay=30))
    reply = net.command(A, cmd.Drain(cancel=True))
    assert reply.status == 200 and reply.result == {"phase": None, "changed": 4}
    assert set(learned(b)) == set(A_V4)
    assert not any(p.gshut for p in learned(b).values())
    net.advance(40)  # the cancelled withdrawal never happens
    assert set(learned(b)) == set(A_V4) and not any(p.gshut for p in learned(b).values())


def test_rfc8326_drain_cancel_after_withdrawal_readvertises() -> None:
    net, _a, b = pair()
    net.command(A, cmd.Drain(delay=0))
    assert learned(b) == {}
    net.command(A, cmd.Drain(cancel=True))
    assert set(learned(b)) == set(A_V4) and set(learned(b, V6)) == set(A_V6)
    assert not any(p.gshut for p in learned(b).values())


def test_rfc8326_drain_to_ibgp_sets_local_pref_0() -> None:
    net = Net()
    a = net.add(A, speaker(A, neighbor(A, E), originate=routes(A_V4, A_V6)))
    e = net.add(E, speaker(E, neighbor(E, A)))
    net.run()
    assert neg(a, E).ibgp
    assert all(p.attrs.local_pref == 100 for p in learned(e).values())
    net.command(A, cmd.Drain(delay=30))
    got = learned(e)
    assert set(got) == set(A_V4)
    assert all(p.attrs.local_pref == 0 and GSHUT in p.attrs.communities for p in got.values())


def test_spec6_drain_is_refused_or_ignored_sensibly() -> None:
    net, _a, _b = pair()
    assert net.command(A, cmd.Drain(cancel=True)).result == {"phase": None, "changed": 0}
    assert net.command(A, cmd.Drain(delay=-1)).status == 400
    assert net.command(A, cmd.Drain(delay=10)).status == 200
    assert net.command(A, cmd.Drain(delay=10)).result == {"phase": "gshut", "changed": 0}


# --- spec section 8: every transition is an event ----------------------------------------------------

def test_spec8_helper_episode_events() -> None:
    net, _a, b = pair()
    net.cut(A)
    net.run()
    net.advance(7)
    net.start(A, restarted_a(v4=A_V4[:2]), restart="unplanned")
    names = net.event_names(B)
    i = names.index("session-down")
    assert names[i:i + 2] == ["session-down", "helper-started"]
    ev_ = {e["event"]: e for e in net.events(B)}
    assert ev_["session-down"]["retained"] is True and ev_["session-down"]["peer"] == A
    assert "reset" in ev_["session-down"]["reason"] and ev_["session-down"]["notification"] is None
    assert ev_["helper-started"]["stale"] == {"ipv4-unicast": 3, "ipv6-unicast": 1}
    assert ev_["helper-started"]["restart_time"] == 120
    eor = [(e["family"], e["purged"], e["reason"], e.get("stale_seconds"))
           for e in net.events(B) if e["event"] == "eor-purged"]
    assert eor == [("ipv4-unicast", 1, "End-of-RIB", None), ("ipv6-unicast", 0, "End-of-RIB", 7.0)]
    received = [e["family"] for e in net.events(B) if e["event"] == "eor-received"][-2:]
    assert received == ["ipv4-unicast", "ipv6-unicast"]
    assert b.peers[A].stats.gr_events == {"helper-started": 1, "eor-purged": 2}


def test_spec8_restarting_speaker_events_in_order() -> None:
    net, _a, _b = pair()
    _a2, since = _restart_a(net)
    wanted = ("deferral-started", "eor-received", "selection-done", "eor-sent", "restart-complete")
    seq = [(e["event"], e.get("family")) for e in net.events(A, since) if e["event"] in wanted]
    assert seq == [
        ("deferral-started", None),
        ("eor-received", "ipv4-unicast"), ("selection-done", "ipv4-unicast"), ("eor-sent", "ipv4-unicast"),
        ("eor-received", "ipv6-unicast"), ("selection-done", "ipv6-unicast"), ("eor-sent", "ipv6-unicast"),
        ("restart-complete", None),
    ]
    started = next(e for e in net.events(A, since) if e["event"] == "deferral-started")
    assert started["kind"] == "planned" and started["families"] == ["ipv4-unicast", "ipv6-unicast"]
    assert started["deferral_time"] == 360
    sent = [(e["family"], e["routes"], e["peer"]) for e in net.events(A, since) if e["event"] == "eor-sent"]
    assert sent == [("ipv4-unicast", 3, B), ("ipv6-unicast", 1, B)]


def test_spec8_llgr_events() -> None:
    net, _a, _b, _c, _d = llgr_net()
    net.cut(A)
    net.run()
    net.advance(110)
    names = [n for n in net.event_names(B) if n in ("session-down", "helper-started", "llgr-entered",
                                                     "llgr-expired", "stale-purged")]
    assert names == ["session-down", "helper-started", "llgr-entered", "llgr-entered",
                     "llgr-expired", "llgr-expired"]


def test_spec8_every_section_8_transition_has_an_event() -> None:
    """One story that passes through every transition; each leaves a "restart" Notice."""
    net, _a, b, _c, _d = llgr_net(restart_time=10, llgr=100)
    net.cut(A)
    net.run()
    net.advance(10)  # session-down, helper-started, llgr-entered
    net.start(A, speaker(A, neighbor(A, B, restart_time=10, llgr=100), originate=routes(A_V4[:2], A_V6)),
              restart="planned")  # deferral-started, eor-*, selection-done, restart-complete, eor-purged
    net.cut(A)
    net.run()
    net.start(A, speaker(A, neighbor(A, B, restart_time=10, llgr=100, forwarding=False),
                         originate=routes(A_V4[:1])), restart="unplanned")  # stale-purged (F=0)
    net.cut(A)
    net.run()
    net.advance(10 + 100)  # llgr-entered, llgr-expired
    seen = set(net.event_names())
    required = {"session-down", "helper-started", "stale-purged", "eor-purged", "llgr-entered",
                "llgr-expired", "deferral-started", "eor-received", "eor-sent", "selection-done",
                "restart-complete"}
    assert required <= seen, required - seen
    purges = ("stale-purged", "eor-purged", "llgr-expired")
    reasons = {e["reason"] for e in net.events(B) if e["event"] in purges}
    assert {"End-of-RIB", "long-lived stale timer", "F=0 or capability missing"} <= reasons
    assert learned(b) == {}


def test_restart_complete_waits_for_tables_sent_in_slices() -> None:
    # Issue 10 finding 4: after the deferral, a large table goes out a slice per owner
    # step; "restart-complete" (every family selected, End-of-RIB sent) comes only after
    # the last End-of-RIB, and its duration is that of the last slice's input.
    many = tuple(f"10.{i // 256}.{i % 256}.0/24" for i in range(5000))
    net, _a, b = pair(a_routes=routes(many, A_V6))
    net.deliver(A, ev.StopRequested(graceful=True, message="upgrade"))
    net.down.add(A)
    a = restarted_a(v4=many)
    a.table_slice = 1000
    seen = count_inputs(a)
    net.start(A, a)
    assert seen.count("Continue") >= 5  # the IPv4 table went out in slices
    names = net.event_names(A)
    assert "restart-complete" in names
    last_eor = max(i for i, n in enumerate(names) if n == "eor-sent")
    assert names.index("restart-complete") > last_eor
    assert set(many) <= set(learned(b)) and not a.sending
