"""Routing daemons, end to end: ingest and propagate N IPv4 routes (gracebgpd, gobgpd, BIRD, FRR).

For each daemon and size N, each run:

1. (root) two fresh network namespaces joined by a veth pair: the device under test (DUT)
   on 10.253.0.1/24 in one, the injector (10.253.0.2) and the collector (10.253.0.3) in the
   other. Without root: plain loopback (127.0.0.1/.2/.3, a high port, NEXT_HOP 192.0.2.2),
   gracebgpd and gobgpd only.
2. The DUT is configured with two passive eBGP neighbors: the injector (AS 65100) and the
   collector (AS 65200); the DUT is AS 65000, IPv4 unicast only, default policies
   (accept and advertise everything), nothing installed in a kernel FIB.
3. The collector and the injector (``bench/bgpio.py``, separate processes) open their
   sessions (hold time 90 s, a KEEPALIVE every 30 s). Once both are Established and the DUT's RSS is
   read (``VmRSS``), the injector writes the pre-encoded UPDATEs (N /24s, a new attribute
   set every 10 prefixes) and the End-of-RIB.
4. Timed from the injector's first UPDATE write:

   * ingest: until the DUT holds all N in its Loc-RIB. gracebgpd: the time stamp of its
     ``peer X: End-of-RIB received for ipv4-unicast`` info line (logged once every
     UPDATE before the End-of-RIB was processed, in order). The others are polled through
     their CLI and the time is the end of the first poll that shows N: gobgpd ``gobgp
     global rib summary -a ipv4`` (destinations), BIRD ``birdc show protocols all``
     (routes imported from the injector), FRR ``show bgp ipv4 unicast summary json``
     (``pfxRcd`` of the injector);
   * propagate: until the collector holds all N (it counts the distinct prefixes announced
     minus withdrawn, from the raw UPDATEs).

5. Peak RSS: the DUT's ``VmHWM`` at the end of the run (also ``VmRSS`` sampled at every
   poll). RSS growth = peak - RSS before injection, reported per 100k routes.

The table gives medians over ``--runs``, and each figure divided by gracebgpd's at the same
N ("x grace": 0.5 means half of gracebgpd's time or memory).

    python bench/routing.py                                   # 100k and 1M, 3 runs, all daemons
    python bench/routing.py --sizes 100000 --runs 1           # quick
    python bench/routing.py --daemons gracebgpd --sizes 1000000 --runs 1 --profile /tmp/gbp
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import bgpio
from tests.interop.netns import wait_until

HERE = Path(__file__).resolve().parent

VENV_BIN = Path(sys.executable).parent
MB = 1 << 20
NS_PREFIX = "gbb"


# --- processes ------------------------------------------------------------------------------


class Proc:
    """A process we started, leader of its own process group; stopped by that group id."""

    def __init__(self, name: str, argv: list[str], log_path: Path, *, pipes: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen: subprocess.Popen[bytes] = subprocess.Popen(
            argv, stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else self._log, stderr=self._log, start_new_session=True, env=env)
        self._reader: threading.Thread | None = None
        if pipes:
            self._reader = threading.Thread(target=self._read_events, daemon=True)
            self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _read_events(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            self._log.write(raw)
            self._log.flush()
            with contextlib.suppress(ValueError):
                ev = json.loads(raw)
                if isinstance(ev, dict):
                    with self._lock:
                        self.events.append(ev)

    def event(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return next((e for e in self.events if e.get("event") == name), None)

    def last_event(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return next((e for e in reversed(self.events) if e.get("event") == name), None)

    def failure(self) -> str | None:
        """The first error/notification/close event, if any."""
        with self._lock:
            for e in self.events:
                if e.get("event") in ("error", "notification", "closed"):
                    return f"{self.name}: {e.get('event')} {e.get('text') or e.get('error') or ''}".strip()
        return None

    def send(self, line: str) -> None:
        if self.popen.stdin is not None and self.alive():
            with contextlib.suppress(OSError):
                self.popen.stdin.write(line.encode() + b"\n")
                self.popen.stdin.flush()

    def stop(self, grace: float = 5.0) -> None:
        """Close stdin, SIGTERM the group, SIGKILL it after ``grace`` s."""
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        if self._reader is not None:
            self._reader.join(timeout=2)
        self._log.close()

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def sh(argv: list[str], timeout: float = 20.0, check: bool = True,
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL, env=env)
    if check and proc.returncode != 0:
        why = proc.stderr.strip() or proc.stdout.strip()
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {why}")
    return proc


def wait_for(pred: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Call ``pred`` until it returns something truthy (bounded); exceptions count as "not yet"."""
    return wait_until(pred, timeout, interval, what)


def proc_status(pid: int, key: str) -> int | None:
    """A ``/proc/PID/status`` field in kB (VmRSS, VmHWM), or None."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


# --- the lab: namespaces or loopback ----------------------------------------------------------


class Lab:
    """Where one run happens. ``netns``: two namespaces and a veth pair (root); otherwise
    loopback addresses and a high port. Cleans up (processes, namespaces, files) on close."""

    def __init__(self, netns: bool, base: Path, keep: bool = False) -> None:
        self.netns = netns
        self.keep = keep
        self.workdir = Path(tempfile.mkdtemp(prefix="run-", dir=base))
        os.chmod(self.workdir, 0o777)  # FRR drops privileges to user frr
        self.procs: list[Proc] = []
        self.namespaces: list[str] = []
        if netns:
            tag = secrets.token_hex(3)
            self.dut_ns: str | None = f"{NS_PREFIX}{tag}d"
            self.peer_ns: str | None = f"{NS_PREFIX}{tag}p"
            self.dut, self.injector, self.collector = "10.253.0.1", "10.253.0.2", "10.253.0.3"
            self.port = 179
        else:
            self.dut_ns = self.peer_ns = None
            self.dut, self.injector, self.collector = "127.0.0.1", "127.0.0.2", "127.0.0.3"
            self.port = 20000 + secrets.randbelow(20000)
        self.api_port = self.port + 1 if not netns else 50051

    def __enter__(self) -> Lab:
        _LIVE.append(self)
        try:
            if self.netns:
                self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self) -> None:
        assert self.dut_ns is not None and self.peer_ns is not None
        for ns in (self.dut_ns, self.peer_ns):
            sh(["ip", "netns", "add", ns])
            self.namespaces.append(ns)
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        sh(["ip", "link", "add", "vdut", "netns", self.dut_ns, "type", "veth", "peer", "name", "vpeer",
            "netns", self.peer_ns])
        sh(["ip", "-n", self.dut_ns, "addr", "add", f"{self.dut}/24", "dev", "vdut"])
        sh(["ip", "-n", self.peer_ns, "addr", "add", f"{self.injector}/24", "dev", "vpeer"])
        sh(["ip", "-n", self.peer_ns, "addr", "add", f"{self.collector}/24", "dev", "vpeer"])
        sh(["ip", "-n", self.dut_ns, "link", "set", "vdut", "up"])
        sh(["ip", "-n", self.peer_ns, "link", "set", "vpeer", "up"])

    def wrap(self, ns: str | None, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv] if ns else argv

    def spawn(self, name: str, ns: str | None, argv: list[str], *, pipes: bool = False,
              env: dict[str, str] | None = None) -> Proc:
        """Start ``argv`` in ``ns`` (``ip netns exec`` execs in place: the pid is the program's)."""
        proc = Proc(name, self.wrap(ns, argv), self.workdir / f"{name}.log", pipes=pipes, env=env)
        self.procs.append(proc)
        return proc

    def run(self, ns: str | None, argv: list[str], timeout: float = 20.0) -> str:
        return sh(self.wrap(ns, argv), timeout=timeout).stdout

    def close(self) -> None:
        try:
            for p in reversed(self.procs):
                p.stop()
            self.procs.clear()
        finally:
            for ns in reversed(self.namespaces):
                sh(["ip", "netns", "delete", ns], check=False)
            self.namespaces.clear()
            if not self.keep:
                shutil.rmtree(self.workdir, ignore_errors=True)
            if self in _LIVE:
                _LIVE.remove(self)


_LIVE: list[Lab] = []


def _close_all() -> None:
    for lab in list(_LIVE):
        lab.close()


atexit.register(_close_all)


def netns_works() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"{NS_PREFIX}probe{secrets.token_hex(3)}"
    try:
        return sh(["ip", "netns", "add", probe], check=False).returncode == 0
    finally:
        sh(["ip", "netns", "delete", probe], check=False)


# --- the daemons under test -----------------------------------------------------------------


class Dut(ABC):
    name: ClassVar[str]
    needs_netns: ClassVar[bool] = True
    binaries: ClassVar[tuple[str, ...]] = ()
    poll_interval: ClassVar[float] = 0.05

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.dir = lab.workdir
        self.proc: Proc | None = None
        self.last_count: int | None = None

    @classmethod
    def missing(cls) -> list[str]:
        return [b for b in cls.binaries if not (os.access(b, os.X_OK) if "/" in b else shutil.which(b))]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    @abstractmethod
    def start(self) -> None:
        """Write the configuration, start the daemon, return once it answers (bounded)."""

    @abstractmethod
    def ingest_done(self, n: int) -> float | None:
        """Wall-clock time at which the DUT was seen holding ``n`` routes, or None yet."""

    def log_tail(self) -> str:
        return self.proc.tail() if self.proc is not None else ""


class GraceBgpd(Dut):
    name = "gracebgpd"
    needs_netns = False
    binaries = (str(VENV_BIN / "gracebgpd"),)
    poll_interval = 0.02
    #: run gracebgp from this source tree (a ``--ref`` snapshot) instead of the installed one
    src: ClassVar[Path | None] = None

    _EOR = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?:DEBUG|INFO) (?:\[session\] )?peer (\S+): "
                      r"End-of-RIB received for ipv4-unicast")  # "[session]": since the logger names

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab)
        self._offset = 0
        self._partial = b""

    def config(self) -> str:
        lab = self.lab
        out = [
            "[global.config]", "as = 65000", f'router-id = "{lab.dut if lab.netns else "10.253.0.1"}"',
            f"port = {lab.port}", f'local-address-list = ["{lab.dut}"]', "",
        ]
        for addr, asn in ((lab.injector, bgpio.INJECTOR_AS), (lab.collector, bgpio.COLLECTOR_AS)):
            out += [
                "[[neighbors]]", "[neighbors.config]", f'neighbor-address = "{addr}"', f"peer-as = {asn}",
                "[neighbors.timers.config]", "hold-time = 90",
                "[neighbors.transport.config]", "passive-mode = true", f'local-address = "{lab.dut}"',
                "[[neighbors.afi-safis]]", "[neighbors.afi-safis.config]",
                'afi-safi-name = "ipv4-unicast"', "",
            ]
        out += ["[gracebgp]", f"state-dir = '{self.dir / 'state'}'", f"api-socket = '{self.dir / 'g.sock'}'",
                'sigterm = "withdraw"', ""]
        return "\n".join(out)

    def start(self) -> None:
        conf = self.dir / "gracebgpd.toml"
        conf.write_text(self.config())
        env = dict(os.environ, PYTHONPATH=str(self.src)) if self.src is not None else None
        daemon = [sys.executable, "-m", "gracebgp.daemon", "-f", str(conf)]
        sh([*daemon, "--check"], env=env)
        # info: the End-of-RIB line, without -l debug's per-UPDATE summaries (they cost ~5%);
        # a --ref snapshot from before that line was info needs debug (it had no summaries)
        speaker = (self.src or HERE.parent / "src") / "gracebgp" / "core" / "speaker.py"
        level = "info" if '"info", f"End-of-RIB received' in speaker.read_text() else "debug"
        self.proc = self.lab.spawn("gracebgpd", self.lab.dut_ns, [*daemon, "-l", level], env=env)

    def ingest_done(self, n: int) -> float | None:
        assert self.proc is not None
        with open(self.proc.log_path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            m = self._EOR.match(raw.decode(errors="replace"))
            if m is not None and m.group(2) == self.lab.injector:
                return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        return None


class GoBgpd(Dut):
    name = "gobgpd"
    needs_netns = False
    binaries = ("gobgpd", "gobgp")
    poll_interval = 0.1

    def config(self) -> str:
        lab = self.lab
        out = ["[global.config]", "  as = 65000", '  router-id = "10.253.0.1"', f"  port = {lab.port}",
               f'  local-address-list = ["{lab.dut}"]', ""]
        for addr, asn in ((lab.injector, bgpio.INJECTOR_AS), (lab.collector, bgpio.COLLECTOR_AS)):
            out += [
                "[[neighbors]]", "  [neighbors.config]", f'    neighbor-address = "{addr}"',
                f"    peer-as = {asn}",
                "  [neighbors.timers.config]", "    hold-time = 90", "    keepalive-interval = 30",
                "  [neighbors.transport.config]", "    passive-mode = true",
                f'    local-address = "{lab.dut}"',
                "  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]",
                '      afi-safi-name = "ipv4-unicast"', "",
            ]
        return "\n".join(out) + "\n"

    def cli(self, *args: str) -> str:
        api = ["gobgp", "-u", "127.0.0.1", "-p", str(self.lab.api_port)]
        return self.lab.run(self.lab.dut_ns, [*api, *args])

    def start(self) -> None:
        conf = self.dir / "gobgpd.toml"
        conf.write_text(self.config())
        self.proc = self.lab.spawn("gobgpd", self.lab.dut_ns, [
            "gobgpd", "-f", str(conf), "-t", "toml", "-p", "-l", "info",
            "--api-hosts", f"127.0.0.1:{self.lab.api_port}", "--pprof-disable"])
        wait_for(lambda: self.alive() and "AS" in self.cli("global"), 20, "gobgpd API")

    def ingest_done(self, n: int) -> float | None:
        m = re.search(r"Destination:\s*(\d+)", self.cli("global", "rib", "summary", "-a", "ipv4"))
        self.last_count = int(m.group(1)) if m else None
        return time.time() if self.last_count is not None and self.last_count >= n else None


class Bird(Dut):
    name = "bird"
    binaries = ("bird", "birdc")

    def config(self) -> str:
        lab = self.lab
        out = [f"router id {lab.dut};",
               f'log "{self.dir / "bird-daemon.log"}" {{ info, warning, error, fatal }};',
               "protocol device { scan time 10; }"]
        peers = (("inj", lab.injector, bgpio.INJECTOR_AS), ("col", lab.collector, bgpio.COLLECTOR_AS))
        for proto, addr, asn in peers:
            out += [f"protocol bgp {proto} {{", f"  local {lab.dut} as 65000;",
                    f"  neighbor {addr} as {asn};",
                    "  passive on; hold time 90; keepalive time 30;",
                    "  ipv4 { import all; export all; };", "}"]
        return "\n".join(out) + "\n"

    @property
    def socket(self) -> Path:
        return self.dir / "bird.ctl"

    def birdc(self, *args: str) -> str:
        return sh(["birdc", "-s", str(self.socket), *args], timeout=20).stdout

    def start(self) -> None:
        conf = self.dir / "bird.conf"
        conf.write_text(self.config())
        sh(["bird", "-p", "-c", str(conf)])
        self.proc = self.lab.spawn("bird", self.lab.dut_ns, [
            "bird", "-f", "-c", str(conf), "-s", str(self.socket), "-P", str(self.dir / "bird.pid")])
        wait_for(lambda: self.alive() and "ready" in self.birdc("show", "status"), 20, "bird control socket")

    def ingest_done(self, n: int) -> float | None:
        m = re.search(r"Routes:\s+(\d+) imported", self.birdc("show", "protocols", "all", "inj"))
        self.last_count = int(m.group(1)) if m else None
        return time.time() if self.last_count is not None and self.last_count >= n else None


class Frr(Dut):
    name = "frr"
    binaries = ("/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh")

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab)
        self.zebra: Proc | None = None

    def config(self) -> str:
        lab = self.lab
        out = ["frr defaults traditional", "hostname gbb-dut", "!", "router bgp 65000",
               f" bgp router-id {lab.dut}", " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast"]
        peers = ((lab.injector, bgpio.INJECTOR_AS), (lab.collector, bgpio.COLLECTOR_AS))
        for addr, asn in peers:
            out += [f" neighbor {addr} remote-as {asn}", f" neighbor {addr} timers 30 90",
                    f" neighbor {addr} passive", f" neighbor {addr} update-source {lab.dut}"]
        out.append(" address-family ipv4 unicast")
        out += [f"  neighbor {addr} activate" for addr, _ in peers]
        out += [" exit-address-family", "exit", "!"]
        return "\n".join(out) + "\n"

    def vtysh(self, command: str) -> str:
        return sh(["vtysh", "--vty_socket", str(self.dir), "-d", "bgpd", "-c", command], timeout=20).stdout

    def start(self) -> None:
        d = self.dir
        (d / "zebra.conf").write_text("hostname gbb-dut-zebra\n")
        self.zebra = self.lab.spawn("zebra", self.lab.dut_ns, [
            "/usr/lib/frr/zebra", "-f", str(d / "zebra.conf"), "-i", str(d / "zebra.pid"),
            "-z", str(d / "zserv.api"), "--vty_socket", str(d), "-u", "frr", "-g", "frr", "-P", "0",
            "--log", f"file:{d / 'zebra-daemon.log'}"])
        wait_for((d / "zserv.api").exists, 15, "zebra's zserv socket")
        conf = d / "bgpd.conf"
        conf.write_text(self.config())
        # -n: nothing is installed in the kernel (the routes still go through zebra's NHT).
        self.proc = self.lab.spawn("bgpd", self.lab.dut_ns, [
            "/usr/lib/frr/bgpd", "-f", str(conf), "-i", str(d / "bgpd.pid"), "-z", str(d / "zserv.api"),
            "--vty_socket", str(d), "-n", "-P", "0", "-p", str(self.lab.port), "-u", "frr", "-g", "frr",
            "--log", f"file:{d / 'bgpd-daemon.log'}"])
        wait_for(lambda: self.alive() and "BGP" in self.vtysh("show bgp summary"), 20, "bgpd vty")

    def ingest_done(self, n: int) -> float | None:
        data = json.loads(self.vtysh("show bgp ipv4 unicast summary json") or "{}")
        peers = (data.get("ipv4Unicast", data) or {}).get("peers", {})
        self.last_count = int(peers.get(self.lab.injector, {}).get("pfxRcd", 0))
        return time.time() if self.last_count >= n else None


DAEMONS: dict[str, type[Dut]] = {"gracebgpd": GraceBgpd, "gobgpd": GoBgpd, "bird": Bird, "frr": Frr}


# --- one run ----------------------------------------------------------------------------------


@dataclass
class RunResult:
    daemon: str
    n: int
    ingest: float | None = None  # seconds; None: not reached within the timeout
    propagate: float | None = None
    rss_before_mb: float | None = None
    rss_peak_mb: float | None = None
    error: str | None = None
    profiled: bool = False
    loadavg_before: str = ""
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def growth_per_100k(self) -> float | None:
        if self.rss_before_mb is None or self.rss_peak_mb is None:
            return None
        return (self.rss_peak_mb - self.rss_before_mb) / (self.n / 100_000)


class Profiler:
    """py-spy attached to the DUT for one phase (raw collapsed stacks, by function)."""

    def __init__(self, lab: Lab, pid: int, out: Path, rate: int) -> None:
        self.out = out
        self.proc = lab.spawn(f"py-spy-{out.stem}", None, [
            str(VENV_BIN / "py-spy"), "record", "-p", str(pid), "-o", str(out), "-f", "raw", "-F",
            "-r", str(rate)])
        time.sleep(0.3)  # let it attach before the phase starts

    def finish(self) -> None:
        if self.proc.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)  # py-spy writes its output on SIGINT
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.popen.wait(timeout=30)


def run_once(daemon: type[Dut], n: int, stream: Path, args: argparse.Namespace, base: Path,
             profile: Path | None) -> RunResult:
    res = RunResult(daemon.name, n, profiled=profile is not None)
    res.loadavg_before = Path("/proc/loadavg").read_text().split(" ")[0]
    timeout = args.timeout if args.timeout else max(60.0, 600.0 * n / 1_000_000)
    started = time.monotonic()
    with Lab(args.netns, base, keep=args.keep) as lab:
        dut = daemon(lab)
        try:
            dut.start()
            helper = [sys.executable, str(HERE / "bgpio.py")]
            common = ["--dut", lab.dut, "--port", str(lab.port), "--hold-time", str(args.hold_time)]
            col = lab.spawn("collector", lab.peer_ns, [*helper, "collect", *common, "--local", lab.collector,
                                                       "--asn", str(bgpio.COLLECTOR_AS), "--expect", str(n)],
                            pipes=True)
            wait_for(lambda: col.event("established") or _fail(col, dut), 60, "the collector's session")
            inj = lab.spawn("injector", lab.peer_ns,
                            [*helper, "inject", *common, "--local", lab.injector,
                             "--asn", str(bgpio.INJECTOR_AS), "--stream", str(stream)], pipes=True)
            wait_for(lambda: inj.event("established") or _fail(inj, dut), 60, "the injector's session")
            time.sleep(1.0)  # let the DUT settle (initial End-of-RIBs, session bookkeeping)
            before = proc_status(dut.pid, "VmRSS")
            res.rss_before_mb = before / 1024 if before is not None else None
            prof = (Profiler(lab, dut.pid, Path(f"{profile}-ingest.txt"), args.profile_rate)
                    if profile else None)
            inj.send("go")
            sent = wait_for(lambda: inj.event("sent") or _fail(inj, dut), timeout, "the injector to write")
            t0 = float(sent["first_update"]["wall"])
            deadline = time.monotonic() + timeout - (time.time() - t0)
            ingest_wall: float | None = None
            peak_rss = 0
            while time.monotonic() < deadline:
                if not dut.alive():
                    raise RuntimeError(f"{daemon.name} exited; log tail:\n{dut.log_tail()}")
                why = inj.failure() or col.failure()
                if why:
                    raise RuntimeError(why)
                rss = proc_status(dut.pid, "VmRSS") or 0
                peak_rss = max(peak_rss, rss)
                if ingest_wall is None:
                    with contextlib.suppress(subprocess.TimeoutExpired, RuntimeError, ValueError):
                        ingest_wall = dut.ingest_done(n)
                    if ingest_wall is not None:
                        res.ingest = ingest_wall - t0
                        if prof is not None:
                            prof.finish()
                            prof = Profiler(lab, dut.pid, Path(f"{profile}-propagate.txt"), args.profile_rate)
                done = col.event("complete")
                if done is not None and res.propagate is None:
                    res.propagate = float(done["wall"]) - t0
                if res.ingest is not None and res.propagate is not None:
                    break
                time.sleep(dut.poll_interval)
            if prof is not None:
                prof.finish()
            hwm = proc_status(dut.pid, "VmHWM")
            res.rss_peak_mb = max(hwm or 0, peak_rss) / 1024
            if res.ingest is None:
                res.notes.append(f"ingest >timeout {timeout:.0f}s (DUT count {dut.last_count})")
            if res.propagate is None:
                prog = col.last_event("progress")
                res.notes.append(f"propagate >timeout {timeout:.0f}s (collector had "
                                 f"{prog['count'] if prog else 0})")
            if isinstance(dut, Frr) and dut.zebra is not None:
                z = proc_status(dut.zebra.pid, "VmHWM")
                if z is not None:
                    res.notes.append(f"zebra VmHWM {z / 1024:.0f} MB (not counted)")
        except (RunFailed, RuntimeError, TimeoutError, OSError, subprocess.TimeoutExpired) as exc:
            res.error = str(exc).splitlines()[0][:300]
            tail = dut.log_tail()
            print(f"  ! {daemon.name} N={n}: {exc}\n    DUT log tail:\n{_indent(tail)}", file=sys.stderr)
    res.wall_seconds = time.monotonic() - started
    return res


class RunFailed(Exception):
    """A helper or the DUT failed: ends the run at once (``wait_for`` does not retry it)."""


def _fail(proc: Proc, dut: Dut) -> bool:
    """Raise RunFailed if the helper or the DUT failed; else False (for ``x or _fail(...)``)."""
    why = proc.failure()
    if why:
        raise RunFailed(why)
    if not dut.alive():
        raise RunFailed(f"{dut.name} exited; log tail:\n{dut.log_tail()}")
    if not proc.alive():
        raise RunFailed(f"{proc.name} exited; log tail:\n{proc.tail()}")
    return False


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


# --- the profile summary ------------------------------------------------------------------------


def profile_top(path: Path, top: int = 10) -> list[tuple[str, float, float]]:
    """(function (file:line), self %, total %) from py-spy's raw output, by self time."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames and frames[0].startswith(("process ", "thread ")):
            frames = frames[1:]
        samples += count
        if frames:
            own[frames[-1]] += count
        for f in set(frames):
            total[f] += count
    if not samples:
        return []
    return [(f, 100.0 * c / samples, 100.0 * total[f] / samples) for f, c in own.most_common(top)]


def print_profile(prefix: Path) -> None:
    for phase in ("ingest", "propagate"):
        path = Path(f"{prefix}-{phase}.txt")
        if not path.exists():
            continue
        n = sum(int(line.rpartition(" ")[2]) for line in path.read_text().splitlines()
                if line.rpartition(" ")[2].isdigit())
        print(f"\npy-spy, gracebgpd {phase} phase ({n} samples), top 10 by own time:")
        print(f"| {'function (file:line)':<70} | own % | incl. % |")
        print(f"| {'-' * 70} | ---: | ---: |")
        for func, own, incl in profile_top(path):
            print(f"| {func:<70} | {own:5.1f} | {incl:6.1f} |")


# --- the table --------------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    """Median with a missing value (timeout) counted as +inf; None if that is the median."""
    if not values:
        return None
    m = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(m) else m


def summarize(results: list[RunResult]) -> list[dict[str, Any]]:
    rows = []
    for daemon in DAEMONS:
        for n in sorted({r.n for r in results}):
            runs = [r for r in results if r.daemon == daemon and r.n == n and r.error is None]
            errors = [r for r in results if r.daemon == daemon and r.n == n and r.error is not None]
            if not runs and not errors:
                continue
            growth = [r.growth_per_100k for r in runs if r.growth_per_100k is not None]
            rows.append({
                "daemon": daemon, "n": n, "runs": len(runs), "errors": len(errors),
                "ingest": _median([r.ingest for r in runs]),
                "propagate": _median([r.propagate for r in runs]),
                "growth": statistics.median(growth) if growth else None,
                "ingest_runs": [r.ingest for r in runs], "propagate_runs": [r.propagate for r in runs],
                "growth_runs": growth, "timeouts": any(r.ingest is None or r.propagate is None for r in runs),
            })
    return rows


def _fmt(v: float | None, digits: int = 2, timeout: bool = False) -> str:
    if v is None:
        return ">timeout" if timeout else "-"
    return f"{v:.{digits}f}"


def _ratio(v: float | None, ref: float | None) -> str:
    if v is None or ref is None or ref <= 0:
        return "-"
    return f"{v / ref:.2f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    ref = {r["n"]: r for r in rows if r["daemon"] == "gracebgpd"}
    print("\n| daemon | N | ingest s | propagate s | RSS growth MB/100k | ingest x grace | "
          "propagate x grace | RSS x grace | runs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        g = ref.get(r["n"], {})
        runs = f"{r['runs']}" + (f" (+{r['errors']} failed)" if r["errors"] else "")
        print(f"| {r['daemon']} | {r['n']:,} | {_fmt(r['ingest'], timeout=r['runs'] > 0)} | "
              f"{_fmt(r['propagate'], timeout=r['runs'] > 0)} | {_fmt(r['growth'], 1)} | "
              f"{_ratio(r['ingest'], g.get('ingest'))} | {_ratio(r['propagate'], g.get('propagate'))} | "
              f"{_ratio(r['growth'], g.get('growth'))} | {runs} |")
    print("\n(x grace: the daemon's figure divided by gracebgpd's at the same N; MB = 2^20 bytes)")


def print_targets(rows: list[dict[str, Any]]) -> None:
    g = {r["n"]: r for r in rows if r["daemon"] == "gracebgpd"}
    if 1_000_000 not in g:
        return
    r = g[1_000_000]

    def check(v: float | None, limit: float) -> str:
        return "no result" if v is None else ("met" if v <= limit else "NOT met")

    print(f"\ngracebgp targets at 1M: ingest <= 4 s: {check(r['ingest'], 4)}; propagate <= 6 s: "
          f"{check(r['propagate'], 6)}; RSS growth <= 30 MB/100k: {check(r['growth'], 30)}")


# --- main -------------------------------------------------------------------------------------


def _git(*args: str) -> str:
    return sh(["git", "-C", str(HERE.parent), *args], timeout=30).stdout.strip()


def _source_state() -> str:
    """The commit the working tree is at, and whether src/ has uncommitted changes (the
    installed gracebgpd runs the working tree; runs are only comparable on the same code)."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "src")
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return "(not a git checkout)"
    return f"working tree at commit {head}" + (" + uncommitted changes in src/" if dirty else "")


def snapshot(ref: str, base: Path) -> Path:
    """``src/`` of commit ``ref`` (``git archive``, read-only) under ``base``; returns its path."""
    out = base / "src.tar"
    with open(out, "wb") as fh:
        proc = subprocess.run(["git", "-C", str(HERE.parent), "archive", "--format=tar", ref, "src"],
                              stdout=fh, stderr=subprocess.PIPE, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace").strip())
    dest = base / "snapshot"
    with tarfile.open(out) as tar:
        tar.extractall(dest, filter="data")
    out.unlink()
    os.chmod(dest, 0o755)
    return dest / "src"


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def cpu_model() -> str:
    """The CPU's model name, for the header of a benchmark's output."""
    return next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")), platform.processor())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated route counts")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--daemons", default="gracebgpd,gobgpd,bird,frr")
    ap.add_argument("--runs-for", default="", metavar="DAEMON:N=RUNS,...",
                    help="override --runs for some daemon and size, e.g. gobgpd:1000000=1")
    ap.add_argument("--timeout", type=float, default=0.0,
                    help="seconds per run from the first UPDATE (default: 600 s per 1M routes, at least 60)")
    ap.add_argument("--hold-time", type=int, default=90,
                    help="hold time the injector/collector propose (0: no keepalives, but gobgpd then "
                         "times out every write at once)")
    ap.add_argument("--loopback", action="store_true",
                    help="no namespaces even as root (gracebgpd, gobgpd only)")
    ap.add_argument("--keep", action="store_true", help="keep each run's work directory (configs, logs)")
    ap.add_argument("--profile", type=Path, default=None, metavar="PREFIX",
                    help="py-spy gracebgpd: PREFIX-ingest.txt / PREFIX-propagate.txt (raw, by function)")
    ap.add_argument("--profile-rate", type=int, default=200)
    ap.add_argument("--ref", default=None, metavar="COMMIT",
                    help="run gracebgpd from this commit's src/ (git archive) instead of the working tree")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's result here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    names = [d.strip() for d in args.daemons.split(",") if d.strip()]
    unknown = [d for d in names if d not in DAEMONS]
    if unknown:
        ap.error(f"unknown daemons {unknown}; known: {', '.join(DAEMONS)}")
    overrides: dict[tuple[str, int], int] = {}
    for item in filter(None, (x.strip() for x in args.runs_for.split(","))):
        key, _, runs = item.partition("=")
        d, _, n = key.partition(":")
        overrides[(d, int(n))] = int(runs)
    args.netns = not args.loopback and netns_works()
    signal.signal(signal.SIGTERM, _on_sigterm)

    daemons: list[type[Dut]] = []
    for name in names:
        cls = DAEMONS[name]
        if cls.missing():
            print(f"skipping {name}: not installed ({', '.join(cls.missing())}; "
                  "apt-get install -y gobgpd bird2 frr)")
        elif cls.needs_netns and not args.netns:
            print(f"skipping {name}: needs root and network namespaces")
        elif cls is GraceBgpd and args.profile and shutil.which(str(VENV_BIN / "py-spy")) is None:
            ap.error("--profile needs py-spy in the virtualenv (pip install py-spy)")
        else:
            daemons.append(cls)

    cpu = cpu_model()
    print(f"routing benchmark: {os.cpu_count()} CPUs ({cpu}), {platform.python_implementation()} "
          f"{platform.python_version()}, {'network namespaces + veth' if args.netns else 'loopback'}; "
          f"sizes {sizes}, runs {args.runs}, hold time {args.hold_time}")
    base = Path(tempfile.mkdtemp(prefix="gracebgp-bench-"))
    os.chmod(base, 0o755)
    if args.ref:
        try:
            GraceBgpd.src = snapshot(args.ref, base)
        except (OSError, RuntimeError, subprocess.TimeoutExpired, tarfile.TarError) as exc:
            shutil.rmtree(base, ignore_errors=True)
            ap.error(f"--ref {args.ref}: {exc}")
        source = f"{args.ref} = commit {_git('rev-parse', '--short', args.ref)} (snapshot of its src/)"
    else:
        source = _source_state()
    print(f"gracebgp {source}")
    results: list[RunResult] = []
    started = time.monotonic()
    try:
        for n in sizes:
            stream = base / f"updates-{n}.bin"
            t = time.perf_counter()
            # On loopback the NEXT_HOP cannot be the injector's 127.0.0.2 (gobgpd treats such
            # UPDATEs as withdrawals: "invalid nexthop address"): a TEST-NET-1 address, never used.
            data = bgpio.build_updates(n, "10.253.0.2" if args.netns else "192.0.2.2")
            stream.write_bytes(data)
            print(f"\nN = {n:,}: {len(data) / 1e6:.1f} MB of UPDATEs pre-encoded in "
                  f"{time.perf_counter() - t:.1f} s")
            del data
            for cls in daemons:
                runs = overrides.get((cls.name, n), args.runs)
                for i in range(runs):
                    profile = args.profile if (cls is GraceBgpd and args.profile is not None) else None
                    r = run_once(cls, n, stream, args, base, profile)
                    results.append(r)
                    if cls is GraceBgpd and not args.ref and (now := _source_state()) != source:
                        r.notes.append(f"gracebgp now {now}")
                    extra = f" [{'; '.join(r.notes)}]" if r.notes else ""
                    print(f"  {cls.name:<9} N={n:<8,} run {i + 1}/{runs}: ingest {_fmt(r.ingest)} s, "
                          f"propagate {_fmt(r.propagate)} s, RSS {_fmt(r.rss_before_mb, 0)} -> "
                          f"{_fmt(r.rss_peak_mb, 0)} MB ({_fmt(r.growth_per_100k, 1)} MB/100k), "
                          f"load {r.loadavg_before}, {r.wall_seconds:.0f} s wall"
                          + (f" ERROR {r.error}" if r.error else "") + extra, flush=True)
                    if profile is not None:
                        args.profile = None  # one profiled run is enough
                        print_profile(profile)
            stream.unlink()
    except KeyboardInterrupt:
        print("\ninterrupted; results so far:", file=sys.stderr)
    finally:
        for lab in list(_LIVE):
            lab.close()
        if args.keep:
            print(f"work directories kept under {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    rows = summarize(results)
    print_table(rows)
    print_targets(rows)
    end_source = source if args.ref else _source_state()
    changed = "" if end_source == source else " -- CHANGED during the run: figures may mix code versions"
    print(f"\ntotal wall time {time.monotonic() - started:.0f} s; gracebgp {end_source}{changed}")
    if args.json is not None:
        args.json.write_text(json.dumps({"runs": [asdict(r) | {"growth_per_100k": r.growth_per_100k}
                                                  for r in results], "rows": rows}, indent=1))
    return 0 if results and all(r.error is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
