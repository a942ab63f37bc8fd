"""Small builders for RIB tests."""

from __future__ import annotations

from typing import Any

from gracebgp.rib.path import Path, PathTable, PeerInfo
from gracebgp.wire import AsPath, AttrSet, Communities, LocalPref, MultiExitDisc, NextHop, Origin

LOCAL = PeerInfo(0, "", 65000, "10.0.0.100", ibgp=False)
EBGP_A = PeerInfo(1, "192.0.2.1", 65001, "10.0.0.1", ibgp=False)
EBGP_B = PeerInfo(2, "192.0.2.2", 65002, "10.0.0.2", ibgp=False)
IBGP_C = PeerInfo(3, "10.1.0.3", 65000, "10.0.0.3", ibgp=True)
IBGP_D = PeerInfo(4, "10.1.0.4", 65000, "10.0.0.4", ibgp=True)
CLIENT_E = PeerInfo(5, "10.1.0.5", 65000, "10.0.0.5", ibgp=True, rr_client=True)

TABLE = PathTable()


def path(*asns: int, origin: int = 0, med: int | None = None, lp: int | None = None,
         comms: tuple[int, ...] = (), nh: str = "192.0.2.254", extra: tuple[Any, ...] = ()) -> Path:
    attrs: list[Any] = [Origin(origin), AsPath(((2, asns),) if asns else ()), NextHop(nh)]
    if med is not None:
        attrs.append(MultiExitDisc(med))
    if lp is not None:
        attrs.append(LocalPref(lp))
    if comms:
        attrs.append(Communities(comms))
    attrs.extend(extra)
    return TABLE.get(AttrSet(attrs), (nh,))


def cand(peer: PeerInfo, p: Path, learned: float = 0.0) -> tuple[PeerInfo, Path, float]:
    """A Loc-RIB candidate (source, path, when learned)."""
    return (peer, p, learned)
