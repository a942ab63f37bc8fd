"""``gracebgp restart``, ``stop``, ``drain``, ``gr status`` and ``timeline``: stopping by
intent (spec/graceful-restart.md section 6) and watching a restart (sections 4 and 8).

    restart          the sessions pass to the new process (same PID); peers see nothing
    restart --graceful  peers keep our routes; same PID; back with R=1, EoR after our routes
    stop --withdraw  peers delete our routes now (Hard Reset where N is negotiated)
    stop --retain    peers keep them for our Restart Time (a supervisor restarts us)
    drain [--wait]   GRACEFUL_SHUTDOWN now, withdraw after the delay; --wait: until sent
"""

from __future__ import annotations

import re
import time
from typing import Annotated

import typer

from gracebgp.api.client import Client, ClientError
from gracebgp.api.schema import GrStatus, address_key, shutdown_message_problem
from gracebgp.cli import output
from gracebgp.cli.render import format_duration
from gracebgp.cli.targets import Failure, Options

gr_app = typer.Typer(help="Graceful restart: our restart, selection deferral, helper episodes.",
                     no_args_is_help=True)


def _one(opts: Options) -> Client:
    if opts.fleet:
        raise Failure("this command acts on one daemon: give one --socket, --url or --host", 2)
    return opts.client(opts.targets[0])


def restart_command(
    ctx: typer.Context,
    wait: Annotated[bool, typer.Option("--wait", help="return when the new process answers")] = False,
    graceful: Annotated[bool, typer.Option("--graceful", help="graceful restart (peers keep our routes "
                                                              "as stale) instead of handing the "
                                                              "sessions over")] = False,
) -> None:
    """Planned restart or upgrade: the sessions are handed over, peers see no change."""
    opts: Options = ctx.obj
    _one(opts).close()
    # The daemon first checks that the new process would start (up to 30 s) and refuses
    # the restart (409, one line, exit 1) if it would not: wait for that answer.
    with Client(opts.targets[0].address, token=opts.token, timeout=max(opts.timeout, 45.0)) as client:
        before = client.global_().uptime if wait else 0.0
        done = client.restart(graceful)
    if wait:
        _wait_new_process(opts, before)
    output.emit_json({"ok": True, "message": done.message}) if opts.json else output.emit_line(done.message)


def _wait_new_process(opts: Options, before: float) -> None:
    """Bounded: until the daemon answers with a shorter uptime: the new process (60 s)."""
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            with opts.client(opts.targets[0]) as client:
                if client.global_().uptime < before:
                    return
        except ClientError:
            continue
    raise Failure("gracebgpd did not come back within 60 s; see its log")


def stop_command(
    ctx: typer.Context,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="peers delete our routes now (the default)")]
    = False,
    retain: Annotated[bool, typer.Option("--retain", help="peers keep our routes for our restart time "
                                                          "(graceful restart)")] = False,
    message: Annotated[str, typer.Option("--message", "-m",
                                         help="RFC 9003 shutdown message (at most 255 octets of UTF-8)")]
    = "",
) -> None:
    """Stop gracebgpd, withdrawing our routes (default) or retaining them at the peers."""
    opts: Options = ctx.obj
    if withdraw and retain:
        raise Failure("stop: --withdraw and --retain exclude each other: give one (--withdraw is the "
                      "default)", 2)
    problem = shutdown_message_problem(message)
    if problem is not None:
        raise Failure(f"stop: {problem}", 2)
    with _one(opts) as client:
        done = client.stop(not retain, message)
    output.emit_json({"ok": True, "message": done.message}) if opts.json else output.emit_line(done.message)


def drain_command(
    ctx: typer.Context,
    wait: Annotated[bool, typer.Option("--wait", help="return when the withdrawals have left the sockets")]
    = False,
    delay: Annotated[float | None, typer.Option("--delay", min=0, max=3600, metavar="SECONDS",
                                                help="GRACEFUL_SHUTDOWN -> withdrawal [drain-delay]")] = None,
    cancel: Annotated[bool, typer.Option("--cancel", help="end the drain, advertise normally")] = False,
) -> None:
    """Maintenance drain (RFC 8326): peers move traffic away, then our routes go."""
    opts: Options = ctx.obj
    if cancel and (wait or delay is not None):
        given = " and ".join(flag for flag, on in (("--wait", wait), ("--delay", delay is not None)) if on)
        raise Failure(f"drain: --cancel ends a drain; it does not go with {given}", 2)
    if delay is not None and not 0 <= delay <= 3600:  # NaN passes the option's range check
        raise Failure(f"drain: --delay must be 0..3600 seconds, not {delay}", 2)
    _one(opts).close()
    timeout = opts.timeout + ((delay if delay is not None else 3600.0) + 60.0 if wait else 0.0)
    with opts.client(opts.targets[0], timeout=timeout) as client:
        result = client.drain(wait=wait, delay=delay, cancel=cancel)
    if opts.json:
        output.emit_json(result.model_dump())
        return
    output.emit_line(result.message)
    if result.waited is not None:
        output.emit_line(f"withdrawals sent after {result.waited:.1f}s; {result.unsent_bytes or 0} octets "
                         "still queued" + ("" if not result.unsent_bytes else " (--wait gave up)"))
        if result.unsent_bytes:
            raise typer.Exit(1)


def gr_status_command(ctx: typer.Context) -> None:
    """Whom selection waits for, which EoRs arrived, when deferral ends; helper episodes."""
    opts: Options = ctx.obj
    with _one(opts) as client:
        st = client.gr_status()
        uptime = None if opts.json else client.global_().uptime
    if opts.json:
        output.emit_json(st.model_dump())
        return
    for line in gr_lines(st, uptime):
        output.emit_line(line)


def live_ages(detail: str, uptime: float) -> str:
    """The start's detail was written when this run started (``gracebgp restart, 1.6s ago``):
    each ``Ns ago`` in it, aged by this run's uptime, so it reads right at any later time."""
    return re.sub(r"(\d+(?:\.\d+)?)s ago", lambda m: f"{format_duration(float(m[1]) + uptime)} ago", detail)


def gr_lines(st: GrStatus, uptime: float | None = None) -> list[str]:
    """``gr status`` as text; ``uptime``: this run's, for the ages (None: as the daemon said)."""
    detail = st.detail if uptime is None else live_ages(st.detail, uptime)
    when = "" if uptime is None else f" {format_duration(uptime)} ago"
    lines = [f"this run: {st.restart} start{when} ({detail or '-'}); "
             f"R bit in our OPENs: {int(st.restart_bit)}" + (f"; draining ({st.drain})" if st.drain else "")]
    for d in st.deferral:
        if d.deferring:
            waits = ", ".join(f"{w.peer} ({w.reason})"
                              for w in sorted(d.waiting_for, key=lambda w: address_key(w.peer))) or "nobody"
            eors = sorted(d.eor_received_from, key=address_key)
            lines.append(f"  {d.family}: DEFERRING, waiting for {waits}; EoR from "
                         f"{', '.join(eors) or 'nobody yet'}; deferral timer in "
                         f"{d.deferral_expires_in:.1f}s")
        else:
            lines.append(f"  {d.family}: selection done {d.selection_done_after:.3f}s after start "
                         f"({d.reason})")
    if not st.deferral:
        lines.append("  no selection deferral (cold start, or no peer with graceful restart)")
    for h in sorted(st.helper, key=lambda h: address_key(h.peer)):
        fams = ", ".join(f"{f.family} {f.phase} ({f.stale} stale)" for f in h.families)
        timers = [f"restart timer {h.restart_timer_in:.1f}s" if h.restart_timer_in is not None else "",
                  f"stale-path timer {h.stale_timer_in:.1f}s" if h.stale_timer_in is not None else "",
                  *(f"LLGR {f} {t:.0f}s" for f, t in h.llgr_timer_in.items())]
        lines.append(f"helper for {h.peer} ({h.state}): {fams}; " + ", ".join(t for t in timers if t))
    lines += [f"F bit {f.family}: {int(f.forwarding)} ({f.reason})" for f in st.forwarding]
    return lines


def timeline_command(
    ctx: typer.Context,
    peer: Annotated[str | None, typer.Option("--peer", metavar="ADDR",
                                             help="that peer's last graceful-restart episode")] = None,
) -> None:
    """The events of the last restart, with offsets from its first event."""
    opts: Options = ctx.obj
    with _one(opts) as client:
        tl = client.timeline(peer)
    if opts.json:
        output.emit_json(tl.model_dump())
        return
    for line in tl.lines():
        output.emit_line(line)


def register(app: typer.Typer) -> None:
    app.command("restart", help="Planned restart or upgrade: the sessions are handed over to the new "
                "process (--graceful: graceful restart).")(
        restart_command)
    app.command("stop", help="Stop gracebgpd: --withdraw (default) or --retain our routes at peers.")(
        stop_command)
    app.command("drain", help="Maintenance drain (RFC 8326); --wait until the withdrawals are out.")(
        drain_command)
    app.command("timeline", help="The events of the last restart (or of a peer's, with --peer).")(
        timeline_command)
    gr_app.command("status", help="Deferral wait set, EoRs received, timers, helper episodes.")(
        gr_status_command)
    app.add_typer(gr_app, name="gr")
