"""The command line as people type it: global options anywhere on the line, and help
without Python type names.

``gracebgp peers --json`` means ``gracebgp --json peers``: click only knows the global
options (``--json``/``-j``, ``--socket``, ``--url``, ``--host``, ``--token-file``,
``--timeout``) before the command, so ``global_options_first`` moves those typed after
it to the front. It walks the words with the command tree, so the value of a command's
own option (``--message -j``) and everything after ``--`` stay where they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = ["GLOBAL_EPILOG", "HOISTED", "global_options_first", "plain_help"]

#: The global options (their click parameter names) that may follow the command.
HOISTED = frozenset({"socket", "url", "host", "token_file", "ca_file", "json_output", "timeout"})
GLOBAL_EPILOG = ("Global options go before or after the command: -j/--json, --socket PATH, --url URL, "
                 "--host [NAME=]TARGET (repeatable), --token-file PATH, --ca-file PATH, --timeout SECONDS "
                 "(see 'gracebgp --help').")


def _params(command: object) -> list[object]:
    return list(getattr(command, "params", []))


def _options(params: Iterable[object]) -> dict[str, bool]:
    """Every option name of ``params`` -> whether it takes a value."""
    return {name: not (param.is_flag or param.count) for param in params if isinstance(param, TyperOption)
            for name in (*param.opts, *param.secondary_opts)}


def global_options_first(args: Sequence[str], root: TyperGroup) -> list[str]:
    """``args`` with the global options found after the command moved before it."""
    hoistable = _options(p for p in _params(root) if getattr(p, "name", None) in HOISTED)
    front: list[str] = []
    kept: list[str] = []
    command: object = root
    known = _options(_params(root))
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            kept += args[i - 1:]
            break
        if word.startswith("-") and len(word) > 1:
            name, eq, _ = word.partition("=")
            if command is not root and name in hoistable and name not in known:
                front.append(word)
                if hoistable[name] and not eq and i < len(args):
                    front.append(args[i])
                    i += 1
                continue
            kept.append(word)
            if known.get(name) and not eq and i < len(args):
                kept.append(args[i])  # that option's value, whatever it looks like
                i += 1
            continue
        kept.append(word)
        if isinstance(command, TyperGroup):
            sub = command.commands.get(word)
            if sub is not None:
                command, known = sub, _options(_params(sub))
    return front + kept


def _no_type_name(ctx: object) -> None:
    """Stands in for typer's ``<list[str]>`` after an argument's name in help: nothing."""
    return None


def _usage_name(param: TyperArgument) -> Callable[[], str]:
    """An argument in the usage line as people write it: ``AFI``, ``[PREFIX]``,
    ``[PREFIX...]`` (typer writes ``{AFI}`` and wraps a bracketed metavar again)."""
    name = param.display_name_raw
    if name.startswith("["):  # a metavar that already says how it repeats
        return lambda: name
    if param.nargs != 1 and "..." not in name:
        name += "..."
    if not param.required:
        name = f"[{name}]"
    return lambda: name


def plain_help(command: object, root: bool = True) -> None:
    """Help in words, not Python types: arguments show their name only (typer appends
    ``<str>``, ``<list[str]>``) and the usage line writes them as people do; an option
    without a metavar shows ``TEXT``; every command but the root ends with where the
    global options go."""
    for param in _params(command):
        if isinstance(param, TyperArgument):
            param.display_type_rich = _no_type_name  # type: ignore[method-assign]
            param._usage_display_name = _usage_name(param)  # type: ignore[method-assign]
        elif isinstance(param, TyperOption) and not (param.is_flag or param.count) and param.metavar is None:
            param.metavar = "TEXT"
    if not root and isinstance(command, (TyperCommand, TyperGroup)):
        command.epilog = f"{command.epilog}\n\n{GLOBAL_EPILOG}" if command.epilog else GLOBAL_EPILOG
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            plain_help(sub, root=False)
