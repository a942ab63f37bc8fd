"""The HTTP/JSON API (docs/api.md) served by gracebgpd inside its own event loop: FastAPI
on uvicorn, on a Unix socket (mode 0660 or ``api-socket-mode``, group ``api-socket-group``),
optionally on TCP with a bearer token (and TLS), and optionally GET /metrics alone on a
listener of its own, without a token (``metrics-listen``).
Reads come straight from the speaker between owner turns; every change goes to the owner
as a command and waits for its Reply (DESIGN.md rule 1). No request can stop the daemon:
every failure becomes a 4xx/5xx answer with a one-line message.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from gracebgp import __version__
from gracebgp.api import bfd_routes, bulk, fib_routes, grview, metrics, policy_routes, schema, service
from gracebgp.api.guards import METRICS_BODY, limit_body, only_metrics, require_token
from gracebgp.api.service import DaemonInfo, RequestError
from gracebgp.config.extras import group_id, server_tls_context
from gracebgp.core import commands as cmd
from gracebgp.core.events import Reply
from gracebgp.runtime.eventbus import End, EventBus
from gracebgp.runtime.httpguard import GatedSocket, ListenerGuard, protocol_for
from gracebgp.runtime.limits import quiet_accept_errors
from gracebgp.runtime.logsetup import quiet_uvicorn
from gracebgp.runtime.owner import Owner

log = logging.getLogger("gracebgp.api")
_ERRORS = {400: "bad request", 401: "unauthorized", 404: "not found", 405: "method not allowed",
           409: "conflict", 413: "request body too large", 422: "invalid request body"}
_ERR: dict[str, Any] = {"model": schema.ApiError}
_R: dict[int | str, dict[str, Any]] = {400: _ERR, 404: _ERR, 409: _ERR, 422: _ERR}


def _error(status: int, message: str, detail: list[str] | None = None) -> JSONResponse:
    return JSONResponse(schema.ApiError(error=message, detail=detail or []).model_dump(), status_code=status)


class Control(Protocol):
    """What the daemon lets the API do to the process itself (spec section 6)."""

    @property
    def drain_delay(self) -> float: ...

    async def restart(self, graceful: bool = False) -> str: ...

    def stop(self, withdraw: bool, message: str) -> str: ...


def build_app(owner: Owner, info: DaemonInfo, hostname: str | None,
              control: Control | None = None) -> FastAPI:
    speaker = owner.speaker
    loop_time = asyncio.get_event_loop().time
    registry = metrics.registry_for(speaker, info, loop_time, owner.steps)
    app = FastAPI(title="gracebgpd", version=__version__,
                  description="The gracebgp BGP speaker's API (see docs/api.md).")

    def end_streams() -> EventBus:
        """For ApiServer.stop: every event stream ends, saying why, before uvicorn closes."""
        owner.bus.end("restart" if getattr(control, "reexec", False) else "stop")
        return owner.bus

    app.state.end_streams = end_streams

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return _error(exc.status, str(exc), exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        lines = [f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()]
        return _error(422, lines[0] if lines else "invalid request", lines[:50])

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        text = str(exc.detail) if exc.detail else _ERRORS.get(exc.status_code, "error")
        return _error(exc.status_code, text)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("API request failed", extra={"event": "internal-error"})
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    async def run(command: object) -> schema.Done:
        reply = await _ask(owner, command, 60.0)
        return schema.Done(ok=True, message=reply.message)

    @app.get("/v1/global", response_model=schema.Global, operation_id="GetGlobal")
    async def get_global() -> schema.Global:
        return service.global_view(speaker, info, loop_time())

    @app.get("/v1/peers", response_model=list[schema.Peer], operation_id="ListPeers")
    async def list_peers() -> list[schema.Peer]:
        return service.list_peers(speaker, loop_time())

    @app.get("/v1/peers/{address}", response_model=schema.Peer, operation_id="GetPeer", responses=_R)
    async def get_peer(address: str) -> schema.Peer:
        return service.get_peer(speaker, address, loop_time(), info)

    @app.post("/v1/peers", response_model=schema.Done, status_code=201, operation_id="AddPeer", responses=_R)
    async def add_peer(body: schema.PeerAdd) -> schema.Done:
        return await run(service.add_peer_command(body, info, hostname))

    @app.delete("/v1/peers/{address}", response_model=schema.Done, operation_id="DeletePeer", responses=_R)
    async def delete_peer(address: str) -> schema.Done:
        return await run(cmd.DeletePeer(service.find_peer(speaker, address).address))

    @app.post("/v1/peers/{address}/enable", response_model=schema.Done, operation_id="EnablePeer",
              responses=_R)
    async def enable_peer(address: str) -> schema.Done:
        return await run(cmd.EnablePeer(service.find_peer(speaker, address).address))

    @app.post("/v1/peers/{address}/shutdown", response_model=schema.Done, operation_id="ShutdownPeer",
              responses=_R)
    async def shutdown_peer(address: str, body: schema.PeerShutdown | None = None) -> schema.Done:
        peer = service.find_peer(speaker, address)
        return await run(cmd.ShutdownPeer(peer.address, body.message if body else ""))

    @app.post("/v1/peers/{address}/reset", response_model=schema.Done, operation_id="ResetPeer", responses=_R)
    async def reset_peer(address: str, body: schema.PeerReset | None = None) -> schema.Done:
        body = body or schema.PeerReset()
        peer = service.find_peer(speaker, address)
        return await run(cmd.ResetPeer(peer.address, body.mode, body.message, body.hard_reset))

    # The bodies are read in slices (api/bulk.py), not by FastAPI: documented by hand.
    @app.post("/v1/paths", response_model=schema.PathsChanged, operation_id="AddPaths", responses=_R,
              openapi_extra=_body_doc("PathsAdd"))
    async def add_paths(request: Request) -> schema.PathsChanged:
        return await _changed(owner, await bulk.add_routes_command(request))

    @app.post("/v1/paths/delete", response_model=schema.PathsChanged, operation_id="DeletePaths",
              responses=_R, openapi_extra=_body_doc("PathsDelete"))
    async def delete_paths(request: Request) -> schema.PathsChanged:
        return await _changed(owner, await bulk.delete_routes_command(request))

    @app.get("/v1/paths", operation_id="ListPaths", responses={
        200: {"description": "NDJSON: one PathEntry per line",
              "content": {"application/x-ndjson": {"schema": schema.PathEntry.model_json_schema()}}},
        **_R})
    async def list_paths(table: Literal["loc", "adj-in", "adj-out"] = "loc",
                         family: schema.FamilyName = "ipv4-unicast",
                         peer: str | None = Query(default=None, max_length=64),
                         prefix: str | None = Query(default=None, max_length=64),
                         longer: bool = False, post_policy: bool = True, best: bool = False) -> Response:
        q = service.PathQuery(table, family, peer, prefix, longer, post_policy, best)
        chunks = service.paths(speaker, q, loop_time())
        return StreamingResponse(_paced(chunks), media_type="application/x-ndjson")

    @app.get("/v1/events", operation_id="WatchEvents", responses={
        200: {"description": "server-sent events; each data line is an Event",
              "content": {"text/event-stream": {"schema": schema.Event.model_json_schema()}}}})
    async def watch_events(request: Request, routes: bool = False, history: bool = False) -> Response:
        last_id = request.headers.get("last-event-id")  # a reconnecting client (SSE)
        return StreamingResponse(_sse(owner.bus, routes, history, last_id and last_id[:64]),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/v1/events/history", response_model=list[schema.Event], operation_id="ListEvents")
    async def list_events() -> list[dict[str, Any]]:
        return list(owner.bus.history)

    @app.get("/v1/health", response_model=schema.Health, operation_id="GetHealth")
    async def get_health() -> schema.Health:
        return service.health(speaker, info, loop_time())

    def lifecycle() -> Control:
        if control is None:
            raise RequestError(501, "this server cannot restart or stop its process")
        return control

    @app.post("/v1/restart", response_model=schema.Done, status_code=202, operation_id="Restart",
              responses={501: _ERR, 409: _ERR})
    async def restart(graceful: bool = Query(default=False)) -> schema.Done:
        """Planned restart, same PID (re-exec): the Established sessions are handed over to
        the new process (peers see nothing); ``graceful``: graceful restart instead (peers
        keep our routes as stale). 409, every session up, when the new process would not
        start (configuration, code on disk, hand-over state format) or, without
        ``graceful``, a session cannot be handed over."""
        return schema.Done(ok=True, message=await lifecycle().restart(graceful))

    @app.post("/v1/stop", response_model=schema.Done, status_code=202, operation_id="Stop",
              responses={501: _ERR, 422: _ERR})
    async def stop(body: schema.StopRequest | None = None) -> schema.Done:
        body = body or schema.StopRequest()
        return schema.Done(ok=True, message=lifecycle().stop(body.withdraw, body.message))

    @app.post("/v1/drain", response_model=schema.DrainResult, operation_id="Drain", responses=_R)
    async def drain(body: schema.DrainRequest | None = None) -> schema.DrainResult:
        body = body or schema.DrainRequest()
        delay = body.delay if body.delay is not None else (control.drain_delay if control else 10.0)
        reply = await _ask(owner, cmd.Drain(delay, body.cancel), 60.0)
        fields: dict[str, Any] = {"message": reply.message, **reply.result}
        if body.wait and not body.cancel:
            fields["waited"], fields["unsent_bytes"] = await _drained(owner, delay + 60.0)
            fields["phase"] = speaker.drain
        return schema.DrainResult(**fields)

    @app.get("/v1/gr", response_model=schema.GrStatus, operation_id="GetGrStatus")
    async def gr_status() -> schema.GrStatus:
        status, fib = grview.gr_status(speaker, loop_time()), getattr(control, "fib", None)
        return fib_routes.with_forwarding(status, fib, info.forwarding_state_preserved)

    @app.get("/v1/timeline", response_model=schema.Timeline, operation_id="GetTimeline", responses=_R)
    async def timeline(peer: str | None = Query(default=None, max_length=64)) -> schema.Timeline:
        address = service.find_peer(speaker, peer).address if peer is not None else None
        return grview.timeline(owner.bus.history, address)

    @app.get("/metrics", operation_id="GetMetrics", response_class=Response,
             responses={200: {"content": {metrics.CONTENT_TYPE: {}}, "description": "Prometheus text"}})
    async def get_metrics() -> Response:
        return Response(metrics.render(registry), media_type=metrics.CONTENT_TYPE)

    policy_routes.register(app, speaker, lambda command: _ask(owner, command, 60.0), _R)
    fib_routes.register(app, lambda: getattr(control, "fib", None), _R, registry)
    bfd_routes.register(app, getattr(control, "bfd", None), registry)
    _with_body_models(app)
    return app


async def _ask(owner: Owner, command: object, timeout: float) -> Reply:
    """The speaker's Reply to ``command``; a refusal becomes the RequestError it names."""
    try:
        reply = await owner.request(command, timeout)
    except TimeoutError:
        raise RequestError(503, "the speaker did not answer in time") from None
    if reply.status >= 400:
        raise RequestError(reply.status, reply.message)
    return reply


async def _drained(owner: Owner, timeout: float) -> tuple[float, int]:
    """Wait (bounded) until the drain has withdrawn (every slice of it queued: no table
    still going out) and every socket's queue is empty
    (spec section 6, ``drain --wait``); returns (seconds waited, octets still unsent)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    unsent = owner.transport.unsent()
    while loop.time() - start < timeout:
        unsent = owner.transport.unsent()
        if owner.speaker.drain != "gshut" and not owner.speaker.sending and unsent == 0:
            break
        await asyncio.sleep(0.05)
    return round(loop.time() - start, 3), unsent


def _body_doc(model: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model}"}}}}}


def _with_body_models(app: FastAPI) -> None:
    """Put the models of the bodies read by hand (``_body_doc``) into the OpenAPI document,
    as FastAPI writes them for a declared body."""
    base = app.openapi

    async def add(body: schema.PathsAdd) -> None: ...

    async def delete(body: schema.PathsDelete) -> None: ...

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = base()
            models = get_openapi(title="", version="", routes=[APIRoute("/add", add, methods=["POST"]),
                                                               APIRoute("/delete", delete, methods=["POST"])])
            found = doc.setdefault("components", {}).setdefault("schemas", {})
            found.update(models["components"]["schemas"])
            doc["components"]["schemas"] = dict(sorted(found.items()))
            for path in ("/v1/paths", "/v1/paths/delete"):  # FastAPI's order: body, answers
                op = doc["paths"][path]["post"]
                op["requestBody"], op["responses"] = op.pop("requestBody"), op.pop("responses")
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _changed(owner: Owner, command: object) -> schema.PathsChanged:
    reply = await _ask(owner, command, 300.0)
    return schema.PathsChanged(**reply.result)


async def _paced(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Yield to the event loop between chunks so the owner keeps running."""
    for chunk in chunks:
        yield chunk
        await asyncio.sleep(0)


async def _sse(bus: EventBus, routes: bool, history: bool, last_id: str | None) -> AsyncIterator[str]:
    """WatchEvents (docs/api.md): ``id: <run>.<seq>`` on every event; a client sending
    Last-Event-ID gets what it missed from the history; ``event: end`` with the reason
    when the daemon stops or re-executes, then the stream ends."""
    sub = bus.subscribe(routes)  # the history is read in the same step: no gap, no repeat
    past = [] if bus.ended else bus.replay(last_id) if last_id else list(bus.history) if history else []
    try:
        if bus.ended is None:  # a stopping daemon answers with the end alone
            yield ": gracebgpd events\n\n"
        for event in past:
            yield _frame(bus, event)
        while True:
            try:
                item = await asyncio.wait_for(sub.queue.get(), 15.0)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if item is None:
                yield "event: overflow\ndata: {}\n\n"
                return
            if isinstance(item, End):
                end = json.dumps({"reason": item.reason})
                yield f"event: end\nid: {item.last_id}\ndata: {end}\n\n"
                return
            yield _frame(bus, item)
    finally:
        bus.unsubscribe(sub)


def _frame(bus: EventBus, event: dict[str, Any]) -> str:
    return f"id: {bus.event_id(event['seq'])}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


class _Embedded(uvicorn.Server):
    """uvicorn inside the daemon's loop: the daemon owns the signals. Its listening
    sockets accept at most ``guard``'s cap of connections (runtime/httpguard.py)."""

    def __init__(self, config: uvicorn.Config, guard: ListenerGuard) -> None:
        super().__init__(config)
        self.guard = guard

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        gated: list[socket.socket] | None = (
            [GatedSocket.gate(sock, self.guard) for sock in sockets] if sockets is not None else None)
        await super().startup(gated)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _EmbeddedTLS(_Embedded):
    """The TCP API with TLS: uvicorn serves with the context :meth:`ApiServer.start` built
    (``api-tls-cert-file``, ``api-tls-key-file``: config.extras.server_tls_context)."""

    tls: ssl.SSLContext | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.config.ssl = self.tls  # after uvicorn's Config.load(), which serve() ran
        await super().startup(sockets)


class ApiServer:
    """The listeners: the Unix socket always; the TCP API (with TLS when ``tls`` names the
    certificate and key files) and the metrics listener when configured."""

    def __init__(self, app: FastAPI, socket_path: str, tcp: tuple[str, int] | None = None,
                 token: str | None = None, *, socket_group: str | int | None = None,
                 socket_mode: int = 0o660, tls: tuple[str, str] | None = None,
                 metrics: tuple[str, int] | None = None) -> None:
        self.socket_path = socket_path
        self.socket_group, self.socket_mode = socket_group, socket_mode
        self.app = app
        self.servers: list[_Embedded] = []
        #: What each listener after the Unix socket is, for the errors of start().
        self.labels: list[str] = []
        self.tls_files = tls if tcp is not None and token else None
        #: The API listeners share the fd budget (runtime/limits.api_connection_cap).
        count = max(2, 1 + (tcp is not None and bool(token)) + (metrics is not None))
        with contextlib.suppress(RuntimeError):  # outside a loop (tests): asyncio's default
            quiet_accept_errors(asyncio.get_running_loop())
        quiet_uvicorn()  # no "Uvicorn running ... (Press CTRL+C to quit)": SIGINT withdraws our routes
        common: dict[str, Any] = {"log_config": None, "access_log": False, "lifespan": "off",
                                  "timeout_graceful_shutdown": 2}
        # Connection cap and head/body deadlines per listener (runtime/httpguard.py).
        unix = ListenerGuard(f"unix:{socket_path}", listeners=count)
        self.servers.append(_Embedded(uvicorn.Config(limit_body(app), uds=socket_path,
                                                     http=protocol_for(unix), **common), unix))
        if tcp is not None and token:
            guarded = require_token(limit_body(app), token)
            inet = ListenerGuard(f"{tcp[0]} port {tcp[1]}", listeners=count)
            kind = _EmbeddedTLS if self.tls_files else _Embedded
            self.servers.append(kind(uvicorn.Config(guarded, host=tcp[0], port=tcp[1],
                                                    http=protocol_for(inet), **common), inet))
            self.labels.append(f"API on TCP {tcp[0]} port {tcp[1]}")
        if metrics is not None:
            scrape = ListenerGuard(f"metrics {metrics[0]} port {metrics[1]}", listeners=count)
            self.servers.append(_Embedded(uvicorn.Config(only_metrics(limit_body(app, METRICS_BODY)),
                                                         host=metrics[0], port=metrics[1],
                                                         http=protocol_for(scrape), **common), scrape))
            self.labels.append(f"metrics listener on TCP {metrics[0]} port {metrics[1]}")
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Bind every listener, then serve. OSError naming the listener when one cannot be
        bound (a start-up failure: never a daemon nobody can manage); a Unix socket another
        process still answers on is never taken over."""
        path = Path(self.socket_path)
        for server in self.servers:
            if isinstance(server, _EmbeddedTLS) and self.tls_files is not None:
                try:
                    server.tls = server_tls_context(*self.tls_files)
                except ValueError as exc:
                    raise OSError(errno.EINVAL, f"API TLS: {exc}") from None
        try:
            gid = group_id(self.socket_group) if self.socket_group is not None else None
        except ValueError as exc:
            raise OSError(errno.EINVAL, f"API socket {path}: api-socket-group: {exc}") from None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _clear_stale_socket(path)
            mask = os.umask(0o177)  # created owner-only: nobody connects before its mode is set
            try:
                sockets = [_bind(socket.AF_UNIX, str(path))]
            finally:
                os.umask(mask)
        except OSError as exc:
            raise OSError(exc.errno, f"API socket {path}: {exc.strerror or exc}") from None
        try:
            _set_access(path, gid, self.socket_group, self.socket_mode)
            for server, label in zip(self.servers[1:], self.labels, strict=True):
                host, port = server.config.host, server.config.port
                try:
                    sockets.append(_bind(socket.AF_INET6 if ":" in host else socket.AF_INET, (host, port)))
                except OSError as exc:
                    raise OSError(exc.errno, f"{label}: {exc.strerror or exc}") from None
        except OSError:
            for sock in sockets:
                sock.close()
            path.unlink(missing_ok=True)
            raise
        for server, sock in zip(self.servers, sockets, strict=True):
            self.tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        for _ in range(100):  # bounded: 5 s
            if all(s.started for s in self.servers) or any(t.done() for t in self.tasks):
                break
            await asyncio.sleep(0.05)
        for server, task in zip(self.servers, self.tasks, strict=True):
            if task.done() and not server.started:
                failure = task.exception()
                log.error("API listener failed to start: %s", failure or "see above")

    async def stop(self) -> None:
        end_streams: Callable[[], EventBus] | None = getattr(self.app.state, "end_streams", None)
        if end_streams is not None:  # event streams end first, cleanly (no cancelled task)
            bus = end_streams()
            for _ in range(40):  # bounded: 2 s for every stream to send its end event
                if not bus.ending:
                    break
                await asyncio.sleep(0.05)
        for server in self.servers:
            server.should_exit = True
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5.0)
        with contextlib.suppress(OSError):
            Path(self.socket_path).unlink()


def _set_access(path: Path, gid: int | None, group: str | int | None, mode: int) -> None:
    """The API socket's group (``api-socket-group``, when set) and mode; OSError naming
    what could not be set (a group the daemon is not in needs root or CAP_CHOWN)."""
    what = f"give it group {group}"
    try:
        if gid is not None:
            os.chown(path, -1, gid)
        what = f"set its mode {mode:04o}"
        os.chmod(path, mode)
    except OSError as exc:
        raise OSError(exc.errno, f"API socket {path}: cannot {what}: {exc.strerror or exc}") from None


def _clear_stale_socket(path: Path) -> None:
    """Remove a socket file left by a process that is gone; EADDRINUSE when a process
    answers on it (another daemon's API: taking it over would strand that daemon)."""
    if not path.is_socket():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()
            return
    raise OSError(errno.EADDRINUSE, "in use by another process (another gracebgpd?); not taken over")


def _bind(family: socket.AddressFamily, address: str | tuple[str, int]) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
