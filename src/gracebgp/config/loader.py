"""Turn GoBGP-schema text (TOML, YAML or JSON) into a :class:`Config`, reporting every problem
with file, line and key.

Steps: :mod:`formats` reads the values (a syntax error is one problem, with the
parser's line) and knows where each key is written; :mod:`groups` merges the peer
groups into their neighbors; the document is reshaped into the models' layout following :mod:`schema` (unknown
keys and GoBGP sections gracebgp does not implement are problems); each object
is validated on its own so that all errors surface together; rules that span
objects (duplicate neighbors, route-reflector clients, duplicate routes) run on
whatever did validate. Only :func:`load_file` touches the file system.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gracebgp.config import dynamic, policy_summary
from gracebgp.config.formats import SYNTAX_KEY, read_document
from gracebgp.config.groups import Inheritance, effective, expand, probe
from gracebgp.config.model import (
    Config,
    Global,
    GraceBGP,
    ModelLoc,
    Neighbor,
    Route,
    address_key,
    config_conflicts,
    duplicates,
    prefix_key,
)
from gracebgp.config.policy_compile import policy_conflicts, unknown_policies
from gracebgp.config.policy_model import DefinedSetsConfig, PolicyDefinitionConfig
from gracebgp.config.positions import KeyPath, Positions, format_path
from gracebgp.config.problems import ConfigError, ConfigProblem
from gracebgp.config.schema import CONFIG, FEATURES, NEIGHBOR, Section, TomlPath

__all__ = ["SYNTAX_KEY", "Loaded", "check", "load_file", "parse", "parse_detailed", "read_file"]

_M = TypeVar("_M", bound=BaseModel)

_Issue = tuple[KeyPath, str]  # absolute TOML key path, message
_TYPE_NAMES = {
    "int_type": "an integer",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "an array",
    "model_type": "a table",
    "dict_type": "a table",
}
_NOT_YET = "is GoBGP configuration gracebgp does not support yet"
#: A neighbor whose peer-as is omitted or 0 (the model's None), as --check and
#: ``gracebgp neighbor ADDR`` say it.
ANY_AS = "any AS"
ANY_AS_MEANING = ("peer-as omitted or 0: the OPEN's AS is accepted, iBGP when it is ours, else eBGP "
                  "(GoBGP's meaning)")
_NOT_YET_FOR = "which gracebgp does not support yet"


def read_file(path: str | Path) -> str:
    """The text of a configuration file; raises :class:`ConfigError`."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        problem = ConfigProblem(name, 0, "", f"cannot read the file: {exc.strerror or exc}")
        raise ConfigError([problem]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError([ConfigProblem(name, line, SYNTAX_KEY, "the file is not valid UTF-8")]) from None


def load_file(path: str | Path, config_type: str = "toml") -> Config:
    """Read and parse a configuration file (``config_type``: toml, yaml or json, gobgpd's
    ``-t``); raises :class:`ConfigError`."""
    return parse(read_file(path), str(path), config_type)


def check(path: str | Path, config_type: str = "toml") -> tuple[int, str]:
    """What ``gracebgpd -f FILE --check`` prints, and its exit status (0 valid, 1 not): for
    a neighbor in a peer group, also its effective values and where each came from."""
    try:
        loaded = parse_detailed(read_file(path), str(path), config_type)
    except ConfigError as exc:
        return 1, str(exc)
    config = loaded.config
    lines = [f"{path}: configuration OK ({len(config.neighbors)} neighbors, "
             f"{len(config.gracebgp.routes)} routes)"]
    lines += loaded.explain()
    lines += policy_summary.summary(config)
    lines += [f"neighbor {n.neighbor_address}: {ANY_AS} ({ANY_AS_MEANING})"
              for n in config.neighbors if n.peer_as is None]
    for d in config.dynamic_neighbors:
        peer_as = ANY_AS if d.any_as else f"AS {d.template.peer_as}"
        cap = f"at most {d.max_peers} peers" if d.max_peers else "no max-peers"
        lines.append(f"dynamic-neighbors {d.prefix}: peer group {d.peer_group!r}, {peer_as}, {cap}")
    return 0, "\n".join(lines)


@dataclass(frozen=True)
class Loaded:
    """A parsed configuration and how it was written: the neighbors' tables after the peer
    groups were merged in, which keys each inherited, and where every key is."""

    config: Config
    neighbors: list[dict[str, Any]]
    inheritance: Inheritance
    positions: Positions

    def explain(self) -> list[str]:
        """For each neighbor in a peer group: every value it ends up with, and its source."""
        out: list[str] = []
        for i, member in sorted(self.inheritance.members.items()):
            n = self.config.neighbors[i]
            out.append(f"neighbor {n.neighbor_address} (peer-group {member.group!r}), as written "
                       "(keys not listed take their defaults):")
            for rel, value, inherited in effective(self.neighbors[i], member):
                key = format_path(rel)
                secret = any(w in str(part) for part in rel for w in ("password", "secret"))
                listed = isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value)
                shown = "[" + ", ".join(map(_show, value)) + "]" if listed else _show(value)
                shown = "(secret)" if secret else shown
                base: KeyPath = ("peer-groups", member.group_index) if inherited else ("neighbors", i)
                source = f"peer group {member.group!r}" if inherited else "neighbor"
                out.append(f"  {key} = {shown}  <- {source}, line {self.positions.line_of((*base, *rel))}")
        return out


def parse(text: str, filename: str = "<config>", config_type: str = "toml") -> Config:
    """Parse text in GoBGP's schema; raises :class:`ConfigError` listing every problem."""
    return parse_detailed(text, filename, config_type).config


def parse_detailed(text: str, filename: str = "<config>", config_type: str = "toml") -> Loaded:
    """:func:`parse`, keeping how the configuration was written (:class:`Loaded`)."""
    doc, positions = read_document(text, filename, config_type)
    issues: list[_Issue] = []
    inheritance = expand(doc, _reshape, issues)
    shaped = _reshape(doc, CONFIG, (), issues)
    config = _build(shaped, issues, inheritance)
    for index, group in inheritance.unreferenced():
        _group_values(index, group, issues, config)
    issues = inheritance.relocate(issues)
    if config is None or issues:
        where = positions()
        raise ConfigError(ConfigProblem(filename, where.line_of(path), format_path(path), message)
                          for path, message in issues)
    neighbors = doc.get("neighbors", [])
    return Loaded(config, neighbors if isinstance(neighbors, list) else [], inheritance, positions())


# -- reshaping: GoBGP's nested tables -> the models' field layout -----------------------------

def _leaf(value: Any) -> Any:
    """TOML arrays become tuples (the models are frozen and strict)."""
    if isinstance(value, list):
        return tuple(_leaf(v) for v in value)
    return value


def _table_name(path: KeyPath) -> str:
    return ".".join(p for p in path if isinstance(p, str))


def _set(out: dict[str, Any], field: tuple[str, ...], value: Any) -> None:
    for part in field[:-1]:
        out = out.setdefault(part, {})
    out[field[-1]] = value


def _reshape(table: dict[str, Any], section: Section, base: KeyPath, issues: list[_Issue]) -> dict[str, Any]:
    """``table`` (the TOML of one object at ``base``) -> keyword arguments for its model."""
    out: dict[str, Any] = {}

    def walk(t: dict[str, Any], rel: TomlPath) -> None:
        for key, value in t.items():
            path = (*rel, key)
            where: KeyPath = (*base, *path)
            if path in section.by_toml:
                _set(out, section.by_toml[path], _leaf(value))
            elif path in section.child_by_toml:
                name, child = section.child_by_toml[path]
                if child.many:
                    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                        written = f"[[{_table_name(where)}]]"
                        issues.append((where, f"must be an array of tables, written {written}"))
                        continue
                    out[name] = tuple(_reshape(v, child.section, (*where, i), issues)
                                      for i, v in enumerate(value))
                elif not isinstance(value, dict):
                    issues.append((where, f"must be a table, written [{_table_name(where)}]"))
                else:
                    out[name] = _reshape(value, child.section, where, issues)
            elif path in section.intermediates:
                if isinstance(value, dict):
                    walk(value, path)
                else:
                    issues.append((where, f"must be a table, written [{_table_name(where)}]"))
            elif path in section.hints:
                issues.append((where, section.hints[path]))
            elif path in section.unsupported:
                feature = FEATURES.get(path)
                what = f"is GoBGP configuration for {feature}, {_NOT_YET_FOR}" if feature else _NOT_YET
                issues.append((where, f"{_kind(value, where)} {what}"))
            else:
                issues.append((where, _unknown(key, section, rel, base)))

    walk(table, ())
    return out


def _kind(value: Any, where: KeyPath) -> str:
    name = _table_name(where)
    if isinstance(value, dict):
        return f"section [{name}]"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return f"section [[{name}]]"
    return f"key {name}"


def _unknown(key: str, section: Section, rel: TomlPath, base: KeyPath) -> str:
    table = _table_name((*base, *rel))
    message = f"unknown key {key!r} in [{table}]" if table else f"unknown top-level key {key!r}"
    close = difflib.get_close_matches(key, section.candidates(rel), n=1, cutoff=0.6)
    return f"{message}; did you mean {close[0]!r}?" if close else message


# -- validation --------------------------------------------------------------------------------

def _build(shaped: dict[str, Any], issues: list[_Issue], inheritance: Inheritance) -> Config | None:
    global_ = _validate(Global, shaped.get("global_", {}), ("global_",), issues)
    ranges = dynamic.build(list(shaped.get("dynamic_neighbors", ())), inheritance, _reshape, _validate,
                           issues)
    neighbors = tuple(_validate(Neighbor, n, ("neighbors", i), issues)
                      for i, n in enumerate(shaped.get("neighbors", [])))
    grace = dict(shaped.get("gracebgp", {}))
    routes = tuple(_validate(Route, r, ("gracebgp", "routes", i), issues)
                   for i, r in enumerate(grace.pop("routes", [])))
    extras = _validate(GraceBGP, grace, ("gracebgp",), issues)
    defined = _validate(DefinedSetsConfig, shaped.get("defined_sets", {}), ("defined_sets",), issues)
    policies = tuple(_validate(PolicyDefinitionConfig, p, ("policy_definitions", i), issues)
                     for i, p in enumerate(shaped.get("policy_definitions", ())))
    conflicts = config_conflicts(global_, neighbors, routes, check_duplicates=False)
    conflicts += policy_conflicts(defined, policies, global_, neighbors, ranges)
    conflicts += dynamic.keyless_inside(ranges, neighbors)
    raw_neighbors = shaped.get("neighbors", ())
    raw_routes = shaped.get("gracebgp", {}).get("routes", ())
    conflicts += duplicates([address_key(n.get("neighbor_address")) for n in raw_neighbors],
                            "neighbor", "neighbors", ("neighbors",), "neighbor_address")
    conflicts += duplicates([prefix_key(r.get("prefix")) for r in raw_routes],
                            "route", "gracebgp.routes", ("gracebgp", "routes"), "prefix")
    raw_lists: list[tuple[ModelLoc, Any]] = [
        (("neighbors", i, "afi_safis"), n.get("afi_safis", ())) for i, n in enumerate(raw_neighbors)]
    raw_lists.append((("global_", "afi_safis"), shaped.get("global_", {}).get("afi_safis", ())))
    for where, afs in raw_lists:
        names = [af.get("name") for af in afs]
        conflicts += duplicates([name if isinstance(name, str) else None for name in names],
                                "afi-safi", "afi-safis", where, "name")
    for loc, message in conflicts:
        issues.append((toml_path(loc), message))
    if issues or global_ is None or extras is None or defined is None:
        return None
    valid_neighbors = tuple(n for n in neighbors if n is not None)
    valid_routes = tuple(r for r in routes if r is not None)
    return Config(global_=global_, neighbors=valid_neighbors,
                  gracebgp=extras.model_copy(update={"routes": valid_routes}),
                  dynamic_neighbors=tuple(ranges), defined_sets=defined,
                  policy_definitions=tuple(p for p in policies if p is not None))


def _group_values(index: int, group: dict[str, Any], issues: list[_Issue], config: Config | None) -> None:
    """The values of a peer group no neighbor names, checked as a neighbor's would be (its
    keys were checked by :func:`expand`; its apply-policy's names against ``config``'s
    policies); a member's are checked where it is merged."""
    found: list[_Issue] = []
    shaped = _reshape(probe(group), NEIGHBOR, (), [])
    neighbor = _validate(Neighbor, shaped, ("neighbors", 0), found)
    if neighbor is not None and config is not None:
        names = {p.name: p for p in config.policy_definitions}
        found += [(toml_path(("neighbors", 0, *loc)), message)
                  for loc, message in unknown_policies(neighbor.apply_policy, names, ())]
    issues.extend((("peer-groups", index, *path[2:]), message) for path, message in found)


def _validate(model: type[_M], data: dict[str, Any], loc: ModelLoc, issues: list[_Issue]) -> _M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            issues.append((toml_path((*loc, *error["loc"])), _message(error)))
        return None


def toml_path(loc: ModelLoc) -> KeyPath:
    """A model location (``("neighbors", 1, "hold_time")``) -> its TOML key path
    (``("neighbors", 1, "timers", "config", "hold-time")``)."""
    section = CONFIG
    out: list[str | int] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        child = section.children.get(part) if isinstance(part, str) else None
        if child is not None:
            out.extend(child.toml)
            i += 1
            if child.many and i < len(loc) and isinstance(loc[i], int):
                out.append(loc[i])
                i += 1
            section = child.section
            continue
        for n in range(len(loc) - i, 0, -1):
            field = loc[i:i + n]
            if all(isinstance(p, str) for p in field) and field in section.fields:
                out.extend(section.fields[field])  # type: ignore[index]
                out.extend(p for p in loc[i + n:] if isinstance(p, int))
                return tuple(out)
        break
    return tuple(out)


def _message(error: ErrorDetails) -> str:
    kind, message, value = error["type"], error["msg"], error.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {_show(value)}"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    message = message.replace("Input should be", "must be").replace("String should have", "must have")
    return f"{message}, got {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "an array"
    return str(value)
