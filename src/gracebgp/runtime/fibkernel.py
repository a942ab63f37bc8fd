"""The kernel edge of the FIB: rtnetlink requests in batches, the start-up dump, and the
monitor of link, address and route changes.

Writes are encoded here (``encode``: one ``struct.pack`` per message, a few microseconds a
route) and sent many per ``send``: RTM_NEWROUTE with NLM_F_CREATE|NLM_F_EXCL for an add (a
prefix another protocol holds at our metric fails with EEXIST instead of being taken),
NLM_F_CREATE|NLM_F_REPLACE for a change (never delete + add: no gap), RTM_DELROUTE with our
protocol number for a delete (the kernel then never removes another protocol's route).
Only the last message of a batch asks for an acknowledgement: the kernel handles a send's
messages in order inside the send, reports a failed one by its sequence number, and the
acknowledgement of the last tells that every other one succeeded.

Dumps (what is in the kernel at start-up, after link or address changes and when one of
our routes was deleted) are decoded here with ``struct``. The monitor reads RTMGRP_LINK,
the IPv4/IPv6 address and route groups on a socket of its own; RTM_NEWROUTE of our own
protocol (the echo of our writes, up to a whole table) is dropped by a socket filter
before it reaches the process; RTM_DELROUTE of ours passes (someone else may have
deleted our route: the caller checks with a dump).

Netlink layouts (include/uapi/linux/netlink.h, rtnetlink.h)::

    nlmsghdr: u32 len | u16 type | u16 flags | u32 seq | u32 pid
    rtmsg:    u8 family | u8 dst_len | u8 src_len | u8 tos | u8 table | u8 protocol |
              u8 scope | u8 type | u32 flags
    rtattr:   u16 len | u16 type | value, padded to 4 octets
    rtnexthop (in RTA_MULTIPATH): u16 len | u8 flags | u8 hops | s32 ifindex | rtattrs
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import ipaddress
import socket
import struct
import sys
from collections.abc import Callable, Iterable, Iterator
from enum import IntEnum, IntFlag
from pathlib import Path
from typing import Any

from pyroute2.netlink.rtnl.marshal import MarshalRtnl  # type: ignore[import-untyped]

from gracebgp.fib.model import Entry, Hop, KernelRoute, Op, OpKind, entry
from gracebgp.fib.resolve import ON_LINK
from gracebgp.types import AFI, IPV4_UNICAST, IPV6_UNICAST, Family
from gracebgp.wire.nlri import key_parts, make_key

#: Our routes' protocol number (rtm_protocol) unless configured. Not one of the kernel's
#: (include/uapi/linux/rtnetlink.h: 0-18, 42 babel, 99 openr, 186-192), iproute2's
#: rt_protos, FRR's (186-197; 196 is its staticd), BIRD's (12) or Calico's (80): another
#: routing daemon's routes of our number would be adopted and deleted as ours. ``ip route``
#: shows "proto 201"; a line "201 gracebgp" in /etc/iproute2/rt_protos.d/gracebgp.conf
#: makes it "proto gracebgp".
DEFAULT_PROTOCOL = 201
RT_PROTOS = ("/etc/iproute2/rt_protos", "/usr/share/iproute2/rt_protos")
RT_PROTOS_DIRS = ("/etc/iproute2/rt_protos.d", "/usr/share/iproute2/rt_protos.d")
MAIN_TABLE = 254
DEFAULT_METRIC = 20
#: Messages per send: about 64 octets each, well inside the socket's buffer.
BATCH = 512


class MsgType(IntEnum):
    NLMSG_ERROR = 2
    NLMSG_DONE = 3
    RTM_NEWLINK = 16
    RTM_DELLINK = 17
    RTM_NEWADDR = 20
    RTM_DELADDR = 21
    RTM_NEWROUTE = 24
    RTM_DELROUTE = 25


class MsgFlag(IntFlag):
    REQUEST = 0x1
    ACK = 0x4
    REPLACE = 0x100
    EXCL = 0x200
    CREATE = 0x400


class Rta(IntEnum):
    DST = 1
    OIF = 4
    GATEWAY = 5
    PRIORITY = 6
    MULTIPATH = 9
    TABLE = 15


class Group(IntFlag):
    LINK = 0x1
    IPV4_IFADDR = 0x10
    IPV4_ROUTE = 0x40
    IPV6_IFADDR = 0x100
    IPV6_ROUTE = 0x400


RTN_UNICAST = 1
RT_SCOPE_UNIVERSE = 0
RT_TABLE_COMPAT = 252  # rtm_table when the table id does not fit in the octet (RTA_TABLE has it)
_HDR = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTA = struct.Struct("=HH")
_NH = struct.Struct("=HBBi")
_ERR = struct.Struct("=i")
_AF = {AFI.IPV4: socket.AF_INET, AFI.IPV6: socket.AF_INET6}
_WIDTH = {AFI.IPV4: 32, AFI.IPV6: 128}
_FAMILY_OF = {socket.AF_INET: IPV4_UNICAST, socket.AF_INET6: IPV6_UNICAST}


def protocol_names(protocol: int, files: Iterable[str] = RT_PROTOS,
                   dirs: Iterable[str] = RT_PROTOS_DIRS) -> set[str]:
    """The names iproute2's rt_protos files (and their ``.d/*.conf``) give ``protocol``:
    another name than ours means another daemon uses the number."""
    paths = [Path(f) for f in files]
    for d in dirs:
        with contextlib.suppress(OSError):
            paths += sorted(Path(d).glob("*.conf"))
    names = set()
    for path in paths:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2 and fields[0].isdigit() and int(fields[0]) == protocol:
                names.add(fields[1])
    return names


def _attr(kind: int, value: bytes) -> bytes:
    n = 4 + len(value)
    return _RTA.pack(n, kind) + value + b"\0" * (-n & 3)


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack("=I", value))


#: (kind, flags) per operation, the flags as plain ints (IntFlag arithmetic is slow per route).
_REQUEST = {
    OpKind.ADD: (int(MsgType.RTM_NEWROUTE), int(MsgFlag.REQUEST | MsgFlag.CREATE | MsgFlag.EXCL)),
    OpKind.REPLACE: (int(MsgType.RTM_NEWROUTE), int(MsgFlag.REQUEST | MsgFlag.CREATE | MsgFlag.REPLACE)),
    OpKind.DELETE: (int(MsgType.RTM_DELROUTE), int(MsgFlag.REQUEST)),
}
_ACK = int(MsgFlag.ACK)


@functools.lru_cache(maxsize=64)
def _head(afi: int, table: int, protocol: int, metric: int) -> tuple[bytes, ...]:
    """Per prefix length: the rtmsg and the attributes every request of ours has (table,
    metric): computed once per setting."""
    common = _u32(Rta.TABLE, table) + _u32(Rta.PRIORITY, metric)
    rtm_table = table if table < 256 else RT_TABLE_COMPAT
    return tuple(_RTMSG.pack(_AF[afi], length, 0, 0, rtm_table, protocol, RT_SCOPE_UNIVERSE,  # type: ignore[index]
                             RTN_UNICAST, 0) + common for length in range(_WIDTH[afi] + 1))  # type: ignore[index]


def encode(op: Op, seq: int, table: int, protocol: int, metric: int, ack: bool) -> bytes:
    """One request for ``op`` (see the module's docstring for the flags)."""
    afi = op.family.afi
    width = _WIDTH[afi]  # type: ignore[index]
    address, length = key_parts(op.key, width)
    body = _head(afi, table, protocol, metric)[length]
    if length:
        body += _attr(Rta.DST, address.to_bytes(width // 8, "big"))
    kind, flags = _REQUEST[op.kind]
    if ack:
        flags |= _ACK
    if op.kind != OpKind.DELETE:
        body += _hops(op.hops)
    return _HDR.pack(_HDR.size + len(body), kind, flags, seq, 0) + body


@functools.lru_cache(maxsize=4096)
def _gateway(gateway: str) -> bytes:
    return ipaddress.ip_address(gateway).packed


@functools.lru_cache(maxsize=65536)
def _hops(hops: Entry) -> bytes:
    """RTA_GATEWAY (+ RTA_OIF) for one next hop, RTA_MULTIPATH for several (ECMP); a few
    distinct entries serve a whole table, so each is encoded once."""
    if len(hops) == 1:
        hop = hops[0]
        out = _attr(Rta.GATEWAY, _gateway(hop.gateway))
        return out + _u32(Rta.OIF, hop.ifindex) if hop.ifindex else out
    parts = []
    for hop in hops:
        gw = _attr(Rta.GATEWAY, _gateway(hop.gateway))
        parts.append(_NH.pack(_NH.size + len(gw), 0, 0, hop.ifindex) + gw)
    return _attr(Rta.MULTIPATH, b"".join(parts))


def _rtnl_socket() -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)


def _messages(data: bytes) -> Iterator[tuple[int, int, int, memoryview]]:
    """(type, flags, seq, body) of each message of one netlink read."""
    view = memoryview(data)
    pos = 0
    while pos + _HDR.size <= len(view):
        length, kind, flags, seq, _ = _HDR.unpack_from(view, pos)
        if length < _HDR.size:
            break
        yield kind, flags, seq, view[pos + _HDR.size:pos + length]
        pos += (length + 3) & ~3


class KernelFib:
    """One rtnetlink socket for our writes; ``apply`` carries operations out and returns
    each one's errno (0: done). Errors are results, never exceptions."""

    def __init__(self, table: int = MAIN_TABLE, protocol: int = DEFAULT_PROTOCOL,
                 metric: int = DEFAULT_METRIC) -> None:
        self.table, self.protocol, self.metric = table, protocol, metric
        self.sock = _rtnl_socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))
        self.sock.settimeout(5.0)
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def apply(self, ops: list[Op]) -> list[tuple[Op, int]]:
        """Carry out ``ops`` in batches of ``BATCH``; (op, errno) for each, in order."""
        out: list[tuple[Op, int]] = []
        for start in range(0, len(ops), BATCH):
            out += self._batch(ops[start:start + BATCH])
        return out

    def _batch(self, ops: list[Op]) -> list[tuple[Op, int]]:
        first = self._seq + 1
        last = first + len(ops) - 1
        self._seq = last
        data = b"".join(encode(op, first + i, self.table, self.protocol, self.metric, ack=i == len(ops) - 1)
                        for i, op in enumerate(ops))
        failed: dict[int, int] = {}
        try:
            self.sock.sendall(data)
            done = False
            while not done:
                for kind, _flags, seq, body in _messages(self.sock.recv(1 << 16)):
                    if kind != MsgType.NLMSG_ERROR or not first <= seq <= last:
                        continue
                    code = -_ERR.unpack_from(body)[0]
                    if code:
                        failed[seq] = code
                    if seq == last:
                        done = True
        except OSError as exc:  # the socket itself failed: every op of the batch not known to succeed
            code = exc.errno or errno.EIO
            return [(op, failed.get(first + i, code)) for i, op in enumerate(ops)]
        return [(op, failed.get(first + i, 0)) for i, op in enumerate(ops)]


def _entry_of(msg: Any) -> Entry:
    """The next hops of a pyroute2 route message; a route without gateway is on-link."""
    multipath = msg.get_attr("RTA_MULTIPATH")
    if multipath:
        return entry([Hop(nh.get_attr("RTA_GATEWAY") or ON_LINK, nh["oif"]) for nh in multipath])
    oif = msg.get_attr("RTA_OIF") or 0
    return (Hop(msg.get_attr("RTA_GATEWAY") or ON_LINK, oif),)


def route_of(msg: Any) -> tuple[KernelRoute, int, int, int] | None:
    """(route, table, type, metric) of a pyroute2 route message of one of our families."""
    family = _FAMILY_OF.get(msg["family"])
    if family is None:
        return None
    width = _WIDTH[family.afi]  # type: ignore[index]
    dst = msg.get_attr("RTA_DST")
    address = int(ipaddress.ip_address(dst)) if dst else 0
    length = msg["dst_len"]
    metric = msg.get_attr("RTA_PRIORITY") or 0
    table = msg.get_attr("RTA_TABLE") or msg["table"]
    key = make_key(address, length, width)
    return KernelRoute(family, key, _entry_of(msg), msg["proto"], metric), table, msg["type"], metric


def _attrs(view: memoryview, pos: int, end: int) -> Iterator[tuple[int, memoryview]]:
    """(type, value) of each rtattr in ``view[pos:end]``."""
    while pos + _RTA.size <= end:
        length, kind = _RTA.unpack_from(view, pos)
        if length < _RTA.size:
            return
        yield kind & 0x3FFF, view[pos + _RTA.size:pos + length]
        pos += (length + 3) & ~3


def _ip(value: memoryview) -> str:
    return str(ipaddress.ip_address(bytes(value)))


def parse_route(body: memoryview) -> tuple[KernelRoute, int, int, int] | None:
    """(route, table, type, metric) of one RTM_NEWROUTE body (rtmsg + rtattrs), by the
    layouts in the module's docstring; None for another family, a source-specific route
    or a malformed message (a dump never fails on one route)."""
    try:
        return _parse_route(body)
    except (struct.error, ValueError):
        return None


def _parse_route(body: memoryview) -> tuple[KernelRoute, int, int, int] | None:
    if len(body) < _RTMSG.size:
        return None
    afi, dst_len, src_len, _tos, table, protocol, _scope, kind, _flags = _RTMSG.unpack_from(body)
    family = _FAMILY_OF.get(afi)
    if family is None or src_len:
        return None
    address = metric = oif = 0
    gateway = ""
    hops: list[Hop] = []
    for attr, value in _attrs(body, _RTMSG.size, len(body)):
        if attr == Rta.DST:
            address = int.from_bytes(value, "big")
        elif attr == Rta.TABLE:
            table = struct.unpack_from("=I", value)[0]
        elif attr == Rta.PRIORITY:
            metric = struct.unpack_from("=I", value)[0]
        elif attr == Rta.OIF:
            oif = struct.unpack_from("=i", value)[0]
        elif attr == Rta.GATEWAY:
            gateway = _ip(value)
        elif attr == Rta.MULTIPATH:
            pos = 0
            while pos + _NH.size <= len(value):
                length, _f, _h, ifindex = _NH.unpack_from(value, pos)
                if length < _NH.size:
                    break
                gws = [_ip(v) for a, v in _attrs(value, pos + _NH.size, pos + length) if a == Rta.GATEWAY]
                gw = gws[0] if gws else ON_LINK
                hops.append(Hop(gw, ifindex))
                pos += (length + 3) & ~3
    width = _WIDTH[family.afi]  # type: ignore[index]
    hop_entry = entry(hops) if hops else (Hop(gateway or ON_LINK, oif),)
    route = KernelRoute(family, make_key(address, dst_len, width), hop_entry, protocol, metric)
    return route, table, kind, metric


RTM_GETROUTE = 26
NLM_F_DUMP = 0x300


def dump(families: Iterable[Family]) -> list[tuple[KernelRoute, int, int, int]]:
    """Every route of ``families`` in every table, as ``parse_route`` gives them: one
    RTM_GETROUTE dump per family on a socket of its own, decoded here (no event loop of
    its own: the daemon runs it in a thread with ``run_in_executor`` and awaits it)."""
    out = []
    with _rtnl_socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.settimeout(30.0)
        sock.bind((0, 0))
        for seq, family in enumerate(families, 1):
            body = _RTMSG.pack(_AF[family.afi], 0, 0, 0, 0, 0, 0, 0, 0)  # type: ignore[index]
            sock.sendall(_HDR.pack(_HDR.size + len(body), RTM_GETROUTE, int(MsgFlag.REQUEST) | NLM_F_DUMP,
                                   seq, 0) + body)
            done = False
            while not done:
                for kind, _flags, got, msg in _messages(sock.recv(1 << 20)):
                    if got != seq:
                        continue
                    if kind == MsgType.NLMSG_DONE:
                        done = True
                    elif kind == MsgType.NLMSG_ERROR:
                        code = -_ERR.unpack_from(msg)[0]
                        raise OSError(code, f"route dump: {errno.errorcode.get(code, code)}")
                    elif kind == MsgType.RTM_NEWROUTE:
                        r = parse_route(msg)
                        if r is not None:
                            out.append(r)
    return out


SO_ATTACH_FILTER = 26  # include/uapi/asm-generic/socket.h
_BPF = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k
_LD_H_ABS, _LD_B_ABS, _JEQ_K, _RET_K = 0x28, 0x30, 0x15, 0x06


def _host16(value: int) -> int:
    """A 16-bit header field as a classic BPF half-word load sees it (network order)."""
    return int.from_bytes(value.to_bytes(2, sys.byteorder), "big")


def own_echo_filter(protocol: int) -> list[tuple[int, int, int, int]]:
    """A classic BPF program for the monitor's socket that drops RTM_NEWROUTE
    notifications of our own ``protocol`` in the kernel (one message per notification):
    the echo of a whole table of our writes never reaches the process (nor overflows its
    buffer). RTM_DELROUTE of ours passes: it may be someone else's ``ip route del`` or the
    kernel's flush. nlmsg_type is at offset 4 (host order), rtm_protocol at 16 + 5."""
    return [
        (_LD_H_ABS, 0, 0, 4),
        (_JEQ_K, 1, 0, _host16(MsgType.RTM_NEWROUTE)),
        (_RET_K, 0, 0, 0xFFFFFFFF),
        (_LD_B_ABS, 0, 0, _HDR.size + 5),
        (_JEQ_K, 0, 1, protocol),
        (_RET_K, 0, 0, 0),
        (_RET_K, 0, 0, 0xFFFFFFFF),
    ]


def _attach(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> ctypes.Array[ctypes.c_char]:
    """SO_ATTACH_FILTER with ``program``; returns the buffer (kept alive by the caller)."""
    buf = ctypes.create_string_buffer(b"".join(_BPF.pack(*insn) for insn in program))
    fprog = struct.pack("HL", len(program), ctypes.addressof(buf))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    return buf


class Monitor:
    """The kernel's link, address and route notifications. ``on_change(route_or_None)``:
    a route message of another protocol (parsed), or None for a link or address change
    (the caller dumps again). A deletion of one of our protocol's routes goes to
    ``on_own_gone`` as ``parse_route`` gives it (our own deletes' echo, or someone else's:
    the caller tells them apart), or as None to ``on_change`` without it. Our protocol's
    new routes are dropped in the kernel (``own_echo_filter``) or, should one pass,
    skipped unparsed."""

    def __init__(self, protocol: int, on_change: Callable[[Any | None], None],
                 on_own_gone: Callable[[tuple[KernelRoute, int, int, int]], None] | None = None) -> None:
        self.protocol = protocol
        self.on_change = on_change
        self.on_own_gone = on_own_gone
        self._marshal = MarshalRtnl()
        self.sock = _rtnl_socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        groups = Group.LINK | Group.IPV4_IFADDR | Group.IPV4_ROUTE | Group.IPV6_IFADDR | Group.IPV6_ROUTE
        self.sock.bind((0, int(groups)))
        self._filter = _attach(self.sock, own_echo_filter(protocol))
        self.sock.setblocking(False)
        self.overruns = 0  # ENOBUFS: notifications lost, a full dump follows
        self.own_seen = 0  # our own new-route notifications that passed the filter (skipped here)
        self.own_deleted = 0  # deletions of our protocol's routes seen (ours or someone else's)

    def close(self) -> None:
        self.sock.close()

    def readable(self) -> None:
        """Read what is queued (the event loop's reader callback)."""
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.overruns += 1
                    self.on_change(None)
                    continue
                return
            for kind, _flags, _seq, body in _messages(data):
                if kind in (MsgType.RTM_NEWROUTE, MsgType.RTM_DELROUTE):
                    if len(body) >= _RTMSG.size and body[5] == self.protocol:
                        if kind == MsgType.RTM_DELROUTE:
                            self.own_deleted += 1
                            if self.on_own_gone is None:
                                self.on_change(None)
                            else:
                                route = parse_route(body)
                                if route is not None:
                                    self.on_own_gone(route)
                        else:
                            self.own_seen += 1
                        continue
                    offset = _HDR.size + len(body)
                    raw = struct.pack("=IHHII", offset, kind, 0, 0, 0) + bytes(body)
                    for msg in self._marshal.parse(raw):
                        self.on_change(msg)
                elif kind in (MsgType.RTM_NEWLINK, MsgType.RTM_DELLINK, MsgType.RTM_NEWADDR,
                              MsgType.RTM_DELADDR):
                    self.on_change(None)
