"""Schemathesis against a running gracebgpd (DESIGN.md section 4: "Bad requests get a 4xx
with a message; the daemon never dies of a request").

Two daemons peer on loopback (tests/integration/api_daemons.py). Every operation of the
OpenAPI document A serves is fuzzed over A's TCP listener with its bearer token, with
schemathesis' positive and negative cases plus well-formed BGP values (real prefixes,
loopback peers), so requests get past schema validation into the speaker. Checks: no
5xx, status codes and bodies as the document says, schema-invalid requests refused.
Afterwards A is alive and answers, its session with B never went down (A sent B every
fuzzed route), and neither log holds a traceback.

Only 127.0.0.0/8 is ever contacted: a fuzzed AddPeer whose address is not a loopback
address gets a loopback one instead (the daemon would otherwise connect to it), and the
real peer B is never the target of a fuzzed DeletePeer/ShutdownPeer/ResetPeer/EnablePeer
(the final check wants its session untouched). WatchEvents never ends, so it is opened,
its first line read, and closed.

(schemathesis' own pytest integration, ``schemathesis.pytest.from_fixture``, fails on
pytest 9 with "'Function' object has no attribute '_nodeid'"; the operations' Hypothesis
strategies are driven directly instead, one test per operation.)
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import APIOperation, BaseSchema

from .api_daemons import A_ADDR, B_ADDR, Pair, established, start_pair

#: Examples per operation: 15 operations x 100 take about half a minute.
EXAMPLES = 100
DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
#: Restart and Stop end (or replace) the process on purpose: a fuzzer that finds a valid
#: body has done what they are for. tests/integration/test_lifecycle.py covers them.
ENDS_THE_PROCESS = {"Restart", "Stop"}
OPERATIONS = [(path, method, op["operationId"])
              for path, methods in json.loads(DOCUMENT.read_text())["paths"].items()
              for method, op in methods.items() if op["operationId"] not in ENDS_THE_PROCESS]
#: A fuzzed Drain --wait waits up to delay + 60 s: keep the delay short.
MAX_DRAIN_DELAY = 1.0
#: Operations that act on the peer named in their path.
PEER_COMMANDS = {"DeletePeer", "ShutdownPeer", "ResetPeer", "EnablePeer"}
#: Where a fuzzed AddPeer at a non-loopback address goes instead.
SUBSTITUTE = "127.0.0.99"
#: Peers added before the fuzzer starts, so that the peer commands find something.
TARGETS = [{"address": "127.0.0.5", "peer_as": 65005, "passive": True},
           {"address": SUBSTITUTE, "peer_as": 65099, "admin_down": True},
           {"address": "::1", "peer_as": 65006, "port": 9, "connect_retry": 600}]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]
FAMILIES = ["ipv4-unicast", "ipv6-unicast"]


@pytest.fixture(scope="module")
def fuzz_pair() -> Iterator[Pair]:
    yield from start_pair()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_pair: Pair) -> BaseSchema:
    with fuzz_pair.tcp_client() as c:  # targets for the peer commands (they may come and go)
        for body in TARGETS:
            r = c.post("/v1/peers", json=body)
            assert r.status_code == 201, r.text
    return schemathesis.openapi.from_url(f"{fuzz_pair.base_url}/openapi.json", headers=fuzz_pair.auth,
                                         timeout=10)


# --- staying on loopback ------------------------------------------------------------------


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address gracebgpd reads from ``text`` (it strips blanks), or None."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def is_loopback(text: str) -> bool:
    address = _address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address is not None and address.is_loopback


def confine(case: schemathesis.Case[Any]) -> None:
    """Keep the fuzzer's traffic on loopback and off the real session (module docstring)."""
    op = case.operation.definition.raw.get("operationId")
    if op == "AddPeer" and isinstance(case.body, dict):
        address = case.body.get("address")
        if isinstance(address, str) and _address(address) is not None and not is_loopback(address):
            case.body["address"] = SUBSTITUTE
    if op == "Drain" and isinstance(case.body, dict):
        delay = case.body.get("delay")
        number = isinstance(delay, int | float) and not isinstance(delay, bool)
        if number and MAX_DRAIN_DELAY < float(delay) <= 3600:  # type: ignore[arg-type]
            case.body["delay"] = MAX_DRAIN_DELAY  # out-of-range delays stay: they must get 422
    if op in PEER_COMMANDS and case.path_parameters:
        address = case.path_parameters.get("address")
        got = _address(address) if isinstance(address, str) else None
        if got is not None and got in (ipaddress.ip_address(B_ADDR),
                                       ipaddress.ip_address(f"::ffff:{B_ADDR}")):
            case.path_parameters["address"] = SUBSTITUTE


# --- well-formed BGP values -----------------------------------------------------------------


loopback_v4 = st.ip_addresses(network="127.0.0.0/8").map(str)
loopbacks = st.one_of(loopback_v4, st.just("::1"), loopback_v4.map(lambda a: f"::ffff:{a}"))


@st.composite
def prefixes(draw: st.DrawFn) -> str:
    """A prefix, mostly well formed; sometimes with host bits set (the daemon says 400)."""
    v6 = draw(st.booleans())
    address = draw(st.ip_addresses(v=6 if v6 else 4))
    length = draw(st.integers(0, 128 if v6 else 32))
    if draw(st.integers(0, 9)) == 0:
        return f"{address}/{length}"
    return str(ipaddress.ip_network(f"{address}/{length}", strict=False))


communities = st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)).map(lambda t: f"{t[0]}:{t[1]}")
large_communities = st.tuples(*[st.integers(0, 0xFFFFFFFF)] * 3).map(lambda t: "{}:{}:{}".format(*t))
path_specs = st.fixed_dictionaries({"prefix": prefixes()}, optional={
    "next_hop": st.one_of(st.none(), st.ip_addresses().map(str)),
    "origin": st.sampled_from(["igp", "egp", "incomplete"]),
    "communities": st.lists(communities, max_size=4),
    "large_communities": st.lists(large_communities, max_size=3),
    "med": st.integers(0, 0xFFFFFFFF), "local_pref": st.integers(0, 0xFFFFFFFF)})
#: Peers the fuzzer may add and then act on (never B).
fuzz_peers = st.sampled_from(["127.0.0.99", "127.0.0.5", "::1", "::ffff:127.0.0.5", "127.0.0.1"])
peer_adds = st.fixed_dictionaries({
    "address": st.one_of(fuzz_peers, loopbacks), "peer_as": st.integers(1, 0xFFFFFFFF)}, optional={
    "local_as": st.integers(1, 0xFFFFFFFF), "description": st.text(max_size=40),
    "families": st.lists(st.sampled_from(FAMILIES), max_size=2, unique=True),
    "passive": st.booleans(), "port": st.integers(1, 0xFFFF), "local_address": loopbacks,
    "hold_time": st.sampled_from([0, 3, 90, 65535, 1]), "connect_retry": st.integers(1, 600),
    "ebgp_multihop_ttl": st.integers(1, 255), "route_reflector_client": st.booleans(),
    "graceful_restart": st.booleans(), "restart_time": st.integers(0, 4095), "admin_down": st.booleans()})
path_queries = st.fixed_dictionaries({}, optional={
    "table": st.sampled_from(["loc", "adj-in", "adj-out"]), "family": st.sampled_from(FAMILIES),
    "peer": st.one_of(st.just(B_ADDR), fuzz_peers),
    "prefix": st.one_of(prefixes(), st.ip_addresses().map(str)),
    "longer": st.sampled_from(["true", "false"]), "post_policy": st.sampled_from(["true", "false"]),
    "best": st.sampled_from(["true", "false"])})
WELL_FORMED: dict[str, tuple[str, st.SearchStrategy[Any]]] = {
    "AddPeer": ("body", peer_adds),
    "AddPaths": ("body", st.fixed_dictionaries({"paths": st.lists(path_specs, max_size=20)})),
    "DeletePaths": ("body", st.fixed_dictionaries({"prefixes": st.lists(prefixes(), max_size=20)})),
    "ListPaths": ("query", path_queries),
    "GetPeer": ("path_parameters",
                st.fixed_dictionaries({"address": st.one_of(st.just(B_ADDR), fuzz_peers)})),
    **{name: ("path_parameters", st.fixed_dictionaries({"address": fuzz_peers})) for name in PEER_COMMANDS},
}


def _replace(case: schemathesis.Case[Any], part: str, value: Any) -> schemathesis.Case[Any]:
    setattr(case, part, value)
    return case


def strategy(op: APIOperation[Any, Any, Any, Any], name: str) -> st.SearchStrategy[schemathesis.Case[Any]]:
    raw = op.definition.raw
    parts = [op.as_strategy(GenerationMode.POSITIVE)]
    if "requestBody" in raw or any(p.get("in") == "query" for p in raw.get("parameters", [])):
        parts.append(op.as_strategy(GenerationMode.NEGATIVE))
    if name in WELL_FORMED:
        part, values = WELL_FORMED[name]
        parts.append(st.tuples(op.as_strategy(GenerationMode.POSITIVE), values)
                     .map(lambda t: _replace(t[0], part, t[1])))
    return st.one_of(parts)


def watch_events(case: schemathesis.Case[Any], pair: Pair) -> None:
    """WatchEvents streams forever: check the status and the first line, then hang up."""
    with pair.tcp_client(timeout=10) as c, c.stream("GET", "/v1/events", params=case.query) as r:
        assert r.status_code < 500, r.read()
        if r.status_code == 200:
            assert r.headers["content-type"].startswith("text/event-stream")
            first = next(r.iter_lines())
            assert first.startswith(":"), first
        else:
            assert r.status_code == 422, r.status_code
            assert json.loads(r.read())["error"]


@pytest.mark.parametrize(("path", "method", "name"), OPERATIONS, ids=[o[2] for o in OPERATIONS])
def test_no_request_breaks_the_daemon(fuzz_pair: Pair, fuzz_schema: BaseSchema, path: str, method: str,
                                      name: str) -> None:
    op = fuzz_schema[path][method]
    assert op.definition.raw.get("operationId") == name

    @given(case=strategy(op, name))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: schemathesis.Case[Any]) -> None:
        confine(case)
        if name == "WatchEvents":
            watch_events(case, fuzz_pair)
        else:
            case.call_and_validate(headers=fuzz_pair.auth, checks=CHECKS, timeout=30)
        fuzz_pair.assert_alive()

    fuzz()


def test_daemon_survived_the_fuzzer(fuzz_pair: Pair) -> None:
    fuzz_pair.assert_alive()
    with fuzz_pair.tcp_client() as c:
        glob = c.get("/v1/global")
        assert glob.status_code == 200 and glob.json()["asn"] == 65001
        peers = c.get("/v1/peers").json()
        history = c.get("/v1/events/history").json()
    # Every peer the fuzzer added is on loopback (the daemon contacted nothing else).
    added = [e["peer"] for e in history if e["kind"] == "peer-added"]
    assert len(added) >= len(TARGETS), history
    for address in [p["address"] for p in peers] + added:
        assert is_loopback(address), address
    for me, other in ((fuzz_pair.a, B_ADDR), (fuzz_pair.b, A_ADDR)):
        with me.client() as c:
            peer = established(c, other)
        assert peer is not None, f"{me.name}'s session with {other} is down:\n{me.log_tail()}"
        assert peer["established_count"] == 1, f"{me.name}'s session flapped: {peer['last_error']}"
    for d in fuzz_pair.daemons():
        log = d.log.read_text(errors="replace")
        assert "Traceback" not in log, f"{d.name} logged a traceback:\n{log[-5000:]}"
