"""gracebgpd as a route server (RFC 7947) for a BIRD, an FRR and a gobgpd client on one LAN
segment (issue 15, item 5).

The lab: namespace 0 holds a bridge (the exchange's LAN) and gracebgpd, with its address
on the bridge; namespaces 1..3 hold the clients, each with one veth into the bridge, all
in 10.254.100.0/24. Each client announces its own prefix with a MED and a community.
Every client must see the other two clients' prefixes

* with the NEXT_HOP of the client that announced it (RFC 7947 §2.2.1): the announcing
  client's address on the LAN, not the route server's;
* with the AS_PATH as the announcing client sent it, without AS 65000 (§2.2.2.1);
* with the MED and the community it was sent with (§2.2.3, §2.2.4);

and none may get its own prefix back. Only the control plane is checked: the route
server carries no traffic and nothing here sends any; the next hop assertion is the
claim. One lab for the module (the daemons start once), IPv4 only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import pytest

from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, wait_until
from tests.interop.peers import Bird, Frr, GoBgpd, NeighborSpec, PeerDaemon, RouteSpec, norm_addr

pytestmark = interop

RS_AS = 65000
LAN = "10.254.100"  # the exchange's /24, only inside the lab's namespaces
RS_ADDR = f"{LAN}.10"


class RouteServer(GraceBgpd):
    """gracebgpd with every neighbor a route-server client."""

    def config(self) -> str:
        timers = "  [neighbors.timers.config]\n"
        client = "  [neighbors.route-server.config]\n    route-server-client = true\n"
        return super().config().replace(timers, client + timers)


class FrrClient(Frr):
    """FRR as a route-server client. A route from the route server has the announcing
    client's AS first, not the route server's; RFC 4271 §6.3 lets a speaker refuse that,
    RFC 7947 §2.2.2.2 asks a client to accept it. FRR checks only with ``neighbor X
    enforce-first-as``, off in FRR 8.4's ``frr defaults traditional`` (the profile the
    driver writes) but on in other setups; ``no neighbor X enforce-first-as`` states it for
    the route server, as an operator would. BIRD checks only with ``enforce first as``
    (off by default) and gobgpd does not check at all: nothing to configure there."""

    def config(self) -> str:
        text = super().config()
        for n in self.neighbors:
            a = norm_addr(n.address)
            line = f" neighbor {a} remote-as {n.peer_as}\n"
            text = text.replace(line, f"{line} no neighbor {a} enforce-first-as\n")
        return text


@dataclass(frozen=True)
class Client:
    name: str
    daemon: PeerDaemon
    asn: int
    address: str
    route: RouteSpec


def _lan(lab: Lab) -> None:
    """A bridge in namespace 0 enslaving the veth ends of every link; the clients' and the
    route server's addresses on one subnet (the Lab's per-link addresses removed)."""
    hub = lab.ns(0)
    lab.run(hub, ["ip", "link", "add", "br0", "type", "bridge"])
    for link in lab.links:
        for ns in link.ends():
            lab.run(ns, ["ip", "-4", "addr", "flush", "dev", link.ifname(ns)])
            lab.run(ns, ["ip", "-6", "addr", "flush", "dev", link.ifname(ns), "scope", "global"])
        lab.run(hub, ["ip", "link", "set", link.ifname(hub), "master", "br0"])
    lab.run(hub, ["ip", "addr", "add", f"{RS_ADDR}/24", "dev", "br0"])
    lab.run(hub, ["ip", "link", "set", "br0", "up"])
    for i in range(1, len(lab.namespaces)):
        lab.run(lab.ns(i), ["ip", "addr", "add", f"{LAN}.{i}/24", "dev", "veth0"])


@dataclass
class Exchange:
    rs: RouteServer
    clients: list[Client]


@pytest.fixture(scope="module")
def exchange() -> Iterator[Exchange]:
    require(Bird, Frr, GoBgpd)
    lab = Lab(4, links=[(0, 1), (0, 2), (0, 3)])
    with lab:
        _lan(lab)
        clients = [
            Client("bird", Bird(), 65001, f"{LAN}.1",
                   RouteSpec("10.1.0.0/24", med=11, communities=("65001:1",))),
            Client("frr", FrrClient(), 65002, f"{LAN}.2",
                   RouteSpec("10.2.0.0/24", med=22, communities=("65002:2",))),
            Client("gobgpd", GoBgpd(), 65003, f"{LAN}.3",
                   RouteSpec("10.3.0.0/24", med=33, communities=("65003:3",))),
        ]
        rs = RouteServer()
        rs.start(lab, lab.ns(0), asn=RS_AS, router_id=RS_ADDR,
                 neighbors=[NeighborSpec(c.address, c.asn, local_address=RS_ADDR) for c in clients])
        for i, c in enumerate(clients, start=1):
            c.daemon.start(lab, lab.ns(i), asn=c.asn, router_id=c.address, originate=[c.route],
                           neighbors=[NeighborSpec(RS_ADDR, RS_AS, local_address=c.address)])
        for c in clients:
            rs.wait_established(c.address, timeout=60)
            c.daemon.wait_established(RS_ADDR, timeout=60)
        yield Exchange(rs, clients)
    assert_nothing_left(lab)


def test_each_client_sees_the_others_as_announced(exchange: Exchange) -> None:
    for me in exchange.clients:
        for other in exchange.clients:
            if other is me:
                continue
            r = me.daemon.wait_route(RS_ADDR, "ipv4", other.route.prefix, timeout=45)
            where = f"{me.name} sees {other.name}'s {other.route.prefix}: {r}"
            assert r.next_hop == other.address, where  # §2.2.1: the announcing client's address
            assert r.as_path == [other.asn], where  # §2.2.2.1: no AS 65000
            assert r.med == other.route.med, where  # §2.2.3
            assert set(other.route.communities) <= set(r.communities), where  # §2.2.4


def held_by(client: Client) -> set[str]:
    """The prefixes ``client`` holds from the route server, read through its own CLI."""
    return {r.prefix for r in client.daemon.received_routes(RS_ADDR, "ipv4")}


def holds(client: Client, prefixes: set[str]) -> bool:
    return prefixes <= held_by(client)


def test_no_client_gets_its_own_route_back(exchange: Exchange) -> None:
    everyone = {c.route.prefix for c in exchange.clients}
    for me in exchange.clients:
        others = everyone - {me.route.prefix}
        # once the others' routes are there, the table the route server sent is complete
        wait_until(partial(holds, me, others), 45, what=f"{me.name} to hold the other clients' routes")
        held = held_by(me)
        assert held == others, f"{me.name} holds {sorted(held)} from the route server"
        with exchange.rs.client() as api:
            sent = {e.prefix for e in api.list_paths(table="adj-out", family="ipv4-unicast", peer=me.address)}
        assert sent == others, f"the route server advertised {sorted(sent)} to {me.name}"
