"""gracebgp-proxyd's asyncio runtime (layer L4): listens on every network's VM-facing
addresses, runs one ``relay.Relay`` per VM session and opens its upstream connections
from the upstream address and the session's NAT source port.

Isolation (issue 20 item 2): each session has its own tasks, framers and buffers, and
flow control between its legs: when more than ``HIGH_WATER`` octets wait to be written to
one leg, the other leg is not read until they are written (TCP then slows its sender, as a
slow peer would without the proxy), so what one session holds is bounded. A control node
that takes nothing for its Hold Time is a failed node (the session is re-homed); a VM that
takes nothing for its Hold Time is cut off. A VM that floods is read a chunk at a time like
every other, so neither slows the others beyond its share of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, cast

from gracebgp.api.proxy_schema import ProxySession
from gracebgp.proxy.config import Address, Network, ProxyConfig, port_key
from gracebgp.proxy.placement import SessionKind, nodes_for
from gracebgp.proxy.relay import Close, Connect, Leg, Phase, Relay, Send
from gracebgp.proxy.view import SessionMeta, session_view

log = logging.getLogger("gracebgp.proxy")
READ_SIZE = 65536
#: Octets waiting to be written to one leg above which the other leg is not read.
HIGH_WATER = 256 << 10
#: Seconds a leg may take nothing when no Hold Time was negotiated (RFC 4271 §4.2 suggests 90).
DEFAULT_PATIENCE = 90.0
#: Closed sessions whose last view is kept for introspection.
CLOSED_KEPT = 100
#: Seconds a control node has to close an upstream leg we are done with before we reset it.
NODE_LINGER = 2.0


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): no TIME-WAIT is left on our side."""
    if writer.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Session:
    """One VM session: the relay and the two connections it drives."""

    def __init__(self, server: ProxyServer, meta: SessionMeta, relay: Relay,
                 vm: tuple[asyncio.StreamReader, asyncio.StreamWriter], node_port: int) -> None:
        self.server = server
        self.meta = meta
        self.relay = relay
        self.vm_reader, self.vm_writer = vm
        self.node_port = node_port
        self.node_reader: asyncio.StreamReader | None = None
        self.node_writer: asyncio.StreamWriter | None = None
        self._readers: dict[Leg, asyncio.Task[Any] | None] = {}  # each leg's read loop
        self._generation = 0  # which upstream connection is the current one
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self.closed = asyncio.Event()
        self._readable = {Leg.VM: asyncio.Event(), Leg.NODE: asyncio.Event()}
        for event in self._readable.values():
            event.set()
        self._draining: dict[Leg, asyncio.Task[None]] = {}  # leg -> its drain, the other paused

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.meta.network, self.meta.vm_address, self.meta.facing_address)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start(self) -> None:
        self.run(self.relay.start(self.server.now()))
        self._spawn(self._read_vm())

    def run(self, actions: list[Send | Close | Connect]) -> None:
        """Execute the relay's actions in order, then arm its next deadline."""
        for action in actions:
            if isinstance(action, Send):
                writer = self.vm_writer if action.leg is Leg.VM else self.node_writer
                if writer is None or writer.is_closing():
                    continue
                writer.write(action.data)
                if writer.transport.get_write_buffer_size() > HIGH_WATER:
                    self._throttle(action.leg, writer)
            elif isinstance(action, Close):
                if action.leg is Leg.VM:
                    self.meta.vm_tcp = "closed"
                    self._close_writer(self.vm_writer)
                else:
                    self._generation += 1
                    self.meta.node_tcp = "closed"
                    self._release(Leg.NODE)
                    self._let_node_close(self.node_writer)
                    self.node_writer = None
            else:
                self._generation += 1
                self._release(Leg.NODE)
                self.meta.node_tcp = "connecting"
                self._spawn(self._connect(action.node, self._generation))
        if self.relay.phase is Phase.CLOSED:
            self._finish()
            return
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.relay.next_deadline()
        if deadline is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, deadline - self.server.now())
            self._timer = loop.call_later(delay, lambda: self.run(self.relay.tick(self.server.now())))

    # --- flow control ------------------------------------------------------------------

    def _throttle(self, leg: Leg, writer: asyncio.StreamWriter) -> None:
        """Too much waits for ``leg``: stop reading the other leg until it is written."""
        if leg in self._draining:
            return
        source = Leg.NODE if leg is Leg.VM else Leg.VM
        self._readable[source].clear()
        self.relay.pause(source)
        task = asyncio.ensure_future(self._drain(leg, source, writer))
        self._draining[leg] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, leg: Leg, source: Leg, writer: asyncio.StreamWriter) -> None:
        hold = self.relay.vm_hold if leg is Leg.VM else self.relay.upstream_hold
        patience = float(hold) if hold else DEFAULT_PATIENCE
        waiting = writer.transport.get_write_buffer_size()
        try:
            while True:
                try:
                    await asyncio.wait_for(writer.drain(), patience)
                    break
                except TimeoutError:  # slow is fine; taking nothing for a Hold Time is not
                    if writer.transport.get_write_buffer_size() >= waiting:
                        self._draining.pop(leg, None)
                        self._stuck(leg, writer, patience)
                        return
                    waiting = writer.transport.get_write_buffer_size()
        except (ConnectionError, RuntimeError):
            pass  # the connection is gone: its reader reports it
        if self._draining.get(leg) is asyncio.current_task():
            del self._draining[leg]
            self._resume(source)

    def _release(self, leg: Leg) -> None:
        """``leg``'s connection is being replaced or closed: stop waiting for it."""
        task = self._draining.pop(leg, None)
        if task is not None:
            task.cancel()
            self._resume(Leg.NODE if leg is Leg.VM else Leg.VM)

    def _resume(self, source: Leg) -> None:
        self._readable[source].set()
        if self.relay.phase is not Phase.CLOSED:
            self.relay.resume(source, self.server.now())
            self._arm()

    def _stuck(self, leg: Leg, writer: asyncio.StreamWriter, patience: float) -> None:
        """``leg`` took nothing for its Hold Time: a control node has failed (re-home); a
        VM is cut off (only its own session)."""
        reason = f"took nothing for {patience:g} s"
        if leg is Leg.VM:
            log.warning("%s: the VM %s; closing its session", self.meta.vm_address, reason)
            self._close_everything(f"VM {reason}")
            return
        if writer is not self.node_writer or self.relay.phase is Phase.CLOSED:
            return
        log.warning("%s: control node %s %s; re-homing", self.meta.vm_address, self.relay.node, reason)
        self._generation += 1
        self.meta.node_tcp = "closed"
        self.node_writer = None
        self.server.node_failures[self.relay.node] = self.server.node_failures.get(self.relay.node, 0) + 1
        reset(writer)
        self._resume(Leg.VM)
        self.run(self.relay.node_failed(self.server.now(), f"control node {reason}"))

    # --- the connections ----------------------------------------------------------------

    async def _read_vm(self) -> None:
        self._readers[Leg.VM] = asyncio.current_task()
        reason = "connection closed"
        try:
            while await self._readable[Leg.VM].wait() and (data := await self.vm_reader.read(READ_SIZE)):
                self.run(self.relay.vm_bytes(data, self.server.now()))
                if self.relay.phase is Phase.CLOSED:
                    return
        except OSError as exc:
            reason = exc.strerror or str(exc)
        if self.relay.phase is not Phase.CLOSED:
            self.run(self.relay.vm_closed(self.server.now(), reason))

    async def _connect(self, node: str, generation: int) -> None:
        try:
            reader, writer = await self._open(node)
        except OSError as exc:
            if generation == self._generation:
                self.meta.node_tcp = "closed"
                self.run(self.relay.node_failed(self.server.now(), exc.strerror or str(exc)))
            return
        if generation != self._generation:  # the session ended while connecting
            reset(writer)
            return
        self.node_reader, self.node_writer = reader, writer
        self.meta.node_tcp = "established"
        self.run(self.relay.node_connected(self.server.now()))
        await self._read_node(node, generation)

    async def _read_node(self, node: str, generation: int) -> None:
        reader, writer = self.node_reader, self.node_writer
        assert reader is not None and writer is not None
        self._readers[Leg.NODE] = asyncio.current_task()
        self.server.node_connections[node] = self.server.node_connections.get(node, 0) + 1
        reason = "connection closed by the control node"
        try:
            while await self._readable[Leg.NODE].wait() and (data := await reader.read(READ_SIZE)):
                if generation == self._generation:
                    self.run(self.relay.node_bytes(data, self.server.now()))
        except OSError as exc:
            reason = exc.strerror or str(exc)
        finally:
            self.server.node_connections[node] -= 1
        if generation != self._generation:  # we had let it go: the node closed first
            writer.close()
            return
        writer.close()  # after the node's FIN or reset: nothing lingers on our side
        if self.relay.phase is not Phase.CLOSED:
            self.meta.node_tcp = "closed"
            self.node_writer = None
            self.server.node_failures[node] = self.server.node_failures.get(node, 0) + 1
            self.run(self.relay.node_failed(self.server.now(), reason))

    async def _open(self, node: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``node`` from the upstream address and the NAT port."""
        family = socket.AF_INET6 if ipaddress.ip_address(node).version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.meta.upstream_address, self.meta.nat_port))
            sock.setblocking(False)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (node, self.node_port)),
                                   self.relay.options.attempt_timeout)
        except (OSError, TimeoutError) as exc:
            sock.close()
            raise OSError(getattr(exc, "errno", None), getattr(exc, "strerror", None) or "timed out") from exc
        return await asyncio.open_connection(sock=sock)

    @staticmethod
    def _let_node_close(writer: asyncio.StreamWriter | None) -> None:
        """End the upstream leg without leaving TIME-WAIT on the NAT port (RFC 793: the
        side that closes first keeps it, and the next connection from that port to the
        same node would fail for its duration): what was written (the NOTIFICATION) goes
        out, the node closes after it (RFC 4271 §6) and we close in answer; a node that
        has not closed within ``NODE_LINGER`` seconds is reset."""
        if writer is not None and not writer.is_closing():
            asyncio.get_running_loop().call_later(NODE_LINGER, reset, writer)

    @staticmethod
    def _close_writer(writer: asyncio.StreamWriter | None) -> None:
        if writer is not None and not writer.is_closing():
            writer.close()

    def _close_everything(self, reason: str) -> None:
        self.relay.phase = Phase.CLOSED
        self.relay.closed_reason = reason
        self._generation += 1
        self.meta.vm_tcp = self.meta.node_tcp = "closed"
        self._close_writer(self.vm_writer)
        if self.node_writer is not None:
            reset(self.node_writer)
        self._finish()

    def _finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._draining.values():
            task.cancel()
        self._draining.clear()
        for event in self._readable.values():  # the read loops see their connections closed
            event.set()
        if not self.closed.is_set():
            self.closed.set()
            log.info("%s -> %s: session closed: %s", self.meta.vm_address, self.meta.facing_address,
                     self.relay.closed_reason)
            self.server.ended(self)

    def abort(self) -> None:
        self._close_everything("proxy stopping")
        for task in list(self._tasks):
            task.cancel()


    # --- the proxy's own upgrade (proxy.handover) --------------------------------------

    def busy(self) -> bool:
        """A leg waits on flow control: not at a clean point."""
        return bool(self._draining)

    def _legs(self) -> list[tuple[Leg, asyncio.StreamReader, asyncio.StreamWriter]]:
        assert self.node_reader is not None and self.node_writer is not None
        return [(Leg.VM, self.vm_reader, self.vm_writer), (Leg.NODE, self.node_reader, self.node_writer)]

    def quiesce(self) -> None:
        """Stop reading both legs (what the kernel has not given us stays in the sockets for
        the next process) and hand the relay what was read already: each leg stops at a
        message boundary or inside the next message (``Relay.unread``)."""
        for leg, reader, writer in self._legs():
            self._readable[leg].clear()
            cast(asyncio.ReadTransport, writer.transport).pause_reading()
            task = self._readers.pop(leg, None)
            if task is not None:
                task.cancel()
            # asyncio's StreamReader keeps what it read but did not return yet (CPython: _buffer)
            buffered = getattr(reader, "_buffer", None)
            if buffered and self.relay.phase is not Phase.CLOSED:
                data = bytes(buffered)
                buffered.clear()
                feed = self.relay.vm_bytes if leg is Leg.VM else self.relay.node_bytes
                self.run(feed(data, self.server.now()))
        self._disarm()

    async def flush(self, deadline: float) -> str:
        """Wait (until ``deadline``, loop time) for both legs' writes to reach the kernel;
        "" when they did, else why not."""
        loop = asyncio.get_running_loop()
        for leg, _, writer in self._legs():
            while (left := writer.transport.get_write_buffer_size()) and not writer.is_closing():
                if loop.time() >= deadline:
                    return f"{self.meta.vm_address}: {left} octets to the {leg.value} leg still unsent"
                await asyncio.sleep(0.005)
        self._disarm()
        return ""

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def resume_reading(self) -> None:
        """The hand-over did not happen: read both legs again, timers armed."""
        if self.relay.phase is Phase.CLOSED:
            return
        for leg, _, writer in self._legs():
            self._readable[leg].set()
            cast(asyncio.ReadTransport, writer.transport).resume_reading()
        self._spawn(self._read_vm())
        self._spawn(self._read_node(self.relay.node, self._generation))
        self._arm()

    def detach(self) -> None:
        """The session went to the new process: drop our descriptors without a word on
        either leg (the connections live on in the new process's)."""
        self._disarm()
        for task in list(self._tasks):
            task.cancel()
        for _, _, writer in self._legs():
            writer.transport.close()  # our descriptor only: no FIN while the new one holds it
        self.closed.set()

    def adopt(self) -> None:
        """A session taken over (both connections set): read both legs and go on from the
        octets the old process had read of each leg's next message."""
        now = self.server.now()
        self._spawn(self._read_vm())
        self._spawn(self._read_node(self.relay.node, self._generation))
        self.run([*self.relay.vm_bytes(b"", now), *self.relay.node_bytes(b"", now)])


class ProxyServer:
    """Every listener and session of one configuration."""

    def __init__(self, config: ProxyConfig, now: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.now = now
        self.wall_offset = time.time() - now()
        self.sessions: dict[tuple[str, str, str], Session] = {}
        #: what the last ``CLOSED_KEPT`` closed sessions looked like when they closed
        self.closed_views: deque[ProxySession] = deque(maxlen=CLOSED_KEPT)
        self.node_connections: dict[str, int] = {}
        self.node_failures: dict[str, int] = {}
        self.rejected = 0
        self._servers: list[asyncio.Server] = []
        #: a take-over is under way: VMs connecting now are closed (they connect again)
        self.handing = False

    async def start(self, adopted: list[socket.socket] | None = None) -> None:
        """Listen on every VM-facing address; ``adopted``: listening sockets taken over
        (used for the addresses they are bound to, the others closed)."""
        taken = {(ipaddress.ip_address(s.getsockname()[0]), s.getsockname()[1]): s for s in adopted or []}
        for net in self.config.networks:
            for address in (*net.gateway, *net.service):
                sock = taken.pop((address, self.config.listen_port), None)
                if sock is not None:
                    server = await asyncio.start_server(self._accept, sock=sock)
                else:
                    server = await asyncio.start_server(self._accept, host=str(address),
                                                        port=self.config.listen_port, reuse_address=True)
                self._servers.append(server)
                log.info("network %s: listening on %s port %d%s", net.name, address, self.config.listen_port,
                         " (taken over)" if sock is not None else "")
        for sock in taken.values():
            sock.close()

    def listening(self) -> list[int]:
        """The listening sockets' descriptors (a take-over passes them)."""
        return [s.fileno() for server in self._servers for s in server.sockets]

    def stop_listening(self) -> None:
        """After a take-over: our listening descriptors go (the new process has its own)."""
        for server in self._servers:
            server.close()
        self._servers = []

    def _busy_nodes(self, relay: Relay, network: str, interface: str) -> Callable[[], set[str]]:
        return lambda: {s.relay.node for s in self.sessions.values() if s.relay is not relay
                        and s.meta.network == network and s.meta.interface == interface}

    async def adopt(self, meta: SessionMeta, relay: Relay, vm: socket.socket, node: socket.socket) -> None:
        """A session taken over from the process we replace."""
        relay.busy_nodes = self._busy_nodes(relay, meta.network, meta.interface)
        legs = await asyncio.open_connection(sock=vm)
        session = Session(self, meta, relay, legs, self.config.control_node_port)
        session.node_reader, session.node_writer = await asyncio.open_connection(sock=node)
        self.sessions[session.key] = session
        session.adopt()

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for session in list(self.sessions.values()):
            session.abort()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        local_ip = ipaddress.ip_address(local[0].split("%")[0])
        found = self.place(local_ip, ipaddress.ip_address(peer[0].split("%")[0]))
        if self.handing:
            log.info("connection from %s to %s during a take-over: closed (it connects again)",
                     peer[0], local[0])
            writer.close()
            return
        if found is None:
            self.rejected += 1
            log.warning("connection from %s to %s: not a configured VM interface; closed", peer[0], local[0])
            writer.close()
            return
        net, kind, interface = found
        vm_ip = ipaddress.ip_address(peer[0].split("%")[0])
        key = port_key(net.name, interface, kind, vm_ip.version == 6)
        upstream = self.config.upstream_addresses.get(key, net.upstream_address)  # a pool's or the one
        meta = SessionMeta(net.name, interface, str(vm_ip), peer[1], local[0], kind,
                           self.config.nat_ports[key], upstream)
        old = self.sessions.get((net.name, str(vm_ip), local[0]))
        if old is not None:  # the VM reconnected: its old session is over
            old.abort()
        relay = Relay(nodes_for(net.name, interface, kind, net.control_nodes), net.options)
        relay.busy_nodes = self._busy_nodes(relay, net.name, interface)
        session = Session(self, meta, relay, (reader, writer), self.config.control_node_port)
        self.sessions[session.key] = session
        session.start()

    def place(self, local: Address, peer: Address) -> tuple[Network, SessionKind, str] | None:
        net = self.config.network_for(local)
        if net is None:
            return None
        kind = net.kind_of(local)
        vm = net.vm_of(peer)
        if kind is None or vm is None:
            return None
        return net, kind, vm.interface

    def ended(self, session: Session) -> None:
        if self.sessions.get(session.key) is session:
            del self.sessions[session.key]
        self.closed_views.append(session_view(session.meta, session.relay, self.wall_offset))
