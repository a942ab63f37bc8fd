"""ADD-PATH (RFC 7911) both ways between gracebgpd and FRR, and gracebgpd and gobgpd
(issue 15, item 6).

The lab, three namespaces joined pairwise: gracebgpd G (AS 65000) in 0, a BIRD feeder F
(AS 65003) in 1, the peer P under test (FRR or gobgpd, AS 65001) in 2. G and P each
originate one prefix that F originates too, so each has two paths for it:

* G holds 10.10.0.0/24 as its own and from F, and sends P both (send-max 2 towards P,
  which advertises Receive): P must show two paths from G for it, with distinct Path
  Identifiers (RFC 7911 §3, §5), read through P's own CLI;
* P holds 10.20.0.0/24 as its own and from F, and sends G both (FRR
  ``addpath-tx-all-paths``, gobgpd ``send-max``; G advertises Receive): G must keep two
  candidates from P for that prefix, one per Path Identifier, besides F's own path;
* G runs with ``[global.use-multiple-paths]`` (allow-multiple-as): the API marks the
  equal-cost set of that prefix (``multipath``) and shows P's Path Identifiers.

Only the control plane: nothing here sends traffic.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest

from tests.interop.common import assert_nothing_left, interop, require
from tests.interop.gracebgpd import GraceBgpd
from tests.interop.netns import Lab, wait_until
from tests.interop.peers import Bird, Frr, GoBgpd, NeighborSpec, RouteSpec, norm_addr

G_AS, P_AS, F_AS = 65000, 65001, 65003
OURS, THEIRS = "10.10.0.0/24", "10.20.0.0/24"
TOML_ADD_PATHS = "  [neighbors.add-paths.config]\n    receive = true\n    send-max = 2\n"


def add_paths_for(text: str, address: str) -> str:
    """GoBGP-schema TOML (ours and gobgpd's) with ``receive`` and ``send-max = 2`` for the
    neighbor ``address``, in its ``[neighbors.add-paths.config]``."""
    blocks = text.split("[[neighbors]]\n")
    for i, block in enumerate(blocks[1:], start=1):
        if f'neighbor-address = "{address}"' in block:
            timers = "  [neighbors.timers.config]\n"
            blocks[i] = block.replace(timers, TOML_ADD_PATHS + timers)
    return "[[neighbors]]\n".join(blocks)


MULTIPATH = ("[global.use-multiple-paths.config]\n  enabled = true\n"
             "[global.use-multiple-paths.ebgp.config]\n  allow-multiple-as = true\n")


class AddPathGrace(GraceBgpd):
    """gracebgpd with ADD-PATH towards ``towards`` and the multipath set marked."""

    towards = ""

    def config(self) -> str:
        text = add_paths_for(super().config(), self.towards)
        return text.replace("[[neighbors]]\n", MULTIPATH + "[[neighbors]]\n", 1)


class AddPathGoBgpd(GoBgpd):
    towards = ""

    def config(self) -> str:
        return add_paths_for(super().config(), self.towards)

    def paths_of(self, prefix: str, neighbor: str) -> list[tuple[int, list[int]]]:
        """(Path Identifier as received, AS_PATH) of every path for ``prefix`` from
        ``neighbor``. gobgp's JSON leaves the Path Identifier out; its table has it in the
        ID column: ``ID Network Next-Hop AS_PATH... Age Attrs``."""
        out = []
        for line in self.cli("neighbor", norm_addr(neighbor), "adj-in", "-a", "ipv4").splitlines():
            words = line.split()
            if len(words) > 3 and words[0].isdigit() and words[1] == prefix:
                asns = []
                for w in words[3:]:
                    if not w.isdigit():
                        break
                    asns.append(int(w))
                out.append((int(words[0]), asns))
        return out


class AddPathFrr(Frr):
    """FRR: sends every path to G (``addpath-tx-all-paths``); receiving is FRR's default
    (it advertises ADD-PATH Receive for every activated family)."""

    towards = ""

    def config(self) -> str:
        line = f"  neighbor {self.towards} activate\n"
        return super().config().replace(line, line + f"  neighbor {self.towards} addpath-tx-all-paths\n")

    def paths_of(self, prefix: str, neighbor: str) -> list[tuple[int, list[int]]]:
        data = json.loads(self.vtysh(f"show bgp ipv4 unicast {prefix} json") or "{}")
        out = []
        for path in data.get("paths", []):
            if (path.get("peer") or {}).get("peerId") != neighbor:
                continue
            asns = [int(a) for a in str((path.get("aspath") or {}).get("string", "")).split() if a.isdigit()]
            out.append((int(path.get("addpathRxId", 0)), asns))
        return out


PEERS: dict[str, type[AddPathFrr] | type[AddPathGoBgpd]] = {"frr": AddPathFrr, "gobgpd": AddPathGoBgpd}


@contextlib.contextmanager
def triangle() -> Iterator[Lab]:
    """Three namespaces joined pairwise, whose clean teardown is asserted."""
    lab = Lab(3, links=[(0, 1), (0, 2), (1, 2)])
    with lab:
        yield lab
    assert_nothing_left(lab)


def ours_from(g: GraceBgpd, prefix: str, source: str) -> int:
    """How many candidates gracebgpd's Loc-RIB holds for ``prefix`` from ``source``."""
    with g.client() as api:
        return sum(1 for e in api.list_paths(table="loc", family="ipv4-unicast", prefix=prefix)
                   if e.source == source)


def start(lab: Lab, kind: str) -> tuple[AddPathGrace, AddPathFrr | AddPathGoBgpd, Bird, str, str]:
    g_to_p, p_to_g = lab.addr(0, 2), lab.addr(2, 0)
    g = AddPathGrace()
    g.towards = p_to_g
    p = PEERS[kind]()
    p.towards = g_to_p
    f = Bird()
    g.start(lab, lab.ns(0), asn=G_AS, router_id=g_to_p, originate=[RouteSpec(OURS)],
            neighbors=[NeighborSpec(p_to_g, P_AS), NeighborSpec(lab.addr(1, 0), F_AS)])
    f.start(lab, lab.ns(1), asn=F_AS, router_id=lab.addr(1, 0),
            originate=[RouteSpec(OURS), RouteSpec(THEIRS)],
            neighbors=[NeighborSpec(lab.addr(0, 1), G_AS), NeighborSpec(lab.addr(2, 1), P_AS)])
    p.start(lab, lab.ns(2), asn=P_AS, router_id=p_to_g, originate=[RouteSpec(THEIRS)],
            neighbors=[NeighborSpec(g_to_p, G_AS), NeighborSpec(lab.addr(1, 2), F_AS)])
    for addr in (p_to_g, lab.addr(1, 0)):
        g.wait_established(addr, timeout=60)
    p.wait_established(g_to_p, timeout=60)
    return g, p, f, g_to_p, p_to_g


@interop
@pytest.mark.parametrize("kind", sorted(PEERS))
def test_add_path_both_ways(kind: str) -> None:
    require(Bird, PEERS[kind])
    with triangle() as lab:
        g, p, _, g_to_p, p_to_g = start(lab, kind)

        # ours -> peer: both of G's paths, each with its own Path Identifier
        def two_at_peer() -> list[tuple[int, list[int]]]:
            got = p.paths_of(OURS, g_to_p)
            return got if len(got) == 2 else []

        got = wait_until(two_at_peer, 45, what=f"{kind} to hold two paths for {OURS} from gracebgpd")
        assert sorted(a for _, a in got) == [[G_AS], [G_AS, F_AS]], got
        assert got[0][0] != got[1][0], f"the Path Identifiers are not distinct: {got}"

        # peer -> ours: both of P's paths kept as two candidates
        wait_until(lambda: ours_from(g, THEIRS, p_to_g) == 2 or None, 45,
                   what=f"gracebgpd to keep two paths for {THEIRS} from {kind}")
        assert ours_from(g, THEIRS, lab.addr(1, 0)) == 1

        # [global.use-multiple-paths] with allow-multiple-as: F's [65003] and FRR's [65001]
        # are equal up to the tie-breaks (one AS each, IGP origin, no MED, both eBGP), P's
        # [65001 65003] is longer: the set is those two, the best among them. gobgpd's own
        # route (``gobgp global rib add``) has ORIGIN incomplete: §9.1.2.2 b leaves F's alone
        with g.client() as api:
            entries = list(api.list_paths(table="loc", family="ipv4-unicast", prefix=THEIRS))
        in_set = sorted((e.source, e.attrs_text.split("as-path ")[1].split("]")[0] + "]")
                        for e in entries if e.multipath)
        want = [(lab.addr(1, 0), f"[{F_AS}]"), *([(p_to_g, f"[{P_AS}]")] if kind == "frr" else [])]
        assert in_set == sorted(want), entries
        assert sum(e.best for e in entries) == 1 and all(e.multipath for e in entries if e.best)
        assert {e.path_id for e in entries if e.source == p_to_g} != {None}  # P's ids are shown
