"""gracebgpd: the BGP daemon (layer L5). Loads the configuration, runs the Speaker on the
asyncio runtime, and maps signals to operator intent (spec section 6):

* SIGINT: withdrawing stop (peers delete our routes now);
* SIGTERM: the configured ``[gracebgp] sigterm`` action, ``retain`` (graceful-restart
  style: peers keep our routes while a supervisor restarts us) or ``withdraw``;
* SIGHUP: reload the file and apply the difference (a bad file is reported and ignored);
* SIGUSR1: write the peers and the Loc-RIB to the log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path

from gracebgp import __version__
from gracebgp.api.server import ApiServer, build_app
from gracebgp.api.service import DaemonInfo
from gracebgp.config import ConfigError, check, diff, load_file
from gracebgp.config.model import Config
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.runtime.gcpolicy import tune_gc
from gracebgp.runtime.owner import Owner

log = logging.getLogger("gracebgp")


def neighbors_of(cfg: Config) -> tuple[NeighborSettings, ...]:
    g = cfg.gracebgp
    host = socket.gethostname().split(".")[0] or None
    return tuple(NeighborSettings.from_config(n, cfg.global_, hostname=host,
                                              forwarding_preserved=g.forwarding_state_preserved)
                 for n in cfg.neighbors)


def routes_of(cfg: Config) -> tuple[LocalRoute, ...]:
    return tuple(LocalRoute.from_config(r) for r in cfg.gracebgp.routes)


def build_speaker(cfg: Config) -> Speaker:
    return Speaker(cfg.global_.asn, cfg.global_.router_id, neighbors_of(cfg), routes_of(cfg),
                   always_compare_med=cfg.global_.always_compare_med)


def listen_addresses(cfg: Config) -> list[tuple[str, int]]:
    port = cfg.global_.port
    return [] if port <= 0 else [(a, port) for a in cfg.global_.local_address_list]


class Daemon:
    def __init__(self, path: Path, cfg: Config) -> None:
        self.path = path
        self.cfg = cfg
        self.speaker = build_speaker(cfg)
        self.owner = Owner(self.speaker, listen_addresses(cfg))
        self.graceful_stop = False
        self.stop_message = ""

    def _stop(self, graceful: bool, why: str) -> None:
        log.info("%s: %s", why, "stopping, peers keep our routes (graceful restart)" if graceful
                 else "stopping, peers withdraw our routes")
        self.graceful_stop, self.stop_message = graceful, why
        self.owner.stop()

    def _reload(self) -> None:
        try:
            new = load_file(self.path)
        except ConfigError as exc:
            log.error("reload failed, keeping the running configuration:\n%s", exc)
            return
        d = diff(self.cfg, new)
        if d.needs_restart:
            log.warning("reload: these changes need a restart and are not applied: %s",
                        "; ".join(d.needs_restart))
        log.info("reload: %d peers added, %d removed, %d changed, %d routes added, %d removed",
                 len(d.added), len(d.removed), len(d.changed), len(d.routes_added), len(d.routes_removed))
        self.cfg = new
        self.owner.submit(ev.Reconfigured(neighbors_of(new), routes_of(new)))

    def _host_problems(self) -> tuple[list[tuple[str, str, str, str]], str | None]:
        """Settings that point to nothing (health conditions), and the API token."""
        g = self.cfg.gracebgp
        problems: list[tuple[str, str, str, str]] = []
        token = None
        if g.api_token_file is not None:
            try:
                token = Path(g.api_token_file).read_text().strip().splitlines()[0].strip() or None
            except (OSError, IndexError) as exc:
                why = getattr(exc, "strerror", None) or "empty file"
                problems.append(("MissingReference", f"api-token-file {g.api_token_file}",
                                 "TokenFileUnreadable",
                                 f"cannot read the API token: {why}; the TCP API listener is not started"))
            if token is None and not problems:
                problems.append(("MissingReference", f"api-token-file {g.api_token_file}", "TokenFileEmpty",
                                 "the API token file is empty; the TCP API listener is not started"))
        try:
            Path(g.state_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problems.append(("MissingReference", f"state-dir {g.state_dir}", "StateDirUnusable",
                             f"cannot create the state directory: {exc.strerror or exc}"))
        for kind, subject, _, message in problems:
            log.error("%s: %s: %s", kind, subject, message)
        return problems, token

    async def _start_api(self, loop: asyncio.AbstractEventLoop) -> ApiServer | None:
        g = self.cfg.gracebgp
        problems, token = self._host_problems()
        info = DaemonInfo(__version__, socket.gethostname(), loop.time(), self.cfg.global_.port,
                          tuple(self.cfg.global_.local_address_list), g.sigterm, g.forwarding_state_preserved,
                          self.cfg.global_, tuple(problems))
        tcp = None
        if g.api_listen is not None:
            host, _, port = g.api_listen.rpartition(":")
            tcp = (host.strip("[]"), int(port))
        api = ApiServer(build_app(self.owner, info, socket.gethostname().split(".")[0] or None),
                        g.api_socket, tcp, token)
        try:
            await api.start()
        except OSError as exc:
            log.error("cannot serve the API on %s: %s", g.api_socket, exc.strerror or exc)
            return None
        log.info("API on unix:%s%s", g.api_socket,
                 f" and http://{g.api_listen} (token)" if tcp and token else "")
        return api

    def _dump(self) -> None:
        for line in self.speaker.describe():
            log.info("state: %s", line)

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        sigterm_graceful = self.cfg.gracebgp.sigterm == "retain"
        loop.add_signal_handler(signal.SIGINT, self._stop, False, "SIGINT")
        loop.add_signal_handler(signal.SIGTERM, self._stop, sigterm_graceful, "SIGTERM")
        loop.add_signal_handler(signal.SIGHUP, self._reload)
        loop.add_signal_handler(signal.SIGUSR1, self._dump)
        log.info("gracebgpd %s: AS %d router-id %s, %d neighbors; SIGTERM %s; SIGINT withdraws",
                 __version__, self.cfg.global_.asn, self.cfg.global_.router_id, len(self.cfg.neighbors),
                 "retains our routes at peers (graceful restart)" if sigterm_graceful
                 else "withdraws our routes")
        tune_gc()
        api = await self._start_api(loop)
        await self.owner.start()
        await self.owner.run()
        await self.owner.shutdown(self.graceful_stop, self.stop_message)
        if api is not None:
            await api.stop()
        log.info("stopped")
        return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="gracebgpd", description="gracebgp BGP daemon")
    ap.add_argument("-f", "--config-file", required=True, type=Path, help="GoBGP-style TOML configuration")
    ap.add_argument("-l", "--log-level", default="info", choices=["debug", "info", "warning", "error"])
    ap.add_argument("--check", action="store_true",
                    help="validate the configuration and exit (0 valid, 1 not)")
    ap.add_argument("--version", action="version", version=f"gracebgpd {__version__}")
    args = ap.parse_args(argv)
    if args.check:
        code, text = check(args.config_file)
        print(text, file=sys.stdout if code == 0 else sys.stderr)
        return code
    try:
        cfg = load_file(args.config_file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    return asyncio.run(Daemon(args.config_file, cfg).serve())


if __name__ == "__main__":
    sys.exit(main())
