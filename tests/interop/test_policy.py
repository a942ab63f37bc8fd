"""Routing policy in GoBGP's schema, read back through the peers' own CLIs (issue 16).

The lab, four namespaces around gracebgpd G (AS 65000) in 0: FRR in 1 (iBGP, AS 65000),
BIRD in 2 (eBGP, AS 65002), gobgpd in 3 (eBGP, AS 65003, announcing 10.3.0.0/24).

G originates, Cilium style, a pod CIDR (10.244.1.0/24), two service addresses
(10.96.0.10/32 and 10.96.0.11/32) and one prefix no policy exports (192.0.2.0/24):

* BIRD, through the neighbor's own export policy ``cilium-export`` with default reject:
  the pod CIDR with community 65000:100 and our AS prepended twice more (last-as), each
  service /32 with its own community, nothing else (not 192.0.2.0/24, not gobgpd's route);
* FRR (iBGP), through the global export policy: everything with LOCAL_PREF 250;
* gobgpd's 10.3.0.0/24 passes the global import policy (community 65000:3 added), so FRR
  sees it with that community.

Then a SIGHUP with a changed policy (the second service's community, and the import
policy's community) while every session is up: no session is reset (gobgpd's own flop
count and uptime, FRR's and BIRD's established state), only the affected routes change,
and the reload event says how many changed per peer. Control plane only: no traffic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, wait_until
from tests.interop.peers import Bird, Frr, GoBgpd, NeighborSpec, RouteSpec, SeenRoute, norm_addr

pytestmark = interop

G_AS, FRR_AS, BIRD_AS, GOBGP_AS = 65000, 65000, 65002, 65003
POD, SVC_A, SVC_B, OTHER, GOBGP_ROUTE = "10.244.1.0/24", "10.96.0.10/32", "10.96.0.11/32", \
    "192.0.2.0/24", "10.3.0.0/24"


def policy_toml(svc_b_community: str, import_community: str) -> str:
    """The sets and policies (GoBGP's schema) and the global apply-policy."""
    def prefix_set(name: str, prefix: str) -> str:
        return (f'[[defined-sets.prefix-sets]]\n  prefix-set-name = "{name}"\n'
                f'  [[defined-sets.prefix-sets.prefix-list]]\n    ip-prefix = "{prefix}"\n')

    def statement(name: str, prefix_set_name: str | None, actions: str, disposition: str) -> str:
        out = f'  [[policy-definitions.statements]]\n    name = "{name}"\n'
        if prefix_set_name:
            out += ('    [policy-definitions.statements.conditions.match-prefix-set]\n'
                    f'      prefix-set = "{prefix_set_name}"\n')
        out += f'    [policy-definitions.statements.actions]\n      route-disposition = "{disposition}"\n'
        return out + actions

    def add_community(value: str) -> str:
        table = "policy-definitions.statements.actions.bgp-actions.set-community"
        return (f"    [{table}]\n      options = \"add\"\n"
                f"      [{table}.set-community-method]\n        communities-list = [\"{value}\"]\n")

    prepend = ('    [policy-definitions.statements.actions.bgp-actions.set-as-path-prepend]\n'
               '      as = "last-as"\n      repeat-n = 2\n')
    lp = "    [policy-definitions.statements.actions.bgp-actions]\n      set-local-pref = 250\n"
    return (prefix_set("pods", POD) + prefix_set("svc-a", SVC_A) + prefix_set("svc-b", SVC_B)
            + '[[policy-definitions]]\n  name = "cilium-export"\n'
            + statement("pods", "pods", add_community("65000:100") + prepend, "accept-route")
            + statement("svc-a", "svc-a", add_community("65000:200"), "accept-route")
            + statement("svc-b", "svc-b", add_community(svc_b_community), "accept-route")
            + '[[policy-definitions]]\n  name = "ibgp-export"\n'
            + statement("prefer", None, lp, "accept-route")
            + '[[policy-definitions]]\n  name = "tag-import"\n'
            + statement("tag", None, add_community(import_community), "none")
            + '[global.apply-policy.config]\n  import-policy-list = ["tag-import"]\n'
            + '  export-policy-list = ["ibgp-export"]\n')


class PolicyGrace(GraceBgpd):
    """gracebgpd with the policy above; BIRD's neighbor has its own export policy."""

    svc_b_community = "65000:201"
    import_community = "65000:3"
    bird = ""

    def config(self) -> str:
        text = super().config()
        mine = f'    neighbor-address = "{self.bird}"\n    peer-as = {BIRD_AS}\n'
        assert mine in text, text
        text = text.replace(mine, mine + '  [neighbors.apply-policy.config]\n'
                            '    export-policy-list = ["cilium-export"]\n'
                            '    default-export-policy = "reject-route"\n')
        return text.replace("[gracebgp]\n", policy_toml(self.svc_b_community, self.import_community)
                            + "[gracebgp]\n", 1)

    def reload(self) -> None:
        self._reload()


@dataclass
class PolicyLab:
    lab: Lab
    g: PolicyGrace
    frr: Frr
    bird: Bird
    gobgp: GoBgpd
    addr: dict[str, str]  # "g-frr", "frr", "g-bird", "bird", "g-gobgp", "gobgp"


@pytest.fixture(scope="module")
def net() -> Iterator[PolicyLab]:
    require(Bird, Frr, GoBgpd)
    lab = Lab(4, links=[(0, 1), (0, 2), (0, 3)])
    with lab:
        g0 = lab.ns(0)
        a = {"g-frr": lab.addr(g0, lab.ns(1)), "frr": lab.addr(lab.ns(1), g0),
             "g-bird": lab.addr(g0, lab.ns(2)), "bird": lab.addr(lab.ns(2), g0),
             "g-gobgp": lab.addr(g0, lab.ns(3)), "gobgp": lab.addr(lab.ns(3), g0)}
        g, frr, bird, gobgp = PolicyGrace(), Frr(), Bird(), GoBgpd()
        g.bird = a["bird"]
        g.start(lab, g0, asn=G_AS, router_id="10.254.255.1",
                neighbors=[NeighborSpec(a["frr"], FRR_AS, local_address=a["g-frr"]),
                           NeighborSpec(a["bird"], BIRD_AS, local_address=a["g-bird"]),
                           NeighborSpec(a["gobgp"], GOBGP_AS, local_address=a["g-gobgp"])],
                originate=[RouteSpec(p) for p in (POD, SVC_A, SVC_B, OTHER)])
        frr.start(lab, lab.ns(1), asn=FRR_AS, router_id=a["frr"],
                  neighbors=[NeighborSpec(a["g-frr"], G_AS, local_address=a["frr"])])
        bird.start(lab, lab.ns(2), asn=BIRD_AS, router_id=a["bird"],
                   neighbors=[NeighborSpec(a["g-bird"], G_AS, local_address=a["bird"])])
        gobgp.start(lab, lab.ns(3), asn=GOBGP_AS, router_id=a["gobgp"],
                    neighbors=[NeighborSpec(a["g-gobgp"], G_AS, local_address=a["gobgp"])],
                    originate=[RouteSpec(GOBGP_ROUTE)])
        for peer, key in ((frr, "frr"), (bird, "bird"), (gobgp, "gobgp")):
            g.wait_established(a[key], timeout=60)
            peer.wait_established(a["g-" + key], timeout=60)
        yield PolicyLab(lab, g, frr, bird, gobgp, a)
    assert_nothing_left(lab)


def routes_at(peer: Bird | Frr, neighbor: str) -> dict[str, SeenRoute]:
    return {r.prefix: r for r in peer.received_routes(neighbor, "ipv4")}


def wait_for_table(peer: Bird | Frr, neighbor: str, prefixes: set[str], what: str) -> dict[str, SeenRoute]:
    def complete() -> dict[str, SeenRoute] | None:
        got = routes_at(peer, neighbor)
        return got if set(got) == prefixes else None
    got = wait_until(complete, 45, what=what)
    assert isinstance(got, dict)
    return got


def gobgp_session(p: PolicyLab) -> tuple[int, Any]:
    """gobgpd's own view of its session with G: (flop count, uptime stamp)."""
    data = json.loads(p.gobgp.cli("neighbor", norm_addr(p.addr["g-gobgp"]), "-j"))
    state, timers = data.get("state") or {}, (data.get("timers") or {}).get("state") or {}
    return int(state.get("flops", 0)), timers.get("uptime")


def test_bird_gets_the_cilium_export_and_nothing_else(net: PolicyLab) -> None:
    got = wait_for_table(net.bird, net.addr["g-bird"], {POD, SVC_A, SVC_B}, "BIRD to hold the exported set")
    assert "65000:100" in got[POD].communities and got[POD].as_path == [G_AS, G_AS, G_AS]
    assert "65000:200" in got[SVC_A].communities and got[SVC_A].as_path == [G_AS]
    assert "65000:201" in got[SVC_B].communities
    assert not {"65000:100", "65000:200"} & set(got[SVC_B].communities)


def test_frr_gets_local_pref_from_the_global_export_and_the_import_tag(net: PolicyLab) -> None:
    got = wait_for_table(net.frr, net.addr["g-frr"], {POD, SVC_A, SVC_B, OTHER, GOBGP_ROUTE},
                         "FRR to hold every route")
    assert all(r.local_pref == 250 for r in got.values()), got  # iBGP: LOCAL_PREF is sent
    assert "65000:3" in got[GOBGP_ROUTE].communities  # the global import policy's tag
    assert not any("65000:100" in r.communities for r in got.values())  # not BIRD's policy


def test_a_reload_that_changes_policy_resets_nothing_and_changes_only_those_routes(net: PolicyLab) -> None:
    wait_for_table(net.bird, net.addr["g-bird"], {POD, SVC_A, SVC_B}, "BIRD's table before")
    wait_for_table(net.frr, net.addr["g-frr"], {POD, SVC_A, SVC_B, OTHER, GOBGP_ROUTE}, "FRR's before")
    flops, uptime = gobgp_session(net)
    time.sleep(1.1)  # (gobgpd's uptime has a one-second grain: a reset now would show)
    net.g.svc_b_community = "65000:202"
    net.g.import_community = "65000:4"
    net.g.reload()

    def changed() -> dict[str, SeenRoute] | None:
        got = routes_at(net.bird, net.addr["g-bird"])
        return got if SVC_B in got and "65000:202" in got[SVC_B].communities else None
    bird = wait_until(changed, 30, what="BIRD to see the second service's new community")
    assert isinstance(bird, dict) and set(bird) == {POD, SVC_A, SVC_B}
    assert "65000:201" not in bird[SVC_B].communities and "65000:100" in bird[POD].communities

    def retagged() -> SeenRoute | None:
        r = routes_at(net.frr, net.addr["g-frr"]).get(GOBGP_ROUTE)
        return r if r is not None and "65000:4" in r.communities else None
    frr_route = wait_until(retagged, 30, what="FRR to see gobgpd's route with the new import tag")
    assert isinstance(frr_route, SeenRoute) and "65000:3" not in frr_route.communities
    assert gobgp_session(net) == (flops, uptime)  # gobgpd: no new session
    for key, peer in (("frr", net.frr), ("bird", net.bird), ("gobgp", net.gobgp)):
        assert peer.established(net.addr["g-" + key]), key
        assert net.g.session_state(net.addr[key]) == "Established", key
    log = net.g._log_text()
    line = [ln for ln in log.splitlines() if "routing policy applied without a session reset" in ln]
    assert line, log[-2000:]
    # per peer and family: BIRD's export changed for one route (the second service), FRR's
    # for one (gobgpd's route with its new tag), gobgpd's import for one
    assert f"{net.addr['bird']} ipv4-unicast 0 in/1 out" in line[-1], line[-1]
    assert f"{net.addr['gobgp']} ipv4-unicast 1 in/" in line[-1], line[-1]


def test_the_policies_table_shows_the_cilium_export(net: PolicyLab) -> None:
    wait_for_table(net.bird, net.addr["g-bird"], {POD, SVC_A, SVC_B}, "BIRD's table")
    table = net.g.cli("policies")
    bird = net.addr["bird"]
    rows = {ln.split()[3]: ln for ln in table.splitlines()
            if ln.startswith(bird) and "cilium-export" in ln}
    assert set(rows) == {"pods", "svc-a", "svc-b"}, table
    assert POD in rows["pods"] and "set-community add 65000:100" in rows["pods"], table
    assert SVC_A in rows["svc-a"] and "65000:200" in rows["svc-a"], table
    assert SVC_B in rows["svc-b"] and "accept" in rows["svc-b"], table
    assert int(rows["pods"].split()[-1]) >= 1, table  # the pod CIDR went out through it
    default = [ln for ln in table.splitlines() if ln.startswith(bird) and "(default)" in ln]
    assert default and "default reject" in default[0], table
