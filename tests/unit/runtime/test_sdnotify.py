"""runtime/sdnotify.py against a datagram socket the test binds, as systemd would: the
messages, their fields, the abstract namespace, and failures that never raise."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gracebgp.runtime import sdnotify
from gracebgp.runtime.sdnotify import Notifier


def fields(data: bytes) -> dict[str, str]:
    out = {}
    for line in data.decode().split("\n"):
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {line!r}"
        assert key not in out, f"{key} twice in {data!r}"
        out[key] = value
    return out


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    try:
        yield sock, str(path)
    finally:
        sock.close()


def test_address_forms() -> None:
    assert sdnotify.address_of(None) is None
    assert sdnotify.address_of("") is None
    assert sdnotify.address_of("/run/systemd/notify") == "/run/systemd/notify"
    assert sdnotify.address_of("@/org/freedesktop/notify/1") == b"\0/org/freedesktop/notify/1"
    assert sdnotify.address_of("vsock:2:1234") is None  # a VM's manager: not ours
    assert sdnotify.address_of("relative/path") is None


def test_message_is_key_value_lines_and_status_one_line() -> None:
    assert sdnotify.message("READY=1") == b"READY=1"
    got = sdnotify.message("READY=1", status="two\nlines  and\ttabs")
    assert got == b"READY=1\nSTATUS=two lines and tabs"
    assert sdnotify.message(status="only status") == b"STATUS=only status"


def test_ready_sends_mainpid_and_ready(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    assert Notifier(path).ready("running: AS 65001")
    got = fields(sock.recv(4096))
    assert got == {"MAINPID": str(os.getpid()), "READY": "1", "STATUS": "running: AS 65001"}


def test_reloading_carries_the_monotonic_clock(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert Notifier(path).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    got = fields(sock.recv(4096))
    assert got["RELOADING"] == "1"
    assert before <= int(got["MONOTONIC_USEC"]) <= after
    assert "STATUS" not in got


def test_stopping_and_status(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    n = Notifier(path)
    assert n.stopping("SIGTERM: stopping")
    assert fields(sock.recv(4096)) == {"STOPPING": "1", "STATUS": "SIGTERM: stopping"}
    assert n.status("draining")
    assert fields(sock.recv(4096)) == {"STATUS": "draining"}


def test_abstract_namespace_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"gracebgp-test-{secrets.token_hex(8)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        n = Notifier.from_environment()
        assert n.enabled
        assert n.ready()
        assert fields(sock.recv(4096))["READY"] == "1"


def test_without_notify_socket_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier.from_environment()
    assert not n.enabled
    assert not n.ready() and not n.reloading() and not n.stopping()


def test_unusable_value_is_logged_and_ignored(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    with caplog.at_level(logging.WARNING, logger="gracebgp.sdnotify"):
        n = Notifier.from_environment()
    assert not n.enabled
    assert "vsock:2:1234" in caplog.text


def test_a_socket_that_is_gone_never_raises_and_warns_once(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    n = Notifier(str(tmp_path / "nobody-listens"))
    with caplog.at_level(logging.WARNING, logger="gracebgp.sdnotify"):
        assert not n.ready()
        assert not n.stopping()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text
    assert "cannot notify the service manager" in warnings[0].getMessage()
