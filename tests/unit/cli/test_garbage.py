"""Every CLI command, walked with garbage input (issue 10): each bad request is one line on
stderr with a documented exit code (docs/cli.md, "Exit codes and errors"), never an
"internal error" and never exit code 70, which is reserved for bugs.

The command tree is read from the typer app (duck-typed: typer carries its own click), so
a command added later is walked too.
Requests go to fake daemons (httpx.MockTransport): a well-behaved one and ones that
answer nonsense.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import typer

from gracebgp.cli.main import app, run
from tests.unit.cli.fake import FakeDaemon, Handler, install

Capture = pytest.CaptureFixture[str]

#: The exit codes docs/cli.md documents for a bad request or a failed one.
DOCUMENTED = {0, 1, 2}
GARBAGE = ["", " ", "x" * 300, "\u00e9" * 200, "\udcff", "-", "0", "-1", "99999999999999999999", "nan",
           "inf", "1e999", "10.0.0.0/33", "::::", "1.2.3.4/", "%zz", "a=b", "/", "a\x00b", "\u202e\u0000"]
ROUTE_WORDS = ("nexthop", "origin", "community", "large-community", "med", "local-pref")
#: Words that lead deeper into a command before the garbage starts.
DEEPER: dict[str, list[list[str]]] = {
    "neighbor": [["192.0.2.2"], ["192.0.2.2", "shutdown"], ["192.0.2.2", "reset"], ["add"], ["del"],
                 ["192.0.2.2", "softreset"], ["192.0.2.2", "shutdown", "-m"], ["192.0.2.2", "reset", "-m"],
                 ["add", "192.0.2.7", "--as"], ["add", "192.0.2.7", "--as", "5", "--family"],
                 ["add", "192.0.2.7", "--as", "5", "--local-address"]],
    "drain": [["--delay"], ["--wait", "--delay"]],
    "stop": [["--retain", "-m"]],
    "routes available": [["ipv4"], ["ipv4", "unicast"], ["ipv6", "unicast", "--peer"]],
    "routes received": [["ipv4", "unicast", "--peer"], ["ipv4", "unicast", "--peer", "192.0.2.2"]],
    "routes advertised": [["ipv4", "unicast", "--peer"], ["ipv6", "unicast", "--peer", "192.0.2.2"]],
    "rib add": [["10.0.0.0/24"], *(["10.0.0.0/24", word] for word in ROUTE_WORDS)],
    "rib del": [["10.0.0.0/24"]],
}
#: A valid call of each command, for the nonsense daemons.
VALID: list[list[str]] = [
    ["peers"], ["neighbor", "192.0.2.2"], ["neighbor", "192.0.2.2", "shutdown", "-m", "m"],
    ["neighbor", "192.0.2.2", "reset"], ["neighbor", "192.0.2.2", "softreset", "in"],
    ["neighbor", "192.0.2.2", "enable"], ["neighbor", "add", "192.0.2.7", "--as", "5"],
    ["neighbor", "del", "192.0.2.7"], ["routes", "available", "ipv4", "unicast"],
    ["routes", "received", "ipv4", "unicast", "--peer", "192.0.2.2"],
    ["routes", "advertised", "ipv4", "unicast", "--peer", "192.0.2.2"], ["rib", "add", "10.0.0.0/24"],
    ["rib", "del", "10.0.0.0/24"], ["global"], ["health"], ["metrics"], ["events"],
    ["events", "--follow", "--count", "1"], ["restart"], ["stop"], ["drain"], ["gr", "status"],
    ["timeline"], ["timeline", "--peer", "192.0.2.2"],
]


class AnyAddress(dict[str, Handler]):
    """Every socket path or URL reaches the same fake daemon."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler

    def __missing__(self, key: str) -> Handler:
        return self.handler


def leaves(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    subs = getattr(command, "commands", None)
    if isinstance(subs, dict):
        for name, sub in sorted(subs.items()):
            yield from leaves(sub, [*path, name])
    else:
        yield path, command


COMMANDS = list(leaves(typer.main.get_command(app), []))


def calls(path: list[str], command: Any) -> Iterator[list[str]]:
    """Garbage for every argument, every option value, and every flag at once."""
    yield path
    starts = [[], *DEEPER.get(" ".join(path), [])]
    for start in starts:
        for g in GARBAGE:
            yield [*path, *start, g]
            if not start:
                yield [*path, g, g]
    flags = []
    for param in command.params:
        if param.param_type_name != "option":
            continue
        names = [*param.opts, *param.secondary_opts]
        if param.is_flag:
            flags.extend(names)
            continue
        for g in GARBAGE:
            yield [*path, names[0], g]
    yield [*path, *flags]
    yield [*path, *flags, *flags]


CALLS = [args for path, command in COMMANDS for args in calls(path, command)]
GLOBAL = [[option, g, "peers"] for option in ("--socket", "--url", "--host", "--token-file", "--timeout")
          for g in GARBAGE] + [["--url", url, "peers"] for url in (
              "http://[::1", "http://127.0.0.1:99999", "http://127.0.0.1:1/%zz", "https://", "http://:80",
              "http://a b", "http://127.0.0.1:-1", "http://[zz]:80")]


def check(code: int, err: str, args: list[str]) -> None:
    shown = f"gracebgp {' '.join(repr(a) for a in args)} -> {code}\n{err}"
    assert code in DOCUMENTED, shown
    assert "internal error" not in err and "Traceback" not in err and "pydantic" not in err, shown
    if code and not err.startswith("Usage:"):  # a bare group shows its help (exit 2)
        assert err.startswith("gracebgp: error: ") and err.count("\n") == 1, shown


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"neighbor", "stop", "drain", "rib add", "rib del", "routes available", "gr status",
            "events", "timeline", "restart"} <= names
    assert len(CALLS) > 1000, len(CALLS)


@pytest.mark.parametrize("chunk", range(8))
def test_garbage_is_one_line_with_a_documented_code(monkeypatch: pytest.MonkeyPatch, capsys: Capture,
                                                    chunk: int) -> None:
    install(monkeypatch, AnyAddress(FakeDaemon()))
    for args in CALLS[chunk::8]:
        code = run(["--socket", "/a.sock", *args])
        check(code, capsys.readouterr().err, args)


def test_garbage_global_options(monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    install(monkeypatch, AnyAddress(FakeDaemon()))
    for args in GLOBAL:
        code = run(args)
        check(code, capsys.readouterr().err, args)


def _answers(status: int, content: bytes, content_type: str = "application/json") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": content_type})
    return handler


NONSENSE: list[Callable[[httpx.Request], httpx.Response]] = [
    _answers(200, b"garbage"), _answers(200, b"{}"), _answers(200, b"[1, 2"), _answers(200, b"null"),
    _answers(500, b"<html>oops</html>", "text/html"), _answers(422, b'{"detail": 5}'),
    _answers(409, b'{"error": ""}'), _answers(200, "\u00e9".encode("latin-1")),
    _answers(200, b'data: {"seq": "x"}\n\n', "text/event-stream"),
]


@pytest.mark.parametrize("handler", NONSENSE)
def test_nonsense_answers_are_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Capture,
                                       handler: Handler) -> None:
    install(monkeypatch, AnyAddress(handler))
    for args in VALID:
        code = run(["--socket", "/a.sock", *args])
        check(code, capsys.readouterr().err, args)
