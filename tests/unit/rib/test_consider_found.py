"""AdjRibOut.consider with ``found`` (a round's Loc-RIB entries of its keys, looked up
once for all its peers) does what it does looking them up itself."""

from __future__ import annotations

import pytest

from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.export import ExportPolicy
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import PeerInfo
from gracebgp.types import IPV4_UNICAST
from gracebgp.wire.nlri import parse_prefix

from .helpers import EBGP_A, TABLE, path

B = PeerInfo(2, "192.0.2.2", 65002, "10.0.0.2", ibgp=False)
KEYS = [parse_prefix(f"10.{i}.0.0/24")[1] for i in range(6)]


def loc_rib() -> LocRib:
    loc = LocRib()
    for i, k in enumerate(KEYS[:5]):  # (each its own path: a misaligned entry is another export)
        loc.offer(EBGP_A, [k], path(65001, 10 + i))
    return loc  # (KEYS[5]: not in it)


def fresh() -> AdjRibOut:
    return AdjRibOut(IPV4_UNICAST, ExportPolicy(B, 65000, "10.0.0.100", next_hop_v4="192.0.2.100"), TABLE)


def test_found_in_the_keys_order_is_the_same_as_looking_them_up() -> None:
    loc = loc_rib()
    keys = [KEYS[3], KEYS[5], KEYS[0], KEYS[4], KEYS[1], KEYS[2]]
    plain, given = fresh(), fresh()
    plain.consider(keys, loc)
    given.consider(keys, loc, found=loc.lookup(keys, runs=False))
    assert list(given.pending.items()) == list(plain.pending.items())
    assert [str(p.attrs.as_path) for p in given.pending.values() if p is not None] == [
        str(((2, (65000, 65001, 10 + KEYS.index(k))),)) for k in keys if k != KEYS[5]]


def test_found_not_as_long_as_the_keys_is_refused() -> None:
    loc = loc_rib()
    with pytest.raises(ValueError):
        fresh().consider(KEYS[:3], loc, found=loc.lookup(KEYS[:2], runs=False))


def test_the_runs_are_of_keys_sharing_one_entry_object() -> None:
    """``LocRib.lookup``: runs of consecutive keys whose entry is the same object; keys
    without an entry are in none; two equal entries that are not one object are two runs."""
    loc = LocRib()
    loc.offer(EBGP_A, KEYS[:3], path(65001, 1))  # one candidate tuple for the three
    loc.offer(EBGP_A, [KEYS[3]], path(65001, 1))  # equal, another tuple
    absent = parse_prefix("10.99.0.0/24")[1]
    keys = [absent, *KEYS[:4], absent, KEYS[0], absent]
    found = loc.lookup(keys, runs=True)
    assert found.keys is keys and found.entries == [loc.entries.get(k) for k in keys]
    assert found.runs == [(1, 4), (4, 5), (6, 7)]
    assert loc.lookup([], runs=True).runs == [] and loc.lookup([absent] * 2, runs=True).runs == []
    assert loc.lookup(keys, runs=False).runs is None
