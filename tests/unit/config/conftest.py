"""Helpers for the configuration tests: fixture paths and a problem-collecting parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracebgp.config import ConfigError, ConfigProblem, parse

FIXTURES = Path(__file__).parent / "fixtures"

#: The smallest valid file; tests append to it.
MINIMAL = """\
[global.config]
as = 65001
router-id = "192.0.2.1"
"""


def problems(text: str, filename: str = "t.toml") -> list[ConfigProblem]:
    """Every problem ``parse`` reports for ``text`` (fails the test if it parses)."""
    with pytest.raises(ConfigError) as info:
        parse(text, filename)
    return list(info.value.problems)


def only(text: str) -> tuple[int, str, str]:
    """(line, key, message) of the single problem ``text`` has."""
    found = problems(text)
    assert len(found) == 1, "\n".join(map(str, found))
    p = found[0]
    assert p.file == "t.toml"
    return p.line, p.key, p.message
