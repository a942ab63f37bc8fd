"""examples/kubernetes-node.toml does what it says, not only what ``--check`` accepts: run
as written but moved onto loopback (the node at 127.0.0.11, high ports, a temporary state
directory, the IPv6 session shut down since loopback has one IPv6 address), against a
gracebgpd playing the ToR at 127.0.0.1, the IPv4 session comes up with graceful restart,
long-lived GR and the N bit negotiated as the comments claim; the ToR receives the node's
IPv4 pod CIDR and VIPs with the node's address as next hop and the example's
communities; and a ``gracebgp restart`` of the node (what a rollout or an upgrade does)
never takes a route out of the ToR's table.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .api_daemons import free_port, wait_until
from .test_examples import EXAMPLES, checkable

NODE, TOR = "127.0.0.11", "127.0.0.1"
GRACEBGPD = [sys.executable, "-m", "gracebgp.daemon"]
CLI = [sys.executable, "-m", "gracebgp.cli.main"]
#: The example's IPv4 routes and the community it tags each with.
V4 = {"198.51.100.0/24": "64601:100", "203.0.113.0/25": "64601:200", "203.0.113.200/32": "64601:200"}


def sub(text: str, pattern: str, replacement: str, count: int = 1) -> str:
    text, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert n == count, f"{pattern!r}: {n} matches in the example, expected {count}"
    return text


def node_config(where: Path, port: int, tor_port: int, metrics_port: int) -> str:
    text = checkable((EXAMPLES / "kubernetes-node.toml").read_text(), where / "node")
    text = sub(text, r'^(router-id = "192\.0\.2\.11".*)$', rf"\1\nport = {port}")
    text = sub(text, r"^local-address-list = .*$", f'local-address-list = ["{NODE}"]')
    text = sub(text, r'^neighbor-address = "192\.0\.2\.1"$', f'neighbor-address = "{TOR}"')
    text = sub(text, r'^local-address = "192\.0\.2\.11".*$',
               f'local-address = "{NODE}"\nremote-port = {tor_port}')
    text = sub(text, r'^(description = "ToR, IPv6")$', r"\1\nadmin-down = true")
    return sub(text, r'^metrics-listen = .*$', f'metrics-listen = "{NODE}:{metrics_port}"')


def tor_config(where: Path, port: int, node_port: int) -> str:
    return f"""[global.config]
as = 64600
router-id = "192.0.2.1"
port = {port}
local-address-list = ["{TOR}"]

[[neighbors]]
[neighbors.config]
neighbor-address = "{NODE}"
peer-as = 64601
[neighbors.timers.config]
hold-time = 9
keepalive-interval = 3
connect-retry = 5
[neighbors.transport.config]
local-address = "{TOR}"
remote-port = {node_port}
[neighbors.graceful-restart.config]
enabled = true
restart-time = 120
notification-enabled = true
long-lived-enabled = true
[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv4-unicast"
[neighbors.afi-safis.mp-graceful-restart.config]
enabled = true
[neighbors.afi-safis.long-lived-graceful-restart.config]
enabled = true
restart-time = 3600

[gracebgp]
state-dir = '{where / "tor" / "state"}'
api-socket = '{where / "tor" / "api.sock"}'
"""


@dataclass
class Lab:
    where: Path
    node: subprocess.Popen[bytes]
    tor: subprocess.Popen[bytes]

    def socket(self, name: str) -> Path:
        return self.where / name / ("run/gracebgpd.sock" if name == "node" else "api.sock")

    def client(self, name: str) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket(name))),
                            base_url="http://gracebgpd", timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {n}:\n{(self.where / f'{n}.log').read_text(errors='replace')[-2000:]}"
                         for n in ("node", "tor") if (self.where / f"{n}.log").exists())


def start(conf: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([*GRACEBGPD, "-f", str(conf)], stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def lab() -> Iterator[Lab]:
    where = Path(tempfile.mkdtemp(prefix="gbk", dir="/tmp"))  # short: socket paths <= 107 bytes
    node_port, tor_port, metrics_port = free_port(NODE), free_port(TOR), free_port(NODE)
    (where / "node.toml").write_text(node_config(where, node_port, tor_port, metrics_port))
    (where / "tor.toml").write_text(tor_config(where, tor_port, node_port))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start(where / "tor.toml", where / "tor.log"))
        procs.append(start(where / "node.toml", where / "node.log"))
        yield Lab(where, procs[1], procs[0])
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        shutil.rmtree(where, ignore_errors=True)


def node_routes_at_tor(c: httpx.Client) -> dict[str, dict[str, Any]]:
    r = c.get("/v1/paths", params={"table": "loc", "family": "ipv4-unicast"})
    assert r.status_code == 200, r.text
    paths = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    return {p["prefix"]: p for p in paths if p["source"] == NODE}


def test_kubernetes_node_example_runs_against_a_tor(lab: Lab) -> None:
    with lab.client("tor") as tor:
        def established() -> dict[str, Any] | None:
            assert lab.node.poll() is None and lab.tor.poll() is None, lab.logs()
            r = tor.get(f"/v1/peers/{NODE}")
            peer: dict[str, Any] = r.json()
            return peer if r.status_code == 200 and peer["state"] == "Established" else None

        peer = wait_until("the ToR Established with the node", established, timeout=30)
        neg = peer["negotiated"]
        assert neg["notification"], "N negotiated"
        assert neg["gr_we_keep"] == ["ipv4-unicast"] and neg["llgr_we_keep"] == ["ipv4-unicast"]
        caps = peer["peer_capabilities"]
        assert caps["graceful_restart"]["restart_time"] == 120
        assert [(f["family"], f["stale_time"]) for f in caps["llgr"]] == [("ipv4-unicast", 3600)]

        def all_routes() -> dict[str, dict[str, Any]] | None:
            got = node_routes_at_tor(tor)
            return got if set(got) == set(V4) else None

        routes = wait_until("the node's IPv4 routes at the ToR", all_routes)
        for prefix, community in V4.items():
            assert routes[prefix]["next_hop"] == [NODE], routes[prefix]
            assert community in routes[prefix]["attrs_text"], routes[prefix]["attrs_text"]

        # The rollout: a planned graceful restart of the node; the ToR's table never loses a route.
        pid = lab.node.pid
        r = subprocess.run([*CLI, "--socket", str(lab.socket("node")), "restart", "--graceful"],
                           capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        end, samples, saw_stale = time.monotonic() + 60, 0, False
        while True:
            now = node_routes_at_tor(tor)
            samples += 1
            assert set(now) == set(V4), f"sample {samples}: the ToR lost {set(V4) - set(now)}\n{lab.logs()}"
            stale = any(p["stale"] for p in now.values())
            saw_stale = saw_stale or stale
            if saw_stale and not stale:
                break  # the node is back and its End-of-RIB cleared the stale marks
            assert time.monotonic() < end, f"the restart did not complete within 60 s\n{lab.logs()}"
            time.sleep(0.05)
        assert lab.node.poll() is None and lab.node.pid == pid
