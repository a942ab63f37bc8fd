"""The durable store of API routes (runtime.store) and how the owner reports a write that
failed (runtime.owner): round trips, upsert, delete, reopen, bad rows, bad files."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.owner import Owner
from gracebgp.runtime.store import FILE_NAME, RouteStore, StoreError, open_store

R1 = LocalRoute("192.0.2.0/24", "198.51.100.1", "egp", ("65000:1", "no-export"), ("65000:1:2",), 5, 200)
R2 = LocalRoute("2001:db8::/32")
R3 = LocalRoute("203.0.113.0/25", None, "incomplete")


def v4(i: int) -> str:
    return f"{10 + (i >> 16)}.{i >> 8 & 255}.{i & 255}.0/24"


@pytest.fixture
def store(tmp_path: Path) -> RouteStore:
    return RouteStore(tmp_path / "state")


def raw(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "state" / FILE_NAME, isolation_level=None)


def test_round_trip_and_file_settings(tmp_path: Path, store: RouteStore) -> None:
    assert store.load() == ([], [])
    store.apply([R1, R2, R3], [])
    assert store.load() == ([R1, R2, R3], [])
    assert store.path == tmp_path / "state" / FILE_NAME
    db = raw(tmp_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_upsert_replaces_by_prefix(store: RouteStore) -> None:
    store.apply([R1, R2], [])
    new = LocalRoute(R1.prefix, "198.51.100.9", med=7)
    store.apply([new], [])
    assert store.load() == ([new, R2], [])


def test_delete_and_delete_of_unknown(store: RouteStore) -> None:
    store.apply([R1, R2, R3], [])
    store.apply([], [R2.prefix, "10.9.9.0/24"])
    assert store.load() == ([R1, R3], [])


def test_add_and_delete_in_one_apply(store: RouteStore) -> None:
    store.apply([R1], [])
    store.apply([R2], [R1.prefix])
    assert store.load() == ([R2], [])


def test_reopen_after_close(tmp_path: Path, store: RouteStore) -> None:
    store.apply([R1, R2], [])
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.apply([R3], [])
    again = RouteStore(tmp_path / "state")
    assert again.load() == ([R1, R2], [])


def test_bad_rows_are_skipped_with_a_problem(tmp_path: Path, store: RouteStore) -> None:
    store.apply([R1], [])
    db = raw(tmp_path)
    bad = [
        ("10.0.0.1/24", None, "igp", "[]", "[]", None, None),          # host bits: not canonical
        ("not a prefix", None, "igp", "[]", "[]", None, None),
        ("10.1.0.0/16", None, "sideways", "[]", "[]", None, None),
        ("10.2.0.0/16", "no-such-host", "igp", "[]", "[]", None, None),
        ("10.3.0.0/16", "2001:db8::1", "igp", "[]", "[]", None, None),  # v6 next hop, v4 route
        ("10.4.0.0/16", None, "igp", "{not json", "[]", None, None),
        ("10.5.0.0/16", None, "igp", '["65536:1"]', "[]", None, None),
        ("10.6.0.0/16", None, "igp", "[]", '["1:2"]', None, None),
        ("10.7.0.0/16", None, "igp", "[]", "[]", -1, None),
        ("10.8.0.0/16", None, "igp", "[]", "[]", None, "high"),
        (b"\x0a\x00", None, "igp", "[]", "[]", None, None),  # a BLOB, not text
    ]
    db.executemany("INSERT INTO routes VALUES (?, ?, ?, ?, ?, ?, ?)", bad)
    routes, problems = store.load()
    assert routes == [R1]
    assert len(problems) == len(bad), problems
    text = "\n".join(problems)
    assert str(store.path) in problems[0] and "skipped" in problems[0]
    for why in ("canonical form (10.0.0.0/24)", "sideways", "no-such-host", "IPv4 next hop", "JSON",
                "65536:1", "1:2", "med -1", "local-pref 'high'", "prefix is not text"):
        assert why in text, why


def test_one_good_shape_many_prefixes_and_a_bad_one(store: RouteStore) -> None:
    routes = [LocalRoute(v4(i), "192.0.2.1", communities=("65000:7",)) for i in range(50)]
    store.apply(routes, [])
    assert store.load() == (sorted(routes, key=lambda r: r.prefix), [])


@pytest.mark.parametrize("how", ["dir-is-a-file", "db-is-a-dir", "garbage", "newer-schema"])
def test_unopenable_store_names_the_path(tmp_path: Path, how: str) -> None:
    state = tmp_path / "state"
    if how == "dir-is-a-file":
        state.write_text("")
    elif how == "db-is-a-dir":
        (state / FILE_NAME).mkdir(parents=True)
    elif how == "garbage":
        state.mkdir()
        (state / FILE_NAME).write_bytes(b"this is not an SQLite database\n" * 200)
    else:
        RouteStore(state).close()
        sqlite3.connect(state / FILE_NAME, isolation_level=None).execute("PRAGMA user_version=99")
    with pytest.raises(StoreError) as caught:
        RouteStore(state)
    assert str(state) in str(caught.value)
    if how == "newer-schema":
        assert "schema version 99" in str(caught.value)


def test_open_store_logs_and_runs_without_a_store(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("")
    with caplog.at_level(logging.INFO, "gracebgp"):
        opened = open_store(tmp_path / "file")
    assert opened.store is None and opened.routes == [] and opened.reason == "StoreUnusable"
    assert "will NOT survive a restart" in caplog.text and "will NOT survive a restart" in opened.problem
    assert str(tmp_path / "file") in opened.error  # what AddPaths answers: never "stored"
    good = RouteStore(tmp_path / "ok")
    good.apply([R1, R2], [])
    good.close()
    caplog.clear()
    with caplog.at_level(logging.INFO, "gracebgp"):
        opened = open_store(tmp_path / "ok")
    assert opened.store is not None and opened.routes == [R1, R2] and opened.problem == ""
    assert "restored 2 routes" in caplog.text


def _truncated(state: Path) -> None:
    store = RouteStore(state)
    store.apply([LocalRoute(v4(i), "192.0.2.1") for i in range(20_000)], [])
    store.close()
    path = state / FILE_NAME
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_a_damaged_store_is_set_aside_and_a_new_one_used(tmp_path: Path, how: str) -> None:
    state = tmp_path / "state"
    if how == "garbage":
        state.mkdir()
        (state / FILE_NAME).write_bytes(b"this is not an SQLite database\n" * 200)
    else:
        _truncated(state)
    damaged = (state / FILE_NAME).read_bytes()
    opened = open_store(state)
    assert opened.reason == "StoreDamaged" and opened.store is not None and opened.routes == []
    assert "set aside as routes.sqlite3.damaged-" in opened.problem, opened.problem
    assert "were not restored" in opened.problem
    kept = sorted(state.glob(FILE_NAME + ".damaged-*"))
    assert [k.read_bytes() for k in kept if not k.name.endswith(("-wal", "-shm"))] == [damaged]
    opened.store.apply([R1], [])  # the new store is durable
    opened.store.close()
    again = open_store(state)
    assert again.routes == [R1] and again.problem == ""
    assert again.store is not None
    again.store.close()


@pytest.mark.parametrize("how", ["db-is-a-dir", "newer-schema", "read-only"])
def test_an_unusable_store_is_not_set_aside(tmp_path: Path, how: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    if how == "db-is-a-dir":
        (state / FILE_NAME).mkdir(parents=True)
    elif how == "newer-schema":
        RouteStore(state).close()
        sqlite3.connect(state / FILE_NAME, isolation_level=None).execute("PRAGMA user_version=99")
    else:  # root ignores file modes: make SQLite see a read-only file
        RouteStore(state).close()
        real = sqlite3.connect

        def read_only(path: object, timeout: float = 5.0, isolation_level: None = None) -> sqlite3.Connection:
            return real(f"file:{path}?mode=ro", timeout=timeout, isolation_level=isolation_level, uri=True)

        monkeypatch.setattr(sqlite3, "connect", read_only)
    opened = open_store(state)
    assert opened.store is None and opened.reason == "StoreUnusable", opened
    assert str(state / FILE_NAME) in opened.error
    assert not list(state.glob(FILE_NAME + ".damaged-*"))  # kept where it is: not damaged


def test_ten_thousand_routes_in_one_apply(store: RouteStore) -> None:
    routes = [LocalRoute(v4(i), "192.0.2.1", "igp", ("65000:1",), (), 10) for i in range(10_000)]
    t = time.perf_counter()
    store.apply(routes, [])
    took = time.perf_counter() - t
    loaded, problems = store.load()
    assert problems == [] and len(loaded) == 10_000
    assert set(loaded) == set(routes)
    assert took < 5.0  # generous: ~0.04 s here; a failure means the batch is not one transaction
    store.apply([], [r.prefix for r in routes[:5000]])
    assert len(store.load()[0]) == 5000


def test_owner_turns_a_failed_store_into_a_500(store: RouteStore) -> None:
    async def scenario() -> tuple[ev.Reply, ev.Reply]:
        owner = Owner(Speaker(65001, "192.0.2.1"), [])
        owner.store = store
        first, second = owner.awaiting(1), owner.awaiting(2)
        store.close()  # every write now fails
        owner.execute([ev.StoreRoutes(added=(R1,)), ev.Reply(1, 200, "1 routes added"),
                        ev.Reply(2, 200, "0 routes deleted")])
        return first.result(), second.result()

    failed, next_one = asyncio.run(scenario())
    assert failed.status == 500
    assert failed.message.startswith("1 routes added, but they could not be stored (")
    assert str(store.path) in failed.message and "will not survive a restart" in failed.message
    assert next_one == ev.Reply(2, 200, "0 routes deleted")  # only the Reply that follows


def test_owner_with_an_unusable_store_never_acknowledges_durable() -> None:
    """The store could not be opened: owner.store is None, but not "no store wanted"."""
    async def scenario() -> ev.Reply:
        owner = Owner(Speaker(65001, "192.0.2.1"), [])
        owner.store_error = "cannot open the route store /x/routes.sqlite3: unable to open database file"
        fut = owner.awaiting(1)
        owner.execute([ev.StoreRoutes(added=(R1,)), ev.Reply(1, 200, "1 routes added")])
        return fut.result()

    reply = asyncio.run(scenario())
    assert reply.status == 500 and "could not be stored (cannot open the route store" in reply.message


def test_owner_clears_the_write_error_once_a_write_succeeds(store: RouteStore) -> None:
    async def scenario() -> tuple[str, str]:
        owner = Owner(Speaker(65001, "192.0.2.1"), [])
        owner.store = store
        owner.store_error = "earlier failure"
        owner.execute([ev.StoreRoutes(added=(R1,))])
        return owner.store_error, ""

    assert asyncio.run(scenario())[0] == ""
