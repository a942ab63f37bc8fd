"""Hand-assembled BGP bytes for tests, written from the RFC layouts and independent of the
codec under test (so a codec bug cannot hide in a shared helper)."""

from __future__ import annotations

MARKER = b"\xff" * 16


def attr(flags: int, code: int, value: bytes) -> bytes:
    """RFC 4271 §4.3 attribute TLV; Extended Length when the flags say so."""
    if flags & 0x10:
        return bytes([flags, code]) + len(value).to_bytes(2, "big") + value
    return bytes([flags, code, len(value)]) + value


def body(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"") -> bytes:
    """UPDATE body: lengths computed honestly."""
    return len(withdrawn).to_bytes(2, "big") + withdrawn + len(attrs).to_bytes(2, "big") + attrs + nlri


def message(mtype: int, payload: bytes) -> bytes:
    return MARKER + (19 + len(payload)).to_bytes(2, "big") + bytes([mtype]) + payload


ORIGIN_IGP = attr(0x40, 1, b"\x00")
AS_PATH_4 = attr(0x40, 2, b"\x02\x01" + (65001).to_bytes(4, "big"))  # AS_SEQUENCE [65001]
AS_PATH_2 = attr(0x40, 2, b"\x02\x01" + (65001).to_bytes(2, "big"))
NEXT_HOP = attr(0x40, 3, bytes([10, 0, 0, 1]))
MANDATORY = ORIGIN_IGP + AS_PATH_4 + NEXT_HOP
NLRI_10_0_1 = bytes([24, 10, 0, 1])  # 10.0.1.0/24
NLRI_10_0_2 = bytes([24, 10, 0, 2])


def mp_reach_v6(nlri: bytes, next_hop: bytes = bytes.fromhex("20010db8000000000000000000000001"),
                flags: int = 0x80) -> bytes:
    """RFC 4760 §3 MP_REACH_NLRI for IPv6 unicast."""
    return attr(flags, 14, b"\x00\x02\x01" + bytes([len(next_hop)]) + next_hop + b"\x00" + nlri)


def mp_unreach_v6(withdrawn: bytes, flags: int = 0x80) -> bytes:
    return attr(flags, 15, b"\x00\x02\x01" + withdrawn)


V6_2001_DB8_1 = bytes([48]) + bytes.fromhex("20010db80001")  # 2001:db8:1::/48
