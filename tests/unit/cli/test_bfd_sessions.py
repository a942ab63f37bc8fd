"""``gracebgp bfd``: the request it sends (GET /v1/bfd) and the table and JSON it shows; the
API route's answer from gracebgp-bfdd's listing (api.bfd_routes)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

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


class Link:
    """What runtime.bfdlink.BfdLink offers the API: the last known status and a listing."""

    def __init__(self) -> None:
        down = dict(LISTED, peer="192.0.2.9", state="down", flaps=5)
        self.status: dict[str, dict[str, Any]] = {"192.0.2.2": LISTED, "192.0.2.9": down}
        self.connected = True

    async def sessions(self) -> list[dict[str, Any]]:
        return [self.status["192.0.2.9"], self.status["192.0.2.2"]]


def test_route_and_metrics_answer_from_the_link_and_nothing_without_bfd() -> None:
    app, registry = FastAPI(), CollectorRegistry()
    bfd_routes.register(app, Link(), registry)
    got = TestClient(app).get("/v1/bfd").json()
    assert [s["peer"] for s in got] == ["192.0.2.2", "192.0.2.9"]
    text = generate_latest(registry).decode()
    for line in ('gracebgp_bfd_session_up{peer="192.0.2.2"} 1.0',
                 'gracebgp_bfd_session_up{peer="192.0.2.9"} 0.0',
                 'gracebgp_bfd_session_state{peer="192.0.2.9",state="down"} 1.0',
                 'gracebgp_bfd_detection_time_seconds{peer="192.0.2.2"} 0.9',
                 'gracebgp_bfd_flaps_total{peer="192.0.2.9"} 5.0',
                 "gracebgp_bfdd_connected 1.0"):
        assert line in text, line
    bare, empty = FastAPI(), CollectorRegistry()
    bfd_routes.register(bare, None, empty)
    assert TestClient(bare).get("/v1/bfd").json() == []
    assert "gracebgp_bfd" not in generate_latest(empty).decode()


def test_bfdd_away_shows_in_the_connected_gauge() -> None:
    """Review of issue 18, item 7: no metric said whether gracebgp-bfdd answers."""
    link, registry = Link(), CollectorRegistry()
    link.connected = False
    link.status.clear()  # what BfdLink does when bfdd goes away
    bfd_routes.register(FastAPI(), link, registry)
    text = generate_latest(registry).decode()
    assert "gracebgp_bfdd_connected 0.0" in text
    assert "gracebgp_bfd_session_up{" not in text
