"""Adj-RIB-Out of a peer that receives several paths per prefix from us (ADD-PATH Send
negotiated for the family, RFC 7911 §5): up to ``send-max`` paths per prefix, each under a
Path Identifier of ours.

RFC 7911 §5: the route update is made per (prefix, Path Identifier), so a path that stays
keeps its identifier and only what changed is sent; the best route SHOULD be among the
paths sent unless it came from that peer. Which further paths to send is left open by the
RFC: we send the candidates in the decision process's order (``decision.ranked``), each
after this peer's export rules, skipping those the peer gave us (never sent back) or that
export refuses. RFC 7911 §3: the Path Identifier is ours to assign; we give each
candidate source (a peer, or one Path Identifier of an ADD-PATH peer) one identifier
while some prefix's sent paths use it, so the same source's path is the same path id for
every prefix. An identifier no prefix uses any more is given again to the next new
source: an ADD-PATH peer upstream may name new path ids for as long as its session lives,
and ours stay as few as the sources in use.

A peer without ADD-PATH Send keeps ``AdjRibOut``: the choice is made once per session and
family. Keys in ``advertised`` and ``pending`` are ADD-PATH keys (``prefix << 32 | id``),
which ``flush`` packs with Path Identifiers because the session's context lists the family.
"""

from __future__ import annotations

from collections.abc import Collection

from gracebgp.rib.adj_rib_out import AdjRibOut, Before
from gracebgp.rib.decision import ranked
from gracebgp.rib.export import ExportPolicy
from gracebgp.rib.loc_rib import LocRib, Lookup
from gracebgp.rib.path import Path, PathTable, PeerInfo
from gracebgp.types import Family

_NONE: dict[int, Path] = {}  # (a prefix with nothing chosen; never written)


class AddPathRibOut(AdjRibOut):
    __slots__ = ("_free", "_ids", "_owner", "_sent", "_uses", "send_max")
    _fuses = False  # the export policy runs per path after the rules (``chosen``)
    _syncs = False  # several paths per prefix: always a table (``before`` is not read)

    def __init__(self, family: Family, policy: ExportPolicy, table: PathTable, send_max: int) -> None:
        super().__init__(family, policy, table)
        self.send_max = max(1, send_max)
        self._ids: dict[int, int] = {}  # candidate source -> our Path Identifier
        self._owner: dict[int, int] = {}  # our Path Identifier -> its source
        self._uses: dict[int, int] = {}  # our Path Identifier -> prefixes whose sent paths hold it
        self._free: list[int] = []  # identifiers no prefix uses: given again first
        self._sent: dict[int, dict[int, Path]] = {}  # prefix -> {our path id: path} chosen to send

    def path_id(self, source: PeerInfo) -> int:
        """Our Path Identifier for the paths of ``source``: one no prefix uses any more,
        else the next (identifiers stay 1..N, N the most ever in use at once)."""
        pid = self._ids.get(source.source)
        if pid is None:
            pid = self._free.pop() if self._free else len(self._owner) + 1
            self._ids[source.source] = pid
            self._owner[pid] = source.source
        return pid

    def _release(self, pid: int) -> None:
        """One prefix less sends a path under ``pid``; with none left it is free."""
        left = self._uses.get(pid, 0) - 1
        if left > 0:
            self._uses[pid] = left
            return
        self._uses.pop(pid, None)
        source = self._owner.pop(pid, None)
        if source is not None:
            del self._ids[source]
            self._free.append(pid)

    def prefix_keys(self) -> list[int]:
        return list(dict.fromkeys(k >> 32 for k in self.advertised))

    def sent(self, key: int) -> list[tuple[int | None, Path]]:
        advertised = self.advertised
        return [(pid, advertised[key << 32 | pid]) for pid in sorted(self._sent.get(key, ()))
                if key << 32 | pid in advertised]

    def chosen(self, key: int, loc: LocRib) -> dict[int, Path]:
        """The paths to send for prefix ``key``: our path id -> the exported path."""
        want: dict[int, Path] = {}
        target = self.policy.peer.index
        cands = loc.candidates(key)  # the best first (LocRib keeps it there)
        if len(cands) > self.send_max:  # which of the others go depends on their order
            cands = [cands[0], *ranked(cands[1:], loc.always_compare_med)]
        for peer, path, _ in cands:
            if peer.index == target:
                continue  # its own path: never sent back (export_path's first rule)
            out = self._export(peer, path)
            if out is not None and self.exporter is not None:
                out = self.exporter.one(key, peer, path, out, self.policy)
            if out is not None:
                want[self.path_id(peer)] = out
                if len(want) >= self.send_max:
                    break
        return want

    takes_found = False  # (every candidate of a key is read, ``chosen``)
    takes_runs = False  # (nor the runs)

    def consider(self, keys: Collection[int], loc: LocRib, again: bool = False,
                 before: Before | None = None, found: Lookup | None = None) -> None:
        advertised, pending, sent, uses = self.advertised, self.pending, self._sent, self._uses
        for k in keys:
            want = self.chosen(k, loc)
            had = sent.get(k, _NONE)
            for pid in want:
                if pid not in had:
                    uses[pid] = uses.get(pid, 0) + 1
            for pid in had:
                if pid not in want:
                    key = k << 32 | pid
                    if key in advertised:
                        pending[key] = None
                    else:
                        pending.pop(key, None)
                    self._release(pid)
            for pid, out in want.items():
                key = k << 32 | pid
                sent_before = advertised.get(key)
                if not again and sent_before is not None and out.same(sent_before):
                    pending.pop(key, None)  # (the same export, whatever source path made it)
                else:
                    pending[key] = out
            if want:
                sent[k] = want
            else:
                sent.pop(k, None)

    def reset(self) -> None:
        super().reset()
        for table in (self._sent, self._ids, self._owner, self._uses):
            table.clear()
        self._free.clear()


def rib_out_for(family: Family, policy: ExportPolicy, table: PathTable, send_max: int | None) -> AdjRibOut:
    """The Adj-RIB-Out of a session that came up: several paths per prefix when ADD-PATH
    Send was negotiated for ``family`` (``send_max``: how many; None: not negotiated)."""
    if send_max is None:
        return AdjRibOut(family, policy, table)
    return AddPathRibOut(family, policy, table, send_max)
