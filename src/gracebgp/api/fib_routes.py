"""GetFib (``GET /v1/fib``, ``gracebgp fib``): the kernel FIB's state per family, read from
the daemon's ``runtime.fibdriver`` between owner turns. Registered by ``api.server``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from gracebgp.api.fib_schema import FibView
from gracebgp.api.service import RequestError
from gracebgp.runtime.fibdriver import FibDriver

OFF = "the kernel FIB is off: set fib = true in [gracebgp] (docs/configuration.md, \"The kernel FIB\")"


def register(app: FastAPI, driver: Callable[[], FibDriver | None],
             responses: dict[int | str, dict[str, Any]]) -> None:
    @app.get("/v1/fib", response_model=FibView, operation_id="GetFib", responses=responses)
    async def get_fib() -> FibView:
        """The kernel FIB per family: installed, pending, adopted, conflicts, failures
        with the kernel's errno, and why the F bit is what it is. 404 when it is off."""
        d = driver()
        if d is None:
            raise RequestError(404, OFF)
        return FibView.model_validate(d.view())
