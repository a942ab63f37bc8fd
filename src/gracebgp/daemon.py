"""gracebgpd: the BGP daemon (layer L5). Loads the configuration, runs the Speaker on the
asyncio runtime, and maps signals to operator intent (spec section 6):

* ``gracebgp restart`` (API Restart): planned graceful restart: a restart marker in the
  state directory, sessions closed the GR way, then the process re-executes itself (same
  PID: supervisors see no exit; new code on disk is picked up) and comes back with R=1;
* ``gracebgp stop [--withdraw]`` (API Stop): stop, withdrawing or retaining;
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
import os
import signal
import socket
import sys
from collections.abc import Sequence
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
from gracebgp.runtime.restartstate import HEARTBEAT, RestartState
from gracebgp.runtime.store import open_store

log = logging.getLogger("gracebgp")


def neighbors_of(cfg: Config) -> tuple[NeighborSettings, ...]:
    g = cfg.gracebgp
    host = socket.gethostname().split(".")[0] or None
    return tuple(NeighborSettings.from_config(n, cfg.global_, hostname=host,
                                              forwarding_preserved=g.forwarding_state_preserved)
                 for n in cfg.neighbors)


def routes_of(cfg: Config) -> tuple[LocalRoute, ...]:
    return tuple(LocalRoute.from_config(r) for r in cfg.gracebgp.routes)


def build_speaker(cfg: Config, stored: Sequence[LocalRoute] = ()) -> Speaker:
    """``stored``: routes added through the API before a restart (runtime.store)."""
    return Speaker(cfg.global_.asn, cfg.global_.router_id, neighbors_of(cfg), routes_of(cfg),
                   always_compare_med=cfg.global_.always_compare_med, stored_routes=stored)


def tune_speaker(speaker: Speaker, cfg: Config) -> None:
    """The ``[gracebgp]`` settings the speaker reads at run time."""
    g = cfg.gracebgp
    speaker.establish_wait = float(g.establish_wait)
    speaker.llgr_ibgp = g.llgr_to_ibgp
    speaker.provisional_hard = g.provisional_hard_reset


def listen_addresses(cfg: Config) -> list[tuple[str, int]]:
    port = cfg.global_.port
    return [] if port <= 0 else [(a, port) for a in cfg.global_.local_address_list]


class Daemon:
    def __init__(self, path: Path, cfg: Config) -> None:
        self.path = path
        self.cfg = cfg
        self.store, stored = open_store(cfg.gracebgp.state_dir)  # API routes, durable
        self.speaker = build_speaker(cfg, stored)
        self.owner = Owner(self.speaker, listen_addresses(cfg))
        self.owner.store = self.store
        self.graceful_stop = False
        self.stop_message = ""
        self.stopping = False
        self.reexec = False  # a planned restart: exec ourselves after the stop
        self.restart_state = RestartState(cfg.gracebgp.state_dir)
        tune_speaker(self.speaker, cfg)

    # --- Control (api.server): the process itself -------------------------------------
    @property
    def drain_delay(self) -> float:
        return float(self.cfg.gracebgp.drain_delay)

    def restart(self) -> str:
        """Planned graceful restart (spec section 6): answered first, carried out next."""
        if not self._stop(True, "gracebgp restart", delay=0.1):
            return "already stopping; nothing more to do"
        self.reexec = True
        return ("restarting: sessions close the graceful-restart way, peers keep our routes; the "
                f"process re-executes itself (pid {os.getpid()}) and comes back with R=1")

    def stop(self, withdraw: bool, message: str) -> str:
        if not self._stop(not withdraw, message or "gracebgp stop", delay=0.1):
            return "already stopping; nothing more to do"
        return ("stopping: peers withdraw our routes now" if withdraw else
                "stopping: peers keep our routes for our restart time (graceful restart)")

    def _stop(self, graceful: bool, why: str, delay: float = 0.0) -> bool:
        """The first stop request decides (a SIGTERM from a supervisor right after
        ``gracebgp stop --withdraw`` must not turn it into a retaining stop); False when
        a stop was already under way."""
        if self.stopping:
            log.info("%s: already stopping (%s); ignored", why, "retaining" if self.graceful_stop
                     else "withdrawing")
            return False
        self.stopping = True
        log.info("%s: %s", why, "stopping, peers keep our routes (graceful restart)" if graceful
                 else "stopping, peers withdraw our routes")
        self.graceful_stop, self.stop_message = graceful, why
        if delay:
            asyncio.get_running_loop().call_later(delay, self.owner.stop)  # the answer goes first
        else:
            self.owner.stop()
        return True

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
        tune_speaker(self.speaker, new)
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
        api = ApiServer(build_app(self.owner, info, socket.gethostname().split(".")[0] or None, self),
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
        try:
            previous = self.restart_state.detect()
        except OSError as exc:
            log.error("state-dir %s: %s; starting as a cold start (R=0)", self.cfg.gracebgp.state_dir, exc)
            previous = None
        kind, detail = (previous.kind, previous.detail) if previous else ("cold", "state-dir unusable")
        log.info("start: %s%s", {"cold": "cold start, R=0", "planned": "planned restart, R=1",
                                 "unplanned": "unplanned restart (crash), R=1"}[kind],
                 f" ({detail})" if detail else "")
        if previous is not None and previous.events:
            self.owner.bus.carry_over(previous.events)
        self.speaker.restart = (kind, detail)  # what GetGrStatus says from its first answer on
        api = await self._start_api(loop)
        heartbeat = loop.call_later(HEARTBEAT, self._heartbeat)
        await self.owner.start(kind, detail)
        await self.owner.run()
        heartbeat.cancel()
        await self.owner.shutdown(self.graceful_stop, self.stop_message)
        if self.store is not None:
            self.store.close()
        try:
            if self.graceful_stop:
                events = [e for e in self.owner.bus.history if e.get("kind") in ("restart", "peer-state")]
                self.restart_state.planned(self.stop_message, events)
            else:
                self.restart_state.clean()
        except OSError as exc:
            log.error("cannot record how we stopped in %s: %s", self.cfg.gracebgp.state_dir, exc)
        if api is not None:
            await api.stop()
        log.info("stopped%s", "; re-executing for the planned restart" if self.reexec else "")
        return 0

    def _heartbeat(self) -> None:
        try:
            self.restart_state.heartbeat()
        except OSError as exc:
            log.warning("state-dir heartbeat: %s", exc)
        asyncio.get_running_loop().call_later(HEARTBEAT, self._heartbeat)


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
    daemon = Daemon(args.config_file, cfg)
    code = asyncio.run(daemon.serve())
    if daemon.reexec:
        logging.shutdown()
        # Same PID, fresh interpreter: the new code on disk, the same arguments. Our sockets
        # are close-on-exec (PEP 446), so nothing leaks into the new process.
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    return code


if __name__ == "__main__":
    sys.exit(main())
