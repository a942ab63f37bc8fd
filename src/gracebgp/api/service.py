"""The single door for every front end (DESIGN.md section 4): reads the Speaker into the
API's models and turns API requests into Speaker commands. Pure: the time comes in as
``now`` (the runtime's clock), facts about the host as ``DaemonInfo``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gracebgp.api import schema as s
from gracebgp.api.grview import STATE_NAMES, address_order, session_view
from gracebgp.config.extras import Route
from gracebgp.config.fields import normalize_prefix
from gracebgp.config.model import Global as GlobalConfig
from gracebgp.config.model import Neighbor
from gracebgp.core import commands as cmd
from gracebgp.core import limits
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings, Peer
from gracebgp.core.speaker import Speaker
from gracebgp.core.stats import MESSAGE_TYPES
from gracebgp.rib.path import Path, PeerInfo
from gracebgp.session.state import State
from gracebgp.types import AFI, IPV4_UNICAST, IPV6_UNICAST, Family, family_name
from gracebgp.wire.communities import (
    format_community,
    format_extended_community,
    format_large_community,
)
from gracebgp.wire.iana import Origin
from gracebgp.wire.nlri import format_prefix, key_parts, parse_prefix
from gracebgp.wire.text import format_as_path, format_attrs

FAMILIES = {"ipv4-unicast": IPV4_UNICAST, "ipv6-unicast": IPV6_UNICAST}
#: A configured peer that is not Established this long after it was configured needs a look.
NEVER_ESTABLISHED_GRACE = 10.0
#: Listings up to this size come sorted by address; larger ones by prefix length, then
#: address (sorting a million routes by address would cost ~100 MB of sort keys).
SORT_LIMIT = 200_000
CHUNK = 2000  # ListPaths lines per chunk handed to the server between owner turns
CACHE_LIMIT = 4096  # encoded path attributes kept while streaming


class RequestError(Exception):
    """A request that cannot be carried out as asked: HTTP ``status`` and one line."""

    def __init__(self, status: int, message: str, detail: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail or []


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """What the runtime knows that the speaker does not."""

    version: str
    node: str
    started: float  # on the speaker's clock
    listen_port: int
    listen_addresses: tuple[str, ...]
    sigterm: str
    forwarding_state_preserved: bool
    global_config: GlobalConfig
    #: (type, subject, reason, message) for settings that point to nothing, found at start-up.
    problems: tuple[tuple[str, str, str, str], ...] = ()
    #: The same, for conditions that come and go (the route store, damaged state files).
    live: Callable[[], Sequence[tuple[str, str, str, str]]] | None = None
    #: (address, dynamic range) -> (key, value, source) of each configured value (config.effective).
    settings: Callable[[str, str | None], Sequence[tuple[str, str, str]]] | None = None


# --- peers ----------------------------------------------------------------------------


def _counts(values: list[int]) -> s.MessageCounts:
    return s.MessageCounts(**{name: values[i] for i, name in enumerate(MESSAGE_TYPES) if i})


def _held_as(peer: Peer) -> int:
    """The AS of a peer configured for any AS (dynamic neighbors, ``peer-as`` unset) while
    no session is up: its last session's while graceful restart holds routes of it, else 0
    (none known until an OPEN)."""
    return next((adj.info.asn for adj in peer.adj_in.values() if len(adj)), 0)


def peer_view(speaker: Speaker, peer: Peer, now: float) -> s.Peer:
    neg = peer.negotiated
    negotiated = neg.families if neg is not None else frozenset()
    fams = list(peer.families()) + [f for f in peer.adj_in if f not in peer.families()]
    rows = []
    maxima = {f: lim.max_prefixes for f, lim in peer.settings.prefix_limits}
    for f in fams:
        adj, out, rej = peer.adj_in.get(f), peer.adj_out.get(f), peer.rejected.get(f)
        accepted = len(adj) if adj is not None else 0
        rows.append(s.PeerFamily(
            family=family_name(f), configured=f in peer.families(), negotiated=f in negotiated,
            received=accepted + (len(rej) if rej else 0), accepted=accepted,
            advertised=len(out) if out is not None else 0,
            stale=adj.stale_count if adj is not None else 0, max_prefixes=maxima.get(f)))
    since = peer.session.established_since
    cfg = peer.settings.session
    deadline = peer.gr.next_deadline()
    ours, theirs, decided = session_view(peer)
    return s.Peer(
        address=peer.address, description=peer.settings.description, local_as=cfg.local_as,
        peer_as=neg.peer_as if neg else cfg.peer_as or _held_as(peer),
        state=STATE_NAMES[peer.session.state], admin_down=peer.admin_down,
        dynamic=peer.dynamic, dynamic_range=peer.dynamic_range,
        uptime=None if since is None else max(0.0, now - since),
        router_id=neg.peer_router_id if neg else None, hold_time=neg.hold_time if neg else None,
        keepalive_time=neg.keepalive_time if neg else None,
        established_count=peer.stats.established_count, last_error=peer.stats.last_error,
        families=rows, messages_received=_counts(peer.session.received_counts),
        messages_sent=_counts(peer.stats.sent), graceful_restart=cfg.graceful_restart is not None,
        peer_restart_time=neg.peer_gr.restart_time if neg and neg.peer_gr else None,
        stale_until=None if deadline is None else max(0.0, deadline - now),
        held_down=limits.HELD if peer.limit.held is not None else None,
        restart_in=None if peer.limit.restart_at is None else max(0.0, peer.limit.restart_at - now),
        local_capabilities=ours, peer_capabilities=theirs, negotiated=decided)


def list_peers(speaker: Speaker, now: float) -> list[s.Peer]:
    """Sorted by address: IPv4 before IPv6, numerically (not in the order they were added)."""
    return [peer_view(speaker, p, now) for p in sorted(speaker.peers.values(), key=address_order)]


def get_peer(speaker: Speaker, address: str, now: float, info: DaemonInfo | None = None) -> s.Peer:
    """One peer; with ``info``, every configured value and where it came from."""
    peer = find_peer(speaker, address)
    view = peer_view(speaker, peer, now)
    if info is None or info.settings is None:
        return view
    found = info.settings(peer.address, peer.dynamic_range)
    rows = [s.PeerSetting(key=key, value=value, source=source) for key, value, source in found]
    return view.model_copy(update={"settings": rows})


def find_peer(speaker: Speaker, address: str) -> Peer:
    peer = speaker.peers.get(address) or speaker.peers.get(_canonical(address))
    if peer is None:
        raise RequestError(404, f"peer {address} not found")
    return peer



def _canonical(address: str) -> str:
    try:
        afi, key = parse_prefix(f"{address}/{128 if ':' in address else 32}")
    except ValueError:
        return address
    return format_prefix(key, afi).split("/")[0]


def global_view(speaker: Speaker, info: DaemonInfo, now: float) -> s.Global:
    rib = []
    for f, loc in speaker.loc.items():
        rib.append(s.RibSize(family=family_name(f), prefixes=len(loc), paths=loc.path_count()))
    established = sum(1 for p in speaker.peers.values() if p.session.state is State.ESTABLISHED)
    return s.Global(version=info.version, node=info.node, asn=speaker.local_as, router_id=speaker.router_id,
                    listen_port=info.listen_port, listen_addresses=list(info.listen_addresses),
                    uptime=max(0.0, now - info.started), peers=len(speaker.peers), established=established,
                    rib=rib, sigterm="retain" if info.sigterm == "retain" else "withdraw",
                    forwarding_state_preserved=info.forwarding_state_preserved)


# --- commands ---------------------------------------------------------------------------


def _validation_lines(exc: ValidationError, where: str = "") -> list[str]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        out.append(f"{where}{loc}: {msg}" if loc else f"{where}{msg}")
    return out


def add_peer_command(req: s.PeerAdd, info: DaemonInfo, hostname: str | None) -> cmd.AddPeer:
    """AddPeer -> the same Neighbor model a ``[[neighbors]]`` table is checked with."""
    data: dict[str, Any] = {
        "neighbor_address": req.address, "peer_as": req.peer_as, "local_as": req.local_as,
        "description": req.description, "passive_mode": req.passive, "remote_port": req.port,
        "local_address": req.local_address, "hold_time": req.hold_time,
        "connect_retry": req.connect_retry, "admin_down": req.admin_down,
        "route_reflector_client": req.route_reflector_client,
        "afi_safis": tuple({"name": f, "mp_graceful_restart": req.graceful_restart} for f in req.families),
    }
    if req.ebgp_multihop_ttl is not None:
        data |= {"ebgp_multihop_enabled": True, "ebgp_multihop_ttl": req.ebgp_multihop_ttl}
    gr: dict[str, Any] = {"enabled": req.graceful_restart}
    if req.restart_time is not None:
        gr["restart_time"] = req.restart_time
    data["graceful_restart"] = gr
    try:
        neighbor = Neighbor.model_validate(data)
    except ValidationError as exc:
        raise RequestError(400, f"peer {req.address}: invalid settings", _validation_lines(exc)) from None
    settings = NeighborSettings.from_config(neighbor, info.global_config, hostname=hostname,
                                            forwarding_preserved=info.forwarding_state_preserved)
    return cmd.AddPeer(settings)


def add_routes_command(req: s.PathsAdd) -> cmd.AddRoutes:
    """AddPaths -> LocalRoutes, each checked like a ``[[gracebgp.routes]]`` entry."""
    routes: list[LocalRoute] = []
    problems: list[str] = []
    check_paths(req.paths, 0, routes, problems, {})
    return routes_command(routes, problems)


def routes_command(routes: list[LocalRoute], problems: list[str]) -> cmd.AddRoutes:
    """The AddRoutes of paths checked by ``check_paths`` (400 with the first problems)."""
    if problems:
        raise RequestError(400, problems[0], problems)
    return cmd.AddRoutes(tuple(routes))


def check_paths(paths: Sequence[s.PathSpec], first: int, routes: list[LocalRoute], problems: list[str],
                checked: dict[tuple[object, ...], LocalRoute]) -> None:
    """Check ``paths`` (``paths[first:]`` of a request: the server checks a large one in
    slices), appending to ``routes`` and ``problems`` (at most 20). ``checked``: the
    LocalRoute of each set of attributes seen so far in the request."""
    # Bulk adds mostly repeat one set of attributes: check each set once, then only the
    # prefix of every route (the same rules as a [[gracebgp.routes]] entry).
    if len(problems) >= 20:
        return
    for i, p in enumerate(paths, first):
        shape = (":" in p.prefix, p.next_hop, p.origin, tuple(p.communities), tuple(p.large_communities),
                 p.med, p.local_pref)
        try:
            template = checked.get(shape)
            if template is None:
                data = p.model_dump()
                data["communities"] = tuple(p.communities)
                data["large_communities"] = tuple(p.large_communities)
                template = checked[shape] = LocalRoute.from_config(Route.model_validate(data))
                routes.append(template)
                continue
            if "/" not in p.prefix:
                raise ValueError(f"{p.prefix!r} has no prefix length")
            afi, key = parse_prefix(p.prefix, strict=True)
            t = template
            routes.append(LocalRoute(format_prefix(key, afi), t.next_hop, t.origin, t.communities,
                                     t.large_communities, t.med, t.local_pref))
        except ValidationError as exc:
            problems += _validation_lines(exc, f"paths[{i}] {p.prefix}: ")
        except ValueError as exc:
            problems.append(f"paths[{i}] {p.prefix}: prefix: {exc}")
        if len(problems) >= 20:
            break


def delete_routes_command(req: s.PathsDelete) -> cmd.DeleteRoutes:
    bad: list[str] = []
    check_prefixes(req.prefixes, bad)
    return prefixes_command(req.prefixes, bad)


def check_prefixes(prefixes: Sequence[str], bad: list[str]) -> None:
    """DeletePaths: why each prefix (of a slice of the request) is not one, into ``bad``."""
    for p in prefixes:
        try:
            normalize_prefix(p)  # the same rule as AddPaths: a length, no host bits
        except ValueError as exc:
            bad.append(str(exc))


def prefixes_command(prefixes: Sequence[str], bad: list[str]) -> cmd.DeleteRoutes:
    if bad:
        raise RequestError(400, bad[0], bad[:20])
    return cmd.DeleteRoutes(tuple(prefixes))


# --- paths ------------------------------------------------------------------------------


def attrs_json(path: Path) -> dict[str, Any]:
    a = path.attrs
    out: dict[str, Any] = {}
    if a.origin is not None:
        out["origin"] = Origin(a.origin).name.lower() if a.origin in (0, 1, 2) else a.origin
    out["as_path"] = format_as_path(a.as_path)
    if a.med is not None:
        out["med"] = a.med
    if a.local_pref is not None:
        out["local_pref"] = a.local_pref
    if a.communities:
        out["communities"] = [format_community(c) for c in a.communities]
    if a.large_communities:
        out["large_communities"] = [format_large_community(c) for c in a.large_communities]
    if a.extended_communities:
        out["extended_communities"] = [format_extended_community(c) for c in a.extended_communities]
    return out


@dataclass(frozen=True, slots=True)
class PathQuery:
    table: str = "loc"
    family: str = "ipv4-unicast"
    peer: str | None = None
    prefix: str | None = None
    longer: bool = False
    post_policy: bool = True
    best: bool = False


def _match(query: PathQuery, afi: int) -> tuple[int, int, bool, int] | None:
    """(network as int, prefix length, exact address lookup, prefix key) of the filter."""
    if query.prefix is None:
        return None
    text = query.prefix.strip()
    exact_addr = "/" not in text
    width = 128 if ":" in text else 32
    try:
        p_afi, key = parse_prefix(f"{text}/{width}" if exact_addr else normalize_prefix(text))
    except ValueError as exc:
        raise RequestError(400, f"prefix {query.prefix!r}: {exc}") from None
    if p_afi != afi:
        raise RequestError(400, f"prefix {query.prefix} is not in {query.family}")
    return (*_parts(key, afi), exact_addr, key)


def _parts(key: int, afi: int) -> tuple[int, int]:
    """(network address as int, prefix length) of a prefix key."""
    return key_parts(key, 32 if afi == AFI.IPV4 else 128)


def paths(speaker: Speaker, query: PathQuery, now: float) -> Iterator[bytes]:
    """ListPaths as NDJSON chunks. Checks the query first (RequestError), then yields;
    between chunks the owner may change the tables: each chunk reads them as they are."""
    family = FAMILIES.get(query.family)
    if family is None:
        raise RequestError(400, f"family must be one of {', '.join(FAMILIES)}, not {query.family!r}")
    if query.table not in ("loc", "adj-in", "adj-out"):
        raise RequestError(400, f"table must be loc, adj-in or adj-out, not {query.table!r}")
    peer = None
    if query.peer is not None:
        peer = find_peer(speaker, query.peer)
    elif query.table != "loc":
        raise RequestError(400, f"table {query.table} needs a peer")
    match = _match(query, family.afi)
    return _stream(speaker, query, family, peer, match, now)


def _keys(speaker: Speaker, query: PathQuery, family: Family, peer: Peer | None) -> list[int]:
    if query.table == "loc":
        return speaker.loc[family].keys()
    assert peer is not None
    if query.table == "adj-out":
        out = peer.adj_out.get(family)
        return out.prefix_keys() if out is not None else []
    adj = peer.adj_in.get(family)
    keys = adj.prefix_keys() if adj is not None else []
    rej = peer.rejected.get(family)
    if rej and not query.post_policy:
        keys += [k >> 32 for k in rej] if adj is not None and adj.with_path_ids else list(rej)
    return keys


def _stream(speaker: Speaker, query: PathQuery, family: Family, peer: Peer | None,
            match: tuple[int, int, bool, int] | None, now: float) -> Iterator[bytes]:
    if match is not None and not match[2] and not query.longer:
        keys = [match[3]]  # one prefix: a lookup, not a scan (_lines skips it when absent)
    else:
        keys = _keys(speaker, query, family, peer)
        if match is not None:
            keys = [k for k in keys if _covered_filter(k, family.afi, match, query.longer)]
            if match[2] and keys:  # an address: the longest match only
                keys = [max(keys, key=lambda k: _parts(k, family.afi)[1])]
    if len(keys) <= SORT_LIMIT:
        keys.sort(key=lambda k: _parts(k, family.afi))  # by address, then length
    else:
        keys.sort()  # keys are (length, address): no per-key sort key, memory stays flat
    cache: dict[tuple[Path, str | None], str] = {}
    for start in range(0, len(keys), CHUNK):
        lines = [line for k in keys[start:start + CHUNK]
                 for line in _lines(speaker, query, family, peer, k, now, cache)]
        if lines:
            yield ("\n".join(lines) + "\n").encode()
        if len(cache) > CACHE_LIMIT:  # consecutive routes mostly share a path: keep it small
            cache.clear()


def _covered_filter(key: int, afi: int, match: tuple[int, int, bool, int], longer: bool) -> bool:
    net, plen, exact_addr, _ = match
    width = 32 if afi == AFI.IPV4 else 128
    k_net, k_len = _parts(key, afi)
    if exact_addr:
        return k_len == 0 or (k_net >> (width - k_len)) == (net >> (width - k_len))
    if k_len < plen or (not longer and k_len != plen):
        return False
    return plen == 0 or (k_net >> (width - plen)) == (net >> (width - plen))


def _lines(speaker: Speaker, query: PathQuery, family: Family, peer: Peer | None, key: int,
           now: float, cache: dict[tuple[Path, str | None], str]) -> Iterator[str]:
    prefix = format_prefix(key, family.afi)
    name = family_name(family)
    if query.table == "loc":
        loc = speaker.loc[family]
        members = {id(c) for c in loc.multipath_set(key)}  # [global.use-multiple-paths]
        for i, c in enumerate(loc.candidates(key)):
            src, path, since = c
            if i and query.best:
                break
            if peer is not None and src.index != peer.index:
                continue
            yield _line(prefix, name, path, src.address or None, i == 0, _stale(speaker, src, family, key),
                        None, now - since, cache, id(c) in members, src.path_id)
        return
    assert peer is not None
    if query.table == "adj-out":
        out = peer.adj_out.get(family)
        for pid, sent in out.sent(key) if out is not None else ():
            yield _line(prefix, name, sent, None, True, False, None, None, cache, path_id=pid)
        return
    adj = peer.adj_in.get(family)
    paths = adj.paths(key) if adj is not None else []
    if adj is not None and paths:
        cands = speaker.loc[family].candidates(key)
        for pid, akey in paths:
            got = adj.routes[akey]
            mine = next((c for c in cands if c[0].index == peer.index and c[0].path_id == pid), None)
            yield _line(prefix, name, got, peer.address, mine is not None and mine is cands[0],
                        adj.is_stale(akey), None, None if mine is None else now - mine[2], cache, path_id=pid)
        return
    rej = peer.rejected.get(family, {}).get(key)
    if rej is not None and not query.post_policy:
        yield _line(prefix, name, rej[0], peer.address, False, False, rej[1], None, cache)


def _stale(speaker: Speaker, src: PeerInfo, family: Family, key: int) -> bool:
    peer = speaker.peers.get(src.address) if src.address else None
    adj = peer.adj_in.get(family) if peer is not None else None
    return adj is not None and adj.is_stale(src.adj_key(key))


def _line(prefix: str, family: str, path: Path, source: str | None, best: bool, stale: bool,
          rejected: str | None, age: float | None, cache: dict[tuple[Path, str | None], str],
          multipath: bool = False, path_id: int | None = None) -> str:
    """One PathEntry as JSON. The part shared by every prefix of a path (next hop,
    source, attributes) is encoded once and cached; prefixes and family names are
    addresses and fixed words that need no escaping."""
    tail = cache.get((path, source))
    if tail is None:
        tail = cache[(path, source)] = json.dumps(
            {"next_hop": list(path.next_hop), "source": source, "attrs": attrs_json(path),
             "attrs_text": format_attrs(path.attrs)}, separators=(",", ":"))[1:]
    return (f'{{"prefix":"{prefix}","family":"{family}","best":{"true" if best else "false"},'
            f'"multipath":{"true" if multipath else "false"},'
            f'"path_id":{"null" if path_id is None else path_id},'
            f'"stale":{"true" if stale else "false"},'
            f'"rejected":{"null" if rejected is None else json.dumps(rejected)},'
            f'"age":{"null" if age is None else round(max(0.0, age), 3)},{tail}')


# --- health -------------------------------------------------------------------------------


def health(speaker: Speaker, info: DaemonInfo, now: float) -> s.Health:
    found = [*info.problems, *(info.live() if info.live is not None else ())]
    conds = [s.Condition(type=t, severity="error", subject=subj, reason=r, message=m)
             for t, subj, r, m in found]
    for peer in speaker.peers.values():
        conds += _peer_conditions(peer, info, now)
    return s.Health(healthy=not conds, conditions=conds)


def _peer_conditions(peer: Peer, info: DaemonInfo, now: float) -> list[s.Condition]:
    out = []
    st = peer.stats
    state = peer.session.state
    why = st.last_error or "no connection has succeeded yet"
    if st.last_sent_notification == (2, 6) and state is not State.ESTABLISHED:
        out.append(s.Condition(
            type="HoldTimeRejected", severity="error", subject=peer.address, reason="UnacceptableHoldTime",
            message=f"the peer offered a hold time of 1 or 2 s; RFC 4271 §4.2 allows 0 or at least 3 s, "
                    f"so the session is refused ({why})"))
    elif peer.admin_down:
        pass
    elif peer.limit.held is not None:
        pass  # PrefixLimitExceeded below says why it is down
    elif state is not State.ESTABLISHED and st.established_count == 0:
        since = max(st.created, info.started)
        if now - since >= NEVER_ESTABLISHED_GRACE:
            out.append(s.Condition(
                type="PeerNeverEstablished", severity="warning", subject=peer.address,
                reason="NeverEstablished",
                message=f"configured {now - since:.0f}s ago and never Established; state "
                        f"{STATE_NAMES[state]}; last error: {why}"))
    elif state is not State.ESTABLISHED:
        out.append(s.Condition(type="PeerDown", severity="warning", subject=peer.address,
                               reason="SessionDown",
                               message=f"was Established {st.established_count} times, now "
                                       f"{STATE_NAMES[state]}: {why}"))
    if peer.settings.sockets.ao_keys and _auth_suspected(peer, info, now):
        unavailable = "has no TCP-AO" in peer.stats.connect_error
        out.append(s.Condition(
            type="TcpAoUnavailable" if unavailable else "TcpAoSuspected", severity="error",
            subject=peer.address, reason="NoKernelSupport" if unavailable else "PeerSilent",
            message=f"tcp-ao-keys are set: {why}" if unavailable else
                    "tcp-ao-keys (TCP-AO, RFC 5925) are set and the peer stays silent: no TCP connection "
                    "completes; the likely cause is a key, KeyID or algorithm the peer does not share "
                    "(its kernel drops segments it cannot verify, unanswered), or no TCP-AO on its "
                    f"side ({why})"))
    if peer.settings.sockets.md5_password and _auth_suspected(peer, info, now):
        out.append(s.Condition(
            type="TcpMd5Suspected", severity="error", subject=peer.address, reason="PeerSilent",
            message="auth-password (TCP MD5, RFC 2385) is set and the peer stays silent: no TCP "
                    "connection completes; the likely cause is a different key on each side, or a key "
                    "on one side only, which makes the kernels drop the segments unanswered (so does "
                    f"a port nothing listens on: a signed SYN gets no RST) ({why})"))
    out += [s.Condition(type=t, severity=sev, subject=peer.address, reason=r, message=m)
            for t, sev, r, m in limits.conditions(peer, now)]
    neg = peer.negotiated
    if neg is not None:
        missing = [f for f in peer.families() if f not in neg.families]
        if missing:
            names = ", ".join(family_name(f) for f in missing)
            out.append(s.Condition(
                type="FamiliesNotNegotiated", severity="warning", subject=peer.address,
                reason="PeerLacksFamilies",
                message=f"configured {', '.join(family_name(f) for f in peer.families())} but the peer "
                        f"negotiated only {', '.join(family_name(f) for f in neg.families) or 'none'}: "
                        f"no {names} routes are exchanged"))
    return out


def _auth_suspected(peer: Peer, info: DaemonInfo, now: float) -> bool:
    """MD5 or TCP-AO is configured (the caller checks which), the session is down, and for
    NEVER_ESTABLISHED_GRACE no TCP connection with the peer came up in either direction,
    our last connect timing out (or none made, or refused by our kernel for lack of
    TCP-AO): a key mismatch drops segments unanswered (RFC 2385 §3, RFC 5925 §7.3),
    whereas a peer without a listener answers with a RST (refused)."""
    st = peer.stats
    if peer.admin_down:
        return False
    if peer.session.state not in (State.IDLE, State.CONNECT, State.ACTIVE):
        return False
    since = max(st.down_since if st.down_since is not None else max(st.created, info.started),
                st.tcp_up_at or 0.0)
    error = st.connect_error.lower()
    silent = not error or "timeout" in error or "timed out" in error or "has no tcp-ao" in error
    return silent and now - since >= NEVER_ESTABLISHED_GRACE
