"""Our decoded messages in the implementation-neutral schema of tshark_bgp.py, so the two
readings of the same bytes can be compared field by field."""

from __future__ import annotations

from typing import Any

from gracebgp.wire import (
    AddPath,
    Aggregator,
    As4Aggregator,
    As4Path,
    AsPath,
    ClusterList,
    Communities,
    ExtendedCommunities,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    Keepalive,
    LargeCommunities,
    LocalPref,
    MpReach,
    MpUnreach,
    MultiExitDisc,
    Multiprotocol,
    NextHop,
    Notification,
    Open,
    Origin,
    OriginatorId,
    RouteRefresh,
    UnknownAttribute,
    UpdateResult,
    encode_attribute,
)
from gracebgp.wire.capabilities import Capability
from gracebgp.wire.nlri import format_prefix

# Capabilities tshark 4.0 names without details (66/67: FRR sends them empty).
_CODE_ONLY = {2, 6, 66, 67, 70, 128}


def capability(cap: Capability) -> dict[str, Any]:
    out: dict[str, Any] = {"code": cap.code}
    if isinstance(cap, Multiprotocol):
        out.update(afi=cap.afi, safi=cap.safi)
    elif isinstance(cap, ExtendedNextHop):
        out["families"] = [{"afi": a, "safi": s, "nh_afi": n} for a, s, n in cap.entries]
    elif isinstance(cap, GracefulRestart):
        out.update(restart_flags=cap.flags, restart_time=cap.restart_time,
                   families=[{"afi": a, "safi": s, "flags": f} for a, s, f in cap.families])
    elif isinstance(cap, FourOctetAs):
        out["asn"] = cap.asn
    elif isinstance(cap, AddPath):
        out["families"] = [{"afi": a, "safi": s, "send_receive": m} for a, s, m in cap.entries]
    elif isinstance(cap, Fqdn):
        out.update(hostname=cap.hostname, domain=cap.domain)
    elif cap.code not in _CODE_ONLY:
        out["raw"] = cap.encode_value().hex()  # e.g. LLGR (71): tshark 4.0 shows raw octets
    return out


def _prefixes(keys: tuple[int, ...], afi: int, addpath: bool) -> list[str]:
    return [format_prefix(k, afi, addpath) for k in keys]


def _segments(segments: tuple[tuple[int, tuple[int, ...]], ...]) -> list[dict[str, Any]]:
    return [{"type": t, "asns": list(asns)} for t, asns in segments]


def attribute(a: Any, as4: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": a.code, "flags": encode_attribute(a, as4)[0]}
    if isinstance(a, Origin | MultiExitDisc | LocalPref):
        out["value"] = a.value
    elif isinstance(a, AsPath | As4Path):
        out["segments"] = _segments(a.segments)
    elif isinstance(a, NextHop | OriginatorId):
        out["value"] = a.address
    elif isinstance(a, Aggregator | As4Aggregator):
        out.update(asn=a.asn, address=a.address)
    elif isinstance(a, Communities):
        out["values"] = [f"{v >> 16}:{v & 0xFFFF}" for v in a.values]
    elif isinstance(a, ClusterList):
        out["values"] = list(a.ids)
    elif isinstance(a, MpReach):
        out.update(afi=a.afi, safi=a.safi, next_hops=list(a.next_hop),
                   nlri=_prefixes(a.nlri, a.afi, a.addpath))
    elif isinstance(a, MpUnreach):
        out.update(afi=a.afi, safi=a.safi, withdrawn=_prefixes(a.withdrawn, a.afi, a.addpath))
    elif isinstance(a, ExtendedCommunities):
        out["values"] = [v.to_bytes(8, "big").hex() for v in a.values]
    elif isinstance(a, LargeCommunities):
        out["values"] = [f"{g}:{x}:{y}" for g, x, y in a.values]
    elif isinstance(a, UnknownAttribute):
        out["raw"] = a.value.hex()
    return out


def normalize(msg: Any, length: int, as4: bool, v4_addpath: bool) -> dict[str, Any]:
    """``msg`` as decode_message returned it; ``length`` the message's total length."""
    out: dict[str, Any]
    if isinstance(msg, Open):
        out = {"type": "OPEN", "version": msg.version, "my_as": msg.my_as, "hold_time": msg.hold_time,
               "bgp_id": msg.bgp_id, "capabilities": [capability(c) for c in msg.capabilities]}
    elif isinstance(msg, UpdateResult):
        u = msg.update
        assert u is not None
        mp = {a.code: a for a in (u.mp_reach, u.mp_unreach) if a is not None}
        rest = {a.code: a for a in u.attrs.attrs} if u.attrs is not None else {}
        order = list(u.layout) or [*mp, *rest]
        out = {"type": "UPDATE", "withdrawn": _prefixes(u.withdrawn, 1, v4_addpath),
               "nlri": _prefixes(u.nlri, 1, v4_addpath),
               "attributes": [attribute({**mp, **rest}[c], as4) for c in order]}
    elif isinstance(msg, Notification):
        out = {"type": "NOTIFICATION", "code": msg.code, "subcode": msg.subcode, "data": msg.data.hex()}
        if msg.communication is not None:
            out["communication"] = msg.communication
    elif isinstance(msg, Keepalive):
        out = {"type": "KEEPALIVE"}
    elif isinstance(msg, RouteRefresh):
        out = {"type": "ROUTE-REFRESH", "afi": msg.afi, "safi": msg.safi, "subtype": msg.subtype}
    else:
        raise TypeError(f"cannot normalize {msg!r}")
    out["length"] = length
    return out


def strip_path_ids_tshark_did_not_read(ours: Any, theirs: Any) -> Any:
    """tshark guesses whether NLRI carry ADD-PATH path ids; where its reading of a prefix
    has no "#id", compare ours without it too. Everything else must be equal."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return {k: strip_path_ids_tshark_did_not_read(v, theirs.get(k)) for k, v in ours.items()}
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [strip_path_ids_tshark_did_not_read(o, t) for o, t in zip(ours, theirs, strict=True)]
    if isinstance(ours, str) and isinstance(theirs, str) and "#" in ours and "#" not in theirs:
        return ours.split("#", 1)[0]
    return ours
