"""A small synchronous client of the gracebgpd HTTP/JSON API (layer L4), on httpx.

The target is a Unix socket (``unix:/run/gracebgp/gracebgpd.sock`` or a bare path) or a
URL (``http://host:port``, ``https://...``). An ``https`` daemon's certificate is verified
against ``ca_file`` (``$GRACEBGP_CA_FILE``) when given, else against the system's trusted
CAs; one that does not verify is refused. Answers are parsed into the models of
:mod:`gracebgp.api.schema`; every failure, from a missing socket to a 404, becomes one
:class:`ClientError` whose text is a single line for a person (docs/api.md, "Errors").
"""

from __future__ import annotations

import json
import os
import re
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Literal, TypeVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from gracebgp.api.bfd_schema import BfdSession
from gracebgp.api.fib_client import FibCalls
from gracebgp.api.policy_client import PolicyCalls
from gracebgp.api.proxy_schema import ProxySession
from gracebgp.api.schema import (
    ApiError,
    Done,
    DrainRequest,
    DrainResult,
    Event,
    Global,
    GrStatus,
    Health,
    PathEntry,
    PathsAdd,
    PathsChanged,
    PathsDelete,
    PathSpec,
    Peer,
    PeerAdd,
    PeerReset,
    PeerShutdown,
    StopRequest,
    Timeline,
)

__all__ = ["CA_FILE_ENV", "DEFAULT_SOCKET", "Client", "ClientError", "ResetMode", "socket_path",
           "tls_context"]

DEFAULT_SOCKET = "/run/gracebgp/gracebgpd.sock"
#: The CA file that verifies an https daemon when the caller names none (``gracebgp --ca-file``).
CA_FILE_ENV = "GRACEBGP_CA_FILE"
#: The base URL of requests over a Unix socket (the host part is only a label).
SOCKET_BASE_URL = "http://gracebgpd"

ResetMode = Literal["hard", "soft", "soft-in", "soft-out"]
M = TypeVar("M", bound=BaseModel)
L = TypeVar("L")
P = TypeVar("P")
#: AddPaths/DeletePaths split into requests of at most this many paths and octets of
#: JSON: the daemon refuses bodies over 32 MiB (api/guards.py MAX_BODY) and takes ~1 s per
#: 100k paths, well inside the client's timeout.
BATCH_PATHS = 100_000
BATCH_OCTETS = 16 * 1024 * 1024
BATCH_TIMEOUT = 60.0  # seconds to wait for the answer to a batch of more than 10,000 paths

_PEERS = TypeAdapter(list[Peer])
_PROXY_SESSIONS = TypeAdapter(list[ProxySession])
_BFD_SESSIONS = TypeAdapter(list[BfdSession])
_EVENTS = TypeAdapter(list[Event])
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")
#: WatchEvents reconnection backoff (seconds): first wait, then doubling up to the max.
RECONNECT_FIRST, RECONNECT_MAX = 0.1, 2.0
#: ... and no more than this many reconnections within one reconnection window.
RECONNECT_LIMIT = 20
_END_REASONS = {"restart": "restarting", "stop": "stopping"}


class ClientError(Exception):
    """A request that did not succeed: ``status`` is the HTTP status, None when the
    daemon could not be reached or answered nonsense; ``api_error`` the parsed body."""

    def __init__(self, message: str, status: int | None = None, api_error: ApiError | None = None) -> None:
        self.message = " ".join(message.split())  # always one line
        self.status = status
        self.api_error = api_error
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def socket_path(target: str) -> str | None:
    """The Unix socket path a target names, or None for an http(s) URL."""
    if target.startswith(("http://", "https://")):
        return None
    return target.removeprefix("unix:")


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """How an https daemon is verified: its certificate must chain to ``ca_file`` (PEM; a
    self-signed certificate can be its own CA), else to the system's trusted CAs, and name
    the host of the URL. ``ClientError`` when ``ca_file`` cannot be used."""
    try:
        return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    except OSError as exc:  # ssl.SSLError is one
        why = exc.strerror if not isinstance(exc, ssl.SSLError) else _tls_reason(exc)
        raise ClientError(f"cannot use the CA file {ca_file}: {why or exc}") from None


class Client(PolicyCalls, FibCalls):
    """One connection to one gracebgpd; use as a context manager or call :meth:`close`."""

    def __init__(self, target: str, token: str | None = None, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None, ca_file: str | None = None) -> None:
        """``transport`` replaces the socket or TCP connection (tests use
        ``httpx.MockTransport``); ``ca_file`` verifies an https daemon (default
        ``$GRACEBGP_CA_FILE``, else the system's CAs)."""
        self.target = target
        self._timeout = timeout
        #: The CA file an https target is verified with (None: the system's CAs, or not https).
        self.ca_file: str | None = None
        headers = {"Accept": "application/json", "User-Agent": "gracebgp-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        path = socket_path(target)
        if path is not None:
            if not path:
                raise ClientError(f"no socket path in target {target!r}")
            self._http = httpx.Client(transport=transport or httpx.HTTPTransport(uds=path),
                                      base_url=SOCKET_BASE_URL, headers=headers, timeout=timeout)
        else:
            https = target.startswith("https://")
            self.ca_file = (ca_file or os.environ.get(CA_FILE_ENV) or None) if https else None
            verify = tls_context(self.ca_file) if https and transport is None else True
            self._http = httpx.Client(transport=transport, base_url=target.rstrip("/"), headers=headers,
                                      timeout=timeout, verify=verify)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- operations ---------------------------------------------------------------------

    def global_(self) -> Global:
        """GetGlobal."""
        return self._parse(Global, self._request("GET", "/v1/global"))

    def peers(self) -> list[Peer]:
        """ListPeers."""
        return self._parse_list(_PEERS, self._request("GET", "/v1/peers"))

    def peer(self, address: str) -> Peer:
        """GetPeer."""
        return self._parse(Peer, self._request("GET", _peer_path(address)))

    def add_peer(self, peer: PeerAdd) -> Peer:
        """AddPeer; the new peer as the daemon now shows it."""
        response = self._request("POST", "/v1/peers", body=peer)
        try:
            return Peer.model_validate_json(response.content)
        except ValidationError:
            self._parse(Done, response)  # a daemon that answers Done: then ask for the peer
            return self.peer(peer.address)

    def delete_peer(self, address: str) -> Done:
        """DeletePeer."""
        return self._parse(Done, self._request("DELETE", _peer_path(address)))

    def enable_peer(self, address: str) -> Done:
        """EnablePeer."""
        return self._parse(Done, self._request("POST", _peer_path(address, "enable")))

    def shutdown_peer(self, address: str, message: str = "") -> Done:
        """ShutdownPeer, with an RFC 9003 shutdown communication."""
        body = PeerShutdown(message=message)
        return self._parse(Done, self._request("POST", _peer_path(address, "shutdown"), body=body))

    def reset_peer(self, address: str, mode: ResetMode = "hard", message: str = "",
                   hard_reset: bool = False) -> Done:
        """ResetPeer: hard (the session restarts; ``hard_reset``: as RFC 8538 Hard Reset),
        soft (both directions), soft-in or soft-out."""
        body = PeerReset(mode=mode, message=message, hard_reset=hard_reset)
        return self._parse(Done, self._request("POST", _peer_path(address, "reset"), body=body))

    def add_paths(self, paths: list[PathSpec]) -> PathsChanged:
        """AddPaths: originate (or replace) routes. More than ``BATCH_PATHS`` paths (or
        ``BATCH_OCTETS`` of JSON) go in several requests, in order (docs/api.md "Limits");
        each is all or nothing, and a refused one says how many were added before it."""
        return self._batched("/v1/paths", paths, lambda part: PathsAdd(paths=part), "added")

    def delete_paths(self, prefixes: list[str]) -> PathsChanged:
        """DeletePaths: withdraw routes this speaker originates (in batches, as add_paths)."""
        return self._batched("/v1/paths/delete", prefixes, lambda part: PathsDelete(prefixes=part),
                             "deleted")

    def _batched(self, path: str, items: list[P], body: Callable[[list[P]], BaseModel],
                 verb: str) -> PathsChanged:
        changed = unchanged = 0
        done = 0
        pending = [items[i:i + BATCH_PATHS] for i in range(0, len(items), BATCH_PATHS)] or [items]
        while pending:
            part = pending.pop(0)
            content = body(part).model_dump_json().encode()
            if len(content) > BATCH_OCTETS and len(part) > 1:  # long attributes: smaller batches
                half = len(part) // 2
                pending[:0] = [part[:half], part[half:]]
                continue
            # A large batch takes the daemon seconds (slices between its sessions' work).
            wait = self._timeout if len(part) <= 10_000 else max(self._timeout, BATCH_TIMEOUT)
            try:
                answer = self._parse(PathsChanged, self._checked(self._post_json(path, content, wait)))
            except ClientError as exc:
                if not done:
                    raise
                raise ClientError(f"{exc} (in the request for items {done + 1}-{done + len(part)} of "
                                  f"{len(items)}; the {done} before it were {verb}: {changed} changed)",
                                  exc.status, exc.api_error) from exc
            changed += answer.changed
            unchanged += answer.unchanged
            done += len(part)
        return PathsChanged(changed=changed, unchanged=unchanged)

    def _post_json(self, path: str, content: bytes, timeout: float) -> httpx.Response:
        try:
            return self._http.request("POST", path, content=content, timeout=timeout,
                                      headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    def restart(self, graceful: bool = False) -> Done:
        """Restart: planned restart of the daemon (same PID): the sessions are handed over;
        ``graceful``: graceful restart instead (R=1)."""
        return self._parse(Done, self._request("POST", "/v1/restart?graceful=true" if graceful
                                               else "/v1/restart"))

    def stop(self, withdraw: bool = True, message: str = "") -> Done:
        """Stop: withdrawing (peers drop our routes now) or retaining (they keep them)."""
        body = StopRequest(withdraw=withdraw, message=message)
        return self._parse(Done, self._request("POST", "/v1/stop", body=body))

    def drain(self, wait: bool = False, delay: float | None = None, cancel: bool = False) -> DrainResult:
        """Drain (RFC 8326); with ``wait`` the answer comes once the withdrawals are out."""
        body = DrainRequest(wait=wait, delay=delay, cancel=cancel)
        return self._parse(DrainResult, self._request("POST", "/v1/drain", body=body))

    def gr_status(self) -> GrStatus:
        """GetGrStatus: our restart, selection deferral and helper episodes."""
        return self._parse(GrStatus, self._request("GET", "/v1/gr"))

    def timeline(self, peer: str | None = None) -> Timeline:
        """GetTimeline: the last restart (or a peer's last GR episode)."""
        path = "/v1/timeline" + (f"?peer={quote(peer, safe='')}" if peer else "")
        return self._parse(Timeline, self._request("GET", path))

    def list_paths(self, table: str = "loc", family: str = "ipv4-unicast", peer: str | None = None,
                   prefix: str | None = None, longer: bool = False, post_policy: bool = True,
                   best: bool = False) -> Iterator[PathEntry]:
        """ListPaths: the NDJSON stream, parsed one line at a time."""
        params: dict[str, str] = {"table": table, "family": family}
        if peer is not None:
            params["peer"] = peer
        if prefix is not None:
            params["prefix"] = prefix
        if longer:
            params["longer"] = "true"
        if not post_policy:
            params["post_policy"] = "false"
        if best:
            params["best"] = "true"
        for line in self._stream_lines("/v1/paths", params, self._timeout):
            if line.strip():
                yield self._parse_json(PathEntry, line)

    def events_history(self) -> list[Event]:
        """ListEvents: the most recent events."""
        return self._parse_list(_EVENTS, self._request("GET", "/v1/events/history"))

    def watch_events(self, routes: bool = False, history: bool = False, reconnect: float = 0.0,
                     on_status: Callable[[str], None] | None = None) -> Iterator[Event]:
        """WatchEvents: follow the server-sent event stream (no read timeout).

        The daemon ends the stream with ``event: end`` when it stops or re-executes. With
        ``reconnect`` > 0 the watch goes on through that and through a lost connection:
        it reconnects with a bounded backoff (0.1 s doubling to 2 s) for at most
        ``reconnect`` seconds (and at most RECONNECT_LIMIT times within that long), tells
        ``on_status`` ("gracebgpd restarting; reconnecting...", "reconnected ..."), and
        resumes after the last event it saw (Last-Event-ID): no event twice, and the new
        process's events from before the reconnection come from its history. Route events
        are not kept in the history: those are lost meanwhile. A stream closed without
        ``event: end`` ends the watch.
        """
        params = {"routes": _flag(routes), "history": _flag(history)}
        last_id: str | None = None
        deadline: float | None = None  # while reconnecting
        delay = RECONNECT_FIRST
        note = on_status or (lambda _: None)
        outages: list[float] = []  # when each reconnection began (a bound on flapping)
        ever_opened = False
        while True:
            why = ""
            try:
                for kind, event_id, data in self._sse_frames(params, last_id):
                    last_id = event_id or last_id
                    if kind == "open":
                        ever_opened = True
                        if deadline is not None:
                            note(f"reconnected to gracebgpd at {self.target}")
                            deadline, delay = None, RECONNECT_FIRST
                    elif kind == "message" and data:
                        yield self._parse_json(Event, data)
                    elif kind == "overflow":
                        raise ClientError(f"gracebgpd at {self.target} ended the event stream: this "
                                          f"watcher fell behind and events were lost")
                    elif kind == "end":
                        why = f"gracebgpd {_END_REASONS.get(_end_reason(data), 'ended the event stream')}"
                        break
            except ClientError as exc:
                if not reconnect or not ever_opened or not isinstance(exc.__cause__, httpx.TransportError):
                    raise
                why = str(exc)  # lost the connection to gracebgpd at ...: reason
            if not reconnect or not why:
                return  # ended by the daemon without saying why: the caller reports it
            now = time.monotonic()
            if deadline is None:  # a new outage
                outages = [t for t in outages if now - t < reconnect] + [now]
                if len(outages) > RECONNECT_LIMIT:
                    raise ClientError(f"gracebgpd at {self.target} ended the event stream "
                                      f"{len(outages)} times within {reconnect:g}s; giving up")
                deadline = now + reconnect
                note(f"{why}; reconnecting...")
            elif now >= deadline:
                raise ClientError(f"gracebgpd at {self.target} did not come back within {reconnect:g}s "
                                  f"({why})")
            time.sleep(delay)  # bounded backoff, also when a stopping daemon ends it at once
            delay = min(2 * delay, RECONNECT_MAX)

    def _sse_frames(self, params: Mapping[str, str], last_id: str | None) -> Iterator[tuple[str, str, str]]:
        """Each SSE frame as (event type, id or "", data), after ("open", "", "") once the
        stream has started with something other than its end."""
        headers = {"Last-Event-ID": last_id} if last_id else None
        data: list[str] = []
        kind, event_id = "message", ""
        opened = False  # a stream that starts with its end (the daemon is stopping) is not open
        for line in self._stream_lines("/v1/events", params, None, headers):
            if not line:  # a blank line ends a frame
                if data or kind != "message":
                    if not opened and kind != "end":
                        opened = True
                        yield "open", "", ""
                    yield kind, event_id, "\n".join(data)
                data, kind, event_id = [], "message", ""
            elif line.startswith(":"):  # a comment: the greeting, keep-alives
                if not opened:
                    opened = True
                    yield "open", "", ""
            else:
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "data":
                    data.append(value)
                elif field == "event":
                    kind = value or "message"
                elif field == "id":
                    event_id = value

    def health(self) -> Health:
        """GetHealth; an unhealthy daemon may answer 503 with the Health body."""
        response = self._send("GET", "/v1/health")
        if response.status_code == 503:
            try:
                return Health.model_validate_json(response.content)
            except ValidationError:
                pass
        return self._parse(Health, self._checked(response))

    def metrics(self) -> str:
        """The Prometheus text exposition."""
        return self._request("GET", "/metrics").text

    def proxy_sessions(self, vm: str | None = None, nat_port: int | None = None,
                       control_node: str | None = None, closed: bool = False) -> list[ProxySession]:
        """ListProxySessions (gracebgp-proxyd's API, docs/proxy.md), filtered."""
        params = {k: str(v) for k, v in (("vm", vm), ("nat_port", nat_port),
                                         ("control_node", control_node)) if v is not None}
        if closed:
            params["closed"] = "true"
        path = "/v1/proxy/sessions" + ("?" + urlencode(params) if params else "")
        return self._parse_list(_PROXY_SESSIONS, self._request("GET", path))

    def bfd_sessions(self) -> list[BfdSession]:
        """ListBfdSessions: gracebgp-bfdd's sessions (``gracebgp bfd``)."""
        return self._parse_list(_BFD_SESSIONS, self._request("GET", "/v1/bfd"))

    # --- plumbing -----------------------------------------------------------------------

    def _request(self, method: str, path: str, body: BaseModel | None = None) -> httpx.Response:
        return self._checked(self._send(method, path, body))

    def _send(self, method: str, path: str, body: BaseModel | None = None) -> httpx.Response:
        content = body.model_dump_json().encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            return self._http.request(method, path, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        raise http_error(response.status_code, response.reason_phrase, response.content)

    def _stream_lines(self, path: str, params: Mapping[str, str], read_timeout: float | None,
                      headers: Mapping[str, str] | None = None) -> Iterator[str]:
        timeout = httpx.Timeout(self._timeout, read=read_timeout)
        try:
            with self._http.stream("GET", path, params=params, timeout=timeout, headers=headers) as response:
                if not response.is_success:
                    response.read()
                    raise http_error(response.status_code, response.reason_phrase, response.content)
                yield from response.iter_lines()
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    def _transport_error(self, exc: httpx.HTTPError) -> ClientError:
        if isinstance(exc, httpx.TimeoutException):
            return ClientError(f"gracebgpd at {self.target} did not answer within {self._timeout:g}s")
        unverified = _cause(exc, ssl.SSLCertVerificationError)
        if unverified is not None:
            where = f"the CA file {self.ca_file}" if self.ca_file else "the system's trusted CAs"
            return ClientError(f"cannot verify the TLS certificate of gracebgpd at {self.target}: "
                               f"{_verify_reason(unverified)} (checked against {where}; give the CA that "
                               f"signed it with --ca-file or ${CA_FILE_ENV})")
        handshake = _cause(exc, ssl.SSLError)
        if handshake is not None:
            return ClientError(f"TLS with gracebgpd at {self.target} failed: {_tls_reason(handshake)} "
                               "(does it serve TLS there? api-tls-cert-file; else use an http:// URL)")
        reason = _reason(exc)
        if self.target.startswith("http://") and isinstance(exc, httpx.RemoteProtocolError):
            reason = reason.rstrip(".") + " (if it serves TLS there, use an https:// URL)"
        if isinstance(exc, httpx.ConnectError):
            hint = "see --socket" if socket_path(self.target) is not None else "see --url"
            return ClientError(f"cannot reach gracebgpd at {self.target}: {reason} "
                               f"(is gracebgpd running? {hint})")
        return ClientError(f"lost the connection to gracebgpd at {self.target}: {reason}")

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        return self._parse_json(model, response.content)

    def _parse_json(self, model: type[M], text: str | bytes) -> M:
        try:
            return model.model_validate_json(text)
        except ValidationError as exc:
            raise self._nonsense(model.__name__, exc) from exc

    def _parse_list(self, adapter: TypeAdapter[list[L]], response: httpx.Response) -> list[L]:
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            raise self._nonsense("list", exc) from exc

    def _nonsense(self, what: str, exc: ValidationError) -> ClientError:
        first = exc.errors()[0] if exc.errors() else {"msg": str(exc), "loc": ()}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return ClientError(f"unexpected answer from gracebgpd at {self.target} (expected {what}): "
                           f"{where + ': ' if where else ''}{first.get('msg', '')} "
                           f"(is the client the same version as the daemon?)")


def http_error(status: int, reason: str, body: bytes) -> ClientError:
    """The ClientError of an HTTP error answer, from its ``{"error", "detail"}`` body when
    there is one (FastAPI's own ``{"detail": ...}`` is understood too)."""
    api_error: ApiError | None = None
    try:
        api_error = ApiError.model_validate_json(body)
    except ValidationError:
        api_error = _fastapi_error(body)
    if api_error is None:
        text = body.decode("utf-8", "replace").strip()
        message = f"HTTP {status} {reason}" + (f": {text[:200]}" if text else "")
        return ClientError(message, status)
    message = api_error.error
    if api_error.detail:
        shown = [d for d in api_error.detail[:3] if d and d != message]
        more = len(api_error.detail) - 3
        if shown:
            message += " (" + "; ".join(shown) + (f"; and {more} more" if more > 0 else "") + ")"
    return ClientError(message, status, api_error)


def _fastapi_error(body: bytes) -> ApiError | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or "detail" not in data:
        return None
    detail = data["detail"]
    if isinstance(detail, str):
        return ApiError(error=detail)
    if isinstance(detail, list):
        lines = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                lines.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                lines.append(str(item))
        return ApiError(error="invalid request", detail=lines)
    return None


def _reason(exc: BaseException) -> str:
    """The innermost OS error text (``No such file or directory``), else the message."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return _ERRNO.sub("", str(exc)) or type(exc).__name__


E = TypeVar("E", bound=BaseException)


def _cause(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of type ``kind`` in ``exc``'s chain of causes."""
    seen: BaseException | None = exc
    for _ in range(16):  # bounded: a cycle of contexts is possible
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _verify_reason(exc: ssl.SSLCertVerificationError) -> str:
    """``self-signed certificate``, ``Hostname mismatch, certificate is not valid for
    '127.0.0.2'``, ``certificate has expired``..."""
    return str(exc.verify_message or _tls_reason(exc)).rstrip(".")


def _tls_reason(exc: ssl.SSLError) -> str:
    text = str(exc.reason or (exc.args[1] if len(exc.args) > 1 else exc))
    return re.sub(r"\s*\(_ssl\.c:\d+\)", "", text).replace("_", " ").lower()


def _peer_path(address: str, action: str | None = None) -> str:
    path = f"/v1/peers/{quote(address, safe='')}"
    return f"{path}/{action}" if action else path


def _end_reason(data: str) -> str:
    try:
        reason = json.loads(data).get("reason", "")
    except (ValueError, AttributeError):
        return ""
    return reason if isinstance(reason, str) else ""


def _flag(value: bool) -> str:
    return "true" if value else "false"
