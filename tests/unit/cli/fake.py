"""A fake gracebgpd for the CLI's unit tests: an httpx.MockTransport answering from
canned schema objects (no sockets)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from gracebgp.api.client import Client
from gracebgp.cli.targets import Options, Target
from tests.unit.cli import canned


class FakeDaemon:
    def __init__(self, node: str = "edge1", router_id: str = "192.0.2.1") -> None:
        self.node, self.router_id = node, router_id
        self.requests: list[httpx.Request] = []
        self.healthy = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if path == "/v1/global":
            return ok(canned.global_(self.node, self.router_id).model_dump(mode="json"))
        if path == "/v1/peers" and method == "GET":
            return ok([canned.peer().model_dump(mode="json")])
        if path == "/v1/peers/192.0.2.2" and method == "GET":
            return ok(canned.peer().model_dump(mode="json"))
        if path.startswith("/v1/peers/192.0.2.2/"):
            return ok({"ok": True, "message": ""})
        if path.startswith("/v1/peers/"):
            return httpx.Response(404, json={"error": f"peer {path.split('/')[3]} not found", "detail": []})
        if path == "/v1/paths" and method == "GET":
            lines = [canned.path().model_dump_json(),
                     canned.path("10.0.1.0/24", best=False).model_dump_json()]
            return httpx.Response(200, content=("\n".join(lines) + "\n").encode(),
                                  headers={"content-type": "application/x-ndjson"})
        if path in ("/v1/paths", "/v1/paths/delete"):
            body = json.loads(request.content)
            return ok({"changed": len(body.get("paths", body.get("prefixes", []))), "unchanged": 0})
        if path == "/v1/health":
            h = canned.health(self.healthy)
            return httpx.Response(200 if h.healthy else 503, json=h.model_dump(mode="json"))
        if path == "/v1/events/history":
            return ok([canned.event(1).model_dump(mode="json"),
                       canned.event(2, "route", "10.0.0.0/24 added").model_dump(mode="json")])
        if path == "/v1/events":
            body = "".join(f": keep-alive\n\ndata: {canned.event(i).model_dump_json()}\n\n"
                           for i in (1, 2, 3))
            return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})
        if path == "/metrics":
            return httpx.Response(200, text="# HELP x\nx 1\n")
        return httpx.Response(404, json={"detail": "Not Found"})


def ok(data: object) -> httpx.Response:
    return httpx.Response(200, json=data)


Handler = Callable[[httpx.Request], httpx.Response]


def install(monkeypatch: pytest.MonkeyPatch, daemons: dict[str, Handler]) -> None:
    """Route every target address to its fake daemon."""
    def client(self: Options, target: Target, timeout: float | None = None) -> Client:
        return Client(target.address, token=self.token, timeout=self.timeout if timeout is None else timeout,
                      transport=httpx.MockTransport(daemons[target.address]))
    monkeypatch.setattr(Options, "client", client)
