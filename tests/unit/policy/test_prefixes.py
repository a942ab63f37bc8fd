"""Prefix sets (mask-length ranges, both families) and address sets."""

from __future__ import annotations

import pytest

from gracebgp.policy import AddressSet, PrefixSet, parse_entry
from gracebgp.types import AFI
from gracebgp.wire.nlri import key_parts, parse_prefix


def _has(pset: PrefixSet, prefix: str) -> bool:
    afi, key = parse_prefix(prefix)
    return pset.matches(afi, *key_parts(key, 32 if afi == AFI.IPV4 else 128))


def _probes(pset: PrefixSet, prefix: str) -> int:
    afi, key = parse_prefix(prefix)
    return pset.probes(afi, *key_parts(key, 32 if afi == AFI.IPV4 else 128))


RANGE = PrefixSet.parse("r", (("10.0.0.0/8", "16..24"),))


@pytest.mark.parametrize(("prefix", "expected"), [
    ("10.0.0.0/8", False),      # below the range's minimum
    ("10.0.0.0/15", False),
    ("10.1.0.0/16", True),      # lower edge
    ("10.200.3.0/24", True),    # upper edge
    ("10.200.3.0/25", False),   # above the maximum
    ("11.0.0.0/16", False),     # outside the network
    ("2001:db8::/32", False),   # other family
])
def test_masklength_range_edges(prefix: str, expected: bool) -> None:
    assert _has(RANGE, prefix) is expected


def test_without_range_only_the_exact_length_matches() -> None:
    pset = PrefixSet.parse("e", (("192.0.2.0/24", ""),))
    assert _has(pset, "192.0.2.0/24")
    assert not _has(pset, "192.0.2.0/25")
    assert not _has(pset, "192.0.0.0/16")


def test_ipv6_entries_and_mixed_families() -> None:
    pset = PrefixSet.parse("m", (("2001:db8::/32", "48..64"), ("10.0.0.0/8", "8..32")))
    assert _has(pset, "2001:db8:1::/48")
    assert _has(pset, "2001:db8:1:2::/64")
    assert not _has(pset, "2001:db8:1:2::/65")
    assert not _has(pset, "2001:db9::/48")
    assert _has(pset, "10.9.9.9/32")


def test_two_entries_with_the_same_network_keep_both_ranges() -> None:
    pset = PrefixSet.parse("two", (("10.0.0.0/8", "8..8"), ("10.0.0.0/8", "24..24")))
    assert _has(pset, "10.0.0.0/8") and _has(pset, "10.1.2.0/24")
    assert not _has(pset, "10.1.0.0/16")


def test_minimum_below_the_prefix_length_means_the_prefix_length() -> None:
    pset = PrefixSet.parse("low", (("10.0.0.0/16", "8..24"),))
    assert not _has(pset, "10.0.0.0/8")   # shorter than the entry: not inside it
    assert _has(pset, "10.0.0.0/16") and _has(pset, "10.0.1.0/24")


def test_default_route_entry() -> None:
    pset = PrefixSet.parse("any", (("0.0.0.0/0", "0..32"),))
    assert _has(pset, "0.0.0.0/0") and _has(pset, "203.0.113.7/32")


@pytest.mark.parametrize(("prefix", "rng"), [
    ("10.0.0.1/8", ""),          # host bits set
    ("10.0.0.0/16", "8..12"),    # maximum below the prefix length
    ("10.0.0.0/8", "24..16"),    # minimum above the maximum
    ("10.0.0.0/8", "16..33"),    # beyond the width
    ("10.0.0.0/8", "16-24"),     # not MIN..MAX
    ("nonsense", ""),
])
def test_bad_entries_are_errors(prefix: str, rng: str) -> None:
    with pytest.raises(ValueError):
        parse_entry(prefix, rng)


def _big_set(n: int) -> PrefixSet:
    """``n`` /24 entries with range 24..32 and one /16, so the lengths present are 16, 24."""
    lines = [("172.16.0.0/16", "16..16")]
    lines += [(f"10.{i // 256}.{i % 256}.0/24", "24..32") for i in range(n - 1)]
    return PrefixSet.parse(f"s{n}", tuple(lines))


def test_10000_entries_cost_the_probes_of_10() -> None:
    small, big = _big_set(10), _big_set(10_000)
    assert len(big) == 10_000
    for prefix in ("10.0.5.0/24", "10.39.14.128/25", "192.0.2.0/24", "10.0.5.0/23", "0.0.0.0/0"):
        assert _probes(small, prefix) == _probes(big, prefix), prefix
    # Both: a /25 probes the two lengths present (16 and 24), never one per entry.
    assert _probes(big, "10.39.14.128/25") == 2
    assert _has(big, "10.39.14.128/25") and not _has(small, "10.39.14.128/25")
    assert _has(small, "10.0.5.0/24") and _has(big, "10.0.5.0/24")


def test_address_set_holds_addresses_and_prefixes() -> None:
    aset = AddressSet("n", ("192.0.2.1", "10.0.0.0/8", "2001:db8::/32"))
    assert aset.contains("192.0.2.1")
    assert not aset.contains("192.0.2.2")
    assert aset.contains("10.255.0.1")
    assert aset.contains("2001:db8::1")
    assert not aset.contains("2001:db9::1")
    assert not aset.contains("")


def test_address_set_rejects_bad_items() -> None:
    with pytest.raises(ValueError, match="not an address"):
        AddressSet("n", ("10.0.0.1/8",))
