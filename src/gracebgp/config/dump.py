"""Write a :class:`Config` back as GoBGP-schema TOML that :func:`parse` reads to an equal Config.

Every value is written out (defaults included, ``None`` left out), so the text is
an explicit, canonical form of the configuration the speaker runs.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from gracebgp.config.groups import PEER_GROUP
from gracebgp.config.model import Config, Neighbor
from gracebgp.config.policy_model import disposition_text
from gracebgp.config.schema import CONFIG, Section
from gracebgp.config.secrets import PasswordFile
from gracebgp.policy.definitions import Disposition


def to_toml(config: Config) -> str:
    lines: list[str] = []
    _object(config, CONFIG, (), lines, array=False)
    _groups(config, lines)
    return "\n".join(lines).strip("\n") + "\n"


class _Group:
    """A dynamic-neighbors range's template neighbor, seen as its peer group."""

    def __init__(self, name: str, template: Neighbor) -> None:
        self.peer_group_name, self._template = name, template

    def __getattr__(self, name: str) -> Any:
        return getattr(self._template, name)


def _groups(config: Config, lines: list[str]) -> None:
    """The peer groups the ``[[dynamic-neighbors]]`` name (members were written merged):
    each range's values, without the neighbor's identity (and, as for any neighbor, without
    peer-as for any AS: None is not written)."""
    done: set[str] = set()
    for d in config.dynamic_neighbors:
        if d.peer_group in done:
            continue
        done.add(d.peer_group)
        group: Any = _Group(d.peer_group, d.template)
        _object(group, PEER_GROUP, ("peer-groups",), lines, array=True)


def _object(obj: BaseModel, section: Section, header: tuple[str, ...], lines: list[str], array: bool) -> None:
    """Emit one object whose own table is ``header``; ``array``: it is an [[element]]."""
    tables: dict[tuple[str, ...], list[str]] = {}
    for field, toml in section.fields.items():
        value: Any = obj
        for part in field:
            value = getattr(value, part, None)  # None: an optional block not written
        if value is None:
            continue
        tables.setdefault(toml[:-1], []).append(f"{_key(toml[-1])} = {_value(value)}")
    own = tables.pop((), [])
    if header and (array or own):
        lines.append("")
        lines.append(f"[[{_dotted(header)}]]" if array else f"[{_dotted(header)}]")
    lines.extend(own)
    for sub, body in tables.items():
        lines.append(f"[{_dotted(header + sub)}]")
        lines.extend(body)
    for name, child in section.children.items():
        value = getattr(obj, name)
        items = value if child.many else (value,)
        for item in items:
            _object(item, child.section, header + child.toml, lines, array=child.many)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(p) for p in path)


def _key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() and key.isascii() else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Disposition):  # an apply-policy default
        return _value(disposition_text(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")  # TOML forbids raw DEL
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, PasswordFile):
        return _value(value.path)  # the path, never the key
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
