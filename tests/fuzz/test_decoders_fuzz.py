"""Hostile bytes against every decoder (hypothesis fuzzing).

Random bytes, and random mutations (flipped / overwritten / inserted / deleted bytes,
truncations) of valid encoded OPEN, UPDATE, NOTIFICATION and ROUTE-REFRESH messages, go
into ``Framer.feed``, ``decode_body``, ``decode_message``, ``parse_update`` (under every
combination of as4, ADD-PATH for IPv4/IPv6 and ibgp), ``Open.decode`` and
``decode_capabilities``.

* The only exception allowed out of a decoder is ``CodecError`` (DESIGN.md rule 4: every
  protocol error is a NOTIFICATION).
* ``parse_update`` never raises; its ``UpdateResult`` has an ``UpdateAction``, and an
  ``error`` (a CodecError with code 3, UPDATE Message Error) exactly when the action is
  SESSION_RESET.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Callable

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from gracebgp.errors import CodecError
from gracebgp.types import AFI, IPV4_UNICAST, IPV6_UNICAST, SAFI, Family
from gracebgp.wire import (
    KEEPALIVE,
    AddPath,
    Aggregator,
    As4Aggregator,
    As4Path,
    AsPath,
    AtomicAggregate,
    AttrSet,
    CapabilitiesParam,
    ClusterList,
    CodecContext,
    Communities,
    EnhancedRouteRefresh,
    ExtendedCommunities,
    ExtendedMessage,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    Framer,
    GracefulRestart,
    Keepalive,
    LargeCommunities,
    LocalPref,
    LongLivedGracefulRestart,
    MpReach,
    MpUnreach,
    MultiExitDisc,
    Multiprotocol,
    NextHop,
    Notification,
    Open,
    Origin,
    OriginatorId,
    Problem,
    RouteRefresh,
    RouteRefreshCapability,
    UnknownAttribute,
    UnknownCapability,
    UnknownParam,
    Update,
    UpdateAction,
    UpdateResult,
    decode_body,
    decode_message,
    encode_attribute,
    encode_update,
    end_of_rib,
    parse_update,
)
from gracebgp.wire import update as update_module
from gracebgp.wire.attributes import EXT_LEN, OPTIONAL
from gracebgp.wire.attrset import clear_caches
from gracebgp.wire.capabilities import decode_capabilities, encode_capability
from gracebgp.wire.iana import HEADER_LEN, MARKER, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, CeaseSubcode
from gracebgp.wire.nlri import addpath_key, make_key

# =====================================================================================
# contexts and seeds
# =====================================================================================

ADDPATH_CHOICES: tuple[frozenset[Family], ...] = (
    frozenset(), frozenset({IPV4_UNICAST}), frozenset({IPV6_UNICAST}),
    frozenset({IPV4_UNICAST, IPV6_UNICAST}),
)
CONTEXTS = tuple(CodecContext(as4=as4, addpath=ap, ibgp=ibgp)
                 for as4, ap, ibgp in itertools.product((True, False), ADDPATH_CHOICES, (True, False)))

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

u8 = st.integers(0, 0xFF)


def _v4(text: str, length: int) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return make_key(a << 24 | b << 16 | c << 8 | d, length, 32)


def _v6(text: str, length: int) -> int:
    return make_key(int(ipaddress.IPv6Address(text)), length, 128)


_ENH = frozenset({IPV4_UNICAST})  # RFC 8950: the IPv4 seed below has an IPv6 next hop
SEED_CONTEXTS = (CodecContext(ibgp=True, extended_next_hop=_ENH),
                 CodecContext(as4=False, addpath=frozenset({IPV4_UNICAST, IPV6_UNICAST}), ibgp=True,
                              extended_next_hop=_ENH))


def _seed_updates() -> list[tuple[CodecContext, bytes]]:
    """UPDATEs with every attribute type, MP families, ADD-PATH and End-of-RIB, each with
    the context it is valid under."""
    v4_keys = (_v4("10.0.0.0", 8), _v4("10.1.2.0", 24), _v4("192.0.2.128", 25), 0, _v4("1.2.3.4", 32))
    v6_keys = (_v6("2001:db8::", 32), _v6("2001:db8:1::", 48), 0, _v6("2001:db8::1", 128), _v6("ff00::", 7))
    full = AttrSet([
        Origin(0), AsPath(((2, (65001, 4200000001)), (1, (1, 2, 3)), (3, (64512,)), (4, (64513,)))),
        NextHop("192.0.2.1"), MultiExitDisc(10), LocalPref(100), AtomicAggregate(),
        Aggregator(65001, "192.0.2.9"), Communities((0xFFFFFF01, 65001 << 16 | 7)),
        OriginatorId("192.0.2.2"), ClusterList(("192.0.2.3", "192.0.2.4")),
        ExtendedCommunities((0x0002FDE900000001,)), As4Path(((2, (4200000001,)),)),
        As4Aggregator(4200000001, "192.0.2.9"), LargeCommunities(((4200000001, 1, 2),)),
        UnknownAttribute(99, b"\x01\x02\x03"), UnknownAttribute(200, bytes(300), OPTIONAL | EXT_LEN),
    ])
    small = AttrSet([Origin(2), AsPath(((2, (65001,)),), 0x50), NextHop("10.0.0.1")])
    out: list[tuple[CodecContext, bytes]] = []
    for ctx in SEED_CONTEXTS:
        v4ap = IPV4_UNICAST in ctx.addpath
        v6ap = IPV6_UNICAST in ctx.addpath
        k4 = tuple(addpath_key(k, i) for i, k in enumerate(v4_keys)) if v4ap else v4_keys
        k6 = tuple(addpath_key(k, 7) for k in v6_keys) if v6ap else v6_keys
        out += [(ctx, m) for m in (
            encode_update(Update(k4[:2], full, k4), ctx),
            encode_update(Update(attrs=small, nlri=k4), ctx),
            encode_update(Update(withdrawn=k4), ctx),
            encode_update(Update(attrs=small, mp_reach=MpReach(
                AFI.IPV6, SAFI.UNICAST, ("2001:db8::1", "fe80::1"), k6, addpath=v6ap)), ctx),
            encode_update(Update(attrs=small, mp_reach=MpReach(AFI.IPV4, SAFI.UNICAST, ("2001:db8::1",), k4,
                                                               addpath=v4ap),
                                 mp_unreach=MpUnreach(AFI.IPV6, SAFI.UNICAST, k6, addpath=v6ap),
                                 layout=(1, 15, 2, 3, 14)), ctx),
            encode_update(Update(mp_unreach=MpUnreach(AFI.IPV4, SAFI.UNICAST, k4, flags=OPTIONAL | EXT_LEN,
                                                      addpath=v4ap)), ctx),
            encode_update(Update(attrs=small, mp_reach=MpReach(25, 70, raw=bytes.fromhex("040a0000010002"))),
                          ctx),
            end_of_rib(IPV4_UNICAST, ctx),
            end_of_rib(IPV6_UNICAST, ctx),
        )]
    return out


def _seed_opens() -> list[bytes]:
    caps = (Multiprotocol(AFI.IPV4, SAFI.UNICAST), Multiprotocol(AFI.IPV6, SAFI.UNICAST),
            RouteRefreshCapability(), EnhancedRouteRefresh(), ExtendedMessage(),
            ExtendedNextHop(((1, 1, 2),)),
            GracefulRestart(0x8 | 0x4, 120, ((1, 1, 0x80), (2, 1, 0))), FourOctetAs(4200000001),
            AddPath(((1, 1, 3), (2, 1, 1))), LongLivedGracefulRestart(((1, 1, 0x80, 3600),)),
            Fqdn("router-\u00e9", "example.net"), UnknownCapability(128, b"\x00\x01"))
    many = tuple(Multiprotocol(1, s) for s in range(60))
    return [
        Open.build(4200000001, 90, "192.0.2.1", caps).encode(),
        Open.build(65001, 0, "192.0.2.1", caps, one_param_each=True).encode(),
        Open(65001, 180, "10.0.0.1", (CapabilitiesParam(many), UnknownParam(7, b"xyz")),
             extended_params=True).encode(),
        Open(65001, 3, "10.0.0.1", ()).encode(),
    ]


def _seed_others() -> list[bytes]:
    return [
        Notification.cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, "maintenance \u2013 \u7ef4\u62a4").encode(),
        Notification.cease(CeaseSubcode.ADMINISTRATIVE_RESET, "x" * 300).hard_reset().encode(),
        Notification(3, 1, b"\x40\x01\x01\x05").encode(),
        RouteRefresh(AFI.IPV4, SAFI.UNICAST).encode(),
        RouteRefresh(AFI.IPV6, SAFI.UNICAST, 1).encode(),
        RouteRefresh(AFI.IPV6, SAFI.UNICAST, 2).encode(),
        KEEPALIVE.encode(),
    ]


SEED_UPDATES_IN_CONTEXT = _seed_updates()
SEED_UPDATES = [m for _, m in SEED_UPDATES_IN_CONTEXT]
SEED_OPENS = _seed_opens()
SEEDS = SEED_UPDATES + SEED_OPENS + _seed_others()
SEED_CAPS = [b"".join(encode_capability(c) for c in Open.decode(o[HEADER_LEN:]).capabilities)
             for o in SEED_OPENS]

# =====================================================================================
# strategies
# =====================================================================================

INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x0F, 0x10, 0x20, 0x40, 0x50, 0x7F, 0x80, 0x90, 0xC0, 0xD0, 0xE0,
               0xFE, 0xFF]


@st.composite
def mutate(draw: st.DrawFn, seed: bytes) -> bytes:
    """1-4 random edits of ``seed``."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.sampled_from(INTERESTING) | u8)
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 8))]
    return bytes(data)


def reframe(mtype: int, body: bytes) -> bytes:
    """A header with the true length around a (mutated) body."""
    return MARKER + (HEADER_LEN + len(body)).to_bytes(2, "big") + bytes([mtype]) + body


def mutated_bodies(seeds: list[bytes]) -> SearchStrategy[tuple[int, bytes]]:
    """(type, mutated body) from a seed message: the header stays valid, so the body's
    decoder is reached."""
    return st.sampled_from(seeds).flatmap(lambda m: st.tuples(st.just(m[18]), mutate(m[HEADER_LEN:])))


def mutated_messages(seeds: list[bytes]) -> SearchStrategy[bytes]:
    """Whole messages: either the raw bytes mutated (header included), or a mutated body
    reframed with a correct length."""
    return st.one_of(st.sampled_from(seeds).flatmap(mutate),
                     mutated_bodies(seeds).map(lambda tb: reframe(*tb)))


ATTR_CODES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32, 0, 11, 99, 255]
VALID_TLVS = [encode_attribute(a, True) for a in (
    Origin(0), AsPath(((2, (65001,)),)), NextHop("10.0.0.1"), MultiExitDisc(5), LocalPref(100),
    AtomicAggregate(), Aggregator(65001, "10.0.0.9"), Communities((0xFFFFFF01,)), OriginatorId("10.0.0.2"),
    ClusterList(("10.0.0.3",)), ExtendedCommunities((1,)), As4Path(((2, (65001,)),)),
    As4Aggregator(65001, "10.0.0.9"), LargeCommunities(((1, 2, 3),)), UnknownAttribute(99, b"x"),
    MpReach(AFI.IPV6, SAFI.UNICAST, ("2001:db8::1",), (_v6("2001:db8::", 32),)),
    MpReach(AFI.IPV4, SAFI.UNICAST, ("10.0.0.1",), (_v4("10.0.0.0", 8),)),
    MpUnreach(AFI.IPV6, SAFI.UNICAST, (_v6("2001:db8::", 32),)), MpUnreach(AFI.IPV4, SAFI.UNICAST),
)]


@st.composite
def tlv_soup(draw: st.DrawFn) -> bytes:
    """An UPDATE body with honest lengths whose attribute block mixes valid TLVs with
    random TLVs of known types (random flags, random values), reaching every attribute
    decoder and every RFC 7606 outcome."""
    tlvs = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            tlvs.append(draw(st.sampled_from(VALID_TLVS)))
            continue
        flags = draw(st.sampled_from(INTERESTING) | u8)
        code = draw(st.sampled_from(ATTR_CODES))
        value = draw(st.binary(max_size=40))
        if code in (14, 15) and draw(st.booleans()):  # plausible MP header
            value = draw(st.sampled_from([b"\x00\x01\x01", b"\x00\x02\x01", b"\x00\x01\x02"])) + value
        if flags & EXT_LEN:
            tlvs.append(bytes([flags, code]) + len(value).to_bytes(2, "big") + value)
        else:
            tlvs.append(bytes([flags, code, len(value)]) + value)
    block = b"".join(tlvs)
    withdrawn = draw(st.binary(max_size=12))
    nlri = draw(st.binary(max_size=12))
    return len(withdrawn).to_bytes(2, "big") + withdrawn + len(block).to_bytes(2, "big") + block + nlri


update_bodies = st.one_of(
    st.binary(max_size=120),
    tlv_soup(),
    mutated_bodies(SEED_UPDATES).map(lambda tb: tb[1]),
)

# =====================================================================================
# checks
# =====================================================================================


def only_codec_errors(decoder: Callable[..., object], *args: object) -> object | None:
    """Run ``decoder(*args)``; a CodecError is an allowed answer, any other exception fails."""
    try:
        return decoder(*args)
    except CodecError as exc:
        assert isinstance(exc.code, int) and 1 <= exc.code <= 7, exc
        assert isinstance(exc.data, bytes)
        return None


def check_update_result(result: object) -> UpdateResult:
    assert isinstance(result, UpdateResult)
    assert isinstance(result.action, UpdateAction)
    assert all(isinstance(p, Problem) for p in result.problems)
    assert (result.action == UpdateAction.ACCEPT) == (not result.problems)
    assert result.action >= max((p.action for p in result.problems), default=UpdateAction.ACCEPT)
    if result.action == UpdateAction.SESSION_RESET:
        assert isinstance(result.error, CodecError)
        assert result.error.code == 3
        assert result.eor is None
    else:
        assert result.error is None
        assert isinstance(result.update, Update)
    if result.eor is not None:
        assert result.action == UpdateAction.ACCEPT
    return result


def without_empty_attrs(update: Update | None) -> Update | None:
    """An UPDATE whose every attribute was discarded has ``attrs == AttrSet([])``; encoded
    again it has no attribute block, which decodes as ``attrs is None``."""
    if update is not None and update.attrs is not None and not update.attrs.attrs:
        return update._replace(attrs=None)
    return update


def outcome(result: UpdateResult) -> tuple[object, ...]:
    err = result.error
    return (result.action, result.update, result.problems, result.eor,
            None if err is None else (err.code, err.subcode, err.data))


# =====================================================================================
# Framer
# =====================================================================================


def feed_all(framer: Framer, chunks: list[bytes]) -> tuple[list[tuple[int, bytes]], tuple[int, int] | None]:
    out: list[tuple[int, bytes]] = []
    for chunk in chunks:
        try:
            out += framer.feed(chunk)
        except CodecError as exc:
            return out, (exc.code, exc.subcode)
    return out, None


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in itertools.pairwise([0, *points, len(data)])]


@FUZZ
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 1000), max_size=6),
       max_len=st.sampled_from([MAX_MESSAGE_LEN, MAX_EXTENDED_MESSAGE_LEN]))
def test_framer_random_bytes(data: bytes, cuts: list[int], max_len: int) -> None:
    framer = Framer(max_len)
    messages, error = feed_all(framer, chunked(MARKER + data, cuts))
    for mtype, body in messages:
        assert 1 <= mtype <= 5
        assert HEADER_LEN + len(body) <= max_len
    if error is not None:
        assert error[0] == 1  # Message Header Error


@FUZZ
@given(stream=st.lists(st.one_of(st.sampled_from(SEEDS), mutated_messages(SEEDS)), min_size=1, max_size=5),
       cuts=st.lists(st.integers(0, 20000), max_size=8),
       max_len=st.sampled_from([MAX_MESSAGE_LEN, MAX_EXTENDED_MESSAGE_LEN]))
def test_framer_mutated_streams_cut_anywhere(stream: list[bytes], cuts: list[int], max_len: int) -> None:
    """Only FramingError/CodecError comes out, and how the stream is cut into TCP reads
    does not change what is framed."""
    data = b"".join(stream)
    whole, whole_error = feed_all(Framer(max_len), [data])
    parts, parts_error = feed_all(Framer(max_len), chunked(data, cuts))
    assert parts_error == whole_error
    if whole_error is None:
        assert parts == whole
    else:
        assert whole == []  # the failing feed() returned nothing
    for mtype, body in parts:
        assert 1 <= mtype <= 5 and HEADER_LEN + len(body) <= max_len


# =====================================================================================
# whole messages and bodies
# =====================================================================================


@FUZZ
@given(message=mutated_messages(SEEDS), ctx=st.sampled_from(CONTEXTS), extended=st.booleans())
def test_decode_message_mutated(message: bytes, ctx: CodecContext, extended: bool) -> None:
    ctx = CodecContext(ctx.as4, ctx.addpath, extended, ctx.ibgp)
    result = only_codec_errors(decode_message, message, ctx)
    if isinstance(result, UpdateResult):
        check_update_result(result)
    else:
        assert result is None or isinstance(result, Open | Notification | Keepalive | RouteRefresh)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed=st.one_of(mutated_bodies(SEEDS), st.tuples(st.integers(1, 5) | u8, st.binary(max_size=80))))
def test_decode_body_every_type(typed: tuple[int, bytes]) -> None:
    mtype, body = typed
    expected = {1: Open, 2: UpdateResult, 3: Notification, 4: Keepalive, 5: RouteRefresh}.get(mtype)
    for ctx in CONTEXTS:
        result = only_codec_errors(decode_body, mtype, body, ctx)
        if result is None:
            assert mtype != 2, "UPDATE bodies never raise"
            continue
        assert expected is not None and isinstance(result, expected)
        if mtype == 2:
            check_update_result(result)


# =====================================================================================
# UPDATE
# =====================================================================================


@settings(max_examples=800, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=update_bodies)
def test_parse_update_never_raises(body: bytes) -> None:
    """Under all 16 contexts, from cold caches and then warm ones (the interned path must
    decide exactly what the cold path decided)."""
    clear_caches()
    cold = [check_update_result(parse_update(body, ctx)) for ctx in CONTEXTS]
    warm = [check_update_result(parse_update(body, ctx)) for ctx in CONTEXTS]
    for c, w in zip(cold, warm, strict=True):
        assert outcome(c) == outcome(w)


_PLAIN = bytes.fromhex("40010100" "40020602010000fde9" "4003040a000001")  # ORIGIN, AS_PATH, NEXT_HOP


def _body(block: bytes) -> bytes:
    """An UPDATE body of ``block`` and one IPv4 prefix, 10.0.0.0/24."""
    return b"\x00\x00" + len(block).to_bytes(2, "big") + block + b"\x18\x0a\x00\x00"


def plain_outcome(result: UpdateResult) -> tuple[object, ...]:
    """``outcome``, and what an AttrSet's equality does not compare."""
    attrs = None if result.update is None else result.update.attrs
    return outcome(result) + ((None,) if attrs is None else (attrs.as_path, attrs.aggregator,
                                                              attrs.complete_v4, attrs.problems))


@settings(max_examples=800, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=update_bodies)
@example(body=_body(_PLAIN))
@example(body=_body(bytes.fromhex("40010100" "5002000602010000fde9" "4003040a000001")))  # Extended Length
@example(body=_body(bytes.fromhex("4003040a000001" "40010100" "40020602010000fde9")))  # not in code order
@example(body=_body(bytes.fromhex("40010100" "4002040201" "5ba0" "4003040a000001"  # 2-octet AS_TRANS,
                                  "c0110602010000fde9")))  # and AS4_PATH (RFC 6793)
def test_the_plain_walk_decides_what_the_full_walk_decides(body: bytes) -> None:
    """``update._walk_plain`` (a never-seen block with nothing wrong) against ``_walk``
    alone: under each of the 16 contexts from cold caches, the same outcome."""
    plain = update_module._walk_plain
    outcomes = []
    for walk in (plain, lambda *_: None):
        update_module._walk_plain = walk
        try:
            found = []
            for ctx in CONTEXTS:
                clear_caches()
                found.append(plain_outcome(check_update_result(parse_update(body, ctx))))
            outcomes.append(found)
        finally:
            update_module._walk_plain = plain
    assert outcomes[0] == outcomes[1]


def test_the_plain_walk_takes_exactly_the_blocks_walked_without_a_finding() -> None:
    """Random blocks of valid and random TLVs, from cold caches: ``_walk_plain`` takes a
    block exactly when ``_walk`` finds nothing in it (no problem, no MP attribute, no
    layout kept), and gives the same attributes (so no block loses the faster walk)."""
    rng = random.Random(14)
    taken = 0
    for _ in range(3000):
        tlvs = []
        for _ in range(rng.randrange(1, 6)):
            if rng.random() < 0.7:
                tlvs.append(rng.choice(VALID_TLVS))
            else:
                flags, code = rng.choice(INTERESTING), rng.choice(ATTR_CODES)
                value = rng.randbytes(rng.randrange(0, 8))
                head = (len(value).to_bytes(2, "big") if flags & EXT_LEN else bytes([len(value)]))
                tlvs.append(bytes([flags, code]) + head + value)
        block = b"".join(tlvs)
        if rng.random() < 0.1:
            block = block[:rng.randrange(1, len(block) + 1)]  # (cut anywhere)
        for ctx in CONTEXTS[::4]:  # (each as4 and ibgp once: the walks do not read ADD-PATH)
            clear_caches()
            attrs, reach, unreach, layout, problems = update_module._walk(block, ctx, {})
            clean = (attrs is not None and not attrs.problems and reach is None and unreach is None
                     and not layout and not problems)
            clear_caches()
            took = update_module._walk_plain(block, ctx.as4, ctx.ibgp)
            assert (took is not None) == clean, (block.hex(), ctx)
            if took is not None:
                assert attrs is not None and took[0] == attrs.attrs
                assert took[1] == {a.code: a for a in attrs.attrs}
                taken += 1
    assert taken > 500


def test_the_plain_walk_refuses_every_block_it_is_not_for() -> None:
    """It takes a good block, and leaves to ``_walk`` a block with an MP attribute, a type
    twice, a TLV overrunning the block, a header cut short (two ways) and an attribute
    with a problem (ORIGIN 3, RFC 7606 §7.1); and the empty block."""
    clear_caches()
    took = update_module._walk_plain(_PLAIN, True, False)
    assert took is not None and [a.code for a in took[0]] == [1, 2, 3] and sorted(took[1]) == [1, 2, 3]
    for bad in (_PLAIN + bytes.fromhex("800e0400010100"), _PLAIN + bytes.fromhex("40010100"),
                _PLAIN + bytes.fromhex("c0630400"), _PLAIN + b"\x40\x05", _PLAIN + b"\x50\x05\x00",
                bytes.fromhex("40010103") + _PLAIN[4:], b""):
        assert update_module._walk_plain(bad, True, False) is None, bad.hex()


# A block with a discarded attribute (LOCAL_PREF from an eBGP peer, RFC 7606 §7.5) before
# MP_REACH_NLRI: the decoded Update keeps LOCAL_PREF's code in ``layout`` but not in attrs.
_LAYOUT_BUG = bytes.fromhex(
    "0000" "0033" "40010100" "400206020100" "00fde9" "40050400000064"
    "800e1c0002011020010db8000000000000000000000001003020010db80001")


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=update_bodies)
@example(body=_LAYOUT_BUG)
def test_accepted_updates_reencode(body: bytes) -> None:
    """An UPDATE that is applied (ACCEPT / ATTRIBUTE_DISCARD) encodes again, and the
    encoding is accepted as the same Update."""
    for ctx in CONTEXTS:
        result = check_update_result(parse_update(body, ctx))
        if result.action > UpdateAction.ATTRIBUTE_DISCARD:
            continue
        assert result.update is not None
        wire = encode_update(result.update, ctx)
        again = check_update_result(parse_update(wire[HEADER_LEN:], ctx))
        assert again.action == UpdateAction.ACCEPT, again.problems
        assert again.update == without_empty_attrs(result.update)


# =====================================================================================
# OPEN, capabilities, NOTIFICATION
# =====================================================================================


@FUZZ
@given(body=st.one_of(st.binary(max_size=80), mutated_bodies(SEED_OPENS).map(lambda tb: tb[1])))
def test_open_decode(body: bytes) -> None:
    result = only_codec_errors(Open.decode, body)
    if result is not None:
        assert isinstance(result, Open)
        assert isinstance(result.capabilities, tuple)
        assert isinstance(result.asn, int)
        assert all(isinstance(p, CapabilitiesParam | UnknownParam) for p in result.params)


@FUZZ
@given(data=st.one_of(st.binary(max_size=60), st.sampled_from(SEED_CAPS).flatmap(mutate)))
def test_decode_capabilities(data: bytes) -> None:
    result = only_codec_errors(decode_capabilities, data)
    if result is not None:
        assert isinstance(result, tuple)
        assert all(isinstance(c.code, int) and 0 <= c.code <= 255 for c in result)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(st.binary(min_size=2, max_size=80).map(lambda b: b"\x06" + b[1:]),
                      mutated_bodies(SEEDS[-7:-4]).map(lambda tb: tb[1])))
def test_notification_accessors_never_raise(body: bytes) -> None:
    """What a session logs about a received NOTIFICATION must not fail on peer data."""
    msg = only_codec_errors(Notification.decode, body)
    if msg is None:
        return
    assert isinstance(msg, Notification)
    assert msg.communication is None or isinstance(msg.communication, str)
    assert isinstance(msg.unwrap(), Notification)
    assert isinstance(msg.describe(), str)


def test_nested_hard_reset_notification_describes() -> None:
    """Cease/Hard Reset wrapping Cease/Hard Reset ... 2000 deep is a legal 4019-octet
    NOTIFICATION (RFC 8538 §3 puts no limit on it); describing it must not fail."""
    wire = reframe(3, b"\x06\x09" * 2000)
    msg = decode_message(wire, CodecContext())
    assert isinstance(msg, Notification) and msg.is_hard_reset
    assert msg.unwrap().is_hard_reset
    text = msg.describe()
    assert text.startswith("CEASE/HARD_RESET wrapping CEASE/HARD_RESET")


def test_seeds_are_valid() -> None:
    """The fuzz seeds themselves decode without error (so mutations start from valid
    messages) under the context they were built for."""
    for ctx, seed in SEED_UPDATES_IN_CONTEXT:
        result = check_update_result(decode_message(seed, ctx))
        assert result.action == UpdateAction.ACCEPT, (seed.hex(), result.problems)
    for seed in SEEDS[len(SEED_UPDATES):]:
        msg = decode_message(seed, CodecContext())
        assert isinstance(msg, Open | Notification | Keepalive | RouteRefresh)
    assert len(SEED_CAPS[0]) > 40
