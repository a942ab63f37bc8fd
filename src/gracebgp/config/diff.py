"""What a reload (SIGHUP) has to do: the difference between the running and the new configuration.

Neighbors are matched by ``neighbor-address``. The daemon starts ``added`` peers,
stops ``removed`` ones with Cease / Peer De-configured (RFC 4486 §4, subcode 3),
applies ``cosmetic`` ones in place (settings nothing negotiated depends on:
description, timers of the next connection attempt, passive mode, the GR deferral and
stale-routes timers), resets or stops/starts ``changed`` ones (``core.reload`` says
with which NOTIFICATION) and leaves every other session alone. Changes to the speaker's identity or listeners
cannot be applied to running sessions: ``needs_restart`` says which, and why.
Locally originated routes are matched by prefix: ``routes_removed`` are withdrawn,
``routes_added`` are announced (a route whose attributes changed is in
``routes_added`` only: announcing it replaces the old path, RFC 4271 §3.1).

Routing policy (issue 16) never resets or restarts anything: ``policy_changed`` says the
compiled book differs (a defined set, a policy definition, the global apply-policy or
``[gracebgp] rfc8212``), ``policy_peers`` lists the neighbors whose own apply-policy
(written or inherited from their peer group) changed; the speaker re-evaluates the
affected routes from the kept Adj-RIB-In and sends the differences. A neighbor whose only
change is its apply-policy is in ``cosmetic`` (applied in place).
"""

from __future__ import annotations

from dataclasses import dataclass

from gracebgp.config.model import AfiSafi, Config, Global, Neighbor, PrefixLimit, Route

#: Neighbor fields whose change needs no session reset: nothing in the OPEN or in the
#: established connection depends on them (the connect-retry, idle-hold and passive
#: settings govern the next connection attempt; the keepalive interval follows the
#: negotiated hold time, RFC 4271 §4.4). GoBGP and FRR apply these without a reset too.
COSMETIC_FIELDS = frozenset({"description", "connect_retry", "idle_hold_time_after_reset", "passive_mode",
                             "keepalive_interval",
                             # re-keys the listeners; an established session keeps its key
                             # (core.reload; one that is not established reconnects)
                             "auth_password", "auth_password_file",
                             "local_port"})  # the source port of the next connection
#: ``[neighbors.graceful-restart.config]`` keys that are local timers, not capability
#: contents (RFC 4724 §4.1 Selection_Deferral_Timer, the helper's stale-routes bound).
COSMETIC_GR_FIELDS = frozenset({"deferral_time", "stale_routes_time"})
#: Neighbor fields that select routing policy: changed without touching the session
#: (the routes are evaluated again instead; ``ConfigDiff.policy_peers``).
POLICY_FIELDS = frozenset({"apply_policy"})


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    added: tuple[Neighbor, ...] = ()
    removed: tuple[Neighbor, ...] = ()
    #: (old, new) pairs whose session must be reset for the change to take effect.
    changed: tuple[tuple[Neighbor, Neighbor], ...] = ()
    #: (old, new) pairs that differ only in fields that do not affect the session.
    cosmetic: tuple[tuple[Neighbor, Neighbor], ...] = ()
    #: The [global] section differs.
    global_changed: bool = False
    #: Why the new configuration needs a restart of the whole speaker; empty if it can be applied live.
    needs_restart: tuple[str, ...] = ()
    routes_added: tuple[Route, ...] = ()
    routes_removed: tuple[Route, ...] = ()
    #: [gracebgp] settings applied live (sigterm, forwarding-state-preserved), by key.
    settings_changed: tuple[str, ...] = ()
    #: The compiled policy book differs: [defined-sets], [[policy-definitions]],
    #: [global.apply-policy] or [gracebgp] rfc8212 (no session is reset for it).
    policy_changed: bool = False
    #: Addresses of the neighbors (in both configurations) whose apply-policy changed.
    policy_peers: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.cosmetic or self.global_changed
                    or self.needs_restart or self.routes_added or self.routes_removed
                    or self.settings_changed or self.policy_changed or self.policy_peers)


def changed_fields(old: Neighbor, new: Neighbor) -> tuple[str, ...]:
    """Names of the model fields that differ, in declaration order."""
    return tuple(name for name in Neighbor.model_fields if getattr(old, name) != getattr(new, name))


def applies_in_place(old: Neighbor, new: Neighbor) -> bool:
    """True when every difference between ``old`` and ``new`` is cosmetic (no reset)."""
    for name in changed_fields(old, new):
        if name == "graceful_restart":
            g0, g1 = old.graceful_restart, new.graceful_restart
            if any(getattr(g0, f) != getattr(g1, f) for f in type(g0).model_fields
                   if f not in COSMETIC_GR_FIELDS):
                return False
        elif name == "afi_safis":  # a prefix-limit is applied in place (core.reload)
            if _without_limits(old) != _without_limits(new):
                return False
        elif name not in COSMETIC_FIELDS and name not in POLICY_FIELDS:
            return False
    return True


def _without_limits(n: Neighbor) -> tuple[AfiSafi, ...]:
    return tuple(af.model_copy(update={"prefix_limit": PrefixLimit()}) for af in n.afi_safis)


def diff(old: Config, new: Config) -> ConfigDiff:
    """What turns a speaker running ``old`` into one running ``new``."""
    before = {n.neighbor_address: n for n in old.neighbors}
    after = {n.neighbor_address: n for n in new.neighbors}
    added = tuple(n for a, n in after.items() if a not in before)
    removed = tuple(n for a, n in before.items() if a not in after)
    changed: list[tuple[Neighbor, Neighbor]] = []
    cosmetic: list[tuple[Neighbor, Neighbor]] = []
    for address, n in after.items():
        o = before.get(address)
        if o is None or o == n:
            continue
        # A neighbor that relies on the global AS changes session when that AS changes;
        # that case is covered by needs_restart.
        (cosmetic if applies_in_place(o, n) else changed).append((o, n))

    reasons: list[str] = []
    g0, g1 = old.global_, new.global_
    pairs: tuple[tuple[str, object, object], ...] = (
        ("global.config.as", g0.asn, g1.asn),
        ("global.config.router-id", g0.router_id, g1.router_id),
        ("global.config.port", g0.port, g1.port),
        ("global.config.local-address-list", g0.local_address_list, g1.local_address_list),
    )
    x0, x1 = old.gracebgp, new.gracebgp
    pairs += (
        ("gracebgp.state-dir", x0.state_dir, x1.state_dir),
        ("gracebgp.api-socket", x0.api_socket, x1.api_socket),
        ("gracebgp.api-listen", x0.api_listen, x1.api_listen),
        ("gracebgp.api-token-file", x0.api_token_file, x1.api_token_file),
        ("gracebgp.api-socket-group", x0.api_socket_group, x1.api_socket_group),
        ("gracebgp.api-socket-mode", x0.api_socket_mode, x1.api_socket_mode),
        ("gracebgp.api-tls-cert-file", x0.api_tls_cert_file, x1.api_tls_cert_file),
        ("gracebgp.api-tls-key-file", x0.api_tls_key_file, x1.api_tls_key_file),
        ("gracebgp.metrics-listen", x0.metrics_listen, x1.metrics_listen),
        ("gracebgp.record", x0.record, x1.record),
        ("gracebgp.fib", x0.fib, x1.fib),
        ("gracebgp.fib-table", x0.fib_table, x1.fib_table),
        ("gracebgp.fib-protocol", x0.fib_protocol, x1.fib_protocol),
        ("gracebgp.fib-metric", x0.fib_metric, x1.fib_metric),
        ("gracebgp.fib-sweep-time", x0.fib_sweep_time, x1.fib_sweep_time),
        ("gracebgp.fib-retain", x0.fib_retain, x1.fib_retain),
        ("gracebgp.fib-resolve-via-default", x0.fib_resolve_via_default, x1.fib_resolve_via_default),
    )
    for label, a, b in pairs:
        if a != b:
            reasons.append(f"{label} changed from {_show(a)} to {_show(b)}")
    settings = tuple(label for label, a, b in (
        ("gracebgp.sigterm", x0.sigterm, x1.sigterm),
        ("gracebgp.forwarding-state-preserved", x0.forwarding_state_preserved, x1.forwarding_state_preserved),
    ) if a != b)

    policy_changed = (old.defined_sets != new.defined_sets or old.policy_definitions != new.policy_definitions
                      or g0.apply_policy != g1.apply_policy or x0.rfc8212 != x1.rfc8212)
    policy_peers = tuple(a for a, n in after.items()
                         if a in before and before[a].apply_policy != n.apply_policy)
    old_routes = {r.prefix: r for r in old.gracebgp.routes}
    new_routes = {r.prefix: r for r in new.gracebgp.routes}
    return ConfigDiff(
        added=added,
        removed=removed,
        changed=tuple(changed),
        cosmetic=tuple(cosmetic),
        # its apply-policy is routing policy (policy_changed), not the speaker's identity
        global_changed=_without_policy(g0) != _without_policy(g1),
        needs_restart=tuple(reasons),
        routes_added=tuple(r for p, r in new_routes.items() if old_routes.get(p) != r),
        routes_removed=tuple(r for p, r in old_routes.items() if p not in new_routes),
        settings_changed=settings,
        policy_changed=policy_changed,
        policy_peers=policy_peers,
    )


def _without_policy(g: Global) -> Global:
    return g.model_copy(update={"apply_policy": None})


def _show(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)
