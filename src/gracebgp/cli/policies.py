"""``gracebgp policies`` (the routing policy in force, per neighbor and direction, every
statement with its match count: the view of Cilium's ``bgp route-policies``) and
``gracebgp policy ...`` (edit defined sets, policy definitions and apply-policies through
the API: GoBGP's AddDefinedSet, AddPolicy, SetPolicies and their deletes), and the
rendering of ``routes received|advertised ... --explain``.

The configuration file stays the source (docs/cli.md, "Routing policy": what a reload or
restart brings back); no edit resets a session: the answer says how many routes changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from gracebgp.api.policy_schema import Explanation, PolicyChanged, PolicyListing
from gracebgp.cli import output
from gracebgp.cli.targets import Failure, Options, ask_all

SET_KINDS = ("prefix", "neighbor", "community", "ext-community", "large-community", "as-path")
_ENTRY_FIELD = {"neighbor": "neighbor_info_list"}  # the others: "entries" (prefix: prefix_list)
Neighbor = Annotated[str, typer.Argument(metavar="NEIGHBOR|global", show_default=False)]
POLICY_HELP = """Edit the routing policy on the running daemon (no session is reset; the file
stays the source: see docs/cli.md).

\b
  gracebgp policy set list [KIND]
  gracebgp policy set add prefix NAME PREFIX [MIN..MAX] [PREFIX [MIN..MAX]...]
  gracebgp policy set add neighbor|community|ext-community|large-community|as-path NAME ENTRY...
  gracebgp policy set del KIND NAME
  gracebgp policy list                       the policy definitions, as JSON
  gracebgp policy add FILE.json|-            add or replace a policy definition (name, statements)
  gracebgp policy del NAME
  gracebgp policy assign NEIGHBOR|global import|export [POLICY...] [--default accept|reject]
  gracebgp policy clear NEIGHBOR|global      a neighbor: the global apply-policy applies again
"""

policy_app = typer.Typer(help=POLICY_HELP, no_args_is_help=True)
set_app = typer.Typer(help="Defined sets: list, add (or replace), delete.", no_args_is_help=True)
HEADERS = ("Peer", "Direction", "Policy", "Statement", "Match Peers", "Match Prefixes (Min..Max Len)",
           "Other Conditions", "Route Action", "Path Actions", "Matches")


def _cell(items: list[str]) -> str:
    return "\n".join(items) if items else "-"


def policy_rows(answers: list[tuple[str | None, PolicyListing]]) -> tuple[list[str], list[list[str]]]:
    """One row per statement of each assignment; an assignment without policies shows its
    default alone. A fleet gets a Node column first."""
    fleet = any(node is not None for node, _ in answers)
    rows = []
    for node, listing in answers:
        for a in listing.assignments:
            lead = [node or ""] if fleet else []
            default = f"default {a.default}" if a.default else ""
            if not a.statements:
                if a.policies or a.default:
                    rows.append([*lead, a.peer, a.direction, _cell(a.policies), "-", "-", "-", "-",
                                 default or "-", "-", "-"])
                continue
            for s in a.statements:
                rows.append([*lead, a.peer, a.direction, s.policy, s.statement, _cell(s.match_neighbors),
                             _cell(s.match_prefixes), _cell(s.conditions), s.disposition, _cell(s.actions),
                             str(s.matches)])
            if default:
                rows.append([*lead, a.peer, a.direction, "-", "(default)", "-", "-", "-", default, "-", "-"])
    return (["Node"] if fleet else []) + list(HEADERS), rows


def policies_command(ctx: typer.Context) -> None:
    """The routing policy in force: per neighbor ('global': everyone without their own) and
    direction, each statement's conditions, route action, path actions and match count."""
    opts: Options = ctx.obj
    answers = ask_all(opts, lambda c: c.policies())
    headers, rows = policy_rows(answers)
    if opts.json:
        output.emit_answers(answers)
    elif rows:
        output.emit_table(headers, rows)
    else:
        output.emit_line("no routing policy")
    if opts.failed:
        raise typer.Exit(1)


def _changed(opts: Options, answers: list[tuple[str | None, PolicyChanged]]) -> None:
    if opts.json:
        output.emit_answers(answers)
    else:
        for node, done in answers:
            output.emit_line((f"{node}: " if node is not None else "") + done.message)
    if opts.failed:
        raise typer.Exit(1)


def _kind(kind: str) -> str:
    if kind not in SET_KINDS:
        raise Failure(f"unknown set kind {kind!r}: one of {', '.join(SET_KINDS)}", 2)
    return kind


def prefix_entries(words: list[str]) -> list[dict[str, str]]:
    """``10.0.0.0/8 24..32 192.0.2.0/24`` -> prefix_list entries (a MIN..MAX word belongs to
    the prefix before it)."""
    out: list[dict[str, str]] = []
    for word in words:
        if ".." in word and "/" not in word:
            if not out or out[-1]["masklength_range"]:
                raise Failure(f"policy set add: {word!r} is a length range with no prefix before it", 2)
            out[-1]["masklength_range"] = word
        elif "/" in word:
            out.append({"ip_prefix": word, "masklength_range": ""})
        else:
            raise Failure(f"policy set add: {word!r} is neither a PREFIX (A.B.C.D/N) nor a MIN..MAX range", 2)
    return out


def set_body(kind: str, name: str, words: list[str]) -> dict[str, Any]:
    if kind == "prefix":
        return {"name": name, "prefix_list": prefix_entries(words)}
    return {"name": name, _ENTRY_FIELD.get(kind, "entries"): list(words)}


@set_app.command("list")
def set_list(ctx: typer.Context, kind: Annotated[str | None, typer.Argument(
        metavar="[KIND]", help=f"one of {', '.join(SET_KINDS)}", show_default=False)] = None) -> None:
    """The defined sets (of one kind), in the configuration's field names."""
    opts: Options = ctx.obj
    wanted = _kind(kind) if kind is not None else None
    answers = ask_all(opts, lambda c: c.defined_sets(wanted))
    if opts.json:
        output.emit_listing(answers)
    else:
        rows = []
        for node, entries in answers:
            for e in entries:
                items = (e.set.get("prefix_list") or e.set.get("neighbor_info_list") or e.set.get("entries")
                         or [])
                text = [f"{i['ip_prefix']} {i['masklength_range']}".strip() if isinstance(i, dict) else str(i)
                        for i in items]
                rows.append([*([node] if node else []), e.kind, str(e.set.get("name")), _cell(text)])
        if rows:
            output.emit_table([*(["Node"] if answers and answers[0][0] else []), "Kind", "Name", "Entries"],
                              rows)
        else:
            output.emit_line("no defined sets")
    if opts.failed:
        raise typer.Exit(1)


@set_app.command("add")
def set_add(ctx: typer.Context, kind: Annotated[str, typer.Argument(metavar="KIND", show_default=False)],
            name: Annotated[str, typer.Argument(metavar="NAME", show_default=False)],
            entries: Annotated[list[str] | None, typer.Argument(metavar="ENTRY...", show_default=False)]
            = None) -> None:
    """Add a defined set, or replace the one of that name: prefix entries are PREFIX [MIN..MAX]."""
    body = set_body(_kind(kind), name, list(entries or []))
    _changed(ctx.obj, ask_all(ctx.obj, lambda c: c.add_defined_set(kind, body)))


@set_app.command("del")
def set_del(ctx: typer.Context, kind: Annotated[str, typer.Argument(metavar="KIND", show_default=False)],
            name: Annotated[str, typer.Argument(metavar="NAME", show_default=False)]) -> None:
    """Delete a defined set (refused while a policy definition uses it)."""
    _kind(kind)
    _changed(ctx.obj, ask_all(ctx.obj, lambda c: c.delete_defined_set(kind, name)))


@policy_app.command("list")
def policy_list(ctx: typer.Context) -> None:
    """The policy definitions, as JSON (the body 'policy add' takes)."""
    answers = ask_all(ctx.obj, lambda c: c.policy_definitions())
    output.emit_listing(answers)
    if ctx.obj.failed:
        raise typer.Exit(1)


def read_policy(source: str) -> dict[str, Any]:
    """A policy definition from a JSON file ('-': stdin)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise Failure(f"cannot read {source}: {exc.strerror or exc}", 2) from None
    except UnicodeDecodeError as exc:
        raise Failure(f"{source} is not text (UTF-8): byte {exc.start}", 2) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Failure(f"{source}: not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}", 2) from None
    if not isinstance(data, dict):
        raise Failure(f"{source}: a policy definition is a JSON object (name, statements)", 2)
    return data


@policy_app.command("add")
def policy_add(ctx: typer.Context, source: Annotated[str, typer.Argument(
        metavar="FILE.json|-", help="a policy definition: {\"name\": ..., \"statements\": [...]}",
        show_default=False)]) -> None:
    """Add a policy definition, or replace the one of that name (in place)."""
    data = read_policy(source)
    _changed(ctx.obj, ask_all(ctx.obj, lambda c: c.add_policy(data)))


@policy_app.command("del")
def policy_del(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", show_default=False)],
               ) -> None:
    """Delete a policy definition (refused while an apply-policy names it)."""
    _changed(ctx.obj, ask_all(ctx.obj, lambda c: c.delete_policy(name)))


@policy_app.command("assign")
def policy_assign(ctx: typer.Context,
                  neighbor: Neighbor,
                  direction: Annotated[str, typer.Argument(metavar="import|export", show_default=False)],
                  names: Annotated[list[str] | None, typer.Argument(
                      metavar="[POLICY...]", show_default=False)] = None,
                  default: Annotated[str | None, typer.Option(
                      "--default", metavar="accept|reject",
                      help="the action for routes no statement decided")] = None) -> None:
    """Set one direction of an apply-policy: these policies, in order (none: the list is
    emptied), and with --default the default action. The other direction is kept."""
    if direction not in ("import", "export"):
        raise Failure(f"policy assign: direction must be import or export, not {direction!r}", 2)
    if default is not None and default not in ("accept", "reject"):
        raise Failure(f"policy assign: --default must be accept or reject, not {default!r}", 2)
    body: dict[str, Any] = {f"{direction}_policies": list(names or [])}
    if default is not None:
        body[f"default_{direction}"] = f"{default}-route"
    _changed(ctx.obj, ask_all(ctx.obj, lambda c: c.set_policies(neighbor, body)))


@policy_app.command("clear")
def policy_clear(ctx: typer.Context,
                 neighbor: Neighbor) -> None:
    """Remove an apply-policy: a neighbor's own (the global one applies again), or the global one."""
    _changed(ctx.obj, ask_all(ctx.obj, lambda c: c.clear_policies(neighbor)))


# --- explain ------------------------------------------------------------------------------


def _attrs_text(side: dict[str, Any] | None) -> str:
    if side is None:
        return "-"
    attrs = side.get("attrs", {})
    parts = [f"next-hop {','.join(side.get('next_hop', [])) or '-'}"]
    parts += [f"{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}" for k, v in attrs.items()]
    return ", ".join(parts)


def explain_lines(found: Explanation) -> list[str]:
    """An explanation for people: the policies, each statement evaluated, the result."""
    where = "from" if found.direction == "import" else "to"
    pid = f" (path id {found.path_id})" if found.path_id is not None else ""
    lines = [f"{found.prefix}{pid} {where} {found.peer}, {found.direction} policy: "
             f"{', '.join(found.policies) or 'none (every route passes unchanged)'}"]
    for step in found.steps:
        mark = "matched" if step.matched else "no match"
        lines.append(f"  {step.policy} / {step.statement}: {mark}")
        lines += [f"      {action}" for action in step.actions]
        if step.decided != "none":
            lines.append(f"      -> {step.decided}")
    by = "by default" if found.decided_by == "default" else found.decided_by
    lines.append(f"  result: {found.result} ({by})")
    lines.append(f"  before: {_attrs_text(found.before)}")
    lines.append(f"  after:  {_attrs_text(found.after)}")
    return lines


def explain(opts: Options, peer: str, prefix: str | None, direction: str, family: str) -> None:
    """``routes received|advertised ... PREFIX --explain``."""
    if not prefix:
        raise Failure(f"--explain needs a PREFIX (the route to explain, {direction} policy)", 2)
    answers = ask_all(opts, lambda c: c.explain_route(peer, prefix, direction, family))
    if opts.json:
        output.emit_listing(answers)
    else:
        for node, found in answers:
            for item in found:
                for line in explain_lines(item):
                    output.emit_line((f"{node}: " if node else "") + line)
    if opts.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("policies")(policies_command)
    policy_app.add_typer(set_app, name="set")
    app.add_typer(policy_app, name="policy")
