"""``gracebgp bfd``: the BFD sessions gracebgp-bfdd runs for gracebgpd's neighbors (issue 18):
peer, state, discriminators, negotiated intervals, detection time, C bits, uptime, last
diagnostic, flaps."""

from __future__ import annotations

import typer

from gracebgp.api.bfd_schema import BfdSession
from gracebgp.api.client import Client
from gracebgp.cli import output
from gracebgp.cli.targets import Options, ask_all

HEADERS = ["Peer", "State", "Local/Remote Discr", "TX/RX ms", "Mult", "Detect ms", "C Local/Remote",
           "Uptime", "Last Diag", "Flaps"]


def _ms(us: int) -> str:
    return f"{us / 1000:g}"


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def row(s: BfdSession) -> list[str]:
    peer = s.peer + (" (multihop)" if s.multihop else "")
    return [peer, s.state, f"{s.local_discriminator}/{s.remote_discriminator}",
            f"{_ms(s.tx_interval_us)}/{_ms(s.rx_interval_us)}", f"{s.detect_mult}/{s.remote_detect_mult}",
            _ms(s.detection_time_us), f"{int(s.local_c)}/{int(s.remote_c)}", _uptime(s.uptime),
            s.local_diag, str(s.flaps)]


def bfd_command(ctx: typer.Context) -> None:
    """List the BFD sessions (RFC 5880) gracebgp-bfdd runs for the neighbors."""
    opts: Options = ctx.obj
    answers = ask_all(opts, Client.bfd_sessions)
    if opts.json:
        output.emit_listing(answers)
    else:
        rows = [([node or ""] if opts.fleet else []) + row(s) for node, found in answers for s in found]
        output.emit_table((["Node"] if opts.fleet else []) + HEADERS, rows)
    if opts.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("bfd")(bfd_command)
