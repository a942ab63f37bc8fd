"""``gracebgp policies``, ``gracebgp policy ...`` and ``routes received|advertised ...
--explain`` against a fake daemon: the table, --json, the request each verb sends, and
one-line errors with their exit codes (2: nothing sent; 1: the daemon refused)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from gracebgp.api import policy_schema as ps
from tests.unit.cli.fake import install
from tests.unit.cli.test_commands import Capture, cli

LISTING = ps.PolicyListing(assignments=[
    ps.PolicyAssignmentView(peer="global", direction="export", policies=["cilium"], default="reject",
                            statements=[
        ps.PolicyStatementRow(policy="cilium", statement="pods", match_neighbors=["192.0.2.2"],
                              match_prefixes=["10.1.0.0/16 24..24"], conditions=[], disposition="accept",
                              actions=["set-community add 65000:100"], matches=3),
        ps.PolicyStatementRow(policy="cilium", statement="svc", match_neighbors=[],
                              match_prefixes=["10.96.0.10/32", "10.96.0.11/32"],
                              conditions=["route-type local"], disposition="accept",
                              actions=["set-local-pref 150"], matches=2)]),
    ps.PolicyAssignmentView(peer="global", direction="import", policies=[], default=None, statements=[])],
    source=None)
EXPLAINED = ps.Explanation(
    peer="192.0.2.2", direction="import", family="ipv4-unicast", prefix="10.9.0.0/24", policies=["pods-in"],
    steps=[ps.ExplainStep(policy="pods-in", statement="pods", matched=False),
           ps.ExplainStep(policy="pods-in", statement="rest", matched=True, decided="reject")],
    result="rejected", decided_by="pods-in/rest",
    before={"next_hop": ["192.0.2.2"], "attrs": {"as_path": "65001"}}, after=None)


class PolicyDaemon:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if path == "/v1/policies":
            return httpx.Response(200, json=LISTING.model_dump(mode="json"))
        if path == "/v1/policies/explain":
            return httpx.Response(200, json=[EXPLAINED.model_dump(mode="json")])
        if path == "/v1/defined-sets/prefix/pods" and method == "DELETE":
            why = "deleting prefix-set pods refused: still in use (prefix-set 'pods' is not defined)"
            return httpx.Response(409, json={"error": why, "detail": []})
        if method in ("PUT", "DELETE"):
            done = f"{method} {path}: 0 imported and 2 exported routes changed, no session reset"
            return httpx.Response(200, json={"ok": True, "message": done, "changed": []})
        return httpx.Response(404, json={"error": "not found", "detail": []})


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> PolicyDaemon:
    fake = PolicyDaemon()
    install(monkeypatch, {"/a.sock": fake})
    return fake


def test_policies_table_like_cilium_and_json(daemon: PolicyDaemon, capsys: Capture) -> None:
    code, out, _ = cli(capsys, "policies")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["Peer", "Direction", "Policy", "Statement"]
    assert lines[1].split() == ["global", "export", "cilium", "pods", "192.0.2.2", "10.1.0.0/16", "24..24",
                                "-", "accept", "set-community", "add", "65000:100", "3"]
    assert "10.96.0.11/32" in out and "route-type local" in out
    assert any(line.split()[3:5] == ["(default)", "-"] and "default reject" in line for line in lines)
    assert not any(line.split()[:2] == ["global", "import"] for line in lines)  # nothing set there
    code, out, _ = cli(capsys, "--json", "policies")
    assert json.loads(out)["assignments"][0]["statements"][0]["matches"] == 3


def test_the_verbs_send_bodies_in_the_configuration_field_names(daemon: PolicyDaemon, capsys: Capture,
                                                                 tmp_path: Path) -> None:
    code, out, _ = cli(capsys, "policy", "set", "add", "prefix", "pods", "10.1.0.0/16", "24..24",
                       "10.2.0.0/16")
    assert code == 0 and "no session reset" in out
    r = daemon.requests[-1]
    assert (r.method, r.url.path) == ("PUT", "/v1/defined-sets/prefix")
    assert json.loads(r.content) == {"name": "pods", "prefix_list": [
        {"ip_prefix": "10.1.0.0/16", "masklength_range": "24..24"},
        {"ip_prefix": "10.2.0.0/16", "masklength_range": ""}]}
    cli(capsys, "policy", "set", "add", "neighbor", "peers", "192.0.2.2", "192.0.2.3")
    assert json.loads(daemon.requests[-1].content) == {"name": "peers", "neighbor_info_list": ["192.0.2.2",
                                                                                               "192.0.2.3"]}
    cli(capsys, "policy", "assign", "192.0.2.2", "export", "cilium", "other", "--default", "reject")
    r = daemon.requests[-1]
    assert (r.method, r.url.path) == ("PUT", "/v1/policy-assignments/192.0.2.2")
    assert json.loads(r.content) == {"export_policies": ["cilium", "other"], "default_export": "reject-route"}
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"name": "cilium", "statements": []}))
    assert cli(capsys, "policy", "add", str(policy))[0] == 0
    assert (daemon.requests[-1].method, json.loads(daemon.requests[-1].content)["name"]) == ("PUT", "cilium")
    assert cli(capsys, "policy", "del", "cilium")[0] == 0
    assert daemon.requests[-1].url.path == "/v1/policy-definitions/cilium"
    assert cli(capsys, "policy", "clear", "global")[0] == 0
    last = daemon.requests[-1]
    assert (last.method, last.url.path) == ("DELETE", "/v1/policy-assignments/global")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["policy", "set", "add", "colour", "x", "1"], 2, "unknown set kind 'colour'"),
    (["policy", "set", "add", "prefix", "x", "24..32"], 2, "'24..32' is a length range with no prefix"),
    (["policy", "set", "add", "prefix", "x", "banana"], 2, "'banana' is neither a PREFIX"),
    (["policy", "assign", "global", "sideways", "p"], 2, "direction must be import or export"),
    (["policy", "assign", "global", "import", "p", "--default", "maybe"], 2,
     "--default must be accept or reject"),
    (["policy", "add", "/nonexistent/p.json"], 2, "cannot read /nonexistent/p.json"),
    (["policy", "set", "del", "prefix", "pods"], 1, "refused: still in use (prefix-set 'pods'"),
    (["routes", "received", "ipv4", "unicast", "--peer", "192.0.2.2", "--explain"], 2,
     "--explain needs a PREFIX"),
])
def test_errors_are_one_line_with_their_exit_code(daemon: PolicyDaemon, capsys: Capture, args: list[str],
                                                  code: int, message: str) -> None:
    got, out, err = cli(capsys, *args)
    assert got == code and out == ""
    assert err.startswith("gracebgp: error: ") and message in err and err.count("\n") == 1
    if code == 2:
        assert all(r.method == "GET" for r in daemon.requests)  # nothing changed was sent


def test_explain_prints_each_statement_and_the_result(daemon: PolicyDaemon, capsys: Capture) -> None:
    code, out, _ = cli(capsys, "routes", "received", "ipv4", "unicast", "10.9.0.0/24", "--peer", "192.0.2.2",
                       "--explain")
    assert code == 0
    r = daemon.requests[-1]
    assert r.url.params["direction"] == "import" and r.url.params["prefix"] == "10.9.0.0/24"
    assert out.splitlines() == [
        "10.9.0.0/24 from 192.0.2.2, import policy: pods-in",
        "  pods-in / pods: no match",
        "  pods-in / rest: matched",
        "      -> reject",
        "  result: rejected (pods-in/rest)",
        "  before: next-hop 192.0.2.2, as-path 65001",
        "  after:  -"]
    cli(capsys, "routes", "advertised", "ipv4", "unicast", "10.9.0.0/24", "-p", "192.0.2.2", "--explain")
    assert daemon.requests[-1].url.params["direction"] == "export"
    code, out, _ = cli(capsys, "--json", "routes", "received", "ipv4", "unicast", "10.9.0.0/24",
                       "-p", "192.0.2.2", "--explain")
    assert json.loads(out)[0]["decided_by"] == "pods-in/rest"
