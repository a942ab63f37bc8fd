"""Compile the routing-policy configuration (``config.policy_model``) into a
``policy.PolicyBook``, finding every problem with the location of the key that causes it.

Problems are ``(model location, message)`` pairs, as ``config.model.config_conflicts``
gives them; the loader turns a location into ``file:line: key``. Found here: a value the
policy engine cannot parse (a prefix, a mask-length range, a regular expression, a
community, an address, a MED, a next hop, a prepend AS), a set or policy defined twice, a
statement name used twice in a policy, a condition naming a set that is not defined, a
match-set-options the set's kind does not take (prefix and neighbor sets: any or invert),
an empty neighbor-set, and an apply-policy naming a policy that is not defined.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from gracebgp import policy as pol
from gracebgp.config.fields import SUPPORTED_AFI_SAFIS
from gracebgp.config.policy_model import (
    DISPOSITIONS,
    Compare,
    DefinedSetsConfig,
    MatchSet,
    PolicyDefinitionConfig,
    SetCommunityConfig,
    StatementConfig,
)
from gracebgp.policy import textsets
from gracebgp.policy.book import NO_POLICY, ApplyPolicy, DefinedSets, PolicyBook

__all__ = ["PolicyProblem", "compile_book", "compile_policy", "policy_conflicts", "unknown_policies"]

ModelLoc = tuple[str | int, ...]
PolicyProblem = tuple[ModelLoc, str]
_T = TypeVar("_T")

#: Each BGP set kind: its DefinedSetsConfig field, the name in messages, and its entry parser.
_TEXT_KINDS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("community_sets", "community-set", textsets.community_pattern),
    ("ext_community_sets", "ext-community-set", textsets.ext_community_pattern),
    ("large_community_sets", "large-community-set", textsets.large_community_pattern),
    ("as_path_sets", "as-path-set", textsets.as_path_pattern),
)
_SET_LABELS = {"prefix_sets": "prefix-set", "neighbor_sets": "neighbor-set",
               **{kind: label for kind, label, _ in _TEXT_KINDS}}
_OPTIONS = {"any": pol.MatchOption.ANY, "all": pol.MatchOption.ALL, "invert": pol.MatchOption.INVERT}
_COMPARISONS = {"eq": pol.Comparison.EQ, "ge": pol.Comparison.GE, "le": pol.Comparison.LE}
_SET_OPS = {"add": pol.SetOp.ADD, "remove": pol.SetOp.REMOVE, "replace": pol.SetOp.REPLACE}


@dataclass
class _Found:
    """Problems found so far, and a helper that records a parse's ValueError at a location."""

    problems: list[PolicyProblem] = field(default_factory=list)

    def attempt(self, loc: ModelLoc, make: Callable[..., _T], *args: Any) -> _T | None:
        """``make(*args)``, or None with its ValueError recorded at ``loc``."""
        try:
            return make(*args)
        except ValueError as exc:
            self.problems.append((loc, str(exc)))
            return None

    def duplicates(self, names: Sequence[str], where: ModelLoc, key: str, what: str) -> set[int]:
        """Record each name used again; the indexes of those repeats."""
        first: dict[str, int] = {}
        repeats: set[int] = set()
        for i, name in enumerate(names):
            j = first.setdefault(name, i)
            if j != i:
                self.problems.append(((*where, i, key), f"{what} {name!r} is already defined (entry {j})"))
                repeats.add(i)
        return repeats


def _sets(config: DefinedSetsConfig, found: _Found) -> DefinedSets:
    base: ModelLoc = ("defined_sets",)
    prefix_sets: dict[str, pol.PrefixSet] = {}
    repeats = found.duplicates([s.name for s in config.prefix_sets], (*base, "prefix_sets"), "name",
                               "prefix-set")
    for i, ps in enumerate(config.prefix_sets):
        entries: list[pol.PrefixEntry] = []
        for j, e in enumerate(ps.prefix_list):
            where: ModelLoc = (*base, "prefix_sets", i, "prefix_list", j)
            try:
                entries.append(pol.parse_entry(e.ip_prefix, e.masklength_range))
            except ValueError as exc:
                key = "masklength_range" if str(exc).startswith("masklength-range") else "ip_prefix"
                found.problems.append(((*where, key), str(exc)))
        if i not in repeats:
            prefix_sets[ps.name] = pol.PrefixSet(ps.name, tuple(entries))
    neighbor_sets: dict[str, pol.AddressSet] = {}
    repeats = found.duplicates([s.name for s in config.neighbor_sets], (*base, "neighbor_sets"), "name",
                               "neighbor-set")
    for i, ns in enumerate(config.neighbor_sets):
        where = (*base, "neighbor_sets", i, "neighbor_info_list")
        if not ns.neighbor_info_list:
            found.problems.append((where, f"neighbor-set {ns.name!r} is empty: GoBGP matches every "
                                   "neighbor with an empty set (and ignores invert); list the "
                                   "neighbors, or remove the condition"))
        good = tuple(item for j, item in enumerate(ns.neighbor_info_list)
                     if found.attempt((*where, j), pol.AddressSet, ns.name, (item,)))
        if i not in repeats:
            neighbor_sets[ns.name] = pol.AddressSet(ns.name, good)
    texts: dict[str, dict[str, Any]] = {}
    for kind, label, parse in _TEXT_KINDS:
        entries_of: list[Any] = getattr(config, kind)
        repeats = found.duplicates([s.name for s in entries_of], (*base, kind), "name", label)
        out: dict[str, Any] = {}
        texts[kind] = out
        for i, ts in enumerate(entries_of):
            where = (*base, kind, i, "entries")
            parsed = [found.attempt((*where, j), parse, e) for j, e in enumerate(ts.entries)]
            if i in repeats or any(p is None for p in parsed):
                continue
            if kind == "ext_community_sets":
                out[ts.name] = pol.ExtCommunitySet(ts.name, ts.entries)
            else:
                out[ts.name] = pol.TextSet(ts.name, ts.entries, tuple(p for p in parsed if p is not None))
    return DefinedSets(prefix_sets, neighbor_sets, texts["community_sets"], texts["ext_community_sets"],
                       texts["large_community_sets"], texts["as_path_sets"])


_MATCHES: tuple[tuple[str, str, Callable[[Any, pol.MatchOption], Any]], ...] = (
    ("match_prefix_set", "prefix_sets", pol.MatchPrefixSet),
    ("match_neighbor_set", "neighbor_sets", pol.MatchNeighborSet),
    ("match_community_set", "community_sets", pol.MatchCommunitySet),
    ("match_ext_community_set", "ext_community_sets", pol.MatchExtCommunitySet),
    ("match_large_community_set", "large_community_sets", pol.MatchLargeCommunitySet),
    ("match_as_path_set", "as_path_sets", pol.MatchAsPathSet),
)


def _conditions(st: StatementConfig, sets: DefinedSets, where: ModelLoc, found: _Found) -> list[Any]:
    out: list[Any] = []
    for name, kind, make in _MATCHES:
        match: MatchSet | None = getattr(st, name)
        if match is None:
            continue
        defined: Mapping[str, Any] = getattr(sets, kind)
        target = defined.get(match.name)
        if target is None:
            label = _SET_LABELS[kind]
            known = ", ".join(repr(n) for n in defined) or "none"
            found.problems.append(((*where, name, "name"), f"{label} {match.name!r} is not defined "
                                   f"(defined {label}s: {known})"))
            continue
        condition = found.attempt((*where, name, "options"), make, target, _OPTIONS[match.options])
        if condition is not None:
            out.append(condition)
    for name, make_count in (("as_path_length", pol.AsPathLength), ("community_count", pol.CommunityCount)):
        compare: Compare | None = getattr(st, name)
        if compare is not None:
            out.append(make_count(_COMPARISONS[compare.operator], compare.value))
    if st.route_type != "none":
        out.append(pol.RouteTypeIs(pol.RouteType[st.route_type.upper()]))
    if st.afi_safi_in:
        out.append(pol.AfiSafiIn(frozenset(SUPPORTED_AFI_SAFIS[name] for name in st.afi_safi_in)))
    if st.next_hop_in_list:
        items = st.next_hop_in_list
        ok = [found.attempt((*where, "next_hop_in_list", j), pol.AddressSet, "next-hop-in-list", (item,))
              for j, item in enumerate(items)]
        if all(ok):
            out.append(pol.NextHopInList(pol.AddressSet("next-hop-in-list", items)))
    return out


_COMMUNITY_ACTIONS: tuple[tuple[str, Callable[[pol.SetOp, tuple[str, ...]], Any]], ...] = (
    ("set_community", pol.set_community),
    ("set_ext_community", pol.set_ext_community),
    ("set_large_community", pol.set_large_community),
)


def _actions(st: StatementConfig, where: ModelLoc, found: _Found) -> list[Any]:
    out: list[Any] = []
    for name, make in _COMMUNITY_ACTIONS:
        conf: SetCommunityConfig | None = getattr(st, name)
        if conf is not None:
            out.append(found.attempt((*where, name, "communities"), make, _SET_OPS[conf.options],
                                     conf.communities))
    if st.set_med is not None:
        med = st.set_med
        out.append(found.attempt((*where, "set_med"), pol.SetMed, str(med)))
    if st.set_local_pref:  # 0: GoBGP's "not set"
        out.append(pol.SetLocalPref(st.set_local_pref))
    if st.set_next_hop is not None:
        nh = st.set_next_hop
        out.append(found.attempt((*where, "set_next_hop"), pol.SetNextHop.parse, nh))
    prepend = st.set_as_path_prepend
    if prepend is not None:
        out.append(found.attempt((*where, "set_as_path_prepend", "asn"), pol.PrependAsPath.parse,
                                 str(prepend.asn), prepend.repeat_n))
    return out


def compile_policy(policies: Sequence[PolicyDefinitionConfig], sets: DefinedSets,
                   found: _Found) -> dict[str, pol.Policy]:
    out: dict[str, pol.Policy] = {}
    repeats = found.duplicates([p.name for p in policies], ("policy_definitions",), "name", "policy")
    for p, pd in enumerate(policies):
        statements: list[pol.Statement] = []
        names = [st.name or f"{pd.name}_stmt{s}" for s, st in enumerate(pd.statements)]
        found.duplicates(names, ("policy_definitions", p, "statements"), "name",
                         f"policy {pd.name!r}: statement")
        for s, st in enumerate(pd.statements):
            where: ModelLoc = ("policy_definitions", p, "statements", s)
            conditions = _conditions(st, sets, where, found)
            actions = _actions(st, where, found)
            done = tuple(a for a in actions if a is not None)
            disposition = DISPOSITIONS[st.route_disposition]
            statements.append(pol.Statement(names[s], tuple(conditions), done, disposition))
        if p not in repeats and len(set(names)) == len(names):
            out[pd.name] = pol.Policy(pd.name, tuple(statements))
    return out


def unknown_policies(level: ApplyPolicy | None, policies: Mapping[str, object], where: ModelLoc,
                     ) -> list[PolicyProblem]:
    """A problem for every name in ``level``'s lists that ``policies`` does not define, at
    ``where`` + ("apply_policy", list field, index)."""
    if level is None:
        return []
    out: list[PolicyProblem] = []
    defined = ", ".join(repr(n) for n in policies) or "none"
    lists = ((pol.Direction.IMPORT, "import_policies"), (pol.Direction.EXPORT, "export_policies"))
    for direction, key in lists:
        for j, name in enumerate(level.names(direction)):
            if name not in policies:
                out.append(((*where, "apply_policy", key, j),
                            f"policy {name!r} is not defined in [[policy-definitions]] (defined: {defined})"))
    return out


def compile_book(defined_sets: DefinedSetsConfig, policies: Sequence[PolicyDefinitionConfig],
                 global_policy: ApplyPolicy | None, rfc8212: bool,
                 problems: list[PolicyProblem] | None = None) -> PolicyBook:
    """The book; every problem goes to ``problems`` when given (the book then holds what
    compiled), else the first one is raised as ValueError."""
    found = _Found()
    sets = _sets(defined_sets, found)
    book_policies = compile_policy(policies, sets, found)
    found.problems += unknown_policies(global_policy, {p.name: p for p in policies}, ("global_",))
    level = global_policy or NO_POLICY
    if found.problems:
        if problems is None:
            loc, message = found.problems[0]
            raise ValueError(f"{loc}: {message}")
        problems.extend(found.problems)
        if unknown_policies(level, book_policies, ()):
            level = NO_POLICY  # the book is only for the problems' sake now
    return PolicyBook(sets, book_policies, level, rfc8212)


class _HasApplyPolicy(Protocol):
    @property
    def apply_policy(self) -> ApplyPolicy | None: ...


class _Range(Protocol):
    peer_group: str

    @property
    def template(self) -> _HasApplyPolicy: ...


def policy_conflicts(defined: DefinedSetsConfig | None, policies: Sequence[PolicyDefinitionConfig | None],
                     global_: _HasApplyPolicy | None, neighbors: Sequence[_HasApplyPolicy | None],
                     ranges: Sequence[_Range] = ()) -> list[PolicyProblem]:
    """Every policy problem of a file whose models validated (the loader reports the rest):
    the book's, and an apply-policy of a neighbor (or a peer group a neighbor or a
    ``[[dynamic-neighbors]]`` range takes it from) naming a policy that is not defined."""
    if defined is None or any(p is None for p in policies):
        return []
    written = tuple(p for p in policies if p is not None)
    problems: list[PolicyProblem] = []
    compile_book(defined, written, None if global_ is None else global_.apply_policy, False, problems)
    names = {p.name: p for p in written}
    for i, n in enumerate(neighbors):
        if n is not None:
            problems += unknown_policies(n.apply_policy, names, ("neighbors", i))
    for k, d in enumerate(ranges):
        for _, message in unknown_policies(d.template.apply_policy, names, ()):
            problems.append((("dynamic_neighbors", k, "peer_group"),
                             f"peer group {d.peer_group!r}: {message}"))
    return problems
