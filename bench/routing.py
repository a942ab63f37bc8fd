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
    python bench/routing.py --policy --daemons gracebgpd,bird,gobgpd  # issue 16: with policy
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import bgpio
from bench.daemons import DAEMONS, HERE, VENV_BIN, Bird, Dut, Frr, GoBgpd, GraceBgpd, usable_daemons
from bench.lab import Lab, Proc, _close_all, close_labs, netns_works, proc_status, sh, wait_for

# bench/api.py imports these from here (they lived here before bench/lab.py and bench/daemons.py)
__all__ = ["DAEMONS", "HERE", "VENV_BIN", "Bird", "Dut", "Frr", "GoBgpd", "GraceBgpd", "Lab", "Proc",
           "RunFailed", "_close_all", "netns_works", "proc_status", "sh", "snapshot", "wait_for"]

MB = 1 << 20

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
    #: CPU seconds the DUT used (user + system, /proc/PID/stat) from just before the first
    #: UPDATE until both phases were done: on a shared machine it moves far less than the
    #: wall-clock figures (BIRD, gobgpd: the daemon's process; FRR: bgpd)
    cpu: float | None = None
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


def run_once(daemon: type[Dut], n: int, stream: Path | list[Path], args: argparse.Namespace, base: Path,
             profile: Path | None, collectors: int = 1) -> RunResult:
    """One run: ``n`` routes in all, from one injector per stream (``bench/scale.py``: 100,
    each with its own prefixes) to ``collectors`` collectors, each expecting all ``n``."""
    streams = stream if isinstance(stream, list) else [stream]
    res = RunResult(daemon.name, n, profiled=profile is not None)
    res.loadavg_before = Path("/proc/loadavg").read_text().split(" ")[0]
    timeout = args.timeout if args.timeout else max(60.0, 600.0 * n / 1_000_000)
    started = time.monotonic()
    with Lab(args.netns, base, keep=args.keep, injectors=len(streams), collectors=collectors) as lab:
        dut = daemon(lab)
        try:
            dut.start()
            helper = [sys.executable, str(HERE / "bgpio.py")]
            common = ["--dut", lab.dut, "--port", str(lab.port), "--hold-time", str(args.hold_time)]
            col = lab.spawn("collector", lab.peer_ns,
                            [*helper, "collect", *common, "--local", *lab.collectors,
                             "--asn", str(bgpio.COLLECTOR_AS), "--expect", str(n)], pipes=True)
            wait_for(lambda: col.event("established") or _fail(col, dut), 60, "the collector's session")
            inj = lab.spawn("injector", lab.peer_ns,
                            [*helper, "inject", *common, "--local", *lab.injectors,
                             "--asn", str(bgpio.INJECTOR_AS), "--stream", *map(str, streams)], pipes=True)
            wait_for(lambda: inj.event("established") or _fail(inj, dut), 60, "the injector's session")
            # let the DUT settle (initial End-of-RIBs, session bookkeeping)
            time.sleep(3.0 if lab.multi else 1.0)
            before = proc_status(dut.pid, "VmRSS")
            res.rss_before_mb = before / 1024 if before is not None else None
            cpu_before = proc_cpu(dut.pid)
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
            cpu_after = proc_cpu(dut.pid)
            if cpu_before is not None and cpu_after is not None:
                res.cpu = cpu_after - cpu_before
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


def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (``/proc/PID/stat``), or None."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_summary(r: RunResult) -> str:
    """One run's figures, as the progress lines show them."""
    return (f"ingest {_fmt(r.ingest)} s, propagate {_fmt(r.propagate)} s, RSS {_fmt(r.rss_before_mb, 0)} -> "
            f"{_fmt(r.rss_peak_mb, 0)} MB ({_fmt(r.growth_per_100k, 1)} MB/100k), CPU {_fmt(r.cpu)} s, "
            f"load {r.loadavg_before}, {r.wall_seconds:.0f} s wall"
            + (f" ERROR {r.error}" if r.error else "") + (f" [{'; '.join(r.notes)}]" if r.notes else ""))


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
    ap.add_argument("--src", type=Path, default=None, metavar="DIR",
                    help="run gracebgpd from this source tree (a src/ directory) instead of the working tree")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's result here")
    ap.add_argument("--policy", action="store_true",
                    help="every daemon runs the import and export policy of bench/policyconf.py")
    args = ap.parse_args(argv)
    Dut.policy = args.policy
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

    daemons = usable_daemons(names, args.netns)
    if GraceBgpd in daemons and args.profile and shutil.which(str(VENV_BIN / "py-spy")) is None:
        ap.error("--profile needs py-spy in the virtualenv (pip install py-spy)")

    if args.ref and args.src:
        ap.error("--ref and --src: one source tree at a time")
    if args.src and not (args.src / "gracebgp" / "daemon.py").is_file():
        ap.error(f"--src {args.src}: no gracebgp/daemon.py in it")
    cpu = cpu_model()
    print(f"routing benchmark: {os.cpu_count()} CPUs ({cpu}), {platform.python_implementation()} "
          f"{platform.python_version()}, {'network namespaces + veth' if args.netns else 'loopback'}; "
          f"sizes {sizes}, runs {args.runs}, hold time {args.hold_time}"
          + ("; with the routing policy of bench/policyconf.py" if args.policy else ""))
    base = Path(tempfile.mkdtemp(prefix="gracebgp-bench-"))
    os.chmod(base, 0o755)
    if args.src:
        GraceBgpd.src = args.src.resolve()
        source = f"source tree {GraceBgpd.src}"
    elif args.ref:
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
                    if cls is GraceBgpd and not (args.ref or args.src) and (now := _source_state()) != source:
                        r.notes.append(f"gracebgp now {now}")
                    print(f"  {cls.name:<9} N={n:<8,} run {i + 1}/{runs}: {run_summary(r)}", flush=True)
                    if profile is not None:
                        args.profile = None  # one profiled run is enough
                        print_profile(profile)
            stream.unlink()
    except KeyboardInterrupt:
        print("\ninterrupted; results so far:", file=sys.stderr)
    finally:
        close_labs(base, args.keep)
    rows = summarize(results)
    print_table(rows)
    print_targets(rows)
    end_source = source if (args.ref or args.src) else _source_state()
    changed = "" if end_source == source else " -- CHANGED during the run: figures may mix code versions"
    print(f"\ntotal wall time {time.monotonic() - started:.0f} s; gracebgp {end_source}{changed}")
    if args.json is not None:
        args.json.write_text(json.dumps({"runs": [asdict(r) | {"growth_per_100k": r.growth_per_100k}
                                                  for r in results], "rows": rows}, indent=1))
    return 0 if results and all(r.error is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
