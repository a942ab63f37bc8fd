"""``gracebgp-proxyd``: the BGP-as-a-service session proxy (issue 20; docs/proxy.md).

``gracebgp-proxyd -f FILE`` runs until SIGTERM or SIGINT; ``--check`` reads the file,
prints the NAT port of every possible session and exits (1 with the problems when the
file cannot be used).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from gracebgp import __version__
from gracebgp.config.problems import ConfigError
from gracebgp.proxy import config as proxy_config
from gracebgp.proxy.api import ApiListener
from gracebgp.proxy.server import ProxyServer

log = logging.getLogger("gracebgp.proxy")


async def serve(cfg: proxy_config.ProxyConfig) -> None:
    server = ProxyServer(cfg)
    await server.start()
    api = ApiListener(server, cfg.api_socket)
    await api.start()
    log.info("gracebgp-proxyd %s: %d network(s), API on %s", __version__, len(cfg.networks), cfg.api_socket)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    await api.stop()
    await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gracebgp-proxyd", description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--config-file", required=True, metavar="FILE")
    parser.add_argument("--check", action="store_true", help="check the file, print the NAT ports, exit")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--version", action="version", version=f"gracebgp-proxyd {__version__}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = proxy_config.load(args.config_file)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(1)
    if args.check:
        for key, port in sorted(cfg.nat_ports.items(), key=lambda kv: kv[1]):
            print(f"{port}\t{key.text()}")
        return
    asyncio.run(serve(cfg))


if __name__ == "__main__":
    main()
