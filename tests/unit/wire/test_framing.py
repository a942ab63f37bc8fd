"""Framing and whole-message errors: RFC 4271 §6.1 (header), §6.2 (OPEN), RFC 8654 §4
(extended message), RFC 7313 §5 (ROUTE-REFRESH length), RFC 9003 / RFC 8538 data."""

from __future__ import annotations

import pytest

from gracebgp.errors import CodecError, FramingError
from gracebgp.wire import (
    CodecContext,
    Framer,
    Notification,
    Open,
    RouteRefresh,
    decode_body,
    decode_message,
    split_messages,
)
from gracebgp.wire.iana import CeaseSubcode

from .wirebytes import MANDATORY, MARKER, NLRI_10_0_1, body, message

KEEPALIVE = MARKER + b"\x00\x13\x04"


def header_error(data: bytes, max_len: int = 4096) -> FramingError:
    with pytest.raises(FramingError) as info:
        Framer(max_len).feed(data)
    assert info.value.code == 1
    return info.value


def test_stream_cut_anywhere_yields_the_same_messages() -> None:
    stream = KEEPALIVE + message(2, body(attrs=MANDATORY, nlri=NLRI_10_0_1)) + KEEPALIVE
    whole = split_messages(stream)
    assert [t for t, _ in whole] == [4, 2, 4]
    for cut in range(1, len(stream)):
        framer = Framer()
        got = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
        assert got == whole
        assert framer.pending == 0
    framer = Framer()
    one_by_one = [m for i in range(len(stream)) for m in framer.feed(stream[i:i + 1])]
    assert one_by_one == whole


def test_bad_marker_is_connection_not_synchronized() -> None:
    err = header_error(b"\xff" * 15 + b"\xfe" + b"\x00\x13\x04")
    assert (err.subcode, err.data) == (1, b"")


@pytest.mark.parametrize(("length", "mtype"), [
    (18, 4),  # shorter than a header
    (20, 4),  # KEEPALIVE must be exactly 19
    (28, 1),  # OPEN shorter than 29
    (22, 2),  # UPDATE shorter than 23
    (20, 3),  # NOTIFICATION shorter than 21
    (4097, 2),  # over 4096 without extended message
])
def test_bad_message_length_carries_the_length_field(length: int, mtype: int) -> None:
    err = header_error(MARKER + length.to_bytes(2, "big") + bytes([mtype]) + bytes(max(0, length - 19)))
    assert (err.subcode, err.data) == (2, length.to_bytes(2, "big"))


def test_bad_message_type_carries_the_type() -> None:
    err = header_error(MARKER + b"\x00\x13\x09")
    assert (err.subcode, err.data) == (3, b"\x09")


def test_extended_message_allows_long_updates_but_not_long_open_or_keepalive() -> None:
    big = message(2, body(attrs=MANDATORY + bytes([0xD0, 99]) + (5000).to_bytes(2, "big") + bytes(5000),
                          nlri=NLRI_10_0_1))
    assert len(big) > 4096
    header_error(big)  # not negotiated
    ctx = CodecContext(extended_message=True)
    result = decode_message(big, ctx)
    assert result.update is not None and len(result.update.nlri) == 1  # type: ignore[union-attr]
    long_open = MARKER + (4200).to_bytes(2, "big") + b"\x01" + bytes(4200 - 19)
    header_error(long_open, 65535)


def test_truncated_message_is_not_a_message() -> None:
    ka = KEEPALIVE[:-1]
    framer = Framer()
    assert framer.feed(ka) == []
    assert framer.pending == len(ka)
    with pytest.raises(FramingError):
        split_messages(ka)


def test_open_with_inconsistent_parameter_length_is_an_open_error() -> None:
    good = Open.build(65001, 90, "192.0.2.1", ()).encode()
    bad = good[:28] + b"\x05"  # claims 5 octets of parameters, has none
    with pytest.raises(CodecError) as info:
        decode_message(bad[:16] + (len(bad)).to_bytes(2, "big") + bad[18:], CodecContext())
    assert (info.value.code, info.value.subcode) == (2, 0)


def test_open_parameter_overrun_is_an_open_error() -> None:
    payload = b"\x04" + (65001).to_bytes(2, "big") + (90).to_bytes(2, "big") + bytes([192, 0, 2, 1])
    params = b"\x02\x06\x01\x04\x00\x01\x00"  # capability param claims 6, has 5
    with pytest.raises(CodecError) as info:
        decode_body(1, payload + bytes([len(params)]) + params, CodecContext())
    assert info.value.code == 2


def test_route_refresh_with_wrong_length_is_rfc7313_error() -> None:
    bad = message(5, b"\x00\x01\x00\x01\x00")
    with pytest.raises(CodecError) as info:
        decode_message(bad, CodecContext())
    assert (info.value.code, info.value.subcode, info.value.data) == (7, 1, bad)


def test_route_refresh_subtypes() -> None:
    borr = message(5, b"\x00\x02\x01\x01")
    assert decode_message(borr, CodecContext()) == RouteRefresh(2, 1, 1)
    assert RouteRefresh(2, 1, 1).encode() == borr


def test_notification_too_short() -> None:
    with pytest.raises(CodecError):
        decode_body(3, b"\x06", CodecContext())


def test_shutdown_communication_rfc9003() -> None:
    text = "maintenance until 12:00 — ticket 42"
    n = Notification.cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, text)
    raw = text.encode()
    assert n.data == bytes([len(raw)]) + raw
    assert n.communication == text
    assert decode_message(n.encode(), CodecContext()) == n
    # Longer than 255 octets: cut on a character boundary.
    long = Notification.cease(CeaseSubcode.ADMINISTRATIVE_RESET, "é" * 200)
    assert long.data[0] == 254 and long.communication == "é" * 127
    # A length that overruns the data is not a communication, and nothing raises.
    assert Notification(6, 2, b"\x09abc").communication is None


def test_hard_reset_wraps_and_unwraps_rfc8538() -> None:
    inner = Notification.cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, "bye")
    hard = inner.hard_reset()
    assert (hard.code, hard.subcode) == (6, 9)
    assert hard.data == b"\x06\x02" + inner.data
    assert hard.is_hard_reset and hard.unwrap() == inner
    assert "HARD_RESET wrapping CEASE/ADMINISTRATIVE_SHUTDOWN: 'bye'" in hard.describe()
    assert Notification(4, 0).unwrap() == Notification(4, 0)
