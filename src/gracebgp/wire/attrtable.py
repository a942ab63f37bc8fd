"""The per-attribute-type table: decoder, expected flags, and RFC 7606 §7 handling.

``decode_one`` turns one attribute TLV into either a value or a ``Problem``; nothing
escapes as an exception. RFC 7606 §3 c (flag conflicts), §4 (zero length), §7.1-§7.14
(per attribute), RFC 6793 §6 (AS4_PATH / AS4_AGGREGATOR: attribute discard), RFC 8092 §6
(LARGE_COMMUNITY: treat-as-withdraw), RFC 4271 §6.3 (unrecognized well-known: reset).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from gracebgp.errors import CodecError
from gracebgp.wire.attributes import (
    OPTIONAL,
    OPTIONAL_TRANSITIVE,
    WELL_KNOWN,
    Aggregator,
    As4Aggregator,
    As4Path,
    AsPath,
    AtomicAggregate,
    ClusterList,
    LocalPref,
    MultiExitDisc,
    NextHop,
    Origin,
    OriginatorId,
    UnknownAttribute,
)
from gracebgp.wire.communities import Communities, ExtendedCommunities, LargeCommunities
from gracebgp.wire.iana import AttrType, UpdateSubcode
from gracebgp.wire.outcome import Problem, UpdateAction

A = UpdateAction
_OT_MASK = OPTIONAL_TRANSITIVE


class Descriptor(NamedTuple):
    decode: Callable[[bytes, int, bool], Any]
    flags: int  # expected Optional and Transitive bits
    on_ebgp: UpdateAction  # action when malformed, from an external peer
    on_ibgp: UpdateAction  # action when malformed, from an internal peer
    always_discard_ebgp: bool = False  # RFC 7606 §7.5/§7.9/§7.10: discarded from eBGP
    whole: bool = False  # ``decode`` takes the whole TLV (header included), not the value


TABLE: dict[int, Descriptor] = {
    AttrType.ORIGIN: Descriptor(Origin.decode_value, WELL_KNOWN, A.TREAT_AS_WITHDRAW, A.TREAT_AS_WITHDRAW),
    AttrType.AS_PATH: Descriptor(AsPath.decode_value, WELL_KNOWN, A.TREAT_AS_WITHDRAW, A.TREAT_AS_WITHDRAW),
    AttrType.NEXT_HOP: Descriptor(NextHop.decode_value, WELL_KNOWN, A.TREAT_AS_WITHDRAW, A.TREAT_AS_WITHDRAW),
    AttrType.MULTI_EXIT_DISC: Descriptor(
        MultiExitDisc.decode_value, OPTIONAL, A.TREAT_AS_WITHDRAW, A.TREAT_AS_WITHDRAW),
    AttrType.LOCAL_PREF: Descriptor(
        LocalPref.decode_value, WELL_KNOWN, A.ATTRIBUTE_DISCARD, A.TREAT_AS_WITHDRAW, True),
    AttrType.ATOMIC_AGGREGATE: Descriptor(
        AtomicAggregate.decode_value, WELL_KNOWN, A.ATTRIBUTE_DISCARD, A.ATTRIBUTE_DISCARD),
    AttrType.AGGREGATOR: Descriptor(
        Aggregator.decode_value, OPTIONAL_TRANSITIVE, A.ATTRIBUTE_DISCARD, A.ATTRIBUTE_DISCARD),
    AttrType.COMMUNITIES: Descriptor(  # (keeps the TLV, the attribute table's key)
        Communities.of_tlv, OPTIONAL_TRANSITIVE, A.TREAT_AS_WITHDRAW, A.TREAT_AS_WITHDRAW, whole=True),
    AttrType.ORIGINATOR_ID: Descriptor(
        OriginatorId.decode_value, OPTIONAL, A.ATTRIBUTE_DISCARD, A.TREAT_AS_WITHDRAW, True),
    AttrType.CLUSTER_LIST: Descriptor(
        ClusterList.decode_value, OPTIONAL, A.ATTRIBUTE_DISCARD, A.TREAT_AS_WITHDRAW, True),
    AttrType.EXTENDED_COMMUNITIES: Descriptor(
        ExtendedCommunities.decode_value, OPTIONAL_TRANSITIVE, A.TREAT_AS_WITHDRAW, A.TREAT_AS_WITHDRAW),
    AttrType.AS4_PATH: Descriptor(
        As4Path.decode_value, OPTIONAL_TRANSITIVE, A.ATTRIBUTE_DISCARD, A.ATTRIBUTE_DISCARD),
    AttrType.AS4_AGGREGATOR: Descriptor(
        As4Aggregator.decode_value, OPTIONAL_TRANSITIVE, A.ATTRIBUTE_DISCARD, A.ATTRIBUTE_DISCARD),
    AttrType.LARGE_COMMUNITIES: Descriptor(
        LargeCommunities.decode_value, OPTIONAL_TRANSITIVE, A.TREAT_AS_WITHDRAW, A.TREAT_AS_WITHDRAW),
}

# Attributes that may validly be empty (RFC 7606 §4).
_MAY_BE_EMPTY = frozenset({AttrType.AS_PATH, AttrType.ATOMIC_AGGREGATE})


def decode_one(code: int, flags: int, value: bytes, raw: bytes, as4: bool,
               ibgp: bool) -> tuple[Any, Problem | None]:
    """Decode one attribute. Returns (value or None, problem or None)."""
    desc = TABLE.get(code)
    if desc is None:
        if not flags & OPTIONAL:
            # RFC 4271 §6.3: Unrecognized Well-known Attribute; data is the attribute.
            return None, Problem(A.SESSION_RESET, UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                                 f"unrecognized well-known attribute {code}", code, raw)
        return UnknownAttribute(code, value, flags), None
    action = desc.on_ibgp if ibgp else desc.on_ebgp
    if desc.always_discard_ebgp and not ibgp:
        return None, Problem(A.ATTRIBUTE_DISCARD, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
                             f"{AttrType(code).name} from an external peer discarded", code, raw)
    if flags & _OT_MASK != desc.flags:  # RFC 7606 §3 c
        return None, Problem(action, UpdateSubcode.ATTRIBUTE_FLAGS_ERROR,
                             f"{AttrType(code).name} has flags 0x{flags:02x}", code, raw)
    if not value and code not in _MAY_BE_EMPTY:  # RFC 7606 §4
        return None, Problem(action, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
                             f"{AttrType(code).name} has length 0", code, raw)
    try:
        return desc.decode(raw if desc.whole else value, flags, as4), None
    except CodecError as exc:
        return None, Problem(action, exc.subcode, exc.reason, code, raw)
