"""Peer groups: ``[[peer-groups]]`` tables merged into the ``[[neighbors]]`` that name them.

GoBGP's peer group (docs/sources/peer-group.md) holds every neighbor section except the
neighbor's identity; a neighbor joins one with ``[neighbors.config] peer-group = "NAME"``
and then takes, key by key, the group's value for every key it does not write itself:
a key the neighbor writes wins, otherwise the group's, otherwise the default. Arrays of
tables (``afi-safis``, gracebgp's ``tcp-ao-keys``) are one value each: a neighbor that
lists its own replaces the group's list. As in GoBGP, ``peer-as = 0`` on a member means
"not set" and the group's ``peer-as`` applies; with none there either, any AS (the
model's ``peer_as`` None).

The merge works on the document as read (TOML, YAML or JSON), before it is shaped into
models, so any key gracebgp accepts on a neighbor is accepted in a group with the same
effect. :class:`Inheritance` remembers which keys came from which group, to point an
error in an inherited value at the group's line, and to show ``--check`` where each
effective value came from.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from gracebgp.config.positions import KeyPath
from gracebgp.config.schema import NEIGHBOR, Section, TomlPath

Issue = tuple[KeyPath, str]
#: Shapes one table with a section, reporting key problems (the loader's ``_reshape``).
Reshape = Callable[[dict[str, Any], Section, KeyPath, list[Issue]], dict[str, Any]]

GROUP_KEY: TomlPath = ("config", "peer-group")
NAME_KEY: TomlPath = ("config", "peer-group-name")
PEER_AS: TomlPath = ("config", "peer-as")
#: Keys of a neighbor's identity that GoBGP's peer groups do not have (PeerGroupConfig).
_NEIGHBOR_ONLY: tuple[TomlPath, ...] = (
    ("config", "neighbor-address"), ("config", "neighbor-interface"), ("config", "admin-down"),
    ("config", "vrf"), ("config", "send-software-version"), GROUP_KEY,
)


def _group_section(neighbor: Section) -> Section:
    """The neighbor's layout with the identity keys taken out and ``peer-group-name`` in."""
    fields = {f: t for f, t in neighbor.fields.items() if t not in _NEIGHBOR_ONLY}
    fields[("peer_group_name",)] = NAME_KEY
    hints = dict(neighbor.hints)
    for path in _NEIGHBOR_ONLY:
        hints[path] = (f"{path[-1]} is set per neighbor, in [neighbors.config]: a peer group "
                       "(GoBGP's PeerGroupConfig) has no such key")
    return replace(neighbor, name="peer-group", fields=fields,
                   unsupported=neighbor.unsupported - frozenset(_NEIGHBOR_ONLY), hints=hints,
                   others=frozenset())


#: Where a key is valid in ``[[peer-groups]]`` (built from the neighbor's, so they agree).
PEER_GROUP = _group_section(NEIGHBOR)


@dataclass
class Member:
    """One neighbor that names a group: the group, and the keys (relative paths) it inherited."""

    group: str
    group_index: int
    inherited: set[TomlPath] = field(default_factory=set)

    def came_from_group(self, rel: KeyPath) -> bool:
        """Whether the value at ``rel`` (relative to the neighbor's table) is the group's."""
        return any(rel[:n] in self.inherited for n in range(1, len(rel) + 1))


@dataclass
class Inheritance:
    """What :func:`expand` did: the members of each group, and where group problems are."""

    #: neighbor index -> its group membership
    members: dict[int, Member] = field(default_factory=dict)
    #: key paths where a group's own table already has a problem reported
    group_problems: set[KeyPath] = field(default_factory=set)
    #: name -> (index, the group's tables without its name)
    groups: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def unreferenced(self) -> list[tuple[int, dict[str, Any]]]:
        """The groups no neighbor names: (index, tables), for a check of their values."""
        used = {m.group for m in self.members.values()}
        return [entry for name, entry in self.groups.items() if name not in used]

    def relocate(self, issues: list[Issue]) -> list[Issue]:
        """Point every problem in an inherited value at the group that wrote it; drop the
        ones the group's own check reported already, and the duplicates."""
        out: list[Issue] = []
        for path, message in issues:
            moved = self.locate(path)
            if moved != path and (moved in self.group_problems or (moved, message) in out):
                continue
            out.append((moved, message))
        return out

    def locate(self, path: KeyPath) -> KeyPath:
        """``neighbors[i].<rel>`` -> ``peer-groups[g].<rel>`` when ``rel`` came from the group."""
        if len(path) < 3 or path[0] != "neighbors" or not isinstance(path[1], int):
            return path
        member = self.members.get(path[1])
        if member is None or not member.came_from_group(path[2:]):
            return path
        return ("peer-groups", member.group_index, *path[2:])


def expand(doc: dict[str, Any], reshape: Reshape, issues: list[Issue]) -> Inheritance:
    """Take ``peer-groups`` out of ``doc`` and merge each group into its members, in place."""
    found = Inheritance()
    groups = found.groups = _groups(doc.pop("peer-groups", None), reshape, issues, found)
    neighbors = doc.get("neighbors")
    if not isinstance(neighbors, list):
        return found
    for i, written in enumerate(neighbors):
        if not isinstance(written, dict):
            continue
        table = written
        config = table.get("config")
        name = config.pop("peer-group", None) if isinstance(config, dict) else None
        if name is not None:
            where: KeyPath = ("neighbors", i, *GROUP_KEY)
            if not isinstance(name, str):
                issues.append((where, "expected a string, the name of a [[peer-groups]] entry"))
            elif name not in groups:
                defined = ", ".join(repr(n) for n in groups) or "none"
                issues.append((where, f"there is no peer group {name!r} (peer groups defined: {defined})"))
                continue
            else:
                index, group = groups[name]
                member = Member(name, index)
                neighbors[i] = table = _merge(group, table, (), member.inherited)
                found.members[i] = member
    return found


def _groups(raw: Any, reshape: Reshape, issues: list[Issue],
            found: Inheritance) -> dict[str, tuple[int, dict[str, Any]]]:
    """name -> (index, the group's tables without its name), each group's keys checked."""
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    if raw is None:
        return out
    if not isinstance(raw, list) or not all(isinstance(g, dict) for g in raw):
        issues.append((("peer-groups",), "must be an array of tables, written [[peer-groups]]"))
        return out
    for i, table in enumerate(raw):
        mine: list[Issue] = []
        reshape(table, PEER_GROUP, ("peer-groups", i), mine)
        issues.extend(mine)
        found.group_problems.update(path for path, _ in mine)
        config = table.get("config")
        name = config.get("peer-group-name") if isinstance(config, dict) else None
        where: KeyPath = ("peer-groups", i, *NAME_KEY)
        if name is None:
            issues.append((where, "required key is missing: the name neighbors refer to the group by"))
        elif not isinstance(name, str) or not name:
            issues.append((where, "expected a non-empty string"))
        elif name in out:
            issues.append((where, f"peer group {name!r} is defined twice (also peer-groups[{out[name][0]}])"))
        else:
            group = copy.deepcopy(table)
            group["config"].pop("peer-group-name")
            out[name] = (i, group)
    return out


def _merge(group: dict[str, Any], mine: dict[str, Any], rel: TomlPath,
           inherited: set[TomlPath]) -> dict[str, Any]:
    """``mine`` over ``group``, table by table; records the paths taken from the group."""
    out: dict[str, Any] = {}
    for key, theirs in group.items():
        path = (*rel, key)
        if key not in mine or (path == PEER_AS and mine[key] == 0 and not isinstance(mine[key], bool)):
            out[key] = copy.deepcopy(theirs)
            inherited.add(path)
        elif isinstance(theirs, dict) and isinstance(mine[key], dict):
            out[key] = _merge(theirs, mine[key], path, inherited)
        else:
            out[key] = mine[key]
    for key, value in mine.items():
        out.setdefault(key, value)
    return out


def probe(group: dict[str, Any]) -> dict[str, Any]:
    """A neighbor made of ``group`` alone, to check a group no neighbor names: an address of
    the family of its local-address."""
    table = copy.deepcopy(group)
    config = table.setdefault("config", {})
    transport = table.get("transport")
    local = transport.get("config", {}).get("local-address") if isinstance(transport, dict) else None
    config["neighbor-address"] = "2001:db8::1" if isinstance(local, str) and ":" in local else "192.0.2.1"
    return table


def effective(table: dict[str, Any], member: Member) -> Iterator[tuple[KeyPath, Any, bool]]:
    """(key path, value, inherited from the group) for every value a member ends up with."""
    def walk(t: dict[str, Any], rel: KeyPath) -> Iterator[tuple[KeyPath, Any, bool]]:
        for key, value in t.items():
            path = (*rel, key)
            if isinstance(value, dict):
                yield from walk(value, path)
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for n, item in enumerate(value):
                    yield from walk(item, (*path, n))
            else:
                yield path, value, member.came_from_group(path)

    return walk(table, ())
