"""gracebgp-proxyd's runtime on loopback, without root (issue 20): the server, its view,
API filters and metrics, between a scripted VM and two scripted control nodes.

The VM (127.0.0.1, interface vmi-1) peers with the gateway 127.0.0.2; the control nodes
127.0.0.11 and .12 answer any OPEN, send one route and End-of-RIB. The VM's session goes
to the primary (.11) from the configured NAT port; resetting .11's connections moves it
to .12 while the VM hears no NOTIFICATION; a connection from an address that is no
configured VM is closed and counted.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path

from gracebgp.proxy.api import metrics_text, sessions
from gracebgp.proxy.config import parse, port_key
from gracebgp.proxy.placement import SessionKind
from gracebgp.proxy.server import ProxyServer
from gracebgp.wire import FourOctetAs, Multiprotocol, Open


def base_port(slot: int) -> int:
    """Two ports (VM-facing, control nodes) for the proxy tests' module ``slot`` (0-3):
    below Linux's ephemeral range (32768-60999), where no outgoing connection of this or
    another test takes them as its local port (a listener there once failed with
    "address already in use"), one range per module, and per process by its PID."""
    return 20000 + 3000 * slot + 2 * (os.getpid() % 1500)


BASE = base_port(1)
KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"
EOR = b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x00"
NODES = ("127.0.0.11", "127.0.0.12")


def update(third: int, asn: int, next_hop: str) -> bytes:
    attrs = (b"\x40\x01\x01\x00" + b"\x40\x02\x06\x02\x01" + asn.to_bytes(4, "big")
             + b"\x40\x03\x04" + socket.inet_aton(next_hop))
    body = b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs + bytes([24, 198, 51, third])
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body


def open_message(asn: int, router_id: str) -> bytes:
    return Open.build(asn, 9, router_id, (Multiprotocol(1, 1), FourOctetAs(asn))).encode()


def config(state: Path) -> str:
    return (f'[proxy]\nstate-dir = "{state}"\nlisten-port = {BASE}\ncontrol-node-port = {BASE + 1}\n'
            '[[networks]]\nname = "blue"\ngateway = ["127.0.0.2"]\n'
            f'control-nodes = ["{NODES[0]}", "{NODES[1]}"]\nupstream-address = "127.0.0.1"\n'
            "next-hop-rewrite = true\n"
            '[[networks.vms]]\ninterface = "vmi-1"\naddresses = ["127.0.0.1"]\n')


class Node:
    def __init__(self, address: str) -> None:
        self.address = address
        self.writers: list[asyncio.StreamWriter] = []
        self.peers: list[tuple[str, int]] = []

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.peers.append(writer.get_extra_info("peername"))
        third = int(self.address.rsplit(".", 1)[1])
        writer.write(open_message(64512, self.address) + KEEPALIVE + update(third, 64512, self.address) + EOR)
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass

    def reset_all(self) -> None:
        for w in self.writers:
            linger = struct.pack("ii", 1, 0)  # close with RST
            w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            w.transport.abort()


async def until(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


async def scenario(tmp: Path) -> None:
    cfg = parse(config(tmp), "proxy.toml")
    nodes = [Node(a) for a in NODES]
    servers = [await asyncio.start_server(n.session, n.address, BASE + 1) for n in nodes]
    proxy = ProxyServer(cfg)
    await proxy.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.2", BASE, local_addr=("127.0.0.1", 0))
        writer.write(open_message(65001, "192.168.100.3") + KEEPALIVE + update(200, 65001, "127.0.0.1") + EOR)
        heard = b""

        async def read_vm() -> None:
            nonlocal heard
            while data := await reader.read(65536):
                heard += data

        vm_task = asyncio.ensure_future(read_vm())
        await until(lambda: bytes([24, 198, 51, 11]) in heard)
        # the next hop towards the VM is the gateway's (next-hop-rewrite)
        at = heard.index(b"\x40\x03\x04") + 3  # NEXT_HOP (RFC 4271 §5.1.3)
        assert heard[at:at + 4] == socket.inet_aton("127.0.0.2")
        (view,) = sessions(proxy)
        nat = cfg.nat_ports[port_key("blue", "vmi-1", SessionKind.GATEWAY, False)]
        assert (view.kind, view.nat_port, view.control_node, view.control_node_role) == \
            ("gateway", nat, NODES[0], "primary")
        assert nodes[0].peers == [("127.0.0.1", nat)]  # the control node sees the NAT port
        await until(lambda: (sessions(proxy)[0].prefixes_from_vm, sessions(proxy)[0].prefixes_to_vm)
                    == (1, 1))
        view = sessions(proxy)[0]
        assert (view.phase, view.vm_as, view.vm_router_id, view.node_as, view.hold_time) == \
            ("established", 65001, "192.168.100.3", 64512, 9)
        assert sessions(proxy, nat_port=nat) and not sessions(proxy, nat_port=nat + 1)
        assert sessions(proxy, vm="vmi-1") and not sessions(proxy, control_node=NODES[1])
        text = metrics_text(proxy)
        labels = f'network="blue",vm="127.0.0.1",kind="gateway",nat_port="{nat}"'
        assert f'gracebgp_proxy_messages_total{{{labels},direction="from_vm",type="open"}} 1' in text
        assert f'gracebgp_proxy_node_sessions{{control_node="{NODES[0]}"}} 1' in text
        # the primary fails: the session moves to .12, the VM hears no NOTIFICATION
        nodes[0].reset_all()
        servers[0].close()
        await until(lambda: sessions(proxy)[0].control_node == NODES[1]
                    and sessions(proxy)[0].rehomings[-1].outcome == "re-homed")
        assert nodes[1].peers == [("127.0.0.1", nat)]
        await until(lambda: bytes([24, 198, 51, 12]) in heard)
        assert not any(heard[i:i + 16] == b"\xff" * 16 and heard[i + 18] == 3 for i in range(len(heard) - 19))
        assert f'gracebgp_proxy_node_failures_total{{control_node="{NODES[0]}"}} 1' in metrics_text(proxy)
        # an address that is no configured VM
        _, stranger = await asyncio.open_connection("127.0.0.2", BASE, local_addr=("127.0.0.9", 0))
        await until(lambda: proxy.rejected == 1)
        stranger.close()
        writer.close()
        vm_task.cancel()
    finally:
        await proxy.stop()
        for s in servers:
            s.close()


def test_proxy_on_loopback(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(scenario(tmp_path), 60))
