"""Every configuration in examples/ passes ``gracebgpd --check`` as an operator would run
it, and each is what its name promises (docs/deploy.md points to them):

* kubernetes-node.toml: pod CIDR and service VIPs, IPv4 and IPv6, eBGP to a ToR, graceful
  restart with LLGR and N on every session;
* vip-gateway.toml: VIPs of both families over eBGP to two routers, GR with N;
* route-reflector.toml: iBGP, route-reflector clients and a non-client, GR with N.

``--check`` also asks whether the host can hold the ``state-dir`` and the API socket
(``/var/lib/gracebgp``, ``/run/gracebgp``): only root can, so each file is checked once
as written (where the only problems allowed are those two directories, when not root)
and once with those two paths moved under a temporary directory (exit 0 required).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gracebgp.config import Config, load_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NAMES = ("kubernetes-node.toml", "route-reflector.toml", "vip-gateway.toml")
GRACEBGPD = [sys.executable, "-m", "gracebgp.daemon"]
#: The [gracebgp] keys --check looks up on the host.
HOST_KEYS = ("state-dir", "api-socket")


def check(path: Path, gracebgpd: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(gracebgpd or GRACEBGPD), "-f", str(path), "--check"], capture_output=True,
                          text=True, timeout=60, check=False)


def checkable(text: str, where: Path) -> str:
    """``text`` with its state-dir and api-socket under ``where`` (which must be short:
    a socket path has at most 107 bytes). Each must be set exactly once in the file."""
    for key, value in (("state-dir", where / "state"), ("api-socket", where / "run" / "gracebgpd.sock")):
        text, n = re.subn(rf"^{key}\s*=\s*\S+", f"{key} = '{value}'", text, flags=re.MULTILINE)
        assert n == 1, f"{key} is set {n} times; an example sets it once, in [gracebgp]"
    return text


def assert_checks(path: Path, tmp_path: Path, gracebgpd: list[str] | None = None) -> str:
    """``--check`` of ``path`` as written, then of a copy whose host paths are usable here;
    returns the copy's "configuration OK" line."""
    as_written = check(path, gracebgpd)
    if as_written.returncode != 0:
        assert os.geteuid() != 0, f"{path}: --check failed as root:\n{as_written.stderr}"
        lines = as_written.stderr.splitlines()
        assert as_written.returncode == 1 and lines, as_written.stderr
        for line in lines:  # FILE:LINE: gracebgp.KEY: ... is unusable: ...
            assert any(f": gracebgp.{key}: " in line for key in HOST_KEYS) and "unusable" in line, line
    copy = tmp_path / path.name
    copy.write_text(checkable(path.read_text(), tmp_path))
    r = check(copy, gracebgpd)
    assert r.returncode == 0, f"{path} (host paths under {tmp_path}):\n{r.stderr}"
    assert "configuration OK" in r.stdout, r.stdout
    return r.stdout.strip()


@pytest.fixture
def short_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # pytest's tmp_path can be long; a Unix socket path must stay within 107 bytes.
    return Path(tmp_path_factory.mktemp("ex", numbered=True))


def test_the_examples_are_all_there() -> None:
    assert tuple(sorted(p.name for p in EXAMPLES.glob("*.toml"))) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_example_passes_check(name: str, short_tmp: Path) -> None:
    assert_checks(EXAMPLES / name, short_tmp)


def families(cfg: Config, routes: bool = False) -> set[str]:
    if routes:
        return {"ipv6-unicast" if ":" in r.prefix else "ipv4-unicast" for r in cfg.gracebgp.routes}
    return {a.name for n in cfg.neighbors for a in n.afi_safis if a.enabled}


def test_kubernetes_node_is_dual_stack_ebgp_with_gr_llgr_and_n() -> None:
    cfg = load_file(EXAMPLES / "kubernetes-node.toml")
    assert families(cfg) == families(cfg, routes=True) == {"ipv4-unicast", "ipv6-unicast"}
    for n in cfg.neighbors:
        assert n.peer_as != cfg.global_.asn, "eBGP to the ToR"
        gr = n.graceful_restart
        assert gr.enabled and gr.notification_enabled and gr.long_lived_enabled
        for a in n.afi_safis:
            assert a.mp_graceful_restart and a.long_lived_graceful_restart and a.long_lived_restart_time > 0
    assert cfg.gracebgp.sigterm == "retain"
    prefixes = {r.prefix for r in cfg.gracebgp.routes}
    assert any(p.endswith("/32") for p in prefixes) and any(p.endswith("/128") for p in prefixes), "VIPs"
    assert any(p.endswith("/24") for p in prefixes) and any(p.endswith("/64") for p in prefixes), "pod CIDRs"


def test_vip_gateway_announces_vips_of_both_families_to_two_routers() -> None:
    cfg = load_file(EXAMPLES / "vip-gateway.toml")
    assert families(cfg) == families(cfg, routes=True) == {"ipv4-unicast", "ipv6-unicast"}
    assert len({n.description.split(",")[0] for n in cfg.neighbors}) == 2
    for n in cfg.neighbors:
        assert n.peer_as != cfg.global_.asn and n.graceful_restart.notification_enabled
    assert all(r.prefix.endswith(("/32", "/128")) for r in cfg.gracebgp.routes)


def test_route_reflector_has_clients_and_a_non_client() -> None:
    cfg = load_file(EXAMPLES / "route-reflector.toml")
    assert all(n.peer_as == cfg.global_.asn for n in cfg.neighbors), "iBGP only"
    clients = [n for n in cfg.neighbors if n.route_reflector_client]
    assert len(clients) >= 2 and len(clients) < len(cfg.neighbors)
    assert families(cfg) == {"ipv4-unicast", "ipv6-unicast"}
    assert all(n.graceful_restart.enabled and n.graceful_restart.notification_enabled for n in cfg.neighbors)


def test_examples_use_documentation_addresses_and_private_asns() -> None:
    import ipaddress

    documentation = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                                                       "2001:db8::/32")]
    for name in NAMES:
        cfg = load_file(EXAMPLES / name)
        addresses = [cfg.global_.router_id, *cfg.global_.local_address_list,
                     *(n.neighbor_address for n in cfg.neighbors),
                     *(n.local_address for n in cfg.neighbors if n.local_address)]
        for a in addresses:
            ip = ipaddress.ip_address(a)
            if ip.is_unspecified:  # listening on every address (the default)
                continue
            assert any(ip in net for net in documentation if net.version == ip.version), f"{name}: {a}"
        for r in cfg.gracebgp.routes:
            net = ipaddress.ip_network(r.prefix)
            inside = any(net.subnet_of(d) for d in documentation if d.version == net.version)  # type: ignore[arg-type]
            assert inside, f"{name}: {r.prefix}"
        for asn in (cfg.global_.asn, *(n.peer_as for n in cfg.neighbors)):
            assert asn is not None, f"{name}: an example names the peer's AS"
            assert 64512 <= asn <= 65534 or 4200000000 <= asn <= 4294967294, f"{name}: AS {asn}"
