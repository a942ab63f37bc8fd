"""The take-over exchange over <state-dir>/handover.sock (issue 19, runtime.takeover): a
refusal reaches the new process with its reason; an accepted request gets the state and
the sockets (SCM_RIGHTS), under the numbers the state names them by. Real Unix sockets
in a temporary directory; the request runs in a thread, as the new process would block."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from gracebgp.restart.handover import HandoverState, SessionRecord, encode
from gracebgp.runtime import handover, takeover


def _ask(state_dir: Path, reads: list[int], out: dict[str, Any]) -> threading.Thread:
    def run() -> None:
        try:
            out["got"] = takeover.request(state_dir, reads, timeout=10)
        except takeover.TakeOverError as exc:
            out["error"] = str(exc)
    t = threading.Thread(target=run)
    t.start()
    return t


def test_issue19_a_refused_take_over_says_why(tmp_path: Path) -> None:
    async def main() -> dict[str, Any]:
        seen: list[dict[str, Any]] = []

        def decide(request: dict[str, Any]) -> str:
            seen.append(request)
            return "peer 192.0.2.1: ADD-PATH"

        listener = takeover.Listener(tmp_path, decide)
        await listener.start()
        assert (tmp_path / takeover.SOCK_NAME).stat().st_mode & 0o777 == 0o600
        out: dict[str, Any] = {}
        t = _ask(tmp_path, [1], out)
        await asyncio.wait_for(asyncio.to_thread(t.join, 10), 15)
        assert listener.accepted is None
        listener.close()
        assert seen and seen[0]["pid"] == os.getpid() and seen[0]["reads"] == [1]
        return out

    out = asyncio.run(main())
    assert "refused the take-over: peer 192.0.2.1: ADD-PATH" in out["error"], out
    assert not (tmp_path / takeover.SOCK_NAME).exists()


def _state(fd: int, unread: bytes = b"") -> bytes:
    record = SessionRecord("192.0.2.1", fd, True, "192.0.2.2", 0.0, b"", b"", unread)
    return encode(HandoverState(1, 0.0, (record,)))


def test_issue19_an_accepted_take_over_passes_state_and_sockets(tmp_path: Path) -> None:
    a, b = socket.socketpair()
    state = _state(77, os.urandom(300_000))  # larger than one read

    async def main() -> dict[str, Any]:
        listener = takeover.Listener(tmp_path, lambda r: "")
        await listener.start()
        out: dict[str, Any] = {}
        t = _ask(tmp_path, [1], out)
        for _ in range(500):  # bounded: until the request is in
            if listener.accepted is not None:
                break
            await asyncio.sleep(0.01)
        assert listener.accepted is not None
        listener.send(state, {a.fileno(): 77})  # the state calls it 77
        await asyncio.to_thread(t.join, 10)
        listener.close()
        return out

    out = asyncio.run(main())
    got_state, fds = out["got"]
    assert got_state == state and set(fds) == {77}
    mine = socket.socket(fileno=fds[77])
    try:
        mine.sendall(b"through the passed socket")
        assert b.recv(100) == b"through the passed socket"
    finally:
        mine.close()
        a.close()
        b.close()


def test_issue19_no_running_daemon_is_a_take_over_error(tmp_path: Path) -> None:
    with pytest.raises(takeover.NothingToTakeOver, match="no gracebgpd runs on"):
        takeover.request(tmp_path, [1], timeout=2)


def test_issue19_take_over_refuses_code_that_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(takeover.TakeOverError, match="cannot import uvicorn"):
        takeover.take(tmp_path, ["cannot import uvicorn: RuntimeError"], [1])


def _accepted(tmp_path: Path, state: bytes, fds: dict[int, int]) -> tuple[dict[str, Any], str]:
    """One take-over: (the taker's outcome, what ``send`` raised or "")."""
    async def main() -> tuple[dict[str, Any], str]:
        listener = takeover.Listener(tmp_path, lambda r: "")
        await listener.start()
        out: dict[str, Any] = {}
        t = _ask(tmp_path, [1], out)
        for _ in range(500):  # bounded: until the request is in
            if listener.accepted is not None:
                break
            await asyncio.sleep(0.01)
        assert listener.accepted is not None
        raised = ""
        try:
            await asyncio.to_thread(listener.send, state, fds)
        except OSError as exc:
            raised = str(exc)
        await asyncio.to_thread(t.join, 10)
        listener.close()
        return out, raised

    return asyncio.run(main())


def test_issue19_a_taker_that_cannot_use_the_state_does_not_confirm(tmp_path: Path) -> None:
    """Review of issue 19, item 7: the taker decodes and checks the state before it says
    ``taken``; the running process hears why and keeps its sessions (``send`` raises)."""
    a, b = socket.socketpair()
    try:
        out, raised = _accepted(tmp_path, b"GRACEBGP-HANDOVER damaged", {a.fileno(): 77})
        assert "cannot be used here" in out["error"], out
        assert "did not confirm" in raised, raised
        out, raised = _accepted(tmp_path, _state(78), {a.fileno(): 77})  # no socket for the session
        assert "no socket arrived for 192.0.2.1" in out["error"] and "no socket arrived" in raised, raised
    finally:
        a.close()
        b.close()


def test_issue19_the_taker_s_pid_is_the_kernel_s(tmp_path: Path) -> None:
    """Review of issue 19, item 6: MAINPID names the pid SO_PEERCRED gives (a taker in
    another PID namespace knows itself as another number, e.g. 1), not the claimed one."""
    async def main() -> int | None:
        listener = takeover.Listener(tmp_path, lambda r: "")
        await listener.start()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        await asyncio.get_running_loop().sock_connect(s, str(tmp_path / takeover.SOCK_NAME))
        s.sendall(b'{"pid": 1, "reads": [1, 2]}')
        for _ in range(500):  # bounded: until the request is in
            if listener.accepted is not None:
                break
            await asyncio.sleep(0.01)
        pid = listener.accepted[1] if listener.accepted is not None else None
        s.close()
        listener.close()
        return pid

    assert asyncio.run(main()) == os.getpid()


def test_issue19_the_taker_bridges_keepalives_as_soon_as_it_holds_the_sockets(tmp_path: Path) -> None:
    """Review of issue 19, item 3: between the confirmation and the adoption (the old
    process's exit, the lock, reading the tables: seconds at 1M routes) the taker's
    keepalive bridge keeps the peers' hold timers running."""
    a, b = socket.socketpair()

    async def main() -> None:
        listener = takeover.Listener(tmp_path, lambda r: "")
        await listener.start()
        t = threading.Thread(target=takeover.take, args=(tmp_path, [], [1]))
        t.start()
        for _ in range(500):  # bounded: until the request is in
            if listener.accepted is not None:
                break
            await asyncio.sleep(0.01)
        await asyncio.to_thread(listener.send, _state(77), {a.fileno(): 77})
        await asyncio.to_thread(t.join, 10)
        listener.close()

    incoming = None
    try:
        asyncio.run(main())
        a.close()  # ours: only the taker's copy (and its bridge's) is left
        incoming = handover.incoming()
        assert incoming is not None and os.environ.get(handover.ENV_BRIDGE)
        b.settimeout(handover.BRIDGE_INTERVAL * 2.5)
        assert b.recv(19) == handover.KEEPALIVE
    finally:
        handover.stop_bridge()
        for fd in (incoming or (None, [], None))[1]:
            os.close(fd)
        b.close()
