"""Graceful restart with real restarting peers (spec sections 3, 4 and 6).

1. gobgpd, FRR and BIRD restart (kill -9) while gracebgpd is their GR helper:

   * ``restart``: the peer comes back (gobgpd ``-r``, ``bird -R``, FRR within its R=1
     window, with ``preserve-fw-state`` so that F=1) with one route fewer. While it is
     down we hold its routes, stale; the new session's routes replace them (stale=false)
     and the dropped one goes on the peer's End-of-RIB, long before the restart timer.
   * ``norestart``: the peer stays dead; we hold its routes until its Restart Time and
     purge them then (present shortly before, gone a few seconds after).
   * FRR without ``preserve-fw-state`` comes back with F=0: the stale routes must go as
     soon as the session is up, not on its End-of-RIB.

2. N bit (RFC 8538) with FRR 8.4 (``bgp graceful-restart notification``): our
   ``neighbor reset`` (Cease/Administrative Reset) keeps the routes on both sides, stale
   and then refreshed; FRR's ``clear bgp`` under ``no bgp hard-administrative-reset``
   (Cease/Administrative Reset) keeps FRR's routes at us; FRR's ``clear bgp`` under its
   default ``bgp hard-administrative-reset`` (Hard Reset) and our ``neighbor shutdown``
   (Hard Reset wrapping Administrative Shutdown) delete them on both sides at once. The
   NOTIFICATIONs and the N bits are checked on the wire (tshark).

3. The six-minute case (spec section 1, problem 2): gracebgpd configures IPv4 and IPv6
   unicast with GR and a 360 s deferral time, the helper (BIRD) negotiates IPv4 only.
   gracebgpd restarts (``gracebgp restart``, or SIGKILL and a new process) and comes back
   with R=1; its first UPDATE, carrying its routes, must reach BIRD within 1 s of BIRD's
   End-of-RIB (measured on the wire in BIRD's namespace), not when the deferral timer
   fires, and BIRD must not have been told to drop anything.

Our side is read through gracebgpd's API (``gracebgp.api.client``) on its Unix socket and
driven with the ``gracebgp`` command; the peers' side through their own CLIs
(``tests/interop/peers.py``). A thread samples each side every 50-100 ms, so what
happened between two checks is on record too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from gracebgp.api.client import Client
from gracebgp.api.schema import Event
from tests.interop.common import AS4, checked_lab, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import FatalWaitError, Lab, wait_until
from tests.interop.peers import (
    Bird,
    Family,
    Frr,
    GoBgpd,
    GrSpec,
    NeighborSpec,
    PeerDaemon,
    RouteSpec,
    norm_addr,
)

PEER_AS = 65002
V4 = "ipv4-unicast"
OURS = "10.1.0.0/24"
THEIRS = ("10.2.0.0/24", "10.2.1.0/24", "10.2.2.0/24")
DROPPED = THEIRS[-1]  # the route the restarted peer no longer originates
KEPT = THEIRS[:-1]
THEIR_ROUTES = tuple(RouteSpec(p) for p in THEIRS)


class FrrFwd(Frr):
    """FRR that sets F=1 in its GR capability (``bgp graceful-restart preserve-fw-state``).

    Without it FRR's OPEN after a restart has F=0, and a helper must then delete the
    stale routes at once (RFC 4724 §4.2) instead of letting the new session replace them.
    """

    def config(self) -> str:
        text = super().config()
        return text.replace(
            " bgp graceful-restart\n", " bgp graceful-restart\n bgp graceful-restart preserve-fw-state\n", 1
        )


class GoBgpdHeld(GoBgpd):
    """gobgpd whose restart re-adds its routes before any session can come up.

    The plain driver adds them through the API once gobgpd runs; a restarted gobgpd
    (``-r``) may meanwhile establish, get our End-of-RIB, end its deferral and send its
    own EOR with an empty table, and a helper then rightly purges everything. Here the
    restarted gobgpd starts with its neighbors ``admin-down``, gets its routes, and only
    then enables them.
    """

    held = False

    def config(self) -> str:
        text = super().config()
        if self.held:
            text = text.replace("  [neighbors.config]\n", "  [neighbors.config]\n    admin-down = true\n")
        return text

    def _launch(self, restarting: bool) -> None:
        self.held = restarting
        try:
            super()._launch(restarting)
        finally:
            self.held = False
        if restarting:
            for n in self.neighbors:
                self.cli("neighbor", norm_addr(n.address), "enable")


PEERS: dict[str, type[PeerDaemon]] = {"gobgpd": GoBgpdHeld, "bird": Bird, "frr": FrrFwd}


Snapshot = dict[str, bool]  # prefix -> stale

# --------------------------------------------------------------------------------------
# our daemon through its API


def api_socket(g: GraceBgpd) -> str:
    """The API socket our driver configured (read back from the config it wrote)."""
    conf = tomllib.loads((g.workdir / "gracebgpd.toml").read_text())
    sock = conf.get("gracebgp", {}).get("api-socket")
    return str(sock) if sock else str(g.workdir / "state" / "api.sock")


def api(g: GraceBgpd, timeout: float = 5.0) -> Client:
    return Client(api_socket(g), timeout=timeout)


def our_routes(g: GraceBgpd, peer: str, family: str = V4) -> Snapshot:
    """prefix -> stale, for the routes in our Adj-RIB-In from ``peer``."""
    with api(g) as c:
        return {e.prefix: e.stale for e in c.list_paths("adj-in", family, peer=peer)}


def our_state(g: GraceBgpd, peer: str) -> str:
    with api(g) as c:
        return c.peer(peer).state


def our_events(g: GraceBgpd, peer: str, kind: str = "restart") -> list[Event]:
    with api(g) as c:
        return [e for e in c.events_history() if e.kind == kind and e.peer is not None
                and norm_addr(e.peer) == norm_addr(peer)]


def restart_event(g: GraceBgpd, peer: str, name: str, after: float) -> Event | None:
    """Our latest ``restart`` event called ``name`` (helper-started, eor-purged, ...)."""
    found = [e for e in our_events(g, peer) if e.data.get("event") == name and e.time >= after]
    return found[-1] if found else None


def wait_event(g: GraceBgpd, peer: str, name: str, after: float, timeout: float = 5.0) -> Event:
    """Wait for our ``restart`` event ``name`` about ``peer`` at or after ``after``."""

    def pred() -> Event | None:
        g.check_alive()
        return restart_event(g, peer, name, after)

    ev = wait_until(pred, timeout, 0.1, what=f"our {name} event")
    assert ev is not None
    return ev


def wait_our_state(g: GraceBgpd, peer: str, state: str, timeout: float) -> float:
    """Wait until our session with ``peer`` is in ``state``; return when we saw it."""

    def pred() -> bool | str:
        g.check_alive()
        now = our_state(g, peer)
        return True if now == state else now

    wait_until(pred, timeout, 0.1, what=f"our session with {peer} to be {state}")
    return time.time()


@dataclass
class RouteWatch:
    """Calls ``probe`` (one observation: prefix -> stale) every ``interval`` s in a thread,
    so that what happened between two checks of the test is on record too. ``daemon`` is
    the one observed (its death ends a wait at once)."""

    daemon: PeerDaemon
    probe: Callable[[], Snapshot]
    interval: float = 0.1
    on_stop: Callable[[], None] | None = None
    samples: list[tuple[float, Snapshot | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def ours(cls, g: GraceBgpd, peer: str, family: str = V4) -> RouteWatch:
        """Our Adj-RIB-In from ``peer``, through the API."""
        client = api(g, timeout=2.0)
        return cls(g, lambda: {e.prefix: e.stale for e in client.list_paths("adj-in", family, peer=peer)},
                   on_stop=client.close)

    @classmethod
    def theirs(cls, p: PeerDaemon, neighbor: str, *prefixes: str) -> RouteWatch:
        """The routes ``p`` holds from ``neighbor``, through its CLI."""

        def probe() -> Snapshot:
            return {r.prefix: r.stale for r in p.received_routes(neighbor, "ipv4") if r.prefix in prefixes}

        return cls(p, probe, interval=0.05)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.time()
            snap: Snapshot | None
            try:
                snap = self.probe()
            except Exception:  # the daemon restarting, a CLI hiccup: no observation
                snap = None
            with self._lock:
                self.samples.append((t, snap))
            self._stop.wait(self.interval)

    @contextmanager
    def running(self) -> Iterator[RouteWatch]:
        th = threading.Thread(target=self._run, name="route-watch", daemon=True)
        th.start()
        try:
            yield self
        finally:
            self._stop.set()
            th.join(timeout=10)
            if self.on_stop is not None:
                self.on_stop()

    def history(self, since: float = 0.0) -> list[tuple[float, Snapshot]]:
        with self._lock:
            return [(t, s) for t, s in self.samples if s is not None and t >= since]

    def timeline(self, t0: float) -> str:
        """The samples, relative to ``t0``, one line per change (for failure messages)."""
        out, last = [], object()
        for t, s in self.history():
            if s != last:
                out.append(f"  {t - t0:+8.2f}s {s}")
                last = s
        return "\n".join(out)

    def wait(self, pred: Callable[[Snapshot], bool], timeout: float, what: str,
             since: float = 0.0) -> tuple[float, Snapshot]:
        """Wait for a sample taken after ``since`` that satisfies ``pred``; return it."""

        def check() -> tuple[float, Snapshot] | None:
            self.daemon.check_alive()
            for t, s in self.history(since):
                if pred(s):
                    return t, s
            return None

        try:
            found = wait_until(check, timeout, 0.05, what=what)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; samples since:\n{self.timeline(since)}\n---- {self.daemon.kind} "
                               f"log tail ----\n{self.daemon.log_tail(60)}") from None
        assert found is not None
        return found


def fresh(*prefixes: str) -> Callable[[Snapshot], bool]:
    return lambda s: all(p in s and not s[p] for p in prefixes)


def stale(*prefixes: str) -> Callable[[Snapshot], bool]:
    return lambda s: all(s.get(p) is True for p in prefixes)


# --------------------------------------------------------------------------------------
# the wire, through tshark


@dataclass(frozen=True)
class WireMsg:
    """One BGP message as tshark decoded it (a TCP segment may carry several)."""

    time: float
    src: str
    type: int  # 1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE
    length: int
    fields: dict[str, Any]

    def get(self, key: str) -> Any:
        """The first value of tshark field ``key`` anywhere in this message's tree."""
        return _find(self.fields, key)

    @property
    def eor_v4(self) -> bool:
        """End-of-RIB for IPv4 unicast: an empty UPDATE (RFC 4724 §2)."""
        return self.type == 2 and self.length == 23

    @property
    def notification(self) -> tuple[int, int, str]:
        """(code, subcode, data in hex) of a NOTIFICATION."""
        data = str(self.get("bgp.notify.minor_data") or "").replace(":", "").lower()
        code, sub = self.get("bgp.notify.major_error"), self.get("bgp.notify.minor_error_cease")
        return int(code), int(sub or 0), data

    def gr_flag(self, name: str) -> bool | None:
        """R ("restart") or N ("notification") of an OPEN's GR capability; None without it."""
        value = self.get(f"bgp.cap.gr.timers.{name}_flag")
        return None if value is None else value in ("1", "True", "true")


def _find(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for item in obj:
            found = _find(item, key)
            if found is not None:
                return found
    return None


class Capture:
    """tshark on one interface of a lab namespace, BGP only, into a pcap file."""

    def __init__(self, lab: Lab, ns: str, ifname: str) -> None:
        d = lab.subdir("tshark")
        self.path = d / f"{ns}.pcapng"
        self.proc = lab.spawn(ns, ["tshark", "-n", "-i", ifname, "-f", "tcp port 179", "-w", str(self.path)],
                              d / f"{ns}.log", name="tshark")

        def ready() -> bool:
            if not self.proc.alive():
                raise FatalWaitError(f"tshark exited: {self.proc.log_text()}")
            return "Capturing on" in self.proc.log_text()

        wait_until(ready, 20, 0.1, what="tshark to capture")

    def stop(self) -> None:
        self.proc.stop()

    def messages(self) -> list[WireMsg]:
        """Every BGP message captured so far (the pcap is read as it is)."""
        out = subprocess.run(
            ["tshark", "-n", "-r", str(self.path), "-Y", "bgp", "-T", "json", "--no-duplicate-keys",
             "-J", "frame ip ipv6 bgp"],
            capture_output=True, text=True, timeout=60, check=False,
        ).stdout
        msgs = []
        for frame in json.loads(out or "[]"):
            layers = frame["_source"]["layers"]
            t = float(layers["frame"]["frame.time_epoch"])
            ip = layers.get("ip") or layers.get("ipv6") or {}
            src = ip.get("ip.src") or ip.get("ipv6.src") or ""
            bgp = layers.get("bgp", [])
            for m in bgp if isinstance(bgp, list) else [bgp]:
                if isinstance(m, dict) and "bgp.type" in m:
                    msgs.append(WireMsg(t, norm_addr(src), int(m["bgp.type"]), int(m["bgp.length"]), m))
        return msgs


# --------------------------------------------------------------------------------------
# lab set-up


@dataclass
class Pair:
    lab: Lab
    g: GraceBgpd
    p: PeerDaemon
    ours: str  # our address (the peer's neighbor)
    theirs: str  # the peer's address (our neighbor)


def start_pair(lab: Lab, kind: str, gr_peer: GrSpec, gr_ours: GrSpec, g: GraceBgpd | None = None,
               peer: PeerDaemon | None = None, our_families: tuple[Family, ...] = ("ipv4",),
               our_routes_: tuple[RouteSpec, ...] = (RouteSpec(OURS),),
               their_routes: tuple[RouteSpec, ...] = THEIR_ROUTES) -> Pair:
    """gracebgpd in ns 0 and the peer in ns 1, one IPv4 session between them (eBGP)."""
    link = lab.links[0]
    ours, theirs = link.a_v4, link.b_v4
    g = g or GraceBgpd()
    p = peer or PEERS[kind]()
    g.start(lab, lab.ns(0), asn=AS4, router_id=ours,
            neighbors=[NeighborSpec(theirs, PEER_AS, our_families, graceful_restart=gr_ours)],
            originate=our_routes_)
    p.start(lab, lab.ns(1), asn=PEER_AS, router_id=theirs,
            neighbors=[NeighborSpec(ours, AS4, ("ipv4",), graceful_restart=gr_peer)], originate=their_routes)
    return Pair(lab, g, p, ours, theirs)


def bring_up(pair: Pair, timeout: float = 45.0) -> None:
    """Both ends Established, our route at the peer, the peer's routes fresh at us."""
    wait_our_state(pair.g, pair.theirs, "Established", timeout)
    pair.p.wait_established(pair.ours, timeout=timeout)
    wait_until(lambda: fresh(*THEIRS)(our_routes(pair.g, pair.theirs)), timeout, 0.2,
               what="the peer's routes at gracebgpd")
    pair.p.wait_route(pair.ours, "ipv4", OURS, timeout=timeout)  # (20 s was once too short in CI)


# --------------------------------------------------------------------------------------
# 1. the peer restarts, we help


@interop
@pytest.mark.parametrize("variant", ["restart", "norestart"])
@pytest.mark.parametrize("kind", sorted(PEERS))
def test_helper_for_restarting_peer(kind: str, variant: str) -> None:
    """kill -9 the peer; hold its routes stale; either it comes back with one route fewer
    (EOR purges that one, long before the restart timer) or it stays dead (purge at its
    Restart Time)."""
    require(PEERS[kind])
    restart_time = 30 if variant == "restart" else 12
    gr = GrSpec(restart_time=restart_time)
    with checked_lab() as lab:
        pair = start_pair(lab, kind, gr_peer=gr, gr_ours=GrSpec(restart_time=30))
        g, p, theirs = pair.g, pair.p, pair.theirs
        bring_up(pair)
        with api(g) as c:
            assert c.peer(theirs).peer_restart_time == restart_time

        # the restarted peer will originate one route fewer (the driver re-adds its routes)
        del p.routes[DROPPED]
        watch = RouteWatch.ours(g, theirs)
        with watch.running():
            t_kill = time.time()
            p.kill9()
            # helper: every route kept, marked stale
            t_stale, _ = watch.wait(stale(*THEIRS), 5, "the peer's routes to be stale at gracebgpd", t_kill)
            assert our_state(g, theirs) != "Established"
            started = wait_event(g, theirs, "helper-started", t_kill - 1, 5)
            t_down = started.time

            if variant == "norestart":
                # still there, stale, shortly before the restart time; gone a few s after
                close = t_down + restart_time - 2
                last = watch.wait(lambda s: True, restart_time + 5,
                                  "a sample shortly before the restart time", close)
                assert last[0] < t_down + restart_time and stale(*THEIRS)(last[1]), (
                    f"routes not held stale until shortly before the restart time: "
                    f"+{last[0] - t_down:.2f}s {last[1]}")
                t_gone, _ = watch.wait(lambda s: not (set(THEIRS) & set(s)), restart_time + 10,
                                       "the stale routes to be purged", t_kill)
                assert t_down + restart_time - 1 <= t_gone <= t_down + restart_time + 4, (
                    f"purged {t_gone - t_down:.1f}s after the session went down, "
                    f"restart time {restart_time}s")
                purged = wait_event(g, theirs, "stale-purged", t_down, 5)
                assert purged.data.get("purged") == len(THEIRS), purged
                assert "restart time" in str(purged.data.get("reason")), purged
                for t, s in watch.history(t_stale):
                    if t < t_gone:
                        assert stale(*THEIRS)(s), f"at +{t - t_down:.1f}s: {s}"
                print(f"{kind}: stale {t_stale - t_kill:.2f}s after kill -9, purged at "
                      f"+{t_gone - t_down:.2f}s (restart time {restart_time}s)")
                return

            p.restart()
            up = wait_event(g, theirs, "session-up", t_down, 30)
            t_up = up.time
            watch.wait(lambda s: fresh(*KEPT)(s) and DROPPED not in s, 20,
                       "the kept routes refreshed and the dropped one gone", t_kill)
            eor = wait_event(g, theirs, "eor-purged", t_down, 5)

        assert up.data.get("peer_restarting") is True, f"the restarted {kind} should send R=1: {up.data}"
        # while the peer was down, everything was held stale
        down_samples = [(t, s) for t, s in watch.history(t_stale) if t < t_up]
        assert down_samples and all(stale(*THEIRS)(s) for _, s in down_samples), watch.timeline(t_down)
        # the kept routes never went away: held stale, then replaced
        hist = watch.history(t_kill)
        for t, s in hist:
            assert all(k in s for k in KEPT), (
                f"kept route missing at +{t - t_down:.2f}s: {s}\n" + watch.timeline(t_down))
        # the dropped route stayed (stale) until the End-of-RIB, and went right after it
        t_gone = min(t for t, s in hist if DROPPED not in s)
        assert all(s.get(DROPPED) is True for t, s in hist if t < t_gone and t >= t_stale)
        assert eor.data.get("family") == V4 and eor.data.get("purged") == 1, eor
        assert t_up <= eor.time <= t_gone + 0.5, (t_up, eor.time, t_gone)
        assert t_gone - eor.time < 1.5, f"dropped route gone {t_gone - eor.time:.2f}s after the EOR"
        assert t_gone - t_down < restart_time - 10, (
            f"dropped route gone {t_gone - t_down:.1f}s after the crash: not well before the "
            f"{restart_time}s restart timer")
        print(f"{kind}: stale {t_stale - t_kill:.2f}s after kill -9, up again at +{t_up - t_down:.2f}s, "
              f"EOR purge at +{eor.time - t_down:.2f}s, dropped route gone at +{t_gone - t_down:.2f}s")
        # and the restarted peer has our route again, fresh
        p.wait_route(pair.ours, "ipv4", OURS, where=lambda r: not r.stale, timeout=20)


@interop
def test_frr_restart_without_forwarding_state() -> None:
    """FRR restarts without ``preserve-fw-state``: its new OPEN has F=0 for IPv4 in the GR
    capability, so the stale routes must go as soon as the session is up (RFC 4724 §4.2,
    spec section 3 "Re-established"), not on its End-of-RIB. FRR 8.4 also sends an LLGR
    capability (stale time 0, F=1) that we did not negotiate; RFC 9494 §5: a clear GR F
    bit clears the state "per the normal rules of GR" whatever the LLGR F bit says."""
    require(Frr)
    gr = GrSpec(restart_time=30)
    with checked_lab() as lab:
        link = lab.links[0]
        cap = Capture(lab, lab.ns(1), link.ifname(lab.ns(1)))
        pair = start_pair(lab, "frr", gr_peer=gr, gr_ours=gr, peer=Frr())
        g, p, theirs = pair.g, pair.p, pair.theirs
        bring_up(pair)
        del p.routes[DROPPED]
        t_kill = time.time()
        p.kill9()
        wait_until(lambda: stale(*THEIRS)(our_routes(g, theirs)), 5, 0.1,
                   what="FRR's routes stale at gracebgpd")
        p.restart()
        up = wait_event(g, theirs, "session-up", t_kill, 30)
        eor = wait_event(g, theirs, "eor-received", up.time, 20)
        wait_until(lambda: fresh(*KEPT)(our_routes(g, theirs)), 10, 0.1, what="FRR's routes fresh again")
        cap.stop()
        frr_open = [m for m in cap.messages() if m.type == 1 and m.src == theirs][-1]
        assert frr_open.gr_flag("restart") is True and str(frr_open.get("bgp.cap.gr.flag.pfs")) == "0", (
            "expected FRR's OPEN after the restart to have R=1 and F=0 for IPv4")
        purges = [e for e in our_events(g, theirs) if e.time >= up.time
                  and e.data.get("event") in ("stale-purged", "eor-purged")]
        assert purges, "no purge event after the session came back"
        first = purges[0]
        seen = [(round(e.time - up.time, 3), e.data) for e in purges]
        assert first.data.get("event") == "stale-purged" and first.data.get("purged") == len(THEIRS), (
            f"F=0: all {len(THEIRS)} stale routes must go when the session is up, before the "
            f"End-of-RIB ({eor.time - up.time:.2f}s later); purges (s after session-up): {seen}; "
            f"session-up: {up.data}")
        assert first.time <= eor.time, (first.time - up.time, eor.time - up.time)
        assert DROPPED not in our_routes(g, theirs)


# --------------------------------------------------------------------------------------
# 2. N bit (RFC 8538) with FRR


def gracebgp_cli(g: GraceBgpd, *args: str, timeout: float = 20.0) -> str:
    """The ``gracebgp`` command against our daemon (run where the test runs: the API is a
    Unix socket, reachable from any namespace)."""
    argv = [sys.executable, "-m", "gracebgp.cli.main", "--socket", api_socket(g), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"gracebgp {' '.join(args)}: rc {proc.returncode}: {proc.stderr.strip()}"
    return proc.stdout


def session_down_event(g: GraceBgpd, peer: str, after: float, timeout: float = 5.0) -> Event:
    return wait_event(g, peer, "session-down", after, timeout)


def established_count(g: GraceBgpd, peer: str) -> int:
    with api(g) as c:
        return c.peer(peer).established_count


@interop
def test_notification_bit_with_frr() -> None:
    """RFC 8538 with FRR 8.4 (``bgp graceful-restart notification``): a NOTIFICATION that is
    not a Hard Reset keeps the routes (stale, then refreshed); a Hard Reset deletes them
    at once, on both sides. The NOTIFICATIONs are checked on the wire."""
    require(FrrFwd)
    gr = GrSpec(restart_time=60, notification=True)
    theirs_route = THEIRS[0]
    with checked_lab() as lab:
        link = lab.links[0]
        cap = Capture(lab, lab.ns(1), link.ifname(lab.ns(1)))
        pair = start_pair(lab, "frr", gr_peer=gr, gr_ours=gr, their_routes=(RouteSpec(theirs_route),))
        g, p, ours, theirs = pair.g, pair.p, pair.ours, pair.theirs
        assert isinstance(p, Frr)
        wait_our_state(g, theirs, "Established", 45)
        p.wait_established(ours, timeout=30)
        p.wait_route(ours, "ipv4", OURS, timeout=20)
        wait_until(lambda: fresh(theirs_route)(our_routes(g, theirs)), 20, 0.2,
                   what="FRR's route at gracebgpd")
        up = wait_event(g, theirs, "session-up", 0, 5)
        assert up.data.get("notification") is True, f"N bit not negotiated: {up.data}"

        at_us = RouteWatch.ours(g, theirs)
        at_frr = RouteWatch.theirs(p, ours, OURS)

        def back_up(since: float, count: int, what: str) -> None:
            """The session is back and both End-of-RIBs are through: the episode is over."""
            wait_until(lambda: established_count(g, theirs) > count or None, 30, 0.1,
                       what=f"the session to come back after {what}")
            up = wait_event(g, theirs, "session-up", since, 5)
            wait_event(g, theirs, "eor-received", up.time, 20)
            at_us.wait(fresh(theirs_route), 20, f"FRR's route fresh at gracebgpd after {what}", up.time)
            at_frr.wait(fresh(OURS), 20, f"our route fresh at FRR after {what}", up.time)

        def kept(w: RouteWatch, prefix: str, since: float, until: float, who: str, what: str) -> None:
            hist = [(t, s) for t, s in w.history(since) if t <= until]
            assert all(prefix in s for _, s in hist), f"{what}: {who} lost {prefix}:\n{w.timeline(since)}"
            assert any(s.get(prefix) for _, s in hist), f"{what}: {who} never had {prefix} stale:\n" + (
                w.timeline(since))

        def deleted(w: RouteWatch, prefix: str, since: float, who: str, what: str, within: float) -> None:
            t_gone, _ = w.wait(lambda s: prefix not in s, within + 3,
                               f"{who} to delete {prefix} after {what}", since)
            assert t_gone - since <= within, (
                f"{what}: {who} deleted {prefix} only after {t_gone - since:.2f}s")
            stale_seen = [(t, s) for t, s in w.history(since) if s.get(prefix)]
            assert not stale_seen, f"{what}: {who} kept {prefix} stale: {stale_seen}"

        with at_us.running(), at_frr.running():
            # 1. our `neighbor reset`: Cease/Administrative Reset, not Hard Reset -> GR both ways.
            # We reconnect as soon as the old connection is closed, ~20 ms on this link: too
            # short for the 50 ms samples of FRR's table to catch the stale window. So FRR's
            # own word is the evidence that it kept our route under graceful restart (its
            # neighbor-events debug log: "graceful restart timer started"), and the samples
            # that the route never left its table.
            p.vtysh("debug bgp neighbor-events")
            frr_log = p.workdir / "bgpd.log"
            gr_started = f"{ours}(vm) graceful restart timer started"
            before = frr_log.read_text(errors="replace").count(gr_started)
            n, t0 = established_count(g, theirs), time.time()
            gracebgp_cli(g, "neighbor", theirs, "reset")
            down = session_down_event(g, theirs, t0)
            assert down.data.get("retained") is True, down.data
            back_up(t0, n, "our reset")
            t1 = time.time()
            kept(at_us, theirs_route, t0, t1, "gracebgpd", "our Administrative Reset")
            assert all(OURS in snap for t, snap in at_frr.history(t0) if t <= t1), (
                f"our Administrative Reset: FRR lost {OURS}:\n{at_frr.timeline(t0)}")
            assert frr_log.read_text(errors="replace").count(gr_started) > before, (
                f"our Administrative Reset: FRR did not start its graceful-restart timer for us:\n"
                f"{p.log_tail(30)}")
            p.vtysh("no debug bgp neighbor-events")

            # 2. FRR's `clear bgp` with `no bgp hard-administrative-reset`: Cease/Administrative
            # Reset -> we keep FRR's routes (FRR 8.4 itself drops ours when it clears)
            p.configure("no bgp hard-administrative-reset")
            n, t0 = established_count(g, theirs), time.time()
            p.reset(ours)
            down = session_down_event(g, theirs, t0)
            assert down.data.get("retained") is True, down.data
            back_up(t0, n, "FRR's administrative reset")
            kept(at_us, theirs_route, t0, time.time(), "gracebgpd", "FRR's Administrative Reset")
            frr_kept = all(OURS in s for _, s in at_frr.history(t0))

            # 3. FRR's `clear bgp` with `bgp hard-administrative-reset` (FRR's default): Hard
            # Reset -> both sides delete at once
            p.configure("bgp hard-administrative-reset")
            n, t0 = established_count(g, theirs), time.time()
            p.reset(ours)
            down = session_down_event(g, theirs, t0)
            assert down.data.get("retained") is False, down.data
            deleted(at_us, theirs_route, down.time, "gracebgpd", "FRR's Hard Reset", 1.0)
            deleted(at_frr, OURS, down.time, "FRR", "FRR's Hard Reset", 2.0)
            back_up(t0, n, "FRR's Hard Reset")

            # 4. our `neighbor shutdown`: Administrative Shutdown wrapped in Hard Reset -> both
            # sides delete at once, and it stays down until `enable`
            n, t0 = established_count(g, theirs), time.time()
            gracebgp_cli(g, "neighbor", theirs, "shutdown", "--message", "maintenance")
            down = session_down_event(g, theirs, t0)
            assert down.data.get("retained") is False, down.data
            deleted(at_us, theirs_route, down.time, "gracebgpd", "our Hard Reset", 1.0)
            deleted(at_frr, OURS, down.time, "FRR", "our Hard Reset", 2.0)
            assert p.session_state(ours) != "Established"
            t0 = time.time()
            gracebgp_cli(g, "neighbor", theirs, "enable")
            back_up(t0, n, "enable")

        cap.stop()
        msgs = cap.messages()
        # the NOTIFICATIONs that ended sessions (not collision resolution / connection
        # rejected, which the two sides' simultaneous reconnects may add)
        notes = [(m.src, *m.notification) for m in msgs if m.type == 3 and m.notification[1] not in (5, 7)]
        shut = b"maintenance".hex()
        assert [(s, c, sc) for s, c, sc, _ in notes] == [
            (ours, 6, 4), (theirs, 6, 4), (theirs, 6, 9), (ours, 6, 9)], notes
        assert notes[2][3].startswith("0604"), f"FRR's Hard Reset should wrap Cease/Admin Reset: {notes[2]}"
        assert notes[3][3].startswith("0602") and shut in notes[3][3], (
            f"our Hard Reset should wrap Cease/Admin Shutdown with the message: {notes[3]}")
        opens = [m for m in msgs if m.type == 1]
        assert opens and all(m.gr_flag("notification") for m in opens), [
            (m.src, m.gr_flag("notification")) for m in opens]
        print(f"FRR 8.4: N bit with 'bgp graceful-restart notification'; clear bgp = Hard Reset unless "
              f"'no bgp hard-administrative-reset'; FRR kept our routes on its own soft clear: {frr_kept}")


# --------------------------------------------------------------------------------------
# 3. the six-minute case: we restart, the helper negotiated fewer families than we configured


class GraceBgpdDeferral(GraceBgpd):
    """Our daemon with an explicit Selection_Deferral_Timer in every neighbor's GR block."""

    deferral_time = 360

    def config(self) -> str:
        head = "  [neighbors.graceful-restart.config]\n"
        return super().config().replace(head, f"{head}    deferral-time = {self.deferral_time}\n")


START_LINE = re.compile(r"gracebgpd \S+: AS \d+")


def starts(g: GraceBgpd) -> int:
    """How often a gracebgpd process logged its start line (spawns and re-execs)."""
    try:
        return len(START_LINE.findall((g.workdir / "gracebgpd.log").read_text(errors="replace")))
    except FileNotFoundError:
        return 0


def planned_restart(g: GraceBgpd) -> None:
    """``gracebgp restart --graceful --wait``: the daemon re-executes itself (same PID) and
    comes back with R=1."""
    assert g.proc is not None
    pid, before = g.proc.pid, starts(g)
    gracebgp_cli(g, "restart", "--graceful", "--wait", timeout=60)
    wait_until(lambda: starts(g) > before, 30, 0.1, what="the re-executed gracebgpd to log its start")

    def serving() -> bool:
        g.check_alive()
        with api(g, timeout=2) as c:
            return bool(c.global_())

    wait_until(serving, 30, 0.2, what="the re-executed gracebgpd to serve its API")
    assert g.proc.pid == pid and g.proc.alive(), "a planned restart keeps the PID"


@dataclass
class Resync:
    """The new session after our restart, on the wire: our OPEN, the helper's EOR, our
    first UPDATE and our EOR (None while not seen yet)."""

    open_: WireMsg
    helper_eor: WireMsg | None
    first_update: WireMsg | None
    our_eor: WireMsg | None


def resync(cap: Capture, ours: str, theirs: str, after: float) -> Resync | None:
    msgs = cap.messages()
    opens = [i for i, m in enumerate(msgs) if m.type == 1 and m.src == ours and m.time >= after]
    if not opens:
        return None
    rest = msgs[opens[-1] + 1:]
    return Resync(
        msgs[opens[-1]],
        next((m for m in rest if m.src == theirs and m.eor_v4), None),
        next((m for m in rest if m.src == ours and m.type == 2), None),
        next((m for m in rest if m.src == ours and m.eor_v4), None),
    )


@interop
@pytest.mark.parametrize("how", ["planned", "crash"])
def test_restart_does_not_wait_for_unnegotiated_family(how: str) -> None:
    """Spec problem 2: we configure IPv4 and IPv6 unicast with GR and a 360 s deferral
    time; BIRD negotiates IPv4 only. After our restart (``gracebgp restart``, or SIGKILL
    and a new process) our OPEN carries R=1, and our first UPDATE reaches BIRD within 1 s
    of BIRD's End-of-RIB -- not when the deferral timer fires."""
    require(Bird)
    gr = GrSpec(restart_time=60)
    with checked_lab() as lab:
        link = lab.links[0]
        cap = Capture(lab, lab.ns(1), link.ifname(lab.ns(1)))
        pair = start_pair(lab, "bird", gr_peer=gr, gr_ours=gr, g=GraceBgpdDeferral(),
                          our_families=("ipv4", "ipv6"),
                          our_routes_=(RouteSpec(OURS), RouteSpec("2001:db8:1::/48")),
                          their_routes=(RouteSpec(THEIRS[0]),))
        g, p, ours, theirs = pair.g, pair.p, pair.ours, pair.theirs
        assert isinstance(p, Bird)
        conf = tomllib.loads((g.workdir / "gracebgpd.toml").read_text())
        assert conf["neighbors"][0]["graceful-restart"]["config"]["deferral-time"] == 360, conf["neighbors"]
        wait_our_state(g, theirs, "Established", 45)
        p.wait_route(ours, "ipv4", OURS, timeout=20)
        wait_until(lambda: fresh(THEIRS[0])(our_routes(g, theirs)), 20, 0.2, what="BIRD's route at gracebgpd")
        with api(g) as c:
            fams = {f.family: f for f in c.peer(theirs).families}
        assert fams["ipv4-unicast"].negotiated, fams
        assert fams["ipv6-unicast"].configured and not fams["ipv6-unicast"].negotiated, fams

        t_restart = time.time()
        if how == "planned":
            planned_restart(g)
        else:
            g.restart()  # SIGKILL, then a new process on the same state dir

        def done() -> Resync | None:
            r = resync(cap, ours, theirs, t_restart)
            return r if r is not None and r.helper_eor and r.first_update and r.our_eor else None

        try:
            r = wait_until(done, 30, 0.5, what="BIRD's End-of-RIB and our UPDATEs on the new session")
        except TimeoutError as exc:
            status = subprocess.run(
                [sys.executable, "-m", "gracebgp.cli.main", "--socket", api_socket(g), "gr", "status"],
                capture_output=True, text=True, timeout=20, check=False)
            raise AssertionError(f"{exc}\nwire: {resync(cap, ours, theirs, t_restart)}\n"
                                 f"gracebgp gr status:\n{status.stdout}{status.stderr}\n"
                                 f"---- gracebgpd log tail ----\n{g.log_tail(40)}") from None
        cap.stop()
        assert r is not None and r.helper_eor is not None and r.first_update is not None
        assert r.our_eor is not None

        first_open = next(m for m in cap.messages() if m.type == 1 and m.src == ours)
        assert first_open.gr_flag("restart") is False, "a fresh start sends R=0"
        assert r.open_.gr_flag("restart") is True, "the OPEN after our restart must carry R=1"
        gap = r.first_update.time - r.helper_eor.time
        print(f"{how}: BIRD's EOR -> our first UPDATE {gap * 1000:.0f} ms; our EOR "
              f"{(r.our_eor.time - r.helper_eor.time) * 1000:.0f} ms after BIRD's")
        assert gap <= 1.0, f"our first UPDATE came {gap:.2f}s after BIRD's End-of-RIB"
        assert gap >= 0, f"our first UPDATE came {-gap:.2f}s before BIRD's End-of-RIB: no deferral"
        assert not r.first_update.eor_v4, "our first UPDATE after the restart must carry our routes"
        assert r.our_eor.time >= r.first_update.time
        notes = [m.notification for m in cap.messages() if m.src == ours and m.type == 3]
        assert not notes, f"BIRD has no N bit: a graceful restart must not send NOTIFICATIONs: {notes}"
        withdrawn = [m for m in cap.messages() if m.src == ours and m.type == 2
                     and str(m.get("bgp.update.withdrawn_routes.length") or "0") != "0"]
        assert not withdrawn, f"we withdrew something from BIRD across the restart: {withdrawn}"
        route = p.wait_route(ours, "ipv4", OURS, timeout=10)
        assert not p.gr_active(ours), route
