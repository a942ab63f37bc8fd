"""Socket options of BGP connections on Linux: the TCP MD5 signature key of a peer
(RFC 2385) or its TCP-AO keys (RFC 5925, ``runtime.tcpao``), the TTL rules (IP TTL /
IPv6 hop limit of what we send; GTSM's minimum, RFC 5082 §3: IP_MINTTL /
IPV6_MINHOPCOUNT) and GoBGP's transport keys (TCP_MAXSEG, IP_TOS / IPV6_TCLASS,
SO_BINDTODEVICE, IP_MTU_DISCOVER), set from ``events.SocketOptions`` on the outgoing
socket before its SYN, on each accepted socket at once, and on the listening sockets
for each peer's incoming connections.

RFC 2385 §2: every segment, the SYN included, carries a 16-octet MD5 digest of the
segment and the key; a segment whose digest is missing or wrong is dropped without an
answer (§3: a connection with mismatched keys looks like a silent peer). Linux keeps
keys per remote address on each socket (``TCP_MD5SIG``), and an accepted socket gets
its listener's key for that address.

    struct tcp_md5sig {                        (linux/tcp.h, 216 octets)
        struct sockaddr_storage tcpm_addr;     128: the peer (sockaddr_in / sockaddr_in6)
        __u8  tcpm_flags;                      TCP_MD5SIG_FLAG_PREFIX: tcpm_prefixlen is set
        __u8  tcpm_prefixlen;                  with TCP_MD5SIG_EXT: a key for a whole prefix
        __u16 tcpm_keylen;                     0 deletes the key for tcpm_addr
        __u32 tcpm_ifindex;
        __u8  tcpm_key[80];                    TCP_MD5SIG_MAXKEYLEN
    };
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import struct

from gracebgp.core.events import SocketOptions
from gracebgp.runtime import tcpao
from gracebgp.runtime.sockaddr import sockaddr

log = logging.getLogger("gracebgp.transport")

IP_MINTTL = 21  # linux/in.h: drop what arrives with a lower TTL (RFC 5082 GTSM)
IPV6_MINHOPCOUNT = 73  # linux/in6.h: the same for the IPv6 hop limit
IP_MTU_DISCOVER, IP_PMTUDISC_DONT, IP_PMTUDISC_DO = 10, 0, 2  # linux/in.h
IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DONT, IPV6_PMTUDISC_DO = 23, 0, 2  # linux/in6.h
TCP_MD5SIG = 14  # linux/tcp.h
TCP_SAVE_SYN = 27  # keep each SYN's network and TCP headers for the accepted socket
TCP_SAVED_SYN = 28  # read them (once) from the accepted socket
TCP_MD5SIG_EXT = 32  # with tcpm_flags / tcpm_prefixlen
TCP_MD5SIG_FLAG_PREFIX = 0x1
TCP_MD5SIG_MAXKEYLEN = 80


def md5sig(family: int, address: str, key: bytes, prefixlen: int | None = None) -> bytes:
    """``struct tcp_md5sig`` for ``address`` on a socket of ``family``; an empty ``key``
    deletes the key. ``prefixlen`` (set with ``TCP_MD5SIG_EXT``): one key for a prefix."""
    if len(key) > TCP_MD5SIG_MAXKEYLEN:
        raise ValueError(f"a TCP MD5 key has at most {TCP_MD5SIG_MAXKEYLEN} octets, not {len(key)}")
    flags = 0 if prefixlen is None else TCP_MD5SIG_FLAG_PREFIX
    return (sockaddr(family, address)
            + struct.pack("=BBHI", flags, prefixlen or 0, len(key), 0)
            + key.ljust(TCP_MD5SIG_MAXKEYLEN, b"\0"))


def set_md5(sock: socket.socket, address: str, password: str | None) -> None:
    """Sign and check every segment exchanged with ``address`` with ``password``;
    None removes its key (a key that is not there is no error). ``address`` may be a
    prefix (``10.0.0.0/24``, a dynamic-neighbors range): one key for every address in
    it, on a listener; Linux picks the longest matching key for each SYN, so a
    configured neighbor's own key inside the range wins."""
    key = password.encode() if password else b""
    try:
        if "/" in address:
            sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG_EXT, md5sig_prefix(sock.family, address, key))
        else:
            sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(sock.family, address, key))
    except FileNotFoundError:  # ENOENT: there was no key to remove
        if key:
            raise


def md5sig_prefix(family: int, prefix: str, key: bytes) -> bytes:
    """``struct tcp_md5sig`` for every address in ``prefix`` (TCP_MD5SIG_FLAG_PREFIX); an
    IPv4 prefix on an IPv6 socket is the IPv4-mapped prefix (``::ffff:0:0/96`` + length)."""
    net = ipaddress.ip_network(prefix, strict=False)
    mapped = net.version == 4 and family == socket.AF_INET6
    return md5sig(family, str(net.network_address), key, net.prefixlen + (96 if mapped else 0))


def accepts_family(sock: socket.socket, address: str) -> bool:
    """Can connections from ``address`` (or a prefix) arrive on this listening socket?"""
    v4 = (ipaddress.ip_network(address, strict=False) if "/" in address
          else ipaddress.ip_address(address)).version == 4
    if sock.family == socket.AF_INET:
        return v4
    return not v4 or not sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)


def set_ttl(sock: socket.socket, ttl: int | None) -> None:
    """The IP TTL (IPv6: unicast hop limit) of what we send; None leaves it as it is,
    -1 is the kernel's default."""
    if ttl is None:
        return
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        with contextlib.suppress(OSError):  # IPv4 peers of a dual-stack socket
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)


def set_min_ttl(sock: socket.socket, min_ttl: int | None) -> None:
    """GTSM (RFC 5082 §3): segments with a lower TTL (hop limit) are dropped before TCP
    sees them; None or 0 checks nothing."""
    value = min_ttl or 0
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MINHOPCOUNT, value)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, value)


def get_ttls(sock: socket.socket) -> tuple[int, int]:
    """(TTL, minimum TTL) as the kernel has them (IPv6: hop limit, minimum hop count)."""
    if sock.family == socket.AF_INET6:
        return (sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS),
                sock.getsockopt(socket.IPPROTO_IPV6, IPV6_MINHOPCOUNT))
    return sock.getsockopt(socket.IPPROTO_IP, socket.IP_TTL), sock.getsockopt(socket.IPPROTO_IP, IP_MINTTL)


def set_tos(sock: socket.socket, tos: int | None) -> None:
    """IPv4 TOS / IPv6 traffic class of what we send (DSCP and ECN bits)."""
    if tos is None:
        return
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)


def set_pmtu_discovery(sock: socket.socket, on: bool | None) -> None:
    """Path MTU discovery (RFC 1191, RFC 8201): on sets DF on every packet and sizes the
    segments from the path MTU (IP_PMTUDISC_DO); off lets routers fragment (_DONT)."""
    if on is None:
        return
    if sock.family == socket.AF_INET6:
        mode = IPV6_PMTUDISC_DO if on else IPV6_PMTUDISC_DONT
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, mode)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO if on else IP_PMTUDISC_DONT)


def read_back(sock: socket.socket) -> dict[str, object]:
    """The options as the kernel has them: TTL, minimum TTL, MSS, TOS, device, PMTU mode."""
    v6 = sock.family == socket.AF_INET6
    ttl, min_ttl = get_ttls(sock)
    device = sock.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).split(b"\0", 1)[0].decode()
    return {"ttl": ttl, "min_ttl": min_ttl, "tcp_mss": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG),
            "tos": sock.getsockopt(*((socket.IPPROTO_IPV6, socket.IPV6_TCLASS) if v6 else
                                      (socket.IPPROTO_IP, socket.IP_TOS))),
            "bind_interface": device,
            "pmtu": sock.getsockopt(*((socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER) if v6 else
                                       (socket.IPPROTO_IP, IP_MTU_DISCOVER)))}


def apply_outgoing(sock: socket.socket, address: str, options: SocketOptions) -> None:
    """Everything ``options`` asks of the socket of a connection to ``address``, set
    before its SYN (which the MD5 or AO key must sign, RFC 2385 §2, RFC 5925 §7.5.1, and
    which announces the MSS); ``local_port`` is the caller's (it binds)."""
    if options.md5_password is not None:
        set_md5(sock, address, options.md5_password)
    if options.ao_keys:
        tcpao.set_outgoing(sock, address, options.ao_keys, options.ao_current)
    _apply_common(sock, options)


def apply_accepted(sock: socket.socket, options: SocketOptions) -> None:
    """What ``options`` asks of an accepted connection's socket. Its MD5 key or AO keys
    are its listener's, copied by the kernel when the SYN was checked; the AO key the
    peer's SYN used is current until ours is made current here."""
    if options.ao_keys:
        tcpao.make_current(sock, options.ao_keys, options.ao_current)
    _apply_common(sock, options)


def _apply_common(sock: socket.socket, options: SocketOptions) -> None:
    """TTL, GTSM and GoBGP's transport keys, the same in both directions. Bound to a
    device, an established socket only matches segments that arrive on it."""
    set_ttl(sock, options.ttl)
    set_min_ttl(sock, options.min_ttl)
    if options.tcp_mss is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, options.tcp_mss)
    set_tos(sock, options.tos)
    if options.bind_interface is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, options.bind_interface.encode())
    set_pmtu_discovery(sock, options.pmtu_discovery)


def apply_listener(sock: socket.socket, address: str, options: SocketOptions | None,
                   old: SocketOptions | None = None) -> None:
    """The listening socket's part for connections from ``address``: its MD5 key or AO
    keys (set, replaced or, for None, removed; ``old``: what was set before). The key
    that goes away is removed before the other kind is added: Linux refuses an MD5 and
    an AO key for the same peer."""
    if not accepts_family(sock, address):
        return
    md5 = options.md5_password if options is not None else None
    if md5 is None:
        set_md5(sock, address, None)
    tcpao.set_listener(sock, address, old.ao_keys if old is not None else (),
                       options.ao_keys if options is not None else ())
    if md5 is not None:
        set_md5(sock, address, md5)


def listener_ttls(sock: socket.socket, peers: dict[str, SocketOptions]) -> tuple[int, int]:
    """(TTL, minimum TTL) for a listening socket shared by ``peers``: a socket option holds
    for every peer, so GTSM (RFC 5082) is checked on the listener only when every peer that
    can arrive on it asks for it (then the lowest ttl-min); otherwise each accepted
    connection of a GTSM peer is checked at accept (``syn_ttl``, then its own minimum).
    The SYN-ACK leaves with the listener's TTL: 255 when a GTSM peer may arrive (its
    kernel drops anything lower), else the default (-1)."""
    mine = [o for a, o in peers.items() if accepts_family(sock, a)]
    gtsm = [o.min_ttl for o in mine if o.min_ttl]
    min_ttl = min(gtsm) if gtsm and len(gtsm) == len(mine) else 0
    return (255 if gtsm else -1), min_ttl


def save_syns(sock: socket.socket, on: bool) -> None:
    """TCP_SAVE_SYN on a listener: each accepted socket keeps its SYN's headers."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_SAVE_SYN, 1 if on else 0)


def syn_ttl(sock: socket.socket) -> int | None:
    """The TTL (IPv6: hop limit) the SYN of this accepted connection arrived with, from
    its saved headers (RFC 791 §3.1: octet 8; RFC 8200 §3: octet 7); None when none was
    saved. GTSM on a listener shared with peers without it: the SYN is the one segment
    the accepted socket's own minimum TTL came too late for (what the peer sent right
    after the handshake is queued by then, and it is read only after this check)."""
    try:
        head = sock.getsockopt(socket.IPPROTO_TCP, TCP_SAVED_SYN, 512)
    except OSError:
        return None
    if len(head) >= 20 and head[0] >> 4 == 4:
        return head[8]
    if len(head) >= 40 and head[0] >> 4 == 6:
        return head[7]
    return None
