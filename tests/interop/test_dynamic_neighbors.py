"""Dynamic neighbors with real peers (issue 15, item 2): one BIRD process runs 20 BGP
protocols, each from its own address of one /24 and with its own AS, towards gracebgpd,
which has no [[neighbors]] at all, only a [[dynamic-neighbors]] range whose peer group
sets no peer-as (any AS), an MD5 key (scoped to the prefix) and graceful restart.

All 20 come up and are listed as dynamic (API and ``gracebgp peers``), the route each
originates arrives; then BIRD restarts the graceful way (killed, started again with
``bird -R``): gracebgpd keeps each peer, and its routes stale, for their Restart Time
(RFC 4724 §4.2), and when the peers are back from the same addresses the routes are
theirs again, no longer stale. Last, a reload narrows the range: the peers outside it
are removed with Cease/Peer De-configured, the ones inside keep their sessions.
"""

from __future__ import annotations

import json

from tests.interop.common import checked_lab, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import wait_until
from tests.interop.peers import Bird, SeenRoute

pytestmark = interop

PEERS = 20
HUB_AS, FIRST_AS = 65000, 65100
PASSWORD = "dyn-s3cret"


def address(i: int) -> str:
    return f"10.254.0.{10 + i}"


def hub_address(i: int) -> str:
    """The hub address protocol ``n<i>`` connects to: BIRD runs one protocol per remote
    address at a time (its neighbor lock is keyed by the remote address and port), so the
    hub has one for each; it listens on 0.0.0.0."""
    return f"10.254.0.{200 + i}"


def prefix(i: int) -> str:
    return f"10.{100 + i}.0.0/24"


class DynamicHub(GraceBgpd):
    """gracebgpd with a peer group and a range instead of neighbors."""

    prefix = "10.254.0.0/24"

    def narrow(self, prefix: str) -> None:
        """SIGHUP with the range set to ``prefix``."""
        self.prefix = prefix
        self._reload()

    def config(self) -> str:
        return super().config() + f"""
[[peer-groups]]
  [peer-groups.config]
    peer-group-name = "leaves"
    auth-password = "{PASSWORD}"
  [peer-groups.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [peer-groups.graceful-restart.config]
    enabled = true
    restart-time = 60

[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "{self.prefix}"
    peer-group = "leaves"
  [dynamic-neighbors.gracebgp]
    max-peers = {PEERS}
"""


class Leaves(Bird):
    """One BIRD, protocol ``n<i>`` from ``address(i)`` as AS ``FIRST_AS + i``, each
    sending only its own prefix."""

    def config(self) -> str:
        out = [f"router id {self.router_id};", f'log "{self.workdir / "bird.log"}" all;',
               "protocol device { scan time 2; }", "protocol static gbi_s4 {", "  ipv4;",
               *[f"  route {prefix(i)} blackhole;" for i in range(PEERS)], "}"]
        for i in range(PEERS):
            out += [
                f"protocol bgp n{i} {{",
                f"  local {address(i)} as {FIRST_AS + i};",
                f"  neighbor {hub_address(i)} as {HUB_AS};",
                "  hold time 9; keepalive time 3; connect retry time 1; connect delay time 1;",
                "  error wait time 1, 4; error forget time 10; direct;",
                f'  password "{PASSWORD}";',
                "  graceful restart on; graceful restart time 60; long lived graceful restart off;",
                f"  ipv4 {{ import all; export where net = {prefix(i)}; }};",
                "}",
            ]
        return "\n".join(out) + "\n"


def test_twenty_bird_peers_from_one_range() -> None:
    require(Bird)
    with checked_lab(2) as lab:
        hub_ns, leaf_ns = lab.ns(0), lab.ns(1)
        for i in range(PEERS):
            lab.run(leaf_ns, ["ip", "addr", "add", f"{address(i)}/24", "dev", lab.links[0].ifname(leaf_ns)])
            lab.run(hub_ns, ["ip", "addr", "add", f"{hub_address(i)}/24", "dev", lab.links[0].ifname(hub_ns)])
        hub = DynamicHub()
        hub.start(lab, hub_ns, asn=HUB_AS, router_id="10.254.0.1", neighbors=[])
        leaves = Leaves()
        leaves.start(lab, leaf_ns, asn=FIRST_AS, router_id="10.254.0.2", neighbors=[])

        def established() -> dict[str, dict[str, object]] | None:
            """The Established peers by address, once all 20 are."""
            got = {p["address"]: p for p in json.loads(hub.cli("peers", json_out=True))
                   if p["state"] == "Established"}
            return got if len(got) == PEERS else None

        def routes(stale: bool) -> dict[str, SeenRoute] | None:
            """The best route of each leaf's prefix, once all 20 are there and stale (or not)."""
            got = {r.prefix: r for r in hub.best_routes("ipv4")}
            ok = all(prefix(i) in got and got[prefix(i)].stale is stale for i in range(PEERS))
            return got if ok else None

        up = wait_until(established, 60, what="20 dynamic peers Established")
        assert up is not None
        assert sorted(up) == sorted(address(i) for i in range(PEERS))
        for i in range(PEERS):
            p = up[address(i)]
            assert (p["dynamic"], p["dynamic_range"], p["peer_as"]) == (True, "10.254.0.0/24", FIRST_AS + i)
        assert hub.cli("peers").count("(dynamic)") >= PEERS
        wait_until(lambda: routes(stale=False), 30, what="a route from every dynamic peer")

        # BIRD goes away without a word and comes back restarting (R bit): every peer is kept,
        # its route stale, for the Restart Time; then refreshed by the new sessions.
        leaves.kill9()
        wait_until(lambda: routes(stale=True), 30, what="every dynamic peer's route kept stale")
        assert len(json.loads(hub.cli("peers", json_out=True))) == PEERS  # kept while helped
        leaves.restart()
        wait_until(established, 60, what="the 20 dynamic peers back")
        wait_until(lambda: routes(stale=False), 60, what="every route refreshed, no longer stale")
        assert "dynamic-peer-refused" not in hub.logs()

        # A reload narrows the range to a /28 (.0-.15): the peers outside it are removed as
        # de-configured neighbors (Cease/Peer De-configured), the six inside stay up.
        inside = {address(i) for i in range(6)}
        before = {p["address"]: p["established_count"] for p in json.loads(hub.cli("peers", json_out=True))}
        hub.narrow("10.254.0.0/28")

        def only_inside_up() -> bool | None:
            peers = json.loads(hub.cli("peers", json_out=True))
            listed = {p["address"] for p in peers}
            up = {p["address"] for p in peers if p["state"] == "Established"}
            return (listed == up == inside) or None

        wait_until(only_inside_up, 20, what="only the six peers inside the /28 left, up")
        assert "Peer de-configured" in leaves.birdc("show", "protocols", "all", "n6")
        after = {p["address"]: p["established_count"] for p in json.loads(hub.cli("peers", json_out=True))}
        assert after == {a: before[a] for a in inside}  # no session inside the /28 was reset
