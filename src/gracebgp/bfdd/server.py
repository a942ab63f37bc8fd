"""gracebgp-bfdd's event loop: BFD sessions on UDP, driven by their deadlines, and the Unix
control socket gracebgpd talks to (``protocol``).

RFC 5880 §6.3 (demultiplexing: Your Discriminator, else the source address), §6.8.16
(AdminDown before a session is removed or the process stops), RFC 5881 §5 (single hop:
received TTL must be 255), RFC 5883 §5 (multihop: port 4784, no TTL check). Each session's
``next_deadline()`` is one ``call_at``; nothing here waits on gracebgpd, which may be busy
or re-executing: the sessions go on, and a client that connects again gets a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from gracebgp.bfd.codes import MULTIHOP_PORT, SINGLE_HOP_PORT, SINGLE_HOP_TTL, Diag, SessionState
from gracebgp.bfd.packet import ControlPacket, Discard, decode
from gracebgp.bfd.session import BfdParams, BfdSession, Output, SendPacket, StateChanged
from gracebgp.bfdd import handoff, sockets
from gracebgp.bfdd.protocol import SessionSpec, code_fingerprint, dumps, loads

log = logging.getLogger("gracebgp.bfdd")

#: How long a removed session (or every session, at stop) keeps telling AdminDown at most
#: (RFC 5880 §6.8.16 asks for the peer's Detection Time; bounded so a stop stays prompt).
ADMIN_DOWN_LINGER = 3.0


def _name(value: int, enum: type[SessionState] | type[Diag]) -> str:
    try:
        return enum(value).name.lower().replace("_", "-")
    except ValueError:
        return str(value)


@dataclass
class Endpoint:
    """One session with its socket and timer."""

    spec: SessionSpec
    session: BfdSession
    sock: socket.socket
    timer: asyncio.TimerHandle | None = None
    removing: bool = False
    counters: dict[str, int] = field(default_factory=dict)

    def status(self, loop_now: float) -> dict[str, Any]:
        s = self.session
        up_for = None if s.up_since is None else round(loop_now - s.up_since, 3)
        return {
            "key": self.spec.key, "peer": self.spec.peer, "local": self.spec.local,
            "multihop": self.spec.multihop, "port": self.spec.port,
            "state": _name(s.state, SessionState), "remote_state": _name(s.remote_state, SessionState),
            "local_discriminator": s.local_discr, "remote_discriminator": s.remote_discr,
            "tx_interval_us": s.tx_interval_us,
            "rx_interval_us": max(s.rx_in_use_us, s.remote_desired_min_tx_us),
            "detect_mult": s.params.detect_mult, "remote_detect_mult": s.remote_detect_mult,
            "detection_time_us": s.detection_time_us,
            "local_c": s.params.control_plane_independent, "remote_c": s.remote_c,
            "uptime": up_for, "local_diag": _name(s.local_diag, Diag),
            "remote_diag": _name(s.remote_diag, Diag), "flaps": s.flaps,
            "sent": s.sent, "received": s.received, "discarded": s.discarded,
        }


class BfdServer:
    """The BFD sessions of one host and the clients that configure them."""

    def __init__(self, control_path: str, listen: tuple[str, ...] = ("0.0.0.0", "::"),
                 orphan_timeout: float = 300.0, control_plane_independent: bool = True,
                 take_over: bool = False) -> None:
        self.control_path = control_path
        self.listen = listen
        self.orphan_timeout = orphan_timeout
        self.cbit = control_plane_independent
        self.endpoints: dict[str, Endpoint] = {}
        self.by_discr: dict[int, Endpoint] = {}
        self.clients: set[asyncio.StreamWriter] = set()
        self.discards: dict[str, int] = {}
        self._rng = random.Random(int.from_bytes(os.urandom(8), "big"))
        self._rx: list[socket.socket] = []
        self._rx_addrs: list[tuple[str, bool]] = []  # (address, multihop) of each of _rx
        self._done = asyncio.Event()
        self._orphan: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Future[None] | None = None
        self.code = code_fingerprint()  # the code this process runs, for the clients
        self.take_over = take_over  # start with the sessions of the bfdd on control_path
        self.handed_off = False  # given to a successor: end without AdminDown

    # --- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        adopted: set[tuple[str, bool]] = set()
        if self.take_over:
            adopted = self._adopt()
        for address in self.listen:
            for port, multihop in ((SINGLE_HOP_PORT, False), (MULTIHOP_PORT, True)):
                if (address, multihop) in adopted:
                    continue
                try:
                    sock = sockets.receive_socket(address, port)
                except OSError as exc:
                    log.warning("cannot listen on %s port %d: %s", address, port, exc)
                    continue
                self._rx.append(sock)
                self._rx_addrs.append((address, multihop))
                self._loop.add_reader(sock.fileno(), self._readable, sock, multihop)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.control_path)
        server = await asyncio.start_unix_server(self._client, self.control_path)
        os.chmod(self.control_path, 0o600)
        pidfile = self.control_path.removesuffix(".sock") + ".pid"
        with open(pidfile, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
        log.info("gracebgp-bfdd %d listening on %s", os.getpid(), self.control_path)
        self._arm_orphan()
        try:
            await self._done.wait()
        finally:
            server.close()
            for sock in self._rx:
                self._loop.remove_reader(sock.fileno())
                sock.close()
            for ep in list(self.endpoints.values()):
                self._drop(ep)
            if not self.handed_off:  # else they are the successor's now
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.control_path)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(pidfile)

    async def stop(self) -> None:
        """AdminDown every session (RFC 5880 §6.8.16; FRR and BIRD still reset BGP on it), keep
        saying so for a little while, then end."""
        now = self._now()
        linger = 0.0
        for ep in self.endpoints.values():
            self._outputs(ep, ep.session.disable(now))
            linger = max(linger, ep.session.remote_detection_time_us / 1e6)
        if self.endpoints:
            await asyncio.sleep(min(linger, ADMIN_DOWN_LINGER))
        self._done.set()

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _arm_orphan(self) -> None:
        if self.clients or self._loop is None or self.orphan_timeout <= 0:
            return
        if self._orphan is None:
            self._orphan = self._loop.call_later(self.orphan_timeout, self._orphaned)

    def _orphaned(self) -> None:
        log.warning("no gracebgpd for %gs: stopping", self.orphan_timeout)
        self.request_stop()

    def request_stop(self) -> None:
        """Start ``stop`` once (a signal, the orphan timer, a client's "stop")."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self.stop())

    # --- the control socket ---------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.add(writer)
        if self._orphan is not None:
            self._orphan.cancel()
            self._orphan = None
        now = self._now()
        writer.write(dumps({"event": "snapshot", "pid": os.getpid(), "code": self.code,
                            "sessions": [ep.status(now) for ep in self.endpoints.values()]}))
        try:
            while line := await reader.readline():
                try:
                    msg = loads(line)
                    if msg.get("op") == "handoff":
                        self._hand_off(writer)
                        if self.handed_off:
                            return
                        continue
                    reply = await self._request(msg)
                except (ValueError, TypeError, KeyError, OSError) as exc:
                    reply = {"ok": False, "error": str(exc)}
                writer.write(dumps(reply))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.clients.discard(writer)
            writer.close()
            self._arm_orphan()

    def _hand_off(self, writer: asyncio.StreamWriter) -> None:
        """Give every session and socket to the successor asking on ``writer`` (``handoff``);
        synchronous, so no timer or packet runs meanwhile. On success end at once, without
        AdminDown: the successor sends the next packets. On failure go on as before."""
        state = {"rx": [[a, m] for a, m in self._rx_addrs], "discards": self.discards,
                 "sessions": [{"spec": ep.spec.to_dict(), "session": ep.session.export(),
                               "removing": ep.removing} for ep in self.endpoints.values()]}
        fds = [s.fileno() for s in self._rx] + [ep.sock.fileno() for ep in self.endpoints.values()]
        sock = writer.get_extra_info("socket")
        if not handoff.give(sock.fileno(), state, fds):
            log.error("hand-over to a successor failed: going on")
            return
        self.handed_off = True
        for ep in self.endpoints.values():
            if ep.timer is not None:
                ep.timer.cancel()
                ep.timer = None
        assert self._loop is not None
        for rx in self._rx:
            self._loop.remove_reader(rx.fileno())
        log.info("sessions handed to a successor: ending without AdminDown")
        self._done.set()

    def _adopt(self) -> set[tuple[str, bool]]:
        """``--take-over``: the sessions and sockets of the bfdd on control_path; raises
        ``HandoffError`` when it does not hand them over (it then runs on)."""
        conn, state, fds = handoff.take(self.control_path)
        assert self._loop is not None
        with conn:
            rx_addrs = [(str(a), bool(m)) for a, m in state["rx"]]
            if len(fds) != len(rx_addrs) + len(state["sessions"]):
                raise handoff.HandoffError(f"{len(fds)} descriptors for {len(rx_addrs)} sockets and "
                                           f"{len(state['sessions'])} sessions")
            for (address, multihop), fd in zip(rx_addrs, fds[:len(rx_addrs)], strict=True):
                sock = socket.socket(fileno=fd)
                sock.setblocking(False)
                self._rx.append(sock)
                self._rx_addrs.append((address, multihop))
                self._loop.add_reader(sock.fileno(), self._readable, sock, multihop)
            for item, fd in zip(state["sessions"], fds[len(rx_addrs):], strict=True):
                spec = SessionSpec.from_dict(item["spec"])
                session = BfdSession.restore(item["session"], self._params(spec), self._rng.random)
                tx = socket.socket(fileno=fd)
                tx.setblocking(False)
                ep = Endpoint(spec, session, tx, removing=bool(item.get("removing")))
                self.endpoints[spec.key] = ep
                self.by_discr[session.local_discr] = ep
                self._arm(ep)
                if ep.removing:
                    self._loop.call_later(ADMIN_DOWN_LINGER, self._drop_if_removing, ep)
            self.discards.update(state.get("discards", {}))
            conn.sendall(handoff.ACK)
        log.info("took over %d sessions", len(self.endpoints))
        return set(rx_addrs)

    async def _request(self, msg: dict[str, Any]) -> dict[str, Any]:
        op = msg.get("op")
        if op == "set":
            specs = [SessionSpec.from_dict(d) for d in msg.get("sessions", [])]
            failed = self.configure(specs)
            return {"op": "set", "ok": not failed, "failed": failed}
        if op == "list":
            now = self._now()
            return {"op": "list", "ok": True, "discards": dict(self.discards),
                    "sessions": [ep.status(now) for ep in self.endpoints.values()]}
        if op == "stop":
            self.request_stop()
            return {"op": "stop", "ok": True}
        raise ValueError(f"unknown op {op!r}")

    def _publish(self, message: dict[str, Any]) -> None:
        data = dumps(message)
        for writer in list(self.clients):
            if writer.is_closing():
                self.clients.discard(writer)
            else:
                writer.write(data)

    # --- sessions -------------------------------------------------------------------------

    def configure(self, specs: list[SessionSpec]) -> dict[str, str]:
        """Make the running sessions the wanted ones: new ones start in Down, changed
        timers go through a Poll Sequence (§6.8.3), removed ones go AdminDown first.
        Returns the sessions that could not be set up, each with why (a socket that cannot
        be bound: the local address is not on the host yet); the others are set all the same,
        and a failed one is tried again with the next set."""
        now = self._now()
        failed: dict[str, str] = {}
        wanted = {s.key: s for s in specs}
        for key, old in list(self.endpoints.items()):
            if key not in wanted and not old.removing:
                self._remove(old, now)
        for key, spec in wanted.items():
            found = self.endpoints.get(key)
            if found is not None and found.removing:
                self._drop(found)  # removed, then wanted again: a new session
                found = None
            try:
                if found is None:
                    self._add(spec, now)
                    continue
                ep = found
                if (spec.local, spec.port) != (ep.spec.local, ep.spec.port):
                    sock = sockets.transmit_socket(spec.peer, spec.local, self._rng)
                    ep.sock.close()
                    ep.sock = sock
            except OSError as exc:  # the session keeps its old socket (or is not started)
                log.error("BFD session to %s: %s", key, exc)
                failed[key] = str(exc)
                continue
            ep.spec = spec
            self._outputs(ep, ep.session.set_params(self._params(spec), now))
        return failed

    def _params(self, spec: SessionSpec) -> BfdParams:
        return BfdParams(desired_min_tx_us=spec.desired_min_tx_us, required_min_rx_us=spec.required_min_rx_us,
                         detect_mult=spec.detect_mult, control_plane_independent=self.cbit)

    def _add(self, spec: SessionSpec, now: float) -> None:
        discr = 0
        while discr == 0 or discr in self.by_discr:
            discr = self._rng.randrange(1, 1 << 32)
        sock = sockets.transmit_socket(spec.peer, spec.local, self._rng)  # OSError: not started
        session = BfdSession(discr, self._params(spec), self._rng.random, now)
        ep = Endpoint(spec, session, sock)
        self.endpoints[spec.key] = ep
        self.by_discr[discr] = ep
        log.info("BFD session to %s added (discriminator %d)", spec.key, discr)
        self._arm(ep)

    def _remove(self, ep: Endpoint, now: float) -> None:
        ep.removing = True
        self._outputs(ep, ep.session.disable(now))
        linger = min(ep.session.remote_detection_time_us / 1e6, ADMIN_DOWN_LINGER)
        assert self._loop is not None
        self._loop.call_later(linger, self._drop_if_removing, ep)

    def _drop_if_removing(self, ep: Endpoint) -> None:
        if ep.removing and self.endpoints.get(ep.spec.key) is ep:
            self._drop(ep)

    def _drop(self, ep: Endpoint) -> None:
        if ep.timer is not None:
            ep.timer.cancel()
        ep.sock.close()
        self.endpoints.pop(ep.spec.key, None)
        self.by_discr.pop(ep.session.local_discr, None)

    def _arm(self, ep: Endpoint) -> None:
        if ep.timer is not None:
            ep.timer.cancel()
            ep.timer = None
        at = ep.session.next_deadline()
        if at is not None and self._loop is not None:
            ep.timer = self._loop.call_at(at, self._fire, ep)

    def _fire(self, ep: Endpoint) -> None:
        ep.timer = None
        if self.endpoints.get(ep.spec.key) is ep:
            self._outputs(ep, ep.session.expire(self._now()))

    def _outputs(self, ep: Endpoint, outs: list[Output]) -> None:
        for o in outs:
            if isinstance(o, SendPacket):
                sockets.send(ep.sock, o.data, ep.spec.peer, ep.spec.port)
            elif isinstance(o, StateChanged):
                log.info("BFD %s: %s -> %s (diag %s, remote diag %s, remote C=%d)", ep.spec.key,
                         _name(o.old, SessionState), _name(o.new, SessionState), _name(o.diag, Diag),
                         _name(o.remote_diag, Diag), o.remote_c)
                self._publish({"event": "state", "old": _name(o.old, SessionState), "at": time.time(),
                               "status": ep.status(self._now())})
        self._arm(ep)

    # --- packets --------------------------------------------------------------------------

    def _readable(self, sock: socket.socket, multihop: bool) -> None:
        for _ in range(64):  # bounded: timers run between bursts
            got = sockets.read(sock)
            if got is None:
                return
            self._datagram(*got, multihop=multihop)

    def _count(self, why: str) -> None:
        self.discards[why] = self.discards.get(why, 0) + 1

    def _datagram(self, data: bytes, src: str, ttl: int | None, *, multihop: bool) -> None:
        packet = decode(data)
        if isinstance(packet, Discard):
            self._count(packet.reason.name.lower())
            return
        ep = self._demux(packet, src, multihop)
        if ep is None:
            self._count("unknown_session")
            return
        if not multihop and ttl is not None and ttl != SINGLE_HOP_TTL:
            self._count("bad_ttl")  # RFC 5881 §5 (GTSM): one hop only
            return
        got = ep.session.receive(packet, self._now())
        if isinstance(got, Discard):
            self._count(got.reason.name.lower())
            return
        self._outputs(ep, got)

    def _demux(self, packet: ControlPacket, src: str, multihop: bool) -> Endpoint | None:
        """RFC 5880 §6.3: by Your Discriminator when set, else by the source address
        (RFC 5881 §3, RFC 5883 §4); either way the source must be the session's peer."""
        if packet.your_discriminator:
            ep = self.by_discr.get(packet.your_discriminator)
        else:
            ep = self.endpoints.get(f"{src}{'/multihop' if multihop else ''}")
        if ep is None or ep.spec.peer != src or ep.spec.multihop != multihop:
            return None
        return ep
