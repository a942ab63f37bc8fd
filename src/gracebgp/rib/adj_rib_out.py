"""Adj-RIB-Out of one peer for one family: what was sent, what must be sent, and the
UPDATEs that carry the difference.

RFC 4271 §9.1.3 / §9.2: only changes are sent; announcements are grouped by attribute
set so each attribute block is encoded once and carries as many prefixes as fit
(DESIGN.md section 3); withdrawals go first.
"""

from __future__ import annotations

from collections.abc import Iterable

from gracebgp.rib.export import ExportPolicy, export_path
from gracebgp.rib.loc_rib import LocRib
from gracebgp.rib.path import Path, PathTable
from gracebgp.types import IPV4_UNICAST, Family
from gracebgp.wire.attrset import to_two_octet
from gracebgp.wire.context import CodecContext
from gracebgp.wire.update import end_of_rib, pack_ipv4, pack_mp, pack_withdrawals

_CACHE_LIMIT = 1 << 19


class AdjRibOut:
    __slots__ = ("_cache", "_table", "advertised", "family", "pending", "policy")

    def __init__(self, family: Family, policy: ExportPolicy, table: PathTable) -> None:
        self.family = family
        self.policy = policy
        self._table = table
        self.advertised: dict[int, Path] = {}
        self.pending: dict[int, Path | None] = {}  # key -> path to announce, None: withdraw
        # source path -> (source peer index, exported path or None); Paths hash by identity
        self._cache: dict[Path, tuple[int, Path | None]] = {}

    def __len__(self) -> int:
        return len(self.advertised)

    def consider(self, keys: Iterable[int], loc: LocRib) -> None:
        """Re-evaluate ``keys`` against the Loc-RIB's current best paths."""
        advertised, pending, cache = self.advertised, self.pending, self._cache
        entries = loc.entries
        target = self.policy.peer.index
        last_path: Path | None = None  # consecutive keys mostly share a path (one UPDATE)
        last_index = -1
        last_out: Path | None = None
        for k in keys:
            e = entries.get(k)
            out: Path | None = None
            if e is not None:
                peer, path, _ = e if isinstance(e, tuple) else e[0]
                index = peer.index
                if index == target:
                    # Its own route: never sent back (export_path's first rule), so only a
                    # route advertised earlier needs a withdrawal.
                    if k in advertised:
                        pending[k] = None
                    else:
                        pending.pop(k, None)
                    continue
                if path is last_path and index == last_index:
                    out = last_out
                else:
                    hit = cache.get(path)
                    if hit is None or hit[0] != index:
                        out = export_path(peer, path, self.policy, self.family, self._table)
                        if len(cache) >= _CACHE_LIMIT:  # forget paths of routes long gone
                            cache.clear()
                        cache[path] = (index, out)
                    else:
                        out = hit[1]
                    last_path, last_index, last_out = path, index, out
            if advertised.get(k) is out:
                pending.pop(k, None)
            else:
                pending[k] = out

    def consider_all(self, loc: LocRib) -> None:
        """The whole table, e.g. when the session comes up (RFC 4271 §9.1.3)."""
        self.consider(list(loc.entries), loc)

    def flush(self, ctx: CodecContext) -> list[bytes]:
        """UPDATEs for everything pending; ``advertised`` then reflects them."""
        if not self.pending:
            return []
        withdraw: list[int] = []
        groups: dict[Path, list[int]] = {}
        advertised = self.advertised
        for k, path in self.pending.items():
            if path is None:
                if advertised.pop(k, None) is not None:
                    withdraw.append(k)
            else:
                advertised[k] = path
                groups.setdefault(path, []).append(k)
        self.pending = {}
        out: list[bytes] = []
        if withdraw:
            out += pack_withdrawals(self.family, withdraw, ctx)
        for path, keys in groups.items():
            attrs = path.attrs if ctx.as4 else to_two_octet(path.attrs)
            if self.family == IPV4_UNICAST:
                out += pack_ipv4(attrs, keys, ctx)
            else:
                out += pack_mp(attrs, self.family, path.next_hop, keys, ctx)
        return out

    def end_of_rib(self, ctx: CodecContext) -> bytes:
        """RFC 4724 §2 marker after the initial table."""
        return end_of_rib(self.family, ctx)

    def repolicy(self, policy: ExportPolicy) -> None:
        """Export with ``policy`` from now on (drain, LLGR): forget the exported forms;
        call ``consider_all`` next to send the difference."""
        self.policy = policy
        self._cache.clear()

    def reset(self) -> None:
        """The session went down: nothing is advertised any more."""
        self.advertised.clear()
        self.pending.clear()
