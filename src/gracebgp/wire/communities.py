"""COMMUNITIES (RFC 1997), EXTENDED COMMUNITIES (RFC 4360), LARGE_COMMUNITY (RFC 8092).

Values are ints (standard: 32 bits, extended: 64 bits) or (global, local1, local2) for large
communities; ``format_*``/``parse_*`` give the operator's text forms ("65000:100",
"NO_EXPORT", "rt:65000:1", "65000:1:2").
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from gracebgp.wire.attributes import EXT_LEN, OPTIONAL_TRANSITIVE, AttrMalformed, encode_attribute
from gracebgp.wire.iana import AttrType, UpdateSubcode, WellKnownCommunity
from gracebgp.wire.numbers import shared

LargeCommunity = tuple[int, int, int]

_STRUCTS: dict[tuple[int, str], struct.Struct] = {}
_WORD = {"I": 4, "Q": 8}  # octets per word of each format


def _check_len(n: int, size: int, name: str) -> None:
    """RFC 7606 §7.8, §7.14, RFC 8092 §6: the length ``n`` is a non-zero multiple of ``size``."""
    if n == 0 or n % size:
        raise AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
                            f"{name} length {n} is not a non-zero multiple of {size}")


def _struct(n: int, fmt: str) -> struct.Struct:
    """The Struct of ``n`` octets of ``fmt`` words, made once."""
    key = (n, fmt)
    s = _STRUCTS.get(key)
    if s is None:
        s = _STRUCTS[key] = struct.Struct(f"!{n // _WORD[fmt]}{fmt}")
    return s


def _unpack(value: bytes, size: int, fmt: str, name: str) -> tuple[int, ...]:
    """Unpack a run of ``fmt`` words (I: 4 octets, Q: 8) after checking that the length is
    a non-zero multiple of ``size``."""
    _check_len(len(value), size, name)
    return _struct(len(value), fmt).unpack(value)


def _pack(values: tuple[int, ...] | list[int], fmt: str) -> bytes:
    """``values`` as a run of ``fmt`` words, with the Struct ``_unpack`` keeps for that
    many octets (a format string built per call costs more than the packing)."""
    return _struct(len(values) * _WORD[fmt], fmt).pack(*values)


class Communities:
    """RFC 1997; RFC 7606 §7.8: malformed unless the length is a non-zero multiple of 4.

    Immutable, equal by ``values`` and ``flags``. One decoded from a received attribute
    (``of_tlv``) keeps that attribute's octets, the attribute table's key (no octet more),
    and unpacks ``values`` each time they are read: a full table has nearly one distinct
    COMMUNITIES per attribute set, and its values are read once per set and export class
    (``rib.export``, the decision's LLGR_STALE) but were held as a tuple of ints (64
    octets for two communities, issue 14 item 3)."""

    code: ClassVar[int] = AttrType.COMMUNITIES
    __slots__ = ("_src", "flags")
    _src: tuple[int, ...] | bytes  # the values, or the whole received TLV
    flags: int

    def __init__(self, values: tuple[int, ...] | list[int], flags: int = OPTIONAL_TRANSITIVE) -> None:
        _setattr(self, "_src", tuple(values))
        _setattr(self, "flags", flags)

    @classmethod
    def of_tlv(cls, tlv: bytes, flags: int, as4: bool) -> Communities:
        """The attribute of a received TLV (header included), checked as ``decode_value``
        checks its value (the attribute table's decoder: ``Descriptor.whole``)."""
        _check_len(len(tlv) - _header_len(tlv), 4, "COMMUNITIES")
        return _rebuilt(tlv, flags)

    @property
    def values(self) -> tuple[int, ...]:
        src = self._src
        if isinstance(src, tuple):
            return src
        key = (len(src), src[0] & EXT_LEN)  # (read per path: no call for the header length)
        unpack = _TLV_UNPACK.get(key)
        if unpack is None:
            start = _header_len(src)
            unpack = _TLV_UNPACK[key] = struct.Struct(f"!{start}x{(len(src) - start) // 4}I").unpack
        return unpack(src)

    def reserved(self) -> tuple[int, ...]:
        """The values in 0xFFFF0000-0xFFFFFFFF, the range RFC 1997 reserves, where the
        well-known communities are (NO_EXPORT, NO_ADVERTISE, LLGR_STALE, ...): mostly
        none, and a received TLV with no two 0xFF octets in a row has none, known without
        unpacking it."""
        src = self._src
        if src.__class__ is bytes and b"\xff\xff" not in src:
            return ()
        return tuple([v for v in self.values if v >= 0xFFFF0000])

    def tlv(self) -> bytes:
        """``encode_attribute(self, True)``: a received TLV as it came."""
        src = self._src
        return src if isinstance(src, bytes) else encode_attribute(self, True)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Communities is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Communities is immutable (cannot delete {name})")

    def __reduce__(self) -> tuple[Any, ...]:  # (copy, deepcopy, pickle: not through __setattr__)
        return _rebuilt, (self._src, self.flags)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Communities):
            return NotImplemented
        return self.flags == other.flags and self.values == other.values

    def __hash__(self) -> int:
        return hash((self.values, self.flags))

    def __repr__(self) -> str:
        return f"Communities(values={self.values!r}, flags={self.flags!r})"

    def encode_value(self, as4: bool) -> bytes:
        src = self._src
        if isinstance(src, tuple):
            return _pack(src, "I")
        return src[_header_len(src):]

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> Communities:
        return cls(shared(_unpack(value, 4, "I", "COMMUNITIES")), flags)


_setattr = object.__setattr__
#: (TLV length, Extended Length flag) -> unpack of the values of such a COMMUNITIES TLV
#: (its header skipped by the format: one call, no slice).
_TLV_UNPACK: dict[tuple[int, int], Callable[[bytes], tuple[int, ...]]] = {}


def _header_len(tlv: bytes) -> int:
    """Octets of a TLV's header: 4 with Extended Length, else 3 (RFC 4271 §4.3)."""
    return 4 if tlv[0] & EXT_LEN else 3


def _rebuilt(src: tuple[int, ...] | bytes, flags: int) -> Communities:
    self = object.__new__(Communities)
    _setattr(self, "_src", src)
    _setattr(self, "flags", flags)
    return self


@dataclass(frozen=True, slots=True)
class ExtendedCommunities:
    """RFC 4360; RFC 7606 §7.14: length must be a non-zero multiple of 8."""

    code: ClassVar[int] = AttrType.EXTENDED_COMMUNITIES
    values: tuple[int, ...]
    flags: int = OPTIONAL_TRANSITIVE

    def encode_value(self, as4: bool) -> bytes:
        return _pack(self.values, "Q")

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> ExtendedCommunities:
        return cls(_unpack(value, 8, "Q", "EXTENDED_COMMUNITIES"), flags)


@dataclass(frozen=True, slots=True)
class LargeCommunities:
    """RFC 8092 §3; malformed unless the length is a non-zero multiple of 12 (§6)."""

    code: ClassVar[int] = AttrType.LARGE_COMMUNITIES
    values: tuple[LargeCommunity, ...]
    flags: int = OPTIONAL_TRANSITIVE

    def encode_value(self, as4: bool) -> bytes:
        flat = [x for v in self.values for x in v]
        return _pack(flat, "I")

    @classmethod
    def decode_value(cls, value: bytes, flags: int, as4: bool) -> LargeCommunities:
        flat = shared(_unpack(value, 12, "I", "LARGE_COMMUNITIES"))
        return cls(tuple(zip(flat[0::3], flat[1::3], flat[2::3], strict=True)), flags)


_WELL_KNOWN = {int(c): c.name for c in WellKnownCommunity}


def format_community(value: int) -> str:
    name = _WELL_KNOWN.get(value)
    return name if name is not None else f"{value >> 16}:{value & 0xFFFF}"


def parse_community(text: str) -> int:
    """"65000:100", a well-known name ("NO_EXPORT", "no-export") or a plain number."""
    name = text.strip().upper().replace("-", "_")
    if name in WellKnownCommunity.__members__:
        return int(WellKnownCommunity[name])
    if ":" in text:
        high, low = text.split(":", 1)
        hi, lo = int(high), int(low)
        if not (0 <= hi <= 0xFFFF and 0 <= lo <= 0xFFFF):
            raise ValueError(f"community {text!r} out of range")
        return hi << 16 | lo
    value = int(text)
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"community {text!r} out of range")
    return value


def format_large_community(value: LargeCommunity) -> str:
    return ":".join(str(v) for v in value)


def parse_large_community(text: str) -> LargeCommunity:
    parts = [int(p) for p in text.split(":")]
    if len(parts) != 3 or not all(0 <= p <= 0xFFFFFFFF for p in parts):
        raise ValueError(f"large community {text!r} must be A:B:C with 32-bit parts")
    return parts[0], parts[1], parts[2]


def format_extended_community(value: int) -> str:
    """RFC 4360 §4 two-octet-AS and IPv4 route targets / origins; other types as hex."""
    etype, subtype = value >> 56, (value >> 48) & 0xFF
    kind = {2: "rt", 3: "soo"}.get(subtype)
    if kind and etype in (0x00, 0x40):
        return f"{kind}:{(value >> 32) & 0xFFFF}:{value & 0xFFFFFFFF}"
    if kind and etype in (0x02, 0x42):
        return f"{kind}:{(value >> 16) & 0xFFFFFFFF}:{value & 0xFFFF}"
    if kind and etype in (0x01, 0x41):
        ip = ".".join(str((value >> s) & 0xFF) for s in (40, 32, 24, 16))
        return f"{kind}:{ip}:{value & 0xFFFF}"
    return f"0x{value:016x}"
