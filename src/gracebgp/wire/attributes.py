"""Path attribute values of RFC 4271 §5 / RFC 4456 / RFC 6793, and the attribute TLV.

Each attribute is a frozen value with the wire ``flags`` it arrived with (so a decoded
UPDATE re-encodes to the same bytes) and ``encode_value``/``decode_value``. Communities
live in ``communities``, MP_REACH/MP_UNREACH in ``mpnlri``; the per-type table with the
RFC 7606 handling is in ``attrtable``.

Path attribute TLV (RFC 4271 §4.3)::

    0                   1
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |O|T|P|E| unused|  Type Code    |   then Length: 1 octet, or 2 octets when E is set
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from gracebgp.errors import CodecError, EncodeError
from gracebgp.wire.addr import ipv4_bytes, ipv4_text
from gracebgp.wire.iana import (
    AS_TRANS,
    AttrFlag,
    AttrType,
    NotificationCode,
    SegmentType,
    UpdateSubcode,
)
from gracebgp.wire.numbers import shared

# Plain ints, not AttrFlag members: IntFlag arithmetic is slow on the hot path.
WELL_KNOWN = int(AttrFlag.TRANSITIVE)  # 0x40
OPTIONAL = int(AttrFlag.OPTIONAL)  # 0x80
OPTIONAL_TRANSITIVE = int(AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)  # 0xC0
EXT_LEN = int(AttrFlag.EXTENDED_LENGTH)  # 0x10
PARTIAL = int(AttrFlag.PARTIAL)  # 0x20

Segment = tuple[int, tuple[int, ...]]  # (SegmentType, AS numbers)


class AttrMalformed(CodecError):
    """One attribute's value is malformed; the table decides the RFC 7606 action."""

    def __init__(self, subcode: int, reason: str) -> None:
        super().__init__(NotificationCode.UPDATE_MESSAGE_ERROR, subcode, reason=reason)


def _need_len(value: bytes, n: int, name: str) -> None:
    if len(value) != n:
        raise AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, f"{name} length {len(value)} != {n}")


_ntoa = ipv4_text

@dataclass(frozen=True, slots=True)
class Origin:
    code: ClassVar[int] = AttrType.ORIGIN
    value: int
    flags: int = WELL_KNOWN

    def encode_value(self, as4: bool) -> bytes:
        return bytes([self.value])

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> Origin:
        _need_len(value, 1, "ORIGIN")
        if value[0] > 2:  # RFC 4271 §6.3, RFC 7606 §7.1
            raise AttrMalformed(UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE, f"undefined ORIGIN {value[0]}")
        return cls(value[0], flags)


_SEG_TYPES = frozenset(int(t) for t in SegmentType)
_AS_STRUCTS: dict[tuple[int, int], struct.Struct] = {}


def _as_struct(count: int, size: int) -> struct.Struct:
    s = _AS_STRUCTS.get((count, size))
    if s is None:
        s = _AS_STRUCTS[(count, size)] = struct.Struct(f"!{count}{'I' if size == 4 else 'H'}")
    return s


def decode_segments(value: bytes, size: int) -> tuple[Segment, ...]:
    """AS_PATH / AS4_PATH segments (RFC 4271 §4.3, RFC 7606 §7.2 malformations)."""
    segs: list[Segment] = []
    i, n = 0, len(value)
    while i < n:
        if i + 2 > n:
            raise AttrMalformed(UpdateSubcode.MALFORMED_AS_PATH, "AS_PATH segment header underrun")
        stype, count = value[i], value[i + 1]
        if stype not in _SEG_TYPES:
            raise AttrMalformed(UpdateSubcode.MALFORMED_AS_PATH, f"unknown AS_PATH segment type {stype}")
        if count == 0:
            raise AttrMalformed(UpdateSubcode.MALFORMED_AS_PATH, "AS_PATH segment of length 0")
        end = i + 2 + count * size
        if end > n:
            raise AttrMalformed(UpdateSubcode.MALFORMED_AS_PATH, "AS_PATH segment overrun")
        segs.append((stype, shared(_as_struct(count, size).unpack_from(value, i + 2))))
        i = end
    return tuple(segs)


def encode_segments(segments: tuple[Segment, ...], size: int) -> bytes:
    out = []
    for stype, asns in segments:
        if not 0 < len(asns) <= 255:
            raise EncodeError("AS_PATH segment must hold 1..255 AS numbers")
        wire = asns if size == 4 else tuple(a if a <= 0xFFFF else AS_TRANS for a in asns)
        out.append(bytes([stype, len(wire)]) + _as_struct(len(wire), size).pack(*wire))
    return b"".join(out)


def path_length(segments: tuple[Segment, ...]) -> int:
    """RFC 4271 §9.1.2.2 a): AS_SET counts 1, confederation segments count 0."""
    total = 0
    for stype, asns in segments:
        if stype == SegmentType.AS_SEQUENCE:
            total += len(asns)
        elif stype == SegmentType.AS_SET:
            total += 1
    return total


@dataclass(frozen=True, slots=True)
class AsPath:
    """AS_PATH; AS numbers are 2 or 4 octets on the wire depending on the session."""

    code: ClassVar[int] = AttrType.AS_PATH
    segments: tuple[Segment, ...] = ()
    flags: int = WELL_KNOWN

    def encode_value(self, as4: bool) -> bytes:
        return encode_segments(self.segments, 4 if as4 else 2)

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> AsPath:
        return cls(decode_segments(value, 4 if as4 else 2), flags)


@dataclass(frozen=True, slots=True)
class As4Path:
    """AS4_PATH (RFC 6793 §3): always 4-octet AS numbers."""

    code: ClassVar[int] = AttrType.AS4_PATH
    segments: tuple[Segment, ...] = ()
    flags: int = OPTIONAL_TRANSITIVE

    def encode_value(self, as4: bool) -> bytes:
        return encode_segments(self.segments, 4)

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> As4Path:
        if not value:
            raise AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, "empty AS4_PATH")
        return cls(decode_segments(value, 4), flags)


@dataclass(frozen=True, slots=True)
class NextHop:
    code: ClassVar[int] = AttrType.NEXT_HOP
    address: str
    flags: int = WELL_KNOWN

    def encode_value(self, as4: bool) -> bytes:
        return ipv4_bytes(self.address)

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> NextHop:
        _need_len(value, 4, "NEXT_HOP")  # RFC 7606 §7.3
        # RFC 4271 §6.3: syntactically correct means a valid IP host address: not in
        # 0.0.0.0/8, not multicast or reserved (224/3, broadcast included). 127/8 stays
        # accepted: speakers peering over loopback (labs, the demo) use it.
        if value[0] == 0 or value[0] >= 224:
            raise AttrMalformed(UpdateSubcode.INVALID_NEXT_HOP_ATTRIBUTE,
                                f"NEXT_HOP {_ntoa(value)} is not a host address")
        return cls(_ntoa(value), flags)


def _u32(value: bytes, name: str) -> int:
    _need_len(value, 4, name)
    return int.from_bytes(value, "big")


@dataclass(frozen=True, slots=True)
class MultiExitDisc:
    code: ClassVar[int] = AttrType.MULTI_EXIT_DISC
    value: int
    flags: int = OPTIONAL

    def encode_value(self, as4: bool) -> bytes:
        return self.value.to_bytes(4, "big")

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> MultiExitDisc:
        return cls(_u32(value, "MULTI_EXIT_DISC"), flags)  # RFC 7606 §7.4


@dataclass(frozen=True, slots=True)
class LocalPref:
    code: ClassVar[int] = AttrType.LOCAL_PREF
    value: int
    flags: int = WELL_KNOWN

    def encode_value(self, as4: bool) -> bytes:
        return self.value.to_bytes(4, "big")

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> LocalPref:
        return cls(_u32(value, "LOCAL_PREF"), flags)  # RFC 7606 §7.5


@dataclass(frozen=True, slots=True)
class AtomicAggregate:
    code: ClassVar[int] = AttrType.ATOMIC_AGGREGATE
    flags: int = WELL_KNOWN

    def encode_value(self, as4: bool) -> bytes:
        return b""

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> AtomicAggregate:
        _need_len(value, 0, "ATOMIC_AGGREGATE")  # RFC 7606 §7.6
        return cls(flags)


@dataclass(frozen=True, slots=True)
class Aggregator:
    """AGGREGATOR: AS (2 or 4 octets, RFC 6793 §3) and IPv4 address."""

    code: ClassVar[int] = AttrType.AGGREGATOR
    asn: int
    address: str
    flags: int = OPTIONAL_TRANSITIVE

    def encode_value(self, as4: bool) -> bytes:
        if as4:
            return self.asn.to_bytes(4, "big") + ipv4_bytes(self.address)
        asn = self.asn if self.asn <= 0xFFFF else AS_TRANS
        return asn.to_bytes(2, "big") + ipv4_bytes(self.address)

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> Aggregator:
        size = 4 if as4 else 2
        _need_len(value, size + 4, "AGGREGATOR")  # RFC 7606 §7.7
        return cls(int.from_bytes(value[:size], "big"), _ntoa(value[size:]), flags)


@dataclass(frozen=True, slots=True)
class As4Aggregator:
    code: ClassVar[int] = AttrType.AS4_AGGREGATOR
    asn: int
    address: str
    flags: int = OPTIONAL_TRANSITIVE

    def encode_value(self, as4: bool) -> bytes:
        return self.asn.to_bytes(4, "big") + ipv4_bytes(self.address)

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> As4Aggregator:
        _need_len(value, 8, "AS4_AGGREGATOR")
        return cls(int.from_bytes(value[:4], "big"), _ntoa(value[4:]), flags)


@dataclass(frozen=True, slots=True)
class OriginatorId:
    code: ClassVar[int] = AttrType.ORIGINATOR_ID
    address: str
    flags: int = OPTIONAL

    def encode_value(self, as4: bool) -> bytes:
        return ipv4_bytes(self.address)

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> OriginatorId:
        _need_len(value, 4, "ORIGINATOR_ID")  # RFC 7606 §7.9
        return cls(_ntoa(value), flags)


@dataclass(frozen=True, slots=True)
class ClusterList:
    code: ClassVar[int] = AttrType.CLUSTER_LIST
    ids: tuple[str, ...]
    flags: int = OPTIONAL

    def encode_value(self, as4: bool) -> bytes:
        return b"".join(ipv4_bytes(a) for a in self.ids)

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> ClusterList:
        if not value or len(value) % 4:  # RFC 7606 §7.10
            raise AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, "CLUSTER_LIST length not 4n > 0")
        return cls(tuple(_ntoa(value[i:i + 4]) for i in range(0, len(value), 4)), flags)


@dataclass(frozen=True, slots=True)
class UnknownAttribute:
    """An attribute this codec does not interpret, carried as raw bytes (RFC 4271 §5)."""

    code: int
    value: bytes
    flags: int = OPTIONAL_TRANSITIVE

    def encode_value(self, as4: bool) -> bytes:
        return self.value

    def for_forwarding(self) -> UnknownAttribute:
        """RFC 4271 §5: an unrecognized optional transitive attribute is passed on with
        the Partial bit set."""
        return UnknownAttribute(self.code, self.value, self.flags | PARTIAL)


# The TLV header (RFC 4271 §4.3): flags, type code, length in one octet or (Extended
# Length) two; one compiled Struct each, not a list and a bytes object per attribute.
_HEADER = struct.Struct("!BBB").pack
_EXT_HEADER = struct.Struct("!BBH").pack


def encode_attribute(attr: object, as4: bool) -> bytes:
    """One attribute TLV; Extended Length is used when the value needs it or when the
    attribute arrived with it (so received bytes re-encode exactly)."""
    value: bytes = attr.encode_value(as4)  # type: ignore[attr-defined]
    flags: int = attr.flags  # type: ignore[attr-defined]
    code: int = attr.code  # type: ignore[attr-defined]
    n = len(value)
    if n > 0xFFFF:
        raise EncodeError(f"attribute {code} value longer than 65535 octets")
    if n > 255 or flags & EXT_LEN:
        return _EXT_HEADER(flags | EXT_LEN, code, n) + value
    return _HEADER(flags, code, n) + value
