"""gracebgpd's BFD: the sessions its configuration wants, handed to gracebgp-bfdd (started
when none runs; when it runs other code than is on disk, a new one takes over its sessions
and sockets, unseen by the peers), and bfdd's state changes handed to the speaker as
``BfdChanged`` facts through the owner queue. bfdd outlives a planned restart (re-exec) or
a retaining stop: its sessions stay Up while BGP restarts (RFC 5882 §4.3, its C bit is 1);
a withdrawing stop, or a configuration without BFD, ends it with AdminDown (RFC 5880
§6.8.16), which FRR and BIRD take as a failure (docs/configuration.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from gracebgp.bfdd.client import BfddClient
from gracebgp.bfdd.protocol import SessionSpec, code_fingerprint
from gracebgp.config.model import Config
from gracebgp.core import events as ev
from gracebgp.runtime.owner import Owner

log = logging.getLogger("gracebgp.bfd")

SOCKET_NAME = "bfdd.sock"
LOG_NAME = "bfdd.log"


def wanted_sessions(cfg: Config) -> list[SessionSpec]:
    """One BFD session per neighbor with ``[neighbors.bfd.config] enabled``."""
    return [SessionSpec(peer=str(n.neighbor_address), local=str(n.local_address or ""),
                        multihop=n.bfd.multihop, port=n.bfd.destination_port,
                        desired_min_tx_us=n.bfd.desired_minimum_tx_interval,
                        required_min_rx_us=n.bfd.required_minimum_receive,
                        detect_mult=n.bfd.detection_multiplier)
            for n in cfg.neighbors if n.bfd.enabled]


class BfdLink:
    """The daemon's side of gracebgp-bfdd."""

    def __init__(self, owner: Owner, cfg: Config) -> None:
        self.owner = owner
        self.cfg = cfg
        self.path = os.path.join(cfg.gracebgp.state_dir, SOCKET_NAME)
        self.status: dict[str, dict[str, Any]] = {}  # by peer: bfdd's last word on it
        self.client: BfddClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        """gracebgp-bfdd answers (the gracebgp_bfdd_connected gauge)."""
        return self.client is not None and self.client.connected.is_set()

    async def start(self) -> None:
        """Adopt a running bfdd (a planned restart) or start one when BFD is configured;
        a bfdd left running while no BFD is configured is stopped (its sessions, if any,
        AdminDown)."""
        specs = wanted_sessions(self.cfg)
        if not specs:
            if os.path.exists(self.path):
                await self._stop_idle()
            return
        self.client = BfddClient(self.path, self._message, on_disconnect=self._gone,
                                 log_path=os.path.join(self.cfg.gracebgp.state_dir, LOG_NAME))
        try:
            await self.client.start(code_fingerprint())
            self._failed(await self.client.set_sessions(specs))
        except (TimeoutError, OSError, ConnectionError, ValueError) as exc:
            log.error("BFD not running: gracebgp-bfdd: %s", exc, extra={"event": "bfd-unavailable"})
            self.client = None

    def reconfigure(self, cfg: Config) -> None:
        self.cfg = cfg
        task = asyncio.ensure_future(self._reconfigure())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconfigure(self) -> None:
        specs = wanted_sessions(self.cfg)
        if self.client is None:
            await self.start()
        elif not specs:  # BFD removed everywhere: AdminDown, bfdd ends
            client, self.client = self.client, None
            await client.stop_daemon()
            await client.close()
            self.status.clear()
        else:
            with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
                self._failed(await self.client.set_sessions(specs))
            wanted = {s.peer for s in specs}
            self.status = {p: s for p, s in self.status.items() if p in wanted}

    async def _stop_idle(self) -> None:
        """A gracebgp-bfdd from an earlier configuration with BFD: end it rather than keep it
        (and its sessions) alive with a connection that configures nothing."""
        client = BfddClient(self.path, lambda _m: None, spawn=False)
        try:
            await client.start()
        except (TimeoutError, OSError, ConnectionError, ValueError):
            return  # a stale socket: nothing answers
        log.info("gracebgp-bfdd (pid %s) runs but no BFD is configured: stopping it", client.pid)
        await client.stop_daemon()
        await client.close()

    def _gone(self) -> None:
        """bfdd went away: what it said last is no longer known to hold."""
        log.warning("gracebgp-bfdd went away: BFD status unknown until it is back",
                    extra={"event": "bfdd-disconnected"})
        self.status.clear()

    def _failed(self, failed: dict[str, str]) -> None:
        for key, why in failed.items():
            log.error("BFD session to %s not set up by gracebgp-bfdd: %s (tried again at the next "
                      "reload or reconnect)", key, why, extra={"event": "bfd-session-failed"})

    async def finish(self, keep: bool) -> None:
        """``keep`` (planned restart, retaining stop): leave bfdd and its sessions running
        for the next gracebgpd; otherwise AdminDown and end it."""
        if self.client is None:
            return
        if not keep:
            await self.client.stop_daemon()
        await self.client.close()

    def _message(self, msg: dict[str, Any]) -> None:
        if msg.get("event") == "snapshot":  # adopted: the speaker learns where each session is
            self.status = {s["peer"]: s for s in msg.get("sessions", [])}
            log.info("gracebgp-bfdd (pid %s): %d sessions running", msg.get("pid"), len(self.status))
            for s in self.status.values():
                self._submit("adopted", s)
            return
        if msg.get("event") != "state":
            return
        s = msg["status"]
        if s["peer"] in {w.peer for w in wanted_sessions(self.cfg)}:  # not a removed one
            self.status[s["peer"]] = s
        self._submit(msg.get("old", "down"), s)

    def _submit(self, old: str, s: dict[str, Any]) -> None:
        self.owner.submit(ev.BfdChanged(s["peer"], old, s["state"], s["remote_state"], s["local_diag"],
                                        bool(s["remote_c"])))

    async def sessions(self) -> list[dict[str, Any]]:
        """bfdd's view of every session (``gracebgp bfd``); the last known one when bfdd
        does not answer."""
        if self.client is not None:
            with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
                listing = await self.client.list_sessions()
                self.status = {s["peer"]: s for s in listing.get("sessions", [])}
        return list(self.status.values())
