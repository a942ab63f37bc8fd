"""runtime/limits.py and runtime/httpguard.py without a daemon: the rate-limited log
line, the quiet accept-error handler, the fd share of the API, the gated accept()."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from typing import Any

import pytest
import uvicorn

from gracebgp.runtime import limits
from gracebgp.runtime.httpguard import GatedSocket, ListenerGuard, protocol_for


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limited_logs_the_first_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limited = limits.RateLimited(logging.getLogger("t"), logging.WARNING, "%d more refused in the last %d s",
                                 interval=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, "t"):
        for i in range(500):
            limited("refused %s", i)
        assert [r.getMessage() for r in caplog.records] == ["refused 0"]
        clock.now += 10.0
        limited("refused %s", "late")
    assert [r.getMessage() for r in caplog.records] == [
        "refused 0", "499 more refused in the last 10 s", "refused late"]
    assert limited.total == 501


def test_rate_limited_summary_comes_on_its_own_in_a_loop(caplog: pytest.LogCaptureFixture) -> None:
    async def flood() -> None:
        limited = limits.RateLimited(logging.getLogger("t"), logging.WARNING, "%d more in %d s",
                                     interval=0.05)
        for _ in range(10):
            limited("first")
        await asyncio.sleep(0.1)
    with caplog.at_level(logging.WARNING, "t"):
        asyncio.run(flood())
    assert [r.getMessage() for r in caplog.records] == ["first", "9 more in 0 s"]


def test_accept_errors_are_quiet_other_errors_go_on(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        other: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _, context: other.append(context))
        limits.quiet_accept_errors(loop)
        limits.quiet_accept_errors(loop)  # idempotent
        with socket.socket() as listener, caplog.at_level(logging.ERROR, "gracebgp.limits"):
            listener.bind(("127.0.0.1", 0))
            for _ in range(2048):  # what asyncio does in one turn when accept() fails with EMFILE
                loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                             "exception": OSError(errno.EMFILE, "Too many open files"),
                                             "socket": listener})
            loop.call_exception_handler({"message": "something else"})
        assert len(caplog.records) == 1
        assert "cannot accept connections on 127.0.0.1 port" in caplog.records[0].getMessage()
        assert "Too many open files" in caplog.records[0].getMessage()
        assert other == [{"message": "something else"}]
    finally:
        loop.close()


def test_api_share_of_descriptors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "fd_limit", lambda: 1024)
    assert limits.api_connection_cap(2) == (1024 - limits.BGP_RESERVE) // 4
    monkeypatch.setattr(limits, "fd_limit", lambda: 65536)
    assert limits.api_connection_cap(2) == limits.API_CONNECTIONS
    monkeypatch.setattr(limits, "fd_limit", lambda: 100)
    assert limits.api_connection_cap(2) == 4


def test_gated_accept_closes_connections_over_the_cap() -> None:
    guard = ListenerGuard("test", cap=2)
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen(16)
        address = plain.getsockname()
        listener = GatedSocket.gate(plain, guard)
    clients = [socket.create_connection(address, timeout=2.0) for _ in range(5)]
    try:
        listener.setblocking(False)
        first, _ = listener.accept()
        second, _ = listener.accept()
        with pytest.raises(BlockingIOError):  # the other three: accepted and closed at once
            listener.accept()
        assert guard.active == 2 and guard.refused == 3
        first.close()
        assert guard.active == 1
        for c in clients[2:]:
            c.settimeout(2.0)
            assert c.recv(1) == b""
        second.close()
    finally:
        for c in clients:
            c.close()
        listener.close()


async def _serve_guarded(guard: ListenerGuard) -> tuple[uvicorn.Server, int]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"got %d" % len(body)})
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    port = plain.getsockname()[1]
    config = uvicorn.Config(app, http=protocol_for(guard), log_config=None, lifespan="off")
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)  # what Server.serve sets up before startup
    await server.startup(sockets=[GatedSocket.gate(plain, guard)])
    return server, port


def test_head_and_body_deadlines_close_slow_clients() -> None:
    async def scenario() -> None:
        guard = ListenerGuard("test", cap=8, head_timeout=0.3, body_timeout=0.3)
        server, port = await _serve_guarded(guard)
        try:
            ok_r, ok_w = await asyncio.open_connection("127.0.0.1", port)
            head_r, head_w = await asyncio.open_connection("127.0.0.1", port)
            body_r, body_w = await asyncio.open_connection("127.0.0.1", port)
            head_w.write(b"POST / HTTP/1.1\r\nHost: x\r\n")  # never finished
            body_w.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")  # 3 of 10
            ok_w.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
            assert (await asyncio.wait_for(ok_r.readuntil(b"got 10"), 2.0)).startswith(b"HTTP/1.1 200")
            assert await asyncio.wait_for(head_r.read(), 2.0) == b""  # closed, no answer
            assert await asyncio.wait_for(body_r.read(), 2.0) == b""
            assert guard.closed_slow == 2
            for w in (ok_w, head_w, body_w):
                w.close()
        finally:
            server.should_exit = True
            await server.shutdown()
    asyncio.run(scenario())
