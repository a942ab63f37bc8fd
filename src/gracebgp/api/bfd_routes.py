"""``GET /v1/bfd`` (ListBfdSessions) and the BFD metrics: gracebgp-bfdd's sessions, through
the daemon's BFD link (runtime.bfdlink); an empty list and no series without BFD."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from gracebgp.api.bfd_schema import BfdSession

STATES = ("admin-down", "down", "init", "up")


class BfdSource(Protocol):
    """runtime.bfdlink.BfdLink as the API sees it."""

    status: dict[str, dict[str, Any]]  # by peer: bfdd's last word (events, listings)

    @property
    def connected(self) -> bool: ...  # gracebgp-bfdd answers

    async def sessions(self) -> list[dict[str, Any]]: ...


class BfdCollector(Collector):
    """Whether gracebgp-bfdd answers; per peer: up, state, detection time, the peer's C
    bit, flaps (from the last known status, which every state change updates and losing
    bfdd clears)."""

    def __init__(self, source: BfdSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("gracebgp_bfd_session_up", "1 when the BFD session is Up", labels=["peer"])
        state = GaugeMetricFamily("gracebgp_bfd_session_state", "1 for the BFD session's state (RFC 5880)",
                                  labels=["peer", "state"])
        detect = GaugeMetricFamily("gracebgp_bfd_detection_time_seconds",
                                   "negotiated Detection Time (RFC 5880 §6.8.4)", labels=["peer"])
        remote_c = GaugeMetricFamily("gracebgp_bfd_remote_c_bit",
                                     "the peer's C bit: its BFD does not share fate with its control plane",
                                     labels=["peer"])
        flaps = CounterMetricFamily("gracebgp_bfd_flaps", "Up -> Down transitions of the BFD session",
                                    labels=["peer"])
        connected = GaugeMetricFamily("gracebgp_bfdd_connected",
                                      "1 while gracebgp-bfdd answers gracebgpd (the BFD series below "
                                      "are bfdd's last word: none while it is away)")
        connected.add_metric([], 1.0 if self.source.connected else 0.0)
        yield connected
        for peer, s in sorted(self.source.status.items()):
            up.add_metric([peer], 1.0 if s.get("state") == "up" else 0.0)
            for name in STATES:
                state.add_metric([peer, name], 1.0 if s.get("state") == name else 0.0)
            detect.add_metric([peer], float(s.get("detection_time_us", 0)) / 1e6)
            remote_c.add_metric([peer], 1.0 if s.get("remote_c") else 0.0)
            flaps.add_metric([peer], float(s.get("flaps", 0)))
        yield from (up, state, detect, remote_c, flaps)


def register(app: FastAPI, source: BfdSource | None, registry: CollectorRegistry | None = None) -> None:
    if source is not None and registry is not None:
        registry.register(BfdCollector(source))

    @app.get("/v1/bfd", response_model=list[BfdSession], operation_id="ListBfdSessions")
    async def list_bfd() -> list[BfdSession]:
        found = [] if source is None else await source.sessions()
        return [BfdSession.model_validate(s) for s in sorted(found, key=lambda s: str(s.get("peer")))]
