"""Adj-RIB-In of one peer for one family, with the single stale-state primitive.

DESIGN.md rule 6: graceful restart (RFC 4724 §4.2), long-lived GR (RFC 9494 §4.2),
enhanced route refresh (RFC 7313 §4) and FIB reconciliation all use
``begin_refresh()`` ... re-learn ... ``end_refresh() -> swept``: every route present at
the start is marked; announcing it again unmarks it; what is still marked at the end is
removed and returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from gracebgp.rib.path import Path


class AdjRibIn:
    """``routes``: key -> the path the peer sent (held in ``_routes``; ``channel.Channel``
    may read them from the Loc-RIB instead, and then overrides what touches ``_routes``)."""

    __slots__ = ("_routes", "_stale")

    def __init__(self) -> None:
        self._routes: dict[int, Path] = {}
        self._stale: set[int] | None = None

    @property
    def routes(self) -> Mapping[int, Path]:
        return self._routes

    def __len__(self) -> int:
        return len(self._routes)

    # --- routes --------------------------------------------------------------------
    def announce(self, keys: Sequence[int], path: Path) -> None:
        routes = self._routes
        for k in keys:
            routes[k] = path
        if self._stale:
            self._unmark(keys)

    def withdraw(self, keys: Iterable[int]) -> list[int]:
        """Remove keys; returns those that were present."""
        routes = self._routes
        gone = [k for k in keys if routes.pop(k, None) is not None]
        if self._stale:
            self._unmark(gone)
        return gone

    def _unmark(self, keys: Iterable[int]) -> None:
        """During a refresh: announced again (not stale any more) or withdrawn (gone: the
        sweep must not take it again). The caller checks there is a refresh going on, so
        an UPDATE outside one makes no call."""
        assert self._stale is not None
        self._stale.difference_update(keys)

    def clear(self) -> list[int]:
        gone = list(self.routes)
        self._routes.clear()
        self._stale = None
        return gone

    # --- mark and sweep (DESIGN.md rule 6) -------------------------------------------
    @property
    def refreshing(self) -> bool:
        return self._stale is not None

    def begin_refresh(self, sweep: bool = True) -> list[int]:
        """Mark every route stale. If a refresh is already running, the routes still
        stale from it are removed first and returned (RFC 4724 §4.2: consecutive
        restarts delete what was not re-learned), unless ``sweep`` is False (RFC 9494
        §4.2: LLGR-stale routes stay until their own timer)."""
        swept = self.end_refresh() if self._stale is not None and sweep else []
        self._stale = set(self.routes)
        return swept

    def abandon_refresh(self) -> None:
        """Unmark without removing: a refresh that will not end (an enhanced route refresh
        whose session went down, RFC 7313 §4), so that graceful restart marks the routes
        as its own (RFC 4724 §4.2) instead of sweeping them as a consecutive restart."""
        self._stale = None

    def end_refresh(self) -> list[int]:
        """Remove what is still stale; returns the removed keys."""
        stale = self._stale
        self._stale = None
        if not stale:
            return []
        self._drop(stale)
        return list(stale)

    def _drop(self, keys: Iterable[int]) -> None:
        """Forget ``keys`` (each one held)."""
        routes = self._routes
        for k in keys:
            del routes[k]

    def is_stale(self, key: int) -> bool:
        return self._stale is not None and key in self._stale

    @property
    def stale_count(self) -> int:
        return len(self._stale) if self._stale else 0

    def stale_keys(self) -> frozenset[int]:
        return frozenset(self._stale or ())
