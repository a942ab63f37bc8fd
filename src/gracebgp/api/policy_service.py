"""The routing-policy side of the API service (issue 16 items 4-5): reads the running
policy into the API's models (``gracebgp policies``, the listings of sets, policies and
apply-policies, a route's explanation) and turns the edits into the core's policy
commands. Pure (layer L3, like ``api.service``).

An edit is made on the policy as data (``book.source``, a ``PolicySource``), compiled
here into a new book, and carried by ``ReplacePolicyBook`` to the owner, which re-runs the
policies over the kept routes without touching a session. A set or policy definition
that another policy still uses cannot be deleted (409, GoBGP refuses it too); neither can
a policy some apply-policy names (the command checks the neighbors', ``build`` the global
one). The configuration file stays the source (docs/api.md "Routing policy": what a
reload or a restart brings back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gracebgp.api import policy_schema as ps
from gracebgp.api.service import FAMILIES, RequestError, attrs_json, find_peer
from gracebgp.config.policy_source import (
    SET_KINDS,
    PolicySource,
    apply_policy_json,
    parse_apply_policy,
)
from gracebgp.core.peer import Peer
from gracebgp.core.policies import explain as core_explain
from gracebgp.core.policy_commands import ReplacePolicyBook, SetPeerPolicy
from gracebgp.core.speaker import Speaker
from gracebgp.policy.book import ApplyPolicy, PolicyBook
from gracebgp.policy.conditions import MatchNeighborSet, MatchOption, MatchPrefixSet
from gracebgp.policy.definitions import Direction, Disposition, Policy
from gracebgp.policy.evaluate import Decision
from gracebgp.rib.export import finish_export
from gracebgp.rib.path import Path
from gracebgp.types import Family, family_name
from gracebgp.wire.nlri import format_prefix, parse_prefix

GLOBAL = "global"
_DISPOSITION: dict[Disposition, ps.DispositionName] = {
    Disposition.NONE: "none", Disposition.ACCEPT: "accept", Disposition.REJECT: "reject"}
_DIRECTIONS = {"import": Direction.IMPORT, "export": Direction.EXPORT}


# --- reading --------------------------------------------------------------------------------


def _source(book: PolicyBook) -> PolicySource:
    """What an edit starts from: the book's source (a book built without one and holding
    nothing is an empty source)."""
    if isinstance(book.source, PolicySource):
        return book.source
    if not book.policies and book.global_policy == ApplyPolicy():
        return PolicySource(rfc8212=book.rfc8212)
    raise RequestError(409, "the running policy was not compiled from a configuration: it cannot be "
                            "edited through the API")


def _rows(policies: Iterable[Policy]) -> list[ps.PolicyStatementRow]:
    rows = []
    for policy in policies:
        for st in policy.statements:
            neighbors: list[str] = []
            prefixes: list[str] = []
            other: list[str] = []
            for c in st.conditions:
                if isinstance(c, MatchNeighborSet):
                    bang = "!" if c.option is MatchOption.INVERT else ""
                    neighbors += [bang + item for item in c.neighbor_set.items]
                elif isinstance(c, MatchPrefixSet):
                    bang = "!" if c.option is MatchOption.INVERT else ""
                    prefixes += [bang + str(e) for e in c.prefix_set.entries]
                else:
                    other.append(c.describe())
            rows.append(ps.PolicyStatementRow(
                policy=policy.name, statement=st.name, match_neighbors=neighbors, match_prefixes=prefixes,
                conditions=other, disposition=_DISPOSITION[st.disposition],
                actions=[a.describe() for a in st.actions], matches=st.counter.matches))
    return rows


def _assignment(book: PolicyBook, peer: str, level: ApplyPolicy,
                direction: Direction) -> ps.PolicyAssignmentView:
    names = level.names(direction)
    default = level.default(direction)
    return ps.PolicyAssignmentView(
        peer=peer, direction="import" if direction is Direction.IMPORT else "export", policies=list(names),
        default=None if default is None else "accept" if default is Disposition.ACCEPT else "reject",
        statements=_rows(book.policies[n] for n in names if n in book.policies))


def listing(speaker: Speaker) -> ps.PolicyListing:
    """GET /v1/policies: the global apply-policy per direction, then each neighbor's own
    (a neighbor without one, in a direction, runs the global one)."""
    book = speaker.policy_book
    rows = [_assignment(book, GLOBAL, book.global_policy, d) for d in Direction]
    for peer in sorted(speaker.peers.values(), key=lambda p: p.address):
        own = peer.settings.apply_policy
        if own is not None:
            rows += [_assignment(book, peer.address, own, d) for d in Direction if own.configures(d)]
    source = book.source.to_json() if isinstance(book.source, PolicySource) else None
    return ps.PolicyListing(assignments=rows, source=source)


def defined_sets(speaker: Speaker, kind: str | None = None) -> list[ps.DefinedSetEntry]:
    if kind is not None and kind not in SET_KINDS:
        raise RequestError(400, f"unknown set kind {kind!r}: one of {', '.join(SET_KINDS)}")
    sets = _source(speaker.policy_book).defined_sets
    return [ps.DefinedSetEntry(kind=k, set=item.model_dump(mode="json"))  # type: ignore[arg-type]
            for k, (name, _) in SET_KINDS.items() if kind in (None, k) for item in getattr(sets, name)]


def definitions(speaker: Speaker) -> list[dict[str, Any]]:
    return [p.model_dump(mode="json") for p in _source(speaker.policy_book).policies]


def levels(speaker: Speaker) -> list[ps.PolicyLevel]:
    """The global apply-policy, then every neighbor's own (null: none)."""
    book = speaker.policy_book
    out = [ps.PolicyLevel(neighbor=GLOBAL, apply_policy=apply_policy_json(book.global_policy))]
    out += [ps.PolicyLevel(neighbor=p.address, apply_policy=apply_policy_json(p.settings.apply_policy))
            for p in sorted(speaker.peers.values(), key=lambda p: p.address)]
    return out


# --- edits ------------------------------------------------------------------------------------


def _edit(speaker: Speaker, change: Callable[[PolicySource], PolicySource], what: str,
          deleting: bool = False) -> ReplacePolicyBook:
    try:
        source = change(_source(speaker.policy_book))
    except KeyError as exc:
        raise RequestError(404, str(exc.args[0])) from None
    except ValueError as exc:
        raise RequestError(400, f"{what}: {exc}") from None
    try:
        book = source.build()
    except ValueError as exc:
        if deleting:  # what is left refers to it
            raise RequestError(409, f"{what} refused: still in use ({exc})") from None
        raise RequestError(400, f"{what}: {exc}") from None
    return ReplacePolicyBook(book, what)


def _name(data: Any) -> str:
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else "?"


def add_set(speaker: Speaker, kind: str, data: Any) -> ReplacePolicyBook:
    """AddDefinedSet: add or replace (by name) a set of ``kind``."""
    return _edit(speaker, lambda s: s.with_set(kind, data), f"{kind}-set {_name(data)}")


def delete_set(speaker: Speaker, kind: str, name: str) -> ReplacePolicyBook:
    return _edit(speaker, lambda s: s.without_set(kind, name), f"deleting {kind}-set {name}", deleting=True)


def add_policy(speaker: Speaker, data: Any) -> ReplacePolicyBook:
    """AddPolicy: add or replace (by name, in place) a policy definition."""
    return _edit(speaker, lambda s: s.with_policy(data), f"policy-definition {_name(data)}")


def delete_policy(speaker: Speaker, name: str) -> ReplacePolicyBook:
    return _edit(speaker, lambda s: s.without_policy(name), f"deleting policy-definition {name}",
                 deleting=True)


def set_level(speaker: Speaker, neighbor: str, data: Any) -> ReplacePolicyBook | SetPeerPolicy:
    """SetPolicies: the keys given (``ApplyPolicyConfig``'s field names) replace those of the
    level's apply-policy, the others stay; ``neighbor`` is an address or ``global``."""
    if not isinstance(data, dict):
        raise RequestError(400, "the body must be an object with import_policies, export_policies, "
                                "default_import and/or default_export")
    if neighbor == GLOBAL:
        current = speaker.policy_book.global_policy
    else:
        peer = find_peer(speaker, neighbor)
        current = peer.settings.apply_policy or ApplyPolicy()
    merged = {**(apply_policy_json(current) or {}), **data}
    try:
        level = parse_apply_policy(merged)
    except ValueError as exc:
        raise RequestError(400, f"apply-policy of {neighbor}: {exc}") from None
    if neighbor == GLOBAL:
        return _edit(speaker, lambda s: s.with_global(level), "global apply-policy set")
    return _peer_level(speaker, peer, level)


def _peer_level(speaker: Speaker, peer: Peer, level: ApplyPolicy | None) -> SetPeerPolicy:
    if level is not None:
        try:
            speaker.policy_book.check(level)
        except ValueError as exc:
            raise RequestError(400, f"apply-policy of {peer.address}: {exc}") from None
    return SetPeerPolicy(peer.address, level)


def clear_level(speaker: Speaker, neighbor: str) -> ReplacePolicyBook | SetPeerPolicy:
    """The level's apply-policy removed (global: no global policy; a neighbor: the global one applies)."""
    if neighbor == GLOBAL:
        return _edit(speaker, lambda s: s.with_global(None), "global apply-policy cleared")
    return _peer_level(speaker, find_peer(speaker, neighbor), None)


# --- explain ----------------------------------------------------------------------------------


def _side(path: Path) -> dict[str, Any]:
    return {"next_hop": list(path.next_hop), "attrs": attrs_json(path)}


def explain(speaker: Speaker, address: str, prefix: str, direction: str,
            family: str = "ipv4-unicast") -> list[ps.Explanation]:
    """The route ``prefix`` of (import: received from; export: sent to) ``address`` through
    that peer's policy: one Explanation per path received (ADD-PATH: several), the
    statements' counters untouched. 404 when there is no such route."""
    fam = FAMILIES.get(family)
    if fam is None:
        raise RequestError(400, f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    way = _DIRECTIONS.get(direction)
    if way is None:
        raise RequestError(400, f"direction must be import or export, not {direction!r}")
    peer = find_peer(speaker, address)
    try:
        afi, key = parse_prefix(prefix.strip(), strict=True)
    except ValueError as exc:
        raise RequestError(400, f"prefix {prefix!r}: {exc}") from None
    if afi != fam.afi:
        raise RequestError(400, f"prefix {prefix} is not in {family}")
    level = speaker.policy_book.level(peer.settings.apply_policy, way)
    base: dict[str, Any] = {"peer": peer.address, "direction": direction, "family": family_name(fam),
            "prefix": format_prefix(key, afi), "policies": list(level.names(way))}
    keys: list[tuple[int | None, int]] = [(None, key)]
    if way is Direction.IMPORT:
        channel = peer.adj_in.get(fam)
        keys = [] if channel is None else channel.paths(key)
    out = []
    for path_id, akey in keys:
        path, decision = core_explain(speaker, peer, fam, akey, way)
        if path is None:
            continue
        found = _outcome(speaker, peer, fam, way, key, path, decision)
        out.append(ps.Explanation(**base, path_id=path_id, **found))
    if not out:
        where = "received from" if way is Direction.IMPORT else "to advertise to"
        refused = peer.rejected.get(fam, {}).get(key) if way is Direction.IMPORT else None
        why = f": it was refused before any policy ({refused[1]})" if refused is not None else ""
        raise RequestError(404, f"no route {base['prefix']} {where} {peer.address}{why}")
    return out


def _outcome(speaker: Speaker, peer: Peer, fam: Family, way: Direction, key: int, path: Path,
             decision: Decision | None) -> dict[str, Any]:
    if decision is None:  # no policy applies: every route passes unchanged
        return {"steps": [], "result": "accepted", "decided_by": "no policy", "before": _side(path),
                "after": _side(path)}
    assert decision.trace is not None
    steps = [ps.ExplainStep(policy=t.policy, statement=t.statement, matched=t.matched,
                            actions=list(t.actions), decided=_DISPOSITION[t.decided]) for t in decision.trace]
    deciding = next((t for t in decision.trace if t.decided is not Disposition.NONE), None)
    by = "default" if decision.by_default or deciding is None else f"{deciding.policy}/{deciding.statement}"
    made = None
    if decision.accepted:
        made = _made(speaker, peer, fam, way, key, path, decision)
    return {"steps": steps, "result": "accepted" if made is not None else "rejected", "decided_by": by,
            "before": _side(path), "after": None if made is None else _side(made)}


def _made(speaker: Speaker, peer: Peer, fam: Family, way: Direction, key: int, path: Path,
          decision: Decision) -> Path | None:
    """The route as the policy made it (as the Adj-RIB-Out would hold it, on export)."""
    if way is Direction.IMPORT:
        importer = peer.adj_in[fam].importer
        return path if importer is None else importer.outcome(decision, path)
    rib_out = peer.adj_out[fam]
    best = speaker.loc[fam].best(key)
    if rib_out.exporter is None or best is None:
        return path
    out = rib_out.exporter.filter_for(best[0]).outcome(decision, path, best[1].next_hop)
    if out is None or out is path:
        return out
    attrs = finish_export(rib_out.policy, out.attrs)  # what no policy undoes (RFC 8326, RFC 9494)
    return out if attrs is out.attrs else speaker.table.derived(attrs, out.next_hop)
