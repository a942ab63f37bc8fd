"""Field types and value normalisers shared by the configuration models (addresses, ASNs, timers).

Normalisers return the canonical spelling (``2001:DB8::1`` -> ``2001:db8::1``) so that
equal configurations compare equal, and raise ``ValueError`` with an operator-facing
message otherwise.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire.communities import (
    format_community,
    format_large_community,
    parse_community,
    parse_large_community,
)

MAX_ASN = 0xFFFFFFFF  # RFC 6793: four-octet AS numbers
MAX_GR_RESTART_TIME = 0xFFF  # RFC 4724 §3: 12-bit Restart Time
MAX_LLGR_STALE_TIME = 0xFFFFFF  # RFC 9494 §3.1: 24-bit Long-Lived Stale Time
MAX_TCP_MD5_KEY = 80  # Linux TCP_MD5SIG_MAXKEYLEN (RFC 2385 keys)
MIN_TCP_MSS, MAX_TCP_MSS = 88, 32767  # what Linux's TCP_MAXSEG takes (TCP_MIN_MSS, MAX_TCP_WINDOW)
MAX_IFNAME = 15  # IFNAMSIZ - 1

SUPPORTED_AFI_SAFIS: dict[str, Family] = {"ipv4-unicast": IPV4_UNICAST, "ipv6-unicast": IPV6_UNICAST}

#: afi-safi-name values GoBGP accepts that gracebgp does not support yet.
GOBGP_ONLY_AFI_SAFIS = frozenset({
    "ipv4-multicast", "ipv6-multicast", "ipv4-labelled-unicast", "ipv6-labelled-unicast",
    "l3vpn-ipv4-unicast", "l3vpn-ipv6-unicast", "l3vpn-ipv4-multicast", "l3vpn-ipv6-multicast",
    "l2vpn-vpls", "l2vpn-evpn", "rtc", "route-target-constrain", "ipv4-encap", "ipv6-encap",
    "encap", "ipv4-flowspec", "ipv6-flowspec", "l3vpn-ipv4-flowspec", "l3vpn-ipv6-flowspec",
    "l2vpn-flowspec", "opaque", "ls", "ipv4-srpolicy", "ipv6-srpolicy", "ipv4-mup", "ipv6-mup",
})

#: The feature an afi-safi-name gracebgp does not support belongs to (its error names it).
_AFI_SAFI_FEATURES = (
    ("flowspec", "FlowSpec (RFC 8955)"), ("evpn", "EVPN (RFC 7432)"), ("vpls", "VPLS (RFC 4761)"),
    ("l3vpn", "L3VPN (RFC 4364)"), ("mup", "BGP-MUP"), ("srpolicy", "SR Policy"),
    ("labelled", "labelled unicast (RFC 8277)"), ("multicast", "multicast (RFC 4760)"),
    ("encap", "the encapsulation SAFI (RFC 5512)"), ("rtc", "route target constraint (RFC 4684)"),
    ("route-target", "route target constraint (RFC 4684)"), ("opaque", "GoBGP's opaque family"),
    ("ls", "BGP-LS (RFC 7752)"),
)


def afi_safi_feature(name: str) -> str:
    """The feature of an afi-safi-name in ``GOBGP_ONLY_AFI_SAFIS`` ("" when none is known)."""
    parts = name.split("-")
    for marker, feature in _AFI_SAFI_FEATURES:
        if marker in parts or name.startswith(marker + "-"):
            return feature
    return ""


# -- field types -----------------------------------------------------------------------------

def integral(value: Any) -> Any:
    """GoBGP's timers are float64; accept ``90.0`` as ``90``, leave everything else to strict."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def normalize_ip(value: str) -> str:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"  # one spelling on every Python version
    return str(address)


def _dotted_quad(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 dotted quad such as 192.0.2.1") from None


def _router_id(value: str) -> str:
    value = _dotted_quad(value)
    if value == "0.0.0.0":
        raise ValueError("the BGP Identifier must not be 0.0.0.0 (RFC 6286 §2.1)")
    return value


def normalize_prefix(value: str) -> str:
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not a prefix such as 192.0.2.0/24") from None
    if "/" not in value:
        raise ValueError(f"{value!r} has no prefix length; write {net}")
    if str(net) != ipaddress.ip_interface(value.strip()).with_prefixlen:
        raise ValueError(f"{value!r} has host bits set; did you mean {net}?")
    return str(net)


def _community(value: str) -> str:
    try:
        return format_community(parse_community(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a community (\"65000:100\" or a well-known name)") from None


def _large_community(value: str) -> str:
    try:
        return format_large_community(parse_large_community(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a large community (\"65000:1:2\", 32-bit parts)") from None


ASN = Annotated[int, Field(ge=1, le=MAX_ASN)]
Seconds = Annotated[int, BeforeValidator(integral), Field(ge=0, le=0xFFFF)]
Port = Annotated[int, Field(ge=1, le=0xFFFF)]
IPAddress = Annotated[str, AfterValidator(normalize_ip)]
Prefix = Annotated[str, AfterValidator(normalize_prefix)]
RouterId = Annotated[str, AfterValidator(_router_id)]
DottedQuad = Annotated[str, AfterValidator(_dotted_quad)]
Community = Annotated[str, AfterValidator(_community)]
LargeCommunity = Annotated[str, AfterValidator(_large_community)]


class Frozen(BaseModel):
    """Immutable, strict, no unknown fields: the base of every configuration model."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
