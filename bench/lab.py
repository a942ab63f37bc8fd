"""The routing benchmarks' lab: processes we start (``Proc``), and where a run happens
(``Lab``: two network namespaces joined by a veth pair, or loopback), cleaned up always.

Used by ``bench/routing.py``, ``bench/scale.py`` and ``bench/api.py``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import bgpio
from tests.interop.netns import wait_until

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

    def events_named(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("event") == name]

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

    def close_log(self) -> None:
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
    loopback addresses and a high port. Cleans up (processes, namespaces, files) on close.

    One injector and one collector by default (10.253.0.2 and .3 beside the DUT's
    10.253.0.1/24); with more (``bench/scale.py``) the veth is a /16, injector i is
    10.253.1.i and collector j 10.253.2.j (loopback: 127.0.1.i, 127.0.2.j)."""

    def __init__(self, netns: bool, base: Path, keep: bool = False, injectors: int = 1,
                 collectors: int = 1) -> None:
        if not (1 <= injectors <= 250 and 1 <= collectors <= 250):
            raise ValueError("1 to 250 injectors and collectors")
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
        self.multi = injectors > 1 or collectors > 1
        self.plen = 16 if self.multi else 24
        if self.multi:
            net = "10.253" if netns else "127.0"
            self.injectors = [f"{net}.1.{i}" for i in range(1, injectors + 1)]
            self.collectors = [f"{net}.2.{j}" for j in range(1, collectors + 1)]
            self.injector, self.collector = self.injectors[0], self.collectors[0]
        else:
            self.injectors, self.collectors = [self.injector], [self.collector]

    def neighbors(self) -> list[tuple[str, str, int, bool]]:
        """(name, address, AS, is an injector) of each of the DUT's neighbors, injectors first.
        Every injector is AS 65100 and every collector AS 65200; names "inj" and "col" with
        one of each, else "inj1".. and "col1".. ."""
        if not self.multi:
            return [("inj", self.injector, bgpio.INJECTOR_AS, True),
                    ("col", self.collector, bgpio.COLLECTOR_AS, False)]
        return ([(f"inj{i}", a, bgpio.INJECTOR_AS, True) for i, a in enumerate(self.injectors, 1)]
                + [(f"col{j}", a, bgpio.COLLECTOR_AS, False) for j, a in enumerate(self.collectors, 1)])

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
        sh(["ip", "-n", self.dut_ns, "addr", "add", f"{self.dut}/{self.plen}", "dev", "vdut"])
        for addr in (*self.injectors, *self.collectors):
            sh(["ip", "-n", self.peer_ns, "addr", "add", f"{addr}/{self.plen}", "dev", "vpeer"])
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

    def forget(self, proc: Proc) -> None:
        """``proc`` has exited and was reaped (a daemon we restarted): stop tracking it,
        without signalling its old pid."""
        proc.close_log()
        self.procs.remove(proc)

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


def close_labs(base: Path, keep: bool) -> None:
    """End of a benchmark: every lab still open is closed, ``base`` kept or removed."""
    for lab in list(_LIVE):
        lab.close()
    if keep:
        print(f"work directories kept under {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


def netns_works() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"{NS_PREFIX}probe{secrets.token_hex(3)}"
    try:
        return sh(["ip", "netns", "add", probe], check=False).returncode == 0
    finally:
        sh(["ip", "netns", "delete", probe], check=False)

