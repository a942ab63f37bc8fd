"""gracebgp-proxyd at scale (issue 20): 100 VMs x 2 sessions on loopback, no root.

One process here plays every VM and three control nodes; ``gracebgp-proxyd`` runs as a
child process between them:

* control nodes: 127.0.0.11-13, port PORT+1; each answers any OPEN with its own (AS 64512,
  hold 9) and a KEEPALIVE, sends ROUTES /24s and End-of-RIB, a KEEPALIVE every 3 s, and
  reads everything (a control node that keys peers by address and port, like Tungsten
  Fabric's, so one upstream address carries every session);
* VMs: 127.0.1.1-100, each with a session to the gateway (127.0.0.2) and the service
  address (127.0.0.3), port PORT: OPEN (AS 65001, hold 9, 4-octet AS), KEEPALIVE, one
  UPDATE of 5 /24s, End-of-RIB, a KEEPALIVE every 3 s.

Reported: the time until the API shows all 200 sessions established, the proxy's RSS
(``VmRSS``) then, its CPU (user + system, ``/proc/PID/stat``) over a steady WINDOW s, and,
after the control node carrying the most sessions is cut off (every connection reset),
the time until every one of its sessions is re-homed and the CPU that took.

    .venv/bin/python bench/proxy_scale.py [--vms 100] [--window 30] [--port 21179]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gracebgp.wire import FourOctetAs, Multiprotocol, Open

NODES = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"


def update(prefixes: list[tuple[int, int, int]], asn: int, next_hop: str) -> bytes:
    attrs = (b"\x40\x01\x01\x00" + b"\x40\x02\x06\x02\x01" + asn.to_bytes(4, "big")
             + b"\x40\x03\x04" + socket.inet_aton(next_hop))
    nlri = b"".join(bytes([24, a, b, c]) for a, b, c in prefixes)
    body = b"\x00\x00" + len(attrs).to_bytes(2, "big") + attrs + nlri
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body


EOR = b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x00"


def open_message(asn: int, router_id: str) -> bytes:
    return Open.build(asn, 9, router_id, (Multiprotocol(1, 1), FourOctetAs(asn))).encode()


async def keepalives(writer: asyncio.StreamWriter) -> None:
    while not writer.is_closing():
        await asyncio.sleep(3)
        writer.write(KEEPALIVE)


class Node:
    def __init__(self, address: str, routes: int) -> None:
        self.address = address
        self.routes = update([(198, 51, i % 256) for i in range(routes)], 64512, address)
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, port: int) -> asyncio.Server:
        return await asyncio.start_server(self.session, self.address, port)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(open_message(64512, self.address) + KEEPALIVE + self.routes + EOR)
        task = asyncio.ensure_future(keepalives(writer))
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        task.cancel()

    def reset_all(self) -> None:
        for w in self.writers:
            sock = w.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            w.close()  # RST: SO_LINGER 0


async def vm(address: str, target: str, port: int, n: int) -> None:
    reader, writer = await asyncio.open_connection(target, port, local_addr=(address, 0))
    prefixes = [(10, n // 256, n % 256 + i) for i in range(5)]
    writer.write(open_message(65001, address) + KEEPALIVE + update(prefixes, 65001, address) + EOR)
    task = asyncio.ensure_future(keepalives(writer))
    try:
        while await reader.read(65536):
            pass
    except OSError:
        pass
    task.cancel()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def sessions(sock: str) -> list[dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gracebgp.cli.main", "--json", "proxy", "sessions", "--proxy-socket", sock,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    found: list[dict[str, Any]] = json.loads(out or b"[]")
    return found


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=100)
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--port", type=int, default=21179)
    ap.add_argument("--routes", type=int, default=10)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="proxy-scale-"))
    vms = [f"127.0.1.{i}" for i in range(1, args.vms + 1)]
    cfg = [f'[proxy]\nstate-dir = "{work}"\nlisten-port = {args.port}\ncontrol-node-port = {args.port + 1}\n',
           '[[networks]]\nname = "blue"\ngateway = ["127.0.0.2"]\nservice = ["127.0.0.3"]\n'
           f'control-nodes = {json.dumps(list(NODES))}\nupstream-address = "127.0.0.1"\n'
           "nat-port-range = [50000, 50512]\n"]
    cfg += [f'[[networks.vms]]\ninterface = "vmi-{i}"\naddresses = ["{a}"]\n' for i, a in enumerate(vms)]
    (work / "proxy.toml").write_text("\n".join(cfg))
    nodes = [Node(a, args.routes) for a in NODES]
    servers = [await n.serve(args.port + 1) for n in nodes]
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gracebgp.proxy.daemon", "-f", str(work / "proxy.toml"),
        "--log-level", "warning")
    sock = str(work / "proxyd.sock")
    try:
        for _ in range(100):
            if Path(sock).exists():
                break
            await asyncio.sleep(0.1)
        rss_idle = rss_mb(proxy.pid)
        t0 = time.monotonic()
        cpu0 = cpu_seconds(proxy.pid)
        tasks = [asyncio.ensure_future(vm(a, t, args.port, i)) for i, a in enumerate(vms)
                 for t in ("127.0.0.2", "127.0.0.3")]
        while True:
            found = await sessions(sock)
            if sum(1 for s in found if s["phase"] == "established") == 2 * args.vms:
                break
            if time.monotonic() - t0 > 120:
                raise SystemExit(f"only {sum(1 for s in found if s['phase'] == 'established')} established")
            await asyncio.sleep(0.2)
        up = time.monotonic() - t0
        cpu_up = cpu_seconds(proxy.pid) - cpu0
        rss_up = rss_mb(proxy.pid)
        cpu1 = cpu_seconds(proxy.pid)
        await asyncio.sleep(args.window)
        cpu_steady = cpu_seconds(proxy.pid) - cpu1
        rss_steady = rss_mb(proxy.pid)
        counts = {n: sum(1 for s in found if s["control_node"] == n) for n in NODES}
        victim = max(counts, key=lambda n: counts[n])
        t1, cpu2 = time.monotonic(), cpu_seconds(proxy.pid)
        nodes[NODES.index(victim)].reset_all()
        servers[NODES.index(victim)].close()
        while True:
            found = await sessions(sock)
            moved = [s for s in found if s["rehomings"]]
            done = [s for s in moved if s["rehomings"][-1]["outcome"] == "re-homed"]
            if len(done) == counts[victim] and all(s["phase"] == "established" for s in found):
                break
            if time.monotonic() - t1 > 60:
                raise SystemExit(f"{len(done)} of {counts[victim]} re-homed")
            await asyncio.sleep(0.1)
        rehome = time.monotonic() - t1
        cpu_rehome = cpu_seconds(proxy.pid) - cpu2
        spans = [s["rehomings"][-1]["finished"] - s["rehomings"][-1]["started"] for s in done]
        print(json.dumps({
            "vms": args.vms, "sessions": 2 * args.vms, "per_node": counts,
            "rss_idle_mb": round(rss_idle, 1), "rss_established_mb": round(rss_up, 1),
            "rss_steady_mb": round(rss_steady, 1),
            "all_established_s": round(up, 2), "cpu_to_establish_s": round(cpu_up, 2),
            "steady_window_s": args.window, "cpu_steady_s": round(cpu_steady, 3),
            "cpu_steady_pct": round(100 * cpu_steady / args.window, 2),
            "rehomed_sessions": len(done), "rehome_all_seen_s": round(rehome, 2),
            "rehome_cpu_s": round(cpu_rehome, 2), "rehome_span_max_s": round(max(spans), 3),
        }, indent=1))
        for t in tasks:
            t.cancel()
    finally:
        proxy.terminate()
        await proxy.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
