"""gracebgp-proxyd's flow control on loopback, without root (issue 20 review, item 3).

A scripted VM (127.0.0.1) peers with the gateway 127.0.0.2, Hold Time 3 s; two scripted
control nodes, 127.0.0.11 and .12. In turn:

1. .11, the primary, takes nothing (a 4 KiB receive buffer, never read) while sending its
   KEEPALIVEs: the VM's UPDATEs (6.5 MB) are not read past the proxy's high-water mark,
   and after the node's Hold Time the session is re-homed to .12, which gets every prefix
   the VM announced; the VM hears no NOTIFICATION.
2. .12 sends 6.5 MB to a VM that reads nothing for a while (less than its Hold Time),
   then everything: what waits for the VM at the proxy stays bounded and the session stays up.
3. .12 sends 6.5 MB more to a VM that now reads nothing at all: after its Hold Time the
   proxy ends that session.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from gracebgp.proxy.config import parse
from gracebgp.proxy.server import CLOSED_KEPT, HIGH_WATER, ProxyServer, Session
from gracebgp.wire import FourOctetAs, Multiprotocol, Open
from tests.integration.test_proxy_loopback import base_port, until

BASE = base_port(0)  # two ports: VM-facing and control nodes
KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"
EOR = b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x00"
NODES = ("127.0.0.11", "127.0.0.12")
HOLD = 3
PER_UPDATE = 500


def update(first: int, count: int, asn: int, next_hop: str, net: int) -> bytes:
    """``count`` prefixes net.x.y.0/24 from index ``first``."""
    attrs = (b"\x40\x01\x01\x00" + b"\x40\x02\x06\x02\x01" + asn.to_bytes(4, "big")
             + b"\x40\x03\x04" + socket.inet_aton(next_hop))
    nlri = b"".join(bytes([24, net, (i >> 8) & 255, i & 255]) for i in range(first, first + count))
    body = b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs + nlri
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body


def table(prefixes: int, rounds: int, asn: int, next_hop: str, net: int) -> bytes:
    return b"".join(update(i, min(PER_UPDATE, prefixes - i), asn, next_hop, net)
                    for _ in range(rounds) for i in range(0, prefixes, PER_UPDATE))


def open_message(asn: int, router_id: str) -> bytes:
    return Open.build(asn, HOLD, router_id, (Multiprotocol(1, 1), FourOctetAs(asn))).encode()


class Stream:
    """BGP messages as they arrive: types seen and the /24 prefixes announced."""

    def __init__(self) -> None:
        self.buffer = b""
        self.types: list[int] = []
        self.prefixes: set[bytes] = set()
        self.updates: dict[int, int] = {}  # first octet of the prefixes -> UPDATEs
        self.octets = 0

    def feed(self, data: bytes) -> None:
        self.octets += len(data)
        self.buffer += data
        while len(self.buffer) >= 19:
            length = int.from_bytes(self.buffer[16:18], "big")
            if len(self.buffer) < length:
                return
            msg, self.buffer = self.buffer[:length], self.buffer[length:]
            self.types.append(msg[18])
            if msg[18] == 2:
                attrs_at = 21 + int.from_bytes(msg[19:21], "big")
                nlri = msg[attrs_at + 2 + int.from_bytes(msg[attrs_at:attrs_at + 2], "big"):]
                self.prefixes.update(nlri[i + 1:i + 4] for i in range(0, len(nlri), 4))
                if nlri:
                    self.updates[nlri[1]] = self.updates.get(nlri[1], 0) + 1


class Node:
    def __init__(self, address: str, reads: bool) -> None:
        self.address = address
        self.reads = reads
        self.heard = Stream()
        self.writers: list[asyncio.StreamWriter] = []

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(open_message(64512, self.address) + KEEPALIVE + EOR)
        keepalives = asyncio.ensure_future(self._keepalives(writer))
        try:
            if not self.reads:  # takes nothing, stays alive
                await asyncio.sleep(3600)
            while data := await reader.read(65536):
                self.heard.feed(data)
        except OSError:
            pass
        finally:
            keepalives.cancel()

    @staticmethod
    async def _keepalives(writer: asyncio.StreamWriter) -> None:
        while not writer.is_closing():
            await asyncio.sleep(1.0)
            writer.write(KEEPALIVE)


async def listen(node: Node, rcvbuf: int | None) -> asyncio.Server:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf is not None:  # inherited by the accepted connections, no autotuning
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((node.address, BASE + 1))
    return await asyncio.start_server(node.session, sock=sock)


async def scenario(tmp: Path) -> None:
    cfg = parse(f'[proxy]\nstate-dir = "{tmp}"\nlisten-port = {BASE}\ncontrol-node-port = {BASE + 1}\n'
                '[[networks]]\nname = "blue"\ngateway = ["127.0.0.2"]\n'
                f'control-nodes = ["{NODES[0]}", "{NODES[1]}"]\nupstream-address = "127.0.0.1"\n'
                'prefix-limit = 20000\n'
                '[[networks.vms]]\ninterface = "vmi-1"\naddresses = ["127.0.0.1"]\n', "proxy.toml")
    stuck, good = Node(NODES[0], reads=False), Node(NODES[1], reads=True)
    servers = [await listen(stuck, 4096), await listen(good, None)]
    proxy = ProxyServer(cfg)
    await proxy.start()
    loop = asyncio.get_running_loop()
    vm_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    vm_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    vm_sock.bind(("127.0.0.1", 0))
    vm_sock.setblocking(False)
    await loop.sock_connect(vm_sock, ("127.0.0.2", BASE))
    reader, writer = await asyncio.open_connection(sock=vm_sock)
    heard = Stream()
    vm_reads = asyncio.Event()
    vm_reads.set()
    highest = {"vm": 0, "node": 0}

    async def read_vm() -> None:
        while await vm_reads.wait() and (data := await reader.read(65536)):
            heard.feed(data)

    async def vm_keepalives() -> None:
        while not writer.is_closing():
            await asyncio.sleep(1.0)
            writer.write(KEEPALIVE)

    async def watch() -> None:  # what waits at the proxy for each leg, every 20 ms
        while True:
            for s in proxy.sessions.values():
                for leg, w in (("vm", s.vm_writer), ("node", s.node_writer)):
                    if w is not None and not w.is_closing():
                        highest[leg] = max(highest[leg], w.transport.get_write_buffer_size())
            await asyncio.sleep(0.02)

    def session() -> Session:
        (s,) = proxy.sessions.values()
        return s

    tasks = [asyncio.ensure_future(c) for c in (read_vm(), vm_keepalives(), watch())]
    try:
        # 1. the primary takes nothing: the VM is not read past the high-water mark, and
        # after the node's Hold Time the session moves to .12 with every VM prefix
        writer.write(open_message(65001, "192.168.100.3") + KEEPALIVE)
        await until(lambda: bool(proxy.sessions) and session().relay.phase.value == "established")
        vm_table = table(20000, 80, 65001, "127.0.0.1", 10)
        writer.write(vm_table)
        await until(lambda: bool(session().relay.rehomings)
                    and session().relay.rehomings[-1].outcome == "re-homed", timeout=20)
        record = session().relay.rehomings[-1]
        assert (record.from_node, record.to_node) == NODES
        assert record.reason == f"control node took nothing for {HOLD} s", record.reason
        assert highest["node"] <= HIGH_WATER + (1 << 20), highest
        await asyncio.wait_for(writer.drain(), 15)
        await until(lambda: len(good.heard.prefixes) == 20000, 15)
        assert 3 not in heard.types  # no NOTIFICATION: the VM noticed nothing
        assert proxy.node_failures == {NODES[0]: 1}

        # 2. a VM that reads nothing for a while (less than its Hold Time) while 6.5 MB come:
        # past what the kernel holds, the proxy stops reading the node
        vm_reads.clear()
        big = table(20000, 80, 64512, NODES[1], 11)
        good.writers[0].write(big)
        await until(lambda: bool(session()._draining))  # the node's leg is not read
        await asyncio.sleep(1.5)
        assert highest["vm"] <= HIGH_WATER + (1 << 20), highest
        assert session().relay.phase.value == "established"
        vm_reads.set()
        await until(lambda: heard.updates.get(11) == 80 * 20000 // PER_UPDATE, 15)  # all of it
        assert len({p for p in heard.prefixes if p[0] == 11}) == 20000
        assert 3 not in heard.types and session().relay.phase.value == "established"

        # 3. a VM that takes nothing at all: its session ends after its Hold Time
        vm_reads.clear()
        closing = session()
        started = loop.time()
        good.writers[0].write(big)
        await asyncio.wait_for(closing.closed.wait(), 15)
        assert loop.time() - started >= HOLD - 0.5
        assert closing.relay.closed_reason == f"VM took nothing for {HOLD} s"
        assert not proxy.sessions
        # what is kept of a closed session is its last view, of the last CLOSED_KEPT
        (view,) = proxy.closed_views
        assert view.closed_reason == closing.relay.closed_reason and view.prefixes_from_vm == 20000
        assert proxy.closed_views.maxlen == CLOSED_KEPT
    finally:
        for t in tasks:
            t.cancel()
        writer.close()
        await proxy.stop()
        for s in servers:
            s.close()
        for w in (*stuck.writers, *good.writers):
            w.close()


def test_flow_control_on_loopback(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(scenario(tmp_path), 60))
