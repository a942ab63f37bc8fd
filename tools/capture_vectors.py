#!/usr/bin/env python3
"""Capture golden BGP wire vectors from real daemons peering in network namespaces.

Run as root::

    python3 tools/capture_vectors.py --out tests/vectors/peers

For every pair of daemons (gobgpd<->bird, bird<->frr, frr<->gobgpd, exabgp<->gobgpd)
two fresh network namespaces joined by a veth pair are created; each daemon runs in
its own namespace with two sessions to its peer (one over IPv4 transport, one over
IPv6 transport). ``dumpcap`` records TCP port 179 on the veth while routes are
exchanged, withdrawn, refreshed and the sessions are shut down with NOTIFICATIONs.
The capture is then reassembled (own minimal TCP reassembly), split into BGP
messages (16-byte marker + 2-byte length framing) and every message is stored as
hex next to tshark's independent interpretation (``tests/tshark_bgp.py``).

Only addresses inside namespaces created by this script are used (10.255.P.0/24,
fd00:255:P::/64). Every wait is bounded; every process started is killed by PID;
every namespace created is removed in a ``finally`` block.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import tshark_bgp

NS_PREFIX = "gbv"
MARKER = b"\xff" * 16
VERBOSE = True


def log(msg: str) -> None:
    if VERBOSE:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], timeout: float = 20.0, check: bool = True) -> str:
    """Run a short command, bounded in time; return stdout."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{cmd!r} failed ({proc.returncode}): {proc.stderr.strip()} {proc.stdout.strip()}")
    return proc.stdout


def ns_run(ns: str, cmd: list[str], timeout: float = 20.0, check: bool = True) -> str:
    return run(["ip", "netns", "exec", ns, *cmd], timeout=timeout, check=check)


def wait_until(pred: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        time.sleep(interval)
    log(f"WARNING: timed out after {timeout}s waiting for {what}")
    return False


def pkg_version(pkg: str) -> str:
    try:
        return run(["dpkg-query", "-W", "-f", "${Version}", pkg]).strip()
    except (RuntimeError, FileNotFoundError):
        return "?"


# --------------------------------------------------------------------------------------
# processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]


class ProcSet:
    """Processes started by us; stopped by PID only."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def start(self, name: str, ns: str, cmd: list[str], logfile: Path) -> Proc:
        fh = open(logfile, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        popen = subprocess.Popen(
            ["ip", "netns", "exec", ns, *cmd],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        fh.close()
        p = Proc(name, popen)
        self.procs.append(p)
        log(f"started {name} pid={popen.pid}: {' '.join(cmd)}")
        return p

    def stop(self, p: Proc, sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
        """Signal the process we started (by PID; all daemons run in the foreground)."""
        if p.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.popen.pid, sig)
        try:
            p.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.popen.pid, signal.SIGKILL)
            try:
                p.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"WARNING: {p.name} pid={p.popen.pid} did not die")

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()


# --------------------------------------------------------------------------------------
# topology


@dataclass
class Endpoint:
    ns: str
    ifname: str
    v4: str
    v6: str
    router_id: str
    asn: int


@dataclass
class Session:
    """One BGP session between the two daemons of a pair."""

    name: str  # "v4" or "v6" (transport)
    transport: int  # 4 or 6


def create_pair_netns(idx: int) -> tuple[Endpoint, Endpoint]:
    a_ns, b_ns = f"{NS_PREFIX}{idx}a", f"{NS_PREFIX}{idx}b"
    for ns in (a_ns, b_ns):
        run(["ip", "netns", "add", ns])
    for ns in (a_ns, b_ns):
        ns_run(ns, ["ip", "link", "set", "lo", "up"])
        ns_run(ns, ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"])
        ns_run(ns, ["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"])
        ns_run(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        ns_run(ns, ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
    run(
        [
            "ip",
            "link",
            "add",
            "veth-a",
            "netns",
            a_ns,
            "type",
            "veth",
            "peer",
            "name",
            "veth-b",
            "netns",
            b_ns,
        ]
    )
    a = Endpoint(a_ns, "veth-a", f"10.255.{idx}.1", f"fd00:255:{idx}::1", f"10.255.{idx}.1", 0)
    b = Endpoint(b_ns, "veth-b", f"10.255.{idx}.2", f"fd00:255:{idx}::2", f"10.255.{idx}.2", 0)
    for ep in (a, b):
        ns_run(ep.ns, ["ip", "addr", "add", f"{ep.v4}/24", "dev", ep.ifname])
        ns_run(ep.ns, ["ip", "-6", "addr", "add", f"{ep.v6}/64", "dev", ep.ifname, "nodad"])
        ns_run(ep.ns, ["ip", "link", "set", ep.ifname, "up"])
    # wait for link-local addresses
    for ep in (a, b):

        def has_ll(ep: Endpoint = ep) -> bool:
            return "fe80::" in ns_run(ep.ns, ["ip", "-6", "addr", "show", "dev", ep.ifname])

        wait_until(has_ll, 10, f"link-local on {ep.ns}")
    return a, b


def delete_netns(names: list[str]) -> None:
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20, check=False)


def link_local(ep: Endpoint) -> str:
    out = ns_run(ep.ns, ["ip", "-6", "-o", "addr", "show", "dev", ep.ifname, "scope", "link"])
    return out.split()[3].split("/")[0]


# --------------------------------------------------------------------------------------
# daemons


class Daemon:
    kind = "?"
    label = "?"

    def __init__(self, me: Endpoint, peer: Endpoint, workdir: Path, procs: ProcSet, ibgp: bool) -> None:
        self.me, self.peer, self.dir, self.procs, self.ibgp = me, peer, workdir, procs, ibgp
        self.dir.mkdir(parents=True, exist_ok=True)
        self.opts: dict[str, Any] = {}

    def start(self) -> None:
        raise NotImplementedError

    def established(self) -> int:
        """Number of established sessions."""
        raise NotImplementedError

    def received_routes(self) -> int:
        raise NotImplementedError

    def withdraw(self) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError

    def shutdown_session(self, session: str, msg: str) -> None:
        raise NotImplementedError

    def enable_session(self, session: str) -> None:
        raise NotImplementedError

    def reset_session(self, session: str) -> None:
        raise NotImplementedError

    def peer_addr(self, session: str) -> str:
        return self.peer.v4 if session == "v4" else self.peer.v6

    def my_addr(self, session: str) -> str:
        return self.me.v4 if session == "v4" else self.me.v6


def route_set(tag: int) -> tuple[list[str], list[str]]:
    """Per-daemon prefixes: (ipv4, ipv6); tag makes them distinct per daemon."""
    v4 = [
        f"10.{tag}.0.0/16",
        f"10.{tag}.1.0/24",
        f"10.{tag}.2.0/25",
        f"10.{tag}.2.128/25",
        f"10.{tag}.3.1/32",
        f"10.{tag}.3.2/32",
        f"10.{tag}.4.0/22",
        f"10.{tag}.8.0/21",
        f"10.{tag}.16.0/20",
        f"10.{tag}.64.0/18",
        f"10.{tag}.128.0/17",
        f"172.{16 + tag % 16}.{tag}.0/24",
        f"192.168.{tag}.0/24",
        f"198.18.{tag}.0/30",
        "100.64.0.0/10",
        f"{tag}.0.0.0/8",
    ]
    v6 = [
        f"2001:db8:{tag:x}::/48",
        f"2001:db8:{tag:x}:1::/64",
        f"2001:db8:{tag:x}:2::/64",
        f"2001:db8:{tag:x}:3::1/128",
        f"2001:db8:{tag:x}:4::/62",
        f"2001:db8:{tag:x}:5:8000::/65",
        f"2001:db8:{tag:x}:100::/56",
        f"2001:db8:{tag:02x}00::/40",
        f"fd{tag:02x}::/16",
        f"2001:db8:{tag:x}:6::/127",
    ]
    return v4, v6


def withdraw_set(tag: int) -> tuple[list[str], list[str]]:
    return [f"10.{tag}.200.0/24", f"10.{tag}.201.7/32"], [f"2001:db8:{tag:x}:c8::/64"]


# ------------------------------------------------------------------ gobgpd


class GoBGP(Daemon):
    kind = "gobgpd"

    def conf(self) -> str:
        me, peer = self.me, self.peer
        lines = [
            "[global.config]",
            f"  as = {me.asn}",
            f'  router-id = "{me.router_id}"',
            f'  local-address-list = ["{me.v4}", "{me.v6}"]',
            "",
        ]
        for sess in ("v4", "v6"):
            fams = ["ipv4-unicast"] if sess == "v4" else ["ipv6-unicast"]
            lines += [
                "[[neighbors]]",
                "  [neighbors.config]",
                f'    neighbor-address = "{self.peer_addr(sess)}"',
                f"    peer-as = {peer.asn}",
                f'    description = "{sess}"',
                *(
                    [f"    local-as = {self.opts[f'local_as_{sess}']}"]
                    if f"local_as_{sess}" in self.opts
                    else []
                ),
                "  [neighbors.timers.config]",
                "    hold-time = 9",
                "    keepalive-interval = 3",
                "    connect-retry = 2",
                "    idle-hold-time-after-reset = 1",
                "  [neighbors.transport.config]",
                f'    local-address = "{self.my_addr(sess)}"',
                "  [neighbors.graceful-restart.config]",
                "    enabled = true",
                "    restart-time = 120",
                "    long-lived-enabled = true",
            ]
            for fam in fams:
                lines += [
                    "  [[neighbors.afi-safis]]",
                    "    [neighbors.afi-safis.config]",
                    f'      afi-safi-name = "{fam}"',
                    "    [neighbors.afi-safis.mp-graceful-restart.config]",
                    "      enabled = true",
                    "    [neighbors.afi-safis.long-lived-graceful-restart.config]",
                    "      enabled = true",
                    "      restart-time = 3600",
                ]
                if self.opts.get("addpath"):
                    lines += [
                        "    [neighbors.afi-safis.add-paths.config]",
                        "      receive = true",
                        "      send-max = 8",
                    ]
            lines.append("")
        return "\n".join(lines) + "\n"

    def cli(self, *args: str, check: bool = True) -> str:
        return ns_run(self.me.ns, ["gobgp", *args], check=check)

    def start(self) -> None:
        cf = self.dir / "gobgpd.toml"
        cf.write_text(self.conf())
        self.procs.start(
            "gobgpd",
            self.me.ns,
            [
                "gobgpd",
                "-f",
                str(cf),
                "-p",
                "--api-hosts",
                "127.0.0.1:50051",
                "--pprof-disable",
                "-l",
                "info",
            ],
            self.dir / "gobgpd.log",
        )
        wait_until(lambda: self.cli("global", check=True) != "", 15, "gobgpd API")
        tag = self.opts["tag"]
        v4, v6 = route_set(tag)
        attrs: list[list[str]] = [
            [],
            ["community", "65535:65281"],
            ["community", "65535:0,65001:100"],
            ["med", "77"],
            ["large-community", f"{self.me.asn}:1:2,4200000000:4294967295:0"],
            ["origin", "egp"],
            ["origin", "incomplete", "med", "0"],
            ["aspath", "64512,4200000099"],
            ["community", "no-advertise"],
            ["local-pref", "250"],
            ["aggregator", "4200000001:10.255.0.1"],
            ["rt", "65001:100"],
            ["aigp", "metric", "200"],
        ]
        for i, pfx in enumerate(v4):
            self.cli("global", "rib", "add", "-a", "ipv4", pfx, *attrs[i % len(attrs)])
        if self.opts.get("addpath"):
            # a second path (different path identifier) for one prefix
            self.cli(
                "global",
                "rib",
                "add",
                "-a",
                "ipv4",
                v4[1],
                "identifier",
                "7",
                "nexthop",
                f"{self.me.v4[:-1]}77",
            )
            self.cli(
                "global",
                "rib",
                "add",
                "-a",
                "ipv6",
                v6[1],
                "identifier",
                "9",
                "nexthop",
                f"{self.me.v6[:-1]}99",
            )
        for i, pfx in enumerate(v6):
            self.cli("global", "rib", "add", "-a", "ipv6", pfx, *attrs[(i + 3) % len(attrs)])
        w4, w6 = withdraw_set(tag)
        for pfx in w4:
            self.cli("global", "rib", "add", "-a", "ipv4", pfx, "community", "65001:666")
        for pfx in w6:
            self.cli("global", "rib", "add", "-a", "ipv6", pfx)

    def established(self) -> int:
        return self.cli("neighbor").count("Establ")

    def received_routes(self) -> int:
        n = 0
        for fam in ("ipv4", "ipv6"):
            out = self.cli("global", "rib", "-a", fam, check=False)
            n += sum(
                1 for ln in out.splitlines() if ln.startswith("*") and self.peer.v4 not in ln and "fe80" in ln
            )
            n += sum(1 for ln in out.splitlines() if (self.peer.v4 in ln or self.peer.v6 in ln))
        return n

    def withdraw(self) -> None:
        w4, w6 = withdraw_set(self.opts["tag"])
        for pfx in w4:
            self.cli("global", "rib", "del", "-a", "ipv4", pfx)
        for pfx in w6:
            self.cli("global", "rib", "del", "-a", "ipv6", pfx)

    def refresh(self) -> None:
        for sess in ("v4", "v6"):
            self.cli("neighbor", self.peer_addr(sess), "softresetin")

    def shutdown_session(self, session: str, msg: str) -> None:
        self.cli("neighbor", self.peer_addr(session), "disable", "--reason", msg)

    def enable_session(self, session: str) -> None:
        self.cli("neighbor", self.peer_addr(session), "enable")

    def reset_session(self, session: str) -> None:
        self.cli("neighbor", self.peer_addr(session), "reset")


# ------------------------------------------------------------------ bird


class Bird(Daemon):
    kind = "bird"

    def conf(self) -> str:
        me, peer = self.me, self.peer
        tag = self.opts["tag"]
        v4, v6 = route_set(tag)
        w4, w6 = withdraw_set(tag)
        out = [
            f"router id {me.router_id};",
            f'hostname "bird-ns{tag}";',
            f'log "{self.dir / "bird.log"}" all;',
            "protocol device { scan time 5; }",
            "protocol direct { disabled; ipv4; ipv6; }",
        ]
        s4 = []
        extras = [
            "",
            "bgp_community.add((65535,65281));",
            "bgp_community.add((65535,0)); bgp_community.add((65002,42));",
            "bgp_med = 10;",
            f"bgp_large_community.add(({me.asn & 0xFFFFFFFF},7,8));",
            "bgp_ext_community.add((rt, 65002, 100)); bgp_ext_community.add((ro, 10.0.0.1, 5));",
            "bgp_origin = ORIGIN_INCOMPLETE;",
            "bgp_path.prepend(4200000077); bgp_path.prepend(65111);",
            "bgp_community.add((65535,65282)); bgp_med = 4294967295;",
            "bgp_local_pref = 333;",
        ]
        for i, pfx in enumerate(v4):
            s4.append(f"  route {pfx} blackhole {{ {extras[i % len(extras)]} }};")
        s6 = []
        for i, pfx in enumerate(v6):
            s6.append(f"  route {pfx} blackhole {{ {extras[(i + 5) % len(extras)]} }};")
        if self.opts.get("default_route"):
            s4.append("  route 0.0.0.0/0 blackhole;")
            s6.append("  route ::/0 blackhole;")
        out += ["protocol static st4 {", "  ipv4;", *s4, "}"]
        out += ["protocol static st6 {", "  ipv6;", *s6, "}"]
        out += ["protocol static wd4 {", "  ipv4;", *[f"  route {p} blackhole;" for p in w4], "}"]
        out += ["protocol static wd6 {", "  ipv6;", *[f"  route {p} blackhole;" for p in w6], "}"]
        # a second path for one prefix (visible with ADD-PATH)
        out += [
            "protocol static dup4 {",
            "  ipv4 { preference 50; };",
            f"  route {v4[1]} blackhole {{ bgp_med = 999; }};",
            "}",
        ]
        for sess in ("v4", "v6"):
            as4_off = self.opts.get("as4_off_v4") and sess == "v4"
            peer_as = self.opts.get(f"peer_as_{sess}", peer.asn)
            addpath = "add paths on;" if self.opts.get("addpath") else ""
            llgr = "long lived stale time 3600;"
            nhself = "next hop self;" if self.ibgp else ""
            rr = "rr client;" if (self.ibgp and self.opts.get("rr")) else ""
            chans: list[str] = []
            if sess == "v4":
                chans.append(f"  ipv4 {{ import all; export all; {addpath} {llgr} {nhself} }};")
            else:
                chans.append(f"  ipv6 {{ import all; export all; {addpath} {llgr} {nhself} }};")
                if self.opts.get("enh_v6"):
                    chans.append(
                        f"  ipv4 {{ import all; export all; extended next hop on; {llgr} {nhself} }};"
                    )
            out += [
                f"protocol bgp peer_{sess} {{",
                f"  local {self.my_addr(sess)} as {me.asn};",
                f"  neighbor {self.peer_addr(sess)} as {peer_as};",
                "  hold time 9; keepalive time 3; connect retry time 2; connect delay time 1;",
                "  error wait time 1, 4; error forget time 10;",
                "  graceful restart on; graceful restart time 90; long lived graceful restart on;",
                "  enable route refresh on;",
                "  advertise hostname on;",
                "  enable extended messages on;" if self.opts.get("extmsg") else "",
                "  enable as4 off;" if as4_off else "",
                "  direct;" if not self.ibgp else "",
                rr,
                *chans,
                "}",
            ]
        return "\n".join(out) + "\n"

    def birdc(self, *args: str, check: bool = True) -> str:
        return ns_run(self.me.ns, ["birdc", "-s", str(self.dir / "bird.ctl"), *args], check=check)

    def start(self) -> None:
        cf = self.dir / "bird.conf"
        cf.write_text(self.conf())
        run(["bird", "-p", "-c", str(cf)])
        self.procs.start(
            "bird",
            self.me.ns,
            ["bird", "-f", "-c", str(cf), "-s", str(self.dir / "bird.ctl"), "-P", str(self.dir / "bird.pid")],
            self.dir / "bird.out",
        )
        wait_until(lambda: "BIRD" in self.birdc("show", "status"), 15, "bird control socket")

    def established(self) -> int:
        return self.birdc("show", "protocols").count("Established")

    def received_routes(self) -> int:
        out = self.birdc("show", "route", "count", check=False)
        n = 0
        for proto in ("peer_v4", "peer_v6"):
            o = self.birdc("show", "route", "protocol", proto, "count", check=False)
            for ln in o.splitlines():
                parts = ln.split()
                if parts and parts[0].isdigit():
                    n += int(parts[0])
        _ = out
        return n

    def withdraw(self) -> None:
        self.birdc("disable", "wd4")
        self.birdc("disable", "wd6")

    def refresh(self) -> None:
        for sess in ("v4", "v6"):
            self.birdc("reload", "in", f"peer_{sess}")

    def shutdown_session(self, session: str, msg: str) -> None:
        self.birdc("disable", f"peer_{session}", f'"{msg}"')

    def enable_session(self, session: str) -> None:
        self.birdc("enable", f"peer_{session}")

    def reset_session(self, session: str) -> None:
        self.birdc("restart", f"peer_{session}")


# ------------------------------------------------------------------ frr


class Frr(Daemon):
    kind = "frr"

    def conf(self) -> str:
        me, peer = self.me, self.peer
        tag = self.opts["tag"]
        v4, v6 = route_set(tag)
        w4, w6 = withdraw_set(tag)
        rms = [
            ("RM0", []),
            ("RM1", ["set community 65535:65281 65003:1"]),
            ("RM2", ["set community graceful-shutdown"]),
            ("RM3", ["set metric 55"]),
            ("RM4", [f"set large-community {me.asn}:3:4 1:2:3"]),
            ("RM5", ["set extcommunity rt 65003:300 1.2.3.4:5"]),
            ("RM6", ["set origin incomplete"]),
            ("RM7", ["set as-path prepend 4200000055 64999"]),
            ("RM8", ["set local-preference 444", "set community no-export additive"]),
            ("RM9", ["set extcommunity soo 65003:9", "set metric 0"]),
        ]
        out = [
            "frr defaults traditional",
            f"hostname frr-ns{tag}",
            "domainname example.test",
            "!",
        ]
        for name, sets in rms:
            out += [f"route-map {name} permit 10", *[f" {s}" for s in sets], "exit", "!"]
        out += [
            f"router bgp {me.asn}",
            f" bgp router-id {me.router_id}",
            " no bgp ebgp-requires-policy",
            " no bgp network import-check",
            " no bgp default ipv4-unicast",
            " bgp graceful-restart",
            " bgp long-lived-graceful-restart stale-time 3600",
            " timers bgp 3 9",
        ]
        for sess in ("v4", "v6"):
            pa = self.peer_addr(sess)
            out += [
                f" neighbor {pa} remote-as {peer.asn}",
                f" neighbor {pa} update-source {self.my_addr(sess)}",
                f" neighbor {pa} timers connect 2",
                f" neighbor {pa} description {sess}",
            ]
            if not self.ibgp:
                out.append(f" neighbor {pa} local-role provider")  # RFC 9234 role cap + OTC attribute
            out.append(f" neighbor {pa} capability dynamic")
            if sess == "v6" and self.opts.get("enh_v6"):
                out.append(f" neighbor {pa} capability extended-nexthop")
        out.append(" address-family ipv4 unicast")
        for i, pfx in enumerate(v4):
            out.append(f"  network {pfx} route-map {rms[i % len(rms)][0]}")
        for pfx in w4:
            out.append(f"  network {pfx}")
        if self.opts.get("aggregate"):
            out.append(f"  aggregate-address 10.{tag}.0.0/12")
            out.append(f"  aggregate-address 10.{tag}.2.0/24 summary-only")
        if self.opts.get("default_route"):
            out.append("  network 0.0.0.0/0")
        out.append(f"  neighbor {peer.v4} activate")
        if self.ibgp:
            out.append(f"  neighbor {peer.v4} next-hop-self")
        if self.opts.get("addpath"):
            out.append(f"  neighbor {peer.v4} addpath-tx-all-paths")
        if self.opts.get("enh_v6"):
            out.append(f"  neighbor {peer.v6} activate")
        out += [" exit-address-family", " address-family ipv6 unicast"]
        for i, pfx in enumerate(v6):
            out.append(f"  network {pfx} route-map {rms[(i + 4) % len(rms)][0]}")
        for pfx in w6:
            out.append(f"  network {pfx}")
        out.append(f"  neighbor {peer.v6} activate")
        if self.ibgp:
            out.append(f"  neighbor {peer.v6} next-hop-self")
        if self.opts.get("addpath"):
            out.append(f"  neighbor {peer.v6} addpath-tx-all-paths")
        out += [" exit-address-family", "exit", "!", "line vty", "!"]
        return "\n".join(out) + "\n"

    def vtysh(self, *cmds: str, check: bool = True) -> str:
        args = ["vtysh", "--vty_socket", str(self.dir)]
        for c in cmds:
            args += ["-c", c]
        return ns_run(self.me.ns, args, check=check)

    def start(self) -> None:
        cf = self.dir / "bgpd.conf"
        cf.write_text(self.conf())
        os.chmod(self.dir, 0o777)
        self.procs.start(
            "bgpd",
            self.me.ns,
            [
                "/usr/lib/frr/bgpd",
                "-f",
                str(cf),
                "-i",
                str(self.dir / "bgpd.pid"),
                "-z",
                str(self.dir / "zserv.api"),
                "--vty_socket",
                str(self.dir),
                "-Z",
                "-n",
                "-P",
                "0",
                "-u",
                "frr",
                "-g",
                "frr",
                "--log",
                f"file:{self.dir / 'bgpd.log'}",
            ],
            self.dir / "bgpd.out",
        )
        wait_until(lambda: "BGP" in self.vtysh("show bgp summary"), 20, "frr vty")

    def established(self) -> int:
        out = self.vtysh("show bgp neighbors json")
        data = json.loads(out)
        return sum(1 for v in data.values() if isinstance(v, dict) and v.get("bgpState") == "Established")

    def received_routes(self) -> int:
        n = 0
        for fam in ("ipv4", "ipv6"):
            data = json.loads(self.vtysh(f"show bgp {fam} unicast summary json"))
            for p in data.get("peers", {}).values():
                n += int(p.get("pfxRcd", 0))
        return n

    def withdraw(self) -> None:
        w4, w6 = withdraw_set(self.opts["tag"])
        cmds = ["configure terminal", f"router bgp {self.me.asn}", "address-family ipv4 unicast"]
        cmds += [f"no network {p}" for p in w4]
        cmds += ["exit-address-family", "address-family ipv6 unicast"]
        cmds += [f"no network {p}" for p in w6]
        self.vtysh(*cmds)

    def refresh(self) -> None:
        self.vtysh(f"clear bgp ipv4 unicast {self.peer.v4} soft in")
        self.vtysh(f"clear bgp ipv6 unicast {self.peer.v6} soft in")

    def shutdown_session(self, session: str, msg: str) -> None:
        self.vtysh(
            "configure terminal",
            f"router bgp {self.me.asn}",
            f"neighbor {self.peer_addr(session)} shutdown message {msg}",
        )

    def enable_session(self, session: str) -> None:
        self.vtysh(
            "configure terminal",
            f"router bgp {self.me.asn}",
            f"no neighbor {self.peer_addr(session)} shutdown",
        )

    def reset_session(self, session: str) -> None:
        self.vtysh(f"clear bgp {self.peer_addr(session)}")


# ------------------------------------------------------------------ exabgp


class ExaBGP(Daemon):
    kind = "exabgp"

    def conf(self) -> str:
        me, peer = self.me, self.peer
        tag = self.opts["tag"]
        v4, v6 = route_set(tag)
        out: list[str] = []
        for sess in ("v4", "v6"):
            nh = me.v4 if sess == "v4" else me.v6
            routes: list[str] = []
            if sess == "v4":
                extras = [
                    "",
                    "community [ no-export 65005:1 ]",
                    "atomic-aggregate aggregator ( 65005:10.255.0.5 )",
                    "originator-id 10.9.9.9 cluster-list [ 10.8.8.8 10.7.7.7 ]",
                    "attribute [ 0xf0 0xc0 0xdeadbeef ]",
                    "extended-community [ target:65005:7 origin:10.0.0.9:2 ]",
                    "large-community [ 65005:1:1 ]",
                    "med 123 local-preference 50",
                    "as-path [ 65101 [ 65102 65103 ] ]",
                    "origin egp",
                ]
                for i, pfx in enumerate(v4):
                    pid = f" path-information 0.0.0.{i % 3 + 1}" if self.opts.get("addpath") else ""
                    routes.append(f"    route {pfx} next-hop {nh}{pid} {extras[i % len(extras)]};")
            else:
                for i, pfx in enumerate(v6):
                    pid = f" path-information 0.0.0.{i % 2 + 1}" if self.opts.get("addpath") else ""
                    routes.append(f"    route {pfx} next-hop {nh}{pid} community [ 65005:{i} ];")
            fam = "ipv4 unicast;" if sess == "v4" else "ipv6 unicast;"
            addpath = "    add-path send/receive;\n" if self.opts.get("addpath") else ""
            out.append(
                f"neighbor {self.peer_addr(sess)} {{\n"
                f"  router-id {me.router_id};\n"
                f"  local-address {self.my_addr(sess)};\n"
                f"  local-as {me.asn};\n"
                f"  peer-as {peer.asn};\n"
                f"  hold-time 9;\n"
                f"  group-updates true;\n"
                f"  family {{ {fam} }}\n"
                f"  capability {{\n    route-refresh;\n    graceful-restart 120;\n{addpath}  }}\n"
                f"  static {{\n" + "\n".join(routes) + "\n  }\n"
                "}\n"
            )
        return "\n".join(out)

    def start(self) -> None:
        cf = self.dir / "exabgp.conf"
        cf.write_text(self.conf())
        env = self.dir / "exabgp.env"
        env.write_text(
            "[exabgp.daemon]\nuser = 'root'\ndrop = false\ndaemonize = false\n"
            "[exabgp.log]\ndestination = 'stdout'\nlevel = INFO\n"
            "[exabgp.api]\ncli = false\n"
            "[exabgp.tcp]\nbind = ''\n"
        )
        self.procs.start(
            "exabgp", self.me.ns, ["exabgp", "--env", str(env), str(cf)], self.dir / "exabgp.log"
        )

    def established(self) -> int:
        return 0  # judged from the peer side

    def received_routes(self) -> int:
        return 0

    def withdraw(self) -> None:
        pass

    def refresh(self) -> None:
        pass


DAEMONS: dict[str, type[Daemon]] = {"gobgpd": GoBGP, "bird": Bird, "frr": Frr, "exabgp": ExaBGP}
LABELS = {
    "gobgpd": f"gobgpd {pkg_version('gobgpd').split('-')[0]}",
    "bird": f"bird {pkg_version('bird2').split('-')[0]}",
    "frr": f"frr bgpd {pkg_version('frr').split('-')[0]}",
    "exabgp": f"exabgp {pkg_version('exabgp').split('-')[0]}",
}


@dataclass
class PairSpec:
    idx: int
    a: str
    b: str
    a_as: int
    b_as: int
    a_opts: dict[str, Any] = field(default_factory=dict)
    b_opts: dict[str, Any] = field(default_factory=dict)
    description: str = ""


PAIRS = [
    PairSpec(
        1,
        "gobgpd",
        "bird",
        4200000001,
        65002,
        {"tag": 11, "addpath": True, "local_as_v4": 65001},
        {"tag": 12, "addpath": True, "as4_off_v4": True, "default_route": True, "peer_as_v4": 65001},
        "eBGP; bird is a 2-octet-only speaker on the v4 session (enable as4 off); ADD-PATH; GR+LLGR",
    ),
    PairSpec(
        2,
        "bird",
        "frr",
        65010,
        65010,
        {"tag": 21, "addpath": True, "extmsg": True, "enh_v6": True, "rr": True},
        {"tag": 22, "addpath": True, "enh_v6": True},
        "iBGP (bird is route reflector); extended message; RFC 8950 next hop; ADD-PATH; GR+LLGR",
    ),
    PairSpec(
        3,
        "frr",
        "gobgpd",
        4200000003,
        4200000004,
        {"tag": 31, "addpath": True, "aggregate": True, "default_route": True},
        {"tag": 32, "addpath": True},
        "eBGP, 4-octet AS on both sides; FRR aggregates; ADD-PATH",
    ),
    PairSpec(
        4,
        "exabgp",
        "gobgpd",
        65005,
        65005,
        {"tag": 41, "addpath": True},
        {"tag": 42, "addpath": True},
        "iBGP; exabgp sends ATOMIC_AGGREGATE/AGGREGATOR/ORIGINATOR_ID/CLUSTER_LIST/unknown attribute",
    ),
]


# --------------------------------------------------------------------------------------
# pcap parsing, TCP reassembly, BGP framing


@dataclass
class Segment:
    ts: float
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    flags: int
    payload: bytes


def read_pcap(path: Path) -> list[Segment]:
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise RuntimeError(f"{path}: not a classic pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    segs: list[Segment] = []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off : off + 16])
        frame = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        ts = sec + frac / (1e9 if nano else 1e6)
        seg = parse_frame(frame, linktype, ts)
        if seg is not None:
            segs.append(seg)
    return segs


def parse_frame(frame: bytes, linktype: int, ts: float) -> Segment | None:
    import ipaddress

    if linktype == 1:
        ethertype = struct.unpack("!H", frame[12:14])[0]
        l3 = frame[14:]
        if ethertype == 0x8100:
            ethertype = struct.unpack("!H", frame[16:18])[0]
            l3 = frame[18:]
    elif linktype == 113:
        ethertype = struct.unpack("!H", frame[14:16])[0]
        l3 = frame[16:]
    else:
        raise RuntimeError(f"unsupported linktype {linktype}")
    if ethertype == 0x0800:
        ihl = (l3[0] & 0x0F) * 4
        total = struct.unpack("!H", l3[2:4])[0]
        if l3[9] != 6:
            return None
        src, dst = str(ipaddress.IPv4Address(l3[12:16])), str(ipaddress.IPv4Address(l3[16:20]))
        l4 = l3[ihl:total]
    elif ethertype == 0x86DD:
        if l3[6] != 6:
            return None  # no extension headers expected here
        plen = struct.unpack("!H", l3[4:6])[0]
        src, dst = str(ipaddress.IPv6Address(l3[8:24])), str(ipaddress.IPv6Address(l3[24:40]))
        l4 = l3[40 : 40 + plen]
    else:
        return None
    sport, dport, seq, _ack, offflags = struct.unpack("!HHIIH", l4[:14])
    doff = (offflags >> 12) * 4
    flags = offflags & 0x1FF
    return Segment(ts, src, sport, dst, dport, seq, flags, bytes(l4[doff:]))


@dataclass
class Stream:
    src: str
    sport: int
    dst: str
    dport: int
    start: float
    isn: int | None
    chunks: dict[int, bytes] = field(default_factory=dict)
    times: dict[int, float] = field(default_factory=dict)

    def data(self) -> tuple[bytes, list[tuple[int, float]]]:
        buf = bytearray()
        tmarks: list[tuple[int, float]] = []
        pos = 0
        for off in sorted(self.chunks):
            chunk = self.chunks[off]
            if off > pos:
                log(f"WARNING: gap in stream {self.src}:{self.sport}->{self.dst}:{self.dport} at {pos}")
                break
            if off + len(chunk) <= pos:
                continue
            tmarks.append((pos, self.times[off]))
            buf += chunk[pos - off :]
            pos = len(buf)
        return bytes(buf), tmarks


SYN, FIN, RST = 0x02, 0x01, 0x04


def reassemble(segs: list[Segment]) -> list[Stream]:
    """Split by 4-tuple and SYN generation, then order bytes by sequence number."""
    current: dict[tuple[str, int, str, int], Stream] = {}
    streams: list[Stream] = []
    for s in segs:
        key = (s.src, s.sport, s.dst, s.dport)
        st = current.get(key)
        if s.flags & SYN:
            if st is not None and st.isn == s.seq:
                continue  # retransmitted SYN
            st = Stream(s.src, s.sport, s.dst, s.dport, s.ts, s.seq)
            current[key] = st
            streams.append(st)
            continue
        if not s.payload:
            continue
        if st is None:
            st = Stream(s.src, s.sport, s.dst, s.dport, s.ts, (s.seq - 1) & 0xFFFFFFFF)
            current[key] = st
            streams.append(st)
        assert st.isn is not None
        rel = (s.seq - st.isn - 1) & 0xFFFFFFFF
        if rel not in st.chunks or len(st.chunks[rel]) < len(s.payload):
            st.chunks[rel] = s.payload
            st.times.setdefault(rel, s.ts)
    return streams


def split_bgp(buf: bytes) -> list[bytes]:
    msgs: list[bytes] = []
    off = 0
    while off + 19 <= len(buf):
        if buf[off : off + 16] != MARKER:
            raise RuntimeError(f"BGP framing lost at offset {off}")
        length = struct.unpack("!H", buf[off + 16 : off + 18])[0]
        if length < 19 or off + length > len(buf):
            break  # truncated at end of capture
        msgs.append(buf[off : off + length])
        off += length
    if off != len(buf):
        log(f"note: {len(buf) - off} trailing bytes not a full BGP message")
    return msgs


# --------------------------------------------------------------------------------------
# OPEN capability analysis for context


def open_caps(msg: bytes) -> list[tuple[int, bytes]]:
    """Capabilities in an OPEN message (RFC 5492 parameters of type 2)."""
    caps: list[tuple[int, bytes]] = []
    if len(msg) < 29 or msg[18] != 1:
        return caps
    optlen = msg[28]
    params = msg[29 : 29 + optlen]
    i = 0
    while i + 2 <= len(params):
        ptype, plen = params[i], params[i + 1]
        body = params[i + 2 : i + 2 + plen]
        i += 2 + plen
        if ptype != 2:
            continue
        j = 0
        while j + 2 <= len(body):
            code, clen = body[j], body[j + 1]
            caps.append((code, body[j + 2 : j + 2 + clen]))
            j += 2 + clen
    return caps


def addpath_modes(msg: bytes) -> dict[tuple[int, int], int]:
    modes: dict[tuple[int, int], int] = {}
    for code, val in open_caps(msg):
        if code == 69:
            for k in range(0, len(val) - 3, 4):
                afi, safi, sr = struct.unpack("!HBB", val[k : k + 4])
                modes[(afi, safi)] = sr
    return modes


def session_context(sender_open: bytes | None, receiver_open: bytes | None) -> dict[str, Any]:
    if sender_open is None or receiver_open is None:
        return {"as4": False, "addpath": [], "extended_message": False, "complete": False}
    s_caps = {c for c, _ in open_caps(sender_open)}
    r_caps = {c for c, _ in open_caps(receiver_open)}
    s_ap, r_ap = addpath_modes(sender_open), addpath_modes(receiver_open)
    addpath = sorted(
        [afi, safi] for (afi, safi), mode in s_ap.items() if mode & 2 and r_ap.get((afi, safi), 0) & 1
    )
    return {
        "as4": 65 in s_caps and 65 in r_caps,
        "addpath": addpath,
        "extended_message": 6 in s_caps and 6 in r_caps,
        "complete": True,
    }


# --------------------------------------------------------------------------------------
# one pair


def capture_pair(spec: PairSpec, base: Path, settle: float) -> tuple[Path, dict[str, str]]:
    procs = ProcSet()
    ns_names = [f"{NS_PREFIX}{spec.idx}a", f"{NS_PREFIX}{spec.idx}b"]
    pcap = base / f"pair{spec.idx}.pcap"
    addr_owner: dict[str, str] = {}
    try:
        delete_netns(ns_names)  # leftovers from an aborted earlier run of this tool
        a_ep, b_ep = create_pair_netns(spec.idx)
        a_ep.asn, b_ep.asn = spec.a_as, spec.b_as
        for ep, kind in ((a_ep, spec.a), (b_ep, spec.b)):
            addr_owner[ep.v4] = kind
            addr_owner[ep.v6] = kind
            addr_owner[link_local(ep)] = kind
        ibgp = spec.a_as == spec.b_as
        dumpcap = procs.start(
            "dumpcap",
            a_ep.ns,
            ["dumpcap", "-q", "-P", "-i", a_ep.ifname, "-f", "tcp port 179", "-s", "0", "-w", str(pcap)],
            base / f"pair{spec.idx}.dumpcap.log",
        )
        wait_until(pcap.exists, 10, "dumpcap file")
        time.sleep(1.0)
        a = DAEMONS[spec.a](a_ep, b_ep, base / f"pair{spec.idx}-{spec.a}", procs, ibgp)
        b = DAEMONS[spec.b](b_ep, a_ep, base / f"pair{spec.idx}-{spec.b}", procs, ibgp)
        a.opts, b.opts = dict(spec.a_opts), dict(spec.b_opts)
        a.start()
        b.start()
        judge = a if spec.a != "exabgp" else b
        wait_until(lambda: judge.established() >= 2, 60, f"pair {spec.idx} sessions established")
        wait_until(lambda: judge.received_routes() >= 10, 30, f"pair {spec.idx} routes received")
        time.sleep(settle)
        log(f"pair {spec.idx}: established={judge.established()} routes={judge.received_routes()}")
        # withdrawals
        for d in (a, b):
            try:
                d.withdraw()
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log(f"withdraw on {d.kind} failed: {e}")
        time.sleep(3)
        # route refresh
        for d in (a, b):
            try:
                d.refresh()
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log(f"refresh on {d.kind} failed: {e}")
        time.sleep(4)
        # administrative shutdown with a message on v4 by one side, hard reset of v6 by the other
        actors = [d for d in (a, b) if d.kind != "exabgp"]
        shut, reset = actors[0], actors[-1] if len(actors) > 1 else actors[0]
        try:
            shut.shutdown_session("v4", f"gracebgp vectors: {shut.kind} maintenance")
            time.sleep(2)
            shut.enable_session("v4")
            wait_until(lambda: judge.established() >= 2, 30, "re-establish after shutdown")
            time.sleep(2)
        except (RuntimeError, subprocess.TimeoutExpired, NotImplementedError) as e:
            log(f"shutdown on {shut.kind} failed: {e}")
        try:
            reset.reset_session("v6")
            wait_until(lambda: judge.established() >= 2, 30, "re-establish after reset")
            time.sleep(2)
        except (RuntimeError, subprocess.TimeoutExpired, NotImplementedError) as e:
            log(f"reset on {reset.kind} failed: {e}")
        time.sleep(3)
        # stop the daemons first (their own shutdown NOTIFICATIONs get captured), then dumpcap
        for p in [p for p in procs.procs if p is not dumpcap]:
            procs.stop(p)
        time.sleep(1.5)
        procs.stop(dumpcap, signal.SIGINT)
    finally:
        procs.stop_all()
        delete_netns(ns_names)
    return pcap, addr_owner


def messages_from_pcap(
    pcap: Path, owner: dict[str, str], spec: PairSpec
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    segs = read_pcap(pcap)
    streams = reassemble(segs)
    conns: dict[frozenset[tuple[str, int]], list[Stream]] = {}
    for st in streams:
        key = frozenset({(st.src, st.sport), (st.dst, st.dport)})
        conns.setdefault(key, []).append(st)
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    ordered = sorted(conns.values(), key=lambda sts: min(s.start for s in sts))
    conn_no = 0
    for sts in ordered:
        per_dir: dict[str, list[bytes]] = {}
        for st in sts:
            buf, _ = st.data()
            if not buf:
                continue
            per_dir.setdefault(st.src, []).extend(split_bgp(buf))
        if not per_dir:
            continue
        conn_no += 1
        opens = {src: next((m for m in msgs if m[18] == 1), None) for src, msgs in per_dir.items()}
        for st in sts:
            if st.src not in per_dir:
                continue
            msgs = per_dir.pop(st.src)
            sender, receiver = owner[st.src], owner[st.dst]
            transport = "v6" if ":" in st.src else "v4"
            ctx = session_context(opens.get(st.src), opens.get(st.dst))
            for m in msgs:
                out.setdefault((sender, receiver), []).append(
                    {"session": f"{transport}-conn{conn_no}", "context": ctx, "msg": m}
                )
    return out


def write_vectors(
    outdir: Path, spec: PairSpec, grouped: dict[tuple[str, str], list[dict[str, Any]]]
) -> list[Path]:
    written: list[Path] = []
    for (sender, receiver), items in grouped.items():
        seen: set[tuple[str, str]] = set()
        keepalives = 0
        kept: list[dict[str, Any]] = []
        for it in items:
            m: bytes = it["msg"]
            ident = (m.hex(), json.dumps(it["context"], sort_keys=True))
            if ident in seen:
                continue
            if m[18] == 4:
                if keepalives >= 2:
                    continue
                keepalives += 1
            seen.add(ident)
            kept.append(it)
        dissected = tshark_bgp.dissect([it["msg"] for it in kept])
        path = outdir / f"{sender}_to_{receiver}.jsonl"
        with path.open("w") as fh:
            for n, (it, ts) in enumerate(zip(kept, dissected, strict=True)):
                rec = {
                    "sender": LABELS[sender],
                    "receiver": LABELS[receiver],
                    "session": f"pair{spec.idx}-{it['session']}",
                    "index": n,
                    "context": it["context"],
                    "hex": it["msg"].hex(),
                    "tshark": ts,
                }
                fh.write(json.dumps(rec, sort_keys=True) + "\n")
        written.append(path)
        log(f"wrote {path} ({len(kept)} messages, {path.stat().st_size} bytes)")
    return written


# --------------------------------------------------------------------------------------
# feature summary of produced files


def _features(records: list[dict[str, Any]]) -> list[str]:
    feats: set[str] = set()
    opens: dict[str, list[int]] = {}
    for rec in records:
        ts = rec["tshark"]
        ctx = rec["context"]
        feats.add(ts["type"])
        if ctx.get("as4"):
            feats.add("ctx:as4")
        elif ctx["complete"]:
            feats.add("ctx:2-octet")
        if ctx.get("addpath"):
            feats.add("ctx:addpath")
        if ctx.get("extended_message"):
            feats.add("ctx:extended-message")
        if ts["type"] == "OPEN":
            caps = [c["code"] for c in ts["capabilities"]]
            feats.update(f"cap{c}" for c in caps)
            asn = next((c["asn"] for c in ts["capabilities"] if c["code"] == 65), ts["my_as"])
            opens.setdefault(rec["session"], []).append(asn)
            if ts["my_as"] == 23456:
                feats.add("open:AS_TRANS")
        elif ts["type"] == "ROUTE-REFRESH":
            feats.add(f"route-refresh-subtype{ts['subtype']}")
        elif ts["type"] == "NOTIFICATION":
            feats.add(f"notification-{ts['code']}/{ts['subcode']}")
        elif ts["type"] == "UPDATE":
            _update_features(ts, feats)
    return sorted(feats)


def _plen(prefix: str) -> int:
    return int(prefix.split("#", maxsplit=1)[0].split("/")[1])


def _update_features(ts: dict[str, Any], feats: set[str]) -> None:
    attrs = ts["attributes"]
    if not attrs and not ts["withdrawn"] and not ts["nlri"]:
        feats.add("EoR-ipv4")
    if ts["withdrawn"]:
        feats.add("withdraw-ipv4")
    if ts["nlri"]:
        feats.add("nlri-ipv4")
    for p in ts["withdrawn"] + ts["nlri"]:
        if "#" in p:
            feats.add("tshark-path-id")
        feats.add(f"v4/{_plen(p)}")
    for a in attrs:
        t = a["type"]
        feats.add(f"attr{t}")
        if t in (2, 17):
            for seg in a["segments"]:
                if seg["type"] == 1:
                    feats.add("AS_SET")
                if 23456 in seg["asns"]:
                    feats.add("AS_TRANS-in-path")
        elif t == 8:
            if "65535:65281" in a["values"]:
                feats.add("NO_EXPORT")
            if "65535:0" in a["values"]:
                feats.add("GRACEFUL_SHUTDOWN")
        elif t == 14:
            fam = "ipv4" if a["afi"] == 1 else "ipv6"
            feats.add(f"mp-reach-{fam}")
            if len(a["next_hops"]) > 1:
                feats.add("nh-global+link-local")
            if a["afi"] == 1 and any(":" in nh for nh in a["next_hops"]):
                feats.add("rfc8950-ipv4-over-ipv6-nh")
            for p in a["nlri"]:
                if "#" in p:
                    feats.add("tshark-path-id")
                feats.add(f"{'v4' if a['afi'] == 1 else 'v6'}/{_plen(p)}")
        elif t == 15:
            fam = "ipv4" if a["afi"] == 1 else "ipv6"
            feats.add(f"withdraw-{fam}" if a["withdrawn"] else f"EoR-{fam}")


def summarize(outdir: Path) -> str:
    lines = []
    for path in sorted(outdir.glob("*.jsonl")):
        records = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
        counts: dict[str, int] = {}
        for r in records:
            counts[r["tshark"]["type"]] = counts.get(r["tshark"]["type"], 0) + 1
        lines.append(f"{path.name}: {len(records)} messages {counts}")
        lines.append("  " + " ".join(_features(records)))
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    ap.add_argument("--out", default="tests/vectors/peers", type=Path)
    ap.add_argument("--pairs", default="", help="comma-separated pair numbers (default: all)")
    ap.add_argument("--keep-work", action="store_true", help="keep the temporary work dir (pcaps, logs)")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds to wait after routes arrived")
    ap.add_argument("--summarize", action="store_true", help="only print the features of the files in --out")
    args = ap.parse_args()
    if args.summarize:
        print(summarize(args.out))
        return 0
    # make SIGTERM unwind through the finally blocks (namespaces, processes)
    signal.signal(signal.SIGTERM, _interrupt)
    if os.geteuid() != 0:
        print("must run as root (network namespaces)", file=sys.stderr)
        return 2
    for tool in ("ip", "dumpcap", "tshark", "gobgpd", "bird", "/usr/lib/frr/bgpd", "exabgp"):
        if shutil.which(tool) is None:
            print(f"missing tool: {tool}", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = {int(x) for x in args.pairs.split(",") if x}
    work = Path(tempfile.mkdtemp(prefix="gracebgp-capture-"))
    os.chmod(work, 0o755)
    log(f"work dir {work}")
    try:
        for spec in PAIRS:
            if wanted and spec.idx not in wanted:
                continue
            log(f"=== pair {spec.idx}: {spec.a} <-> {spec.b}: {spec.description}")
            pcap, owner = capture_pair(spec, work, args.settle)
            grouped = messages_from_pcap(pcap, owner, spec)
            write_vectors(args.out, spec, grouped)
        print(summarize(args.out))
    finally:
        if args.keep_work:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
