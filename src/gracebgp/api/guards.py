"""The API's ASGI guards, in front of the app: a body size limit, the TCP listener's
bearer token, and the metrics listener's single route (docs/api.md "Limits", "Access")."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException

# 413 above this, before a byte is parsed (docs/api.md "Limits"). AddPaths costs 50-100
# octets a path: 32 MiB is 300k-600k paths; larger batches are split (the client and
# ``gracebgp rib add --file`` do it). The body is parsed in slices (api/bulk.py).
MAX_BODY = 32 * 1024 * 1024
#: The metrics listener takes GET /metrics alone: no request there has a body to speak of.
METRICS_BODY = 4096
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def limit_body(app: ASGIApp, limit: int = MAX_BODY) -> ASGIApp:
    """413 for a body over ``limit`` octets, declared or streamed."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, 413, f"request body over {limit} octets")
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"request body over {limit} octets")
            return message

        await app(scope, counted, send)

    return guarded


def require_token(app: ASGIApp, token: str) -> ASGIApp:
    """TCP listener: every request carries ``Authorization: Bearer <token>``."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            got = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(got, expected):
                await _reject(send, 401, "missing or wrong bearer token (see api-token-file)")
                return
        await app(scope, receive, send)

    return guarded


def only_metrics(app: ASGIApp) -> ASGIApp:
    """The metrics listener (``metrics-listen``): ``GET /metrics`` goes through, anything
    else is answered 404 (another path) or 405 (another method) without reaching the app."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; a websocket is closed unanswered
            return
        if scope.get("path") != "/metrics":
            await _reject(send, 404, "not found: this listener serves only GET /metrics")
        elif scope.get("method") != "GET":
            await _reject(send, 405, "method not allowed: this listener serves only GET /metrics",
                          [(b"allow", b"GET")])
        else:
            await app(scope, receive, send)

    return guarded


async def _reject(send: Send, status: int, message: str,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": message, "detail": []}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
