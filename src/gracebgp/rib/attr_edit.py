"""An attribute list under edit, and the export rewrites that no export policy may undo,
written once for both ways an export policy runs (issue 16): inside the export rules, on
the list they build (``export.export_path`` with a ``PolicyStep``), and after them, on a
finished set (``policy_filter.ExportFilter``: the set wrappers below make a list of it).

The rewrites (each rule cites what it implements):

* ``add_communities``: the drain's GRACEFUL_SHUTDOWN (RFC 8326 §4) and LLGR's NO_EXPORT
  (RFC 9494 §4.6), with LOCAL_PREF set when given.
* ``finish``: those again after an export policy (GoBGP's order: the policy sees the
  route as sent, then no policy takes them away).
* ``keep_rules``: LLGR_STALE stays on a route that came in stale (RFC 9494 §4.3), and no
  LOCAL_PREF goes to an external peer (RFC 4271 §5.1.5).
* ``put_next_hop``: the NEXT_HOP attribute follows a chosen next hop (RFC 4271 §5.1.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from gracebgp.policy.actions import Draft
from gracebgp.wire.attributes import LocalPref, NextHop
from gracebgp.wire.attrset import AttrSet
from gracebgp.wire.communities import Communities
from gracebgp.wire.iana import AttrType, WellKnownCommunity

_COMMUNITIES = int(AttrType.COMMUNITIES)
_LOCAL_PREF = int(AttrType.LOCAL_PREF)
_NEXT_HOP = int(AttrType.NEXT_HOP)
_LLGR_STALE = int(WellKnownCommunity.LLGR_STALE)
_NO_EXPORT = int(WellKnownCommunity.NO_EXPORT)
_GSHUT = int(WellKnownCommunity.GRACEFUL_SHUTDOWN)
_CODE = attrgetter("code")


class ListDraft(Draft):
    """A draft over an attribute list (``out``, with ``index``: type code -> position),
    edited in place, so no set is made before the edits are done. A removed attribute
    leaves None in ``out`` until ``compact``; ``changed``: some ``put`` was made."""

    __slots__ = ("changed", "index", "out", "removed")

    def __init__(self, out: list[Any], index: dict[int, int]) -> None:  # (no base set)
        self.out = out
        self.index = index
        self.next_hop = None
        self.removed = False
        self.changed = False

    @classmethod
    def of(cls, attrs: AttrSet) -> ListDraft:
        """A draft over a copy of ``attrs``' attributes."""
        out = list(attrs.attrs)
        return cls(out, {a.code: i for i, a in enumerate(out)})

    def get(self, code: int) -> Any:
        i = self.index.get(code)
        return None if i is None else self.out[i]

    def put(self, code: int, attr: Any) -> None:
        i = self.index.get(code)
        self.changed = True
        if attr is None:
            if i is not None:
                self.out[i] = None
                del self.index[code]
                self.removed = True
        elif i is None:
            self.index[code] = len(self.out)
            self.out.append(attr)
        else:
            self.out[i] = attr

    def compact(self) -> None:
        """Drop the removed attributes' places (``index`` follows)."""
        if self.removed:
            self.removed = False
            self.out[:] = [a for a in self.out if a is not None]
            self.index.clear()
            self.index.update((a.code, i) for i, a in enumerate(self.out))

    def attrset(self) -> AttrSet:
        """The attributes as a set, in type order (not interned)."""
        self.compact()
        return AttrSet(sorted(self.out, key=_CODE))

    def communities(self) -> tuple[int, ...]:
        a = self.get(_COMMUNITIES)
        return () if a is None else a.values


def add_communities(draft: ListDraft, add: Iterable[int], local_pref: int | None = None) -> None:
    """The communities ``add`` appended (once each, those not there yet) and, when given,
    LOCAL_PREF set: the one rewrite GRACEFUL_SHUTDOWN (RFC 8326 §4), LLGR_STALE and
    NO_EXPORT (RFC 9494 §4.3, §4.6) need. A rewritten COMMUNITIES attribute has the
    default flags."""
    have = draft.communities()
    extra = tuple(c for c in dict.fromkeys(add) if c not in have)
    if not extra:
        lp = draft.get(_LOCAL_PREF)
        if local_pref is None or (lp is not None and lp.value == local_pref):
            return
    if have or extra:  # (never an empty COMMUNITIES: RFC 7606 §7.8 makes it malformed)
        draft.put(_COMMUNITIES, Communities(have + extra))
    if local_pref is not None:
        draft.put(_LOCAL_PREF, LocalPref(local_pref))


def finish(draft: ListDraft, ibgp: bool, llgr: bool, gshut: bool) -> None:
    """What the export rules add at their end, applied again after an export policy so
    that no policy undoes it: NO_EXPORT and LOCAL_PREF 0 on an LLGR-stale route to an
    iBGP peer without LLGR (RFC 9494 §4.6); the drain's GRACEFUL_SHUTDOWN, LOCAL_PREF 0
    to iBGP (RFC 8326 §4)."""
    if ibgp and not llgr and _LLGR_STALE in draft.communities():
        add_communities(draft, (_NO_EXPORT,), 0)
    if gshut:
        add_communities(draft, (_GSHUT,), 0 if ibgp else None)


def keep_rules(draft: ListDraft, came_stale: bool, external: bool) -> None:
    """The rules no policy may undo, on a policy's result:

    1. RFC 9494 §4.3: a route that came in LLGR-stale (``came_stale``) keeps LLGR_STALE
       (selection and export treat it as stale; dropping the community does not make it
       fresh).
    2. RFC 4271 §5.1.5: LOCAL_PREF is never sent to an external peer, even set by policy.
    """
    if came_stale:
        values = draft.communities()
        if _LLGR_STALE not in values:
            draft.put(_COMMUNITIES, Communities((*values, _LLGR_STALE)))
    if external and draft.get(_LOCAL_PREF) is not None:
        draft.put(_LOCAL_PREF, None)


def put_next_hop(draft: ListDraft, address: str) -> None:
    """RFC 4271 §5.1.3: IPv4 unicast carries its next hop in NEXT_HOP; a list that has one
    gets ``address`` (MP families carry it in MP_REACH_NLRI, made when packed)."""
    old = draft.get(_NEXT_HOP)
    if old is not None and old.address != address:
        draft.put(_NEXT_HOP, NextHop(address))
