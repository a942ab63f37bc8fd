"""gracebgp-proxyd's configuration: a TOML file, one ``[[networks]]`` table per tenant
network (docs/proxy.md); every error names file, line and key.

The file is read into frozen values: per network the VM-facing addresses (gateway and
service, IPv4 and/or IPv6), the control nodes, the upstream source address, the NAT source
port range, the relay options and the VM interfaces allowed to peer. The NAT port of every
possible session is planned here, once (``placement.plan``), so ports are the same on every
start with the same file and never shared.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gracebgp.config.positions import Positions, format_path
from gracebgp.config.problems import ConfigError, ConfigProblem
from gracebgp.proxy.actions import DEFAULT_PREFIX_LIMIT
from gracebgp.proxy.placement import PortKey, PortRangeFull, SessionKind, plan
from gracebgp.proxy.relay import RelayOptions

DEFAULT_STATE_DIR = "/run/gracebgp-proxy"
SOCKET_NAME = "proxyd.sock"
DEFAULT_NAT_RANGE = (50000, 50512)  # Tungsten Fabric's default BGPaaS range

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Pool = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Vm:
    interface: str
    addresses: tuple[Address, ...]


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    gateway: tuple[Address, ...]
    service: tuple[Address, ...]
    control_nodes: tuple[str, ...]
    upstream_address: str  # the address, or the pool's prefix
    nat_ports: tuple[int, int]
    options: RelayOptions
    vms: tuple[Vm, ...]
    upstream_pool: Pool | None = None  # an address of its own per session

    def upstream_space(self) -> Pool:
        return self.upstream_pool or ipaddress.ip_network(self.upstream_address)

    def kind_of(self, local: Address) -> SessionKind | None:
        if local in self.gateway:
            return SessionKind.GATEWAY
        if local in self.service:
            return SessionKind.SERVICE
        return None

    def vm_of(self, address: Address) -> Vm | None:
        return next((vm for vm in self.vms if address in vm.addresses), None)


def port_key(network: str, interface: str, kind: SessionKind, ipv6: bool) -> PortKey:
    """The NAT port allocator's key of one session: a VM interface may have one session
    per VM-facing address (gateway/service, IPv4/IPv6)."""
    return PortKey(network, interface + (" ipv6" if ipv6 else ""), kind)


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    state_dir: str
    api_socket: str
    listen_port: int
    control_node_port: int
    networks: tuple[Network, ...]
    nat_ports: dict[PortKey, int]
    #: per session, for networks with an ``upstream-pool``
    upstream_addresses: dict[PortKey, str] = field(default_factory=dict)

    def network_for(self, local: Address) -> Network | None:
        return next((n for n in self.networks if n.kind_of(local) is not None), None)


_TOP = {"proxy", "networks"}
_PROXY = {"state-dir", "api-socket", "listen-port", "control-node-port"}
_NETWORK = {"name", "gateway", "service", "control-nodes", "upstream-address", "upstream-pool",
            "nat-port-range", "next-hop-rewrite", "prefix-limit", "rehome", "rehome-buffer",
            "attempt-timeout", "eor-timeout", "vms"}
_VM = {"interface", "addresses"}


class _Reader:
    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.positions = Positions(text)
        self.problems: list[ConfigProblem] = []

    def problem(self, path: Sequence[str | int], message: str) -> None:
        line = self.positions.line_of(path)
        self.problems.append(ConfigProblem(self.file, line, format_path(path), message))

    def keys(self, table: Any, path: tuple[str | int, ...], known: set[str]) -> dict[str, Any]:
        if not isinstance(table, dict):
            self.problem(path, "must be a table")
            return {}
        for key in table:
            if key not in known:
                self.problem((*path, key), f"unknown key (known: {', '.join(sorted(known))})")
        return table

    def value(self, table: dict[str, Any], path: tuple[str | int, ...], key: str, kind: type,
              default: Any, check: Callable[[Any], str | None] | None = None) -> Any:
        if key not in table:
            if default is _REQUIRED:
                self.problem(path, f"{key} is required")
            return None if default is _REQUIRED else default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem((*path, key), f"must be {_KIND_NAMES.get(kind, kind.__name__)}")
            return default if default is not _REQUIRED else None
        why = check(value) if check else None
        if why:
            self.problem((*path, key), why)
            return default if default is not _REQUIRED else None
        return value

    def addresses(self, table: dict[str, Any], path: tuple[str | int, ...], key: str) -> tuple[Address, ...]:
        raw = table.get(key, [])
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            self.problem((*path, key), "must be an address or a list of addresses")
            return ()
        out: list[Address] = []
        for i, text in enumerate(raw):
            try:
                if not isinstance(text, str):  # ipaddress takes 5 for 0.0.0.5
                    raise TypeError(text)
                out.append(ipaddress.ip_address(text))
            except (ValueError, TypeError):
                self.problem((*path, key, i), f"{text!r} is not an IP address")
        return tuple(out)


_REQUIRED = object()
_KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number",
               list: "a list"}


def _port(value: int) -> str | None:
    return None if 1 <= value <= 0xFFFF else "must be 1-65535"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def load(path: str | Path) -> ProxyConfig:
    """Read and check a configuration file; ConfigError lists every problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(file, 0, "", f"cannot read: {exc}")]) from None
    return parse(text, file)


def parse(text: str, file: str = "<config>") -> ProxyConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))  # tomllib's text (lineno from 3.14 only)
        line = int(found.group(1)) if found else 0
        raise ConfigError([ConfigProblem(file, line, "(syntax)", str(exc))]) from None
    r = _Reader(file, text)
    r.keys(doc, (), _TOP)
    proxy = r.keys(doc.get("proxy", {}), ("proxy",), _PROXY)
    state_dir = r.value(proxy, ("proxy",), "state-dir", str, DEFAULT_STATE_DIR)
    api_socket = r.value(proxy, ("proxy",), "api-socket", str, str(Path(state_dir) / SOCKET_NAME))
    listen_port = r.value(proxy, ("proxy",), "listen-port", int, 179, _port)
    node_port = r.value(proxy, ("proxy",), "control-node-port", int, 179, _port)
    raw_networks = doc.get("networks", [])
    if not isinstance(raw_networks, list) or not raw_networks:
        r.problem(("networks",), "at least one [[networks]] table is required")
        raw_networks = []
    indexed = [(i, n) for i, t in enumerate(raw_networks) if (n := _network(r, t, ("networks", i)))]
    _cross_checks(r, indexed)
    nat: dict[PortKey, int] = {}
    upstream: dict[PortKey, str] = {}
    for i, net in indexed:
        try:
            nat.update(_plan(net, {}))
        except (PortRangeFull, ValueError) as exc:
            r.problem(("networks", i, "nat-port-range"), str(exc))
        if net.upstream_pool is not None:
            try:
                upstream.update(_pool_plan(net, net.upstream_pool))
            except PortRangeFull as exc:
                r.problem(("networks", i, "upstream-pool"), str(exc))
    if r.problems:
        raise ConfigError(r.problems)
    return ProxyConfig(state_dir, api_socket, listen_port, node_port, tuple(n for _, n in indexed), nat,
                       upstream)


def _keys(net: Network) -> list[PortKey]:
    return [port_key(net.name, vm.interface, kind, a.version == 6)
            for vm in net.vms for kind, local in _facing(net) for a in local if vm.addresses]


def _pool_plan(net: Network, pool: Pool) -> dict[PortKey, str]:
    """One address of ``pool`` per session (review of issue 20, item 6): control nodes that
    key peers by address (RFC 4271 §6.8) then take any number of a network's sessions.
    Planned like the NAT ports (``placement.plan`` over the pool's host addresses)."""
    hosts = list(pool.hosts()) if pool.num_addresses > 2 else list(pool)
    keys = _keys(net)
    if len(keys) > len(hosts):
        raise PortRangeFull(f"{len(keys)} sessions do not fit in the pool's {len(hosts)} addresses")
    return {key: str(hosts[index - 1]) for key, index in plan(keys, 1, len(hosts)).items()} if keys else {}


def _plan(net: Network, kept: Mapping[str, int]) -> dict[PortKey, int]:
    return plan(_keys(net), *net.nat_ports, kept=kept)


def keeping_ports(cfg: ProxyConfig, kept: Mapping[str, int]) -> ProxyConfig:
    """``cfg`` with the NAT ports planned again, keeping those an earlier run used
    (``PortKey.text()`` -> port) wherever they are still in their network's range."""
    nat: dict[PortKey, int] = {}
    for net in cfg.networks:
        nat.update(_plan(net, kept))  # fits: it did without ``kept``
    return replace(cfg, nat_ports=nat)


def _facing(net: Network) -> list[tuple[SessionKind, tuple[Address, ...]]]:
    return [(SessionKind.GATEWAY, net.gateway), (SessionKind.SERVICE, net.service)]


def _network(r: _Reader, table: Any, path: tuple[str | int, ...]) -> Network | None:
    t = r.keys(table, path, _NETWORK)
    if not t:
        return None
    before = len(r.problems)
    name = r.value(t, path, "name", str, _REQUIRED)
    gateway = r.addresses(t, path, "gateway")
    service = r.addresses(t, path, "service")
    if not gateway and not service:
        r.problem(path, "a network needs a gateway or a service address to answer on")
    for key, addrs in (("gateway", gateway), ("service", service)):
        if len({a.version for a in addrs}) != len(addrs):
            r.problem((*path, key), "at most one IPv4 and one IPv6 address")
    if set(gateway) & set(service):
        r.problem((*path, "service"), "the service address must differ from the gateway address")
    nodes_raw = r.value(t, path, "control-nodes", list, _REQUIRED)
    nodes = r.addresses(t, path, "control-nodes") if nodes_raw else ()
    if nodes_raw is not None and not nodes_raw:
        r.problem((*path, "control-nodes"), "at least one control node is required")
    if len(set(nodes)) != len(nodes):
        r.problem((*path, "control-nodes"), "a control node is listed twice")
    upstream, pool = _upstream(r, t, path, nodes)
    rng = t.get("nat-port-range", list(DEFAULT_NAT_RANGE))
    if not (isinstance(rng, list) and len(rng) == 2 and all(type(p) is int and 1 <= p <= 0xFFFF for p in rng)
            and rng[0] <= rng[1]):
        r.problem((*path, "nat-port-range"), "must be [FIRST, LAST], ports 1-65535, FIRST <= LAST")
        rng = list(DEFAULT_NAT_RANGE)
    rewrite = r.value(t, path, "next-hop-rewrite", bool, False)
    v4 = next((str(a) for a in gateway if a.version == 4), None)
    v6 = next((str(a) for a in gateway if a.version == 6), None)
    if rewrite and not gateway:
        r.problem((*path, "next-hop-rewrite"), "needs a gateway address to rewrite to")
    options = RelayOptions(
        next_hop_ipv4=v4 if rewrite else None, next_hop_ipv6=v6 if rewrite else None,
        prefix_limit=r.value(t, path, "prefix-limit", int, DEFAULT_PREFIX_LIMIT, _positive),
        rehome=r.value(t, path, "rehome", bool, True),
        buffer_limit=r.value(t, path, "rehome-buffer", int, 1 << 20, _positive),
        attempt_timeout=r.value(t, path, "attempt-timeout", float, 10.0, _positive),
        eor_timeout=r.value(t, path, "eor-timeout", float, 30.0, _positive))
    vms = _vms(r, t.get("vms", []), (*path, "vms"))
    if len(r.problems) != before:
        return None
    return Network(name, gateway, service, tuple(str(n) for n in nodes), str(upstream),
                   (rng[0], rng[1]), options, vms, pool)


def _upstream(r: _Reader, t: dict[str, Any], path: tuple[str | int, ...],
              nodes: tuple[Address, ...]) -> tuple[str | None, Pool | None]:
    """``upstream-address`` (one for the network) or ``upstream-pool`` (one per session)."""
    if ("upstream-address" in t) == ("upstream-pool" in t):
        r.problem(path, "one of upstream-address and upstream-pool is required (not both)")
        return None, None
    key = "upstream-address" if "upstream-address" in t else "upstream-pool"
    text = r.value(t, path, key, str, _REQUIRED)
    if text is None:
        return None, None
    try:
        space = ipaddress.ip_address(text) if key == "upstream-address" else ipaddress.ip_network(text)
    except ValueError as exc:
        what = "an IP address" if key == "upstream-address" else f"an IP prefix ({exc})"
        r.problem((*path, key), f"{text!r} is not {what}")
        return None, None
    if any(n.version != space.version for n in nodes):
        r.problem((*path, key), "must be of the control nodes' address family")
    pool = space if isinstance(space, ipaddress.IPv4Network | ipaddress.IPv6Network) else None
    return text, pool


def _vms(r: _Reader, raw: Any, path: tuple[str | int, ...]) -> tuple[Vm, ...]:
    if not isinstance(raw, list):
        r.problem(path, "must be a list of [[networks.vms]] tables")
        return ()
    out: list[Vm] = []
    seen: dict[Address, str] = {}
    for i, table in enumerate(raw):
        t = r.keys(table, (*path, i), _VM)
        interface = r.value(t, (*path, i), "interface", str, _REQUIRED)
        addresses = r.addresses(t, (*path, i), "addresses")
        if not addresses:
            r.problem((*path, i), "a VM interface needs at least one address")
        if len({a.version for a in addresses}) != len(addresses):  # one NAT port per family
            r.problem((*path, i, "addresses"), "at most one IPv4 and one IPv6 address per VM interface "
                      "(its sessions' NAT ports are per interface and family)")
        if interface is not None and any(vm.interface == interface for vm in out):
            r.problem((*path, i, "interface"), f"interface {interface!r} is listed twice")
        for a in addresses:
            if a in seen:
                r.problem((*path, i, "addresses"), f"{a} is also interface {seen[a]!r}'s")
            seen[a] = interface or "?"
        if interface is not None:
            out.append(Vm(interface, addresses))
    return tuple(out)


def _cross_checks(r: _Reader, networks: list[tuple[int, Network]]) -> None:
    names: set[str] = set()
    facing: set[Address] = set()
    for n, (i, net) in enumerate(networks):
        if net.name in names:
            r.problem(("networks", i, "name"), f"network {net.name!r} is defined twice")
        names.add(net.name)
        for a in (*net.gateway, *net.service):
            if a in facing:
                r.problem(("networks", i), f"VM-facing address {a} belongs to another network too")
            facing.add(a)
        for j, other in networks[:n]:
            lo, hi = net.nat_ports
            if other.upstream_space().overlaps(net.upstream_space()) and lo <= other.nat_ports[1] \
                    and other.nat_ports[0] <= hi:
                r.problem(("networks", i, "nat-port-range"),
                          f"overlaps networks[{j}]'s range on the same upstream address")
