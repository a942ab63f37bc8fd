"""BFD's UDP sockets on Linux: the receive sockets (RFC 5881 §4 port 3784, RFC 5883 §5 port
4784) that report each datagram's TTL / hop limit, and a session's transmit socket (source
port in 49152-65535, the same for the whole session, TTL 255: RFC 5881 §4 and §5).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import random
import socket
import sys

from gracebgp.bfd.codes import SINGLE_HOP_TTL, SOURCE_PORTS

log = logging.getLogger("gracebgp.bfdd")

IP_RECVTTL = 12  # linux/in.h: ask for an IP_TTL control message with each datagram
IP_TTL = 2
_RECV_BUF = 512  # a Control packet is 24 octets, 52 with the longest authentication
_ANC_BUF = socket.CMSG_SPACE(4)


def family_of(address: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET


def receive_socket(address: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to ``address``:``port`` that reports the TTL."""
    family = family_of(address)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        sock.bind((address, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def read(sock: socket.socket) -> tuple[bytes, str, int | None] | None:
    """One datagram: (octets, source address, TTL or hop limit); None when none is waiting."""
    try:
        data, anc, _flags, src = sock.recvmsg(_RECV_BUF, _ANC_BUF)
    except (BlockingIOError, InterruptedError):
        return None
    ttl = None
    for level, kind, value in anc:
        if ((level, kind) in ((socket.IPPROTO_IP, IP_TTL), (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT))
                and len(value) >= 4):
            ttl = int.from_bytes(value[:4], sys.byteorder)  # a native int
    return data, str(src[0]).split("%", 1)[0], ttl


def transmit_socket(peer: str, local: str, rng: random.Random) -> socket.socket:
    """The session's sending socket: bound to ``local`` (or any address) and a source port
    picked in 49152-65535 (RFC 5881 §4), TTL / hop limit 255 (RFC 5881 §5)."""
    family = family_of(peer)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, SINGLE_HOP_TTL)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, SINGLE_HOP_TTL)
        host = local or ("::" if family == socket.AF_INET6 else "0.0.0.0")
        for _ in range(64):
            port = rng.randrange(SOURCE_PORTS.start, SOURCE_PORTS.stop)
            try:
                sock.bind((host, port))
                break
            except OSError as exc:
                if exc.errno != 98:  # EADDRINUSE: try another port
                    raise
        else:
            raise OSError(98, "no free source port in 49152-65535")
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def send(sock: socket.socket, data: bytes, peer: str, port: int) -> None:
    """Send, never raising: a lost BFD packet is what BFD is made to notice."""
    with contextlib.suppress(OSError):
        sock.sendto(data, (peer, port))
