"""TCP-AO (RFC 5925) on Linux sockets (6.7 and later, built with CONFIG_TCP_AO): a peer's
Master Key Tuples on the outgoing socket before its SYN, on the listening sockets for
its incoming connections, on each accepted socket (which key is current), and key
rollover on an established connection without closing it (RFC 5925 §3.3, §7.5.2).

Linux keeps MKTs per socket, set with ``setsockopt`` (linux/tcp.h; all structs 8-octet
aligned, the bit fields of the first 32-bit word from the least significant bit):

    struct tcp_ao_add {  TCP_AO_ADD_KEY, 288 octets
        sockaddr_storage addr (128); char alg_name[64]; s32 ifindex;
        u32 set_current:1, set_rnext:1; u16 reserved2;
        u8 prefix, sndid, rcvid, maclen, keyflags, keylen; u8 key[80] }
    struct tcp_ao_del {  TCP_AO_DEL_KEY, 144 octets
        sockaddr_storage addr (128); s32 ifindex;
        u32 set_current:1, set_rnext:1, del_async:1; u16 reserved2;
        u8 prefix, sndid, rcvid, current_key, rnext, keyflags }
    struct tcp_ao_info_opt {  TCP_AO_INFO (set and get), 48 octets
        u32 set_current:1, set_rnext:1, ao_required:1, set_counters:1, accept_icmps:1;
        u16 reserved2; u8 current_key, rnext;
        u64 pkt_good, pkt_bad, pkt_key_not_found, pkt_ao_required, pkt_dropped_icmp }

What Linux does with them: a segment from a peer that has a key on the socket is
dropped unless its MAC checks (RFC 5925 §7.3; an unsigned one counts as
``pkt_ao_required``); a listening socket has no current key, an accepted one starts
with the key the peer's SYN used; the current key (and RNext) cannot be deleted; a
socket cannot carry an MD5 and an AO key for the same peer (EKEYREJECTED); without
CONFIG_TCP_AO every one of these options fails with ENOPROTOOPT.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from collections.abc import Iterable

from gracebgp.core.events import AoKey
from gracebgp.runtime.sockaddr import sockaddr

TCP_AO_ADD_KEY, TCP_AO_DEL_KEY, TCP_AO_INFO = 38, 39, 40  # linux/tcp.h
TCP_AO_MAXKEYLEN = 80
_ADD = struct.Struct("=128s64siIHBBBBBB80s")
_DEL = struct.Struct("=128siIHBBBBBB")
_INFO = struct.Struct("=IHBB5Q")
_SET_CURRENT, _SET_RNEXT = 0x1, 0x2  # the first bits of each struct's flag word

NO_AO = ("this kernel has no TCP-AO (it needs Linux 6.7 or later built with CONFIG_TCP_AO); "
         "the session stays down rather than run without the authentication it is configured with")


def _prefix(family: int, address: str) -> int:
    """One host: /32, or /128 (Linux refuses prefix 0 for a specific address)."""
    v4 = ipaddress.ip_address(address).version == 4 and family == socket.AF_INET
    return 32 if v4 else 128


def add_key(family: int, address: str, key: AoKey, *, current: bool = False) -> bytes:
    """``struct tcp_ao_add`` for ``key`` with ``address``; ``current``: sign with it now
    and ask the peer for its RecvID in RNextKeyID (not on a listening socket)."""
    secret = key.key.encode()
    if len(secret) > TCP_AO_MAXKEYLEN:
        raise ValueError(f"a TCP-AO key has at most {TCP_AO_MAXKEYLEN} octets, not {len(secret)}")
    flags = _SET_CURRENT | _SET_RNEXT if current else 0
    return _ADD.pack(sockaddr(family, address), key.algorithm.encode(), 0, flags, 0,
                     _prefix(family, address), key.send_id, key.recv_id, key.mac_len, 0, len(secret),
                     secret)


def del_key(family: int, address: str, key: AoKey) -> bytes:
    """``struct tcp_ao_del`` for the MKT of ``address`` with ``key``'s KeyIDs."""
    return _DEL.pack(sockaddr(family, address), 0, 0, 0, _prefix(family, address), key.send_id,
                     key.recv_id, 0, 0, 0)


def info_current(key: AoKey) -> bytes:
    """``struct tcp_ao_info_opt`` that makes ``key`` current and requests its RecvID."""
    return _INFO.pack(_SET_CURRENT | _SET_RNEXT, 0, key.send_id, key.recv_id, 0, 0, 0, 0, 0)


def read_info(sock: socket.socket) -> dict[str, int]:
    """The socket's TCP-AO state as the kernel has it: current key and RNext (KeyIDs),
    and the segment counters."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, TCP_AO_INFO, _INFO.size)
    _flags, _r, current, rnext, good, bad, not_found, required, icmp = _INFO.unpack(raw)
    return {"current_key": current, "rnext": rnext, "pkt_good": good, "pkt_bad": bad,
            "pkt_key_not_found": not_found, "pkt_ao_required": required, "pkt_dropped_icmp": icmp}


def _setsockopt(sock: socket.socket, option: int, value: bytes) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, option, value)
    except OSError as exc:
        if exc.errno == errno.ENOPROTOOPT:
            raise OSError(exc.errno, NO_AO) from None
        raise


def current_of(keys: tuple[AoKey, ...], current: int | None) -> AoKey | None:
    """The key whose SendID is ``current`` (None: the first)."""
    return next((k for k in keys if current is None or k.send_id == current), None)


def set_outgoing(sock: socket.socket, address: str, keys: tuple[AoKey, ...], current: int | None) -> None:
    """Every key on our not yet connected socket, ``current`` (SendID) the one the SYN is
    signed with (RFC 5925 §7.5.1: the SYN carries the current key's KeyID)."""
    chosen = current_of(keys, current)
    for key in keys:
        _setsockopt(sock, TCP_AO_ADD_KEY, add_key(sock.family, address, key, current=key is chosen))


def set_listener(sock: socket.socket, address: str, old: Iterable[AoKey], new: tuple[AoKey, ...]) -> None:
    """Replace ``address``'s keys on a listening socket: those no longer wanted go first
    (a key with the same KeyIDs cannot be added twice), then the new ones."""
    old = tuple(old)
    for key in old:
        if key not in new:
            _delete(sock, address, key)
    for key in new:
        if key not in old:
            _setsockopt(sock, TCP_AO_ADD_KEY, add_key(sock.family, address, key))


def _delete(sock: socket.socket, address: str, key: AoKey) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_AO_DEL_KEY, del_key(sock.family, address, key))
    except OSError as exc:  # ENOENT: not there; ENOPROTOOPT: no TCP-AO, nothing can be there
        if exc.errno not in (errno.ENOENT, errno.ENOPROTOOPT):
            raise


def make_current(sock: socket.socket, keys: tuple[AoKey, ...], current: int | None) -> None:
    """An accepted socket starts with the key the peer's SYN used: make ours current."""
    chosen = current_of(keys, current)
    if chosen is not None:
        _setsockopt(sock, TCP_AO_INFO, info_current(chosen))


def roll_over(sock: socket.socket, address: str, old: tuple[AoKey, ...], new: tuple[AoKey, ...],
              current: int | None) -> None:
    """Key rollover on an established connection (RFC 5925 §3.3): add the new keys, make
    ``current`` the one we sign with and request (RNextKeyID), then delete the keys no
    longer configured (Linux refuses to delete the current or RNext key, so this order)."""
    for key in new:
        if key not in old:
            _setsockopt(sock, TCP_AO_ADD_KEY, add_key(sock.family, address, key))
    make_current(sock, new, current)
    for key in old:
        if key not in new:
            _delete(sock, address, key)


def supported() -> str:
    """"" when this kernel takes TCP-AO keys, else why not (one line)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        probe = AoKey(1, 1, "hmac(sha1)", 12, "probe")
        try:
            _setsockopt(sock, TCP_AO_ADD_KEY, add_key(socket.AF_INET, "127.0.0.1", probe))
        except OSError as exc:
            return str(exc.strerror or exc)
    return ""
