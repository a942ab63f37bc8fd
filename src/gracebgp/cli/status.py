"""``gracebgp global``, ``events``, ``health`` and ``metrics``: how the daemon is doing
(GetGlobal, ListEvents, WatchEvents, GetHealth, the Prometheus text)."""

from __future__ import annotations

import queue
import sys
import threading
from typing import Annotated

import typer

from gracebgp.api.client import Client, ClientError
from gracebgp.api.schema import Event
from gracebgp.cli import output
from gracebgp.cli.render import (
    event_line,
    event_rows,
    global_pairs,
    global_rows,
    health_rows,
    health_summary,
    unreachable_health,
)
from gracebgp.cli.targets import Failure, Options, Target, ask_all, named_targets, report


def global_command(ctx: typer.Context) -> None:
    """The speaker itself: AS, router id, uptime, peers, RIB sizes."""
    opts: Options = ctx.obj
    answers = ask_all(opts, Client.global_)
    if opts.json:
        output.emit_answers(answers)
    elif opts.fleet:
        output.emit_table(*global_rows(answers))
    else:
        output.emit_table(["", ""], global_pairs(answers[0][1]), show_header=False)
    if opts.failed:
        raise typer.Exit(1)


def health_command(ctx: typer.Context) -> None:
    """Conditions that need an operator; exit code 1 when not healthy."""
    opts: Options = ctx.obj
    answers = ask_all(opts, Client.health) + unreachable_health(opts.failures)
    if opts.json:
        output.emit_answers(answers)
    else:
        headers, rows = health_rows(answers)
        if rows:
            output.emit_table(headers, rows)
        output.emit_line(health_summary(answers))
    if opts.failed or not answers or not all(h.healthy for _, h in answers):
        raise typer.Exit(1)


def metrics_command(ctx: typer.Context) -> None:
    """The Prometheus metrics, as text."""
    opts: Options = ctx.obj
    for node, text in ask_all(opts, Client.metrics):
        if node is not None:
            output.emit_line(f"# node: {node}")
        output.emit_line(text.rstrip("\n"))
    if opts.failed:
        raise typer.Exit(1)


def events_command(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="follow new events until Ctrl-C")] = False,
    routes: Annotated[bool, typer.Option("--routes", help="include route changes")] = False,
    history: Annotated[bool, typer.Option("--history", help="--follow: replay recent events first")]
    = False,
    count: Annotated[int | None, typer.Option("--count", "-n", metavar="N", min=1,
                                              help="--follow: stop after N events")] = None,
) -> None:
    """Recent events (peer state changes, commands, restarts); --follow streams them."""
    opts: Options = ctx.obj
    if not follow:
        if history or count is not None:
            raise Failure("--history and --count go with --follow", 2)
        answers = ask_all(opts, Client.events_history)
        if not routes:
            answers = [(n, [e for e in events if e.kind != "route"]) for n, events in answers]
        if opts.json:
            output.emit_listing(answers)
        else:
            output.emit_table(*event_rows(answers))
        if opts.failed:
            raise typer.Exit(1)
        return
    _follow(opts, routes, history, count)


#: ``events --follow`` waits this long (seconds) for a restarting daemon to come back.
RECONNECT = 60.0


def _follow(opts: Options, routes: bool, history: bool, count: int | None) -> None:
    """Merge the event streams of every selected daemon, printing each as it comes; a
    stream that ends because its daemon restarts is reconnected (docs/cli.md)."""
    named: list[tuple[str | None, Target]] = (
        list(named_targets(opts)) if opts.fleet else [(None, opts.targets[0])])
    inbox: queue.Queue[tuple[str | None, Target, Event | ClientError | None]] = queue.Queue()

    def pump(node: str | None, target: Target) -> None:
        def note(message: str) -> None:  # reconnecting across a restart: say so on stderr
            sys.stderr.write(f"gracebgp: {f'node {node}: ' if node else ''}{message}\n")
            sys.stderr.flush()

        try:
            with opts.client(target) as client:
                for event in client.watch_events(routes=routes, history=history, reconnect=RECONNECT,
                                                 on_status=note):
                    inbox.put((node, target, event))
            inbox.put((node, target, None))
        except ClientError as exc:
            inbox.put((node, target, exc))

    for node, target in named:
        threading.Thread(target=pump, args=(node, target), daemon=True, name=f"events {target}").start()
    live, shown = len(named), 0
    while live and (count is None or shown < count):
        try:
            node, target, item = inbox.get(timeout=0.5)
        except queue.Empty:
            continue
        if isinstance(item, Event):
            shown += 1
            if opts.json:
                output.emit_json_line(output.jsonable(node, item))
            else:
                output.emit_line(event_line(node, item))
            continue
        live -= 1
        problem = item if item is not None else ClientError(
            f"gracebgpd at {target.address} closed the event stream")
        if not opts.fleet:
            raise problem
        report(f"node {node}: {problem}")
        opts.failed = True
    if opts.failed or (live == 0 and count is not None and shown < count):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("global", help="The speaker itself: AS, router id, uptime, peers, RIB sizes.")(global_command)
    app.command("events", help="Recent events; --follow streams them.")(events_command)
    app.command("health", help="Conditions that need an operator; exit code 1 when not healthy.")(
        health_command)
    app.command("metrics", help="The Prometheus metrics, as text.")(metrics_command)
