"""``gracebgp-proxyd``: the BGP-as-a-service session proxy (issue 20; docs/proxy.md).

``gracebgp-proxyd -f FILE`` runs until SIGTERM or SIGINT; ``--check`` reads the file,
prints the NAT port of every possible session and exits (1 with the problems when the
file cannot be used). The ports in use are remembered in the state directory
(``nat-ports.json``) and kept on the next start (``placement.plan``). ``--take-over``
(an upgrade) starts with every session of the proxyd running on the same state
directory (``proxy.handover``), which then exits; when none runs it starts as usual; when
the take-over does not happen it exits 1 with the reason and the running one carries on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path

from gracebgp import __version__
from gracebgp.config.problems import ConfigError
from gracebgp.proxy import config as proxy_config
from gracebgp.proxy import handover
from gracebgp.proxy.api import ApiListener
from gracebgp.proxy.server import ProxyServer

log = logging.getLogger("gracebgp.proxy")
#: The NAT ports in use, in the state directory (JSON: session key -> port).
PORTS_FILE = "nat-ports.json"


async def serve(cfg: proxy_config.ProxyConfig, taken: handover.Taken | None = None) -> None:
    server = ProxyServer(cfg)
    if taken is not None:
        await handover.adopt(server, taken)
    else:
        await server.start()
    giver = handover.Giver(server, cfg.state_dir)
    await giver.start()
    api = ApiListener(server, cfg.api_socket)
    await api.start()
    log.info("gracebgp-proxyd %s: %d network(s), API on %s", __version__, len(cfg.networks), cfg.api_socket)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(giver.taken.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in waits:
        wait.cancel()
    log.info("stopping" if not giver.taken.is_set() else "sessions taken over; stopping")
    giver.close()
    await api.stop()
    await server.stop()


def remembered_ports(state_dir: str) -> dict[str, int]:
    """The NAT ports the last run used (``PORTS_FILE`` in the state directory), so that
    a session added to the file never moves an existing one's port; {} when there is
    none or it cannot be read (logged)."""
    path = Path(state_dir) / PORTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot be read (%s); NAT ports planned from the file alone", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and type(v) is int}


def remember_ports(cfg: proxy_config.ProxyConfig) -> None:
    """Write this run's NAT ports (written whole, then renamed into place)."""
    path = Path(cfg.state_dir) / PORTS_FILE
    ports = {key.text(): port for key, port in sorted(cfg.nat_ports.items(), key=lambda kv: kv[0].text())}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(ports, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        log.warning("%s: cannot be written (%s); the next start plans NAT ports from the file alone",
                    path, exc)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gracebgp-proxyd", description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--config-file", required=True, metavar="FILE")
    parser.add_argument("--check", action="store_true", help="check the file, print the NAT ports, exit")
    parser.add_argument("--take-over", action="store_true",
                        help="start with the sessions of the proxyd running on the same state directory")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--version", action="version", version=f"gracebgp-proxyd {__version__}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = proxy_config.load(args.config_file)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(1)
    cfg = proxy_config.keeping_ports(cfg, remembered_ports(cfg.state_dir))
    if args.check:
        for key, port in sorted(cfg.nat_ports.items(), key=lambda kv: kv[1]):
            print(f"{port}\t{key.text()}")
        return
    taken = None
    if args.take_over:
        try:
            taken = handover.receive(cfg, time.monotonic)
        except handover.NothingToTakeOver as exc:
            log.info("--take-over: nothing to take over, starting as usual: %s", exc)
        except handover.TakeOverError as exc:
            sys.stderr.write(f"gracebgp-proxyd --take-over: {exc}\n")
            sys.exit(1)
    remember_ports(cfg)
    asyncio.run(serve(cfg, taken))


if __name__ == "__main__":
    main()
