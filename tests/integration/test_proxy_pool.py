"""Two VMs in one tenant network, each with a gateway and a service session, through two
control nodes that key their peers by address (review of issue 20, item 6), on loopback.

The network has an ``upstream-pool`` (127.0.1.0/29): each session leaves the proxy from an
address of its own, so each control node, which refuses a second session from an address
it already has (RFC 4271 §6.8 collision, as gracebgpd, BIRD, FRR and gobgpd do), takes
one session of each VM; without the pool the second VM's sessions are refused.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gracebgp.proxy.api import sessions
from gracebgp.proxy.config import parse
from gracebgp.proxy.server import ProxyServer
from tests.integration.test_proxy_loopback import EOR, KEEPALIVE, base_port, open_message, until

BASE = base_port(2)  # two ports: VM-facing and control nodes
NODES = ("127.0.0.11", "127.0.0.12")
VMS = ("127.0.0.1", "127.0.0.5")
CEASE = b"\xff" * 16 + b"\x00\x15\x03\x06\x07"  # Cease / Connection Collision Resolution


class Node:
    """Keys peers by address: a second connection from an address it has is refused."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.peers: dict[str, int] = {}  # address -> port of the session it keeps
        self.accepted: list[tuple[str, int]] = []
        self.refused = 0

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address, port = writer.get_extra_info("peername")[:2]
        if address in self.peers:
            self.refused += 1
            writer.write(CEASE)
            writer.close()
            return
        self.peers[address] = port
        self.accepted.append((address, port))
        writer.write(open_message(64512, self.address) + KEEPALIVE + EOR)
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        finally:
            del self.peers[address]


def config(state: Path, upstream: str) -> str:
    vms = "".join(f'[[networks.vms]]\ninterface = "vmi-{n}"\naddresses = ["{a}"]\n'
                  for n, a in enumerate(VMS))
    return (f'[proxy]\nstate-dir = "{state}"\nlisten-port = {BASE}\ncontrol-node-port = {BASE + 1}\n'
            '[[networks]]\nname = "blue"\ngateway = ["127.0.0.2"]\nservice = ["127.0.0.3"]\n'
            f'control-nodes = ["{NODES[0]}", "{NODES[1]}"]\n{upstream}\n' + vms)


async def scenario(tmp: Path, upstream: str) -> tuple[list[Node], dict[str, tuple[str, int, str]]]:
    """Both VMs open both sessions; returns the nodes and, per session that came up, its
    (upstream address, NAT port, control node) as the proxy reports them."""
    cfg = parse(config(tmp, upstream), "proxy.toml")
    nodes = [Node(a) for a in NODES]
    servers = [await asyncio.start_server(n.session, n.address, BASE + 1) for n in nodes]
    proxy = ProxyServer(cfg)
    await proxy.start()
    writers = []
    try:
        for vm in VMS:
            for facing in ("127.0.0.2", "127.0.0.3"):
                _, w = await asyncio.open_connection(facing, BASE, local_addr=(vm, 0))
                w.write(open_message(65001, vm) + KEEPALIVE)
                writers.append(w)
        await until(lambda: sum(len(n.peers) + n.refused for n in nodes) >= 4)
        await asyncio.sleep(0.3)  # a refused session's leg is closed by now
        up = {f"{v.vm_address}>{v.kind}": (v.upstream_address, v.nat_port, v.control_node)
              for v in sessions(proxy) if v.phase == "established"}
        return nodes, up
    finally:
        for w in writers:
            w.close()
        await proxy.stop()
        for s in servers:
            s.close()


def test_two_vms_in_one_network_with_an_upstream_pool(tmp_path: Path) -> None:
    nodes, up = asyncio.run(asyncio.wait_for(scenario(tmp_path, 'upstream-pool = "127.0.1.0/29"'), 30))
    assert len(up) == 4 and all(n.refused == 0 for n in nodes)
    addresses = {a for a, _, _ in up.values()}
    assert len(addresses) == 4 and all(a.startswith("127.0.1.") for a in addresses)
    # each node sees each of its sessions from the address and NAT port the proxy reports
    for node in nodes:
        mine = {(a, p) for a, p, n in up.values() if n == node.address}
        assert len(mine) == 2 and set(node.accepted) == mine
    for vm in VMS:
        assert up[f"{vm}>gateway"][2] != up[f"{vm}>service"][2]


def test_without_a_pool_a_node_refuses_the_second_vm(tmp_path: Path) -> None:
    nodes, up = asyncio.run(asyncio.wait_for(scenario(tmp_path, 'upstream-address = "127.0.0.1"'), 30))
    assert sum(n.refused for n in nodes) >= 2 and len(up) == 2
