"""One-line operator text for decoded messages (logs, `make demo`, wiredump).

Prefixes, AS paths and communities print the way GoBGP / BIRD / FRR operators read them.
"""

from __future__ import annotations

from typing import Any

from gracebgp.types import AFI, make_family
from gracebgp.wire.attributes import Segment
from gracebgp.wire.attrset import AttrSet
from gracebgp.wire.capabilities import (
    AddPath,
    Capability,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    LongLivedGracefulRestart,
    Multiprotocol,
    UnknownCapability,
)
from gracebgp.wire.communities import (
    format_community,
    format_extended_community,
    format_large_community,
)
from gracebgp.wire.iana import CapabilityCode, Origin, SegmentType
from gracebgp.wire.messages import Keepalive, Notification, Open, RouteRefresh
from gracebgp.wire.nlri import format_prefix
from gracebgp.wire.update import UpdateResult


def format_as_path(segments: tuple[Segment, ...]) -> str:
    parts = []
    for stype, asns in segments:
        text = " ".join(str(a) for a in asns)
        if stype == SegmentType.AS_SET:
            text = "{" + text + "}"
        elif stype == SegmentType.AS_CONFED_SEQUENCE:
            text = "(" + text + ")"
        elif stype == SegmentType.AS_CONFED_SET:
            text = "[" + text + "]"
        parts.append(text)
    return " ".join(parts)


def format_attrs(attrs: AttrSet | None) -> str:
    if attrs is None:
        return ""
    out = []
    if attrs.origin is not None:
        out.append(f"origin {Origin(attrs.origin).name.lower()}")
    out.append(f"as-path [{format_as_path(attrs.as_path)}]")
    for label, value in (("next-hop", attrs.next_hop), ("med", attrs.med), ("local-pref", attrs.local_pref)):
        if value is not None:
            out.append(f"{label} {value}")
    if attrs.communities:
        out.append("communities " + ",".join(format_community(c) for c in attrs.communities))
    if attrs.large_communities:
        out.append("large " + ",".join(format_large_community(c) for c in attrs.large_communities))
    if attrs.extended_communities:
        out.append("ext " + ",".join(format_extended_community(c) for c in attrs.extended_communities))
    return " ".join(out)


def format_capability(cap: Capability) -> str:
    if isinstance(cap, Multiprotocol):
        return f"mp({make_family(cap.afi, cap.safi)})"
    if isinstance(cap, FourOctetAs):
        return f"as4({cap.asn})"
    if isinstance(cap, GracefulRestart):
        flags = "".join(f for f, bit in (("R", 8), ("N", 4)) if cap.flags & bit)
        fams = ",".join(f"{make_family(a, s)}{'+F' if f & 0x80 else ''}" for a, s, f in cap.families)
        return f"gr({flags or '-'} {cap.restart_time}s {fams})"
    if isinstance(cap, LongLivedGracefulRestart):
        fams = ",".join(f"{make_family(a, s)}:{t}s" for a, s, _, t in cap.families)
        return f"llgr({fams})"
    if isinstance(cap, AddPath):
        modes = {1: "rx", 2: "tx", 3: "rx/tx"}
        entries = ",".join(f"{make_family(a, s)} {modes.get(m, m)}" for a, s, m in cap.entries)
        return f"add-path({entries})"
    if isinstance(cap, ExtendedNextHop):
        return "ext-nh(" + ",".join(f"{make_family(a, s)} via afi {n}" for a, s, n in cap.entries) + ")"
    if isinstance(cap, Fqdn):
        return f"fqdn({cap.hostname}{'.' + cap.domain if cap.domain else ''})"
    if isinstance(cap, UnknownCapability):
        return f"cap-{cap.code}({cap.value.hex()})"
    return CapabilityCode(cap.code).name.lower().replace("_", "-")


def _prefixes(keys: tuple[int, ...], afi: int, addpath: bool, limit: int = 6) -> str:
    shown = [format_prefix(k, afi, addpath) for k in keys[:limit]]
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return " ".join(shown) + more


def describe(message: Any, addpath: frozenset[Any] = frozenset()) -> str:
    """A one-line summary of a decoded message or UpdateResult."""
    if isinstance(message, Open):
        caps = " ".join(format_capability(c) for c in message.capabilities)
        return f"OPEN as {message.asn} hold {message.hold_time}s id {message.bgp_id} {caps}"
    if isinstance(message, Notification):
        return f"NOTIFICATION {message.describe()}"
    if isinstance(message, Keepalive):
        return "KEEPALIVE"
    if isinstance(message, RouteRefresh):
        return f"ROUTE-REFRESH {make_family(message.afi, message.safi)} subtype {message.subtype}"
    if isinstance(message, UpdateResult):
        return _describe_update(message, addpath)
    return repr(message)


def _describe_update(result: UpdateResult, addpath: frozenset[Any]) -> str:
    if result.eor is not None:
        return f"UPDATE End-of-RIB {result.eor}"
    u = result.update
    if u is None:
        return f"UPDATE {result.action.name}: {result.problems[0].reason}"
    v4 = make_family(AFI.IPV4, 1) in addpath
    parts = ["UPDATE"]
    if result.action:
        parts.append(f"[{result.action.name}: {'; '.join(p.reason for p in result.problems)}]")
    if u.withdrawn:
        parts.append("withdraw " + _prefixes(u.withdrawn, AFI.IPV4, v4))
    if u.mp_unreach is not None and u.mp_unreach.withdrawn:
        w = u.mp_unreach
        parts.append(f"withdraw {w.family} " + _prefixes(w.withdrawn, w.afi, w.addpath))
    if u.nlri:
        parts.append("announce " + _prefixes(u.nlri, AFI.IPV4, v4))
    if u.mp_reach is not None:
        m = u.mp_reach
        parts.append(f"announce {m.family} " + _prefixes(m.nlri, m.afi, m.addpath)
                     + f" next-hop {','.join(m.next_hop)}")
    text = format_attrs(u.attrs)
    if text:
        parts.append(text)
    return " ".join(parts)
