"""What a reload (SIGHUP) does to one configured peer whose settings changed: apply them
in place, or reset the session, and with which NOTIFICATION (RFC 4271 §6.7 / RFC 4486 §4
Cease subcodes, RFC 8538 §5 Hard Reset classes).

    change                                            what is done
    description, deferral-time, stale-routes-time,    applied in place: nothing on the wire;
    connect-retry, idle-hold-time-after-reset,        the timers and the F bit take effect
    passive-mode, the F bit                           at the next connection / OPEN
    (forwarding-state-preserved), local-port
    auth-password (only)                              re-keyed: the listeners and the next
                                                      connection use the new TCP MD5 key; an
                                                      established session stays up on its
                                                      key, one that is not restarts at once
    tcp-ao-keys, tcp-ao-current-key (only)            rolled over: keys added, the current
                                                      key switched and keys removed on the
                                                      established connection and the
                                                      listeners (RFC 5925 §3.3); a change
                                                      the kernel cannot make live (a key
                                                      changed under its KeyIDs, TCP-AO
                                                      turned on or off) resets the session
    admin-down false -> true / true -> false          stopped with Cease/Administrative
                                                      Shutdown (Hard Reset with N) / started
    peer-as, local-as                                 session reset with Hard Reset wrapping
                                                      Cease/Other Configuration Change: the
                                                      peer is another one now; no routes kept
    anything else carried by the OPEN or the          session reset with Cease/Other
    connection: hold-time, afi-safis, graceful-       Configuration Change, "provisional"
    restart, long-lived GR, add-paths, local-address, (RFC 8538 §5): with N both sides keep
    remote-port, ebgp-multihop, ttl-security,         the routes (GR) while the new session
    the other transport keys (ttl, tcp-mss, ip-tos,   comes up
    bind-interface, mtu-discovery),
    route-reflector-client, route-reflector-cluster-id

The router-id is the speaker's, not the peer's: a new one needs a restart of the daemon
(``config.diff`` reports it), so a reload keeps the running one in every session.
A change of routing policy (defined sets, policy definitions, a neighbor's or the global
apply-policy) resets nothing and needs no ROUTE-REFRESH: ``core.policies.rebind`` re-runs
the policies over the kept Adj-RIBs-In and the Loc-RIB and sends only the differences
(issue 16 item 3). Route changes in ``[[gracebgp.routes]]`` go out as UPDATEs and reset
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol

from gracebgp.core import limits
from gracebgp.core.events import AcceptFrom, Notice, SocketOptions
from gracebgp.core.originate import LocalRoute, to_path
from gracebgp.core.peer import NeighborSettings, Peer
from gracebgp.core.policies import PolicyHost, rebind
from gracebgp.core.views import Emits, Peers
from gracebgp.policy.book import PolicyBook
from gracebgp.restart.shutdown import cease, withdraw_stop
from gracebgp.rib.path import Path
from gracebgp.session.config import GrConfig, SessionConfig
from gracebgp.session.state import State
from gracebgp.types import Family
from gracebgp.wire import Notification
from gracebgp.wire.iana import CeaseSubcode


class ReloadHost(Emits, Peers, Protocol):
    """What a reload needs of the speaker: its peers and how to add, remove, stop, start
    and reset one."""

    @property
    def provisional_hard(self) -> bool: ...

    def add_peer(self, settings: NeighborSettings, now: float, dynamic: bool = True) -> Peer: ...

    def remove_peer(self, peer: Peer, now: float, why: str) -> None: ...

    def start_peer(self, peer: Peer, now: float) -> None: ...

    def stop_peer(self, peer: Peer, note: Notification | None, why: str, now: float) -> None: ...

    def reset_peer(self, peer: Peer, note: Notification | None, why: str, now: float,
                   idle_hold: float = 0.0) -> None: ...

IN_PLACE = "applied in place"
RESET = "session reset"
SHUTDOWN = "shut down"
STARTED = "started"

#: Settings whose change needs no new session (nothing negotiated depends on them).
_IN_PLACE_FIELDS = frozenset({
    "description", "deferral_time", "idle_hold_after_reset", "stale_path_time", "session.passive",
    "session.connect_retry_time",
    "session.idle_hold_time", "session.max_idle_hold_time", "session.stable_time", "session.keepalive_time",
    "session.graceful_restart.forwarding", "prefix_limits",
    "sockets.local_port",  # the source port of our next connection
    "apply_policy",  # re-run over the kept routes, no reset (core.policies)
    "bfd_graceful",  # read when BFD next fails (core.bfd)
    "bfd_wait",  # read when the session next starts (core.bfd)
})
#: The TCP MD5 key: the listening sockets are re-keyed at once and the next connection
#: uses the new key; an established connection keeps the key it was opened with (Linux
#: copies the listener's key into each accepted socket; RFC 2385 has no re-keying of a
#: live connection, and changing its key on one side drops every segment until the other
#: side changes too). A session that is not established restarts its connection attempt.
_MD5_FIELDS = frozenset({"sockets.md5_password"})
#: TCP-AO keys are rolled over on the established connection too (RFC 5925 §3.3: MKTs
#: change without a new connection), where ``ao_rollover`` says the kernel can.
_AO_FIELDS = frozenset({"sockets.ao_keys", "sockets.ao_current"})
_REKEY_FIELDS = _MD5_FIELDS | _AO_FIELDS
REKEYED = ("TCP MD5 key changed: the listening sockets and the next connection use the new key; "
           "the established connection keeps the key it was opened with until it closes")
AO_ROLLED = ("TCP-AO keys changed: rolled over on the established connection without a reset "
             "(RFC 5925 §3.3); the listening sockets and the next connection use them too")
#: Settings that make the peer another one: its routes must not be kept (Hard Reset).
_IDENTITY_FIELDS = frozenset({"session.peer_as", "session.local_as"})

#: Settings as the operator writes them in the configuration file.
_KEYS = {
    "admin_down": "admin-down", "port": "remote-port", "local_address": "local-address",
    "sockets.ttl": "ttl", "sockets.md5_password": "auth-password", "sockets.ao_keys": "tcp-ao-keys",
    "sockets.ao_current": "tcp-ao-current-key", "sockets.min_ttl": "ttl-security ttl-min",
    "sockets.tcp_mss": "tcp-mss", "sockets.tos": "ip-tos", "sockets.bind_interface": "bind-interface",
    "sockets.pmtu_discovery": "mtu-discovery", "sockets.local_port": "local-port",
    "rr_client": "route-reflector-client",
    "cluster_id": "route-reflector-cluster-id", "deferral_time": "graceful-restart deferral-time",
    "stale_path_time": "graceful-restart stale-routes-time", "session.peer_as": "peer-as",
    "session.local_as": "local-as", "session.router_id": "router-id", "session.hold_time": "hold-time",
    "session.families": "afi-safis", "session.add_path": "add-paths",
    "session.graceful_restart": "graceful-restart enabled",
    "session.graceful_restart.restart_time": "graceful-restart restart-time",
    "session.graceful_restart.notification": "graceful-restart notification-enabled",
    "session.graceful_restart.forwarding": "forwarding-state-preserved",
    "session.graceful_restart.helper_only": "graceful-restart helper-only",
    "session.llgr": "long-lived-graceful-restart", "session.passive": "passive-mode",
    "session.long_lived": "graceful-restart long-lived-enabled",
    "session.graceful_restart.families": "mp-graceful-restart",
    "session.connect_retry_time": "connect-retry", "session.keepalive_time": "keepalive-interval",
    "idle_hold_after_reset": "idle-hold-time-after-reset", "prefix_limits": "prefix-limit",
    "add_path_send_max": "add-paths send-max", "apply_policy": "apply-policy",
    "bfd_graceful": "bfd graceful", "bfd_wait": "bfd wait-for-up",
}


@dataclass(frozen=True, slots=True)
class PeerPlan:
    """``changed``: the configuration keys that differ; ``action``: one of the constants
    above; ``notification``: what a reset or shutdown sends (None: in place or started)."""

    changed: tuple[str, ...]
    action: str
    notification: Notification | None = None


def changed_settings(old: NeighborSettings, new: NeighborSettings) -> tuple[str, ...]:
    """Dotted names of the settings that differ (``session.hold_time``), in field order.
    The R bit (``graceful_restart.restarting``) is run-time state, never a change."""
    out: list[str] = []
    for f in fields(NeighborSettings):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if f.name == "session":
            out += _session_changes(a, b)
        elif f.name == "sockets":
            out += [f"sockets.{g.name}" for g in fields(a) if getattr(a, g.name) != getattr(b, g.name)]
        elif a != b:
            out.append(f.name)
    return tuple(out)


def _session_changes(a: SessionConfig, b: SessionConfig) -> list[str]:
    out: list[str] = []
    for f in fields(SessionConfig):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name != "graceful_restart":
            if x != y:
                out.append(f"session.{f.name}")
        elif (x is None) != (y is None):
            out.append("session.graceful_restart")
        elif isinstance(x, GrConfig) and isinstance(y, GrConfig):
            out += [f"session.graceful_restart.{g.name}" for g in fields(GrConfig)
                    if g.name != "restarting" and getattr(x, g.name) != getattr(y, g.name)]
    return out


def ao_rollover(old: SocketOptions, new: SocketOptions) -> bool:
    """Can the TCP-AO keys go from ``old`` to ``new`` on a live connection? Only between
    two sets of AO keys (a connection cannot start or stop using TCP-AO, RFC 5925 §7.5.2,
    nor switch from MD5), where every key kept is unchanged and every key added has
    KeyIDs no old key uses (the new keys go on before the old ones come off)."""
    if not (old.ao_keys and new.ao_keys):
        return False
    added = [k for k in new.ao_keys if k not in old.ao_keys]
    sends, recvs = {k.send_id for k in old.ao_keys}, {k.recv_id for k in old.ao_keys}
    return all(k.send_id not in sends and k.recv_id not in recvs for k in added)


def key_of(setting: str) -> str:
    """The configuration key an operator knows for a dotted setting name."""
    return _KEYS.get(setting, setting.rsplit(".", 1)[-1].replace("_", "-"))


def plan(old: NeighborSettings, new: NeighborSettings, *, provisional_hard: bool = False) -> PeerPlan:
    """What to do for one peer whose configured settings go from ``old`` to ``new``."""
    changed = changed_settings(old, new)
    keys = tuple(key_of(c) for c in changed)
    if new.admin_down and not old.admin_down:
        # RFC 8538 §5: Administrative Shutdown is always a Hard Reset.
        return PeerPlan(keys, SHUTDOWN, withdraw_stop("", CeaseSubcode.ADMINISTRATIVE_SHUTDOWN))
    if old.admin_down and not new.admin_down:
        return PeerPlan(keys, STARTED)
    rekey = _REKEY_FIELDS if ao_rollover(old.sockets, new.sockets) else _MD5_FIELDS
    if new.admin_down or set(changed) <= _IN_PLACE_FIELDS | rekey:
        return PeerPlan(keys, IN_PLACE)  # a peer kept down uses its new settings when enabled
    note = Notification.cease(CeaseSubcode.OTHER_CONFIGURATION_CHANGE)
    if _IDENTITY_FIELDS & set(changed):
        return PeerPlan(keys, RESET, note.hard_reset())
    # RFC 8538 §5: Other Configuration Change is "provisional": plain unless configured hard.
    return PeerPlan(keys, RESET, cease(CeaseSubcode.OTHER_CONFIGURATION_CHANGE,
                                       provisional_hard=provisional_hard))


# --- applying a reload to the speaker's peers -------------------------------------------

def apply_neighbors(sp: ReloadHost, neighbors: Sequence[NeighborSettings],
                    now: float) -> list[dict[str, Any]]:
    """Apply the configured neighbors: removed ones stop with Cease/Peer De-configured
    (Hard Reset with N), changed ones as ``plan`` says, new ones start. Returns what was
    done per peer (the "reload" event's ``peers``): peer, changed keys, action and the
    NOTIFICATION sent (None when nothing went on the wire)."""
    wanted = {n.address: n for n in neighbors}
    report: list[dict[str, Any]] = []
    for address, peer in list(sp.peers.items()):
        new = wanted.get(address)
        if new is None and peer.dynamic:
            continue  # added through the API: the file does not own it
        if new is None:
            sent = would_send(peer, withdraw_stop("", CeaseSubcode.PEER_DECONFIGURED))
            sp.remove_peer(peer, now, "removed from the configuration")
            report.append({"peer": address, "changed": ["neighbor"], "action": "removed",
                           "notification": sent})
        elif new != peer.settings and (entry := apply_settings(sp, peer, new, now)) is not None:
            report.append(entry)
    for address, settings in wanted.items():
        if address not in sp.peers:
            added = sp.add_peer(settings, now, dynamic=False)
            sp.log("info", f"added (AS {settings.session.peer_as})", added, "config", "peer-added",
                   peer_as=settings.session.peer_as)
            report.append({"peer": address, "changed": ["neighbor"], "action": "added",
                           "notification": None})
    return report


def would_send(peer: Peer, note: Notification) -> str | None:
    """The NOTIFICATION a stop with ``note`` puts on the wire now, described; None when no
    connection has sent its OPEN (nothing is sent then, RFC 4271 §8.2.2)."""
    if peer.session.state < State.OPENSENT:
        return None
    neg = peer.session.negotiated
    if note.is_hard_reset and not (neg is not None and neg.notification_supported):
        note = note.unwrap()  # spec section 6, RFC 8538 §3: never Hard Reset to a peer without N
    return note.describe()


def apply_settings(sp: ReloadHost, peer: Peer, new: NeighborSettings, now: float) -> dict[str, Any] | None:
    """Apply ``new`` to a peer whose settings they replace (``plan``); the report entry,
    or None when nothing differs."""
    # The speaker's identity changes only with a restart (config.diff: needs_restart).
    new = replace(new, session=replace(new.session, router_id=peer.settings.session.router_id))
    if new == peer.settings:
        return None
    p = plan(peer.settings, new, provisional_hard=sp.provisional_hard)
    rekey = _REKEY_FIELDS & set(changed_settings(peer.settings, new))
    if rekey and p.action == IN_PLACE and not new.admin_down and peer.session.state is not State.ESTABLISHED:
        # nothing to keep: try again at once with the new key (it may be the fix)
        p = PeerPlan(p.changed, RESET, cease(CeaseSubcode.OTHER_CONFIGURATION_CHANGE,
                                             provisional_hard=sp.provisional_hard))
    if new.sockets != peer.settings.sockets:
        sp.emit(AcceptFrom(peer.address, new.sockets))
    note = p.notification
    sent = would_send(peer, note) if note is not None and p.action != STARTED else None
    cfg, current = new.session, peer.session.config.graceful_restart
    if current is not None and current.restarting and cfg.graceful_restart is not None:
        # the R bit stays as our restart set it (RFC 4724 §4.1), whatever the file says
        cfg = replace(cfg, graceful_restart=replace(cfg.graceful_restart, restarting=True))
    peer.settings = new
    peer.session.reconfigure(cfg)  # used from the next connection / OPEN on
    why = "configuration changed: " + ", ".join(p.changed)
    if p.action == SHUTDOWN:
        peer.admin_down = True
        sp.stop_peer(peer, note, why, now)
    elif p.action == STARTED:
        sp.start_peer(peer, now)
    elif p.action == RESET:
        sp.reset_peer(peer, note, why, now)
    elif p.action == IN_PLACE:
        limits.check(sp, peer, now)  # a lower prefix limit applies to the routes accepted so far
    sp.log("info", f"reload: {', '.join(p.changed)} changed: {p.action}"
           + (f" with {sent}" if sent else ""), peer, "config", "reload", changed=list(p.changed),
           action=p.action, notification=sent)
    entry: dict[str, Any] = {"peer": peer.address, "changed": list(p.changed), "action": p.action,
                             "notification": sent}
    if rekey:
        ao = bool(rekey & _AO_FIELDS)
        now_with = "TCP-AO keys changed: connecting with them now" if ao else \
            "TCP MD5 key changed: connecting with it now"
        entry["detail"] = (AO_ROLLED if ao else REKEYED) if p.action == IN_PLACE else now_with
    return entry


class ReconfigureHost(ReloadHost, PolicyHost, Protocol):
    """What a whole reload needs: the peers (``ReloadHost``), the policy (``PolicyHost``)
    and the routes configured in the file."""

    config_routes: set[tuple[Family, int]]
    local_routes: dict[tuple[Family, int], Path]

    def delete_route(self, family: Family, key: int) -> bool: ...

    def originate(self, family: Family, key: int, path: Path) -> None: ...


def reconfigure(sp: ReconfigureHost, neighbors: Sequence[NeighborSettings], routes: Sequence[LocalRoute],
                book: PolicyBook | None, now: float) -> None:
    """A reload (``events.Reconfigured``): the peers (``apply_neighbors``), the routes of
    ``[[gracebgp.routes]]`` (withdrawn, added or replaced where they differ), then the
    policy: ``book`` (None: unchanged) for every peer, or the peers whose apply-policy
    changed. One "reload" notice says what was done. A ``book`` compiled from the same
    source as the running one changes nothing (a reload of an unchanged file)."""
    if book is not None and book.source is not None and book.source == sp.policy_book.source:
        book = None
    before = {a: p.settings.apply_policy for a, p in sp.peers.items()}
    report = apply_neighbors(sp, neighbors, now)
    new_routes: dict[tuple[Family, int], Path] = {}
    for r in routes:
        family, key, path = to_path(r, sp.table)
        new_routes[(family, key)] = path
    for fk in [fk for fk in sp.config_routes if fk not in new_routes]:
        sp.delete_route(*fk)
    sp.config_routes = set(new_routes)
    for (family, key), path in new_routes.items():
        old = sp.local_routes.get((family, key))
        if old is None or old.attrs != path.attrs or old.next_hop != path.next_hop:
            sp.originate(family, key, path)
    moved = frozenset(a for a, p in sp.peers.items() if a in before and before[a] != p.settings.apply_policy)
    policy: list[dict[str, Any]] = []
    if book is not None:
        policy = rebind(sp, book, now)
    elif moved:
        policy = rebind(sp, sp.policy_book, now, moved)
    text = "; ".join(f"peer {r['peer']}: {r['action']}" + (f" with {r['notification']}"
                                                            if r["notification"] else "")
                     for r in report) or "no peer changed"
    if policy:
        changes = ", ".join(f"{e['peer']} {e['family']} {e['import_changed']} in/{e['export_changed']} out"
                            for e in policy)
        text += "; policy: " + changes
        sp.log("info", f"routing policy applied without a session reset: {changes}", None, "config",
               "policy-applied", changes=policy)
    elif book is not None:
        text += "; policy changed: no route changed"
    sp.emit(Notice("reload", f"configuration reloaded: {text}", None, {"peers": report, "policy": policy}))
