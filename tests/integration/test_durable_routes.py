"""Routes added through the API survive a crash of gracebgpd (docs/api.md, "Durability"):
two daemons on loopback (tests/integration/api_daemons.py); A is SIGKILLed and started
again with the same configuration and state directory, and must put the routes back in
its Loc-RIB and advertise them to B again, without the deleted ones. A route store that
cannot be written makes AddPaths answer 500 and the daemon lives on."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from gracebgp.runtime.store import FILE_NAME

from .api_daemons import (
    A_ADDR,
    A_AS,
    Daemon,
    Pair,
    established,
    family_row,
    kill,
    relaunch,
    start_pair,
    wait_until,
)
from .test_api import error_of, paths

V4_RICH: dict[str, Any] = {"prefix": "10.77.0.0/24", "origin": "egp", "med": 7, "local_pref": 300,
           "communities": ["65001:77"], "large_communities": ["65001:7:7"]}
V4_PLAIN: dict[str, Any] = {"prefix": "10.77.1.0/24"}
V6: dict[str, Any] = {"prefix": "2001:db8:77::/48", "next_hop": f"::ffff:{A_ADDR}"}


@pytest.fixture
def pair() -> Iterator[Pair]:
    """A pair of its own: these tests kill A."""
    yield from start_pair()


def local(client: httpx.Client, family: str = "ipv4-unicast") -> dict[str, dict[str, Any]]:
    """The routes the daemon originates, by prefix (its Loc-RIB entries with no source)."""
    return {e["prefix"]: e for e in paths(client, family=family) if e["source"] is None}


def crash_and_restart(pair: Pair, d: Daemon, peer: Daemon) -> None:
    """SIGKILL ``d`` and start it again; returns when ``peer`` has a new session with it
    and has received its End-of-RIB (no stale routes of ``d`` left)."""
    with peer.client() as c:
        before = (established(c, d.address) or {}).get("established_count", 0)
        kill(d)
        relaunch(pair, d)

        def resynced() -> bool:
            view = established(c, d.address)
            return (view is not None and view["established_count"] > before
                    and all(family_row(view, f)["stale"] == 0 for f in ("ipv4-unicast", "ipv6-unicast")))
        wait_until(f"{peer.name} Established again with {d.name} and its End-of-RIB received", resynced)


def received_from_a(b: httpx.Client, family: str = "ipv4-unicast") -> dict[str, dict[str, Any]]:
    return {e["prefix"]: e for e in paths(b, table="adj-in", peer=A_ADDR, family=family)}


def test_api_routes_survive_a_crash_and_deletes_stay_deleted(pair: Pair) -> None:
    with pair.a.client() as a:
        r = a.post("/v1/paths", json={"paths": [V4_RICH, V4_PLAIN, V6]})
        assert r.status_code == 200 and r.json() == {"changed": 3, "unchanged": 0}, r.text
    # No wait: the answer means the routes are on disk, so a crash right now keeps them.
    crash_and_restart(pair, pair.a, pair.b)
    assert "restored 3 routes added through the API" in pair.a.log_tail(100_000)

    with pair.a.client() as a, pair.b.client() as b:
        mine = local(a)
        assert {V4_RICH["prefix"], V4_PLAIN["prefix"]} <= set(mine)
        assert mine[V4_RICH["prefix"]]["attrs"] == {
            "origin": "egp", "as_path": "", "med": 7, "local_pref": 300, "communities": ["65001:77"],
            "large_communities": ["65001:7:7"]}, mine[V4_RICH["prefix"]]
        assert V6["prefix"] in local(a, "ipv6-unicast")
        # B learned them again from the new session: not stale, with A's attributes.
        got = received_from_a(b)
        for prefix in (V4_RICH["prefix"], V4_PLAIN["prefix"]):
            assert prefix in got and got[prefix]["stale"] is False, got.get(prefix)
        assert got[V4_RICH["prefix"]]["attrs"]["as_path"] == str(A_AS)
        assert got[V4_RICH["prefix"]]["attrs"]["med"] == 7
        assert got[V4_RICH["prefix"]]["attrs"]["communities"] == ["65001:77"]
        v6 = received_from_a(b, "ipv6-unicast")
        assert V6["prefix"] in v6 and v6[V6["prefix"]]["stale"] is False
        # A configuration route is not an API route: it is not stored.
        assert "192.0.2.0/26" in mine

        r = a.post("/v1/paths/delete", json={"prefixes": [V4_PLAIN["prefix"]]})
        assert r.status_code == 200 and r.json() == {"changed": 1, "unchanged": 0}, r.text

    crash_and_restart(pair, pair.a, pair.b)
    assert "restored 2 routes added through the API" in pair.a.log_tail(100_000)
    with pair.a.client() as a, pair.b.client() as b:
        mine = local(a)
        assert V4_RICH["prefix"] in mine and V4_PLAIN["prefix"] not in mine
        got = received_from_a(b)
        assert V4_RICH["prefix"] in got and V4_PLAIN["prefix"] not in got, sorted(got)
        assert V6["prefix"] in received_from_a(b, "ipv6-unicast")
    store = pair.state_dir / "speaker-a" / FILE_NAME
    with closing(sqlite3.connect(store)) as db:
        rows = sorted(p for (p,) in db.execute("SELECT prefix FROM routes"))
    assert rows == sorted([V4_RICH["prefix"], V6["prefix"]])


def test_a_store_that_cannot_be_written_gives_500_and_the_daemon_lives(pair: Pair) -> None:
    store = pair.state_dir / "speaker-a" / FILE_NAME
    # Another writer holds the store's write lock (root ignores file modes, a lock it cannot).
    blocker = sqlite3.connect(store, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pair.a.client() as a:
            r = a.post("/v1/paths", json={"paths": [V4_PLAIN]})
            message = error_of(r, 500)
            assert message.startswith("1 routes added, but they could not be stored (cannot write the "
                                      f"route store {store}: database is locked)"), message
            assert "will not survive a restart" in message
            # The route is in effect all the same, and the daemon answers.
            assert V4_PLAIN["prefix"] in local(a)
            assert a.get("/v1/global").status_code == 200
    finally:
        blocker.close()
    pair.assert_alive()
    assert "are in effect but not stored" in pair.a.log_tail(100_000)
    # Once the store can be written again, changes are stored as before.
    with pair.a.client() as a:
        r = a.post("/v1/paths", json={"paths": [V4_RICH]})
        assert r.status_code == 200 and r.json() == {"changed": 1, "unchanged": 0}, r.text
    with closing(sqlite3.connect(store)) as db:
        assert [p for (p,) in db.execute("SELECT prefix FROM routes")] == [V4_RICH["prefix"]]
