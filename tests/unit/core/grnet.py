"""Graceful restart on the in-memory network (``net.SpeakerNet``, fake clock): the
builders and the wire-recording ``Net`` shared by the test_gr_*.py files.

Speaker A (AS 65001) is usually the one that restarts; B (AS 65002) is its helper.
``Net`` records every message on the wire and can hold back a speaker's End-of-RIB
markers, which is how a test keeps a re-established session from completing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.restart.restarting import Deferral
from gracebgp.session.config import GrConfig, SessionConfig
from gracebgp.session.negotiate import Negotiated
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire import DEFAULT_CONTEXT, Notification, Open, parse_update, split_messages
from gracebgp.wire.iana import MARKER, MessageType
from gracebgp.wire.iana import WellKnownCommunity as WK
from gracebgp.wire.nlri import format_prefix

from .net import SpeakerNet

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

    def execute(self, name: str, out: ev.Output) -> None:
        if isinstance(out, ev.Send) and self.far_end(name, out.peer, out.conn) is not None:
            data = self._record(name, out)
            if not data:
                return
            out = ev.Send(out.peer, out.conn, data)
        super().execute(name, out)

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
        self.queue.append((address, ev.Started(restart, f"test: {restart} restart")))
        self.run()
        return sp

    def deliver(self, address: str, inp: ev.Input) -> None:
        self.queue.append((address, inp))
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

def restart_a(net: Net, *neighbors: NeighborSettings,
               kind: str = "planned") -> tuple[Speaker, tuple[int, int]]:
    """Cut A, start it again as ``kind``; returns it and the log mark of its start."""
    net.cut(A)
    net.run()
    since = net.mark()
    return net.start(A, restarted_a(*neighbors), restart=kind), since


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
