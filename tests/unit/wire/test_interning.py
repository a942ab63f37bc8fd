"""DESIGN.md section 3: a path-attribute block is decoded once; the same raw block again
returns the same AttrSet object without decoding anything."""

from __future__ import annotations

from typing import Any

import pytest

from gracebgp.wire import CodecContext, UpdateResult, parse_update
from gracebgp.wire import attrset as attrset_module
from gracebgp.wire.attrset import clear_caches
from gracebgp.wire.attrtable import decode_one

from .wirebytes import (
    AS_PATH_4,
    MANDATORY,
    NLRI_10_0_1,
    NLRI_10_0_2,
    ORIGIN_IGP,
    V6_2001_DB8_1,
    attr,
    body,
    mp_reach_v6,
)

CTX = CodecContext()


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    clear_caches()
    calls: list[int] = []
    real = decode_one

    def counting(*args: Any) -> Any:
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(attrset_module, "decode_one", counting)
    return calls


def attrs_of(result: UpdateResult) -> object:
    assert result.update is not None and result.update.attrs is not None
    return result.update.attrs


def test_same_block_same_object_no_second_decode(decode_calls: list[int]) -> None:
    first = parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_1), CTX)
    assert sorted(decode_calls) == [1, 2, 3]
    second = parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_2), CTX)
    assert attrs_of(second) is attrs_of(first)
    assert sorted(decode_calls) == [1, 2, 3]  # nothing decoded again


def test_known_attributes_in_a_new_block_are_not_decoded_again(decode_calls: list[int]) -> None:
    parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_1), CTX)
    comm = attr(0xC0, 8, (65000 << 16 | 7).to_bytes(4, "big"))
    parse_update(body(attrs=MANDATORY + comm, nlri=NLRI_10_0_1), CTX)
    assert sorted(decode_calls) == [1, 2, 3, 8]


def test_mp_updates_share_the_attrset_of_their_other_attributes(decode_calls: list[int]) -> None:
    rest = ORIGIN_IGP + AS_PATH_4
    a = parse_update(body(attrs=mp_reach_v6(V6_2001_DB8_1) + rest), CTX)
    b = parse_update(body(attrs=mp_reach_v6(bytes([32, 0x20, 0x01, 0x0D, 0xB9])) + rest), CTX)
    assert attrs_of(a) is attrs_of(b)
    assert sorted(decode_calls) == [1, 2]


def test_contexts_do_not_share_decodings(decode_calls: list[int]) -> None:
    a = parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_1), CodecContext(ibgp=True))
    b = parse_update(body(attrs=MANDATORY, nlri=NLRI_10_0_1), CodecContext(ibgp=False))
    assert attrs_of(a) == attrs_of(b) and attrs_of(a) is not attrs_of(b)


def test_cached_block_is_still_checked_for_mandatory_attributes() -> None:
    clear_caches()
    no_next_hop = ORIGIN_IGP + AS_PATH_4
    assert parse_update(body(attrs=no_next_hop + mp_reach_v6(V6_2001_DB8_1)), CTX).action == 0
    # The non-MP part is now interned; with IPv4 NLRI it lacks NEXT_HOP (RFC 7606 §3 d).
    again = parse_update(body(attrs=no_next_hop, nlri=NLRI_10_0_1), CTX)
    assert again.action == 2
