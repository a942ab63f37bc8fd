"""Routing daemons at scale: 100 peers; a graceful restart holding 1M routes (gracebgpd, BIRD, FRR, gobgpd).

Two scenarios, each run for every daemon in the same invocation, in the lab of
``bench/routing.py`` (two network namespaces joined by a veth pair, rebuilt for every run;
the DUT is AS 65000 with passive eBGP neighbors, IPv4 unicast, default policies):

* ``peers100``: 100 injectors (10.253.1.1-100, AS 65100, one process, one session each)
  each send their own ``--per-peer`` /24s (10,000: 1M in all; the same kind of UPDATEs as
  ``bench/routing.py``, each injector with its own prefix range and attribute sets, NEXT_HOP
  its own address) and the End-of-RIB, all at once; 10 collectors (10.253.2.1-10, AS 65200,
  one process) each receive all of them. Measured as in ``bench/routing.py``, from the first
  UPDATE write: *ingest*, until the DUT holds every route (gracebgpd: the End-of-RIB line of
  the last injector; the others polled: gobgpd's destinations, BIRD's networks, FRR's
  ``pfxRcd`` summed over the injectors); *propagate*, until every collector holds every
  route; the DUT's RSS growth per 100k routes. The DUT sends the injectors nothing: all are
  AS 65100, so gracebgpd and gobgpd leave them out (sender-side AS loop check), BIRD has
  ``export none`` and FRR ``route-map NONE out`` for them.
* ``restart``: one injector sends ``--routes`` (1M) to the DUT, which advertises them to one
  collector; both helpers and the DUT negotiate graceful restart (RFC 4724: Restart Time
  ``--restart-time``, ipv4-unicast). Once the collector holds them all, the DUT is
  restarted its own graceful way: gracebgpd ``gracebgp restart``; BIRD ``birdc graceful
  restart`` then ``bird -R``; FRR bgpd (8.4 has no planned restart) SIGKILL then start again
  with ``bgp graceful-restart preserve-fw-state``; gobgpd SIGKILL then ``gobgpd -r``. The
  helpers connect again; the injector re-sends its table and End-of-RIB, the collector
  sends its End-of-RIB and keeps the DUT's routes. Measured: from the restart command until
  the collector receives the DUT's ipv4-unicast End-of-RIB, and at that End-of-RIB how many
  routes the DUT announced again (must be all), how many the collector would purge as stale
  and how many withdrawals it saw in all (must be 0).

    python bench/scale.py                                        # both scenarios, full size
    python bench/scale.py --scenario peers100 --per-peer 1000 --runs 1   # quick look
    python bench/scale.py --scenario restart --routes 100000 --daemons gracebgpd,bird
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import bgpio
from bench.daemons import DAEMONS, HERE, Dut, usable_daemons
from bench.lab import Lab, Proc, close_labs, netns_works, proc_status, wait_for
from bench.routing import (
    RunFailed,
    RunResult,
    _fail,
    _fmt,
    _indent,
    _median,
    _on_sigterm,
    _source_state,
    cpu_model,
    print_table,
    run_once,
    run_summary,
    summarize,
)

# --- peers100 ---------------------------------------------------------------------------------


def build_streams(base: Path, injectors: int, per_peer: int, netns: bool) -> list[Path]:
    """One pre-encoded UPDATE stream per injector: its own /24s and attribute sets."""
    out = []
    for i in range(injectors):
        # loopback: a TEST-NET-1 NEXT_HOP, as bench/routing.py (gobgpd refuses 127.x)
        hop = f"10.253.1.{i + 1}" if netns else "192.0.2.2"
        path = base / f"inj{i + 1}.bin"
        path.write_bytes(bgpio.build_updates(per_peer, hop, seed=7 + i, start=i * per_peer))
        out.append(path)
    return out


def peers100(daemons: list[type[Dut]], args: argparse.Namespace, base: Path) -> list[RunResult]:
    total = args.injectors * args.per_peer
    t = time.perf_counter()
    streams = build_streams(base, args.injectors, args.per_peer, args.netns)
    print(f"\npeers100: {args.injectors} injectors x {args.per_peer:,} prefixes = {total:,} routes, "
          f"{args.collectors} collectors; {sum(s.stat().st_size for s in streams) / 1e6:.1f} MB of UPDATEs "
          f"pre-encoded in {time.perf_counter() - t:.1f} s", flush=True)
    results = []
    for cls in daemons:
        for i in range(runs_for(args, cls.name)):
            r = run_once(cls, total, streams, args, base, None, collectors=args.collectors)
            results.append(r)
            print(f"  {cls.name:<9} run {i + 1}: {run_summary(r)}", flush=True)
    for s in streams:
        s.unlink()
    return results


# --- restart ----------------------------------------------------------------------------------


@dataclass
class RestartResult:
    daemon: str
    n: int
    how: str = ""
    propagate: float | None = None  # before the restart, from the first UPDATE (as bench/routing.py)
    restart: float | None = None  # seconds from the restart command to the DUT's End-of-RIB
    down: float | None = None  # ... to the collector's session going down
    up: float | None = None  # ... to the collector's session being back
    announced_again: int | None = None  # routes the DUT announced on the new session before its EoR
    at_eor: int | None = None  # routes the collector holds after that End-of-RIB
    purged: int | None = None  # stale routes not announced again (the helper deletes them)
    withdrawn: int | None = None  # withdrawals the collector saw, over the whole run
    peer_gr: dict[str, Any] | None = None  # the DUT's GR capability in its OPEN after the restart
    rss_mb: float | None = None  # the DUT's VmRSS once its End-of-RIB is in
    error: str | None = None
    loadavg_before: str = ""
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def lossless(self) -> bool:
        return self.at_eor == self.n and self.announced_again == self.n and self.withdrawn == 0


def restart_once(daemon: type[Dut], n: int, stream: Path, args: argparse.Namespace,
                 base: Path) -> RestartResult:
    res = RestartResult(daemon.name, n)
    res.loadavg_before = Path("/proc/loadavg").read_text().split(" ")[0]
    timeout = args.timeout if args.timeout else max(60.0, 600.0 * n / 1_000_000)
    started = time.monotonic()
    with Lab(args.netns, base, keep=args.keep) as lab:
        dut = daemon(lab, gr=args.restart_time)
        try:
            dut.start()
            helper = [sys.executable, str(HERE / "bgpio.py")]
            common = ["--dut", lab.dut, "--port", str(lab.port), "--hold-time", str(args.hold_time),
                      "--graceful-restart", str(args.restart_time)]
            col = lab.spawn("collector", lab.peer_ns, [*helper, "collect", *common, "--local", lab.collector,
                                                       "--asn", str(bgpio.COLLECTOR_AS), "--expect", str(n)],
                            pipes=True)
            wait_for(lambda: col.event("established") or _fail(col, dut), 60, "the collector's session")
            inj = lab.spawn("injector", lab.peer_ns,
                            [*helper, "inject", *common, "--local", lab.injector,
                             "--asn", str(bgpio.INJECTOR_AS), "--stream", str(stream)], pipes=True)
            wait_for(lambda: inj.event("established") or _fail(inj, dut), 60, "the injector's session")
            time.sleep(1.0)
            inj.send("go")
            sent = wait_for(lambda: inj.event("sent") or _fail(inj, dut), timeout, "the injector to write")
            done = wait_for(lambda: col.event("complete") or _fail(col, dut), timeout,
                            "the collector to hold every route")
            res.propagate = float(done["wall"]) - float(sent["first_update"]["wall"])
            time.sleep(2.0)  # let the DUT finish its own bookkeeping (End-of-RIBs, timers)
            t0 = time.time()
            res.how = dut.restart()
            eor = wait_for(lambda: _new_eor(col) or _fail(col, dut) or _fail(inj, dut), timeout,
                           "the DUT's End-of-RIB after its restart")
            res.restart = float(eor["wall"]) - t0
            res.announced_again, res.at_eor = eor["announced_again"], eor["count"]
            res.purged, res.withdrawn = eor["purged"], eor["withdrawn"]
            rss = proc_status(dut.pid, "VmRSS")
            res.rss_mb = rss / 1024 if rss is not None else None
            down, up = col.event("session_down"), col.event("reestablished")
            res.down = float(down["wall"]) - t0 if down else None
            res.up = float(up["wall"]) - t0 if up else None
            res.peer_gr = up["peer"].get("gr") if up else None
            if down and not str(down.get("why", "")).startswith(("EOF", "closed")):
                res.notes.append(f"session ended by {down['why']}")
            resent = inj.event("resent")
            if resent is not None:
                res.notes.append(f"injector's table re-sent by +{float(resent['wall']) - t0:.2f} s")
            if len(col.events_named("session_down")) > 1:
                res.notes.append("the collector's session went down more than once")
        except (RunFailed, RuntimeError, TimeoutError, OSError, NotImplementedError) as exc:
            res.error = str(exc).splitlines()[0][:300]
            print(f"  ! {daemon.name} N={n}: {exc}\n    DUT log tail:\n{_indent(dut.log_tail())}",
                  file=sys.stderr)
    res.wall_seconds = time.monotonic() - started
    return res


def _new_eor(col: Proc) -> dict[str, Any] | None:
    """The collector's first "eor" event on a session after the first one."""
    return next((e for e in col.events_named("eor") if e.get("session", 1) > 1), None)


def restart_scenario(daemons: list[type[Dut]], args: argparse.Namespace, base: Path) -> list[RestartResult]:
    n = args.routes
    stream = base / "restart.bin"
    stream.write_bytes(bgpio.build_updates(n, "10.253.0.2" if args.netns else "192.0.2.2"))
    print(f"\nrestart: {n:,} routes from one injector, advertised to one collector; graceful restart "
          f"(Restart Time {args.restart_time} s) on every session", flush=True)
    results = []
    for cls in daemons:
        for i in range(runs_for(args, cls.name)):
            r = restart_once(cls, n, stream, args, base)
            results.append(r)
            gr = r.peer_gr or {}
            print(f"  {cls.name:<9} run {i + 1}: propagate {_fmt(r.propagate)} s; {r.how}: End-of-RIB after "
                  f"{_fmt(r.restart)} s (down +{_fmt(r.down)}, up +{_fmt(r.up)}); announced again "
                  f"{r.announced_again}, at EoR {r.at_eor}, purged {r.purged}, withdrawn {r.withdrawn}; "
                  f"DUT OPEN R={gr.get('r')} F={gr.get('f')}; load {r.loadavg_before}, "
                  f"{r.wall_seconds:.0f} s wall" + (f" ERROR {r.error}" if r.error else "")
                  + (f" [{'; '.join(r.notes)}]" if r.notes else ""), flush=True)
    stream.unlink()
    return results


def print_restart_table(results: list[RestartResult]) -> None:
    print("\n| daemon | N | restart -> End-of-RIB s | session back s | routes at EoR | withdrawn | "
          "lossless | propagate before s | how | runs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |")
    for name in DAEMONS:
        runs = [r for r in results if r.daemon == name and r.error is None]
        failed = len([r for r in results if r.daemon == name]) - len(runs)
        if not runs and not failed:
            continue
        at = sorted({r.at_eor for r in runs}, key=lambda v: -1 if v is None else v)
        wd = sorted({r.withdrawn for r in runs}, key=lambda v: -1 if v is None else v)
        lossless = "yes" if runs and all(r.lossless for r in runs) else "NO"
        n = f"{runs[0].n:,}" if runs else "-"
        print(f"| {name} | {n} | {_fmt(_median([r.restart for r in runs]))} | "
              f"{_fmt(_median([r.up for r in runs]))} | {'/'.join(map(str, at)) or '-'} | "
              f"{'/'.join(map(str, wd)) or '-'} | {lossless} | "
              f"{_fmt(_median([r.propagate for r in runs]))} | {runs[0].how if runs else '-'} | "
              f"{len(runs)}" + (f" (+{failed} failed)" if failed else "") + " |")


# --- main -------------------------------------------------------------------------------------


def runs_for(args: argparse.Namespace, daemon: str) -> int:
    return int(args.overrides.get(daemon, args.runs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=("peers100", "restart", "both"), default="both")
    ap.add_argument("--daemons", default="gracebgpd,bird,frr,gobgpd")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--runs-for", default="", metavar="DAEMON=RUNS,...", help="e.g. gobgpd=1")
    ap.add_argument("--injectors", type=int, default=100)
    ap.add_argument("--collectors", type=int, default=10)
    ap.add_argument("--per-peer", type=int, default=10_000, help="prefixes per injector (peers100)")
    ap.add_argument("--routes", type=int, default=1_000_000, help="routes in the restart scenario")
    ap.add_argument("--restart-time", type=int, default=120, help="RFC 4724 Restart Time everyone offers")
    ap.add_argument("--timeout", type=float, default=0.0,
                    help="seconds per phase (default: 600 s per 1M routes, at least 60)")
    ap.add_argument("--hold-time", type=int, default=90)
    ap.add_argument("--loopback", action="store_true", help="no namespaces even as root (gracebgpd, gobgpd)")
    ap.add_argument("--keep", action="store_true", help="keep each run's work directory")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's result here")
    args = ap.parse_args(argv)
    args.overrides = {d.strip(): int(r) for d, _, r in (x.partition("=") for x in args.runs_for.split(",")
                                                         if x.strip())}
    args.profile_rate = 0  # run_once's profiler is not used here
    names = [d.strip() for d in args.daemons.split(",") if d.strip()]
    if unknown := [d for d in names if d not in DAEMONS]:
        ap.error(f"unknown daemons {unknown}; known: {', '.join(DAEMONS)}")
    args.netns = not args.loopback and netns_works()
    signal.signal(signal.SIGTERM, _on_sigterm)
    daemons = usable_daemons(names, args.netns)
    source = _source_state()
    print(f"scale benchmark: {os.cpu_count()} CPUs ({cpu_model()}), {platform.python_implementation()} "
          f"{platform.python_version()}, {'network namespaces + veth' if args.netns else 'loopback'}; "
          f"runs {args.runs} {args.overrides or ''}; gracebgp {source}")
    print(f"uptime: {Path('/proc/loadavg').read_text().strip()}")
    base = Path(tempfile.mkdtemp(prefix="gracebgp-scale-"))
    os.chmod(base, 0o755)
    started = time.monotonic()
    peers: list[RunResult] = []
    restarts: list[RestartResult] = []
    try:
        if args.scenario in ("peers100", "both"):
            peers = peers100(daemons, args, base)
        if args.scenario in ("restart", "both"):
            restarts = restart_scenario(daemons, args, base)
    except KeyboardInterrupt:
        print("\ninterrupted; results so far:", file=sys.stderr)
    finally:
        close_labs(base, args.keep)
    if peers:
        print(f"\npeers100 ({args.injectors} injectors x {args.per_peer:,}, {args.collectors} collectors; "
              "N = routes in all, each collector gets all N):")
        print_table(summarize(peers))
    if restarts:
        print_restart_table(restarts)
    end = _source_state()
    print(f"\ntotal wall time {time.monotonic() - started:.0f} s; load now "
          f"{Path('/proc/loadavg').read_text().strip()}; gracebgp {end}"
          + ("" if end == source else " -- CHANGED during the run"))
    if args.json is not None:
        args.json.write_text(json.dumps({
            "peers100": [asdict(r) | {"growth_per_100k": r.growth_per_100k} for r in peers],
            "restart": [asdict(r) | {"lossless": r.lossless} for r in restarts]}, indent=1))
    ok = [r.error is None for r in peers] + [r.error is None for r in restarts]
    return 0 if ok and all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
