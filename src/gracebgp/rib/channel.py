"""The one door between one peer's routes of one family and the Loc-RIB: its Adj-RIB-In,
whose every change is carried into the Loc-RIB (RFC 4271 §9.1 Phase 2) and into the set
of prefixes whose best path changed (sent at the next flush, §9.1.3, §9.2) in the same
call, so no caller pairs a Loc-RIB retract with an Adj-RIB-In change by hand.

Announce and withdraw (RFC 4271 §9), clear (the session's routes go), the mark-and-sweep
refresh of DESIGN.md rule 6 (RFC 4724 §4.2, RFC 7313 §4), and the relabelling of stale
routes when graceful restart turns into long-lived GR (RFC 9494 §4.2-§4.3).

Import policy (issue 16 item 2) sits in this door: the Adj-RIB-In keeps what the peer
sent, pre-policy (soft reconfiguration, the route views, ``--explain``); what the
``importer`` (``rib.policy_filter``) accepts goes to the Loc-RIB as the policy made it,
and what it rejects leaves the Loc-RIB. ``reimport`` runs a new policy over the kept
routes (a reload: no route refresh, no session reset), offering only what changed.

Without import policy, what the peer sent is what its candidates in the Loc-RIB hold
(routes refused before this door are kept apart, ``Peer.rejected``), so a Channel that
holds a large share of the Loc-RIB keeps no dict of its own: it reads its routes from the
Loc-RIB's candidates of its source (``loc_rib.SourceRoutes``) and counts them (issue 14
item 3: the Adj-RIB-In's dict is 4.0 MB per 100k routes). ``settle``, at each flush
round, moves between the two by share (``READ_MIN``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from gracebgp.rib.adj_rib_in import AdjRibIn
from gracebgp.rib.loc_rib import LocRib, SourceRoutes
from gracebgp.rib.path import Path, PeerInfo
from gracebgp.rib.policy_filter import PolicyFilter
from gracebgp.types import Family

#: A Channel reads its routes from the Loc-RIB once it holds at least this many and at
#: least half the Loc-RIB's prefixes; below a quarter it holds them again, so a pass over
#: its routes (a session down, graceful restart's marking, a view) walks at most four
#: times as many entries as it has routes.
READ_MIN = 4096


class Channel(AdjRibIn):
    """``loc`` is the family's Loc-RIB, ``changed[family]`` the keys whose best path
    changed since the last flush (the speaker's; it swaps the set out when it flushes),
    ``info`` the peer as the Loc-RIB knows it (renewed when a session comes up; its
    ``source`` stays). ``_count``: None while the routes are held in ``_routes``, else
    how many there are in the Loc-RIB (read from it; ``_routes`` stays empty).
    ``_plain``: the Loc-RIB holds every route as the peer sent it (no import policy has
    been set since the last ``reimport`` without one), which reading from it needs."""

    __slots__ = ("_count", "_importer", "_plain", "changed", "family", "info", "loc")

    def __init__(self, family: Family, loc: LocRib, changed: dict[Family, set[int]], info: PeerInfo) -> None:
        super().__init__()
        self.family = family
        self.loc = loc
        self.changed = changed
        self.info = info
        self._count: int | None = None
        self._importer: PolicyFilter | None = None
        self._plain = True

    @property
    def importer(self) -> PolicyFilter | None:
        """The peer's import policy; None: every route goes to the Loc-RIB as received."""
        return self._importer

    @importer.setter
    def importer(self, importer: PolicyFilter | None) -> None:
        if importer is not None:
            if self._count is not None:
                self._hold()  # the Loc-RIB will hold what the policy makes of the routes
            self._plain = False
        self._importer = importer

    # --- where the routes are: here or in the Loc-RIB --------------------------------------
    @property
    def routes(self) -> Mapping[int, Path]:
        count = self._count
        return self._routes if count is None else SourceRoutes(self.loc, self.info.source, count)

    def __len__(self) -> int:
        count = self._count
        return len(self._routes) if count is None else count

    @property
    def reads_loc(self) -> bool:
        """Whether the routes are read from the Loc-RIB (no dict of their own)."""
        return self._count is not None

    def settle(self) -> None:
        """At a flush round: read the routes from the Loc-RIB when they are a large share of
        it and no import policy changes them (nor Path Identifiers name them), else hold
        them (``READ_MIN``)."""
        count, loc = self._count, self.loc
        size = len(loc.entries) + len(loc.parked)
        if count is None:
            n = len(self._routes)
            if n >= READ_MIN and 2 * n >= size and self._plain and not self.with_path_ids:
                self._count, self._routes = n, {}
        elif 4 * count < size:
            self._hold()

    def _hold(self) -> None:
        """Hold the routes here again (one pass over the Loc-RIB)."""
        self._routes, self._count = dict(self.loc.source_items(self.info.source)), None

    def _drop(self, keys: Iterable[int]) -> None:
        if self._count is None:
            super()._drop(keys)  # (else they leave the Loc-RIB in _retract, which counts them)

    def _mark(self, keys: list[int]) -> None:
        """``keys`` changed their best: into the speaker's set of changes, unless the
        Loc-RIB put them there already (it is its ``dirty``; ``reimport`` counts apart)."""
        changed = self.changed[self.family]
        if changed is not self.loc.dirty:
            changed.update(keys)

    def _retract(self, keys: list[int]) -> list[int]:
        """``keys`` left the Adj-RIB-In (or the import policy refused them): take them out of
        the Loc-RIB too; returns them."""
        if keys:
            loc = self.loc
            self._mark(loc.retract(self.info, keys))
            if self._count is not None:
                self._count -= loc.moved
        return keys

    #: Whether the Adj-RIB-In keys carry Path Identifiers (rib.channel_addpath).
    with_path_ids = False

    def prefix_keys(self) -> list[int]:
        """The prefixes the peer sent routes for (the views list them)."""
        return list(self.routes)

    def paths(self, key: int) -> list[tuple[int | None, int]]:
        """(Path Identifier, Adj-RIB-In key) of each route the peer sent for prefix ``key``."""
        return [(None, key)] if key in self.routes else []

    def _to_loc(self, keys: Sequence[int], path: Path, now: float) -> None:
        """Offer ``path`` for ``keys`` (of this Adj-RIB-In) to the Loc-RIB, as it is."""
        loc = self.loc
        self._mark(loc.offer(self.info, keys, path, now))
        if self._count is not None:
            self._count += loc.moved

    def _offer(self, keys: Sequence[int], path: Path, now: float) -> None:
        """The peer's ``path`` for ``keys`` through the import policy into the Loc-RIB."""
        importer = self._importer
        if importer is None:
            self._to_loc(keys, path, now)
            return
        accepted, rejected = importer.run(keys, path)
        for out, group in accepted.items():
            self._to_loc(group, out, now)
        if rejected:
            self._retract(list(rejected))

    # --- the hot path: once per UPDATE (AdjRibIn's method called directly, not super()) ---
    def announce(self, keys: Sequence[int], path: Path, now: float = 0.0) -> None:
        """The peer announces ``path`` for ``keys`` (an announcement unmarks a stale route)."""
        if self._count is not None:  # read from the Loc-RIB: the offer is the announcement
            self._to_loc(keys, path, now)
            if self._stale:
                self._unmark(keys)
            return
        AdjRibIn.announce(self, keys, path)
        if self._importer is None:
            self._mark(self.loc.offer(self.info, keys, path, now))
        else:
            self._offer(keys, path, now)

    def withdraw(self, keys: Iterable[int]) -> list[int]:
        """The peer withdraws ``keys``; returns those that were present."""
        count = self._count
        if count is not None:  # read from the Loc-RIB: the retract is the withdrawal
            gone: list[int] = []
            self._mark(self.loc.retract(self.info, keys if isinstance(keys, (list, tuple)) else list(keys),
                                        gone))
            self._count = count - len(gone)
            if self._stale:
                self._unmark(gone)
            return gone
        gone = AdjRibIn.withdraw(self, keys)
        if gone:
            self._mark(self.loc.retract(self.info, gone))
        return gone

    # --- the whole table ------------------------------------------------------------------
    def reimport(self, importer: PolicyFilter | None, now: float) -> int:
        """Run ``importer`` (a new import policy; None: none) over every kept route. The
        Loc-RIB changes only where the outcome does (offering the same Path again keeps
        the entry), so a route that stays accepted is never withdrawn on the way. Returns
        how many prefixes' best path changed."""
        self.importer = importer
        groups: dict[Path, list[int]] = {}
        for key, path in self.routes.items():
            group = groups.get(path)
            if group is None:
                groups[path] = [key]
            else:
                group.append(key)
        outer = self.changed[self.family]
        mine: set[int] = set()
        self.changed[self.family] = mine  # this channel's changes alone, to count them
        try:
            for path, keys in groups.items():
                self._offer(keys, path, now)
            self._plain = importer is None  # every route offered as sent
        finally:
            self.changed[self.family] = outer
        outer |= mine
        return len(mine)

    def restamp(self, now: float) -> None:
        """Every route of this channel was learned at ``now`` (our own routes, configured
        before the clock started)."""
        self.loc.restamp(self.info, list(self.routes), now)

    def clear(self) -> list[int]:
        """Every route of the peer goes; returns the keys."""
        return self._retract(super().clear())

    def begin_refresh(self, sweep: bool = True) -> list[int]:
        """DESIGN.md rule 6 (see AdjRibIn.begin_refresh); what a consecutive refresh
        sweeps leaves the Loc-RIB too."""
        return self._retract(super().begin_refresh(sweep))

    def end_refresh(self) -> list[int]:
        """Remove what is still stale, here and in the Loc-RIB; returns the keys."""
        return self._retract(super().end_refresh())

    def relabel_stale(self, relabel: Callable[[Path], Path | None], now: float) -> tuple[int, int]:
        """RFC 9494 §4.2-§4.3: give every stale route the path ``relabel`` makes of its own
        (LLGR_STALE attached), or delete it where that is None (NO_LLGR). The routes stay
        marked stale, so the peer's End-of-RIB still sweeps them. Returns (relabelled,
        deleted)."""
        converted: dict[Path, Path | None] = {}
        moved: dict[Path, list[int]] = {}
        dropped: list[int] = []
        routes, held = self.routes, self._count is None
        for key in self.stale_keys():
            path = routes[key]
            if path in converted:
                new = converted[path]
            else:
                new = converted[path] = relabel(path)
            if new is None:
                dropped.append(key)
            else:
                moved.setdefault(new, []).append(key)
        self.withdraw(dropped)
        for new, keys in moved.items():
            if held:
                self._routes.update(dict.fromkeys(keys, new))  # still marked stale
            self._offer(keys, new, now)
        return sum(len(k) for k in moved.values()), len(dropped)
