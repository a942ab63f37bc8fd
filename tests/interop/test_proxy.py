"""gracebgp-proxyd, the BGP-as-a-service session proxy (issue 20), between VMs running
BIRD and gobgpd and three control nodes running gracebgpd, in network namespaces.

The lab: ns0 is the VM (BIRD, 10.254.0.1 and fd00:254::1; gobgpd, .31, a second VM of
the same network; the misbehaving VMs' addresses .21-.23);
ns1 the compute node running the proxy, with the tenant network's gateway (.2 and
fd00:254::2) and service (.3) addresses, three more networks' gateways (.4-.6), the
upstream addresses 10.255.0.1-4 and the tenant network's upstream pool 10.255.0.16/29
on its loopback; ns2-ns4 the control nodes 10.254.1.2, 10.254.2.2 and
10.254.3.2 (AS 64512), each with a passive neighbor per upstream address and the routes
203.0.113.0/24 (all of them) and 198.51.10k.0/24 (its own). Control nodes key their peers
by address, so each misbehaving VM sits in a network of its own (its own upstream address).

Checks: both VM sessions come up to different control nodes; each control node sees its
session from the upstream address and the NAT port the introspection reports (``ss``
in its namespace); the VM's IPv6 session, on the same node as its IPv4 gateway session,
from another address of the pool; routes flow both ways, with the gateway as the VM's next hop; a VM that
sends garbage, one that floods UPDATEs past its prefix limit and one that never reads
affect only their own sessions; SIGKILL of the gateway session's control node leaves the
VM's session up (same BIRD "since", no NOTIFICATION on the VM's wire), the VM's routes
reach a surviving node and the VM's route learned through the proxy is there in every
100 ms sample, the killed node's own route leaves the VM and the new node's comes; a new
gracebgp-proxyd started with ``--take-over`` takes every session from the running one
(BIRD's sessions stay up, no NOTIFICATION or OPEN on the VM's or the control node's wire,
the route in every sample). One lab and one set of daemons for the module.
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gracebgp.api.client import Client
from gracebgp.api.proxy_schema import ProxySession
from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, Process, wait_until
from tests.interop.peers import Bird, GoBgpd, NeighborSpec, RouteSpec, same_bird_marks
from tests.interop.test_gr_restarting_peers import Capture

pytestmark = interop

VM_AS, NODE_AS = 65001, 64512
VM, GATEWAY, SERVICE = "10.254.0.1", "10.254.0.2", "10.254.0.3"
VM6, GATEWAY6 = "fd00:254::1", "fd00:254::2"  # the VM's IPv6 session, to the gateway
NODES = ("10.254.1.2", "10.254.2.2", "10.254.3.2")
UPSTREAM = "10.255.0.1"
POOL, POOL_HOSTS = "10.255.0.16/29", tuple(f"10.255.0.{n}" for n in range(17, 23))  # blue's
VM_ROUTE, SHARED = "192.0.2.0/24", "203.0.113.0/24"
VM6_ROUTE = "2001:db8:100::/48"
# the misbehaving VMs: network, VM address, gateway, upstream address
ODD = {"garbage": ("green", "10.254.0.21", "10.254.0.5", "10.255.0.3"),
       "flood": ("red", "10.254.0.22", "10.254.0.4", "10.255.0.2"),
       "deaf": ("yellow", "10.254.0.23", "10.254.0.6", "10.255.0.4")}
FLOOD_LIMIT = 2000
# a second VM speaker, gobgpd, in a network of its own: VM, gateway, service, upstream
GOBGP = "10.254.0.31"  # a second VM in BIRD's network (interface vmi-gobgp)
GOBGP_ROUTE = "192.0.2.128/25"
HERE = Path(__file__).parent


def proxy_config(state: Path) -> str:
    nodes = ", ".join(f'"{n}"' for n in NODES)
    out = [f'[proxy]\nstate-dir = "{state}"\n',
           f'[[networks]]\nname = "blue"\ngateway = ["{GATEWAY}", "{GATEWAY6}"]\nservice = ["{SERVICE}"]\n'
           f'control-nodes = [{nodes}]\nupstream-pool = "{POOL}"\nnext-hop-rewrite = true\n'
           f'[[networks.vms]]\ninterface = "vmi-bird"\naddresses = ["{VM}", "{VM6}"]\n'
           f'[[networks.vms]]\ninterface = "vmi-gobgp"\naddresses = ["{GOBGP}"]\n']
    for mode, (name, vm, gateway, upstream) in ODD.items():
        limit = f"prefix-limit = {FLOOD_LIMIT}\n" if mode == "flood" else ""
        out.append(f'[[networks]]\nname = "{name}"\ngateway = ["{gateway}"]\ncontrol-nodes = [{nodes}]\n'
                   f'upstream-address = "{upstream}"\n{limit}'
                   f'[[networks.vms]]\ninterface = "vmi-{mode}"\naddresses = ["{vm}"]\n')
    return "\n".join(out)


@dataclass
class Bgpaas:
    lab: Lab
    vm: Bird
    gobgp: GoBgpd
    nodes: dict[str, GraceBgpd]  # control node address -> daemon
    proxy: Process
    socket: Path

    def sessions(self, *args: str) -> list[ProxySession]:
        """``gracebgp proxy sessions --json`` run in the compute namespace."""
        out = self.lab.run(self.lab.ns(1), [sys.executable, "-m", "gracebgp.cli.main", "--json", "proxy",
                                            "sessions", "--proxy-socket", str(self.socket), *args])
        return [ProxySession.model_validate(s) for s in json.loads(out)]

    def blue(self) -> dict[str, ProxySession]:
        """The BIRD VM's sessions, straight from the API (fast enough to poll between samples)."""
        with Client(str(self.socket), timeout=5) as client:
            return {s.kind: s for s in client.proxy_sessions(vm=VM)}

    def since(self, neighbor: str) -> tuple[str, ...]:
        """BIRD's state and 'since' of the protocol: it changes whenever the session goes
        down. Compare with :func:`same_since` (BIRD's reading may move by a millisecond)."""
        line = self.vm.birdc("show", "protocols", self.vm.proto(neighbor)).splitlines()[-1].split()
        return tuple(line[3:5])


def same_since(a: dict[str, tuple[str, ...]], b: dict[str, tuple[str, ...]]) -> bool:
    """The same sessions, each in the same state since the same change."""
    return a.keys() == b.keys() and all(same_bird_marks(a[n], b[n]) for n in a)


@pytest.fixture(scope="module")
def bgpaas() -> Iterator[Bgpaas]:
    require(Bird, GoBgpd, GraceBgpd)
    lab = Lab(5, links=[(0, 1), (1, 2), (1, 3), (1, 4)])
    with lab:
        vm_ns, compute = lab.ns(0), lab.ns(1)
        vm_if, compute_if = lab.links[0].ifname(vm_ns), lab.links[0].ifname(compute)
        for _, odd_vm, odd_gateway, _ in ODD.values():
            lab.run(vm_ns, ["ip", "addr", "add", f"{odd_vm}/24", "dev", vm_if])
            lab.run(compute, ["ip", "addr", "add", f"{odd_gateway}/24", "dev", compute_if])
        lab.run(compute, ["ip", "addr", "add", f"{SERVICE}/24", "dev", compute_if])
        lab.run(vm_ns, ["ip", "addr", "add", f"{GOBGP}/24", "dev", vm_if])
        lab.run(compute, ["ip", "link", "set", "lo", "up"])
        upstreams = (UPSTREAM, *(u for *_, u in ODD.values()))
        for upstream in upstreams:
            lab.run(compute, ["ip", "addr", "add", f"{upstream}/32", "dev", "lo"])
        lab.run(compute, ["ip", "route", "add", "local", POOL, "dev", "lo"])  # binds any of it
        nodes: dict[str, GraceBgpd] = {}
        for k, address in enumerate(NODES, start=1):
            ns = lab.ns(k + 1)
            lab.run(ns, ["ip", "route", "add", "10.255.0.0/24", "via", f"10.254.{k}.1"])
            node = nodes[address] = GraceBgpd()
            node.start(lab, ns, asn=NODE_AS, router_id=address,
                       neighbors=[*(NeighborSpec(u, VM_AS, passive=True, local_address=address)
                                    for u in upstreams),
                                  *(NeighborSpec(h, VM_AS, ("ipv4", "ipv6"), passive=True,
                                                 local_address=address) for h in POOL_HOSTS)],
                       originate=[RouteSpec(SHARED), RouteSpec(f"198.51.{100 + k}.0/24")])
        state = lab.subdir("proxy")
        config = state / "proxy.toml"
        config.write_text(proxy_config(state))
        proxy = lab.spawn(compute, [sys.executable, "-m", "gracebgp.proxy.daemon", "-f", str(config)],
                          state / "proxyd.log", name="gracebgp-proxyd")
        lab.tcp_ready(compute, GATEWAY, 179, timeout=20)
        vm = Bird()
        vm.start(lab, vm_ns, asn=VM_AS, router_id=VM, originate=[RouteSpec(VM_ROUTE), RouteSpec(VM6_ROUTE)],
                 neighbors=[NeighborSpec(GATEWAY, NODE_AS, local_address=VM),
                            NeighborSpec(SERVICE, NODE_AS, local_address=VM),
                            NeighborSpec(GATEWAY6, NODE_AS, ("ipv6",), local_address=VM6)])
        gobgp = GoBgpd()
        gobgp.start(lab, vm_ns, asn=VM_AS, router_id=GOBGP, listen=False,
                    originate=[RouteSpec(GOBGP_ROUTE)],
                    neighbors=[NeighborSpec(a, NODE_AS, local_address=GOBGP) for a in (GATEWAY, SERVICE)])
        vm.wait_established(GATEWAY, timeout=60)
        vm.wait_established(SERVICE, timeout=60)
        yield Bgpaas(lab, vm, gobgp, nodes, proxy, state / "proxyd.sock")
    assert_nothing_left(lab)


def test_two_sessions_two_nodes_linked_by_nat_port(bgpaas: Bgpaas) -> None:
    def both_up() -> dict[str, ProxySession] | None:
        found = bgpaas.blue()
        up = len(found) == 2 and all(s.phase == "established" for s in found.values())
        return found if up else None

    blue = wait_until(both_up, 30, what="both VM sessions established at the proxy")
    assert blue is not None
    gateway, service = blue["gateway"], blue["service"]
    assert gateway.control_node != service.control_node
    assert (gateway.control_node_role, service.control_node_role) == ("primary", "secondary")
    assert (gateway.vm_as, gateway.vm_router_id, gateway.node_as) == (VM_AS, VM, NODE_AS)
    for s in (gateway, service):
        node_ns = bgpaas.nodes[s.control_node].ns
        ss = bgpaas.lab.run(node_ns, ["ss", "-tnH", "state", "established"])
        assert s.upstream_address in POOL_HOSTS  # an address of its own (upstream-pool)
        assert f"{s.control_node}:179" in ss and f"{s.upstream_address}:{s.nat_port}" in ss, ss
        assert bgpaas.nodes[s.control_node].wait_route(s.upstream_address, "ipv4", VM_ROUTE, timeout=30)
    seen = bgpaas.vm.wait_route(GATEWAY, "ipv4", SHARED, timeout=30)
    assert seen.next_hop == GATEWAY  # next-hop-rewrite: the subnet gateway, not the node
    assert bgpaas.vm.wait_route(SERVICE, "ipv4", SHARED, timeout=30).next_hop == GATEWAY

    def counted() -> ProxySession | None:  # the proxy counts a prefix once it relayed its UPDATE
        now = bgpaas.blue()["gateway"]
        return now if (now.prefixes_from_vm, now.prefixes_to_vm) == (1, 2) else None

    counts = wait_until(counted, 10, what="the gateway session's prefix counts")
    assert counts is not None and counts.from_node.counts["update"] >= 1
    assert counts.from_vm.counts["open"] == 1 and counts.nat_port == gateway.nat_port


def test_the_vms_ipv6_session_has_an_upstream_address_of_its_own(bgpaas: Bgpaas) -> None:
    """The VM's IPv4 and IPv6 gateway sessions go to the same (primary) control node,
    which keys peers by address: each leaves from its own pool address."""
    bgpaas.vm.wait_established(GATEWAY6, timeout=60)
    with Client(str(bgpaas.socket), timeout=5) as client:
        (v6,) = client.proxy_sessions(vm=VM6)
    v4 = bgpaas.blue()["gateway"]
    assert (v6.kind, v6.vm_facing_address, v6.phase) == ("gateway", GATEWAY6, "established")
    assert v6.control_node == v4.control_node and v6.upstream_address in POOL_HOSTS
    assert v6.upstream_address != v4.upstream_address and v6.nat_port != v4.nat_port
    node = bgpaas.nodes[v6.control_node]
    ss = bgpaas.lab.run(node.ns, ["ss", "-tnH", "state", "established"])
    assert f"{v6.upstream_address}:{v6.nat_port}" in ss and f"{v4.upstream_address}:{v4.nat_port}" in ss, ss
    node.wait_route(v6.upstream_address, "ipv6", VM6_ROUTE, timeout=30)

    def counted() -> bool:  # the node has the route, so the proxy relayed (and counted) it
        with Client(str(bgpaas.socket), timeout=5) as client:
            return [s.prefixes_from_vm for s in client.proxy_sessions(vm=VM6)] == [1]

    bgpaas.lab.wait_until(counted, 10, 0.2, what="the IPv6 session's prefix count")


def test_gobgpd_as_a_second_vm_in_the_same_network(bgpaas: Bgpaas) -> None:
    """gobgpd's sessions share BIRD's network and control nodes (which key peers by
    address): each node takes both VMs' sessions, each from its own pool address."""
    for address in (GATEWAY, SERVICE):
        bgpaas.gobgp.wait_established(address, timeout=60)
    found = {s.kind: s for s in bgpaas.sessions("--vm", GOBGP)}
    assert found["gateway"].control_node != found["service"].control_node
    bird = bgpaas.blue()
    for s in found.values():
        assert s.vm_interface == "vmi-gobgp" and s.network == "blue"
        assert s.upstream_address in POOL_HOSTS
        assert s.upstream_address not in {b.upstream_address for b in bird.values()}
        node = bgpaas.nodes[s.control_node]
        ss = bgpaas.lab.run(node.ns, ["ss", "-tnH", "state", "established"])
        assert f"{s.upstream_address}:{s.nat_port}" in ss, ss
        node.wait_route(s.upstream_address, "ipv4", GOBGP_ROUTE, timeout=30)
    # two of three nodes each: some node carries a session of each VM, both up
    shared = {s.control_node for s in found.values()} & {b.control_node for b in bird.values()}
    assert shared
    for address in shared:
        ss = bgpaas.lab.run(bgpaas.nodes[address].ns, ["ss", "-tnH", "state", "established"])
        for s in (*found.values(), *bird.values()):
            if s.control_node == address:
                assert f"{s.upstream_address}:{s.nat_port}" in ss, ss
    assert bgpaas.gobgp.wait_route(GATEWAY, "ipv4", SHARED, timeout=30).next_hop == GATEWAY


def _odd_vm(bgpaas: Bgpaas, mode: str, *extra: str) -> Process:
    _, vm, gateway, _ = ODD[mode]
    d = bgpaas.lab.subdir("odd-vms")
    return bgpaas.lab.spawn(bgpaas.lab.ns(0), [sys.executable, str(HERE / "proxy_vm.py"), mode, vm, gateway,
                                               *extra], d / f"{mode}.log", name=f"vm-{mode}")


def test_misbehaving_vms_affect_only_their_own_sessions(bgpaas: Bgpaas) -> None:
    before = {n: bgpaas.since(n) for n in (GATEWAY, SERVICE)}
    blue_before = bgpaas.blue()
    procs = {"garbage": _odd_vm(bgpaas, "garbage"), "flood": _odd_vm(bgpaas, "flood", str(FLOOD_LIMIT * 20)),
             "deaf": _odd_vm(bgpaas, "deaf")}
    wait_until(lambda: "closed by the proxy" in procs["garbage"].log_text(), 30, what="garbage VM closed")
    assert "['0101']" in procs["garbage"].log_text()  # Message Header Error / not synchronized
    wait_until(lambda: "closed by the proxy" in procs["flood"].log_text(), 60, what="flooding VM closed")
    assert "['0601']" in procs["flood"].log_text()  # Cease / Maximum Number of Prefixes Reached
    deaf = wait_until(lambda: bgpaas.sessions("--vm", ODD["deaf"][1]), 30, what="the deaf VM's session")
    assert deaf[0].vm_tcp == "established"
    closed = {s.vm_address: s for s in bgpaas.sessions("--closed") if s.phase == "closed"}
    assert "MESSAGE_HEADER_ERROR" in closed[ODD["garbage"][1]].closed_reason or \
        "marker" in closed[ODD["garbage"][1]].closed_reason
    assert f"more than {FLOOD_LIMIT} prefixes" in closed[ODD["flood"][1]].closed_reason
    # the well-behaved VM noticed nothing
    after = {n: bgpaas.since(n) for n in (GATEWAY, SERVICE)}
    assert same_since(after, before), (before, after)
    blue = bgpaas.blue()
    assert all(s.phase == "established" for s in blue.values())
    assert {k: s.nat_port for k, s in blue.items()} == {k: s.nat_port for k, s in blue_before.items()}
    assert bgpaas.vm.find_route(GATEWAY, "ipv4", SHARED) is not None
    procs["deaf"].stop()
    # the ended upstream legs leave no TIME-WAIT on their NAT ports: the next session of
    # the same VM interface can use its port towards the same node at once
    def lingering() -> list[str]:
        out = bgpaas.lab.run(bgpaas.lab.ns(1), ["ss", "-tanH", "state", "time-wait"])
        return [line for line in out.splitlines() if 50000 <= int(line.split()[2].rsplit(":", 1)[1]) <= 50512]

    deadline = time.monotonic() + 10
    while (left := lingering()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, left


def test_control_node_killed_the_vm_does_not_notice(bgpaas: Bgpaas) -> None:
    blue = bgpaas.blue()
    gateway = blue["gateway"]
    victim = bgpaas.nodes[gateway.control_node]
    since = bgpaas.since(GATEWAY)
    capture = Capture(bgpaas.lab, bgpaas.lab.ns(0), bgpaas.lab.links[0].ifname(bgpaas.lab.ns(0)))
    killed = time.time()
    victim.kill9()
    samples: list[tuple[float, bool, str]] = []
    deadline = killed + 30
    moved: ProxySession | None = None
    while time.time() < deadline:
        t = time.time()
        route = bgpaas.vm.find_route(GATEWAY, "ipv4", SHARED)
        samples.append((t - killed, route is not None, bgpaas.vm.session_state(GATEWAY)))
        if moved is None and len(samples) % 10 == 0:
            now = bgpaas.blue()["gateway"]
            if now.rehomings and now.rehomings[-1].outcome == "re-homed":
                moved = now
        if moved is not None and t - killed > 3.0:
            break
        time.sleep(max(0.0, 0.1 - (time.time() - t)))
    assert moved is not None, f"no re-homing within 30 s: {bgpaas.blue()['gateway']}"
    missing = [s for s in samples if not s[1] or s[2] != "Established"]
    assert not missing, f"samples without the route or the session: {missing[:5]}"
    assert max(b[0] - a[0] for a, b in itertools.pairwise(samples)) < 0.3
    assert same_bird_marks(bgpaas.since(GATEWAY), since), since  # BIRD's session never went down
    record = moved.rehomings[-1]
    assert moved.control_node != gateway.control_node
    survivor = bgpaas.nodes[moved.control_node]
    survivor.wait_route(moved.upstream_address, "ipv4", VM_ROUTE, timeout=20)
    stopped = time.time()
    capture.stop()
    wire = capture.messages()
    notifications = [m for m in wire if m.type == 3]
    assert not notifications, notifications
    # how long the VM heard nothing on the gateway session around the failure
    heard = sorted(m.time for m in wire if m.src == GATEWAY and killed <= m.time <= stopped)
    silence = max(b - a for a, b in zip([killed, *heard], [*heard, stopped], strict=True))
    assert silence < 9.0  # within BIRD's Hold Time
    assert record.upstream_up is not None and record.finished is not None
    # after the new node's End-of-RIB the VM lost only what the new node does not have:
    # the killed node's own route; the shared one stayed (in every sample above) and the
    # new node's own route came
    own = {address: f"198.51.{100 + k}.0/24" for k, address in enumerate(NODES, start=1)}
    assert record.withdrawn_from_vm >= 1
    bgpaas.vm.wait_route_gone(GATEWAY, "ipv4", own[gateway.control_node], timeout=20)
    assert bgpaas.vm.wait_route(GATEWAY, "ipv4", own[moved.control_node], timeout=20) is not None
    assert bgpaas.vm.find_route(GATEWAY, "ipv4", SHARED) is not None
    print(f"\nre-homing: node lost -> new upstream Established {record.upstream_up - record.started:.3f} s, "
          f"-> End-of-RIB handled {record.finished - record.started:.3f} s; {len(samples)} samples "
          f"every 100 ms over {samples[-1][0]:.1f} s, route present in all; withdrawn from the VM: "
          f"{record.withdrawn_from_vm}; replayed UPDATEs: {record.replayed_updates}; longest silence "
          f"towards the VM from the kill: {silence:.2f} s (Hold Time 9 s)")


def test_frozen_control_node_found_by_its_hold_timer(bgpaas: Bgpaas) -> None:
    """A control node that stops answering (SIGSTOP: no FIN, no RST) is found when its Hold
    Time (9 s) runs out; meanwhile the proxy's KEEPALIVEs keep the VM's session up, and the
    session moves to a node that is up again (the one killed before, restarted)."""
    for node in bgpaas.nodes.values():
        if not node.alive():
            node.restart()
    service = bgpaas.blue()["service"]
    frozen = bgpaas.nodes[service.control_node]
    since = bgpaas.since(SERVICE)
    since_all = {n: bgpaas.since(n) for n in (GATEWAY, SERVICE, GATEWAY6)}
    assert frozen.proc is not None
    frozen.proc.signal_group(signal.SIGSTOP)
    stopped = time.time()
    try:
        samples: list[tuple[float, bool, str]] = []
        moved: ProxySession | None = None
        while time.time() < stopped + 30 and moved is None:
            t = time.time()
            route = bgpaas.vm.find_route(SERVICE, "ipv4", SHARED)
            samples.append((t - stopped, route is not None, bgpaas.vm.session_state(SERVICE)))
            if len(samples) % 10 == 0:
                now = bgpaas.blue()["service"]
                if now.rehomings and now.rehomings[-1].outcome == "re-homed":
                    moved = now
            time.sleep(max(0.0, 0.1 - (time.time() - t)))
        assert moved is not None, f"no re-homing within 30 s: {bgpaas.blue()['service']}"
    finally:
        frozen.proc.signal_group(signal.SIGCONT)
    record = moved.rehomings[-1]
    assert "hold timer expired" in record.reason
    assert 5.5 <= record.started - stopped <= 10.0  # Hold Time 9 s from the node's last message
    missing = [s for s in samples if not s[1] or s[2] != "Established"]
    assert not missing, f"samples without the route or the session: {missing[:5]}"
    assert max(b[0] - a[0] for a, b in itertools.pairwise(samples)) < 0.3
    assert same_bird_marks(bgpaas.since(SERVICE), since), since
    assert moved.control_node != service.control_node
    # the node, running again, finds its own Hold Timer expired on the sessions it still
    # had (the proxy may not have timed them out yet) and says so: re-homed as well
    frozen.health()  # (answered once its loop runs again: the overdue timers have fired)

    def birds_up() -> bool:
        found = bgpaas.sessions()
        birds = {(s.vm_address, s.vm_facing_address) for s in found}
        return all(s.phase == "established" for s in found) and \
            {(VM, GATEWAY), (VM, SERVICE), (VM6, GATEWAY6)} <= birds

    bgpaas.lab.wait_until(birds_up, 30, 0.5, what="BIRD's three sessions Established after the node resumed")
    assert same_since({n: bgpaas.since(n) for n in since_all}, since_all), since_all
    told = sum(1 for s in bgpaas.sessions() for r in s.rehomings if "HOLD_TIMER_EXPIRED" in r.reason)
    print(f"\nfrozen node: found after {record.started - stopped:.2f} s (Hold Time 9 s), re-homed "
          f"{record.finished - record.started:.3f} s later; {len(samples)} samples, route in all; "  # type: ignore[operator]
          f"sessions re-homed on the node's own Hold Timer Expired: {told}")


def test_proxy_upgrade_by_take_over_the_vms_and_nodes_do_not_notice(bgpaas: Bgpaas) -> None:
    """A new gracebgp-proxyd (``--take-over``, same state directory) takes every session
    from the running one, which exits: BIRD's sessions stay up (same "since"), neither the
    VM nor the control node of its gateway session sees a NOTIFICATION or an OPEN (no new
    session) in a capture, the VM's route from the node is there in every 100 ms sample,
    and the proxy's view keeps each session's NAT port and Established time."""
    lab = bgpaas.lab

    def all_established() -> bool:
        return all(s.phase == "established" for s in bgpaas.sessions())

    lab.wait_until(all_established, 30, 0.5, what="every proxied session Established")
    before = bgpaas.blue()
    since = {n: bgpaas.since(n) for n in (GATEWAY, SERVICE, GATEWAY6)}
    node_at = NODES.index(before["gateway"].control_node)
    node_ns = lab.ns(node_at + 2)
    captures = [Capture(lab, lab.ns(0), lab.links[0].ifname(lab.ns(0))),
                Capture(lab, node_ns, lab.links[node_at + 1].ifname(node_ns))]
    old = bgpaas.proxy
    state = bgpaas.socket.parent
    started = time.time()
    argv = [sys.executable, "-m", "gracebgp.proxy.daemon", "-f", str(state / "proxy.toml"), "--take-over"]
    new = lab.spawn(lab.ns(1), argv, state / "proxyd-new.log", name="gracebgp-proxyd")
    samples: list[tuple[float, bool, str]] = []
    exited: float | None = None
    while time.time() < started + 4.0 or exited is None:
        t = time.time()
        assert t < started + 30, f"the old proxyd still runs: {old.log_text()[-2000:]}"
        if exited is None and not old.alive():
            exited = t - started
        route = bgpaas.vm.find_route(GATEWAY, "ipv4", SHARED)
        samples.append((t - started, route is not None, bgpaas.vm.session_state(GATEWAY)))
        time.sleep(max(0.0, 0.1 - (time.time() - t)))
    bgpaas.proxy = new
    assert old.popen.returncode == 0, old.log_text()[-2000:]
    assert new.alive(), new.log_text()[-2000:]
    stopped = time.time()
    for capture in captures:
        capture.stop()
    missing = [s for s in samples if not s[1] or s[2] != "Established"]
    assert not missing, f"samples without the route or the session: {missing[:5]}"
    since_after = {n: bgpaas.since(n) for n in since}
    assert same_since(since_after, since), (since, since_after)  # BIRD's sessions never went down
    after = bgpaas.blue()
    for kind, session in before.items():
        assert (after[kind].nat_port, after[kind].control_node, after[kind].established_since) == \
            (session.nat_port, session.control_node, session.established_since), kind
    vm_wire, node_wire = (c.messages() for c in captures)
    for side, wire in (("VM", vm_wire), ("control node", node_wire)):
        odd = [m for m in wire if m.type in (1, 3) and m.time >= started]
        assert not odd, f"{side}: {odd}"
    # how long each side heard nothing on the gateway session around the take-over
    silences = {}
    upstream = before["gateway"].upstream_address
    for side, wire, src in (("VM", vm_wire, GATEWAY), ("control node", node_wire, upstream)):
        heard = sorted(m.time for m in wire if m.src == src and started <= m.time <= stopped)
        silences[side] = max(b - a for a, b in zip([started, *heard], [*heard, stopped], strict=True))
        assert heard, f"{side}: nothing heard from the proxy after the take-over"
    assert max(silences.values()) < 9.0, silences  # within the Hold Time
    print(f"\nproxy take-over: the old proxyd exited {exited:.2f} s after the new one started; "
          f"{len(samples)} samples, route and session in all; longest silence on the gateway session: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in silences.items()))
