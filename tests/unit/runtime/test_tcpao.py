"""The TCP-AO structs as Linux's uapi lays them out (linux/tcp.h, x86-64 and arm64: the
bit fields of each flag word from the least significant bit), checked octet by octet
against offsets counted from the C declarations, and the kernel probe."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from gracebgp.core.events import AoKey
from gracebgp.runtime import tcpao

KEY = AoKey(send_id=5, recv_id=9, algorithm="cmac(aes128)", mac_len=12, key="s3cret")


def test_tcp_ao_add_layout() -> None:
    raw = tcpao.add_key(socket.AF_INET, "192.0.2.7", KEY, current=True)
    assert len(raw) == 288  # 128 + 64 + 4 + 4 + 2 + 6 + 80, a multiple of 8
    assert struct.unpack_from("=H", raw, 0)[0] == socket.AF_INET
    assert raw[4:8] == bytes([192, 0, 2, 7])  # sin_addr after sin_family and sin_port
    assert raw[128:192].rstrip(b"\0") == b"cmac(aes128)"  # alg_name[64]
    assert struct.unpack_from("=i", raw, 192)[0] == 0  # ifindex
    assert struct.unpack_from("=I", raw, 196)[0] == 0b11  # set_current, set_rnext
    assert raw[200:202] == b"\0\0"  # reserved2
    assert tuple(raw[202:208]) == (32, 5, 9, 12, 0, 6)  # prefix sndid rcvid maclen keyflags keylen
    assert raw[208:214] == b"s3cret" and raw[214:] == b"\0" * 74


def test_tcp_ao_add_ipv6_and_not_current() -> None:
    raw = tcpao.add_key(socket.AF_INET6, "2001:db8::1", KEY)
    assert struct.unpack_from("=H", raw, 0)[0] == socket.AF_INET6
    assert raw[8:24] == socket.inet_pton(socket.AF_INET6, "2001:db8::1")  # after port and flowinfo
    assert struct.unpack_from("=I", raw, 196)[0] == 0
    assert raw[202] == 128


def test_tcp_ao_del_and_info_layout() -> None:
    raw = tcpao.del_key(socket.AF_INET, "192.0.2.7", KEY)
    assert len(raw) == 144
    assert struct.unpack_from("=iI", raw, 128) == (0, 0)  # ifindex, no forced current/rnext
    assert tuple(raw[138:144]) == (32, 5, 9, 0, 0, 0)  # prefix sndid rcvid current_key rnext keyflags
    info = tcpao.info_current(KEY)
    assert len(info) == 48
    assert struct.unpack_from("=I", info, 0)[0] == 0b11 and tuple(info[6:8]) == (5, 9)
    assert info[8:] == b"\0" * 40  # the counters, untouched (set_counters is 0)


def test_a_key_too_long_for_the_kernel() -> None:
    with pytest.raises(ValueError, match="at most 80 octets"):
        tcpao.add_key(socket.AF_INET, "192.0.2.7", AoKey(1, 1, "hmac(sha1)", 12, "k" * 81))


def test_the_probe_agrees_with_the_kernel() -> None:
    """``supported()`` is "" exactly when a key can be put on a socket; without
    CONFIG_TCP_AO every use names the missing kernel feature instead of a bare errno."""
    why = tcpao.supported()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if why:
            assert "this kernel has no TCP-AO" in why
            with pytest.raises(OSError) as info:
                tcpao.set_outgoing(sock, "127.0.0.1", (KEY,), None)
            assert info.value.errno == errno.ENOPROTOOPT and "CONFIG_TCP_AO" in str(info.value)
            tcpao.set_listener(sock, "127.0.0.1", (KEY,), ())  # removing what cannot be there: no error
        else:
            tcpao.set_outgoing(sock, "127.0.0.1", (KEY,), 5)
            assert tcpao.read_info(sock)["current_key"] == 5
