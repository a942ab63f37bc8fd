"""The durable store of routes added through the API: one SQLite table in the state
directory, written (and synced) before the API call that changed them returns, read at
start-up so a restarted speaker re-advertises what it originated (spec section 4)."""

from __future__ import annotations

import ipaddress
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gracebgp.core.originate import LocalRoute, to_path
from gracebgp.rib.path import PathTable
from gracebgp.runtime.restartstate import set_aside
from gracebgp.wire.nlri import format_prefix, parse_prefix

log = logging.getLogger("gracebgp.rib")

FILE_NAME = "routes.sqlite3"
SCHEMA_VERSION = 1
#: How long a write waits for a lock someone else holds (nobody should): it stalls the owner.
BUSY_TIMEOUT = 1.0
_U32 = 0xFFFFFFFF
_COLUMNS = "prefix, next_hop, origin, communities, large_communities, med, local_pref"
_CREATE = """CREATE TABLE IF NOT EXISTS routes (
    prefix TEXT PRIMARY KEY NOT NULL,   -- canonical text, "192.0.2.0/24", "2001:db8::/32"
    next_hop TEXT,                      -- NULL: the session's own address
    origin TEXT NOT NULL,               -- igp, egp, incomplete
    communities TEXT NOT NULL,          -- JSON list of strings, "65000:1", "no-export"
    large_communities TEXT NOT NULL,    -- JSON list of strings, "65000:1:2"
    med INTEGER,
    local_pref INTEGER
) WITHOUT ROWID"""
_UPSERT = f"INSERT OR REPLACE INTO routes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"


#: SQLite's answers for a file that is not (or no longer) a database (sqlite3.h).
_DAMAGED = {11: "SQLITE_CORRUPT", 26: "SQLITE_NOTADB"}


class StoreError(Exception):
    """The store cannot be opened, read or written; the message names the file.
    ``damaged``: the file is not a usable SQLite database (garbage, truncated), as opposed
    to one that cannot be used here (a directory, read-only, a newer schema, locked)."""

    def __init__(self, message: str, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


def _error(what: str, path: Path, exc: sqlite3.Error) -> StoreError:
    return StoreError(f"{what} {path}: {exc}", getattr(exc, "sqlite_errorcode", None) in _DAMAGED)


class RouteStore:
    """``<state_dir>/routes.sqlite3``: API routes keyed by prefix (WAL, synchronous=FULL,
    so a committed ``apply`` survives a crash of the daemon and of the host)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / FILE_NAME
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the state directory {self.path.parent}: "
                             f"{exc.strerror or exc}") from exc
        self._db: sqlite3.Connection | None = None
        try:
            # Autocommit mode: each transaction is an explicit BEGIN ... COMMIT below.
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise _error("cannot open the route store", self.path, exc) from exc
        try:
            self._prepare(db)
        except (sqlite3.Error, StoreError) as exc:
            db.close()
            if isinstance(exc, StoreError):
                raise
            raise _error("cannot open the route store", self.path, exc) from exc
        self._db = db

    def _prepare(self, db: sqlite3.Connection) -> None:
        """Check the file is ours and writable, create or check the schema."""
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("BEGIN IMMEDIATE")  # takes the write lock: a read-only file fails here
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(f"the route store {self.path} has schema version {version}; this "
                                 f"gracebgpd knows up to {SCHEMA_VERSION} (written by a newer version?)")
            db.execute(_CREATE)
            # Always written: a write that fails here (read-only file or file system) makes
            # the store unusable at start-up rather than at the first AddPaths.
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"the route store {self.path} is closed")
        return self._db

    def load(self) -> tuple[list[LocalRoute], list[str]]:
        """Every stored route that is still a valid route, and one line per row skipped."""
        try:
            rows = self._conn().execute(f"SELECT {_COLUMNS} FROM routes ORDER BY prefix").fetchall()
        except sqlite3.Error as exc:
            raise _error("cannot read the route store", self.path, exc) from exc
        routes: list[LocalRoute] = []
        problems: list[str] = []
        table = PathTable()  # throwaway: only checks that each row makes a path
        # Bulk-added routes share a few sets of attributes: check each set once.
        shapes: dict[tuple[object, ...], LocalRoute | str] = {}
        for row in rows:
            prefix = row[0]
            try:
                _check_prefix(prefix)
                shape = (":" in prefix, *row[1:])
                template = shapes.get(shape)
                if template is None:
                    try:
                        template = _route_of(prefix, row[1:])
                        to_path(template, table)
                    except (ValueError, TypeError) as exc:
                        template = str(exc)
                    shapes[shape] = template
                if isinstance(template, str):
                    raise ValueError(template)
            except (ValueError, TypeError) as exc:
                problems.append(f"{self.path}: stored route {prefix!r} skipped: {exc}")
                continue
            routes.append(template if template.prefix == prefix else _replace_prefix(template, prefix))
        return routes, problems

    def apply(self, added: Iterable[LocalRoute], removed: Iterable[str]) -> None:
        """Upsert ``added`` and delete ``removed`` (prefix texts) in one transaction;
        returns once it is on disk. StoreError (nothing changed) when it cannot."""
        db = self._conn()
        encoded: dict[tuple[str, ...], str] = {}

        def enc(values: tuple[str, ...]) -> str:
            text = encoded.get(values)
            if text is None:
                text = encoded[values] = json.dumps(list(values))
            return text

        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_UPSERT, ((r.prefix, r.next_hop, r.origin, enc(r.communities),
                                          enc(r.large_communities), r.med, r.local_pref) for r in added))
                db.executemany("DELETE FROM routes WHERE prefix = ?", ((p,) for p in removed))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the route store {self.path}: {exc}") from exc

    def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            db.close()


def _check_prefix(prefix: object) -> None:
    """ValueError unless ``prefix`` is a prefix in the canonical text the API writes."""
    if not isinstance(prefix, str):
        raise ValueError(f"prefix is not text: {prefix!r}")
    afi, key = parse_prefix(prefix)
    if format_prefix(key, afi) != prefix:  # the API could not delete it by its own name
        raise ValueError(f"prefix is not in canonical form ({format_prefix(key, afi)})")


def _route_of(prefix: str, rest: Sequence[object]) -> LocalRoute:
    """A table row (its prefix, then the other columns) -> LocalRoute; ValueError names
    what is wrong with it."""
    next_hop, origin, communities, large, med, local_pref = rest
    if next_hop is not None:
        if not isinstance(next_hop, str):
            raise ValueError(f"next hop is not text: {next_hop!r}")
        ipaddress.ip_address(next_hop)  # ValueError names the bad address
    if not isinstance(origin, str):
        raise ValueError(f"origin is not text: {origin!r}")
    return LocalRoute(prefix, next_hop, origin, _texts("communities", communities),
                      _texts("large communities", large), _u32("med", med), _u32("local-pref", local_pref))


def _replace_prefix(t: LocalRoute, prefix: str) -> LocalRoute:
    return LocalRoute(prefix, t.next_hop, t.origin, t.communities, t.large_communities, t.med, t.local_pref)


def _u32(name: str, value: object) -> int | None:
    if value is None or (isinstance(value, int) and 0 <= value <= _U32):
        return value
    raise ValueError(f"{name} {value!r} is not a 32-bit unsigned integer")


def _texts(name: str, value: object) -> tuple[str, ...]:
    try:
        items = json.loads(value) if isinstance(value, str) else None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} are not a JSON list: {exc}") from None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"{name} are not a JSON list of strings: {value!r}")
    return tuple(items)


@dataclass
class OpenedStore:
    """What start-up found: the store (None: unusable, API routes are not durable), the
    routes to restore, and ``problem``/``reason`` when the operator must know (health)."""

    store: RouteStore | None
    routes: list[LocalRoute] = field(default_factory=list)
    reason: str = ""  # "" | "StoreDamaged" (set aside, a fresh one in use) | "StoreUnusable"
    problem: str = ""  # one line for the log and the health condition
    error: str = ""  # StoreUnusable: why, for the answers to AddPaths/DeletePaths


def _load(state_dir: str | Path) -> tuple[RouteStore, list[LocalRoute], list[str]]:
    store = RouteStore(state_dir)
    try:
        routes, problems = store.load()
    except StoreError:
        store.close()
        raise
    return store, routes, problems


def open_store(state_dir: str | Path, now: float | None = None) -> OpenedStore:
    """The daemon's start-up: open and load the store, logging what was restored and each
    row skipped. A damaged file (not a database, truncated) is set aside as
    ``routes.sqlite3.damaged-<time>`` and a fresh store used: reported, since the routes
    it held are not restored. A store that cannot be used (a directory, read-only, a
    newer schema) gives ``store=None`` and a problem: the daemon runs, but AddPaths and
    DeletePaths are answered as not stored."""
    try:
        store, routes, problems = _load(state_dir)
    except StoreError as exc:
        path = Path(state_dir) / FILE_NAME
        if not exc.damaged:
            why = (f"{exc}; routes added through the API are not restored and will NOT survive a "
                   "restart of gracebgpd")
            log.error("%s", why, extra={"event": "store-unusable"})
            return OpenedStore(None, reason="StoreUnusable", problem=why, error=str(exc))
        try:
            aside = set_aside(path, time.time() if now is None else now)
            for extra in ("-wal", "-shm"):  # the journal of the damaged file goes with it
                side = path.with_name(path.name + extra)
                if side.exists():
                    side.replace(aside.with_name(aside.name + extra))
            store, routes, problems = _load(state_dir)
        except (OSError, StoreError) as again:
            why = (f"{exc}; and it could not be replaced ({getattr(again, 'strerror', None) or again}); "
                   "routes added through the API will NOT survive a restart of gracebgpd")
            log.error("%s", why, extra={"event": "store-unusable"})
            return OpenedStore(None, reason="StoreUnusable", problem=why, error=f"{exc}; {again}")
        why = (f"{exc}; set aside as {aside.name} and a new, empty store started: routes added "
               "through the API before were not restored")
        log.error("%s", why, extra={"event": "store-damaged"})
        return OpenedStore(store, routes, "StoreDamaged", why)
    for problem in problems:
        log.error("%s", problem, extra={"event": "store-row-skipped"})
    log.info("restored %d routes added through the API from %s%s", len(routes), store.path,
             f" ({len(problems)} unusable rows skipped)" if problems else "",
             extra={"event": "store-restored", "fields": {"routes": len(routes), "skipped": len(problems)}})
    return OpenedStore(store, routes)
