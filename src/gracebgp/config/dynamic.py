"""``[[dynamic-neighbors]]`` (GoBGP's schema): a prefix and the peer group whose settings
every peer connecting from inside it takes.

    [[dynamic-neighbors]]
      [dynamic-neighbors.config]
        prefix = "10.0.0.0/24"          GoBGP's DynamicNeighborConfig.prefix
        peer-group = "leaves"           GoBGP's DynamicNeighborConfig.peer-group
      [dynamic-neighbors.gracebgp]
        max-peers = 20                  gracebgp: the most peers of this range at once

The group's tables (already checked as a group, ``config.groups``) become one neighbor
table per range, its address the prefix's own, so every key a group may hold has the same
meaning for a dynamic peer as for a configured member. A group without ``peer-as`` (or
with 0) takes any AS, as GoBGP does. What cannot work for a range is refused here: TCP-AO
keys (the kernel keys TCP-AO per address; the MD5 key is scoped to the prefix), a
local-address of the other family, a prefix given twice.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

from gracebgp.config.groups import Inheritance, Reshape
from gracebgp.config.model import DynamicNeighbor, Neighbor
from gracebgp.config.positions import KeyPath
from gracebgp.config.schema import NEIGHBOR

Issue = tuple[KeyPath, str]
#: Validates data as a model, reporting at a model location (the loader's ``_validate``).
Validate = Callable[[Any, dict[str, Any], tuple[str | int, ...], list[Issue]], Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def build(entries: list[dict[str, Any]], found: Inheritance, reshape: Reshape, validate: Validate,
          issues: list[Issue]) -> list[DynamicNeighbor]:
    """The shaped ``[[dynamic-neighbors]]`` entries (prefix, peer_group, max_peers) as
    models, each with its group's values as its ``template`` neighbor."""
    out: list[DynamicNeighbor] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        where: KeyPath = ("dynamic-neighbors", i, "config")
        name, network = entry.get("peer_group"), _network(entry.get("prefix"))
        if network is not None and str(network) in seen:
            issues.append(((*where, "prefix"), f"prefix {network} is given twice (also "
                           f"dynamic-neighbors[{seen[str(network)]}])"))
            continue
        if network is not None:
            seen[str(network)] = i
        if name is None or not isinstance(name, str) or name not in found.groups:
            defined = ", ".join(repr(n) for n in found.groups) or "none"
            issues.append(((*where, "peer-group"), "required key is missing: the [[peer-groups]] entry whose "
                           "settings the range's peers take" if name is None else
                           f"there is no peer group {name!r} (peer groups defined: {defined})"))
            continue
        group = found.groups[name][1]
        problem = _unfit(group, network)
        if problem:
            issues.append(((*where, "peer-group"), f"peer group {name!r}: {problem}"))
            continue
        table = _template(group, network)
        mine: list[Issue] = []
        shaped = reshape(table, NEIGHBOR, ("neighbors", 0), mine)
        template = validate(Neighbor, shaped, ("neighbors", 0), mine)
        for path, message in mine:  # the group's own check has the details at its lines
            key = ".".join(str(p) for p in path[2:])
            issues.append(((*where, "peer-group"), f"peer group {name!r}, as a neighbor in "
                           f"{entry.get('prefix')}: {key}: {message}"))
        if template is None or mine:
            continue
        obj = validate(DynamicNeighbor, entry, ("dynamic_neighbors", i), issues)
        if obj is not None:
            out.append(obj.with_group(template))
    return out


def _network(prefix: Any) -> Network | None:
    try:
        return ipaddress.ip_network(str(prefix), strict=False) if isinstance(prefix, str) else None
    except ValueError:
        return None  # the model says why


def _unfit(group: dict[str, Any], network: Network | None) -> str:
    """Why a group cannot serve a range (empty: it can)."""
    extras = group.get("gracebgp")
    if isinstance(extras, dict) and extras.get("tcp-ao-keys"):
        return ("TCP-AO keys are not supported for dynamic neighbors (the kernel keys TCP-AO per "
                "peer address); use auth-password, which is scoped to the prefix")
    bfd = group.get("bfd")
    bfd_config = bfd.get("config") if isinstance(bfd, dict) else None
    if isinstance(bfd_config, dict) and bfd_config.get("enabled") is True:
        return ("BFD ([peer-groups.bfd.config] enabled) is not supported for dynamic neighbors: "
                "gracebgp-bfdd starts a session towards a known address; enable BFD per [[neighbors]]")
    transport = group.get("transport")
    config = transport.get("config") if isinstance(transport, dict) else None
    local = config.get("local-address") if isinstance(config, dict) else None
    if network is not None and isinstance(local, str):
        try:
            if ipaddress.ip_address(local).version != network.version:
                return f"its local-address {local} is not of the family of {network}"
        except ValueError:
            pass  # the group's own check reports it
    return ""


def _template(group: dict[str, Any], network: Network | None) -> dict[str, Any]:
    """The group as a neighbor table of the range (peer-as omitted or 0: any AS, as for a
    configured neighbor: the model's ``peer_as`` None)."""
    table = copy.deepcopy(group)
    config = table.setdefault("config", {})
    config["neighbor-address"] = str(network.network_address) if network is not None else "192.0.2.0"
    return table


def keyless_inside(ranges: Sequence[DynamicNeighbor],
                   neighbors: Sequence[Neighbor | None]) -> list[tuple[tuple[str | int, ...], str]]:
    """A range whose group sets a TCP MD5 key has the kernel require that key (RFC 2385) of
    every SYN from its prefix (one key for the whole prefix on the listening sockets), and
    a single address cannot be left out of it: a configured neighbor inside the prefix
    without an MD5 key of its own could never connect to us. Refused rather than found
    out as a session that never comes up (model locations and messages)."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    for r in ranges:
        t = r.template
        network = _network(str(r.prefix))
        if network is None or not (t.auth_password or t.auth_password_file):
            continue
        for i, n in enumerate(neighbors):
            if n is None or n.auth_password or n.auth_password_file:
                continue
            address = ipaddress.ip_address(n.neighbor_address)
            if address.version == network.version and address in network:
                what = "TCP-AO keys" if n.tcp_ao_keys else "no TCP MD5 key"
                out.append((("neighbors", i, "neighbor_address"),
                            f"{n.neighbor_address} is inside dynamic neighbor range {network}, whose peer "
                            f"group sets a TCP MD5 key, and has {what}: the kernel asks every connection "
                            f"from the range for the range's key (RFC 2385; one key per prefix, no "
                            f"address left out), so this neighbor could never connect to us. Give it an "
                            f"auth-password (its own key wins inside the range) or move it out of the range"))
    return out
