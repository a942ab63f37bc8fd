"""Stopping by intent (spec section 6) with two real gracebgpd processes on loopback
(tests/integration/api_daemons.py), observed from B's API:

* ``stop --withdraw``: B drops A's routes within a second (Hard Reset, N negotiated);
* ``stop --retain`` and SIGTERM with ``sigterm = "retain"``: B keeps them stale; A starts
  again as a *planned* restart (R=1), B's stale marks clear, the timeline spans both runs;
* SIGKILL: A comes back as an *unplanned* restart (R=1);
* a withdrawing stop makes the next start cold (R=0);
* ``drain --wait``: B sees GRACEFUL_SHUTDOWN first, then the withdrawal, and the call
  returns with nothing left in A's socket queues; ``--cancel`` re-advertises.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .api_daemons import A_ADDR, DEMO_V4, Daemon, Pair, relaunch, start_pair, wait_until

GSHUT = "GRACEFUL_SHUTDOWN"


@pytest.fixture
def pair() -> Iterator[Pair]:
    yield from start_pair()


def routes_from_a(b: Daemon) -> list[dict[str, Any]]:
    """B's post-policy Adj-RIB-In from A (IPv4), as NDJSON entries."""
    with b.client() as c:
        r = c.get("/v1/paths", params={"table": "adj-in", "peer": A_ADDR, "family": "ipv4-unicast"})
        assert r.status_code == 200, r.text
        return [json.loads(line) for line in r.text.splitlines() if line]


def gr(d: Daemon) -> dict[str, Any]:
    with d.client() as c:
        r = c.get("/v1/gr")
        assert r.status_code == 200, r.text
        return dict(r.json())


def post(d: Daemon, path: str, body: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
    with d.client(timeout) as c:
        r = c.post(path, json=body or {})
        assert r.status_code in (200, 202), r.text
        return dict(r.json())


def exited(d: Daemon, timeout: float = 15.0) -> int:
    d.proc.wait(timeout=timeout)
    return d.proc.returncode


def test_stop_withdraw_peer_drops_routes_at_once_and_next_start_is_cold(pair: Pair) -> None:
    assert len(routes_from_a(pair.b)) == len(DEMO_V4[A_ADDR])
    post(pair.a, "/v1/stop", {"withdraw": True, "message": "decommission"})
    start = time.monotonic()
    wait_until("B drops A's routes", lambda: routes_from_a(pair.b) == [], timeout=5, interval=0.05)
    assert time.monotonic() - start < 1.5  # spec: within a second (plus polling)
    assert exited(pair.a) == 0
    relaunch(pair, pair.a)
    status = gr(pair.a)
    assert status["restart"] == "cold" and not status["deferral"], status


def test_stop_retain_keeps_routes_and_restart_is_planned(pair: Pair) -> None:
    post(pair.a, "/v1/stop", {"withdraw": False})
    assert exited(pair.a) == 0
    def all_stale() -> list[dict[str, Any]] | None:
        r = routes_from_a(pair.b)
        return r if r and all(x["stale"] for x in r) else None

    rows = wait_until("A's routes stale at B", all_stale)
    assert len(rows) == len(DEMO_V4[A_ADDR])
    relaunch(pair, pair.a)
    status = gr(pair.a)
    assert status["restart"] == "planned", status
    wait_until("stale marks clear at B", lambda: (r := routes_from_a(pair.b))
               and not any(x["stale"] for x in r) and len(r) == len(DEMO_V4[A_ADDR]))
    def selected() -> dict[str, Any] | None:
        st = gr(pair.a)
        return st if st["deferral"] and all(not f["deferring"] for f in st["deferral"]) else None

    done = wait_until("A's selection done", selected)
    assert {f["family"] for f in done["deferral"]} == {"ipv4-unicast", "ipv6-unicast"}
    with pair.a.client() as c:
        tl = c.get("/v1/timeline").json()
    events = [e["data"].get("event") for e in tl["events"]]
    assert tl["restart"] == "planned" and events[0] == "stopping", events
    for want in ("process-started", "deferral-started", "eor-received", "selection-done", "eor-sent",
                 "restart-complete"):
        assert want in events, (want, events)
    assert events.index("eor-sent") > events.index("selection-done")


def test_sigterm_retain_then_sigkill_is_unplanned(pair: Pair) -> None:
    os.kill(pair.a.proc.pid, signal.SIGTERM)  # demo config: sigterm = "retain"
    assert exited(pair.a) == 0
    assert all(x["stale"] for x in wait_until("stale at B", lambda: routes_from_a(pair.b) or None))
    relaunch(pair, pair.a)
    assert gr(pair.a)["restart"] == "planned"
    os.kill(pair.a.proc.pid, signal.SIGKILL)
    pair.a.proc.wait(timeout=10)
    relaunch(pair, pair.a)
    status = gr(pair.a)
    assert status["restart"] == "unplanned" and "did not stop cleanly" in status["detail"], status
    with pair.b.client() as c:
        helper = c.get("/v1/gr").json()["helper"]
    # B ran the helper procedures for A across the crash, or has already finished them.
    assert all(h["peer"] == A_ADDR for h in helper)


def test_drain_wait_gshut_then_withdrawn_and_cancel(pair: Pair) -> None:
    seen_gshut: list[bool] = []

    def tagged() -> bool:
        rows = routes_from_a(pair.b)
        seen_gshut.append(bool(rows) and all(GSHUT in x["attrs_text"] for x in rows))
        return seen_gshut[-1]

    result = post(pair.a, "/v1/drain", {"delay": 3, "wait": False})
    assert result["phase"] == "gshut" and result["changed"] >= len(DEMO_V4[A_ADDR]), result
    wait_until("B sees GRACEFUL_SHUTDOWN on A's routes", tagged, timeout=3, interval=0.05)
    wait_until("A's routes withdrawn at B after the delay", lambda: routes_from_a(pair.b) == [], timeout=8)
    # A second drain call with --wait returns at once: already withdrawn, queues empty.
    again = post(pair.a, "/v1/drain", {"wait": True, "delay": 1})
    assert again["phase"] == "withdrawn" and again["unsent_bytes"] == 0, again
    post(pair.a, "/v1/drain", {"cancel": True})
    wait_until("routes back without GRACEFUL_SHUTDOWN",
               lambda: (r := routes_from_a(pair.b)) and not any(GSHUT in x["attrs_text"] for x in r)
               and len(r) == len(DEMO_V4[A_ADDR]))
    assert gr(pair.a)["drain"] is None
