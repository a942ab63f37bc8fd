"""Statement actions (GoBGP's bgp-actions) and the draft they edit.

An action changes a ``Draft``: a working copy of the route's attributes (one per type) and
its next-hop choice. The draft is made only when a matching statement has actions; at the
end ``Draft.result`` builds the new ``AttrSet`` through ``intern_value``, so equal
results are one shared object, and gives back the original set when nothing changed.

A draft of a set decoded on a 2-octet-AS session starts from the effective AS path and
aggregator (RFC 6793 §4.2.3 merge) without AS4_PATH / AS4_AGGREGATOR: the export side
re-adds them for such peers (``wire.attrset.to_two_octet``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from operator import attrgetter
from typing import Any, ClassVar, Protocol

from gracebgp.policy.prefixes import parse_address
from gracebgp.policy.textsets import (
    community_pattern,
    community_text,
    ext_community_pattern,
    large_community_pattern,
    large_community_text,
    parse_ext_community,
)
from gracebgp.wire.attributes import WELL_KNOWN, Aggregator, AsPath, LocalPref, MultiExitDisc, Segment
from gracebgp.wire.attrset import AttrSet, intern_value
from gracebgp.wire.communities import (
    Communities,
    ExtendedCommunities,
    LargeCommunities,
    parse_community,
    parse_large_community,
)
from gracebgp.wire.iana import AttrType, SegmentType

_U32 = 0xFFFFFFFF
_MAX_SEGMENT = 255  # RFC 4271 §4.3: a segment's length is one octet
_CONFED = (SegmentType.AS_CONFED_SEQUENCE, SegmentType.AS_CONFED_SET)
_AS4_CODES = (AttrType.AS4_PATH, AttrType.AS4_AGGREGATOR)


class NextHopKind(IntEnum):
    """GoBGP's set-next-hop: an address, "self" (our address on the session the route
    goes out on), or "unchanged" (keep the next hop even where eBGP would rewrite it)."""

    ADDRESS = 0
    SELF = 1
    UNCHANGED = 2


@dataclass(frozen=True, slots=True)
class NextHopChoice:
    kind: NextHopKind
    address: str = ""

    def __str__(self) -> str:
        return self.address if self.kind is NextHopKind.ADDRESS else self.kind.name.lower()


class Draft:
    """The attributes being edited by one evaluation (see the module docstring).

    Only the attributes an action touched are kept (``changes``, code -> attribute, None
    for removed); the others are read from ``base``, so a draft costs what its actions
    change, not a copy of every attribute (issue 16 item 6)."""

    __slots__ = ("base", "changes", "next_hop")

    def __init__(self, base: AttrSet) -> None:
        self.base = base
        self.next_hop: NextHopChoice | None = None
        changes: dict[int, Any] = {}
        for a in base.attrs:
            if a.code in _AS4_CODES:
                changes = self._two_octet(base)
                break
        self.changes = changes

    @staticmethod
    def _two_octet(base: AttrSet) -> dict[int, Any]:
        """A set of a 2-octet-AS session: the effective AS path and aggregator replace
        AS_PATH / AGGREGATOR, and AS4_PATH / AS4_AGGREGATOR go (module docstring)."""
        changes: dict[int, Any] = {AttrType.AS4_PATH: None, AttrType.AS4_AGGREGATOR: None}
        old = base.get(AttrType.AS_PATH)
        changes[AttrType.AS_PATH] = AsPath(base.as_path, *(() if old is None else (old.flags,)))
        agg, old_agg = base.aggregator, base.get(AttrType.AGGREGATOR)
        if agg is not None and old_agg is not None:
            changes[AttrType.AGGREGATOR] = Aggregator(agg[0], agg[1], old_agg.flags)
        return changes

    def get(self, code: int) -> Any:
        changes = self.changes
        return changes[code] if code in changes else self.base.get(code)

    def put(self, code: int, attr: Any) -> None:
        """Set attribute ``code``; None removes it."""
        self.changes[code] = attr

    def view(self) -> AttrSet:
        """The attributes as they stand (a fresh set in type order, for the conditions of
        later statements); the original set when nothing changed."""
        changes, base = self.changes, self.base
        for code, attr in changes.items():
            old = base.get(code)
            if old is not attr and (old is None or attr is None or old != attr):
                break
        else:
            return base  # every change put back what was there (or removed what was not)
        out = [a for a in base.attrs if a.code not in changes]
        out += [a for a in changes.values() if a is not None]
        out.sort(key=_CODE)
        return AttrSet(out)

    def result(self) -> AttrSet:
        """The final attributes: the original set, or the one interned derived set."""
        view = self.view()
        return view if view is self.base else intern_value(view)


_CODE = attrgetter("code")


class Action(Protocol):
    def apply(self, draft: Draft) -> None: ...

    def describe(self) -> str: ...


class SetOp(IntEnum):
    """set-community / set-ext-community / set-large-community options."""

    ADD = 0
    REMOVE = 1
    REPLACE = 2


@dataclass(frozen=True, slots=True)
class _Kind:
    name: str
    code: int
    make: Callable[..., Any]
    parse: Callable[[str], Any]
    remover: Callable[[str], Callable[[Any], bool]]


def _text_remover(compile_: Callable[[str], re.Pattern[str]],
                  text: Callable[[Any], str]) -> Callable[[str], Callable[[Any], bool]]:
    def build(entry: str) -> Callable[[Any], bool]:
        pattern = compile_(entry)
        return lambda value: pattern.search(text(value)) is not None
    return build


def _ext_remover(entry: str) -> Callable[[Any], bool]:
    return ext_community_pattern(entry).matches


COMMUNITY = _Kind("community", AttrType.COMMUNITIES, Communities, parse_community,
                  _text_remover(community_pattern, community_text))
EXT_COMMUNITY = _Kind("ext-community", AttrType.EXTENDED_COMMUNITIES, ExtendedCommunities,
                      parse_ext_community, _ext_remover)
LARGE_COMMUNITY = _Kind("large-community", AttrType.LARGE_COMMUNITIES, LargeCommunities,
                        parse_large_community,
                        _text_remover(large_community_pattern, large_community_text))


@dataclass(frozen=True, slots=True)
class SetCommunities:
    """add / remove / replace for RFC 1997, RFC 4360 or RFC 8092 communities.

    ``add`` appends the values the route does not carry yet; ``replace`` puts exactly the
    values (an empty list removes the attribute); ``remove`` takes the set-entry syntax
    of ``textsets`` (regular expressions, exact for "65000:1") and drops every value
    that one of them matches. An attribute left empty is removed (RFC 7606 §7.8, §7.14
    and RFC 8092 §6 make an empty one malformed).
    """

    kind: _Kind
    op: SetOp
    entries: tuple[str, ...]
    values: tuple[Any, ...] = field(init=False)
    #: Made from ``entries`` (functions compare by identity): not compared, so the same
    #: action loaded again is equal, and an unchanged export policy keeps its memo slot.
    removers: tuple[Callable[[Any], bool], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        kind, remove = self.kind, self.op is SetOp.REMOVE
        values = () if remove else tuple(dict.fromkeys(kind.parse(e) for e in self.entries))
        removers = tuple(kind.remover(e) for e in self.entries) if remove else ()
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "removers", removers)

    def apply(self, draft: Draft) -> None:
        old = draft.get(self.kind.code)
        current: tuple[Any, ...] = () if old is None else old.values
        if self.op is SetOp.ADD:
            values = self.values
            if len(values) == 1:  # the usual case: one community added
                new = current if values[0] in current else current + values
            else:
                new = current + tuple(v for v in values if v not in current)
        elif self.op is SetOp.REPLACE:
            new = self.values
        else:
            new = tuple(v for v in current if not any(r(v) for r in self.removers))
        if new == current:
            return
        flags = () if old is None else (old.flags,)
        draft.put(self.kind.code, self.kind.make(new, *flags) if new else None)

    def describe(self) -> str:
        return f"set-{self.kind.name} {self.op.name.lower()} {','.join(self.entries)}"


def set_community(op: SetOp, entries: tuple[str, ...]) -> SetCommunities:
    return SetCommunities(COMMUNITY, op, entries)


def set_ext_community(op: SetOp, entries: tuple[str, ...]) -> SetCommunities:
    return SetCommunities(EXT_COMMUNITY, op, entries)


def set_large_community(op: SetOp, entries: tuple[str, ...]) -> SetCommunities:
    return SetCommunities(LARGE_COMMUNITY, op, entries)


@dataclass(frozen=True, slots=True)
class SetMed:
    """MULTI_EXIT_DISC (RFC 4271 §5.1.4): a value, or "+N" / "-N" added to the current
    MED (0 when the route has none). GoBGP's rule for a result outside 0..2^32-1: the
    action is not applied (the MED stays as it was), so a GoBGP file behaves the same."""

    text: str
    relative: bool = field(init=False)
    value: int = field(init=False)

    def __post_init__(self) -> None:
        text = self.text.strip()
        relative = text[:1] in ("+", "-")
        digits = text[1:] if relative else text
        if not digits.isdigit():
            raise ValueError(f"set-med {self.text!r} must be a number, +N or -N")
        value = int(digits) * (-1 if text[:1] == "-" else 1)
        if not relative and value > _U32:
            raise ValueError(f"set-med {self.text!r} is above 2^32-1")
        object.__setattr__(self, "relative", relative)
        object.__setattr__(self, "value", value)

    def apply(self, draft: Draft) -> None:
        old = draft.get(AttrType.MULTI_EXIT_DISC)
        if self.relative:
            med = (0 if old is None else old.value) + self.value
            if not 0 <= med <= _U32:
                return  # under- or overflow: GoBGP leaves the route's MED alone
        else:
            med = self.value
        flags = () if old is None else (old.flags,)
        draft.put(AttrType.MULTI_EXIT_DISC, MultiExitDisc(med, *flags))

    def describe(self) -> str:
        return f"set-med {self.text.strip()}"


@dataclass(frozen=True, slots=True)
class SetLocalPref:
    """LOCAL_PREF (RFC 4271 §5.1.5). It is only sent to internal peers: the Adj-RIB-Out
    drops it towards external ones, as without policy. (GoBGP reads set-local-pref = 0
    as "not set": the config compiler should make no action of it.)"""

    value: int
    #: The attribute made, per flags (one object for every route it is set on).
    made: dict[int, LocalPref] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.value <= _U32:
            raise ValueError(f"set-local-pref {self.value} is outside 0..2^32-1")

    def apply(self, draft: Draft) -> None:
        old = draft.get(AttrType.LOCAL_PREF)
        flags = WELL_KNOWN if old is None else old.flags
        attr = self.made.get(flags)
        if attr is None:
            attr = self.made[flags] = LocalPref(self.value, flags)
        draft.put(AttrType.LOCAL_PREF, attr)

    def describe(self) -> str:
        return f"set-local-pref {self.value}"


@dataclass(frozen=True, slots=True)
class SetNextHop:
    """set-next-hop: an address, "self" or "unchanged". The engine only records the
    choice (``Decision.next_hop``); the caller applies it, since "self" is the local
    address of the session the route is sent on and the next hop of an MP route is not
    in its AttrSet."""

    choice: NextHopChoice

    @classmethod
    def parse(cls, text: str) -> SetNextHop:
        word = text.strip().lower()
        if word == "self":
            return cls(NextHopChoice(NextHopKind.SELF))
        if word == "unchanged":
            return cls(NextHopChoice(NextHopKind.UNCHANGED))
        try:
            parse_address(word)
        except ValueError:
            raise ValueError(f"set-next-hop {text!r} must be an address, self or unchanged") from None
        return cls(NextHopChoice(NextHopKind.ADDRESS, word))

    def apply(self, draft: Draft) -> None:
        draft.next_hop = self.choice

    def describe(self) -> str:
        return f"set-next-hop {self.choice}"


def prepend(segments: tuple[Segment, ...], asn: int, count: int) -> tuple[Segment, ...]:
    """RFC 4271 §5.1.2: ``asn`` ``count`` times at the front, in the leading AS_SEQUENCE
    when there is one with room, else in new AS_SEQUENCE segments of at most 255."""
    lead: tuple[int, ...] = (asn,) * count
    rest = segments
    if rest and rest[0][0] == SegmentType.AS_SEQUENCE:
        lead, rest = lead + rest[0][1], rest[1:]
    chunks = tuple((int(SegmentType.AS_SEQUENCE), lead[i:i + _MAX_SEGMENT])
                   for i in range(0, len(lead), _MAX_SEGMENT))
    return chunks + rest


@dataclass(frozen=True, slots=True)
class PrependAsPath:
    """set-as-path-prepend: ``asn`` (None for "last-as": the leftmost AS of the path,
    the neighbor's) repeated ``repeat`` times. "last-as" does nothing on an empty path
    or one whose first segment (confederation segments aside) is an AS_SET, as in GoBGP."""

    LAST_AS: ClassVar[str] = "last-as"
    asn: int | None
    repeat: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.repeat <= _MAX_SEGMENT:
            raise ValueError(f"set-as-path-prepend repeat-n {self.repeat} is outside 1..255")
        if self.asn is not None and not 0 < self.asn <= _U32:
            raise ValueError(f"set-as-path-prepend as {self.asn} is outside 1..2^32-1")

    @classmethod
    def parse(cls, as_text: str, repeat: int = 1) -> PrependAsPath:
        text = str(as_text).strip().lower()
        if text == cls.LAST_AS:
            return cls(None, repeat)
        if not text.isdigit():
            raise ValueError(f"set-as-path-prepend as {as_text!r} must be an AS number or last-as")
        return cls(int(text), repeat)

    def apply(self, draft: Draft) -> None:
        old = draft.get(AttrType.AS_PATH)
        segments: tuple[Segment, ...] = () if old is None else old.segments
        asn = self.asn
        if asn is None:
            lead = next((seg for seg in segments if seg[0] not in _CONFED), None)
            if lead is None or lead[0] != SegmentType.AS_SEQUENCE or not lead[1]:
                return  # no path, or it starts with an AS_SET: no single neighbor AS
            asn = lead[1][0]
        flags = () if old is None else (old.flags,)
        draft.put(AttrType.AS_PATH, AsPath(prepend(segments, asn, self.repeat), *flags))

    def describe(self) -> str:
        who = self.LAST_AS if self.asn is None else str(self.asn)
        return f"set-as-path-prepend {who} x{self.repeat}"
