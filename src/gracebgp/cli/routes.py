"""``gracebgp routes`` (ListPaths over the Loc-RIB, a peer's Adj-RIB-In or Adj-RIB-Out)
and ``gracebgp rib add|del`` (AddPaths, DeletePaths) with GoBGP's keyword syntax."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gracebgp.api.schema import PathsChanged, PathSpec
from gracebgp.cli import output, policies
from gracebgp.cli.render import route_rows
from gracebgp.cli.ribwords import (
    WordError,
    check_prefix,
    is_keyword,
    parse_path_file,
    parse_path_words,
    prefixes_of_file,
)
from gracebgp.cli.targets import Failure, Options, ask_all

routes_app = typer.Typer(help="Show routes: available (Loc-RIB), received (Adj-RIB-In), "
                              "advertised (Adj-RIB-Out).", no_args_is_help=True)
rib_app = typer.Typer(help="Originate or withdraw routes: rib add|del PREFIX ...", no_args_is_help=True)

_AFIS = ("ipv4", "ipv6")
_SAFIS = ("unicast",)

def _afis(incomplete: str) -> list[str]:
    return [a for a in _AFIS if a.startswith(incomplete)]


def _safis(incomplete: str) -> list[str]:
    return [a for a in _SAFIS if a.startswith(incomplete)]


Afi = Annotated[str, typer.Argument(metavar="AFI", help="ipv4 or ipv6", show_default=False,
                                    autocompletion=_afis)]
Safi = Annotated[str, typer.Argument(metavar="SAFI", help="unicast", show_default=False,
                                     autocompletion=_safis)]
Prefix = Annotated[str | None, typer.Argument(
    metavar="[PREFIX]", help="a prefix, or an address (longest match)", show_default=False)]
PeerOpt = Annotated[str | None, typer.Option(
    "--peer", "-p", metavar="ADDR",
    help="the neighbor, as the Peer column shows it ('local': the routes we originate)")]
Longer = Annotated[bool, typer.Option("--longer", help="PREFIX and every more specific one")]
Explain = Annotated[bool, typer.Option(
    "--explain", help="PREFIX through the peer's policy: each statement, what matched, the result")]


def family_of(afi: str, safi: str) -> str:
    """``ipv4 unicast`` -> ``ipv4-unicast``."""
    afi, safi = afi.lower(), safi.lower()
    if afi not in _AFIS:
        raise Failure(f"unknown address family {afi!r} (use {' or '.join(_AFIS)})", 2)
    if safi not in _SAFIS:
        raise Failure(f"unknown subsequent address family {safi!r} (use {' or '.join(_SAFIS)})", 2)
    return f"{afi}-{safi}"


#: What the Peer column prints for the routes this speaker originates; ``--peer`` takes it.
LOCAL = "local"


def _list(opts: Options, table: str, family: str, peer: str | None, prefix: str | None, longer: bool,
          post_policy: bool = True, best: bool = False) -> None:
    local = peer is not None and peer.strip().lower() == LOCAL
    answers = ask_all(opts, lambda c: [e for e in c.list_paths(
        table=table, family=family, peer=None if local else peer, prefix=prefix, longer=longer,
        post_policy=post_policy, best=best) if not local or e.source is None])
    if opts.json:
        output.emit_listing(answers)
    elif any(entries for _, entries in answers) or opts.fleet:
        output.emit_table(*route_rows(answers, with_source=table == "loc"))
    else:
        output.emit_line("no routes" if prefix is None else f"no routes for {prefix}")
    if opts.failed:
        raise typer.Exit(1)


def _need_peer(command: str, peer: str | None) -> str:
    if not peer:
        raise Failure(f"routes {command} needs --peer ADDR (the neighbor whose routes to show)", 2)
    if peer.strip().lower() == LOCAL:
        raise Failure(f"routes {command} --peer local: 'local' is this speaker, not a neighbor; its own "
                      "routes are in 'routes available ... --peer local'", 2)
    return peer


@routes_app.command("available")
def available(ctx: typer.Context, afi: Afi, safi: Safi, prefix: Prefix = None, peer: PeerOpt = None,
              longer: Longer = False,
              best: Annotated[bool, typer.Option("--best", help="only the selected route per prefix")]
              = False) -> None:
    """The Loc-RIB: every candidate route, the best one marked '>' (--peer: from that peer)."""
    _list(ctx.obj, "loc", family_of(afi, safi), peer, prefix, longer, best=best)


@routes_app.command("received")
def received(ctx: typer.Context, afi: Afi, safi: Safi, prefix: Prefix = None, peer: PeerOpt = None,
             longer: Longer = False,
             pre_policy: Annotated[bool, typer.Option(
                 "--all", "--pre-policy", help="include the routes import refused")] = False,
             explain: Explain = False) -> None:
    """A peer's Adj-RIB-In: the routes it sent us (needs --peer)."""
    if explain:
        policies.explain(ctx.obj, _need_peer("received", peer), prefix, "import", family_of(afi, safi))
        return
    _list(ctx.obj, "adj-in", family_of(afi, safi), _need_peer("received", peer), prefix, longer,
          post_policy=not pre_policy)


@routes_app.command("advertised")
def advertised(ctx: typer.Context, afi: Afi, safi: Safi, prefix: Prefix = None, peer: PeerOpt = None,
               longer: Longer = False, explain: Explain = False) -> None:
    """A peer's Adj-RIB-Out: the routes we send it (needs --peer)."""
    if explain:
        policies.explain(ctx.obj, _need_peer("advertised", peer), prefix, "export", family_of(afi, safi))
        return
    _list(ctx.obj, "adj-out", family_of(afi, safi), _need_peer("advertised", peer), prefix, longer)


def _read(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise Failure(f"cannot read {path}: {exc.strerror or exc}", 2) from None
    except UnicodeDecodeError as exc:
        raise Failure(f"{path} is not text (UTF-8): byte {exc.start}", 2) from None


def _routes(count: int) -> str:
    return f"{count} route" if count == 1 else f"{count} routes"


def changed_words(done: PathsChanged, verb: str, prefixes: list[str] | None = None) -> str:
    """``added 2 routes``, ``added 1 route; 1 was already there, identical``; ``deleted 1
    route; 1 prefix not found ...``; one prefix that is not there: ``no route 10.9.0.0/24 to
    delete ...``."""
    if verb == "deleted":
        missing = "this speaker does not originate it" if done.unchanged == 1 else "not originated here"
        if done.changed == 0 and prefixes is not None and len(prefixes) == 1:
            return f"no route {prefixes[0]} to delete: {missing}"
        tail = (f"; {done.unchanged} {'prefix' if done.unchanged == 1 else 'prefixes'} not found "
                f"({missing})" if done.unchanged else "")
        return f"deleted {_routes(done.changed)}{tail}"
    same = "was" if done.unchanged == 1 else "were"
    tail = f"; {done.unchanged} {same} already there, identical" if done.unchanged else ""
    return f"{verb} {_routes(done.changed)}{tail}"


def _changed(opts: Options, answers: list[tuple[str | None, PathsChanged]], verb: str,
             prefixes: list[str] | None = None) -> None:
    if opts.json:
        output.emit_answers(answers)
    else:
        for node, done in answers:
            where = f"{node}: " if node is not None else ""
            output.emit_line(where + changed_words(done, verb, prefixes))
    if opts.failed:
        raise typer.Exit(1)


Words = Annotated[list[str] | None, typer.Argument(metavar="PREFIX [KEYWORD VALUE...]", show_default=False)]
FileOpt = Annotated[str | None, typer.Option("--file", "-f", metavar="FILE",
                                             help="one route per line, same syntax; '#' comments")]


@rib_app.command("add")
def rib_add(ctx: typer.Context, words: Words = None, file: FileOpt = None) -> None:
    """Originate a route: PREFIX [nexthop ADDR] [origin igp|egp|incomplete]
    [community A:B ...] [large-community A:B:C ...] [med N] [local-pref N]."""
    specs: list[PathSpec] = []
    try:
        if words:
            specs.append(parse_path_words(words))
        if file:
            specs.extend(parse_path_file(_read(file), file))
    except WordError as exc:
        raise Failure(f"rib add: {exc}", 2) from None
    if not specs:
        raise Failure("rib add: give a PREFIX [KEYWORD VALUE...] or --file FILE", 2)
    _changed(ctx.obj, ask_all(ctx.obj, lambda c: c.add_paths(specs)), "added")


@rib_app.command("del")
def rib_del(ctx: typer.Context,
            prefixes: Annotated[list[str] | None, typer.Argument(metavar="PREFIX...", show_default=False)]
            = None, file: FileOpt = None) -> None:
    """Withdraw routes this speaker originates: PREFIX [PREFIX ...] (or --file FILE)."""
    wanted = list(prefixes or [])
    if any(is_keyword(word) for word in wanted[1:]):
        wanted = wanted[:1]  # the words of 'rib add' pasted: PREFIX nexthop ... names one route
    if file:
        wanted.extend(prefixes_of_file(_read(file), file))
    if not wanted:
        raise Failure("rib del: give one or more PREFIXes or --file FILE", 2)
    try:
        for prefix in wanted:
            check_prefix(prefix)
    except WordError as exc:
        raise Failure(f"rib del: {exc}", 2) from None
    _changed(ctx.obj, ask_all(ctx.obj, lambda c: c.delete_paths(wanted)), "deleted", wanted)


def register(app: typer.Typer) -> None:
    app.add_typer(routes_app, name="routes")
    app.add_typer(rib_app, name="rib")

