"""`make demo`: two gracebgpd daemons on loopback, with the embedded default
configuration, no root needed. They establish an eBGP session, each advertises IPv4 and
IPv6 routes, the demo shows what each side learned (from the daemons' own state dumps),
then stops both cleanly with SIGINT (the withdrawing stop).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gracebgp.config.default import demo_configs

NAMES = (("A", "127.0.0.1", 65001), ("B", "127.0.0.2", 65002))


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(path: Path, text: str, timeout: float, count: int = 1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.read_text().count(text) >= count:
            return True
        time.sleep(0.1)
    return False


def state_lines(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    return [ln.split(" state: ", 1)[1] for ln in lines if " state: " in ln]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="gracebgp-demo-"))
    port_a, port_b = free_port("127.0.0.1"), free_port("127.0.0.2")
    texts = demo_configs(port_a, port_b, str(work))
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    print(f"gracebgp demo: two speakers on loopback (work directory {work})")
    try:
        for (name, addr, asn), text in zip(NAMES, texts, strict=True):
            conf, logf = work / f"{name}.toml", work / f"{name}.log"
            conf.write_text(text)
            with logf.open("wb") as out:
                proc = subprocess.Popen([sys.executable, "-m", "gracebgp.daemon", "-f", str(conf)],
                                        stdout=out, stderr=subprocess.STDOUT)
            procs.append((name, proc, logf))
            print(f"  started speaker {name}: AS {asn} at {addr} (pid {proc.pid}, log {logf})")
        for name, _, logf in procs:
            if not wait_for(logf, "established:", 20):
                print(f"speaker {name} did not establish within 20 s; its log:\n{logf.read_text()}")
                return 1
        print("  session established (eBGP, IPv4 + IPv6 unicast, graceful restart + LLGR negotiated)")
        time.sleep(0.5)  # let the UPDATEs and End-of-RIB markers arrive
        for _, proc, logf in procs:
            proc.send_signal(signal.SIGUSR1)
            wait_for(logf, "state: route", 5)
        time.sleep(0.3)
        for name, _, logf in procs:
            lines = state_lines(logf)
            learned = [ln for ln in lines if ln.startswith("route ") and "(from " in ln]
            own = [ln for ln in lines if ln.startswith("route ") and ln.endswith("(local)")]
            print(f"\nspeaker {name}: {len(own)} routes of its own, {len(learned)} learned from its peer")
            for ln in (x for x in lines if x.startswith("peer ")):
                print(f"  {ln}")
            for ln in learned:
                print(f"  {ln}")
        print("\nstopping both speakers with SIGINT (withdrawing stop) ...")
        for _, proc, _ in procs:
            proc.send_signal(signal.SIGINT)
        codes = []
        for name, proc, _ in procs:
            try:
                codes.append(proc.wait(timeout=10))
            except subprocess.TimeoutExpired:
                print(f"speaker {name} did not stop within 10 s")
                return 1
        print(f"  both stopped cleanly (exit codes {codes})")
        return 0 if codes == [0, 0] else 1
    finally:
        for _, proc, _ in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


if __name__ == "__main__":
    sys.exit(main())
