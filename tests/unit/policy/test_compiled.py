"""The prepared forms of an assignment (``policy.compiled``, ``policy.static``) decide
exactly as ``evaluate`` does: every policy of every GoBGP-schema file in
tests/configs/gobgp/, alone and all in order, with either default, over routes that
carry every kind of value, from every neighbor of the file and every route type."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest

from gracebgp.config import load_file
from gracebgp.policy import Disposition, RouteType, Source, evaluate
from gracebgp.policy.compiled import Compiled
from gracebgp.policy.conditions import MatchPrefixSet
from gracebgp.policy.definitions import Assignment
from gracebgp.policy.static import fold
from gracebgp.policy.textsets import parse_ext_community

from .helpers import attrs, route

CONFIGS = Path(__file__).parents[2] / "configs" / "gobgp"
POLICY_FILES = sorted(CONFIGS.glob("policy-*.toml"))

ATTRS = (
    attrs(65002, 65010, comms=("65002:1", "65000:100"), ext=(parse_ext_community("rt:65002:1"),),
          large=((65002, 1, 1),), med=5, lp=100),
    attrs(65001, comms=("65001:666",), med=4294967290),
    attrs(64512, 64513, 65001, nh="10.0.0.1"),
    attrs(),
    attrs(65003, 65003, 65003, 65003, comms=tuple(f"65003:{i}" for i in range(12)), lp=50),
)
PREFIXES = ("10.1.2.0/24", "10.0.0.0/8", "192.168.10.0/24", "10.244.1.0/24", "172.16.5.5/32",
            "2001:db8::/48", "2001:db8:1::/64")
NEXT_HOPS = ("192.0.2.254", "10.0.0.1", "2001:db8::1")


def assignments(path: Path) -> list[Assignment]:
    book = load_file(path).policy_book
    policies = tuple(book.policies.values())
    out = [Assignment((p,), d) for p in policies for d in (Disposition.ACCEPT, Disposition.REJECT)]
    out += [Assignment(policies, d) for d in (Disposition.ACCEPT, Disposition.REJECT)]
    return out


def sources(path: Path) -> list[Source]:
    cfg = load_file(path)
    peers = [(n.neighbor_address, n.peer_as or 65001) for n in cfg.neighbors]
    peers += [("192.0.2.1", 65001), ("", 65000)]
    return [Source(peer, asn, kind) for (peer, asn), kind in product(peers, RouteType)]


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_compiled_and_folded_decide_as_evaluate(path: Path) -> None:
    checked = folded_checked = 0
    for assignment, source in product(assignments(path), sources(path)):
        sets = tuple({id(c.prefix_set): c.prefix_set for p in assignment.policies for s in p.statements
                      for c in s.conditions if isinstance(c, MatchPrefixSet)}.values())
        for prefix in PREFIXES:
            r0 = route(prefix, source)
            compiled = Compiled(assignment, source, r0.family, sets)
            folded = fold(assignment, source, r0.family)
            parts = r0.prefix()
            assert parts is not None
            sig = tuple(s.matches(r0.family.afi, *parts) for s in sets)
            for a, nh in product(ATTRS, NEXT_HOPS):
                r = route(prefix, source, nh=nh)
                want = evaluate(assignment, r, a, count=False)
                got = compiled.run(a, sig, r.key, nh)
                assert (got.accepted, got.attrs, got.next_hop) == (want.accepted, want.attrs, want.next_hop)
                matched = [(t.policy, t.statement) for t in evaluate(assignment, r, a, explain=True,
                                                                    count=False).trace or () if t.matched]
                names = {id(s): (p.name, s.name) for p in assignment.policies for s in p.statements}
                assert [names[id(s)] for s in got.matched] == matched
                checked += 1
                if folded is not None:
                    assert folded.accepted == want.accepted
                    assert [names[id(s)] for s in folded.matched] == matched
                    if want.accepted:
                        view, choice = folded.apply(a)
                        assert view == want.attrs and choice == want.next_hop
                    folded_checked += 1
    assert checked
    if path.name in ("policy-set-community.toml", "policy-route-type.toml", "policy-neighbor-set.toml"):
        assert folded_checked  # these files have policies that test nothing of the route
