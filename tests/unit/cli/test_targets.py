"""Choosing the daemons to ask, tokens, and a fleet's node names."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracebgp.cli.targets import (
    Failure,
    Options,
    Target,
    choose_targets,
    named_targets,
    parse_host,
    read_token,
)
from tests.unit.cli.fake import FakeDaemon, install


def test_parse_host() -> None:
    assert parse_host("a=unix:/run/a.sock") == Target("a", "unix:/run/a.sock")
    assert parse_host("unix:/run/a.sock") == Target(None, "unix:/run/a.sock")
    assert parse_host("http://h:1/?x=y") == Target(None, "http://h:1/?x=y")
    with pytest.raises(Failure, match="missing the target"):
        parse_host("a=")


def test_choose_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRACEBGP_SOCKET", raising=False)
    assert choose_targets([], None, None) == [Target(None, "/run/gracebgp/gracebgpd.sock")]
    monkeypatch.setenv("GRACEBGP_SOCKET", "/tmp/g.sock")
    assert choose_targets([], None, None) == [Target(None, "/tmp/g.sock")]
    assert choose_targets([], None, "/x.sock") == [Target(None, "/x.sock")]
    assert choose_targets([], "http://h:1", None) == [Target(None, "http://h:1")]
    with pytest.raises(Failure, match="use one of --host, --url and --socket"):
        choose_targets(["a=/x"], None, "/y")
    with pytest.raises(Failure, match="unique"):
        choose_targets(["a=/x", "a=/y"], None, None)
    with pytest.raises(Failure, match="expected http"):
        choose_targets([], "h:1", None)


def test_read_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRACEBGP_TOKEN", raising=False)
    assert read_token(None) is None
    monkeypatch.setenv("GRACEBGP_TOKEN", "env-token")
    assert read_token(None) == "env-token"
    f = tmp_path / "token"
    f.write_text("file-token\nignored\n")
    assert read_token(str(f)) == "file-token"
    f.write_text("")
    with pytest.raises(Failure, match="is empty"):
        read_token(str(f))
    with pytest.raises(Failure, match="cannot read the token file"):
        read_token(str(tmp_path / "missing"))


def test_node_names(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, {"/a": FakeDaemon("edge", "192.0.2.1"), "/b": FakeDaemon("edge", "192.0.2.2"),
                          "/c": FakeDaemon("core", "192.0.2.3")})
    opts = Options(targets=[Target(None, "/a"), Target(None, "/b"), Target(None, "/c"), Target("mine", "/a")])
    assert [name for name, _ in named_targets(opts)] == ["edge@192.0.2.1", "edge@192.0.2.2", "core", "mine"]
