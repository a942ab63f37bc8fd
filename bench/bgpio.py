"""Route injector and collector for the routing benchmark (``bench/routing.py``).

Both are small asyncio BGP speakers written for measuring, not for routing:

* the **injector** connects to the device under test (DUT), exchanges OPEN (4-octet AS,
  multiprotocol IPv4 unicast, route refresh) and KEEPALIVE, waits for ``go`` on its
  standard input, then writes a file of pre-encoded UPDATEs in large message-aligned
  chunks, then the IPv4 End-of-RIB, and stays up (reading and discarding whatever the DUT
  sends) until its standard input closes or it gets SIGTERM/SIGINT. It reports the time of
  its first UPDATE write;
* the **collector** connects to the DUT the same way and counts the distinct IPv4 prefixes
  the DUT currently announces to it, without decoding attributes: it walks only the
  Withdrawn Routes and NLRI fields (a run of /17-/24 prefixes, i.e. every 4th octet in
  17..24, is taken as one ``struct.unpack``), and reports the time the count first reached
  ``--expect``.

Several ``--local`` addresses (and, for the injector, one ``--stream`` each) run one session
from each address in the same process (``bench/scale.py``: 100 injectors, 10 collectors);
"complete" then means every collector session holds ``--expect`` prefixes.

With ``--graceful-restart SECONDS`` both also offer Graceful Restart (RFC 4724, Restart
Time SECONDS, ipv4-unicast with F) and act as the DUT's helpers when it restarts: they
connect again (for up to SECONDS), the collector sends its End-of-RIB and keeps the
routes it had, counting those the DUT announces again, until the DUT's End-of-RIB
("eor" event: how many were announced again, how many stale ones purged, how many
withdrawals seen in all); the injector sends its whole stream and End-of-RIB again.

Each prints JSON lines on standard output (``{"event": ..., ...}``); times are both
``time.monotonic()`` (``mono``) and ``time.time()`` (``wall``), which are system-wide.

The UPDATE stream (``build_updates``): N IPv4 /24 prefixes from 11.0.0.0 upwards, a new
attribute set every 10 prefixes (ORIGIN IGP, AS_PATH of 2-4 ASNs: the injector's AS then
1-3 drawn from a pool of 20,000 paths, NEXT_HOP = the injector's address, MED from 100
values, two communities from 500), each set packed with ``gracebgp.wire.pack_ipv4``.

    python bench/bgpio.py build --prefixes 100000 --next-hop 10.253.0.2 --out /tmp/s.bin
    python bench/bgpio.py inject --dut 10.253.0.1 --local 10.253.0.2 --stream /tmp/s.bin
    python bench/bgpio.py collect --dut 10.253.0.1 --local 10.253.0.3 --expect 100000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gracebgp.types import IPV4_UNICAST
from gracebgp.wire import (
    KEEPALIVE,
    AsPath,
    AttrSet,
    Capability,
    CodecContext,
    Communities,
    FourOctetAs,
    GracefulRestart,
    MultiExitDisc,
    Multiprotocol,
    NextHop,
    Notification,
    Open,
    Origin,
    RouteRefreshCapability,
    end_of_rib,
    pack_ipv4,
)
from gracebgp.wire.nlri import make_key

INJECTOR_AS = 65100
COLLECTOR_AS = 65200
DUT_AS = 65000
PER_SET = 10
FIRST_PREFIX = 11 << 24  # 11.0.0.0: keeps clear of 10/8 (the lab) and 127/8 (loopback)
MAX_PREFIXES = ((127 << 24) - FIRST_PREFIX) >> 8  # /24s below 127.0.0.0: 7.6 million
CTX = CodecContext(as4=True, ibgp=False)
HEADER_LEN = 19
MARKER = b"\xff" * 16
MSG_OPEN, MSG_UPDATE, MSG_NOTIFICATION, MSG_KEEPALIVE = 1, 2, 3, 4
CHUNK = 1 << 20
_RESERVED_ASNS = {0, 23456, DUT_AS, INJECTOR_AS, COLLECTOR_AS}
EOR = end_of_rib(IPV4_UNICAST, CTX)


def emit(event: str, **fields: object) -> None:
    """One JSON line on stdout for the orchestrator."""
    fields["event"] = event
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def now() -> dict[str, float]:
    return {"mono": time.monotonic(), "wall": time.time()}


# --- the workload ---------------------------------------------------------------------------


def _asn(rng: random.Random) -> int:
    while True:
        a = rng.randrange(1, 4_200_000_000)
        if a not in _RESERVED_ASNS:
            return a


def build_updates(n: int, next_hop: str, first_as: int = INJECTOR_AS, seed: int = 7, start: int = 0) -> bytes:
    """``n`` /24 prefixes as pre-encoded UPDATE messages, one attribute set per 10 prefixes;
    ``start``: the index of the first /24 (several injectors send disjoint ranges)."""
    if n <= 0 or start < 0 or start + n > MAX_PREFIXES:
        raise ValueError(f"between 1 and {MAX_PREFIXES} prefixes in all")
    rng = random.Random(seed)
    paths = [tuple(_asn(rng) for _ in range(rng.randint(1, 3))) for _ in range(20_000)]
    # Communities from private ASNs 1..64511 so that none is well-known (NO_EXPORT would stop
    # the propagate scenario).
    comms = [rng.randrange(1, 64512) << 16 | rng.randrange(1 << 16) for _ in range(500)]
    seen: set[tuple[int, int, int, int]] = set()
    out: list[bytes] = []
    for s in range((n + PER_SET - 1) // PER_SET):
        while True:
            choice = (rng.randrange(len(paths)), rng.randrange(100), rng.randrange(500), rng.randrange(500))
            if choice not in seen and choice[2] != choice[3]:
                seen.add(choice)
                break
        p, med, c1, c2 = choice
        attrs = AttrSet([Origin(0), AsPath(((2, (first_as, *paths[p])),)), NextHop(next_hop),
                         MultiExitDisc(med * 10), Communities((comms[c1], comms[c2]))])
        lo = s * PER_SET
        keys = [make_key(FIRST_PREFIX + ((start + i) << 8), 24, 32) for i in range(lo, min(n, lo + PER_SET))]
        out.extend(pack_ipv4(attrs, keys, CTX))
    return b"".join(out)


def update_bodies(data: bytes) -> list[bytes]:
    """The bodies (after the 19-octet header) of the whole messages in ``data``."""
    bodies = []
    i = 0
    while i < len(data):
        n = int.from_bytes(data[i + 16:i + 18], "big")
        bodies.append(data[i + 19:i + n])
        i += n
    return bodies


def aligned_chunks(data: bytes, size: int = CHUNK) -> Iterator[memoryview]:
    """``data`` (whole BGP messages) in pieces of about ``size`` octets, cut between messages."""
    view = memoryview(data)
    start = i = 0
    n = len(data)
    while i < n:
        length = data[i + 16] << 8 | data[i + 17]
        if length < HEADER_LEN:
            raise ValueError(f"bad message length {length} at offset {i}")
        i += length
        if i - start >= size or i >= n:
            yield view[start:i]
            start = i
    if i != n:
        raise ValueError("the stream does not end on a message boundary")


# --- sessions -------------------------------------------------------------------------------


class SessionError(RuntimeError):
    """The DUT refused or closed the session."""


async def read_message(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(HEADER_LEN)
    if header[:16] != MARKER:
        raise SessionError("bad marker from the DUT")
    length = header[16] << 8 | header[17]
    if length < HEADER_LEN:
        raise SessionError(f"bad length {length} from the DUT")
    return header[18], await reader.readexactly(length - HEADER_LEN)


def _notification_text(body: bytes) -> str:
    try:
        return Notification.decode(body).describe()
    except Exception:
        return f"NOTIFICATION {body.hex()}"


async def connect(dut: str, port: int, local: str | None, timeout: float
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the DUT, retrying (bounded) while it is not listening yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(dut, port, local_addr=(local, 0) if local else None, limit=1 << 22),
                timeout=max(0.1, deadline - time.monotonic()))
        except (OSError, TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise SessionError(f"cannot connect to {dut}:{port} within {timeout:.0f}s: {exc}") from exc
            await asyncio.sleep(0.2)


async def open_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, asn: int,
                       router_id: str, hold_time: int, timeout: float, gr_time: int = 0,
                       peer: dict[str, Any] | None = None) -> int:
    """OPEN / KEEPALIVE exchange; returns the negotiated hold time.

    ``gr_time``: also offer Graceful Restart (RFC 4724 §3) with this Restart Time, no R bit
    (we never restart) and ipv4-unicast with F set. ``peer`` gets the DUT's GR capability
    (``gr``: its R and N bits, Restart Time and the F bit per family, or None)."""
    caps: tuple[Capability, ...] = (Multiprotocol(1, 1), RouteRefreshCapability(), FourOctetAs(asn))
    if gr_time:
        caps += (GracefulRestart(0, gr_time, ((1, 1, 0x80),)),)
    writer.write(Open.build(asn, hold_time, router_id, caps).encode())
    await writer.drain()
    peer_open: Open | None = None

    async def handshake() -> None:
        nonlocal peer_open
        while True:
            mtype, body = await read_message(reader)
            if mtype == MSG_OPEN:
                peer_open = Open.decode(body)
                if not any(isinstance(c, FourOctetAs) for c in peer_open.capabilities):
                    raise SessionError("the DUT did not offer 4-octet AS numbers")
                writer.write(KEEPALIVE.encode())
                await writer.drain()
            elif mtype == MSG_KEEPALIVE and peer_open is not None:
                return
            elif mtype == MSG_NOTIFICATION:
                raise SessionError(f"DUT sent {_notification_text(body)}")

    try:
        await asyncio.wait_for(handshake(), timeout)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise SessionError(f"DUT closed the session during the handshake: {exc}") from exc
    assert peer_open is not None
    if peer is not None:
        gr = next((c for c in peer_open.capabilities if isinstance(c, GracefulRestart)), None)
        peer["gr"] = None if gr is None else {
            "r": bool(gr.flags & 0x8), "n": bool(gr.flags & 0x4), "time": gr.restart_time,
            "f": {f"{afi}/{safi}": bool(flags & 0x80) for afi, safi, flags in gr.families}}
    return min(hold_time, peer_open.hold_time)


async def keepalives(writer: asyncio.StreamWriter, hold: int) -> None:
    """RFC 4271 §4.4: a KEEPALIVE every hold/3 s (only whole messages are ever written)."""
    while hold > 0:
        await asyncio.sleep(max(1.0, hold / 3))
        writer.write(KEEPALIVE.encode())


async def stop_requested() -> None:
    """Until stdin closes (or says ``stop``), SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    stdin_task = asyncio.ensure_future(_stdin_command(None))
    stop_task = asyncio.ensure_future(done.wait())
    await asyncio.wait({stdin_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    for t in (stdin_task, stop_task):
        t.cancel()


_stdin_reader: asyncio.StreamReader | None = None


async def _stdin_command(want: str | None) -> str:
    """Next line from stdin (``want``: wait for that line); "" at EOF."""
    global _stdin_reader  # noqa: PLW0603 - one stdin per process
    loop = asyncio.get_running_loop()
    if _stdin_reader is None:
        _stdin_reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(_stdin_reader), sys.stdin)
    while True:
        line = (await _stdin_reader.readline()).decode().strip()
        if not line or line == "stop" or want is None or line == want:
            return line


async def _discard(reader: asyncio.StreamReader, what: str, gr: bool = False) -> str:
    """Read and drop what the DUT sends; report a NOTIFICATION or a close (with ``gr``, the
    caller reports it: the session comes back) and return what ended the session."""
    try:
        while True:
            mtype, body = await read_message(reader)
            if mtype == MSG_NOTIFICATION:
                text = _notification_text(body)
                if not gr:
                    emit("notification", who=what, text=text, **now())
                return text
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        if not gr:
            emit("closed", who=what, error=str(exc), **now())
        return f"closed: {exc}"


async def _establish_again(what: str, attempt: Any, timeout: float) -> None:
    """RFC 4724 §4.2, the helper's side: connect again until ``attempt()`` succeeds or
    ``timeout`` s (the DUT's restart) have passed; a refused OPEN is retried too."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            await attempt(max(1.0, left))
            return
        except (SessionError, asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            if left <= 0:
                raise SessionError(f"{what}: no session with the DUT within {timeout:.0f}s: {exc}") from exc
            await asyncio.sleep(0.2)


# --- injector -------------------------------------------------------------------------------


class Injection:
    """One injector session: our address, our pre-encoded stream, and with graceful restart
    the sessions after the DUT restarts (each gets the whole stream and End-of-RIB again)."""

    def __init__(self, args: argparse.Namespace, local: str | None, data: bytes) -> None:
        self.args = args
        self.local = local
        self.router_id: str = args.router_id or local or "192.0.2.1"
        self.data = data
        self.chunks = list(aligned_chunks(data, args.chunk))
        self.hold = 0
        self.sessions = 0
        self.peer: dict[str, Any] = {}
        self.writer: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Future[Any]] = []

    async def establish(self, timeout: float) -> None:
        args = self.args
        reader, writer = await connect(args.dut, args.port, self.local, timeout)
        self.writer = writer
        _tune(writer)
        self.hold = await open_session(reader, writer, args.asn, self.router_id, args.hold_time, timeout,
                                       args.graceful_restart, self.peer)
        self.sessions += 1
        self.tasks = [asyncio.ensure_future(keepalives(writer, self.hold)),
                      asyncio.ensure_future(_discard(reader, "injector", bool(args.graceful_restart)))]

    async def send_table(self) -> None:
        assert self.writer is not None
        for chunk in self.chunks:
            self.writer.write(chunk)
            await self.writer.drain()
        self.writer.write(EOR)
        await self.writer.drain()

    async def follow(self) -> None:
        """Graceful restart helper: whenever the session ends, connect again and send the
        whole table and the End-of-RIB (the restarting DUT waits for it, RFC 4724 §4.1)."""
        while True:
            why = await self.tasks[1]
            emit("session_down", who="injector", local=self.local, session=self.sessions, why=why, **now())
            self.close()
            await _establish_again("injector", self.establish, self.args.graceful_restart)
            emit("reestablished", who="injector", local=self.local, session=self.sessions, peer=self.peer,
                 **now())
            await self.send_table()
            emit("resent", who="injector", local=self.local, session=self.sessions, **now())

    def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        if self.writer is not None:
            self.writer.close()


async def inject(args: argparse.Namespace) -> int:
    if len(args.stream) != len(args.local):
        raise SessionError(f"{len(args.local)} --local addresses but {len(args.stream)} --stream files")
    sessions = [Injection(args, local, Path(stream).read_bytes())
                for local, stream in zip(args.local, args.stream, strict=True)]
    octets = sum(len(s.data) for s in sessions)
    many = {"sessions": len(sessions)} if len(sessions) > 1 else {}
    followers: list[asyncio.Future[None]] = []
    try:
        await asyncio.gather(*(s.establish(args.connect_timeout) for s in sessions))
        emit("established", hold=min(s.hold for s in sessions), octets=octets,
             chunks=sum(len(s.chunks) for s in sessions), **many, **now())
        if args.wait_go and await _stdin_command("go") != "go":
            return 0
        first = now()
        await asyncio.gather(*(s.send_table() for s in sessions))
        emit("sent", first_update=first, octets=octets, **now())
        if args.graceful_restart:
            followers = [asyncio.ensure_future(s.follow()) for s in sessions]
        stopping = asyncio.ensure_future(stop_requested())
        await asyncio.wait({stopping, *followers}, return_when=asyncio.FIRST_COMPLETED)
        for f in followers:
            if f.done():
                f.result()  # re-raises why the session could not come back
        return 0
    except ConnectionError as exc:
        emit("closed", who="injector", error=str(exc), **now())
        return 1
    finally:
        for f in followers:
            f.cancel()
        for s in sessions:
            s.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(s.writer.wait_closed() for s in sessions
                                                    if s.writer is not None)), 2)


def _tune(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    assert isinstance(transport, asyncio.WriteTransport)
    transport.set_write_buffer_limits(high=4 * CHUNK)


# --- collector ------------------------------------------------------------------------------


class PrefixCounter:
    """The set of IPv4 prefixes currently announced, from raw UPDATE bodies.

    A prefix is keyed by its NLRI octets read as one integer (length octet first), so a
    /17-/24 is one 4-octet word and a whole run of them is one ``struct.unpack``.
    ``fresh``: when a set, also the prefixes announced since it was set (graceful restart:
    the routes the restarted DUT sent again).
    """

    __slots__ = ("eors", "fresh", "live", "updates", "withdrawn_total")

    def __init__(self) -> None:
        self.live: set[int] = set()
        self.fresh: set[int] | None = None
        self.updates = 0
        self.withdrawn_total = 0
        self.eors = 0

    @staticmethod
    def keys(field: bytes) -> tuple[int, ...] | list[int]:
        n = len(field)
        if n == 0:
            return ()
        if n % 4 == 0:
            lengths = field[0::4]
            if min(lengths) >= 17 and max(lengths) <= 24:
                return struct.unpack(f"!{n // 4}I", field)
        out: list[int] = []
        i = 0
        while i < n:
            plen = field[i]
            if plen > 32:
                raise ValueError(f"IPv4 prefix length {plen}")
            end = i + 1 + (plen + 7) // 8
            if end > n:
                raise ValueError("NLRI runs past the end of the field")
            out.append(int.from_bytes(field[i:end], "big"))
            i = end
        return out

    def update(self, body: bytes) -> None:
        self.updates += 1
        wlen = body[0] << 8 | body[1]
        alen = body[2 + wlen] << 8 | body[3 + wlen]
        if wlen:
            gone = self.keys(body[2:2 + wlen])
            self.withdrawn_total += len(gone)
            self.live.difference_update(gone)
            if self.fresh is not None:
                self.fresh.difference_update(gone)
        nlri = body[4 + wlen + alen:]
        if nlri:
            keys = self.keys(nlri)
            self.live.update(keys)
            if self.fresh is not None:
                self.fresh.update(keys)
        elif not wlen and not alen:
            self.eors += 1


class Collection:
    """One collector session, and with graceful restart the sessions after the DUT restarts:
    the routes it announced stay counted (we are its helper, RFC 4724 §4.2) until its next
    End-of-RIB, which reports how many it announced again and purges the rest."""

    def __init__(self, args: argparse.Namespace, local: str | None, shared: dict[str, Any]) -> None:
        self.args = args
        self.local = local
        self.router_id: str = args.router_id or local or "192.0.2.1"
        self.shared = shared
        self.counter = PrefixCounter()
        self.reached = False
        self.hold = 0
        self.sessions = 0
        self.peer: dict[str, Any] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.ka: asyncio.Future[None] | None = None

    async def establish(self, timeout: float) -> None:
        args = self.args
        self.reader, self.writer = await connect(args.dut, args.port, self.local, timeout)
        self.hold = await open_session(self.reader, self.writer, args.asn, self.router_id, args.hold_time,
                                       timeout, args.graceful_restart, self.peer)
        self.sessions += 1
        if args.graceful_restart:
            # Our (empty) table's End-of-RIB: a restarted DUT waits for it (RFC 4724 §4.1).
            self.writer.write(EOR)
        self.ka = asyncio.ensure_future(keepalives(self.writer, self.hold))

    def close(self) -> None:
        if self.ka is not None:
            self.ka.cancel()
        if self.writer is not None:
            self.writer.close()

    async def run(self, collections: list[Collection]) -> None:
        while True:
            why = await self.count(collections)
            if not self.args.graceful_restart:
                return
            emit("session_down", who="collector", local=self.local, session=self.sessions, why=why,
                 count=len(self.counter.live), **now())
            self.close()
            self.counter.fresh = set()
            await _establish_again("collector", self.establish, self.args.graceful_restart)
            emit("reestablished", who="collector", local=self.local, session=self.sessions, peer=self.peer,
                 **now())

    def _end_of_rib(self) -> None:
        """The DUT's End-of-RIB (graceful restart only): what it announced on this session."""
        c = self.counter
        fresh = c.fresh
        purged = 0
        if fresh is not None:
            purged = len(c.live) - len(fresh)
            c.live.intersection_update(fresh)  # RFC 4724 §4.2: stale routes not sent again go
            c.fresh = None
        emit("eor", who="collector", local=self.local, session=self.sessions, count=len(c.live),
             announced_again=None if fresh is None else len(fresh), purged=purged,
             withdrawn=c.withdrawn_total, updates=c.updates, **now())

    async def count(self, collections: list[Collection]) -> str:
        """Count until the session ends; returns why it ended."""
        assert self.reader is not None
        reader, counter, shared = self.reader, self.counter, self.shared
        gr = bool(self.args.graceful_restart)
        expect: int = self.args.expect
        buf = b""
        while True:
            try:
                data = await reader.read(1 << 20)
            except ConnectionError as exc:
                if not gr:
                    raise
                return f"closed: {exc}"
            if not data:
                if not gr:
                    emit("closed", who="collector", error="EOF", count=len(counter.live), **now())
                return "EOF"
            buf = buf + data if buf else data
            n = len(buf)
            i = 0
            while n - i >= HEADER_LEN:
                length = buf[i + 16] << 8 | buf[i + 17]
                if length < HEADER_LEN:
                    raise SessionError(f"bad length {length} from the DUT")
                if n - i < length:
                    break
                mtype = buf[i + 18]
                if mtype == MSG_UPDATE:
                    eors = counter.eors
                    counter.update(buf[i + HEADER_LEN:i + length])
                    if gr and counter.eors != eors:
                        self._end_of_rib()
                elif mtype == MSG_NOTIFICATION:
                    text = _notification_text(buf[i + HEADER_LEN:i + length])
                    if not gr:
                        emit("notification", who="collector", text=text, **now())
                    return text
                i += length
            buf = buf[i:]
            live = len(counter.live)
            if not shared["first_seen"] and live:
                shared["first_seen"] = True
                emit("first_prefix", **now())
            if not self.reached and live >= expect:
                self.reached = True
                shared["reached"] += 1
                if shared["reached"] == len(collections):
                    emit("complete", count=min(len(c.counter.live) for c in collections),
                         updates=sum(c.counter.updates for c in collections), **now())
            if time.monotonic() >= shared["next_progress"]:
                shared["next_progress"] = time.monotonic() + self.args.progress
                emit("progress", **_totals(collections), **now())


def _totals(collections: list[Collection]) -> dict[str, int]:
    """count: the fewest prefixes any collector session holds; the others summed."""
    return {"count": min(len(c.counter.live) for c in collections),
            "updates": sum(c.counter.updates for c in collections),
            "withdrawn": sum(c.counter.withdrawn_total for c in collections)}


async def collect(args: argparse.Namespace) -> int:
    shared: dict[str, Any] = {"first_seen": False, "reached": 0,
                              "next_progress": time.monotonic() + args.progress}
    collections = [Collection(args, local, shared) for local in args.local]
    many = {"sessions": len(collections)} if len(collections) > 1 else {}
    running: list[asyncio.Future[None]] = []
    try:
        await asyncio.gather(*(c.establish(args.connect_timeout) for c in collections))
        emit("established", hold=min(c.hold for c in collections), **many, **now())
        running = [asyncio.ensure_future(c.run(collections)) for c in collections]
        stopping = asyncio.ensure_future(stop_requested())
        await asyncio.wait({stopping, *running}, return_when=asyncio.FIRST_COMPLETED)
        for r in running:
            if r.done():
                r.result()  # re-raises what ended the count (a malformed message)
        emit("final", **_totals(collections), eors=sum(c.counter.eors for c in collections), **now())
        return 0
    except ConnectionError as exc:
        emit("closed", who="collector", error=str(exc), **now())
        return 1
    finally:
        for r in running:
            r.cancel()
        for c in collections:
            c.close()


# --- command line ---------------------------------------------------------------------------


def _session_args(ap: argparse.ArgumentParser, asn: int, local: str) -> None:
    ap.add_argument("--dut", required=True, help="the DUT's address")
    ap.add_argument("--port", type=int, default=179)
    ap.add_argument("--local", nargs="+", default=[local],
                    help="our source address; several: one session from each (one process, asyncio)")
    ap.add_argument("--asn", type=int, default=asn)
    ap.add_argument("--router-id", default=None, help="default: each session's --local")
    ap.add_argument("--hold-time", type=int, default=0, help="proposed hold time (0: no keepalives)")
    ap.add_argument("--connect-timeout", type=float, default=30.0)
    ap.add_argument("--graceful-restart", type=int, default=0, metavar="SECONDS",
                    help="offer Graceful Restart (RFC 4724) with this Restart Time and act as the helper "
                         "when the DUT restarts: connect again within SECONDS (0: off)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write the pre-encoded UPDATE stream to a file")
    b.add_argument("--prefixes", type=int, required=True)
    b.add_argument("--next-hop", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--start", type=int, default=0, help="index of the first /24 (from 11.0.0.0)")
    i = sub.add_parser("inject", help="send a pre-encoded stream to the DUT")
    _session_args(i, INJECTOR_AS, "10.253.0.2")
    i.add_argument("--stream", nargs="+", required=True, help="file written by `build`, one per --local")
    i.add_argument("--chunk", type=int, default=CHUNK, help="octets per write (cut between messages)")
    i.add_argument("--no-wait", dest="wait_go", action="store_false",
                   help="send as soon as the session is up instead of waiting for `go` on stdin")
    c = sub.add_parser("collect", help="count the prefixes the DUT sends")
    _session_args(c, COLLECTOR_AS, "10.253.0.3")
    c.add_argument("--expect", type=int, required=True, help="report when this many prefixes are live")
    c.add_argument("--progress", type=float, default=1.0, help="seconds between progress lines")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        t0 = time.perf_counter()
        data = build_updates(args.prefixes, args.next_hop, start=args.start)
        Path(args.out).write_bytes(data)
        emit("built", prefixes=args.prefixes, octets=len(data), seconds=round(time.perf_counter() - t0, 2))
        return 0
    try:
        return asyncio.run(inject(args) if args.cmd == "inject" else collect(args))
    except SessionError as exc:
        emit("error", who=args.cmd, text=str(exc), **now())
        return 2


if __name__ == "__main__":
    sys.exit(main())
