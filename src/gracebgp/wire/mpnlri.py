"""MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3, §4), IPv6 next hops (RFC 2545 §3),
IPv4 NLRI with an IPv6 next hop (RFC 8950 §3).

MP_REACH_NLRI value::

    +---------------------------------------------------------+
    | Address Family Identifier (2 octets)                    |
    | Subsequent Address Family Identifier (1 octet)          |
    | Length of Next Hop Network Address (1 octet)            |
    | Network Address of Next Hop (variable)                  |
    | Reserved (1 octet)                                      |
    | Network Layer Reachability Information (variable)       |
    +---------------------------------------------------------+

MP_UNREACH_NLRI value: AFI (2), SAFI (1), Withdrawn Routes (variable).

Families whose NLRI are plain prefixes (IPv4/IPv6 unicast and multicast) decode into
prefix keys (``nlri``); any other family is kept undecoded in ``raw`` so it survives.
Malformations here are RFC 7606 §5.3 / §7.11 "session reset" cases (an IPv6 next hop for
an IPv4 family without Extended Next Hop is one: RFC 7606 §7.11 MUST, RFC 4760 §7); the
caller maps the raised ``AttrMalformed`` to Optional Attribute Error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from gracebgp.errors import CodecError
from gracebgp.types import AFI, SAFI, Family, make_family
from gracebgp.wire.addr import ip_bytes, ipv4_text, ipv6_text
from gracebgp.wire.attributes import OPTIONAL, AttrMalformed
from gracebgp.wire.iana import AttrType, UpdateSubcode
from gracebgp.wire.nlri import decode_prefixes, encode_prefixes

PREFIX_FAMILIES = frozenset(
    Family(a, s) for a in (AFI.IPV4, AFI.IPV6) for s in (SAFI.UNICAST, SAFI.MULTICAST)
)


def _bad(reason: str) -> AttrMalformed:
    return AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, reason)


def decode_next_hop(afi: int, raw: bytes, ipv6_allowed: bool = True) -> tuple[str, ...]:
    """RFC 4760 §3 with RFC 2545 §3 (IPv6 global [+ link-local]) and RFC 8950 §3.

    An IPv6 next hop (16 or 32 octets) is expected for AFI 2, and for AFI 1 only when
    ``ipv6_allowed`` (Extended Next Hop negotiated for the family, RFC 8950 §4)."""
    n = len(raw)
    if afi == AFI.IPV4:
        if n == 4:
            return (ipv4_text(raw),)
        if not ipv6_allowed and n in (16, 32):
            # RFC 7606 §7.11: "that which was expected" is the length the AFI/SAFI defines,
            # "potentially modified by any extensions in use"; RFC 8950 is not in use here.
            raise _bad(f"next hop length {n} for AFI 1 without Extended Next Hop (RFC 8950)")
    if n == 16:
        return (ipv6_text(raw),)
    if n == 32:
        return (ipv6_text(raw[:16]), ipv6_text(raw[16:]))
    # RFC 7606 §7.11: a next hop length we do not expect -> the NLRI cannot be located.
    raise _bad(f"next hop length {n} unexpected for AFI {afi}")


def encode_next_hop(addresses: tuple[str, ...]) -> bytes:
    return b"".join(ip_bytes(a) for a in addresses)


def _nlri(afi: int, safi: int, data: bytes, addpath: frozenset[Family]) -> tuple[int, ...]:
    family = Family(afi, safi)
    try:
        return tuple(decode_prefixes(data, 32 if afi == AFI.IPV4 else 128, family in addpath))
    except CodecError as exc:  # RFC 7606 §5.3: bad NLRI inside MP_* -> session reset
        raise _bad(f"MP NLRI: {exc.reason}") from None


class _MpFamily:
    """What MP_REACH_NLRI and MP_UNREACH_NLRI share: AFI (2) and SAFI (1) first."""

    __slots__ = ()
    afi: int
    safi: int

    @property
    def family(self) -> Family:
        return make_family(self.afi, self.safi)

    @property
    def width(self) -> int:
        return 32 if self.afi == AFI.IPV4 else 128

    def _head(self) -> bytes:
        return self.afi.to_bytes(2, "big") + bytes([self.safi])

    def _prefix_family(self) -> bool:
        return Family(self.afi, self.safi) in PREFIX_FAMILIES


@dataclass(frozen=True, slots=True)
class MpReach(_MpFamily):
    code: ClassVar[int] = AttrType.MP_REACH_NLRI
    afi: int
    safi: int
    next_hop: tuple[str, ...] = ()
    nlri: tuple[int, ...] = ()
    raw: bytes = b""  # next-hop length .. NLRI, for families not decoded as prefixes
    flags: int = OPTIONAL
    addpath: bool = field(default=False, compare=False)

    def encode_value(self, as4: bool) -> bytes:
        if not self._prefix_family():
            return self._head() + self.raw
        nh = encode_next_hop(self.next_hop)
        return (self._head() + bytes([len(nh)]) + nh + b"\x00"
                + encode_prefixes(self.nlri, self.width, self.addpath))

    @classmethod
    def decode(cls, value: bytes, flags: int, addpath: frozenset[Family],
               extended_next_hop: frozenset[Family] = frozenset()) -> MpReach:
        """``extended_next_hop``: IPv4 families that may carry an IPv6 next hop (RFC 8950);
        any other 16- or 32-octet next hop for AFI 1 is malformed (RFC 7606 §7.11)."""
        if len(value) < 5:  # RFC 7606 §5.3
            raise _bad("MP_REACH_NLRI shorter than 5 octets")
        afi, safi = int.from_bytes(value[:2], "big"), value[2]
        family = Family(afi, safi)
        if family not in PREFIX_FAMILIES:
            return cls(afi, safi, raw=value[3:], flags=flags)
        nhl = value[3]
        end = 4 + nhl
        if end + 1 > len(value):
            raise _bad("MP_REACH_NLRI next hop overruns the attribute")
        next_hop = decode_next_hop(afi, value[4:end], family in extended_next_hop)
        nlri = _nlri(afi, safi, value[end + 1:], addpath)
        return cls(afi, safi, next_hop, nlri, b"", flags, family in addpath)


@dataclass(frozen=True, slots=True)
class MpUnreach(_MpFamily):
    code: ClassVar[int] = AttrType.MP_UNREACH_NLRI
    afi: int
    safi: int
    withdrawn: tuple[int, ...] = ()
    raw: bytes = b""
    flags: int = OPTIONAL
    addpath: bool = field(default=False, compare=False)

    def encode_value(self, as4: bool) -> bytes:
        if not self._prefix_family():
            return self._head() + self.raw
        return self._head() + encode_prefixes(self.withdrawn, self.width, self.addpath)

    @classmethod
    def decode(cls, value: bytes, flags: int, addpath: frozenset[Family]) -> MpUnreach:
        if len(value) < 3:  # RFC 7606 §5.3
            raise _bad("MP_UNREACH_NLRI shorter than 3 octets")
        afi, safi = int.from_bytes(value[:2], "big"), value[2]
        family = Family(afi, safi)
        if family not in PREFIX_FAMILIES:
            return cls(afi, safi, raw=value[3:], flags=flags)
        return cls(afi, safi, _nlri(afi, safi, value[3:], addpath), b"", flags, family in addpath)
