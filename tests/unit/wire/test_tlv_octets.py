"""The attribute TLV header and the community runs as octets (RFC 4271 §4.3, RFC 1997,
RFC 4360, RFC 8092): built here by hand from the RFC layout and compared with the encoder,
for every length of value up to past one octet's reach, with and without Extended Length
asked for. The encoder packs with Structs kept per length (shared with the decoder), so a
wrong length, word size or byte order shows here."""

from __future__ import annotations

import random
from typing import Any

from gracebgp.wire.attributes import EXT_LEN, OPTIONAL_TRANSITIVE, PARTIAL, UnknownAttribute, encode_attribute
from gracebgp.wire.communities import Communities, ExtendedCommunities, LargeCommunities


def _tlv(flags: int, code: int, value: bytes) -> bytes:
    """RFC 4271 §4.3: flags, type code, then the length in one octet, or two when the
    Extended Length bit is set (it must be when the value is over 255 octets)."""
    if len(value) > 255 or flags & EXT_LEN:
        return bytes((flags | EXT_LEN, code, len(value) >> 8, len(value) & 0xFF)) + value
    return bytes((flags, code, len(value))) + value


def _words(values: list[int], size: int) -> bytes:
    return b"".join(v.to_bytes(size, "big") for v in values)


def test_every_header_length_and_flag_gives_the_rfc_octets() -> None:
    rng = random.Random(4271)
    for n in [*range(0, 260), 1000, 65535]:
        value = bytes(rng.randrange(256) for _ in range(n))
        for flags in (OPTIONAL_TRANSITIVE, OPTIONAL_TRANSITIVE | PARTIAL, OPTIONAL_TRANSITIVE | EXT_LEN):
            attr = UnknownAttribute(200, value, flags)
            assert encode_attribute(attr, True) == _tlv(flags, 200, value), (n, flags)


def test_community_runs_of_every_length_are_big_endian_words_rfc1997_rfc4360_rfc8092() -> None:
    rng = random.Random(1997)
    for n in [*range(0, 70), 100, 300]:
        std = [rng.randrange(1 << 32) for _ in range(n)]
        ext = [rng.randrange(1 << 64) for _ in range(n)]
        large = [(rng.randrange(1 << 32), rng.randrange(1 << 32), rng.randrange(1 << 32)) for _ in range(n)]
        cases: list[tuple[Any, int, bytes]] = [
            (Communities(tuple(std)), 8, _words(std, 4)),
            (ExtendedCommunities(tuple(ext)), 16, _words(ext, 8)),
            (LargeCommunities(tuple(large)), 32, _words([x for v in large for x in v], 4))]
        for attr, code, value in cases:
            name = type(attr).__name__
            assert attr.encode_value(True) == value, (name, n)
            assert encode_attribute(attr, True) == _tlv(OPTIONAL_TRANSITIVE, code, value), (name, n)
            if n:  # the decoder reads the same octets back (it shares the Structs)
                assert type(attr).decode_value(value, OPTIONAL_TRANSITIVE, True) == attr
