"""An export policy run inside the export rules (``rib.export_step``, the Adj-RIB-Out's
``_step``) sends what the same policy run after them sends: the same attributes and next
hop for every route, the same counts, with the drain and LLGR on and off; ``exported``
still shows the rules' result before the policy (``--explain``)."""

from __future__ import annotations

from dataclasses import replace
from itertools import product
from pathlib import Path

import pytest

from gracebgp.config import load_file
from gracebgp.policy.actions import SetOp, set_community
from gracebgp.policy.conditions import MatchPrefixSet
from gracebgp.policy.definitions import Assignment, Disposition, Policy, Statement
from gracebgp.policy.prefixes import PrefixSet
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.export import ExportPolicy
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import PeerInfo
from gracebgp.rib.policy_filter import ExportFilter
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire.communities import Communities
from gracebgp.wire.context import CodecContext
from gracebgp.wire.iana import WellKnownCommunity
from gracebgp.wire.nlri import parse_prefix

from .helpers import EBGP_A, IBGP_C, LOCAL, TABLE, path

CONFIGS = Path(__file__).parents[2] / "configs" / "gobgp"
V4 = IPV4_UNICAST
STALE = int(WellKnownCommunity.LLGR_STALE)
ROUTES = (  # (source, path) per prefix
    (EBGP_A, path(65001, 7, comms=((65001 << 16) | 666,), med=5)),
    (EBGP_A, path(65001, 8, extra=(Communities(((65000 << 16) | 100, 9), 0xD0),))),  # ext-length flags
    (IBGP_C, path(65010, comms=((65000 << 16) | 7,))),
    (IBGP_C, path(65010, lp=150, comms=((65000 << 16) | 100,), nh="10.1.0.9")),
    (LOCAL, path(nh="10.0.0.100")),
    (EBGP_A, path(65001, comms=(STALE, (65001 << 16) | 1))),
)
TARGETS = (PeerInfo(7, "192.0.2.7", 65007, "10.0.0.7", ibgp=False),
           PeerInfo(8, "10.1.0.8", 65000, "10.0.0.8", ibgp=True))


class Unfused(AdjRibOut):
    __slots__ = ()
    _fuses = False


def loc_rib() -> tuple[LocRib, list[int]]:
    loc, keys = LocRib(), []
    for i, (source, p) in enumerate(ROUTES):
        key = parse_prefix(f"10.{i}.0.0/16")[1]
        loc.offer(source, [key], p)
        keys.append(key)
    return loc, keys


def adds(*entries: tuple[str, ...]) -> Assignment:
    """Statements that only add communities (the fused export's shortest way)."""
    return Assignment((Policy("adds", tuple(Statement(f"s{i}", (), (set_community(SetOp.ADD, e),))
                                            for i, e in enumerate(entries))),))


def assignments() -> list[Assignment]:
    out = [adds(("65000:100", "65000:7"), ("65000:7", "65001:1")), adds(("65000:100",)),
           adds(("65535:6",))]  # LLGR_STALE added by policy: NO_EXPORT and LOCAL_PREF 0 to iBGP after it
    for name in ("policy-set-community.toml", "policy-set-local-pref.toml", "policy-set-next-hop.toml",
                 "policy-set-as-path-prepend.toml", "policy-route-type.toml", "policy-neighbor-set.toml",
                 "policy-set-large-community.toml"):
        book = load_file(CONFIGS / name).policy_book
        out += [Assignment((p,), Disposition.ACCEPT) for p in book.policies.values()]
    return out


@pytest.mark.parametrize("gshut,llgr", [(False, False), (True, False), (False, True)])
def test_fused_export_sends_what_the_policy_after_the_rules_sends(gshut: bool, llgr: bool) -> None:
    loc, keys = loc_rib()
    fused_any = 0
    for assignment, target in product(assignments(), TARGETS):
        rules = ExportPolicy(target, 65000, "10.0.0.100", "10.0.0.100", gshut=gshut, llgr=llgr,
                             llgr_ibgp=True)
        sent = []
        for cls in (AdjRibOut, Unfused):
            counted = {s.name: 0 for p in assignment.policies for s in p.statements}
            for p in assignment.policies:
                for s in p.statements:
                    s.counter.matches = 0
            out = cls(V4, rules, TABLE)
            out.exporter = ExportFilter(assignment, target.address, target.asn, target.ibgp, V4, TABLE,
                                        ("10.0.0.100",))
            if cls is AdjRibOut and out._step is not None:
                fused_any += 1
            out.consider(keys, loc)
            for p in assignment.policies:
                for s in p.statements:
                    counted[s.name] = s.counter.matches
            sent.append(({k: None if v is None else (v.attrs, v.next_hop) for k, v in out.pending.items()},
                         counted))
            for source, routed in ROUTES:  # explain: the rules alone
                plain = AdjRibOut(V4, rules, TABLE).exported(source, routed)
                shown = out.exported(source, routed)
                if plain is None:
                    assert shown is None
                else:
                    assert shown is not None
                    assert (shown.attrs, shown.next_hop) == (plain.attrs, plain.next_hop)
        assert sent[0] == sent[1], (assignment, target, gshut, llgr)
    assert fused_any > 10


def test_a_new_step_is_a_new_slot() -> None:
    target = TARGETS[0]
    rules = ExportPolicy(target, 65000, "10.0.0.100", "10.0.0.100")
    a, b = assignments()[:2]
    out = AdjRibOut(V4, rules, TABLE)
    before = out.slot
    out.exporter = ExportFilter(a, target.address, target.asn, False, V4, TABLE, ())
    with_a = out.slot
    out.exporter = ExportFilter(b, target.address, target.asn, False, V4, TABLE, ())
    assert len({before, with_a, out.slot}) == 3
    out.exporter = None
    assert out.slot == before
    out.repolicy(replace(rules, gshut=True))
    assert out.slot != before


@pytest.mark.parametrize("name", ["policy-set-community.toml", "policy-set-large-community.toml",
                                  "policy-set-ext-community.toml", "policy-neighbor-set.toml"])
def test_the_same_policy_loaded_again_is_the_same_slot(name: str) -> None:
    """A reload that leaves a peer's export policy as it was keeps its memo slot (the
    exports made are still good, and no slot is added per reload): equal steps, including
    set-community remove, whose matchers are made from its entries."""
    target = TARGETS[0]
    rules = ExportPolicy(target, 65000, "10.0.0.100", "10.0.0.100")
    slots, steps = [], []
    for _ in range(2):
        book = load_file(CONFIGS / name).policy_book
        assignment = Assignment(tuple(book.policies.values()), Disposition.ACCEPT)
        out = AdjRibOut(V4, rules, TABLE)
        out.exporter = ExportFilter(assignment, target.address, target.asn, False, V4, TABLE, ())
        slots.append(out.slot)
        steps.append(out.exporter.static_step())
    assert steps[0] is not None, "the policy must fold (no condition on the route)"
    assert steps[0] == steps[1] and hash(steps[0]) == hash(steps[1])
    assert slots[0] == slots[1]


def test_slots_are_bounded_and_never_given_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every distinct export policy is a key of the slot table: when it is full its older
    half is forgotten, and the slots made after that are new numbers, so no Adj-RIB-Out
    ever reads a memo entry another policy made; a forgotten policy set again is a new
    slot, a kept one keeps its slot."""
    from gracebgp.rib import adj_rib_out

    monkeypatch.setattr(adj_rib_out, "_SLOTS", {})
    monkeypatch.setattr(adj_rib_out, "_SLOTS_LIMIT", 4)
    target = TARGETS[0]
    rules = ExportPolicy(target, 65000, "10.0.0.100", "10.0.0.100")
    out = AdjRibOut(V4, rules, TABLE)
    seen = [out.slot]
    for n in range(10):
        out.exporter = ExportFilter(adds((f"65000:{n}",)), target.address, target.asn, False, V4, TABLE, ())
        seen.append(out.slot)
        assert len(adj_rib_out._SLOTS) <= 4
    assert len(set(seen)) == len(seen)
    out.exporter = None
    assert out.slot not in seen  # the class's own slot was among the older half
    out.exporter = ExportFilter(adds(("65000:9",)), target.address, target.asn, False, V4, TABLE, ())
    assert out.slot == seen[-1]  # the newest: kept


def test_a_source_path_keeps_few_memo_entries_across_policy_changes() -> None:
    """Each export policy change is a new slot; a source path keeps at most 8 entries
    (adj_rib_out._MEMO_SLOTS), and what it exports stays right after the older ones go."""
    from gracebgp.policy.actions import (
        SetOp,
        set_community,
    )
    from gracebgp.policy.definitions import Policy, Statement

    target = TARGETS[0]
    loc, keys = loc_rib()
    out = AdjRibOut(V4, ExportPolicy(target, 65000, "10.0.0.100", "10.0.0.100"), TABLE)
    for n in range(20):
        statement = Statement("tag", (), (set_community(SetOp.ADD, (f"65000:{n}",)),), Disposition.ACCEPT)
        out.exporter = ExportFilter(Assignment((Policy("p", (statement,)),)), target.address, target.asn,
                                    False, V4, TABLE, ())
        out.consider(keys[:1], loc)
        sent = out.pending[keys[0]]
        assert sent is not None and (65000 << 16) | n in sent.attrs.communities
    memo = ROUTES[0][1].exports
    assert isinstance(memo, dict) and len(memo) <= 8


def test_an_address_of_the_other_family_is_not_applied() -> None:
    """set-next-hop 2001:db8::99 on an IPv4 route (and 192.0.2.99 on an IPv6 one) leaves the
    next hop as it was, fused or not (it used to fail to encode in the Adj-RIB-Out)."""
    from gracebgp.policy.actions import SetNextHop
    from gracebgp.rib.export_step import choose_next_hop

    v6, v4 = SetNextHop.parse("2001:db8::99").choice, SetNextHop.parse("192.0.2.99").choice
    assert choose_next_hop(v6, ("192.0.2.1",), (), ()) == ("192.0.2.1",)
    assert choose_next_hop(v4, ("2001:db8::1", "fe80::1"), (), ()) == ("2001:db8::1", "fe80::1")
    assert choose_next_hop(v4, ("192.0.2.1",), (), ()) == ("192.0.2.99",)
    loc, keys = loc_rib()
    target = TARGETS[1]
    statement = Statement("nh", (), (SetNextHop.parse("2001:db8::99"),), Disposition.ACCEPT)
    for cls in (AdjRibOut, Unfused):
        out = cls(V4, ExportPolicy(target, 65000, "10.0.0.100", "10.0.0.100"), TABLE)
        out.exporter = ExportFilter(Assignment((Policy("p", (statement,)),)), target.address, target.asn,
                                    True, V4, TABLE, ("10.0.0.100",))
        out.consider(keys, loc)
        sent = [p for p in out.pending.values() if p is not None]
        assert sent and all(":" not in p.next_hop[0] and p.attrs.next_hop == p.next_hop[0] for p in sent)
        assert out.flush(CodecContext(as4=True))  # encodes


def test_with_communities_takes_any_iterable_and_never_writes_an_empty_attribute() -> None:
    """An iterator of communities is read once (the set form checks before it edits), and
    setting LOCAL_PREF alone on a route without communities adds no empty COMMUNITIES
    (RFC 7606 §7.8: malformed)."""
    from gracebgp.rib.export import with_communities
    from gracebgp.wire.attributes import Origin
    from gracebgp.wire.attrset import AttrSet
    from gracebgp.wire.iana import AttrType

    attrs = AttrSet([Origin(0), Communities((1,))])
    assert with_communities(attrs, iter((0xFFFF0000,))).communities == (1, 0xFFFF0000)
    bare = with_communities(AttrSet([Origin(0)]), (), 0)
    assert bare.get(AttrType.COMMUNITIES) is None and bare.local_pref == 0


def test_a_per_route_policy_runs_for_every_key_of_a_candidate_seen_before() -> None:
    """A prefix-set policy (per route) between two keys of one candidate: the second key
    is exported and run through the policy again, not given the export of the key between
    (consider's shortcut for consecutive keys of one UPDATE must not reach across it)."""
    target = TARGETS[0]
    k1, k2, k3 = (parse_prefix(f"10.0.{i}.0/24")[1] for i in (1, 2, 3))
    loc = LocRib()
    loc.offer(EBGP_A, [k1, k3], path(65001, target.asn))  # the target's AS: never sent to it
    loc.offer(replace(EBGP_A, index=2, address="192.0.2.2", asn=65002), [k2], path(65002))
    prefixes = PrefixSet.parse("p", (("10.0.0.0/16", "24..28"),))
    statement = Statement("s", (MatchPrefixSet(prefixes),), (set_community(SetOp.ADD, ("65000:1",)),))
    out = AdjRibOut(V4, ExportPolicy(target, 65000, "10.0.0.100", "10.0.0.100"), TABLE)
    out.exporter = ExportFilter(Assignment((Policy("p", (statement,)),)), target.address, target.asn, False,
                                V4, TABLE, ())
    assert out.exporter.per_route
    out.consider([k1, k2, k3], loc)
    assert list(out.pending) == [k2] and statement.counter.matches == 1
    sent = out.pending[k2]
    assert sent is not None and sent.attrs.communities == (65000 << 16 | 1,)
