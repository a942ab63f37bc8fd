"""``gracebgpd --check`` accepts every file of tests/configs/gobgp/: one GoBGP configuration per
feature gracebgp supports, in GoBGP's own schema (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gracebgp import daemon

CONFIGS = Path(__file__).parents[2] / "configs" / "gobgp"
FILES = sorted(p for p in CONFIGS.iterdir() if p.suffix in (".toml", ".yaml", ".json"))
TYPES = {".toml": "toml", ".yaml": "yaml", ".json": "json"}


def test_the_directory_has_every_format() -> None:
    assert {p.suffix for p in FILES} == set(TYPES) and len(FILES) >= 15


def with_host_paths(path: Path, tmp: Path) -> Path:
    """A copy of ``path`` whose state directory and API socket are under ``tmp`` (what
    --check verifies of the host), the only keys added to the GoBGP file."""
    text = path.read_text()
    assert "gracebgp" not in text  # GoBGP's schema only
    state, sock = f"{tmp}/state", f"{tmp}/api.sock"
    if path.suffix == ".toml":
        text += f'\n[gracebgp]\n  state-dir = "{state}"\n  api-socket = "{sock}"\n'
    elif path.suffix == ".yaml":
        text += f"gracebgp:\n  state-dir: {state}\n  api-socket: {sock}\n"
    else:
        doc = json.loads(text)
        doc["gracebgp"] = {"state-dir": state, "api-socket": sock}
        text = json.dumps(doc)
    copy = tmp / path.name
    copy.write_text(text)
    return copy


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_check_accepts(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = with_host_paths(path, tmp_path)
    code = daemon.main(["-f", str(copy), "-t", TYPES[path.suffix], "--check"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.startswith(f"{copy}: configuration OK")
