"""Parse the GoBGP-style keyword syntax of ``gracebgp rib add`` into API path specs.

One route is ``PREFIX [nexthop ADDR] [origin igp|egp|incomplete] [community A:B ...]
[large-community A:B:C ...] [med N] [local-pref N]``; list keywords take one or more
values (space- or comma-separated) up to the next keyword. A ``--file`` holds one such
spec per line; blank lines and ``#`` comments are skipped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from gracebgp.api.schema import PathSpec

__all__ = ["KEYWORDS", "WordError", "check_prefix", "is_keyword", "parse_path_file", "parse_path_words",
           "prefixes_of_file"]

#: keyword -> (PathSpec field, takes a list of values)
_FIELDS: dict[str, tuple[str, bool]] = {
    "nexthop": ("next_hop", False),
    "origin": ("origin", False),
    "community": ("communities", True),
    "large-community": ("large_communities", True),
    "med": ("med", False),
    "local-pref": ("local_pref", False),
}
#: other spellings an operator may type
_ALIASES = {
    "next-hop": "nexthop",
    "communities": "community",
    "large-communities": "large-community",
    "largecommunity": "large-community",
    "localpref": "local-pref",
    "local-preference": "local-pref",
}
KEYWORDS = tuple(_FIELDS)
_ORIGINS = ("igp", "egp", "incomplete")


class WordError(ValueError):
    """A spec that cannot be understood; the text is one line for the operator."""


def _keyword(word: str) -> str | None:
    low = word.lower()
    low = _ALIASES.get(low, low)
    return low if low in _FIELDS else None


def is_keyword(word: str) -> bool:
    """Whether ``word`` is one of the route keywords (``nexthop``, ``community``, ...)."""
    return _keyword(word) is not None


def _integer(keyword: str, value: str) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        raise WordError(f"{keyword} needs a number, not {value!r}") from None
    if not 0 <= number <= 0xFFFFFFFF:
        raise WordError(f"{keyword} {value} is out of range (0..4294967295)")
    return number


def check_prefix(text: str) -> int:
    """The IP version of the prefix ``text`` (``192.0.2.0/24``, ``2001:db8::/32``), checked
    before anything is sent: a length, no host bits."""
    try:
        if "/" not in text:
            raise ValueError("no /length")
        return ipaddress.ip_network(text, strict=True).version
    except ValueError as exc:
        why = str(exc) if "host bits" in str(exc) or "/length" in str(exc) else "not an address/length"
        raise WordError(f"{text!r} is not a prefix such as 192.0.2.0/24 or 2001:db8::/32 ({why})") from None


def _next_hop(text: str, version: int) -> None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise WordError(f"nexthop {text!r} is not an IP address") from None
    if address.version != version:
        raise WordError(f"an IPv{version} route needs an IPv{version} next hop, not {text}")


def parse_path_words(words: Sequence[str]) -> PathSpec:
    """``["10.0.0.0/24", "nexthop", "192.0.2.1", "community", "65000:1"]`` -> PathSpec."""
    if not words:
        raise WordError("missing the prefix (e.g. rib add 10.0.0.0/24 nexthop 192.0.2.1)")
    prefix = words[0]
    if _keyword(prefix) is not None:
        raise WordError(f"expected a prefix first, not the keyword {prefix!r}")
    version = check_prefix(prefix)
    fields: dict[str, Any] = {"prefix": prefix}
    seen: set[str] = set()
    i = 1
    while i < len(words):
        word = words[i]
        keyword = _keyword(word)
        if keyword is None:
            raise WordError(f"unknown word {word!r} after {' '.join(words[:i])} "
                            f"(expected one of: {', '.join(KEYWORDS)})")
        if keyword in seen:
            raise WordError(f"{keyword} given twice")
        seen.add(keyword)
        field, many = _FIELDS[keyword]
        i += 1
        values: list[str] = []
        while i < len(words) and _keyword(words[i]) is None:
            values.extend(v for v in words[i].split(",") if v)
            i += 1
            if not many:
                break
        if not values:
            raise WordError(f"{keyword} needs a value" + (" (one or more)" if many else ""))
        if many:
            fields[field] = values
        elif keyword in ("med", "local-pref"):
            fields[field] = _integer(keyword, values[0])
        elif keyword == "origin":
            origin = values[0].lower()
            if origin not in _ORIGINS:
                raise WordError(f"origin must be one of {', '.join(_ORIGINS)}, not {values[0]!r}")
            fields[field] = origin
        else:
            if len(values) > 1:
                raise WordError(f"{keyword} takes one value, not {','.join(values)!r}")
            _next_hop(values[0], version)
            fields[field] = values[0]
    try:
        return PathSpec(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise WordError(f"{prefix}: {where}: {first.get('msg', 'invalid')}") from None


def _spec_lines(lines: Iterable[str], name: str) -> Iterable[tuple[str, list[str]]]:
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if words:
            yield f"{name}:{number}", words


def parse_path_file(lines: Iterable[str], name: str = "<file>") -> list[PathSpec]:
    """Every spec of a file, errors prefixed with ``file:line``."""
    specs = []
    for where, words in _spec_lines(lines, name):
        try:
            specs.append(parse_path_words(words))
        except WordError as exc:
            raise WordError(f"{where}: {exc}") from None
    return specs


def prefixes_of_file(lines: Iterable[str], name: str = "<file>") -> list[str]:
    """The prefixes of a file for ``rib del --file``: the first word of each line (so the
    same file serves add and del)."""
    return [words[0] for _, words in _spec_lines(lines, name)]
