"""Session hand-over while holding N routes (issue 19): how long ``gracebgp restart`` takes
with N IPv4 routes learned from one peer and advertised to another, and what the peers see.

The lab of ``bench/routing.py`` (the DUT in one network namespace; the injector and the
collector of ``bench/bgpio.py`` in the other, hold time 90 s): the injector sends N routes,
the collector receives them all; then ``gracebgp restart`` (a hand-over, same PID). From
the new process's ``gracebgp timeline``: the old process's steps (stop requested ->
reading stopped -> state captured and KEEPALIVE flushed) and the new one's (-> sessions
adopted, Adj-RIB-In read, Adj-RIB-Out reconciled -> started, API up). Then, from the
helpers' own event streams: did either session go down, did either peer get a
NOTIFICATION, and does the collector still count N prefixes (no withdrawal)?

    sudo .venv/bin/python bench/handover.py --routes 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import bgpio
from bench.daemons import HERE, VENV_BIN, GraceBgpd
from bench.lab import Lab, proc_status, wait_for


def timeline(sock: Path) -> dict[str, object] | None:
    r = subprocess.run([str(VENV_BIN / "gracebgp"), "--socket", str(sock), "--json", "timeline"],
                       capture_output=True, text=True, timeout=30, check=False)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--routes", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="gracebgp-bench-"))
    os.chmod(base, 0o755)
    stream = base / "updates.bin"
    stream.write_bytes(bgpio.build_updates(args.routes, "10.253.0.2"))
    n = args.routes
    try:
        with Lab(True, base, keep=args.keep) as lab:
            dut = GraceBgpd(lab)
            dut.start()
            helper = [sys.executable, str(HERE / "bgpio.py")]
            common = ["--dut", lab.dut, "--port", str(lab.port), "--hold-time", "90"]
            col = lab.spawn("collector", lab.peer_ns, [*helper, "collect", *common, "--local", lab.collector,
                                                       "--asn", str(bgpio.COLLECTOR_AS), "--expect", str(n)],
                            pipes=True)
            wait_for(lambda: col.event("established"), 60, "the collector's session")
            inj = lab.spawn("injector", lab.peer_ns,
                            [*helper, "inject", *common, "--local", lab.injector,
                             "--asn", str(bgpio.INJECTOR_AS), "--stream", str(stream)], pipes=True)
            wait_for(lambda: inj.event("established"), 60, "the injector's session")
            time.sleep(1.0)
            inj.send("go")
            wait_for(lambda: col.event("complete"), 900, f"the collector to hold {n} routes")
            rss = proc_status(dut.pid, "VmRSS") or 0
            sock = dut.dir / "g.sock"
            pid = dut.pid
            t0 = time.time()
            subprocess.run([str(VENV_BIN / "gracebgp"), "--socket", str(sock), "restart"], check=True,
                           capture_output=True, text=True, timeout=120)

            def started() -> dict[str, object] | None:
                tl = timeline(sock) if sock.exists() else None
                events = tl.get("events", []) if tl else []
                done = isinstance(events, list) and any(
                    e.get("data", {}).get("event") == "process-started"
                    and not e.get("data", {}).get("previous_run") for e in events)
                return tl if done and tl and tl.get("restart") == "handover" else None

            tl = wait_for(started, 600, "the new process to start", interval=0.5)
            total = time.time() - t0
            time.sleep(5.0)  # a few keepalive turns of the sessions with the new process
            assert dut.pid == pid and dut.alive(), "the DUT's PID changed or it died"
            at = {e["data"].get("event"): e["time"] for e in tl["events"]}
            downs = [*col.events_named("session_down"), *inj.events_named("session_down"),
                     *col.events_named("notification"), *inj.events_named("notification")]
            prog = col.last_event("progress")
            print(f"hand-over with {n} routes (DUT RSS {rss / 1024:.0f} MB), pid {pid} kept:")
            for a, b, what in (("stopping", "handover-quiesced",
                                "old: owner loop stopped, what was read processed"),
                               ("handover-quiesced", "handover-keepalive",
                                "old: state captured, KEEPALIVE flushed"),
                               ("handover-keepalive", "handover-adopted",
                                "new: exec, imports, sessions adopted, Adj-RIB-In read, reconciled"),
                               ("handover-adopted", "process-started", "new: listeners, API"),
                               ("stopping", "process-started", "in all")):
                if a in at and b in at:
                    print(f"  {what:<70} {at[b] - at[a]:7.2f} s")
            print(f"  command to new process answering: {total:.2f} s")
            print(f"  sessions down / NOTIFICATIONs seen by the peers: {len(downs)} {downs[:2]}")
            count = prog.get("count") if prog else "none after complete"
            print(f"  collector's last progress count: {count}")
            return 0 if not downs else 1
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
