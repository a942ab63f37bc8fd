"""Write the CLI's answers to stdout: a table for people, JSON with ``--json``.

On a terminal tables are drawn by rich at the terminal's width; into a pipe or file
they are plain text at their natural width, so ``grep`` and ``awk`` see whole lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console, RenderableType

from gracebgp.cli.render import make_table, render_text


def jsonable(node: str | None, value: Any) -> Any:
    """A model as JSON data, with a ``node`` key in a fleet."""
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    if node is not None and isinstance(data, dict):
        return {"node": node, **data}
    return data


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def emit_json_line(data: Any) -> None:
    """One NDJSON line (followed streams)."""
    sys.stdout.write(json.dumps(data, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def emit_answers(answers: Sequence[tuple[str | None, Any]]) -> None:
    """``--json`` of single answers: the object for one daemon, an array in a fleet."""
    if len(answers) == 1 and answers[0][0] is None:
        emit_json(jsonable(None, answers[0][1]))
    else:
        emit_json([jsonable(node, value) for node, value in answers])


def emit_listing(answers: Sequence[tuple[str | None, Sequence[Any]]]) -> None:
    """``--json`` of listings: one array, merged over the fleet."""
    emit_json([jsonable(node, item) for node, items in answers for item in items])


def emit(renderable: RenderableType) -> None:
    if sys.stdout.isatty():
        Console(highlight=False, emoji=False).print(renderable)
    else:
        sys.stdout.write(render_text(renderable))
    sys.stdout.flush()


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[str]], show_header: bool = True) -> None:
    emit(make_table(headers, rows, show_header=show_header))


def emit_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
