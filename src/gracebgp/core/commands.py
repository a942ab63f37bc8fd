"""Operator commands (the API's AddPeer, ShutdownPeer, AddPaths ...) as values, and how the
Speaker carries them out. Each answers with one ``Reply``; a command either happens
whole or not at all (AddPaths checks every route before it changes any).

Wire behaviour, spec/graceful-restart.md section 6 and RFC 8538 §5:

* ShutdownPeer: Cease/Administrative Shutdown with the RFC 9003 message, wrapped as Hard
  Reset where N is negotiated (the session unwraps it for a peer without N), so the peer
  deletes our routes; the peer stays down until EnablePeer.
* ResetPeer hard: Cease/Administrative Reset, a "provisional" subcode sent plain, so a
  peer that negotiated GR with N keeps our routes while the session comes back (one
  without N deletes them: RFC 4724 §4, any NOTIFICATION ends GR). With ``hard_reset``
  (or ``provisional-hard-reset`` configured) it goes wrapped in Cease/Hard Reset
  (RFC 8538 §3) and the peer deletes our routes at once.
* ResetPeer soft-in: ROUTE-REFRESH (RFC 2918 §4) for each negotiated family; soft-out:
  send our Adj-RIB-Out again.
* DeletePeer: Cease/Peer De-configured (Hard Reset where N is negotiated).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from gracebgp.core import events as ev
from gracebgp.core import nexthop_track
from gracebgp.core.configured import configured_refusal
from gracebgp.core.drain import DrainControl, DrainHost
from gracebgp.core.nexthop_track import TrackHost
from gracebgp.core.originate import LocalRoute, to_paths
from gracebgp.core.peer import NeighborSettings, Peer
from gracebgp.core.policy_commands import HANDLERS as POLICY_HANDLERS
from gracebgp.core.policy_commands import PolicyRefused, ReplacePolicyBook, SetPeerPolicy
from gracebgp.core.reload import ReloadHost
from gracebgp.restart.shutdown import cease, withdraw_stop
from gracebgp.rib.path import Path
from gracebgp.session.fsm import NotEstablishedError
from gracebgp.types import SAFI, Family
from gracebgp.wire.iana import CeaseSubcode
from gracebgp.wire.nlri import format_prefix, parse_prefix

RESET_MODES = ("hard", "soft", "soft-in", "soft-out")


@dataclass(frozen=True, slots=True)
class AddPeer:
    settings: NeighborSettings


@dataclass(frozen=True, slots=True)
class DeletePeer:
    address: str


@dataclass(frozen=True, slots=True)
class EnablePeer:
    address: str


@dataclass(frozen=True, slots=True)
class ShutdownPeer:
    address: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class ResetPeer:
    address: str
    mode: str = "hard"
    message: str = ""
    hard_reset: bool = False  # mode "hard": RFC 8538 Hard Reset, the peer deletes our routes


@dataclass(frozen=True, slots=True)
class AddRoutes:
    routes: tuple[LocalRoute, ...]


@dataclass(frozen=True, slots=True)
class DeleteRoutes:
    prefixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Drain:
    """RFC 8326 drain (spec section 6): re-advertise with GRACEFUL_SHUTDOWN now, withdraw
    after ``delay`` seconds; ``cancel`` ends a drain and advertises normally again."""

    delay: float = 10.0
    cancel: bool = False


Command = (AddPeer | DeletePeer | EnablePeer | ShutdownPeer | ResetPeer | AddRoutes | DeleteRoutes | Drain
           | ReplacePolicyBook | SetPeerPolicy)


class CommandHost(ReloadHost, DrainHost, TrackHost, Protocol):
    """What the commands need of the speaker: what a reload needs (peers added, removed,
    stopped, started, reset), route refresh both ways, the routes we originate, the
    route jobs in progress and the drain."""

    jobs: deque[RouteJob]  # AddRoutes/DeleteRoutes in progress, oldest first

    @property
    def slice_routes(self) -> int: ...  # routes checked or applied per owner step

    @property
    def local_routes(self) -> dict[tuple[Family, int], Path]: ...

    @property
    def config_routes(self) -> set[tuple[Family, int]]: ...  # the configuration file's

    @property
    def config_file(self) -> str: ...

    @property
    def drain(self) -> str | None: ...  # the drain's phase

    @property
    def drain_control(self) -> DrainControl: ...

    def originate(self, family: Family, key: int, path: Path) -> None: ...

    def delete_route(self, family: Family, key: int) -> bool: ...

    def request_refresh(self, peer: Peer, family: Family, now: float) -> None: ...

    def resend(self, peer: Peer, family: Family, now: float) -> None: ...


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def execute(speaker: CommandHost, ref: int, command: object, now: float) -> None:
    """Carry out ``command``; emit its Reply (and a "command" Notice when it changed something).
    AddRoutes and DeleteRoutes become a ``RouteJob`` that the speaker advances in slices
    (``advance``); their Reply follows the last slice."""
    if isinstance(command, nexthop_track.KernelRoutes):  # a fact from the kernel FIB: no Reply
        nexthop_track.apply(speaker, command)
        return
    if isinstance(command, (AddRoutes, DeleteRoutes)):
        speaker.jobs.append(RouteJob(ref, command))
        if len(speaker.jobs) == 1:
            advance(speaker, now)
        return
    handler = _HANDLERS.get(type(command))
    if handler is None:
        speaker.emit(ev.Reply(ref, 400, f"unknown command {type(command).__name__}"))
        return
    try:
        status, message, result = handler(speaker, command, now)
    except (_Refused, PolicyRefused) as exc:
        speaker.emit(ev.Reply(ref, exc.status, str(exc)))
        return
    _done(speaker, ref, command, status, message, result)


def _done(speaker: CommandHost, ref: int, command: object, status: int, message: str, result: object) -> None:
    speaker.emit(ev.Reply(ref, status, message, result))
    speaker.emit(ev.Notice("command", message, getattr(command, "address", None),
                           {"command": type(command).__name__}))


def _peer(speaker: CommandHost, address: str) -> Peer:
    peer = speaker.peers.get(address)
    if peer is None:
        raise _Refused(404, f"peer {address} not found")
    return peer


Result = tuple[int, str, object]


def _add_peer(speaker: CommandHost, cmd: AddPeer, now: float) -> Result:
    address = cmd.settings.address
    if address in speaker.peers:
        raise _Refused(409, f"peer {address} already exists")
    speaker.add_peer(cmd.settings, now, dynamic=True)
    return 201, f"peer {address} added", None


def _delete_peer(speaker: CommandHost, cmd: DeletePeer, now: float) -> Result:
    peer = _peer(speaker, cmd.address)
    speaker.remove_peer(peer, now, "deleted through the API")
    note = "" if peer.dynamic else " (it is in the configuration file: a reload brings it back)"
    return 200, f"peer {cmd.address} deleted{note}", None


def _enable_peer(speaker: CommandHost, cmd: EnablePeer, now: float) -> Result:
    peer = _peer(speaker, cmd.address)
    if not peer.admin_down and peer.limit.held is None:  # (held: over its prefix limit)
        return 200, f"peer {cmd.address} is already enabled", None
    speaker.start_peer(peer, now)
    return 200, f"peer {cmd.address} enabled", None


def _shutdown_peer(speaker: CommandHost, cmd: ShutdownPeer, now: float) -> Result:
    peer = _peer(speaker, cmd.address)
    _check_message(cmd.message)
    peer.admin_down = True
    note = withdraw_stop(cmd.message)  # RFC 8538 §5: Admin Shutdown is always Hard Reset
    why = "administrative shutdown" + (f": {cmd.message}" if cmd.message else "")
    speaker.stop_peer(peer, note, why, now)
    return 200, f"peer {cmd.address} shut down" + (f" ({cmd.message})" if cmd.message else ""), None


def _reset_peer(speaker: CommandHost, cmd: ResetPeer, now: float) -> Result:
    peer = _peer(speaker, cmd.address)
    if cmd.mode not in RESET_MODES:
        raise _Refused(400, f"reset mode must be one of {', '.join(RESET_MODES)}, not {cmd.mode!r}")
    _check_message(cmd.message)
    if cmd.hard_reset and cmd.mode != "hard":
        raise _Refused(400, f"a Hard Reset resets the session: it does not go with mode {cmd.mode}")
    if cmd.mode == "hard":
        if peer.admin_down or peer.limit.held is not None:
            why = "administratively down" if peer.admin_down else "held down over its prefix limit"
            raise _Refused(400, f"peer {cmd.address} is {why}; enable it first")
        # RFC 8538 §5: "provisional": plain (GR applies) unless configured or asked as Hard Reset.
        hard = speaker.provisional_hard or cmd.hard_reset
        note = cease(CeaseSubcode.ADMINISTRATIVE_RESET, cmd.message, provisional_hard=hard)
        idle = peer.settings.idle_hold_after_reset  # GoBGP: Idle that long after a reset
        speaker.reset_peer(peer, note, "administrative reset" + (" (Hard Reset)" if hard else ""), now,
                           idle)  # reconnects once it is gone
        later = f"; idle for {idle:g}s (idle-hold-time-after-reset) before it connects again" if idle else ""
        how = " with a Hard Reset (RFC 8538)" if hard else ""
        return 200, f"peer {cmd.address} reset{how}{later}", None
    neg = peer.negotiated
    if neg is None:
        raise _Refused(400, f"peer {cmd.address} is {peer.session.state.name}, not ESTABLISHED: "
                            "nothing to refresh")
    done: list[str] = []
    families = list(peer.adj_out)
    if cmd.mode in ("soft", "soft-in"):
        if not neg.route_refresh:
            raise _Refused(400, f"peer {cmd.address} did not negotiate route refresh (RFC 2918): "
                                "use a hard reset")
        for family in families:
            _refresh_in(speaker, peer, family, now)
        done.append("asked the peer to resend (ROUTE-REFRESH)")
    if cmd.mode in ("soft", "soft-out"):
        for family in families:
            speaker.resend(peer, family, now)
        done.append("sent our routes again")
    return 200, f"peer {cmd.address}: {' and '.join(done)}", None


def _refresh_in(speaker: CommandHost, peer: Peer, family: Family, now: float) -> None:
    try:
        speaker.request_refresh(peer, family, now)
    except NotEstablishedError as exc:
        raise _Refused(400, str(exc)) from None


def _check_message(message: str) -> None:
    if len(message.encode("utf-8")) > 255:
        raise _Refused(400, "the shutdown message is longer than 255 octets of UTF-8 (RFC 9003 §2)")


class RouteJob:
    """AddRoutes or DeleteRoutes in progress (issue 10 finding 4: no owner step longer
    than a bound). Two phases, each ``Speaker.slice_routes`` routes per owner step: every
    route is checked first (nothing changes until the whole request is valid: all or
    nothing), then applied. Between steps the owner handles timers, KEEPALIVEs and
    received UPDATEs; the Reply goes out with the last slice."""

    __slots__ = ("applying", "changed", "command", "keys", "paths", "pos", "problems", "ref", "removed")

    def __init__(self, ref: int, command: AddRoutes | DeleteRoutes) -> None:
        self.ref = ref
        self.command = command
        self.pos = 0  # next route (checking) or next checked entry (applying)
        self.applying = False
        self.changed = 0
        self.paths: list[tuple[Family, int, Path]] = []  # AddRoutes, checked
        self.keys: list[tuple[Family, int]] = []  # DeleteRoutes, checked
        self.problems: list[str] = []
        self.removed: list[str] = []  # DeleteRoutes: canonical prefix texts, for the store

    def size(self) -> int:
        c = self.command
        return len(c.routes) if isinstance(c, AddRoutes) else len(c.prefixes)

    def checked(self) -> int:
        return len(self.paths) if isinstance(self.command, AddRoutes) else len(self.keys)


def advance(speaker: CommandHost, now: float) -> None:
    """One slice of the oldest RouteJob: at most ``speaker.slice_routes`` routes checked or
    applied; a small request is done in the step that brought it."""
    job = speaker.jobs[0]
    budget = max(1, speaker.slice_routes)
    try:
        while budget > 0:
            if not job.applying:
                budget -= _check_slice(speaker, job, budget)
                if job.pos < job.size():
                    continue
                if job.problems:
                    raise _Refused(400, "; ".join(job.problems))
                job.applying, job.pos = True, 0
            budget -= _apply_slice(speaker, job, budget, now)
            if job.pos >= job.checked():
                _finish(speaker, job)
                break
    except _Refused as exc:
        speaker.jobs.popleft()
        speaker.emit(ev.Reply(job.ref, exc.status, str(exc)))


def _check_slice(speaker: CommandHost, job: RouteJob, budget: int) -> int:
    cmd, start = job.command, job.pos
    if isinstance(cmd, AddRoutes):
        end = min(start + budget, len(cmd.routes))
        paths, problems = to_paths(cmd.routes[start:end], speaker.table, 20 - len(job.problems), start)
        _not_configured(speaker, ((family, key) for family, key, _ in paths), "add")
        job.paths += paths
        job.problems += problems
        job.pos = len(cmd.routes) if len(job.problems) >= 20 else end
        return max(1, end - start)
    end = min(start + budget, len(cmd.prefixes))
    keys = job.keys
    for prefix in cmd.prefixes[start:end]:
        try:
            afi, key = parse_prefix(prefix)
        except ValueError as exc:
            raise _Refused(400, f"{prefix!r}: {exc}") from None
        keys.append((Family(afi, SAFI.UNICAST), key))
        job.removed.append(format_prefix(key, afi))
    _not_configured(speaker, keys[start:], "delete")  # keys holds one entry per prefix checked
    job.pos = end
    return max(1, end - start)


def _not_configured(speaker: CommandHost, keys: Iterable[tuple[Family, int]], verb: str) -> None:
    """Routes of the configuration file are the file's (core/configured.py): 409."""
    why = configured_refusal(speaker.config_routes, keys, speaker.config_file, verb)
    if why is not None:
        raise _Refused(409, why)


def _apply_slice(speaker: CommandHost, job: RouteJob, budget: int, now: float) -> int:
    start = job.pos
    end = min(start + budget, job.checked())
    if isinstance(job.command, AddRoutes):
        local = speaker.local_routes
        for family, key, path in job.paths[start:end]:
            old = local.get((family, key))
            if old is not None and old.attrs == path.attrs and old.next_hop == path.next_hop:
                continue
            speaker.originate(family, key, path)
            job.changed += 1
        # Stored slice by slice (always: a retry after a failed write stores); the Reply
        # says whether every slice was stored.
        speaker.emit(ev.StoreRoutes(added=job.command.routes[start:end], ref=job.ref))
    else:
        changed = sum(1 for family, key in job.keys[start:end] if speaker.delete_route(family, key))
        job.changed += changed
        if changed:
            speaker.emit(ev.StoreRoutes(removed=tuple(job.removed[start:end]), ref=job.ref))
    job.pos = end
    return max(1, end - start)


def _finish(speaker: CommandHost, job: RouteJob) -> None:
    speaker.jobs.popleft()
    n, changed = job.checked(), job.changed
    verb = "added" if isinstance(job.command, AddRoutes) else "deleted"
    _done(speaker, job.ref, job.command, 200, f"{changed} routes {verb}",
          {"changed": changed, "unchanged": n - changed})


def _drain(speaker: CommandHost, cmd: Drain, now: float) -> Result:
    if cmd.cancel:
        if speaker.drain is None:
            return 200, "not draining", {"phase": None, "changed": 0}
        changed = speaker.drain_control.set(speaker, None, now)
        return 200, f"drain cancelled: {changed} route advertisements restored", {"phase": None,
                                                                                  "changed": changed}
    if speaker.drain is not None:
        return 200, f"already draining ({speaker.drain})", {"phase": speaker.drain, "changed": 0}
    if not 0 <= cmd.delay <= 3600:
        raise _Refused(400, f"drain delay must be 0..3600 seconds, not {cmd.delay}")
    changed = speaker.drain_control.set(speaker, "gshut", now, cmd.delay)
    if cmd.delay == 0:
        changed += speaker.drain_control.set(speaker, "withdrawn", now)
    return 200, (f"draining: {changed} routes re-advertised with GRACEFUL_SHUTDOWN, withdrawal in "
                 f"{cmd.delay:g}s"), {"phase": speaker.drain, "changed": changed}


_HANDLERS: dict[type, Callable[[CommandHost, Any, float], Result]] = {
    AddPeer: _add_peer, DeletePeer: _delete_peer, EnablePeer: _enable_peer,
    ShutdownPeer: _shutdown_peer, ResetPeer: _reset_peer, Drain: _drain, **POLICY_HANDLERS,
}
