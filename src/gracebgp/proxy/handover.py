"""gracebgp-proxyd's own upgrade (issue 20 item 4): a new proxyd started with
``--take-over`` on the same state directory takes every relayed session from the running
one, both TCP legs and the relay's state, so neither the VM nor the control node sees
anything but a short pause. It uses gracebgpd's take-over socket (issue 19,
``runtime.takeover``: ``<state-dir>/handover.sock``, SCM_RIGHTS, confirmation) with the
proxy's own state (``proxy.snapshot``).

The running proxyd (``Giver``), on a request from a process that reads its state
version, when every session is Established both ways (else it refuses, saying which are
not: re-homing and opening are bounded, ask again): stops reading both legs of every
session and relays what it had read (``Session.quiesce``), waits until what it wrote has
reached the kernel (bounded, ``DRAIN_TIMEOUT``), sends nothing else, and passes the state,
the sockets and its listening sockets. It lets go of them only once the new process has
confirmed; anything else (the new process's reason, or the connection closing) and it
reads and relays again, logging why. The new process (``receive``) decodes the state and
checks, before it confirms, that a socket arrived for each leg and that its configuration
places each session where it was (network, VM interface, NAT port): otherwise it refuses
and exits, and the old process carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gracebgp.proxy import snapshot
from gracebgp.proxy.config import ProxyConfig, port_key
from gracebgp.proxy.placement import nodes_for
from gracebgp.proxy.relay import Phase, Relay
from gracebgp.proxy.server import ProxyServer, Session
from gracebgp.proxy.snapshot import VERSION, ProxyState, SessionState, handable
from gracebgp.runtime import takeover

log = logging.getLogger("gracebgp.proxy")
DRAIN_TIMEOUT = 2.0  # seconds for the writes in flight at the clean point
WHO = "gracebgp-proxyd"
TakeOverError = takeover.TakeOverError
NothingToTakeOver = takeover.NothingToTakeOver


class Giver:
    """The running proxyd's side: answers ``--take-over`` on ``<state-dir>/handover.sock``;
    ``taken`` is set once the sessions went to the new process (then exit); ``last_refusal``
    says why the last attempt did not happen."""

    def __init__(self, server: ProxyServer, state_dir: str | Path) -> None:
        self.server = server
        self.listener = takeover.Listener(state_dir, self.decide)
        self.taken = asyncio.Event()
        self.active = False
        self.last_refusal = ""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.listener.path.parent.mkdir(parents=True, exist_ok=True)
        await self.listener.start()

    def close(self) -> None:
        self.listener.close(unlink=not self.taken.is_set())

    def decide(self, request: dict[str, object]) -> str:
        """"" when the sessions go to the requester (the hand-over starts), else why not."""
        reads = request.get("reads")
        if not isinstance(reads, list) or VERSION not in reads:
            return f"the new process does not read proxy state format version {VERSION} (it reads {reads})"
        if self.active:
            return "a take-over is already under way"
        not_ready = [f"{s.meta.vm_address} -> {s.meta.facing_address}: {why}"
                     for s in self.server.sessions.values() if (why := handable(s.relay) or
                                                                 ("flow control" if s.busy() else ""))]
        if not_ready:
            return "sessions not Established both ways (try again shortly): " + "; ".join(not_ready)
        self.active = self.server.handing = True
        pid = request.get("pid")
        log.info("take-over by pid %s: handing %d session(s) over", pid, len(self.server.sessions))
        self._task = asyncio.get_running_loop().create_task(self._hand_over(pid))
        return ""

    async def _hand_over(self, pid: object) -> None:
        server = self.server
        sessions = list(server.sessions.values())
        for session in sessions:
            session.quiesce()
        deadline = asyncio.get_running_loop().time() + DRAIN_TIMEOUT
        problems = [why for s in sessions if (why := await s.flush(deadline))]
        live = [s for s in sessions if s.relay.phase is not Phase.CLOSED]
        problems += [f"{s.meta.vm_address}: {why}" for s in live if (why := handable(s.relay))]
        try:
            if problems:
                raise OSError("not at a clean point: " + "; ".join(problems))
            state, fds = self._state(live)
            # in a thread: the API answers meanwhile; nothing reads or writes the sessions
            await asyncio.to_thread(self.listener.send, state, fds)
        except Exception as exc:  # whatever went wrong, the sessions stay here
            why = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or repr(exc)
            self.last_refusal = why
            log.error("take-over by pid %s did not happen, every session stays here: %s", pid, why)
            server.handing = self.active = False
            for session in live:
                session.resume_reading()
            self.listener.reset()
            return
        for session in live:
            session.detach()
            server.sessions.pop(session.key, None)
        server.stop_listening()
        log.info("%d session(s) and their sockets passed to pid %s; exiting", len(live), pid)
        self.taken.set()

    def _state(self, sessions: list[Session]) -> tuple[bytes, dict[int, int]]:
        records, fds = [], {}
        for s in sessions:
            vm_fd = s.vm_writer.get_extra_info("socket").fileno()
            node_writer = s.node_writer
            assert node_writer is not None
            node_fd = node_writer.get_extra_info("socket").fileno()
            fds[vm_fd], fds[node_fd] = vm_fd, node_fd
            records.append(SessionState(s.meta, vm_fd, node_fd, snapshot.capture(s.relay)))
        listeners = self.server.listening()
        fds.update({fd: fd for fd in listeners})
        state = ProxyState(os.getpid(), self.server.now(), tuple(records), tuple(listeners),
                           dict(self.server.node_failures), self.server.rejected)
        return snapshot.encode(state), fds


@dataclass(slots=True)
class Taken:
    """What ``receive`` got: the sessions' relays (restored) and the descriptors."""

    state: ProxyState
    relays: list[Relay]
    fds: dict[int, int]  # number in the state -> ours


def _placed(cfg: ProxyConfig, s: SessionState) -> Relay | str:
    """The session carried on under ``cfg`` (its control nodes and relay options), or why
    ``cfg`` has no place for it."""
    meta = s.meta
    net = next((n for n in cfg.networks if n.name == meta.network), None)
    if net is None:
        return f"network {meta.network!r} is not in the configuration"
    facing, vm_ip = ipaddress.ip_address(meta.facing_address), ipaddress.ip_address(meta.vm_address)
    vm = net.vm_of(vm_ip)
    if net.kind_of(facing) is not meta.kind or vm is None or vm.interface != meta.interface:
        return f"{meta.vm_address} -> {meta.facing_address} is not a session of network {net.name}"
    port = cfg.nat_ports.get(port_key(net.name, meta.interface, meta.kind, vm_ip.version == 6))
    if port != meta.nat_port:
        return (f"{meta.vm_address} -> {meta.facing_address} uses NAT port {meta.nat_port}, the "
                f"configuration gives it {port}")
    nodes = nodes_for(net.name, meta.interface, meta.kind, net.control_nodes)
    return snapshot.restore(s.relay, nodes, net.options)


def receive(cfg: ProxyConfig, now: Callable[[], float]) -> Taken:
    """``gracebgp-proxyd --take-over``, before it listens: the sessions of the proxyd
    running on ``cfg.state_dir``. NothingToTakeOver when none runs (start as usual),
    TakeOverError with the reason when the take-over did not happen."""
    got: list[Taken] = []

    def check(data: bytes, numbers: list[int], fds: list[int]) -> str:
        if len(numbers) != len(fds):
            return f"{len(fds)} descriptors arrived for {len(numbers)}"
        try:
            state = snapshot.decode(data, now())
            relays = []
            for s in state.sessions:
                if s.vm_fd not in numbers or s.node_fd not in numbers:
                    return f"no socket arrived for {s.meta.vm_address} -> {s.meta.facing_address}"
                relay = _placed(cfg, s)
                if isinstance(relay, str):
                    return relay
                relays.append(relay)
        except snapshot.SnapshotError as exc:
            return str(exc)
        got.append(Taken(state, relays, {}))
        return ""

    _, fds = takeover.request(cfg.state_dir, sorted(snapshot.READABLE), check=check, who=WHO)
    taken = got[0]
    taken.fds = fds
    return taken


async def adopt(server: ProxyServer, taken: Taken) -> None:
    """Carry on with what ``receive`` got: listeners, sessions, counters."""
    fds = taken.fds
    await server.start([socket.socket(fileno=fds[n]) for n in taken.state.listeners])
    for s, relay in zip(taken.state.sessions, taken.relays, strict=True):
        vm, node = socket.socket(fileno=fds[s.vm_fd]), socket.socket(fileno=fds[s.node_fd])
        await server.adopt(s.meta, relay, vm, node)
    for node_addr, count in taken.state.node_failures.items():
        server.node_failures[node_addr] = server.node_failures.get(node_addr, 0) + count
    server.rejected += taken.state.rejected
    log.info("took over %d session(s) from pid %d", len(taken.relays), taken.state.pid)


def close_fds(taken: Taken) -> None:
    for fd in taken.fds.values():
        with contextlib.suppress(OSError):
            os.close(fd)
