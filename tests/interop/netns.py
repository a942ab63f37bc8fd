"""Network-namespace lab for interop tests: namespaces, veth links, processes, bounded waits.

Everything here is bounded in time and cleans up after itself:

* namespaces are named ``gbi<6 hex>n<i>`` (random per :class:`Lab`, so parallel runs never
  clash) and are deleted on exit, also on exceptions, ``Ctrl-C`` and ``SIGTERM`` (while a
  lab is open in the main thread, ``SIGTERM`` is turned into :class:`KeyboardInterrupt` so
  the ``finally`` blocks run);
* processes are started with :meth:`Lab.spawn` in their own session/process group and are
  stopped by that group's id (SIGTERM, then SIGKILL after a bound), never by name;
* addresses come from 10.254.0.0/16 and fd00:254::/32 and only exist inside the lab's
  namespaces.

Topology: link ``k`` (0-based, in the order given to :class:`Lab`) joins namespaces
``a < b``. Its IPv4 subnet is ``10.254.k.0/24`` (``.1`` on ``a``, ``.2`` on ``b``), its IPv6
subnet ``fd00:254:k::/64`` (``::1`` / ``::2``, added with ``nodad``). The interface in
namespace ``a`` that leads to ``b`` is called ``veth<b>`` and vice versa.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import TypeVar

NS_PREFIX = "gbi"
T = TypeVar("T")


class FatalWaitError(RuntimeError):
    """Raised inside a :func:`wait_until` predicate to abort the wait at once."""


class CommandError(RuntimeError):
    """A command run in a namespace exited non-zero."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"{' '.join(argv)!s} exited {returncode}: {stderr.strip() or stdout.strip()}")


def sh(argv: Sequence[str], timeout: float = 20.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command in the current namespace, bounded in time."""
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
    )
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def wait_until(
    pred: Callable[[], T],
    timeout: float,
    interval: float = 0.25,
    what: str = "",
) -> T:
    """Call ``pred`` until it returns something truthy; return that value.

    Exceptions raised by ``pred`` count as "not yet" (the last one is reported), except
    :class:`FatalWaitError`, which propagates at once (e.g. the daemon died). After
    ``timeout`` seconds a :class:`TimeoutError` names ``what`` and the last observed value.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = pred()
            if value:
                return value
            last = value
        except FatalWaitError:
            raise
        except Exception as exc:  # the predicate's failure is the observation
            last = exc
        if time.monotonic() >= deadline:
            label = what or getattr(pred, "__name__", "condition")
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {label}; last observed: {last!r}")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


# --------------------------------------------------------------------------------------
# processes


@dataclass
class Process:
    """A process started in a namespace by :meth:`Lab.spawn` (leader of its own group)."""

    name: str
    ns: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the process group we created for this process (pgid == pid).

        Only while the leader has not been reaped by us: until then its pid (and so the
        pgid) cannot belong to anybody else. Returns whether the signal was sent.
        """
        if self.popen.returncode is not None:
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        return True

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM the group, wait up to ``grace`` s, then SIGKILL; return the exit status."""
        if self.signal_group(signal.SIGTERM):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        if self.signal_group(signal.SIGKILL):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        return self.popen.returncode

    def kill9(self, grace: float = 5.0) -> None:
        """SIGKILL the group at once (a crash, as far as the BGP peer can tell)."""
        if self.signal_group(signal.SIGKILL):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# --------------------------------------------------------------------------------------
# topology


@dataclass(frozen=True)
class Link:
    """One veth pair between namespaces ``a`` and ``b`` (see module docstring for addressing)."""

    index: int
    a: str
    b: str
    a_if: str
    b_if: str
    a_v4: str
    b_v4: str
    a_v6: str
    b_v6: str

    def ends(self) -> tuple[str, str]:
        return self.a, self.b

    def addr(self, ns: str, family: int = 4) -> str:
        """Address of ``ns``'s end of this link (``family`` 4 or 6)."""
        if ns == self.a:
            return self.a_v4 if family == 4 else self.a_v6
        if ns == self.b:
            return self.b_v4 if family == 4 else self.b_v6
        raise KeyError(f"{ns} is not an end of link {self.index} ({self.a}<->{self.b})")

    def peer_addr(self, ns: str, family: int = 4) -> str:
        """Address of the *other* end, as seen from ``ns``."""
        return self.addr(self.b if ns == self.a else self.a, family)

    def ifname(self, ns: str) -> str:
        if ns == self.a:
            return self.a_if
        if ns == self.b:
            return self.b_if
        raise KeyError(f"{ns} is not an end of link {self.index}")


# While any lab is open in the main thread, SIGTERM raises KeyboardInterrupt (unless some
# other handler is installed), so that `with Lab()` blocks and pytest unwind and clean up.
_SIGTERM_DEPTH = [0]


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _push_sigterm_handler() -> bool:
    if threading.current_thread() is not threading.main_thread():
        return False
    if _SIGTERM_DEPTH[0] == 0:
        current = signal.getsignal(signal.SIGTERM)
        if current not in (signal.SIG_DFL, None):
            return False
        signal.signal(signal.SIGTERM, _on_sigterm)
    _SIGTERM_DEPTH[0] += 1
    return True


def _pop_sigterm_handler() -> None:
    _SIGTERM_DEPTH[0] -= 1
    if _SIGTERM_DEPTH[0] == 0 and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


_LIVE_LABS: weakref.WeakSet[Lab] = weakref.WeakSet()


def _teardown_live_labs() -> None:
    for lab in list(_LIVE_LABS):
        lab.close()


atexit.register(_teardown_live_labs)


class Lab:
    """``n`` network namespaces joined by veth links; a context manager.

    ``links`` lists index pairs to join; by default every consecutive pair
    ``(0, 1), (1, 2), ...`` is joined. ``workdir`` (default: a fresh temp dir, mode 0755
    so daemons that drop privileges, such as FRR's bgpd, can reach their files) holds the
    daemons' configs, sockets and logs; it is removed on exit unless ``keep_workdir`` (or
    the environment variable ``GRACEBGP_INTEROP_KEEP=1``; the path is then printed).
    """

    def __init__(
        self,
        n: int = 2,
        links: Sequence[tuple[int, int]] | None = None,
        *,
        workdir: Path | None = None,
        keep_workdir: bool = False,
        stop_grace: float = 5.0,
    ) -> None:
        if n < 1:
            raise ValueError("a lab needs at least one namespace")
        self.tag = secrets.token_hex(3)
        self.namespaces: list[str] = [f"{NS_PREFIX}{self.tag}n{i}" for i in range(n)]
        pairs = list(links) if links is not None else [(i, i + 1) for i in range(n - 1)]
        for a, b in pairs:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise ValueError(f"bad link {(a, b)} for {n} namespaces")
        self._pairs = [(min(a, b), max(a, b)) for a, b in pairs]
        if len(set(self._pairs)) != len(self._pairs):
            raise ValueError("at most one link per pair of namespaces")
        self.links: list[Link] = []
        self.processes: list[Process] = []
        self._created: list[str] = []
        self._own_workdir = workdir is None
        self.workdir = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="gracebgp-interop-"))
        self.keep_workdir = keep_workdir or os.environ.get("GRACEBGP_INTEROP_KEEP", "") == "1"
        self.stop_grace = stop_grace
        self._ports: dict[str, int] = {}
        self._sigterm_pushed = False
        self._closed = False
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> Lab:
        _LIVE_LABS.add(self)
        self._sigterm_pushed = _push_sigterm_handler()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _build(self) -> None:
        os.chmod(self.workdir, 0o755)
        for ns in self.namespaces:
            sh(["ip", "netns", "add", ns])
            self._created.append(ns)
            self.run(ns, ["ip", "link", "set", "lo", "up"])
            for key in ("all", "default"):
                self.run(ns, ["sysctl", "-qw", f"net.ipv6.conf.{key}.accept_dad=0"])
        for k, (a, b) in enumerate(self._pairs):
            if k > 255:
                raise ValueError("at most 256 links")
            ns_a, ns_b = self.namespaces[a], self.namespaces[b]
            link = Link(
                index=k,
                a=ns_a,
                b=ns_b,
                a_if=f"veth{b}",
                b_if=f"veth{a}",
                a_v4=f"10.254.{k}.1",
                b_v4=f"10.254.{k}.2",
                a_v6=str(ipaddress.IPv6Address(f"fd00:254:{k:x}::1")),
                b_v6=str(ipaddress.IPv6Address(f"fd00:254:{k:x}::2")),
            )
            # The devices are created directly inside the target namespaces (IFLA_NET_NS_FD),
            # so equal interface names in parallel labs do not collide.
            sh(
                [
                    "ip",
                    "link",
                    "add",
                    link.a_if,
                    "netns",
                    ns_a,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    link.b_if,
                    "netns",
                    ns_b,
                ]
            )
            for ns, ifname, v4, v6 in (
                (ns_a, link.a_if, link.a_v4, link.a_v6),
                (ns_b, link.b_if, link.b_v4, link.b_v6),
            ):
                self.run(ns, ["ip", "addr", "add", f"{v4}/24", "dev", ifname])
                self.run(ns, ["ip", "-6", "addr", "add", f"{v6}/64", "dev", ifname, "nodad"])
                self.run(ns, ["ip", "link", "set", ifname, "up"])
            self.links.append(link)
        for link in self.links:
            for ns in link.ends():
                # Daemons that learn interfaces (FRR's zebra) want the link-local address too.
                ifname = link.ifname(ns)
                show = ["ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "link"]

                def has_link_local(ns: str = ns, show: list[str] = show) -> bool:
                    return "fe80::" in self.run(ns, show)

                wait_until(has_link_local, 10, interval=0.1, what=f"link-local address on {ifname} in {ns}")

    def close(self) -> None:
        """Stop every spawned process, delete the namespaces, remove the work dir. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            for proc in reversed(self.processes):
                proc.stop(self.stop_grace)
        finally:
            try:
                for ns in reversed(self._created):
                    sh(["ip", "netns", "delete", ns], check=False)
            finally:
                if self._own_workdir and not self.keep_workdir:
                    shutil.rmtree(self.workdir, ignore_errors=True)
                elif self.keep_workdir:
                    print(f"interop lab work dir kept: {self.workdir}", file=sys.stderr)
                _LIVE_LABS.discard(self)
                if self._sigterm_pushed:
                    self._sigterm_pushed = False
                    _pop_sigterm_handler()

    # -- topology helpers -----------------------------------------------------------

    def ns(self, i: int) -> str:
        return self.namespaces[i]

    def link(self, a: int | str, b: int | str) -> Link:
        """The link between two namespaces (by index or name)."""
        na = self.namespaces[a] if isinstance(a, int) else a
        nb = self.namespaces[b] if isinstance(b, int) else b
        for link in self.links:
            if {link.a, link.b} == {na, nb}:
                return link
        raise KeyError(f"no link between {na} and {nb}")

    def addr(self, ns: int | str, peer: int | str, family: int = 4) -> str:
        """Address of ``ns`` on its link towards ``peer``."""
        name = self.namespaces[ns] if isinstance(ns, int) else ns
        return self.link(ns, peer).addr(name, family)

    def local_addr_towards(self, ns: str, remote: str) -> str | None:
        """``ns``'s own address on the link whose other end has address ``remote``."""
        want = ipaddress.ip_address(remote)
        family = want.version
        for link in self.links:
            if ns in link.ends() and ipaddress.ip_address(link.peer_addr(ns, family)) == want:
                return link.addr(ns, family)
        return None

    def alloc_port(self, ns: str, base: int = 50051) -> int:
        """A TCP port not yet handed out in ``ns`` by this lab (for API sockets)."""
        with self._lock:
            port = self._ports.get(ns, base)
            self._ports[ns] = port + 1
        return port

    def subdir(self, name: str) -> Path:
        """A fresh directory under the work dir (mode 0777: daemons may drop privileges)."""
        path = self.workdir / name
        n = 1
        while path.exists():
            n += 1
            path = self.workdir / f"{name}-{n}"
        path.mkdir(parents=True)
        os.chmod(path, 0o777)
        return path

    # -- commands and processes -----------------------------------------------------

    def run(self, ns: str, argv: Sequence[str], timeout: float = 20.0, check: bool = True) -> str:
        """Run ``argv`` inside ``ns`` (bounded by ``timeout``); return its stdout."""
        return sh(["ip", "netns", "exec", ns, *argv], timeout=timeout, check=check).stdout

    def spawn(
        self,
        ns: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        name: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Process:
        """Start ``argv`` in ``ns`` in its own process group; stdout+stderr go to ``log_path``.

        ``ip netns exec`` execs the command in place, so the returned pid is the daemon's.
        """
        if self._closed:
            raise RuntimeError("lab is closed")
        if ns not in self._created:
            raise KeyError(f"{ns} is not a namespace of this lab")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as fh:
            popen = subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
                cwd=cwd,
            )
        proc = Process(name or Path(argv[0]).name, ns, list(argv), log_path, popen)
        self.processes.append(proc)
        return proc

    def spawned_pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def tcp_ready(self, ns: str, addr: str, port: int, timeout: float = 10.0) -> bool:
        """Wait until something accepts TCP connections on ``addr:port`` inside ``ns``."""
        return tcp_ready(ns, addr, port, timeout)

    def wait_until(self, pred: Callable[[], T], timeout: float, interval: float = 0.25, what: str = "") -> T:
        return wait_until(pred, timeout, interval, what)


def tcp_ready(ns: str, addr: str, port: int, timeout: float = 10.0) -> bool:
    """Wait (bounded) until ``addr:port`` accepts a TCP connection inside namespace ``ns``.

    The probe runs in the namespace through ``ip netns exec`` with a Python one-liner, so
    the test process itself never changes namespace. Raises :class:`TimeoutError`.
    """
    family = "AF_INET6" if ":" in addr else "AF_INET"
    probe = (
        "import socket,sys\n"
        f"s=socket.socket(socket.{family},socket.SOCK_STREAM);s.settimeout(1.0)\n"
        f"sys.exit(s.connect_ex(({addr!r},{int(port)})))\n"
    )

    def attempt() -> bool:
        res = sh(["ip", "netns", "exec", ns, "python3", "-c", probe], timeout=5, check=False)
        return res.returncode == 0

    return wait_until(attempt, timeout, interval=0.2, what=f"TCP {addr}:{port} in {ns}")


# --------------------------------------------------------------------------------------
# environment checks


def netns_names() -> list[str]:
    """Names listed by ``ip netns list``."""
    out = sh(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def netns_unavailable_reason() -> str | None:
    """Why network-namespace labs cannot run here, or None if they can."""
    if os.geteuid() != 0:
        return f"interop tests need root (network namespaces); running as uid {os.geteuid()}"
    if shutil.which("ip") is None:
        return "interop tests need iproute2's `ip` (apt-get install iproute2)"
    probe = f"{NS_PREFIX}probe{secrets.token_hex(3)}"
    try:
        res = sh(["ip", "netns", "add", probe], check=False, timeout=10)
        if res.returncode != 0:
            return f"`ip netns add` does not work here: {res.stderr.strip()}"
        res = sh(["ip", "netns", "exec", probe, "ip", "link", "set", "lo", "up"], check=False, timeout=10)
        if res.returncode != 0:
            return f"`ip netns exec` does not work here: {res.stderr.strip()}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"network namespaces unusable: {exc}"
    finally:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            sh(["ip", "netns", "delete", probe], check=False, timeout=10)
    return None


_NETNS_REASON: list[str | None] = []


def requires_root_and_netns() -> None:
    """``pytest.skip`` (with the reason) unless we are root and ``ip netns add/delete`` works.

    The probe runs once per test session.
    """
    import pytest

    if not _NETNS_REASON:
        _NETNS_REASON.append(netns_unavailable_reason())
    reason = _NETNS_REASON[0]
    if reason is not None:
        pytest.skip(reason)


def requires_binaries(*names: str) -> None:
    """``pytest.skip`` naming the first missing executable (path or name on $PATH)."""
    import pytest

    for name in names:
        found = os.access(name, os.X_OK) if "/" in name else shutil.which(name) is not None
        if not found:
            pytest.skip(f"{name} is not installed (apt-get install -y gobgpd bird2 frr exabgp)")
