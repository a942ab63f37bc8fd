"""Bad requests are refused where they are parsed, before anything is sent (issue 10):
RFC 9003 message length counted in octets, mutually exclusive flags, options that do not
go with the command; one line on stderr, exit code 2 (docs/cli.md). Exit code 70 is kept
for bugs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gracebgp.api.client import Client
from gracebgp.api.schema import StopRequest
from gracebgp.cli.main import run
from tests.unit.cli.fake import FakeDaemon, install

Capture = pytest.CaptureFixture[str]
LONG = "x" * 300
WIDE = "\u00e9" * 128  # 128 characters, 256 octets of UTF-8
FITS = "\u00e9" * 127 + "x"  # 255 octets


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> FakeDaemon:
    fake = FakeDaemon()
    install(monkeypatch, {"/a.sock": fake})
    return fake


def refused(capsys: Capture, daemon: FakeDaemon, *args: str) -> str:
    """``gracebgp ARGS`` is a usage error: exit 2, one line, no request sent."""
    code = run(["--socket", "/a.sock", *args])
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert out == "" and err.startswith("gracebgp: error: ") and err.count("\n") == 1, err
    assert "internal error" not in err and "pydantic" not in err
    assert daemon.requests == []
    return err


@pytest.mark.parametrize("message", [LONG, WIDE])
@pytest.mark.parametrize("command", [["neighbor", "192.0.2.2", "shutdown"],
                                     ["neighbor", "192.0.2.2", "reset"], ["stop"], ["stop", "--retain"]])
def test_long_shutdown_message_is_refused_before_sending(daemon: FakeDaemon, capsys: Capture,
                                                         command: list[str], message: str) -> None:
    octets = len(message.encode())
    for flag in ("-m", "--message"):
        err = refused(capsys, daemon, *command, flag, message)
        assert f"the shutdown message is {octets} octets of UTF-8; RFC 9003 §2 allows at most 255" in err


def test_255_octets_are_sent(daemon: FakeDaemon, capsys: Capture) -> None:
    assert run(["--socket", "/a.sock", "neighbor", "192.0.2.2", "shutdown", "-m", FITS]) == 0
    assert json.loads(daemon.requests[-1].content)["message"] == FITS


@pytest.mark.parametrize(("args", "message"), [
    (["stop", "--withdraw", "--retain"], "--withdraw and --retain exclude each other"),
    (["stop", "--retain", "--withdraw", "-m", "bye"], "--withdraw and --retain exclude each other"),
    (["drain", "--cancel", "--wait"], "--cancel ends a drain; it does not go with --wait"),
    (["drain", "--cancel", "--delay", "5"], "it does not go with --delay"),
    (["drain", "--wait", "--cancel", "--delay", "0"], "it does not go with --wait and --delay"),
    (["neighbor", "192.0.2.2", "-m", "hello"], "--message only goes with"),
    (["neighbor", "-m", "hello"], "--message only goes with"),
    (["neighbor", "add", "192.0.2.7", "--as", "5", "-m", "hello"], "--message only goes with"),
    (["neighbor", "del", "192.0.2.7", "-m", "hello"], "--message only goes with"),
    (["neighbor", "192.0.2.2", "enable", "-m", "hello"], "--message only goes with shutdown and reset"),
    (["neighbor", "192.0.2.2", "softreset", "in", "out"], "softreset takes 'in' or 'out'"),
    (["neighbor", "192.0.2.2", "reset", "in"], "unexpected 'in'"),
    (["events", "--count", "3"], "--history and --count go with --follow"),
    (["--url", "http://127.0.0.1:1", "peers"], "use one of --host, --url and --socket"),
    (["neighbor", "192.0.2.2", "shutdown", "-m", "bad \udcff byte"], "is not valid UTF-8"),
    (["rib", "add", "10.0.0.0/33"], "rib add: '10.0.0.0/33' is not a prefix such as 192.0.2.0/24"),
    (["rib", "add", "10.0.0.1/24"], "(10.0.0.1/24 has host bits set)"),
    (["rib", "add", "10.0.0.0"], "(no /length)"),
    (["rib", "add", "10.0.0.0/24", "nexthop", "2001:db8::1"], "an IPv4 route needs an IPv4 next hop"),
    (["rib", "add", "2001:db8::/32", "nexthop", "192.0.2.1"], "an IPv6 route needs an IPv6 next hop"),
    (["rib", "add", "10.0.0.0/24", "nexthop", "banana"], "nexthop 'banana' is not an IP address"),
    (["rib", "del", "10.0.0.0/24", "banana"], "rib del: 'banana' is not a prefix"),
    (["neighbor", "add", "banana", "--as", "5"], "neighbor add: 'banana' is not an IPv4 or IPv6 address"),
    (["neighbor", "add", "192.0.2.7", "--as", "5", "--local-address", "x"], "--local-address 'x' is not"),
])
def test_conflicting_or_misplaced_flags_are_refused(daemon: FakeDaemon, capsys: Capture, args: list[str],
                                                    message: str) -> None:
    assert message in refused(capsys, daemon, *args)


def test_stop_sends_what_was_asked(daemon: FakeDaemon, capsys: Capture) -> None:
    for args, withdraw in ((["stop"], True), (["stop", "--withdraw"], True), (["stop", "--retain"], False)):
        run(["--socket", "/a.sock", *args])
        assert json.loads(daemon.requests[-1].content)["withdraw"] is withdraw


@pytest.mark.parametrize("args", [["--url", "http://[::1", "peers"],
                                  ["--url", "http://127.0.0.1:99999", "peers"],
                                  ["--host", "a=http://[zz]:80", "peers"], ["--url", "http://:80", "peers"],
                                  ["--socket", "", "peers"], ["--timeout", "nan", "peers"]])
def test_bad_target_is_a_usage_error(capsys: Capture, args: list[str]) -> None:
    assert run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("gracebgp: error: ") and err.count("\n") == 1 and "internal error" not in err


def test_unreadable_files_are_usage_errors(daemon: FakeDaemon, capsys: Capture, tmp_path: Path) -> None:
    binary = str(tmp_path / "binary")
    Path(binary).write_bytes(b"\xff\xfe10.0.0.0/24\n")
    assert "is not text (UTF-8)" in refused(capsys, daemon, "rib", "add", "--file", binary)
    assert "is not text (UTF-8)" in refused(capsys, daemon, "rib", "del", "-f", binary)
    assert "cannot read" in refused(capsys, daemon, "rib", "add", "-f", str(tmp_path))
    assert "not text" in refused(capsys, daemon, "--token-file", binary, "peers")


def test_token_must_fit_a_header(daemon: FakeDaemon, capsys: Capture,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRACEBGP_TOKEN", "s\u00e9cret")
    assert "$GRACEBGP_TOKEN is not a valid token" in refused(capsys, daemon, "peers")


def test_a_model_the_api_refuses_is_a_usage_error(daemon: FakeDaemon, capsys: Capture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The net under the commands' own checks: a request body the schema refuses."""
    def stop(self: Client, withdraw: bool = True, message: str = "") -> None:
        StopRequest.model_validate({"withdraw": "maybe"})

    monkeypatch.setattr(Client, "stop", stop)
    assert "invalid request: withdraw: Input should be a valid boolean" in refused(capsys, daemon, "stop")


def test_exit_code_70_is_a_bug(daemon: FakeDaemon, capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    def peers(self: Client) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(Client, "peers", peers)
    assert run(["--socket", "/a.sock", "peers"]) == 70
    err = capsys.readouterr().err
    assert err.startswith("gracebgp: error: internal error (a bug in gracebgp, please report it): KeyError")
    assert err.count("\n") == 1
