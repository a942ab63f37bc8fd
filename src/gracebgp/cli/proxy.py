"""``gracebgp proxy sessions``: gracebgp-proxyd's sessions with both legs, so that an
operator can link a VM's session to the capture of its control-node leg by NAT port
(issue 20 item 3; docs/proxy.md)."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

from gracebgp.api.proxy_schema import ProxySession
from gracebgp.cli import output
from gracebgp.cli.targets import Options, Target

PROXY_SOCKET_ENV = "GRACEBGP_PROXY_SOCKET"
DEFAULT_PROXY_SOCKET = "/run/gracebgp-proxy/proxyd.sock"
HEADERS = ["VM", "Interface", "Peer With", "Kind", "NAT Port", "Control Node", "Role", "VM Leg",
           "Node Leg", "Uptime", "Rx/Tx Pfx", "Re-homed"]

proxy_app = typer.Typer(help="Operate gracebgp-proxyd, the BGP-as-a-service session proxy.",
                        no_args_is_help=True)


def _uptime(since: float | None) -> str:
    if since is None:
        return "never"
    seconds = int(max(0.0, time.time() - since))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def row(s: ProxySession) -> list[str]:
    moved = [r for r in s.rehomings if r.outcome == "re-homed"]
    return [f"{s.vm_address}:{s.vm_port}", s.vm_interface, s.vm_facing_address, s.kind, str(s.nat_port),
            s.control_node, s.control_node_role, f"{s.vm_tcp}/{s.vm_bgp}", f"{s.node_tcp}/{s.node_bgp}",
            _uptime(s.established_since), f"{s.prefixes_from_vm}/{s.prefixes_to_vm}",
            str(len(moved)) if s.rehomings else "-"]


@proxy_app.command("sessions")
def sessions_command(
    ctx: typer.Context,
    vm: Annotated[str | None, typer.Option("--vm", metavar="ADDR", help="a VM address or interface")] = None,
    nat_port: Annotated[int | None, typer.Option("--nat-port", metavar="N", min=1, max=65535,
                                                 help="the upstream leg's source port")] = None,
    control_node: Annotated[str | None, typer.Option("--control-node", metavar="ADDR")] = None,
    closed: Annotated[bool, typer.Option("--closed", help="also the last closed sessions")] = False,
    proxy_socket: Annotated[str | None, typer.Option(
        "--proxy-socket", metavar="PATH",
        help=f"gracebgp-proxyd's API socket [env {PROXY_SOCKET_ENV}; "
             f"default {DEFAULT_PROXY_SOCKET}]")] = None,
) -> None:
    """The proxied sessions: VM leg, NAT port, control node, each leg's state."""
    opts: Options = ctx.obj
    path = proxy_socket or os.environ.get(PROXY_SOCKET_ENV) or DEFAULT_PROXY_SOCKET
    with opts.client(Target(None, path)) as client:
        found = client.proxy_sessions(vm, nat_port, control_node, closed)
    if opts.json:
        output.emit_json([s.model_dump(mode="json") for s in found])
        return
    output.emit_table(HEADERS, [row(s) for s in found])


def register(app: typer.Typer) -> None:
    app.add_typer(proxy_app, name="proxy")
