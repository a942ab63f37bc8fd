"""AttrSet: one interned, immutable set of path attributes, and the RFC 6793 merge.

DESIGN.md section 3: each distinct path-attribute block is decoded once; decoding the same
raw block again (per codec context) returns the same ``AttrSet`` object from a dict.
RFC 6793 §4.2.3: on a session without 4-octet AS, AS_PATH and AS4_PATH (and AGGREGATOR and
AS4_AGGREGATOR) merge into the effective ``as_path`` / ``aggregator``; the attributes as
received stay in ``attrs`` so the block re-encodes byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gracebgp.wire.attributes import (
    Aggregator,
    As4Aggregator,
    As4Path,
    AsPath,
    Segment,
    encode_attribute,
    path_length,
)
from gracebgp.wire.attrtable import decode_one
from gracebgp.wire.iana import AS_TRANS, AttrType, SegmentType
from gracebgp.wire.outcome import Problem, UpdateAction

_CONFED = (SegmentType.AS_CONFED_SEQUENCE, SegmentType.AS_CONFED_SET)
_AS_PATH, _AGGREGATOR = int(AttrType.AS_PATH), int(AttrType.AGGREGATOR)  # (plain ints: no enum lookup)
_NEXT_HOP, _COMMUNITIES = int(AttrType.NEXT_HOP), int(AttrType.COMMUNITIES)  # (read per UPDATE, per export)
_ACCEPT = UpdateAction.ACCEPT  # (an enum member looked up in its class: 60 ns on CPython 3.11; bound once)


def merge_as4_path(as_path: tuple[Segment, ...], as4_path: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """RFC 6793 §4.2.3: leading ASes of AS_PATH that AS4_PATH lacks, then AS4_PATH."""
    as4_path = tuple(s for s in as4_path if s[0] not in _CONFED)
    keep = path_length(as_path) - path_length(as4_path)
    if keep < 0:  # "the AS4_PATH attribute SHALL be ignored"
        return as_path
    lead: list[Segment] = []
    for stype, asns in as_path:
        if stype in _CONFED:
            lead.append((stype, asns))
            continue
        if keep <= 0:
            break
        if stype == SegmentType.AS_SET:
            lead.append((stype, asns))
            keep -= 1
        else:
            take = asns[:keep]
            lead.append((stype, take))
            keep -= len(take)
    return tuple(lead) + as4_path


def _as_received(path: AsPath | None,
                 agg: Aggregator | None) -> tuple[tuple[Segment, ...], tuple[int, str] | None]:
    """The AS path and aggregator as the AS_PATH and AGGREGATOR attributes give them."""
    return (path.segments if path is not None else ()), ((agg.asn, agg.address) if agg is not None else None)


class AttrSet:
    """Immutable path attributes (MP_REACH/MP_UNREACH excluded: they carry NLRI).

    ``attrs`` holds one attribute per type, in wire order. ``problems`` are the RFC 7606
    errors found while decoding it and ``action`` the strongest of them; attributes that
    were discarded are not in ``attrs``. ``as_path``/``aggregator`` are the effective
    values (RFC 6793 merge applied on 2-octet sessions).
    """

    __slots__ = (  # (each slot is 8 octets on every attribute set of a full table, issue 14)
        "_as4",
        "_as_path",
        "_hash",
        "_home",
        "_key",
        "_wire4",
        "attrs",
        "complete_v4",
        "paths",
        "problems",
    )

    def __init__(self, attrs: Iterable[Any], problems: tuple[Problem, ...] = (),
                 as4: bool = True) -> None:
        attrs = tuple(attrs)
        self.attrs: tuple[Any, ...] = attrs
        self.problems = problems
        codes = {a.code for a in attrs}
        # RFC 4271 §5: what an UPDATE with IPv4 NLRI must carry (RFC 7606 §3 d checks it).
        self.complete_v4 = 1 in codes and 2 in codes and 3 in codes  # ORIGIN, AS_PATH, NEXT_HOP
        self._as4 = as4
        self._as_path: tuple[Segment, ...] | None = None
        self._hash: int | None = None
        self._wire4: bytes | None = None
        self._home: dict[Any, AttrSet] | None = None  # the intern table holding it
        self._key: Any = b""  # its key there
        #: The RIB's memo of the Paths made of this set (``rib.path.PathTable``): a weak
        #: reference, or next hop -> weak reference when several next hops share it.
        self.paths: Any = None

    def _effective(self) -> tuple[Segment, ...]:
        segments = self._effective_pair()[0]
        self._as_path = segments
        return segments

    def _effective_pair(self) -> tuple[tuple[Segment, ...], tuple[int, str] | None]:
        segments, aggregator = _as_received(self.get(_AS_PATH), self.get(_AGGREGATOR))
        if not self._as4:
            segments, aggregator = self._merge_as4(segments, aggregator)
        return segments, aggregator

    @property
    def action(self) -> UpdateAction:
        """The strongest action of ``problems`` (RFC 7606 §3 h), ACCEPT without any."""
        problems = self.problems
        return max(p.action for p in problems) if problems else _ACCEPT

    @classmethod
    def clean(cls, attrs: tuple[Any, ...], by_code: dict[int, Any], as4: bool) -> AttrSet:
        """The decoder's constructor for attributes without problems (one per type, as
        ``by_code`` already maps them): skips what ``__init__`` would recompute."""
        self = object.__new__(cls)
        self.attrs = attrs
        self.problems = ()
        self.complete_v4 = 1 in by_code and 2 in by_code and 3 in by_code
        self._as4 = as4
        self._as_path = None
        self._hash = None
        self._wire4 = None
        self._home = None
        self._key = b""
        self.paths = None
        return self

    @classmethod
    def decoded(cls, attrs: tuple[Any, ...], by_code: dict[int, Any], as4: bool) -> AttrSet:
        """``clean`` for the decoder, whose ``by_code`` maps type codes to attributes: on
        a 4-octet-AS session the effective AS_PATH is the received one, taken from it here
        rather than found by a scan later (every received set's AS_PATH is read: the loop
        check, the decision, the export)."""
        self = cls.clean(attrs, by_code, as4)
        if as4:
            path = by_code.get(_AS_PATH)
            self._as_path = path.segments if path is not None else ()
        return self

    def _merge_as4(self, segments: tuple[Segment, ...],
                   aggregator: tuple[int, str] | None) -> tuple[tuple[Segment, ...], tuple[int, str] | None]:
        # RFC 6793 §4.2.3: when AGGREGATOR and AS4_AGGREGATOR are both received and the
        # AGGREGATOR's AS is not AS_TRANS, AS4_AGGREGATOR and AS4_PATH SHALL be ignored;
        # otherwise AS4_AGGREGATOR names the aggregator.
        as4_agg = self.get(AttrType.AS4_AGGREGATOR)
        if aggregator is not None and as4_agg is not None:
            if aggregator[0] != AS_TRANS:
                return segments, aggregator
            aggregator = (as4_agg.asn, as4_agg.address)
        as4_path = self.get(AttrType.AS4_PATH)
        if as4_path is not None:
            segments = merge_as4_path(segments, as4_path.segments)
        return segments, aggregator

    @property
    def as_path(self) -> tuple[Segment, ...]:
        """The effective AS path (AS4_PATH merged in on 2-octet sessions)."""
        return self._as_path if self._as_path is not None else self._effective()

    @property
    def aggregator(self) -> tuple[int, str] | None:
        """The effective AGGREGATOR, found when read (policies, 2-octet exports read it)."""
        return self._effective_pair()[1]

    # Quick access to the attributes best-path selection reads (RFC 4271 §9.1.2.2).
    def get(self, code: int) -> Any:
        """The attribute of type ``code``, or None (a scan: sets hold a handful)."""
        for a in self.attrs:
            if a.code == code:
                return a
        return None

    @property
    def by_code(self) -> dict[int, Any]:
        """Type code -> attribute (built on each call; use ``get`` for one)."""
        return {a.code: a for a in self.attrs}

    @property
    def origin(self) -> int | None:
        a = self.get(AttrType.ORIGIN)
        return None if a is None else a.value

    @property
    def next_hop(self) -> str | None:
        a = self.get(_NEXT_HOP)
        return None if a is None else a.address

    @property
    def med(self) -> int | None:
        a = self.get(AttrType.MULTI_EXIT_DISC)
        return None if a is None else a.value

    @property
    def local_pref(self) -> int | None:
        a = self.get(AttrType.LOCAL_PREF)
        return None if a is None else a.value

    @property
    def communities(self) -> tuple[int, ...]:
        a = self.get(_COMMUNITIES)
        return () if a is None else a.values

    @property
    def large_communities(self) -> tuple[tuple[int, int, int], ...]:
        a = self.get(AttrType.LARGE_COMMUNITIES)
        return () if a is None else a.values

    @property
    def extended_communities(self) -> tuple[int, ...]:
        a = self.get(AttrType.EXTENDED_COMMUNITIES)
        return () if a is None else a.values

    def wire(self, as4: bool) -> bytes:
        """The encoded attribute block: with 4-octet AS numbers computed once, with 2-octet
        ones (a peer without RFC 6793) each time (no slot for it on every set: 16 octets
        per attribute set, issue 14 item 3)."""
        if not as4:
            return b"".join(encode_attribute(a, False) for a in self.attrs)
        w = self._wire4
        if w is None:
            w = self._wire4 = b"".join(encode_attribute(a, True) for a in self.attrs)
        return w

    def release(self) -> None:
        """No route uses this set any more: leave the intern table (if it is still the
        entry there), so the set is freed and the same block decodes anew next time."""
        home = self._home
        if home is not None:
            self._home = None
            if home.get(self._key) is self:
                del home[self._key]

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, AttrSet):
            return NotImplemented
        return self.attrs == other.attrs

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self.attrs)
        return self._hash

    def __repr__(self) -> str:
        return f"AttrSet({list(self.attrs)!r})"


def to_two_octet(attrs: AttrSet) -> AttrSet:
    """RFC 6793 §4.2.2: the attributes as sent to a speaker without 4-octet AS support.

    AS_PATH / AGGREGATOR keep their true numbers (the 2-octet encoding writes AS_TRANS for
    any above 65535); AS4_PATH / AS4_AGGREGATOR are added when some number needs them.
    """
    out = [a for a in attrs.attrs if a.code not in (AttrType.AS4_PATH, AttrType.AS4_AGGREGATOR)]
    big_path = any(asn > 0xFFFF for _, asns in attrs.as_path for asn in asns)
    agg = attrs.aggregator
    if big_path:
        out.append(As4Path(tuple(s for s in attrs.as_path if s[0] not in _CONFED)))
        out = [AsPath(attrs.as_path, a.flags) if a.code == AttrType.AS_PATH else a for a in out]
    if agg is not None and agg[0] > 0xFFFF:
        out = [Aggregator(agg[0], agg[1], a.flags) if a.code == AttrType.AGGREGATOR else a for a in out]
        out.append(As4Aggregator(agg[0], agg[1]))
    return AttrSet(out, as4=False)


# --- interning -----------------------------------------------------------------------
_CACHE_LIMIT = 1 << 20
_block_caches: dict[tuple[bool, bool], dict[bytes, AttrSet]] = {}
_attr_caches: dict[tuple[bool, bool], dict[bytes, Any]] = {}
_derived_caches: dict[bool, dict[bytes, AttrSet]] = {True: {}, False: {}}
_value_caches: dict[bool, dict[Any, AttrSet]] = {True: {}, False: {}}  # intern_value


class Flawed:
    """Attribute-table entry for a TLV that decoded with an RFC 7606 problem; ``attr`` is
    None when the attribute is dropped. Clean TLVs map straight to their attribute."""

    __slots__ = ("attr", "problem")

    def __init__(self, attr: Any, problem: Problem) -> None:
        self.attr = attr
        self.problem = problem


def block_cache(as4: bool, ibgp: bool) -> dict[bytes, AttrSet]:
    """The raw-block -> AttrSet intern table for one decoding context."""
    cache = _block_caches.get((as4, ibgp))
    if cache is None:
        cache = _block_caches[(as4, ibgp)] = {}
    return cache


def attr_cache(as4: bool, ibgp: bool) -> dict[bytes, Any]:
    """The raw-TLV -> (attribute, problem) table for one decoding context: each distinct
    attribute is decoded once, so a new block made of known attributes costs lookups."""
    cache = _attr_caches.get((as4, ibgp))
    if cache is None:
        cache = _attr_caches[(as4, ibgp)] = {}
    return cache


def decode_attribute(tlv: bytes, as4: bool = True, ibgp: bool = True) -> tuple[Any, Problem | None]:
    """Decode one whole attribute TLV (header included): (attribute or None, the RFC 7606
    problem or None). Goes through the attribute table, so a repeat is a lookup."""
    entry = attr_cache(as4, ibgp).get(tlv)
    if entry is None:
        entry = decode_tlv(tlv, as4, ibgp)
    if entry.__class__ is Flawed:
        return entry.attr, entry.problem
    return entry, None


def decode_block(block: bytes) -> AttrSet:
    """An attribute block this speaker encoded (4-octet AS numbers, no MP attribute)
    decoded again, not interned and not through the attribute table (views, explain and
    2-octet-AS peers read it; none of it is kept): what a path kept as its encoding shows
    (``rib.path.Exported``). AS_PATH never has Extended Length by choice when exported
    (``export`` makes it with the default flags): a flag that its 4-octet length forced is
    dropped, so the 2-octet encoding is as short as before (RFC 4271 §4.3)."""
    attrs: list[Any] = []
    i, n = 0, len(block)
    while i < n:
        flags, code = block[i], block[i + 1]
        if flags & 0x10:  # Extended Length
            start = i + 4
            end = start + (block[i + 2] << 8 | block[i + 3])
            if code == AttrType.AS_PATH:
                flags &= ~0x10
        else:
            start = i + 3
            end = start + block[i + 2]
        attr, _ = decode_one(code, flags, block[start:end], block[i:end], True, True)
        if attr is not None:
            attrs.append(attr)
        i = end
    return AttrSet(attrs)


def decode_tlv(raw: bytes, as4: bool, ibgp: bool) -> Any:
    """Decode one non-MP attribute TLV and remember it: the attribute, or a Flawed."""
    flags = raw[0]
    attr, problem = decode_one(raw[1], flags, raw[4 if flags & 0x10 else 3:], raw, as4, ibgp)
    entry = attr if problem is None else Flawed(attr, problem)
    cache = attr_cache(as4, ibgp)
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[raw] = entry
    return entry


def intern(cache: dict[bytes, AttrSet], key: bytes, attrs: AttrSet) -> AttrSet:
    """Remember ``attrs`` as the decoding of block ``key`` until ``attrs.release()`` (the
    RIB calls it when the last route using the set is gone)."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()  # only sets that never became a route can pile up to here
    cache[key] = attrs
    attrs._home, attrs._key = cache, key
    return attrs


def intern_derived(attrs: AttrSet) -> AttrSet:
    """The one shared set with the content of ``attrs`` (a set built here, not decoded:
    an export, a locally originated route), keyed by its encoding. Exporting the same
    path again, or to another peer with the same result, gives the same object back;
    it leaves the table with ``release()`` like a decoded block."""
    if attrs._home is not None or attrs.problems:
        return attrs
    cache = _derived_caches[attrs._as4]
    key = attrs.wire(True)
    known = cache.get(key)
    if known is not None:
        return known
    return intern(cache, key, attrs)


def intern_value(attrs: AttrSet) -> AttrSet:
    """Like ``intern_derived``, keyed by the attributes' values instead of their
    encoding: no encoding is made, which a set that may never be sent (a route changed by
    import policy) does not need. Equal content gives the same object back; the set
    leaves the table with ``release()``."""
    if attrs._home is not None or attrs.problems:
        return attrs
    cache = _value_caches[attrs._as4]
    known = cache.get(attrs)
    if known is not None:
        return known
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[attrs] = attrs
    attrs._home, attrs._key = cache, attrs
    return attrs


def interned_count() -> int:
    """Attribute sets held by the intern tables (decoded blocks and derived sets)."""
    return (sum(len(c) for c in _block_caches.values()) + sum(len(c) for c in _derived_caches.values())
            + sum(len(c) for c in _value_caches.values()))


def clear_caches() -> None:
    """Forget every interned block and attribute (benchmarks start cold with this)."""
    _block_caches.clear()
    _attr_caches.clear()
    for cache in (*_derived_caches.values(), *_value_caches.values()):
        cache.clear()
