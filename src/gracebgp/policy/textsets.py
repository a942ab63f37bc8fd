"""Regular-expression sets over the text form of communities and AS paths (GoBGP's
community-sets, ext-community-sets, large-community-sets, as-path-sets).

GoBGP's rules, as facts:

* community-set entry (RFC 1997 communities, text "HIGH:LOW" in decimal): a plain
  32-bit number N matches exactly ``N >> 16 : N & 0xffff``; an entry that is wholly of the
  form ``(\\d+.)*\\d+:\\d+`` ("65100:1") is anchored (``^entry$``), so it matches exactly;
  a well-known name ("no-export", "NO_EXPORT") matches that community; anything else is a
  regular expression used as written, unanchored ("^65100:.*$", "65100:").
* large-community-set entry (RFC 8092, text "G:L1:L2"): an entry containing
  ``\\d+:\\d+:\\d+`` anywhere is wrapped in ``^...$`` ("65000:1:2" matches exactly);
  anything else is a regular expression as written ("^65000:1:.*$").
* ext-community-set entry (RFC 4360): "rt:VALUE" or "soo:VALUE"; the subtype must equal
  the community's (route target 0x02, route origin 0x03) and VALUE follows the
  community-set rule against the community's value text: "ASN:N" (two-octet AS
  specific, type 0x00), "A.B.C.D:N" (IPv4 address specific, 0x01), "HIGH.LOW:N"
  (four-octet AS specific, 0x02, the AS printed as two 16-bit halves, as GoBGP prints it).
* as-path-set entry: a regular expression over the AS path text, in which every ``_``
  stands for ``(^|[,{}() ]|$)``: the start, the end, or one of the characters that
  separate AS numbers in the text. The text is the AS numbers of an AS_SEQUENCE
  separated by spaces, an AS_SET as "{A,B}", an AS_CONFED_SEQUENCE as "(A B)", an
  AS_CONFED_SET as "[A,B]", segments separated by spaces. So ``_65001_`` matches 65001
  anywhere, ``^65001_`` as the neighbor AS, ``_65001$`` as the origin AS.

Python's ``re`` stands in for Go's RE2; the syntax these sets use (anchors, classes,
repetition, alternation) means the same in both.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gracebgp.wire.attributes import Segment
from gracebgp.wire.iana import SegmentType, WellKnownCommunity

_COMMUNITY_LITERAL = re.compile(r"(\d+.)*\d+:\d+")
_LARGE_LITERAL = re.compile(r"\d+:\d+:\d+")
_HITS_LIMIT = 1 << 16  # values remembered per set (TextSet.hits_of)
AS_PATH_SEPARATOR = "(^|[,{}() ]|$)"

#: RFC 4360 §5 (route target) and §5 (route origin) subtypes, by GoBGP's names.
EXT_SUBTYPES = {"rt": 0x02, "soo": 0x03}


def _compile(text: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"{what} {text!r} is not a valid regular expression: {exc}") from None


def _well_known(text: str) -> int | None:
    name = text.strip().upper().replace("-", "_")
    member = WellKnownCommunity.__members__.get(name)
    return None if member is None else int(member)


def community_text(value: int) -> str:
    """RFC 1997 community as GoBGP's policies see it: "HIGH:LOW" in decimal."""
    return f"{value >> 16}:{value & 0xFFFF}"


def community_pattern(entry: str) -> re.Pattern[str]:
    """One community-set entry (or set-community remove entry) -> its pattern."""
    text = entry.strip()
    if text.isdigit():
        value = int(text)
        if value > 0xFFFFFFFF:
            raise ValueError(f"community {text!r} is more than 32 bits")
        return re.compile(f"^{community_text(value)}$")
    if _COMMUNITY_LITERAL.fullmatch(text):
        return _compile(f"^{text}$", "community")
    known = _well_known(text)
    if known is not None:
        return re.compile(f"^{community_text(known)}$")
    return _compile(text, "community")


def large_community_text(value: tuple[int, int, int]) -> str:
    return f"{value[0]}:{value[1]}:{value[2]}"


def large_community_pattern(entry: str) -> re.Pattern[str]:
    text = entry.strip()
    if _LARGE_LITERAL.search(text):
        return _compile(f"^{text}$", "large community")
    return _compile(text, "large community")


def ext_community_value_text(value: int) -> tuple[int, str] | None:
    """(subtype, value text) of an RFC 4360 two-octet AS, IPv4 or four-octet AS specific
    community; None for the other types (no ext-community-set entry names them)."""
    etype, subtype = (value >> 56) & 0x3F, (value >> 48) & 0xFF  # §2: bit 6 = non-transitive
    if etype == 0x00:
        return subtype, f"{(value >> 32) & 0xFFFF}:{value & 0xFFFFFFFF}"
    if etype == 0x01:
        return subtype, f"{ipaddress.IPv4Address((value >> 16) & 0xFFFFFFFF)}:{value & 0xFFFF}"
    if etype == 0x02:
        asn = (value >> 16) & 0xFFFFFFFF
        return subtype, f"{asn >> 16}.{asn & 0xFFFF}:{value & 0xFFFF}"
    return None


@dataclass(frozen=True, slots=True)
class ExtPattern:
    """One ext-community-set entry: the subtype it requires and the value pattern."""

    subtype: int
    pattern: re.Pattern[str]

    def matches(self, value: int) -> bool:
        parts = ext_community_value_text(value)
        return parts is not None and parts[0] == self.subtype and bool(self.pattern.search(parts[1]))


def _ext_split(entry: str) -> tuple[int, str]:
    kind, sep, rest = entry.strip().partition(":")
    subtype = EXT_SUBTYPES.get(kind.lower())
    if not sep or subtype is None:
        raise ValueError(f"extended community {entry!r} must be rt:VALUE or soo:VALUE "
                         "(other kinds are not supported)")
    return subtype, rest


def ext_community_pattern(entry: str) -> ExtPattern:
    subtype, rest = _ext_split(entry)
    return ExtPattern(subtype, community_pattern(rest))


def parse_ext_community(entry: str) -> int:
    """"rt:65000:100", "rt:10.0.0.1:100", "rt:4200000000:100" or "soo:..." -> the
    64-bit RFC 4360 value (two-octet AS, IPv4 or four-octet AS specific, RFC 5668)."""
    subtype, rest = _ext_split(entry)
    admin, sep, local_text = rest.rpartition(":")
    if not sep or not local_text.isdigit():
        raise ValueError(f"extended community {entry!r}: the value must be ADMIN:NUMBER")
    local = int(local_text)
    if admin.count(".") == 3:
        ip = int(ipaddress.IPv4Address(admin))
        if local > 0xFFFF:
            raise ValueError(f"extended community {entry!r}: number above 65535")
        return 0x01 << 56 | subtype << 48 | ip << 16 | local
    if admin.count(".") == 1:
        high, low = admin.split(".")
        asn = int(high) << 16 | int(low)
    elif admin.isdigit():
        asn = int(admin)
    else:
        raise ValueError(f"extended community {entry!r}: {admin!r} is not an AS or address")
    if asn <= 0xFFFF and "." not in admin:
        if local > 0xFFFFFFFF:
            raise ValueError(f"extended community {entry!r}: number above 2^32-1")
        return subtype << 48 | asn << 32 | local
    if asn > 0xFFFFFFFF or local > 0xFFFF:
        raise ValueError(f"extended community {entry!r}: four-octet AS with number above 65535")
    return 0x02 << 56 | subtype << 48 | asn << 16 | local


def as_path_text(segments: Iterable[Segment]) -> str:
    """The AS path as GoBGP's as-path-sets see it (see the module docstring)."""
    parts = []
    for stype, asns in segments:
        if stype == SegmentType.AS_SET:
            parts.append("{" + ",".join(map(str, asns)) + "}")
        elif stype == SegmentType.AS_CONFED_SEQUENCE:
            parts.append("(" + " ".join(map(str, asns)) + ")")
        elif stype == SegmentType.AS_CONFED_SET:
            parts.append("[" + ",".join(map(str, asns)) + "]")
        else:
            parts.append(" ".join(map(str, asns)))
    return " ".join(parts)


def as_path_pattern(entry: str) -> re.Pattern[str]:
    """One as-path-set entry: ``_`` becomes the separator group, the rest stays."""
    return _compile(entry.strip().replace("_", AS_PATH_SEPARATOR), "as-path")


class TextSet:
    """A named set of compiled entries (the entries as written are kept for display)."""

    __slots__ = ("_any", "_hits", "entries", "name", "patterns")

    def __init__(self, name: str, entries: tuple[str, ...],
                 patterns: tuple[re.Pattern[str], ...]) -> None:
        self.name = name
        self.entries = entries
        self.patterns = patterns
        self._hits: dict[Any, tuple[bool, ...]] = {}
        self._any: dict[Any, bool] = {}

    def hits_of(self, values: Sequence[Any], text: Callable[[Any], str]) -> list[bool]:
        """Per entry, whether it matches some of ``values`` (each value's text, ``text``,
        searched once per set and value and remembered; bounded)."""
        memo, patterns = self._hits, self.patterns
        found = [False] * len(patterns)
        for v in values:
            row = memo.get(v)
            if row is None:
                if len(memo) >= _HITS_LIMIT:
                    memo.clear()
                t = text(v)
                row = memo[v] = tuple(p.search(t) is not None for p in patterns)
            for i, hit in enumerate(row):
                if hit:
                    found[i] = True
        return found

    def any_of(self, values: Sequence[Any], text: Callable[[Any], str]) -> bool:
        """Whether some entry matches some of ``values``: ``hits_of``'s answer for the
        any / invert options, kept per value as one flag (the common test)."""
        memo = self._any
        for v in values:
            hit = memo.get(v)
            if hit is None:
                hit = self._any_miss(v, text)
            if hit:
                return True
        return False

    def _any_miss(self, value: Any, text: Callable[[Any], str]) -> bool:
        memo = self._any
        if len(memo) >= _HITS_LIMIT:
            memo.clear()
        hit = memo[value] = any(self.hits_of((value,), text))
        return hit

    @classmethod
    def communities(cls, name: str, entries: tuple[str, ...]) -> TextSet:
        return cls(name, entries, tuple(community_pattern(e) for e in entries))

    @classmethod
    def large_communities(cls, name: str, entries: tuple[str, ...]) -> TextSet:
        return cls(name, entries, tuple(large_community_pattern(e) for e in entries))

    @classmethod
    def as_paths(cls, name: str, entries: tuple[str, ...]) -> TextSet:
        return cls(name, entries, tuple(as_path_pattern(e) for e in entries))

    def __repr__(self) -> str:
        return f"TextSet({self.name!r}, {list(self.entries)!r})"


class ExtCommunitySet:
    """A named ext-community-set."""

    __slots__ = ("entries", "name", "patterns")

    def __init__(self, name: str, entries: tuple[str, ...]) -> None:
        self.name = name
        self.entries = entries
        self.patterns = tuple(ext_community_pattern(e) for e in entries)

    def __repr__(self) -> str:
        return f"ExtCommunitySet({self.name!r}, {list(self.entries)!r})"
