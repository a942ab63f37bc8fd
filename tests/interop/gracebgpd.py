"""Driver for our own daemon in an interop Lab: same interface as the real peers' drivers.

gracebgpd has no API yet (issue 4), so the driver works the way an operator without one
would: it writes a GoBGP-style TOML file and sends SIGHUP to apply route and neighbor
changes, and reads gracebgpd's view from the state dump it writes to its log on
SIGUSR1. The *peers'* views are always read through their own CLIs by their drivers.
"""

from __future__ import annotations

import re
import signal
import sys
import time
from typing import ClassVar

from gracebgp.wire.iana import WellKnownCommunity
from tests.interop.netns import wait_until
from tests.interop.peers import (
    Family,
    PeerDaemon,
    RouteSpec,
    SeenRoute,
    family_of,
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
_ROUTE = re.compile(r"route (\S+) via (\S+) (.*) \((local|from (\S+))\)( stale)?$")
_WELL_KNOWN = {m.name: f"{m.value >> 16}:{m.value & 0xFFFF}" for m in WellKnownCommunity}


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

    def _launch(self, restarting: bool) -> None:
        conf = self.workdir / "gracebgpd.toml"
        conf.write_text(self.config())
        before = self._log_text().count("gracebgpd 0.")
        self._spawn_main(
            [sys.executable, "-m", "gracebgp.daemon", "-f", str(conf), "-l", "debug"], "gracebgpd.log"
        )
        self._reloads = self._dumps = 0
        self._wait(lambda: self._log_text().count("gracebgpd 0.") > before or None, 15, "gracebgpd to start")
        if self.listen:
            self._wait(lambda: "listening on" in self._log_text() or None, 10, "gracebgpd to listen")

    def _reload(self) -> None:
        assert self.proc is not None
        (self.workdir / "gracebgpd.toml").write_text(self.config())
        want = self._log_text().count("reload: ") + 1
        self.proc.signal_group(signal.SIGHUP)
        self._wait(lambda: self._log_text().count("reload: ") >= want or None, 10, "reload")

    # --- queries ---------------------------------------------------------------------------
    def dump(self) -> list[str]:
        """Ask for a state dump (SIGUSR1) and return its lines."""
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
        want = norm_addr(neighbor)
        for ln in self.dump():
            parts = ln.split()
            if parts[0] == "peer" and norm_addr(parts[1]) == want:
                return _STATES.get(parts[4], parts[4])
        return "Idle"

    def _routes(self, neighbor: str | None, family: Family) -> list[SeenRoute]:
        out = []
        for ln in self.dump():
            m = _ROUTE.match(ln)
            if m is None:
                continue
            prefix, via, attrs, _, source, stale = m.groups()
            if family_of(prefix) != family:
                continue
            if neighbor is not None and (source is None or norm_addr(source) != norm_addr(neighbor)):
                continue
            out.append(self._seen(prefix, via, attrs, source, bool(stale)))
        return out

    @staticmethod
    def _seen(prefix: str, via: str, attrs: str, source: str | None, stale: bool) -> SeenRoute:
        path = re.search(r"as-path \[([^\]]*)\]", attrs)
        med = re.search(r"\bmed (\d+)", attrs)
        lp = re.search(r"local-pref (\d+)", attrs)
        comms = re.search(r"communities (\S+)", attrs)
        large = re.search(r"large (\S+)", attrs)
        communities = [_WELL_KNOWN.get(c, c) for c in comms.group(1).split(",")] if comms else []
        return SeenRoute(
            prefix=norm_prefix(prefix),
            next_hop=norm_addr(via.split(",", maxsplit=1)[0]) if via != "-" else None,
            as_path=[int(a) for a in path.group(1).split() if a.isdigit()] if path else [],
            local_pref=int(lp.group(1)) if lp else None,
            med=int(med.group(1)) if med else None,
            communities=communities,
            large_communities=large.group(1).split(",") if large else [],
            stale=stale,
            llgr_stale="65535:6" in communities,
            peer=norm_addr(source) if source else None,
        )

    def received_routes(self, neighbor: str, family: Family) -> list[SeenRoute]:
        return self._routes(neighbor, family)

    def best_routes(self, family: Family) -> list[SeenRoute]:
        return self._routes(None, family)

    # --- actions ---------------------------------------------------------------------------
    def announce(self, route: RouteSpec) -> None:
        self.routes[route.network] = route
        self._reload()

    def withdraw(self, prefix: str) -> None:
        self.routes.pop(norm_prefix(prefix), None)
        self._reload()

    def reset(self, neighbor: str, soft: bool = False) -> None:
        """Hard reset: the neighbor leaves the configuration (Cease/Peer De-configured) and
        comes back. A soft reset (route refresh) needs the API, which does not exist yet."""
        if soft:
            raise RuntimeError("gracebgpd: soft reset needs the API (not there yet)")
        self.removed.add(norm_addr(neighbor))
        self._reload()
        self.removed.discard(norm_addr(neighbor))
        time.sleep(0.2)
        self._reload()

    def shutdown(self, neighbor: str, message: str) -> None:
        """admin-down in the configuration (the message is not carried without the API)."""
        self.admin_down.add(norm_addr(neighbor))
        self._reload()

    def enable(self, neighbor: str) -> None:
        self.admin_down.discard(norm_addr(neighbor))
        self._reload()
