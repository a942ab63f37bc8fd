"""An Adj-RIB-Out in sync holds nothing per prefix (issue 14 item 3): what its peer has
for a prefix is the export of the Loc-RIB's best, or of the old best the round hands over
(``LocRib.take_before``). Checked against one that keeps its table (the code path every
Adj-RIB-Out took before): both are driven as the speaker drives them (rounds a budget at
a time, tables and route refreshes in slices, a drain's new policy, a new export policy,
a hand-over's touched keys, a round missed, sessions reset), each flush of the two must
be the same UPDATEs, byte for byte, and the UPDATEs are applied to a model of the peer,
which must hold what the views and the counts say, with the policy's match counters
equal. Then the sequences a review found, where a prefix new since the last round
changes twice before the round (next hops resolving again, an ADD-PATH reimport)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import replace

import pytest

from gracebgp.config.policy_source import PolicySource, parse_apply_policy
from gracebgp.policy.book import PolicyBook
from gracebgp.policy.definitions import Assignment, Disposition
from gracebgp.policy.route import RouteType, Source
from gracebgp.rib.adj_rib_out import AdjRibOut, Before
from gracebgp.rib.channel import Channel
from gracebgp.rib.channel_addpath import AddPathChannel
from gracebgp.rib.export import ExportPolicy
from gracebgp.rib.loc_rib import LocRib, Lookup
from gracebgp.rib.path import Path, PathTable, PeerInfo
from gracebgp.rib.policy_attach import export_filter
from gracebgp.rib.policy_filter import PolicyFilter
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire import AsPath, AttrSet, CodecContext, LocalPref, MultiExitDisc, NextHop, Origin
from gracebgp.wire.nlri import parse_prefix
from gracebgp.wire.update import parse_update

from .helpers import EBGP_A, EBGP_B, IBGP_C, LOCAL, TABLE
from .helpers import path as make_path

V4 = IPV4_UNICAST
CTX = CodecContext()
KEYS = [parse_prefix(f"10.0.{i}.0/24")[1] for i in range(24)]


#: Export policies of three kinds: run after the export rules per path (``mark``: an
#: AS-path set), the same for every route (``tag``: inside the rules), per route (``cut``:
#: a prefix set; never in sync).
POLICIES = PolicySource().with_set("as-path", {"name": "via10", "entries": ["_65010_"]}).with_policy(
    {"name": "mark", "statements": [{"name": "m", "match_as_path_set": {"name": "via10"}, "set_med": 77,
                                     "route_disposition": "accept-route"}]}).with_policy(
    {"name": "tag", "statements": [{"name": "t", "set_community": {"options": "add",
                                                                   "communities": ["65000:99"]}}]}).with_set(
    "prefix", {"name": "few", "prefix_list": [{"ip_prefix": "10.0.0.0/20",
                                                "masklength_range": "24..24"}]}).with_policy(
    {"name": "cut", "statements": [{"name": "c", "match_prefix_set": {"name": "few"},
                                    "route_disposition": "reject-route"}]})


def book(name: str | None) -> PolicyBook:
    """A book of its own (its statements count for one Adj-RIB-Out only)."""
    return POLICIES.with_global(parse_apply_policy({"export_policies": [name] if name else []})).build()


def matches(b: PolicyBook) -> int:
    return sum(st.counter.matches for pol in b.policies.values() for st in pol.statements)


class Kept(AdjRibOut):
    """The reference: always a table."""

    __slots__ = ()
    _syncs = False


def paths(table: PathTable) -> list[Path]:
    """Routes that export differently to B: plain, longer, B's own AS inside (the AS-loop
    check drops it), a MED (eBGP: not sent on), a LOCAL_PREF that wins."""
    specs = [((65001,), None, None), ((65001, 65010, 65011), None, None), ((65001, 65002), None, None),
             ((65003,), 50, None), ((65004,), None, 300), ((), None, None)]
    made = []
    for asns, med, lp in specs:
        attrs: list[object] = [Origin(0), AsPath(((2, asns),) if asns else ()), NextHop("192.0.2.254")]
        if med is not None:
            attrs.append(MultiExitDisc(med))
        if lp is not None:
            attrs.append(LocalPref(lp))
        made.append(table.get(AttrSet(attrs), ("192.0.2.254",)))
    return made


class Peer:
    """What B holds, from the UPDATEs one Adj-RIB-Out sent: prefix -> attribute block."""

    def __init__(self) -> None:
        self.routes: dict[int, bytes] = {}

    def receive(self, messages: list[bytes], again: bool = False) -> None:
        for m in messages:
            u = parse_update(m[19:], CTX).update
            assert u is not None
            for k in u.withdrawn:
                assert k in self.routes, "a withdrawal of a route never sent"
                del self.routes[k]
            for k in u.nlri:
                assert u.attrs is not None
                block = u.attrs.wire(True)
                assert again or self.routes.get(k) != block, "the same route sent twice"
                self.routes[k] = block


def content(messages: list[bytes]) -> tuple[set[int], dict[int, bytes]]:
    """What a flush says: the prefixes withdrawn, and each announced prefix's attributes."""
    withdrawn: set[int] = set()
    announced: dict[int, bytes] = {}
    for m in messages:
        u = parse_update(m[19:], CTX).update
        assert u is not None
        withdrawn.update(u.withdrawn)
        for k in u.nlri:
            assert u.attrs is not None and k not in announced
            announced[k] = u.attrs.wire(True)
    return withdrawn, announced


class World:
    """A speaker's RIB for one family, with two Adj-RIBs-Out to B: ``kept`` and ``lean``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.table = PathTable()
        self.paths = paths(self.table)
        self.loc = LocRib()
        self.changed: dict[Family, set[int]] = {V4: set()}
        self.loc.dirty = self.changed[V4]
        self.channels = [Channel(V4, self.loc, self.changed, info)
                         for info in (EBGP_A, IBGP_C, LOCAL, EBGP_B)]
        self.pol = ExportPolicy(EBGP_B, 65000, "10.0.0.100", next_hop_v4="192.0.2.100")
        self.policy: str | None = rng.choice([None, None, "mark", "tag"])
        self.books = [book(self.policy), book(self.policy)]
        self.outs = [self.fresh(Kept, 0), self.fresh(AdjRibOut, 1)]
        self.peers = [Peer(), Peer()]
        self.sending: list[int] | None = None  # a table going out in slices (both)
        self.epochs = [0, 0]
        self.again = False
        self.rounds = self.synced_rounds = 0  # rounds sent, and in those the lean one was in sync
        self.stale = False  # a round was missed: the peers may hold what no export makes now
        self.truths = 0  # checks against a fresh export of the whole Loc-RIB

    def fresh(self, kind: type[AdjRibOut], i: int) -> AdjRibOut:
        out = kind(V4, self.pol, self.table)
        out.exporter = export_filter(self.books[i], None, V4, self.pol, self.table)
        return out

    # --- what the speaker does -------------------------------------------------------
    def send(self) -> None:
        """Both flush: the same withdrawals and announcements (the order of the prefixes in
        the UPDATEs may differ), each to its peer."""
        sent = [out.flush(CTX) for out in self.outs]
        assert content(sent[1]) == content(sent[0])
        for peer, messages in zip(self.peers, sent, strict=True):
            peer.receive(messages, self.again and self.sending is not None)

    def round(self, budget: int | None, missed: bool = False) -> None:
        dirty = self.changed[V4]
        if not dirty:
            return
        if budget is not None and len(dirty) > budget:
            keys = set(itertools.islice(dirty, budget))
            dirty.difference_update(keys)
            before: Before = self.loc.take_before(keys)
        else:
            keys, self.changed[V4] = dirty, set()
            self.loc.dirty = self.changed[V4]
            before = self.loc.take_before()
        self.rounds += not missed
        self.synced_rounds += self.outs[1].synced and not missed
        # The lean one mostly with the round's lookup, as advertise_round hands it over
        # (its runs when the round only adds prefixes: AdjRibOut._consider_runs).
        # (now and then runs when it does not only add: consider must not take them then)
        runs = not before or self.rng.random() < 0.3
        found = self.loc.lookup(list(keys), runs=runs) if self.rng.random() < 0.7 else None
        for out in self.outs:
            if missed:  # (advertise: the session is not Established, or the gate is closed)
                out.miss(self.loc, before, keys)
            elif out is self.outs[1] and found is not None:
                out.consider(found.keys, self.loc, False, before, found)
            else:
                out.consider(keys, self.loc, False, before)
        if not missed:
            self.send()
            for out in self.outs:
                out.settle(self.loc)

    def start(self, again: bool) -> None:
        self.sending, self.again = self.loc.keys(), again
        self.epochs = [out.epoch for out in self.outs]

    def slice(self) -> None:
        assert self.sending is not None
        part = self.sending[:8]
        for out in self.outs:
            out.consider(part, self.loc, self.again)
        self.send()
        self.sending = self.sending[8:]
        if not self.sending:
            for out, epoch in zip(self.outs, self.epochs, strict=True):
                out.table_sent(self.loc, epoch)
            self.sending = None

    def step(self) -> None:
        rng = self.rng
        op = rng.random()
        keys = rng.sample(KEYS, rng.randint(1, 8))
        channel = rng.choice(self.channels)
        if op < 0.35:
            channel.announce(keys, rng.choice(self.paths), float(rng.randint(0, 3)))
        elif op < 0.55:
            channel.withdraw(keys)
        elif op < 0.79:
            self.round(rng.choice([None, None, 3, 10]))
            if self.sending is not None:  # (the owner sends a slice each step, as it flushes)
                self.slice()
        elif op < 0.8:
            self.round(None, missed=True)
            self.stale = True
        elif op < 0.86:
            if self.sending is None:
                self.start(rng.random() < 0.5)  # a table, or a refresh
            else:
                self.slice()
        elif op < 0.88:
            gshut = rng.random() < 0.5  # a drain starts or ends: a new policy, every prefix again
            for out in self.outs:
                out.repolicy(replace(out.policy, gshut=gshut))
            self.start(False)
        elif op < 0.9:
            name = rng.choice([None, "mark", "tag", "cut"])  # a reload: another export policy
            self.policy, self.books, self.stale = name, [book(name), book(name)], False
            for out, b in zip(self.outs, self.books, strict=True):
                out.exporter = export_filter(b, None, V4, out.policy, self.table)
                out.consider_all(self.loc)
            self.send()
        elif op < 0.94:
            self.loc.touch(keys)  # a hand-over's differences: flushed though unchanged
        elif op < 0.97:
            self.outs = [self.fresh(Kept, 0), self.fresh(AdjRibOut, 1)]  # the session goes down and up
            for peer in self.peers:
                peer.routes.clear()
            self.stale = False
            self.start(False)
        else:
            while self.sending is not None:
                self.slice()

    # --- what must hold ------------------------------------------------------------------
    def check(self) -> None:
        kept, lean = self.outs
        assert self.peers[1].routes == self.peers[0].routes
        assert len(lean) == len(kept) == len(self.peers[1].routes)
        assert matches(self.books[1]) == matches(self.books[0])
        ref = {k: (p.block, p.next_hop) for k, p in kept.advertised.items()}
        assert {k: (p.block, p.next_hop) for k, p in lean.advertised.items()} == ref
        assert sorted(lean.prefix_keys()) == sorted(ref)
        for k in KEYS[:6]:
            assert [(i, p.block) for i, p in lean.sent(k)] == [(i, p.block) for i, p in kept.sent(k)]
        if not (self.stale or self.sending is not None or self.changed[V4]):
            assert self.peers[1].routes == self.truth()
            self.truths += 1

    def truth(self) -> dict[int, bytes]:
        """What the peer must hold once every change went out: the whole Loc-RIB exported
        by an Adj-RIB-Out made now, with no history."""
        fresh = Kept(V4, self.outs[0].policy, self.table)
        fresh.exporter = export_filter(book(self.policy), None, V4, fresh.policy, self.table)
        fresh.consider_all(self.loc)
        return content(fresh.flush(CTX))[1]


def started(kind: type[World], seeds: int = 20) -> Iterator[World]:
    """A world of each seed, both sessions up with an empty table."""
    for seed in range(seeds):
        world = kind(random.Random(seed))
        for out in world.outs:
            out.table_sent(world.loc, out.epoch)
        yield world


@pytest.mark.parametrize("seed", range(60))
def test_in_sync_the_peer_gets_what_a_kept_table_sends(seed: int) -> None:
    world = World(random.Random(seed))
    world.outs[0].table_sent(world.loc, world.outs[0].epoch)  # both sessions up with an empty table
    world.outs[1].table_sent(world.loc, world.outs[1].epoch)
    assert world.outs[1].synced and not world.outs[0].synced
    for _ in range(250):
        world.step()
        world.check()
    world.round(None)
    world.check()
    assert world.truths > 10  # (19-100 per seed, 2,332 in all)


def test_in_sync_in_many_rounds() -> None:
    """The comparison above means something: the lean Adj-RIB-Out was in sync in a good
    share of the rounds it sent (out of sync after a missed round until a reset or a
    drain, and from a table's start to the first round after it that leaves no change)."""
    rounds = synced = 0
    for world in started(World):
        for _ in range(250):
            world.step()
        rounds += world.rounds
        synced += world.synced_rounds
    assert rounds > 500 and synced > rounds // 5


class Growing(World):
    """A table coming in: mostly new prefixes, a few at a time from one source (an
    UPDATE), now and then from a second source too or withdrawn again before the round,
    and rounds: the rounds that only add prefixes (``AdjRibOut._consider_runs``)."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.policy, self.books = None, [book(None), book(None)]  # (until a reload sets one)
        self.outs = [self.fresh(Kept, 0), self.fresh(AdjRibOut, 1)]
        self.new = iter([parse_prefix(f"10.{1 + i // 256}.{i % 256}.0/24")[1] for i in range(4096)])

    def step(self) -> None:
        rng = self.rng
        op = rng.random()
        if op < 0.55:
            keys = [next(self.new) for _ in range(rng.randint(1, 8))]
            rng.choice(self.channels).announce(keys, rng.choice(self.paths), float(rng.randint(0, 3)))
            if rng.random() < 0.2:  # another source for some of them: two candidates
                rng.choice(self.channels).announce(keys[:rng.randint(1, len(keys))], rng.choice(self.paths))
            if rng.random() < 0.1:  # gone again before the round: no entry
                rng.choice(self.channels).withdraw(keys[rng.randint(0, len(keys) - 1):])
        elif op < 0.95:
            self.round(rng.choice([None, None, None, 10]))  # (mostly whole: in sync after it)
            if self.sending is not None:  # (a table going out: a slice each step, as World)
                self.slice()
        else:
            super().step()


def test_rounds_that_only_add_prefixes_decide_once_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table coming in, against the kept table as above (20 seeds); the rounds that
    only add prefixes take one decision per run of keys sharing an entry
    (``AdjRibOut._consider_runs``), runs of more than one key among them."""
    runs: list[int] = []
    consider_runs = AdjRibOut._consider_runs

    def counted(self: AdjRibOut, found: Lookup) -> None:
        assert found.runs is not None
        runs.append(max((j - i for i, j in found.runs), default=0))
        consider_runs(self, found)

    monkeypatch.setattr(AdjRibOut, "_consider_runs", counted)
    for world in started(Growing):
        for _ in range(250):
            world.step()
            world.check()
        world.round(None)
        world.check()
    assert len(runs) > 150 and sum(1 for n in runs if n > 1) > 100


def test_a_withdrawal_left_pending_takes_the_per_key_decisions() -> None:
    """``consider`` takes a round's runs only with nothing pending: a withdrawal left from
    before (of a route never sent, whose export is None now too) is dropped, as the per-key
    loop drops it, not sent."""
    world = next(started(Growing, 1))  # (no export policy)
    lean, a = world.outs[1], world.channels[0]
    a.announce(KEYS[:2], world.paths[0])
    world.round(None)
    assert lean.synced and lean.takes_runs
    a.announce(KEYS[2:4], world.paths[2])  # B's AS in the path: exported to B as nothing
    keys = list(world.changed[V4])
    lean.pending[KEYS[2]] = None  # (a leftover: in sync, none is left at a round)
    lean.consider(keys, world.loc, False, {}, world.loc.lookup(keys, runs=True))
    assert lean.pending == {}


def test_a_full_table_from_one_peer_holds_nothing_per_prefix() -> None:
    """One peer's table into an empty Loc-RIB, exported to another in rounds: no table is
    kept, the count is exact, and the views and the hand-over read the routes from the
    Loc-RIB."""
    world = World(random.Random(0))
    lean = world.outs[1]
    lean.table_sent(world.loc, lean.epoch)
    a = world.channels[0]
    for i, k in enumerate(KEYS):
        a.announce([k], world.paths[i % 2])
    world.round(None)
    assert lean.synced and lean._held == {}
    assert len(lean) == len(KEYS) == len(world.peers[1].routes)
    assert set(lean.advertised) == set(KEYS)
    assert lean.sent(KEYS[0])[0][1].block == world.peers[1].routes[KEYS[0]]
    a.announce(KEYS[:4], world.paths[2])  # B's AS in the path: withdrawn from B
    a.withdraw(KEYS[4:6])
    world.round(None)
    assert lean.synced and len(lean) == len(KEYS) - 6 == len(world.peers[1].routes)
    assert lean.sent(KEYS[0]) == []
    world.check()


def test_a_change_not_flushed_yet_is_what_the_views_and_a_desync_see() -> None:
    """Between a change and its round, the peer still has the old export: ``sent``,
    ``advertised`` and a table made then (``desync``) say so."""
    world = World(random.Random(0))
    lean = world.outs[1]
    lean.table_sent(world.loc, lean.epoch)
    a = world.channels[0]
    a.announce(KEYS[:2], world.paths[0])
    world.round(None)
    old = lean.sent(KEYS[0])[0][1].block
    a.announce(KEYS[:1], world.paths[1])  # not flushed
    a.withdraw(KEYS[1:2])
    a.announce(KEYS[2:3], world.paths[0])  # new, not flushed
    assert lean.sent(KEYS[0])[0][1].block == old and lean.sent(KEYS[1]) != [] and lean.sent(KEYS[2]) == []
    assert set(lean.advertised) == set(KEYS[:2])
    lean.desync(world.loc)
    assert not lean.synced and set(lean._held) == set(KEYS[:2]) and lean._held[KEYS[0]].block == old
    world.round(None)
    assert set(world.peers[1].routes) == {KEYS[0], KEYS[2]} and len(lean) == 2


class Reach:
    """Next hops the kernel resolves (``LocRib.reach``)."""

    def __init__(self) -> None:
        self.up: set[str] = set()

    def resolves(self, address: str) -> bool:
        return address in self.up


T = PeerInfo(9, "192.0.2.9", 65099, "10.0.0.9", ibgp=False)
K = parse_prefix("10.9.0.0/24")[1]


def lone(every_change: bool = False) -> tuple[LocRib, dict[Family, set[int]], AdjRibOut]:
    """A Loc-RIB flushed as the speaker does, and one Adj-RIB-Out in sync (to T)."""
    loc = LocRib()
    loc.every_change = every_change
    changed: dict[Family, set[int]] = {V4: set()}
    loc.dirty = changed[V4]
    out = AdjRibOut(V4, ExportPolicy(T, 65000, "10.0.0.100", next_hop_v4="192.0.2.100"), TABLE)
    out.table_sent(loc, out.epoch)
    assert out.synced
    return loc, changed, out


def flush_round(loc: LocRib, changed: dict[Family, set[int]],
                out: AdjRibOut) -> tuple[set[int], dict[int, bytes]]:
    keys, changed[V4] = changed[V4], set()
    loc.dirty = changed[V4]
    out.consider(keys, loc, False, loc.take_before())
    sent = content(out.flush(CTX))
    out.settle(loc)
    return sent


@pytest.mark.parametrize(("every_change", "same_export"), [(False, True), (False, False), (True, True)])
def test_two_parked_paths_of_a_new_prefix_coming_back_at_once_reach_a_peer_in_sync(
        every_change: bool, same_export: bool) -> None:
    """``reresolve`` offers both paths of a prefix that had none, one after the other: the
    second must not take the first for what the peer had."""
    loc, changed, out = lone(every_change)
    reach = Reach()
    loc.reach = reach
    a, b = Channel(V4, loc, changed, EBGP_A), Channel(V4, loc, changed, EBGP_B)
    pa = make_path(65010, nh="198.51.100.1")
    pb = make_path(65010 if same_export else 65011, nh="198.51.100.2")
    b.announce([K], pb)  # both parked: their next hops do not resolve
    a.announce([K], pa)
    assert flush_round(loc, changed, out) == (set(), {})
    reach.up |= {"198.51.100.1", "198.51.100.2"}
    changed[V4].update(loc.reresolve({"198.51.100.1", "198.51.100.2"}))
    withdrawn, announced = flush_round(loc, changed, out)
    assert withdrawn == set() and list(announced) == [K] and len(out) == 1 and out.synced
    a.withdraw([K])
    b.withdraw([K])
    assert flush_round(loc, changed, out) == ({K}, {}) and len(out) == 0


def test_an_addpath_reimport_of_a_new_prefix_reaches_a_peer_in_sync() -> None:
    """``reimport`` counts its changes in a set of its own: the Loc-RIB must still see the
    first path of a new prefix as new when the second path replaces it."""
    loc, changed, out = lone()
    channel = AddPathChannel(V4, loc, changed, EBGP_A)
    channel.importer = PolicyFilter(Assignment(default=Disposition.REJECT),
                                    Source("192.0.2.1", 65001, RouteType.EXTERNAL), V4, TABLE, shift=32)
    longer, shorter = make_path(65010, 65011, nh="198.51.100.1"), make_path(65010, nh="198.51.100.2")
    channel.announce([K << 32 | 1], longer)
    channel.announce([K << 32 | 2], shorter)  # path id 2 wins: the shorter AS_PATH
    assert flush_round(loc, changed, out) == (set(), {})  # both rejected
    assert channel.reimport(None, 0.0) == 1
    withdrawn, announced = flush_round(loc, changed, out)
    assert withdrawn == set() and list(announced) == [K] and len(out) == 1
    channel.withdraw([K << 32 | 1, K << 32 | 2])
    assert flush_round(loc, changed, out) == ({K}, {}) and len(out) == 0


def test_a_round_missed_while_a_table_goes_out_keeps_the_table() -> None:
    """A table begun before a round its peer missed proves nothing when it ends: the
    missed prefix is in neither, so the Adj-RIB-Out must not claim to be in sync."""
    loc, changed, _ = lone()
    out = AdjRibOut(V4, ExportPolicy(T, 65000, "10.0.0.100", next_hop_v4="192.0.2.100"), TABLE)
    began, keys = out.epoch, loc.keys()  # a table of nothing begins
    Channel(V4, loc, changed, EBGP_A).announce([K], make_path(65010))
    missed, changed[V4] = changed[V4], set()
    loc.dirty = changed[V4]
    out.miss(loc, loc.take_before(), missed)  # (its session was not Established yet)
    out.consider(keys, loc)
    out.flush(CTX)
    out.table_sent(loc, began)
    assert not out.synced and len(out) == 0  # K never went out: a table says so


def test_a_withdrawal_missed_keeps_the_table_until_every_prefix_is_considered() -> None:
    """A round missed after routes went out may leave the peer a route the Loc-RIB no
    longer has: no table sent over the Loc-RIB's keys proves sync then; considering every
    prefix, those the table holds included, withdraws it, and sync follows."""
    loc, changed, out = lone()
    a = Channel(V4, loc, changed, EBGP_A)
    a.announce([K], make_path(65010))
    assert flush_round(loc, changed, out)[1].keys() == {K}
    a.withdraw([K])
    missed, changed[V4] = changed[V4], set()
    loc.dirty = changed[V4]
    out.miss(loc, loc.take_before(), missed)
    began = out.epoch
    out.consider(loc.keys(), loc)  # a table of nothing
    assert out.flush(CTX) == []
    out.table_sent(loc, began)
    assert not out.synced and len(out) == 1  # the peer still has K
    out.consider_all(loc)
    assert content(out.flush(CTX)) == ({K}, {})
    out.settle(loc)
    assert out.synced and len(out) == 0


def test_an_export_policy_changed_while_a_table_goes_out_keeps_the_table() -> None:
    """A refresh begun under one export policy and ended under another proves nothing."""
    loc, changed, out = lone()
    Channel(V4, loc, changed, EBGP_A).announce([K], make_path(65010))
    flush_round(loc, changed, out)
    began, keys = out.epoch, loc.keys()
    out.consider(keys, loc, True)  # the refresh's one slice
    out.flush(CTX)
    out.exporter = export_filter(book("tag"), None, V4, out.policy, TABLE)  # a reload meanwhile
    out.table_sent(loc, began)
    assert not out.synced and out.advertised[K].block == out.sent(K)[0][1].block
    out.consider_all(loc)
    assert list(content(out.flush(CTX))[1]) == [K]  # now with the policy's community
    out.settle(loc)
    assert out.synced


def _taken(world: World) -> tuple[list[int], Before]:
    """A whole round's keys (in order) and old bests, taken as ``World.round`` takes them."""
    keys = sorted(world.changed[V4])
    world.changed[V4] = set()
    world.loc.dirty = world.changed[V4]
    return keys, world.loc.take_before()


def _runs_round(runs: bool, read: bool = False) -> tuple[World, AdjRibOut, list[bytes]]:
    """A round that only adds prefixes, considered with the runs or key by key (and
    ``pending`` read before the flush), and what the flush sent: one export in two runs."""
    world = next(started(Growing, 1))
    lean, a, b = world.outs[1], world.channels[0], world.channels[1]
    a.announce(KEYS[:2], world.paths[0])
    world.round(None)
    assert lean.synced and lean.takes_runs
    a.announce(KEYS[2:5], world.paths[0])
    b.announce(KEYS[5:7], world.paths[1])
    a.announce(KEYS[7:9], world.paths[0])  # (a second run of the first export)
    a.announce(KEYS[9:12], world.paths[1])
    keys, before = _taken(world)
    lean.consider(keys, world.loc, False, before, world.loc.lookup(keys, runs=runs))
    assert bool(lean._runs) is runs and bool(lean._pending) is not runs
    if read:
        assert set(lean.pending) == set(KEYS[2:12]) and None not in lean.pending.values()
        assert not lean._runs
    return world, lean, lean.flush(CTX)


def test_the_runs_flush_the_octets_the_per_key_decisions_flush() -> None:
    """What ``_consider_runs`` grouped (``AdjRibOut._runs``) goes out as the very UPDATEs,
    octet for octet, that the per-key decisions make of the same round; and the same when
    ``pending`` is read before the flush (it holds the runs' announcements then)."""
    sent = [_runs_round(False)[2], _runs_round(True)[2], _runs_round(True, read=True)[2]]
    assert sent[0] == sent[1] == sent[2] and len(sent[0]) >= 2


def test_a_table_made_between_the_runs_and_the_flush_holds_what_was_sent() -> None:
    """Out of sync by the flush (``desync`` after the runs' consider, the round going on),
    the flush records what it sends: the count is right, and a later withdrawal goes out."""
    world = next(started(Growing, 1))
    lean, a = world.outs[1], world.channels[0]
    a.announce(KEYS[:2], world.paths[0])
    world.round(None)
    a.announce(KEYS[2:6], world.paths[0])
    keys, before = _taken(world)
    lean.consider(keys, world.loc, False, before, world.loc.lookup(keys, runs=True))
    assert lean._runs
    lean.desync(world.loc, before, set(keys))
    assert content(lean.flush(CTX))[1].keys() == set(KEYS[2:6])
    assert sorted(lean.advertised) == sorted(KEYS[:6]) and len(lean) == 6
    a.withdraw(KEYS[2:6])
    keys, before = _taken(world)
    lean.consider(keys, world.loc, False, before)
    assert content(lean.flush(CTX))[0] == set(KEYS[2:6])
