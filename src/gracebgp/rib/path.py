"""Path: one interned (attributes, next hop) pair with its decision fields precomputed.

DESIGN.md section 3: a route is ``prefix key -> Path`` in a dict, no per-route object;
many prefixes share one Path, so everything best-path selection reads (RFC 4271
§9.1.2.2, RFC 4456 §9, RFC 9494 §4.3) is computed once per Path, not per prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from weakref import ref

from gracebgp.wire.addr import ip_bytes
from gracebgp.wire.attributes import path_length
from gracebgp.wire.attrset import AttrSet, decode_block, intern_derived
from gracebgp.wire.iana import AttrType, SegmentType, WellKnownCommunity

DEFAULT_LOCAL_PREF = 100  # RFC 4271 §5.1.5 leaves it to policy; every implementation uses 100
_LLGR_STALE = int(WellKnownCommunity.LLGR_STALE)
_NO_LLGR = int(WellKnownCommunity.NO_LLGR)
_GSHUT = int(WellKnownCommunity.GRACEFUL_SHUTDOWN)
_LIVE = [0]  # Paths alive in this process (``live_paths``)


#: Next hops by value: the Paths of one session, and the exports to one address, share one
#: next-hop tuple instead of each keeping the one its UPDATE was decoded with (a tuple per
#: attribute set, issue 14).
_HOPS: dict[tuple[str, ...], tuple[str, ...]] = {}
_HOPS_LIMIT = 1 << 16


def shared_hop(next_hop: tuple[str, ...]) -> tuple[str, ...]:
    """The one tuple equal to ``next_hop`` (a Path's, an export's)."""
    hit = _HOPS.get(next_hop)
    if hit is None:
        if len(_HOPS) >= _HOPS_LIMIT:
            _HOPS.clear()
        hit = _HOPS[next_hop] = next_hop
    return hit


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """What the RIB needs to know about a route's source.

    ``index`` 0 is the speaker itself (locally originated routes). ``source`` tells the
    Loc-RIB's candidates of one prefix apart: the index itself for a peer that sends one
    path per prefix, a negative number per (index, Path Identifier) for the paths of an
    ADD-PATH peer (RFC 7911 §5, ``for_path_id``), so ``index`` still names the peer.
    """

    index: int
    address: str
    asn: int
    router_id: str
    ibgp: bool
    rr_client: bool = False
    source: int = -1

    def __post_init__(self) -> None:
        if self.source == -1:
            object.__setattr__(self, "source", self.index)

    def for_path_id(self, path_id: int) -> PeerInfo:
        """The source of this peer's path ``path_id`` (RFC 7911 §3: a path is known by its
        prefix and Path Identifier together)."""
        return replace(self, source=-2 - ((self.index << 32) | path_id))

    @property
    def path_id(self) -> int | None:
        """The peer's Path Identifier for an ADD-PATH source, else None."""
        return None if self.source >= 0 else (-2 - self.source) & 0xFFFFFFFF

    def adj_key(self, key: int) -> int:
        """The Adj-RIB-In key of this source's route for prefix ``key``."""
        return key if self.source >= 0 else key << 32 | ((-2 - self.source) & 0xFFFFFFFF)

    @property
    def local(self) -> bool:
        return self.index == 0

    @property
    def address_key(self) -> bytes:
        """RFC 4271 §9.1.2.2 g: the peer address as comparable octets."""
        return ip_bytes(self.address) if self.address and not self.local else b""


def _router_id_int(text: str) -> int:
    return int.from_bytes(ip_bytes(text), "big")


class Path:
    """Attributes plus next hop of a set of routes. Compare with ``is`` after interning.

    The decision fields are computed on first use: a prefix with a single candidate (a
    full table from one upstream) never needs them. ``exports`` is the Adj-RIBs-Out's
    memo of this path as exported (``rib.adj_rib_out``); it lives and dies with the path.
    When the last route using a path is gone, the path is freed and releases its
    attribute set from the intern table if no other path uses it (``__del__``).
    """

    __slots__ = ("__weakref__", "_d", "attrs", "exports", "next_hop")

    def __init__(self, attrs: AttrSet, next_hop: tuple[str, ...]) -> None:
        self.attrs = attrs
        self.next_hop = shared_hop(next_hop)  # (one Path per attribute set: once per set)
        self._d: _Decision | None = None
        self.exports: Any = None
        _LIVE[0] += 1

    def __del__(self, _live: list[int] = _LIVE) -> None:  # a default: works during exit
        _live[0] -= 1
        attrs = self.attrs
        memo = attrs.paths
        if memo is None:
            return
        if memo.__class__ is dict:
            ref = memo.get(self.next_hop)
            if ref is None or ref() is not self:
                return
            del memo[self.next_hop]
            if memo:
                return
        elif memo() is not self:
            return
        attrs.paths = None
        attrs.release()

    @property
    def block(self) -> bytes:
        """The attributes encoded with 4-octet AS numbers (``AttrSet.wire``)."""
        return self.attrs.wire(True)

    def same(self, other: Path) -> bool:
        """``other`` is sent as the same UPDATE content: its attributes and next hop (a
        Path exported by value and an ``Exported`` compare by their encodings)."""
        return other is self or (self.next_hop == other.next_hop and self.block == other.block)

    def _decision(self) -> _Decision:
        d = self._d
        if d is None:
            d = self._d = _Decision(self.attrs)
        return d

    @property
    def local_pref(self) -> int:
        return self._decision().local_pref

    @property
    def as_path_len(self) -> int:
        return self._decision().as_path_len

    @property
    def origin(self) -> int:
        return self._decision().origin

    @property
    def med(self) -> int:
        return self._decision().med

    @property
    def neighbor_as(self) -> int:
        return self._decision().neighbor_as

    @property
    def originator_id(self) -> int | None:
        return self._decision().originator_id

    @property
    def cluster_len(self) -> int:
        return self._decision().cluster_len

    @property
    def llgr_stale(self) -> bool:
        return self._decision().llgr_stale

    @property
    def no_llgr(self) -> bool:
        return self._decision().no_llgr

    @property
    def gshut(self) -> bool:
        return self._decision().gshut

    def __repr__(self) -> str:
        return f"Path(next_hop={self.next_hop}, {self.attrs!r})"


class _Decision:
    """What RFC 4271 §9.1.2.2, RFC 4456 §9 and RFC 9494 §4.3 compare, read once."""

    __slots__ = ("as_path_len", "cluster_len", "gshut", "llgr_stale", "local_pref", "med",
                 "neighbor_as", "no_llgr", "origin", "originator_id")

    def __init__(self, attrs: AttrSet) -> None:
        lp = attrs.local_pref
        comms = attrs.communities
        # RFC 8326 §4: GRACEFUL_SHUTDOWN lowers LOCAL_PREF to 0 on receipt (default policy).
        self.gshut = _GSHUT in comms
        self.local_pref = 0 if self.gshut else (DEFAULT_LOCAL_PREF if lp is None else lp)
        segments = attrs.as_path
        self.as_path_len = path_length(segments)
        origin = attrs.origin
        self.origin = 2 if origin is None else origin
        med = attrs.med
        self.med = 0 if med is None else med  # RFC 4271 §9.1.2.2 c: missing MED is lowest
        first = next((s for s in segments if s[0] == SegmentType.AS_SEQUENCE), None)
        self.neighbor_as = first[1][0] if first is not None and first[1] else 0
        orig = attrs.get(AttrType.ORIGINATOR_ID)
        self.originator_id = _router_id_int(orig.address) if orig is not None else None
        cl = attrs.get(AttrType.CLUSTER_LIST)
        self.cluster_len = len(cl.ids) if cl is not None else 0
        self.llgr_stale = _LLGR_STALE in comms  # RFC 9494 §4.3 received as LLGR-stale
        self.no_llgr = _NO_LLGR in comms


class Exported(Path):
    """A path as sent to peers, kept as its attribute block (4-octet AS numbers) and next
    hop: ``attrs`` is decoded from the block each time something reads it (a view, an
    UPDATE to a peer without 4-octet AS), never kept. The export of each attribute set
    of a full table so costs one object and its block, not an AttrSet, its tuple, a Path
    and a weak reference (issue 14 item 3); it is not interned (the export memo on the
    source path keeps one per export class): two are the same export when their blocks and
    next hops are (``Path.same``)."""

    __slots__ = ("block", "slot", "source")

    def __init__(self, block: bytes, next_hop: tuple[str, ...]) -> None:  # (not Path's: no AttrSet)
        self.block = block  # type: ignore[misc]
        self.next_hop = next_hop
        self._d = None
        self.exports = None
        #: The export memo entry it is on its source path (``AdjRibOut._export``): the
        #: slot of the export class and the source it was exported from (one object where
        #: a ``(slot, source, exported)`` tuple would be another 64 octets per attribute
        #: set and class, issue 14 item 3).
        self.slot = 0
        self.source: PeerInfo | None = None

    def __del__(self, _live: list[int] = _LIVE) -> None:  # (nothing to release: in no table)
        pass

    @property
    def attrs(self) -> AttrSet:
        return decode_block(self.block)

    @attrs.setter
    def attrs(self, _: AttrSet) -> None:
        raise AttributeError("an exported path's attributes are its block")


def live_paths() -> int:
    """How many Path objects are alive in this process (tests and diagnostics)."""
    return _LIVE[0]


class PathTable:
    """Interns Paths by (AttrSet identity, next hop) so equal routes share one object.

    Holds nothing itself: each AttrSet keeps a weak reference to the Path made of it
    (``AttrSet.paths``; next hop -> weak reference when MP routes share the set with
    different next hops), so a Path lives exactly as long as some route, Adj-RIB or
    export memo uses it, and the table never grows with the number of sessions seen.
    ``derived`` first interns a set built here (an export, a local route) by content.
    """

    __slots__ = ()

    def get(self, attrs: AttrSet, next_hop: tuple[str, ...]) -> Path:
        memo = attrs.paths
        if memo is None:
            path = Path(attrs, next_hop)
            attrs.paths = ref(path)
            return path
        if memo.__class__ is dict:
            known = memo.get(next_hop)
            hit = known() if known is not None else None
            if hit is None:
                hit = Path(attrs, next_hop)
                memo[next_hop] = ref(hit)
            return hit
        hit = memo()
        if hit is None:
            hit = Path(attrs, next_hop)
            attrs.paths = ref(hit)
        elif hit.next_hop != next_hop:
            path = Path(attrs, next_hop)
            attrs.paths = {hit.next_hop: memo, next_hop: ref(path)}
            return path
        return hit

    def derived(self, attrs: AttrSet, next_hop: tuple[str, ...]) -> Path:
        """The Path of a set built here rather than decoded: equal content, same Path."""
        return self.get(intern_derived(attrs), next_hop)
