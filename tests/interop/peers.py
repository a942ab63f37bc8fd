"""Drivers for real BGP daemons used as interop peers: gobgpd, BIRD 2, FRR bgpd, ExaBGP.

Every driver implements :class:`PeerDaemon`. A driver is started inside a namespace of a
:class:`~tests.interop.netns.Lab`, writes its own config, sockets and logs under a fresh
sub-directory of the lab's work dir, and answers questions about its view of the world
*through the daemon's own CLI* (``gobgp -j``, ``birdc``, ``vtysh ... json``, the JSON that
ExaBGP hands to its API process). Nothing here talks BGP itself.

Usage::

    with Lab(2) as lab:
        a, b = lab.namespaces
        link = lab.link(0, 1)
        bird = Bird()
        bird.start(lab, a, asn=65001, router_id=link.a_v4,
                   neighbors=[NeighborSpec(link.b_v4, 65002)],
                   originate=[RouteSpec("10.1.0.0/24", communities=("65001:7",))])
        ...
        bird.wait_established(link.b_v4)
        route = bird.wait_route(link.b_v4, "ipv4", "10.2.0.0/24")

Families are ``"ipv4"`` and ``"ipv6"`` (unicast). Addresses and prefixes are compared in
canonical form (``ipaddress``). Communities are ``"a:b"`` strings, large communities
``"a:b:c"`` strings, well-known communities in numeric form (``"65535:6"`` is LLGR_STALE).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import re
import shutil
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from tests.interop.netns import CommandError, FatalWaitError, Lab, Process, wait_until

Family = Literal["ipv4", "ipv6"]
FAMILIES: tuple[Family, Family] = ("ipv4", "ipv6")
LLGR_STALE = "65535:6"
NO_LLGR = "65535:7"

HERE = Path(__file__).resolve().parent
EXABGP_HELPER = HERE / "exabgp_helper.py"


# --------------------------------------------------------------------------------------
# specs and results


@dataclass(frozen=True)
class GrSpec:
    """Graceful restart (RFC 4724), long-lived GR (RFC 9494) and the N bit (RFC 8538).

    ``llgr_stale_time`` 0 means no LLGR capability. ``notification`` asks for the N bit.
    """

    enabled: bool = True
    restart_time: int = 120
    llgr_stale_time: int = 0
    notification: bool = False


@dataclass(frozen=True)
class NeighborSpec:
    """One configured BGP neighbor of a driven daemon.

    ``port`` is the neighbor's (remote) TCP port. ``local_address`` defaults to our end
    of the lab link that leads to ``address``. ``graceful_restart`` ``None`` (or
    ``enabled=False``) switches GR off explicitly for this neighbor where the daemon
    would otherwise advertise it by default (BIRD "aware", FRR helper mode).
    ``password``: the TCP MD5 key (RFC 2385) of the session, None for none.
    ``ttl_security``: GTSM (RFC 5082) for a peer that many hops away (TTL 255 out, at
    least 256 - hops in), None for none.
    """

    address: str
    peer_as: int
    families: tuple[Family, ...] = ("ipv4",)
    passive: bool = False
    graceful_restart: GrSpec | None = None
    hold_time: int = 9
    port: int = 179
    local_address: str | None = None
    connect_retry: int = 1
    password: str | None = None  # TCP MD5 key (RFC 2385)
    ttl_security: int | None = None  # GTSM (RFC 5082): the peer is this many hops away

    @property
    def keepalive(self) -> int:
        return max(1, self.hold_time // 3)

    @property
    def gr(self) -> GrSpec | None:
        """The GR spec if GR is on for this neighbor, else None."""
        g = self.graceful_restart
        return g if g is not None and g.enabled else None


@dataclass(frozen=True)
class RouteSpec:
    """A route a driven daemon originates. ``next_hop`` None: the daemon's own address."""

    prefix: str
    next_hop: str | None = None
    communities: tuple[str, ...] = ()
    large_communities: tuple[str, ...] = ()
    med: int | None = None
    local_pref: int | None = None

    @property
    def family(self) -> Family:
        return family_of(self.prefix)

    @property
    def network(self) -> str:
        return norm_prefix(self.prefix)


@dataclass
class SeenRoute:
    """A route as a driven daemon shows it.

    ``stale``: retained under graceful restart (GoBGP's stale flag, FRR's ``stale``, BIRD's
    protocol in "Neighbor graceful restart active" or LLGR-stale). ``llgr_stale``: the
    route carries LLGR_STALE (65535:6) or the daemon flags it long-lived stale.
    ``peer`` is the neighbor address it was learned from (None if locally originated).
    """

    prefix: str
    next_hop: str | None
    as_path: list[int] = field(default_factory=list)
    local_pref: int | None = None
    med: int | None = None
    communities: list[str] = field(default_factory=list)
    large_communities: list[str] = field(default_factory=list)
    stale: bool = False
    llgr_stale: bool = False
    peer: str | None = None


class DaemonDied(FatalWaitError):
    """The driven daemon exited while we waited for it."""


# --------------------------------------------------------------------------------------
# small helpers


def norm_addr(addr: str) -> str:
    return str(ipaddress.ip_address(addr.split("%", 1)[0]))


def norm_prefix(prefix: str) -> str:
    return str(ipaddress.ip_network(prefix, strict=False))


def family_of(prefix_or_addr: str) -> Family:
    return "ipv6" if ":" in prefix_or_addr else "ipv4"


_STATES = {
    "idle": "Idle",
    "connect": "Connect",
    "active": "Active",
    "opensent": "OpenSent",
    "openconfirm": "OpenConfirm",
    "established": "Established",
    # daemon-specific spellings
    "down": "Idle",
    "start": "Idle",
    "clearing": "Idle",
    "deleted": "Idle",
    "close": "Idle",
    "connected": "OpenSent",
    "up": "Established",
}


def normalize_state(raw: str) -> str:
    """Map a daemon's session-state spelling onto the RFC 4271 FSM state names."""
    key = re.sub(r"[\s_\-]", "", raw).lower()
    key = re.sub(r"\(.*\)$", "", key)
    return _STATES.get(key, raw)


# Names under which daemons print well-known communities (FRR spells them out).
_WELL_KNOWN = {
    "gracefulshutdown": "65535:0",
    "gshut": "65535:0",
    "acceptown": "65535:1",
    "routefiltertranslatedv4": "65535:2",
    "routefilterv4": "65535:3",
    "routefiltertranslatedv6": "65535:4",
    "routefilterv6": "65535:5",
    "llgrstale": "65535:6",
    "nollgr": "65535:7",
    "acceptownnexthop": "65535:8",
    "blackhole": "65535:666",
    "noexport": "65535:65281",
    "noadvertise": "65535:65282",
    "localas": "65535:65283",
    "noexportsubconfed": "65535:65283",
    "nopeer": "65535:65284",
    "internet": "0:0",
}


def norm_community(text: str) -> str:
    key = re.sub(r"[\s_\-]", "", text).lower()
    return _WELL_KNOWN.get(key, text)


def community_from_u32(value: int) -> str:
    return f"{value >> 16}:{value & 0xFFFF}"


def _split_community(c: str) -> tuple[int, int]:
    a, b = norm_community(c).split(":")
    return int(a), int(b)


def _split_large(c: str) -> tuple[int, int, int]:
    a, b, c2 = c.split(":")
    return int(a), int(b), int(c2)


def _json_stream(text: str) -> list[Any]:
    """Decode several concatenated JSON documents (vtysh prints one per ``-c``)."""
    dec = json.JSONDecoder()
    out: list[Any] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = dec.raw_decode(text, pos)
        out.append(obj)
    return out


# --------------------------------------------------------------------------------------
# the interface


class PeerDaemon(ABC):
    """Common interface of the daemon drivers.

    Lifecycle: :meth:`start` (once), then any of :meth:`kill9`, :meth:`restart`,
    :meth:`stop`. The lab stops every process on exit, so :meth:`stop` is optional.
    """

    kind: ClassVar[str] = "?"
    #: executables the driver needs; see :meth:`missing_binaries`
    binaries: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._lab: Lab | None = None
        self.ns = ""
        self.asn = 0
        self.router_id = ""
        self.listen = True
        self.listen_port = 179
        self.neighbors: list[NeighborSpec] = []
        #: currently originated routes, by canonical prefix (re-applied on restart)
        self.routes: dict[str, RouteSpec] = {}
        self.workdir = Path()
        self.proc: Process | None = None
        self.aux: list[Process] = []
        self.restarts = 0

    # -- discovery --------------------------------------------------------------------

    @classmethod
    def missing_binaries(cls) -> list[str]:
        """Executables of this driver that are not installed."""
        missing = []
        for name in cls.binaries:
            ok = os.access(name, os.X_OK) if "/" in name else shutil.which(name) is not None
            if not ok:
                missing.append(name)
        return missing

    # -- lifecycle --------------------------------------------------------------------

    def start(
        self,
        lab: Lab,
        ns: str,
        *,
        asn: int,
        router_id: str,
        listen: bool = True,
        neighbors: Sequence[NeighborSpec],
        originate: Iterable[RouteSpec] = (),
        listen_port: int = 179,
    ) -> None:
        """Write the config and start the daemon in ``ns``; return once its CLI answers.

        ``listen``: accept incoming BGP connections on ``listen_port`` (BIRD always does).
        """
        if self._lab is not None:
            raise RuntimeError(f"{self.kind} driver already started")
        self._lab = lab
        self.ns = ns
        self.asn = asn
        self.router_id = router_id
        self.listen = listen
        self.listen_port = listen_port
        self.neighbors = list(neighbors)
        for route in originate:
            self.routes[route.network] = route
        self.workdir = lab.subdir(f"{self.kind}-{ns}")
        self._launch(restarting=False)

    @abstractmethod
    def _launch(self, restarting: bool) -> None:
        """(Re)write the config and start the daemon; wait until its CLI answers."""

    def kill9(self) -> None:
        """SIGKILL the BGP speaker process (no NOTIFICATION: the peer sees a crash)."""
        if self.proc is not None:
            self.proc.kill9()

    def restart(self, *, kill: bool = True) -> None:
        """Re-exec the daemon with the same config and the currently originated routes.

        If it still runs it is first SIGKILLed (``kill=True``, a crash) or SIGTERMed.
        Where the daemon has a "restarting speaker" mode it is used (gobgpd ``-r``, BIRD
        ``-R``), so the new OPEN carries the GR R bit (gobgpd also claims F=1).
        """
        if self.proc is not None and self.proc.alive():
            if kill:
                self.proc.kill9()
            else:
                self.proc.stop()
        self.restarts += 1
        self._launch(restarting=True)

    def stop(self) -> None:
        """Stop the daemon gracefully (SIGTERM, SIGKILL after a bound), helpers too."""
        if self.proc is not None:
            self.proc.stop()
        for p in self.aux:
            p.stop()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def logs(self) -> str:
        """All log files of this driver, concatenated with headers (for failure reports)."""
        parts = []
        for path in sorted(self.workdir.glob("*.log")) + sorted(self.workdir.glob("*.out")):
            try:
                text = path.read_text(errors="replace")
            except OSError as exc:
                text = f"<unreadable: {exc}>"
            parts.append(f"==== {path.name} ====\n{text}")
        return "\n".join(parts)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    # -- queries ----------------------------------------------------------------------

    @abstractmethod
    def session_state(self, neighbor: str) -> str:
        """FSM state of the session with ``neighbor``: "Idle", "Connect", "Active",
        "OpenSent", "OpenConfirm" or "Established"."""

    @abstractmethod
    def received_routes(self, neighbor: str, family: Family) -> list[SeenRoute]:
        """Routes of ``family`` the daemon holds from ``neighbor`` (incl. stale ones)."""

    @abstractmethod
    def best_routes(self, family: Family) -> list[SeenRoute]:
        """The routes the daemon selected (one per prefix), local ones included."""

    # -- actions ----------------------------------------------------------------------

    @abstractmethod
    def announce(self, route: RouteSpec) -> None:
        """Originate (or replace) ``route``."""

    @abstractmethod
    def withdraw(self, prefix: str) -> None:
        """Stop originating ``prefix``."""

    @abstractmethod
    def reset(self, neighbor: str, soft: bool = False) -> None:
        """Hard reset (NOTIFICATION Cease, reconnect) or soft reset (route refresh both ways
        where the daemon can) of the session with ``neighbor``."""

    @abstractmethod
    def shutdown(self, neighbor: str, message: str) -> None:
        """Administratively shut the session down (Cease/Administrative Shutdown with
        ``message`` as RFC 9003 communication where supported); :meth:`enable` undoes it."""

    @abstractmethod
    def enable(self, neighbor: str) -> None:
        """Undo :meth:`shutdown`."""

    # -- conveniences built on the above ----------------------------------------------

    @property
    def lab(self) -> Lab:
        if self._lab is None:
            raise RuntimeError(f"{self.kind} driver not started")
        return self._lab

    def neighbor(self, address: str) -> NeighborSpec:
        want = norm_addr(address)
        for n in self.neighbors:
            if norm_addr(n.address) == want:
                return n
        raise KeyError(f"{address} is not a configured neighbor of {self.kind} in {self.ns}")

    def neighbor_index(self, address: str) -> int:
        return self.neighbors.index(self.neighbor(address))

    def local_address(self, n: NeighborSpec) -> str | None:
        if n.local_address is not None:
            return n.local_address
        return self.lab.local_addr_towards(self.ns, n.address)

    def established(self, neighbor: str) -> bool:
        return self.session_state(neighbor) == "Established"

    def check_alive(self) -> None:
        """Raise :class:`DaemonDied` (with the log tail) if the daemon exited."""
        if self.proc is None or not self.proc.alive():
            code = None if self.proc is None else self.proc.popen.returncode
            raise DaemonDied(
                f"{self.kind} in {self.ns} is not running (exit {code}); log tail:\n{self.log_tail()}"
            )

    def wait_state(self, neighbor: str, state: str = "Established", timeout: float = 30.0) -> None:
        def pred() -> bool | str:
            self.check_alive()
            now = self.session_state(neighbor)
            return True if now == state else now

        self._wait(pred, timeout, f"{self.kind} session with {neighbor} to be {state}")

    def wait_established(self, neighbor: str, timeout: float = 30.0) -> None:
        self.wait_state(neighbor, "Established", timeout)

    def find_route(self, neighbor: str, family: Family, prefix: str) -> SeenRoute | None:
        want = norm_prefix(prefix)
        for r in self.received_routes(neighbor, family):
            if r.prefix == want:
                return r
        return None

    def sample_routes(self, wanted: Sequence[tuple[str, Family, str]]) -> list[SeenRoute | None]:
        """One observation of several routes: for each ``(neighbor, family, prefix)`` the
        route from that neighbor (as :meth:`find_route` gives it) or None. Drivers whose
        CLI is slow to start override it with a single CLI run (GR tests sample every
        100 ms)."""
        return [self.find_route(n, f, p) for n, f, p in wanted]

    def eor_received(self, neighbor: str, family: Family) -> bool | None:
        """Whether the daemon says it has received End-of-RIB for ``family`` from
        ``neighbor`` (RFC 4724 §2); None where its CLI does not tell (BIRD: its
        "Neighbor graceful restart active" ends with the EOR, see :meth:`Bird.gr_active`)."""
        return None

    def wait_route(
        self,
        neighbor: str,
        family: Family,
        prefix: str,
        where: Callable[[SeenRoute], bool] | None = None,
        timeout: float = 20.0,
    ) -> SeenRoute:
        """Wait until a route for ``prefix`` from ``neighbor`` is there (and satisfies
        ``where``); return it."""

        def pred() -> SeenRoute | str | None:
            r = self.find_route(neighbor, family, prefix)
            if r is not None and (where is None or where(r)):
                return r
            return None if r is None else f"not yet as wanted: {r}"

        result = self._wait(pred, timeout, f"{self.kind}: {prefix} from {neighbor}")
        assert isinstance(result, SeenRoute)
        return result

    def wait_route_gone(self, neighbor: str, family: Family, prefix: str, timeout: float = 20.0) -> None:
        def pred() -> bool | SeenRoute:
            r = self.find_route(neighbor, family, prefix)
            return True if r is None else r

        self._wait(pred, timeout, f"{self.kind}: {prefix} from {neighbor} to be withdrawn")

    def _wait(self, pred: Callable[[], object], timeout: float, what: str) -> object:
        def checked() -> object:
            value = pred()
            return value if value is True or isinstance(value, SeenRoute) else _NotYet(value)

        try:
            return wait_until(checked, timeout, interval=0.3, what=what)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n---- {self.kind} log tail ----\n{self.log_tail()}") from None

    # -- helpers for subclasses -------------------------------------------------------

    def _spawn_main(self, argv: list[str], log_name: str, env: dict[str, str] | None = None) -> Process:
        self.proc = self.lab.spawn(self.ns, argv, self.workdir / log_name, name=self.kind, env=env)
        return self.proc

    def _run(self, argv: Sequence[str], timeout: float = 20.0, check: bool = True) -> str:
        return self.lab.run(self.ns, argv, timeout=timeout, check=check)


class _NotYet:
    """A falsy wrapper so wait_until keeps the last observation for its error message."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return repr(self.value)


# ======================================================================================
# GoBGP


_GOBGP_STATES = {
    0: "Idle",  # UNKNOWN
    1: "Idle",
    2: "Connect",
    3: "Active",
    4: "OpenSent",
    5: "OpenConfirm",
    6: "Established",
}


class GoBgpd(PeerDaemon):
    """gobgpd driven through ``gobgp -u 127.0.0.1 -p <port> -j``.

    Each instance gets its own gRPC API port (allocated per namespace by the lab). Routes
    are originated through ``gobgp global rib add`` (gobgpd has no static routes in its
    config), and re-added after a restart. ``restart()`` runs ``gobgpd -r``: the OPEN then
    carries the GR R bit (and F=1 for every family).
    """

    kind = "gobgpd"
    binaries = ("gobgpd", "gobgp")

    def __init__(self) -> None:
        super().__init__()
        self.api_port = 0

    def config(self) -> str:
        lines = [
            "[global.config]",
            f"  as = {self.asn}",
            f'  router-id = "{self.router_id}"',
            f"  port = {self.listen_port if self.listen else -1}",
            "",
        ]
        for n in self.neighbors:
            gr = n.gr
            local = self.local_address(n)
            lines += [
                "[[neighbors]]",
                "  [neighbors.config]",
                f'    neighbor-address = "{norm_addr(n.address)}"',
                f"    peer-as = {n.peer_as}",
                *([f'    auth-password = "{n.password}"'] if n.password else []),
                *(["  [neighbors.ttl-security.config]", "    enabled = true",
                   f"    ttl-min = {256 - n.ttl_security}"] if n.ttl_security else []),
                "  [neighbors.timers.config]",
                f"    hold-time = {n.hold_time}",
                f"    keepalive-interval = {n.keepalive}",
                f"    connect-retry = {n.connect_retry}",
                "    idle-hold-time-after-reset = 1",
                "  [neighbors.transport.config]",
                f"    passive-mode = {'true' if n.passive else 'false'}",
                f"    remote-port = {n.port}",
            ]
            if local is not None:
                lines.append(f'    local-address = "{local}"')
            if gr is not None:
                lines += [
                    "  [neighbors.graceful-restart.config]",
                    "    enabled = true",
                    f"    restart-time = {gr.restart_time}",
                    f"    notification-enabled = {'true' if gr.notification else 'false'}",
                    f"    long-lived-enabled = {'true' if gr.llgr_stale_time else 'false'}",
                ]
            for fam in n.families:
                lines += [
                    "  [[neighbors.afi-safis]]",
                    "    [neighbors.afi-safis.config]",
                    f'      afi-safi-name = "{fam}-unicast"',
                ]
                if gr is not None:
                    lines += [
                        "    [neighbors.afi-safis.mp-graceful-restart.config]",
                        "      enabled = true",
                    ]
                    if gr.llgr_stale_time:
                        lines += [
                            "    [neighbors.afi-safis.long-lived-graceful-restart.config]",
                            "      enabled = true",
                            f"      restart-time = {gr.llgr_stale_time}",
                        ]
            lines.append("")
        return "\n".join(lines) + "\n"

    def _launch(self, restarting: bool) -> None:
        conf = self.workdir / "gobgpd.toml"
        conf.write_text(self.config())
        if self.api_port == 0:
            self.api_port = self.lab.alloc_port(self.ns)
        argv = [
            "gobgpd",
            "-f",
            str(conf),
            "-t",
            "toml",
            "-p",
            "-l",
            "debug",
            "--api-hosts",
            f"127.0.0.1:{self.api_port}",
            "--pprof-disable",
        ]
        if restarting:
            argv.append("-r")
        self._spawn_main(argv, "gobgpd.log")

        def ready() -> bool:
            self.check_alive()
            return bool(self.cli("global").strip())

        wait_until(ready, 15, what="gobgpd API")
        for route in self.routes.values():
            self._add(route)

    def cli(self, *args: str, json_out: bool = False, check: bool = True) -> str:
        base = ["gobgp", "-u", "127.0.0.1", "-p", str(self.api_port)]
        if json_out:
            base.append("-j")
        return self._run([*base, *args], check=check)

    def cli_json(self, *args: str) -> Any:
        out = self.cli(*args, json_out=True).strip()
        return json.loads(out) if out else None

    # -- queries

    def session_state(self, neighbor: str) -> str:
        data = self.cli_json("neighbor", norm_addr(neighbor))
        state = (data or {}).get("state", {})
        raw = state.get("session_state", 0)
        if isinstance(raw, int):
            return _GOBGP_STATES.get(raw, str(raw))
        return normalize_state(str(raw).replace("SESSION_STATE_", ""))

    def received_routes(self, neighbor: str, family: Family) -> list[SeenRoute]:
        try:
            data = self.cli_json("neighbor", norm_addr(neighbor), "adj-in", "-a", family)
        except CommandError as exc:
            # gobgp refuses adj-in queries for a peer that is down and holds nothing
            # (under GR the retained routes are still listed)
            if "not established" in exc.stdout + exc.stderr:
                return []
            raise
        return [self._path(p) for p in self._paths(data)]

    def best_routes(self, family: Family) -> list[SeenRoute]:
        data = self.cli_json("global", "rib", "-a", family)
        return [self._path(p) for p in self._paths(data) if p.get("best")]

    def eor_received(self, neighbor: str, family: Family) -> bool | None:
        """``end_of_rib_received`` of the family in ``gobgp neighbor X -j``."""
        data = self.cli_json("neighbor", norm_addr(neighbor)) or {}
        afi = 1 if family == "ipv4" else 2
        for af in data.get("afi_safis", []):
            fam = (af.get("config") or {}).get("family") or {}
            if fam.get("afi") == afi and fam.get("safi") == 1:
                state = (af.get("mp_graceful_restart") or {}).get("state") or {}
                return bool(state.get("end_of_rib_received"))
        return False

    @staticmethod
    def _paths(data: Any) -> list[dict[str, Any]]:
        if not data:
            return []
        paths: list[dict[str, Any]] = []
        if isinstance(data, dict):
            for plist in data.values():
                paths.extend(plist or [])
        elif isinstance(data, list):  # older gobgp: list of destinations
            for dest in data:
                paths.extend(dest.get("paths", []))
        return paths

    @staticmethod
    def _path(p: dict[str, Any]) -> SeenRoute:
        prefix = norm_prefix(p["nlri"]["prefix"])
        r = SeenRoute(prefix=prefix, next_hop=None, stale=bool(p.get("stale")))
        src = p.get("neighbor-ip")
        r.peer = norm_addr(src) if src and src not in ("0.0.0.0", "::", "<nil>") else None
        for a in p.get("attrs", []):
            t = a.get("type")
            if t == 2:
                for seg in a.get("as_paths", []):
                    r.as_path.extend(int(x) for x in seg.get("asns", []))
            elif t == 3:
                r.next_hop = a.get("nexthop")
            elif t == 4:
                r.med = int(a.get("metric", 0))
            elif t == 5:
                r.local_pref = int(a.get("value", 0))
            elif t == 8:
                r.communities = [community_from_u32(int(c)) for c in a.get("communities", [])]
            elif t == 14:
                nh = a.get("nexthop") or (a.get("nexthops") or [None])[0]
                r.next_hop = nh
            elif t == 32:
                r.large_communities = [
                    f"{v['ASN']}:{v['LocalData1']}:{v['LocalData2']}" for v in a.get("value", [])
                ]
        if r.next_hop in ("0.0.0.0", "::"):
            r.next_hop = None
        elif r.next_hop is not None:
            r.next_hop = norm_addr(r.next_hop)
        r.llgr_stale = LLGR_STALE in r.communities
        return r

    # -- actions

    def _add(self, route: RouteSpec) -> None:
        args = ["global", "rib", "add", "-a", route.family, route.network]
        if route.next_hop:
            args += ["nexthop", route.next_hop]
        if route.communities:
            args += ["community", ",".join(norm_community(c) for c in route.communities)]
        if route.large_communities:
            args += ["large-community", ",".join(route.large_communities)]
        if route.med is not None:
            args += ["med", str(route.med)]
        if route.local_pref is not None:
            args += ["local-pref", str(route.local_pref)]
        self.cli(*args)

    def announce(self, route: RouteSpec) -> None:
        if route.network in self.routes:
            self.cli("global", "rib", "del", "-a", route.family, route.network)
        self.routes[route.network] = route
        self._add(route)

    def withdraw(self, prefix: str) -> None:
        self.routes.pop(norm_prefix(prefix), None)
        self.cli("global", "rib", "del", "-a", family_of(prefix), norm_prefix(prefix))

    def reset(self, neighbor: str, soft: bool = False) -> None:
        self.cli("neighbor", norm_addr(neighbor), "softreset" if soft else "reset")

    def shutdown(self, neighbor: str, message: str) -> None:
        # gobgp 3.10: only "shutdown --reason" puts the message on the wire ("disable
        # --reason" sends an empty one), but "shutdown" lets the session come back; the
        # "disable" right after (within the idle hold time) keeps it down.
        addr = norm_addr(neighbor)
        self.cli("neighbor", addr, "shutdown", "--reason", message)
        self.cli("neighbor", addr, "disable")

    def enable(self, neighbor: str) -> None:
        self.cli("neighbor", norm_addr(neighbor), "enable")


# ======================================================================================
# BIRD


_BIRD_HEADER = re.compile(
    r"^(?P<prefix>\S+)?\s+(?P<dest>\w+)\s+\[(?P<proto>\S+)\s+(?P<since>[^\]]*?)"
    r"(?:\s+from\s+(?P<src>\S+))?\]\s*(?P<primary>[*!])?\s*"
    r"\((?P<pref>\d+)(?P<flags>[a-z\-]*)(?:/[^)]*)?\)(?:\s+\[(?P<summary>[^\]]*)\])?\s*$"
)


def parse_bird_routes(text: str) -> list[dict[str, Any]]:
    """Parse ``birdc show route all`` output (BIRD 2.0.x) into dicts.

    The format relied on::

        Table master4:
        10.9.0.0/24          unicast [n0 15:02:26.421 from 10.254.0.1] * (100s) [AS4200000001?]
        \\tvia 10.254.0.1 on veth0
        \\tType: BGP univ
        \\tBGP.as_path: 4200000001
        \\tBGP.next_hop: 10.254.0.1
        \\tBGP.community: (65001,1) (65535,6)
        \\tBGP.large_community: (4200000001, 1, 1)
                             unicast [n1 15:02:26.438] (100) [AS4200000001?]
        \\t...

    * a header line starts with the prefix, or with blanks when it is another route for
      the prefix of the previous header; then the destination type (unicast, blackhole,
      unreachable, ...), ``[protocol since (from address)]``, ``*`` for the primary
      (best) route, ``(preference[flags][/igp metric])`` where flag ``s`` marks an
      LLGR-stale route and ``-`` a suppressed one, then an AS path summary;
    * attribute lines start with a tab: ``Name: value``; ``BGP.*`` attributes are what the
      route carries; ``via ...`` lines give the resolved gateway.
    """
    routes: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    last_prefix: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("BIRD ") or line.startswith("Table "):
            continue
        if line.startswith("\t"):
            if current is None:
                continue
            body = line.strip()
            if ":" in body and not body.startswith("via "):
                key, _, value = body.partition(":")
                current["attrs"][key.strip()] = value.strip()
            elif body.startswith("via "):
                current["via"] = body.split()[1]
            continue
        m = _BIRD_HEADER.match(line)
        if m is None:
            continue
        prefix = m.group("prefix") or last_prefix
        if prefix is None:
            continue
        last_prefix = prefix
        current = {
            "prefix": prefix,
            "dest": m.group("dest"),
            "proto": m.group("proto"),
            "from": m.group("src"),
            "primary": m.group("primary") == "*",
            "pref": int(m.group("pref")),
            "flags": m.group("flags") or "",
            "attrs": {},
        }
        routes.append(current)
    return routes


_BIRD_CLOCK = re.compile(r"^(\d\d):(\d\d):(\d\d(?:\.\d+)?)$")


def same_bird_since(a: object, b: object) -> bool:
    """Whether two readings of one BIRD ``since`` field (or any other field: compared
    exactly) name the same state change. BIRD prints it by adding the change's monotonic
    age to the real clock on each call, so one change can read 1 ms apart (seen in CI:
    10:41:46.204 then .205). A flap moves it to after the first reading, which in these
    tests is seconds later, so 50 ms tells the two apart."""
    ma, mb = _BIRD_CLOCK.match(str(a)), _BIRD_CLOCK.match(str(b))
    if ma is None or mb is None:
        return a == b
    sa, sb = (int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) for m in (ma, mb))
    return min(abs(sa - sb), 86400 - abs(sa - sb)) <= 0.05


def same_bird_marks(a: Sequence[object], b: Sequence[object]) -> bool:
    """Field by field with :func:`same_bird_since`."""
    return len(a) == len(b) and all(same_bird_since(x, y) for x, y in zip(a, b, strict=True))


def _bird_pairs(value: str) -> list[list[int]]:
    return [[int(x) for x in grp.split(",")] for grp in re.findall(r"\(([^)]*)\)", value)]


class Bird(PeerDaemon):
    """BIRD 2 driven through ``birdc -s <socket>``.

    Originated routes are static blackhole routes (``protocol static gbi_s4/gbi_s6``); their
    attributes are set in the per-family export filter (BIRD only sends MED and a chosen
    next hop to eBGP peers when the export filter sets them). ``announce``/``withdraw``
    rewrite the config and run ``birdc configure``. Neighbor ``i`` is ``protocol bgp n<i>``.
    BIRD always listens for its configured neighbors (``listen`` is ignored) and
    has no N bit (RFC 8538) support in 2.0.12 (``GrSpec.notification`` is ignored).
    """

    kind = "bird"
    binaries = ("bird", "birdc")

    def proto(self, neighbor: str) -> str:
        return f"n{self.neighbor_index(neighbor)}"

    def config(self) -> str:
        out = [
            f"router id {self.router_id};",
            f'log "{self.workdir / "bird.log"}" all;',
            "protocol device { scan time 2; }",
        ]
        for fam, sfx in (("ipv4", "4"), ("ipv6", "6")):
            routes = [r for r in self.routes.values() if r.family == fam]
            out.append(f"protocol static gbi_s{sfx} {{")
            out.append(f"  {fam};")
            out += [f"  route {r.network} blackhole;" for r in routes]
            out.append("}")
            out.append(f"filter gbi_export{sfx} {{")
            for r in routes:
                sets = self._route_sets(r)
                if sets:
                    out.append(f'  if proto = "gbi_s{sfx}" && net = {r.network} then {{ {" ".join(sets)} }}')
            out.append("  accept;")
            out.append("}")
        for i, n in enumerate(self.neighbors):
            gr = n.gr
            local = self.local_address(n)
            ibgp = n.peer_as == self.asn
            lines = [
                f"protocol bgp n{i} {{",
                f"  local {local or ''} port {self.listen_port} as {self.asn};",
                f"  neighbor {norm_addr(n.address)} port {n.port} as {n.peer_as};",
                f"  hold time {n.hold_time}; keepalive time {n.keepalive};",
                f"  connect retry time {n.connect_retry}; connect delay time 1;",
                "  error wait time 1, 4; error forget time 10;",
                f"  passive {'on' if n.passive else 'off'};",
                "  direct;" if local is not None else "  multihop;",
                *([f'  password "{n.password}";'] if n.password else []),
                *(["  ttl security on;"] if n.ttl_security else []),
            ]
            if gr is not None:
                lines.append(f"  graceful restart on; graceful restart time {gr.restart_time};")
                if gr.llgr_stale_time:
                    lines.append(
                        f"  long lived graceful restart on; long lived stale time {gr.llgr_stale_time};"
                    )
                else:
                    lines.append("  long lived graceful restart off;")
            else:
                lines.append("  graceful restart off; long lived graceful restart off;")
            for fam in n.families:
                sfx = "4" if fam == "ipv4" else "6"
                extra = " gateway direct;" if ibgp and local is not None else ""
                lines.append(f"  {fam} {{ import all; export filter gbi_export{sfx};{extra} }};")
            lines.append("}")
            out += lines
        return "\n".join(out) + "\n"

    @staticmethod
    def _route_sets(r: RouteSpec) -> list[str]:
        sets = []
        if r.med is not None:
            sets.append(f"bgp_med = {r.med};")
        if r.local_pref is not None:
            sets.append(f"bgp_local_pref = {r.local_pref};")
        for c in r.communities:
            a, b = _split_community(c)
            sets.append(f"bgp_community.add(({a},{b}));")
        for c in r.large_communities:
            a, b, c2 = _split_large(c)
            sets.append(f"bgp_large_community.add(({a},{b},{c2}));")
        if r.next_hop is not None:
            sets.append(f"bgp_next_hop = {norm_addr(r.next_hop)};")
        return sets

    @property
    def socket(self) -> Path:
        return self.workdir / "bird.ctl"

    def _write_config(self) -> Path:
        conf = self.workdir / "bird.conf"
        conf.write_text(self.config())
        return conf

    def _launch(self, restarting: bool) -> None:
        conf = self._write_config()
        check = self._check_config(conf)
        if check:
            raise RuntimeError(f"bird rejects its config: {check}\n{conf.read_text()}")
        argv = ["bird", "-f", "-c", str(conf), "-s", str(self.socket), "-P", str(self.workdir / "bird.pid")]
        if restarting:
            argv.append("-R")
        self._spawn_main(argv, "bird.out")

        def ready() -> bool:
            self.check_alive()
            return "ready" in self.birdc("show", "status")

        wait_until(ready, 15, what="bird control socket")

    def _check_config(self, conf: Path) -> str:
        try:
            self.lab.run(self.ns, ["bird", "-p", "-c", str(conf)])
        except CommandError as exc:
            return f"{exc.stderr.strip()} {exc.stdout.strip()}"
        return ""

    def birdc(self, *args: str, check: bool = True) -> str:
        return self._run(["birdc", "-s", str(self.socket), *args], check=check)

    def reconfigure(self) -> None:
        conf = self._write_config()
        check = self._check_config(conf)
        if check:
            raise RuntimeError(f"bird rejects its config: {check}")
        out = self.birdc("configure", f'"{conf}"')
        if "Reconfigur" not in out:
            raise RuntimeError(f"birdc configure: {out.strip()}")

    # -- queries

    def _proto_info(self, neighbor: str) -> str:
        return self.birdc("show", "protocols", "all", self.proto(neighbor))

    def session_state(self, neighbor: str) -> str:
        info = self._proto_info(neighbor)
        m = re.search(r"BGP state:\s+(\S+)", info)
        if m is None:
            return "Idle"
        return normalize_state(m.group(1))

    def gr_active(self, neighbor: str) -> bool:
        """BIRD keeps the neighbor's routes under graceful restart (no per-route flag)."""
        return "Neighbor graceful restart active" in self._proto_info(neighbor)

    def _routes(self, *args: str) -> list[SeenRoute]:
        out = self.birdc("show", "route", "all", *args)
        protos = {f"n{i}": norm_addr(n.address) for i, n in enumerate(self.neighbors)}
        result = []
        for r in parse_bird_routes(out):
            attrs = r["attrs"]
            peer = protos.get(r["proto"])
            comms = [f"{a}:{b}" for a, b in _bird_pairs(attrs.get("BGP.community", ""))]
            larges = [f"{a}:{b}:{c}" for a, b, c in _bird_pairs(attrs.get("BGP.large_community", ""))]
            nh = attrs.get("BGP.next_hop", "").split()
            path = [int(x) for x in re.findall(r"\d+", attrs.get("BGP.as_path", ""))]
            llgr = "s" in r["flags"] or LLGR_STALE in comms
            result.append(
                SeenRoute(
                    prefix=norm_prefix(r["prefix"]),
                    next_hop=norm_addr(nh[0]) if nh else None,
                    as_path=path,
                    local_pref=int(attrs["BGP.local_pref"]) if "BGP.local_pref" in attrs else None,
                    med=int(attrs["BGP.med"]) if "BGP.med" in attrs else None,
                    communities=comms,
                    large_communities=larges,
                    stale=llgr,
                    llgr_stale=llgr,
                    peer=peer,
                )
            )
        return result

    def received_routes(self, neighbor: str, family: Family) -> list[SeenRoute]:
        table = "master4" if family == "ipv4" else "master6"
        routes = self._routes("protocol", self.proto(neighbor), "table", table)
        if routes and self.gr_active(neighbor):
            for r in routes:
                r.stale = True
        return routes

    def best_routes(self, family: Family) -> list[SeenRoute]:
        table = "master4" if family == "ipv4" else "master6"
        return self._routes("primary", "table", table)

    # -- actions

    def announce(self, route: RouteSpec) -> None:
        self.routes[route.network] = route
        self.reconfigure()

    def withdraw(self, prefix: str) -> None:
        self.routes.pop(norm_prefix(prefix), None)
        self.reconfigure()

    def reset(self, neighbor: str, soft: bool = False) -> None:
        self.birdc("reload" if soft else "restart", self.proto(neighbor))

    def shutdown(self, neighbor: str, message: str) -> None:
        self.birdc("disable", self.proto(neighbor), json.dumps(message))

    def enable(self, neighbor: str) -> None:
        self.birdc("enable", self.proto(neighbor))


# ======================================================================================
# FRR


class Frr(PeerDaemon):
    """FRR ``bgpd`` (+ ``zebra``) driven through ``vtysh --vty_socket <dir> -d bgpd``.

    Both daemons run as user ``frr`` with their vty sockets, pid files and zserv socket in
    the driver's work dir (mode 0777). ``zebra`` is started too unless ``with_zebra=False``:
    bgpd without zebra knows no interfaces and therefore drops every IPv6 UPDATE whose
    MP_REACH next hop includes a link-local address ("sent a v6 LL next-hop and there's no
    peer interface information"), which BIRD always sends. bgpd runs with ``-n`` (nothing
    is installed into the kernel). Originated routes are ``network`` statements with a
    route-map per route. GR timers are global in FRR: the first GR neighbor's values apply.
    """

    kind = "frr"
    binaries = ("/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh")

    def __init__(self, with_zebra: bool = True) -> None:
        super().__init__()
        self.with_zebra = with_zebra
        self.zebra: Process | None = None
        self._rm_seq = 0
        self._rm_names: dict[str, str] = {}

    # -- config

    def _route_map(self, r: RouteSpec) -> list[str]:
        sets = []
        if r.communities:
            sets.append("set community " + " ".join(norm_community(c) for c in r.communities))
        if r.large_communities:
            sets.append("set large-community " + " ".join(r.large_communities))
        if r.med is not None:
            sets.append(f"set metric {r.med}")
        if r.local_pref is not None:
            sets.append(f"set local-preference {r.local_pref}")
        if r.next_hop is not None:
            if family_of(r.next_hop) == "ipv4":
                sets.append(f"set ip next-hop {norm_addr(r.next_hop)}")
            else:
                sets.append(f"set ipv6 next-hop global {norm_addr(r.next_hop)}")
        return sets

    def _rm_for(self, r: RouteSpec) -> tuple[str, list[str]] | None:
        sets = self._route_map(r)
        if not sets:
            return None
        self._rm_seq += 1
        name = f"GBI_R{self._rm_seq}"
        self._rm_names[r.network] = name
        return name, [f"route-map {name} permit 10", *[f" {s}" for s in sets], "exit"]

    def _gr(self) -> GrSpec | None:
        return next((n.gr for n in self.neighbors if n.gr is not None), None)

    def config(self) -> str:
        out = ["frr defaults traditional", f"hostname gbi-{self.ns}", "!"]
        network_lines: dict[Family, list[str]] = {"ipv4": [], "ipv6": []}
        for r in self.routes.values():
            rm = self._rm_for(r)
            if rm is None:
                network_lines[r.family].append(f"  network {r.network}")
            else:
                out += [*rm[1], "!"]
                network_lines[r.family].append(f"  network {r.network} route-map {rm[0]}")
        gr = self._gr()
        out += [
            f"router bgp {self.asn}",
            f" bgp router-id {self.router_id}",
            " no bgp ebgp-requires-policy",
            " no bgp network import-check",
            " no bgp default ipv4-unicast",
            " bgp log-neighbor-changes",
        ]
        if gr is not None:
            out += [" bgp graceful-restart", f" bgp graceful-restart restart-time {gr.restart_time}"]
            if gr.notification:
                out.append(" bgp graceful-restart notification")
            if gr.llgr_stale_time:
                out.append(f" bgp long-lived-graceful-restart stale-time {gr.llgr_stale_time}")
        for n in self.neighbors:
            a = norm_addr(n.address)
            local = self.local_address(n)
            out += [
                f" neighbor {a} remote-as {n.peer_as}",
                f" neighbor {a} timers {n.keepalive} {n.hold_time}",
                f" neighbor {a} timers connect {n.connect_retry}",
            ]
            if n.port != 179:
                out.append(f" neighbor {a} port {n.port}")
            if n.passive:
                out.append(f" neighbor {a} passive")
            if n.password:
                out.append(f" neighbor {a} password {n.password}")
            if n.ttl_security:
                out.append(f" neighbor {a} ttl-security hops {n.ttl_security}")
            if local is not None:
                out.append(f" neighbor {a} update-source {local}")
            out.append(
                f" neighbor {a} graceful-restart" if n.gr else f" neighbor {a} graceful-restart-disable"
            )
        for fam in FAMILIES:
            members = [n for n in self.neighbors if fam in n.families]
            if not members and not network_lines[fam]:
                continue
            out.append(f" address-family {fam} unicast")
            out += network_lines[fam]
            out += [f"  neighbor {norm_addr(n.address)} activate" for n in members]
            out.append(" exit-address-family")
        out += ["exit", "!"]
        return "\n".join(out) + "\n"

    # -- processes

    def _launch(self, restarting: bool) -> None:
        d = self.workdir
        if self.with_zebra and (self.zebra is None or not self.zebra.alive()):
            (d / "zebra.conf").write_text(f"hostname gbi-{self.ns}-zebra\n")
            self.zebra = self.lab.spawn(
                self.ns,
                [
                    "/usr/lib/frr/zebra",
                    "-f",
                    str(d / "zebra.conf"),
                    "-i",
                    str(d / "zebra.pid"),
                    "-z",
                    str(d / "zserv.api"),
                    "--vty_socket",
                    str(d),
                    "-u",
                    "frr",
                    "-g",
                    "frr",
                    "-P",
                    "0",
                    "--log",
                    f"file:{d / 'zebra.log'}",
                ],
                d / "zebra.out",
                name="zebra",
            )
            self.aux.append(self.zebra)
            wait_until((d / "zserv.api").exists, 10, interval=0.1, what="zebra's zserv socket")
        self._rm_names.clear()
        conf = d / "bgpd.conf"
        conf.write_text(self.config())
        argv = [
            "/usr/lib/frr/bgpd",
            "-f",
            str(conf),
            "-i",
            str(d / "bgpd.pid"),
            "-z",
            str(d / "zserv.api"),
            "--vty_socket",
            str(d),
            "-n",
            "-P",
            "0",
            "-p",
            str(self.listen_port) if self.listen else "0",
            "-u",
            "frr",
            "-g",
            "frr",
            "--log",
            f"file:{d / 'bgpd.log'}",
        ]
        if not self.with_zebra:
            argv.append("-Z")
        self._check_config(conf)
        self._spawn_main(argv, "bgpd.out")

        def ready() -> bool:
            self.check_alive()
            return "BGP" in self.vtysh("show bgp summary")

        wait_until(ready, 20, what="bgpd vty")

    def _check_config(self, conf: Path) -> None:
        """Dry-run the config (``bgpd -C``) and raise on rejected lines.

        ``bgpd -C`` exits 0 even on bad lines; it prints "No such command on config line
        N: ..." (and similar), which we turn into an error.
        """
        d = self.workdir
        argv = [
            "/usr/lib/frr/bgpd", "-C", "-f", str(conf),
            "-i", str(d / "dryrun.pid"), "-z", str(d / "dryrun.api"), "--vty_socket", str(d / "dryrun"),
            "-Z", "-n", "-P", "0", "-p", "0", "-u", "frr", "-g", "frr", "--log", "stdout",
        ]  # fmt: skip
        (d / "dryrun").mkdir(mode=0o777, exist_ok=True)
        os.chmod(d / "dryrun", 0o777)
        out = self.lab.run(self.ns, argv, check=False, timeout=20)
        # "neighbor X graceful-restart" returns CMD_WARNING_CONFIG_FAILED ("reset this peer to
        # take effect") although it is applied: not an error at startup.
        bad = sorted(
            {
                ln.split("]", 2)[-1].strip()
                for ln in out.splitlines()
                if "config line" in ln and not ("Warning Config Failed" in ln and "graceful-restart" in ln)
            }
        )
        if bad:
            raise RuntimeError(f"bgpd rejects lines of {conf}:\n" + "\n".join(bad))

    def vtysh(self, *cmds: str, check: bool = True) -> str:
        argv = ["vtysh", "--vty_socket", str(self.workdir), "-d", "bgpd"]
        for c in cmds:
            argv += ["-c", c]
        out = self._run(argv, check=check)
        if check and "% Unknown command" in out:
            raise RuntimeError(f"vtysh {cmds!r}: {out.strip()}")
        return out

    def configure(self, *cmds: str) -> None:
        out = self.vtysh("configure terminal", f"router bgp {self.asn}", *cmds)
        if "%" in out:
            raise RuntimeError(f"vtysh config {cmds!r}: {out.strip()}")

    # -- queries

    def session_state(self, neighbor: str) -> str:
        a = norm_addr(neighbor)
        data = json.loads(self.vtysh(f"show bgp neighbors {a} json"))
        info: dict[str, Any] = data.get(a) or next(iter(data.values()), {})
        return normalize_state(str(info.get("bgpState", "Idle")))

    def _details(self, family: Family, prefixes: Sequence[str]) -> list[dict[str, Any]]:
        if not prefixes:
            return []
        out: list[dict[str, Any]] = []
        # one vtysh run per chunk; each -c prints one JSON document
        for i in range(0, len(prefixes), 50):
            chunk = prefixes[i : i + 50]
            text = self.vtysh(*[f"show bgp {family} unicast {p} json" for p in chunk])
            out += [d for d in _json_stream(text) if isinstance(d, dict)]
        return out

    @staticmethod
    def _peer_id(raw: object) -> str | None:
        """A path's peer address; None for local routes ("(unspec)", "0.0.0.0", "::")."""
        if not isinstance(raw, str):
            return None
        try:
            addr = norm_addr(raw)
        except ValueError:
            return None
        return None if addr in ("0.0.0.0", "::") else addr

    @staticmethod
    def _path(prefix: str, p: dict[str, Any]) -> SeenRoute:
        path: list[int] = []
        for seg in p.get("aspath", {}).get("segments", []):
            path.extend(int(x) for x in seg.get("list", []))
        comms = [norm_community(c) for c in p.get("community", {}).get("list", [])]
        if not comms and p.get("community", {}).get("string"):
            comms = [norm_community(c) for c in p["community"]["string"].split()]
        larges = list(p.get("largeCommunity", {}).get("list", []))
        if not larges and p.get("largeCommunity", {}).get("string"):
            larges = p["largeCommunity"]["string"].split()
        nh = None
        for hop in p.get("nexthops", []):
            if hop.get("scope", "global") == "global" and hop.get("ip"):
                nh = hop["ip"]
                break
        if nh in ("0.0.0.0", "::"):
            nh = None
        peer = Frr._peer_id(p.get("peer", {}).get("peerId"))
        return SeenRoute(
            prefix=norm_prefix(prefix),
            next_hop=norm_addr(nh) if nh else None,
            as_path=path,
            local_pref=p.get("locPrf", p.get("localpref")),
            med=p.get("metric", p.get("med")),
            communities=comms,
            large_communities=larges,
            stale=bool(p.get("stale")),
            llgr_stale=LLGR_STALE in comms,
            peer=peer,
        )

    def received_routes(self, neighbor: str, family: Family) -> list[SeenRoute]:
        a = norm_addr(neighbor)
        # Not "neighbors X routes json": FRR 8.4 leaves out the stale routes of a peer that
        # is down (exactly the ones GR tests look at). Scan the table for the peer instead.
        data = json.loads(self.vtysh(f"show bgp {family} unicast json"))
        prefixes = [
            prefix
            for prefix, paths in (data.get("routes") or {}).items()
            if any(self._peer_id(p.get("peerId")) == a for p in paths)
        ]
        result = []
        for d in self._details(family, prefixes):
            for p in d.get("paths", []):
                r = self._path(d.get("prefix", ""), p)
                if r.peer == a:
                    result.append(r)
        return result

    def sample_routes(self, wanted: Sequence[tuple[str, Family, str]]) -> list[SeenRoute | None]:
        """One vtysh run: ``show bgp <family> unicast <prefix> json`` per wanted prefix."""
        keys = list(dict.fromkeys((f, norm_prefix(p)) for _, f, p in wanted))
        docs = _json_stream(self.vtysh(*[f"show bgp {f} unicast {p} json" for f, p in keys]))
        if len(docs) != len(keys):
            raise RuntimeError(f"vtysh answered {len(docs)} documents for {len(keys)} prefixes")
        by_key = dict(zip(keys, docs, strict=True))
        out: list[SeenRoute | None] = []
        for n, f, p in wanted:
            d = by_key[(f, norm_prefix(p))]
            a = norm_addr(n)
            found = None
            for path in d.get("paths", []) if isinstance(d, dict) else []:
                r = self._path(d.get("prefix", p), path)
                if r.peer == a:
                    found = r
                    break
            out.append(found)
        return out

    def eor_received(self, neighbor: str, family: Family) -> bool | None:
        """``endOfRibRecv`` in ``show bgp <family> neighbors X graceful-restart json``."""
        a = norm_addr(neighbor)
        data = json.loads(self.vtysh(f"show bgp {family} neighbors {a} graceful-restart json"))
        info = data.get(a) or {}
        af = info.get("ipv4Unicast" if family == "ipv4" else "ipv6Unicast") or {}
        return bool((af.get("endOfRibStatus") or {}).get("endOfRibRecv"))

    def best_routes(self, family: Family) -> list[SeenRoute]:
        data = json.loads(self.vtysh(f"show bgp {family} unicast json"))
        prefixes = list((data.get("routes") or {}).keys())
        result = []
        for d in self._details(family, prefixes):
            for p in d.get("paths", []):
                if (p.get("bestpath") or {}).get("overall"):
                    result.append(self._path(d.get("prefix", ""), p))
        return result

    # -- actions

    def announce(self, route: RouteSpec) -> None:
        self.routes[route.network] = route
        rm = self._rm_for(route)
        cmds: list[str] = []
        if rm is not None:
            self.vtysh("configure terminal", *rm[1])
            cmds.append(f"network {route.network} route-map {rm[0]}")
        else:
            cmds.append(f"network {route.network}")
        self.configure(f"address-family {route.family} unicast", *cmds)

    def withdraw(self, prefix: str) -> None:
        net = norm_prefix(prefix)
        self.routes.pop(net, None)
        self.configure(f"address-family {family_of(net)} unicast", f"no network {net}")

    def reset(self, neighbor: str, soft: bool = False) -> None:
        self.vtysh(f"clear bgp {norm_addr(neighbor)}" + (" soft" if soft else ""))

    def shutdown(self, neighbor: str, message: str) -> None:
        self.configure(f"neighbor {norm_addr(neighbor)} shutdown message {message}")

    def enable(self, neighbor: str) -> None:
        self.configure(f"no neighbor {norm_addr(neighbor)} shutdown")

    def kill9(self) -> None:
        """SIGKILL bgpd; zebra stays (as with a real bgpd crash under watchfrr)."""
        super().kill9()


# ======================================================================================
# ExaBGP


class ExaBgp(PeerDaemon):
    """ExaBGP with an API process (``exabgp_helper.py``).

    Received updates and neighbor state changes reach the helper as JSON (``encoder
    json``; ``receive { parsed; update; }``; ``neighbor-changes``) and are appended to
    ``exabgp-api.jsonl``; the driver replays that file to answer queries (ExaBGP has no
    RIB of its own to ask: ``best_routes`` is the union of what the neighbors sent, the
    last one per prefix winning). Commands (``announce route ...``, ``withdraw route ...``,
    ``neighbor X teardown N``) go through a FIFO that the helper copies to ExaBGP.

    Limits: no GR helper state (``stale`` is always False: ExaBGP drops a neighbor's routes
    when the session goes down), no LLGR and no N bit, ``shutdown`` sends Cease/
    Administrative Shutdown without a message and ExaBGP reconnects on its own, so
    ``enable`` is a no-op; ``reset(soft=True)`` sends ROUTE-REFRESH for each family.
    """

    kind = "exabgp"
    binaries = ("exabgp",)

    @property
    def api_log(self) -> Path:
        return self.workdir / "exabgp-api.jsonl"

    @property
    def fifo(self) -> Path:
        return self.workdir / "exabgp-cmd.fifo"

    @staticmethod
    def route_text(r: RouteSpec) -> str:
        parts = [f"route {r.network} next-hop {norm_addr(r.next_hop) if r.next_hop else 'self'}"]
        if r.med is not None:
            parts.append(f"med {r.med}")
        if r.local_pref is not None:
            parts.append(f"local-preference {r.local_pref}")
        if r.communities:
            parts.append("community [ " + " ".join(norm_community(c) for c in r.communities) + " ]")
        if r.large_communities:
            parts.append("large-community [ " + " ".join(r.large_communities) + " ]")
        return " ".join(parts)

    def config(self) -> str:
        # the helper needs only the standard library: use the system Python ExaBGP runs on
        helper = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
        out = [
            "process gbi-api {",
            f"  run {helper} {EXABGP_HELPER} --log {self.api_log} --fifo {self.fifo};",
            "  encoder json;",
            "}",
            "",
        ]
        for n in self.neighbors:
            local = self.local_address(n)
            if local is None:
                raise ValueError(f"exabgp needs a local address for neighbor {n.address}")
            caps = ["    route-refresh;"]
            if n.gr is not None:
                caps.append(f"    graceful-restart {n.gr.restart_time};")
            fams = [f"    {fam} unicast;" for fam in n.families]
            statics = [f"    {self.route_text(r)};" for r in self.routes.values() if r.family in n.families]
            out += [
                f"neighbor {norm_addr(n.address)} {{",
                f"  router-id {self.router_id};",
                f"  local-address {local};",
                f"  local-as {self.asn};",
                f"  peer-as {n.peer_as};",
                f"  hold-time {n.hold_time};",
                f"  passive {'true' if n.passive else 'false'};",
                f"  connect {n.port};",
                "  family {",
                *fams,
                "  }",
                "  capability {",
                *caps,
                "  }",
                "  api {",
                "    processes [ gbi-api ];",
                "    neighbor-changes;",
                "    receive { parsed; update; }",
                "  }",
            ]
            if statics:
                out += ["  static {", *statics, "  }"]
            out += ["}", ""]
        return "\n".join(out)

    def env_file(self) -> str:
        binds = sorted({a for n in self.neighbors if (a := self.local_address(n)) is not None})
        bind = " ".join(binds) if self.listen else ""
        return (
            "[exabgp.daemon]\nuser = 'root'\ndrop = false\ndaemonize = false\n"
            "[exabgp.log]\ndestination = 'stdout'\nlevel = INFO\n"
            "[exabgp.api]\ncli = false\nrespawn = true\nack = true\n"
            f"[exabgp.tcp]\nbind = '{bind}'\nport = {self.listen_port}\n"
            "[exabgp.bgp]\nopenwait = 30\n"
            "[exabgp.reactor]\nspeed = 1.0\n"
        )

    def _launch(self, restarting: bool) -> None:
        conf = self.workdir / "exabgp.conf"
        env = self.workdir / "exabgp.env"
        conf.write_text(self.config())
        env.write_text(self.env_file())
        if not self.fifo.exists():
            os.mkfifo(self.fifo, 0o600)
        # each incarnation gets a fresh API log (the old one is kept for the record)
        if self.api_log.exists():
            self.api_log.rename(self.workdir / f"exabgp-api.{self.restarts}.jsonl.old")
        self._spawn_main(["exabgp", "--env", str(env), str(conf)], "exabgp.log")

        def ready() -> bool:
            self.check_alive()
            return self.api_log.exists()

        wait_until(ready, 20, what="exabgp API helper")

    def command(self, line: str, timeout: float = 10.0) -> None:
        """Send one API command line to ExaBGP (through the helper's FIFO)."""
        data = (line.strip() + "\n").encode()
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            return

    # -- replay of the API log

    def events(self) -> list[dict[str, Any]]:
        try:
            text = self.api_log.read_text()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec.get("json"), dict):
                    out.append(rec["json"])
        return out

    @staticmethod
    def _peer_of(ev: dict[str, Any]) -> str | None:
        addr = ev.get("neighbor", {}).get("address", {}).get("peer")
        return norm_addr(addr) if addr else None

    def session_state(self, neighbor: str) -> str:
        want = norm_addr(neighbor)
        state = "Idle"
        for ev in self.events():
            if ev.get("type") == "state" and self._peer_of(ev) == want:
                state = normalize_state(str(ev["neighbor"].get("state", "down")))
        return state

    def _ribs(self) -> dict[str, dict[Family, dict[str, SeenRoute]]]:
        ribs: dict[str, dict[Family, dict[str, SeenRoute]]] = {}
        for ev in self.events():
            peer = self._peer_of(ev)
            if peer is None:
                continue
            rib = ribs.setdefault(peer, {"ipv4": {}, "ipv6": {}})
            if ev.get("type") == "state":
                if ev["neighbor"].get("state") in ("down", "connected"):
                    rib["ipv4"].clear()
                    rib["ipv6"].clear()
                continue
            if ev.get("type") != "update":
                continue
            update = ev["neighbor"].get("message", {}).get("update", {})
            attrs = update.get("attribute", {})
            for afsafi, entries in update.get("withdraw", {}).items():
                fam = self._family(afsafi)
                if fam is None:
                    continue
                for e in entries:
                    rib[fam].pop(norm_prefix(e["nlri"] if isinstance(e, dict) else e), None)
            for afsafi, by_nh in update.get("announce", {}).items():
                fam = self._family(afsafi)
                if fam is None:
                    continue
                for nh, entries in by_nh.items():
                    for e in entries:
                        prefix = norm_prefix(e["nlri"] if isinstance(e, dict) else e)
                        rib[fam][prefix] = self._seen(prefix, nh, attrs, peer)
        return ribs

    @staticmethod
    def _family(afsafi: str) -> Family | None:
        if afsafi == "ipv4 unicast":
            return "ipv4"
        if afsafi == "ipv6 unicast":
            return "ipv6"
        return None

    @staticmethod
    def _seen(prefix: str, nh: str, attrs: dict[str, Any], peer: str) -> SeenRoute:
        path: list[int] = []
        for item in attrs.get("as-path", []):
            if isinstance(item, list):
                path.extend(int(x) for x in item)
            elif isinstance(item, dict):  # newer encoders: {"0": {"element": ..., "value": [...]}}
                path.extend(int(x) for x in item.get("value", []))
            else:
                path.append(int(item))
        comms = [f"{c[0]}:{c[1]}" for c in attrs.get("community", [])]
        larges = [f"{c[0]}:{c[1]}:{c[2]}" for c in attrs.get("large-community", [])]
        return SeenRoute(
            prefix=prefix,
            next_hop=norm_addr(nh) if nh and nh not in ("null", "0.0.0.0") else None,
            as_path=path,
            local_pref=attrs.get("local-preference"),
            med=attrs.get("med"),
            communities=comms,
            large_communities=larges,
            stale=False,
            llgr_stale=LLGR_STALE in comms,
            peer=peer,
        )

    def received_routes(self, neighbor: str, family: Family) -> list[SeenRoute]:
        rib = self._ribs().get(norm_addr(neighbor))
        return list(rib[family].values()) if rib else []

    def best_routes(self, family: Family) -> list[SeenRoute]:
        best: dict[str, SeenRoute] = {}
        for rib in self._ribs().values():
            best.update(rib[family])
        return list(best.values())

    # -- actions

    def announce(self, route: RouteSpec) -> None:
        self.routes[route.network] = route
        self.command("announce " + self.route_text(route))

    def withdraw(self, prefix: str) -> None:
        net = norm_prefix(prefix)
        route = self.routes.pop(net, None)
        text = self.route_text(route) if route is not None else f"route {net} next-hop self"
        self.command("withdraw " + text)

    def reset(self, neighbor: str, soft: bool = False) -> None:
        a = norm_addr(neighbor)
        if soft:
            for fam in self.neighbor(a).families:
                self.command(f"neighbor {a} announce route-refresh {fam} unicast")
        else:
            self.command(f"neighbor {a} teardown 4")

    def shutdown(self, neighbor: str, message: str) -> None:
        self.command(f"neighbor {norm_addr(neighbor)} teardown 2")

    def enable(self, neighbor: str) -> None:
        """ExaBGP reconnects by itself after a teardown: nothing to do."""


DRIVERS: dict[str, type[PeerDaemon]] = {
    "gobgpd": GoBgpd,
    "bird": Bird,
    "frr": Frr,
    "exabgp": ExaBgp,
}
