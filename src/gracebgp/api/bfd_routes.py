"""``GET /v1/bfd`` (ListBfdSessions): gracebgp-bfdd's sessions, asked through the daemon's
BFD link (runtime.bfdlink); an empty list when no BFD is configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI

from gracebgp.api.bfd_schema import BfdSession

Sessions = Callable[[], Awaitable[list[dict[str, Any]]]]


def register(app: FastAPI, sessions: Sessions | None) -> None:
    @app.get("/v1/bfd", response_model=list[BfdSession], operation_id="ListBfdSessions")
    async def list_bfd() -> list[BfdSession]:
        found = [] if sessions is None else await sessions()
        return [BfdSession.model_validate(s) for s in sorted(found, key=lambda s: str(s.get("peer")))]
