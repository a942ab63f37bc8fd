"""``gracebgp fib``: the kernel FIB per family (issue 17): what selection wants, what is
installed, pending, adopted from the previous run, conflicts with other protocols'
routes, failures with the kernel's errno, and why the F bit is what it is."""

from __future__ import annotations

import typer

from gracebgp.api.client import Client
from gracebgp.api.fib_schema import FibView
from gracebgp.cli import output
from gracebgp.cli.targets import Options, ask_all

HEADERS = ["Family", "Gate", "Desired", "Installed", "Pending", "Adopted", "Conflicts", "Failures",
           "Added", "Replaced", "Deleted", "In sync", "F"]


def rows(view: FibView) -> list[list[str]]:
    return [[f.family, f.gate, str(f.desired), str(f.installed), str(f.pending),
             f"{f.adopted}/{f.adopted_at_start}", str(f.conflicts), str(f.failures), str(f.added),
             str(f.replaced), str(f.deleted), "yes" if f.in_sync else "no", str(int(f.f_bit))]
            for f in view.families]


def details(view: FibView) -> list[str]:
    out = [f"protocol {view.protocol}, table {view.table}, metric {view.metric}"]
    for f in view.families:
        out.append(f"{f.family}: F={int(f.f_bit)}: {f.f_reason}")
        out += [f"  conflict: {c.prefix} held by protocol {c.protocol}" for c in f.conflict_list]
        out += [f"  failed: {x.prefix}: {x.error} (errno {x.errno}, {x.count} times)" for x in f.failure_list]
    return out


def fib_command(ctx: typer.Context) -> None:
    """Show the kernel FIB per family (fib = true in [gracebgp])."""
    opts: Options = ctx.obj
    answers = ask_all(opts, Client.fib)
    if opts.json:
        output.emit_answers(answers)
    else:
        for node, view in answers:
            if node:
                output.emit_line(f"{node}:")
            output.emit_table(HEADERS, rows(view))
            for line in details(view):
                output.emit_line(line)
    if opts.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("fib")(fib_command)
