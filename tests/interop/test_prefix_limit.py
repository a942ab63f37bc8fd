"""Prefix limits against real peers (issue 11 deliverable 5): gracebgpd limits what FRR,
BIRD and gobgpd may send to 3 IPv4 routes ([neighbors.afi-safis.prefix-limit.config]
max-prefixes = 3, shutdown-threshold-pct = 60). Each peer sends 3 (the threshold warning
appears, the session stays up), then one more: gracebgpd must send Cease / Maximum
Number of Prefixes Reached with AFI 1, SAFI 1 and the limit 3 as data (RFC 4486 §4),
wrapped in a Hard Reset (RFC 8538 §3, §5) to the peers that negotiated N (FRR, gobgpd;
BIRD 2.0.12 has no N), checked on the wire (tshark) and in each peer's own log; each
peer must drop our route at once (none keeps it stale, although all run graceful
restart); our session stays down until the operator enables it (FRR, gobgpd) or the
restart-timer runs out (BIRD). One lab and one set of daemons for the module."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from gracebgp.api.client import Client
from gracebgp.api.schema import Peer
from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, wait_until
from tests.interop.peers import Bird, Frr, GoBgpd, GrSpec, NeighborSpec, PeerDaemon, RouteSpec, norm_addr
from tests.interop.test_gr_restarting_peers import Capture, WireMsg

pytestmark = interop

OURS, FRR_AS, BIRD_AS, GOBGP_AS = 65001, 65002, 65003, 65004
GR = GrSpec(restart_time=120, notification=True)  # BIRD ignores the N bit (2.0.12 has none)
LIMIT = 3
OUR_ROUTE = "10.1.0.0/24"
#: RFC 4486 §4 data: AFI 1 (2 octets), SAFI 1 (1 octet), the limit (4 octets).
DATA = "0001" + "01" + f"{LIMIT:08x}"
#: restart-timer per peer kind: 0 holds until `gracebgp neighbor ADDR enable`.
RESTART = {"frr": 0, "bird": 5, "gobgpd": 0}


class LimitedGraceBgpd(GraceBgpd):
    """gracebgpd whose neighbors carry a prefix-limit on ipv4-unicast (by address)."""

    limits: dict[str, str]

    def config(self) -> str:
        name = 'afi-safi-name = "ipv4-unicast"\n'
        chunks = super().config().split("[[neighbors]]\n")
        for i, chunk in enumerate(chunks[1:], 1):
            m = re.search(r'neighbor-address = "([^"]+)"', chunk)
            limit = self.limits.get(norm_addr(m[1])) if m else None
            if limit is not None:
                table = "    [neighbors.afi-safis.prefix-limit.config]\n"
                chunks[i] = chunk.replace(name, name + table + limit)
        return "[[neighbors]]\n".join(chunks)


@dataclass
class Side:
    kind: str
    daemon: PeerDaemon
    theirs: str  # the peer's address (our neighbor-address)
    ours: str  # our address towards it (its neighbor-address)
    prefixes: list[str]


@dataclass
class Rig:
    lab: Lab
    g: LimitedGraceBgpd
    cap: Capture
    sides: dict[str, Side]


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    require(Frr, Bird, GoBgpd)
    lab = Lab(4, links=[(0, 1), (0, 2), (0, 3)])
    with lab:
        kinds = ("frr", "bird", "gobgpd")
        daemons: list[PeerDaemon] = [Frr(with_zebra=False), Bird(), GoBgpd()]
        sides = {k: Side(k, d, link.b_v4, link.a_v4, [f"10.1{2 + i}.{n}.0/24" for n in range(LIMIT + 1)])
                 for i, (k, d, link) in enumerate(zip(kinds, daemons, lab.links, strict=True))}
        g = LimitedGraceBgpd()
        g.limits = {s.theirs: f"      max-prefixes = {LIMIT}\n      shutdown-threshold-pct = 60\n"
                              f"      restart-timer = {RESTART[k]}\n" for k, s in sides.items()}
        cap = Capture(lab, lab.ns(0), "any")
        g.start(lab, lab.ns(0), asn=OURS, router_id=sides["frr"].ours,
                neighbors=[NeighborSpec(s.theirs, {"frr": FRR_AS, "bird": BIRD_AS, "gobgpd": GOBGP_AS}[k],
                                        graceful_restart=GR) for k, s in sides.items()],
                originate=[RouteSpec(OUR_ROUTE)])
        for s, asn, ns in zip(sides.values(), (FRR_AS, BIRD_AS, GOBGP_AS), (1, 2, 3), strict=True):
            s.daemon.start(lab, lab.ns(ns), asn=asn, router_id=s.theirs,
                           neighbors=[NeighborSpec(s.ours, OURS, graceful_restart=GR)],
                           originate=[RouteSpec(p) for p in s.prefixes[:LIMIT]])
        yield Rig(lab, g, cap, sides)
        cap.stop()
    assert_nothing_left(lab)


def our_peer(rig: Rig, side: Side) -> Peer:
    return rig.g._api(partial(Client.peer, address=side.theirs))


def our_notifications(rig: Rig, side: Side) -> list[WireMsg]:
    return [m for m in rig.cap.messages() if m.type == 3 and m.src == norm_addr(side.ours)]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def up_with_our_route(rig: Rig, side: Side, timeout: float = 60.0) -> None:
    rig.g.wait_established(side.theirs, timeout)
    side.daemon.wait_established(side.ours, timeout)
    side.daemon.wait_route(side.ours, "ipv4", OUR_ROUTE, timeout=timeout)


def trip(rig: Rig, side: Side) -> tuple[WireMsg, float]:
    """The peer sends one route over the limit; returns our NOTIFICATION as tshark saw it
    and the time the peer was found without our route (after the NOTIFICATION)."""
    up_with_our_route(rig, side)
    wait_until(lambda: {r.prefix for r in rig.g.received_routes(side.theirs, "ipv4")}
               == set(side.prefixes[:LIMIT]), 30, 0.1, what=f"{side.kind}'s {LIMIT} routes at gracebgpd")
    before = len(our_notifications(rig, side))
    side.daemon.announce(RouteSpec(side.prefixes[LIMIT]))

    def held() -> Peer | None:
        p = our_peer(rig, side)
        return p if p.held_down else None

    peer = wait_until(held, 30, 0.05, what=f"gracebgpd to hold {side.kind} down")
    assert peer is not None
    assert peer.state == "Idle" and peer.held_down == "prefix-limit"
    # The peer drops our route at once: never stale (it runs GR with a 120 s restart time).
    gone = None
    for _ in range(200):  # bounded: 200 samples of the peer's table, about 10 s
        seen = side.daemon.find_route(side.ours, "ipv4", OUR_ROUTE)
        assert seen is None or not seen.stale, f"{side.kind} kept our route stale: {seen}"
        if seen is None:
            gone = time.time()
            break
        time.sleep(0.05)
    assert gone is not None, f"{side.kind} still has our route"
    note = wait_until(lambda: our_notifications(rig, side)[before:], 10, 0.2,
                      what=f"our NOTIFICATION to {side.kind} in the capture")
    assert len(note) == 1
    # the wire evidence for the issue note: (code, subcode, data hex) as tshark decoded it
    print(f"prefix-limit {side.kind}: tshark: NOTIFICATION {side.ours} > {side.theirs} "
          f"(code, subcode, data) = {note[0].notification}")
    return note[0], gone


def test_threshold_warning_then_limit_with_frr_hard_reset(rig: Rig) -> None:
    frr = rig.sides["frr"]
    up_with_our_route(rig, frr)
    # At the limit (3 of 3) the session stays up; over 60% of it (1) the warning is raised.
    wait_until(lambda: any(c.type == "PrefixLimitThreshold" and c.subject == frr.theirs
                           for c in rig.g._api(Client.health).conditions) or None, 30, 0.2,
               what="the PrefixLimitThreshold health warning")
    events = [e for e in rig.g._api(Client.events_history)
              if e.kind == "prefix-limit" and e.peer == frr.theirs]
    assert events[0].data["event"] == "threshold-reached" and events[0].data["max_prefixes"] == LIMIT

    msg, gone = trip(rig, frr)
    # RFC 8538 §3: Cease / Hard Reset whose data is the inner Cease 6/1 with its data.
    assert msg.notification == (6, 9, "0601" + DATA), msg.fields
    assert gone - msg.time < 5.0
    log = _read(frr.daemon.workdir / "bgpd.log")
    m = re.search(rf"%NOTIFICATION\(Hard Reset\): received from neighbor {re.escape(frr.ours)} 6/1 "
                  r"\(Cease/Maximum Number of Prefixes Reached\) 7 bytes ([0-9a-f ]+)", log)
    assert m, log[-3000:]
    # FRR 8.4 names the inner code and subcode and the inner length (7), but prints the
    # first 7 octets of the Hard Reset's data, which start with the inner 06 01 itself.
    assert m[1].replace(" ", "") == ("0601" + DATA)[:14]
    cond = [c for c in rig.g._api(Client.health).conditions if c.subject == frr.theirs]
    assert [c.type for c in cond] == ["PrefixLimitExceeded"]

    # Held down (restart-timer 0): still down a while later, whatever FRR tries.
    time.sleep(3)
    assert our_peer(rig, frr).state == "Idle"
    # FRR takes its extra route back; the operator enables the peer: it comes back.
    frr.daemon.withdraw(frr.prefixes[LIMIT])
    assert "enabled" in rig.g.cli("neighbor", frr.theirs, "enable")
    up_with_our_route(rig, frr)
    assert our_peer(rig, frr).held_down is None


def test_bird_gets_plain_cease_and_restart_timer_brings_it_back(rig: Rig) -> None:
    bird = rig.sides["bird"]
    msg, gone = trip(rig, bird)
    assert msg.notification == (6, 1, DATA), msg.fields  # no N with BIRD: never Hard Reset
    assert gone - msg.time < 5.0
    log = _read(bird.daemon.workdir / "bird.log")
    assert f"n0: Received: Maximum number of prefixes reached: {DATA}" in log, log[-3000:]
    assert our_peer(rig, bird).restart_in is not None
    bird.daemon.withdraw(bird.prefixes[LIMIT])
    # restart-timer 5 s: back without an operator (and with 3 routes it stays up).
    t0 = time.monotonic()
    up_with_our_route(rig, bird, timeout=40)
    assert time.monotonic() - t0 >= 1.0
    assert our_peer(rig, bird).held_down is None


def test_gobgpd_gets_hard_reset_and_logs_the_data(rig: Rig) -> None:
    gobgp = rig.sides["gobgpd"]
    msg, gone = trip(rig, gobgp)
    assert msg.notification == (6, 9, "0601" + DATA), msg.fields
    assert gone - msg.time < 5.0
    notes = re.findall(r'msg="received notification".* Code=(\d+) .*Data="\[([\d ]*)\]".* Key=(\S+) '
                       r"Subcode=(\d+)", _read(gobgp.daemon.workdir / "gobgpd.log"))
    ours = [(int(c), int(s), [int(x) for x in d.split()]) for c, d, k, s in notes if k == gobgp.ours]
    assert ours[-1] == (6, 9, [6, 1, 0, 1, 1, 0, 0, 0, LIMIT]), notes
    peer = our_peer(rig, gobgp)
    assert peer.restart_in is None and peer.held_down == "prefix-limit"
    text = rig.g.cli("peers")
    assert "prefix-limit, until enabled" in text, text
