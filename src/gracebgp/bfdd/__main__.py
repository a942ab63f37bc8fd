"""``gracebgp-bfdd`` / ``python -m gracebgp.bfdd``: run the BFD process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from gracebgp.bfdd.handoff import HandoffError
from gracebgp.bfdd.server import BfdServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gracebgp-bfdd", description=(
        "BFD (RFC 5880/5881/5883) for gracebgpd, in a process of its own: gracebgpd starts "
        "it and configures it over a Unix socket; it outlives gracebgpd's planned restarts."))
    parser.add_argument("--socket", required=True, help="the control socket (in gracebgpd's state directory)")
    parser.add_argument("--listen", action="append", default=None,
                        help="an address to receive BFD on (repeatable; default 0.0.0.0 and ::)")
    parser.add_argument("--orphan-timeout", type=float, default=300.0,
                        help="seconds without gracebgpd before the sessions go AdminDown and bfdd ends")
    parser.add_argument("--take-over", action="store_true",
                        help="start with the sessions and sockets of the gracebgp-bfdd on --socket "
                             "(an upgrade: the peers see no change); exit 3 if it does not hand them over")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s gracebgp-bfdd %(levelname)s %(message)s")
    server = BfdServer(args.socket, tuple(args.listen or ("0.0.0.0", "::")), args.orphan_timeout,
                       take_over=args.take_over)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.request_stop)
        await server.run()

    try:
        asyncio.run(run())
    except HandoffError as exc:
        logging.getLogger("gracebgp.bfdd").error("no hand-over: %s", exc)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
