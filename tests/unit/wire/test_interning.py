"""DESIGN.md section 3: a path-attribute block is decoded once; the same raw block again
returns the same AttrSet object without decoding anything. Community values are one int
object per value."""

from __future__ import annotations

from typing import Any

import pytest

from gracebgp.wire import CodecContext, UpdateResult, parse_update
from gracebgp.wire import attrset as attrset_module
from gracebgp.wire import communities as communities_module
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



def _values(code: int, value: bytes) -> Any:
    """The decoded values of one community attribute (its own TLV)."""
    got, problem = attrset_module.decode_attribute(attr(0xC0, code, value))
    assert problem is None
    return got.values


def test_community_values_are_one_object_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """Different COMMUNITIES (EXTENDED, LARGE) attributes holding the same value hold one
    int object for it (a table's many distinct lists repeat a few thousand values)."""
    monkeypatch.setattr(communities_module, "_VALUES", {})
    clear_caches()
    comm = 65000 << 16 | 7
    comm_a = _values(8, comm.to_bytes(4, "big"))
    comm_b = _values(8, (1 << 16 | 1).to_bytes(4, "big") + comm.to_bytes(4, "big"))
    assert comm_a == (comm,) and comm_b == (1 << 16 | 1, comm)
    assert comm_a[0] is comm_b[1]
    ext = (0x0002 << 48 | 65000 << 32 | 100).to_bytes(8, "big")
    ext_a, ext_b = _values(16, ext), _values(16, ext[:7] + b"\x01" + ext)
    assert ext_a[0] == ext_b[1] and ext_a[0] is ext_b[1]
    large = (65000).to_bytes(4, "big") + (1).to_bytes(4, "big") + (70000).to_bytes(4, "big")
    first = _values(32, large)
    again = _values(32, (9).to_bytes(4, "big") * 3 + large)
    assert first == ((65000, 1, 70000),) and again[1] == first[0]
    assert first[0][2] is again[1][2]


def test_the_value_table_is_cleared_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """At the limit the table starts again (a peer sending random values cannot grow it,
    nor stop the sharing for good); values decode as before either way."""
    table: dict[int, int] = {}
    monkeypatch.setattr(communities_module, "_VALUES", table)
    monkeypatch.setattr(communities_module, "_VALUES_LIMIT", 3)
    clear_caches()
    values = [70_000 + k for k in range(6)]
    got = _values(8, b"".join(v.to_bytes(4, "big") for v in values))
    assert got == tuple(values)
    assert sorted(table) == values  # (an attribute's values go in before the next checks)
    new = 1 << 31 | 5
    later = _values(8, values[0].to_bytes(4, "big") + new.to_bytes(4, "big"))
    assert later == (values[0], new)
    assert sorted(table) == [values[0], new] and later[0] is not got[0]
    again = _values(8, new.to_bytes(4, "big") + values[1].to_bytes(4, "big"))
    assert again[0] is later[1]  # shared again after the clearing


def test_clear_caches_forgets_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    table: dict[int, int] = {}
    monkeypatch.setattr(communities_module, "_VALUES", table)
    clear_caches()
    _values(8, (65000 << 16 | 9).to_bytes(4, "big"))
    assert table
    clear_caches()
    assert not table
