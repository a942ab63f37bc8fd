"""Prefixes as integer keys, and the NLRI encoding of RFC 4271 §4.3 / RFC 7911 §3.

A prefix is one int (DESIGN.md section 3: no per-prefix object on the receive path). The
key *is* the prefix's wire encoding read as a big-endian integer::

    +---------------------------+
    |  Length (1 octet)         |        key = Length << 8*n | Prefix
    +---------------------------+
    |  Prefix (n octets)        |        n = ceil(Length / 8); host bits beyond Length
    +---------------------------+        are cleared, so every prefix has one key

so decoding is a slice, ``int.from_bytes`` and a mask, and a run of /17../24 prefixes is a
single ``struct.unpack``. The octet count comes back from ``key.bit_length()`` (the Length
octet is never zero unless the key is 0.0.0.0/0 or ::/0, key 0).

With ADD-PATH (RFC 7911 §3) the 4-octet Path Identifier precedes each NLRI; such a key is
``prefix_key << 32 | path_id``, so ``key >> 32`` is the plain prefix key.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Sequence

from gracebgp.errors import CodecError
from gracebgp.types import AFI
from gracebgp.wire.iana import NotificationCode, UpdateSubcode

_WIDTH = {AFI.IPV4: 32, AFI.IPV6: 128}


def width_of(afi: int) -> int:
    """Address width in bits of an AFI this codec handles as prefixes."""
    try:
        return _WIDTH[afi]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"AFI {afi} prefixes are not supported") from None


def _tables(width: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per prefix length: octets after the Length octet, and the mask clearing host bits."""
    octets, masks = [], []
    for plen in range(width + 1):
        nb = (plen + 7) >> 3
        octets.append(nb)
        host_bits = 8 * nb - plen
        masks.append((0xFF << 8 * nb) | (((1 << 8 * nb) - 1) & ~((1 << host_bits) - 1)))
    return tuple(octets), tuple(masks)


_OCTETS4, _MASKS4 = _tables(32)
_OCTETS6, _MASKS6 = _tables(128)
_U32: dict[int, struct.Struct] = {}


def _u32(n_octets: int) -> struct.Struct:
    s = _U32.get(n_octets)
    if s is None:
        s = _U32[n_octets] = struct.Struct(f"!{n_octets >> 2}I")
    return s


def _bad_nlri(reason: str) -> CodecError:
    # RFC 4271 §6.3 / RFC 7606 §5.3: syntactically incorrect NLRI.
    return CodecError(NotificationCode.UPDATE_MESSAGE_ERROR, UpdateSubcode.INVALID_NETWORK_FIELD,
                      reason=reason)


#: ``_same_length_v4``'s decoders by the NLRI's Length octets (``data[::4]``, all one
#: length in 17..24): the unpack of that many words and the mask (None for /24s). Kept
#: for up to ``_SAME_LENGTH_KEPT`` prefixes, the most a 4096-octet message holds (RFC 4271
#: §4): 8 lengths times 1024 counts, about 5 MB at most whatever peers send.
_SAME_LENGTH: dict[bytes, tuple[Callable[[bytes], tuple[int, ...]], int | None]] = {}
_SAME_LENGTH_KEPT = 1024


def _same_length_v4(data: bytes) -> Sequence[int] | None:
    """Fast path: every prefix has one length in 17..24 (the bulk of an IPv4 table), so
    every NLRI is 4 octets and the keys are the 4-octet words."""
    n = len(data)
    if n & 3:
        return None
    heads = data[::4]
    hit = _SAME_LENGTH.get(heads)
    if hit is None:
        plen = heads[0]
        if not 17 <= plen <= 24 or heads.count(plen) != len(heads):
            return None
        hit = (_u32(n).unpack, None if plen == 24 else _MASKS4[plen])
        if len(heads) <= _SAME_LENGTH_KEPT:
            _SAME_LENGTH[heads] = hit
    unpack, mask = hit
    words = unpack(data)
    if mask is None:
        return words
    return tuple([w & mask for w in words])


def decode_prefixes(data: bytes, width: int, addpath: bool) -> Sequence[int]:
    """Decode a Withdrawn Routes / NLRI field into keys (RFC 7606 §5.3 checks)."""
    if addpath:
        return _decode_addpath(data, width)
    if width == 32:
        if data:
            fast = _same_length_v4(data)
            if fast is not None:
                return fast
        octets, masks = _OCTETS4, _MASKS4
    else:
        octets, masks = _OCTETS6, _MASKS6
    out: list[int] = []
    append = out.append
    from_bytes = int.from_bytes
    n = len(data)
    i = 0
    while i < n:
        plen = data[i]
        if plen > width:
            raise _bad_nlri(f"prefix length {plen} > {width}")
        j = i + 1 + octets[plen]
        if j > n:
            raise _bad_nlri("prefix overruns the NLRI field")
        append(from_bytes(data[i:j], "big") & masks[plen])
        i = j
    return out


def _decode_addpath(data: bytes, width: int) -> list[int]:
    octets, masks = (_OCTETS4, _MASKS4) if width == 32 else (_OCTETS6, _MASKS6)
    out: list[int] = []
    append = out.append
    from_bytes = int.from_bytes
    n = len(data)
    i = 0
    while i < n:
        if i + 5 > n:
            raise _bad_nlri("path identifier overruns the NLRI field")
        plen = data[i + 4]
        if plen > width:
            raise _bad_nlri(f"prefix length {plen} > {width}")
        j = i + 5 + octets[plen]
        if j > n:
            raise _bad_nlri("prefix overruns the NLRI field")
        append((from_bytes(data[i + 4:j], "big") & masks[plen]) << 32 | from_bytes(data[i:i + 4], "big"))
        i = j
    return out


def encode_prefixes(keys: Sequence[int], width: int, addpath: bool) -> bytes:
    """Encode keys back into an NLRI field (the exact inverse of decode_prefixes)."""
    if not keys:
        return b""
    if addpath:
        return b"".join((k & 0xFFFFFFFF).to_bytes(4, "big") + _one(k >> 32) for k in keys)
    if width == 32 and min(keys) >= 0x11000000 and max(keys) < 0x19000000:
        return _u32(4 * len(keys)).pack(*keys)  # all /17../24: one pack
    return b"".join([k.to_bytes(((k.bit_length() + 7) >> 3) or 1, "big") for k in keys])


def _one(key: int) -> bytes:
    return key.to_bytes(((key.bit_length() + 7) >> 3) or 1, "big")


def prefix_wire_len(key: int, addpath: bool) -> int:
    """Octets the key takes on the wire."""
    if addpath:
        return 4 + ((((key >> 32).bit_length() + 7) >> 3) or 1)
    return ((key.bit_length() + 7) >> 3) or 1


def make_key(address: int, length: int, width: int) -> int:
    """Prefix key from an address (an int of ``width`` bits) and a length."""
    if not 0 <= length <= width:
        raise ValueError(f"prefix length {length} out of range 0..{width}")
    nb = (length + 7) >> 3
    top = address >> (width - 8 * nb) if nb else 0
    return (length << 8 * nb | top) & (_MASKS4 if width == 32 else _MASKS6)[length]


def key_parts(key: int, width: int) -> tuple[int, int]:
    """(address, length) of a plain prefix key."""
    nbytes = ((key.bit_length() + 7) >> 3) or 1
    nb = nbytes - 1
    length = key >> 8 * nb
    if length > width or (length + 7) >> 3 != nb:
        raise ValueError(f"0x{key:x} is not a prefix key for width {width}")
    return (key & ((1 << 8 * nb) - 1)) << (width - 8 * nb), length


def addpath_key(key: int, path_id: int) -> int:
    return key << 32 | path_id


def parse_prefix(text: str, strict: bool = False) -> tuple[AFI, int]:
    """"10.0.0.0/24" or "2001:db8::/32" -> (AFI, key); an address alone is a host route.
    ``strict``: host bits set is an error. Raises ValueError on bad input."""
    text = text.strip()
    fast = _parse_v4(text) if ":" not in text else None
    if fast is not None:
        value, length = fast
        host = (1 << (32 - length)) - 1
        if not value & host:
            return AFI.IPV4, make_key(value, length, 32)
        if not strict:
            return AFI.IPV4, make_key(value & ~host, length, 32)
    net = ipaddress.ip_network(text, strict=strict)
    width = 32 if net.version == 4 else 128
    return (AFI.IPV4 if width == 32 else AFI.IPV6), make_key(int(net.network_address), net.prefixlen, width)


def _parse_v4(text: str) -> tuple[int, int] | None:
    """(address, length) of a plainly written IPv4 prefix, else None (ipaddress decides,
    with its error messages). The common case of bulk input, without ipaddress objects."""
    addr, sep, plen = text.partition("/")
    octets = addr.split(".")
    if len(octets) != 4 or (sep and not (plen.isdigit() and len(plen) <= 2)):
        return None
    value = 0
    for o in octets:
        if not (o.isdigit() and len(o) <= 3 and o.isascii()) or (len(o) > 1 and o[0] == "0"):
            return None
        n = int(o)
        if n > 255:
            return None
        value = value << 8 | n
    length = int(plen) if sep else 32
    return (value, length) if length <= 32 else None


def format_prefix(key: int, afi: int, addpath: bool = False) -> str:
    """Key -> "10.0.0.0/24" ("10.0.0.0/24#7" for an ADD-PATH key with path id 7)."""
    width = width_of(afi)
    path_id = None
    if addpath:
        key, path_id = key >> 32, key & 0xFFFFFFFF
    address, length = key_parts(key, width)
    if width == 32:
        text = f"{address >> 24}.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}/{length}"
    else:
        text = f"{ipaddress.IPv6Address(address)}/{length}"
    return text if path_id is None else f"{text}#{path_id}"
