"""The ``gracebgp`` command (layer L5): global options, the commands, and error handling
that turns every failure into one line on stderr and an exit code (never a traceback).

Exit codes (docs/cli.md, "Exit codes and errors"): 0 success; 1 a failed request (the
daemon refused it or could not be reached; ``health``: not healthy); 2 a usage error
(bad word, value or flag combination: checked here, nothing is sent); 130 interrupted
(Ctrl-C); 141 the reader of stdout went away; 70 a bug in gracebgp (EX_SOFTWARE),
never the answer to anything an operator typed.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from gracebgp import __version__
from gracebgp.api.client import CA_FILE_ENV, ClientError
from gracebgp.cli import bfd, fibview, lifecycle, peers, policies, proxy, routes, status
from gracebgp.cli.arrange import global_options_first, plain_help
from gracebgp.cli.targets import (
    Failure,
    Options,
    check_words,
    choose_targets,
    first_error,
    read_token,
    report,
)

#: Exit codes (the module docstring); EX_USAGE-style 2 is click's own for usage errors.
OK, FAILED, USAGE, BUG, INTERRUPTED, BROKEN_PIPE = 0, 1, 2, 70, 130, 141

app = typer.Typer(
    name="gracebgp",
    help="Operate gracebgpd, the gracebgp BGP daemon, through its API.",
    epilog="Global options go before or after the command (gracebgp peers --json). "
           "Exit codes: 0 done; 1 the request failed (refused, unreachable; health: not healthy, "
           "or a node did not answer); 2 usage error (nothing was sent); 70 a bug in gracebgp; "
           "130 Ctrl-C. Shell completion: gracebgp --install-completion. See docs/cli.md.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gracebgp {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    ctx: typer.Context,
    socket: Annotated[str | None, typer.Option(
        "--socket", metavar="PATH",
        help="gracebgpd's API socket [env GRACEBGP_SOCKET; default /run/gracebgp/gracebgpd.sock]")] = None,
    url: Annotated[str | None, typer.Option(
        "--url", metavar="URL", help="gracebgpd's TCP API, http://host:port (needs a token)")] = None,
    host: Annotated[list[str] | None, typer.Option(
        "--host", metavar="[NAME=]TARGET",
        help="a daemon (unix:PATH, a socket path or a URL); repeat to ask several and merge "
             "the answers with a Node column")] = None,
    token_file: Annotated[str | None, typer.Option(
        "--token-file", metavar="PATH", envvar="GRACEBGP_TOKEN_FILE",
        help="file whose first line is the API token [or the token itself in env GRACEBGP_TOKEN]")] = None,
    ca_file: Annotated[Path | None, typer.Option(
        "--ca-file", metavar="PATH", envvar=CA_FILE_ENV, exists=True, dir_okay=False,
        help="CA certificate(s), PEM, that verify an https:// daemon [default: the system's CAs]")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", "-j", help="machine output: JSON objects, arrays for listings")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", min=0.1, help="how long to wait for an answer")] = 10.0,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="print the version and exit")] = False,
) -> None:
    """Operate gracebgpd, the gracebgp BGP daemon, through its API."""
    if not math.isfinite(timeout):  # NaN passes the option's range check
        raise Failure(f"--timeout must be a number of seconds, not {timeout}", 2)
    if ca_file is not None:  # every Client of this call verifies https daemons with it (api.client)
        os.environ[CA_FILE_ENV] = str(ca_file)
    ctx.obj = Options(targets=choose_targets(host or [], url, socket), token=read_token(token_file),
                      json=json_output, timeout=timeout)


peers.register(app)
routes.register(app)
status.register(app)
lifecycle.register(app)
policies.register(app)
proxy.register(app)
bfd.register(app)
fibview.register(app)


def command() -> TyperGroup:
    """The click command tree of ``app``, its help in words (no Python type names)."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    plain_help(root)
    return root


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code."""
    try:
        words = sys.argv[1:] if argv is None else argv
        check_words(words)
        root = command()
        result = root.main(args=global_options_first(words, root), prog_name="gracebgp",
                           standalone_mode=False)
    except ClientError as exc:
        report(str(exc))
        return FAILED
    except Failure as exc:
        report(str(exc))
        return exc.code
    except ValidationError as exc:
        # A request body the API's models refuse, built from what was typed (the commands
        # check their values first; this is the net under them): a usage error.
        report(f"invalid request: {first_error(exc)}")
        return USAGE
    except (typer.Abort, KeyboardInterrupt):
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``gracebgp routes ... | head``); stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
    except Exception as exc:
        code = _usage_error(exc)
        if code is not None:
            return code
        if os.environ.get("GRACEBGP_DEBUG"):
            raise
        report(f"internal error (a bug in gracebgp, please report it): {type(exc).__name__}: {exc} "
               "(set GRACEBGP_DEBUG=1 for a traceback)")
        return BUG
    return result if isinstance(result, int) else OK


def _usage_error(exc: Exception) -> int | None:
    """A click/typer usage error (unknown command, bad option value): one line, its exit
    code; a command's bare call that shows its help: the help on stderr, exit code 2."""
    message = getattr(exc, "format_message", None)
    code = getattr(exc, "exit_code", None)
    if not callable(message) or not isinstance(code, int):
        return None
    if type(exc).__name__ == "NoArgsIsHelpError":
        sys.stderr.write(str(message()).rstrip("\n") + "\n")
        return 2
    ctx = getattr(exc, "ctx", None)
    where = getattr(ctx, "command_path", None) or "gracebgp"
    report(f"{message()} (see '{where} --help')" if code == 2 else str(message()))
    return code


def main() -> None:
    """The ``gracebgp`` console script."""
    sys.exit(run())


if __name__ == "__main__":
    main()
