"""An Adj-RIB-In read from the Loc-RIB (``Channel.settle``, issue 14 item 3) against one that
holds its routes: the same random sequences of announcements, withdrawals, session
clears, graceful restart's mark and sweep (RFC 4724 §4.2), LLGR relabelling (RFC 9494
§4.2), import policies set and removed, next hops that stop and start resolving (RFC 4271
§9.1.2.1) and flushes, run on both; after every step each peer's routes, count, stale
marks, the Loc-RIB (its candidates, parked ones, changed prefixes and old bests) and what
each call returned must be the same. Sizes are small, so ``READ_MIN`` is 0 here and the
share rules alone decide when a Channel reads from the Loc-RIB."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from gracebgp.policy import Assignment, MatchPrefixSet, Policy, PrefixSet, RouteType, Source, Statement
from gracebgp.policy.actions import SetLocalPref
from gracebgp.policy.definitions import Disposition
from gracebgp.restart.shutdown import llgr_stale_attrs
from gracebgp.rib import channel as channel_module
from gracebgp.rib.channel import Channel
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PeerInfo
from gracebgp.rib.policy_filter import PolicyFilter
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire.iana import WellKnownCommunity as WK
from gracebgp.wire.nlri import parse_prefix

from .helpers import EBGP_A, EBGP_B, IBGP_C, LOCAL, TABLE, path

V4 = IPV4_UNICAST
KEYS = [parse_prefix(f"10.1.{i}.0/24")[1] for i in range(40)]
HOPS = ["192.0.2.254", "192.0.2.253", "192.0.2.252"]
PATHS = [path(65001, nh=HOPS[0]), path(65001, 65005, nh=HOPS[1]), path(65002, nh=HOPS[2]),
         path(65003, comms=(int(WK.NO_LLGR),), nh=HOPS[0]), path(65004, lp=300, nh=HOPS[1]),
         path(65006, 65007, 65008, nh=HOPS[0])]
RELABELLED: dict[Path, Path | None] = {}
FEW = PrefixSet.parse("few", (("10.1.0.0/20", "24..24"),))  # the first 16 keys


def importer(kind: str) -> PolicyFilter | None:
    """None; one that refuses the prefixes of FEW; one that changes every route."""
    if kind == "none":
        return None
    statement = (Statement("r", (MatchPrefixSet(FEW),), (), Disposition.REJECT) if kind == "reject"
                 else Statement("lp", (), (SetLocalPref(222),), Disposition.ACCEPT))
    source = Source("192.0.2.1", 65001, RouteType.EXTERNAL)
    return PolicyFilter(Assignment((Policy(kind, (statement,)),)), source, V4, TABLE)


class Reach:
    def __init__(self) -> None:
        self.up = set(HOPS)

    def resolves(self, address: str) -> bool:
        return address in self.up


class World:
    def __init__(self, reach: Reach, reads: bool) -> None:
        self.loc = LocRib()
        self.loc.reach = reach
        self.changed: dict[Family, set[int]] = {V4: set()}
        self.loc.dirty = self.changed[V4]
        self.channels = [Channel(V4, self.loc, self.changed, info)
                         for info in (LOCAL, EBGP_A, EBGP_B, IBGP_C)]
        self.reads = reads

    @staticmethod
    def relabel(p: Path) -> Path | None:
        """The LLGR-stale path of ``p``: one object for both worlds (paths compare by identity)."""
        if p not in RELABELLED:
            RELABELLED[p] = None if p.no_llgr else TABLE.get(llgr_stale_attrs(p.attrs), p.next_hop)
        return RELABELLED[p]

    def flush(self) -> tuple[set[int], dict[int, Any]]:
        keys, self.changed[V4] = self.changed[V4], set()
        self.loc.dirty = self.changed[V4]
        before = self.loc.take_before()
        self.settle()
        return keys, before

    def settle(self) -> None:
        if self.reads:
            for ch in self.channels:
                ch.settle()

    def state(self) -> Any:
        chans = [(dict(ch.routes), len(ch), ch.stale_keys(), sorted(ch.prefix_keys()),
                  [ch.paths(k) for k in KEYS[:6]], ch.importer is None) for ch in self.channels]
        loc = self.loc
        return chans, dict(loc.entries), dict(loc.parked), set(self.changed[V4]), dict(loc.before)


def held_info(worlds: tuple[World, World], i: int) -> PeerInfo:
    return worlds[0].channels[i].info


def step(rng: random.Random, worlds: tuple[World, World], reach: Reach, now: float) -> str:
    """One random operation on both worlds; returns its name, checks what the calls return."""
    i, n = rng.randrange(4), int(now)
    keys = rng.sample(KEYS, rng.choice([1, 3, 10, 30]))
    op = rng.choices(["announce", "withdraw", "clear", "begin", "end", "abandon", "relabel", "reimport",
                      "policy", "renew", "reach", "restamp", "settle", "flush"],
                     [30, 12, 2, 4, 3, 1, 3, 4, 1, 2, 3, 1, 3, 10])[0]

    def each(call: Callable[[World], Any]) -> list[Any]:
        return [call(w) for w in worlds]

    if op == "announce":
        p = rng.choice(PATHS)
        got = each(lambda w: w.channels[i].announce(keys + keys[:1], p, now))  # a key twice in one UPDATE
    elif op == "withdraw":
        as_list = rng.random() < 0.7  # else a generator (the signature takes any iterable)
        got = each(lambda w: sorted(w.channels[i].withdraw(keys + keys[:1] if as_list
                                                           else (k for k in keys + keys[:1]))))
    elif op == "clear":
        got = each(lambda w: sorted(w.channels[i].clear()))
    elif op == "begin":
        sweep = rng.random() < 0.7
        got = each(lambda w: sorted(w.channels[i].begin_refresh(sweep)))
    elif op == "end":
        got = each(lambda w: sorted(w.channels[i].end_refresh()))
    elif op == "abandon":
        got = each(lambda w: w.channels[i].abandon_refresh())
    elif op == "relabel":
        got = each(lambda w: w.channels[i].relabel_stale(w.relabel, now))
    elif op == "reimport":
        kind = rng.choice(["none", "none", "reject", "lp"])
        got = each(lambda w: w.channels[i].reimport(importer(kind), now))
    elif op == "policy":  # set without a reimport, as a session that comes up with the same policy
        kind = rng.choice(["none", "reject"])
        got = each(lambda w: setattr(w.channels[i], "importer", importer(kind)))
    elif op == "renew":  # a new session: a new PeerInfo, the same source
        renewed = replace(held_info(worlds, i), router_id=f"10.9.{n % 250}.9")
        got = each(lambda w: setattr(w.channels[i], "info", renewed))
    elif op == "settle":  # (the held world never settles)
        got = each(World.settle)
    elif op == "reach":
        hop = rng.choice(HOPS)
        reach.up ^= {hop}
        got = each(lambda w: sorted(w.loc.reresolve([hop])))
    elif op == "restamp":
        got = each(lambda w: w.channels[i].restamp(now))
    else:
        got = each(lambda w: w.flush())
    assert got[0] == got[1], (op, got)
    return op


def run(seed: int) -> set[str]:
    """400 steps on both worlds, compared after each; returns the operations that found
    the peer's Adj-RIB-In read from the Loc-RIB."""
    rng = random.Random(seed)
    reach = Reach()
    held, read = World(reach, False), World(reach, True)
    reading: set[str] = set()
    for n in range(400):
        was = rng.getstate()
        i = rng.randrange(4)  # (the peer step() picks: the same draw)
        rng.setstate(was)
        before = read.channels[i].reads_loc
        op = step(rng, (held, read), reach, float(n))
        assert held.state() == read.state(), (seed, n, op)
        assert not any(ch.reads_loc for ch in held.channels)
        assert all(ch._routes == {} for ch in read.channels if ch.reads_loc), "a dict kept while reading"
        if before:
            reading.add(op)
    return reading


@pytest.mark.parametrize("seed", range(40))
def test_read_from_the_loc_rib_equals_held(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel_module, "READ_MIN", 0)
    assert {"announce", "withdraw", "flush"} <= run(seed)


def test_every_operation_meets_an_adj_rib_in_read_from_the_loc_rib(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test above proves something only if each operation meets a peer in read mode."""
    monkeypatch.setattr(channel_module, "READ_MIN", 0)
    seen = set().union(*(run(seed) for seed in range(8)))
    assert seen == {"announce", "withdraw", "clear", "begin", "end", "abandon", "relabel", "reimport",
                    "policy", "renew", "reach", "restamp", "settle", "flush"}, seen


def test_settle_reads_from_the_loc_rib_by_share_and_holds_again_below_a_quarter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel_module, "READ_MIN", 4)
    w = World(Reach(), True)
    local, a, b, _c = w.channels
    a.announce(KEYS[:8], PATHS[0])
    local.announce(KEYS[:2], PATHS[1])  # below READ_MIN: held
    w.flush()
    assert a.reads_loc and not local.reads_loc and len(a) == 8 and a._routes == {}
    assert dict(a.routes) == dict.fromkeys(KEYS[:8], PATHS[0])
    b.announce(KEYS[8:30], PATHS[2])  # a's share falls to 8 of 30: still above a quarter
    w.flush()
    assert a.reads_loc and b.reads_loc
    b.announce(KEYS[30:40], PATHS[2])  # 8 of 40: below a quarter
    w.flush()
    assert not a.reads_loc and a._routes == dict.fromkeys(KEYS[:8], PATHS[0]) and b.reads_loc
    a.importer = importer("reject")  # an import policy: the Loc-RIB no longer holds what a sent
    b.importer = importer("lp")
    assert not b.reads_loc and b._routes == dict.fromkeys(KEYS[8:40], PATHS[2])
    w.flush()
    assert not b.reads_loc  # not while the policy is there


def test_a_withdrawal_read_from_the_loc_rib_counts_what_was_there(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parked route (its next hop unresolved) is still one the peer sent: withdrawn, it
    counts; a key withdrawn twice in one UPDATE, or never sent, does not."""
    monkeypatch.setattr(channel_module, "READ_MIN", 0)
    reach = Reach()
    w = World(reach, True)
    a = w.channels[1]
    a.announce(KEYS[:4], PATHS[0])
    w.flush()
    assert a.reads_loc
    reach.up.discard(HOPS[1])
    a.announce(KEYS[2:6], PATHS[1])  # parked: two replace routes, two are new
    assert len(a) == 6 and len(w.loc.entries) == 2 and len(w.loc.parked) == 4
    assert sorted(a.withdraw([KEYS[0], KEYS[3], KEYS[3], KEYS[9]])) == sorted([KEYS[0], KEYS[3]])
    assert len(a) == 4 and dict(a.routes) == {KEYS[1]: PATHS[0], KEYS[2]: PATHS[1], KEYS[4]: PATHS[1],
                                               KEYS[5]: PATHS[1]}
    reach.up.add(HOPS[1])
    w.loc.reresolve([HOPS[1]])
    assert len(a) == 4 and len(w.loc.entries) == 4 and not w.loc.parked

