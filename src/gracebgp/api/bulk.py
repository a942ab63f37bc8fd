"""AddPaths and DeletePaths bodies decoded, validated and checked in slices (issue 10
finding 4), so one large request never holds the event loop that also sends every
session's KEEPALIVEs: ``json.loads`` of a 32 MiB body takes most of a second and
pydantic's validation of its 500k paths about three. Here the one array of the body is
decoded an element at a time, ``SLICE`` elements per turn of the event loop; each slice
is validated and checked (``service.check_paths``) before the next. The answers are the
ones FastAPI gives for a body model: 422 for bad JSON or a bad field (``loc`` from
``body``), 400 for a path the speaker cannot take."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from gracebgp.api import schema, service
from gracebgp.core import commands as cmd
from gracebgp.core.originate import LocalRoute

SLICE = 2000  # elements per turn of the event loop: ~10 µs each, ~20 ms a slice
MAX_ERRORS = 50
_WS = re.compile(r"[ \t\n\r]*")
_MISSING = object()
_SPECS = TypeAdapter(list[schema.PathSpec])
_PREFIXES = TypeAdapter(list[str])


async def add_routes_command(request: Request) -> cmd.AddRoutes:
    """The body of AddPaths -> the speaker's AddRoutes (RequestValidationError: 422,
    RequestError: 400)."""
    routes: list[LocalRoute] = []
    problems: list[str] = []
    checked: dict[tuple[object, ...], LocalRoute] = {}
    reader = _ArrayReader(await request.body(), schema.PathsAdd, "paths")
    async for first, specs in _validated(reader, _SPECS):
        service.check_paths(specs, first, routes, problems, checked)
    return service.routes_command(routes, problems)


async def delete_routes_command(request: Request) -> cmd.DeleteRoutes:
    """The body of DeletePaths -> the speaker's DeleteRoutes."""
    prefixes: list[str] = []
    bad: list[str] = []
    reader = _ArrayReader(await request.body(), schema.PathsDelete, "prefixes")
    async for _, items in _validated(reader, _PREFIXES):
        service.check_prefixes(items, bad)
        prefixes += items
    return service.prefixes_command(prefixes, bad)


async def _validated(reader: _ArrayReader, adapter: TypeAdapter[list[Any]]) -> Any:
    """(index of the first element, validated elements) per slice, a turn of the event
    loop after each; the field errors of all slices together at the end."""
    errors: list[dict[str, Any]] = []
    for first, raw in reader.slices():
        try:
            items = adapter.validate_python(raw)
        except ValidationError as exc:
            for e in exc.errors():
                index, *rest = e["loc"]
                errors.append({**e, "loc": ("body", reader.field, first + int(index), *rest)})
            if len(errors) >= MAX_ERRORS:
                break
        else:
            if not errors:
                yield first, items
        await asyncio.sleep(0)
    errors += reader.finish()
    if errors:
        raise RequestValidationError(errors[:MAX_ERRORS])


class _ArrayReader:
    """``{"<field>": [...], ...}`` read one element at a time. Any other shape is left to
    the model (a small body, or an error either way)."""

    def __init__(self, body: bytes, model: type[BaseModel], field: str) -> None:
        self.body = body
        self.model = model
        self.field = field
        self.others: dict[str, Any] = {}
        self.count = -1  # elements of the array read so far; -1: the field was not an array
        self.whole: Any = _MISSING  # the decoded body when it is not an object

    def slices(self) -> Iterator[tuple[int, list[Any]]]:
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _json_error(exc.start, "invalid UTF-8") from None
        decoder = json.JSONDecoder()
        try:
            i = _skip(text, 0)
            if text[i:i + 1] != "{":
                self.whole, i = decoder.raw_decode(text, i)
                self._end(text, i)
                return
            i = _skip(text, i + 1)
            if text[i:i + 1] == "}":
                self._end(text, i + 1)
                return
            while True:
                key, i = decoder.raw_decode(text, i)
                i = _skip(text, i)
                if not isinstance(key, str) or text[i:i + 1] != ":":
                    raise json.JSONDecodeError("Expecting property name and ':'", text, i)
                i = _skip(text, i + 1)
                if key == self.field and text[i:i + 1] == "[":
                    i = yield from self._array(text, i + 1, decoder)
                else:
                    self.others[key], i = decoder.raw_decode(text, i)
                i = _skip(text, i)
                if text[i:i + 1] == "}":
                    self._end(text, i + 1)
                    return
                if text[i:i + 1] != ",":
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
                i = _skip(text, i + 1)
        except json.JSONDecodeError as exc:
            raise _json_error(exc.pos, exc.msg) from None

    def _array(self, text: str, i: int, decoder: json.JSONDecoder) -> Any:
        batch: list[Any] = []
        self.count = 0
        i = _skip(text, i)
        if text[i:i + 1] == "]":
            return i + 1
        while True:
            item, i = decoder.raw_decode(text, i)
            batch.append(item)
            if len(batch) == SLICE:
                first, self.count = self.count, self.count + len(batch)
                yield first, batch
                batch = []
            i = _skip(text, i)
            if text[i:i + 1] == "]":
                break
            if text[i:i + 1] != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
            i = _skip(text, i + 1)
        if batch:
            first, self.count = self.count, self.count + len(batch)
            yield first, batch
        return i + 1

    def _end(self, text: str, i: int) -> None:
        if text[_skip(text, i):]:
            raise json.JSONDecodeError("Extra data", text, i)

    def finish(self) -> list[dict[str, Any]]:
        """The errors of everything but the array's elements: the other fields, the
        array's length, a body that is not an object."""
        if self.whole is not _MISSING:
            data = self.whole
        elif self.count < 0:
            data = self.others  # with the field as it came, when it is not an array
        else:
            data = {**self.others, self.field: []}
        errors: list[dict[str, Any]] = []
        try:
            self.model.model_validate(data)
        except ValidationError as exc:
            errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        limit = schema.MAX_PATHS_PER_CALL
        if self.count > limit:
            errors.append({"type": "too_long", "loc": ("body", self.field),
                           "msg": f"List should have at most {limit} items after validation, "
                                  f"not {self.count}", "input": None})
        return errors


def _skip(text: str, i: int) -> int:
    """The index of the first non-whitespace character from ``i`` (RFC 8259 §2)."""
    match = _WS.match(text, i)
    return match.end() if match is not None else i


def _json_error(pos: int, why: str) -> RequestValidationError:
    return RequestValidationError([{"type": "json_invalid", "loc": ("body", pos),
                                    "msg": "JSON decode error", "input": {}, "ctx": {"error": why}}])
