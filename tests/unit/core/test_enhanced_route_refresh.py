"""Issue 11 finding 7: Enhanced Route Refresh (RFC 7313 §4) on the sans-IO Speaker, both
ways, driven by hand-made peer bytes.

Sending: a ROUTE-REFRESH from a peer that negotiated ERR (or a soft reset out) is answered
BoRR, the whole Adj-RIB-Out in table slices, then EoRR after the last slice; never a BoRR
before our End-of-RIB; no markers without ERR.
Receiving: BoRR marks the family's routes stale, re-advertised routes are fresh again,
EoRR (or the upper bound, stale-routes-time) removes the rest; BoRR before the peer's
End-of-RIB (GR) and EoRR without BoRR are ignored; a session that goes down mid-refresh
leaves every route to graceful restart.
"""

from __future__ import annotations

from gracebgp.config import parse
from gracebgp.core import commands as cmd
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings, Peer
from gracebgp.core.speaker import Speaker
from gracebgp.session.state import State
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import (
    AsPath,
    AttrSet,
    Capability,
    CodecContext,
    EnhancedRouteRefresh,
    FourOctetAs,
    GracefulRestart,
    Multiprotocol,
    NextHop,
    Origin,
    RouteRefreshCapability,
)
from gracebgp.wire.framing import split_messages
from gracebgp.wire.messages import Open, RouteRefresh
from gracebgp.wire.nlri import format_prefix, parse_prefix
from gracebgp.wire.update import end_of_rib, pack_ipv4, pack_withdrawals, parse_update

from .net import count_inputs
from .test_speaker import demo_pair, learned

US, PEER = "192.0.2.1", "192.0.2.2"
KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"
CTX = CodecContext()
BORR = RouteRefresh(1, 1, 1).encode()
EORR = RouteRefresh(1, 1, 2).encode()
ERR_CAPS: tuple[Capability, ...] = (Multiprotocol(1, 1), RouteRefreshCapability(), EnhancedRouteRefresh(),
                                     FourOctetAs(65001))
GR_CAP = GracefulRestart(0, 120, ((1, 1, 0x80),))


class Driver:
    """The Speaker under test (AS 65000, 60 local IPv4 routes, 10 a table slice) and one
    raw peer (AS 65001) that plays its side with bytes."""

    def __init__(self, caps: tuple[Capability, ...] = ERR_CAPS, gr: bool = False, local: int = 60) -> None:
        cfg = parse(f"""
[global.config]
  as = 65000
  router-id = "10.255.0.1"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{PEER}"
    peer-as = 65001
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.graceful-restart.config]
    enabled = {'true' if gr else 'false'}
    stale-routes-time = 300
""")
        self.sp = Speaker(cfg.global_.asn, cfg.global_.router_id,
                          [NeighborSettings.from_config(n, cfg.global_) for n in cfg.neighbors])
        for i in range(local):
            self.sp.add_route(LocalRoute(f"172.16.{i}.0/24", med=i))
        self.sp.table_slice = 10
        self.now = 1000.0
        self.wire: list[str] = []  # what the speaker sent the peer, message by message
        self.logs: list[str] = []
        self.sp.handle(ev.Started(), self.now)
        hello = Open.build(65001, 90, "10.255.0.2", caps + ((GR_CAP,) if gr else ())).encode()
        self.step(ev.Connected(PEER, 1, US, outgoing=False), settle=False)
        self.step(ev.Received(PEER, 1, hello + KEEPALIVE))
        assert self.peer.session.state == State.ESTABLISHED

    @property
    def peer(self) -> Peer:
        return self.sp.peers[PEER]

    def _record(self, outputs: list[ev.Output]) -> None:
        for out in outputs:
            if isinstance(out, ev.Send):
                for mtype, body in split_messages(out.data, 65535):
                    self.wire.append(_name(mtype, body))
            elif isinstance(out, ev.Log):
                self.logs.append(out.message)

    def step(self, inp: ev.Input, settle: bool = True) -> None:
        self._record(self.sp.handle(inp, self.now))
        if settle:
            self.settle()

    def settle(self) -> None:
        """The owner's loop: InputDrained, then Continue while work is pending."""
        for _ in range(1000):
            self._record(self.sp.handle(ev.InputDrained(), self.now))
            if not self.sp.pending():
                return
            self._record(self.sp.handle(ev.Continue(), self.now))
        raise AssertionError("the speaker did not finish its slices")

    def send(self, *messages: bytes, settle: bool = True) -> None:
        self.step(ev.Received(PEER, 1, b"".join(messages)), settle)

    def advance(self, seconds: float) -> None:
        """Time passes; the peer keeps the session up with a KEEPALIVE every 30 s."""
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + 30)
            self.send(KEEPALIVE)
            self.step(ev.TimerDue())

    def routes(self) -> set[str]:
        return {format_prefix(k, 1) for k, c in self.sp.loc[IPV4_UNICAST].items() if not c[0].local}


def _name(mtype: int, body: bytes) -> str:
    if mtype == 5:
        return {0: "RR", 1: "BoRR", 2: "EoRR"}[body[2]]
    if mtype == 2:
        r = parse_update(body, CTX)
        assert r.update is not None
        if r.eor is not None:
            return "EoR"
        return "W" if r.update.withdrawn and not r.update.nlri else "UPDATE"
    return {1: "OPEN", 3: "NOTIFICATION", 4: "KEEPALIVE"}[mtype]


def announce(prefixes: list[str], next_hop: str = PEER) -> bytes:
    attrs = AttrSet([Origin(0), AsPath(((2, (65001,)),)), NextHop(next_hop)])
    return b"".join(pack_ipv4(attrs, [parse_prefix(p)[1] for p in prefixes], CTX))


def withdraw(prefixes: list[str]) -> bytes:
    return b"".join(pack_withdrawals(IPV4_UNICAST, [parse_prefix(p)[1] for p in prefixes], CTX))


def markers(wire: list[str]) -> list[str]:
    """The wire without the UPDATE runs: each run of UPDATEs is one "UPDATE..." entry."""
    out: list[str] = []
    for m in wire:
        if m == "KEEPALIVE":
            continue
        if m == "UPDATE" and out and out[-1] == "UPDATE...":
            continue
        out.append("UPDATE..." if m == "UPDATE" else m)
    return out


# --- sending ----------------------------------------------------------------------------

def test_answer_is_borr_then_every_route_in_slices_then_eorr() -> None:
    d = Driver()
    assert markers(d.wire) == ["OPEN", "UPDATE...", "EoR"]
    d.wire.clear()
    seen = count_inputs(d.sp)
    d.send(RouteRefresh(1, 1, 0).encode())
    assert markers(d.wire) == ["BoRR", "UPDATE...", "EoRR"]  # RFC 7313 §4, no End-of-RIB
    assert d.wire.count("UPDATE") >= 6 and seen.count("Continue") >= 5  # 60 routes, 10 a slice
    assert any("route refresh answered: 60 routes, then EoRR" in line for line in d.logs)


def test_soft_reset_out_is_framed_the_same_way() -> None:
    d = Driver()
    d.wire.clear()
    d.step(ev.CommandRequested(1, cmd.ResetPeer(PEER, "soft-out")))
    assert markers(d.wire) == ["BoRR", "UPDATE...", "EoRR"]


def test_without_enhanced_route_refresh_no_markers() -> None:
    d = Driver(caps=(Multiprotocol(1, 1), RouteRefreshCapability(), FourOctetAs(65001)))
    d.wire.clear()
    d.send(RouteRefresh(1, 1, 0).encode())
    assert markers(d.wire) == ["UPDATE..."]


def test_a_refresh_while_the_initial_table_goes_out_adds_no_markers() -> None:
    # RFC 7313 §4: "MUST NOT send a BoRR ... before it sends the EoR": a request while the
    # initial table is still going out is answered by that table and its End-of-RIB.
    d = Driver()
    d.wire.clear()
    # The peer reconnects: its new session's table goes out in slices; the ROUTE-REFRESH
    # arrives after the first slice.
    d.step(ev.Disconnected(PEER, 1, "reset"))
    hello = Open.build(65001, 90, "10.255.0.2", ERR_CAPS).encode()
    d.step(ev.Connected(PEER, 2, US, outgoing=False), settle=False)
    d.step(ev.Received(PEER, 2, hello + KEEPALIVE), settle=False)
    assert d.sp.sending  # the table is not done yet
    d._record(d.sp.handle(ev.Received(PEER, 2, RouteRefresh(1, 1, 0).encode()), d.now))
    d.settle()
    assert markers(d.wire) == ["OPEN", "UPDATE...", "EoR"]


def test_a_second_request_mid_refresh_restarts_it_without_a_second_borr() -> None:
    d = Driver()
    d.wire.clear()
    d.send(RouteRefresh(1, 1, 0).encode(), settle=False)  # BoRR and the first slice
    d.send(RouteRefresh(1, 1, 0).encode())
    assert markers(d.wire) == ["BoRR", "UPDATE...", "EoRR"]


def test_a_withdrawal_during_the_refresh_still_goes_out() -> None:
    # The refresh re-advertises without forgetting what was advertised: a route deleted
    # before its slice is withdrawn (with or without ERR).
    for caps in (ERR_CAPS, (Multiprotocol(1, 1), RouteRefreshCapability(), FourOctetAs(65001))):
        d = Driver(caps=caps)
        d.wire.clear()
        d.send(RouteRefresh(1, 1, 0).encode(), settle=False)
        assert d.sp.delete_route(IPV4_UNICAST, parse_prefix("172.16.59.0/24")[1])
        d.settle()
        assert "W" in d.wire


# --- receiving ----------------------------------------------------------------------------

def test_borr_marks_stale_and_eorr_sweeps_what_was_not_re_advertised() -> None:
    d = Driver(gr=True)
    d.send(announce(["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]), end_of_rib(IPV4_UNICAST, CTX))
    assert d.routes() == {"10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"}
    d.send(BORR)
    adj = d.peer.adj_in[IPV4_UNICAST]
    assert adj.stale_count == 3
    d.send(announce(["10.0.1.0/24", "10.0.4.0/24"]))
    assert adj.stale_count == 2 and not adj.is_stale(parse_prefix("10.0.1.0/24")[1])
    assert d.routes() == {"10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24", "10.0.4.0/24"}  # stale kept
    d.send(EORR)
    assert d.routes() == {"10.0.1.0/24", "10.0.4.0/24"}  # RFC 7313 §4: "immediately remove"
    assert adj.stale_count == 0 and not adj.refreshing and not d.sp.refreshing
    assert any("EoRR received: 2 routes the peer did not re-advertise removed" in line for line in d.logs)


def test_soft_reset_in_asks_and_the_answer_sweeps() -> None:
    d = Driver()
    d.send(announce(["10.0.1.0/24", "10.0.2.0/24"]))
    d.wire.clear()
    d.step(ev.CommandRequested(1, cmd.ResetPeer(PEER, "soft-in")))
    assert d.wire == ["RR"]
    d.send(BORR, announce(["10.0.2.0/24"]), EORR)
    assert d.routes() == {"10.0.2.0/24"}


def test_borr_before_the_peers_end_of_rib_is_ignored_with_gr() -> None:
    d = Driver(gr=True)
    d.send(announce(["10.0.1.0/24"]), BORR)  # no End-of-RIB yet
    assert not d.peer.adj_in[IPV4_UNICAST].refreshing
    assert any("BoRR before the peer's End-of-RIB ignored (RFC 7313 §4)" in line for line in d.logs)
    d.send(EORR)
    assert d.routes() == {"10.0.1.0/24"}


def test_eorr_without_borr_is_ignored() -> None:
    d = Driver()
    d.send(announce(["10.0.1.0/24"]), EORR)
    assert d.routes() == {"10.0.1.0/24"}
    assert any("EoRR without a BoRR ignored" in line for line in d.logs)


def test_stale_routes_are_removed_at_the_upper_bound_without_eorr() -> None:
    d = Driver()
    d.send(announce(["10.0.1.0/24", "10.0.2.0/24"]), BORR, announce(["10.0.2.0/24"]))
    due = d.sp.next_deadline()
    assert due is not None and due <= d.now + 300  # stale-routes-time
    d.advance(299)
    assert d.routes() == {"10.0.1.0/24", "10.0.2.0/24"}
    d.advance(1)
    assert d.routes() == {"10.0.2.0/24"} and not d.sp.refreshing
    assert d.peer.session.state == State.ESTABLISHED
    assert any("no EoRR within 300s" in line for line in d.logs)


def test_a_second_borr_marks_everything_again_without_sweeping() -> None:
    d = Driver()
    d.send(announce(["10.0.1.0/24", "10.0.2.0/24"]), BORR, announce(["10.0.1.0/24"]), BORR)
    assert d.routes() == {"10.0.1.0/24", "10.0.2.0/24"}
    assert d.peer.adj_in[IPV4_UNICAST].stale_count == 2
    d.send(announce(["10.0.2.0/24"]), EORR)
    assert d.routes() == {"10.0.2.0/24"}


def test_withdrawn_routes_during_the_refresh_are_gone_and_not_swept_twice() -> None:
    d = Driver()
    d.send(announce(["10.0.1.0/24", "10.0.2.0/24"]), BORR, withdraw(["10.0.1.0/24"]), EORR)
    assert d.routes() == set()


def test_session_down_mid_refresh_leaves_every_route_to_graceful_restart() -> None:
    d = Driver(gr=True)
    d.send(announce(["10.0.1.0/24", "10.0.2.0/24"]), end_of_rib(IPV4_UNICAST, CTX), BORR,
           announce(["10.0.1.0/24"]))
    d.step(ev.Disconnected(PEER, 1, "connection reset"))
    assert d.peer.session.state != State.ESTABLISHED
    adj = d.peer.adj_in[IPV4_UNICAST]
    assert d.routes() == {"10.0.1.0/24", "10.0.2.0/24"}  # retained, not swept as a refresh
    assert adj.stale_count == 2 and not d.sp.refreshing


def test_route_refresh_of_an_unknown_subtype_is_logged_and_ignored() -> None:
    d = Driver()
    d.send(announce(["10.0.1.0/24"]))
    d.wire.clear()
    d.send(RouteRefresh(1, 1, 7).encode())
    assert markers(d.wire) == [] and d.routes() == {"10.0.1.0/24"}
    assert any("subtype 7 ignored: unknown subtype 7 (RFC 7313 §5)" in line for line in d.logs)


# --- two Speakers --------------------------------------------------------------------------

def test_two_speakers_soft_reset_in_and_out_with_markers_both_ways() -> None:
    net, a, b = demo_pair()
    before = learned(b)
    assert a.peers["127.0.0.2"].negotiated.enhanced_route_refresh  # type: ignore[union-attr]
    rr = b.peers["127.0.0.1"].session.received_counts[5]
    assert net.command("127.0.0.1", cmd.ResetPeer("127.0.0.2", "soft")).status == 200
    # A asked (1 per family) and re-sent (BoRR + EoRR per family); B answered with its markers.
    assert b.peers["127.0.0.1"].session.received_counts[5] == rr + 2 + 4
    logs = [(n, log.message) for n, log in net.logs]
    assert sum("EoRR received: 0 routes" in m for n, m in logs if n == "127.0.0.2") == 2
    assert sum("EoRR received: 0 routes" in m for n, m in logs if n == "127.0.0.1") == 2
    assert learned(b) == before
