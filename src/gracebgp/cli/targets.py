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

    @property
    def fleet(self) -> bool:
        return len(self.targets) > 1

    def client(self, target: Target) -> Client:
        return Client(target.address, token=self.token, timeout=self.timeout)


def parse_host(text: str) -> Target:
    """``a=unix:/run/a.sock`` -> named target; ``unix:/run/a.sock`` -> unnamed. An ``=``
    inside a URL's query is not a name separator."""
    name, sep, rest = text.partition("=")
    if sep and name and "/" not in name and ":" not in name:
        if not rest:
            raise Failure(f"--host {text}: missing the target after '='", 2)
        return Target(name, rest)
    return Target(None, text)


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
        if not url.startswith(("http://", "https://")):
            raise Failure(f"--url {url}: expected http://host:port or https://host:port", 2)
        return [Target(None, url)]
    return [Target(None, sock or os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET)]


def read_token(token_file: str | None) -> str | None:
    """The first line of --token-file, else $GRACEBGP_TOKEN (the token itself)."""
    if token_file:
        try:
            lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise Failure(f"cannot read the token file {token_file}: {exc.strerror or exc}", 2) from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise Failure(f"the token file {token_file} is empty", 2)
        return token
    return os.environ.get(TOKEN_ENV) or None


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
    return answers
