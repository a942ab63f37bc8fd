"""``gracebgp proxy sessions``: the request it sends to gracebgp-proxyd and what it shows."""

from __future__ import annotations

import json

import httpx
import pytest

from gracebgp.api.proxy_schema import ProxyDirection, ProxySession
from gracebgp.cli.main import run
from tests.unit.cli.fake import install

Capture = pytest.CaptureFixture[str]
SOCKET = "/run/test/proxyd.sock"


def session() -> ProxySession:
    return ProxySession(
        network="blue", vm_interface="vmi-3", vm_address="192.168.100.3", vm_port=33273,
        vm_facing_address="192.168.100.1", kind="gateway", nat_port=50027, upstream_address="10.0.0.2",
        control_node="10.0.0.11", control_node_role="primary", control_nodes=["10.0.0.11", "10.0.0.12"],
        phase="established", vm_tcp="established", vm_bgp="established", node_tcp="established",
        node_bgp="established", hold_time=90, vm_as=65001, vm_router_id="192.168.100.3",
        prefixes_from_vm=1, prefixes_to_vm=2, from_vm=ProxyDirection(counts={"open": 1}),
        from_node=ProxyDirection())


def test_filters_reach_the_api_and_the_table_shows_the_nat_port(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: Capture) -> None:
    seen: list[httpx.Request] = []

    def proxyd(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[session().model_dump(mode="json")])

    install(monkeypatch, {SOCKET: proxyd})
    code = run(["proxy", "sessions", "--proxy-socket", SOCKET, "--vm", "192.168.100.3", "--nat-port", "50027",
                "--control-node", "10.0.0.11"])
    out = capsys.readouterr().out
    assert code == 0
    assert seen[0].url.path == "/v1/proxy/sessions"
    assert dict(seen[0].url.params) == {"vm": "192.168.100.3", "nat_port": "50027",
                                        "control_node": "10.0.0.11"}
    assert "NAT Port" in out and "50027" in out and "192.168.100.3:33273" in out and "primary" in out
    monkeypatch.setenv("GRACEBGP_PROXY_SOCKET", SOCKET)
    assert run(["--json", "proxy", "sessions", "--closed"]) == 0
    assert dict(seen[1].url.params) == {"closed": "true"}
    assert json.loads(capsys.readouterr().out)[0]["nat_port"] == 50027


def test_unreachable_proxy_is_one_line_exit_1(capsys: Capture) -> None:
    code = run(["proxy", "sessions", "--proxy-socket", "/nonexistent/proxyd.sock"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
