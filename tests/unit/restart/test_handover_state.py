"""The hand-over state format (issue 19, restart.handover): round trip, extra sections
carried unchanged, other versions refused, damaged input refused with
HandoverStateError and never another exception."""

from __future__ import annotations

import contextlib
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gracebgp.restart.handover import (
    MAGIC,
    VERSION,
    HandoverState,
    HandoverStateError,
    HelperRecord,
    OutGroup,
    SessionRecord,
    check_version,
    decode,
    encode,
    version_of,
)
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST


def _state() -> HandoverState:
    from gracebgp.wire.nlri import decode_prefixes, encode_prefixes

    v4 = tuple(decode_prefixes(bytes([24, 192, 0, 2, 24, 198, 51, 100]), 32, False))
    v6 = tuple(decode_prefixes(bytes([48, 0x20, 0x01, 0x0d, 0xb8, 0, 0x0a]), 128, False))
    assert encode_prefixes(v4, 32, False)
    s = SessionRecord("192.0.2.1", 7, True, "192.0.2.2", 1_700_000_000.5, b"\xff" * 16 + b"\x00\x1d\x01",
                      b"\xff" * 16 + b"\x00\x1d\x01" + b"x", b"\xff" * 10, b"UPDATES",
                      (OutGroup(IPV4_UNICAST, b"\x40\x01\x01\x00", (), v4),
                       OutGroup(IPV6_UNICAST, b"\x40\x01\x01\x02", ("2001:db8::1", "fe80::1"), v6)),
                      (IPV4_UNICAST,))
    t = SessionRecord("2001:db8::2", 9, False, "2001:db8::1", 5.0, b"o", b"t")
    return HandoverState(4242, 1_700_000_100.25, (s, t), {"fib": b"\x00\x01routes", "bfd": b"{}"})


def test_issue19_round_trip_keeps_every_field_and_the_extra_sections() -> None:
    state = _state()
    data = encode(state)
    assert data.startswith(MAGIC) and version_of(data) == 1  # no helper records: readable by 1
    assert decode(data) == state and decode(data).version == 1


def test_issue19_helper_records_round_trip_as_version_2() -> None:
    helper = HelperRecord("192.0.2.9", 65009, "192.0.2.9", False, b"UPDATES", ((IPV4_UNICAST, "stale"),),
                          1_700_000_120.0, ((IPV6_UNICAST, 1_700_003_600.5),), ((IPV6_UNICAST, 3600),), 120)
    idle = HelperRecord("2001:db8::9", 65010, "192.0.2.10", True, b"", ((IPV6_UNICAST, "llgr-stale"),), None)
    state = HandoverState(7, 1.0, _state().sessions, {"fib": b"x"}, (helper, idle))
    data = encode(state)
    assert version_of(data) == 2 == VERSION
    assert decode(data) == state
    broken = data.replace(b'"restart_time": 120', b'"restart_time": "x"')
    body = broken[len(MAGIC) + 14:]
    forged = broken[:len(MAGIC) + 2] + zlib.crc32(body).to_bytes(4, "big") + broken[len(MAGIC) + 6:]
    with pytest.raises(HandoverStateError, match="helper record 0 is malformed"):
        decode(forged)


def test_issue19_an_empty_state_round_trips() -> None:
    state = HandoverState(1, 0.0, ())
    assert decode(encode(state)) == state


def test_issue19_another_version_is_refused_by_name() -> None:
    data = bytearray(encode(_state()))
    data[len(MAGIC):len(MAGIC) + 2] = (VERSION + 1).to_bytes(2, "big")
    with pytest.raises(HandoverStateError, match=f"version {VERSION + 1} is not readable"):
        decode(bytes(data))
    assert check_version(VERSION) == ""
    assert "not readable" in check_version(VERSION + 1)


def test_issue19_damage_is_refused() -> None:
    data = encode(_state())
    with pytest.raises(HandoverStateError, match="bad magic"):
        decode(b"GRACEBGP-HANDOFF" + data[16:])
    flipped = bytearray(data)
    flipped[-3] ^= 0x40
    with pytest.raises(HandoverStateError, match="checksum"):
        decode(bytes(flipped))
    with pytest.raises(HandoverStateError, match="octets, the header says"):
        decode(data[:-1])


def _rebuilt(sections: list[tuple[str, bytes]]) -> bytes:
    body = b"".join(bytes([len(n)]) + n.encode() + len(d).to_bytes(8, "big") + d for n, d in sections)
    return MAGIC + VERSION.to_bytes(2, "big") + zlib.crc32(body).to_bytes(4, "big") + \
        len(body).to_bytes(8, "big") + body


def test_issue19_well_checksummed_nonsense_is_refused() -> None:
    meta = {"pid": 1, "time": 1.0, "sessions": [{"peer": "p", "fd": "7", "outgoing": True,
                                                  "local_address": "", "established": 0, "eor": []}]}
    with pytest.raises(HandoverStateError, match="'fd'"):
        decode(_rebuilt([("meta", json.dumps(meta).encode())]))
    meta["sessions"][0]["fd"] = 7  # type: ignore[index]
    with pytest.raises(HandoverStateError, match="lacks its section"):
        decode(_rebuilt([("meta", json.dumps(meta).encode())]))
    with pytest.raises(HandoverStateError, match="not JSON"):
        decode(_rebuilt([("meta", b"{")]))
    with pytest.raises(HandoverStateError, match="of no session"):
        decode(_rebuilt([("meta", b'{"pid": 1, "time": 1, "sessions": []}'), ("s3.adj-in", b"")]))


def test_issue19_reserved_names_are_not_extra_sections() -> None:
    with pytest.raises(ValueError, match="reserved"):
        encode(HandoverState(1, 0.0, (), {"meta": b""}))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_issue19_any_damage_is_a_handover_state_error(data: st.DataObject) -> None:
    raw = bytearray(encode(_state()))
    body_start = len(MAGIC) + 14
    pos = data.draw(st.integers(body_start, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    damaged = bytes(raw[:cut])
    # The body's checksum is recomputed so the parser itself meets the damage.
    body = damaged[len(MAGIC) + 14:]
    forged = (damaged[:len(MAGIC) + 2] + zlib.crc32(body).to_bytes(4, "big")
              + len(body).to_bytes(8, "big") + body)
    for candidate in (damaged, forged):
        with contextlib.suppress(HandoverStateError):
            decode(candidate)
