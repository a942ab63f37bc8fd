"""Golden replays of core.Speaker (DESIGN.md rule 9): every recording under
tests/scenarios/<name>/*.jsonl (gracebgpd --record, or tools/record_scenarios.py) is fed to
a new Speaker built from its speaker line, input by input at the recorded times, and every
output must be the recorded one. The first difference is reported with the scenario, the
line, the input and expected vs got as JSON lines.

GRACEBGP_BLESS=1 rewrites the recorded outputs with what the Speaker gives now (the inputs
stay): only on purpose, after reading the diff (docs/scenarios.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gracebgp.runtime import recorder

HERE = Path(__file__).parent
RECORDINGS = sorted(HERE.glob("*/*.jsonl"))
BLESS = os.environ.get("GRACEBGP_BLESS") == "1"
#: What the issue asks the scenarios to show, at the least.
REQUIRED = ("planned-restart", "six-minutes", "llgr", "treat-as-withdraw", "drain", "hard-reset")


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_the_required_scenarios_are_there_and_described() -> None:
    for name in REQUIRED:
        folder = HERE / name
        assert list(folder.glob("*.jsonl")), f"tests/scenarios/{name}/ holds no recording"
        assert (folder / "README.md").is_file(), f"tests/scenarios/{name}/README.md says what it shows"


@pytest.mark.parametrize("path", RECORDINGS, ids=_name)
def test_replay(path: Path) -> None:
    text = path.read_text()
    if BLESS:
        new = recorder.rebless(text)
        if new != text:
            path.write_text(new)
        return
    mismatch = recorder.replay(text)
    if mismatch is not None:
        pytest.fail(mismatch.describe(f"tests/scenarios/{_name(path)}") + "\n(if the change is meant: "
                    "GRACEBGP_BLESS=1 pytest tests/scenarios, then review the diff; docs/scenarios.md)",
                    pytrace=False)


@pytest.mark.parametrize("path", RECORDINGS, ids=_name)
def test_golden_file_is_canonical(path: Path) -> None:
    """One object per line, keys sorted, compact: a diff shows only what changed."""
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        assert raw == recorder.line(json.loads(raw)), f"{_name(path)} line {n} is not canonical"
