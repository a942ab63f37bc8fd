"""Kernel FIB, end to end (issue 17 item 7): time from the injector's first UPDATE until all
N IPv4 routes are in the router's kernel, gracebgpd (``fib = true``) beside BIRD's kernel
protocol and FRR's zebra, in one invocation, with the RSS of each (zebra's too).

Each run (root: two network namespaces, ``bench/lab.py``): the DUT with one passive eBGP
injector (``bench/bgpio.py``: N /24s, NEXT_HOP the injector's address on the DUT's
connected /24, a new attribute set every 10 prefixes); timed from the injector's first
UPDATE write until ``ip -4 route show proto P`` in the DUT's namespace lists N routes
(polled: a poll of 1M routes takes about a second, which bounds the resolution). P: 201
(gracebgpd), 12 "bird" (BIRD's kernel protocol, ``export all``), 186 "bgp" (FRR bgpd through
zebra, started without ``-n``).

    python bench/fib.py                                   # 100k and 1M, 1 run, all three
    python bench/fib.py --sizes 100000 --daemons gracebgpd
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import bgpio
from bench.daemons import Bird, Dut, Frr, GraceBgpd
from bench.lab import Lab, proc_status, wait_for

HERE = Path(__file__).resolve().parent


class FibGrace(GraceBgpd):
    protocol = 201  # fibkernel.DEFAULT_PROTOCOL

    def config(self) -> str:
        return super().config() + "fib = true\n"


class FibBird(Bird):
    protocol = 12

    def config(self) -> str:
        return super().config() + "protocol kernel { ipv4 { export all; }; }\n"


class FibFrr(Frr):
    protocol = 186

    def _spawn_bgpd(self) -> None:
        d = self.dir
        self.proc = self.lab.spawn("bgpd", self.lab.dut_ns, [
            "/usr/lib/frr/bgpd", "-f", str(d / "bgpd.conf"), "-i", str(d / "bgpd.pid"),
            "-z", str(d / "zserv.api"), "--vty_socket", str(d), "-P", "0", "-p", str(self.lab.port),
            "-u", "frr", "-g", "frr", "--log", f"file:{d / 'bgpd-daemon.log'}"])


DAEMONS: dict[str, type[Dut]] = {"gracebgpd": FibGrace, "bird": FibBird, "frr": FibFrr}


def kernel_count(ns: str, protocol: int) -> int:
    out = subprocess.run(["ip", "-n", ns, "-4", "route", "show", "proto", str(protocol)],
                         capture_output=True, timeout=120, check=True).stdout
    return out.count(b"\n")


def run_once(cls: type[Dut], n: int, stream: Path, base: Path, timeout: float) -> dict[str, object]:
    with Lab(True, base) as lab:
        dut = cls(lab)
        dut.start()
        assert lab.dut_ns is not None
        protocol = int(getattr(cls, "protocol", 0))
        inj = lab.spawn("injector", lab.peer_ns, [
            sys.executable, str(HERE / "bgpio.py"), "inject", "--dut", lab.dut, "--port", str(lab.port),
            "--hold-time", "90", "--local", lab.injector, "--asn", str(bgpio.INJECTOR_AS),
            "--stream", str(stream)], pipes=True)
        wait_for(lambda: inj.event("established"), 60, "the injector's session")
        time.sleep(1.0)
        before = proc_status(dut.pid, "VmRSS") or 0
        inj.send("go")
        sent = wait_for(lambda: inj.event("sent"), timeout, "the injector to write")
        t0 = float(sent["first_update"]["wall"])
        count, took = 0, None
        while time.time() - t0 < timeout:
            count = kernel_count(lab.dut_ns, protocol)
            if count >= n:
                took = time.time() - t0
                break
            time.sleep(0.2)
        hwm = proc_status(dut.pid, "VmHWM") or 0
        zebra = getattr(dut, "zebra", None)
        zebra_hwm = proc_status(zebra.pid, "VmHWM") if zebra is not None else None
        return {"daemon": cls.name, "n": n, "kernel_s": took, "count": count,
                "rss_before_mb": before / 1024, "rss_peak_mb": hwm / 1024,
                "zebra_peak_mb": zebra_hwm / 1024 if zebra_hwm else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--daemons", default="gracebgpd,bird,frr")
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="gracebgp-bench-fib-"))
    base.chmod(0o755)
    print("| daemon | N | until all in the kernel s | RSS before MB | peak RSS MB | zebra peak MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            stream = base / f"updates-{n}.bin"
            stream.write_bytes(bgpio.build_updates(n, "10.253.0.2"))
            for name in args.daemons.split(","):
                r = run_once(DAEMONS[name], n, stream, base, args.timeout)
                secs = r["kernel_s"]
                took = f"{secs:.1f}" if secs is not None else f">{args.timeout:.0f} ({r['count']})"
                zebra = f"{r['zebra_peak_mb']:.0f}" if r["zebra_peak_mb"] else "-"
                print(f"| {name} | {n:,} | {took} | {r['rss_before_mb']:.0f} | {r['rss_peak_mb']:.0f} | "
                      f"{zebra} |", flush=True)
            stream.unlink()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
