"""BFD between gracebgpd (gracebgp-bfdd), FRR (bfdd, ``neighbor X bfd``) and BIRD (``bfd
on``) in namespaces (issue 18): the sessions come Up with both C bits as each side announces
them; our planned restart (three ways) and an upgrade of gracebgp-bfdd (``--take-over``)
never show FRR or BIRD a BFD failure and they keep our route in every ~100 ms sample; 100%
loss on the links (netem) takes BFD and BGP down on every side within the Detection Time
(300 ms x 3) plus one interval, far before the hold time (9 s) would. One lab, single hop
and multihop, IPv4; the measured times are printed (-s)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import CommandError, Lab, wait_until
from tests.interop.peers import Bird, Frr, GrSpec, NeighborSpec, RouteSpec, norm_addr

pytestmark = interop

US, THEM, BIRD_AS = 65000, 65001, 65002
INTERVAL_MS, MULT = 300, 3
INJECTOR_AS = 65100  # bench/bgpio.py's
#: What the injector sends while BFD must stay Up: a full table, 1M routes, as the issue
#: asks (GRACEBGP_BFD_BUSY_ROUTES to change it; about 12 s of ingest here).
BUSY_ROUTES = int(os.environ.get("GRACEBGP_BFD_BUSY_ROUTES", "1000000"))
ROOT = Path(__file__).parents[2]
GR = GrSpec(restart_time=120, notification=True)
OURS, THEIRS = "10.100.0.0/24", "10.101.0.0/24"
MAX_GAP = 0.5  # s: the largest gap allowed between two samples of the planned-restart test
OUR_LO, THEIR_LO = "10.255.0.1", "10.255.0.2"  # the multihop session's ends (RFC 5883)


class BfdGraceBgpd(GraceBgpd):
    """gracebgpd with BFD for FRR's two sessions (single hop on the link, multihop between
    loopbacks with ebgp-multihop), and gracebgp-bfdd ended at teardown: it outlives
    gracebgpd on purpose (a retaining stop keeps BFD Up for the peers)."""

    def config(self) -> str:
        us = INTERVAL_MS * 1000
        bfd = ("  [neighbors.bfd.config]\n    enabled = true\n"
               f"    desired-minimum-tx-interval = {us}\n    required-minimum-receive = {us}\n"
               f"    detection-multiplier = {MULT}\n")
        multihop = ("  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = 2\n"
                    "  [neighbors.bfd.gracebgp]\n    multihop = true\n")
        head, *neighbors = super().config().split("[[neighbors]]\n")
        out = [head]
        for n in neighbors:
            body, tail = n, ""
            if "[gracebgp]\n" in n:  # the last neighbor: its keys end where [gracebgp] begins
                body, tail = n.split("[gracebgp]\n", 1)
                tail = "[gracebgp]\n" + tail
            if f'neighbor-address = "{THEIR_LO}"' in body:
                body += bfd + multihop
            elif f"peer-as = {THEM}" in body or f"peer-as = {BIRD_AS}" in body:
                body += bfd
            out.append(body + tail)
        return "[[neighbors]]\n".join(out)

    def bfdd_pid(self) -> int | None:
        try:
            return int((self.workdir / "state" / "bfdd.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        super().stop()
        pid = self.bfdd_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def bfd(self) -> list[dict[str, object]]:
        return json.loads(self.cli("bfd", json_out=True))  # type: ignore[no-any-return]


class BfdFrr(Frr):
    """FRR with bfdd: ``neighbor X bfd profile gbi``, the profile at our timers, and
    ``log timestamp precision 3`` so the log says when each side went down."""

    bfdd = None

    def config(self) -> str:
        text = super().config().replace(
            "frr defaults traditional\n",
            f"frr defaults traditional\nlog file {self.workdir / 'bgpd-ms.log'}\nlog timestamp precision 3\n")
        for n in self.neighbors:
            a = norm_addr(n.address)
            line = f" neighbor {a} remote-as {n.peer_as}\n"
            hops = f" neighbor {a} ebgp-multihop 2\n" if a == OUR_LO else ""
            text = text.replace(line, f"{line}{hops} neighbor {a} bfd\n neighbor {a} bfd profile gbi\n")
        return text

    def _launch(self, restarting: bool) -> None:
        d = self.workdir
        if self.bfdd is None or not self.bfdd.alive():
            (d / "bfdd.conf").write_text(
                f"log file {d / 'bfdd-ms.log'}\nlog timestamp precision 3\ndebug bfd peer\n"
                f"bfd\n profile gbi\n  receive-interval {INTERVAL_MS}\n  transmit-interval {INTERVAL_MS}\n"
                f"  detect-multiplier {MULT}\n exit\nexit\n")
            super_launch = super()._launch
            if self.with_zebra and (self.zebra is None or not self.zebra.alive()):
                super_launch(restarting)  # zebra and bgpd first: bfdd registers with zebra
                self._start_bfdd()
                return
            self._start_bfdd()
        super()._launch(restarting)

    def _start_bfdd(self) -> None:
        d = self.workdir
        self.bfdd = self.lab.spawn(self.ns, [
            "/usr/lib/frr/bfdd", "-f", str(d / "bfdd.conf"), "-i", str(d / "bfdd.pid"),
            "-z", str(d / "zserv.api"), "--vty_socket", str(d), "--bfdctl", str(d / "bfdd.sock"),
            "-P", "0", "-u", "frr", "-g", "frr", "--log", f"file:{d / 'bfdd.log'}",
        ], d / "bfdd.out", name="bfdd")
        self.aux.append(self.bfdd)
        wait_until(lambda: "BFD" in self.bfd_cmd("show bfd peers", check=False) or
                   (d / "bfdd.log").exists(), 10, interval=0.1, what="FRR bfdd")

    def bfd_cmd(self, cmd: str, check: bool = True) -> str:
        return self._run(["vtysh", "--vty_socket", str(self.workdir), "-d", "bfdd", "-c", cmd], check=check)

    def bfd_peer(self, peer: str) -> dict[str, object]:
        for p in json.loads(self.bfd_cmd("show bfd peers json")):
            if p.get("peer") == peer:
                return dict(p)
        return {}

    def bfd_counters(self, peer: str) -> dict[str, object]:
        for p in json.loads(self.bfd_cmd("show bfd peers counters json")):
            if p.get("peer") == peer:
                return dict(p)
        return {}


class BfdBird(Bird):
    """BIRD with ``protocol bfd`` at our timers and ``bfd on`` on its BGP sessions: BFD Down
    (and AdminDown) is a hard reset that deletes our routes, the strict case for the planned
    restart and the bfdd upgrade (``bfd graceful`` would turn it into a graceful restart)."""

    def config(self) -> str:
        text = super().config().replace("  connect retry time", "  bfd on;\n  connect retry time")
        return text + (f'protocol bfd {{\n  interface "*" {{ min rx interval {INTERVAL_MS} ms; '
                       f"min tx interval {INTERVAL_MS} ms; multiplier {MULT}; }};\n}}\n")

    def bfd_state(self, peer: str) -> str:
        """The State column of ``show bfd sessions`` for ``peer`` ("" when not listed)."""
        for line in self.birdc("show", "bfd", "sessions").splitlines():
            words = line.split()
            if words and words[0] == peer:
                return words[2]
        return ""


@dataclass
class Pair:
    lab: Lab
    us: BfdGraceBgpd
    frr: BfdFrr
    our_addr: str
    their_addr: str
    injector_addr: str
    dut_addr: str  # ours on the injector's link
    bird: BfdBird
    bird_addr: str
    our_bird_addr: str  # ours on BIRD's link


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    require(Frr, Bird)
    if not Path("/usr/lib/frr/bfdd").exists():
        pytest.skip("FRR's bfdd is not installed")
    lab = Lab(4, links=[(0, 1), (0, 2), (0, 3)])
    with lab:
        link = lab.link(0, 1)
        ours, theirs = link.a_v4, link.b_v4
        dut, injector = lab.link(0, 2).a_v4, lab.link(0, 2).b_v4
        ours_b, bird_addr = lab.link(0, 3).a_v4, lab.link(0, 3).b_v4
        ends = ((lab.ns(0), OUR_LO, THEIR_LO, theirs), (lab.ns(1), THEIR_LO, OUR_LO, ours))
        for ns, mine, other, via in ends:  # loopback addresses routed over the link
            lab.run(ns, ["ip", "addr", "add", f"{mine}/32", "dev", "lo"])
            lab.run(ns, ["ip", "route", "add", f"{other}/32", "via", via])
        us, frr, bird = BfdGraceBgpd(), BfdFrr(), BfdBird()
        try:
            us.start(lab, lab.ns(0), asn=US, router_id=ours, originate=[RouteSpec(OURS)],
                     neighbors=[NeighborSpec(theirs, THEM, graceful_restart=GR),
                                NeighborSpec(THEIR_LO, THEM, local_address=OUR_LO),
                                NeighborSpec(injector, INJECTOR_AS, passive=True),
                                NeighborSpec(bird_addr, BIRD_AS, graceful_restart=GR)])
            frr.start(lab, lab.ns(1), asn=THEM, router_id=theirs, originate=[RouteSpec(THEIRS)],
                      neighbors=[NeighborSpec(ours, US, graceful_restart=GR),
                                 NeighborSpec(OUR_LO, US, local_address=THEIR_LO)])
            bird.start(lab, lab.ns(3), asn=BIRD_AS, router_id=bird_addr,
                       neighbors=[NeighborSpec(ours_b, US, graceful_restart=GR)])
            us.wait_established(theirs, timeout=60)
            frr.wait_established(ours, timeout=60)
            wait_until(lambda: frr.bfd_peer(ours).get("status") == "up", 30, what="FRR's BFD session up")
            yield Pair(lab, us, frr, ours, theirs, injector, dut, bird, bird_addr, ours_b)
        finally:
            us.stop()
    assert_nothing_left(lab)


def up(s: dict[str, object], peer: str) -> bool:
    return s["state"] == "up" and s["peer"] == peer


def test_bfd_up_with_c_bits(pair: Pair) -> None:
    peer = pair.frr.bfd_peer(pair.our_addr)
    assert peer["status"] == "up"
    assert peer["remote-receive-interval"] == INTERVAL_MS and peer["remote-detect-multiplier"] == MULT
    ours = wait_until(lambda: [s for s in pair.us.bfd() if up(s, pair.their_addr)],
                      10, what="gracebgp bfd up")
    [s] = ours
    assert s["local_c"] is True  # gracebgp-bfdd does not share fate with gracebgpd
    assert s["remote_c"] is False  # FRR's bfdd runs beside bgpd and says so
    assert s["tx_interval_us"] == INTERVAL_MS * 1000 and s["detection_time_us"] == MULT * INTERVAL_MS * 1000


def test_multihop_bfd_up(pair: Pair) -> None:
    """RFC 5883 between loopbacks (port 4784), beside the single-hop session on the link."""
    pair.us.wait_established(THEIR_LO, timeout=60)
    wait_until(lambda: pair.frr.bfd_peer(OUR_LO).get("status") == "up", 30, what="FRR's multihop BFD up")
    peer = pair.frr.bfd_peer(OUR_LO)
    assert peer["multihop"] is True and peer["local"] == THEIR_LO
    [s] = wait_until(lambda: [s for s in pair.us.bfd() if s["peer"] == THEIR_LO and s["state"] == "up"], 10,
                     what="gracebgp bfd: multihop up")
    assert (s["multihop"], s["port"], s["local"]) == (True, 4784, OUR_LO)
    assert s["detection_time_us"] == MULT * INTERVAL_MS * 1000


def test_bird_bfd_up(pair: Pair) -> None:
    pair.bird.wait_established(pair.our_bird_addr, timeout=60)
    wait_until(lambda: pair.bird.bfd_state(pair.our_bird_addr) == "Up", 30, what="BIRD's BFD session Up")
    [s] = wait_until(lambda: [s for s in pair.us.bfd() if up(s, pair.bird_addr)], 10,
                     what="our session with BIRD up")
    assert (s["local_c"], s["remote_c"]) == (True, False)


@pytest.mark.parametrize("handover", [False, True, "take-over"], ids=["graceful", "handover", "take-over"])
def test_planned_restart_keeps_bfd_up_and_routes_at_the_peer(pair: Pair, handover: bool | str) -> None:
    """``gracebgp restart --graceful`` (GR: the sessions close, peers keep our routes),
    ``gracebgp restart`` (the sessions are handed over to the re-executed process) and
    ``gracebgpd --take-over`` (to a process started beside it): each way gracebgp-bfdd
    runs on, so neither peer's BFD leaves Up."""
    frr, us = pair.frr, pair.us
    frr.wait_route(pair.our_addr, "ipv4", OURS, timeout=30)
    downs = frr.bfd_counters(pair.our_addr).get("session-down", 0)
    routes: list[tuple[float, bool]] = []
    states: list[tuple[float, str]] = []
    stop = threading.Event()

    def every(period: float, offset: float, take: Callable[[], None]) -> None:
        """``take`` at offset, offset + period, ...: one vtysh call takes longer than 100 ms
        here, so four staggered samplers make the 100 ms grid."""
        start = time.monotonic() + offset
        n = 0
        while not stop.wait(max(0.0, start + n * period - time.monotonic())):
            take()
            n = max(n + 1, int((time.monotonic() - start) / period) + 1)

    def route() -> None:
        routes.append((time.monotonic(), frr.find_route(pair.our_addr, "ipv4", OURS) is not None))

    def bfd_state() -> None:
        states.append((time.monotonic(), str(frr.bfd_peer(pair.our_addr).get("status"))))

    bird_routes: list[tuple[float, bool]] = []
    bird_states: list[tuple[float, str]] = []

    def bird() -> None:  # birdc answers in a few ms: one sampler keeps the 100 ms grid
        held = pair.bird.find_route(pair.our_bird_addr, "ipv4", OURS) is not None
        bird_routes.append((time.monotonic(), held))
        bird_states.append((time.monotonic(), pair.bird.bfd_state(pair.our_bird_addr)))

    samplers = [threading.Thread(target=every, args=(0.4, k * 0.1, route)) for k in range(4)]
    samplers.append(threading.Thread(target=every, args=(0.2, 0.05, bfd_state)))
    samplers.append(threading.Thread(target=every, args=(0.1, 0.0, bird)))
    pair.bird.wait_route(pair.our_bird_addr, "ipv4", OURS, timeout=30)
    for t in samplers:
        t.start()
    try:
        if handover == "take-over":
            us.take_over()
        else:
            us.graceful_restart(timeout=60, handover=bool(handover))
        us.wait_established(pair.their_addr, timeout=60)
        frr.wait_established(pair.our_addr, timeout=60)
        time.sleep(1.0)  # a few samples after the session is back
    finally:
        stop.set()
        for t in samplers:
            t.join(10)
    routes.sort()
    span = routes[-1][0] - routes[0][0]
    gap = max(b[0] - a[0] for a, b in itertools.pairwise(routes))
    seen = sorted({b for _, b in states})
    how = handover if isinstance(handover, str) else "handover" if handover else "graceful"
    print(f"\nplanned restart ({how}): {len(routes)} route samples over {span:.1f}s (largest gap "
          f"{gap * 1000:.0f} ms), held in {sum(h for _, h in routes)}; {len(states)} BFD samples, "
          f"states {seen}")
    bird_gap = max(b[0] - a[0] for a, b in itertools.pairwise(bird_routes))
    print(f"BIRD: {len(bird_routes)} samples (largest gap {bird_gap * 1000:.0f} ms), route held in "
          f"{sum(h for _, h in bird_routes)}, BFD states {sorted({b for _, b in bird_states})}")
    # the samples make the grid: none further apart than MAX_GAP (100-120 ms measured on a
    # quiet host; the sampler threads wait on vtysh and birdc, which a busy host slows)
    assert gap < MAX_GAP and bird_gap < MAX_GAP, (gap, bird_gap)
    assert routes and all(held for _, held in routes), "FRR lost our route during the restart"
    assert {b for _, b in states} == {"up"}, "FRR saw our BFD session leave Up"
    assert bird_routes and all(held for _, held in bird_routes), _bird_story(
        pair, "BIRD lost our route during the restart", bird_routes, bird_states)
    assert {b for _, b in bird_states} == {"Up"}, "BIRD saw our BFD session leave Up"
    assert frr.bfd_counters(pair.our_addr).get("session-down", 0) == downs


def _bird_story(pair: Pair, what: str, routes: list[tuple[float, bool]],
                states: list[tuple[float, str]]) -> str:
    """A failure message that tells why BIRD lost the route (seen once in CI, never here):
    when it was missing (seconds from the first sample), BIRD's BFD states then, and the
    last lines of BIRD's log and of ours about that session."""
    t0 = routes[0][0]
    missing = [round(t - t0, 2) for t, held in routes if not held]
    bird_log = pair.bird.log_tail(25).splitlines()
    our_log = [line for line in pair.us.log_tail(400).splitlines() if pair.bird_addr in line]
    return "\n".join([f"{what}: missing at {missing} s; BFD states {sorted({s for _, s in states})}",
                      "BIRD's log:", *bird_log, "ours:", *our_log[-40:]])


def _gone(pid: int) -> bool:
    """``pid`` has ended (a zombie until gracebgpd, its parent, reaps it counts)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def test_bfdd_upgrade_hands_sessions_over_unseen_by_the_peers(pair: Pair) -> None:
    """An upgrade replaces gracebgp-bfdd: the new one (``--take-over``, what gracebgpd
    starts when the running bfdd's code is not the code on disk) takes the sessions, their
    discriminators and sockets, and the old one ends without AdminDown (which FRR and BIRD
    take as a failure: Cease/BFD Down). FRR's and BIRD's BFD and BGP sessions never notice."""
    lab, us, frr, bird = pair.lab, pair.us, pair.frr, pair.bird
    wait_until(lambda: frr.bfd_peer(pair.our_addr).get("status") == "up", 30, what="FRR's BFD up")
    wait_until(lambda: bird.bfd_state(pair.our_bird_addr) == "Up", 30, what="BIRD's BFD Up")

    def dropped() -> int:
        return int(json.loads(frr.vtysh(f"show bgp neighbors {pair.our_addr} json"))[pair.our_addr]
                   .get("connectionsDropped", 0))

    before = (frr.bfd_counters(pair.our_addr).get("session-down", 0), dropped(),
              frr.bfd_peer(pair.our_addr).get("remote-id"))
    old = us.bfdd_pid()
    lab.spawn(lab.ns(0), [sys.executable, "-m", "gracebgp.bfdd", "--socket",
                          str(us.workdir / "state" / "bfdd.sock"), "--take-over"],
              us.workdir / "state" / "bfdd.log", name="bfdd-upgrade")  # where gracebgpd's go
    new = wait_until(lambda: (p := us.bfdd_pid()) not in (None, old) and p, 10, interval=0.05,
                     what="the new bfdd's pid file")
    frr_states, bird_states, multihop = set(), set(), set()
    deadline = time.monotonic() + 3.0  # several Detection Times (900 ms) after the change
    while time.monotonic() < deadline:
        frr_states.add(frr.bfd_peer(pair.our_addr).get("status"))
        multihop.add(frr.bfd_peer(OUR_LO).get("status"))
        bird_states.add(bird.bfd_state(pair.our_bird_addr))
    assert old is not None and _gone(old), "the old bfdd runs on"
    after = (frr.bfd_counters(pair.our_addr).get("session-down", 0), dropped(),
             frr.bfd_peer(pair.our_addr).get("remote-id"))
    print(f"\nbfdd upgrade: pid {old} -> {new}; FRR BFD states {frr_states}, BIRD {bird_states}; "
          f"FRR (BFD downs, BGP drops, our discriminator) {before} -> {after}")
    assert frr_states == {"up"} and bird_states == {"Up"} and multihop == {"up"}, multihop
    assert after == before
    assert bird.session_state(pair.our_bird_addr) == "Established"
    # gracebgpd reconnects to the new bfdd (its 1 s retry) and sees the sessions Up
    wait_until(lambda: f"gracebgp-bfdd (pid {new}):" in Path(us.log_path).read_text(errors="replace"), 10,
               interval=0.1, what="gracebgpd connected to the new bfdd")
    wait_until(lambda: [s for s in us.bfd() if up(s, pair.their_addr)], 10, what="gracebgp bfd after upgrade")


def _logged_at(path: Path, fmt: str, *words: str, after: float) -> float:
    """The time (ms precision, local time) of the first line of the log at ``path`` that
    holds every one of ``words`` and is not older than ``after``; 0.0 while there is none."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if all(w in line for w in words):
            try:
                t = time.mktime(time.strptime(line[:19], fmt)) + float("0." + line[20:23])
            except ValueError:
                continue
            if t >= after:
                return t
    return 0.0


def test_busy_core_keeps_bfd_up(pair: Pair) -> None:
    """A full-table-sized burst into gracebgpd (bench/bgpio.py's injector, BUSY_ROUTES /24s,
    each exported to FRR too) while BFD runs at 300 ms x 3: no side sees BFD go down."""
    lab, us, frr = pair.lab, pair.us, pair.frr
    stream = lab.subdir("injector") / "stream.bin"
    bgpio = [sys.executable, str(ROOT / "bench" / "bgpio.py")]
    lab.run(lab.ns(2), [*bgpio, "build", "--prefixes", str(BUSY_ROUTES), "--next-hop", pair.injector_addr,
                        "--out", str(stream)], timeout=120)
    flaps = [s["flaps"] for s in us.bfd()]
    downs = frr.bfd_counters(pair.our_addr).get("session-down", 0)
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns(2), *bgpio, "inject", "--dut", pair.dut_addr, "--local",
         pair.injector_addr, "--stream", str(stream), "--no-wait"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()

        def ingested() -> bool:
            families: Any = us.peer_info(pair.injector_addr)["families"]
            return sum(int(f["received"]) for f in families) >= BUSY_ROUTES

        wait_until(ingested, 120, interval=0.5, what=f"{BUSY_ROUTES} routes in gracebgpd")
        took = time.monotonic() - t0
        i = BUSY_ROUTES - 1  # bench/bgpio.py's /24s go up from 11.0.0.0
        last = f"{11 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.0/24"
        wait_until(lambda: last in frr.vtysh(f"show bgp ipv4 unicast {last} json"), 120, interval=0.5,
                   what=f"{last} exported to FRR")  # and all of them out again to FRR
        exported = time.monotonic() - t0
    finally:
        proc.kill()
        proc.wait(10)
    print(f"\nbusy core: {BUSY_ROUTES} routes ingested in {took:.1f}s, at FRR after {exported:.1f}s; "
          f"BFD flaps {flaps} -> "
          f"{[s['flaps'] for s in us.bfd()]}, FRR down events {downs} -> "
          f"{frr.bfd_counters(pair.our_addr).get('session-down', 0)}")
    assert [s["flaps"] for s in us.bfd()] == flaps
    assert frr.bfd_counters(pair.our_addr).get("session-down", 0) == downs
    assert frr.bfd_peer(pair.our_addr).get("status") == "up"


def _lose_everything(lab: Lab, ns: str, dev: str) -> None:
    """100% loss leaving ``dev``: netem where the kernel has it, else a pfifo that holds
    nothing (every packet is dropped at enqueue; this CI kernel has no sch_netem)."""
    try:
        lab.run(ns, ["tc", "qdisc", "add", "dev", dev, "root", "netem", "loss", "100%"])
    except CommandError:
        lab.run(ns, ["tc", "qdisc", "add", "dev", dev, "root", "pfifo", "limit", "0"])


def test_link_loss_takes_bgp_down_within_detection_time(pair: Pair) -> None:
    lab, us, frr = pair.lab, pair.us, pair.frr
    wait_until(lambda: frr.bfd_peer(pair.our_addr).get("status") == "up", 30, what="BFD up again")
    link = lab.link(0, 1)
    # Loss towards FRR comes with the first command, loss towards us with the second: each
    # side's time is counted from the end of the command that silenced what it hears (most
    # of a command's time is starting ip and tc; the qdisc is in place when it returns).
    started = time.time()
    _lose_everything(lab, lab.ns(0), link.ifname(lab.ns(0)))
    lost_to_frr = time.time()
    _lose_everything(lab, lab.ns(1), link.ifname(lab.ns(1)))
    lost_to_us = time.time()
    bird_link = lab.link(0, 3)  # then BIRD's link: BIRD's BFD (birdc, polled) and BGP
    _lose_everything(lab, lab.ns(3), bird_link.ifname(lab.ns(3)))
    _lose_everything(lab, lab.ns(0), bird_link.ifname(lab.ns(0)))
    lost_to_bird = time.time()
    try:
        wait_until(lambda: pair.bird.bfd_state(pair.our_bird_addr) != "Up", 5, interval=0.02,
                   what="BIRD's BFD down")
        bird_bfd = time.time() - lost_to_bird
        wait_until(lambda: pair.bird.session_state(pair.our_bird_addr) != "Established", 5, interval=0.02,
                   what="BIRD's BGP session down (bfd on)")
        bird_bgp = time.time() - lost_to_bird
        # when each side took the session down, from its own log (ms timestamps)
        ours_log, frr_log = Path(us.log_path), frr.workdir / "bgpd-ms.log"
        ours = wait_until(lambda: _logged_at(ours_log, "%Y-%m-%d %H:%M:%S", "[bfd]",
                                             f"peer {pair.their_addr}:", "BFD down (", after=started - 1),
                          5, interval=0.05, what="gracebgpd: BFD down")
        theirs = wait_until(lambda: _logged_at(frr_log, "%Y/%m/%d %H:%M:%S", "NOTIFICATION",
                                               f"neighbor {pair.our_addr} ", "BFD Down", after=started - 1),
                            5, interval=0.05, what="FRR: Cease/BFD Down sent")
        # and when each BFD declared the other down (bfdd's own state-change lines)
        ours_bfd = wait_until(lambda: _logged_at(us.workdir / "state" / "bfdd.log", "%Y-%m-%d %H:%M:%S",
                                                 f"BFD {pair.their_addr}: up -> down", after=started - 1),
                              5, interval=0.05, what="gracebgp-bfdd: up -> down")
        theirs_bfd = wait_until(lambda: _logged_at(frr.workdir / "bfdd-ms.log", "%Y/%m/%d %H:%M:%S",
                                                   f"peer:{pair.our_addr} ", "up -> down", after=started - 1),
                                5, interval=0.05, what="FRR bfdd: up -> down")
        wait_until(lambda: us.session_state(pair.their_addr) != "Established", 5, interval=0.05,
                   what="gracebgpd's session down (API)")
        # our decision (item 4's table), for both sessions before the loss ends (the multihop
        # one's Detection Time may run out a little after the link session's): FRR's C bit
        # is 0 and GR is negotiated on the link's session: keep its routes; the multihop
        # session has no GR: flush
        expired = "BFD down (control-detection-time-expired, peer C bit 0)"
        decisions = (f"peer {pair.their_addr}: {expired}: graceful", f"peer {THEIR_LO}: {expired}: flush")
        decided = wait_until(lambda: all(d in ours_log.read_text(errors="replace") for d in decisions),
                             5, interval=0.05, what=f"gracebgpd: {decisions}")
        why = json.loads(frr.vtysh(f"show bgp neighbors {pair.our_addr} json"))[pair.our_addr]
    finally:
        for ns, dev in ((lab.ns(0), link.ifname(lab.ns(0))), (lab.ns(1), link.ifname(lab.ns(1))),
                        (lab.ns(0), bird_link.ifname(lab.ns(0))), (lab.ns(3), bird_link.ifname(lab.ns(3)))):
            lab.run(ns, ["tc", "qdisc", "del", "dev", dev, "root"], check=False)
    detect, interval = MULT * INTERVAL_MS / 1000, INTERVAL_MS / 1000
    ours, theirs = ours - lost_to_us, theirs - lost_to_frr
    ours_bfd, theirs_bfd = ours_bfd - lost_to_us, theirs_bfd - lost_to_frr
    print(f"\n100% loss: BFD down at gracebgp-bfdd after {ours_bfd:.3f}s, at FRR's bfdd after "
          f"{theirs_bfd:.3f}s; BGP down at gracebgpd after {ours:.3f}s, at FRR after {theirs:.3f}s "
          f"({why.get('lastNotificationReason')}; detection time {detect:.1f}s, hold time 9 s)")
    print(f"BIRD: BFD down after at most {bird_bfd:.3f}s, BGP down after at most {bird_bgp:.3f}s "
          "(birdc polled every 20 ms)")
    reasons = {k: v for k, v in why.items() if k.startswith("last") and isinstance(v, str)}
    assert any("BFD" in v or v == "060A" for v in reasons.values()), reasons  # Cease/BFD Down, FRR's BFD
    assert decided  # both lines logged within the loss (wait_until above)
    # Each BFD declares the other down within its Detection Time of the last packet heard,
    # which left at most one interval before the loss began: the bound is detect + interval.
    assert ours_bfd < detect + interval, f"gracebgp-bfdd took {ours_bfd:.3f}s"
    assert theirs_bfd < detect + interval, f"FRR's bfdd took {theirs_bfd:.3f}s"
    # BGP follows through bfdd's control socket and the owner queue (ours), through zebra
    # and bgpd (FRR's: up to 1.35 s measured while this 2-core host ran other suites);
    # both far below the 9 s hold time.
    assert ours < detect + 2 * interval, f"gracebgpd took {ours:.3f}s"
    assert theirs < 2.0, f"FRR took {theirs:.3f}s"
    assert bird_bfd < detect + interval + 0.1, f"BIRD's BFD took {bird_bfd:.3f}s"  # + the poll
    assert bird_bgp < 2.0, f"BIRD's BGP took {bird_bgp:.3f}s"
    us.wait_established(pair.their_addr, timeout=60)
    pair.bird.wait_established(pair.our_bird_addr, timeout=60)


def test_control_without_bfd_the_hold_timer_decides(pair: Pair) -> None:
    """The control for the detection test: with FRR's BFD for the link session removed, the
    same 100% loss takes BGP down only when the hold timer (9 s, a KEEPALIVE every 3 s:
    6-9 s after the loss began) expires, on both sides."""
    lab, us, frr = pair.lab, pair.us, pair.frr
    link, their, ours = lab.link(0, 1), pair.their_addr, pair.our_addr
    frr.configure(f"no neighbor {ours} bfd")
    try:
        wait_until(lambda: not frr.bfd_peer(ours), 10, interval=0.2, what="FRR's BFD session removed")
        us.wait_established(their, timeout=60)
        frr.wait_established(ours, timeout=60)
        for ns in (lab.ns(0), lab.ns(1)):
            _lose_everything(lab, ns, link.ifname(ns))
        lost = time.time()
        try:
            wait_until(lambda: us.session_state(their) != "Established", 12, interval=0.1,
                       what="gracebgpd's session down (hold timer)")
            ours_down = time.time() - lost
            wait_until(lambda: frr.session_state(ours) != "Established", 12, interval=0.1,
                       what="FRR's session down (hold timer)")
            theirs_down = time.time() - lost
            why = json.loads(frr.vtysh(f"show bgp neighbors {ours} json"))[ours]
        finally:
            for ns in (lab.ns(0), lab.ns(1)):
                lab.run(ns, ["tc", "qdisc", "del", "dev", link.ifname(ns), "root"], check=False)
    finally:
        frr.configure(f"neighbor {ours} bfd", f"neighbor {ours} bfd profile gbi")
    print(f"\ncontrol, no BFD: BGP down at gracebgpd after {ours_down:.1f}s, at FRR after {theirs_down:.1f}s "
          f"({why.get('lastResetDueTo')})")
    assert 5.5 < ours_down < 10.0 and 5.5 < theirs_down < 10.0, (ours_down, theirs_down)
    us.wait_established(their, timeout=60)
    wait_until(lambda: frr.bfd_peer(ours).get("status") == "up", 30, what="FRR's BFD up again")


def test_peer_bgp_killed_is_plain_graceful_restart(pair: Pair) -> None:
    """FRR's bgpd is SIGKILLed while its bfdd runs on: our helper keeps FRR's route stale
    (RFC 4724) and the session comes back with bgpd. Not quite the issue's case (BFD stays
    Up): FRR's bfdd drops the session of a client that died, so our BFD goes down too
    (neighbor-signaled-session-down) once the BGP session has already ended; that must not
    flush what GR keeps."""
    us, frr = pair.us, pair.frr
    us.wait_established(pair.their_addr, timeout=60)
    us.wait_route(pair.their_addr, "ipv4", THEIRS, timeout=30)
    mark = len(Path(us.log_path).read_text(errors="replace"))
    frr.kill9()  # bgpd only: zebra and bfdd stay
    kept = us.wait_route(pair.their_addr, "ipv4", THEIRS, where=lambda r: r.stale, timeout=20)
    assert kept.stale
    frr.restart(kill=False)
    us.wait_established(pair.their_addr, timeout=60)
    frr.wait_established(pair.our_addr, timeout=60)
    log = Path(us.log_path).read_text(errors="replace")[mark:]
    bfd = [line for line in log.splitlines() if "[bfd]" in line and pair.their_addr in line]
    print(f"\nFRR's bgpd killed: route kept stale; our BFD lines meanwhile: {bfd or 'none'}")
    assert not any(": flush" in line for line in bfd), bfd
