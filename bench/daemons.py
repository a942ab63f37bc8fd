"""The daemons under test of the routing benchmarks: gracebgpd, gobgpd, BIRD and FRR bgpd,
each configured with the lab's neighbors (passive eBGP, IPv4 unicast, default policies),
started, asked how many routes it holds, and (``bench/scale.py``) restarted gracefully.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import policyconf
from bench.lab import Lab, Proc, sh, wait_for

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent


# --- the daemons under test -----------------------------------------------------------------


class Dut(ABC):
    name: ClassVar[str]
    needs_netns: ClassVar[bool] = True
    binaries: ClassVar[tuple[str, ...]] = ()
    poll_interval: ClassVar[float] = 0.05
    #: ``bench/routing.py --policy``: the import and export policy of ``bench/policyconf.py``
    policy: ClassVar[bool] = False

    def __init__(self, lab: Lab, gr: int = 0) -> None:
        self.lab = lab
        self.dir = lab.workdir
        self.proc: Proc | None = None
        self.last_count: int | None = None
        #: graceful restart (RFC 4724) with every neighbor, with this Restart Time (0: off)
        self.gr = gr

    @classmethod
    def missing(cls) -> list[str]:
        return [b for b in cls.binaries if not (os.access(b, os.X_OK) if "/" in b else shutil.which(b))]

    @classmethod
    def unusable(cls, netns: bool) -> str | None:
        """Why this daemon cannot run here, or None."""
        if cls.missing():
            return f"not installed ({', '.join(cls.missing())}; apt-get install -y gobgpd bird2 frr)"
        if cls.needs_netns and not netns:
            return "needs root and network namespaces"
        return None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    @abstractmethod
    def start(self) -> None:
        """Write the configuration, start the daemon, return once it answers (bounded)."""

    @abstractmethod
    def ingest_done(self, n: int) -> float | None:
        """Wall-clock time at which the DUT was seen holding ``n`` routes, or None yet."""

    def log_tail(self) -> str:
        return self.proc.tail() if self.proc is not None else ""

    def restart(self) -> str:
        """Restart the daemon the graceful-restart way (needs ``gr``); returns how."""
        raise NotImplementedError(f"{self.name}: no graceful restart in this benchmark")

    def _kill_and_forget(self) -> None:
        """SIGKILL our daemon process (its group), reap it and drop it from the lab."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.popen.wait(timeout=30)
        self.lab.forget(self.proc)


class GraceBgpd(Dut):
    name = "gracebgpd"
    needs_netns = False
    binaries = (str(VENV_BIN / "gracebgpd"),)
    poll_interval = 0.02
    #: run gracebgp from this source tree (a ``--ref`` snapshot) instead of the installed one
    src: ClassVar[Path | None] = None

    _EOR = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?:DEBUG|INFO) (?:\[session\] )?peer (\S+): "
                      r"End-of-RIB received for ipv4-unicast")  # "[session]": since the logger names

    def __init__(self, lab: Lab, gr: int = 0) -> None:
        super().__init__(lab, gr)
        self._offset = 0
        self._partial = b""
        self._eor_from: set[str] = set()

    def config(self) -> str:
        lab = self.lab
        out = [
            "[global.config]", "as = 65000", f'router-id = "{lab.dut if lab.netns else "10.253.0.1"}"',
            f"port = {lab.port}", f'local-address-list = ["{lab.dut}"]', "",
        ]
        for _, addr, asn, _ in lab.neighbors():
            out += [
                "[[neighbors]]", "[neighbors.config]", f'neighbor-address = "{addr}"', f"peer-as = {asn}",
                "[neighbors.timers.config]", "hold-time = 90",
                "[neighbors.transport.config]", "passive-mode = true", f'local-address = "{lab.dut}"',
            ]
            if self.gr:
                out += ["[neighbors.graceful-restart.config]", "enabled = true", f"restart-time = {self.gr}"]
            out += ["[[neighbors.afi-safis]]", "[neighbors.afi-safis.config]",
                    'afi-safi-name = "ipv4-unicast"']
            if self.gr:
                out += ["[neighbors.afi-safis.mp-graceful-restart.config]", "enabled = true"]
            out.append("")
        if self.policy:
            out.append(policyconf.gobgp_toml())
        out += ["[gracebgp]", f"state-dir = '{self.dir / 'state'}'", f"api-socket = '{self.dir / 'g.sock'}'",
                'sigterm = "withdraw"', ""]
        return "\n".join(out)

    def start(self) -> None:
        conf = self.dir / "gracebgpd.toml"
        conf.write_text(self.config())
        env = dict(os.environ, PYTHONPATH=str(self.src)) if self.src is not None else None
        daemon = [sys.executable, "-m", "gracebgp.daemon", "-f", str(conf)]
        sh([*daemon, "--check"], env=env)
        # info: the End-of-RIB line, without -l debug's per-UPDATE summaries (they cost ~5%);
        # a --ref snapshot from before that line was info needs debug (it had no summaries)
        speaker = (self.src or HERE.parent / "src") / "gracebgp" / "core" / "speaker.py"
        level = "info" if '"info", f"End-of-RIB received' in speaker.read_text() else "debug"
        self.proc = self.lab.spawn("gracebgpd", self.lab.dut_ns, [*daemon, "-l", level], env=env)

    def ingest_done(self, n: int) -> float | None:
        assert self.proc is not None
        with open(self.proc.log_path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            m = self._EOR.match(raw.decode(errors="replace"))
            if m is not None and m.group(2) in self.lab.injectors:
                self._eor_from.add(m.group(2))
                if len(self._eor_from) == len(self.lab.injectors):
                    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        return None

    def restart(self) -> str:
        """``gracebgp restart --graceful``: the planned graceful restart (docs/cli.md), same PID."""
        sh([str(VENV_BIN / "gracebgp"), "--socket", str(self.dir / "g.sock"), "restart", "--graceful"],
           timeout=60)
        return "gracebgp restart --graceful"


class GoBgpd(Dut):
    name = "gobgpd"
    needs_netns = False
    binaries = ("gobgpd", "gobgp")
    poll_interval = 0.1

    def config(self) -> str:
        lab = self.lab
        out = ["[global.config]", "  as = 65000", '  router-id = "10.253.0.1"', f"  port = {lab.port}",
               f'  local-address-list = ["{lab.dut}"]', ""]
        for _, addr, asn, _ in lab.neighbors():
            out += [
                "[[neighbors]]", "  [neighbors.config]", f'    neighbor-address = "{addr}"',
                f"    peer-as = {asn}",
                "  [neighbors.timers.config]", "    hold-time = 90", "    keepalive-interval = 30",
                "  [neighbors.transport.config]", "    passive-mode = true",
                f'    local-address = "{lab.dut}"',
            ]
            if self.gr:
                out += ["  [neighbors.graceful-restart.config]", "    enabled = true",
                        f"    restart-time = {self.gr}"]
            out += ["  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]",
                    '      afi-safi-name = "ipv4-unicast"']
            if self.gr:
                out += ["    [neighbors.afi-safis.mp-graceful-restart.config]", "      enabled = true"]
            out.append("")
        if self.policy:
            out.append(policyconf.gobgp_toml())
        return "\n".join(out) + "\n"

    def cli(self, *args: str) -> str:
        api = ["gobgp", "-u", "127.0.0.1", "-p", str(self.lab.api_port)]
        return self.lab.run(self.lab.dut_ns, [*api, *args])

    def start(self, restarting: bool = False) -> None:
        conf = self.dir / "gobgpd.toml"
        conf.write_text(self.config())
        self.proc = self.lab.spawn("gobgpd", self.lab.dut_ns, [
            "gobgpd", "-f", str(conf), "-t", "toml", "-p", "-l", "info",
            "--api-hosts", f"127.0.0.1:{self.lab.api_port}", "--pprof-disable",
            *(["-r"] if restarting else [])])
        wait_for(lambda: self.alive() and "AS" in self.cli("global"), 20, "gobgpd API")

    def ingest_done(self, n: int) -> float | None:
        m = re.search(r"Destination:\s*(\d+)", self.cli("global", "rib", "summary", "-a", "ipv4"))
        self.last_count = int(m.group(1)) if m else None
        return time.time() if self.last_count is not None and self.last_count >= n else None

    def restart(self) -> str:
        """gobgpd has no planned restart: kill it (no NOTIFICATION goes out), start it with -r
        (the R bit: the restarting speaker, RFC 4724 §4.1)."""
        self._kill_and_forget()
        self.start(restarting=True)
        return "SIGKILL, gobgpd -r"


class Bird(Dut):
    name = "bird"
    binaries = ("bird", "birdc")

    def config(self) -> str:
        lab = self.lab
        out = [f"router id {lab.dut};",
               f'log "{self.dir / "bird-daemon.log"}" {{ info, warning, error, fatal }};',
               "protocol device { scan time 10; }"]
        if self.policy:
            out.append(policyconf.bird_defs())
        for proto, addr, asn, injector in lab.neighbors():
            # several injectors: they get nothing (the others' routes would loop back to AS 65100)
            export = "none" if injector and lab.multi else "filter bench_out" if self.policy else "all"
            imports = "filter bench_in" if self.policy else "all"
            out += [f"protocol bgp {proto} {{", f"  local {lab.dut} as 65000;",
                    f"  neighbor {addr} as {asn};",
                    "  passive on; hold time 90; keepalive time 30;",
                    *([f"  graceful restart on; graceful restart time {self.gr};"] if self.gr else []),
                    f"  ipv4 {{ import {imports}; export {export}; }};", "}"]
        return "\n".join(out) + "\n"

    @property
    def socket(self) -> Path:
        return self.dir / "bird.ctl"

    def birdc(self, *args: str) -> str:
        return sh(["birdc", "-s", str(self.socket), *args], timeout=20).stdout

    def start(self) -> None:
        conf = self.dir / "bird.conf"
        conf.write_text(self.config())
        sh(["bird", "-p", "-c", str(conf)])
        self._spawn()
        wait_for(lambda: self.alive() and "ready" in self.birdc("show", "status"), 20, "bird control socket")

    def _spawn(self, *extra: str) -> None:
        self.proc = self.lab.spawn("bird", self.lab.dut_ns, [
            "bird", "-f", *extra, "-c", str(self.dir / "bird.conf"), "-s", str(self.socket),
            "-P", str(self.dir / "bird.pid")])

    def ingest_done(self, n: int) -> float | None:
        if self.lab.multi:  # every route of every injector: the networks in the table
            m = re.search(r"for (\d+) networks", self.birdc("show", "route", "count"))
        else:
            m = re.search(r"Routes:\s+(\d+) imported", self.birdc("show", "protocols", "all", "inj"))
        self.last_count = int(m.group(1)) if m else None
        return time.time() if self.last_count is not None and self.last_count >= n else None

    def restart(self) -> str:
        """``birdc graceful restart`` (BIRD stops, its peers keep its routes), then ``bird -R``
        (graceful restart recovery: R bit, selection waits for the peers' End-of-RIB)."""
        assert self.proc is not None
        self.birdc("graceful", "restart")
        self.proc.popen.wait(timeout=30)
        self.lab.forget(self.proc)
        self._spawn("-R")
        return "birdc graceful restart, bird -R"


class Frr(Dut):
    name = "frr"
    binaries = ("/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh")

    def __init__(self, lab: Lab, gr: int = 0) -> None:
        super().__init__(lab, gr)
        self.zebra: Proc | None = None

    def config(self) -> str:
        lab = self.lab
        out = ["frr defaults traditional", "hostname gbb-dut", "!", "router bgp 65000",
               f" bgp router-id {lab.dut}", " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast"]
        if self.gr:
            out += [" bgp graceful-restart", " bgp graceful-restart preserve-fw-state",
                    f" bgp graceful-restart restart-time {self.gr}"]
        peers = lab.neighbors()
        for _, addr, asn, _ in peers:
            out += [f" neighbor {addr} remote-as {asn}", f" neighbor {addr} timers 30 90",
                    f" neighbor {addr} passive", f" neighbor {addr} update-source {lab.dut}"]
        out.append(" address-family ipv4 unicast")
        for _, addr, _, injector in peers:
            out.append(f"  neighbor {addr} activate")
            if injector and lab.multi:  # several injectors: they get nothing (see Bird)
                out.append(f"  neighbor {addr} route-map NONE out")
            elif self.policy:
                out.append(f"  neighbor {addr} route-map BENCH-OUT out")
            if self.policy:
                out.append(f"  neighbor {addr} route-map BENCH-IN in")
        out += [" exit-address-family", "exit", "!"]
        if self.policy:
            out += policyconf.frr_lines()
        if lab.multi:
            out += ["route-map NONE deny 10", "!"]
        return "\n".join(out) + "\n"

    def vtysh(self, command: str) -> str:
        return sh(["vtysh", "--vty_socket", str(self.dir), "-d", "bgpd", "-c", command], timeout=20).stdout

    def start(self) -> None:
        d = self.dir
        (d / "zebra.conf").write_text("hostname gbb-dut-zebra\n")
        self.zebra = self.lab.spawn("zebra", self.lab.dut_ns, [
            "/usr/lib/frr/zebra", "-f", str(d / "zebra.conf"), "-i", str(d / "zebra.pid"),
            "-z", str(d / "zserv.api"), "--vty_socket", str(d), "-u", "frr", "-g", "frr", "-P", "0",
            "--log", f"file:{d / 'zebra-daemon.log'}"])
        wait_for((d / "zserv.api").exists, 15, "zebra's zserv socket")
        (d / "bgpd.conf").write_text(self.config())
        self._spawn_bgpd()
        wait_for(lambda: self.alive() and "BGP" in self.vtysh("show bgp summary"), 20, "bgpd vty")

    def _spawn_bgpd(self) -> None:
        d = self.dir
        # -n: nothing is installed in the kernel (the routes still go through zebra's NHT).
        self.proc = self.lab.spawn("bgpd", self.lab.dut_ns, [
            "/usr/lib/frr/bgpd", "-f", str(d / "bgpd.conf"), "-i", str(d / "bgpd.pid"),
            "-z", str(d / "zserv.api"),
            "--vty_socket", str(d), "-n", "-P", "0", "-p", str(self.lab.port), "-u", "frr", "-g", "frr",
            "--log", f"file:{d / 'bgpd-daemon.log'}"])

    def restart(self) -> str:
        """FRR 8.4 has no planned restart of bgpd: kill it (no NOTIFICATION), start it again
        (zebra stays); with ``bgp graceful-restart`` it comes back as the restarting speaker."""
        self._kill_and_forget()
        self._spawn_bgpd()
        return "SIGKILL bgpd, start bgpd"

    def ingest_done(self, n: int) -> float | None:
        data = json.loads(self.vtysh("show bgp ipv4 unicast summary json") or "{}")
        peers = (data.get("ipv4Unicast", data) or {}).get("peers", {})
        self.last_count = sum(int(peers.get(a, {}).get("pfxRcd", 0)) for a in self.lab.injectors)
        return time.time() if self.last_count >= n else None


DAEMONS: dict[str, type[Dut]] = {"gracebgpd": GraceBgpd, "gobgpd": GoBgpd, "bird": Bird, "frr": Frr}


def usable_daemons(names: list[str], netns: bool) -> list[type[Dut]]:
    """The named daemons that can run here; says which are skipped and why."""
    out = []
    for name in names:
        cls = DAEMONS[name]
        if why := cls.unusable(netns):
            print(f"skipping {name}: {why}")
        else:
            out.append(cls)
    return out

