"""Round-trip properties of the wire codec (hypothesis).

For every message, capability and path attribute type, and for prefix keys of every
length with and without ADD-PATH:

* object -> encode -> decode gives an equal object;
* bytes made by encoding a generated object -> decode -> encode gives the same bytes.

Generated UPDATEs are valid (RFC 4271 §5 mandatory attributes present, one attribute per
type), so decoding must ACCEPT them with no problems. Generated objects are also
"canonical" where the wire has a single spelling: attributes whose value exceeds 255
octets carry the Extended Length flag, OPENs whose parameters exceed 255 octets carry
``extended_params``, and AS numbers fit the session's AS-number width.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from gracebgp.errors import EncodeError, FramingError
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
    Capability,
    ClusterList,
    CodecContext,
    Communities,
    EnhancedRouteRefresh,
    ExtendedCommunities,
    ExtendedMessage,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
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
    RouteRefresh,
    RouteRefreshCapability,
    UnknownAttribute,
    UnknownCapability,
    UnknownParam,
    Update,
    UpdateAction,
    UpdateResult,
    decode_message,
    encode_attribute,
    encode_message,
    encode_update,
    end_of_rib,
    pack_ipv4,
    pack_mp,
    pack_withdrawals,
    parse_update,
    to_two_octet,
)
from gracebgp.wire.attributes import EXT_LEN, OPTIONAL, OPTIONAL_TRANSITIVE, PARTIAL, WELL_KNOWN
from gracebgp.wire.attrset import decode_attribute
from gracebgp.wire.capabilities import decode_capabilities, encode_capability
from gracebgp.wire.iana import (
    AS_TRANS,
    HEADER_LEN,
    MAX_MESSAGE_LEN,
    AttrType,
    CapabilityCode,
    CeaseSubcode,
    SegmentType,
    WellKnownCommunity,
)
from gracebgp.wire.nlri import (
    addpath_key,
    decode_prefixes,
    encode_prefixes,
    format_prefix,
    key_parts,
    make_key,
    parse_prefix,
    prefix_wire_len,
)

# =====================================================================================
# strategies
# =====================================================================================

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)
ipv4 = u32.map(lambda n: str(ipaddress.IPv4Address(n)))
# NEXT_HOP must be a host address (RFC 4271 §6.3): first octet 1..223.
host_ipv4 = st.integers(1 << 24, (224 << 24) - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6 = st.integers(0, (1 << 128) - 1).map(lambda n: ipaddress.IPv6Address(n).compressed)

IPV4_MULTICAST = Family(AFI.IPV4, SAFI.MULTICAST)
IPV6_MULTICAST = Family(AFI.IPV6, SAFI.MULTICAST)
PREFIX_FAMILIES = (IPV4_UNICAST, IPV6_UNICAST, IPV4_MULTICAST, IPV6_MULTICAST)
EVPN = Family(AFI.L2VPN, SAFI.EVPN)  # not decoded as prefixes: carried as raw bytes


def width(family: Family) -> int:
    return 32 if family.afi == AFI.IPV4 else 128


def prefix_keys(bits: int, addpath: bool) -> SearchStrategy[int]:
    """A prefix key of any length 0..bits (host bits cleared by make_key), optionally with
    an ADD-PATH path identifier."""
    key = st.builds(make_key, st.integers(0, (1 << bits) - 1), st.integers(0, bits), st.just(bits))
    return st.builds(addpath_key, key, u32) if addpath else key


def key_lists(bits: int, addpath: bool, max_size: int = 12) -> SearchStrategy[tuple[int, ...]]:
    return st.lists(prefix_keys(bits, addpath), max_size=max_size).map(tuple)


def attr_flags(base: int) -> SearchStrategy[int]:
    """Valid flags for an attribute whose Optional/Transitive bits are ``base``: Extended
    Length may be set on any value; Partial only on optional transitive attributes."""
    extras = [0, EXT_LEN] + ([PARTIAL, PARTIAL | EXT_LEN] if base == OPTIONAL_TRANSITIVE else [])
    return st.sampled_from(extras).map(lambda e: base | e)


def canonical(attr: Any, as4: bool) -> Any:
    """The attribute as it decodes: values over 255 octets always use Extended Length."""
    if len(attr.encode_value(as4)) > 255 and not attr.flags & EXT_LEN:
        return dataclasses.replace(attr, flags=attr.flags | EXT_LEN)
    return attr


Segments = tuple[tuple[int, tuple[int, ...]], ...]


def segments(asn: SearchStrategy[int], max_len: int = 8) -> SearchStrategy[Segments]:
    """AS_PATH segments of all four types (RFC 4271 §4.3, RFC 5065 §3)."""
    segment = st.tuples(st.sampled_from([int(t) for t in SegmentType]),
                        st.lists(asn, min_size=1, max_size=max_len).map(tuple))
    return st.lists(segment, max_size=4).map(tuple)


def asns(as4: bool) -> SearchStrategy[int]:
    return u32 if as4 else u16


def long_segments(as4: bool) -> SearchStrategy[Segments]:
    """One segment of 130..255 ASes: over 255 octets, so Extended Length is needed. The
    ASes come from a seed (drawing 255 integers one by one is slow)."""
    def build(stype: int, count: int, seed: int) -> Segments:
        rng = random.Random(seed)
        return ((stype, tuple(rng.getrandbits(32 if as4 else 16) for _ in range(count))),)
    return st.builds(build, st.sampled_from([int(t) for t in SegmentType]), st.integers(130, 255), u32)


communities_values = st.one_of(u32, st.sampled_from([int(c) for c in WellKnownCommunity]))
NOT_IN_TABLE = sorted(set(range(256)) - {int(t) for t in AttrType})


def attribute_strategies(as4: bool) -> dict[str, SearchStrategy[Any]]:
    """One strategy per attribute type (MP_REACH/MP_UNREACH are built per context)."""
    s: dict[str, SearchStrategy[Any]] = {
        "origin": st.builds(Origin, st.integers(0, 2), attr_flags(WELL_KNOWN)),
        "as_path": st.builds(AsPath, segments(asns(as4)), attr_flags(WELL_KNOWN)),
        "as_path_long": st.builds(AsPath, long_segments(as4), attr_flags(WELL_KNOWN)),
        "next_hop": st.builds(NextHop, host_ipv4, attr_flags(WELL_KNOWN)),
        "med": st.builds(MultiExitDisc, u32, attr_flags(OPTIONAL)),
        "local_pref": st.builds(LocalPref, u32, attr_flags(WELL_KNOWN)),
        "atomic_aggregate": st.builds(AtomicAggregate, attr_flags(WELL_KNOWN)),
        "aggregator": st.builds(Aggregator, asns(as4), ipv4, attr_flags(OPTIONAL_TRANSITIVE)),
        "communities": st.builds(Communities,
                                 st.lists(communities_values, min_size=1, max_size=80).map(tuple),
                                 attr_flags(OPTIONAL_TRANSITIVE)),
        "originator_id": st.builds(OriginatorId, ipv4, attr_flags(OPTIONAL)),
        "cluster_list": st.builds(ClusterList, st.lists(ipv4, min_size=1, max_size=8).map(tuple),
                                  attr_flags(OPTIONAL)),
        "extended_communities": st.builds(ExtendedCommunities,
                                          st.lists(u64, min_size=1, max_size=8).map(tuple),
                                          attr_flags(OPTIONAL_TRANSITIVE)),
        "as4_path": st.builds(As4Path, segments(u32).filter(lambda s: len(s) > 0),
                              attr_flags(OPTIONAL_TRANSITIVE)),
        "as4_aggregator": st.builds(As4Aggregator, u32, ipv4, attr_flags(OPTIONAL_TRANSITIVE)),
        "large_communities": st.builds(LargeCommunities,
                                       st.lists(st.tuples(u32, u32, u32), min_size=1, max_size=6).map(tuple),
                                       attr_flags(OPTIONAL_TRANSITIVE)),
        "unknown_transitive": st.builds(UnknownAttribute, st.sampled_from(NOT_IN_TABLE),
                                        st.binary(max_size=300), attr_flags(OPTIONAL_TRANSITIVE)),
        "unknown_non_transitive": st.builds(UnknownAttribute, st.sampled_from(NOT_IN_TABLE),
                                            st.binary(max_size=40), attr_flags(OPTIONAL)),
    }
    return {name: strat.map(lambda a: canonical(a, as4)) for name, strat in s.items()}


ATTRS_AS4 = attribute_strategies(as4=True)
ATTRS_AS2 = attribute_strategies(as4=False)
IBGP_ONLY = {"local_pref", "originator_id", "cluster_list"}  # RFC 7606 §7.5/§7.9/§7.10


def mp_next_hops(family: Family, extended: bool = True) -> SearchStrategy[tuple[str, ...]]:
    """IPv4: one IPv4 address or, with Extended Next Hop (RFC 8950), one or two IPv6;
    IPv6: global [+ link-local]."""
    v6 = st.lists(ipv6, min_size=1, max_size=2).map(tuple)
    if family.afi == AFI.IPV4:
        return st.one_of(ipv4.map(lambda a: (a,)), v6) if extended else ipv4.map(lambda a: (a,))
    return v6


def mp_reaches(ctx: CodecContext) -> SearchStrategy[MpReach]:
    @st.composite
    def build(draw: st.DrawFn) -> MpReach:
        family = draw(st.sampled_from((*PREFIX_FAMILIES, EVPN)))
        flags = draw(attr_flags(OPTIONAL))
        if family == EVPN:
            return MpReach(family.afi, family.safi, raw=draw(st.binary(min_size=2, max_size=40)), flags=flags)
        addpath = family in ctx.addpath
        next_hop = draw(mp_next_hops(family, family in ctx.extended_next_hop))
        reach = MpReach(family.afi, family.safi, next_hop,
                        draw(key_lists(width(family), addpath)), flags=flags, addpath=addpath)
        out: MpReach = canonical(reach, ctx.as4)
        return out
    return build()


def mp_unreaches(ctx: CodecContext) -> SearchStrategy[MpUnreach]:
    @st.composite
    def build(draw: st.DrawFn) -> MpUnreach:
        family = draw(st.sampled_from((*PREFIX_FAMILIES, EVPN)))
        flags = draw(attr_flags(OPTIONAL))
        if family == EVPN:
            return MpUnreach(family.afi, family.safi, raw=draw(st.binary(max_size=40)), flags=flags)
        addpath = family in ctx.addpath
        unreach = MpUnreach(family.afi, family.safi, draw(key_lists(width(family), addpath)),
                            flags=flags, addpath=addpath)
        out: MpUnreach = canonical(unreach, ctx.as4)
        return out
    return build()


contexts = st.builds(
    CodecContext,
    as4=st.booleans(),
    addpath=st.sets(st.sampled_from(PREFIX_FAMILIES)).map(frozenset),
    ibgp=st.booleans(),
    extended_next_hop=st.sets(st.sampled_from([IPV4_UNICAST, IPV4_MULTICAST])).map(frozenset),
)


def mp_layout(draw: st.DrawFn, attrs: Sequence[Any], mp_codes: list[int]) -> tuple[int, ...]:
    """A wire order with the MP attributes anywhere; () when it is the canonical order
    (MP_REACH, MP_UNREACH, then the rest), which is what the decoder reports then."""
    order = [a.code for a in attrs]
    for code in mp_codes:
        order.insert(draw(st.integers(0, len(order))), code)
    return () if order[:len(mp_codes)] == sorted(mp_codes) else tuple(order)


@st.composite
def updates(draw: st.DrawFn, ctx: CodecContext) -> Update:
    """A valid UPDATE for ``ctx``: mandatory attributes present when NLRI are, at most one
    attribute per type, attributes in any order, MP attributes anywhere."""
    v4_addpath = IPV4_UNICAST in ctx.addpath
    withdrawn = draw(key_lists(32, v4_addpath))
    nlri = draw(key_lists(32, v4_addpath))
    reach = draw(st.none() | mp_reaches(ctx))
    unreach = draw(st.none() | mp_unreaches(ctx))
    pool = ATTRS_AS4 if ctx.as4 else ATTRS_AS2
    names = {n for n in pool if ctx.ibgp or n not in IBGP_ONLY}
    chosen = draw(st.sets(st.sampled_from(sorted(names)), max_size=8))
    if nlri or (reach is not None and (reach.nlri or reach.raw)):  # RFC 4271 §5, RFC 7606 §3 d
        chosen |= {"origin"} | (set() if "as_path_long" in chosen else {"as_path"})
    if nlri:
        chosen.add("next_hop")
    attrs: dict[int, Any] = {}
    for name in sorted(chosen):
        a = draw(pool[name])
        attrs.setdefault(a.code, a)  # the two unknown kinds may draw the same code
    ordered = draw(st.permutations(list(attrs.values())))
    mp_codes = [m.code for m in (reach, unreach) if m is not None]
    layout = mp_layout(draw, ordered, mp_codes) if mp_codes else ()
    return Update(withdrawn, AttrSet(ordered, as4=ctx.as4) if ordered else None, nlri, reach, unreach, layout)


ctx_and_update = contexts.flatmap(lambda c: st.tuples(st.just(c), updates(c)))

# --- capabilities and messages --------------------------------------------------------

KNOWN_CAPS = {int(c) for c in CapabilityCode}
families_hbb = st.tuples(u16, u8, u8)
CAPABILITIES: dict[str, SearchStrategy[Capability]] = {
    "multiprotocol": st.builds(Multiprotocol, u16, u8),
    "route_refresh": st.just(RouteRefreshCapability()),
    "enhanced_route_refresh": st.just(EnhancedRouteRefresh()),
    "extended_message": st.just(ExtendedMessage()),
    "extended_next_hop": st.builds(ExtendedNextHop,
                                   st.lists(st.tuples(u16, u16, u16), max_size=6).map(tuple)),
    "graceful_restart": st.builds(GracefulRestart, st.integers(0, 0xF), st.integers(0, 0xFFF),
                                  st.lists(families_hbb, max_size=8).map(tuple)),
    "four_octet_as": st.builds(FourOctetAs, u32),
    "add_path": st.builds(AddPath, st.lists(families_hbb, max_size=8).map(tuple)),
    "llgr": st.builds(LongLivedGracefulRestart,
                      st.lists(st.tuples(u16, u8, u8, st.integers(0, 0xFFFFFF)), max_size=6).map(tuple)),
    "fqdn": st.builds(Fqdn, st.text(max_size=30), st.text(max_size=30)),
    "unknown": st.builds(UnknownCapability, u8.filter(lambda c: c not in KNOWN_CAPS), st.binary(max_size=64)),
}
capabilities = st.one_of(*CAPABILITIES.values())

# Parameter types 2 (Capabilities) and 255 (RFC 9072 extended length marker) are not
# "unknown"; see test_open_param_type_255_is_not_misframed for 255.
unknown_params = st.builds(UnknownParam, u8.filter(lambda t: t not in (2, 255)), st.binary(max_size=40))
capability_params = st.lists(capabilities, max_size=6).map(lambda c: CapabilitiesParam(tuple(c)))
params = st.one_of(capability_params, unknown_params)


def needs_extended(params: Sequence[CapabilitiesParam | UnknownParam]) -> bool:
    values = [p.encode_value() for p in params]
    return sum(2 + len(v) for v in values) > 255 or any(len(v) > 255 for v in values)


@st.composite
def opens(draw: st.DrawFn, min_params: int = 0) -> Open:
    ps = tuple(draw(st.lists(params, min_size=min_params, max_size=6)))
    extended = needs_extended(ps) or draw(st.booleans())
    return Open(draw(u16), draw(u16), draw(ipv4), ps, draw(u8), extended)


notifications = st.one_of(
    st.builds(Notification, u8, u8, st.binary(max_size=200)),
    st.builds(Notification.cease, st.sampled_from([int(c) for c in CeaseSubcode]), st.text(max_size=120)),
)
route_refreshes = st.builds(RouteRefresh, u16, u8, st.sampled_from([0, 1, 2]))


def v4_attrs(as4: bool = True) -> SearchStrategy[AttrSet]:
    """Attributes complete for IPv4 NLRI (ORIGIN, AS_PATH, NEXT_HOP), maybe MED/COMMUNITIES."""
    pool = ATTRS_AS4 if as4 else ATTRS_AS2
    return st.tuples(pool["origin"], pool["as_path"], pool["next_hop"],
                     st.lists(pool["med"] | pool["communities"], max_size=1)).map(
        lambda t: AttrSet([t[0], t[1], t[2], *t[3]], as4=as4))


def many_keys(bits: int, addpath: bool, max_n: int = 2500) -> SearchStrategy[list[int]]:
    """Up to ``max_n`` keys from a seed (drawing thousands of keys one by one through
    hypothesis would be slow): of any length, or all /17../24 (the packers' fast path)."""
    @st.composite
    def build(draw: st.DrawFn) -> list[int]:
        rng = random.Random(draw(u32))
        n = draw(st.integers(0, max_n))
        low, high = draw(st.sampled_from([(0, bits), (17, 24)]))
        keys = [make_key(rng.getrandbits(bits), rng.randint(low, high), bits) for _ in range(n)]
        return [addpath_key(k, rng.getrandbits(32)) for k in keys] if addpath else keys
    return build()


# =====================================================================================
# helpers
# =====================================================================================


def decode_update(wire: bytes, ctx: CodecContext) -> UpdateResult:
    result = decode_message(wire, ctx)
    assert isinstance(result, UpdateResult)
    return result


def assert_accepted(result: UpdateResult) -> Update:
    assert result.action == UpdateAction.ACCEPT, result.problems
    assert result.problems == ()
    assert result.error is None
    assert result.update is not None
    return result.update


def expected_eor(update: Update) -> Family | None:
    """RFC 4724 §2, written independently of Update.eor_family."""
    if update.withdrawn or update.nlri or update.attrs is not None or update.mp_reach is not None:
        return None
    u = update.mp_unreach
    if u is None:
        return IPV4_UNICAST
    return None if u.withdrawn or u.raw else Family(u.afi, u.safi)


def tlv_header_len(wire: bytes) -> int:
    return 4 if wire[0] & EXT_LEN else 3


# =====================================================================================
# prefixes
# =====================================================================================


@pytest.mark.parametrize("addpath", [False, True])
@pytest.mark.parametrize("afi", [AFI.IPV4, AFI.IPV6])
@FAST
@given(address=st.integers(0, (1 << 128) - 1), path_id=u32)
def test_prefix_keys_of_every_length(afi: AFI, addpath: bool, address: int, path_id: int) -> None:
    bits = 32 if afi == AFI.IPV4 else 128
    network = ipaddress.IPv4Network if afi == AFI.IPV4 else ipaddress.IPv6Network
    address >>= 128 - bits
    keys = []
    for length in range(bits + 1):
        key = make_key(address, length, bits)
        net = network((address, length), strict=False)
        assert key_parts(key, bits) == (int(net.network_address), length)
        assert parse_prefix(format_prefix(key, afi)) == (afi, key)
        wire = bytes([length]) + net.network_address.packed[:(length + 7) // 8]
        if addpath:
            key = addpath_key(key, path_id)
            wire = path_id.to_bytes(4, "big") + wire
            assert format_prefix(key, afi, addpath=True) == f"{net}#{path_id}"
        # object -> bytes -> object
        assert encode_prefixes([key], bits, addpath) == wire
        assert prefix_wire_len(key, addpath) == len(wire)
        assert list(decode_prefixes(wire, bits, addpath)) == [key]
        keys.append(key)
    # a whole field, in both directions
    field = encode_prefixes(keys, bits, addpath)
    assert list(decode_prefixes(field, bits, addpath)) == keys
    assert encode_prefixes(decode_prefixes(field, bits, addpath), bits, addpath) == field


@pytest.mark.parametrize("addpath", [False, True])
@FAST
@given(keys=st.lists(prefix_keys(32, False), max_size=40), addresses=st.lists(u32, min_size=1, max_size=40),
       path_id=u32, same_length=st.integers(17, 24))
def test_ipv4_fast_paths_agree(addpath: bool, keys: list[int], addresses: list[int], path_id: int,
                               same_length: int) -> None:
    """/17../24 runs take single-struct fast paths on both sides; mixed runs do not."""
    run = [make_key(a, same_length, 32) for a in addresses]
    for plain in (keys, run, run + keys):
        ks = [addpath_key(k, path_id) for k in plain] if addpath else plain
        wire = encode_prefixes(ks, 32, addpath)
        assert list(decode_prefixes(wire, 32, addpath)) == ks
        assert len(wire) == sum(prefix_wire_len(k, addpath) for k in ks)


# =====================================================================================
# attributes
# =====================================================================================


@pytest.mark.parametrize("as4", [True, False])
@pytest.mark.parametrize("name", sorted(ATTRS_AS4))
@FAST
@given(data=st.data())
def test_attribute_roundtrip(name: str, as4: bool, data: st.DataObject) -> None:
    attr = data.draw((ATTRS_AS4 if as4 else ATTRS_AS2)[name])
    wire = encode_attribute(attr, as4)
    hdr = tlv_header_len(wire)
    assert wire[0] == attr.flags and wire[1] == attr.code
    assert int.from_bytes(wire[2:hdr], "big") == len(wire) - hdr
    assert (hdr == 4) == bool(attr.flags & EXT_LEN)
    decoded, problem = decode_attribute(wire, as4, True)
    assert problem is None
    assert decoded == attr
    assert type(decoded) is type(attr)
    assert encode_attribute(decoded, as4) == wire


@pytest.mark.parametrize("segment_type", list(SegmentType))
@FAST
@given(path=st.lists(u32, min_size=1, max_size=20), flags=attr_flags(WELL_KNOWN))
def test_as_path_two_octet_session_writes_as_trans(segment_type: SegmentType, path: list[int],
                                                   flags: int) -> None:
    """RFC 6793 §4.2.2: a 4-octet AS_PATH on a 2-octet session has AS_TRANS for big ASes;
    small ones survive unchanged."""
    attr = AsPath(((int(segment_type), tuple(path)),), flags)
    decoded, problem = decode_attribute(encode_attribute(attr, False), False, True)
    assert problem is None
    assert decoded.segments == ((segment_type, tuple(a if a <= 0xFFFF else AS_TRANS for a in path)),)
    as4_decoded, _ = decode_attribute(encode_attribute(attr, True), True, True)
    assert as4_decoded == attr


@FAST
@given(asn=u32, address=ipv4)
def test_aggregator_two_octet_session_writes_as_trans(asn: int, address: str) -> None:
    wire = encode_attribute(Aggregator(asn, address), as4=False)
    assert wire[2] == 6
    decoded, problem = decode_attribute(wire, False, True)
    assert problem is None
    assert decoded == Aggregator(asn if asn <= 0xFFFF else AS_TRANS, address)


@FAST
@given(values=st.permutations([int(c) for c in WellKnownCommunity]).map(tuple), as4=st.booleans(),
       ibgp=st.booleans())
def test_well_known_communities_keep_their_values(values: tuple[int, ...], as4: bool, ibgp: bool) -> None:
    attr = Communities(values)
    decoded, problem = decode_attribute(encode_attribute(attr, as4), as4, ibgp)
    assert problem is None
    assert decoded.values == values
    assert all(WellKnownCommunity(v) for v in decoded.values)


@pytest.mark.parametrize("family", [IPV4_UNICAST, IPV6_UNICAST, IPV4_MULTICAST, IPV6_MULTICAST])
@pytest.mark.parametrize("addpath", [False, True])
@FAST
@given(data=st.data())
def test_mp_attributes_roundtrip(family: Family, addpath: bool, data: st.DataObject) -> None:
    """MP_REACH (1 or 2 next hops, RFC 8950 IPv6 next hops for IPv4) and MP_UNREACH, with
    prefixes of every length, with and without ADD-PATH."""
    ctx = CodecContext(addpath=frozenset({family}) if addpath else frozenset())
    keys = data.draw(key_lists(width(family), addpath, max_size=30))
    next_hop = data.draw(mp_next_hops(family))
    flags = data.draw(attr_flags(OPTIONAL))
    reach = MpReach(family.afi, family.safi, next_hop, keys, flags=flags, addpath=addpath)
    unreach = MpUnreach(family.afi, family.safi, keys, flags=flags, addpath=addpath)
    for attr in (canonical(reach, True), canonical(unreach, True)):
        wire = encode_attribute(attr, True)
        value = wire[tlv_header_len(wire):]
        decoded = (MpReach.decode(value, wire[0], ctx.addpath, frozenset({family}))
                   if isinstance(attr, MpReach) else MpUnreach.decode(value, wire[0], ctx.addpath))
        assert decoded == attr
        assert decoded.addpath == addpath
        assert decoded.family == family
        assert encode_attribute(decoded, True) == wire
    # RFC 4760 §3 / RFC 2545 §3 / RFC 8950 §3: next hop length 4, 16 or 32
    reach_wire = encode_attribute(MpReach(family.afi, family.safi, next_hop, keys, addpath=addpath), True)
    nh_len = reach_wire[tlv_header_len(reach_wire) + 3]
    assert nh_len == sum(len(ipaddress.ip_address(a).packed) for a in next_hop)
    assert nh_len in (4, 16, 32)


@FAST
@given(raw=st.binary(min_size=2, max_size=60), flags=attr_flags(OPTIONAL))
def test_mp_attributes_of_other_families_are_kept_raw(raw: bytes, flags: int) -> None:
    for attr in (MpReach(EVPN.afi, EVPN.safi, raw=raw, flags=flags),
                 MpUnreach(EVPN.afi, EVPN.safi, raw=raw, flags=flags)):
        wire = encode_attribute(attr, True)
        decoded = type(attr).decode(wire[tlv_header_len(wire):], wire[0], frozenset({EVPN}))
        assert decoded == attr
        assert encode_attribute(decoded, True) == wire


@FAST
@given(length=st.integers(0, 255), code=st.sampled_from(NOT_IN_TABLE))
def test_extended_length_flag_on_short_values_is_kept(length: int, code: int) -> None:
    attr = UnknownAttribute(code, bytes(length), OPTIONAL_TRANSITIVE | EXT_LEN)
    wire = encode_attribute(attr, True)
    assert wire[:4] == bytes([OPTIONAL_TRANSITIVE | EXT_LEN, code]) + length.to_bytes(2, "big")
    assert decode_attribute(wire, True, False) == (attr, None)
    short = encode_attribute(UnknownAttribute(code, bytes(length)), True)
    assert short[:3] == bytes([OPTIONAL_TRANSITIVE, code, length])


# =====================================================================================
# AS4 attributes across a 2-octet session (RFC 6793 §4.2.2 / §4.2.3)
# =====================================================================================

# RFC 5065 §3: confederation segments only lead the path; their member ASes are not
# carried in AS4_PATH, so they must fit 2 octets to survive a 2-octet session.
confed_segments = st.tuples(st.sampled_from([3, 4]), st.lists(u16, min_size=1, max_size=4).map(tuple))
path_segments = st.tuples(st.sampled_from([1, 2]), st.lists(u32, min_size=1, max_size=6).map(tuple))
as4_paths = st.tuples(st.lists(confed_segments, max_size=2), st.lists(path_segments, max_size=4)).map(
    lambda t: tuple(t[0] + t[1]))


@SLOW
@given(path=as4_paths, aggregator=st.none() | st.tuples(u32, ipv4), nlri=key_lists(32, False))
@example(path=((2, (70000, 65001)),), aggregator=(65000, "10.0.0.1"), nlri=(0x18010203,))
def test_as4_attributes_survive_a_two_octet_session(
        path: tuple[tuple[int, tuple[int, ...]], ...], aggregator: tuple[int, str] | None,
        nlri: tuple[int, ...]) -> None:
    """to_two_octet + 2-octet encoding + 2-octet decoding gives back the true AS path and
    aggregator (RFC 6793 §4.2.3: AS4_PATH is ignored only when AGGREGATOR *and*
    AS4_AGGREGATOR are both received and AGGREGATOR is not AS_TRANS)."""
    nlri = nlri or (0x18010203,)
    attrs = [Origin(0), AsPath(path), NextHop("192.0.2.1")]
    if aggregator is not None:
        attrs.append(Aggregator(*aggregator))
    old = CodecContext(as4=False)
    wire = encode_update(Update(attrs=to_two_octet(AttrSet(attrs)), nlri=nlri), old)
    got = assert_accepted(decode_update(wire, old)).attrs
    assert got is not None
    assert got.as_path == path
    assert got.aggregator == aggregator


# =====================================================================================
# UPDATE
# =====================================================================================


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=ctx_and_update)
def test_update_roundtrip(case: tuple[CodecContext, Update]) -> None:
    ctx, update = case
    wire = encode_message(update, ctx)
    assert wire == encode_update(update, ctx)
    assert len(wire) <= MAX_MESSAGE_LEN
    # object -> bytes -> object
    result = decode_update(wire, ctx)
    got = assert_accepted(result)
    assert got == update
    assert got.attrs == update.attrs  # AttrSet equality: same attributes, same order
    assert result.eor == expected_eor(update)
    # bytes -> object -> bytes, twice (the second decode hits the intern caches)
    assert encode_update(got, ctx) == wire
    again = assert_accepted(parse_update(wire[HEADER_LEN:], ctx))
    assert again == update
    assert encode_update(again, ctx) == wire


@pytest.mark.parametrize("family", [IPV4_UNICAST, IPV6_UNICAST])
@pytest.mark.parametrize("addpath", [False, True])
def test_end_of_rib(family: Family, addpath: bool) -> None:
    ctx = CodecContext(addpath=frozenset({family}) if addpath else frozenset())
    wire = end_of_rib(family, ctx)
    result = decode_update(wire, ctx)
    got = assert_accepted(result)
    assert result.eor == family
    assert got.eor_family == family
    assert encode_update(got, ctx) == wire
    if family == IPV4_UNICAST:
        assert wire == b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x00"
    else:  # RFC 4724 §2: an MP_UNREACH_NLRI with no withdrawn routes
        assert wire[HEADER_LEN:] == b"\x00\x00\x00\x06\x80\x0f\x03\x00\x02\x01"


@SLOW
@given(ctx=contexts, keys=many_keys(32, False, max_n=3000), attrs=v4_attrs())
def test_extended_message_allows_large_updates(ctx: CodecContext, keys: list[int], attrs: AttrSet) -> None:
    ctx = dataclasses.replace(ctx, as4=True, addpath=frozenset(), extended_message=True)
    keys = keys + [make_key(i << 8, 24, 32) for i in range(1100)]  # > 4096 octets of NLRI
    update = Update(attrs=attrs, nlri=tuple(keys))
    wire = encode_update(update, ctx)
    assert MAX_MESSAGE_LEN < len(wire) <= ctx.max_message_len
    got = assert_accepted(decode_update(wire, ctx))
    assert got == update
    assert encode_update(got, ctx) == wire
    small = dataclasses.replace(ctx, extended_message=False)
    with pytest.raises(EncodeError):
        encode_update(update, small)
    with pytest.raises(EncodeError):
        encode_message(update, small)
    with pytest.raises(FramingError):
        decode_message(wire, small)


# =====================================================================================
# packing
# =====================================================================================


def split_decode(messages: list[bytes], ctx: CodecContext) -> list[Update]:
    out = []
    for wire in messages:
        assert len(wire) <= ctx.max_message_len
        out.append(assert_accepted(decode_update(wire, ctx)))
    return out


pack_contexts = st.builds(CodecContext, as4=st.booleans(), addpath=st.sets(
    st.sampled_from([IPV4_UNICAST, IPV6_UNICAST])).map(frozenset), extended_message=st.booleans(),
    extended_next_hop=st.sets(st.sampled_from([IPV4_UNICAST, IPV4_MULTICAST])).map(frozenset))


@SLOW
@given(ctx=pack_contexts, data=st.data())
def test_pack_ipv4(ctx: CodecContext, data: st.DataObject) -> None:
    attrs = data.draw(v4_attrs(ctx.as4))
    keys = data.draw(many_keys(32, IPV4_UNICAST in ctx.addpath))
    msgs = pack_ipv4(attrs, keys, ctx)
    updates = split_decode(msgs, ctx)
    assert [k for u in updates for k in u.nlri] == keys
    assert all(u.attrs == attrs and not u.withdrawn and u.mp_reach is None for u in updates)
    assert bool(msgs) == bool(keys)
    if keys and not ctx.extended_message and sum(prefix_wire_len(k, IPV4_UNICAST in ctx.addpath)
                                                   for k in keys) > MAX_MESSAGE_LEN:
        assert len(msgs) > 1


@SLOW
@given(ctx=pack_contexts, family=st.sampled_from([IPV4_UNICAST, IPV6_UNICAST, IPV6_MULTICAST]),
       data=st.data())
def test_pack_withdrawals(ctx: CodecContext, family: Family, data: st.DataObject) -> None:
    addpath = family in ctx.addpath
    keys = data.draw(many_keys(width(family), addpath, max_n=1500))
    updates = split_decode(pack_withdrawals(family, keys, ctx), ctx)
    if family == IPV4_UNICAST:
        assert all(u.mp_unreach is None and u.attrs is None for u in updates)
        assert [k for u in updates for k in u.withdrawn] == keys
    else:
        assert all(u.mp_unreach is not None and u.mp_unreach.family == family for u in updates)
        assert [k for u in updates for k in u.mp_unreach.withdrawn] == keys  # type: ignore[union-attr]


@SLOW
@given(ctx=pack_contexts, family=st.sampled_from([IPV4_UNICAST, IPV6_UNICAST, IPV4_MULTICAST]),
       data=st.data())
def test_pack_mp(ctx: CodecContext, family: Family, data: st.DataObject) -> None:
    addpath = family in ctx.addpath
    attrs = data.draw(v4_attrs(ctx.as4))
    next_hop = data.draw(mp_next_hops(family, family in ctx.extended_next_hop))
    keys = data.draw(many_keys(width(family), addpath, max_n=1500))
    updates = split_decode(pack_mp(attrs, family, next_hop, keys, ctx), ctx)
    collected: list[int] = []
    for u in updates:
        assert u.attrs == attrs and u.mp_reach is not None and not u.nlri
        assert u.mp_reach.family == family and u.mp_reach.next_hop == next_hop
        collected.extend(u.mp_reach.nlri)
    assert collected == keys


@FAST
@given(pad=st.integers(3900, 4100), family=st.sampled_from([IPV4_UNICAST, IPV6_UNICAST]),
       keys=st.lists(st.integers(0, 0xFFFFFF), min_size=1, max_size=20), length=st.sampled_from([8, 24, 32]))
@example(pad=4040, family=IPV4_UNICAST, keys=[0x010203] * 3, length=24)  # 2 octets of room left
@example(pad=4050, family=IPV4_UNICAST, keys=[0x010203] * 3, length=24)  # no room left
def test_packers_never_drop_keys_when_attributes_fill_the_message(
        pad: int, family: Family, keys: list[int], length: int) -> None:
    """With an attribute block that leaves little or no room for NLRI, a packer either
    raises EncodeError or returns messages carrying every key: it never loses keys."""
    ctx = CodecContext()
    bits = width(family)
    prefixes = [make_key(k << (bits - 24), length, bits) for k in keys]
    filler = UnknownAttribute(99, bytes(pad), OPTIONAL_TRANSITIVE | EXT_LEN)
    attrs = AttrSet([Origin(0), AsPath(()), NextHop("192.0.2.1"), filler])
    next_hop = ("192.0.2.1",) if family == IPV4_UNICAST else ("2001:db8::1",)
    packers: list[Callable[[], list[bytes]]] = [lambda: pack_mp(attrs, family, next_hop, prefixes, ctx)]
    if family == IPV4_UNICAST:
        packers.append(lambda: pack_ipv4(attrs, prefixes, ctx))
    for pack in packers:
        try:
            messages = pack()
        except EncodeError:
            continue
        updates = split_decode(messages, ctx)
        got = [k for u in updates for k in (u.nlri or (u.mp_reach.nlri if u.mp_reach else ()))]
        assert got == prefixes


@pytest.mark.parametrize("length", [24, 25, 16])
def test_pack_ipv4_fills_one_message_to_the_octet_then_splits(length: int) -> None:
    """RFC 4271 §4.3, §4.1: as many prefixes as fit in 4096 octets go in one UPDATE, the
    same bytes ``encode_update`` makes, to the last octet; one more prefix, or one octet
    less room, makes two."""
    ctx = CodecContext()
    size = prefix_wire_len(make_key(10 << 24, length, 32), False)

    def attrs_with(pad: int) -> AttrSet:
        return AttrSet([Origin(0), AsPath(((2, (65001,)),)), NextHop("192.0.2.1"),
                        UnknownAttribute(99, bytes(pad), OPTIONAL_TRANSITIVE)])

    def room(attrs: AttrSet) -> int:
        return MAX_MESSAGE_LEN - HEADER_LEN - 4 - len(attrs.wire(True))

    attrs = next(a for a in map(attrs_with, range(size)) if room(a) % size == 0)
    fit = room(attrs) // size
    keys = [make_key((10 << 24) + (i << (32 - length)), length, 32) for i in range(fit + 1)]
    one = pack_ipv4(attrs, keys[:fit], ctx)
    assert one == [encode_update(Update(attrs=attrs, nlri=tuple(keys[:fit])), ctx)]
    assert len(one[0]) == MAX_MESSAGE_LEN  # filled to the octet
    for attrs_, keys_ in ((attrs, keys), (attrs_with(len(attrs.get(99).value) + 1), keys[:fit])):
        two = pack_ipv4(attrs_, keys_, ctx)
        assert len(two) == 2 and all(len(m) <= MAX_MESSAGE_LEN for m in two)
        assert [k for u in split_decode(two, ctx) for k in u.nlri] == keys_


# =====================================================================================
# capabilities and OPEN
# =====================================================================================


@pytest.mark.parametrize("name", sorted(CAPABILITIES))
@FAST
@given(data=st.data())
def test_capability_roundtrip(name: str, data: st.DataObject) -> None:
    cap = data.draw(CAPABILITIES[name])
    wire = encode_capability(cap)
    assert wire[0] == cap.code and wire[1] == len(wire) - 2
    assert decode_capabilities(wire) == (cap,)
    assert b"".join(encode_capability(c) for c in decode_capabilities(wire)) == wire


@FAST
@given(caps=st.lists(capabilities, max_size=10))
def test_capability_runs_roundtrip(caps: list[Capability]) -> None:
    wire = b"".join(encode_capability(c) for c in caps)
    assert decode_capabilities(wire) == tuple(caps)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=opens(), ctx=contexts)
def test_open_roundtrip(msg: Open, ctx: CodecContext) -> None:
    wire = encode_message(msg, ctx)
    decoded = decode_message(wire, ctx)
    assert decoded == msg
    assert isinstance(decoded, Open)
    assert decoded.capabilities == msg.capabilities
    assert encode_message(decoded, ctx) == wire
    assert (wire[28:30] == b"\xff\xff") == msg.extended_params  # RFC 9072 §2 marker


@FAST
@given(msg=opens(min_params=1), extra=st.lists(capabilities, max_size=4))
def test_open_with_long_parameters_uses_rfc9072(msg: Open, extra: list[Capability]) -> None:
    """RFC 9072 §2: more than 255 octets of parameters (here one parameter of > 420)."""
    mp = [Multiprotocol(1, s) for s in range(70)]  # 6 * 70 = 420 octets
    big = CapabilitiesParam((*mp, *extra))
    msg = dataclasses.replace(msg, params=(*msg.params, big), extended_params=True)
    wire = encode_message(msg, CodecContext())
    assert wire[28:30] == b"\xff\xff"
    assert int.from_bytes(wire[30:32], "big") == len(wire) - 32
    decoded = decode_message(wire, CodecContext())
    assert decoded == msg
    assert encode_message(decoded, CodecContext()) == wire


@FAST
@given(asn=u32, hold=u16, bgp_id=ipv4, caps=st.lists(capabilities, max_size=5), one_each=st.booleans())
def test_open_build(asn: int, hold: int, bgp_id: str, caps: list[Capability], one_each: bool) -> None:
    caps = [c for c in caps if not isinstance(c, FourOctetAs)] + [FourOctetAs(asn)]
    msg = Open.build(asn, hold, bgp_id, tuple(caps), one_param_each=one_each)
    assert msg.my_as == (asn if asn <= 0xFFFF else AS_TRANS)
    assert len(msg.params) == (len(caps) if one_each else 1)
    msg = dataclasses.replace(msg, extended_params=needs_extended(msg.params))
    decoded = decode_message(encode_message(msg, CodecContext()), CodecContext())
    assert isinstance(decoded, Open)
    assert decoded == msg and decoded.asn == asn and decoded.capabilities == tuple(caps)


def test_open_param_type_255_is_not_misframed() -> None:
    """RFC 9072 §2: a non-extended Optional Parameters field of length 255 whose first
    parameter type is 255 reads as the extended format. The encoder must not produce that
    (refuse the reserved type, or use the extended format), yet it does."""
    msg = Open(65001, 90, "192.0.2.1", (UnknownParam(255, bytes(253)),))
    try:
        wire = encode_message(msg, CodecContext())
    except EncodeError:
        return
    assert decode_message(wire, CodecContext()) == dataclasses.replace(msg, extended_params=True)


# =====================================================================================
# NOTIFICATION, KEEPALIVE, ROUTE-REFRESH
# =====================================================================================


@FAST
@given(msg=notifications, ctx=contexts)
def test_notification_roundtrip(msg: Notification, ctx: CodecContext) -> None:
    wire = encode_message(msg, ctx)
    assert wire[HEADER_LEN:HEADER_LEN + 2] == bytes([msg.code, msg.subcode])
    decoded = decode_message(wire, ctx)
    assert decoded == msg
    assert encode_message(decoded, ctx) == wire


@FAST
@given(text=st.text(max_size=300), subcode=st.sampled_from([CeaseSubcode.ADMINISTRATIVE_SHUTDOWN,
                                                           CeaseSubcode.ADMINISTRATIVE_RESET]))
@example(text="Wartungsfenster \u00fcber Nacht \u2013 \u7ef4\u62a4 \U0001f6a7",
         subcode=CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)
@example(text="\u00e9" * 200, subcode=CeaseSubcode.ADMINISTRATIVE_RESET)
def test_shutdown_communication(text: str, subcode: CeaseSubcode) -> None:
    """RFC 9003 §2: UTF-8 text, at most 255 octets, never cut inside a character."""
    msg = Notification.cease(subcode, text)
    decoded = decode_message(encode_message(msg, CodecContext()), CodecContext())
    assert isinstance(decoded, Notification)
    comm = decoded.communication
    if not text:
        assert comm is None
        return
    assert comm is not None
    assert text.startswith(comm)
    assert len(comm.encode()) <= 255
    assert decoded.data[0] == len(comm.encode())
    if len(text.encode()) <= 255:
        assert comm == text
    else:  # the longest prefix that fits
        assert len(text[:len(comm) + 1].encode()) > 255


@FAST
@given(inner=notifications)
def test_hard_reset_wraps_and_unwraps(inner: Notification) -> None:
    """RFC 8538 §3: Cease / Hard Reset carries the original code, subcode and data."""
    wrapped = inner.hard_reset()
    assert wrapped.is_hard_reset
    wire = encode_message(wrapped, CodecContext())
    assert wire[HEADER_LEN:HEADER_LEN + 4] == bytes([6, 9, inner.code, inner.subcode])
    decoded = decode_message(wire, CodecContext())
    assert isinstance(decoded, Notification)
    assert decoded == wrapped
    assert decoded.unwrap() == inner
    assert decoded.unwrap().communication == inner.communication
    if not inner.is_hard_reset:
        assert inner.unwrap() is inner


def test_keepalive_roundtrip() -> None:
    wire = encode_message(KEEPALIVE, CodecContext())
    assert wire == b"\xff" * 16 + b"\x00\x13\x04"
    assert decode_message(wire, CodecContext()) == Keepalive()
    assert encode_message(Keepalive(), CodecContext(extended_message=True)) == wire


@FAST
@given(msg=route_refreshes, ctx=contexts)
def test_route_refresh_roundtrip(msg: RouteRefresh, ctx: CodecContext) -> None:
    wire = encode_message(msg, ctx)
    assert len(wire) == 23
    assert wire[HEADER_LEN:] == msg.afi.to_bytes(2, "big") + bytes([msg.subtype, msg.safi])
    decoded = decode_message(wire, ctx)
    assert decoded == msg
    assert encode_message(decoded, ctx) == wire


def test_received_host_bits_are_cleared_on_the_fast_path_and_the_other() -> None:
    """/17../24 prefixes with host bits set on the wire decode with them cleared, all of
    one length (``nlri._same_length_v4``, each length's decoder kept) or mixed."""
    same = bytes([20, 10, 1, 0xFF, 20, 10, 2, 0x0F])  # two /20s, host bits set
    want = [make_key(0x0A01F000, 20, 32), make_key(0x0A020000, 20, 32)]
    for _ in range(2):  # (the second time from the kept decoder)
        assert list(decode_prefixes(same, 32, False)) == want
        mixed = same + bytes([24, 10, 3, 0, 8, 10])  # (and a /24, a /8: not one length)
        assert list(decode_prefixes(mixed, 32, False)) == [*want, make_key(0x0A030000, 24, 32),
                                                           make_key(0x0A000000, 8, 32)]


def test_the_kept_one_length_decoders_are_bounded() -> None:
    """A message of more /24s than a 4096-octet one holds (RFC 8654 allows 65535) is
    decoded on the fast path, its decoder not kept: what a peer sends cannot grow the
    table beyond the patterns of 4096-octet messages."""
    from gracebgp.wire import nlri

    many = b"".join(bytes([24, 10, i >> 8, i & 0xFF]) for i in range(nlri._SAME_LENGTH_KEPT + 1))
    before = len(nlri._SAME_LENGTH)
    assert len(decode_prefixes(many, 32, False)) == nlri._SAME_LENGTH_KEPT + 1
    assert len(nlri._SAME_LENGTH) == before
    assert len(decode_prefixes(many[4:], 32, False)) == nlri._SAME_LENGTH_KEPT
    assert many[4::4] in nlri._SAME_LENGTH
