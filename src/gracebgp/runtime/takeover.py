"""Take-over by a separately started process (issue 19, container upgrades): the new
gracebgpd (``gracebgpd --take-over``, another PID, maybe another container or PID
namespace sharing the state directory and the host network) asks the running one, over
the Unix socket ``<state-dir>/handover.sock``, for its sessions; the running one
quiesces them as for a re-exec (``runtime.handover``), then passes the sockets
(SCM_RIGHTS) and the state, and exits; the new one adopts them, takes the state
directory's lock once the old one is gone, and starts.

Transactional up to the confirmation: the new process loads its configuration and
imports everything before it asks; the running one refuses (and keeps every session) when
the new one cannot read its state format or a session cannot be handed over, and the new
process exits with that reason. The new process decodes the state and checks that a
socket arrived for each session before it confirms; until it does, the running one keeps
its own sockets and carries on with every session on anything but the confirmation (a
reason, or the connection closing). The new process starts the keepalive bridge
(``handover.start_bridge``) as soon as it holds the sockets and ends it once the sessions
are adopted. Once it has confirmed, the old process exits (or lingers, ``ENV_AFTER``): if
the new one dies then, the kernel closes the connections and the peers fall back to
graceful restart where they support it. The old process names the new one to systemd
(``MAINPID``) by the pid the kernel gives for the socket's other end (SO_PEERCRED: right
from another PID namespace too), not the one the request claims.

Messages: the request is one JSON object (``pid``, ``reads``: the state format versions
it reads); the answer one JSON line (``ok``, ``error`` or ``length`` and ``fds``: the
old descriptor numbers, in the order of the descriptors attached) with the descriptors,
then ``length`` octets of state; the new process confirms with ``taken`` or answers
why it cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from gracebgp.restart.handover import HandoverStateError, decode
from gracebgp.runtime import handover
from gracebgp.runtime.instance import InstanceError, InstanceLock, acquire

log = logging.getLogger("gracebgp.handover")

SOCK_NAME = "handover.sock"
TIMEOUT = 30.0  # each exchange on the socket, bounded
MAX_FDS = 4096
LOCK_WAIT = 15.0  # the old process exits right after passing the sessions; bounded
#: The old process after passing its sessions: "exit" (default), or "wait" for SIGTERM or
#: SIGINT (a Kubernetes pod whose container must not end and be restarted by the kubelet).
ENV_AFTER = "GRACEBGPD_AFTER_TAKE_OVER"
TAKEN_NAME = "handover-taken.state"
TAKEN = b"taken"  # the taker's confirmation; anything else (its reason) keeps the sessions where they are


class TakeOverError(Exception):
    """The take-over did not happen (the running process refused, or is not there)."""


class NothingToTakeOver(TakeOverError):
    """No gracebgpd listens on the state directory's socket: start as usual."""


class Listener:
    """The running daemon's side: accepts one take-over request at a time and asks
    ``decide(request)`` ("" to accept, else why not); an accepted connection waits in
    ``accepted`` for the daemon to send the sessions (``send``)."""

    def __init__(self, state_dir: str | Path, decide: Callable[[dict[str, Any]], str]) -> None:
        self.path = Path(state_dir) / SOCK_NAME
        self.decide = decide
        self.sock: socket.socket | None = None
        self.accepted: tuple[socket.socket, int] | None = None  # (connection, the taker's pid)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # ours: the state directory's lock is held
        sock.bind(str(self.path))
        os.chmod(self.path, 0o600)
        sock.listen(2)
        sock.setblocking(False)
        self.sock = sock
        self._task = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.sock is not None
        while self.accepted is None:
            conn, _ = await loop.sock_accept(self.sock)
            try:
                raw = await asyncio.wait_for(loop.sock_recv(conn, 65536), TIMEOUT)
                request = json.loads(raw.decode("utf-8"))
                if not isinstance(request, dict) or not isinstance(request.get("pid"), int):
                    raise ValueError("not a take-over request")
                request["pid"] = peer_pid(conn, request["pid"])
                why = self.decide(request)
            except (TimeoutError, ValueError, UnicodeDecodeError, OSError) as exc:
                why = f"bad request: {exc}"
                request = {}
            if why:
                log.warning("take-over by pid %s refused: %s", request.get("pid"), why)
                with contextlib.suppress(OSError):
                    await loop.sock_sendall(conn, json.dumps({"ok": False, "error": why}).encode() + b"\n")
                conn.close()
                continue
            self.accepted = (conn, int(request["pid"]))

    def reset(self) -> None:
        """After a take-over that did not complete: drop its connection, answer the next."""
        if self.accepted is not None:
            self.accepted[0].close()
            self.accepted = None
        if self.sock is not None and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._serve())

    def send(self, state: bytes, fds: dict[int, int]) -> None:
        """The state and the sockets (``fds``: our descriptor -> the number in the state)
        to the accepted taker, blocking (bounded): the owner loop has stopped. Raises
        OSError when the taker is gone or did not confirm (it could not read the state:
        then it says why), and the sessions stay here."""
        assert self.accepted is not None
        conn, _ = self.accepted
        conn.setblocking(True)
        conn.settimeout(TIMEOUT)
        head = json.dumps({"ok": True, "length": len(state), "fds": list(fds.values())}).encode() + b"\n"
        socket.send_fds(conn, [head], list(fds))
        conn.sendall(state)
        answer = conn.recv(4096)
        if answer != TAKEN:
            said = answer.decode("utf-8", "replace").strip() or "nothing: it closed the connection"
            raise OSError(f"the new process did not confirm ({said})")

    def close(self, unlink: bool = True) -> None:
        """Stop answering; ``unlink=False`` after a take-over: the path is the taker's now."""
        if self._task is not None:
            self._task.cancel()
        for s in (self.sock, self.accepted[0] if self.accepted else None):
            if s is not None:
                s.close()
        if unlink:
            with contextlib.suppress(OSError):
                self.path.unlink()


def request(state_dir: str | Path, reads: list[int], timeout: float = TIMEOUT,
            check: Callable[[bytes, list[int], list[int]], str] | None = None,
            who: str = "gracebgpd") -> tuple[bytes, dict[int, int]]:
    """The new process's side: ask the running daemon (``who``) for its sessions. Returns
    the state and the descriptors received (the number in the state -> ours here);
    TakeOverError with the reason when refused or when no daemon answers. ``check(state,
    numbers, fds)`` says why the state cannot be adopted ("" when it can: then we confirm);
    the default reads gracebgpd's state (gracebgp-proxyd passes its own)."""
    check = check or _unusable
    path = Path(state_dir) / SOCK_NAME
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        s.close()
        raise NothingToTakeOver(f"no {who} runs on {state_dir} ({exc.strerror or exc})") from None
    except OSError as exc:
        s.close()
        raise TakeOverError(f"cannot reach {path}: {exc.strerror or exc}") from None
    try:
        s.sendall(json.dumps({"pid": os.getpid(), "reads": reads}).encode())
        msg, fds, _, _ = socket.recv_fds(s, 65536, MAX_FDS)
        head, _, rest = msg.partition(b"\n")
        answer = json.loads(head.decode("utf-8"))
        if not answer.get("ok"):
            _close(fds)
            raise TakeOverError(f"the running {who} refused the take-over: {answer.get('error')}")
        length, numbers = int(answer["length"]), list(answer["fds"])
        chunks, got = [rest], len(rest)
        while got < length:
            chunk = s.recv(min(1 << 20, length - got))
            if not chunk:
                _close(fds)
                raise TakeOverError(f"the running {who} closed the connection during the hand-over")
            chunks.append(chunk)
            got += len(chunk)
        state = b"".join(chunks)
        why = check(state, numbers, fds)
        if why:  # the running process keeps its sessions (it resumes on anything but TAKEN)
            _close(fds)
            s.sendall(why.encode())
            raise TakeOverError(f"the state of the running {who} cannot be used here: {why}; it keeps "
                                "its sessions")
        s.sendall(TAKEN)
    except OSError as exc:
        raise TakeOverError(f"the running {who} did not complete the take-over on {path}: "
                            f"{exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise TakeOverError(f"the running {who} answered something else: {exc}") from None
    finally:
        s.close()
    return state, dict(zip(numbers, fds, strict=False))


def _unusable(state: bytes, numbers: list[int], fds: list[int]) -> str:
    """Why the received state and descriptors cannot be adopted here ("" when they can):
    checked before we confirm, while the running process can still carry on."""
    if len(numbers) != len(fds):
        return f"{len(fds)} descriptors arrived for {len(numbers)} sessions"
    try:
        decoded = decode(state)
    except HandoverStateError as exc:
        return str(exc)
    missing = [r.peer for r in decoded.sessions if r.fd not in numbers]
    return f"no socket arrived for {', '.join(missing)}" if missing else ""


def peer_pid(conn: socket.socket, claimed: int) -> int:
    """The pid of the process at the other end of the Unix socket ``conn``, as the kernel
    sees it from our PID namespace (SO_PEERCRED; a taker in another PID namespace knows
    itself by another number), else what it ``claimed``."""
    try:
        raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return claimed
    pid = struct.unpack("3i", raw)[0]
    return pid if pid > 0 else claimed


def _close(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def take(state_dir: str | Path, problems: list[str], reads: Iterable[int]) -> None:
    """``gracebgpd --take-over``, before the daemon starts: refuse if this code cannot
    run (``problems``: modules that do not import), else get the sessions and leave them
    where the start-up finds them (``handover.incoming``). TakeOverError says why not."""
    if problems:
        raise TakeOverError("the new code cannot run: " + "; ".join(problems))
    state, fds = request(state_dir, sorted(reads))
    path = Path(state_dir) / TAKEN_NAME
    path.write_bytes(state)
    # The keepalive bridge from now on: the old process has stopped writing, and our start
    # (the lock, the tables) takes seconds.
    handover.prepare_exec(path, list(fds.values()), fds, bridge=True)


def linger() -> None:
    """After passing the sessions, with ``GRACEBGPD_AFTER_TAKE_OVER=wait``: idle (holding
    nothing: lock released, sockets passed) until SIGTERM or SIGINT."""
    if os.environ.get(ENV_AFTER, "exit") != "wait":
        return
    import signal  # noqa: PLC0415 (only here)

    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    log.info("sessions taken over; waiting for SIGTERM (%s=wait)", ENV_AFTER)
    signal.sigwait(signals)


def acquire_within(state_dir: str | Path, wait: float) -> InstanceLock:
    """The state directory's lock, waiting up to ``wait`` seconds while another process
    holds it (the one we took over from, exiting)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return acquire(state_dir)
        except InstanceError as exc:
            if exc.pid is None or time.monotonic() >= deadline:
                raise
        time.sleep(0.02)
