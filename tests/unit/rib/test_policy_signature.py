"""PolicyFilter.signature (rib.policy_filter): the prefix-set answers kept per class of
prefixes (length + first m bits) must equal matching each prefix directly."""

from __future__ import annotations

import random

from gracebgp.policy import Assignment, MatchPrefixSet, Policy, PrefixSet, RouteType, Source, Statement
from gracebgp.rib.path import PathTable
from gracebgp.rib.policy_filter import PolicyFilter
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire.nlri import format_prefix, key_parts, make_key, width_of


def _filter(family: Family, sets: list[PrefixSet], shift: int = 0) -> PolicyFilter:
    statements = tuple(Statement(f"s{i}", (MatchPrefixSet(s),)) for i, s in enumerate(sets))
    source = Source("192.0.2.1", 65001, RouteType.EXTERNAL)
    return PolicyFilter(Assignment((Policy("p", statements),)), source, family, PathTable(), shift=shift)


def _random_sets(rng: random.Random, v6: bool) -> list[PrefixSet]:
    width = 128 if v6 else 32
    out = []
    for s in range(3):
        lines = []
        for _ in range(rng.randint(1, 40)):
            length = rng.choice([0, 8, 12, 16, 20, 24, 25, 32] if not v6 else [0, 16, 32, 48, 56, 64, 128])
            address = rng.getrandbits(width) >> (width - length) << (width - length) if length else 0
            lo = rng.randint(length, width)
            hi = rng.randint(lo, width)
            text = format_prefix(make_key(address, length, width), 2 if v6 else 1)
            lines.append((text, f"{lo}..{hi}" if rng.random() < 0.8 else ""))
        out.append(PrefixSet.parse(f"set{s}", tuple(lines)))
    return out


def test_the_kept_answers_equal_direct_matching_ipv4_ipv6_and_add_path_keys() -> None:
    rng = random.Random(16)
    for family in (IPV4_UNICAST, IPV6_UNICAST):
        width = width_of(family.afi)
        for _ in range(20):
            sets = _random_sets(rng, family == IPV6_UNICAST)
            flt, addpath = _filter(family, sets), _filter(family, sets, shift=32)
            probes = [s.entries[0] for s in sets]
            for _ in range(400):
                if rng.random() < 0.5:  # near an entry: inside or just outside it
                    e = rng.choice(probes)
                    length = rng.randint(0, width)
                    spare = width - e.length
                    address = e.network | rng.getrandbits(spare) if spare else e.network
                else:
                    length = rng.randint(0, width)
                    address = rng.getrandbits(width)
                address = address >> (width - length) << (width - length) if length else 0
                key = make_key(address, length, width)
                a, n = key_parts(key, width)
                want = tuple(s.matches(family.afi, a, n) for s in sets)
                assert flt.signature(key) == want, (format_prefix(key, family.afi), want)
                assert addpath.signature(key << 32 | rng.getrandbits(32)) == want


def test_run_decides_every_key_as_direct_matching_in_any_order() -> None:
    """PolicyFilter.run (the channel's call, its class lookup inlined) over a group of keys
    of mixed lengths: every key comes back, accepted exactly when a prefix set holds it. A
    default route first (its class is the one a first key must not be confused with) and
    lengths that share one key size (/17../24: one length's shift must not serve another)."""
    from gracebgp.policy import Disposition

    from .helpers import path

    rng = random.Random(7)
    fixed = PrefixSet.parse("fixed", (("10.0.0.0/16", "16..24"), ("192.168.0.0/20", "20..24")))
    for family in (IPV4_UNICAST, IPV6_UNICAST):
        width = width_of(family.afi)
        for round_ in range(30):
            sets = [fixed] if round_ == 0 and family == IPV4_UNICAST else _random_sets(rng, width == 128)
            statements = tuple(Statement(f"s{i}", (MatchPrefixSet(s),), (), Disposition.ACCEPT)
                               for i, s in enumerate(sets))
            assignment = Assignment((Policy("p", statements),), Disposition.REJECT)
            source = Source("192.0.2.1", 65001, RouteType.EXTERNAL)
            for shift in (0, 32):
                flt = PolicyFilter(assignment, source, family, PathTable(), shift=shift)
                prefixes = [make_key(0, 0, width)]
                if sets[0] is fixed:
                    prefixes += [make_key(0xC0A80000, 18, 32), make_key(0xC0A81000, 22, 32),
                                 make_key(0xC0A80000, 22, 32)]
                for _ in range(60):
                    e = rng.choice([s.entries[0] for s in sets])
                    length = rng.randint(max(0, e.length - 4), width)
                    spare = width - e.length
                    address = (e.network | rng.getrandbits(spare)) if spare else e.network
                    address = address >> (width - length) << (width - length) if length else 0
                    prefixes.append(make_key(address, length, width))
                keys = [(k << 32 | 1) if shift else k for k in prefixes]
                # the whole group twice (the second time the prefix-length shifts are known,
                # so a group in one class takes the short way), then in runs of 3 keys
                for batch in [keys, keys] + [keys[i:i + 3] for i in range(0, len(keys), 3)]:
                    accepted, rejected = flt.run(batch, path(65001))
                    got = {k: True for group in accepted.values() for k in group}
                    got.update(dict.fromkeys(rejected, False))
                    assert sorted(got) == sorted(set(batch))
                    for k in batch:
                        address, length = key_parts(k >> shift, width)
                        want = any(s.matches(family.afi, address, length) for s in sets)
                        assert got[k] is want, (format_prefix(k >> shift, family.afi), sets)
