"""The API, end to end: AddPaths and ListPaths through gracebgpd's HTTP/JSON API, with gobgpd and BIRD.

Two parts, each run ``--runs`` times on a freshly started daemon (medians are reported):

**add** (no BGP sessions; gracebgpd and gobgpd on loopback, BIRD in a network namespace):

* gracebgpd, ``POST /v1/paths`` over the Unix socket (``[gracebgp] api-socket``) with
  ``{"paths": [{"prefix": "20.0.0.0/24"}, ...]}``, ``--add`` /24s from 20.0.0.0. Timed: the
  whole call, from building the JSON text (``json.dumps`` of plain dicts) to the parsed
  answer, with httpx (``HTTPTransport(uds=...)``); the serialisation alone is reported too.
  Three variants: one call of ``--add`` prefixes; ``--add / --batch`` calls of ``--batch``;
  one call through ``gracebgp.api.client.Client.add_paths`` (builds ``PathSpec`` models,
  serialises with pydantic), when that module imports;
* gobgpd: its CLI adds one prefix per invocation, so ``--gobgp-invocations`` sequential
  ``gobgp global rib add PREFIX -a ipv4`` are timed (per invocation, also extrapolated to
  ``--add``); and its bulk path, ``gobgp mrt inject global FILE``, with an MRT TABLE_DUMP_V2
  file of ``--add`` /24s (ORIGIN IGP, AS_PATH 65100, NEXT_HOP 192.0.2.2) written here:
  timed until the CLI exits and until ``gobgp global rib summary`` shows all of them or stops
  changing for 2 s (the record count is given: without it gobgp 3.10 injects only the first
  record; even so it loses some, ~1% of 100k and up to 93% of 500, a different number each
  time: reported);
* BIRD has no API to add routes. For reference only: the same prefixes as a
  ``protocol static`` (``route P blackhole;``) appended to its configuration and applied with
  ``birdc configure``, timed until ``show protocols all`` counts them imported.

Every variant then counts the routes the daemon holds (all ``--add`` of them, or an error;
gobgp's MRT path is reported with the count it reached).

**list**: ``--routes`` IPv4 /24s are fed to the daemon the way ``bench/routing.py`` feeds
them (its lab, daemons and injector: an eBGP peer writing pre-encoded UPDATEs, in a network
namespace when root). Once the daemon holds them all and its RSS has settled (changes under
1 MB over 1.5 s, at most 30 s; nothing can make gracebgpd or gobgpd collect garbage from
outside), ``VmHWM`` is reset (``5`` into ``/proc/PID/clear_refs``), ``VmRSS`` is read as the
baseline and then sampled every 10 ms while the whole table is listed:

* gracebgpd: ``GET /v1/paths`` (the Loc-RIB, NDJSON), read with httpx to the last byte,
  counting lines (not parsing them); the time to the first byte is reported too;
* gobgpd: ``gobgp global rib -a ipv4`` (its CLI over gRPC), output read through a pipe;
* BIRD: ``birdc show route``, output read through a pipe.

RSS growth = max(``VmHWM`` after, highest sample) - baseline, in MB (2^20 bytes), of the
daemon's process only (not the client's).

    python bench/api.py                                         # add 100k, list 1M, 3 runs, all daemons
    python bench/api.py --routes 100000 --runs 1                # quick look
    python bench/api.py --daemons gracebgpd --parts add --profile /tmp/api   # py-spy profiles
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import bgpio, routing
from bench.routing import Bird, Dut, GoBgpd, GraceBgpd, Lab, Proc, proc_status, sh, wait_for

MB = 1 << 20
ADD_FIRST = 20 << 24  # AddPaths prefixes: /24s from 20.0.0.0 (the injector uses 11.0.0.0 up)
MRT_NEXT_HOP = "192.0.2.2"
DAEMONS: dict[str, type[Dut]] = {"gracebgpd": GraceBgpd, "gobgpd": GoBgpd, "bird": Bird}
PARTS = ("add", "list")


def prefixes(n: int, first: int = ADD_FIRST) -> list[str]:
    """``n`` consecutive IPv4 /24s from ``first`` as text."""
    out = []
    for i in range(n):
        a = first + (i << 8)
        out.append(f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.0/24")
    return out


# --- results ----------------------------------------------------------------------------------


@dataclass
class Result:
    """One timed operation on one freshly started daemon."""

    daemon: str
    part: str  # add | list
    variant: str  # what exactly was timed (the table's row)
    seconds: float | None = None
    extra: dict[str, float] = field(default_factory=dict)  # other figures: serialise s, first byte s, ...
    rss_growth_mb: float | None = None
    rss_base_mb: float | None = None
    count: int | None = None  # routes the daemon held / lines listed
    error: str | None = None
    notes: list[str] = field(default_factory=list)


# --- memory -------------------------------------------------------------------------------------


def settle(pid: int, timeout: float = 30.0, window: float = 1.5, tolerance_kb: int = 1024) -> int:
    """Wait (bounded) until the RSS of ``pid`` changes by less than ``tolerance_kb`` over
    ``window`` seconds; return it in kB."""
    deadline = time.monotonic() + timeout
    samples: list[tuple[float, int]] = []
    while True:
        rss = proc_status(pid, "VmRSS")
        if rss is None:
            raise RuntimeError(f"process {pid} is gone")
        now = time.monotonic()
        samples.append((now, rss))
        recent = [r for t, r in samples if now - t <= window]
        if now - samples[0][0] >= window and max(recent) - min(recent) < tolerance_kb:
            return rss
        if now >= deadline:
            return rss
        time.sleep(0.25)


class RssWatch:
    """Peak RSS of a process while a block runs: resets ``VmHWM``, samples ``VmRSS`` every
    ``interval`` s in a thread, and reads ``VmHWM`` at the end (all in kB)."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.base = 0
        self.peak = 0
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RssWatch:
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.base = proc_status(self.pid, "VmRSS") or 0
        self.peak = self.base
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            rss = proc_status(self.pid, "VmRSS")
            if rss is not None and rss > self.peak:
                self.peak = rss

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        hwm = proc_status(self.pid, "VmHWM")
        if self.hwm_reset and hwm is not None:
            self.peak = max(self.peak, hwm)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 1024


# --- gracebgpd's API ----------------------------------------------------------------------------


class Api:
    """httpx over gracebgpd's Unix socket."""

    def __init__(self, socket: Path, timeout: float) -> None:
        self.socket = socket
        self.http = httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://gracebgpd",
                                 timeout=httpx.Timeout(timeout, connect=5.0))

    def close(self) -> None:
        self.http.close()

    def ready(self) -> bool:
        return self.socket.exists() and self.http.get("/v1/global").status_code == 200

    def loc_prefixes(self) -> int:
        rib = self.http.get("/v1/global").json()["rib"]
        return sum(int(r["prefixes"]) for r in rib if r["family"] == "ipv4-unicast")

    def add(self, prefix_list: list[str]) -> tuple[float, float]:
        """One AddPaths call with plain dicts; (serialise s, whole call s)."""
        t0 = time.perf_counter()
        body = json.dumps({"paths": [{"prefix": p} for p in prefix_list]}).encode()
        t1 = time.perf_counter()
        answer = self.http.post("/v1/paths", content=body, headers={"Content-Type": "application/json"})
        if answer.status_code != 200:
            raise RuntimeError(f"AddPaths answered {answer.status_code}: {answer.text[:300]}")
        changed = int(answer.json()["changed"])
        t2 = time.perf_counter()
        if changed != len(prefix_list):
            raise RuntimeError(f"AddPaths changed {changed} of {len(prefix_list)}")
        return t1 - t0, t2 - t0

    def stream_paths(self) -> tuple[float, float, int, int]:
        """GET /v1/paths to the last byte: (first byte s, total s, lines, octets)."""
        lines = octets = 0
        first: float | None = None
        t0 = time.perf_counter()
        with self.http.stream("GET", "/v1/paths", params={"table": "loc", "family": "ipv4-unicast"}) as resp:
            if resp.status_code != 200:
                resp.read()
                raise RuntimeError(f"ListPaths answered {resp.status_code}: {resp.text[:300]}")
            for chunk in resp.iter_raw():
                if first is None:
                    first = time.perf_counter() - t0
                lines += chunk.count(b"\n")
                octets += len(chunk)
        return first or 0.0, time.perf_counter() - t0, lines, octets


def start_gracebgpd(lab: Lab, timeout: float) -> tuple[GraceBgpd, Api]:
    dut = GraceBgpd(lab)
    dut.start()
    api = Api(lab.workdir / "g.sock", timeout)
    wait_for(lambda: _alive(dut) and api.ready(), 30, "gracebgpd's API socket")
    return dut, api


def _alive(dut: Dut) -> bool:
    if not dut.alive():
        raise RuntimeError(f"{dut.name} exited; log tail:\n{dut.log_tail()}")
    return True


def client_add(socket: Path, prefix_list: list[str], timeout: float) -> float | None:
    """One AddPaths call through ``gracebgp.api.client.Client`` (PathSpec models); None if the
    client does not import."""
    try:
        from gracebgp.api.client import Client  # noqa: PLC0415 - optional, may not exist yet
        from gracebgp.api.schema import PathSpec  # noqa: PLC0415
    except ImportError:
        return None
    t0 = time.perf_counter()
    with Client(f"unix:{socket}", timeout=timeout) as client:
        answer = client.add_paths([PathSpec(prefix=p) for p in prefix_list])
    elapsed = time.perf_counter() - t0
    if answer.changed != len(prefix_list):
        raise RuntimeError(f"Client.add_paths changed {answer.changed} of {len(prefix_list)}")
    return elapsed


# --- gobgpd ---------------------------------------------------------------------------------------


def gobgp(lab: Lab, *args: str) -> list[str]:
    return lab.wrap(lab.dut_ns, ["gobgp", "-u", "127.0.0.1", "-p", str(lab.api_port), *args])


def gobgp_destinations(lab: Lab) -> int | None:
    out = sh(gobgp(lab, "global", "rib", "summary", "-a", "ipv4"), timeout=60).stdout
    m = re.search(r"Destination:\s*(\d+)", out)
    return int(m.group(1)) if m else None


def gobgp_count(lab: Lab) -> int:
    return gobgp_destinations(lab) or 0


def mrt_table_dump(prefix_list: list[str], next_hop: str = MRT_NEXT_HOP, peer_as: int = bgpio.INJECTOR_AS,
                   stamp: int = 0) -> bytes:
    """An MRT TABLE_DUMP_V2 file (RFC 6396 §4.3): a PEER_INDEX_TABLE with one IPv4 peer
    (4-octet AS), then one RIB_IPV4_UNICAST record per prefix with one entry from that peer
    carrying ORIGIN IGP, AS_PATH (peer_as) and NEXT_HOP."""
    table_dump_v2, peer_index_table, rib_ipv4_unicast = 13, 1, 2

    def record(subtype: int, body: bytes) -> bytes:
        return struct.pack("!IHHI", stamp, table_dump_v2, subtype, len(body)) + body

    nh = bytes(int(x) for x in next_hop.split("."))
    # peer type 0x02: IPv4 address, 4-octet AS (§4.3.1)
    peer = struct.pack("!B4s4sI", 0x02, nh, nh, peer_as)
    out = [record(peer_index_table, struct.pack("!4sHH", nh, 0, 1) + peer)]
    attrs = (bytes([0x40, 1, 1, 0])  # ORIGIN IGP
             + bytes([0x40, 2, 6, 2, 1]) + struct.pack("!I", peer_as)  # AS_PATH: one AS_SEQUENCE, 4-octet
             + bytes([0x40, 3, 4]) + nh)  # NEXT_HOP
    entry = struct.pack("!HIH", 0, stamp, len(attrs)) + attrs
    for seq, text in enumerate(prefix_list):
        addr, _, length = text.partition("/")
        plen = int(length)
        octets = bytes(int(x) for x in addr.split("."))[:(plen + 7) // 8]
        body = struct.pack("!IB", seq, plen) + octets + struct.pack("!H", 1) + entry
        out.append(record(rib_ipv4_unicast, body))
    return b"".join(out)


def settle_count(count: Callable[[], int], n: int, timeout: float, quiet: float = 2.0) -> float:
    """Poll ``count`` until it reaches ``n`` or stops changing for ``quiet`` s (bounded);
    return the ``time.perf_counter()`` at which it last changed (or reached ``n``)."""
    deadline = time.monotonic() + timeout
    last, changed = count(), time.perf_counter()
    while last < n and time.monotonic() < deadline and time.perf_counter() - changed < quiet:
        time.sleep(0.1)
        now = count()
        if now != last:
            last, changed = now, time.perf_counter()
    return changed


# --- BIRD -----------------------------------------------------------------------------------------


def bird_imported(dut: Bird, protocol: str) -> int | None:
    m = re.search(r"Routes:\s+(\d+) imported", dut.birdc("show", "protocols", "all", protocol))
    return int(m.group(1)) if m else None


# --- the add part -----------------------------------------------------------------------------------


def add_gracebgpd(args: argparse.Namespace, base: Path, plist: list[str],
                  profile: Path | None) -> list[Result]:
    n = len(plist)
    batches = [plist[i:i + args.batch] for i in range(0, n, args.batch)]
    variants: list[tuple[str, str]] = [
        ("one", f"AddPaths, 1 call of {n:,} (httpx + json.dumps)"),
        ("batches", f"AddPaths, {len(batches)} calls of {args.batch:,} (httpx + json.dumps)"),
        ("client", f"AddPaths, 1 call of {n:,} via gracebgp.api.client.Client (PathSpec models)"),
    ]
    out = []
    for key, variant in variants:
        res = Result("gracebgpd", "add", variant)
        out.append(res)
        with Lab(False, base, keep=args.keep) as lab:
            api: Api | None = None
            try:
                dut, api = start_gracebgpd(lab, args.timeout)
                time.sleep(0.5)
                prof = (routing.Profiler(lab, dut.pid, Path(f"{profile}-add.txt"), args.profile_rate)
                        if profile is not None and key == "one" else None)
                with RssWatch(dut.pid, interval=0.05) as watch:
                    if key == "one":
                        ser, res.seconds = api.add(plist)
                        res.extra["serialise"] = ser
                    elif key == "batches":
                        total = ser = 0.0
                        for b in batches:
                            s, t = api.add(b)
                            ser += s
                            total += t
                        res.seconds, res.extra["serialise"] = total, ser
                    else:
                        res.seconds = client_add(api.socket, plist, args.timeout)
                        if res.seconds is None:
                            res.error = "gracebgp.api.client does not import"
                            continue
                if prof is not None:
                    prof.finish()
                res.rss_growth_mb, res.rss_base_mb = watch.growth_mb, watch.base / 1024
                res.count = api.loc_prefixes()
                if res.count != n:
                    res.error = f"the Loc-RIB holds {res.count} of {n}"
            except (RuntimeError, TimeoutError, OSError, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
                res.error = _first_line(exc)
            finally:
                if api is not None:
                    api.close()
    return out


def add_gobgpd(args: argparse.Namespace, base: Path, plist: list[str], mrt: Path) -> list[Result]:
    n = len(plist)
    k = min(args.gobgp_invocations, n)
    one = Result("gobgpd", "add", f"gobgp global rib add: {k:,} invocations of 1 prefix (sequential)")
    bulk = Result("gobgpd", "add", f"gobgp mrt inject global: {n:,} prefixes from an MRT file")
    for res in (one, bulk):
        with Lab(False, base, keep=args.keep) as lab:
            dut = GoBgpd(lab)
            try:
                dut.start()
                time.sleep(0.5)
                with RssWatch(dut.pid, interval=0.05) as watch:
                    if res is one:
                        t0 = time.perf_counter()
                        for p in plist[:k]:
                            sh(gobgp(lab, "global", "rib", "add", p, "-a", "ipv4"), timeout=30)
                        res.seconds = time.perf_counter() - t0
                        res.extra["per_invocation_ms"] = 1000 * res.seconds / k
                        res.extra[f"extrapolated_{n}"] = res.seconds * n / k
                        want = k
                    else:
                        t0 = time.perf_counter()
                        # gobgp 3.10 injects only the first record unless given the count
                        sh(gobgp(lab, "mrt", "inject", "global", str(mrt), str(n)), timeout=args.timeout)
                        res.extra["cli_exit"] = time.perf_counter() - t0
                        res.seconds = settle_count(functools.partial(gobgp_count, lab), n, args.timeout) - t0
                        want = n
                res.rss_growth_mb, res.rss_base_mb = watch.growth_mb, watch.base / 1024
                res.count = gobgp_destinations(lab)
                if res.count != want and res is bulk and res.count:
                    res.notes.append(f"routes lost: gobgpd holds fewer than {want:,}")
                elif res.count != want:
                    res.error = f"gobgpd holds {res.count} of {want}"
            except (RuntimeError, TimeoutError, OSError, subprocess.TimeoutExpired) as exc:
                res.error = _first_line(exc)
    return [one, bulk]


def add_bird(args: argparse.Namespace, base: Path, plist: list[str]) -> list[Result]:
    n = len(plist)
    res = Result("bird", "add", f"no API; reference: protocol static of {n:,} routes + birdc configure")
    with Lab(True, base, keep=args.keep) as lab:
        dut = Bird(lab)
        try:
            dut.start()
            conf = dut.dir / "bird.conf"
            routes = [f"  route {p} blackhole;" for p in plist]
            static = "\n".join(["protocol static st {", "  ipv4;", *routes, "}", ""])
            conf.write_text(dut.config() + static)
            with RssWatch(dut.pid, interval=0.05) as watch:
                t0 = time.perf_counter()
                answer = dut.birdc("configure")
                if "onfigur" not in answer:
                    raise RuntimeError(f"birdc configure: {answer.strip()[:200]}")
                wait_for(lambda: _alive(dut) and (bird_imported(dut, "st") or 0) >= n, args.timeout,
                         "BIRD to import the static routes", interval=0.05)
                res.seconds = time.perf_counter() - t0
            res.rss_growth_mb, res.rss_base_mb = watch.growth_mb, watch.base / 1024
            res.count = bird_imported(dut, "st")
        except (RuntimeError, TimeoutError, OSError, subprocess.TimeoutExpired) as exc:
            res.error = _first_line(exc)
    return [res]


# --- the list part ----------------------------------------------------------------------------------


def load_routes(lab: Lab, dut: Dut, stream: Path, n: int, timeout: float) -> float:
    """Feed ``n`` routes through the injector (``bench/bgpio.py``), as ``bench/routing.py`` does;
    return the seconds until the daemon holds them all (bounded)."""
    helper = [sys.executable, str(routing.HERE / "bgpio.py")]
    common = ["--dut", lab.dut, "--port", str(lab.port), "--hold-time", "90"]
    inj: Proc = lab.spawn("injector", lab.peer_ns, [*helper, "inject", *common, "--local", lab.injector,
                                                    "--asn", str(bgpio.INJECTOR_AS), "--stream", str(stream)],
                          pipes=True)
    wait_for(lambda: inj.event("established") or _helper_failed(inj, dut), 60, "the injector's session")
    time.sleep(0.5)
    inj.send("go")
    t0 = time.monotonic()

    def done() -> bool:
        _helper_failed(inj, dut)
        return dut.ingest_done(n) is not None

    wait_for(done, timeout, f"{dut.name} to hold {n} routes", interval=dut.poll_interval)
    return time.monotonic() - t0


def _helper_failed(proc: Proc, dut: Dut) -> bool:
    why = proc.failure()
    if why:
        raise routing.RunFailed(why)
    if not proc.alive():
        raise routing.RunFailed(f"{proc.name} exited; log tail:\n{proc.tail()}")
    _alive(dut)
    return False


def count_lines(argv: list[str], timeout: float, is_route: Callable[[bytes], bool]) -> tuple[float, int, int]:
    """Run a CLI, read its output through a pipe (bounded): (seconds, route lines, octets)."""
    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout
    routes = octets = 0
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    timer = threading.Timer(timeout, _kill_group, (proc.pid,))
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            octets += len(line)
            if is_route(line):
                routes += 1
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        err = proc.stderr.read().decode(errors="replace") if proc.stderr is not None else ""
    finally:
        timer.cancel()
        _kill_group(proc.pid)
        proc.wait(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    if time.monotonic() >= deadline:
        raise TimeoutError(f"{argv[-3:]} did not finish within {timeout:.0f} s")
    if rc != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {rc}: {err.strip()[:200]}")
    return time.perf_counter() - t0, routes, octets


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def list_once(cls: type[Dut], args: argparse.Namespace, base: Path, stream: Path, n: int,
              profile: Path | None) -> Result:
    variant = {GraceBgpd: f"GET /v1/paths (Loc-RIB, NDJSON) of {n:,} routes, read to the last byte",
               GoBgpd: f"gobgp global rib -a ipv4 ({n:,} routes), output read through a pipe",
               Bird: f"birdc show route ({n:,} routes), output read through a pipe"}[cls]
    res = Result(cls.name, "list", variant)
    with Lab(args.netns, base, keep=args.keep) as lab:
        dut = cls(lab)
        api: Api | None = None
        try:
            if cls is GraceBgpd:
                assert isinstance(dut, GraceBgpd)
                dut.start()
                api = Api(lab.workdir / "g.sock", args.timeout)
                wait_for(lambda: _alive(dut) and api is not None and api.ready(), 30,
                         "gracebgpd's API socket")
            else:
                dut.start()
            res.extra["load"] = load_routes(lab, dut, stream, n, args.timeout)
            settle(dut.pid)
            prof = (routing.Profiler(lab, dut.pid, Path(f"{profile}-list.txt"), args.profile_rate)
                    if profile is not None else None)
            with RssWatch(dut.pid) as watch:
                if api is not None:
                    first, res.seconds, res.count, octets = api.stream_paths()
                    res.extra["first_byte"] = first
                elif isinstance(dut, GoBgpd):
                    res.seconds, res.count, octets = count_lines(
                        gobgp(lab, "global", "rib", "-a", "ipv4"), args.timeout,
                        lambda line: line.startswith(b"*"))
                else:
                    assert isinstance(dut, Bird)
                    res.seconds, res.count, octets = count_lines(
                        ["birdc", "-s", str(dut.socket), "show", "route"], args.timeout,
                        lambda line: line[:1].isdigit() and b"/" in line.split(b" ", 1)[0])
            if prof is not None:
                prof.finish()
            res.extra["MB_listed"] = octets / MB
            res.rss_growth_mb, res.rss_base_mb = watch.growth_mb, watch.base / 1024
            if not watch.hwm_reset:
                res.notes.append("VmHWM could not be reset: growth from 10 ms samples only")
            if res.count != n:
                res.error = f"listed {res.count} of {n} routes"
        except (routing.RunFailed, RuntimeError, TimeoutError, OSError, httpx.HTTPError,
                subprocess.TimeoutExpired) as exc:
            res.error = _first_line(exc)
            print(f"  ! {cls.name} list: {exc}\n    log tail:\n{routing._indent(dut.log_tail())}",
                  file=sys.stderr)
        finally:
            if api is not None:
                api.close()
    return res


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


# --- the table --------------------------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _f(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def summarize(results: list[Result]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    keys: list[tuple[str, str, str]] = []
    for r in results:
        if (r.part, r.daemon, r.variant) not in keys:
            keys.append((r.part, r.daemon, r.variant))
    for part, daemon, variant in keys:
        runs = [r for r in results if (r.part, r.daemon, r.variant) == (part, daemon, variant)]
        ok = [r for r in runs if r.error is None and r.seconds is not None]
        extras: dict[str, float | None] = {}
        for name in dict.fromkeys(k for r in ok for k in r.extra):
            extras[name] = _median([r.extra[name] for r in ok if name in r.extra])
        rows.append({
            "part": part, "daemon": daemon, "variant": variant, "runs": len(ok),
            "failed": len(runs) - len(ok),
            "seconds": _median([r.seconds for r in ok if r.seconds is not None]),
            "seconds_runs": [r.seconds for r in ok],
            "rss_growth_mb": _median([r.rss_growth_mb for r in ok if r.rss_growth_mb is not None]),
            "rss_runs": [r.rss_growth_mb for r in ok],
            "count": _median([float(r.count) for r in ok if r.count is not None]),
            "count_runs": [r.count for r in ok],
            "extra": extras,
            "errors": sorted({r.error for r in runs if r.error}),
            "notes": sorted({n for r in runs for n in r.notes}),
        })
    return rows


def _extra_text(extra: Mapping[str, float | None]) -> str:
    parts = []
    for name, v in extra.items():
        if v is None:
            continue
        if name == "per_invocation_ms":
            parts.append(f"{v:.1f} ms per invocation")
        elif name.startswith("extrapolated_"):
            parts.append(f"{v:,.0f} s extrapolated to {int(name.split('_')[1]):,}")
        elif name == "MB_listed":
            parts.append(f"{v:,.0f} MB of output")
        elif name == "load":
            parts.append(f"loaded via BGP in {v:.1f} s")
        else:
            parts.append(f"{name.replace('_', ' ')} {v:.2f} s")
    return "; ".join(parts)


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| part | daemon | what was timed | s (median) | runs (s) | daemon RSS growth MB | routes "
          "| other |")
    print("| --- | --- | --- | ---: | --- | ---: | ---: | --- |")
    for r in rows:
        runs = ", ".join(_f(s) for s in r["seconds_runs"])
        if r["failed"]:
            runs += f" (+{r['failed']} failed)"
        count = "-" if r["count"] is None else f"{int(r['count']):,}"
        counts = {c for c in r["count_runs"] if c is not None}
        if len(counts) > 1:
            count = f"{min(counts):,}-{max(counts):,}"
        other = "; ".join(filter(None, [_extra_text(r["extra"]), *r["notes"],
                                        *(f"error: {e}" for e in r["errors"])]))
        print(f"| {r['part']} | {r['daemon']} | {r['variant']} | {_f(r['seconds'])} | {runs} | "
              f"{_f(r['rss_growth_mb'], 1)} | {count} | {other} |")
    print("\n(MB = 2^20 bytes; RSS growth: peak VmHWM/VmRSS during the operation minus VmRSS just before)")


def print_targets(rows: list[dict[str, Any]], add_n: int, routes_n: int) -> None:
    g = {r["variant"]: r for r in rows if r["daemon"] == "gracebgpd"}

    def check(v: float | None, limit: float) -> str:
        return "no result" if v is None else ("met" if v < limit else "NOT met")

    one = next((r for v, r in g.items() if v.startswith("AddPaths, 1 call") and "Client" not in v), None)
    lst = next((r for v, r in g.items() if v.startswith("GET /v1/paths")), None)
    if one is not None and add_n == 100_000:
        print(f"target: AddPaths of 100k < 3 s: {check(one['seconds'], 3.0)} ({_f(one['seconds'])} s)")
    if lst is not None and routes_n == 1_000_000:
        print(f"target: streaming 1M routes adds < 50 MB RSS: {check(lst['rss_growth_mb'], 50.0)} "
              f"({_f(lst['rss_growth_mb'], 1)} MB)")


def print_profile(path: Path) -> None:
    if not path.exists():
        return
    top = routing.profile_top(path, 15)
    samples = sum(int(line.rpartition(" ")[2]) for line in path.read_text().splitlines()
                  if line.rpartition(" ")[2].isdigit())
    print(f"\npy-spy {path.name} ({samples} samples), top 15 by own time:")
    print(f"| {'function (file:line)':<70} | own % | incl. % |")
    print(f"| {'-' * 70} | ---: | ---: |")
    for func, own, incl in top:
        print(f"| {func:<70} | {own:5.1f} | {incl:6.1f} |")


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--add", type=int, default=100_000,
                    help="prefixes added in the add part (default 100000)")
    ap.add_argument("--batch", type=int, default=10_000,
                    help="prefixes per call in the batched AddPaths variant (default 10000)")
    ap.add_argument("--routes", type=int, default=1_000_000,
                    help="routes loaded and listed in the list part (default 1000000)")
    ap.add_argument("--runs", type=int, default=3, help="fresh daemons per measurement (default 3)")
    ap.add_argument("--runs-for", default="", metavar="DAEMON=RUNS,...",
                    help="override --runs in the list part for some daemons, e.g. gobgpd=1")
    ap.add_argument("--daemons", default="gracebgpd,gobgpd,bird", help="comma-separated (default: all three)")
    ap.add_argument("--parts", default="add,list", help="add, list or both (default add,list)")
    ap.add_argument("--gobgp-invocations", type=int, default=1000,
                    help="sequential `gobgp global rib add` invocations timed (default 1000)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="bound on every wait and call, s (default 600)")
    ap.add_argument("--loopback", action="store_true",
                    help="list part without network namespaces even as root (BIRD is then skipped)")
    ap.add_argument("--profile", type=Path, default=None, metavar="PREFIX",
                    help="py-spy gracebgpd once per part: PREFIX-add.txt, PREFIX-list.txt (raw)")
    ap.add_argument("--profile-rate", type=int, default=100)
    ap.add_argument("--ref", default=None, metavar="COMMIT",
                    help="run gracebgpd from this commit's src/ (git archive) instead of the working tree")
    ap.add_argument("--keep", action="store_true", help="keep each run's work directory")
    ap.add_argument("--json", type=Path, default=None, help="also write every result here")
    args = ap.parse_args(argv)
    names = [d.strip() for d in args.daemons.split(",") if d.strip()]
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if any(d not in DAEMONS for d in names):
        ap.error(f"--daemons: known are {', '.join(DAEMONS)}")
    if any(p not in PARTS for p in parts):
        ap.error(f"--parts: known are {', '.join(PARTS)}")
    if not 0 < args.batch <= args.add or args.runs < 1:
        ap.error("need 0 < --batch <= --add and --runs >= 1")
    if args.routes > bgpio.MAX_PREFIXES or (ADD_FIRST >> 8) + args.add > (224 << 16):
        ap.error("too many prefixes")
    runs_for: dict[str, int] = {}
    for item in filter(None, (x.strip() for x in args.runs_for.split(","))):
        d, _, r = item.partition("=")
        runs_for[d] = int(r)
    if args.profile is not None and shutil.which(str(routing.VENV_BIN / "py-spy")) is None:
        ap.error("--profile needs py-spy in the virtualenv (pip install py-spy)")
    args.netns = not args.loopback and routing.netns_works()
    signal.signal(signal.SIGTERM, routing._on_sigterm)

    daemons: list[type[Dut]] = []
    for name in names:
        cls = DAEMONS[name]
        if cls.missing():
            print(f"skipping {name}: not installed ({', '.join(cls.missing())}; "
                  "apt-get install -y gobgpd bird2)")
        elif cls is Bird and not args.netns:
            print("skipping bird: needs root and network namespaces")
        else:
            daemons.append(cls)

    cpu = routing.cpu_model()
    print(f"API benchmark: {os.cpu_count()} CPUs ({cpu}), {platform.python_implementation()} "
          f"{platform.python_version()}, httpx {httpx.__version__}; parts {parts}, add {args.add:,}, "
          f"list {args.routes:,}, runs {args.runs}; list part over "
          f"{'network namespaces + veth' if args.netns else 'loopback'}; load average "
          f"{Path('/proc/loadavg').read_text().split(' ')[0]}")
    base = Path(tempfile.mkdtemp(prefix="gbapi-", dir="/tmp"))  # short: Unix socket paths <= 107 bytes
    os.chmod(base, 0o755)
    if args.ref:
        try:
            GraceBgpd.src = routing.snapshot(args.ref, base)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(base, ignore_errors=True)
            ap.error(f"--ref {args.ref}: {exc}")
        commit = routing._git("rev-parse", "--short", args.ref)
        source = f"{args.ref} = commit {commit} (snapshot of its src/)"
    else:
        source = routing._source_state()
    print(f"gracebgp {source}")
    results: list[Result] = []
    started = time.monotonic()

    def report(res: list[Result], i: int, runs: int) -> None:
        for r in res:
            results.append(r)
            extra = _extra_text(r.extra)
            print(f"  {r.daemon:<9} {r.part} run {i + 1}/{runs}: {r.variant}: {_f(r.seconds)} s, RSS "
                  f"{_f(r.rss_base_mb, 0)} MB +{_f(r.rss_growth_mb, 1)} MB, count {r.count}"
                  + (f"; {extra}" if extra else "") + (f" ERROR {r.error}" if r.error else "")
                  + (f" [{'; '.join(r.notes)}]" if r.notes else ""), flush=True)

    try:
        if "add" in parts:
            plist = prefixes(args.add)
            mrt = base / "add.mrt"
            mrt.write_bytes(mrt_table_dump(plist))
            print(f"\nadd: {args.add:,} prefixes, MRT file {mrt.stat().st_size / 1e6:.1f} MB")
            for i in range(args.runs):
                for cls in daemons:
                    profile = args.profile if (cls is GraceBgpd and i == 0) else None
                    if cls is GraceBgpd:
                        report(add_gracebgpd(args, base, plist, profile), i, args.runs)
                    elif cls is GoBgpd:
                        report(add_gobgpd(args, base, plist, mrt), i, args.runs)
                    else:
                        report(add_bird(args, base, plist), i, args.runs)
                    if profile is not None:
                        print_profile(Path(f"{profile}-add.txt"))
        if "list" in parts:
            stream = base / "updates.bin"
            t = time.perf_counter()
            stream.write_bytes(bgpio.build_updates(args.routes, "10.253.0.2" if args.netns else "192.0.2.2"))
            print(f"\nlist: {args.routes:,} routes, {stream.stat().st_size / 1e6:.1f} MB of UPDATEs "
                  f"pre-encoded in {time.perf_counter() - t:.1f} s")
            for i in range(args.runs):
                for cls in daemons:
                    runs = runs_for.get(cls.name, args.runs)
                    if i >= runs:
                        continue
                    profile = args.profile if (cls is GraceBgpd and i == 0) else None
                    report([list_once(cls, args, base, stream, args.routes, profile)], i, runs)
                    if profile is not None:
                        print_profile(Path(f"{profile}-list.txt"))
    except KeyboardInterrupt:
        print("\ninterrupted; results so far:", file=sys.stderr)
    finally:
        routing._close_all()
        if args.keep:
            print(f"work directories kept under {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    rows = summarize(results)
    print_table(rows)
    print_targets(rows, args.add, args.routes)
    end = source if args.ref else routing._source_state()
    changed = "" if end == source else " -- CHANGED during the run: figures may mix code versions"
    print(f"\ntotal wall time {time.monotonic() - started:.0f} s; gracebgp {end}{changed}")
    if args.json is not None:
        args.json.write_text(json.dumps({"results": [asdict(r) for r in results], "rows": rows}, indent=1))
    return 0 if results and all(r.error is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
