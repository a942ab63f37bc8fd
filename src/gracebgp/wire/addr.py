"""IP address octets <-> text, without the socket module (DESIGN.md section 1: no socket
below L4). IPv6 text is cached because every MP_REACH_NLRI carries a next hop."""

from __future__ import annotations

import ipaddress

from gracebgp.errors import EncodeError

_V6_TEXT: dict[bytes, str] = {}
_BYTES: dict[str, bytes] = {}  # text -> octets, for next hops that every UPDATE repeats


def ipv4_text(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def ipv6_text(raw: bytes) -> str:
    text = _V6_TEXT.get(raw)
    if text is None:
        if len(_V6_TEXT) > 65536:
            _V6_TEXT.clear()
        text = _V6_TEXT[raw] = ipaddress.IPv6Address(raw).compressed
    return text


def ip_bytes(text: str) -> bytes:
    """4 or 16 octets of an address in text form; EncodeError when it is not one."""
    raw = _BYTES.get(text)
    if raw is None:
        try:
            raw = ipaddress.ip_address(text).packed
        except ValueError:
            raise EncodeError(f"not an IP address: {text!r}") from None
        if len(_BYTES) > 65536:
            _BYTES.clear()
        _BYTES[text] = raw
    return raw


def ipv4_bytes(text: str) -> bytes:
    raw = ip_bytes(text)
    if len(raw) != 4:
        raise EncodeError(f"not an IPv4 address: {text!r}")
    return raw
