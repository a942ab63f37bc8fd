"""The position index finds the line of every key, whatever TOML's syntax puts around it."""

from __future__ import annotations

import json
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from gracebgp.config.positions import Positions, format_path

TRICKY = '''\
# [not.a.header] = 1
title = "a # not a comment \\" [x]"
multi = """
[fake.header]
key = "inside a string"
\\"""
still = 1
"""
literal = \'\'\'
[[fake]] \'\'
\'\'\'
array = [
  1, # a comment with ] and [
  [2, 3],
  { inner = "v", deeper = { k = 1 } },
]
"quoted.key" = 1
dotted . key = 2
after = true

[ "q.k" . z ]
v = 1

[[x]]
[x.y]
n = 0
[[x]]
[[x]]
[x.y]
n = 2
[[x.list]]
[[x.list]]
m = 1
'''


def test_tricky_document() -> None:
    tomllib.loads(TRICKY)  # it is valid TOML
    p = Positions(TRICKY)
    expected = {
        ("title",): 2, ("multi",): 3, ("literal",): 9, ("array",): 12,
        ("array", 0): 13, ("array", 1): 14, ("array", 1, 1): 14, ("array", 2): 15,
        ("array", 2, "inner"): 15, ("array", 2, "deeper", "k"): 15,
        ("quoted.key",): 17, ("dotted",): 18, ("dotted", "key"): 18, ("after",): 19,
        ("q.k", "z"): 21, ("q.k", "z", "v"): 22,
        ("x", 0): 24, ("x", 0, "y", "n"): 26, ("x", 1): 27, ("x", 2): 28, ("x", 2, "y"): 29,
        ("x", 2, "y", "n"): 30, ("x", 2, "list", 0): 31, ("x", 2, "list", 1): 32,
        ("x", 2, "list", 1, "m"): 33,
    }
    assert {path: p.line_of(path) for path in expected} == expected
    assert not p.has(("fake",)) and not p.has(("still",)) and not p.has(("key",))


def test_fallback_to_the_nearest_ancestor() -> None:
    p = Positions(TRICKY)
    assert p.line_of(("x", 1, "y", "n")) == 27  # [[x]] #1 has no [x.y]
    assert p.line_of(("nowhere", "at", "all")) == 1
    assert p.line_of(()) == 1


def test_crlf_line_endings() -> None:
    text = '[a]\r\nb = 1\r\n\r\n[c]\r\nd = """x\r\ny"""\r\ne = 2\r\n'
    tomllib.loads(text)
    p = Positions(text)
    assert [p.line_of(k) for k in (("a", "b"), ("c",), ("c", "d"), ("c", "e"))] == [2, 4, 5, 7]


def test_format_path() -> None:
    path = ("neighbors", 1, "timers", "config", "hold-time")
    assert format_path(path) == "neighbors[1].timers.config.hold-time"
    assert format_path(("a.b", "c d", 'e"')) == '"a.b"."c d"."e\\""'
    assert format_path(()) == ""


# -- property: whatever we write, the index finds it ---------------------------------------

_chars = st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x7f")
_keys = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True) | st.text(_chars, min_size=1, max_size=6)
_strings = st.text(_chars, max_size=12)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _key(k: str) -> str:
    return k if k.replace("-", "").replace("_", "").isalnum() and k.isascii() else _quoted(k)


@st.composite
def _value(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["int", "str", "literal", "multi", "array", "bool", "inline"]))
    if kind == "int":
        return str(draw(st.integers(-(10**6), 10**6)))
    if kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    if kind == "str":
        return _quoted(draw(_strings))
    if kind == "literal":
        text = draw(st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"],
                                          exclude_characters="'\x7f"), max_size=10))
        return f"'{text}'"
    if kind == "multi":
        body = draw(st.lists(st.sampled_from(['[x]', 'k = 1', '"', '""', "# c", "\\\\", "''"]), max_size=4))
        return '"""\n' + "\n".join(body).replace('"""', '""\\"') + '"""'
    if kind == "inline":
        return '{ a = 1, "b c" = [1, 2] }'
    items = draw(st.lists(st.integers(0, 9), max_size=4))
    return "[\n  " + ",\n  # ] comment\n  ".join(map(str, items)) + "\n]"


@st.composite
def _document(draw: st.DrawFn) -> tuple[str, dict[tuple[str | int, ...], int]]:
    lines: list[str] = []
    expected: dict[tuple[str | int, ...], int] = {}
    arrays: dict[str, int] = {}
    tables: set[str] = set()
    for table in draw(st.lists(st.tuples(st.sampled_from(["t", "u", "v"]), st.booleans()), max_size=5)):
        name, is_array = table
        if is_array:
            if name in tables:
                continue
            index = arrays.get(name, 0)
            arrays[name] = index + 1
            lines.append(f"[[{name}]]")
            base: tuple[str | int, ...] = (name, index)
        else:
            if name in tables or name in arrays:
                continue
            tables.add(name)
            lines.append(f"[ {name} ]  # table")
            base = (name,)
        expected[base] = len(lines)
        for key in draw(st.lists(_keys, max_size=4, unique=True)):
            expected[(*base, key)] = len(lines) + 1
            lines.extend(f"{_key(key)} = {draw(_value())}".split("\n"))
            if draw(st.booleans()):
                lines.append("")
    return "\n".join(lines) + "\n", expected


@settings(max_examples=200, deadline=None)
@given(_document())
def test_every_written_key_is_found(doc: tuple[str, dict[tuple[str | int, ...], int]]) -> None:
    text, expected = doc
    tomllib.loads(text)
    p = Positions(text)
    assert {path: p.line_of(path) for path in expected} == expected
