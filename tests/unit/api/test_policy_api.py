"""The routing-policy endpoints over HTTP (api/policy_routes.py) on a real owner task:
sets, policy definitions and the global apply-policy edited in sequence, the listing
that shows them, and bad input answered 4xx with a message (never a 500)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import httpx

from gracebgp import __version__
from gracebgp.api.server import build_app
from gracebgp.api.service import DaemonInfo
from gracebgp.config import parse
from gracebgp.config.policy_source import PolicySource
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.owner import Owner

PODS = {"name": "pods", "prefix_list": [{"ip_prefix": "10.0.0.0/8", "masklength_range": "24..32"}]}
LP = {"name": "lp", "statements": [{"name": "a", "match_prefix_set": {"name": "pods"}, "set_local_pref": 200,
                                     "route_disposition": "accept-route"}]}

Call = tuple[str, str, Any]


async def _calls(calls: list[Call], together: int = 0) -> list[httpx.Response]:
    cfg = parse('[global.config]\nas = 64512\nrouter-id = "192.0.2.1"\n')
    owner = Owner(Speaker(64512, "192.0.2.1", policy_book=PolicySource().build()), [])
    info = DaemonInfo(__version__, "test", 0.0, 179, (), "retain", True, cfg.global_)
    app = build_app(owner, info, None)
    runner = asyncio.create_task(owner.run())
    out = []
    try:
        transport = httpx.ASGITransport(app=cast(Any, app))
        async with httpx.AsyncClient(transport=transport, base_url="http://gracebgpd") as c:
            at_once = [c.request(m, p, json=b) for m, p, b in calls[:together]]  # sent together
            out += await asyncio.wait_for(asyncio.gather(*at_once), 30)
            for method, path, body in calls[together:]:
                out.append(await asyncio.wait_for(c.request(method, path, json=body), 30))
    finally:
        owner.stop()
        await asyncio.wait_for(runner, 10)
    return out


def calls(*items: Call, together: int = 0) -> list[httpx.Response]:
    return asyncio.run(_calls(list(items), together))


def test_edits_in_sequence_and_the_listing_shows_them() -> None:
    rs = calls(("PUT", "/v1/defined-sets/prefix", PODS), ("PUT", "/v1/policy-definitions", LP),
               ("PUT", "/v1/policy-assignments/global", {"import_policies": ["lp"],
                                                          "default_import": "reject-route"}),
               ("GET", "/v1/policies", None), ("GET", "/v1/defined-sets?kind=prefix", None),
               ("GET", "/v1/policy-definitions", None), ("GET", "/v1/policy-assignments", None))
    for r in rs:
        assert r.status_code == 200, r.text
    assert rs[0].json()["message"].startswith("prefix-set pods")
    listing = rs[3].json()
    imp = next(a for a in listing["assignments"] if a["peer"] == "global" and a["direction"] == "import")
    assert imp["policies"] == ["lp"] and imp["default"] == "reject"
    row = imp["statements"][0]
    assert row["match_prefixes"] == ["10.0.0.0/8 24..32"] and row["actions"] == ["set-local-pref 200"]
    assert row["disposition"] == "accept" and row["matches"] == 0
    assert listing["source"]["global_policy"]["import_policies"] == ["lp"]
    assert rs[4].json() == [{"kind": "prefix", "set": PODS}]
    assert [p["name"] for p in rs[5].json()] == ["lp"]
    assert rs[6].json()[0] == {"neighbor": "global", "apply_policy": {
        "import_policies": ["lp"], "export_policies": [], "default_import": "reject-route",
        "default_export": None}}


def test_deleting_what_is_in_use_is_409_and_once_unused_it_goes() -> None:
    rs = calls(("PUT", "/v1/defined-sets/prefix", PODS), ("PUT", "/v1/policy-definitions", LP),
               ("PUT", "/v1/policy-assignments/global", {"import_policies": ["lp"]}),
               ("DELETE", "/v1/defined-sets/prefix/pods", None),
               ("DELETE", "/v1/policy-definitions/lp", None),
               ("DELETE", "/v1/policy-assignments/global", None),
               ("DELETE", "/v1/policy-definitions/lp", None),
               ("DELETE", "/v1/defined-sets/prefix/pods", None), ("GET", "/v1/defined-sets", None))
    assert [r.status_code for r in rs] == [200, 200, 200, 409, 409, 200, 200, 200, 200], [r.text for r in rs]
    assert rs[3].json()["error"].startswith("deleting prefix-set pods refused: still in use (")
    assert "prefix-set 'pods' is not defined" in rs[3].json()["error"]
    assert "policy 'lp' is not defined" in rs[4].json()["error"]
    assert rs[8].json() == []


def test_bad_input_is_a_4xx_with_a_message() -> None:
    rs = calls(("PUT", "/v1/defined-sets/colour", PODS),
               ("PUT", "/v1/defined-sets/prefix", {"name": "x", "prefix_list": "10.0.0.0/8"}),
               ("PUT", "/v1/defined-sets/prefix", {"name": "x", "prefix_list": [
                   {"ip_prefix": "10.0.0.0/8", "masklength_range": "30..20"}]}),
               ("PUT", "/v1/policy-definitions", {"name": "p", "statements": [
                   {"match_prefix_set": {"name": "nowhere"}}]}),
               ("PUT", "/v1/policy-assignments/global", {"import_policies": ["nope"]}),
               ("PUT", "/v1/policy-assignments/global", {"default_import": "maybe"}),
               ("PUT", "/v1/policy-assignments/global", ["lp"]),
               ("PUT", "/v1/policy-assignments/192.0.2.99", {"import_policies": []}),
               ("DELETE", "/v1/policy-definitions/nope", None),
               ("DELETE", "/v1/defined-sets/as-path/nope", None),
               ("GET", "/v1/policies/explain?peer=192.0.2.99&prefix=10.0.0.0/8", None),
               ("PUT", "/v1/policy-definitions", "not an object"))
    got = [(r.status_code, r.json()["error"]) for r in rs]
    assert [code for code, _ in got] == [422, 400, 400, 400, 400, 400, 422, 404, 404, 404, 404, 422], got
    assert "prefix_list" in got[1][1]
    assert "masklength" in got[2][1]
    assert "'nowhere'" in got[3][1]
    assert "'nope'" in got[4][1]
    assert "default_import" in got[5][1]
    assert "192.0.2.99" in got[7][1]
    assert "no policy named 'nope'" in got[8][1]



def test_edits_sent_at_once_all_take_effect() -> None:
    """Each edit is made on the running policy: one built before the previous one was
    carried out would undo it (policy_routes serialises them)."""
    names = [f"s{i}" for i in range(6)]
    puts = [("PUT", "/v1/defined-sets/prefix", {"name": n, "prefix_list": []}) for n in names]
    *answers, listing = calls(*puts, ("GET", "/v1/defined-sets", None), together=len(puts))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert sorted(e["set"]["name"] for e in listing.json()) == names
