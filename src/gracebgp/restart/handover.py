"""The session hand-over's state file (issue 19): what a running gracebgpd passes to the
process that takes its Established sessions over, in a versioned, checksummed binary
container. Pure: bytes in, records out (the runtime reads and writes the file, and
passes the sockets: ``runtime.handover``).

Layout (all integers big-endian)::

    +---------------------------+------------+-------------+-----------------+
    | MAGIC "GRACEBGP-HANDOVER" | version u16| CRC-32 u32  | body length u64 |
    +---------------------------+------------+-------------+-----------------+
    | body: sections, each  name length u8 | name | data length u64 | data     |
    +--------------------------------------------------------------------------+

The CRC covers the body. Sections:

* ``meta``: JSON: the old process's PID and wall-clock time, and per session its scalar
  fields (peer, fd, outgoing, local address, when it was Established, End-of-RIBs seen);
* ``s<i>.our-open``, ``s<i>.their-open``: the two OPEN messages as sent (framed):
  the new process negotiates again from them, so every capability and timer decision
  is the one the session made (``session.negotiate.negotiate`` is a function of them);
* ``s<i>.unread``: octets read from the socket but not yet a complete message;
* ``s<i>.adj-in``: what the peer advertised to us, as UPDATE messages in the session's
  receive codec context (one per attribute set and as many prefixes as fit): the new
  process reads them like any UPDATE, before ``unread``;
* ``s<i>.adj-out``: what we advertised to it, per family and attribute set: the
  4-octet-AS attribute block, the next hops and the prefixes (``OutGroup``); the new
  process compares its own export with it and sends only the difference;
* version 2: ``h<i>.routes``, the routes of a peer we keep stale while it restarts (RFC
  4724 §4.2; UPDATEs, 4-octet AS), its scalar fields (who it was, the helper's phases,
  restart and LLGR deadlines) in ``meta``'s ``helpers`` (``HelperRecord``). Written only
  when there is such a peer; otherwise the state is version 1, which older code reads;
* any other name is an **extra section** (``HandoverState.extra``) for other parts of
  the daemon: carried unchanged, ignored by a reader that does not know it (only
  ``events``, the timeline, is written today: the kernel FIB's routes stay in the kernel
  and gracebgp-bfdd keeps running, neither needs one). A new *required* field is a new
  version.

A reader accepts the versions in ``READABLE`` (this one and the previous release's) and
refuses any other, a bad magic, a bad checksum or a malformed section with
``HandoverStateError``, never another exception.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

from gracebgp.errors import GraceBGPError
from gracebgp.types import Family, make_family
from gracebgp.wire.nlri import decode_prefixes, encode_prefixes, width_of

MAGIC = b"GRACEBGP-HANDOVER"
VERSION = 2  # the newest this code writes: 2 when the state has helper records, else 1
READABLE = frozenset({1, 2})  # the versions this code reads (add the previous one on each bump)
_HEAD = len(MAGIC) + 2 + 4 + 8


class HandoverStateError(GraceBGPError):
    """The state cannot be used: another version, damaged, or not a hand-over state."""


@dataclass(frozen=True, slots=True)
class OutGroup:
    """Prefixes of one family advertised with one attribute set: ``attrs`` is the set's
    block in 4-octet-AS form (``AttrSet.wire(True)``), ``next_hop`` the MP next hops
    (empty for IPv4 unicast, whose NEXT_HOP is in the block)."""

    family: Family
    attrs: bytes
    next_hop: tuple[str, ...]
    keys: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One Established session at its clean point."""

    peer: str  # the configured peer (address) it belongs to
    fd: int  # the socket's descriptor number in the new process
    outgoing: bool  # we opened it (RFC 4271 §6.8)
    local_address: str
    established: float  # wall-clock time it became Established (uptime goes on)
    our_open: bytes
    their_open: bytes
    unread: bytes = b""
    adj_in: bytes = b""
    adj_out: tuple[OutGroup, ...] = ()
    eor_received: tuple[Family, ...] = ()


@dataclass(frozen=True, slots=True)
class HelperRecord:
    """Version 2: a peer whose session is down while we keep its routes stale (RFC 4724
    §4.2, RFC 9494 §4.2): the routes (UPDATEs, 4-octet AS, no ADD-PATH), who the peer was
    on its last session, and the helper's phases and timers (wall-clock deadlines)."""

    peer: str
    asn: int
    router_id: str
    ibgp: bool
    routes: bytes
    phases: tuple[tuple[Family, str], ...]
    restart_deadline: float | None
    llgr_deadlines: tuple[tuple[Family, float], ...] = ()
    llgr_times: tuple[tuple[Family, int], ...] = ()
    restart_time: int = 0


@dataclass(frozen=True, slots=True)
class HandoverState:
    pid: int
    time: float
    sessions: tuple[SessionRecord, ...]
    extra: dict[str, bytes] = field(default_factory=dict)  # name -> data (FIB, BFD, ...)
    helpers: tuple[HelperRecord, ...] = ()
    #: The format version read (``decode``); ``encode`` writes the oldest that carries the
    #: state (``version_needed``).
    version: int = field(default=0, compare=False)


def version_needed(helpers: int) -> int:
    """The oldest version that carries a state with ``helpers`` helper records."""
    return 2 if helpers else 1


def _section(name: str, data: bytes) -> bytes:
    raw = name.encode()
    return bytes([len(raw)]) + raw + len(data).to_bytes(8, "big") + data


def _out_groups(groups: tuple[OutGroup, ...]) -> bytes:
    """Each group: AFI u16, SAFI u8, attribute block (u32 length), next hops (u8 count,
    each u8 length + text), prefixes (u32 length + NLRI encoding of the family)."""
    parts = []
    for g in groups:
        hops = b"".join(bytes([len(h)]) + h.encode() for h in g.next_hop)
        nlri = encode_prefixes(g.keys, width_of(g.family.afi), False)
        parts += [g.family.afi.to_bytes(2, "big"), bytes([g.family.safi]), len(g.attrs).to_bytes(4, "big"),
                  g.attrs, bytes([len(g.next_hop)]), hops, len(nlri).to_bytes(4, "big"), nlri]
    return b"".join(parts)


class _Reader:
    """Bounds-checked reads over one buffer; a short read is a damaged state."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise HandoverStateError(f"{self.what} is truncated at octet {self.pos}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


def _read_groups(data: bytes) -> tuple[OutGroup, ...]:
    r = _Reader(data, "an adj-out section")
    out = []
    while not r.done:
        family = make_family(r.int(2), r.int(1))
        attrs = r.take(r.int(4))
        hops = tuple(r.take(r.int(1)).decode("ascii") for _ in range(r.int(1)))
        nlri = r.take(r.int(4))
        out.append(OutGroup(family, attrs, hops, tuple(decode_prefixes(nlri, width_of(family.afi), False))))
    return tuple(out)


def _pairs(items: tuple[tuple[Family, Any], ...]) -> list[list[Any]]:
    return [[f.afi, f.safi, v] for f, v in items]


def encode(state: HandoverState) -> bytes:
    meta: dict[str, Any] = {"pid": state.pid, "time": state.time, "sessions": [
        {"peer": s.peer, "fd": s.fd, "outgoing": s.outgoing, "local_address": s.local_address,
         "established": s.established, "eor": [[f.afi, f.safi] for f in s.eor_received]}
        for s in state.sessions]}
    if state.helpers:
        meta["helpers"] = [{"peer": h.peer, "asn": h.asn, "router_id": h.router_id, "ibgp": h.ibgp,
                            "phases": _pairs(h.phases), "restart_deadline": h.restart_deadline,
                            "llgr_deadlines": _pairs(h.llgr_deadlines), "llgr_times": _pairs(h.llgr_times),
                            "restart_time": h.restart_time} for h in state.helpers]
    body = [_section("meta", json.dumps(meta).encode())]
    body += [_section(f"h{i}.routes", h.routes) for i, h in enumerate(state.helpers)]
    for i, s in enumerate(state.sessions):
        body += [_section(f"s{i}.our-open", s.our_open), _section(f"s{i}.their-open", s.their_open),
                 _section(f"s{i}.unread", s.unread), _section(f"s{i}.adj-in", s.adj_in),
                 _section(f"s{i}.adj-out", _out_groups(s.adj_out))]
    for name, data in state.extra.items():
        if name == "meta" or (name[:1] in ("s", "h") and "." in name):
            raise ValueError(f"extra section name {name!r} is reserved")
        body.append(_section(name, data))
    joined = b"".join(body)
    version = version_needed(len(state.helpers))
    return (MAGIC + version.to_bytes(2, "big") + zlib.crc32(joined).to_bytes(4, "big")
            + len(joined).to_bytes(8, "big") + joined)


def version_of(data: bytes) -> int:
    """The format version a state file says it has (HandoverStateError when it is none)."""
    if len(data) < _HEAD or not data.startswith(MAGIC):
        raise HandoverStateError("not a gracebgp hand-over state (bad magic)")
    return int.from_bytes(data[len(MAGIC):len(MAGIC) + 2], "big")


def check_version(version: int) -> str:
    """"" when this code reads state format ``version``, else why not (the pre-flight)."""
    if version in READABLE:
        return ""
    return (f"hand-over state format version {version} is not readable by this code (it reads "
            f"{', '.join(str(v) for v in sorted(READABLE))})")


def _meta_session(item: object) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise HandoverStateError("meta: a session is not an object")
    kinds = {"peer": str, "fd": int, "outgoing": bool, "local_address": str, "established": float,
             "eor": list}
    for key, kind in kinds.items():
        value = item.get(key)
        ok = (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
              if kind is float else isinstance(value, kind))
        if not ok or (kind is int and isinstance(value, bool)):
            raise HandoverStateError(f"meta: a session's {key!r} is {json.dumps(value)}")
    return item


def decode(data: bytes) -> HandoverState:
    version = version_of(data)
    why = check_version(version)
    if why:
        raise HandoverStateError(why)
    head = _Reader(data[len(MAGIC) + 2:_HEAD], "the header")
    crc, length = head.int(4), head.int(8)
    body = data[_HEAD:]
    if len(body) != length:
        raise HandoverStateError(f"the body is {len(body)} octets, the header says {length}")
    if zlib.crc32(body) != crc:
        raise HandoverStateError("checksum mismatch: the state is damaged")
    sections: dict[str, bytes] = {}
    r = _Reader(body, "the body")
    while not r.done:
        name = r.take(r.int(1)).decode("utf-8", "replace")
        if name in sections:
            raise HandoverStateError(f"section {name!r} appears twice")
        sections[name] = r.take(r.int(8))
    try:
        meta = json.loads(sections.pop("meta", b"").decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise HandoverStateError("the meta section is missing or not JSON") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("sessions"), list) \
            or not isinstance(meta.get("pid"), int) or not isinstance(meta.get("time"), int | float):
        raise HandoverStateError("the meta section lacks pid, time or sessions")
    sessions = []
    for i, item in enumerate(meta["sessions"]):
        m = _meta_session(item)
        try:
            parts = {p: sections.pop(f"s{i}.{p}") for p in ("our-open", "their-open", "unread", "adj-in",
                                                              "adj-out")}
            eor = tuple(make_family(int(a), int(s)) for a, s in m["eor"])
        except KeyError as exc:
            raise HandoverStateError(f"session {i} ({m['peer']}) lacks its section {exc}") from None
        except (TypeError, ValueError):
            raise HandoverStateError(f"session {i} ({m['peer']}): bad End-of-RIB list") from None
        try:
            groups = _read_groups(parts["adj-out"])
        except (ValueError, UnicodeDecodeError, GraceBGPError) as exc:
            raise HandoverStateError(f"session {i} ({m['peer']}): bad adj-out section: {exc}") from None
        sessions.append(SessionRecord(m["peer"], m["fd"], m["outgoing"], m["local_address"],
                                      float(m["established"]), parts["our-open"], parts["their-open"],
                                      parts["unread"], parts["adj-in"], groups, eor))
    helpers = _helpers(meta.get("helpers", []) if version >= 2 else [], sections)
    stray = [n for n in sections if n[:1] in ("s", "h") and "." in n]
    if stray:
        raise HandoverStateError(f"sections of no session: {', '.join(sorted(stray))}")
    return HandoverState(meta["pid"], float(meta["time"]), tuple(sessions), sections, helpers, version)


def _family_pairs(raw: object, kind: type | tuple[type, ...]) -> tuple[tuple[Family, Any], ...]:
    if not isinstance(raw, list):
        raise TypeError("not a list")
    out = []
    for item in raw:
        afi, safi, value = item
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TypeError(f"{value!r} is not {kind}")
        out.append((make_family(int(afi), int(safi)), value))
    return tuple(out)


def _helpers(raw: object, sections: dict[str, bytes]) -> tuple[HelperRecord, ...]:
    """Version 2's helper records, each with its ``h<i>.routes`` section."""
    if not isinstance(raw, list):
        raise HandoverStateError("meta: helpers is not a list")
    out = []
    for i, h in enumerate(raw):
        try:
            deadline = h["restart_deadline"]
            if deadline is not None and not isinstance(deadline, int | float):
                raise TypeError("restart_deadline")
            out.append(HelperRecord(
                str(h["peer"]), int(h["asn"]), str(h["router_id"]), bool(h["ibgp"]),
                sections.pop(f"h{i}.routes"), _family_pairs(h["phases"], str),
                None if deadline is None else float(deadline),
                tuple((f, float(v)) for f, v in _family_pairs(h["llgr_deadlines"], (int, float))),
                _family_pairs(h["llgr_times"], int), int(h["restart_time"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise HandoverStateError(f"helper record {i} is malformed ({exc})") from None
    return tuple(out)
