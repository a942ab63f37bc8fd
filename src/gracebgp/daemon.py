"""gracebgpd: the BGP daemon (layer L5). Loads the configuration, runs the Speaker on the
asyncio runtime, and maps signals to operator intent (spec section 6):

* ``gracebgp restart`` (API Restart): the pre-flight (the re-execution's command line checks
  the configuration and imports the code on disk: refused, every session up, if it fails),
  then the Established sessions are handed over to the re-executed process (same PID;
  ``runtime.handoff``); ``--graceful``: a restart marker, sessions closed the GR way, the
  re-executed process comes back with R=1; ``gracebgpd --take-over``: to another process;
* ``gracebgp stop [--withdraw]`` (API Stop): stop, withdrawing or retaining;
* SIGINT: withdrawing stop (peers delete our routes now);
* SIGTERM: the configured ``[gracebgp] sigterm`` action, ``retain`` (graceful-restart
  style: peers keep our routes while a supervisor restarts us) or ``withdraw``;
* SIGHUP: reload the file and apply the difference (a bad file is reported and ignored);
* SIGUSR1: write the peers and the Loc-RIB to the log.

Exit codes (README "Running the daemon"): 0 stopped as asked; 1 the configuration is
invalid (``--check`` found problems); 2 the command line is wrong; 3 another gracebgpd
holds the state directory; 4 a listener (BGP port, API socket, TCP API) cannot be bound;
5 the state directory cannot be used; 6 the planned restart could not re-execute; 7
``--take-over`` did not happen (the running gracebgpd refused it, or none answers).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gracebgp import __version__
from gracebgp.api.service import DaemonInfo, RequestError
from gracebgp.config import ConfigError, check, diff, effective, load_file
from gracebgp.config.cmdline import parse_args
from gracebgp.config.extras import host_port
from gracebgp.config.loader import Loaded, parse_detailed, read_file
from gracebgp.config.model import Config
from gracebgp.config.policy_source import book_of
from gracebgp.core import events as ev
from gracebgp.runtime import fibconfig, handover, takeover, tcpao
from gracebgp.runtime.bfdlink import BfdLink
from gracebgp.runtime.fromconfig import (
    keep_identity,
    listen_addresses,
    neighbors_of,
    peers_hold,
    ranges_of,
    routes_of,
    speaker_args,
    tunables_of,
)
from gracebgp.runtime.gcpolicy import Sweeper, tune_gc
from gracebgp.runtime.handoff import Handoff, take_over_first
from gracebgp.runtime.instance import InstanceError, InstanceLock
from gracebgp.runtime.limits import raise_fd_limit
from gracebgp.runtime.logsetup import setup as setup_logging
from gracebgp.runtime.mallocpolicy import malloc_note, tune_malloc
from gracebgp.runtime.owner import STEP_BOUND, Owner
from gracebgp.runtime.preflight import host_problems, import_problems, preflight, reexec_argv
from gracebgp.runtime.recorder import Recorder
from gracebgp.runtime.restartstate import HEARTBEAT, RestartState
from gracebgp.runtime.sdnotify import Notifier
from gracebgp.runtime.store import open_store
from gracebgp.runtime.tlswatch import CertificateWatch

if TYPE_CHECKING:
    from gracebgp.api.server import ApiServer

log = logging.getLogger("gracebgp")
EXIT_CONFIG, EXIT_RUNNING, EXIT_LISTEN, EXIT_STATE, EXIT_EXEC, EXIT_TAKEOVER = 1, 3, 4, 5, 6, 7


class StartupError(Exception):
    """The daemon cannot start: one line, and the process's exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _detailed(path: Path, config_type: str) -> Loaded | None:
    """The file as written (peer groups, lines), or None when it no longer parses."""
    try:
        return parse_detailed(read_file(path), str(path), config_type)
    except ConfigError:
        return None


class Daemon:
    def __init__(self, path: Path, cfg: Config, recorder: Recorder | None = None,
                 config_type: str = "toml") -> None:
        self.path = path
        self.config_type = config_type  # -t: how SIGHUP reads the file again
        self.cfg = cfg
        self.loaded = _detailed(path, config_type)  # how it is written: GetPeer's sources
        opened = open_store(cfg.gracebgp.state_dir)  # API routes, durable
        self.store = opened.store
        #: (type, subject, reason, message) of the state directory's files, for health.
        self.state_problems: list[tuple[str, str, str, str]] = []
        if opened.problem:
            self.state_problems.append(("RouteStore", f"state-dir {cfg.gracebgp.state_dir}",
                                        opened.reason, opened.problem))
        # The kernel FIB first: its adopted routes decide the F bit of our OPENs (fib.fbit).
        self.fib = fibconfig.driver_for(cfg)
        self.tls_watch: CertificateWatch | None = None  # the TCP API's certificate, once the API runs
        self.gc_sweeper = Sweeper(time.monotonic())  # frozen cycles freed (runtime/gcpolicy.py)
        self.heartbeat: asyncio.TimerHandle | None = None
        cfg = self.cfg = fibconfig.with_forwarding(cfg, self.fib)
        # config_file: named when the API refuses the file's routes
        args = speaker_args(cfg, opened.routes, os.path.abspath(path))
        self.speaker = args.build()
        self.owner = Owner(self.speaker, listen_addresses(cfg))
        self.recorder = recorder  # --record / [gracebgp] record (runtime.recorder)
        if recorder is not None:
            recorder.begin(args)
            self.owner.recorder = recorder
        self.owner.store = self.store
        self.owner.store_error = opened.error
        self.restarting = False  # the planned restart's pre-flight is running
        self.lock: InstanceLock | None = None  # the state directory's (runtime.instance)
        self.graceful_stop = False
        self.stop_message = ""
        self.stopping = False
        self.reexec = False  # a planned restart: exec ourselves after the stop
        self.bfd = BfdLink(self.owner, cfg)  # gracebgp-bfdd (issue 18)
        self.restart_state = RestartState(cfg.gracebgp.state_dir)
        #: The service manager ($NOTIFY_SOCKET; runtime.sdnotify): READY, RELOADING, STOPPING.
        self.notify = Notifier.from_environment()
        #: The session hand-over (issue 19): restart or take-over, or resumed (runtime.handoff).
        self.handoff = Handoff(self.owner, cfg.gracebgp.state_dir, self.notify)

    # --- Control (api.server): the process itself -------------------------------------
    @property
    def drain_delay(self) -> float:
        return float(self.cfg.gracebgp.drain_delay)

    async def restart(self, graceful: bool = False) -> str:
        """Planned restart: a session hand-over (issue 19, ``runtime.handover``), or with
        ``graceful`` a graceful restart (spec section 6); answered first, carried out next;
        refused (RequestError 409, every session up) when the command line the restart
        will execute does not pass its pre-flight (configuration, code on disk, and for a
        hand-over the state format)."""
        if self.stopping:
            return "already stopping; nothing more to do"
        if self.restarting:
            raise RequestError(409, "restart refused: a restart is already being checked")
        if not graceful and (refused := handover.refused(self.owner)):
            raise RequestError(409, "restart refused: the sessions cannot be handed over: "
                               f"{'; '.join(refused)}; `gracebgp restart --graceful` restarts the "
                               "graceful-restart way")
        self.restarting = True
        try:
            why = await preflight(reexec_argv(), env=None if graceful else handover.preflight_env(self.owner))
        finally:
            self.restarting = False
        if why:
            log.error("restart refused, every session stays up: %s", why)
            raise RequestError(409, f"restart refused: the new process would not start: {why}")
        if not graceful:
            self.stopping = self.reexec = True
            return self.handoff.begin_restart()
        if not self._stop(True, "gracebgp restart --graceful", delay=0.1, restart=True):
            return "already stopping; nothing more to do"
        self.reexec = True
        # To systemd a planned restart is a reload: same PID, READY=1 from the new process.
        self.notify.reloading(f"gracebgp restart: sessions closing the graceful-restart way, "
                              f"re-executing (pid {os.getpid()})")
        return ("restarting: sessions close the graceful-restart way, peers keep our routes; the "
                f"process re-executes itself (pid {os.getpid()}) and comes back with R=1")

    def _take_over_request(self, request: dict[str, object]) -> str:
        """``gracebgpd --take-over`` asks for the sessions (runtime.takeover): "" when they
        go to it (then the owner loop stops, ``serve`` quiesces and sends them), else why not."""
        if self.stopping or self.restarting:
            return "this gracebgpd is already stopping or restarting"
        why = self.handoff.decide(request)
        self.stopping = not why
        return why

    def stop(self, withdraw: bool, message: str) -> str:
        if not self._stop(not withdraw, message or "gracebgp stop", delay=0.1):
            return "already stopping; nothing more to do"
        return ("stopping: peers withdraw our routes now" if withdraw else
                "stopping: peers keep our routes for our restart time (graceful restart)")

    def _stop(self, graceful: bool, why: str, delay: float = 0.0, restart: bool = False) -> bool:
        """The first stop request decides (a SIGTERM from a supervisor right after
        ``gracebgp stop --withdraw`` must not turn it into a retaining stop); False when
        a stop was already under way. ``restart``: the planned restart's stop, of which the
        service manager hears RELOADING (see ``restart``), not STOPPING."""
        if self.stopping:
            log.info("%s: already stopping (%s); ignored", why, "retaining" if self.graceful_stop
                     else "withdrawing")
            return False
        self.stopping = True
        log.info("%s: %s", why, "stopping, peers keep our routes (graceful restart)" if graceful
                 else "stopping, peers withdraw our routes")
        self.graceful_stop, self.stop_message = graceful, why
        if not restart:
            self.notify.stopping(f"{why}: stopping, peers " + ("keep our routes (graceful restart)"
                                                               if graceful else "withdraw our routes"))
        if delay:
            asyncio.get_running_loop().call_later(delay, self.owner.stop)  # the answer goes first
        else:
            self.owner.stop()
        return True

    def _reload(self) -> None:
        if self.stopping:  # the service manager heard STOPPING (or a restart): no READY now
            self._apply_reload()
            return
        self.notify.reloading(f"reloading {self.path}")
        status = self._apply_reload()
        self.notify.ready(status)

    def _apply_reload(self) -> str:
        """SIGHUP: load the file and apply the difference; the outcome in one line."""
        try:
            loaded = parse_detailed(read_file(self.path), str(self.path), self.config_type)
            new = loaded.config
        except ConfigError as exc:
            log.error("reload failed, keeping the running configuration:\n%s", exc)
            return (f"running; the last reload failed ({len(exc.problems)} problems in {self.path}), "
                    "the running configuration is kept")
        d = diff(self.cfg, new)
        if d.needs_restart:
            log.warning("reload: these changes need a restart and are not applied: %s",
                        "; ".join(d.needs_restart))
        log.info("reload: %d peers added, %d removed, %d changed, %d routes added, %d removed",
                 len(d.added), len(d.removed), len(d.changed), len(d.routes_added), len(d.routes_removed))
        self.cfg = new = keep_identity(self.cfg, new) if d.needs_restart else new
        self.bfd.reconfigure(new)
        self.loaded = loaded
        # The file's routing policy, always: the speaker keeps its running one when they are
        # the same, and otherwise (the file changed, or the API edited the running one) the
        # file's takes over, as in gobgpd; its neighbors' apply-policy names only the file's
        # policies (the loader checked), so an API-deleted policy cannot be named again.
        book = book_of(new)
        self.owner.submit(ev.Reconfigured(neighbors_of(new), routes_of(new), tunables_of(new),
                                          ranges_of(new), policy_book=book))
        return (f"running; reloaded {self.path}: {len(new.neighbors)} neighbors"
                + ("; some changes need a restart" if d.needs_restart else ""))

    def _settings(self, address: str, dynamic_range: str | None) -> list[tuple[str, str, str]]:
        """GetPeer's configured values and their sources (config.effective), as last loaded."""
        return [] if self.loaded is None else effective.settings(self.loaded, address, dynamic_range)

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
        ao = [n.neighbor_address for n in self.cfg.neighbors if n.tcp_ao_keys]
        no_ao = tcpao.supported() if ao else ""
        if no_ao:
            problems.append(("TcpAoUnavailable", f"tcp-ao-keys of {', '.join(ao)}", "NoKernelSupport", no_ao))
        for kind, subject, _, message in problems:
            log.error("%s: %s: %s", kind, subject, message)
        return problems, token

    def _live_problems(self) -> list[tuple[str, str, str, str]]:
        """Health conditions that come and go: the state directory's files, the store."""
        out = list(self.state_problems)
        if self.owner.store_error and not any(r == "StoreUnusable" for _, _, r, _ in out):
            out.append(("RouteStore", f"state-dir {self.cfg.gracebgp.state_dir}", "StoreWriteFailed",
                        f"the last change through the API could not be stored ({self.owner.store_error}): "
                        "routes added or deleted since may not survive a restart"))
        if self.fib is not None:
            out += self.fib.conditions()
        if self.tls_watch is not None:
            out += self.tls_watch.conditions()
        return out

    async def _start_api(self, loop: asyncio.AbstractEventLoop) -> ApiServer:
        from gracebgp.api.server import ApiServer, build_app  # noqa: PLC0415 (after a hand-over's adoption)

        g = self.cfg.gracebgp
        problems, token = self._host_problems()
        info = DaemonInfo(__version__, socket.gethostname(), loop.time(), self.cfg.global_.port,
                          tuple(self.cfg.global_.local_address_list), g.sigterm, g.forwarding_state_preserved,
                          self.cfg.global_, tuple(problems), self._live_problems, self._settings)
        tcp = host_port(g.api_listen) if g.api_listen is not None else None
        cert, key = g.api_tls_cert_file, g.api_tls_key_file
        tls = (cert, key) if cert is not None and key is not None else None
        api = ApiServer(build_app(self.owner, info, socket.gethostname().split(".")[0] or None, self),
                        g.api_socket, tcp, token, socket_group=g.api_socket_group,
                        socket_mode=int(g.api_socket_mode, 8), tls=tls,
                        metrics=host_port(g.metrics_listen) if g.metrics_listen is not None else None)
        try:
            await api.start()
        except OSError as exc:
            raise StartupError(EXIT_LISTEN, f"cannot serve the API: {exc.strerror or exc}") from None
        if api.tls_files is not None:
            self.tls_watch = CertificateWatch(api.tls_files[0])
            self.tls_watch.tick()
        log.info("API on unix:%s (mode %s%s)%s%s", g.api_socket, g.api_socket_mode,
                 f", group {g.api_socket_group}" if g.api_socket_group is not None else "",
                 f" and {'https' if tls else 'http'}://{g.api_listen} (token)" if tcp and token else "",
                 f"; metrics on http://{g.metrics_listen}/metrics (no token)" if g.metrics_listen else "")
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
        log.info("malloc: %s", malloc_note())
        raise_fd_limit()  # soft RLIMIT_NOFILE to the hard limit (runtime/limits.py)
        previous = self.restart_state.classify(peers_hold(self.cfg))  # we hold the state-dir lock
        for problem in previous.problems:
            log.error("%s", problem)
            self.state_problems.append(("StateFileDamaged", f"state-dir {self.cfg.gracebgp.state_dir}",
                                        "SetAside", problem))
        kind, detail = previous.kind, previous.detail
        incoming = handover.incoming()  # the sessions our previous image handed over
        if incoming is not None:
            kind, detail = "handover", f"session hand-over, state {incoming[0]}"
        log.info("start: %s%s", {"cold": "cold start, R=0", "planned": "planned restart, R=1",
                                 "unplanned": "unplanned restart (crash), R=1",
                                 "handover": "sessions handed over, R=0 for any other"}[kind],
                 f" ({detail})" if detail else "")
        if previous.events:
            self.owner.bus.carry_over(previous.events)
        self.owner.feed(ev.RestartDecided(kind, detail))  # what GetGrStatus says from its first answer on
        # running.json before the API answers (a SIGKILL from then on is a crash); the BGP
        # listeners last, just before the owner runs (an early connection would wait in
        # the queue). A listener that cannot be bound ends the start with the state files
        # put back: the next start still judges the previous run.
        try:
            before = self.restart_state.begin()
        except OSError as exc:
            raise StartupError(EXIT_STATE, f"state-dir {self.cfg.gracebgp.state_dir}: cannot record "
                               f"this run: {exc.strerror or exc}") from None
        api: ApiServer | None = None
        runner: asyncio.Future[None] | None = None
        try:
            if incoming is not None:  # sessions first, keepalives flowing, then the slow parts
                detail = (await handover.take_over(self.owner, *incoming)).detail
                runner = asyncio.ensure_future(self.owner.run())
            api = await self._start_api(loop)
            await self.owner.start(kind, detail)
            await self.handoff.listen(self._take_over_request)
            await self.bfd.start()  # adopts a running gracebgp-bfdd after a planned restart
            if self.fib is not None:  # after Started is queued: the first step sees the deferral
                self.fib.attach(self.owner)
        except (OSError, StartupError) as exc:
            self.restart_state.undo(before)
            await self.owner.transport.shutdown()
            if api is not None:
                await api.stop()
            if self.store is not None:
                self.store.close()
            if isinstance(exc, StartupError):
                raise
            raise StartupError(EXIT_LISTEN, exc.strerror or str(exc)) from None
        # Configuration loaded, API answering, BGP listeners bound: ready (after a planned
        # restart too: the re-executed process has the same PID, MAINPID says so).
        self.notify.ready(f"running: AS {self.cfg.global_.asn}, router-id {self.cfg.global_.router_id}, "
                          f"{len(self.cfg.neighbors)} neighbors; {kind} start"
                          + (f" ({detail})" if detail else ""))
        self.heartbeat = loop.call_later(HEARTBEAT, self._heartbeat)
        while True:
            await (runner if runner is not None else self.owner.run())
            runner = None
            if not self.handoff.active or await self.handoff.finish():
                break
            self.stopping = self.reexec = False  # the hand-over did not happen: carry on
        if self.heartbeat is not None:  # (the timer it set last: none fires during the stop)
            self.heartbeat.cancel()
        handing_over = self.handoff.active
        if not handing_over:
            await self.owner.shutdown(self.graceful_stop, self.stop_message)
        if self.fib is not None:  # after the withdrawals have left (fib.stop)
            self.fib.stop(withdraw=not self.graceful_stop and not handing_over)
        if self.store is not None:
            self.store.close()
        try:
            if handing_over:  # running.json stays: a death before the new process runs is a crash
                self.restart_state.heartbeat()
            elif self.graceful_stop:
                events = [e for e in self.owner.bus.history if e.get("kind") in ("restart", "peer-state")]
                self.restart_state.planned(self.stop_message, events)
            else:
                self.restart_state.clean()
        except OSError as exc:
            log.error("cannot record how we stopped in %s: %s", self.cfg.gracebgp.state_dir, exc)
        # BFD stays Up while we restart, and across a take-over (the taker adopts bfdd)
        await self.bfd.finish(keep=self.reexec or self.graceful_stop or self.handoff.taken_over)
        await api.stop()
        self.handoff.close()
        if self.recorder is not None:
            self.recorder.close()
        log.info("stopped%s", "; re-executing for the planned restart" if self.reexec else "")
        return 0

    def _heartbeat(self) -> None:
        self.heartbeat = asyncio.get_running_loop().call_later(HEARTBEAT, self._heartbeat)
        try:
            self.restart_state.heartbeat()
        except OSError as exc:
            log.warning("state-dir heartbeat: %s", exc)
        if self.tls_watch is not None:
            self.tls_watch.tick()
        swept = self.gc_sweeper.tick(time.monotonic())
        if swept is not None:  # (a pause of the event loop, outside any owner step)
            log.log(logging.INFO if swept[1] > STEP_BOUND else logging.DEBUG,
                    "garbage collector: a full collection freed %d objects in %.0f ms",
                    swept[0], swept[1] * 1000)


def _check(path: Path, preflight_mode: bool, config_type: str = "toml") -> int:
    """``--check``: the file, and what the host must offer (state-dir, socket directory);
    ``--preflight`` (the planned restart's, run by the old process with the new code): also
    import every module the daemon will need. One problem per line on stderr."""
    code, text = check(path, config_type)
    if code != 0:
        print(f"the configuration no longer validates: {text}" if preflight_mode else text, file=sys.stderr)
        return code
    problems = [str(p) for p in host_problems(load_file(path, config_type), path)]
    if preflight_mode:
        problems += [f"the new code cannot run: {line}" for line in import_problems()]
        problems += handover.check_problems()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return EXIT_CONFIG
    print(text)
    return 0


def _run(path: Path, cfg: Config, record: str | None = None,
         config_type: str = "toml", lock_wait: float = 0.0) -> tuple[int, Daemon | None]:
    """Lock the state directory, then serve; a failed start is one line and its code.
    ``record``: the recording file (--record, else ``[gracebgp] record``); ``config_type``:
    the file's format (-t), for reloads; ``lock_wait``: how long another process may still
    hold the lock (a take-over: the old process is exiting)."""
    try:
        lock = takeover.acquire_within(cfg.gracebgp.state_dir, lock_wait)  # before the state dir is touched
    except InstanceError as exc:
        log.error("%s", exc)
        return (EXIT_RUNNING if exc.pid is not None else EXIT_STATE), None
    recorder = None
    target = record or cfg.gracebgp.record
    if target:
        try:
            recorder = Recorder.open(target)
        except OSError as exc:
            log.error("cannot start: cannot record to %s: %s", target, exc.strerror or exc)
            lock.release()
            return (2 if record else EXIT_CONFIG), None
        log.warning("recording every input and output of the speaker to %s (large: every UPDATE "
                    "received and sent, in hex)", target, extra={"event": "recording"})
    try:
        daemon = Daemon(path, cfg, recorder, config_type)
        daemon.lock = lock
        return asyncio.run(daemon.serve()), daemon
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        lock.release()
        if recorder is not None:
            recorder.close()
        return exc.code, None


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv, __version__)  # gobgpd's options too (config.cmdline)
    if opts.check or opts.preflight:
        return _check(opts.config_file, opts.preflight, opts.config_type)
    tune_malloc()  # before any table grows (runtime/mallocpolicy.py; serve logs what it did)
    setup_logging(opts.log_level, opts.log_format)
    for notice in opts.notices:
        log.warning("gobgpd option accepted: %s", notice, extra={"event": "gobgpd-option"})
    try:
        cfg = load_file(opts.config_file, opts.config_type)
    except ConfigError as exc:
        if opts.log_format == "json":  # every line on stderr is JSON
            log.error("invalid configuration, not started: %s", exc, extra={"event": "config-invalid"})
        else:
            print(exc, file=sys.stderr)
        return EXIT_CONFIG
    if opts.take_over and (why := take_over_first(cfg.gracebgp.state_dir)):
        print(f"gracebgpd: take-over failed, the running gracebgpd keeps its sessions: {why}",
              file=sys.stderr)
        return EXIT_TAKEOVER
    code, daemon = _run(opts.config_file, cfg, opts.record, opts.config_type,
                        lock_wait=takeover.LOCK_WAIT if opts.take_over else 0.0)
    if daemon is not None and daemon.handoff.taken_over:
        if daemon.lock is not None:
            daemon.lock.release()  # the new process waits for it
        takeover.linger()
    if daemon is not None and daemon.reexec:
        logging.shutdown()
        # Same PID, fresh interpreter: the new code on disk, the same arguments. Our sockets
        # are close-on-exec (PEP 446), so nothing leaks into the new process; the state
        # directory's lock is handed over, so no other instance can start in between.
        if daemon.lock is not None:
            daemon.lock.hand_over()
        if daemon.handoff.handed is not None:
            handover.prepare_exec(*daemon.handoff.handed, bridge=True)
        argv_new = reexec_argv()
        try:
            os.execv(argv_new[0], argv_new)
        except OSError as exc:  # the pre-flight ran this argv a moment ago: rare
            print(f"gracebgpd: cannot re-execute {argv_new[0]}: {exc.strerror or exc}; the restart "
                  "marker stays, start gracebgpd again for a planned restart", file=sys.stderr)
            return EXIT_EXEC
    return code


if __name__ == "__main__":
    sys.exit(main())
