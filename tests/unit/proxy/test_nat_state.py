"""NAT ports remembered across restarts in the state directory (review of issue 20, item 9):
adding a VM interface to the file never moves an existing session's port."""

from __future__ import annotations

import json
from pathlib import Path

from gracebgp.proxy.config import ProxyConfig, keeping_ports, parse
from gracebgp.proxy.daemon import PORTS_FILE, remember_ports, remembered_ports


def config(state: Path, interfaces: list[str]) -> str:
    vms = "".join(f'[[networks.vms]]\ninterface = "{name}"\naddresses = ["192.168.100.{3 + i}"]\n'
                  for i, name in enumerate(interfaces))
    return (f'[proxy]\nstate-dir = "{state}"\n[[networks]]\nname = "blue"\ngateway = "192.168.100.1"\n'
            'service = "192.168.100.2"\ncontrol-nodes = ["10.0.0.11", "10.0.0.12"]\n'
            'upstream-address = "10.0.0.2"\nnat-port-range = [50000, 50040]\n' + vms)


def ports(cfg: ProxyConfig) -> dict[str, int]:
    return {k.text(): p for k, p in cfg.nat_ports.items()}


def test_an_added_interface_never_moves_an_existing_port(tmp_path: Path) -> None:
    first = [f"vmi-{n}" for n in range(12)]
    cfg = keeping_ports(parse(config(tmp_path, first)), remembered_ports(str(tmp_path)))
    assert ports(cfg) == ports(parse(config(tmp_path, first)))  # nothing remembered yet
    remember_ports(cfg)
    assert json.loads((tmp_path / PORTS_FILE).read_text()) == ports(cfg)
    # some added interface moves an existing port when the file alone decides
    for n in range(200):
        grown = parse(config(tmp_path, [*first, f"vmi-new-{n}"]))
        if any(ports(grown)[k] != p for k, p in ports(cfg).items()):
            break
    else:
        raise AssertionError("no added interface moves a port")
    kept = keeping_ports(grown, remembered_ports(str(tmp_path)))
    assert all(ports(kept)[k] == p for k, p in ports(cfg).items())
    assert len(set(ports(kept).values())) == len(ports(kept))


def test_an_unreadable_state_file_is_no_memory(tmp_path: Path) -> None:
    (tmp_path / PORTS_FILE).write_text("{not json")
    assert remembered_ports(str(tmp_path)) == {}
    (tmp_path / PORTS_FILE).write_text('{"blue/vmi-1/gateway": "50001", "blue/vmi-2/gateway": 50002}')
    assert remembered_ports(str(tmp_path)) == {"blue/vmi-2/gateway": 50002}
    assert remembered_ports(str(tmp_path / "none")) == {}
