"""Session hand-over on the asyncio runtime (issue 19): the old process brings its
Established sessions to a clean point and writes their state; the new process adopts
the sockets and the state before anything slow loads, and sends a KEEPALIVE on each.

Re-exec in place (``gracebgp restart``), step by step (``gracebgp timeline`` shows each):

1. *check* (old process, sessions running): the exact command line of the re-execution
   runs with ``--preflight`` (configuration, every module imported, and
   ``GRACEBGPD_HANDOVER_VERSION``: can the new code read this state format?); any
   failure refuses the restart, every session stays where it is;
2. *quiesce*: the owner loop stops; reading stops on every connection (what the kernel
   has not given us stays in the socket for the new process); what was read is handed
   to the speaker, so each session's unread octets end at a message boundary or inside
   the next message (carried as ``unread``); pending UPDATEs are flushed;
3. *keepalive*: a KEEPALIVE on each Established session, then the write buffers drain
   (bounded), so the peer's hold timer starts afresh just before the gap; octets still
   unsent after ``DRAIN_TIMEOUT``, or a session that can no longer be handed over (a
   table began to go out meanwhile), abandon the hand-over (``Aborted``): the old
   process carries on with every session (``resume``);
4. *state*: each socket is ``dup``-ed without close-on-exec (the number goes into the
   state), the state file is written (``restart.handover``), the process re-executes
   with ``GRACEBGPD_HANDOVER`` naming it (same PID);
5. *adopt* (new process, before the API and metrics load): the sockets become
   connections again, the speaker adopts the sessions (``core.handover``), reads their
   Adj-RIB-Ins and unread octets, reconciles what was advertised, and a KEEPALIVE goes
   out at once; only then the API starts and the service manager hears READY.

A session the new configuration no longer accepts, or to which it would send another
OPEN (local AS, router-id, hold time, capabilities), is closed (the peer connects
again); sessions that were not Established are closed by the re-execution and re-opened.
A peer that is away while we keep its routes stale goes into the state as a helper
record and comes back stale, with its timers.

What the state does *not* carry: the kernel FIB and BFD. Our routes stay in the kernel
and the new process adopts them at start like after any restart (``runtime.fibdriver``:
every prefix of the adopted Loc-RIB is looked at before the first reconciliation), and
gracebgp-bfdd keeps running across a re-execution or a take-over and is adopted from
its snapshot (``runtime.bfdlink``). The state format has room for such sections
(``quiesce``'s ``extra``, ``TakenOver.extra``); no part writes one today.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gracebgp.core import events as ev
from gracebgp.core.handover import (
    HandoverRefused,
    adopt_all,
    capture,
    capture_helpers,
    established,
    helping,
    reconcile,
    refusals,
)
from gracebgp.restart.handover import (
    READABLE,
    VERSION,
    HandoverState,
    HandoverStateError,
    SessionRecord,
    check_version,
    decode,
    encode,
    version_needed,
)
from gracebgp.runtime.owner import Owner
from gracebgp.runtime.transport import BgpProtocol, Transport

log = logging.getLogger("gracebgp.handover")
__all__ = ["READABLE", "VERSION", "Aborted", "TakenOver", "incoming", "notice", "prepare_exec", "quiesce",
           "refused", "resume", "take_over"]

ENV_STATE = "GRACEBGPD_HANDOVER"  # the state file, for the new process
ENV_FDS = "GRACEBGPD_HANDOVER_FDS"  # its descriptors, closed if the state cannot be read
ENV_FDMAP = "GRACEBGPD_HANDOVER_FDMAP"  # take-over: number in the state -> ours ("7:12,8:13")
ENV_VERSION = "GRACEBGPD_HANDOVER_VERSION"  # the pre-flight: the format the old process writes
STATE_NAME = "handover.state"
KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"  # RFC 4271 §4.4
DRAIN_TIMEOUT = 2.0  # write buffers and pending work at the clean point
ADOPTED_BASE = 1 << 28  # connection ids of adopted connections (runtime ids: >= 1 << 20)
ENV_BRIDGE = "GRACEBGPD_HANDOVER_BRIDGE"  # the keepalive bridge's pid
BRIDGE_INTERVAL = 1.0  # RFC 4271 §10: the smallest keepalive time (hold time 3 s)
BRIDGE_LIMIT = 300.0  # the bridge gives up (the new process never came); 1M routes: ~30 s


def notice(owner: Owner, event: str, message: str, **data: Any) -> None:
    """A step of the hand-over, as a "restart" event (the timeline)."""
    owner.bus.publish(ev.Notice("restart", message, None, {"event": event, "path": "handover", **data}))
    log.info("%s", message, extra={"event": event})


def check_problems() -> list[str]:
    """The pre-flight's question (``gracebgpd --preflight`` with ``GRACEBGPD_HANDOVER_VERSION``
    set): can this code read the state the running process will write?"""
    raw = os.environ.get(ENV_VERSION, "")
    if not raw:
        return []
    if not raw.isdigit():
        return [f"{ENV_VERSION}={raw!r} is not a version number"]
    why = check_version(int(raw))
    return [why] if why else []


def needed_version(owner: Owner) -> int:
    """The state format version the running sessions need (helper records: 2)."""
    return version_needed(helping(owner.speaker))


def preflight_env(owner: Owner) -> dict[str, str]:
    return {ENV_VERSION: str(needed_version(owner))}


def refused(owner: Owner) -> list[str]:
    """Why the running sessions cannot be handed over (then: ``--graceful``)."""
    return refusals(owner.speaker)


async def _settle(owner: Owner, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    """Hand the speaker what was read, flush, and finish work in progress (bounded)."""
    queue = owner.queue
    while not queue.empty():
        owner.handle(queue.get_nowait(), queue.last_time)
    owner.handle(ev.InputDrained(), loop.time())
    while owner.speaker.pending() and loop.time() < deadline:
        owner.handle(ev.Continue(), loop.time())
        owner.handle(ev.InputDrained(), loop.time())


def _protocols(transport: Transport) -> Iterable[BgpProtocol]:
    return [p for p in transport.conns.values() if p.transport is not None and not p.transport.is_closing()]


class Aborted(Exception):
    """The clean point was not reached (octets still unsent, or a session that cannot be
    handed over any more): nothing was handed over, ``resume`` carries on."""


async def quiesce(owner: Owner, state_dir: str | Path, extra: dict[str, bytes]) -> tuple[Path, list[int]]:
    """Steps 2-4 on the old process (its owner loop has stopped): returns the state file
    and the inheritable descriptors of the sessions in it. Raises ``Aborted`` (no state
    written, no descriptor left open) when a session cannot be handed over any more or
    a write buffer did not drain in time: a message cut short, or UPDATEs recorded as
    advertised but never sent, would reach the peer as a broken session."""
    loop = asyncio.get_running_loop()
    t = owner.transport
    deadline = loop.time() + DRAIN_TIMEOUT
    for server in t.servers:
        server.close()  # no new connection can arrive half-way
    for live in _protocols(t):
        assert live.transport is not None
        live.transport.pause_reading()
    await _settle(owner, loop, deadline)
    peers = established(owner.speaker)
    notice(owner, "handover-quiesced", f"reading stopped at a message boundary on {len(peers)} sessions; "
           "what was read is processed", sessions=len(peers))
    _keepalive(t, peers)  # capturing a large table takes seconds: one before, one after
    fds: dict[str, int] = {}
    for peer in peers:
        conn = peer.established_conn()
        proto = t.conns.get((peer.address, conn)) if conn is not None else None
        sock = proto.transport.get_extra_info("socket") if proto and proto.transport else None
        if sock is None:
            continue
        fd = os.dup(sock.fileno())
        os.set_inheritable(fd, True)
        fds[peer.address] = fd
    wall_offset = time.time() - loop.time()
    try:
        records = capture(owner.speaker, fds, wall_offset)
    except HandoverRefused as exc:
        _close_all(fds.values())
        raise Aborted(str(exc)) from None
    helpers = capture_helpers(owner.speaker, wall_offset)
    _keepalive(t, peers)
    while _unsent(t) and loop.time() < deadline:
        await asyncio.sleep(0.002)
    unsent = _unsent(t)
    if unsent:
        _close_all(fds.values())
        raise Aborted(f"octets still unsent after {DRAIN_TIMEOUT:g}s: "
                      + ", ".join(f"{n} to {peer}" for peer, n in sorted(unsent.items())))
    notice(owner, "handover-keepalive", f"KEEPALIVE sent and flushed on {len(peers)} sessions")
    adj_in = sum(len(r.adj_in) for r in records)
    notice(owner, "handover-state", f"state of {len(records)} sessions captured ({adj_in} octets of "
           "Adj-RIB-In); passing it on", sessions=len(records), adj_in_octets=adj_in)
    events = [e for e in owner.bus.history if e.get("kind") in ("restart", "peer-state")][-200:]
    state = HandoverState(os.getpid(), time.time(), tuple(records),
                          {**extra, "events": json.dumps(events).encode()}, tuple(helpers))
    path = Path(state_dir) / STATE_NAME
    data = encode(state)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    log.info("hand-over state written to %s (%d octets)", path, len(data))
    return path, list(fds.values())


def _unsent(t: Transport) -> dict[str, int]:
    """Octets still in our write buffers, per peer (what the kernel holds goes with the socket)."""
    out: dict[str, int] = {}
    for p in _protocols(t):
        assert p.transport is not None
        n = p.transport.get_write_buffer_size()
        if n:
            out[p.peer] = out.get(p.peer, 0) + n
    return out


async def resume(owner: Owner) -> None:
    """After ``Aborted`` (or a taker that did not confirm): read again, listen again, and
    let the owner loop run on; every session carries on where it stopped."""
    t = owner.transport
    for live in _protocols(t):
        assert live.transport is not None
        live.transport.resume_reading()
    t.servers.clear()  # closed by ``quiesce``
    for host, port in owner.listen:
        await t.listen(host, port)
    owner.rearm()


def _keepalive(t: Transport, peers: Iterable[Any]) -> None:
    for peer in peers:
        conn = peer.established_conn()
        if conn is not None:
            t.send(peer.address, conn, KEEPALIVE)


def prepare_exec(path: Path, fds: list[int], remap: dict[int, int] | None = None,
                 bridge: bool = False) -> None:
    """Just before ``execv`` (or, for a take-over, before the daemon starts): tell the
    new image where the state and its sockets are; ``remap``: the state's descriptor
    numbers -> the ones here (a take-over received them under other numbers);
    ``bridge``: start the keepalive bridge (``start_bridge``)."""
    if bridge and fds:
        os.environ[ENV_BRIDGE] = str(start_bridge(fds))
    os.environ[ENV_STATE] = str(path)
    os.environ[ENV_FDS] = ",".join(str(fd) for fd in fds)
    if remap:
        os.environ[ENV_FDMAP] = ",".join(f"{a}:{b}" for a, b in remap.items())


def incoming() -> tuple[Path, list[int], dict[int, int]] | None:
    """The state file, descriptors and descriptor map our previous image (or the process
    we took over from) handed over, if any (the variables are removed: a later
    re-execution must not see them)."""
    raw = os.environ.pop(ENV_STATE, "")
    fds = [int(x) for x in os.environ.pop(ENV_FDS, "").split(",") if x.isdigit()]
    pairs = (x.partition(":") for x in os.environ.pop(ENV_FDMAP, "").split(","))
    remap = {int(a): int(b) for a, _, b in pairs if a.isdigit() and b.isdigit()}
    return (Path(raw), fds, remap) if raw else None


def start_bridge(fds: list[int]) -> int:
    """A child that sends a KEEPALIVE on each session every ``BRIDGE_INTERVAL`` while the
    new image starts (an interpreter and its imports: a second or more on a busy host),
    so that the start-up never approaches a 3 s hold time. It writes nothing else and
    reads nothing; the new image ends it (``stop_bridge``) before it writes anything
    itself, so their messages never interleave; it gives up after ``BRIDGE_LIMIT``.
    It keeps no other descriptor open (a connection that was not Established closes
    with the re-execution, and the peer connects again), and writes whole messages
    only (``_write_whole``)."""
    parent = os.getpid()  # before the fork: it may be gone before the child runs
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: SIGTERM (default action) ends it between two messages
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _close_others(fds)
        end = time.monotonic() + BRIDGE_LIMIT
        while time.monotonic() < end:
            time.sleep(BRIDGE_INTERVAL)
            if os.getppid() != parent:  # the new image died (a crash, SIGKILL): let the
                break  # connections close, the peers' graceful restart takes over
            for fd in fds:
                _write_whole(fd, KEEPALIVE)
    finally:
        os._exit(0)


def _close_others(keep: Iterable[int]) -> None:
    """Close every descriptor above stderr but ``keep``."""
    low = 3
    for fd in sorted(set(keep)):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, max(os.sysconf("SC_OPEN_MAX"), 65536))  # every fd is below the soft limit


def _write_whole(fd: int, message: bytes, bound: float = BRIDGE_INTERVAL) -> None:
    """``message`` on the non-blocking socket ``fd``, all of it or none (a message cut short
    breaks the session for the new image): nothing when the socket cannot take a write
    now; once a part is written, the rest within ``bound``, SIGTERM held off meanwhile."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    if not poller.poll(0):
        return  # the send buffer is full: this KEEPALIVE is skipped, none is cut
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        view, end = memoryview(message), time.monotonic() + bound
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                if not poller.poll(max(0, int((end - time.monotonic()) * 1000))):
                    break
            except OSError:
                break
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def stop_bridge() -> None:
    """End the keepalive bridge our previous image started (it is our child: same PID)."""
    raw = os.environ.pop(ENV_BRIDGE, "")
    if raw.isdigit():
        with contextlib.suppress(OSError):
            os.kill(int(raw), signal.SIGTERM)
            os.waitpid(int(raw), 0)


@dataclass(frozen=True)
class TakenOver:
    """What ``take_over`` did: one line for the start's detail, and the state's extra
    sections (name -> octets) a part of the old process put in ``quiesce(..., extra=...)``
    (none does today: see the module's docstring)."""

    detail: str
    extra: dict[str, bytes] = field(default_factory=dict)


class _Adopted(BgpProtocol):
    """A connection of the previous process: registered without a ``Connected`` fact
    (the speaker adopts it as Established instead of opening a session on it)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.owner.conns[(self.peer, self.conn)] = self
        self.owner.live.add(self)


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


async def take_over(owner: Owner, path: Path, fds: list[int],
                    remap: dict[int, int] | None = None) -> TakenOver:
    """Step 5 on the new process, before the API: adopt the sockets and the sessions,
    read what the peers had sent, reconcile, KEEPALIVE. Returns one line for the start's
    detail. A state that cannot be read closes the sockets (the peers see the session
    end, as after a crash: graceful restart where they support it) and says why."""
    loop = asyncio.get_running_loop()
    try:
        data = path.read_bytes()
        path.unlink()
        state = decode(data)
    except (OSError, HandoverStateError) as exc:
        stop_bridge()
        _close_all(fds)
        why = f"the hand-over state {path} cannot be used ({exc}); {len(fds)} sessions closed"
        log.error("%s", why)
        return TakenOver(why)
    carried = state.extra.get("events", b"[]")
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        events = json.loads(carried.decode())
        if isinstance(events, list):
            owner.bus.carry_over([e for e in events if isinstance(e, dict)])
    items: list[tuple[SessionRecord, int, float]] = []
    wall = time.time() - loop.time()
    for i, record in enumerate(state.sessions):
        conn = ADOPTED_BASE + i
        fd = (remap or {}).get(record.fd, record.fd)
        try:
            sock = socket.socket(fileno=fd)
            sock.setblocking(False)
            os.set_inheritable(fd, False)
            sock.getpeername()  # still connected?
            proto = _Adopted(record.peer, conn, owner.transport, record.outgoing)
            await loop.connect_accepted_socket(lambda: proto, sock=sock)  # noqa: B023 (awaited here)
        except OSError as exc:
            log.error("peer %s: the handed-over socket cannot be used (%s); the session is re-opened",
                      record.peer, exc.strerror or exc)
            _close_all([fd])
            continue
        items.append((record, conn, record.established - wall))
    await asyncio.sleep(0)  # connection_made of each
    now = loop.time()
    outputs, refusals_ = adopt_all(owner.speaker, items, now, state.helpers, wall)
    owner.execute(outputs, now)
    for record, conn, _ in items:
        if record.peer in refusals_:
            log.warning("peer %s: not adopted: %s; its connection is closed and the session re-opened",
                        record.peer, refusals_[record.peer])
            owner.transport.close(record.peer, conn)
    adopted = [(r, c) for r, c, _ in items if r.peer not in refusals_]
    for record, conn in adopted:
        owner.handle(ev.Received(record.peer, conn, record.adj_in + record.unread), now)
    differ = sum(reconcile(owner.speaker, record, loop.time()) for record, _ in adopted)
    # Until here the bridge kept the peers' hold timers running (reading a large table
    # takes seconds) and we wrote nothing; from here on only we write.
    stop_bridge()
    owner.handle(ev.TimerDue(), loop.time())  # the KEEPALIVE due at once
    took = time.time() - state.time
    notice(owner, "handover-adopted", f"{len(adopted)} sessions adopted from pid {state.pid} "
           f"({len(refusals_)} refused, {differ} prefixes to re-advertise); KEEPALIVE sent, "
           f"{took:.3f}s after the old process wrote the state", sessions=len(adopted),
           refused=len(refusals_), differ=differ, seconds=round(took, 6))
    extra = {name: data for name, data in state.extra.items() if name != "events"}
    return TakenOver(f"session hand-over from pid {state.pid}: {len(adopted)} sessions adopted"
                     + (f", {len(refusals_)} re-opened" if refusals_ else ""), extra)
