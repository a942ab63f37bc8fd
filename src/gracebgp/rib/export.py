"""Export rules: which best paths go to a peer, and with which attributes.

RFC 4271 §9.1.3 (Phase 3) and §5.1 (per-attribute rules: AS_PATH prepend §5.1.2,
NEXT_HOP §5.1.3, MED not propagated across ASes §5.1.4, LOCAL_PREF only inside the AS
§5.1.5), §9.2 (iBGP split horizon), RFC 4456 §8 (route reflection, ORIGINATOR_ID,
CLUSTER_LIST), RFC 1997 (NO_EXPORT, NO_ADVERTISE, NO_EXPORT_SUBCONFED), RFC 4271 §5
(unrecognized optional transitive attributes are passed on with Partial set); RFC 7947
§2.2 (attribute transparency towards route-server clients); the AS_PATH options of
:mod:`gracebgp.rib.aspath_rules`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from gracebgp.rib.aspath_rules import RemovePrivateAs, holds_as, remove_private, replace_as
from gracebgp.rib.attr_edit import ListDraft, add_communities, finish
from gracebgp.rib.export_step import PolicyStep
from gracebgp.rib.path import Exported, Path, PathTable, PeerInfo, shared_hop
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire.attributes import (
    WELL_KNOWN,
    AsPath,
    ClusterList,
    LocalPref,
    NextHop,
    OriginatorId,
    Segment,
    UnknownAttribute,
    encode_attribute,
)
from gracebgp.wire.attrset import AttrSet, intern_value
from gracebgp.wire.iana import AttrType, SegmentType, WellKnownCommunity

_NO_ADVERTISE = int(WellKnownCommunity.NO_ADVERTISE)
_COMMUNITIES = int(AttrType.COMMUNITIES)
_LLGR_STALE = int(WellKnownCommunity.LLGR_STALE)
_GSHUT = int(WellKnownCommunity.GRACEFUL_SHUTDOWN)
_NO_EXPORT = (int(WellKnownCommunity.NO_EXPORT), int(WellKnownCommunity.NO_EXPORT_SUBCONFED))
# (plain ints: looking up an enum member, AttrType.X, in the loop over a set's attributes
# costs 65 ns each time)
_AS_PATH = int(AttrType.AS_PATH)
_NEXT_HOP = int(AttrType.NEXT_HOP)
_MED = int(AttrType.MULTI_EXIT_DISC)
#: The type codes an export never copies from the source path (``_dropped``): AS4_PATH
#: and AS4_AGGREGATOR (RFC 6793 §4.1, §4.2.2: rebuilt for 2-octet peers), NEXT_HOP (RFC
#: 4271 §5.1.3: the rules put it in); to eBGP also LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST
#: (RFC 4271 §5.1.5, RFC 4456 §8) and, for a received route, MED (RFC 4271 §5.1.4; RFC
#: 7947 §2.2.3: a route server passes it on).
_DROPPED_IBGP = frozenset((int(AttrType.AS4_PATH), int(AttrType.AS4_AGGREGATOR), _NEXT_HOP))
_DROPPED_EBGP_KEEP_MED = _DROPPED_IBGP | {int(AttrType.LOCAL_PREF), int(AttrType.ORIGINATOR_ID),
                                          int(AttrType.CLUSTER_LIST)}
_DROPPED_EBGP = _DROPPED_EBGP_KEEP_MED | {_MED}
#: The well-known communities that stop an eBGP export or change it (RFC 1997, RFC 9494):
#: a set holding one takes the general way, which reads them.
_STOPS_EBGP = frozenset((_NO_ADVERTISE, *_NO_EXPORT, _LLGR_STALE))
_code = attrgetter("code")


@dataclass(frozen=True, slots=True)
class ExportPolicy:
    """How this speaker talks to one target peer.

    ``next_hop_v4``/``next_hop_v6`` are this speaker's addresses on that session, used
    for eBGP (next-hop self) and for routes it originates without a next hop.
    ``cluster_id`` is set when this speaker reflects routes (RFC 4456 §7).
    """

    peer: PeerInfo
    local_as: int
    router_id: str
    next_hop_v4: str | None = None
    next_hop_v6: tuple[str, ...] = ()
    cluster_id: str | None = None
    next_hop_self: bool = False
    #: RFC 9494 §4.3, §4.6: the peer negotiated LLGR for this family (it may take LLGR-stale
    #: routes); ``llgr_ibgp``: to an iBGP peer without it, send them with NO_EXPORT and
    #: LOCAL_PREF 0 instead of not at all (spec section 5, "if configured").
    llgr: bool = False
    llgr_ibgp: bool = False
    #: RFC 8326 drain (spec section 6): tag every route GRACEFUL_SHUTDOWN (LOCAL_PREF 0 to
    #: iBGP); ``withdraw_all``: the drain's second phase, advertise nothing.
    gshut: bool = False
    withdraw_all: bool = False
    #: RFC 7947: the peer is a route-server client; routes go to it as they came (no AS
    #: prepended, NEXT_HOP, MED and communities unchanged, §2.2).
    route_server_client: bool = False
    #: ``replace-peer-as``: the peer's AS in the AS_PATH becomes ours (aspath_rules).
    replace_peer_as: bool = False
    #: ``remove-private-as`` (eBGP only): private AS numbers removed or replaced by ours.
    remove_private_as: RemovePrivateAs = RemovePrivateAs.NONE


def prepend(segments: tuple[Segment, ...], asn: int) -> tuple[Segment, ...]:
    """RFC 4271 §5.1.2: our AS as the leftmost AS_SEQUENCE member (a new segment when
    the first one is a set or full)."""
    if segments and segments[0][0] == SegmentType.AS_SEQUENCE and len(segments[0][1]) < 255:
        return ((SegmentType.AS_SEQUENCE, (asn, *segments[0][1])), *segments[1:])
    return ((SegmentType.AS_SEQUENCE, (asn,)), *segments)


def export_path(source: PeerInfo, path: Path, policy: ExportPolicy, family: Family,
                table: PathTable, by_value: bool = False, step: PolicyStep | None = None) -> Path | None:
    """The path as sent to ``policy.peer``, or None when it must not be sent: an
    ``Exported`` (its encoding and next hop). ``by_value``: an export policy runs next and
    mostly changes the result: a Path of a set interned by value instead (no encoding is
    made for a set that may never be sent). ``step``: an export policy applied here, after
    the rules, as ``ExportFilter`` applies it after them: the drain's and LLGR's
    communities then applied again (``attr_edit.finish``)."""
    target = policy.peer
    if source.index == target.index or policy.withdraw_all:
        return None  # never back to where it came from
    attrs = path.attrs
    ebgp = not target.ibgp
    from_ibgp = source.ibgp and not source.local
    if not ebgp and from_ibgp and not (source.rr_client or target.rr_client):
        return None  # RFC 4271 §9.2 split horizon; RFC 4456 §8 reflection otherwise
    segments = attrs.as_path
    if policy.replace_peer_as:  # before the loop check, so the route goes out (GoBGP's order)
        segments = replace_as(segments, target.asn, policy.local_as)
    if ebgp and target.asn >= 0 and holds_as(segments, target.asn):  # (a class's -1: per peer)
        return None  # the peer would drop it as a loop (RFC 4271 §9.1.2)
    # RFC 7947 §2.2: a route server passes its clients' attributes on unchanged (the routes
    # it originates itself carry its AS and next hop like any eBGP route).
    transparent = ebgp and policy.route_server_client and not source.local
    if ebgp and not transparent and policy.remove_private_as:  # GoBGP's order: before our AS
        segments = remove_private(segments, policy.remove_private_as, policy.local_as)
    dropped = _dropped(ebgp, source.local, transparent)
    if ebgp and not transparent and family == IPV4_UNICAST and step is None and not by_value \
            and not policy.gshut and policy.next_hop_v4 is not None:
        # (the usual eBGP export: encoded as it is walked in one pass, no index, no sort;
        # a set with a community that stops or changes it takes the general way)
        _, hop, nh_tlv = _next_hop(policy.next_hop_v4)
        block = _ebgp_block(attrs.attrs, dropped, source.local, _prepended_tlv(segments, policy.local_as),
                            nh_tlv)
        if block is not None:
            return Exported(block, hop)
    comms = attrs.get(_COMMUNITIES)
    marks = () if comms is None else comms.reserved()  # (the well-known ones: all this reads)
    llgr_fallback = False
    # (the community itself, not ``path.llgr_stale``: that reads every decision field of
    # a path that is only being exported)
    if _LLGR_STALE in marks and not policy.llgr:
        # RFC 9494 §4.3: never to a peer without LLGR; §4.6: to iBGP if configured.
        if not target.ibgp or not policy.llgr_ibgp:
            return None
        llgr_fallback = True
    # RFC 1997 binds routes *received* with these communities; a route we originate
    # carries them for the neighbor to honour (the usual "tag my prefix NO_EXPORT").
    if marks and not source.local and (_NO_ADVERTISE in marks or (
            ebgp and (_NO_EXPORT[0] in marks or _NO_EXPORT[1] in marks))):  # (no generator per path)
        return None
    out = _copied(attrs.attrs, dropped, source.local)
    by_code = {a.code: i for i, a in enumerate(out)}
    as_path: AsPath | None = None  # the shared attributes put in below, with their TLVs
    nh_attr: NextHop | None = None
    as_path_tlv = nh_tlv = b""
    if ebgp and not transparent:
        as_path, as_path_tlv = _prepended(segments, policy.local_as)
        _put(out, by_code, as_path)
    else:  # RFC 7947 §2.2.2.1: a route server does not prepend its AS
        _put(out, by_code, AsPath(segments))
    if not ebgp:
        _put(out, by_code, LocalPref(path.local_pref))
        if from_ibgp:  # reflecting (RFC 4456 §8)
            if AttrType.ORIGINATOR_ID not in by_code:
                _put(out, by_code, OriginatorId(source.router_id))
            old = attrs.get(AttrType.CLUSTER_LIST)
            cluster = policy.cluster_id or policy.router_id
            _put(out, by_code, ClusterList((cluster, *(old.ids if old is not None else ()))))

    # RFC 7947 §2.2.1: NEXT_HOP unchanged towards a route-server client (ours only for a
    # route without one, one we originate).
    self_next_hop = (ebgp and not transparent) or policy.next_hop_self or not path.next_hop
    next_hop: tuple[str, ...]
    if family == IPV4_UNICAST:
        nh = policy.next_hop_v4 if self_next_hop else path.next_hop[0]
        if nh is None:
            return None  # no address to put in NEXT_HOP yet
        nh_attr, next_hop, nh_tlv = _next_hop(nh)  # (shared: one per address, not per export)
        _put(out, by_code, nh_attr)
    else:
        next_hop = policy.next_hop_v6 if self_next_hop else path.next_hop
        if not next_hop:
            return None
    if llgr_fallback or policy.gshut:
        draft = ListDraft(out, by_code)
        if llgr_fallback:  # RFC 9494 §4.6: to iBGP without LLGR, NO_EXPORT and LOCAL_PREF 0
            add_communities(draft, (_NO_EXPORT[0],), 0)
        if policy.gshut:  # RFC 8326 §4: the drain's community (LOCAL_PREF 0 inside the AS)
            add_communities(draft, (_GSHUT,), None if ebgp else 0)
    if step is not None:  # the policy sees the route as sent (GoBGP's order) ...
        next_hop = step.edit(source, out, by_code, next_hop, path.next_hop, ebgp)
        if policy.gshut or not (ebgp or policy.llgr):  # ... and undoes none of that
            finish(ListDraft(out, by_code), not ebgp, policy.llgr, policy.gshut)
    out.sort(key=_code)
    if by_value:
        return table.get(intern_value(AttrSet.clean(tuple(out), by_code, True)), next_hop)
    # (kept as its encoding: no AttrSet, tuple or interned Path per exported set, issue 14;
    # the shared AS_PATH and NEXT_HOP are encoded once, not once per set)
    return Exported(b"".join([as_path_tlv if a is as_path else nh_tlv if a is nh_attr
                              else encode_attribute(a, True) for a in out]), next_hop)


def export_class(policy: ExportPolicy) -> ExportPolicy:
    """``policy`` without the target peer's identity: what ``export_path`` makes of a path
    is the same for every peer of one class (an update group), so the Adj-RIBs-Out export
    each path once per class. Only two rules depend on the peer itself, and the class
    leaves them to the caller: never back to where a route came from, and the eBGP
    AS-loop check (the class's AS is -1, in no AS_PATH) - unless ``replace-peer-as``
    makes the AS_PATH itself depend on the peer's AS, which then stays in the class."""
    peer = policy.peer
    asn = peer.asn if policy.replace_peer_as else -1
    return replace(policy, peer=PeerInfo(-1, "", asn, "", peer.ibgp, peer.rr_client))


#: Exports share their AS_PATH and NEXT_HOP attributes: a full table has tens of thousands
#: of AS paths but a hundred thousand attribute sets, and one NEXT_HOP per session.
_PREPENDED: dict[tuple[tuple[Segment, ...], int], tuple[AsPath, bytes]] = {}
#: The usual eBGP export needs only the TLV: no AsPath and tuples kept per AS path for it
#: (0.6 MB per 100k routes in the routing benchmark's table, issue 14 item 3).
_PREPENDED_TLV: dict[tuple[tuple[Segment, ...], int], bytes] = {}
_NEXT_HOPS: dict[str, tuple[NextHop, tuple[str, ...], bytes]] = {}
_SHARED_LIMIT = 1 << 18


def _prepended(segments: tuple[Segment, ...], asn: int) -> tuple[AsPath, bytes]:
    """AS_PATH with ``asn`` prepended (RFC 4271 §5.1.2), one object per result, and its
    4-octet-AS TLV (encoded once, not once per exported set)."""
    key = (segments, asn)
    hit = _PREPENDED.get(key)
    if hit is None:
        if len(_PREPENDED) >= _SHARED_LIMIT:
            _PREPENDED.clear()
        hit = _PREPENDED[key] = (AsPath(prepend(segments, asn)), _prepended_tlv(segments, asn))
    return hit


def _prepended_tlv(segments: tuple[Segment, ...], asn: int) -> bytes:
    """The 4-octet-AS TLV of ``_prepended`` (the same octets), kept alone."""
    key = (segments, asn)
    hit = _PREPENDED_TLV.get(key)
    if hit is None:
        if len(_PREPENDED_TLV) >= _SHARED_LIMIT:
            _PREPENDED_TLV.clear()
        hit = _PREPENDED_TLV[key] = encode_attribute(AsPath(prepend(segments, asn)), True)
    return hit


def _dropped(ebgp: bool, local: bool, transparent: bool) -> frozenset[int]:
    """The type codes ``_copied`` drops. ``local``: our own route; ``transparent``: to a
    route-server client (RFC 7947 §2.2)."""
    if not ebgp:
        return _DROPPED_IBGP
    return _DROPPED_EBGP_KEEP_MED if local or transparent else _DROPPED_EBGP


def _passed_on(a: UnknownAttribute, local: bool) -> UnknownAttribute | None:
    """RFC 4271 §5: an unrecognized optional transitive attribute is passed on with the
    Partial bit set (on our own route, as it is); an optional non-transitive one is not."""
    if not a.flags & WELL_KNOWN:
        return None
    return a if local else a.for_forwarding()


def _copied(attrs: tuple[Any, ...], dropped: frozenset[int], local: bool) -> list[Any]:
    """The attributes of a path an export passes on, in their order (AS_PATH among them:
    the caller replaces it), without the codes ``dropped`` (``_dropped``). ``local``: our
    own route."""
    out: list[Any] = []
    for a in attrs:
        if a.code in dropped:
            continue
        if a.__class__ is not UnknownAttribute:
            out.append(a)
        elif (passed := _passed_on(a, local)) is not None:
            out.append(passed)
    return out


def _ebgp_block(attrs: tuple[Any, ...], dropped: frozenset[int], local: bool, as_path_tlv: bytes,
                nh_tlv: bytes) -> bytes | None:
    """The attribute block of an eBGP export with our AS_PATH and NEXT_HOP (RFC 4271
    §5.1.2, §5.1.3), made in one pass over the source's ``attrs``: what ``_copied``
    keeps encoded, those two put in their place. None, and the caller takes the general
    way, when ``attrs`` is not in type-code order (the usual is) or holds a community that
    stops or changes an eBGP export (``_STOPS_EBGP``: the general way reads them). The
    same octets as the general way (``_copied``, ``_put``, sort by code, join)."""
    parts: list[bytes] = []
    last = 0
    for a in attrs:
        code = a.code
        if code <= last:
            return None
        if last < _AS_PATH <= code:
            parts.append(as_path_tlv)
        if last < _NEXT_HOP <= code:
            parts.append(nh_tlv)
        last = code
        if code in dropped or code == _AS_PATH:  # (the received AS_PATH: ours is in)
            continue
        if code == _COMMUNITIES:
            marks = a.reserved()
            if marks and not _STOPS_EBGP.isdisjoint(marks):
                return None
            parts.append(a.tlv())
        elif a.__class__ is UnknownAttribute:
            if (passed := _passed_on(a, local)) is not None:
                parts.append(encode_attribute(passed, True))
        else:
            parts.append(encode_attribute(a, True))
    if last < _AS_PATH:
        parts.append(as_path_tlv)
    if last < _NEXT_HOP:
        parts.append(nh_tlv)
    return b"".join(parts)


def _next_hop(address: str) -> tuple[NextHop, tuple[str, ...], bytes]:
    """The NEXT_HOP attribute of ``address``, the next hop an export keeps and the TLV:
    one each per address, not per export."""
    hit = _NEXT_HOPS.get(address)
    if hit is None:
        if len(_NEXT_HOPS) >= _SHARED_LIMIT:
            _NEXT_HOPS.clear()
        attr = NextHop(address)
        hit = _NEXT_HOPS[address] = (attr, shared_hop((address,)), encode_attribute(attr, True))
    return hit


def _put(out: list[Any], by_code: dict[int, int], attr: Any) -> None:
    i = by_code.get(attr.code)
    if i is None:
        by_code[attr.code] = len(out)
        out.append(attr)
    else:
        out[i] = attr


def finish_export(policy: ExportPolicy, attrs: AttrSet) -> AttrSet:
    """``attr_edit.finish`` on a set an export policy made after the rules (not
    interned; ``attrs`` when unchanged)."""
    ibgp = policy.peer.ibgp
    if not policy.gshut and not (ibgp and not policy.llgr and _LLGR_STALE in attrs.communities):
        return attrs  # (the usual: nothing to add, no list made)
    draft = ListDraft.of(attrs)
    finish(draft, ibgp, policy.llgr, policy.gshut)
    return draft.attrset() if draft.changed else attrs


def with_communities(attrs: AttrSet, add: Iterable[int], local_pref: int | None = None) -> AttrSet:
    """``attr_edit.add_communities`` on a set (not interned; ``attrs`` when unchanged)."""
    add, have = tuple(add), attrs.communities  # (read twice: an iterator would be spent)
    if all(c in have for c in add) and (local_pref is None or attrs.local_pref == local_pref):
        return attrs  # (nothing to add, no list made)
    draft = ListDraft.of(attrs)
    add_communities(draft, add, local_pref)
    return draft.attrset() if draft.changed else attrs
