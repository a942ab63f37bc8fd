"""The door to the Loc-RIB for a peer that sends several paths per prefix (ADD-PATH
Receive negotiated, RFC 7911 §5): its Adj-RIB-In keeps every path by (prefix, Path
Identifier), and each Path Identifier of the peer is a candidate source of its own in the
Loc-RIB, so two paths the peer sends for one prefix are two candidates of that prefix.

RFC 7911 §3: the Path Identifier and the prefix together identify a path; an ADD-PATH key
is ``prefix_key << 32 | path_id`` (``wire.nlri``), so the Adj-RIB-In keys carry it and the
Loc-RIB keys (``key >> 32``) do not. §5: a new advertisement for a prefix and Path
Identifier replaces the previous one for the same pair only; a withdrawal of a pair not
seen is ignored (``AdjRibIn.withdraw`` returns only what was present).

A peer without ADD-PATH keeps ``Channel``: the choice is made once per session and family.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gracebgp.rib.adj_rib_in import AdjRibIn
from gracebgp.rib.channel import Channel
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PeerInfo
from gracebgp.types import Family

_ID_MASK = 0xFFFFFFFF


def by_path_id(keys: Iterable[int]) -> dict[int, list[int]]:
    """ADD-PATH keys grouped by Path Identifier: path id -> the plain prefix keys."""
    groups: dict[int, list[int]] = {}
    for k in keys:
        pid = k & _ID_MASK
        group = groups.get(pid)
        if group is None:
            groups[pid] = [k >> 32]
        else:
            group.append(k >> 32)
    return groups


class AddPathChannel(Channel):
    """A ``Channel`` whose keys carry Path Identifiers (the peer's ADD-PATH keys)."""

    __slots__ = ("_built_for", "_sources")

    def __init__(self, family: Family, loc: LocRib, changed: dict[Family, set[int]], info: PeerInfo) -> None:
        super().__init__(family, loc, changed, info)
        self._sources: dict[int, PeerInfo] = {}
        self._built_for = info

    with_path_ids = True

    def prefix_keys(self) -> list[int]:
        return list(dict.fromkeys(k >> 32 for k in self.routes))

    def paths(self, key: int) -> list[tuple[int | None, int]]:
        # Without import policy every route of the Adj-RIB-In is a Loc-RIB candidate (refused
        # ones are kept apart, Peer.rejected), so the Loc-RIB knows the path ids without a
        # scan; a policy may keep some out of the Loc-RIB: then the Adj-RIB-In is scanned.
        if self.importer is not None:
            return sorted((k & _ID_MASK, k) for k in self.routes if k >> 32 == key)
        index = self.info.index
        return sorted((c[0].path_id, key << 32 | c[0].path_id) for c in self.loc.candidates(key)
                      if c[0].index == index and c[0].path_id is not None)

    def source(self, path_id: int) -> PeerInfo:
        """The Loc-RIB source of the peer's path ``path_id`` on the current session."""
        if self._built_for is not self.info:  # the session came up again: new PeerInfo
            self._sources.clear()
            self._built_for = self.info
        src = self._sources.get(path_id)
        if src is None:
            src = self._sources[path_id] = self.info.for_path_id(path_id)
        return src

    def _to_loc(self, keys: Sequence[int], path: Path, now: float) -> None:
        offer = self.loc.offer
        for pid, prefixes in by_path_id(keys).items():
            self._mark(offer(self.source(pid), prefixes, path, now))

    def _retract(self, keys: list[int]) -> list[int]:
        if keys:
            retract = self.loc.retract
            for pid, prefixes in by_path_id(keys).items():
                self._mark(retract(self.source(pid), prefixes))
        return keys

    def announce(self, keys: Sequence[int], path: Path, now: float = 0.0) -> None:
        AdjRibIn.announce(self, keys, path)
        self._offer(list(keys), path, now)

    def withdraw(self, keys: Iterable[int]) -> list[int]:
        return self._retract(AdjRibIn.withdraw(self, keys))

    def restamp(self, now: float) -> None:
        for pid, prefixes in by_path_id(self.routes).items():
            self.loc.restamp(self.source(pid), prefixes, now)


def channel_for(family: Family, loc: LocRib, changed: dict[Family, set[int]], info: PeerInfo, addpath: bool,
                kept: Channel | None) -> Channel:
    """The door for a session that came up: ``kept`` (the routes kept from the last
    session, graceful restart) when its keys have the shape this session's have, else a
    new one (``kept``'s routes leave the Loc-RIB: keys with and without Path Identifiers
    do not name the same routes)."""
    kind = AddPathChannel if addpath else Channel
    if kept is not None:
        if type(kept) is kind:
            return kept
        kept.clear()
    return kind(family, loc, changed, info)
