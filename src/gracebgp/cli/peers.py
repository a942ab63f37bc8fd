"""``gracebgp peers`` and ``gracebgp neighbor``: list, inspect, add, remove, enable, shut
down and reset BGP peers (ListPeers, GetPeer, AddPeer, DeletePeer, EnablePeer,
ShutdownPeer, ResetPeer)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Literal, cast

import typer
from pydantic import ValidationError

from gracebgp.api.client import Client, ResetMode
from gracebgp.api.schema import Done, Peer, PeerAdd, shutdown_message_problem
from gracebgp.cli import output
from gracebgp.cli.capabilities import CAPABILITY_COLUMNS, capability_note, capability_rows
from gracebgp.cli.render import make_table, peer_pairs, peer_rows
from gracebgp.cli.targets import Failure, Options, ask_all, first_error

FamilyName = Literal["ipv4-unicast", "ipv6-unicast"]
_FAMILIES: dict[str, FamilyName] = {"ipv4-unicast": "ipv4-unicast", "ipv4": "ipv4-unicast",
                                    "ipv6-unicast": "ipv6-unicast", "ipv6": "ipv6-unicast"}
_ACTIONS = ("enable", "shutdown", "reset", "softreset")
NEIGHBOR_HELP = """Show or change one neighbor.

\b
  gracebgp neighbor                               list the peers (as 'peers')
  gracebgp neighbor ADDR                          one peer in detail
  gracebgp neighbor ADDR enable
  gracebgp neighbor ADDR shutdown [--message TEXT]
  gracebgp neighbor ADDR reset [--message TEXT]   the session restarts; a peer with graceful
                                                  restart and N (RFC 8538) keeps our routes
  gracebgp neighbor ADDR reset --hard [-m TEXT]   RFC 8538 Hard Reset: the peer deletes our
                                                  routes now, learns them again when back
  gracebgp neighbor ADDR softreset [in|out]       route refresh: both, or one direction
  gracebgp neighbor add ADDR --as N [--family ipv4-unicast] [--passive] [--port N]
                        [--local-address A] [--gr] [--description TEXT]
  gracebgp neighbor del ADDR
"""


def show_peers(opts: Options) -> None:
    answers = ask_all(opts, Client.peers)
    if opts.json:
        output.emit_listing(answers)
    else:
        output.emit_table(*peer_rows(answers))
    if opts.failed:
        raise typer.Exit(1)


def peers_command(ctx: typer.Context) -> None:
    """List the peers: one row per peer and address family."""
    show_peers(ctx.obj)


def _show_peer(opts: Options, address: str) -> None:
    answers = ask_all(opts, lambda c: c.peer(address))
    if opts.json:
        output.emit_answers(answers)
        return
    for i, (node, peer) in enumerate(answers):
        if node is not None:
            output.emit_line(("\n" if i else "") + f"Node {node}:")
        output.emit(make_table(["", ""], peer_pairs(peer), show_header=False))
        rows = capability_rows(peer)
        if rows:
            output.emit_line("")
            output.emit(make_table(CAPABILITY_COLUMNS, rows))
        note = capability_note(peer)
        if note:
            output.emit_line(note)


def _done(opts: Options, answers: list[tuple[str | None, Done]], what: str) -> None:
    if opts.json:
        output.emit_answers(answers)
        return
    for node, done in answers:
        where = f"{node}: " if node is not None else ""
        output.emit_line(f"{where}{done.message or what}")


def _family_list(values: list[str] | None) -> list[FamilyName]:
    families: list[FamilyName] = []
    for value in values or []:
        for word in value.split(","):
            if word.strip():
                name = _FAMILIES.get(word.strip().lower())
                if name is None:
                    raise Failure(f"unknown family {word!r} (use ipv4-unicast or ipv6-unicast)", 2)
                families.append(name)
    return families


def _address(text: str | None, what: str) -> str | None:
    """An IPv4 or IPv6 address, checked before sending (the daemon checks the same)."""
    if text is not None:
        try:
            ipaddress.ip_address(text.strip())
        except ValueError:
            raise Failure(f"{what} {text!r} is not an IPv4 or IPv6 address", 2) from None
    return text


def _integer(text: str, what: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise Failure(f"{what} must be a number, not {text!r}", 2) from None


def _complete_words(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of ``neighbor``'s words: add/del first, an action after ADDR."""
    typed = [w for w in (ctx.params.get("words") or []) if w != incomplete]
    if not typed:
        choices: tuple[str, ...] = ("add", "del")
    elif len(typed) == 1 and typed[0] not in ("add", "del", "delete"):
        choices = _ACTIONS
    elif len(typed) == 2 and typed[1] == "softreset":
        choices = ("in", "out")
    else:
        choices = ()
    return [c for c in choices if c.startswith(incomplete)]


def neighbor_command(
    ctx: typer.Context,
    words: Annotated[list[str] | None, typer.Argument(metavar="[ADDR ACTION | add ADDR | del ADDR]",
                                                      show_default=False,
                                                      autocompletion=_complete_words)] = None,
    message: Annotated[str, typer.Option("--message", "-m", metavar="TEXT",
                                         help="shutdown/reset: the RFC 9003 communication")] = "",
    hard: Annotated[bool, typer.Option("--hard", help="reset: RFC 8538 Hard Reset, the peer deletes "
                                                       "our routes")] = False,
    peer_as: Annotated[str | None, typer.Option("--as", metavar="N", help="add: the peer's AS")] = None,
    local_as: Annotated[str | None, typer.Option("--local-as", metavar="N",
                                                 help="add: our AS toward the peer")] = None,
    family: Annotated[list[str] | None, typer.Option(
        "--family", metavar="FAMILY", help="add: ipv4-unicast, ipv6-unicast (repeatable)")] = None,
    passive: Annotated[bool, typer.Option("--passive", help="add: wait for the peer to connect")] = False,
    port: Annotated[int | None, typer.Option("--port", metavar="N", help="add: the peer's TCP port")] = None,
    local_address: Annotated[str | None, typer.Option("--local-address", metavar="A",
                                                      help="add: our source address")] = None,
    gr: Annotated[bool, typer.Option("--gr", help="add: advertise graceful restart")] = False,
    description: Annotated[str, typer.Option("--description", help="add: a description")] = "",
) -> None:
    opts: Options = ctx.obj
    w = words or []
    add_options = {"--as": peer_as, "--local-as": local_as, "--family": family, "--passive": passive,
                   "--port": port, "--local-address": local_address, "--gr": gr,
                   "--description": description}
    given = [name for name, value in add_options.items() if value]
    if given and (not w or w[0] != "add"):
        raise Failure(f"{', '.join(given)} only go with 'neighbor add ADDR'", 2)
    if message and (len(w) < 2 or w[0] in ("add", "del", "delete")):
        raise Failure("--message only goes with 'neighbor ADDR shutdown' and 'neighbor ADDR reset'", 2)
    if hard and (len(w) < 2 or w[0] in ("add", "del", "delete") or w[1] != "reset"):
        raise Failure("--hard only goes with 'neighbor ADDR reset'", 2)
    if not w:
        show_peers(opts)
        return
    if w[0] == "add":
        if len(w) != 2:
            raise Failure("usage: gracebgp neighbor add ADDR --as N [options]", 2)
        if peer_as is None:
            raise Failure(f"neighbor add {w[1]}: --as N is required", 2)
        _address(w[1], "neighbor add:")
        _address(local_address, f"neighbor add {w[1]}: --local-address")
        try:
            spec = PeerAdd(address=w[1], peer_as=_integer(peer_as, "--as"),
                           local_as=None if local_as is None else _integer(local_as, "--local-as"),
                           families=_family_list(family), passive=passive,
                           port=179 if port is None else port, local_address=local_address,
                           graceful_restart=gr, description=description)
        except ValidationError as exc:
            raise Failure(f"neighbor add {w[1]}: {first_error(exc)}", 2) from None
        added = ask_all(opts, lambda c: c.add_peer(spec))
        if opts.json:
            output.emit_answers(added)
        else:
            _done(opts, [(n, Done(message=f"added neighbor {p.address} (AS {p.peer_as})"))
                         for n, p in added], "added")
    elif w[0] in ("del", "delete"):
        if len(w) != 2:
            raise Failure("usage: gracebgp neighbor del ADDR", 2)
        _done(opts, ask_all(opts, lambda c: c.delete_peer(w[1])), f"deleted neighbor {w[1]}")
    elif len(w) == 1:
        _show_peer(opts, w[0])
    else:
        _action(opts, w[0], w[1], w[2:], message, hard)
    if opts.failed:
        raise typer.Exit(1)


def _action(opts: Options, address: str, action: str, rest: list[str], message: str, hard: bool) -> None:
    if action not in _ACTIONS:
        raise Failure(f"unknown neighbor action {action!r} (expected one of: {', '.join(_ACTIONS)})", 2)
    if rest and (action != "softreset" or len(rest) > 1 or rest[0] not in ("in", "out")):
        extra = " ".join(rest)
        raise Failure(f"unexpected {extra!r} after 'neighbor {address} {action}'"
                      + (" (softreset takes 'in' or 'out')" if action == "softreset" else ""), 2)
    if message and action not in ("shutdown", "reset"):
        raise Failure("--message only goes with shutdown and reset", 2)
    problem = shutdown_message_problem(message)
    if problem is not None:
        raise Failure(f"neighbor {address} {action}: {problem}", 2)
    call: Callable[[Client], Done]
    if action == "enable":
        call, what = (lambda c: c.enable_peer(address)), f"enabled neighbor {address}"
    elif action == "shutdown":
        call, what = (lambda c: c.shutdown_peer(address, message)), f"shut down neighbor {address}"
    elif action == "reset":
        _reset(opts, address, message, hard)
        return
    else:
        mode = cast(ResetMode, "soft" if not rest else f"soft-{rest[0]}")
        call, what = (lambda c: c.reset_peer(address, mode)), f"soft reset ({mode}) neighbor {address}"
    _done(opts, ask_all(opts, call), what)


def _reset(opts: Options, address: str, message: str, hard: bool) -> None:
    """``neighbor ADDR reset [--hard]``: the peer as it was, then the reset; the answer
    says what the peer does with our routes."""
    def call(c: Client) -> tuple[Peer, Done]:
        before = c.peer(address)
        return before, c.reset_peer(address, "hard", message, hard_reset=hard)

    answers = ask_all(opts, call)
    if opts.json:
        output.emit_answers([(node, done) for node, (_, done) in answers])
        return
    _done(opts, [(node, Done(message=reset_words(peer, done))) for node, (peer, done) in answers], "")


def reset_words(peer: Peer, done: Done) -> str:
    """What a reset did, and what the peer does with our routes (RFC 8538 §4, §5)."""
    rest = done.message.split(" reset", 1)[1] if " reset" in done.message else ""
    hard = "Hard Reset" in rest  # the daemon says so (asked, or provisional-hard-reset configured)
    later = rest.split(";", 1)[1].strip() if ";" in rest else ""
    neg = peer.negotiated
    head = f"peer {peer.address} reset" + (" with an RFC 8538 Hard Reset" if hard and neg else "")
    if peer.state != "Established" or neg is None:
        fate = "it was not Established, so it had none of our routes"
    elif hard:
        fate = "the peer deletes our routes now and learns them again when the session is back"
    elif neg.notification and neg.gr_peer_keeps:
        kept = ", ".join(neg.gr_peer_keeps)
        gone = [f.family for f in peer.families if f.negotiated and f.family not in neg.gr_peer_keeps]
        fate = (f"the session restarts; the peer keeps our {kept} routes meanwhile (graceful restart "
                f"with N, RFC 8538)" + (f" and deletes our {', '.join(gone)} routes" if gone else ""))
    else:
        fate = ("the session restarts; the peer deletes our routes (it did not negotiate graceful restart "
                "with N, RFC 8538) and learns them again when the session is back")
    return f"{head}: {fate}" + (f"; {later}" if later else "")


def register(app: typer.Typer) -> None:
    app.command("peers", help="List the peers: one row per peer and address family.")(peers_command)
    app.command("neighbor", help=NEIGHBOR_HELP, no_args_is_help=False)(neighbor_command)

