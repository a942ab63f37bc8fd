"""Which gracebgpd daemons a CLI call talks to, and asking all of them at once.

``--host NAME=TARGET`` (repeatable) selects a fleet; otherwise ``--url``, ``--socket``,
``$GRACEBGP_SOCKET`` or the default socket selects one daemon. A fleet's node names are
the given NAMEs, else each daemon's own node name, made unique with its router id.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
from pydantic import ValidationError

from gracebgp.api.client import DEFAULT_SOCKET, Client, ClientError

T = TypeVar("T")

SOCKET_ENV = "GRACEBGP_SOCKET"
TOKEN_ENV = "GRACEBGP_TOKEN"


class Failure(Exception):
    """An error the CLI reports as one line and exits with ``code`` (2: usage)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    name: str | None
    address: str

    def label(self) -> str:
        return self.name or self.address


@dataclass
class Options:
    """The global options, shared by every command through the click context."""

    targets: list[Target]
    token: str | None = None
    json: bool = False
    timeout: float = 10.0
    #: set when a node of a fleet failed; the command still shows the others
    failed: bool = field(default=False)
    #: the nodes of a fleet that failed, with why (``health`` counts them as not healthy)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def fleet(self) -> bool:
        return len(self.targets) > 1

    def client(self, target: Target, timeout: float | None = None) -> Client:
        """A client of ``target``; ``timeout`` replaces ``--timeout`` (``drain --wait``)."""
        return Client(target.address, token=self.token, timeout=self.timeout if timeout is None else timeout)


def check_words(words: Sequence[str]) -> None:
    """Every command-line word is text the API can carry: bytes that are not UTF-8 (which
    Python keeps as lone surrogates) or a NUL are a usage error before anything is sent."""
    for word in words:
        shown = ascii(word if len(word) <= 40 else word[:40] + "...")
        if "\x00" in word:
            raise Failure(f"the argument {shown} contains a NUL character", 2)
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            raise Failure(f"the argument {shown} is not valid UTF-8", 2) from None


def check_url(flag: str, url: str) -> str:
    """``url`` if it is an http(s) URL a request can go to (host, port 1..65535)."""
    if not url.startswith(("http://", "https://")):
        raise Failure(f"{flag} {url}: expected http://host:port or https://host:port", 2)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Failure(f"{flag} {url}: {exc}", 2) from None
    if not parsed.host:
        raise Failure(f"{flag} {url}: no host (expected http://host:port)", 2)
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise Failure(f"{flag} {url}: the port must be 1..65535, not {parsed.port}", 2)
    return url


def parse_host(text: str) -> Target:
    """``a=unix:/run/a.sock`` -> named target; ``unix:/run/a.sock`` -> unnamed. An ``=``
    inside a URL's query is not a name separator."""
    name, sep, rest = text.partition("=")
    if sep and name and "/" not in name and ":" not in name:
        if not rest:
            raise Failure(f"--host {text}: missing the target after '='", 2)
        return Target(name, _socket_or_url("--host", rest))
    return Target(None, _socket_or_url("--host", text))


def _socket_or_url(flag: str, target: str) -> str:
    if target.startswith(("http://", "https://")):
        return check_url(flag, target)
    if not target.removeprefix("unix:"):
        raise Failure(f"{flag} {target!r}: no socket path", 2)
    return target


def choose_targets(hosts: Sequence[str], url: str | None, sock: str | None) -> list[Target]:
    given = [flag for flag, value in (("--host", hosts), ("--url", url), ("--socket", sock)) if value]
    if len(given) > 1:
        raise Failure(f"use one of --host, --url and --socket, not {' and '.join(given)}", 2)
    if hosts:
        targets = [parse_host(h) for h in hosts]
        names = [t.name for t in targets if t.name]
        if len(names) != len(set(names)):
            raise Failure("--host names must be unique", 2)
        return targets
    if url:
        return [Target(None, check_url("--url", url))]
    if sock is not None:
        return [Target(None, _socket_or_url("--socket", sock))]
    from_env = os.environ.get(SOCKET_ENV)
    if from_env:
        check_words([from_env])
    return [Target(None, from_env or DEFAULT_SOCKET)]


def read_token(token_file: str | None) -> str | None:
    """The first line of --token-file, else $GRACEBGP_TOKEN (the token itself)."""
    if token_file:
        try:
            lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise Failure(f"cannot read the token file {token_file}: {exc.strerror or exc}", 2) from None
        except UnicodeDecodeError:
            raise Failure(f"the token file {token_file} is not text (UTF-8)", 2) from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise Failure(f"the token file {token_file} is empty", 2)
        return _header_safe(token, f"the token in {token_file}")
    token = (os.environ.get(TOKEN_ENV) or "").strip()
    return _header_safe(token, f"${TOKEN_ENV}") if token else None


def _header_safe(token: str, where: str) -> str:
    """A bearer token goes in an HTTP header: printable ASCII only."""
    if not token.isascii() or not token.isprintable():
        raise Failure(f"{where} is not a valid token (printable ASCII expected)", 2)
    return token


def first_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error, as ``field: message``."""
    errors = exc.errors()
    if not errors:
        return str(exc).splitlines()[0]
    where = ".".join(str(part) for part in errors[0].get("loc", ()))
    return f"{where}: {errors[0].get('msg', 'invalid')}" if where else str(errors[0].get("msg", "invalid"))


def report(message: str) -> None:
    """One error line on stderr."""
    sys.stderr.write(f"gracebgp: error: {' '.join(message.split())}\n")
    sys.stderr.flush()


def ask_all(opts: Options, call: Callable[[Client], T]) -> list[tuple[str | None, T]]:
    """``call`` on every selected daemon: ``[(node, answer)]``, node None for one daemon.
    With one daemon a ClientError propagates; in a fleet a failing node is reported on
    stderr, marks ``opts.failed`` and the others are still shown."""
    if not opts.fleet:
        with opts.client(opts.targets[0]) as client:
            return [(None, call(client))]

    def one(target: Target) -> T:
        with opts.client(target) as client:
            return call(client)

    return [(name, answer) for name, _, answer in _each(opts, named_targets(opts), one)]


def named_targets(opts: Options) -> list[tuple[str, Target]]:
    """A fleet's node names: the given ones, else each daemon's ``Global.node``, with
    ``@router-id`` appended where two daemons share a node name."""
    def lookup(target: Target) -> tuple[str, str]:
        if target.name:
            return target.name, ""
        with opts.client(target) as client:
            g = client.global_()
        return g.node or target.address, g.router_id

    found = [(target, answer) for _, target, answer in _each(opts, [(t.label(), t) for t in opts.targets],
                                                             lookup)]
    names = [name for _, (name, _) in found]
    out = []
    for target, (name, router_id) in found:
        unique = target.name or names.count(name) == 1 or not router_id
        out.append((name if unique else f"{name}@{router_id}", target))
    return out


def _each(opts: Options, named: list[tuple[str, Target]],
          call: Callable[[Target], T]) -> list[tuple[str, Target, T]]:
    """``call`` per target in parallel threads; failures reported and skipped."""
    if not named:
        return []
    answers = []
    with ThreadPoolExecutor(max_workers=min(8, len(named))) as pool:
        futures = [(name, target, pool.submit(call, target)) for name, target in named]
        for name, target, future in futures:
            try:
                answers.append((name, target, future.result()))
            except ClientError as exc:
                report(f"node {name}: {exc}")
                opts.failed = True
                opts.failures.append((name, str(exc)))
    return answers
