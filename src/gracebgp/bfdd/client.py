"""gracebgpd's end of the control socket: find (or start) gracebgp-bfdd, hand it the wanted
sessions, and pass its state changes on; reconnect and re-send after bfdd or the socket
went away. The client never stops bfdd by going away: a re-executed gracebgpd connects
again and adopts the sessions (the snapshot); only ``stop_daemon`` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from gracebgp.bfdd import handoff
from gracebgp.bfdd.protocol import SessionSpec, dumps, loads

log = logging.getLogger("gracebgp.bfd")

START_WAIT = 5.0  # seconds for a new bfdd's control socket to appear
RECONNECT = 1.0


class BfddClient:
    """One connection to gracebgp-bfdd; ``on_message`` gets each event (snapshot, state)."""

    def __init__(self, control_path: str, on_message: Callable[[dict[str, Any]], None], *,
                 spawn: bool = True, log_path: str | None = None,
                 command: Sequence[str] | None = None,
                 on_disconnect: Callable[[], None] | None = None) -> None:
        self.control_path = control_path
        self.on_message = on_message
        self.on_disconnect = on_disconnect  # bfdd went away (before reconnecting)
        self.spawn = spawn
        self.log_path = log_path
        self.command = list(command or (sys.executable, "-m", "gracebgp.bfdd"))
        self.wanted: list[SessionSpec] = []
        self.pid: int | None = None  # bfdd's, from its snapshot
        self.code: str | None = None  # the code it runs (protocol.code_fingerprint), ditto
        self.connected = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._replies: deque[asyncio.Future[dict[str, Any]]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None  # waits for a replaced bfdd we started
        self._closing = False

    async def start(self, code: str | None = None) -> None:
        """Connect, starting bfdd first when nothing answers; then keep the connection.
        ``code``: this side's ``code_fingerprint()``. A bfdd that runs other code (an
        upgrade since it started) hands its sessions, sockets and discriminators to a new
        bfdd (``--take-over``), so the peers see nothing; one that cannot (older code
        without the hand-over) is kept: never AdminDown, which FRR and BIRD (``bfd on``)
        take as a failure."""
        await self._connect()
        if code is not None and self.code != code and self.spawn:
            log.warning("gracebgp-bfdd (pid %s) runs other code (%s, on disk %s): handing its "
                        "sessions to a new one", self.pid, self.code, code,
                        extra={"event": "bfdd-replaced"})
            await self._replace()
        self._task = asyncio.create_task(self._keep())

    async def _replace(self) -> None:
        """Start the bfdd on disk with ``--take-over`` and wait (bounded) until it answers on
        the control socket; if it gives up, stay with the running one."""
        assert self._writer is not None
        old_pid = self.pid
        proc = self._spawn(take_over=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_WAIT + handoff.TIMEOUT
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            if proc.poll() is not None:
                log.error("gracebgp-bfdd (pid %s) did not hand over (exit %s): it runs on, with its "
                          "code", old_pid, proc.returncode, extra={"event": "bfdd-kept"})
                return
            pair = await self._open()
            if pair is None:
                continue
            reader, writer = pair
            try:  # (the old bfdd may take this connection and close it as it hands over)
                line = await asyncio.wait_for(reader.readline(), START_WAIT)
                first = loads(line) if line else {}
            except (ConnectionError, TimeoutError, ValueError):
                first = {}
            if first.get("pid") != proc.pid:
                writer.close()
                continue
            self._writer.close()
            self._reader, self._writer = reader, writer
            self._greeted(first)
            if isinstance(old_pid, int):
                self._reaper = asyncio.create_task(_reap(old_pid))
            return
        raise ConnectionError(f"the new gracebgp-bfdd (pid {proc.pid}) did not answer within "
                              f"{START_WAIT + handoff.TIMEOUT:g}s")

    async def close(self) -> None:
        """Disconnect; bfdd and its sessions go on (a planned restart re-adopts them)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.close()

    async def set_sessions(self, specs: Sequence[SessionSpec]) -> dict[str, str]:
        """Hand bfdd the wanted set; returns the sessions it could not set up, with why."""
        self.wanted = list(specs)
        if self._writer is None:
            return {}
        reply = await self.request({"op": "set", "sessions": [s.to_dict() for s in self.wanted]})
        return {str(k): str(v) for k, v in dict(reply.get("failed") or {}).items()}

    async def list_sessions(self) -> dict[str, Any]:
        return await self.request({"op": "list"})

    async def stop_daemon(self) -> None:
        """bfdd sends AdminDown for every session and ends (RFC 5880 §6.8.16 says that is not
        a failure, but FRR and BIRD reset their BGP session on it: only when BFD really ends)."""
        with contextlib.suppress(ConnectionError, TimeoutError, RuntimeError):
            await self.request({"op": "stop"})

    async def request(self, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        if self._writer is None:
            raise RuntimeError("gracebgp-bfdd is not connected")
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies.append(fut)
        self._writer.write(dumps(message))
        await self._writer.drain()
        return await asyncio.wait_for(fut, timeout)

    # --- connection ---------------------------------------------------------------------

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.open_unix_connection(self.control_path)
        except (FileNotFoundError, ConnectionRefusedError):
            return None

    async def _connect(self) -> None:
        pair = await self._open()
        if pair is None and self.spawn:
            self._spawn()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + START_WAIT
            while pair is None and loop.time() < deadline:
                await asyncio.sleep(0.05)
                pair = await self._open()
        if pair is None:
            raise ConnectionError(f"gracebgp-bfdd does not answer on {self.control_path}")
        reader, self._writer = pair
        self._reader = reader
        self._greeted(loads(await asyncio.wait_for(reader.readline(), START_WAIT)))

    def _greeted(self, first: dict[str, Any]) -> None:
        """bfdd's snapshot on a new connection: adopt it and send the wanted sessions."""
        assert self._writer is not None
        self.pid = first.get("pid")
        self.code = first.get("code")
        self.on_message(first)
        self.connected.set()
        if self.wanted:
            self._writer.write(dumps({"op": "set", "sessions": [s.to_dict() for s in self.wanted]}))
            self._replies.append(asyncio.get_running_loop().create_future())

    def _spawn(self, take_over: bool = False) -> subprocess.Popen[bytes]:
        argv = [*self.command, "--socket", self.control_path, *(["--take-over"] if take_over else [])]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True, close_fds=True)
        finally:
            if self.log_path and not isinstance(out, int):
                out.close()
        log.info("started gracebgp-bfdd (pid %d)", proc.pid)
        return proc

    async def _keep(self) -> None:
        while not self._closing:
            try:
                while line := await self._reader.readline():
                    msg = loads(line)
                    if "event" in msg:
                        self.on_message(msg)
                    elif self._replies:
                        fut = self._replies.popleft()
                        if not fut.done():
                            fut.set_result(msg)
            except (ConnectionError, ValueError) as exc:
                log.warning("gracebgp-bfdd connection: %s", exc)
            self.connected.clear()
            self._writer = None
            if self.on_disconnect is not None:
                self.on_disconnect()
            while self._replies:
                fut = self._replies.popleft()
                if not fut.done():
                    fut.set_exception(ConnectionError("gracebgp-bfdd went away"))
            if self._closing:
                return
            log.warning("gracebgp-bfdd went away; reconnecting")
            if isinstance(self.pid, int) and (self._reaper is None or self._reaper.done()):
                # One we started may have died: collect it, also when we started it before a
                # re-exec (same PID, no Popen left to do it), so it leaves no zombie.
                self._reaper = asyncio.create_task(_reap(self.pid))
            while not self._closing:
                await asyncio.sleep(RECONNECT)
                with contextlib.suppress(ConnectionError, OSError, ValueError, TimeoutError):
                    await self._connect()
                    break


async def _reap(pid: int) -> None:
    """Collect the exit status of a replaced bfdd that this process (or its earlier self
    before a re-exec, the same PID) started, so it leaves no zombie; bounded."""
    for _ in range(100):
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return  # not our child: its parent or init collects it
        if done:
            return
        await asyncio.sleep(0.1)
