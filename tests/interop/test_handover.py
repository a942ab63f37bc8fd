"""Session hand-over (issue 19) seen by gobgpd, BIRD and FRR, graceful restart disabled on
both sides, hold time 3 s.

One lab (gracebgpd in the middle, one peer per namespace) and one set of daemons for the
module. Across five consecutive ``gracebgp restart``s: our route is present and never
stale in every 100 ms sample of each peer's own CLI; each peer's session keeps its
established count and up-since time; a capture of every BGP connection of gracebgpd's
namespace shows no NOTIFICATION, no FIN, no RST and no withdrawal, and the longest gap
between our messages to each peer stays under GAP_BOUND (two keepalive intervals; the
hold time is 3 s), and no UPDATE goes out (nothing changed). Failure paths: a broken
configuration and a module that raises on import leave the old process with every
session and make the command fail with the reason. Take-over by a new process in another
PID namespace, and across versions (the newest earlier hand-over code, from ``git
archive``, takes the sessions over; the code on its disk is then replaced by this one and
``gracebgp restart`` re-executes into it; this one takes them back): the same checks.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, Process, wait_until
from tests.interop.peers import (
    Bird,
    Frr,
    GoBgpd,
    NeighborSpec,
    PeerDaemon,
    RouteSpec,
    norm_addr,
    same_bird_marks,
)

OURS = 65001
PEERS: tuple[tuple[type[PeerDaemon], int], ...] = ((GoBgpd, 65002), (Bird, 65003), (Frr, 65004))
OUR_PREFIX = "10.1.0.0/24"
HOLD = 3
RESTARTS = 5
GAP_BOUND = 2.0  # two keepalive intervals (1 s at hold time 3 s): the bridge, or a gap to find
HANDOVER_CODE = ("src/gracebgp/runtime/handover.py", "src/gracebgp/runtime/handoff.py",
                 "src/gracebgp/runtime/takeover.py", "src/gracebgp/restart/handover.py",
                 "src/gracebgp/core/handover.py", "src/gracebgp/session/adopt.py")


def _marks_gobgp(p: PeerDaemon, addr: str) -> tuple[object, ...]:
    assert isinstance(p, GoBgpd)
    data = p.cli_json("neighbor", norm_addr(addr)) or {}
    state = data.get("state", {})
    uptime = (data.get("timers", {}).get("state", {}) or {}).get("uptime", {})
    return (state.get("session_state"), state.get("flops", 0), json.dumps(uptime, sort_keys=True))


def _marks_bird(p: PeerDaemon, addr: str) -> tuple[object, ...]:
    assert isinstance(p, Bird)
    line = p.birdc("show", "protocols", p.proto(addr)).strip().splitlines()[-1]
    return tuple(line.split()[3:])  # state, since (date and time), info


def _marks_frr(p: PeerDaemon, addr: str) -> tuple[object, ...]:
    assert isinstance(p, Frr)
    a = norm_addr(addr)
    data = json.loads(p.vtysh(f"show bgp neighbors {a} json"))
    n: dict[str, Any] = data.get(a) or next(iter(data.values()), {})
    up = n.get("bgpTimerUpEstablishedEpoch")
    return (n.get("bgpState"), n.get("connectionsEstablished"), n.get("connectionsDropped"), up)


MARKS: dict[type[PeerDaemon], Callable[[PeerDaemon, str], tuple[object, ...]]] = {
    GoBgpd: _marks_gobgp, Bird: _marks_bird, Frr: _marks_frr}


def same_sessions(before: dict[str, tuple[object, ...]], after: dict[str, tuple[object, ...]]) -> bool:
    """No flap: every mark equal, except FRR's up-since epoch, which it derives from a
    whole-second uptime (it may tick by one), and BIRD's since time (see same_bird_since)."""
    for kind, b in before.items():
        a = after[kind]
        if kind == "frr" and isinstance(a[-1], int) and isinstance(b[-1], int):
            if a[:-1] != b[:-1] or abs(a[-1] - b[-1]) > 1:
                return False
        elif kind == "bird":
            if not same_bird_marks(a, b):
                return False
        elif a != b:
            return False
    return True


@dataclass
class Setup:
    lab: Lab
    g: GraceBgpd
    peers: list[tuple[PeerDaemon, str, str]]  # driver, our address (as it sees us), its address
    capture: Path
    tcpdump: Process
    samples: dict[str, list[tuple[float, bool, bool]]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    require(GoBgpd, Bird, Frr)
    if shutil.which("dumpcap") is None or shutil.which("tshark") is None:
        pytest.skip("needs dumpcap and tshark (apt-get install -y tshark)")
    lab = Lab(4, links=[(0, 1), (0, 2), (0, 3)])
    with lab:
        ns0 = lab.ns(0)
        capture = lab.subdir("capture") / "bgp.pcapng"
        tcpdump = lab.spawn(ns0, ["dumpcap", "-q", "-i", "any", "-f", "tcp port 179", "-w", str(capture)],
                            lab.workdir / "dumpcap.log", name="dumpcap")
        wait_until(lambda: capture.exists() and capture.stat().st_size > 0, 10, what="tcpdump to start")
        peers = []
        neighbors = []
        for i, (kind, asn) in enumerate(PEERS):
            link = lab.links[i]
            p = kind()
            theirs, ours = link.b_v4, link.a_v4
            p.start(lab, lab.ns(i + 1), asn=asn, router_id=theirs,
                    neighbors=[NeighborSpec(ours, OURS, ("ipv4",), hold_time=HOLD)],
                    originate=[RouteSpec(f"10.{100 + i}.0.0/24")])
            peers.append((p, ours, theirs))
            neighbors.append(NeighborSpec(theirs, asn, ("ipv4",), hold_time=HOLD))
        g = GraceBgpd()
        shadow = lab.subdir("shadow")  # on gracebgpd's PYTHONPATH: a test drops a broken module here
        g.extra_env = {"PYTHONPATH": str(shadow)}
        g.start(lab, ns0, asn=OURS, router_id=lab.links[0].a_v4, neighbors=neighbors,
                originate=[RouteSpec(OUR_PREFIX)])
        for p, ours, _ in peers:
            p.wait_established(ours, timeout=60)
            assert not p.wait_route(ours, "ipv4", OUR_PREFIX, timeout=30).stale
        for i, (_, _, theirs) in enumerate(peers):
            g.wait_route(theirs, "ipv4", f"10.{100 + i}.0.0/24", timeout=30)
        yield Setup(lab, g, peers, capture, tcpdump)
    assert_nothing_left(lab)


class Sampler:
    """Each peer's own CLI, every 100 ms, in a thread per peer: is our route there, and stale?"""

    def __init__(self, s: Setup) -> None:
        self.s = s
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(p, ours), daemon=True)
                        for p, ours, _ in s.peers]
        self.samples: dict[str, list[tuple[float, bool, bool]]] = {p.kind: [] for p, _, _ in s.peers}
        self.errors: list[str] = []

    def _run(self, p: PeerDaemon, ours: str) -> None:
        while not self.stop.is_set():
            t = time.time()
            try:
                r = p.find_route(ours, "ipv4", OUR_PREFIX)
                self.samples[p.kind].append((t, r is not None, bool(r is not None and r.stale)))
            except Exception as exc:  # a CLI hiccup is a sample that failed, reported
                self.errors.append(f"{p.kind}: {exc}")
            self.stop.wait(max(0.0, 0.1 - (time.time() - t)))

    def __enter__(self) -> Sampler:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)


def _bgp_packets(capture: Path) -> list[dict[str, str]]:
    """Every TCP segment of the capture with its flags and BGP message types (tshark)."""
    fields = ["frame.time_epoch", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.flags.fin",
              "tcp.flags.reset", "bgp.type", "bgp.withdrawn_prefix",
              "bgp.mp_unreach_nlri_ipv4_prefix", "bgp.mp_unreach_nlri_ipv6_prefix"]
    argv = ["tshark", "-r", str(capture), "-o", "tcp.desegment_tcp_streams:TRUE", "-T", "fields",
            *[a for f in fields for a in ("-e", f)],
            "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
    return [dict(zip(fields, line.split("|"), strict=False)) for line in out.splitlines() if line.strip()]


def _gaps(s: Setup, packets: list[dict[str, str]]) -> dict[str, float]:
    """Per peer: the longest time between two of our BGP messages to it."""
    gaps = {}
    for _, our_addr, theirs in s.peers:
        times = sorted(float(p["frame.time_epoch"]) for p in packets
                       if p["ip.src"] == our_addr and p["ip.dst"] == theirs and p["bgp.type"])
        gaps[theirs] = max(b - a for a, b in itertools.pairwise(times))
    return gaps


def _wire_is_quiet(s: Setup, start: float, end: float, what: str) -> dict[str, float]:
    """The capture between ``start`` and ``end``: no FIN, no RST, no OPEN, no UPDATE (so no
    withdrawal either), no NOTIFICATION; our longest gap to each peer under GAP_BOUND."""
    time.sleep(0.5)
    packets = [p for p in _bgp_packets(s.capture) if start <= float(p["frame.time_epoch"]) <= end]
    assert packets
    assert not [p for p in packets if p["tcp.flags.fin"] in ("1", "True")], "FIN seen"
    assert not [p for p in packets if p["tcp.flags.reset"] in ("1", "True")], "RST seen"
    types = [t for p in packets for t in p["bgp.type"].split(",") if t]
    assert not {"1", "2", "3"} & set(types), sorted(set(types))  # only KEEPALIVEs (4)
    assert not [p for p in packets if p["bgp.withdrawn_prefix"] or p["bgp.mp_unreach_nlri_ipv4_prefix"]
                or p["bgp.mp_unreach_nlri_ipv6_prefix"]]
    gaps = _gaps(s, packets)
    print(f"{what}: longest gap between our messages to each peer: {gaps}")
    assert max(gaps.values()) < GAP_BOUND, gaps
    return gaps


def _restart_handover(g: GraceBgpd) -> float:
    return g.graceful_restart(timeout=60, handover=True)


@interop
def test_five_handovers_peers_see_nothing(setup: Setup) -> None:
    s = setup
    before = {p.kind: MARKS[type(p)](p, ours) for p, ours, _ in s.peers}
    assert all("Established" in str(m) or m[0] == 6 for m in before.values()), before
    assert s.g.proc is not None
    pid = s.g.proc.pid
    start = time.time()
    with Sampler(s) as sampler:
        for _ in range(RESTARTS):
            _restart_handover(s.g)
            time.sleep(1.0)
        time.sleep(HOLD + 1.0)  # past one more hold time after the last hand-over
    end = time.time()
    assert s.g.proc.pid == pid and s.g.proc.alive()
    after = {p.kind: MARKS[type(p)](p, ours) for p, ours, _ in s.peers}
    assert same_sessions(before, after), (before, after)
    for kind, samples in sampler.samples.items():
        assert len(samples) >= (end - start) * 2, (kind, len(samples))  # the CLI kept answering
        bad = [x for x in samples if not x[1] or x[2]]
        assert not bad, (kind, bad[:5])
    print(s.g.cli("timeline"))
    tl = json.loads(s.g.cli("timeline", json_out=True))
    assert tl["restart"] == "handover", tl
    events = [e["data"].get("event") for e in tl["events"]]
    for step in ("stopping", "handover-quiesced", "handover-keepalive", "handover-state", "handover-adopted",
                 "process-started"):
        assert step in events, events
    # The wire: no NOTIFICATION, no FIN, no RST, no UPDATE (no withdrawal), short gaps.
    _wire_is_quiet(s, start, end, "five hand-overs")


@interop
@pytest.mark.parametrize("breakage", ["config", "import"])
def test_a_failed_handover_keeps_every_session(setup: Setup, breakage: str) -> None:
    s = setup
    assert s.g.proc is not None
    pid, starts = s.g.proc.pid, s.g.starts()
    before = {p.kind: MARKS[type(p)](p, ours) for p, ours, _ in s.peers}
    conf = s.g.workdir / "gracebgpd.toml"
    text = conf.read_text()
    # A module the new code imports (uvicorn, before site-packages on the PYTHONPATH) raises.
    broken = s.lab.workdir / "shadow" / "uvicorn"
    try:
        if breakage == "config":
            conf.write_text(text.replace("[global.config]", "[global.config]\n  colour = 'blue'", 1))
        else:
            broken.mkdir()
            (broken / "__init__.py").write_text("raise RuntimeError('broken on purpose by test_handover')\n")
        r = subprocess.run([sys.executable, "-m", "gracebgp.cli.main", "--socket", str(s.g.api_socket),
                            "restart"], capture_output=True, text=True, timeout=90, check=False)
    finally:
        conf.write_text(text)
        shutil.rmtree(broken, ignore_errors=True)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert re.search("colour" if breakage == "config" else "broken on purpose", r.stderr), r.stderr
    s.g.check_alive()
    assert s.g.proc.pid == pid and s.g.starts() == starts
    after = {p.kind: MARKS[type(p)](p, ours) for p, ours, _ in s.peers}
    assert same_sessions(before, after), (before, after)


@interop
def test_take_over_by_a_process_in_another_pid_namespace(setup: Setup) -> None:
    """``gracebgpd --take-over`` started beside the running one, in a new PID namespace
    (as a new container would be), sharing only the state directory and the network."""
    s = setup
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    assert s.g.proc is not None
    old = s.g.proc
    before = {p.kind: MARKS[type(p)](p, ours) for p, ours, _ in s.peers}
    starts = s.g.starts()
    conf = s.g.workdir / "gracebgpd.toml"
    start = time.time()
    with Sampler(s) as sampler:
        new = s.lab.spawn(s.lab.ns(0), ["unshare", "--pid", "--fork", sys.executable, "-m", "gracebgp.daemon",
                                        "-f", str(conf), "-l", "debug", "--take-over"],
                          Path(s.g.log_path), name="gracebgpd-taker", env={**os.environ, **s.g.extra_env})
        wait_until(lambda: not old.alive(), 30, 0.1, what="the old gracebgpd to exit")
        s.g.proc = new
        wait_until(lambda: s.g.starts() > starts and s.g.session_state(s.peers[0][2]) == "Established",
                   30, 0.2, what="the new gracebgpd to serve")
        time.sleep(HOLD + 1.0)
    end = time.time()
    assert new.alive()
    after = {p.kind: MARKS[type(p)](p, ours) for p, ours, _ in s.peers}
    assert same_sessions(before, after), (before, after)
    for kind, samples in sampler.samples.items():
        assert len(samples) >= (end - start) * 2, (kind, len(samples))
        assert not [x for x in samples if not x[1] or x[2]], kind
    print(s.g.cli("timeline"))
    tl = json.loads(s.g.cli("timeline", json_out=True))
    assert tl["restart"] == "handover", tl
    # The old process names the taker by the pid the kernel gives it in our namespace
    # (SO_PEERCRED), not the 1 it has in its own: that pid is the taker, seen from here.
    named = re.findall(r"take-over by gracebgpd pid (\d+)", s.g.cli("timeline"))
    assert named, "no take-over step in the timeline"
    cmdline = Path(f"/proc/{named[-1]}/cmdline").read_bytes()
    assert b"gracebgp.daemon" in cmdline and b"--take-over" in cmdline, (named, cmdline)
    _wire_is_quiet(s, start, end, "take-over from another PID namespace")


def _code_without_docstrings(ref: str, root: Path) -> str:
    """The hand-over modules at ``ref`` with docstrings dropped (``ast``), "" where absent."""
    out = []
    for path in HANDOVER_CODE:
        r = subprocess.run(["git", "-C", str(root), "show", f"{ref}:{path}"], capture_output=True, text=True,
                           timeout=30, check=False)
        if r.returncode != 0:
            out.append("")
            continue
        tree = ast.parse(r.stdout)
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
        out.append(ast.dump(tree))
    return "\n".join(out)


def _previous_src(lab: Lab) -> tuple[Path, str]:
    """``src/`` of the newest earlier commit whose hand-over code differs from HEAD's, not
    just in docstrings (``git archive``, as ``bench/routing.py --ref``), and that commit."""
    root = Path(__file__).resolve().parents[2]
    head = _code_without_docstrings("HEAD", root)
    log = subprocess.run(["git", "-C", str(root), "log", "--format=%H", "-n", "40", "HEAD~1", "--",
                          *HANDOVER_CODE], capture_output=True, text=True, timeout=60, check=False)
    ref = next((c for c in [*log.stdout.split()] if _code_without_docstrings(c, root) != head), "")
    if not ref:
        pytest.skip("no earlier commit with other hand-over code to take over with")
    out = lab.subdir("previous") / "src.tar"
    with open(out, "wb") as fh:
        r = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", ref, "src"], stdout=fh,
                           stderr=subprocess.PIPE, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    with tarfile.open(out) as tar:
        tar.extractall(out.parent, filter="data")
    return out.parent / "src", ref


def _take_over(s: Setup, pythonpath: str) -> None:
    assert s.g.proc is not None
    old, starts = s.g.proc, s.g.starts()
    conf = s.g.workdir / "gracebgpd.toml"
    new = s.lab.spawn(s.lab.ns(0), [sys.executable, "-m", "gracebgp.daemon", "-f", str(conf), "-l", "debug",
                                    "--take-over"], Path(s.g.log_path), name="gracebgpd-taker",
                      env={**os.environ, "PYTHONPATH": pythonpath})
    wait_until(lambda: not old.alive(), 30, 0.1, what="the old gracebgpd to exit")
    s.g.proc = new
    wait_until(lambda: s.g.starts() > starts and s.g.session_state(s.peers[0][2]) == "Established",
               30, 0.2, what="the new gracebgpd to serve")


@interop
def test_take_over_across_versions(setup: Setup) -> None:
    """The previous commit's code takes the sessions over from this one, and this one
    takes them back: the state format is read both ways, the peers see nothing."""
    s = setup
    previous, ref = _previous_src(s.lab)
    print(f"earlier hand-over code: {ref}")
    shadow = s.g.extra_env["PYTHONPATH"]
    before = {p.kind: MARKS[type(p)](p, ours) for p, ours, _ in s.peers}
    adopted = Path(s.g.log_path).read_text(errors="replace").count("sessions adopted from pid")
    start = time.time()
    with Sampler(s) as sampler:
        _take_over(s, f"{previous}:{shadow}")
        assert s.g.proc is not None
        # The running process imports the earlier code (PYTHONPATH comes first).
        assert f"PYTHONPATH={previous}".encode() in Path(f"/proc/{s.g.proc.pid}/environ").read_bytes()
        # An upgrade on disk, then the re-exec hand-over from the earlier code into this one.
        shutil.rmtree(previous)
        shutil.copytree(Path(__file__).resolve().parents[2] / "src", previous,
                        ignore=shutil.ignore_patterns("__pycache__"))
        _restart_handover(s.g)
        _take_over(s, shadow)
        time.sleep(HOLD + 1.0)
    end = time.time()
    after = {p.kind: MARKS[type(p)](p, ours) for p, ours, _ in s.peers}
    assert same_sessions(before, after), (before, after)
    for kind, samples in sampler.samples.items():
        assert samples and not [x for x in samples if not x[1] or x[2]], kind
    log = Path(s.g.log_path).read_text(errors="replace")
    assert log.count("sessions adopted from pid") >= adopted + 3, log[-3000:]
    _wire_is_quiet(s, start, end, f"across versions ({ref[:12]} and this one)")
