"""`make demo`: a lossless graceful restart, watched from the peer.

Two gracebgpd daemons on loopback (A: AS 65001 at 127.0.0.1, B: AS 65002 at 127.0.0.2)
with the embedded default configuration (``gracebgp.config.default``: GR, LLGR and the
RFC 8538 N bit), free ports and a temporary state directory, no root. Once B has A's
routes, a thread reads B's Loc-RIB through B's API every 100 ms while A is restarted
through its API (``gracebgp restart --graceful``: same PID, R=1, End-of-RIB after its
routes). The demo then says whether A's routes ever left B's table, how long B held them stale, that
A kept its PID, and prints A's restart timeline. Exit 0 only if no route of A ever
disappeared from B. Both daemons are stopped by PID and the directory removed on every
exit path (also Ctrl-C); every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gracebgp.api.client import Client, ClientError
from gracebgp.config.default import demo_configs

T = TypeVar("T")
SPEAKERS = (("A", "127.0.0.1", 65001), ("B", "127.0.0.2", 65002))
FAMILIES = ("ipv4-unicast", "ipv6-unicast")
SAMPLE_EVERY = 0.1  # seconds between two reads of B's table
TIMEOUT = 30.0  # the bound of every wait


@dataclass
class Speaker:
    name: str
    address: str
    asn: int
    home: Path
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def socket(self) -> str:
        return str(self.home / "gracebgpd.sock")

    def client(self, timeout: float = 5.0) -> Client:
        return Client(self.socket, timeout=timeout)


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    present: int | None  # A's prefixes with a best path from A at B; None: B did not answer
    stale: int
    error: str = ""


class Failed(Exception):
    """The demo cannot go on; the message says why."""


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], speakers: list[Speaker],
             timeout: float = TIMEOUT) -> T:
    """Poll ``probe`` (an API error counts as "not yet") until it gives something true;
    fail at once if a daemon died, and after ``timeout`` seconds."""
    end, last = time.monotonic() + timeout, ""
    while time.monotonic() < end:
        for sp in speakers:
            if sp.proc.poll() is not None:
                raise Failed(f"speaker {sp.name} exited ({sp.proc.returncode}) while waiting: {what}")
        try:
            got = probe()
        except ClientError as exc:
            got, last = None, str(exc)
        if got:
            return got
        time.sleep(0.1)
    raise Failed(f"not within {timeout:.0f}s: {what}" + (f" (last error: {last})" if last else ""))


def tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def ask(sp: Speaker, call: Callable[[Client], T]) -> T:
    """One API call on ``sp``, on a connection of its own."""
    with sp.client() as client:
        return call(client)


def routes_of(client: Client, source: str | None) -> dict[str, tuple[bool, bool]]:
    """family/prefix -> (best, stale) of the Loc-RIB paths from ``source`` (None: local)."""
    out: dict[str, tuple[bool, bool]] = {}
    for family in FAMILIES:
        for e in client.list_paths("loc", family, peer=source):
            if e.source == source:
                out[f"{family} {e.prefix}"] = (e.best, e.stale)
    return out


def sample_b(b: Speaker, a_addr: str, wanted: set[str], samples: list[Sample],
             stop: threading.Event) -> None:
    """The sampler thread: B's view of A's routes every SAMPLE_EVERY s, until ``stop``."""
    with b.client(timeout=1.0) as client:
        tick = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            try:
                seen = routes_of(client, a_addr)
                present = sum(1 for k in wanted if seen.get(k, (False, False))[0])
                samples.append(Sample(now, present, sum(1 for _, st in seen.values() if st)))
            except ClientError as exc:
                samples.append(Sample(now, None, 0, str(exc)))
            tick += SAMPLE_EVERY
            stop.wait(max(0.0, tick - time.monotonic()))


def restart_done(a: Speaker, b: Speaker, wanted: set[str]) -> bool:
    """A's new process selected every family (EoR sent) and B holds no stale route of A."""
    st = ask(a, Client.gr_status)
    if st.restart != "planned" or not st.deferral or any(d.deferring for d in st.deferral):
        return False
    seen = ask(b, lambda c: routes_of(c, a.address))
    return wanted <= set(seen) and not any(stale for _, stale in seen.values())


def stale_seconds_at_b(b: Speaker, a_addr: str, since: float) -> list[float]:
    """``stale_seconds`` of B's purge events for A after ``since`` (Unix time)."""
    return [float(e.data["stale_seconds"]) for e in ask(b, Client.events_history)
            if e.peer == a_addr and e.time >= since and "stale_seconds" in e.data]


def changes(samples: list[Sample], t0: float) -> list[str]:
    """One line per change of what B showed (not one per sample)."""
    out, last = [], None
    for s in samples:
        if (s.present, s.stale, s.error) != last:
            what = f"{s.present} of A's routes, {s.stale} stale" if not s.error else f"no answer: {s.error}"
            out.append(f"  {s.at - t0:+7.2f}s  {what}")
            last = (s.present, s.stale, s.error)
    return out


def start(work: Path, speakers: list[Speaker]) -> None:
    ports = {"A": free_port("127.0.0.1"), "B": free_port("127.0.0.2")}
    texts = demo_configs(ports["A"], ports["B"], str(work))
    for (name, addr, asn), text in zip(SPEAKERS, texts, strict=True):
        conf, log = work / f"{name}.toml", work / f"{name}.log"
        conf.write_text(text)
        with log.open("wb") as out:  # own session: a Ctrl-C reaches the demo, which stops them
            proc = subprocess.Popen([sys.executable, "-m", "gracebgp.daemon", "-f", str(conf)],
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        speakers.append(Speaker(name, addr, asn, work / f"speaker-{name.lower()}", log, proc))
        print(f"  speaker {name}: AS {asn} at {addr} port {ports[name]}, pid {proc.pid}, log {log}")


def run(work: Path, speakers: list[Speaker]) -> int:
    began = time.monotonic()
    start(work, speakers)
    a, b = speakers
    wanted: set[str] = wait_for("A answers on its API and originates its routes",
                                lambda: set(ask(a, lambda c: routes_of(c, None))), speakers)
    wait_for(f"B has A's {len(wanted)} routes",
             lambda: wanted <= set(ask(b, lambda c: routes_of(c, a.address))), speakers)
    print(f"  session up; B has all {len(wanted)} routes of A ({time.monotonic() - began:.1f}s after start)")

    pid_before, uptime = a.proc.pid, ask(a, Client.global_).uptime
    samples: list[Sample] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_b, args=(b, a.address, wanted, samples, stop), daemon=True)
    sampler.start()
    try:
        time.sleep(0.5)  # a few samples before
        t_restart, wall_restart = time.monotonic(), time.time()
        with a.client() as ca:
            print(f"\n$ gracebgp restart --graceful   (on A, through its API)\n"
                  f"  {ca.restart(graceful=True).message}")
        wait_for("A's new process answers", lambda: ask(a, Client.global_).uptime < uptime, speakers)
        wait_for("A's restart is complete and B holds no stale route of A",
                 lambda: restart_done(a, b, wanted), speakers)
        t_done = time.monotonic()
        time.sleep(1.0)  # and a second more
    finally:
        stop.set()
        sampler.join(timeout=5)

    # running.json is written by the new process at its start; we, its parent, saw no exit.
    pid_after = json.loads((a.home / "running.json").read_text())["pid"] if a.proc.poll() is None else None
    answered = [s.present for s in samples if s.present is not None]
    lowest = min(answered, default=0)
    gone = [s for s in samples if s.present is not None and s.present < len(wanted)]
    stale = [s.at for s in samples if s.stale]
    stale_span = (max(stale) - min(stale) + SAMPLE_EVERY) if stale else 0.0
    purges = stale_seconds_at_b(b, a.address, wall_restart)
    tl = ask(a, Client.timeline)

    print(f"\nB's table, read through B's API every {SAMPLE_EVERY * 1000:.0f} ms (changes only; "
          "+0 s = restart requested):")
    print("\n".join(changes(samples, t_restart)))
    print("\nA's restart timeline (gracebgp timeline on A):\n" + "\n".join(tl.lines()))
    print("\nResult")
    print(f"  samples of B's table:     {len(samples)} over {samples[-1].at - samples[0].at:.1f}s"
          + (f", {len(samples) - len(answered)} NOT ANSWERED" if len(answered) < len(samples) else ""))
    print(f"  A's routes at B:          min {lowest} of {len(wanted)} over all samples")
    print(f"  stale at B (samples):     {stale_span:.1f}s ({len(stale)} samples with stale routes of A)")
    print("  stale at B (B's events):  " + (", ".join(f"{x:.3f}s" for x in purges) or "none reported"))
    print(f"  restart complete:         {t_done - t_restart:.1f}s after the request (B holds no stale route)")
    print(f"  A's PID before/after:     {pid_before} / {pid_after}"
          + (" (the same)" if pid_before == pid_after else " (DIFFERENT)"))
    problems = []
    if gone:
        problems.append(f"A'S ROUTES DISAPPEARED FROM B in {len(gone)} samples, from "
                        f"{gone[0].at - t_restart:+.2f}s to {gone[-1].at - t_restart:+.2f}s (min {lowest})")
    if len(answered) < len(samples):
        problems.append(f"B's API did not answer {len(samples) - len(answered)} samples: loss not ruled out")
    if pid_before != pid_after:
        problems.append("A did not come back with the same PID")
    for problem in problems:
        print(f"  !!! FAILED: {problem}")
    if not problems:
        print(f"  OK: zero disappearance: A's routes never left B's table ({len(samples)} samples)")
    print(f"\ndemo took {time.monotonic() - began:.1f}s")
    return 1 if problems else 0


def stop_all(speakers: list[Speaker]) -> None:
    """SIGINT (the withdrawing stop) by PID, then SIGKILL after 10 s."""
    for sp in speakers:
        if sp.proc.poll() is None:
            os.kill(sp.proc.pid, signal.SIGINT)
    for sp in speakers:
        try:
            sp.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print(f"  speaker {sp.name} did not stop within 10 s: killed")
            os.kill(sp.proc.pid, signal.SIGKILL)
            sp.proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gracebgp.tools.demo",
                                 description="A lossless graceful restart, watched from the peer.")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (configurations, logs)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # clean up on SIGTERM as on Ctrl-C
    work = Path(tempfile.mkdtemp(prefix="gbgp-demo-"))  # short: Unix socket paths are limited
    speakers: list[Speaker] = []
    print(f"gracebgp demo: a graceful restart of speaker A, watched from speaker B (work directory {work})")
    code = 1
    try:
        code = run(work, speakers)
    except (Failed, ClientError) as exc:
        print(f"demo failed: {exc}")
    except KeyboardInterrupt:
        print("\ninterrupted")
        code = 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # the clean-up is bounded; let it finish
            signal.signal(sig, signal.SIG_IGN)
        stop_all(speakers)
        for sp in speakers if code == 1 else ():
            print(f"\nthe end of speaker {sp.name}'s log ({sp.log}):\n{tail(sp.log)}")
        if args.keep or code == 1:
            print(f"  both speakers stopped; configurations and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            print("  both speakers stopped, work directory removed")
    return code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
