"""``struct tcp_md5sig`` (linux/tcp.h) as runtime.sockopts packs it for TCP_MD5SIG
(RFC 2385 keys): 128 octets of sockaddr_storage, flags, prefix length, key length,
ifindex, 80 octets of key."""

from __future__ import annotations

import socket
import struct

import pytest

from gracebgp.runtime.sockopts import TCP_MD5SIG_FLAG_PREFIX, md5sig, md5sig_prefix


def _fields(raw: bytes) -> tuple[bytes, int, int, int, int, bytes]:
    assert len(raw) == 216
    flags, prefixlen, keylen, ifindex = struct.unpack("=BBHI", raw[128:136])
    return raw[:128], flags, prefixlen, keylen, ifindex, raw[136:]


def test_ipv4_peer_on_an_ipv4_socket() -> None:
    addr, flags, prefixlen, keylen, ifindex, key = _fields(md5sig(socket.AF_INET, "192.0.2.9", b"s3cret"))
    family, port = struct.unpack("=HH", addr[:4])
    assert (family, port) == (socket.AF_INET, 0)
    assert addr[4:8] == bytes([192, 0, 2, 9]) and addr[8:] == bytes(120)
    assert (flags, prefixlen, keylen, ifindex) == (0, 0, 6, 0)
    assert key == b"s3cret" + bytes(74)


def test_ipv6_peer_on_an_ipv6_socket() -> None:
    addr, *_, keylen, _ifindex, key = _fields(md5sig(socket.AF_INET6, "2001:db8::9", b"k"))
    family, port, flowinfo = struct.unpack("=HHI", addr[:8])
    assert (family, port, flowinfo) == (socket.AF_INET6, 0, 0)
    assert addr[8:24] == socket.inet_pton(socket.AF_INET6, "2001:db8::9")
    assert addr[24:28] == bytes(4) and addr[28:] == bytes(100)  # scope id, padding
    assert keylen == 1 and key[:1] == b"k"


def test_ipv4_peer_on_an_ipv6_socket_is_ipv4_mapped() -> None:
    addr = _fields(md5sig(socket.AF_INET6, "192.0.2.9", b"k"))[0]
    assert addr[8:24] == socket.inet_pton(socket.AF_INET6, "::ffff:192.0.2.9")


def test_an_empty_key_deletes_and_a_prefix_sets_the_flag() -> None:
    *_, keylen, _ifindex, key = _fields(md5sig(socket.AF_INET, "192.0.2.9", b""))
    assert keylen == 0 and key == bytes(80)
    _addr, flags, prefixlen, *_ = _fields(md5sig(socket.AF_INET, "192.0.2.0", b"k", prefixlen=24))
    assert (flags, prefixlen) == (TCP_MD5SIG_FLAG_PREFIX, 24)


def test_what_linux_cannot_take_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 80 octets"):
        md5sig(socket.AF_INET, "192.0.2.9", b"k" * 81)
    with pytest.raises(ValueError, match="not an IPv4 address"):
        md5sig(socket.AF_INET, "2001:db8::9", b"k")


def test_a_dynamic_neighbors_range_is_one_prefix_key() -> None:
    addr, flags, prefixlen, keylen, *_ = _fields(md5sig_prefix(socket.AF_INET, "10.0.0.0/24", b"k"))
    assert addr[4:8] == bytes([10, 0, 0, 0]) and (flags, prefixlen, keylen) == (TCP_MD5SIG_FLAG_PREFIX, 24, 1)
    # on a dual-stack socket an IPv4 range is the IPv4-mapped prefix: 96 more bits
    addr, flags, prefixlen, *_ = _fields(md5sig_prefix(socket.AF_INET6, "10.0.0.0/24", b"k"))
    assert addr[8:24] == socket.inet_pton(socket.AF_INET6, "::ffff:10.0.0.0") and prefixlen == 120
    addr, flags, prefixlen, *_ = _fields(md5sig_prefix(socket.AF_INET6, "2001:db8:1::/48", b""))
    assert addr[8:24] == socket.inet_pton(socket.AF_INET6, "2001:db8:1::") and (flags, prefixlen) == (1, 48)
