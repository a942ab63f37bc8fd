"""Plain values used by every layer: address families and their IANA numbers.

RFC 4760 §3 (AFI/SAFI), IANA "Address Family Numbers" and "SAFI Values".
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class AFI(IntEnum):
    """Address Family Identifier (IANA)."""

    IPV4 = 1
    IPV6 = 2
    L2VPN = 25
    BGP_LS = 16388


class SAFI(IntEnum):
    """Subsequent Address Family Identifier (IANA)."""

    UNICAST = 1
    MULTICAST = 2
    MPLS_LABEL = 4
    EVPN = 70
    MPLS_VPN = 128
    FLOWSPEC = 133


class Family(NamedTuple):
    """An (AFI, SAFI) pair; unknown numbers stay plain ints."""

    afi: int
    safi: int

    def __str__(self) -> str:
        return family_name(self)


IPV4_UNICAST = Family(AFI.IPV4, SAFI.UNICAST)
IPV6_UNICAST = Family(AFI.IPV6, SAFI.UNICAST)

_NAMES = {IPV4_UNICAST: "ipv4-unicast", IPV6_UNICAST: "ipv6-unicast"}


def family_name(family: Family) -> str:
    """GoBGP-style name ("ipv4-unicast") or "afi-N/safi-M" for others."""
    name = _NAMES.get(family)
    if name is not None:
        return name
    try:
        afi = AFI(family.afi).name.lower()
    except ValueError:
        afi = f"afi-{family.afi}"
    try:
        safi = SAFI(family.safi).name.lower().replace("_", "-")
    except ValueError:
        safi = f"safi-{family.safi}"
    return f"{afi}-{safi}"


def make_family(afi: int, safi: int) -> Family:
    """Family with IntEnum members where the numbers are known."""
    try:
        a: int = AFI(afi)
    except ValueError:
        a = afi
    try:
        s: int = SAFI(safi)
    except ValueError:
        s = safi
    return Family(a, s)
