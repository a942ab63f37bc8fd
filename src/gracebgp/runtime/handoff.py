"""The daemon's part of a session hand-over (issue 19): whether a restart or a take-over
request may hand the sessions over, the stop that leads to it, and, once the owner loop
has stopped, the clean point (``handover.quiesce``) followed by the hand-over itself
(the state and descriptors for the re-execution, or the sockets passed to the taker),
or, when either fails before the new process has the sessions, the old process carries
on with every session (``handover.resume``)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from gracebgp.runtime import handover, takeover
from gracebgp.runtime.owner import Owner
from gracebgp.runtime.preflight import import_problems
from gracebgp.runtime.sdnotify import Notifier

log = logging.getLogger("gracebgp.handover")


class Handoff:
    """One daemon's hand-over: ``active`` once a restart or a take-over asked for it (the
    owner loop then stops); after ``finish``: ``handed`` (re-exec: the state file and the
    inheritable descriptors) or ``taken_over`` (the sessions went to the taker)."""

    def __init__(self, owner: Owner, state_dir: str | Path, notify: Notifier) -> None:
        self.owner = owner
        self.state_dir = state_dir
        self.notify = notify
        self.active = False
        self.handed: tuple[Path, list[int]] | None = None
        self.listener: takeover.Listener | None = None  # <state-dir>/handover.sock
        self.taken_over = False

    async def listen(self, decide: Any) -> None:
        """Answer ``gracebgpd --take-over`` (``decide(request)``: "" to accept, else why not)."""
        self.listener = takeover.Listener(self.state_dir, decide)
        await self.listener.start()

    def begin_restart(self) -> str:
        """``gracebgp restart``: the owner loop ends (after the answer), ``finish`` follows."""
        self.active = True
        handover.notice(self.owner, "stopping", "gracebgp restart: handing the sessions over to the "
                        f"re-executed process (pid {os.getpid()})", retain=True, text="gracebgp restart")
        self.notify.reloading(f"gracebgp restart: handing the sessions over (pid {os.getpid()})")
        asyncio.get_running_loop().call_later(0.1, self.owner.stop)  # the answer goes first
        return (f"restarting: the sessions are handed over to the re-executed process (pid {os.getpid()}); "
                "peers see no change")

    def decide(self, request: dict[str, object]) -> str:
        """A take-over request: "" when the sessions go to it (the owner loop stops), else why not."""
        reads, needed = request.get("reads"), handover.needed_version(self.owner)
        if not isinstance(reads, list) or needed not in reads:
            return f"the new process does not read hand-over state format version {needed} (it reads {reads})"
        refused = handover.refused(self.owner)
        if refused:
            return "the sessions cannot be handed over: " + "; ".join(refused)
        self.active = True
        handover.notice(self.owner, "stopping", f"take-over by gracebgpd pid {request.get('pid')}: handing "
                        "the sessions over", retain=True, text="take-over")
        asyncio.get_running_loop().call_soon(self.owner.stop)
        return ""

    async def finish(self) -> bool:
        """After the owner loop stopped for the hand-over: True when the sessions are handed
        over (``handed`` or ``taken_over``); False when they stay here (the owner loop can
        run again: the reason is logged, in the timeline, and told the service manager)."""
        try:
            path, fds = await handover.quiesce(self.owner, self.state_dir, {})
        except handover.Aborted as exc:
            await self._resume(f"{exc}")
            return False
        listener = self.listener
        if listener is None or listener.accepted is None:
            self.handed = (path, fds)
            return True
        pid = listener.accepted[1]
        try:
            listener.send(path.read_bytes(), {fd: fd for fd in fds})
        except OSError as exc:
            why = f"the take-over by pid {pid} did not complete: {exc.strerror or exc}"
            await self._resume(why)
            return False
        finally:
            path.unlink(missing_ok=True)
            for fd in fds:
                os.close(fd)
        self.taken_over = True
        handover.notice(self.owner, "handover-passed", f"{len(fds)} sessions passed to pid {pid}; exiting")
        self.notify.send(f"MAINPID={pid}", status=f"sessions taken over by pid {pid}")
        return True

    async def _resume(self, why: str) -> None:
        self.active = False
        if self.listener is not None:
            self.listener.reset()  # the next --take-over is answered again
        await handover.resume(self.owner)
        log.error("hand-over abandoned, every session stays in this process: %s", why)
        handover.notice(self.owner, "handover-aborted", f"hand-over abandoned, every session stays in this "
                        f"process (pid {os.getpid()}): {why}", reason=why)
        self.notify.ready(f"running; the hand-over was abandoned: {why}")

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()


def take_over_first(state_dir: str | Path) -> str:
    """``gracebgpd --take-over``, before the daemon starts: the sessions of the gracebgpd
    running on ``state_dir`` (left where the start finds them, ``handover.incoming``);
    "" when they are here or none runs (start as usual), else why not."""
    try:
        takeover.take(state_dir, import_problems(), handover.READABLE)
    except takeover.NothingToTakeOver as exc:
        log.info("--take-over: nothing to take over, starting as usual: %s", exc)
    except takeover.TakeOverError as exc:
        return str(exc)
    return ""
