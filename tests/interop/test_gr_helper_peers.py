"""gracebgpd restarts, gobgpd / FRR / BIRD are the graceful-restart *helpers* (spec sections
3, 5 and 6). Every observation is the peer's own, through its CLI (``gobgp -j``,
``vtysh ... json``, ``birdc``), sampled about every 100 ms by a :class:`Sampler` thread
(FRR's vtysh alone takes about 100 ms a run); the NOTIFICATIONs it received are read from
its log, since the CLIs keep only the last one.

gracebgpd advertises GR with a short Restart Time (and LLGR with a short Long-lived Stale
Time); the peers are configured with long ones of their own (120 s / 600 s). RFC 4724 §4.2
and RFC 9494 §4.2 make the helper use the restarting speaker's values, and the timings
below show that all three do, i.e. that they read our capabilities right. Each test has an
IPv4 session (IPv4 unicast) and an IPv6 session (IPv6 unicast) and one route on each.

* (a) ``gracebgp restart`` (planned): every sample, from before the command until after
  the peer has our End-of-RIB, has both routes; the peer marked them stale (it ran GR:
  the session really went down) and no sample after our EOR shows a stale mark; the
  peer saw R=1 in our new OPEN; it received no NOTIFICATION (with N: Cease/Administrative
  Reset, 6/4); the PID stayed. The stale time is measured and reported.
* (b) SIGKILL, no restart: the peer keeps the routes, stale, until our Restart Time runs
  out (every sample up to 1 s before has them), and has deleted them 3 s after.
* (c) ``gracebgp stop --withdraw``: the peer never marks them stale and has deleted them
  within 1 s of the daemon logging the stop (and of the command returning); it received
  Cease/Administrative Shutdown (6/2), with N wrapped in Hard Reset (6/9).
* (d) LLGR, SIGKILL: stale without LLGR_STALE until the Restart Time, then kept with
  LLGR_STALE (65535:6) until the Long-lived Stale Time, then deleted within 3 s. FRR 8.4
  is an LLGR helper too (it shows the paths stale with the ``llgr-stale`` community).

(a) and (c) also run with the RFC 8538 N bit on both sides for gobgpd and FRR (``-n``
variants; the peer is checked to show our N bit). BIRD 2.0.12 has no N bit.

Run with ``-s`` to see the measured times (also stored as junit properties).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests.interop.common import AS4, checked_lab, interop, pair_neighbors, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, Link, wait_until
from tests.interop.peers import (
    LLGR_STALE,
    Bird,
    Family,
    Frr,
    GoBgpd,
    GrSpec,
    PeerDaemon,
    RouteSpec,
    SeenRoute,
    norm_addr,
)

PEERS: dict[str, type[PeerDaemon]] = {"gobgpd": GoBgpd, "bird": Bird, "frr": Frr}
#: (a) and (c): "-n" = RFC 8538 N bit negotiated (BIRD 2.0.12 has none)
VARIANTS = ["bird", "frr", "frr-n", "gobgpd", "gobgpd-n"]

THEIR_AS = 65002
#: our advertised Restart Time for the planned restart: the reconnect must fit in it
#: (gobgpd holds a dropped peer Idle for 5 s before it accepts it again)
RESTART_PLANNED = 20
#: our advertised Restart Time where the helper's timer is to run out
RESTART_SHORT = 10
#: our advertised Long-lived Stale Time (d)
LLST = 12
#: the peers' own values: long, so that timings show they use ours
THEIR_GR = GrSpec(restart_time=120)
THEIR_LLGR = GrSpec(restart_time=120, llgr_stale_time=600)

PREFIXES: dict[Family, str] = {"ipv4": "10.1.0.0/24", "ipv6": "2001:db8:1::/48"}
ROUTES = (RouteSpec(PREFIXES["ipv4"], communities=("65001:1",)), RouteSpec(PREFIXES["ipv6"]))
SAMPLE_EVERY = 0.1
#: pytest's record_property
Record = Callable[[str, object], None]


# --------------------------------------------------------------------------------------
# sampling the peer's view


@dataclass
class Sample:
    """One observation: started at ``t0``, answered at ``t1`` (wall clock, time.time())."""

    t0: float
    t1: float
    routes: list[SeenRoute | None] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def present(self) -> bool:
        return self.ok and all(r is not None for r in self.routes)

    @property
    def gone(self) -> bool:
        return self.ok and all(r is None for r in self.routes)

    @property
    def stale(self) -> bool:
        return self.ok and any(r is not None and r.stale for r in self.routes)

    @property
    def llgr(self) -> bool:
        return self.present and all(r is not None and r.llgr_stale for r in self.routes)

    def show(self, since: float) -> str:
        if self.error:
            return f"{self.t0 - since:+.2f}s error {self.error}"
        parts = [
            "-" if r is None else ("llgr-stale" if r.llgr_stale else "stale" if r.stale else "ok")
            for r in self.routes
        ]
        return f"{self.t0 - since:+.2f}s {'/'.join(parts)}"


class Sampler:
    """Reads ``wanted`` routes from ``peer`` every :data:`SAMPLE_EVERY` s in a thread.

    A CLI run that fails (vtysh now and then cannot reach bgpd on the busy 2-core
    machine) is kept as an error sample; :meth:`check` bounds how many there are and how
    long the peer went unobserved.
    """

    def __init__(self, peer: PeerDaemon, wanted: list[tuple[str, Family, str]]) -> None:
        self.peer = peer
        self.wanted = wanted
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sampler-{peer.kind}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.time()
            try:
                routes = self.peer.sample_routes(self.wanted)
                s = Sample(t0, time.time(), routes)
            except Exception as exc:  # any CLI failure is one error sample
                s = Sample(t0, time.time(), error=f"{type(exc).__name__}: {str(exc)[:300]}")
            self.samples.append(s)
            self._stop.wait(max(0.0, SAMPLE_EVERY - (time.time() - t0)))

    def __enter__(self) -> Sampler:
        self._thread.start()
        self.wait_samples(3, 10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "sampler thread did not stop"

    def wait_samples(self, n: int, timeout: float, after: float = 0.0) -> None:
        """Wait until ``n`` successful samples started after ``after`` (wall clock)."""
        wait_until(
            lambda: sum(1 for s in self.samples if s.ok and s.t0 > after) >= n,
            timeout,
            0.05,
            what=f"{n} samples from {self.peer.kind}",
        )

    def wait(self, pred: Callable[[Sample], bool], timeout: float, what: str, after: float = 0.0) -> Sample:
        """The first sample started after ``after`` that satisfies ``pred``; on timeout an
        AssertionError with the samples since ``after``."""

        def found() -> Sample | None:
            return next((s for s in list(self.samples) if s.t0 > after and pred(s)), None)

        try:
            result = wait_until(found, timeout, 0.05, what=f"{self.peer.kind}: {what}")
        except TimeoutError:
            raise AssertionError(
                f"{self.peer.kind}: no sample showed {what} within {timeout:.0f}s; samples (s after the "
                f"trigger):\n{self.timeline(after, after)}\n{peer_status(self.peer)}"
            ) from None
        assert isinstance(result, Sample)
        return result

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if s.t0 >= start and s.t1 <= end]

    def check(self, start: float, end: float) -> list[Sample]:
        """The successful samples in [start, end]; fail if the peer went unobserved for
        more than 1 s or more than a tenth of the runs failed."""
        window = self.between(start, end)
        good = [s for s in window if s.ok]
        errors = [s for s in window if not s.ok]
        assert good, f"no successful sample of {self.peer.kind} in the window"
        assert len(errors) <= max(2, len(window) // 10), (
            f"{len(errors)} of {len(window)} CLI runs of {self.peer.kind} failed: {errors[0].error}"
        )
        gaps = [
            b.t0 - a.t1 for a, b in zip([Sample(start, start), *good], [*good, Sample(end, end)], strict=True)
        ]
        assert max(gaps) <= 1.0, f"{self.peer.kind} unobserved for {max(gaps):.2f}s"
        return good

    def timeline(self, since: float, start: float = 0.0, end: float = float("inf")) -> str:
        """The samples as text, runs of equal observations collapsed (failure reports)."""
        lines: list[str] = []
        last = None
        for s in self.samples:
            if not start <= s.t0 <= end:
                continue
            text = s.show(since)
            key = text.split(" ", 1)[1]
            if key != last:
                lines.append(text)
                last = key
        return "\n".join(lines)


def peer_status(p: PeerDaemon) -> str:
    """For failure reports: is the peer's process alive, what is in its work dir, its log tail."""
    procs = [x for x in (p.proc, *p.aux) if x is not None]
    alive = ", ".join(
        f"{x.name} pid {x.pid}: {'alive' if x.alive() else f'exit {x.popen.returncode}'}" for x in procs
    )
    files = sorted(f.name for f in p.workdir.iterdir()) if p.workdir.is_dir() else "work dir missing"
    return f"---- {p.kind}: {alive}; files: {files}\n---- {p.kind} log tail ----\n{p.log_tail(30)}"


# --------------------------------------------------------------------------------------
# the pair: gracebgpd in ns 0, the helper in ns 1


@dataclass
class Pair:
    lab: Lab
    link: Link
    g: GraceBgpd
    p: PeerDaemon

    @property
    def our_addrs(self) -> dict[Family, str]:
        """Our session addresses, as the peer names its neighbors."""
        return {"ipv4": self.link.a_v4, "ipv6": self.link.a_v6}

    @property
    def wanted(self) -> list[tuple[str, Family, str]]:
        return [(self.our_addrs[f], f, PREFIXES[f]) for f in ("ipv4", "ipv6")]

    def sampler(self) -> Sampler:
        return Sampler(self.p, self.wanted)

    def wait_established(self, timeout: float) -> None:
        for addr in self.our_addrs.values():
            self.p.wait_established(addr, timeout=timeout)

    def failure(self, what: str, sampler: Sampler, since: float) -> str:
        return (
            f"{what}\n---- {self.p.kind} samples (s after the trigger) ----\n{sampler.timeline(since)}\n"
            f"{peer_status(self.p)}\n---- gracebgpd log tail ----\n{self.g.log_tail(25)}"
        )


@contextlib.contextmanager
def gr_pair(variant: str, ours: GrSpec, theirs: GrSpec) -> Iterator[Pair]:
    kind, _, flags = variant.partition("-")
    require(PEERS[kind])
    if flags == "n":
        ours = GrSpec(ours.enabled, ours.restart_time, ours.llgr_stale_time, notification=True)
        theirs = GrSpec(theirs.enabled, theirs.restart_time, theirs.llgr_stale_time, notification=True)
    with checked_lab() as lab:
        link = lab.links[0]
        g, p = GraceBgpd(), PEERS[kind]()
        ours_n = pair_neighbors(lab, 0, THEIR_AS, gr=ours)
        theirs_n = pair_neighbors(lab, 1, AS4, gr=theirs)
        g.start(lab, lab.ns(0), asn=AS4, router_id=link.a_v4, neighbors=ours_n, originate=ROUTES)
        p.start(lab, lab.ns(1), asn=THEIR_AS, router_id=link.b_v4, neighbors=theirs_n,
                originate=[RouteSpec("10.2.0.0/24")])  # fmt: skip
        pair = Pair(lab, link, g, p)
        pair.wait_established(45)
        try:
            for addr, fam, prefix in pair.wanted:
                p.wait_route(addr, fam, prefix, where=lambda r: not r.stale and not r.llgr_stale)
        except TimeoutError as exc:  # (once in CI, not reproduced: our side of it too)
            raise TimeoutError(f"{exc}\n---- gracebgpd log tail ----\n{g.log_tail(40)}") from None
        # the peer runs GR for us only if it got our capability: check it saw it
        for addr in pair.our_addrs.values():
            assert gr_capability_seen(p, addr), f"{p.kind} did not get our GR capability from {addr}"
            if flags == "n":
                assert notification_bit_seen(p, addr), f"{p.kind} did not get the N bit from {addr}"
        yield pair


# --------------------------------------------------------------------------------------
# what the peers' CLIs tell about our GR capability


def _pb_varints(data: bytes) -> dict[int, int]:
    """Top-level varint fields of a protobuf message (gobgp's capability values)."""
    out: dict[int, int] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while i < len(data):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            out[num] = varint()
        elif wire == 2:
            i += varint()
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            break
    return out


def _gobgp_gr_cap(p: GoBgpd, neighbor: str) -> dict[int, int] | None:
    data = p.cli_json("neighbor", norm_addr(neighbor)) or {}
    for cap in (data.get("state") or {}).get("remote_cap", []):
        if cap.get("type_url", "").endswith("GracefulRestartCapability"):
            return _pb_varints(base64.b64decode(cap.get("value", "")))  # 1: flags, 2: time
    return None


def _bird_neighbor_caps(p: Bird, neighbor: str) -> str:
    info = p.birdc("show", "protocols", "all", p.proto(neighbor))
    return (
        info.split("Neighbor capabilities", 1)[1].split("Session:", 1)[0]
        if "Neighbor capabilities" in info
        else ""
    )


def _frr_gr(p: Frr, neighbor: str) -> dict[str, object]:
    a = norm_addr(neighbor)
    fam = "ipv6" if ":" in a else "ipv4"
    data = p.vtysh(f"show bgp {fam} neighbors {a} graceful-restart json")
    result = json.loads(data).get(a) or {}
    assert isinstance(result, dict)
    return result


def gr_capability_seen(p: PeerDaemon, neighbor: str) -> bool:
    if isinstance(p, GoBgpd):
        return _gobgp_gr_cap(p, neighbor) is not None
    if isinstance(p, Bird):
        return "Graceful restart" in _bird_neighbor_caps(p, neighbor)
    if isinstance(p, Frr):
        return _frr_gr(p, neighbor).get("remoteGrMode") in ("Restart", "Helper")
    raise TypeError(p.kind)


def restart_bit_seen(p: PeerDaemon, neighbor: str) -> bool:
    """The R bit (restart state) in our OPEN of the current session, as the peer shows it."""
    if isinstance(p, GoBgpd):
        cap = _gobgp_gr_cap(p, neighbor) or {}
        return bool(cap.get(1, 0) & 0x08)
    if isinstance(p, Bird):
        return "Restart recovery" in _bird_neighbor_caps(p, neighbor)
    if isinstance(p, Frr):
        return bool(_frr_gr(p, neighbor).get("rBit"))
    raise TypeError(p.kind)


def notification_bit_seen(p: PeerDaemon, neighbor: str) -> bool:
    """The N bit (RFC 8538) in our GR capability, as the peer shows it."""
    if isinstance(p, GoBgpd):
        cap = _gobgp_gr_cap(p, neighbor) or {}
        return bool(cap.get(1, 0) & 0x04)
    if isinstance(p, Frr):
        return bool(_frr_gr(p, neighbor).get("nBit"))
    return False  # BIRD 2.0.12: no N bit


_BIRD_CEASE = {"administrative shutdown": "6/2", "administrative reset": "6/4", "hard reset": "6/9"}


def notifications_received(p: PeerDaemon, neighbor: str) -> list[str]:
    """The NOTIFICATIONs the peer logged as received from ``neighbor``, oldest first, as
    "code/subcode"; a Hard Reset as "6/9(code/subcode)" with the wrapped one (RFC 8538).
    (The CLIs keep only the last one, and FRR forgets it once the session is back up.)"""
    a = norm_addr(neighbor)
    out: list[str] = []
    for line in p.logs().splitlines():
        if isinstance(p, GoBgpd):
            if 'msg="received notification"' not in line:
                continue
            kv = {k: v.strip('"') for k, v in re.findall(r'([\w-]+)=("(?:[^"\\]|\\.)*"|\S+)', line)}
            if norm_addr(kv.get("Key", "0.0.0.0")) != a:
                continue
            code, sub, data = (
                kv.get("Code", "?"),
                kv.get("Subcode", "?"),
                kv.get("Data", "").strip("[]").split(),
            )
            inner = f"({data[0]}/{data[1]})" if (code, sub) == ("6", "9") and len(data) >= 2 else ""
            out.append(f"{code}/{sub}{inner}")
        elif isinstance(p, Frr):
            m = re.search(r"%NOTIFICATION(\(Hard Reset\))?: received from neighbor (\S+) (\d+)/(\d+)", line)
            if m and norm_addr(m.group(2)) == a:
                code = f"{m.group(3)}/{m.group(4)}"
                out.append(f"6/9({code})" if m.group(1) else code)
        elif isinstance(p, Bird):
            m = re.search(r"<RMT> (n\d+): Received: ([^:]+)", line)
            if m and m.group(1) == p.proto(a):
                out.append(_BIRD_CEASE.get(m.group(2).strip().lower(), m.group(2).strip()))
    return out


def sessions_seen(p: PeerDaemon, neighbor: str) -> str:
    """How many times the peer says the session with ``neighbor`` came up and went down
    (FRR's counters; "" for the others): a failure message tells a second session after
    the restart (whose OPEN rightly carries R=0, RFC 4724 §4.1) from a missing R bit."""
    if not isinstance(p, Frr):
        return ""
    a = norm_addr(neighbor)
    info = json.loads(p.vtysh(f"show bgp neighbors {a} json")).get(a) or {}
    return f"established {info.get('connectionsEstablished')}, dropped {info.get('connectionsDropped')}"


def gr_done(p: PeerDaemon, neighbor: str, family: Family) -> bool:
    """The peer is through with GR for our session: Established, and it has our EOR (FRR,
    gobgpd), or BIRD has left "Neighbor graceful restart active" (which ends with EOR)."""
    if p.session_state(neighbor) != "Established":
        return False
    if isinstance(p, Bird):
        return not p.gr_active(neighbor)
    return bool(p.eor_received(neighbor, family))


def _log_time(line: str) -> float:
    """Wall clock of a gracebgpd log line (``%(asctime)s``: local time, milliseconds)."""
    stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


def report(record: Record, variant: str, **values: object) -> None:
    for k, v in values.items():
        record(k, v)
    print(f"\n[{variant}] " + ", ".join(f"{k}={v}" for k, v in values.items()))


# --------------------------------------------------------------------------------------
# (a) planned restart


@interop
@pytest.mark.parametrize("variant", VARIANTS)
def test_planned_restart_peer_keeps_routes(variant: str, record_property: Record) -> None:
    with gr_pair(variant, GrSpec(restart_time=RESTART_PLANNED), THEIR_GR) as t:
        notes_before = {a: len(notifications_received(t.p, a)) for a in t.our_addrs.values()}
        with t.sampler() as s:
            t_cmd = time.time()
            t.g.graceful_restart(timeout=30)
            t_up = time.time()
            # the peer takes the new session, and with it our routes and our EOR
            for fam, addr in t.our_addrs.items():
                done = functools.partial(gr_done, t.p, addr, fam)
                wait_until(done, RESTART_PLANNED + 5, 0.1, what=f"{t.p.kind}: GR with {addr} done (our EOR)")
            t_eor = time.time()
            r_bits = {addr: restart_bit_seen(t.p, addr) for addr in t.our_addrs.values()}
            sessions = {addr: sessions_seen(t.p, addr) for addr, seen in r_bits.items() if not seen}
            s.wait_samples(10, 10, after=t_eor)
        t_end = time.time()

        good = s.check(t_cmd - 0.5, t_end)
        missing = [x for x in good if not x.present]
        assert not missing, t.failure(f"{t.p.kind} lost our routes during the planned restart", s, t_cmd)
        stale = [x for x in good if x.stale and x.t0 >= t_cmd]
        assert stale, t.failure(f"{t.p.kind} never showed our routes stale: no GR happened?", s, t_cmd)
        after = [x for x in good if x.t0 > t_eor]
        assert after and not any(x.stale or x.llgr for x in after), t.failure(
            f"{t.p.kind} still shows stale routes after our EOR", s, t_cmd
        )
        assert all(r_bits.values()), (f"{t.p.kind} did not see R=1 in our OPEN after the restart: {r_bits}; "
                                      f"sessions by its counters: {sessions}")
        # RFC 8538 / spec section 6: with N a Cease/Administrative Reset (not a Hard Reset),
        # without N no NOTIFICATION at all
        want = ["6/4"] if variant.endswith("-n") else []
        notes = {a: notifications_received(t.p, a)[n:] for a, n in notes_before.items()}
        assert all(v == want for v in notes.values()), f"{t.p.kind} received {notes}, expected {want} each"
        assert t.g.starts() == 2, f"gracebgpd started {t.g.starts()} times (expected 2: start, re-exec)"
        assert t.g.proc is not None and t.g.proc.alive()

        first_clear = next((x for x in good if x.t0 > stale[-1].t0 and not x.stale), None)
        stale_for = (first_clear.t0 if first_clear else t_end) - stale[0].t0
        report(record_property, variant,
               stale_s=round(stale_for, 2),
               stale_from_s=round(stale[0].t0 - t_cmd, 2),
               new_process_serving_s=round(t_up - t_cmd, 2),
               gr_done_s=round(t_eor - t_cmd, 2),
               samples=len(good))  # fmt: skip


# --------------------------------------------------------------------------------------
# (b) crash, no restart


@interop
@pytest.mark.parametrize("kind", sorted(PEERS))
def test_crash_peer_keeps_routes_until_restart_time(kind: str, record_property: Record) -> None:
    with gr_pair(kind, GrSpec(restart_time=RESTART_SHORT), THEIR_GR) as t:
        with t.sampler() as s:
            t_kill = time.time()
            t.g.kill9()
            s.wait(lambda x: x.present and all(r is not None and r.stale for r in x.routes), 5,
                   "our routes stale", after=t_kill)  # fmt: skip
            gone = s.wait(lambda x: x.gone, RESTART_SHORT + 8, "our routes gone", after=t_kill)
            s.wait_samples(3, 5, after=gone.t1)
        good = s.check(t_kill, gone.t1)
        kept = [x for x in good if x.t1 <= t_kill + RESTART_SHORT - 1.0]
        assert kept and all(x.present and x.stale and not x.llgr for x in kept), t.failure(
            f"{t.p.kind} did not keep our routes stale until shortly before the restart time", s, t_kill
        )
        last_present = max(x.t0 for x in good if x.present)
        assert last_present >= t_kill + RESTART_SHORT - 1.0, t.failure("routes deleted early", s, t_kill)
        assert gone.t1 <= t_kill + RESTART_SHORT + 3.0, t.failure(
            f"{t.p.kind} kept our routes {gone.t1 - t_kill:.1f}s, restart time {RESTART_SHORT}s", s, t_kill
        )
        assert not any(x.present for x in s.samples if x.t0 > gone.t1), "routes came back"
        report(record_property, kind, restart_time=RESTART_SHORT,
               last_seen_s=round(last_present - t_kill, 2), gone_by_s=round(gone.t1 - t_kill, 2))  # fmt: skip


# --------------------------------------------------------------------------------------
# (c) withdrawing stop


@interop
@pytest.mark.parametrize("variant", VARIANTS)
def test_withdrawing_stop_peer_deletes_routes(variant: str, record_property: Record) -> None:
    with gr_pair(variant, GrSpec(restart_time=RESTART_PLANNED), THEIR_GR) as t:
        notes_before = {a: len(notifications_received(t.p, a)) for a in t.our_addrs.values()}
        with t.sampler() as s:
            t_cmd = time.time()
            t_accepted = t.g.stop_withdraw(timeout=15)
            gone = s.wait(lambda x: x.gone, 10, "our routes gone", after=t_cmd)
            s.wait_samples(3, 5, after=gone.t1)
        stop_lines = [ln for ln in t.g.logs().splitlines() if "stopping, peers withdraw our routes" in ln]
        assert stop_lines, f"gracebgpd did not log a withdrawing stop:\n{t.g.log_tail()}"
        t_stop = _log_time(stop_lines[-1])
        good = s.check(t_cmd - 0.5, gone.t1)
        assert not any(x.stale for x in good), t.failure(
            f"{t.p.kind} kept our routes as stale: the stop was not a withdrawal", s, t_stop
        )
        assert gone.t1 - t_stop <= 1.0, t.failure(
            f"{t.p.kind} deleted our routes {gone.t1 - t_stop:.2f}s after the stop", s, t_stop
        )
        assert gone.t1 - t_accepted <= 1.0, t.failure(
            f"{t.p.kind} deleted our routes {gone.t1 - t_accepted:.2f}s after the command returned", s, t_stop
        )
        # spec section 6: Cease/Administrative Shutdown, wrapped in Hard Reset where N was negotiated
        want = ["6/9(6/2)"] if variant.endswith("-n") else ["6/2"]

        def notes() -> dict[str, list[str]]:
            return {a: notifications_received(t.p, a)[n:] for a, n in notes_before.items()}

        wait_until(
            lambda: all(v for v in notes().values()), 5, 0.2, what=f"{t.p.kind} to log the NOTIFICATION"
        )
        assert all(v == want for v in notes().values()), (
            f"{t.p.kind} received {notes()}, expected {want} each"
        )
        report(record_property, variant, gone_after_stop_s=round(gone.t1 - t_stop, 2),
               gone_after_command_returned_s=round(gone.t1 - t_accepted, 2),
               gone_after_command_issued_s=round(gone.t1 - t_cmd, 2))  # fmt: skip


# --------------------------------------------------------------------------------------
# (d) LLGR after a crash


@interop
@pytest.mark.parametrize("kind", sorted(PEERS))
def test_crash_llgr_peer_keeps_llgr_stale_routes(kind: str, record_property: Record) -> None:
    ours = GrSpec(restart_time=RESTART_SHORT, llgr_stale_time=LLST)
    with gr_pair(kind, ours, THEIR_LLGR) as t:
        with t.sampler() as s:
            t_kill = time.time()
            t.g.kill9()
            llgr = s.wait(lambda x: x.llgr, RESTART_SHORT + 5, "our routes LLGR-stale", after=t_kill)
            gone = s.wait(lambda x: x.gone, LLST + 8, "our routes gone", after=llgr.t1)
            s.wait_samples(3, 5, after=gone.t1)
        end = t_kill + RESTART_SHORT + LLST
        good = s.check(t_kill, gone.t1)
        gr_phase = [x for x in good if t_kill + 0.5 <= x.t0 and x.t1 <= t_kill + RESTART_SHORT - 1.0]
        assert gr_phase and all(x.present and x.stale and not x.llgr for x in gr_phase), t.failure(
            "not stale (without LLGR_STALE) during the restart time", s, t_kill
        )
        first_llgr = next(x for x in good if x.llgr)
        assert first_llgr.t1 >= t_kill + RESTART_SHORT - 0.5, t.failure("LLGR-stale too early", s, t_kill)
        assert first_llgr.t0 <= t_kill + RESTART_SHORT + 2.0, t.failure("LLGR-stale too late", s, t_kill)
        llgr_phase = [x for x in good if t_kill + RESTART_SHORT + 2.0 <= x.t0 and x.t1 <= end - 1.0]
        assert llgr_phase and all(x.llgr for x in llgr_phase), t.failure(
            "not kept LLGR-stale until the long-lived stale time", s, t_kill
        )
        assert all(LLGR_STALE in r.communities for x in llgr_phase for r in x.routes if r is not None), (
            f"{t.p.kind} shows no {LLGR_STALE} community on the LLGR-stale routes"
        )
        kept = f"kept {gone.t1 - t_kill:.1f}s, LLGR ends at {end - t_kill:.0f}s"
        assert gone.t1 <= end + 3.0, t.failure(kept, s, t_kill)
        last_present = max(x.t0 for x in good if x.present)
        report(record_property, kind, restart_time=RESTART_SHORT, llst=LLST,
               llgr_from_s=round(first_llgr.t0 - t_kill, 2),
               last_seen_s=round(last_present - t_kill, 2), gone_by_s=round(gone.t1 - t_kill, 2))  # fmt: skip
