"""GetFib (``GET /v1/fib``, ``gracebgp fib``) and the ``gracebgp_fib_*`` metrics: the kernel
FIB's state per family, read from the daemon's ``runtime.fibdriver`` between owner turns.
Registered by ``api.server``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from gracebgp.api.fib_schema import FibView
from gracebgp.api.schema import ForwardingFamily, GrStatus
from gracebgp.api.service import RequestError
from gracebgp.fib.fbit import forwarding_state
from gracebgp.runtime.fibdriver import FAMILIES, FibDriver
from gracebgp.types import family_name

OFF = "the kernel FIB is off: set fib = true in [gracebgp] (docs/configuration.md, \"The kernel FIB\")"


def with_forwarding(status: GrStatus, driver: FibDriver | None, configured: bool) -> GrStatus:
    """``gr status`` with the F bit per family and why (fib.fbit): the kernel's truth with
    the FIB on, the configured value without it."""
    rows = [ForwardingFamily(family=family_name(f), forwarding=bit, reason=why) for f in FAMILIES
            for bit, why in [driver.forwarding.get(f, (False, "")) if driver is not None
                             else forwarding_state(f, False, configured, None, None, 0)]]
    return status.model_copy(update={"forwarding": rows})


#: ``gracebgp_fib_routes{family,state}``: the summary's counts that are states.
_STATES = ("desired", "installed", "pending", "adopted", "conflicts", "failures")


class FibCollector(Collector):
    """The kernel FIB's metrics, read at scrape time (nothing when the FIB is off)."""

    def __init__(self, driver: Callable[[], FibDriver | None]) -> None:
        self.driver = driver

    def collect(self) -> Iterator[Metric]:
        d = self.driver()
        if d is None:
            return
        routes = GaugeMetricFamily("gracebgp_fib_routes", "kernel FIB prefixes by state: desired by "
                                   "selection, installed, pending, adopted from the previous run, in "
                                   "conflict, failed", labels=["family", "state"])
        ops = CounterMetricFamily("gracebgp_fib_operations", "kernel route operations done",
                                  labels=["family", "op"])
        synced = GaugeMetricFamily("gracebgp_fib_in_sync", "1 when the kernel holds what selection wants",
                                   labels=["family"])
        fbit = GaugeMetricFamily("gracebgp_fib_forwarding_preserved", "the F bit this start advertises",
                                 labels=["family"])
        for row in d.view()["families"]:
            fam = str(row["family"])
            for state in _STATES:
                routes.add_metric([fam, state], float(row[state]))
            for op in ("added", "replaced", "deleted"):
                ops.add_metric([fam, op], float(row[op]))
            synced.add_metric([fam], 1.0 if row["in_sync"] else 0.0)
            fbit.add_metric([fam], 1.0 if row["f_bit"] else 0.0)
        failed = CounterMetricFamily("gracebgp_fib_failed_operations", "kernel route operations that failed")
        failed.add_metric([], float(d.failed_total))
        yield from (routes, ops, synced, fbit, failed)


def register(app: FastAPI, driver: Callable[[], FibDriver | None],
             responses: dict[int | str, dict[str, Any]], registry: CollectorRegistry | None = None) -> None:
    if registry is not None:
        registry.register(FibCollector(driver))

    @app.get("/v1/fib", response_model=FibView, operation_id="GetFib", responses=responses)
    async def get_fib() -> FibView:
        """The kernel FIB per family: installed, pending, adopted, conflicts, failures
        with the kernel's errno, and why the F bit is what it is. 404 when it is off."""
        d = driver()
        if d is None:
            raise RequestError(404, OFF)
        return FibView.model_validate(d.view())
