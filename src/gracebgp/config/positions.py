"""Map every key path of a TOML document to the line that defines it (tomllib keeps no positions).

The scanner walks the document's *structure* only: table headers (``[a.b]``,
``[[a.b]]`` with array-of-tables index counting), ``key = value`` lines with dotted
and quoted keys, and values far enough to find where they end and what they
contain (multi-line strings, multi-line arrays, inline tables). Values themselves
come from :mod:`tomllib`, which has already accepted the text before this runs, so
the scanner may assume the document is valid TOML.

A key path is a tuple of table keys (``str``) and array indices (``int``)::

    ("neighbors", 1, "timers", "config", "hold-time")  ->  neighbors[1].timers.config.hold-time
"""

from __future__ import annotations

import bisect
import contextlib
import re
import tomllib
from collections.abc import Sequence

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_WS = " \t"


def format_path(path: Sequence[str | int]) -> str:
    """``("neighbors", 1, "config", "peer-as")`` -> ``neighbors[1].config.peer-as``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        if _BARE_KEY.fullmatch(part):
            text = part
        else:
            text = '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out += f".{text}" if out else text
    return out


class Positions:
    """Key path -> 1-based line of its definition; ``line_of`` falls back to the nearest ancestor."""

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        # ValueError/IndexError only on text tomllib rejected, or on a scanner bug: keep what
        # was indexed so far; unindexed keys fall back to their nearest indexed ancestor.
        with contextlib.suppress(ValueError, IndexError):
            _Scanner(text, self._lines).run()

    @classmethod
    def from_lines(cls, lines: dict[KeyPath, int]) -> Positions:
        """Positions found by another reader (YAML's node marks, the JSON scan)."""
        positions = cls("")
        positions._lines.update(lines)
        return positions

    def line_of(self, path: Sequence[str | int]) -> int:
        """Line where ``path`` (or, if it is not in the file, its nearest ancestor) is defined;
        1 when not even the first component appears."""
        key = tuple(path)
        while key:
            line = self._lines.get(key)
            if line is not None:
                return line
            key = key[:-1]
        return 1

    def has(self, path: Sequence[str | int]) -> bool:
        return tuple(path) in self._lines

    def __len__(self) -> int:
        return len(self._lines)


class _Scanner:
    """A one-pass structural TOML reader that records where each key path is defined."""

    def __init__(self, text: str, out: dict[KeyPath, int]) -> None:
        self.s = text
        self.i = 0
        self.out = out
        self.arrays: dict[KeyPath, int] = {}  # array-of-tables path -> element count
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    # -- positions ---------------------------------------------------------------------

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)

    def record(self, path: KeyPath, pos: int) -> None:
        self.out.setdefault(path, self.line(pos))

    # -- lexing helpers ----------------------------------------------------------------

    def peek(self, n: int = 1) -> str:
        return self.s[self.i:self.i + n]

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in _WS:
            self.i += 1

    def skip_comment(self) -> None:
        if self.peek() == "#":
            end = self.s.find("\n", self.i)
            self.i = len(self.s) if end < 0 else end

    def skip_blank(self) -> None:
        """Whitespace, newlines and comments (inside arrays and between statements)."""
        while self.i < len(self.s):
            self.skip_ws()
            self.skip_comment()
            if self.peek() in ("\n", "\r"):
                self.i += 1
            else:
                return

    # -- keys ------------------------------------------------------------------------------

    def key(self) -> list[tuple[str, int]]:
        """A dotted key as [(part, start offset)]."""
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_ws()
            start = self.i
            ch = self.peek()
            if ch in ('"', "'"):
                self.string()
                parts.append((tomllib.loads("k = " + self.s[start:self.i])["k"], start))
            else:
                m = _BARE_KEY.match(self.s, self.i)
                if m is None:
                    raise ValueError(f"key expected at line {self.line(self.i)}")
                self.i = m.end()
                parts.append((m.group(), start))
            self.skip_ws()
            if self.peek() != ".":
                return parts
            self.i += 1

    # -- values ----------------------------------------------------------------------------

    def string(self) -> None:
        """Skip one string of any of the four kinds."""
        quote = self.peek()
        if self.peek(3) == quote * 3:
            end = self.i + 3
            while True:
                end = self.s.find(quote * 3, end)
                if end < 0:
                    raise ValueError("unterminated multi-line string")
                if quote == '"' and _escaped(self.s, end):
                    end += 1
                    continue
                break
            end += 3
            for _ in range(2):  # up to two quotes may sit right before the closing delimiter
                if self.s[end:end + 1] == quote:
                    end += 1
            self.i = end
            return
        end = self.i + 1
        while True:
            end = self.s.find(quote, end)
            if end < 0:
                raise ValueError("unterminated string")
            if quote == '"' and _escaped(self.s, end):
                end += 1
                continue
            break
        self.i = end + 1

    def value(self, path: KeyPath) -> None:
        ch = self.peek()
        if ch in ('"', "'"):
            self.string()
        elif ch == "[":
            self.i += 1
            index = 0
            while True:
                self.skip_blank()
                if self.peek() == "]":
                    self.i += 1
                    return
                self.record((*path, index), self.i)
                self.value((*path, index))
                index += 1
                self.skip_blank()
                if self.peek() == ",":
                    self.i += 1
        elif ch == "{":
            self.i += 1
            while True:
                self.skip_blank()
                if self.peek() == "}":
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                self.keyval(path)
        else:
            while self.i < len(self.s) and self.s[self.i] not in ",]}#\r\n":
                self.i += 1

    def keyval(self, table: KeyPath) -> None:
        parts = self.key()
        path = table
        for name, start in parts:
            path = (*path, name)
            self.record(path, start)
        self.skip_ws()
        if self.peek() != "=":
            raise ValueError(f"'=' expected at line {self.line(self.i)}")
        self.i += 1
        self.skip_ws()
        self.value(path)

    # -- tables ----------------------------------------------------------------------------

    def header(self) -> KeyPath:
        is_array = self.peek(2) == "[["
        start = self.i
        self.i += 2 if is_array else 1
        parts = self.key()
        self.i += 2 if is_array else 1
        path: KeyPath = ()
        for n, (name, _) in enumerate(parts):
            path = (*path, name)
            last = n == len(parts) - 1
            if last and is_array:
                count = self.arrays.get(path, 0)
                self.arrays[path] = count + 1
                self.record(path, start)
                path = (*path, count)
            elif path in self.arrays:
                path = (*path, self.arrays[path] - 1)
            self.record(path, start)
        return path

    def run(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank()
            if self.i >= len(self.s):
                return
            if self.peek() == "[":
                table = self.header()
            else:
                self.keyval(table)


def _escaped(s: str, pos: int) -> bool:
    """True when the character at ``pos`` is preceded by an odd number of backslashes."""
    n = 0
    while pos - n - 1 >= 0 and s[pos - n - 1] == "\\":
        n += 1
    return n % 2 == 1
