"""UPDATE messages: parse into an explicit RFC 7606 outcome, encode, pack, End-of-RIB.

RFC 4271 §4.3 (format), §6.3 (errors) as revised by RFC 7606 §3-§5; RFC 4760 (MP_REACH /
MP_UNREACH); RFC 4724 §2 (End-of-RIB); RFC 7911 (ADD-PATH NLRI).

UPDATE body::

    +-----------------------------------------------------+
    |   Withdrawn Routes Length (2 octets)                |
    |   Withdrawn Routes (variable)                       |
    |   Total Path Attribute Length (2 octets)            |
    |   Path Attributes (variable)                        |
    |   Network Layer Reachability Information (variable) |
    +-----------------------------------------------------+
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from gracebgp.errors import CodecError, EncodeError
from gracebgp.types import IPV4_UNICAST, Family, make_family
from gracebgp.wire.attributes import EXT_LEN, OPTIONAL, OPTIONAL_TRANSITIVE, AttrMalformed, encode_attribute
from gracebgp.wire.attrset import AttrSet, Flawed, attr_cache, block_cache, decode_tlv, intern
from gracebgp.wire.context import CodecContext
from gracebgp.wire.iana import HEADER_LEN, MARKER, AttrType, NotificationCode
from gracebgp.wire.iana import UpdateSubcode as S
from gracebgp.wire.mpnlri import MpReach, MpUnreach
from gracebgp.wire.nlri import decode_prefixes, encode_prefixes, prefix_wire_len
from gracebgp.wire.outcome import Problem, UpdateAction

A = UpdateAction
_REACH, _UNREACH = int(AttrType.MP_REACH_NLRI), int(AttrType.MP_UNREACH_NLRI)
_MP = frozenset((_REACH, _UNREACH))  # RFC 4760 §3, §4
_OT = OPTIONAL_TRANSITIVE
_ACCEPT = A.ACCEPT  # (the hot path's outcome: an enum member looked up once, not per UPDATE)
# The hot path builds its UpdateResult and Update by tuple.__new__ with every field given:
# 190 ns less per UPDATE than the NamedTuples' generated __new__, which fills in defaults
# (tests/unit/wire/test_rfc7606.py: equal to what the constructors build).
_new = tuple.__new__


class Update(NamedTuple):
    """A decoded UPDATE. ``withdrawn``/``nlri`` are IPv4-unicast prefix keys (see nlri).

    ``layout`` is the wire order of attribute type codes, kept only when MP_REACH /
    MP_UNREACH were not the first attributes, so that such a message re-encodes exactly.
    Immutable; a NamedTuple rather than a frozen dataclass because one is built per
    received UPDATE and a frozen dataclass costs five times as much to construct.
    """

    withdrawn: tuple[int, ...] = ()
    attrs: AttrSet | None = None
    nlri: tuple[int, ...] = ()
    mp_reach: MpReach | None = None
    mp_unreach: MpUnreach | None = None
    layout: tuple[int, ...] = ()

    @property
    def eor_family(self) -> Family | None:
        """RFC 4724 §2: the family this UPDATE ends the RIB of, or None."""
        if self.withdrawn or self.nlri or self.mp_reach is not None or self.attrs is not None:
            return None
        if self.mp_unreach is None:
            return IPV4_UNICAST
        u = self.mp_unreach
        return None if u.withdrawn or u.raw else make_family(u.afi, u.safi)


class UpdateResult(NamedTuple):
    """What parsing an UPDATE decided (RFC 7606 §2).

    * ACCEPT / ATTRIBUTE_DISCARD: apply ``update`` (discarded attributes are gone from it).
    * TREAT_AS_WITHDRAW: withdraw every prefix ``update`` carries, reachable or not.
    * SESSION_RESET: send ``error`` as NOTIFICATION; ``update`` may be None.
    """

    action: UpdateAction
    update: Update | None
    problems: tuple[Problem, ...] = ()
    eor: Family | None = None
    error: CodecError | None = None


# (``_new`` gives every field by position: these counts are what parse_update passes)
assert len(Update._fields) == 6 and len(UpdateResult._fields) == 5


def _reset(subcode: int, reason: str, data: bytes = b"") -> UpdateResult:
    p = Problem(A.SESSION_RESET, subcode, reason, None, data)
    return UpdateResult(A.SESSION_RESET, None, (p,), None,
                        CodecError(NotificationCode.UPDATE_MESSAGE_ERROR, subcode, data, reason))


def _walk_plain(block: bytes, as4: bool, ibgp: bool) -> tuple[tuple[Any, ...], dict[int, Any]] | None:
    """The attributes of a non-empty block with nothing for RFC 7606 to say, in wire order,
    and type code -> attribute; None for any other block, which ``_walk`` then walks (and
    tells what is wrong). A full table is mostly blocks never seen before, each like this:
    what ``_walk`` keeps per TLV for the other cases is not made here. Refused: a header
    cut short or a TLV overrunning the block (RFC 7606 §4), a type twice (§3 g), an MP
    attribute (RFC 4760: its NLRI are not attributes), an attribute with a problem (a
    ``Flawed``)."""
    aget = attr_cache(as4, ibgp).get
    mp = _MP
    attrs: list[Any] = []
    by_code: dict[int, Any] = {}
    i, n = 0, len(block)
    if not n:
        return None
    while i < n:
        try:
            code = block[i + 1]
            end = (i + 4 + (block[i + 2] << 8 | block[i + 3])) if block[i] & 0x10 else i + 3 + block[i + 2]
        except IndexError:  # (a header cut short)
            return None
        if end > n or code in by_code or code in mp:
            return None
        raw = block[i:end]
        i = end
        a = aget(raw)
        if a is None:
            a = decode_tlv(raw, as4, ibgp)
        if a.__class__ is Flawed:
            return None
        attrs.append(a)
        by_code[code] = a
    return tuple(attrs), by_code


def _walk(block: bytes, ctx: CodecContext, cache: dict[bytes, AttrSet]) -> tuple[
        AttrSet | None, MpReach | None, MpUnreach | None, tuple[int, ...], list[Problem]]:
    """Walk the attribute TLVs once (RFC 7606 §3-§5): MP attributes are decoded here, each
    other TLV is looked up in (or decoded into) the attribute table, and the resulting
    AttrSet is interned under the block, or under its non-MP part when MP attributes are
    in it (their NLRI differ in every UPDATE); ``cache`` is the context's block table.
    (``_walk_plain`` takes the blocks where nothing is found first: a new problem found
    here must make it refuse the block too.)"""
    as4, ibgp = ctx.as4, ctx.ibgp
    aget = attr_cache(as4, ibgp).get
    mp = _MP  # a local: tested once per attribute
    raws: list[bytes] = []
    attrs: list[Any] = []
    by_code: dict[int, Any] = {}
    flawed: list[Problem] = []
    problems: list[Problem] = []
    seen: set[int] = set()
    mp_at: list[tuple[int, int]] = []  # (non-MP TLVs before it, code) of MP attributes
    reach: MpReach | None = None
    unreach: MpUnreach | None = None
    i, n = 0, len(block)
    while i < n:
        flags = block[i]
        if flags & 0x10:  # Extended Length
            if n - i < 4:  # RFC 7606 §4, second case
                problems.append(_UNDERRUN)
                break
            start = i + 4
            end = start + (block[i + 2] << 8 | block[i + 3])
        else:
            if n - i < 3:
                problems.append(_UNDERRUN)
                break
            start = i + 3
            end = start + block[i + 2]
        code = block[i + 1]
        if end > n:  # RFC 7606 §4, first case
            problems.append(Problem(A.TREAT_AS_WITHDRAW, S.ATTRIBUTE_LENGTH_ERROR,
                                    f"attribute {code} overruns the attribute block", code, block[i:]))
            break
        raw = block[i:end]
        i = end
        if code in seen:
            if code in mp:  # RFC 7606 §3 g
                problems.append(Problem(A.SESSION_RESET, S.MALFORMED_ATTRIBUTE_LIST,
                                        f"attribute {code} appears twice", code))
            else:
                problems.append(Problem(A.ATTRIBUTE_DISCARD, S.MALFORMED_ATTRIBUTE_LIST,
                                        f"duplicate attribute {code} discarded", code, raw))
            continue
        seen.add(code)
        if code not in mp:
            raws.append(raw)
            a = aget(raw)
            if a is None:
                a = decode_tlv(raw, as4, ibgp)
            if a.__class__ is Flawed:
                flawed.append(a.problem)
                a = a.attr
                if a is None:
                    continue
            attrs.append(a)
            by_code[code] = a
            continue
        mp_at.append((len(raws), code))
        if flags & _OT != OPTIONAL:  # RFC 7606 §5.3: MP attribute flags inconsistent
            problems.append(Problem(A.SESSION_RESET, S.ATTRIBUTE_FLAGS_ERROR,
                                    f"attribute {code} has flags 0x{flags:02x}", code, raw))
            continue
        try:
            if code == _REACH:
                reach = MpReach.decode(block[start:end], flags, ctx.addpath, ctx.extended_next_hop)
            else:
                unreach = MpUnreach.decode(block[start:end], flags, ctx.addpath)
        except AttrMalformed as exc:  # RFC 7606 §7.11, RFC 4760 §7
            problems.append(Problem(A.SESSION_RESET, S.OPTIONAL_ATTRIBUTE_ERROR, exc.reason, code, raw))
    layout: tuple[int, ...] = ()
    if mp_at:
        # Canonical order (what encode_update writes without a layout): MP_REACH,
        # MP_UNREACH, then the rest as received. Keep the real order when it differs;
        # attributes that were discarded are not part of it.
        decoded = {_REACH: reach is not None, _UNREACH: unreach is not None}
        order: list[int] = []
        pending = iter([*mp_at, (len(raws) + 1, 0)])
        before, mp_code = next(pending)
        for j, code in enumerate([*(raw[1] for raw in raws), -1]):
            while before == j:
                if decoded[mp_code]:
                    order.append(mp_code)
                before, mp_code = next(pending)
            if code in by_code:  # kept (a discarded attribute is not part of the order)
                order.append(code)
        canonical = [c for c in (_REACH, _UNREACH) if c in order] + [c for c in order if c not in mp]
        if order != canonical:
            layout = tuple(order)
    if not raws:
        return None, reach, unreach, layout, problems
    discarded = [p for p in problems if p.action == A.ATTRIBUTE_DISCARD]
    if discarded:  # not interned: the same attributes without duplicates are another block
        problems = [p for p in problems if p.action != A.ATTRIBUTE_DISCARD]
        return AttrSet(attrs, (*discarded, *flawed), as4), reach, unreach, layout, problems
    if not mp_at and not problems:
        made = AttrSet(attrs, tuple(flawed), as4) if flawed else AttrSet.decoded(tuple(attrs), by_code, as4)
        return intern(cache, block, made), None, None, (), problems
    key = b"".join(raws)
    known = cache.get(key)
    if known is None:
        made = AttrSet(attrs, tuple(flawed), as4) if flawed else AttrSet.decoded(tuple(attrs), by_code, as4)
        known = intern(cache, key, made)
    return known, reach, unreach, layout, problems


_UNDERRUN = Problem(A.TREAT_AS_WITHDRAW, S.MALFORMED_ATTRIBUTE_LIST,
                    "attribute header underruns the attribute block")


def parse_update(body: bytes, ctx: CodecContext) -> UpdateResult:
    """Decode an UPDATE body (after the 19-octet header). Never raises."""
    n = len(body)
    if n < 4:
        return _reset(S.MALFORMED_ATTRIBUTE_LIST, "UPDATE shorter than 4 octets")
    wlen = body[0] << 8 | body[1]
    if 4 + wlen > n:  # RFC 7606 §3 b
        return _reset(S.MALFORMED_ATTRIBUTE_LIST, "Withdrawn Routes Length too large")
    alen = body[2 + wlen] << 8 | body[3 + wlen]
    if 4 + wlen + alen > n:
        return _reset(S.MALFORMED_ATTRIBUTE_LIST, "Total Path Attribute Length too large")
    v4_addpath = IPV4_UNICAST in ctx.addpath
    try:  # RFC 7606 §3 i, §5.3: syntax errors here cannot be treated as withdraw
        withdrawn = tuple(decode_prefixes(body[2:2 + wlen], 32, v4_addpath)) if wlen else ()
        nlri_raw = body[4 + wlen + alen:]
        nlri = tuple(decode_prefixes(nlri_raw, 32, v4_addpath)) if nlri_raw else ()
    except CodecError as exc:
        return _reset(exc.subcode, exc.reason)
    if not alen:
        update = Update(withdrawn, None, nlri)
        if nlri:  # RFC 7606 §3 d: mandatory attributes missing
            p = Problem(A.TREAT_AS_WITHDRAW, S.MISSING_WELL_KNOWN_ATTRIBUTE,
                        "UPDATE with NLRI but no path attributes", AttrType.ORIGIN, b"\x01")
            return UpdateResult(A.TREAT_AS_WITHDRAW, update, (p,))
        return UpdateResult(A.ACCEPT, update, (), None if withdrawn else IPV4_UNICAST)
    block = body[4 + wlen:4 + wlen + alen]
    cache = block_cache(ctx.as4, ctx.ibgp)
    attrs = cache.get(block)
    if attrs is None:
        # (an UPDATE without IPv4 NLRI mostly carries an MP attribute: the plain walk would
        # refuse it at that TLV, after looking up those before it, for nothing)
        plain = _walk_plain(block, ctx.as4, ctx.ibgp) if nlri else None
        if plain is not None:
            attrs = intern(cache, block, AttrSet.decoded(*plain, ctx.as4))
        else:
            attrs, reach, unreach, layout, problems = _walk(block, ctx, cache)
            if attrs is None or reach is not None or unreach is not None or problems or layout:
                return _finish(Update(withdrawn, attrs, nlri, reach, unreach, layout), problems, ctx)
    # The hot path: a plain IPv4 UPDATE whose attributes are complete and valid.
    if attrs.action or not attrs.complete_v4 or not nlri:
        return _finish(Update(withdrawn, attrs, nlri), [], ctx)
    update = _new(Update, (withdrawn, attrs, nlri, None, None, ()))  # (every field, in order)
    return _new(UpdateResult, (_ACCEPT, update, (), None, None))


def _finish(update: Update, problems: list[Problem], ctx: CodecContext) -> UpdateResult:
    """Mandatory-attribute checks (RFC 7606 §3 d), §5.2 escalation, strongest action."""
    attrs = update.attrs
    if attrs is not None:
        problems = list(attrs.problems) + problems
    reach = update.mp_reach
    has_reach = bool(update.nlri) or (reach is not None and bool(reach.nlri or reach.raw))
    if has_reach:
        have = attrs.by_code if attrs is not None else {}
        reported = {p.attr_type for p in problems}
        needed = [AttrType.ORIGIN, AttrType.AS_PATH] + ([AttrType.NEXT_HOP] if update.nlri else [])
        for code in needed:
            if code not in have and code not in reported:
                problems.append(Problem(A.TREAT_AS_WITHDRAW, S.MISSING_WELL_KNOWN_ATTRIBUTE,
                                        f"missing well-known attribute {code.name}", code,
                                        bytes([code])))
    action = max((p.action for p in problems), default=A.ACCEPT)
    if action == A.TREAT_AS_WITHDRAW and not has_reach:
        action = A.SESSION_RESET  # RFC 7606 §5.2
    if action == A.SESSION_RESET:
        # RFC 7606 §3 h: the strongest action wins, so the NOTIFICATION names the error that
        # demands the reset; a treat-as-withdraw error is named only when none does and it
        # was escalated (RFC 7606 §5.2).
        first = next((p for p in problems if p.action == A.SESSION_RESET), None) or next(
            p for p in problems if p.action == A.TREAT_AS_WITHDRAW)
        err = CodecError(NotificationCode.UPDATE_MESSAGE_ERROR, first.subcode, first.data, first.reason)
        return UpdateResult(action, update, tuple(problems), None, err)
    eor = update.eor_family if action == A.ACCEPT else None
    return UpdateResult(action, update, tuple(problems), eor)


# --- encoding ---------------------------------------------------------------------------

def _frame(body: bytes, ctx: CodecContext) -> bytes:
    total = HEADER_LEN + len(body)
    if total > ctx.max_message_len:
        raise EncodeError(f"UPDATE of {total} octets exceeds {ctx.max_message_len}")
    return MARKER + total.to_bytes(2, "big") + b"\x02" + body


def encode_update(update: Update, ctx: CodecContext) -> bytes:
    """The whole UPDATE message, header included."""
    as4 = ctx.as4
    v4_addpath = IPV4_UNICAST in ctx.addpath
    withdrawn = encode_prefixes(update.withdrawn, 32, v4_addpath)
    mp = {a.code: encode_attribute(a, as4) for a in (update.mp_reach, update.mp_unreach) if a is not None}
    attrs = update.attrs
    if update.layout:
        # The received order first; anything not in it (added since) after.
        tlvs = dict(mp)
        if attrs is not None:
            tlvs.update((a.code, encode_attribute(a, as4)) for a in attrs.attrs)
        block = b"".join([tlvs.pop(c) for c in update.layout if c in tlvs] + list(tlvs.values()))
    else:
        block = b"".join(mp.values()) + (attrs.wire(as4) if attrs is not None else b"")
    nlri = encode_prefixes(update.nlri, 32, v4_addpath)
    body = (len(withdrawn).to_bytes(2, "big") + withdrawn + len(block).to_bytes(2, "big")
            + block + nlri)
    return _frame(body, ctx)


def end_of_rib(family: Family, ctx: CodecContext) -> bytes:
    """RFC 4724 §2: an empty UPDATE for IPv4 unicast, an empty MP_UNREACH otherwise."""
    if family == IPV4_UNICAST:
        return _frame(b"\x00\x00\x00\x00", ctx)
    return encode_update(Update(mp_unreach=MpUnreach(family.afi, family.safi)), ctx)


def _chunks(keys: Sequence[int], addpath: bool, room: int) -> Iterator[list[int]]:
    """Split keys into runs whose NLRI encoding fits in ``room`` octets."""
    if not addpath and keys and min(keys) >= 0x11000000 and max(keys) < 0x19000000:
        step = room // 4  # all /17../24: 4 octets each (see nlri)
        if step < 1:
            raise EncodeError(f"no room for NLRI ({room} octets left by the attributes)")
        for i in range(0, len(keys), step):
            yield list(keys[i:i + step])
        return
    chunk: list[int] = []
    used = 0
    for key in keys:
        size = prefix_wire_len(key, addpath)
        if size > room:
            raise EncodeError(f"no room for NLRI ({room} octets left by the attributes)")
        if used + size > room:
            yield chunk
            chunk, used = [], 0
        chunk.append(key)
        used += size
    if chunk:
        yield chunk


def pack_ipv4(attrs: AttrSet, keys: Sequence[int], ctx: CodecContext) -> list[bytes]:
    """IPv4-unicast UPDATEs announcing ``keys`` with ``attrs``, as many per message as fit
    (DESIGN.md section 3: the attribute block is encoded once per set)."""
    return pack_ipv4_block(attrs.wire(ctx.as4), keys, ctx)


def pack_ipv4_block(block: bytes, keys: Sequence[int], ctx: CodecContext) -> list[bytes]:
    """``pack_ipv4`` with the attribute block already encoded for ``ctx``."""
    addpath = IPV4_UNICAST in ctx.addpath
    room = ctx.max_message_len - HEADER_LEN - 4 - len(block)
    if keys and not addpath and 4 * len(keys) <= room:  # (a /17-/24 is 4 octets: it may fit)
        nlri = encode_prefixes(keys, 32, False)
        if len(nlri) <= room:  # the usual: it all fits in one message, made in one join
            total = HEADER_LEN + 4 + len(block) + len(nlri)
            return [b"".join((MARKER, total.to_bytes(2, "big"), b"\x02\x00\x00",
                              len(block).to_bytes(2, "big"), block, nlri))]
    head = b"\x00\x00" + len(block).to_bytes(2, "big") + block
    return [_frame(head + encode_prefixes(chunk, 32, addpath), ctx)
            for chunk in _chunks(keys, addpath, room)]


def pack_withdrawals(family: Family, keys: Sequence[int], ctx: CodecContext) -> list[bytes]:
    """UPDATEs withdrawing ``keys`` (Withdrawn Routes for IPv4 unicast, MP_UNREACH else)."""
    addpath = family in ctx.addpath
    if family == IPV4_UNICAST:
        room = ctx.max_message_len - HEADER_LEN - 4
        return [encode_update(Update(withdrawn=tuple(c)), ctx)
                for c in _chunks(keys, addpath, room)]
    room = ctx.max_message_len - HEADER_LEN - 4 - 7
    return [encode_update(Update(mp_unreach=MpUnreach(family.afi, family.safi, tuple(c),
                                                      flags=OPTIONAL | EXT_LEN, addpath=addpath)), ctx)
            for c in _chunks(keys, addpath, room)]


def pack_mp(attrs: AttrSet, family: Family, next_hop: tuple[str, ...], keys: Sequence[int],
            ctx: CodecContext) -> list[bytes]:
    """UPDATEs announcing ``keys`` of an MP family, MP_REACH_NLRI first (RFC 7606 §5.1)."""
    return pack_mp_block(attrs.wire(ctx.as4), family, next_hop, keys, ctx)


def pack_mp_block(block: bytes, family: Family, next_hop: tuple[str, ...], keys: Sequence[int],
                  ctx: CodecContext) -> list[bytes]:
    """``pack_mp`` with the attribute block already encoded for ``ctx``."""
    addpath = family in ctx.addpath
    nh_len = 4 if next_hop and ":" not in next_hop[0] else 16 * len(next_hop)
    room = ctx.max_message_len - HEADER_LEN - 4 - len(block) - (4 + 5 + nh_len)
    out = []
    for c in _chunks(keys, addpath, room):
        reach = MpReach(family.afi, family.safi, next_hop, tuple(c), flags=OPTIONAL | EXT_LEN,
                        addpath=addpath)
        whole = encode_attribute(reach, ctx.as4) + block
        out.append(_frame(b"\x00\x00" + len(whole).to_bytes(2, "big") + whole, ctx))
    return out
