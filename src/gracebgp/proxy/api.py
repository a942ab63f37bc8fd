"""gracebgp-proxyd's own API (layer L4): HTTP/JSON on a Unix socket in its state
directory, like gracebgpd's (docs/api.md): ListProxySessions with filters, health, and
Prometheus metrics per session and per control node (docs/proxy.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Query
from fastapi.responses import PlainTextResponse

from gracebgp import __version__
from gracebgp.api.proxy_schema import ProxySession
from gracebgp.proxy.server import ProxyServer
from gracebgp.proxy.view import session_view


def sessions(server: ProxyServer, vm: str | None = None, nat_port: int | None = None,
             control_node: str | None = None, closed: bool = False) -> list[ProxySession]:
    """The sessions, filtered; closed ones (the last 100) too when ``closed``."""
    pool = [session_view(s.meta, s.relay, server.wall_offset) for s in server.sessions.values()]
    out = []
    for view in pool + (list(server.closed_views) if closed else []):
        if vm is not None and vm not in (view.vm_address, view.vm_interface):
            continue
        if nat_port is not None and view.nat_port != nat_port:
            continue
        if control_node is not None and view.control_node != control_node:
            continue
        out.append(view)
    return sorted(out, key=lambda v: (v.network, v.vm_address, v.kind, v.vm_facing_address))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def metrics_text(server: ProxyServer) -> str:
    """Prometheus text: per session (labels network, vm, kind, nat_port) and per node."""
    rows = [(f'network="{_label(v.network)}",vm="{v.vm_address}",kind="{v.kind}",nat_port="{v.nat_port}"', v)
            for v in sessions(server)]
    families: list[tuple[str, str, str, list[str]]] = [
        ("gracebgp_proxy_messages_total", "counter",
         "BGP messages relayed, per session, direction and type.",
         [f'gracebgp_proxy_messages_total{{{base},direction="{name}",type="{mtype}"}} {n}'
          for base, v in rows for name, d in (("from_vm", v.from_vm), ("from_node", v.from_node))
          for mtype, n in sorted(d.counts.items())]),
        ("gracebgp_proxy_prefixes", "gauge", "Prefixes each way, per session.",
         [f'gracebgp_proxy_prefixes{{{base},direction="{name}"}} {n}'
          for base, v in rows for name, n in (("from_vm", v.prefixes_from_vm), ("to_vm", v.prefixes_to_vm))]),
        ("gracebgp_proxy_session_established", "gauge", "1 when the VM's session is established.",
         [f'gracebgp_proxy_session_established{{{base},control_node="{v.control_node}"}} '
          f'{int(v.phase in ("established", "rehoming"))}' for base, v in rows]),
        ("gracebgp_proxy_rehomings_total", "counter", "Re-homings per session (any outcome).",
         [f"gracebgp_proxy_rehomings_total{{{base}}} {len(v.rehomings)}" for base, v in rows]),
    ]
    nodes = sorted({n for net in server.config.networks for n in net.control_nodes})
    families += [
        ("gracebgp_proxy_node_sessions", "gauge", "Sessions relayed to each control node.",
         [f'gracebgp_proxy_node_sessions{{control_node="{n}"}} '
          f'{sum(1 for _, v in rows if v.control_node == n)}' for n in nodes]),
        ("gracebgp_proxy_node_failures_total", "counter", "Upstream connections a control node lost.",
         [f'gracebgp_proxy_node_failures_total{{control_node="{n}"}} {server.node_failures.get(n, 0)}'
          for n in nodes]),
        ("gracebgp_proxy_rejected_total", "counter", "Connections from addresses that are no configured VM.",
         [f"gracebgp_proxy_rejected_total {server.rejected}"]),
    ]
    lines: list[str] = []
    for name, kind, text, samples in families:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *samples]
    return "\n".join(lines) + "\n"


def build_app(server: ProxyServer) -> FastAPI:
    app = FastAPI(title="gracebgp-proxyd API", version=__version__)

    @app.get("/v1/proxy/sessions", response_model=list[ProxySession], operation_id="ListProxySessions")
    def list_sessions(vm: str | None = Query(None, description="VM address or interface"),
                      nat_port: int | None = Query(None, ge=1, le=65535),
                      control_node: str | None = Query(None),
                      closed: bool = Query(False, description="also the last closed sessions")) \
            -> list[ProxySession]:
        return sessions(server, vm, nat_port, control_node, closed)

    @app.get("/v1/health", operation_id="GetProxyHealth")
    def health() -> dict[str, object]:
        return {"healthy": True, "sessions": len(server.sessions)}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> str:
        return metrics_text(server)

    return app


class _Embedded(uvicorn.Server):
    """uvicorn in the proxy's loop; the daemon owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiListener:
    """The Unix socket (mode 0660) serving ``build_app``."""

    def __init__(self, server: ProxyServer, path: str) -> None:
        self.path = path
        self._server = _Embedded(uvicorn.Config(build_app(server), uds=path, log_level="warning",
                                                lifespan="off", access_log=False))
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._task = asyncio.ensure_future(self._server.serve())
        for _ in range(200):  # bounded: 2 s
            if self._server.started:
                break
            await asyncio.sleep(0.01)
        os.chmod(self.path, 0o660)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 3.0)
