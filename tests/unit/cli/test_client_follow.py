"""WatchEvents across a daemon restart, against a mock transport: the stream's
``event: end``, a refused connection while the daemon is down, then a new stream resumed
with Last-Event-ID; bounded reconnection; no reconnection unless asked."""

from __future__ import annotations

import httpx
import pytest

from gracebgp.api import client as client_module
from gracebgp.api.client import Client, ClientError

STOP = 'event: end\ndata: {"reason": "stop"}\n\n'
EVENT = 'id: {id}\ndata: {{"seq": {seq}, "time": {seq}.0, "kind": "command", "message": "m{seq}"}}\n\n'


def test_end_of_stream_reconnects_and_resumes_after_the_last_id() -> None:
    seen_ids: list[str | None] = []
    answers = [
        ": gracebgpd events\n\n" + EVENT.format(id="r1.1", seq=1)
        + 'event: end\nid: r1.2\ndata: {"reason": "restart"}\n\n',
        None,  # down: connection refused
        ": gracebgpd events\n\n" + EVENT.format(id="r2.1", seq=1),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen_ids.append(request.headers.get("last-event-id"))
        text = answers.pop(0) if answers else None
        if text is None:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return httpx.Response(200, text=text)

    notes: list[str] = []
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c:
        events = c.watch_events(reconnect=5.0, on_status=notes.append)
        got = [next(events).message, next(events).message]
    assert got == ["m1", "m1"]
    assert seen_ids == [None, "r1.2", "r1.2"]
    assert notes == ["gracebgpd restarting; reconnecting...", "reconnected to gracebgpd at /x.sock"]


def test_reconnection_is_bounded() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(200, text=EVENT.format(id="r1.1", seq=1) + STOP)
        raise httpx.ConnectError("[Errno 2] No such file or directory", request=request)
    notes: list[str] = []
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c, \
            pytest.raises(ClientError, match=r"did not come back within 0\.3s"):
        list(c.watch_events(reconnect=0.3, on_status=notes.append))
    assert notes == ["gracebgpd stopping; reconnecting..."]
    assert 2 < len(calls) < 10  # backoff: 0.1, 0.2, ... within 0.3 s


def test_without_reconnect_the_end_ends_the_watch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=EVENT.format(id="r1.1", seq=1) + STOP)
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c:
        assert [e.seq for e in c.watch_events()] == [1]


def test_http_errors_are_not_retried() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "missing or wrong bearer token", "detail": []})
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c, \
            pytest.raises(ClientError, match="bearer token"):
        list(c.watch_events(reconnect=5.0))


def test_a_stopping_daemon_answering_with_the_end_alone_is_waited_for() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(200, text=": gracebgpd events\n\n" + STOP)
        return httpx.Response(200, text=STOP)  # still stopping: not reconnected yet
    notes: list[str] = []
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c, \
            pytest.raises(ClientError, match=r"did not come back within 0\.3s \(gracebgpd stopping\)"):
        list(c.watch_events(reconnect=0.3, on_status=notes.append))
    assert notes == ["gracebgpd stopping; reconnecting..."]
    assert 2 < len(calls) < 10


def test_a_daemon_that_keeps_ending_the_stream_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "RECONNECT_FIRST", 0.001)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=': gracebgpd events\n\nevent: end\ndata: {"reason": "restart"}\n\n')
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c, \
            pytest.raises(ClientError, match="giving up"):
        list(c.watch_events(reconnect=5.0))


def test_a_stream_closed_without_end_ends_the_watch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=EVENT.format(id="r1.1", seq=1))
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c:
        assert [e.seq for e in c.watch_events(reconnect=5.0)] == [1]
