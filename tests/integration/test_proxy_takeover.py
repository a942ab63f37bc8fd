"""gracebgp-proxyd's own upgrade on loopback, without root (issue 20 item 4): a second
gracebgp-proxyd started with ``--take-over`` on the same state directory takes the
running one's Established session, both legs, while a scripted VM (127.0.0.1, Hold Time
3 s, a KEEPALIVE every second) and a scripted control node (127.0.0.11, the same) talk
through it. The VM cuts an UPDATE in two around the take-over: the old proxyd has read
the first part, the new one reads the rest.

Asserted on both sides: no NOTIFICATION, no TCP close (each end's one connection stays
open throughout: nothing reconnects), the node keeps the VM's routes and the VM the
node's (no withdrawal), KEEPALIVEs keep flowing both ways, the cut UPDATE arrives whole,
and the new process's introspection shows the session with its history (counts, NAT
port). Then a third proxyd whose configuration gives the session another NAT port
refuses the state: it exits 1 saying why, the running one keeps relaying. In process:
the running proxyd refuses a taker that does not read its state version, and one that
comes while a session is still opening, and keeps the sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from gracebgp.proxy.config import parse
from gracebgp.proxy.handover import Giver
from gracebgp.proxy.server import ProxyServer
from gracebgp.runtime import takeover
from gracebgp.wire import FourOctetAs, Framer, Multiprotocol, Open
from tests.integration.test_proxy_loopback import base_port, until

BASE = base_port(3)  # two ports: VM-facing and control nodes
KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"
EOR = b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x00"
NODE = "127.0.0.11"
HOLD = 3
PROXYD = shutil.which("gracebgp-proxyd", path=str(Path(sys.executable).parent)) or "gracebgp-proxyd"


def update(net: int, third: int, asn: int, next_hop: str) -> bytes:
    attrs = (b"\x40\x01\x01\x00" + b"\x40\x02\x06\x02\x01" + asn.to_bytes(4, "big")
             + b"\x40\x03\x04" + socket.inet_aton(next_hop))
    body = b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs + bytes([24, net, 51, third])
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body


def config(state: Path, nat: str = "[50000, 50512]") -> str:
    return (f'[proxy]\nstate-dir = "{state}"\nlisten-port = {BASE}\ncontrol-node-port = {BASE + 1}\n'
            '[[networks]]\nname = "blue"\ngateway = ["127.0.0.2"]\n'
            f'control-nodes = ["{NODE}"]\nupstream-address = "127.0.0.1"\nnat-port-range = {nat}\n'
            '[[networks.vms]]\ninterface = "vmi-1"\naddresses = ["127.0.0.1"]\n')


class Peer:
    """One scripted BGP speaker's end of its one connection: what it heard, with times."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.framer = Framer()
        self.messages: list[tuple[float, int, bytes]] = []  # (loop time, type, whole message)
        self.closed = False
        self.writer: asyncio.StreamWriter | None = None
        self.cutting = False  # a message is half written: no KEEPALIVE in between

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hello: bytes) -> None:
        self.writer = writer
        writer.write(hello)
        keepalives = asyncio.ensure_future(self._keepalives(writer))
        try:
            while data := await reader.read(65536):
                self.feed(data)
        except OSError:
            pass
        finally:
            self.closed = True
            keepalives.cancel()

    def feed(self, data: bytes) -> None:
        self.framer.push(data)  # raises on a message cut or shifted (a bad marker or length)
        while (msg := self.framer.next_message()) is not None:
            mtype, body = msg
            whole = b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + bytes([mtype]) + body
            self.messages.append((asyncio.get_running_loop().time(), mtype, whole))

    async def _keepalives(self, writer: asyncio.StreamWriter) -> None:
        while not writer.is_closing():
            await asyncio.sleep(1.0)
            if not self.cutting:
                writer.write(KEEPALIVE)

    def count(self, mtype: int, since: float = 0.0) -> int:
        return sum(1 for t, m, _ in self.messages if m == mtype and t >= since)

    def gap(self, start: float, end: float) -> float:
        """The longest time without a message between ``start`` and ``end``."""
        times = [start] + [t for t, _, _ in self.messages if start <= t <= end] + [end]
        return max(b - a for a, b in itertools.pairwise(times))


def spawn(cfg: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([PROXYD, "-f", str(cfg), *extra], stdout=out, stderr=subprocess.STDOUT)


def api_sessions(state: Path) -> list[dict[str, object]]:
    transport = httpx.HTTPTransport(uds=str(state / "proxyd.sock"))
    with httpx.Client(transport=transport, base_url="http://proxyd", timeout=5) as client:
        data = client.get("/v1/proxy/sessions").json()
    return list(data) if isinstance(data, list) else list(data.get("sessions", []))


async def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while proc.poll() is None:
        if loop.time() > end:
            raise TimeoutError(f"pid {proc.pid} still runs")
        await asyncio.sleep(0.02)
    return proc.returncode


async def scenario(tmp: Path) -> None:
    state = tmp / "state"
    cfg = tmp / "proxy.toml"
    cfg.write_text(config(state))
    log = tmp / "proxyd.log"
    node, vm = Peer("control node"), Peer("VM")
    node_open = Open.build(64512, HOLD, NODE, (Multiprotocol(1, 1), FourOctetAs(64512))).encode()
    vm_open = Open.build(65001, HOLD, "192.168.100.3", (Multiprotocol(1, 1), FourOctetAs(65001))).encode()
    node_peers: list[tuple[str, int]] = []

    async def node_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        node_peers.append(writer.get_extra_info("peername"))
        await node.run(reader, writer, node_open + KEEPALIVE + update(10, 11, 64512, NODE) + EOR)

    server = await asyncio.start_server(node_session, NODE, BASE + 1)
    procs = [spawn(cfg, log)]
    tasks: list[asyncio.Future[None]] = []
    loop = asyncio.get_running_loop()
    try:
        await until(lambda: (state / "handover.sock").exists() and (state / "proxyd.sock").exists())
        reader, writer = await asyncio.open_connection("127.0.0.2", BASE, local_addr=("127.0.0.1", 0))
        tasks.append(asyncio.ensure_future(
            vm.run(reader, writer, vm_open + KEEPALIVE + update(20, 1, 65001, "127.0.0.1") + EOR)))
        await until(lambda: node.count(2) >= 2 and vm.count(2) >= 2)  # UPDATE + End-of-RIB each way
        (before,) = api_sessions(state)
        assert before["phase"] == "established"
        # an UPDATE cut in two: the old proxyd reads the first part
        cut = update(20, 2, 65001, "127.0.0.1")
        vm.cutting = True
        writer.write(cut[:30])
        await asyncio.sleep(0.3)

        started = loop.time()
        procs.append(spawn(cfg, log, "--take-over"))
        assert await wait_exit(procs[0], 15) == 0, log.read_text()
        handed = loop.time()
        writer.write(cut[30:])  # the new proxyd reads the rest
        vm.cutting = False
        await until(lambda: node.count(2) >= 3, 5)
        relayed_in = max(t for t, m, _ in node.messages if m == 2) - handed  # the first message after
        await asyncio.sleep(2.5)  # KEEPALIVEs (1 s) and Hold Time (3 s) after the take-over
        ended = loop.time()

        assert procs[1].poll() is None, log.read_text()
        for peer in (vm, node):
            assert not peer.closed, f"{peer.name}: the connection was closed"
            assert peer.count(3) == 0, f"{peer.name} got a NOTIFICATION"
            assert peer.count(4, since=handed) >= 2, f"{peer.name}: KEEPALIVEs stopped"
            assert peer.count(1) == 1, f"{peer.name}: a second OPEN"
        assert len(node_peers) == 1, node_peers  # the node saw one connection, never a new one
        assert node.messages[-1][2] != cut and any(m == cut for _, _, m in node.messages)  # whole
        assert [m for _, t, m in node.messages if t == 2] == [update(20, 1, 65001, "127.0.0.1"), EOR, cut]
        assert [m for _, t, m in vm.messages if t == 2][:2] == [update(10, 11, 64512, NODE), EOR]
        (after,) = api_sessions(state)
        assert (after["nat_port"], after["vm_port"], after["established_since"]) == \
            (before["nat_port"], before["vm_port"], before["established_since"])
        assert after["prefixes_from_vm"] == 2 and after["prefixes_to_vm"] == 1
        assert node_peers[0] == ("127.0.0.1", after["nat_port"])
        counts = after["from_vm"]["counts"]  # type: ignore[index]
        assert counts["open"] == 1 and counts["update"] == 3, counts
        # the longest silence on each side around the take-over: the KEEPALIVE interval (1 s)
        gaps = {p.name: round(p.gap(started, ended), 2) for p in (vm, node)}
        assert max(gaps.values()) < 2.0, gaps
        assert relayed_in < 1.0, relayed_in

        # a proxyd whose configuration gives the session another NAT port refuses the state
        other = tmp / "other.toml"
        other.write_text(config(state, "[51000, 51512]"))
        refusing = spawn(other, tmp / "refusing.log", "--take-over")
        assert await wait_exit(refusing, 15) == 1
        said = (tmp / "refusing.log").read_text()
        assert "NAT port" in said and "keeps its sessions" in said, said
        assert "did not happen, every session stays here" in log.read_text()
        refused_at = loop.time()
        writer.write(update(20, 3, 65001, "127.0.0.1"))
        await until(lambda: node.count(2) >= 4, 5)
        await asyncio.sleep(2.5)
        for peer in (vm, node):
            assert not peer.closed and peer.count(3) == 0
            assert peer.count(4, since=refused_at) >= 2, f"{peer.name}: KEEPALIVEs stopped after the refusal"
        assert procs[1].poll() is None
        (still,) = api_sessions(state)
        assert still["established_since"] == before["established_since"] and still["prefixes_from_vm"] == 3
        print(f"longest silence around the take-over (s): {gaps}; the cut UPDATE's rest relayed "
              f"{relayed_in * 1000:.0f} ms after the old proxyd exited")
    finally:
        for t in tasks:
            t.cancel()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        if vm.writer is not None:
            vm.writer.close()
        if node.writer is not None:
            node.writer.close()
        server.close()


def test_take_over_keeps_sessions_and_refusal_keeps_the_old(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(scenario(tmp_path), 90))


async def refusals(tmp: Path) -> None:
    """The running proxyd refuses, and keeps its sessions, when the taker does not read its
    state version, and when a session is not Established both ways (here: a control node
    that accepts the connection and says nothing)."""
    cfg = parse(config(tmp), "proxy.toml")
    silent: list[asyncio.StreamWriter] = []

    async def say_nothing(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(say_nothing, NODE, BASE + 1)
    proxy = ProxyServer(cfg)
    await proxy.start()
    giver = Giver(proxy, cfg.state_dir)
    await giver.start()
    vm_writer: asyncio.StreamWriter | None = None
    try:
        why = await asyncio.to_thread(_refused, tmp, [99])
        assert "does not read proxy state format version 1" in why, why
        _, vm_writer = await asyncio.open_connection("127.0.0.2", BASE, local_addr=("127.0.0.1", 0))
        vm_writer.write(Open.build(65001, HOLD, "192.168.100.3", (FourOctetAs(65001),)).encode())
        await until(lambda: bool(silent) and bool(proxy.sessions))
        why = await asyncio.to_thread(_refused, tmp, [1])
        assert "not Established both ways" in why and "127.0.0.1 -> 127.0.0.2: opening" in why, why
        assert not giver.taken.is_set() and not proxy.handing and len(proxy.sessions) == 1
    finally:
        if vm_writer is not None:
            vm_writer.close()
        for w in silent:
            w.close()
        giver.close()
        await proxy.stop()
        server.close()


def _refused(tmp: Path, reads: list[int]) -> str:
    try:
        takeover.request(tmp, reads, timeout=5, who="gracebgp-proxyd")
    except takeover.TakeOverError as exc:
        return str(exc)
    raise AssertionError("the take-over was not refused")


def test_the_running_proxy_refuses_and_keeps_its_sessions(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(refusals(tmp_path), 30))
