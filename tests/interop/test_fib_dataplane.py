"""Forwarding through gracebgpd across restarts (issue 17, item 5): packets are counted,
not route tables.

The lab: a client (namespace 0), gracebgpd as the router (1, IP forwarding on, the FIB
on), two gobgpd origins (2 and 3) in one AS, each announcing 10.77.0.0/24 and answering
pings on 10.77.0.1 (anycast on their loopbacks). The client's route to the /24 and the
origins' routes back to the client are static: only the router's path to the /24 comes
from BGP, so every lost ping is the router's. The client pings every 20 ms with
``ping -c COUNT -i 0.02`` (iputils ``ping -w`` would stop at the first ICMP error).

Zero lost: across ``gracebgp restart --graceful``, ``gracebgp restart`` (hand-over), a
hand-over SIGKILLed half-way, SIGKILL with a start 2 s later, ``stop --retain`` followed
by a start, an origin killed with -9 (GR keeps its route).
An origin coming back after a kill: zero lost, the same next hops, no change in the kernel
(its routes are in before its sessions come up: ``Origin``). A single-path route
flushed by the kernel (address removed, link down) comes back with its next hop.
Control runs that must lose: ``stop --withdraw`` (routes removed after the withdrawal; the
next start says F=0),
and a restart with ``fib-retain = false``. ECMP: the kernel route has both origins as
next hops; one origin stops and one remains. Next-hop tracking: the router's address
towards an origin goes away: the route leaves the kernel, and a prefix only that origin
announced is withdrawn from the other origin, within a second (RFC 4271 §9.1.2.1).
One lab, daemons started once for the module.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gracebgp.runtime.fibkernel import DEFAULT_PROTOCOL
from tests.interop.common import interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, Process, wait_until
from tests.interop.peers import Family, GoBgpd, GrSpec, NeighborSpec, RouteSpec, norm_addr

pytestmark = interop

PREFIX = "10.77.0.0/24"
TARGET = "10.77.0.1"
PREFIX6, TARGET6 = "2001:db8:77::/64", "2001:db8:77::1"  # the same, over the IPv4 sessions
ROUTER_AS, ORIGIN_AS = 65001, (65002, 65003)
ONLY2 = "10.78.0.0/24"  # announced by origin 2 alone: origin 1 learns it through the router
GR = GrSpec(restart_time=60)
INTERVAL = "0.02"


class FibRouter(GraceBgpd):
    """gracebgpd with the kernel FIB on, multipath on, and ``fib_lines`` in [gracebgp]."""

    fib_lines: tuple[str, ...] = ("fib = true",)

    def config(self) -> str:
        text = super().config()
        multipath = ("[global.use-multiple-paths.config]\n  enabled = true\n"
                     "[global.use-multiple-paths.ebgp.config]\n  allow-multiple-as = true\n")
        text = text.replace("[[neighbors]]", multipath + "[[neighbors]]", 1)
        return text.replace("[gracebgp]\n", "[gracebgp]\n" + "".join(f"  {x}\n" for x in self.fib_lines), 1)


class Origin(GoBgpd):
    """gobgpd whose routes exist before its sessions come up. The driver adds them through
    gobgpd's API once it answers, and a session that comes up first sends End-of-RIB with
    nothing before it: restarting, that purges the routes its helper kept (RFC 4724 §4.2),
    a real change that the origin-restart test must not see. So the neighbors start
    administratively down and are enabled once the routes are in."""

    def config(self) -> str:
        return re.sub(r"(\n    peer-as = \d+\n)", r"\1    admin-down = true\n", super().config())

    def _launch(self, restarting: bool) -> None:
        super()._launch(restarting)  # (adds the routes once the API answers)
        for n in self.neighbors:
            self.cli("neighbor", norm_addr(n.address), "enable")


@dataclass
class Net:
    lab: Lab
    client: str
    router: str
    origins: list[str]
    gbd: FibRouter
    peers: list[Origin]

    def hops(self, prefix: str = PREFIX) -> list[str]:
        """The next hops of our kernel route for ``prefix`` in the router ([] when absent)."""
        proto = str(DEFAULT_PROTOCOL)
        version = "-6" if ":" in prefix else "-4"
        text = self.lab.run(self.router, ["ip", "-j", version, "route", "show", prefix, "proto", proto])
        out = json.loads(text or "[]")
        if not out:
            return []
        r = out[0]
        return sorted(h["gateway"] for h in r["nexthops"]) if "nexthops" in r else [r["gateway"]]

    def ping(self, count: int, name: str, target: str = TARGET) -> Process:
        argv = ["ping", "-n", "-q", "-c", str(count), "-i", INTERVAL, "-W", "1", target]
        return self.lab.spawn(self.client, argv, self.lab.subdir("ping") / f"{name}.log", name=f"ping-{name}")

    def lost(self, proc: Process, timeout: float) -> tuple[int, int]:
        """(sent, lost) of a finished ping."""
        proc.popen.wait(timeout=timeout)
        text = proc.log_text()
        m = re.search(r"(\d+) packets transmitted, (\d+) received", text)
        assert m, text
        sent, got = int(m[1]), int(m[2])
        return sent, sent - got


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    require(GoBgpd)
    with Lab(4, links=[(0, 1), (1, 2), (1, 3)]) as lab:
        client, router, o1, o2 = (lab.ns(i) for i in range(4))
        lab.run(router, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"])
        lab.run(client, ["ip", "route", "add", PREFIX, "via", lab.addr(router, client)])
        lab.run(client, ["ip", "-6", "route", "add", PREFIX6, "via", lab.addr(router, client, 6)])
        client6 = str(ipaddress.ip_interface(f"{lab.addr(client, router, 6)}/64").network)
        for o in (o1, o2):
            lab.run(o, ["ip", "addr", "add", f"{TARGET}/32", "dev", "lo"])
            lab.run(o, ["ip", "route", "add", "10.254.0.0/24", "via", lab.addr(router, o)])
            lab.run(o, ["ip", "-6", "addr", "add", f"{TARGET6}/128", "dev", "lo"])
            lab.run(o, ["ip", "-6", "route", "add", client6, "via", lab.addr(router, o, 6)])
        both: tuple[Family, ...] = ("ipv4", "ipv6")
        gbd = FibRouter()
        gbd.start(lab, router, asn=ROUTER_AS, router_id="10.0.0.1",
                  neighbors=[NeighborSpec(lab.addr(o, router), asn, families=both, graceful_restart=GR)
                             for o, asn in zip((o1, o2), ORIGIN_AS, strict=True)])
        peers = []
        for i, o in enumerate((o1, o2)):
            p = Origin()
            p.start(lab, o, asn=ORIGIN_AS[i], router_id=f"10.0.0.{i + 2}",
                    neighbors=[NeighborSpec(lab.addr(router, o), ROUTER_AS, families=both,
                                            graceful_restart=GR)],
                    originate=[RouteSpec(PREFIX), RouteSpec(PREFIX6, next_hop=lab.addr(o, router, 6)),
                               *([RouteSpec(ONLY2)] if i else [])])
            peers.append(p)
        n = Net(lab, client, router, [o1, o2], gbd, peers)
        want = sorted(lab.addr(o, router) for o in (o1, o2))
        wait_until(lambda: n.hops() == want or None, 30, what="the ECMP route in the router's kernel")
        yield n


def _across(net: Net, name: str, action: object, seconds: float = 6.0) -> tuple[int, int]:
    ping = net.ping(int(seconds / float(INTERVAL)), name)
    time.sleep(0.5)
    action()  # type: ignore[operator]
    return net.lost(ping, seconds + 20)


def test_ecmp_route_and_zero_loss_across_a_graceful_restart(net: Net) -> None:
    assert len(net.hops()) == 2
    sent, lost = _across(net, "restart", net.gbd.graceful_restart)
    print(f"gracebgp restart --graceful: {sent} sent, {lost} lost")
    assert lost == 0
    # gracebgp fib: the restarted process adopted the routes, so F=1, and says why
    def synced() -> dict[str, Any] | None:
        view = json.loads(net.gbd.cli("fib", json_out=True))
        v4 = next(f for f in view["families"] if f["family"] == "ipv4-unicast")
        return v4 if v4["in_sync"] and v4["gate"] == "open" else None

    v4 = wait_until(synced, 30, what="gracebgp fib: ipv4-unicast in sync")
    assert v4 is not None
    assert v4["installed"] == 2 and v4["adopted_at_start"] == 2 and v4["f_bit"] is True
    assert "adopted" in str(v4["f_reason"]) and v4["failures"] == 0 and v4["conflicts"] == 0
    with net.gbd.client() as c:
        text = c.metrics()
    assert 'gracebgp_fib_routes{family="ipv4-unicast",state="installed"} 2.0' in text
    assert 'gracebgp_fib_forwarding_preserved{family="ipv4-unicast"} 1.0' in text
    status = net.gbd.cli("gr", "status")
    assert "F bit ipv4-unicast: 1 (FIB on, same kernel and namespace: 2 ipv4-unicast routes" in status, status


def test_ipv6_ecmp_route_and_zero_loss_across_a_graceful_restart(net: Net) -> None:
    want = sorted(net.lab.addr(o, net.router, 6) for o in net.origins)
    wait_until(lambda: net.hops(PREFIX6) == want or None, 30, what=f"the IPv6 ECMP route {PREFIX6}")
    ping = net.ping(300, "restart6", TARGET6)
    time.sleep(0.5)
    net.gbd.graceful_restart()
    sent, lost = net.lost(ping, 26)
    print(f"IPv6, gracebgp restart --graceful: {sent} sent, {lost} lost; hops {net.hops(PREFIX6)}")
    assert lost == 0 and sent == 300


def test_zero_loss_across_a_session_hand_over(net: Net) -> None:
    """``gracebgp restart`` (the hand-over, issue 19): the adopted routes stay in the kernel
    (the FIB looks at every prefix selected before it attaches before it reconciles)."""
    sent, lost = _across(net, "handover", lambda: net.gbd.graceful_restart(handover=True))
    print(f"gracebgp restart (hand-over): {sent} sent, {lost} lost; hops {net.hops()}")
    assert lost == 0
    assert len(net.hops()) == 2, net.gbd.cli("fib")


def test_zero_loss_when_a_hand_over_is_killed(net: Net) -> None:
    """SIGKILL (the whole process group: the keepalive bridge too) in the middle of a
    ``gracebgp restart`` hand-over, a start 2 s later: a crash like any other, so the
    peers' graceful restart and the kernel routes carry the traffic."""
    def killed() -> None:
        net.gbd.cli("restart")
        time.sleep(0.3)  # the owner loop stops 0.1 s after the answer: the new image is starting
        net.gbd.kill9()
        time.sleep(2)
        net.gbd.restart(kill=False)

    sent, lost = _across(net, "handover-killed", killed)
    print(f"hand-over killed, start 2 s later: {sent} sent, {lost} lost; hops {net.hops()}")
    assert lost == 0
    wait_until(lambda: len(net.hops()) == 2 or None, 30, what="both next hops after the crash")


def test_zero_loss_across_sigkill_and_a_start_2s_later(net: Net) -> None:
    def crash() -> None:
        net.gbd.kill9()
        time.sleep(2)
        net.gbd.restart(kill=False)

    sent, lost = _across(net, "sigkill", crash)
    print(f"SIGKILL, start 2 s later: {sent} sent, {lost} lost")
    assert lost == 0


def test_zero_loss_across_stop_retain_and_a_start(net: Net) -> None:
    def stop_start() -> None:
        net.gbd.cli("stop", "--retain")
        net.gbd.wait_exited(15)
        net.gbd.restart(kill=False)

    sent, lost = _across(net, "retain", stop_start)
    print(f"stop --retain, start: {sent} sent, {lost} lost")
    assert lost == 0


def test_an_origin_killed_with_gr_keeps_the_route_and_the_pings(net: Net) -> None:
    origin = net.peers[1]
    before = net.hops()
    sent, lost = _across(net, "origin-kill", origin.kill9, seconds=4.0)
    print(f"origin killed -9 (GR): {sent} sent, {lost} lost; hops {net.hops()}")
    assert net.hops() == before
    assert lost == 0
    counts = _fib_counts(net)
    address = net.lab.addr(net.router, net.origins[1])
    sent, lost = _across(net, "origin-back", lambda: origin.restart(kill=False), seconds=4.0)
    wait_until(lambda: origin.session_state(address) == "Established", 30)
    net.peers[0].wait_route(net.lab.addr(net.router, net.origins[0]), "ipv4", ONLY2, timeout=30)
    changed = tuple(b - a for a, b in zip(counts, _fib_counts(net), strict=True))
    print(f"origin back: {sent} sent, {lost} lost; hops {net.hops()}; kernel +/~/-: {changed}")
    assert lost == 0 and net.hops() == before
    assert changed == (0, 0, 0), f"the kernel changed when the origin came back: +/~/- {changed}"


def _fib_counts(net: Net) -> tuple[int, int, int]:
    view = json.loads(net.gbd.cli("fib", json_out=True))
    v4 = next(f for f in view["families"] if f["family"] == "ipv4-unicast")
    return v4["added"], v4["replaced"], v4["deleted"]


def test_ecmp_one_origin_stops_one_next_hop_remains(net: Net) -> None:
    gone, kept = net.lab.addr(net.origins[1], net.router), net.lab.addr(net.origins[0], net.router)
    wait_until(lambda: len(net.hops()) == 2 or None, 30, what="two next hops")
    sent, lost = _across(net, "ecmp", net.peers[1].stop, seconds=4.0)
    print(f"ECMP, one origin stops: {sent} sent, {lost} lost")
    wait_until(lambda: net.hops() == [kept] or None, 10, what=f"only {kept} left (not {gone})")
    assert lost <= 5  # the kernel's own rehash of flows already on the gone hop
    net.peers[1].restart(kill=False)
    wait_until(lambda: len(net.hops()) == 2 or None, 30, what="two next hops again")


def test_an_unreachable_next_hop_leaves_the_kernel_and_the_peers_within_a_second(net: Net) -> None:
    lab, router, origin = net.lab, net.router, net.origins[1]
    gone = lab.addr(origin, router)
    link = lab.link(router, origin)
    dev, mine = link.ifname(router), lab.addr(router, origin)
    other = net.peers[0]
    towards = lab.addr(router, net.origins[0])
    other.wait_route(towards, "ipv4", ONLY2, timeout=30)
    lab.run(router, ["ip", "addr", "del", f"{mine}/24", "dev", dev])
    t0 = time.monotonic()
    try:
        wait_until(lambda: gone not in net.hops() or None, 5, interval=0.05,
                   what=f"{gone} out of the kernel route")
        wait_until(lambda: net.hops(ONLY2) == [] or None, 5, interval=0.05, what=f"{ONLY2} out of the kernel")
        took = time.monotonic() - t0
        other.wait_route_gone(towards, "ipv4", ONLY2, timeout=5)
        withdrawn = time.monotonic() - t0
        print(f"next hop {gone} unreachable: out of the kernel after {took:.2f}s, "
              f"withdrawn from the other origin after {withdrawn:.2f}s")
        assert took < 1.0 and withdrawn < 1.0
        assert net.hops() == [lab.addr(net.origins[0], router)]
    finally:
        lab.run(router, ["ip", "addr", "add", f"{mine}/24", "dev", dev])
    try:
        wait_until(lambda: len(net.hops()) == 2 or None, 60, what="two next hops again")
        # the single-path route the kernel flushed with the address comes back (review 17, item 2)
        wait_until(lambda: net.hops(ONLY2) == [gone] or None, 15, what=f"{ONLY2} back via {gone}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\nrouter: {net.gbd.cli('peers')}\n{net.gbd.cli('fib')}\n"
                             f"{net.gbd.log_tail(60)}") from exc
    logs = net.gbd.logs()
    assert "Exception in callback" not in logs and "fib-dump-failed" not in logs, net.gbd.log_tail(60)


def test_a_link_down_takes_the_route_out_and_up_brings_it_back(net: Net) -> None:
    lab, router, origin = net.lab, net.router, net.origins[1]
    via = lab.addr(origin, router)
    dev = lab.link(router, origin).ifname(router)
    wait_until(lambda: net.hops(ONLY2) == [via] or None, 15, what=f"{ONLY2} via {via}")
    lab.run(router, ["ip", "link", "set", "dev", dev, "down"])
    try:
        wait_until(lambda: net.hops(ONLY2) == [] or None, 5, interval=0.05, what=f"{ONLY2} out at link down")
    finally:
        lab.run(router, ["ip", "link", "set", "dev", dev, "up"])
    wait_until(lambda: net.hops(ONLY2) == [via] or None, 30, what=f"{ONLY2} back at link up")
    wait_until(lambda: len(net.hops()) == 2 or None, 30, what="two next hops again")


def test_control_stop_withdraw_loses_packets(net: Net) -> None:
    sent, lost = _across(net, "withdraw", net.gbd.stop_withdraw, seconds=3.0)
    print(f"control, stop --withdraw: {sent} sent, {lost} lost")
    assert net.hops() == []
    assert lost > 0
    # the order (fib.stop, docs): every peer told first (its Cease went out), our kernel
    # routes deleted after, read from gracebgpd's own account of the stop
    log = net.gbd._log_text().splitlines()
    deleted = max(i for i, ln in enumerate(log) if "routes of ours deleted from the kernel" in ln)
    began = max(i for i, ln in enumerate(log[:deleted]) if " start: " in ln)  # this run
    ceases = [i for i, ln in enumerate(log) if began < i and "NOTIFICATION sent: CEASE" in ln]
    assert ceases and max(ceases) < deleted, "\n".join(log[began:deleted + 5][-60:])
    net.gbd.restart(kill=False)
    try:
        wait_until(lambda: len(net.hops()) == 2 or None, 60, what="the route back after the withdrawal")
    except TimeoutError as exc:
        state = f"{net.gbd.cli('peers')}\n{net.gbd.cli('fib')}\n{net.gbd.log_tail(80)}"
        raise AssertionError(f"{exc}\n{state}") from exc
    # our routes were deleted: this start found none, so F=0 (review of issue 17, item 5)
    view = json.loads(net.gbd.cli("fib", json_out=True))
    v4 = next(f for f in view["families"] if f["family"] == "ipv4-unicast")
    assert v4["adopted_at_start"] == 0 and v4["f_bit"] is False, v4


def test_control_restart_without_fib_retention_loses_packets(net: Net) -> None:
    net.gbd.fib_lines = ("fib = true", "fib-retain = false")
    (net.gbd.workdir / "gracebgpd.toml").write_text(net.gbd.config())  # the re-exec reads it
    net.gbd.graceful_restart()  # this stop still retains; the new process does not
    wait_until(lambda: len(net.hops()) == 2 or None, 60, what="the route after the restart")
    sent, lost = _across(net, "no-retain", net.gbd.graceful_restart)
    print(f"control, restart with fib-retain = false: {sent} sent, {lost} lost")
    assert lost > 0
