"""Driver for our own daemon in an interop Lab: same interface as the real peers' drivers.

The driver writes a GoBGP-style TOML file (plus ``[gracebgp]``) and sends SIGHUP to apply
route and neighbor changes, the way an operator edits the file. It reads gracebgpd's view
through the daemon's API on its Unix socket (``GET /v1/peers``, ``GET /v1/paths``, the
same calls ``gracebgp peers`` / ``gracebgp routes`` make), and runs the ``gracebgp``
command (``python -m gracebgp.cli.main --socket <state>/api.sock ...``) for the operator
actions the tests are about: :meth:`GraceBgpd.graceful_restart` (``gracebgp restart``)
and :meth:`GraceBgpd.stop_withdraw` (``gracebgp stop --withdraw``).

A planned restart re-executes the daemon in place: the PID stays, the process is not
dead. The driver tells the incarnations apart by the line the daemon logs at each start
(``gracebgpd <version>: AS ...``, see :meth:`GraceBgpd.starts`). While the new process
is not serving its API yet, queries answer as for a daemon with no sessions ("Idle", no
routes) instead of failing. The *peers'* views are always read through their own CLIs by
their drivers.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar, TypeVar

from gracebgp.api.client import Client, ClientError
from gracebgp.api.schema import PathEntry
from gracebgp.wire.iana import WellKnownCommunity
from tests.interop.netns import wait_until
from tests.interop.peers import (
    Family,
    NeighborSpec,
    PeerDaemon,
    RouteSpec,
    SeenRoute,
    norm_addr,
    norm_prefix,
)

_STATES = {
    "IDLE": "Idle",
    "CONNECT": "Connect",
    "ACTIVE": "Active",
    "OPENSENT": "OpenSent",
    "OPENCONFIRM": "OpenConfirm",
    "ESTABLISHED": "Established",
}
_WELL_KNOWN = {m.name: f"{m.value >> 16}:{m.value & 0xFFFF}" for m in WellKnownCommunity}
#: The line gracebgpd logs at each start, also after a re-exec (``gracebgp restart``).
START_LINE = re.compile(r"gracebgpd \S+: AS \d+")
T = TypeVar("T")


class NotServing(Exception):
    """gracebgpd runs but does not answer on its API socket (it is starting or re-executing)."""


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class GraceBgpd(PeerDaemon):
    kind: ClassVar[str] = "gracebgpd"
    binaries: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.admin_down: set[str] = set()
        self.removed: set[str] = set()
        self._reloads = 0
        self._dumps = 0
        #: Added to the daemon's environment (e.g. a PYTHONPATH directory a test fills later).
        self.extra_env: dict[str, str] = {}

    # --- configuration -----------------------------------------------------------------
    def config(self) -> str:
        out = [
            "[global.config]",
            f"  as = {self.asn}",
            f"  router-id = {_q(self.router_id)}",
            f"  port = {self.listen_port if self.listen else -1}",
        ]
        for n in self.neighbors:
            if norm_addr(n.address) in self.removed:
                continue
            out += [
                "[[neighbors]]",
                "  [neighbors.config]",
                f"    neighbor-address = {_q(n.address)}",
                f"    peer-as = {n.peer_as}",
            ]
            if norm_addr(n.address) in self.admin_down:
                out.append("    admin-down = true")
            if n.password:
                out.append(f"    auth-password = {_q(n.password)}")
            if n.ttl_security:
                out += ["  [neighbors.ttl-security.config]", "    enabled = true",
                        f"    ttl-min = {256 - n.ttl_security}"]
            out += [
                "  [neighbors.timers.config]",
                f"    hold-time = {n.hold_time}",
                f"    keepalive-interval = {n.keepalive}",
                f"    connect-retry = {n.connect_retry}",
                "  [neighbors.transport.config]",
                f"    passive-mode = {str(n.passive).lower()}",
                f"    remote-port = {n.port}",
            ]
            local = self.local_address(n)
            if local:
                out.append(f"    local-address = {_q(local)}")
            gr = n.gr
            if gr is not None:
                out += [
                    "  [neighbors.graceful-restart.config]",
                    "    enabled = true",
                    f"    restart-time = {gr.restart_time}",
                    f"    notification-enabled = {str(gr.notification).lower()}",
                    f"    long-lived-enabled = {str(gr.llgr_stale_time > 0).lower()}",
                ]
            for fam in n.families:
                out += [
                    "  [[neighbors.afi-safis]]",
                    "    [neighbors.afi-safis.config]",
                    f'      afi-safi-name = "{fam}-unicast"',
                ]
                if gr is not None:
                    out += ["    [neighbors.afi-safis.mp-graceful-restart.config]", "      enabled = true"]
                    if gr.llgr_stale_time > 0:
                        out += [
                            "    [neighbors.afi-safis.long-lived-graceful-restart.config]",
                            "      enabled = true",
                            f"      restart-time = {gr.llgr_stale_time}",
                        ]
        out += [
            "[gracebgp]",
            f"  state-dir = {_q(str(self.workdir / 'state'))}",
            f"  api-socket = {_q(str(self.workdir / 'state' / 'api.sock'))}",
        ]
        for r in self.routes.values():
            out += ["[[gracebgp.routes]]", f"  prefix = {_q(r.network)}"]
            if r.next_hop:
                out.append(f"  next-hop = {_q(r.next_hop)}")
            if r.communities:
                out.append("  communities = [" + ", ".join(_q(c) for c in r.communities) + "]")
            if r.large_communities:
                out.append("  large-communities = [" + ", ".join(_q(c) for c in r.large_communities) + "]")
            if r.med is not None:
                out.append(f"  med = {r.med}")
            if r.local_pref is not None:
                out.append(f"  local-pref = {r.local_pref}")
        return "\n".join(out) + "\n"

    @property
    def log_path(self) -> str:
        return str(self.workdir / "gracebgpd.log")

    def _log_text(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    @property
    def api_socket(self) -> Path:
        return self.workdir / "state" / "api.sock"

    def starts(self) -> int:
        """How often a gracebgpd process started with this log: spawns and re-execs."""
        return len(START_LINE.findall(self._log_text()))

    def _launch(self, restarting: bool) -> None:
        conf = self.workdir / "gracebgpd.toml"
        conf.write_text(self.config())
        before = self._marks()
        self._spawn_main(
            [sys.executable, "-m", "gracebgp.daemon", "-f", str(conf), "-l", "debug"], "gracebgpd.log",
            env={**os.environ, **self.extra_env} if self.extra_env else None,
        )
        self._reloads = self._dumps = 0
        self._wait_started(before, 15)

    def _marks(self) -> tuple[int, int]:
        """(start lines, "listening on" lines) in the log so far."""
        text = self._log_text()
        return len(START_LINE.findall(text)), text.count("listening on")

    def _wait_started(self, marks: tuple[int, int], timeout: float) -> None:
        """Wait until a process started after :meth:`_marks` gave ``marks`` has logged its
        start line, listens (if it should) and answers on its API socket."""
        before, listening = marks

        def started() -> bool | str:
            self.check_alive()
            return self.starts() > before or "no start line yet"

        def serving() -> bool | str:
            self.check_alive()
            if self.listen and self._log_text().count("listening on") <= listening:
                return "not listening yet"
            try:
                self._api(lambda c: c.global_())
            except NotServing as exc:
                return str(exc)
            return True

        deadline = time.monotonic() + timeout
        self._wait(started, timeout, "gracebgpd to start")
        self._wait(serving, max(1.0, deadline - time.monotonic()), "gracebgpd to listen and serve its API")

    # --- the API and the gracebgp command ----------------------------------------------------
    @contextlib.contextmanager
    def client(self, timeout: float = 5.0) -> Iterator[Client]:
        with Client(str(self.api_socket), timeout=timeout) as c:
            yield c

    def _api(self, call: Callable[[Client], T]) -> T:
        """One API call; :class:`NotServing` when the daemon does not answer (yet) on the
        socket, :class:`DaemonDied` when its process is gone."""
        self.check_alive()
        try:
            with self.client() as c:
                return call(c)
        except ClientError as exc:
            if exc.status is None:
                self.check_alive()
                raise NotServing(str(exc)) from exc
            raise

    def cli(self, *args: str, json_out: bool = False, timeout: float = 30.0) -> str:
        """Run ``gracebgp --socket <api socket> [--json] ARGS...`` and return its stdout."""
        argv = [sys.executable, "-m", "gracebgp.cli.main", "--socket", str(self.api_socket)]
        if json_out:
            argv.append("--json")
        return self._run([*argv, *args], timeout=timeout)

    def graceful_restart(self, timeout: float = 30.0, handover: bool = False) -> float:
        """``gracebgp restart --graceful``: a planned graceful restart (the daemon re-executes
        itself, same PID); ``handover``: ``gracebgp restart``, the sessions handed over.
        Returns once the new process serves its API; the result is the wall clock
        (``time.time()``) at which the command returned (the daemon had accepted it)."""
        before = self._marks()
        t0 = time.monotonic()
        self.cli(*(("restart",) if handover else ("restart", "--graceful")), timeout=timeout)
        accepted = time.time()
        self.restarts += 1
        self._wait_started(before, max(1.0, timeout - (time.monotonic() - t0)))
        return accepted

    def take_over(self, timeout: float = 30.0) -> None:
        """``gracebgpd --take-over`` beside the running process (same namespace and state
        directory, as a new container would be): returns once the old process has exited
        and the new one serves; ``proc`` is the new one."""
        assert self.proc is not None
        old, before = self.proc, self._marks()
        conf = self.workdir / "gracebgpd.toml"
        argv = [sys.executable, "-m", "gracebgp.daemon", "-f", str(conf), "-l", "debug", "--take-over"]
        env = {**os.environ, **self.extra_env} if self.extra_env else None
        self._spawn_main(argv, "gracebgpd.log", env=env)
        self._wait(lambda: not old.alive() or "the old gracebgpd still runs", timeout,
                   "the old gracebgpd to exit")
        self.restarts += 1
        self._wait_started(before, timeout)

    def stop_withdraw(self, timeout: float = 15.0) -> float:
        """``gracebgp stop --withdraw``: peers are to drop our routes now. Returns once the
        process has exited; the result is the wall clock (``time.time()``) at which the
        command returned (the daemon had accepted it)."""
        t0 = time.monotonic()
        self.cli("stop", "--withdraw", timeout=timeout)
        accepted = time.time()
        self.wait_exited(max(1.0, timeout - (time.monotonic() - t0)))
        return accepted

    def sigint(self, timeout: float = 15.0) -> float:
        """SIGINT: the withdrawing stop by signal. Waits for the exit; returns the wall
        clock at which the signal was sent."""
        assert self.proc is not None
        sent = time.time()
        self.proc.signal_group(signal.SIGINT)
        self.wait_exited(timeout)
        return sent

    def wait_exited(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            tail = self.log_tail()
            raise TimeoutError(f"gracebgpd did not exit within {timeout}s; log tail:\n{tail}") from exc

    def _reload(self) -> None:
        assert self.proc is not None
        (self.workdir / "gracebgpd.toml").write_text(self.config())
        want = self._log_text().count("reload: ") + 1
        self.proc.signal_group(signal.SIGHUP)
        self._wait(lambda: self._log_text().count("reload: ") >= want or None, 10, "reload")

    # --- queries ---------------------------------------------------------------------------
    def dump(self) -> list[str]:
        """Ask for a state dump (SIGUSR1) and return its lines (for failure reports; the
        queries use the API: a SIGUSR1 that lands during a re-exec would kill the daemon)."""
        self.check_alive()
        assert self.proc is not None
        want = self._log_text().count("state: end of state") + 1
        self.proc.signal_group(signal.SIGUSR1)
        text = wait_until(
            lambda: (t := self._log_text()).count("state: end of state") >= want and t,
            10,
            0.05,
            what="gracebgpd state dump",
        )
        assert isinstance(text, str)
        lines = [ln.split(" state: ", 1)[1] for ln in text.splitlines() if " state: " in ln]
        start = max(i for i, ln in enumerate(lines) if ln.startswith("speaker AS "))
        return lines[start:]

    def session_state(self, neighbor: str) -> str:
        """The peer's state as ``GET /v1/peers/{addr}`` shows it; "Idle" while the daemon
        does not serve its API (starting or re-executing)."""
        try:
            peer = self._api(lambda c: c.peer(norm_addr(neighbor)))
        except NotServing:
            return "Idle"
        except ClientError as exc:
            if exc.status == 404:
                return "Idle"
            raise
        return _STATES.get(peer.state.upper(), peer.state)

    def _paths(self, table: str, family: Family, peer: str | None, best: bool = False) -> list[PathEntry]:
        def ask(c: Client) -> list[PathEntry]:
            return list(c.list_paths(table=table, family=f"{family}-unicast", peer=peer, best=best))

        try:
            return self._api(ask)
        except NotServing:
            return []
        except ClientError as exc:
            if exc.status == 404:  # no such peer (removed from the configuration)
                return []
            raise

    @staticmethod
    def _entry(e: PathEntry) -> SeenRoute:
        a = e.attrs
        communities = [_WELL_KNOWN.get(c, c) for c in a.get("communities", [])]
        nh = e.next_hop[0] if e.next_hop else None
        return SeenRoute(
            prefix=norm_prefix(e.prefix),
            next_hop=norm_addr(nh) if nh and nh not in ("0.0.0.0", "::") else None,
            as_path=[int(x) for x in re.findall(r"\d+", str(a.get("as_path", "")))],
            local_pref=a.get("local_pref"),
            med=a.get("med"),
            communities=communities,
            large_communities=list(a.get("large_communities", [])),
            stale=e.stale,
            llgr_stale="65535:6" in communities,
            peer=norm_addr(e.source) if e.source else None,
        )

    def received_routes(self, neighbor: str, family: Family) -> list[SeenRoute]:
        """The Adj-RIB-In (post-policy) of ``neighbor``: ``GET /v1/paths?table=adj-in``."""
        return [self._entry(e) for e in self._paths("adj-in", family, norm_addr(neighbor))]

    def best_routes(self, family: Family) -> list[SeenRoute]:
        """The selected routes of the Loc-RIB, local ones included."""
        return [self._entry(e) for e in self._paths("loc", family, None, best=True) if e.best]

    def peer_info(self, neighbor: str) -> dict[str, object]:
        """``GET /v1/peers/{addr}`` as a dict (GR state, counters, last error)."""
        return self._api(lambda c: c.peer(norm_addr(neighbor))).model_dump()

    # --- actions ---------------------------------------------------------------------------
    def announce(self, route: RouteSpec) -> None:
        self.routes[route.network] = route
        self._reload()

    def withdraw(self, prefix: str) -> None:
        self.routes.pop(norm_prefix(prefix), None)
        self._reload()

    def reset(self, neighbor: str, soft: bool = False) -> None:
        """Hard reset: the neighbor leaves the configuration (Cease/Peer De-configured) and
        comes back. Soft reset: ``POST /v1/peers/{addr}/reset`` mode soft (ROUTE-REFRESH
        asked and our routes sent again)."""
        if soft:
            self._api(lambda c: c.reset_peer(norm_addr(neighbor), "soft"))
            return
        self.removed.add(norm_addr(neighbor))
        self._reload()
        self.removed.discard(norm_addr(neighbor))
        time.sleep(0.2)
        self._reload()

    def set_neighbor(self, spec: NeighborSpec) -> None:
        """Replace the neighbor with ``spec``'s address by ``spec`` and reload (SIGHUP)."""
        key = norm_addr(spec.address)
        assert any(norm_addr(n.address) == key for n in self.neighbors), spec
        self.neighbors = [spec if norm_addr(n.address) == key else n for n in self.neighbors]
        self._reload()

    def health(self) -> list[dict[str, object]]:
        """``GET /v1/health``: the conditions, as dicts."""
        return [c.model_dump() for c in self._api(lambda c: c.health()).conditions]

    def shutdown(self, neighbor: str, message: str) -> None:
        """admin-down in the configuration (the message is not carried without the API)."""
        self.admin_down.add(norm_addr(neighbor))
        self._reload()

    def enable(self, neighbor: str) -> None:
        self.admin_down.discard(norm_addr(neighbor))
        self._reload()
