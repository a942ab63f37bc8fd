"""The peer address of a per-peer socket option (TCP MD5 and TCP-AO keys) as Linux takes
it: a ``sockaddr_in`` / ``sockaddr_in6`` padded to ``struct sockaddr_storage``."""

from __future__ import annotations

import ipaddress
import socket
import struct

SOCKADDR_STORAGE = 128


def sockaddr(family: int, address: str) -> bytes:
    """A ``sockaddr_in``/``sockaddr_in6`` with port 0, padded to ``sockaddr_storage``;
    an IPv4 address on an IPv6 socket becomes IPv4-mapped (``::ffff:a.b.c.d``), the
    form Linux gives IPv4 peers of a dual-stack listener."""
    ip = ipaddress.ip_address(address)
    if family == socket.AF_INET:
        if ip.version != 4:
            raise ValueError(f"{address} is not an IPv4 address (IPv4 socket)")
        raw = struct.pack("=HH4s", socket.AF_INET, 0, ip.packed)
    else:
        if isinstance(ip, ipaddress.IPv4Address):
            ip = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + ip.packed)
        raw = struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, ip.packed, 0)
    return raw.ljust(SOCKADDR_STORAGE, b"\0")
