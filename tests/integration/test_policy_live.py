"""Routing policy edited on a running gracebgpd through its API and CLI (issue 16 items
4-5), with two daemons peered on loopback (tests/integration/api_daemons.py): a prefix set,
a policy that tags it and the neighbor's export assignment go in one after another; the
peer receives the tagged route, the session is never reset, ``gracebgp policies`` and the
metrics count the match, and ``--explain`` shows the result without counting."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .api_daemons import A_ADDR, B_ADDR, DEMO_V4, Pair, established, start_pair, wait_established, wait_until

TAGGED = DEMO_V4[A_ADDR][0]  # 192.0.2.0/26, one of A's demo routes
TAG = "65001:99"


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    yield from start_pair()


def cli(pair: Pair, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gracebgp.cli.main", "--socket", str(pair.a.socket),
                           *args], capture_output=True, text=True, timeout=60, check=False)


def communities_at_b(pair: Pair) -> dict[str, list[str]]:
    with pair.b.client() as c:
        r = c.get("/v1/paths", params={"table": "adj-in", "peer": A_ADDR})
        r.raise_for_status()
    entries = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    return {e["prefix"]: e["attrs"].get("communities", []) for e in entries}


def test_export_policy_edited_live_tags_the_route_without_a_reset(pair: Pair) -> None:
    wait_established(pair)
    with pair.a.client() as a:
        before = established(a, B_ADDR)
        assert before is not None
        steps: list[tuple[str, str, Any]] = [
            ("PUT", "/v1/defined-sets/prefix", {"name": "demo", "prefix_list": [{"ip_prefix": TAGGED}]}),
            ("PUT", "/v1/policy-definitions", {"name": "tag", "statements": [
                {"name": "demo", "match_prefix_set": {"name": "demo"},
                 "set_community": {"options": "add", "communities": [TAG]},
                 "route_disposition": "accept-route"}]}),
            ("PUT", f"/v1/policy-assignments/{B_ADDR}", {"export_policies": ["tag"]})]
        for method, path, body in steps:
            r = a.request(method, path, json=body)
            assert r.status_code == 200, r.text
        assert "no session reset" in r.json()["message"]
        changed = {(c["peer"], c["family"]): (c["import_changed"], c["export_changed"])
                   for c in r.json()["changed"]}
        assert changed == {(B_ADDR, "ipv4-unicast"): (0, 1), (B_ADDR, "ipv6-unicast"): (0, 0)}
        wait_until(f"B receives {TAGGED} with {TAG}", lambda: TAG in communities_at_b(pair).get(TAGGED, []))
        others = {p: c for p, c in communities_at_b(pair).items() if p != TAGGED}
        assert others and all(TAG not in c for c in others.values())
        after = established(a, B_ADDR)
        assert after is not None and after["established_count"] == before["established_count"]
        r = a.delete("/v1/policy-definitions/tag")
        assert r.status_code == 409 and B_ADDR in r.json()["error"]
        metrics = a.get("/metrics").text
    assert 'gracebgp_policy_statement_matches_total{policy="tag",statement="demo"} 1.0' in metrics


def test_cli_shows_the_policy_and_explains_the_route_without_counting(pair: Pair) -> None:
    done = cli(pair, "--json", "policies")
    assert done.returncode == 0, done.stderr
    rows = {(a["peer"], a["direction"]): a for a in json.loads(done.stdout)["assignments"]}
    assert rows[(B_ADDR, "export")]["statements"][0]["matches"] == 1
    done = cli(pair, "routes", "advertised", "ipv4", "unicast", TAGGED, "--peer", B_ADDR, "--explain")
    assert done.returncode == 0, done.stderr
    assert "tag / demo: matched" in done.stdout and "result: accepted (tag/demo)" in done.stdout
    assert TAG in done.stdout.splitlines()[-1]  # after: the community added
    done = cli(pair, "--json", "policies")
    rows = {(a["peer"], a["direction"]): a for a in json.loads(done.stdout)["assignments"]}
    assert rows[(B_ADDR, "export")]["statements"][0]["matches"] == 1  # explaining counted nothing
    done = cli(pair, "policy", "del", "tag")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and B_ADDR in done.stderr
    with pair.a.client() as a:
        assert established(a, B_ADDR) is not None
