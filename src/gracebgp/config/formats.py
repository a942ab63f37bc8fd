"""Read a configuration document as TOML, YAML or JSON (gobgpd's ``-t``), with the line of every key.

All three carry GoBGP's schema with the same keys; what differs is the syntax and how
the line of a key is found: :class:`Positions` scans TOML; for YAML the node marks of
PyYAML's composer give them; for JSON a small structural scan after :mod:`json` has
accepted the text. A syntax error is one problem with the parser's line; a file that
fails as TOML but looks like YAML or JSON says which ``-t`` to use.
"""

from __future__ import annotations

import bisect
import json
import re
import tomllib
from collections.abc import Callable
from typing import Any

import yaml

from gracebgp.config.positions import KeyPath, Positions, format_path
from gracebgp.config.problems import ConfigError, ConfigProblem

#: The values of ``-t`` / ``--config-type`` (gobgpd's; it also reads hcl and properties
#: through viper, which nobody writes a BGP configuration in).
CONFIG_TYPES = ("toml", "yaml", "json")
SYNTAX_KEY = "(syntax)"

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)|\s*\(at end of document\)")
_YAML_KEY = re.compile(r"[A-Za-z0-9_-]+\s*:(\s|$)")
_TOML_LINE = re.compile(r"\[\[?[A-Za-z][\w.-]*\]\]?\s*(#.*)?$|[A-Za-z0-9_-]+\s*=")
_JSON_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')

Document = tuple[dict[str, Any], Callable[[], Positions]]


def read_document(text: str, filename: str, config_type: str = "toml") -> Document:
    """The document's values and (lazily) where each key is; raises :class:`ConfigError`."""
    if config_type == "yaml":
        return _yaml(text, filename)
    if config_type == "json":
        return _json(text, filename)
    if config_type != "toml":
        raise ValueError(f"config type {config_type!r}: one of {', '.join(CONFIG_TYPES)}")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_toml_problem(str(exc), filename, text)]) from None
    return doc, lambda: Positions(text)


def looks_like(text: str) -> str | None:
    """"yaml", "json" or "toml" when the first statement of ``text`` is written that way."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line == "---":
            continue
        if line.startswith("{"):
            return "json"
        if _TOML_LINE.match(line):
            return "toml"
        if _YAML_KEY.match(line) or line.startswith("- "):
            return "yaml"
        return None
    return None


def _wrong_type(text: str, config_type: str) -> str:
    guess = looks_like(text)
    if guess is None or guess == config_type:
        return ""
    default = " (the default)" if guess == "toml" else ""
    return f"; the file looks like {guess.upper()}: use -t {guess}{default}"


def _toml_problem(message: str, filename: str, text: str) -> ConfigProblem:
    m = _TOML_POSITION.search(message)
    line = int(m.group(1)) if m and m.group(1) else max(1, len(text.splitlines()))
    detail = _TOML_POSITION.sub("", message)
    if m and m.group(2):
        detail += f" (column {m.group(2)})"
    hint = _wrong_type(text, "toml")
    return ConfigProblem(filename, line, SYNTAX_KEY, f"TOML syntax error: {detail}{hint}")


def _not_a_mapping(filename: str, text: str, kind: str, value: Any) -> ConfigError:
    shown = "empty" if value is None else f"a {type(value).__name__}"
    return ConfigError([ConfigProblem(filename, 1, SYNTAX_KEY, f"the {kind} document must be a mapping of "
                                      f"sections (global, neighbors, ...), not {shown}"
                                      f"{_wrong_type(text, kind.lower())}")])


# -- YAML -------------------------------------------------------------------------------------

_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without YAML 1.1's base-60 numbers: ``65000:10`` (a community,
    unquoted) stays the string it reads as, as in YAML 1.2 and gobgpd's YAML library,
    instead of becoming 3900010 (ints and floats otherwise as before)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(_INT, re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""", re.X), list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT, re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))


def _yaml(text: str, filename: str) -> Document:
    loader = _Loader(text)
    lines: dict[KeyPath, int] = {}
    duplicates: list[ConfigProblem] = []
    try:
        node = loader.get_single_node()
        if node is not None:
            # Lines and repeated keys of the mapping as written: constructing it merges
            # each ``<<: *anchor`` into it, and a key the mapping itself sets after such a
            # merge (the override a merge key is for) must not count as written twice.
            _marks(node, (), lines, duplicates, filename)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (column {mark.column + 1})" if mark is not None else ""
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        if "'\\t'" in what:
            what += " (YAML indents with spaces; a tab cannot start a line's indentation)"
        problem = ConfigProblem(filename, mark.line + 1 if mark is not None else 1, SYNTAX_KEY,
                                f"YAML syntax error: {what}{where}{_wrong_type(text, 'yaml')}")
        raise ConfigError([problem]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(filename, 1, SYNTAX_KEY, f"YAML syntax error: {exc}")]) from None
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        raise _not_a_mapping(filename, text, "YAML", data)
    if duplicates:
        raise ConfigError(duplicates)
    return _string_keys(data), lambda: Positions.from_lines(lines)


def _marks(node: yaml.Node, path: KeyPath, out: dict[KeyPath, int], duplicates: list[ConfigProblem],
           filename: str) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = (*path, key)
            line = key_node.start_mark.line + 1
            if where in out and key != "<<":
                duplicates.append(ConfigProblem(filename, line, format_path(where),
                                                f"defined twice (first on line {out[where]})"))
                continue
            out[where] = line
            _marks(value_node, where, out, duplicates, filename)
    elif isinstance(node, yaml.SequenceNode):
        for n, item in enumerate(node.value):
            out.setdefault((*path, n), item.start_mark.line + 1)
            _marks(item, (*path, n), out, duplicates, filename)


def _string_keys(value: Any) -> Any:
    """YAML keys may be numbers or booleans; GoBGP's keys are strings."""
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


# -- JSON -------------------------------------------------------------------------------------

def _json(text: str, filename: str) -> Document:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = _wrong_type(text, "json")
        problem = ConfigProblem(filename, exc.lineno, SYNTAX_KEY,
                                f"JSON syntax error: {exc.msg} (column {exc.colno}){hint}")
        raise ConfigError([problem]) from None
    if not isinstance(data, dict):
        raise _not_a_mapping(filename, text, "JSON", data)
    lines: dict[KeyPath, int] = {}
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    twice: list[tuple[KeyPath, int]] = []
    _json_scan(text, 0, (), lines, lambda pos: bisect.bisect_right(starts, pos), twice)
    if twice:  # json.loads keeps the last silently; TOML and YAML refuse a repeated key
        raise ConfigError([ConfigProblem(filename, line, format_path(where),
                                         f"defined twice (first on line {lines[where]})")
                           for where, line in twice])
    return data, lambda: Positions.from_lines(lines)


def _json_scan(s: str, i: int, path: KeyPath, out: dict[KeyPath, int], line: Callable[[int], int],
               twice: list[tuple[KeyPath, int]]) -> int:
    """Record the line of every key and array element of the value at ``i`` (and in
    ``twice`` each key an object repeats, with its line); return its end."""
    i = _JSON_WS.match(s, i).end()  # type: ignore[union-attr]
    opener = s[i]
    if opener not in "{[":
        return int(_DECODER.raw_decode(s, i)[1])
    closer = "}" if opener == "{" else "]"
    i += 1
    n = 0
    while True:
        i = _JSON_WS.match(s, i).end()  # type: ignore[union-attr]
        if s[i] == closer:
            return i + 1
        if s[i] == ",":
            i += 1
            continue
        if opener == "{":
            start = i
            end = _JSON_STRING.match(s, i).end()  # type: ignore[union-attr]
            key, i = json.loads(s[i:end]), end
            if (*path, key) in out:
                twice.append(((*path, key), line(start)))
            out.setdefault((*path, key), line(start))
            i = _JSON_WS.match(s, i).end() + 1  # type: ignore[union-attr]  # the colon
            i = _json_scan(s, i, (*path, key), out, line, twice)
        else:
            i = _JSON_WS.match(s, i).end()  # type: ignore[union-attr]
            out.setdefault((*path, n), line(i))
            i = _json_scan(s, i, (*path, n), out, line, twice)
            n += 1
