"""Prefix sets and address sets: GoBGP's prefix-sets, neighbor-sets and next-hop-in-list.

A prefix-set entry is a prefix and a mask-length range ("10.0.0.0/8" with "16..24"); a
route's prefix matches the entry when its first ``length`` bits equal the entry's network
and its own length lies in the range. Without a range the entry matches its exact length
(GoBGP's rule); a route shorter than the entry's prefix never matches it. IPv4 and
IPv6 entries may share one set; a route only meets the entries of its own family.

The index costs the same for 10 or 10,000 entries: per address family, one dict per entry
length, keyed by the network's leading ``length`` bits (the network shifted right, so no
mask is built), holding the ranges of the entries with that network. A lookup probes only
the lengths present in the set that are not longer than the route's prefix: at most 33
(IPv4) or 129 (IPv6) probes, in practice a handful, whatever the number of entries.

An address set (neighbor-set, next-hop-in-list) is the same index with every entry's range
running from its length to the full width: an address is a full-length prefix, and it is
in the set when some entry's network contains it. A plain address is a host entry.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from gracebgp.types import AFI

_WIDTH = {AFI.IPV4: 32, AFI.IPV6: 128}

Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class PrefixEntry:
    """One prefix-set line: the network (an int of the family's width), its length and
    the range of route prefix lengths it accepts."""

    afi: AFI
    network: int
    length: int
    min_length: int
    max_length: int

    def __str__(self) -> str:
        net = ipaddress.ip_network((self.network, self.length))
        if self.min_length == self.max_length == self.length:
            return str(net)
        return f"{net} {self.min_length}..{self.max_length}"


def parse_entry(prefix: str, masklength_range: str = "") -> PrefixEntry:
    """``prefix`` ("10.0.0.0/8", host bits must be clear) and GoBGP's masklength-range
    ("16..24"; empty: the prefix's own length). Raises ValueError saying what is wrong."""
    try:
        net = ipaddress.ip_network(prefix.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"prefix {prefix!r}: {exc}") from None
    afi = AFI.IPV4 if net.version == 4 else AFI.IPV6
    width = _WIDTH[afi]
    text = masklength_range.strip()
    if not text:
        lo = hi = net.prefixlen
    else:
        low, sep, high = text.partition("..")
        if not sep or not low.strip().isdigit() or not high.strip().isdigit():
            raise ValueError(f"masklength-range {text!r} must be MIN..MAX, e.g. \"24..32\"")
        lo, hi = int(low), int(high)
        # A MIN below the prefix's own length is accepted and means that length: a
        # shorter route is never inside the network (GoBGP matches the same way).
        if not (lo <= hi and net.prefixlen <= hi <= width):
            raise ValueError(f"masklength-range {text!r} for {prefix}: needs "
                             f"MIN <= MAX and {net.prefixlen} <= MAX <= {width}")
    return PrefixEntry(afi, int(net.network_address), net.prefixlen, lo, hi)


def parse_address(text: str) -> tuple[AFI, int]:
    """An IPv4 or IPv6 address -> (AFI, the address as an int). Raises ValueError."""
    addr = ipaddress.ip_address(text.strip())
    return (AFI.IPV4 if addr.version == 4 else AFI.IPV6), int(addr)


@dataclass(slots=True)
class _Index:
    """One family's tables: entry length -> {network >> (width - length): ranges}."""

    width: int
    tables: dict[int, dict[int, tuple[Range, ...]]] = field(default_factory=dict)
    lengths: tuple[int, ...] = ()

    def add(self, entry: PrefixEntry) -> None:
        table = self.tables.setdefault(entry.length, {})
        top = entry.network >> (self.width - entry.length)
        rng = (entry.min_length, entry.max_length)
        known = table.get(top, ())
        if rng not in known:
            table[top] = (*known, rng)
        self.lengths = tuple(sorted(self.tables))


class PrefixSet:
    """A named, read-only set of prefix entries, indexed per length (see the module)."""

    __slots__ = ("_index", "entries", "name")

    def __init__(self, name: str, entries: tuple[PrefixEntry, ...]) -> None:
        self.name = name
        self.entries = entries
        self._index: dict[int, _Index] = {}
        for entry in entries:
            index = self._index.get(entry.afi)
            if index is None:
                index = self._index[entry.afi] = _Index(_WIDTH[entry.afi])
            index.add(entry)

    @classmethod
    def parse(cls, name: str, lines: tuple[tuple[str, str], ...]) -> PrefixSet:
        """From (prefix, masklength-range) pairs as GoBGP's prefix-list holds them."""
        return cls(name, tuple(parse_entry(p, r) for p, r in lines))

    def lengths(self, afi: int) -> tuple[int, ...]:
        """The entry lengths present for ``afi``, ascending: whether a prefix matches
        depends only on its length and its first (longest such length <= its own) bits."""
        index = self._index.get(afi)
        return () if index is None else index.lengths

    def matches(self, afi: int, address: int, length: int) -> bool:
        """Whether the prefix ``address``/``length`` of family ``afi`` is in the set."""
        return self._lookup(afi, address, length, None)

    def probes(self, afi: int, address: int, length: int) -> int:
        """How many table probes ``matches`` makes for this prefix (tests and benchmarks
        read it: the count depends on the lengths present, not on the entry count)."""
        count = [0]
        self._lookup(afi, address, length, count)
        return count[0]

    def _lookup(self, afi: int, address: int, length: int, count: list[int] | None) -> bool:
        index = self._index.get(afi)
        if index is None:
            return False
        width, tables = index.width, index.tables
        for n in index.lengths:
            if n > length:
                break
            if count is not None:
                count[0] += 1
            ranges = tables[n].get(address >> (width - n))
            if ranges is not None:
                for lo, hi in ranges:
                    if lo <= length <= hi:
                        return True
        return False

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"PrefixSet({self.name!r}, {len(self.entries)} entries)"


class AddressSet:
    """Addresses and prefixes ("192.0.2.1", "10.0.0.0/8", "2001:db8::/32") an address is
    tested against: GoBGP's neighbor-set and next-hop-in-list."""

    __slots__ = ("_prefixes", "items", "name")

    def __init__(self, name: str, items: tuple[str, ...]) -> None:
        self.name = name
        self.items = items
        entries = []
        for item in items:
            text = item.strip()
            try:
                net = ipaddress.ip_network(text, strict=True)
            except ValueError as exc:
                raise ValueError(f"{name}: {text!r} is not an address or prefix: {exc}") from None
            width = net.max_prefixlen
            afi = AFI.IPV4 if net.version == 4 else AFI.IPV6
            entries.append(PrefixEntry(afi, int(net.network_address), net.prefixlen,
                                       net.prefixlen, width))
        self._prefixes = PrefixSet(name, tuple(entries))

    def contains(self, address: str) -> bool:
        """Whether ``address`` is one of the addresses or inside one of the prefixes; a
        text that is not an address (an empty next hop) is in no set."""
        try:
            afi, value = parse_address(address)
        except ValueError:
            return False
        return self._prefixes.matches(afi, value, _WIDTH[afi])

    def __repr__(self) -> str:
        return f"AddressSet({self.name!r}, {list(self.items)!r})"
