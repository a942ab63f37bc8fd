"""Enhanced Route Refresh (RFC 7313) with FRR 8.4 and BIRD 2.0.12, both ways (issue 11
finding 7). One lab for the module: gracebgpd in ns 0, FRR in ns 1, BIRD in ns 2, all
with graceful restart and ERR negotiated.

Each peer reaches gracebgpd through a relay (``bgp_relay.py``, in ns 0) that can lose the
peer's withdrawals: the peer then no longer has a route that gracebgpd still holds, the
inconsistency ERR exists to repair. The relay connects to gracebgpd from an extra address
of ns 0 (``.3`` on each link), which is gracebgpd's neighbor address for that peer.

* We answer: FRR ``clear bgp X soft in`` and ``birdc reload in`` ask us (ROUTE-REFRESH);
  our answer on the wire is BoRR, the routes, EoRR last, and the peer's own log shows it
  took the markers (FRR started and stopped its BoRR timer, BIRD "Got BEGIN-OF-RR" /
  "Got END-OF-RR") and kept our routes, never stale.
* We receive: a route the peer withdrew while the relay dropped the withdrawal is still
  ours; then ``gracebgp neighbor X softreset in`` (FRR answers) or ``birdc reload out``
  (BIRD starts a refresh itself) sends BoRR, the routes, EoRR, with no withdrawal of that
  route in between, and we remove it at the EoRR.

The wire is read by tshark on every interface of ns 0 (the relay-gracebgpd leg).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, Process, wait_until
from tests.interop.peers import Bird, Frr, GrSpec, NeighborSpec, PeerDaemon, RouteSpec
from tests.interop.test_gr_restarting_peers import Capture, WireMsg

pytestmark = interop

OURS, FRR_AS, BIRD_AS = 65001, 65002, 65003
GR = GrSpec(restart_time=120)
OUR_ROUTES = ("10.1.0.0/24", "10.1.1.0/24")
RELAY_PORT = 1790
RELAY = Path(__file__).resolve().parent / "bgp_relay.py"


@dataclass
class Side:
    kind: str
    daemon: PeerDaemon
    ours: str  # our address on the link: the peer's neighbor address (the relay listens on it)
    theirs: str  # the relay's address towards us: our neighbor address for this peer
    relay: Process
    arm: Path  # while it exists, the relay drops the peer's withdrawals
    prefixes: tuple[str, ...]

    def log(self) -> str:
        name = "bgpd.log" if self.kind == "frr" else "bird.log"
        try:
            return (self.daemon.workdir / name).read_text(errors="replace")
        except OSError:
            return ""


@dataclass
class Rig:
    lab: Lab
    g: GraceBgpd
    cap: Capture
    sides: dict[str, Side]
    frr: Frr
    bird: Bird


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    require(Frr, Bird)
    lab = Lab(3, links=[(0, 1), (0, 2)])
    with lab:
        ns0, relays = lab.ns(0), lab.subdir("relay")
        sides: dict[str, Side] = {}
        for kind, daemon, link, base in (("frr", Frr(with_zebra=False), lab.links[0], 2),
                                         ("bird", Bird(), lab.links[1], 3)):
            relay_addr = link.a_v4.rsplit(".", 1)[0] + ".3"
            lab.run(ns0, ["ip", "addr", "add", f"{relay_addr}/24", "dev", link.ifname(ns0)])
            arm = relays / f"{kind}.arm"
            argv = [sys.executable, str(RELAY), link.a_v4, str(RELAY_PORT), link.a_v4, "179", relay_addr,
                    str(arm)]
            relay = lab.spawn(ns0, argv, relays / f"{kind}.log", name=f"relay-{kind}")
            wait_until(partial(lambda r: "listening" in r.log_text(), relay), 10, 0.1,
                       what=f"the {kind} relay")
            sides[kind] = Side(kind, daemon, link.a_v4, relay_addr, relay, arm,
                               tuple(f"10.{base}.{i}.0/24" for i in range(3)))
        cap = Capture(lab, ns0, "any")
        g = GraceBgpd()
        g.start(lab, ns0, asn=OURS, router_id=sides["frr"].ours,
                neighbors=[NeighborSpec(s.theirs, asn, passive=True, graceful_restart=GR)
                           for s, asn in ((sides["frr"], FRR_AS), (sides["bird"], BIRD_AS))],
                originate=[RouteSpec(p) for p in OUR_ROUTES])
        for s, asn, ns in ((sides["frr"], FRR_AS, 1), (sides["bird"], BIRD_AS, 2)):
            s.daemon.start(lab, lab.ns(ns), asn=asn, router_id=lab.links[ns - 1].b_v4,
                           neighbors=[NeighborSpec(s.ours, OURS, port=RELAY_PORT, graceful_restart=GR)],
                           originate=[RouteSpec(p) for p in s.prefixes])
        frr, bird = sides["frr"].daemon, sides["bird"].daemon
        assert isinstance(frr, Frr) and isinstance(bird, Bird)
        frr.vtysh("debug bgp neighbor-events")  # its BoRR/EoRR lines
        bird.birdc("debug", "n0", "all")  # "Got BEGIN-OF-RR" ...
        rig = Rig(lab, g, cap, sides, frr, bird)
        for s in sides.values():
            up(rig, s)
        yield rig
        cap.stop()
    assert_nothing_left(lab)


def ours_from(rig: Rig, side: Side) -> set[str]:
    return {r.prefix for r in rig.g.received_routes(side.theirs, "ipv4")}


def up(rig: Rig, side: Side, timeout: float = 60.0) -> None:
    """Both ends Established, each with the other's routes."""
    rig.g.wait_established(side.theirs, timeout)
    side.daemon.wait_established(side.ours, timeout)
    for p in OUR_ROUTES:
        side.daemon.wait_route(side.ours, "ipv4", p, timeout=timeout)
    wait_until(lambda: ours_from(rig, side) == set(side.prefixes) or None, timeout, 0.2,
               what=f"{side.kind}'s routes at gracebgpd")


def leg(rig: Rig, side: Side, since: float) -> list[tuple[str, str]]:
    """The relay-gracebgpd leg of ``side`` since ``since``, as (who, what): who is "we" or
    "peer"; what is "RR", "BoRR", "EoRR", "UPDATE" or "KEEPALIVE"."""
    out = []
    for m in rig.cap.messages():
        if m.time < since or m.src not in (side.ours, side.theirs) or m.type not in (2, 4, 5):
            continue
        what = {2: "UPDATE", 4: "KEEPALIVE"}.get(m.type) or ("RR", "BoRR", "EoRR")[int(m.get(
            "bgp.route_refresh.subtype") or 0)]
        out.append(("we" if m.src == side.ours else "peer", what))
    return out


def framed(msgs: list[tuple[str, str]], who: str) -> list[str]:
    """What ``who`` sent, UPDATE runs folded into "UPDATE...", KEEPALIVEs left out."""
    out: list[str] = []
    for w, what in msgs:
        if w != who or what == "KEEPALIVE" or (what == "UPDATE" and out and out[-1] == "UPDATE..."):
            continue
        out.append("UPDATE..." if what == "UPDATE" else what)
    return out


def withdrawals(rig: Rig, side: Side, since: float) -> list[WireMsg]:
    return [m for m in rig.cap.messages() if m.time >= since and m.src == side.theirs and m.type == 2
            and int(m.get("bgp.update.withdrawn_routes.length") or 0) > 0]


def wait_framed(rig: Rig, side: Side, since: float, who: str) -> list[str]:
    """Wait until ``who`` sent an EoRR on the leg, then what it sent (folded)."""
    def done() -> list[str] | None:
        f = framed(leg(rig, side, since), who)
        return f if "EoRR" in f else None

    got = wait_until(done, 20, 0.25, what=f"an EoRR from {who} on the {side.kind} leg")
    assert got is not None
    return got


def logged(side: Side, line: str) -> str:
    """Wait until the peer's own log holds ``line``; its whole log."""
    def text() -> str | None:
        t = side.log()
        return t if line in t else None

    got = wait_until(text, 10, 0.2, what=f"{side.kind} to log {line!r}")
    assert got is not None
    return got


def never_stale(side: Side, seconds: float = 2.0) -> None:
    """Our routes stay at the peer, never stale, for ``seconds`` (sampled)."""
    for _ in range(int(seconds / 0.1)):
        for p in OUR_ROUTES:
            seen = side.daemon.find_route(side.ours, "ipv4", p)
            assert seen is not None and not seen.stale, f"{side.kind}: {p} {seen}"
        time.sleep(0.1)


def lose_a_withdrawal(rig: Rig, side: Side) -> str:
    """The peer withdraws its last route; the relay drops the withdrawal: gracebgpd keeps
    the route the peer no longer has."""
    gone = side.prefixes[-1]
    side.arm.touch()
    try:
        side.daemon.withdraw(gone)
        wait_until(lambda: "dropped" in side.relay.log_text() or None, 20, 0.1,
                   what=f"the relay to drop {side.kind}'s withdrawal")
        time.sleep(1.0)
    finally:
        side.arm.unlink()
    assert ours_from(rig, side) == set(side.prefixes), "the withdrawal got through"
    return gone


# --- we answer -------------------------------------------------------------------------

def test_frr_soft_in_gets_borr_routes_eorr_from_us(rig: Rig) -> None:
    frr = rig.sides["frr"]
    t0 = time.time()
    rig.frr.vtysh(f"clear bgp {frr.ours} soft in")
    assert wait_framed(rig, frr, t0, "we") == ["BoRR", "UPDATE...", "EoRR"]  # RFC 7313 §4
    assert framed(leg(rig, frr, t0), "peer")[:1] == ["RR"]  # what FRR asked
    log = logged(frr, "rcvd route-refresh (EoRR)")
    assert "rcvd route-refresh (BoRR)" in log and "stopping BoRR timer" in log, log[-2000:]
    assert "whereas no BoRR received" not in log
    never_stale(frr)


def test_frr_soft_out_resends_without_markers_and_nothing_changes(rig: Rig) -> None:
    # FRR 8.4 sends BoRR/EoRR only in answer to a ROUTE-REFRESH; its "soft out" re-sends
    # plain UPDATEs. Our table must stay as it is, with nothing stale.
    frr = rig.sides["frr"]
    t0 = time.time()
    rig.frr.vtysh(f"clear bgp {frr.ours} soft out")
    wait_until(lambda: "UPDATE..." in framed(leg(rig, frr, t0), "peer") or None, 10, 0.2,
               what="FRR's UPDATEs")
    time.sleep(1.0)
    assert ours_from(rig, frr) == set(frr.prefixes)
    assert all(not r.stale for r in rig.g.received_routes(frr.theirs, "ipv4"))


def test_bird_reload_in_gets_borr_routes_eorr_from_us(rig: Rig) -> None:
    bird = rig.sides["bird"]
    t0 = time.time()
    rig.bird.birdc("reload", "in", "n0")
    assert wait_framed(rig, bird, t0, "we") == ["BoRR", "UPDATE...", "EoRR"]
    assert "RR" in framed(leg(rig, bird, t0), "peer")
    log = logged(bird, "Got END-OF-RR")
    assert "Got BEGIN-OF-RR" in log and "END-OF-RR received without prior BEGIN-OF-RR" not in log
    never_stale(bird)


# --- we receive and sweep -----------------------------------------------------------------

def test_frr_answers_our_soft_in_and_we_sweep_what_it_no_longer_has(rig: Rig) -> None:
    frr = rig.sides["frr"]
    gone = lose_a_withdrawal(rig, frr)
    t0 = time.time()
    assert "ROUTE-REFRESH" in rig.g.cli("neighbor", frr.theirs, "softreset", "in")
    assert wait_framed(rig, frr, t0, "peer") == ["BoRR", "UPDATE...", "EoRR"]
    assert not withdrawals(rig, frr, t0)  # FRR never withdrew it again: only EoRR removes it
    wait_until(lambda: ours_from(rig, frr) == set(frr.prefixes) - {gone} or None, 10, 0.2,
               what=f"{gone} swept at FRR's EoRR")
    log = rig.g._log_text()
    assert f"peer {frr.theirs}: ipv4-unicast: EoRR received: 1 routes the peer did not re-advertise" in log
    frr.daemon.announce(RouteSpec(gone))  # as it was, for the other tests
    wait_until(lambda: ours_from(rig, frr) == set(frr.prefixes) or None, 20, 0.2, what=f"{gone} back")


def test_bird_reload_out_refreshes_us_and_we_sweep_what_it_no_longer_has(rig: Rig) -> None:
    bird = rig.sides["bird"]
    gone = lose_a_withdrawal(rig, bird)
    t0 = time.time()
    rig.bird.birdc("reload", "out", "n0")  # BIRD starts the refresh: BoRR ... EoRR
    assert wait_framed(rig, bird, t0, "peer") == ["BoRR", "UPDATE...", "EoRR"]
    assert "RR" not in framed(leg(rig, bird, t0), "we")  # nobody asked
    assert not withdrawals(rig, bird, t0)
    wait_until(lambda: ours_from(rig, bird) == set(bird.prefixes) - {gone} or None, 10, 0.2,
               what=f"{gone} swept at BIRD's EoRR")
    log = rig.g._log_text()
    assert f"peer {bird.theirs}: ipv4-unicast: BoRR received: 3 routes marked stale" in log
    assert f"peer {bird.theirs}: ipv4-unicast: EoRR received: 1 routes the peer did not re-advertise" in log
