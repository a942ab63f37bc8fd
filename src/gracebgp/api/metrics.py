"""Prometheus metrics, read from the speaker at scrape time (nothing is counted twice):
the build (version, Python), session state and uptime, messages by type, prefixes per
peer and family, RIB size, graceful-restart episodes and stale durations, routing-policy
statement matches, owner steps and the garbage collector's full collections."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from gracebgp.api import grview, service
from gracebgp.core import limits
from gracebgp.core.speaker import Speaker
from gracebgp.core.stats import MESSAGE_TYPES
from gracebgp.runtime import gcpolicy
from gracebgp.runtime.owner import STEP_BOUND, STEP_BUCKETS, StepTimes
from gracebgp.types import family_name

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SpeakerCollector(Collector):
    def __init__(self, speaker: Speaker, info: service.DaemonInfo, clock: Callable[[], float],
                 steps: StepTimes | None = None) -> None:
        self.speaker = speaker
        self.info = info
        self.clock = clock
        self.steps = steps

    def collect(self) -> Iterator[Metric]:
        yield build_info(self.info.version)
        now = self.clock()
        sp = self.speaker
        up = GaugeMetricFamily("gracebgp_peer_up", "1 when the session is Established", labels=["peer"])
        state = GaugeMetricFamily("gracebgp_peer_state", "1 for the session's current state",
                                  labels=["peer", "state"])
        uptime = GaugeMetricFamily("gracebgp_peer_uptime_seconds", "seconds the session has been Established",
                                   labels=["peer"])
        flaps = CounterMetricFamily("gracebgp_peer_established", "times the session came up", labels=["peer"])
        rx = CounterMetricFamily("gracebgp_peer_messages_received", "BGP messages received",
                                 labels=["peer", "type"])
        tx = CounterMetricFamily("gracebgp_peer_messages_sent", "BGP messages sent", labels=["peer", "type"])
        prefixes = {kind: GaugeMetricFamily(f"gracebgp_peer_prefixes_{kind}", help_,
                                            labels=["peer", "family"])
                    for kind, help_ in (("received", "routes in the Adj-RIB-In before import checks"),
                                        ("accepted", "routes that passed import checks"),
                                        ("advertised", "routes in the Adj-RIB-Out"),
                                        ("stale", "routes kept stale for graceful restart"))}
        gr = CounterMetricFamily("gracebgp_gr_events", "graceful-restart helper episodes by outcome",
                                 labels=["peer", "event"])
        stale_last = GaugeMetricFamily("gracebgp_gr_stale_duration_seconds",
                                       "how long the last stale episode of the peer's routes lasted",
                                       labels=["peer"])
        stale_now = GaugeMetricFamily("gracebgp_gr_stale_age_seconds",
                                      "how long the peer's routes have been stale (0: not stale)",
                                      labels=["peer"])
        deferral = GaugeMetricFamily("gracebgp_gr_deferral_remaining_seconds",
                                     "seconds until the peer's stale routes are purged unless its "
                                     "End-of-RIB arrives first", labels=["peer"])
        own_nh = CounterMetricFamily("gracebgp_peer_own_next_hop_routes", "routes ignored because their "
                                     "NEXT_HOP is an address of ours (RFC 4271 §6.3)", labels=["peer"])
        for view in service.list_peers(sp, now):
            peer = sp.peers[view.address]
            a = view.address
            up.add_metric([a], 1.0 if view.state == "Established" else 0.0)
            for name in grview.STATE_NAMES.values():
                state.add_metric([a, name], 1.0 if view.state == name else 0.0)
            uptime.add_metric([a], view.uptime or 0.0)
            flaps.add_metric([a], view.established_count)
            for i, t in enumerate(MESSAGE_TYPES):
                if i:
                    rx.add_metric([a, t], getattr(view.messages_received, t))
                    tx.add_metric([a, t], getattr(view.messages_sent, t))
            for row in view.families:
                for kind, metric in prefixes.items():
                    metric.add_metric([a, row.family], getattr(row, kind))
            for event, n in sorted(peer.stats.gr_events.items()):
                gr.add_metric([a, event], n)
            st = peer.stats
            if st.last_stale_duration is not None:
                stale_last.add_metric([a], st.last_stale_duration)
            stale_now.add_metric([a], 0.0 if st.stale_since is None else now - st.stale_since)
            deferral.add_metric([a], view.stale_until or 0.0)
            own_nh.add_metric([a], st.own_next_hop)
        yield own_nh
        rib = GaugeMetricFamily("gracebgp_rib_prefixes", "prefixes in the Loc-RIB", labels=["family"])
        paths = GaugeMetricFamily("gracebgp_rib_paths", "candidate paths in the Loc-RIB", labels=["family"])
        for f, loc in sp.loc.items():
            rib.add_metric([family_name(f)], len(loc))
            paths.add_metric([family_name(f)], loc.path_count())
        local = GaugeMetricFamily("gracebgp_local_routes", "routes this speaker originates")
        local.add_metric([], len(sp.local_routes))
        yield from (up, state, uptime, flaps, rx, tx, *prefixes.values(), gr, stale_last, stale_now, deferral,
                    rib, paths, local)
        yield from prefix_limits(sp, now)
        yield policy_matches(sp)
        if self.steps is not None:
            yield from owner_steps(self.steps)
            yield from gc_sweeps(gcpolicy.STATS)


def build_info(version: str) -> Metric:
    """Which gracebgp runs, on which Python: constant 1, the facts in the labels (the
    ``*_build_info`` convention), so that a fleet's versions show in one query and an
    upgrade by ``gracebgp restart`` shows as a new version on the same target."""
    info = GaugeMetricFamily("gracebgp_build_info", "the running gracebgpd: version and Python version, "
                             "value 1", labels=["version", "python"])
    info.add_metric([version, platform.python_version()], 1.0)
    return info


def prefix_limits(sp: Speaker, now: float) -> Iterator[Metric]:
    """Per peer and family with a prefix limit (core.limits): the limit, the count it is
    checked against, whether the warning threshold (or the limit) was reached, how often
    the session was closed for it, and how long a held-down session has left."""
    labels = ["peer", "family"]
    limit = GaugeMetricFamily("gracebgp_prefix_limit", "prefix-limit max-prefixes", labels=labels)
    count = GaugeMetricFamily("gracebgp_prefix_limit_accepted", "routes counted against the limit "
                              "(accepted on the current session)", labels=labels)
    reached = GaugeMetricFamily("gracebgp_prefix_limit_reached", "1 while over shutdown-threshold-pct of "
                                "max-prefixes, or held down for exceeding max-prefixes", labels=labels)
    exceeded = CounterMetricFamily("gracebgp_prefix_limit_exceeded", "sessions closed with Cease/Maximum "
                                   "Number of Prefixes Reached", labels=labels)
    held = GaugeMetricFamily("gracebgp_prefix_limit_held_down", "1 while the session is held down for "
                             "exceeding a prefix limit", labels=["peer"])
    restart = GaugeMetricFamily("gracebgp_prefix_limit_restart_seconds", "seconds until a held-down session "
                                "starts again (restart-timer; absent: until enabled)", labels=["peer"])
    for peer in sp.peers.values():
        views = limits.views(peer)
        for v in views:
            fam = [peer.address, family_name(v.family)]
            limit.add_metric(fam, v.max_prefixes)
            count.add_metric(fam, v.accepted)
            reached.add_metric(fam, 1.0 if v.reached else 0.0)
            exceeded.add_metric(fam, v.exceeded)
        if views or peer.limit.held is not None:
            held.add_metric([peer.address], 1.0 if peer.limit.held is not None else 0.0)
        if peer.limit.restart_at is not None:
            restart.add_metric([peer.address], max(0.0, peer.limit.restart_at - now))
    yield from (limit, count, reached, exceeded, held, restart)


def policy_matches(sp: Speaker) -> Metric:
    """Routes each routing-policy statement matched (issue 16 item 5), as ``gracebgp
    policies`` shows them; a new policy (reload, API edit) starts its statements at 0."""
    matches = CounterMetricFamily("gracebgp_policy_statement_matches", "routes the statement matched "
                                  "since its policy was installed", labels=["policy", "statement"])
    for policy in sp.policy_book.policies.values():
        for statement in policy.statements:
            matches.add_metric([policy.name, statement.name], statement.counter.matches)
    return matches


def owner_steps(steps: StepTimes) -> Iterator[Metric]:
    """How long the owner's steps take (issue 10 finding 4): a step holds every session's
    KEEPALIVEs and timers, so the longest one is what an operator watches."""
    longest = GaugeMetricFamily("gracebgp_owner_step_seconds_max",
                                "the longest owner step since start (one input or one slice of a "
                                "large command, its outputs included)", labels=["input"])
    longest.add_metric([steps.max_input], steps.max)
    bound = GaugeMetricFamily("gracebgp_owner_step_bound_seconds", "the owner step gracebgpd aims to stay "
                              "within (large commands are sliced to fit)")
    bound.add_metric([], STEP_BOUND)
    over = CounterMetricFamily("gracebgp_owner_steps_over_bound", "owner steps longer than the bound")
    over.add_metric([], steps.over)
    hist = HistogramMetricFamily("gracebgp_owner_step_seconds", "owner steps by duration")
    cumulative, buckets = 0, []
    for edge, n in zip((*STEP_BUCKETS, float("inf")), steps.buckets, strict=True):
        cumulative += n
        buckets.append(("+Inf" if edge == float("inf") else f"{edge:g}", cumulative))
    hist.add_metric([], buckets, steps.total)
    yield from (longest, bound, over, hist)


def gc_sweeps(stats: gcpolicy.SweepStats) -> Iterator[Metric]:
    """The garbage collector's full collections (runtime/gcpolicy.py): each pauses the
    event loop outside any owner step, so they are shown apart."""
    sweeps = CounterMetricFamily("gracebgp_gc_sweeps", "full collections of the garbage collector (one every "
                                 "5-6 minutes; what survives a young collection is otherwise frozen)")
    sweeps.add_metric([], stats.sweeps)
    seconds = CounterMetricFamily("gracebgp_gc_sweep_seconds", "time the full collections took, each a pause "
                                  "of the event loop")
    seconds.add_metric([], stats.seconds)
    last = GaugeMetricFamily("gracebgp_gc_sweep_last_seconds", "how long the last full collection took")
    last.add_metric([], stats.last_seconds)
    freed = CounterMetricFamily("gracebgp_gc_sweep_collected", "objects the full collections freed "
                                "(reference cycles that became garbage after they were frozen)")
    freed.add_metric([], stats.collected)
    yield from (sweeps, seconds, last, freed)


def registry_for(speaker: Speaker, info: service.DaemonInfo, clock: Callable[[], float],
                 steps: StepTimes | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SpeakerCollector(speaker, info, clock, steps))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
