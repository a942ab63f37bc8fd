"""BGP capabilities carried in OPEN (RFC 5492) and their value encodings.

RFC 4760 §8 (Multiprotocol), RFC 2918 (Route Refresh), RFC 8950 §3 (Extended Next Hop),
RFC 8654 §3 (Extended Message), RFC 4724 §3 and RFC 8538 §2 (Graceful Restart, R/N flags),
RFC 6793 §3 (4-octet AS), RFC 7911 §4 (ADD-PATH), RFC 7313 §3.1 (Enhanced Route Refresh),
RFC 9494 §2 (Long-Lived GR), draft-walton-bgp-hostname-capability (FQDN, code 73).

Capability TLV (RFC 5492 §4)::

    +------------------------------+
    | Capability Code (1 octet)    |
    +------------------------------+
    | Capability Length (1 octet)  |
    +------------------------------+
    | Capability Value (variable)  |
    +------------------------------+
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Union

from gracebgp.errors import CodecError, EncodeError
from gracebgp.types import Family, make_family
from gracebgp.wire.iana import CapabilityCode, NotificationCode, OpenSubcode


def _malformed(code: int, reason: str) -> CodecError:
    return CodecError(NotificationCode.OPEN_MESSAGE_ERROR, OpenSubcode.UNSPECIFIC,
                      reason=f"malformed capability {code}: {reason}")


@dataclass(frozen=True, slots=True)
class Multiprotocol:
    """RFC 4760 §8: AFI (2), Reserved (1), SAFI (1)."""

    code: ClassVar[int] = CapabilityCode.MULTIPROTOCOL
    afi: int
    safi: int

    @property
    def family(self) -> Family:
        return make_family(self.afi, self.safi)

    def encode_value(self) -> bytes:
        return struct.pack("!HBB", self.afi, 0, self.safi)

    @classmethod
    def decode_value(cls, value: bytes) -> Multiprotocol:
        if len(value) != 4:
            raise _malformed(cls.code, "length is not 4")
        afi, _reserved, safi = struct.unpack("!HBB", value)
        return cls(afi, safi)


@dataclass(frozen=True, slots=True)
class RouteRefresh:
    """RFC 2918 §3: no value."""

    code: ClassVar[int] = CapabilityCode.ROUTE_REFRESH

    def encode_value(self) -> bytes:
        return b""

    @classmethod
    def decode_value(cls, value: bytes) -> RouteRefresh:
        return cls()


@dataclass(frozen=True, slots=True)
class EnhancedRouteRefresh:
    """RFC 7313 §3.1: no value."""

    code: ClassVar[int] = CapabilityCode.ENHANCED_ROUTE_REFRESH

    def encode_value(self) -> bytes:
        return b""

    @classmethod
    def decode_value(cls, value: bytes) -> EnhancedRouteRefresh:
        return cls()


@dataclass(frozen=True, slots=True)
class ExtendedMessage:
    """RFC 8654 §3: no value."""

    code: ClassVar[int] = CapabilityCode.EXTENDED_MESSAGE

    def encode_value(self) -> bytes:
        return b""

    @classmethod
    def decode_value(cls, value: bytes) -> ExtendedMessage:
        return cls()


@dataclass(frozen=True, slots=True)
class ExtendedNextHop:
    """RFC 8950 §3: tuples of NLRI AFI (2), NLRI SAFI (2), Next Hop AFI (2)."""

    code: ClassVar[int] = CapabilityCode.EXTENDED_NEXT_HOP
    entries: tuple[tuple[int, int, int], ...]

    def encode_value(self) -> bytes:
        return b"".join(struct.pack("!HHH", *e) for e in self.entries)

    @classmethod
    def decode_value(cls, value: bytes) -> ExtendedNextHop:
        if len(value) % 6:
            raise _malformed(cls.code, "length is not a multiple of 6")
        return cls(tuple(struct.iter_unpack("!HHH", value)))


@dataclass(frozen=True, slots=True)
class GracefulRestart:
    """RFC 4724 §3 (+ RFC 8538 §2 N bit)::

        +--------------------------------------------------+
        | Restart Flags (4 bits) | Restart Time (12 bits)  |
        +--------------------------------------------------+
        | AFI (2) | SAFI (1) | Flags for Address Family (1) |  repeated
        +--------------------------------------------------+

    ``flags`` holds the 4 Restart Flags bits (R = 0x8, N = 0x4); ``families`` holds
    (afi, safi, family flags) with F = 0x80.
    """

    code: ClassVar[int] = CapabilityCode.GRACEFUL_RESTART
    flags: int
    restart_time: int
    families: tuple[tuple[int, int, int], ...] = ()

    def encode_value(self) -> bytes:
        if not 0 <= self.restart_time <= 0xFFF or not 0 <= self.flags <= 0xF:
            raise EncodeError("graceful restart time or flags out of range")
        head = struct.pack("!H", self.flags << 12 | self.restart_time)
        return head + b"".join(struct.pack("!HBB", *f) for f in self.families)

    @classmethod
    def decode_value(cls, value: bytes) -> GracefulRestart:
        if len(value) < 2 or (len(value) - 2) % 4:
            raise _malformed(cls.code, "length is not 2 + 4n")
        (word,) = struct.unpack_from("!H", value)
        fams = tuple(struct.iter_unpack("!HBB", value[2:]))
        return cls(word >> 12, word & 0xFFF, fams)


@dataclass(frozen=True, slots=True)
class FourOctetAs:
    """RFC 6793 §3: the speaker's 4-octet AS number."""

    code: ClassVar[int] = CapabilityCode.FOUR_OCTET_AS
    asn: int

    def encode_value(self) -> bytes:
        return struct.pack("!I", self.asn)

    @classmethod
    def decode_value(cls, value: bytes) -> FourOctetAs:
        if len(value) != 4:
            raise _malformed(cls.code, "length is not 4")
        return cls(struct.unpack("!I", value)[0])


@dataclass(frozen=True, slots=True)
class AddPath:
    """RFC 7911 §4: tuples of AFI (2), SAFI (1), Send/Receive (1)."""

    code: ClassVar[int] = CapabilityCode.ADD_PATH
    entries: tuple[tuple[int, int, int], ...]

    def encode_value(self) -> bytes:
        return b"".join(struct.pack("!HBB", *e) for e in self.entries)

    @classmethod
    def decode_value(cls, value: bytes) -> AddPath:
        if len(value) % 4:
            raise _malformed(cls.code, "length is not a multiple of 4")
        return cls(tuple(struct.iter_unpack("!HBB", value)))


@dataclass(frozen=True, slots=True)
class LongLivedGracefulRestart:
    """RFC 9494 §2: tuples of AFI (2), SAFI (1), Flags (1), Long-lived Stale Time (3)."""

    code: ClassVar[int] = CapabilityCode.LONG_LIVED_GRACEFUL_RESTART
    families: tuple[tuple[int, int, int, int], ...]

    def encode_value(self) -> bytes:
        out = []
        for afi, safi, flags, stale in self.families:
            if not 0 <= stale <= 0xFFFFFF:
                raise EncodeError("long-lived stale time out of range")
            out.append(struct.pack("!HBB", afi, safi, flags) + stale.to_bytes(3, "big"))
        return b"".join(out)

    @classmethod
    def decode_value(cls, value: bytes) -> LongLivedGracefulRestart:
        if len(value) % 7:
            raise _malformed(cls.code, "length is not a multiple of 7")
        fams = []
        for i in range(0, len(value), 7):
            afi, safi, flags = struct.unpack_from("!HBB", value, i)
            fams.append((afi, safi, flags, int.from_bytes(value[i + 4:i + 7], "big")))
        return cls(tuple(fams))


@dataclass(frozen=True, slots=True)
class Fqdn:
    """Hostname capability (code 73): hostname length, hostname, domain length, domain."""

    code: ClassVar[int] = CapabilityCode.FQDN
    hostname: str
    domain: str = ""

    def encode_value(self) -> bytes:
        host, dom = self.hostname.encode(), self.domain.encode()
        if len(host) > 255 or len(dom) > 255:
            raise EncodeError("hostname or domain longer than 255 octets")
        return bytes([len(host)]) + host + bytes([len(dom)]) + dom

    @classmethod
    def decode_value(cls, value: bytes) -> Fqdn:
        if len(value) < 2 or len(value) < 2 + value[0]:
            raise _malformed(cls.code, "hostname overruns the value")
        hl = value[0]
        dl = value[1 + hl]
        if 2 + hl + dl != len(value):
            raise _malformed(cls.code, "domain length does not match")
        host = value[1:1 + hl].decode("utf-8", "replace")
        dom = value[2 + hl:].decode("utf-8", "replace")
        return cls(host, dom)


@dataclass(frozen=True, slots=True)
class UnknownCapability:
    """Any capability this codec does not know, kept as raw bytes (RFC 5492 §3)."""

    code: int
    value: bytes = b""

    def encode_value(self) -> bytes:
        return self.value


Capability = Union[
    Multiprotocol, RouteRefresh, EnhancedRouteRefresh, ExtendedMessage, ExtendedNextHop,
    GracefulRestart, FourOctetAs, AddPath, LongLivedGracefulRestart, Fqdn, UnknownCapability,
]

_DECODERS: dict[int, Callable[[bytes], Capability]] = {
    cls.code: cls.decode_value
    for cls in (Multiprotocol, RouteRefresh, EnhancedRouteRefresh, ExtendedMessage,
                ExtendedNextHop, GracefulRestart, FourOctetAs, AddPath,
                LongLivedGracefulRestart, Fqdn)
}


def decode_capabilities(data: bytes) -> tuple[Capability, ...]:
    """Decode the value of one Capabilities optional parameter (a run of TLVs)."""
    caps: list[Capability] = []
    i, n = 0, len(data)
    while i < n:
        if i + 2 > n:
            raise _malformed(data[i], "truncated capability header")
        code, length = data[i], data[i + 1]
        end = i + 2 + length
        if end > n:
            raise _malformed(code, "capability overruns the parameter")
        value = data[i + 2:end]
        decoder = _DECODERS.get(code)
        caps.append(decoder(value) if decoder else UnknownCapability(code, value))
        i = end
    return tuple(caps)


def encode_capability(cap: Capability) -> bytes:
    value = cap.encode_value()
    if len(value) > 255:
        raise EncodeError(f"capability {cap.code} value longer than 255 octets")
    return bytes([cap.code, len(value)]) + value
