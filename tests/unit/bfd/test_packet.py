"""BFD Control packet vectors (RFC 5880 §4.1, §4.2.1) both ways, and every §6.8.6 discard."""

from __future__ import annotations

import pytest

from gracebgp.bfd import ControlPacket, Diag, Discard, DiscardReason, SessionState, decode, encode
from gracebgp.bfd.codes import AuthType
from gracebgp.bfd.packet import Auth, SimplePassword

# (hex, packet): version 1, each field at its own value so a shifted bit shows.
VECTORS = [
    (
        # Down, no diag, mult 3, len 24, my 1, your 0, 1 s / 1 s / echo 0
        "20400318" "00000001" "00000000" "000f4240" "000f4240" "00000000",
        ControlPacket(SessionState.DOWN, Diag.NONE, 1, 0, 3, 1_000_000, 1_000_000, 0),
    ),
    (
        # Up, diag 3, P, C; mult 5; my 0x01020304, your 0x0a0b0c0d; 300 ms / 200 ms / 50 ms
        "23e80518" "01020304" "0a0b0c0d" "000493e0" "00030d40" "0000c350",
        ControlPacket(SessionState.UP, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, 0x01020304,
                      0x0A0B0C0D, 5, 300_000, 200_000, 50_000, poll=True,
                      control_plane_independent=True),
    ),
    (
        # Init, diag 1, F, D; mult 1
        "2192" "0118" "00000007" "00000009" "000186a0" "000186a0" "00000000",
        ControlPacket(SessionState.INIT, Diag.CONTROL_DETECTION_TIME_EXPIRED, 7, 9, 1,
                      100_000, 100_000, 0, final=True, demand=True),
    ),
    (
        # AdminDown, diag 7, your 0 allowed
        "27000318" "00000005" "00000000" "000f4240" "000f4240" "00000000",
        ControlPacket(SessionState.ADMIN_DOWN, Diag.ADMINISTRATIVELY_DOWN, 5, 0, 3),
    ),
    (
        # Up with A: Simple Password, key id 2, "abc" -> Auth Len 6, Length 30
        "20c4031e" "00000001" "00000002" "000f4240" "000f4240" "00000000" "0106" "02" "616263",
        ControlPacket(SessionState.UP, Diag.NONE, 1, 2, 3,
                      auth=Auth(AuthType.SIMPLE_PASSWORD, 2, b"abc")),
    ),
]


@pytest.mark.parametrize(("hexed", "packet"), VECTORS)
def test_vectors_both_ways(hexed: str, packet: ControlPacket) -> None:
    assert decode(bytes.fromhex(hexed)) == packet
    assert encode(packet).hex() == hexed


def test_unknown_diag_survives_as_int() -> None:
    data = bytearray(encode(ControlPacket(SessionState.DOWN, my_discriminator=1)))
    data[0] = 0x20 | 0x1B  # diag 27: not assigned
    got = decode(bytes(data))
    assert isinstance(got, ControlPacket)
    assert got.diag == 27 and not isinstance(got.diag, Diag)


def test_poll_and_final_together_are_not_encoded() -> None:
    with pytest.raises(ValueError, match="Poll and Final"):
        encode(ControlPacket(SessionState.UP, poll=True, final=True))


GOOD = bytes.fromhex("20400318" "00000001" "00000000" "000f4240" "000f4240" "00000000")


def _patch(offset: int, value: int) -> bytes:
    data = bytearray(GOOD)
    data[offset] = value
    return bytes(data)


@pytest.mark.parametrize(("data", "reason"), [
    (GOOD[:23], DiscardReason.TOO_SHORT),
    (b"", DiscardReason.TOO_SHORT),
    (_patch(0, 0x40), DiscardReason.BAD_VERSION),  # version 2
    (_patch(0, 0x00), DiscardReason.BAD_VERSION),  # version 0
    (_patch(3, 23), DiscardReason.BAD_LENGTH),  # Length below 24
    (_patch(3, 28), DiscardReason.BAD_LENGTH),  # Length beyond the datagram
    (_patch(1, 0x44), DiscardReason.BAD_LENGTH),  # A set, Length 24 < 26
    (_patch(2, 0), DiscardReason.ZERO_DETECT_MULT),
    (_patch(1, 0x41), DiscardReason.MULTIPOINT),
    (bytes(GOOD[:4]) + bytes(4) + GOOD[8:], DiscardReason.ZERO_MY_DISCRIMINATOR),
    (_patch(1, 0x80), DiscardReason.ZERO_YOUR_DISCRIMINATOR),  # Init, your 0
    (_patch(1, 0xC0), DiscardReason.ZERO_YOUR_DISCRIMINATOR),  # Up, your 0
])
def test_discards_with_reason(data: bytes, reason: DiscardReason) -> None:
    got = decode(data)
    assert isinstance(got, Discard)
    assert got.reason is reason


def test_auth_section_too_short_is_malformed() -> None:
    data = bytearray(GOOD + bytes.fromhex("0102"))
    data[1] |= 0x04
    data[3] = 26
    got = decode(bytes(data))
    assert isinstance(got, Discard) and got.reason is DiscardReason.AUTH_MALFORMED


def test_trailing_octets_beyond_length_are_ignored() -> None:
    assert decode(GOOD + b"\x00\x00") == decode(GOOD)


def test_simple_password_checks() -> None:
    key = SimplePassword(2, b"abc")
    assert key.check(Auth(AuthType.SIMPLE_PASSWORD, 2, b"abc")) is None
    for auth, reason in [
        (None, DiscardReason.AUTH_MISSING),
        (Auth(AuthType.SIMPLE_PASSWORD, 3, b"abc"), DiscardReason.AUTH_FAILED),
        (Auth(AuthType.SIMPLE_PASSWORD, 2, b"abd"), DiscardReason.AUTH_FAILED),
        (Auth(AuthType.KEYED_MD5, 2, b"abc"), DiscardReason.AUTH_FAILED),
    ]:
        got = key.check(auth)
        assert got is not None and got.reason is reason
    with pytest.raises(ValueError):
        SimplePassword(1, b"")
    with pytest.raises(ValueError):
        SimplePassword(1, b"x" * 17)
