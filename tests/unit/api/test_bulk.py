"""AddPaths/DeletePaths bodies are decoded and checked in slices with turns of the event
loop between them (api/bulk.py, issue 10 finding 4), and answer like a FastAPI body
model: 422 with the field's place for bad JSON or bad fields, 400 for a bad prefix."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import httpx
import pytest

from gracebgp import __version__
from gracebgp.api import bulk
from gracebgp.api.server import build_app
from gracebgp.api.service import DaemonInfo
from gracebgp.config import parse
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.owner import Owner


def prefixes(n: int) -> list[str]:
    return [f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}/32" for i in range(n)]


async def _post(path: str, content: bytes, ticks: list[int] | None = None) -> httpx.Response:
    cfg = parse('[global.config]\nas = 64512\nrouter-id = "192.0.2.1"\n')
    owner = Owner(Speaker(64512, "192.0.2.1"), [])
    info = DaemonInfo(__version__, "test", 0.0, 179, (), "retain", True, cfg.global_)
    app = build_app(owner, info, None)
    runner = asyncio.create_task(owner.run())
    stop = asyncio.Event()

    async def tick() -> None:  # counts the turns of the event loop the request leaves
        while not stop.is_set():
            if ticks is not None:
                ticks[0] += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    try:
        transport = httpx.ASGITransport(app=cast(Any, app))
        async with httpx.AsyncClient(transport=transport, base_url="http://gracebgpd") as c:
            return await asyncio.wait_for(c.post(path, content=content,
                                                 headers={"content-type": "application/json"}), 60)
    finally:
        stop.set()
        owner.stop()
        await asyncio.wait_for(asyncio.gather(runner, ticker), 10)


def post(path: str, body: object, ticks: list[int] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return asyncio.run(_post(path, content, ticks))


def error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return cast(dict[str, Any], r.json())


def test_a_large_add_is_parsed_in_slices_with_loop_turns_between() -> None:
    n = 10 * bulk.SLICE
    ticks = [0]
    r = post("/v1/paths", {"paths": [{"prefix": p, "next_hop": "192.0.2.1"} for p in prefixes(n)]}, ticks)
    assert r.status_code == 200, r.text
    assert r.json() == {"changed": n, "unchanged": 0}
    assert ticks[0] >= 10  # at least one turn of the loop per slice: never held for the whole body


def test_a_large_delete_is_parsed_in_slices() -> None:
    ticks = [0]
    r = post("/v1/paths/delete", {"prefixes": prefixes(6 * bulk.SLICE)}, ticks)
    assert r.json()["unchanged"] == 6 * bulk.SLICE and ticks[0] >= 6


@pytest.mark.parametrize(("body", "where"), [
    (b'{"paths": [', "body."), (b'{"paths": [{"prefix": "10.0.0.0/8"},]}', "body."),
    (b'{"paths": []} trailing', "body."), (b"\xff\xfe", "body."), (b'{paths: []}', "body."),
])
def test_bad_json_is_422_with_the_position(body: bytes, where: str) -> None:
    e = error(post("/v1/paths", body), 422)
    assert e["error"].startswith(where) and "JSON decode error" in e["error"]


@pytest.mark.parametrize(("body", "expected"), [
    ([], "body: Input should be a valid dictionary"),
    ({}, "body.paths: Field required"),
    ({"paths": "10.0.0.0/8"}, "body.paths: Input should be a valid list"),
    ({"paths": [], "colour": "blue"}, "body.colour: Extra inputs are not permitted"),
    ({"paths": [{"prefix": "10.0.0.0/8"}] * (bulk.SLICE + 1) + [{"prefix": 7}]},
     f"body.paths.{bulk.SLICE + 1}.prefix: Input should be a valid string"),
    ({"paths": [{"prefix": "10.0.0.0/8", "med": -1}]}, "body.paths.0.med: Input should be greater"),
])
def test_bad_fields_are_422_where_fastapi_would_say(body: object, expected: str) -> None:
    assert error(post("/v1/paths", body), 422)["error"].startswith(expected)


def test_bad_prefixes_are_400_and_nothing_changes() -> None:
    paths = [{"prefix": p} for p in prefixes(3 * bulk.SLICE)] + [{"prefix": "10.0.0.1/8"}]
    e = error(post("/v1/paths", {"paths": paths}), 400)
    assert e["error"].startswith(f"paths[{3 * bulk.SLICE}] 10.0.0.1/8")
    e = error(post("/v1/paths/delete", {"prefixes": ["10.0.0.0/8", "banana"]}), 400)
    assert "banana" in e["error"]
    assert error(post("/v1/paths/delete", {"prefixes": [1]}), 422)["error"].startswith("body.prefixes.0")


def test_the_client_splits_large_batches_and_says_what_was_done_before_a_refusal() -> None:
    from gracebgp.api import client as api_client
    from gracebgp.api.schema import PathSpec

    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        items = body.get("prefixes", body.get("paths", []))
        if any(p == "10.9.9.9/32" or (isinstance(p, dict) and p["prefix"] == "10.9.9.9/32") for p in items):
            return httpx.Response(400, json={"error": "no such thing", "detail": []})
        return httpx.Response(200, json={"changed": len(items) - 1, "unchanged": 1})

    n = 2 * api_client.BATCH_PATHS + 5
    with api_client.Client("unix:/nowhere", transport=httpx.MockTransport(answer)) as c:
        done = c.delete_paths(prefixes(n))
        assert (done.changed, done.unchanged) == (n - 3, 3)
        assert [len(b["prefixes"]) for b in bodies] == [api_client.BATCH_PATHS] * 2 + [5]
        bodies.clear()
        specs = [PathSpec(prefix=p, communities=[f"65000:{i}" for i in range(400)]) for p in prefixes(9000)]
        c.add_paths(specs)  # ~5 KB a path: split below BATCH_OCTETS, not by count
        assert len(bodies) > 1 and sum(len(b["paths"]) for b in bodies) == 9000
        assert all(len(json.dumps(b)) <= api_client.BATCH_OCTETS for b in bodies)
        with pytest.raises(api_client.ClientError) as refused:
            c.delete_paths([*prefixes(api_client.BATCH_PATHS), "10.9.9.9/32"])
        assert refused.value.status == 400
        assert f"the {api_client.BATCH_PATHS} before it were deleted" in str(refused.value)
