"""``gracebgp bfd``: the request it sends (GET /v1/bfd) and the table and JSON it shows; the
API route's answer from gracebgp-bfdd's listing (api.bfd_routes)."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gracebgp.api import bfd_routes
from gracebgp.api.bfd_schema import BfdSession
from gracebgp.cli.main import run
from tests.unit.cli.fake import install

Capture = pytest.CaptureFixture[str]
SOCKET = "/run/test/gracebgpd.sock"

LISTED = {  # as gracebgp-bfdd lists a session (bfdd.server.Endpoint.status)
    "key": "192.0.2.2", "peer": "192.0.2.2", "local": "", "multihop": False, "port": 3784,
    "state": "up", "remote_state": "up", "local_discriminator": 1234, "remote_discriminator": 99,
    "tx_interval_us": 300_000, "rx_interval_us": 300_000, "detect_mult": 3, "remote_detect_mult": 3,
    "detection_time_us": 900_000, "local_c": True, "remote_c": False, "uptime": 3725.5,
    "local_diag": "none", "remote_diag": "none", "flaps": 2, "sent": 10, "received": 9, "discarded": 0,
}


def test_table_and_json(monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    seen: list[httpx.Request] = []

    def daemon(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[BfdSession.model_validate(LISTED).model_dump(mode="json")])

    install(monkeypatch, {SOCKET: daemon})
    assert run(["--socket", SOCKET, "bfd"]) == 0
    out = capsys.readouterr().out
    assert seen[0].url.path == "/v1/bfd"
    for text in ("192.0.2.2", "up", "1234/99", "300/300", "3/3", "900", "1/0", "01:02:05", "none"):
        assert text in out, text
    assert run(["--socket", SOCKET, "--json", "bfd"]) == 0
    [s] = json.loads(capsys.readouterr().out)
    assert (s["state"], s["local_c"], s["remote_c"], s["flaps"]) == ("up", True, False, 2)


def test_route_answers_from_the_link_and_empty_without_bfd() -> None:
    async def listing() -> list[dict[str, object]]:
        return [dict(LISTED, peer="192.0.2.9"), LISTED]

    app = FastAPI()
    bfd_routes.register(app, listing)
    got = TestClient(app).get("/v1/bfd").json()
    assert [s["peer"] for s in got] == ["192.0.2.2", "192.0.2.9"]
    bare = FastAPI()
    bfd_routes.register(bare, None)
    assert TestClient(bare).get("/v1/bfd").json() == []
