"""Checks that need the host, not just the file: is the state directory usable, can the
API socket's directory be used, does the code on disk import; and the planned restart's
pre-flight, which runs exactly the command line the re-execution will run (with
``--preflight`` appended) in a child process before any session is closed.

``gracebgpd --check`` and ``--preflight`` report these as configuration problems with
file, line and key; ``--preflight`` also imports every module the daemon will need.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sys
from pathlib import Path

from gracebgp.config.model import Config
from gracebgp.config.positions import Positions
from gracebgp.config.problems import ConfigProblem

PREFLIGHT_TIMEOUT = 30.0  # a cold interpreter importing FastAPI on a busy host: 1-5 s
#: What the daemon imports lazily (uvicorn resolves its protocol classes at start-up):
#: the new code must have them before the old process lets go.
NEEDED = ("gracebgp.api.server", "gracebgp.runtime.owner", "gracebgp.runtime.store",
          "gracebgp.runtime.instance", "uvicorn.protocols.http.h11_impl", "uvicorn.lifespan.off",
          "uvicorn.loops.asyncio", "fastapi", "sqlite3", "fcntl")


def _usable_dir(directory: Path) -> str:
    """"" when ``directory`` exists and is writable, or can be created; else why not."""
    probe = directory
    for _ in range(64):  # bounded: up the tree to the first part that exists
        if probe.exists():
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return (f"{probe} is not writable by uid {os.geteuid()}" if probe == directory
                else f"cannot be created: {probe} is not writable by uid {os.geteuid()}")
    return ""


def host_problems(cfg: Config, path: str | Path) -> list[ConfigProblem]:
    """The state directory and the API socket's directory: usable by this process?"""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    where = Positions(text)
    g = cfg.gracebgp
    problems = []
    for key, directory, what in (("state-dir", Path(g.state_dir), "the state directory"),
                                 ("api-socket", Path(g.api_socket).parent, "the API socket's directory")):
        why = _usable_dir(directory)
        if why:
            problems.append(ConfigProblem(str(path), where.line_of(("gracebgp", key)), f"gracebgp.{key}",
                                          f"{what} {directory} is unusable: {why}"))
    return problems


def import_problems() -> list[str]:
    """One line per module of ``NEEDED`` that does not import."""
    out = []
    for name in NEEDED:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any failure of the new code is a reason to refuse
            out.append(f"cannot import {name}: {type(exc).__name__}: {exc}")
    return out


def reexec_argv() -> list[str]:
    """What the planned restart executes: this interpreter, this command line."""
    return [sys.executable, *sys.orig_argv[1:]]


async def preflight(argv: list[str], timeout: float = PREFLIGHT_TIMEOUT,
                    env: dict[str, str] | None = None) -> str:
    """Run ``argv + ["--preflight"]`` (bounded, off the event loop's back), with ``env``
    added to the environment; "" when it passed, else the reason in one line."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, "--preflight", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={**os.environ, **env} if env else None)
    except OSError as exc:
        return f"cannot run {argv[0]}: {exc.strerror or exc}"
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return f"the new code did not finish its check within {timeout:g} s"
    if proc.returncode == 0:
        return ""
    lines = [x.strip() for x in (err or out).decode("utf-8", "replace").splitlines() if x.strip()]
    if lines and lines[0].startswith("Traceback"):  # the new code broke before it could say why
        lines = [f"the new code fails: {lines[-1]}"]
    text = "; ".join(lines[:5]) + (f"; and {len(lines) - 5} more" if len(lines) > 5 else "")
    return (text or f"the check exited with {proc.returncode}")[:1000]
