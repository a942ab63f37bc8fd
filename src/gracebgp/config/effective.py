"""Every configured value a peer runs with, and where it came from: the neighbor's own
line, its peer group's line, a ``[[dynamic-neighbors]]`` range, or the default
(``gracebgp neighbor ADDR``, the API's GetPeer ``settings``). ``--check`` lists what is
written (``Loaded.explain``); this lists every key, the defaults included.

A key is one of GoBGP's neighbor keys (``timers.config.hold-time``), in the order the
schema lists them; ``afi-safis`` and ``tcp-ao-keys`` are one value each (a list
replaces the group's whole, config.groups). Secrets are never shown, only whether one
is set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gracebgp.config.groups import PEER_AS
from gracebgp.config.loader import ANY_AS_MEANING, Loaded
from gracebgp.config.model import Neighbor
from gracebgp.config.policy_model import disposition_text
from gracebgp.config.positions import KeyPath
from gracebgp.config.schema import NEIGHBOR, TomlPath
from gracebgp.config.secrets import PasswordFile
from gracebgp.policy.definitions import Disposition

#: (key, value as text, where it came from)
Setting = tuple[str, str, str]
#: Where a table is written: its name for people, and its key path in the file.
Origin = tuple[str, KeyPath]
_SECRETS = ("password", "secret")


def settings(loaded: Loaded, address: str, dynamic_range: str | None = None) -> list[Setting]:
    """The settings of the configured neighbor ``address``, or of the peer at ``address``
    accepted through the range ``dynamic_range``; empty when the file has neither."""
    config, groups, line_of = loaded.config, loaded.inheritance.groups, loaded.positions.line_of
    if dynamic_range is not None:
        d = next((d for d in config.dynamic_neighbors if d.prefix == dynamic_range), None)
        if d is None or d.peer_group not in groups:
            return []
        here = ("dynamic-neighbors", config.dynamic_neighbors.index(d), "config", "prefix")
        group: Origin = (f"peer group {d.peer_group!r}", ("peer-groups", groups[d.peer_group][0]))
        out = [("config.neighbor-address", address,
                f"dynamic-neighbors range {d.prefix}, line {line_of(here)}")]
        out += [s for s in _walk(d.template, groups[d.peer_group][1], lambda rel: group, loaded)
                if s[0] != "config.neighbor-address"]
        return out
    i = next((n for n, nb in enumerate(config.neighbors) if nb.neighbor_address == address), None)
    if i is None:
        return []
    member = loaded.inheritance.members.get(i)

    def origin(rel: TomlPath) -> Origin:
        if member is not None and member.came_from_group(rel):
            return f"peer group {member.group!r}", ("peer-groups", member.group_index)
        return "neighbor", ("neighbors", i)

    return _walk(config.neighbors[i], loaded.neighbors[i], origin, loaded)


def _walk(model: Neighbor, table: dict[str, Any], origin: Callable[[TomlPath], Origin],
          loaded: Loaded) -> list[Setting]:
    """Every neighbor key: its value, and where it is written (``origin`` names the table
    and where it starts) or "default"."""
    keys: list[tuple[TomlPath, str]] = []
    for field, toml in NEIGHBOR.fields.items():
        value: Any = model
        for part in field:
            value = getattr(value, part, None)  # None: an optional block (apply-policy) not set
        keys.append((toml, _text(toml, value)))
    for name, child in NEIGHBOR.children.items():
        items = getattr(model, name)
        shown = ", ".join(a.name for a in items) if name == "afi_safis" else f"{len(items)} keys"
        keys.append((child.toml, shown))
    out: list[Setting] = []
    for toml, text in keys:
        shown, source = text, "default"
        if toml == PEER_AS and model.peer_as is None:
            shown, source = "any", f"default ({ANY_AS_MEANING})"
        if _written(table, toml):
            label, base = origin(toml)
            source = f"{label}, line {loaded.positions.line_of((*base, *toml))}"
        out.append((".".join(toml), shown, source))
    return out


def _written(table: dict[str, Any], path: TomlPath) -> bool:
    node: Any = table
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _text(path: TomlPath, value: Any) -> str:
    if any(w in part for part in path for w in _SECRETS):
        return "(set)" if value else "(none)"
    if isinstance(value, PasswordFile):
        return f"(read from {value.path})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Disposition):
        return disposition_text(value)
    if value is None:
        return "(none)"
    if value == "":
        return '""'
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)
