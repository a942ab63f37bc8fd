"""The API client against a mock transport: parsing, errors as one line, NDJSON and SSE."""

from __future__ import annotations

import httpx
import pytest

from gracebgp.api.client import Client, ClientError, http_error, socket_path
from gracebgp.api.schema import Event, PathSpec, PeerAdd
from tests.unit.cli.fake import FakeDaemon


def client(daemon: FakeDaemon, target: str = "unix:/run/x.sock", token: str | None = None) -> Client:
    return Client(target, token=token, transport=httpx.MockTransport(daemon))


def test_socket_path() -> None:
    assert socket_path("unix:/run/x.sock") == "/run/x.sock"
    assert socket_path("/run/x.sock") == "/run/x.sock"
    assert socket_path("http://127.0.0.1:8179") is None


def test_answers_are_models() -> None:
    daemon = FakeDaemon()
    with client(daemon) as c:
        assert c.global_().router_id == "192.0.2.1"
        assert [p.address for p in c.peers()] == ["192.0.2.2"]
        assert c.peer("192.0.2.2").state == "Established"
        assert c.reset_peer("192.0.2.2", "soft-out").ok
        assert c.add_paths([PathSpec(prefix="10.0.0.0/24")]).changed == 1
        assert c.delete_paths(["10.0.0.0/24", "10.0.1.0/24"]).changed == 2
        assert [e.prefix for e in c.list_paths(table="adj-in", peer="192.0.2.2", longer=True)] == [
            "10.0.0.0/24", "10.0.1.0/24"]
        assert [e.seq for e in c.watch_events(routes=True)] == [1, 2, 3]
        assert len(c.events_history()) == 2
        assert c.metrics().startswith("# HELP")
    paths = [r for r in daemon.requests if r.url.path == "/v1/paths" and r.method == "GET"]
    assert dict(paths[0].url.params) == {"table": "adj-in", "family": "ipv4-unicast", "peer": "192.0.2.2",
                                         "longer": "true"}
    reset = next(r for r in daemon.requests if r.url.path.endswith("/reset"))
    assert b'"mode":"soft-out"' in reset.content
    assert daemon.requests[0].url.host == "gracebgpd"
    assert "authorization" not in daemon.requests[0].headers


def test_token_and_url() -> None:
    daemon = FakeDaemon()
    with client(daemon, "http://127.0.0.1:8179/", token="s3cret") as c:
        c.global_()
    assert daemon.requests[0].headers["authorization"] == "Bearer s3cret"
    assert str(daemon.requests[0].url) == "http://127.0.0.1:8179/v1/global"


def test_unhealthy_503_is_an_answer() -> None:
    daemon = FakeDaemon()
    daemon.healthy = False
    with client(daemon) as c:
        health = c.health()
    assert not health.healthy and health.conditions[0].type == "PeerDown"


def test_http_error_is_one_line() -> None:
    with client(FakeDaemon()) as c, pytest.raises(ClientError) as caught:
        c.enable_peer("10.0.0.9")
    assert str(caught.value) == "peer 10.0.0.9 not found"
    assert caught.value.status == 404
    assert caught.value.api_error is not None


def test_error_bodies() -> None:
    body = b'{"error": "bad prefix", "detail": ["10.0.0.0/33: bad length", "x", "y", "z"]}'
    e = http_error(400, "Bad Request", body)
    assert str(e) == "bad prefix (10.0.0.0/33: bad length; x; y; and 1 more)"
    e = http_error(422, "Unprocessable", b'{"detail": [{"loc": ["body", "peer_as"], "msg": "too big"}]}')
    assert str(e) == "invalid request (peer_as: too big)"
    e = http_error(502, "Bad Gateway", b"<html>\n oops \n</html>")
    assert str(e) == "HTTP 502 Bad Gateway: <html> oops </html>"
    assert e.status == 502


def test_streams_report_http_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "adj-in needs a peer", "detail": []})
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c, pytest.raises(ClientError,
                                                                                        match="needs a peer"):
        list(c.list_paths(table="adj-in"))


def test_nonsense_answer() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"hello": 1})
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c, pytest.raises(ClientError) as caught:
        c.global_()
    assert "unexpected answer from gracebgpd at /x.sock (expected Global)" in str(caught.value)


def test_add_peer_answered_with_done_fetches_the_peer() -> None:
    daemon = FakeDaemon()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"ok": True, "message": "added"})
        return daemon(request)
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c:
        assert c.add_peer(PeerAdd(address="192.0.2.2", peer_as=65002)).address == "192.0.2.2"


def test_sse_fields_and_overflow() -> None:
    stream = ('data: {"seq": 1, "time": 1.0, "kind": "route", "message": "a"}\n\n'
              "id: 2\nevent: something-else\ndata: {}\n\n"
              "event: overflow\ndata: {}\n\n")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=stream)
    events: list[Event] = []
    with Client("/x.sock", transport=httpx.MockTransport(handler)) as c, \
            pytest.raises(ClientError, match="fell behind"):
        events.extend(c.watch_events())
    assert [e.seq for e in events] == [1]


def test_transport_failure_is_one_line() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
    with Client("unix:/run/gracebgp/gracebgpd.sock", transport=httpx.MockTransport(handler)) as c, \
            pytest.raises(ClientError) as caught:
        c.peers()
    assert str(caught.value) == ("cannot reach gracebgpd at unix:/run/gracebgp/gracebgpd.sock: "
                                 "Connection refused (is gracebgpd running? see --socket)")
    assert caught.value.status is None
