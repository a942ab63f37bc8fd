"""The kernel FIB in the daemon (issue 17): follows the Loc-RIB, resolves next hops
through the kernel's routes, adopts the previous run's routes, reconciles when selection
is done, and carries the operations out through ``runtime.fibkernel``.

The decisions are ``gracebgp.fib``'s (pure); this module only moves facts in and
operations out, on the owner's event loop (DESIGN.md rule 1: nothing here changes the
Speaker's state; it reads the Loc-RIB between the owner's steps, as an owner hook):

* start-up (``start``, before the first session): one dump of the kernel; our protocol's
  routes in our table at our metric are adopted as installed-but-stale, those in another
  table or at another metric (a previous fib-table/fib-metric) deleted; other routes of
  those prefixes are recorded as foreign (conflicts); every route of another protocol in
  the main table and ours feeds next-hop resolution. The F bit (``fib.fbit``) is decided
  from the marker the previous run left, and the marker for the next run is written.
* after each drained batch (``step``): the prefixes the Speaker's flush reported
  (``LocRib.fib_keys``) get their desired entry; a family whose recovery gate opened
  (``Speaker.gate_open``, spec section 4) is reconciled in full; the operations go to the
  kernel in batches of at most ``STEP_OPS`` per turn.
* the monitor: another protocol's route or a link/address change updates resolution;
  the prefixes whose next hops now resolve differently are looked at again (a next hop
  that became unreachable takes the route out of the kernel at once).
* stopping (``stop``): kept unless ``stop --withdraw`` / SIGINT or ``fib-retain = false``,
  and then deleted only after the withdrawals have left (``fib.stop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gracebgp.core import events as ev
from gracebgp.core.nexthop_track import KernelRoutes
from gracebgp.fib import fbit
from gracebgp.fib.desired import next_hops, resolved
from gracebgp.fib.model import Entry, KernelRoute, Op, OpKind
from gracebgp.fib.resolve import Resolver
from gracebgp.fib.table import FibTable
from gracebgp.rib.loc_rib import LocRib
from gracebgp.runtime import fibkernel
from gracebgp.runtime.owner import Owner
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family, family_name
from gracebgp.wire.nlri import format_prefix, key_parts

log = logging.getLogger("gracebgp.fib")
FAMILIES = (IPV4_UNICAST, IPV6_UNICAST)
MARKER = "fib-marker"
#: Kernel operations per owner turn: about 3 us each, so a turn stays well under 50 ms.
STEP_OPS = 10_000
#: Seconds the kernel may disagree with selection before health reports it (a reconcile
#: of a full table takes about 20 s on a small machine; the gate may hold for the deferral).
OUT_OF_SYNC = 60.0
#: Changed prefixes looked at per turn (the desired entry: a few us each).
STEP_KEYS = 10_000
#: Link and address changes come in bursts: one dump of the other protocols' routes after
#: the burst (seconds).
REDUMP_DELAY = 0.05
#: Seconds between tries of the prefixes whose last operation failed.
RETRY = 5.0
_WIDTH = {IPV4_UNICAST: 32, IPV6_UNICAST: 128}


@dataclass(frozen=True, slots=True)
class FibSettings:
    """``[gracebgp]`` fib-* keys."""

    table: int = fibkernel.MAIN_TABLE
    protocol: int = fibkernel.DEFAULT_PROTOCOL
    metric: int = fibkernel.DEFAULT_METRIC
    sweep_time: float = 600.0
    retain: bool = True
    resolve_via_default: bool = False


def identity() -> fbit.Identity | None:
    """This kernel's boot id and this process's network namespace, None when unreadable."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return fbit.Identity(boot, os.stat("/proc/self/ns/net").st_ino)
    except OSError:
        return None


class FibDriver:
    def __init__(self, settings: FibSettings, state_dir: str) -> None:
        self.settings = settings
        self.state_dir = Path(state_dir)
        self.publish: Callable[[ev.Notice], None] = lambda notice: None  # the event bus, once attached
        self.table = FibTable(FAMILIES, settings.sweep_time)
        self.resolvers = {f: Resolver(_WIDTH[f], settings.resolve_via_default) for f in FAMILIES}
        self.uses: dict[Family, dict[str, set[int]]] = {f: {} for f in FAMILIES}  # next hop -> prefixes
        # prefix -> its BGP next hops
        self.hops_of: dict[Family, dict[int, tuple[str, ...]]] = {f: {} for f in FAMILIES}
        self.kernel: fibkernel.KernelFib | None = None
        self.monitor: fibkernel.Monitor | None = None
        self.speaker: Any = None
        self.forwarding: dict[Family, tuple[bool, str]] = {}
        self.started_at = 0.0
        self.ops_sent = 0
        self.failed_total = 0
        self._redump: asyncio.TimerHandle | None = None
        self._dumping: asyncio.Task[None] | None = None  # a dump in a thread, awaited
        self._dump_wanted = False  # another change came while dumping: dump once more after
        self._touched: dict[Family, set[int]] = {f: set() for f in FAMILIES}  # changed since the dump began
        # other protocols' route changes seen while the dump ran: applied again after it
        self._during: list[tuple[KernelRoute, int, int, int, bool]] = []
        self._retry: asyncio.TimerHandle | None = None
        self.corrected = 0  # our routes the kernel had lost (or changed) behind our back
        self._sweep: asyncio.TimerHandle | None = None
        self._backlog: list[Op] = []
        self.submit: Callable[[ev.Input], None] | None = None  # the owner's queue, once attached
        # the kernel's routes of other protocols not yet told to the Speaker: added, removed
        self._delta: dict[Family, tuple[list[tuple[int, int, Entry]], list[tuple[int, int]]]] = {
            f: ([], []) for f in FAMILIES}
        self._full = set(FAMILIES)  # families whose next report is a whole table
        self._out_of_sync: dict[Family, float] = {}  # since when, as the health check saw it

    # --- start-up ----------------------------------------------------------------------
    def start(self) -> dict[Family, tuple[bool, str]]:
        """Dump the kernel, adopt our routes, decide the F bit per family, leave the marker
        for the next run. Before the Speaker is built (its OPENs carry the F bit)."""
        s = self.settings
        self.kernel = fibkernel.KernelFib(s.table, s.protocol, s.metric)
        self.started_at = time.monotonic()
        others = fibkernel.protocol_names(s.protocol) - {"gracebgp"}
        if others:
            log.warning("FIB: protocol %d is %s in iproute2's rt_protos: another daemon's routes of this "
                        "number would be taken for ours (fib-protocol)", s.protocol,
                        ", ".join(sorted(others)), extra={"event": "fib-protocol-named"})
        ours: list[KernelRoute] = []
        elsewhere: dict[tuple[int, int], list[Op]] = {}  # ours in another table or at another metric
        for route, table, kind, metric in fibkernel.dump(FAMILIES):
            if route.protocol == s.protocol and kind == fibkernel.RTN_UNICAST:
                if table == s.table and metric == s.metric:
                    ours.append(route)
                else:
                    op = Op(OpKind.DELETE, route.family, route.key)
                    elsewhere.setdefault((table, metric), []).append(op)
            else:
                self._other(route, table, kind, metric, gone=False)
        self._delete_elsewhere(elsewhere)
        counts = self.table.adopt(ours, self.started_at)
        now = identity()
        marker = self.state_dir / MARKER
        try:
            previous = fbit.parse(marker.read_text())
        except OSError:
            previous = None
        self.forwarding = {f: fbit.forwarding_state(f, True, False, now, previous, counts[f])
                           for f in FAMILIES}
        self._mark()
        for f in FAMILIES:
            name = family_name(f)
            log.info("FIB %s: adopted %d routes of protocol %d (table %d, metric %d); F=%d: %s", name,
                     counts[f], s.protocol, s.table, s.metric, self.forwarding[f][0], self.forwarding[f][1],
                     extra={"event": "fib-adopted", "fields": {"family": name, "adopted": counts[f]}})
        return self.forwarding

    def _mark(self, remove: bool = False) -> None:
        """The marker for the next start (``fib.fbit``): written when our routes may be in
        the kernel (from now on: a crash keeps them), removed once they are deleted."""
        marker = self.state_dir / MARKER
        now = identity()
        try:
            if remove or now is None:
                marker.unlink(missing_ok=True)
                return
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(fbit.render(fbit.Marker(now, frozenset(family_name(f) for f in FAMILIES))))
            tmp.replace(marker)
        except OSError as exc:
            log.error("cannot write %s: %s (the next start will say F=0)", marker, exc)

    def _delete_elsewhere(self, elsewhere: dict[tuple[int, int], list[Op]]) -> None:
        """Our protocol's routes in another table or at another metric: a previous run's
        with other fib-table/fib-metric settings; left there they would go on forwarding
        with nothing to update them, so they are deleted before anything is installed."""
        for (table, metric), ops in sorted(elsewhere.items()):
            kernel = fibkernel.KernelFib(table, self.settings.protocol, metric)
            try:
                done = sum(1 for _, code in kernel.apply(ops) if not code)
            finally:
                kernel.close()
            log.warning("FIB: deleted %d of %d routes of protocol %d in table %d at metric %d (a previous "
                        "run's with other fib-table/fib-metric)", done, len(ops), self.settings.protocol,
                        table, metric, extra={"event": "fib-removed"})

    def attach(self, owner: Owner) -> None:
        """Follow the owner's Speaker's Loc-RIBs from now on (every candidate change: the
        ECMP set can change without the best), run after each drained batch, watch the
        kernel, tell the Speaker the kernel's routes (next-hop reachability in selection:
        ``core.nexthop_track``), publish the timeline's events."""
        speaker = self.speaker = owner.speaker
        self.publish, self.submit = owner.bus.publish, owner.submit
        hooks = owner.hooks
        self._tell_core()
        for f in FAMILIES:
            loc = speaker.loc[f]
            # Every prefix selected before we attach (a hand-over's adopted Adj-RIB-Ins, issue
            # 19) is looked at; the gate stays shut until they all were (``step``), else the
            # first reconcile would find them unwanted and delete them.
            loc.fib_keys = set(loc.entries)
            loc.every_change = True
        hooks.append(self.step)
        loop = asyncio.get_running_loop()
        self.monitor = fibkernel.Monitor(self.settings.protocol, self._changed, self._own_gone)
        loop.add_reader(self.monitor.sock.fileno(), self.monitor.readable)
        deadline = self.table.next_deadline()
        if deadline is not None:
            self._sweep = loop.call_later(max(0.0, deadline - time.monotonic()), self._swept)
        self._retry = loop.call_later(RETRY, self._retry_failed)
        for f in FAMILIES:
            fib = self.table.families[f]
            self.publish(ev.Notice("restart", f"FIB {family_name(f)}: adopted {fib.adopted_at_start} "
                                   f"routes of the previous run; F={int(self.forwarding[f][0])}", None,
                                   {"event": "fib-adopted", "family": family_name(f),
                                    "adopted": fib.adopted_at_start, "f_bit": self.forwarding[f][0],
                                    "why": self.forwarding[f][1]}))

    # --- the owner's hook --------------------------------------------------------------
    def step(self) -> None:
        sp = self.speaker
        if sp is None:
            return
        more = False
        for f in FAMILIES:
            loc: LocRib = sp.loc[f]
            keys = loc.fib_keys
            if keys:
                if len(keys) > STEP_KEYS:  # the rest in the next turn of the loop
                    batch = set(itertools.islice(keys, STEP_KEYS))
                    keys.difference_update(batch)
                    more = True
                else:
                    batch, loc.fib_keys = keys, set()
                for key in batch:
                    self._look(f, loc, key)
            # Reconcile only once selection is done *and* every prefix it changed has been
            # looked at (the Speaker flushes in budgets): else adopted routes still wanted
            # would look unwanted and be deleted.
            if not self.table.families[f].gate_open and sp.gate_open(f) and not sp.changed[f] \
                    and not loc.fib_keys:
                self.table.open_gate(f)
        self._report()
        self._backlog += self.table.operations()
        if self._backlog:
            self._apply()
        if more:
            asyncio.get_running_loop().call_soon(self.step)

    def _look(self, family: Family, loc: LocRib, key: int) -> None:
        """The desired entry of ``key`` now; its next hops are followed for resolution."""
        hops = tuple(next_hops(loc, key))
        old = self.hops_of[family].get(key, ())
        if hops != old:
            uses = self.uses[family]
            for h in old:
                users = uses.get(h)
                if users is not None:
                    users.discard(key)
                    if not users:
                        del uses[h]
                        self.resolvers[family].forget(h)
            for h in hops:
                uses.setdefault(h, set()).add(key)
            if hops:
                self.hops_of[family][key] = hops
            else:
                self.hops_of[family].pop(key, None)
        self.table.want(family, key, resolved(hops, self.resolvers[family]))

    def _apply(self) -> None:
        kernel = self.kernel
        if kernel is None:
            return
        batch, self._backlog = self._backlog[:STEP_OPS], self._backlog[STEP_OPS:]
        for op, code in kernel.apply(batch):
            self.table.applied(op, code)
            if self._dumping is not None:
                self._touched[op.family].add(op.key)
            if code:
                self.failed_total += 1
                log.warning("FIB: %s %s failed: %s", op.kind.name.lower(),
                            format_prefix(op.key, op.family.afi), os.strerror(code),
                            extra={"event": "fib-failed", "fields": {"errno": code}})
        self.ops_sent += len(batch)
        if self._backlog:
            asyncio.get_running_loop().call_soon(self._apply)

    def _report(self) -> None:
        for r in self.table.reconciled:
            took = time.monotonic() - self.started_at
            msg = (f"FIB {family_name(r.family)} reconciled ({r.cause}): {r.added} added, "
                   f"{r.replaced} replaced, {r.deleted} deleted, {r.unchanged} unchanged, "
                   f"{r.conflicts} conflicts, {took:.2f}s after start")
            log.info(msg, extra={"event": "fib-reconciled"})
            self.publish(ev.Notice("restart", msg, None, {
                "event": "fib-reconciled", "family": family_name(r.family), "cause": r.cause,
                "added": r.added, "replaced": r.replaced, "deleted": r.deleted, "unchanged": r.unchanged,
                "conflicts": r.conflicts, "seconds": round(took, 3)}))
        self.table.reconciled.clear()

    def _swept(self) -> None:
        self.table.timer(time.monotonic())
        self.step()

    def _retry_failed(self) -> None:
        """Every ``RETRY`` s: the prefixes whose last operation failed are tried again."""
        self._retry = asyncio.get_running_loop().call_later(RETRY, self._retry_failed)
        if self.table.retry():
            self.step()

    # --- the kernel's changes ----------------------------------------------------------
    def _other(self, route: KernelRoute, table: int, kind: int, metric: int, gone: bool) -> None:
        """A route of another protocol (or ours in another table): resolution, conflicts."""
        if route.family not in self.resolvers:
            return
        if table == self.settings.table and route.protocol != self.settings.protocol \
                and kind == fibkernel.RTN_UNICAST:
            self.table.kernel_route(route, ours=False, gone=gone)
        if kind != fibkernel.RTN_UNICAST or table not in (fibkernel.MAIN_TABLE, self.settings.table):
            return
        if route.protocol == self.settings.protocol:
            return  # never resolve through our own routes (RFC 4271 §9.1.2.1)
        address, length = key_parts(route.key, _WIDTH[route.family])
        resolver = self.resolvers[route.family]
        added, removed = self._delta[route.family]
        if gone:
            resolver.remove(address, length)
            removed.append((address, length))
        else:
            resolver.add(address, length, route.hops)
            added.append((address, length, route.hops))

    def _tell_core(self) -> None:
        """The kernel routes learned since the last report, to the Speaker (a fact through
        the owner's queue: ``core.nexthop_track.KernelRoutes``)."""
        if self.submit is None:
            return
        for f, (added, removed) in self._delta.items():
            full = f in self._full
            if added or removed or full:
                cmd = KernelRoutes(f, tuple(added), tuple(removed), full, self.settings.resolve_via_default)
                self.submit(ev.CommandRequested(0, cmd))
        self._delta = {f: ([], []) for f in FAMILIES}
        self._full = set()

    def _changed(self, msg: Any) -> None:
        """The monitor's callback: a parsed route of another protocol, or None for a link or
        address change (then the kernel is dumped again, once per burst: the other
        protocols' routes for resolution, ours to see what the kernel flushed)."""
        if msg is None:
            if self._redump is None:
                self._redump = asyncio.get_running_loop().call_later(REDUMP_DELAY, self._dump_again)
            return
        parsed = fibkernel.route_of(msg)
        if parsed is None:
            return
        route, table, kind, metric = parsed
        gone = msg["event"] == "RTM_DELROUTE"
        if self._dumping is not None:  # the dump may have read the kernel before this change
            self._during.append((route, table, kind, metric, gone))
        self._other(route, table, kind, metric, gone=gone)
        self._tell_core()
        self._resolution_moved()

    def _own_gone(self, parsed: tuple[KernelRoute, int, int, int]) -> None:
        """A route of our protocol was deleted: the echo of our own delete (nothing to do),
        or someone else's (``ip route del``) or the kernel's flush of one we hold: then the
        kernel is read again (not trusted as is: the echo of an older delete of ours may
        arrive after the prefix was added again)."""
        route, table, _kind, metric = parsed
        fib = self.table.families.get(route.family)
        if fib is None or table != self.settings.table or metric != self.settings.metric:
            return
        if route.key in fib.installed and route.key not in fib.pending and self._redump is None:
            self._redump = asyncio.get_running_loop().call_later(REDUMP_DELAY, self._dump_again)

    def _dump_again(self) -> None:
        self._redump = None
        if self._dumping is not None:
            self._dump_wanted = True
            return
        self._touched = {f: set() for f in FAMILIES}
        self._during = []
        self._dumping = asyncio.get_running_loop().create_task(self._dump_task())

    async def _dump_task(self) -> None:
        """The dump runs in a thread and is awaited: the owner's loop goes on meanwhile."""
        loop = asyncio.get_running_loop()
        try:
            routes = await loop.run_in_executor(None, fibkernel.dump, FAMILIES)
        except OSError as exc:  # never fatal: try again
            log.warning("FIB: dumping the kernel's routes failed (%s); trying again in 1 s", exc,
                        extra={"event": "fib-dump-failed"})
            self._dumping = None
            self._redump = loop.call_later(1.0, self._dump_again)
            return
        self._dumping = None
        self._dumped(routes)
        if self._dump_wanted:
            self._dump_wanted = False
            self._dump_again()

    def _dumped(self, routes: list[tuple[KernelRoute, int, int, int]]) -> None:
        for f in FAMILIES:
            width, old = _WIDTH[f], self.resolvers[f]
            fresh = Resolver(width, old.via_default)
            fresh.adopt_answers(old)  # the answers given so far, to compare with
            self.resolvers[f] = fresh
        self._delta = {f: ([], []) for f in FAMILIES}
        self._full = set(FAMILIES)
        s = self.settings
        ours: dict[Family, dict[int, Entry]] = {f: {} for f in FAMILIES}
        for fib in self.table.families.values():  # other protocols' routes of our table: again
            for key in fib.others:
                fib.dirty.add(key)
            fib.others.clear()
            fib.foreign.clear()
        for route, table, kind, metric in routes:
            if route.protocol == s.protocol and table == s.table:
                if metric == s.metric and route.family in ours:
                    ours[route.family][route.key] = route.hops
            else:
                self._other(route, table, kind, metric, gone=False)
        for route, table, kind, metric, gone in self._during:  # newer than the dump, or as new
            self._other(route, table, kind, metric, gone=gone)
        self._during = []
        for f in FAMILIES:
            fixed = self.table.ours_in_kernel(f, ours[f], self._touched[f])
            if fixed:
                self.corrected += fixed
                log.warning("FIB %s: %d routes of ours were not in the kernel as installed (flushed with "
                            "their link or address, or changed by someone else): reconciled again",
                            family_name(f), fixed,
                            extra={"event": "fib-corrected", "fields": {"count": fixed}})
        self._touched = {f: set() for f in FAMILIES}
        self._tell_core()
        self._resolution_moved()

    def _resolution_moved(self) -> None:
        sp = self.speaker
        if sp is None:
            return
        for f in FAMILIES:
            moved = self.resolvers[f].refresh()
            if not moved:
                continue
            keys = set().union(*(self.uses[f].get(h, ()) for h in moved))
            log.info("FIB %s: next hops %s resolve differently: %d prefixes looked at again", family_name(f),
                     ", ".join(sorted(moved)), len(keys), extra={"event": "fib-next-hop"})
            for key in keys:
                self._look(f, sp.loc[f], key)
        self.step()

    # --- stopping ----------------------------------------------------------------------
    def stop(self, withdraw: bool) -> int:
        """After the sessions are closed (and, for a withdrawal, the withdrawals sent):
        delete our routes when asked (``fib.stop``); returns how many were deleted."""
        if self.monitor is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().remove_reader(self.monitor.sock.fileno())
            self.monitor.close()
            self.monitor = None
        for handle in (self._redump, self._sweep, self._retry):
            if handle is not None:
                handle.cancel()
        if self._dumping is not None:
            self._dumping.cancel()
            self._dumping = None
        deleted = 0
        if self.kernel is not None and (withdraw or not self.settings.retain):
            results = self.kernel.apply(self.table.remove_all())
            deleted = sum(1 for _, code in results if not code)
            self._mark(remove=True)
            log.info("FIB: %d routes of ours deleted from the kernel (%s)", deleted,
                     "stop --withdraw" if withdraw else "fib-retain = false", extra={"event": "fib-removed"})
        elif self.kernel is not None:
            kept = sum(len(fib.installed) for fib in self.table.families.values())
            self._mark()
            log.info("FIB: %d routes of ours left in the kernel for the next start", kept,
                     extra={"event": "fib-kept"})
        if self.kernel is not None:
            self.kernel.close()
            self.kernel = None
        return deleted

    def conditions(self, now: float | None = None) -> list[tuple[str, str, str, str]]:
        """Health conditions (type, subject, reason, message): a family whose kernel routes
        have disagreed with selection for longer than ``OUT_OF_SYNC`` seconds (pending
        operations that do not finish, failures, a gate that never opens)."""
        now = time.monotonic() if now is None else now
        out = []
        for f in FAMILIES:
            if self.table.in_sync(f):
                self._out_of_sync.pop(f, None)
                continue
            since = self._out_of_sync.setdefault(f, now)
            if now - since >= OUT_OF_SYNC:
                fib = self.table.families[f]
                out.append(("Fib", f"fib {family_name(f)}", "FibOutOfSync",
                            f"the kernel has not matched selection for {now - since:.0f}s: "
                            f"{len(fib.pending)} pending, {len(fib.failures)} failed, "
                            f"{len(fib.conflicts)} in conflict, gate "
                            f"{'open' if fib.gate_open else 'holding'} (gracebgp fib)"))
        return out

    def view(self) -> dict[str, Any]:
        """``gracebgp fib``: per family the counts, and the conflicts and failures."""
        out: dict[str, Any] = {"protocol": self.settings.protocol, "table": self.settings.table,
                               "metric": self.settings.metric, "families": self.table.summary()}
        for row in out["families"]:
            fam = IPV4_UNICAST if row["family"] == "ipv4-unicast" else IPV6_UNICAST
            fib = self.table.families[fam]
            row["f_bit"], row["f_reason"] = self.forwarding.get(fam, (False, ""))
            row["conflict_list"] = [{"prefix": format_prefix(k, fam.afi), "protocol": p}
                                    for k, p in sorted(fib.conflicts.items())[:100]]
            row["failure_list"] = [{"prefix": format_prefix(k, fam.afi), "errno": e, "error": os.strerror(e),
                                    "count": n} for k, (e, n) in sorted(fib.failures.items())[:100]]
            row["in_sync"] = self.table.in_sync(fam)
        return out
