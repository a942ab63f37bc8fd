"""The Speaker and the settings it runs with, made from a Config: what gracebgpd builds at
start and hands over on SIGHUP (``Reconfigured``), and what a reload must keep as it runs
(``keep_identity``)."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from gracebgp.config.model import Config, Neighbor
from gracebgp.config.policy_source import book_of
from gracebgp.core import events as ev
from gracebgp.core.dynamic import DynamicRange
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.runtime import fibconfig
from gracebgp.runtime.recorder import SpeakerArgs


def neighbors_of(cfg: Config) -> tuple[NeighborSettings, ...]:
    return tuple(neighbor_settings(cfg, n) for n in cfg.neighbors)


def neighbor_settings(cfg: Config, n: Neighbor) -> NeighborSettings:
    host = socket.gethostname().split(".")[0] or None
    return NeighborSettings.from_config(n, cfg.global_, hostname=host,
                                        forwarding_preserved=cfg.gracebgp.forwarding_state_preserved)


def ranges_of(cfg: Config) -> tuple[DynamicRange, ...]:
    """``[[dynamic-neighbors]]`` for the speaker (core.dynamic): each range's group settings
    (the group's peer-as omitted or 0 is any AS: None, as for a configured neighbor)."""
    return tuple(DynamicRange(d.prefix, d.peer_group, neighbor_settings(cfg, d.template), d.max_peers)
                 for d in cfg.dynamic_neighbors)


def routes_of(cfg: Config) -> tuple[LocalRoute, ...]:
    return tuple(LocalRoute.from_config(r) for r in cfg.gracebgp.routes)


def speaker_args(cfg: Config, stored: Sequence[LocalRoute] = (), config_file: str = "") -> SpeakerArgs:
    """How the Speaker is built (a recording's first line: runtime.recorder); ``stored``:
    routes added through the API before a restart (runtime.store)."""
    return SpeakerArgs(cfg.global_.asn, cfg.global_.router_id, neighbors_of(cfg), routes_of(cfg),
                       always_compare_med=cfg.global_.always_compare_med, stored_routes=tuple(stored),
                       tunables=tunables_of(cfg), config_file=config_file, ranges=ranges_of(cfg),
                       policy_book=book_of(cfg))


def build_speaker(cfg: Config, stored: Sequence[LocalRoute] = ()) -> Speaker:
    return speaker_args(cfg, stored).build()


def tunables_of(cfg: Config) -> ev.Tunables:
    """The ``[gracebgp]`` settings the speaker reads at run time (given when it is built,
    and in ``Reconfigured`` on SIGHUP)."""
    g, mp = cfg.gracebgp, cfg.global_
    return ev.Tunables(establish_wait=float(g.establish_wait), llgr_ibgp=g.llgr_to_ibgp,
                       provisional_hard=g.provisional_hard_reset, multipath=mp.multipath,
                       multipath_allow_multiple_as=mp.multipath_allow_multiple_as,
                       multipath_ebgp_maximum_paths=mp.multipath_ebgp_maximum_paths,
                       multipath_ibgp_maximum_paths=mp.multipath_ibgp_maximum_paths,
                       multipath_families=tuple(
                           (af.family, m.enabled, m.allow_multiple_as, m.ebgp_maximum_paths,
                            m.ibgp_maximum_paths)
                           for af in mp.afi_safis if (m := af.multipath) is not None))


def peers_hold(cfg: Config) -> float:
    """How long peers keep our routes after we go: the longest Restart Time we advertise
    (RFC 4724 §4.2), plus the longest LLGR stale time of that neighbor (RFC 9494 §4.2);
    a dynamic-neighbors range's peers get its group's."""
    longest = 0
    for n in (*neighbors_of(cfg), *(r.template for r in ranges_of(cfg))):
        gr = n.session.graceful_restart
        if gr is not None:
            longest = max(longest, gr.restart_time + max((t for _, t in n.session.llgr), default=0))
    return float(longest)


def keep_identity(running: Config, new: Config) -> Config:
    """``new`` with the settings that need a restart (``ConfigDiff.needs_restart``: AS,
    router-id, listeners, state-dir, API) kept as they run: a reload must not apply half of
    them, e.g. reset every session that relies on the global AS to a new AS that the
    speaker itself does not use yet."""
    g0, x0 = running.global_, running.gracebgp
    global_ = new.global_.model_copy(update={
        "asn": g0.asn, "router_id": g0.router_id, "port": g0.port,
        "local_address_list": g0.local_address_list})
    extras = new.gracebgp.model_copy(update={
        "state_dir": x0.state_dir, "api_socket": x0.api_socket, "api_listen": x0.api_listen,
        "api_token_file": x0.api_token_file, "api_socket_group": x0.api_socket_group,
        "api_socket_mode": x0.api_socket_mode, "api_tls_cert_file": x0.api_tls_cert_file,
        "api_tls_key_file": x0.api_tls_key_file, "metrics_listen": x0.metrics_listen,
        "record": x0.record})
    return fibconfig.keep_fib(running, new.model_copy(update={"global_": global_, "gracebgp": extras}))


def listen_addresses(cfg: Config) -> list[tuple[str, int]]:
    port = cfg.global_.port
    return [] if port <= 0 else [(a, port) for a in cfg.global_.local_address_list]
