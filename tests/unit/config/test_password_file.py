"""``[neighbors.gracebgp] auth-password-file``: the TCP MD5 key (RFC 2385) read from a file
(a Kubernetes Secret, a root-only file) instead of sitting in the configuration. A file
that cannot be used is an error with file, line and key, never a session without MD5;
a reload notices a changed file; the key never appears in a dump or a repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracebgp.config import ConfigError, diff, parse, to_toml
from gracebgp.core.peer import NeighborSettings

BASE = """[global.config]
as = 65000
router-id = "192.0.2.1"
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.9"
peer-as = 65009
"""


def _conf(path: Path | str, extra: str = "") -> str:
    return BASE + extra + f'[neighbors.gracebgp]\nauth-password-file = "{path}"\n'


def _problem(text: str) -> tuple[int, str, str]:
    with pytest.raises(ConfigError) as err:
        parse(text, "bgp.toml")
    (p,) = err.value.problems
    return p.line, p.key, p.message


@pytest.mark.parametrize("content", ["s3cret", "s3cret\n", "s3cret\r\n"])
def test_the_key_comes_from_the_file_without_its_line_break(tmp_path: Path, content: str) -> None:
    f = tmp_path / "md5"
    f.write_text(content, newline="")
    cfg = parse(_conf(f))
    n = cfg.neighbors[0]
    assert n.md5_password == "s3cret" and n.auth_password == ""
    assert NeighborSettings.from_config(n, cfg.global_).sockets.md5_password == "s3cret"
    assert "s3cret" not in repr(n) and "s3cret" not in to_toml(cfg)
    assert parse(to_toml(cfg)) == cfg  # the dump names the file, which is read again


@pytest.mark.parametrize(("content", "why"), [
    (None, "cannot read {f}: No such file or directory"),
    ("", "{f} is empty; it must hold the TCP MD5 key"),
    ("\n", "{f} is empty; it must hold the TCP MD5 key"),
    ("k" * 81, "the key in {f} is 81 octets long; a TCP MD5 key has at most 80 (Linux TCP_MD5SIG_MAXKEYLEN)"),
    (b"\xff\xfe", "{f} is not UTF-8 text"),
])
def test_a_file_that_cannot_be_used_is_an_error_at_its_key(tmp_path: Path, content: str | bytes | None,
                                                          why: str) -> None:
    f = tmp_path / "md5"
    if isinstance(content, bytes):
        f.write_bytes(content)
    elif content is not None:
        f.write_text(content)
    assert _problem(_conf(f)) == (9, "neighbors[0].gracebgp.auth-password-file", why.format(f=f))


def test_a_key_in_both_places_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "md5"
    f.write_text("a")
    _line, key, message = _problem(_conf(f, 'auth-password = "b"\n'))
    assert key == "neighbors[0].gracebgp.auth-password-file" and "auth-password is set too" in message


def test_a_changed_file_is_a_changed_neighbor_on_reload(tmp_path: Path) -> None:
    f = tmp_path / "md5"
    f.write_text("one")
    old = parse(_conf(f))
    f.write_text("two")
    new = parse(_conf(f))
    d = diff(old, new)
    assert new.neighbors[0].md5_password == "two"
    assert d.cosmetic and not d.changed  # re-keyed in place (core.reload), no reset
