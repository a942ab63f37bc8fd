"""The kernel FIB's settings from a Config: the driver ``[gracebgp] fib = true`` starts,
the sweep time it uses, the F bit it decides, and what a reload keeps of them."""

from __future__ import annotations

import logging

from gracebgp.config.model import Config
from gracebgp.runtime.fibdriver import FibDriver, FibSettings

log = logging.getLogger("gracebgp.fib")


#: The ``[gracebgp]`` fib keys, which need a restart (config.diff): a reload keeps them.
FIB_KEYS = ("fib", "fib_table", "fib_protocol", "fib_metric", "fib_sweep_time", "fib_retain",
            "fib_resolve_via_default")


def driver_for(cfg: Config) -> FibDriver | None:
    """The FIB of ``[gracebgp] fib = true``, started (kernel dumped, routes adopted, F
    decided); None without it."""
    g = cfg.gracebgp
    if not g.fib:
        return None
    sweep, why = sweep_time(cfg)
    if why:
        log.warning("FIB: %s", why, extra={"event": "fib-sweep-raised"})
    settings = FibSettings(g.fib_table, g.fib_protocol, g.fib_metric, sweep, g.fib_retain,
                           g.fib_resolve_via_default)
    driver = FibDriver(settings, g.state_dir)
    driver.start()
    return driver


#: Seconds the sweep waits beyond the longest selection deferral (a full reconcile's time).
SWEEP_MARGIN = 60


def sweep_time(cfg: Config) -> tuple[float, str]:
    """fib-sweep-time, raised above the longest selection deferral timer of a GR neighbor
    (RFC 4724 §4.1) when below it: a sweep before selection is done would delete adopted
    routes that are still being re-learned. (seconds, why it was raised or "")."""
    configured = cfg.gracebgp.fib_sweep_time
    deferral = max((n.graceful_restart.deferral_time for n in cfg.neighbors if n.graceful_restart.enabled),
                   default=0)
    if deferral and configured < deferral + SWEEP_MARGIN:
        raised = deferral + SWEEP_MARGIN
        return float(raised), (f"fib-sweep-time {configured}s is below the selection deferral time "
                               f"{deferral}s (graceful-restart deferral-time): {raised}s used")
    return float(configured), ""


def with_forwarding(cfg: Config, driver: FibDriver | None) -> Config:
    """``cfg`` whose F bit is the kernel's truth when the FIB is on, else as configured.
    One bit serves every family: 1 when some family adopted routes of ours (fib.fbit; the
    kernel and namespace checks are the same for every family, and a family with no route
    of ours in the kernel has no forwarding state to lose), 0 when none did or when
    forwarding-state-preserved is false."""
    if driver is None:
        return cfg
    # forwarding-state-preserved = false still forbids F=1 (an operator who wants no claim)
    f = any(bit for bit, _ in driver.forwarding.values()) and cfg.gracebgp.forwarding_state_preserved
    extras = cfg.gracebgp.model_copy(update={"forwarding_state_preserved": f})
    return cfg.model_copy(update={"gracebgp": extras})


def keep_fib(running: Config, new: Config) -> Config:
    """``new`` with the running fib keys (and the F bit they decided): a reload does not
    apply them (config.diff lists them as needing a restart)."""
    x0 = running.gracebgp
    if not (x0.fib or new.gracebgp.fib):
        return new
    update = {k: getattr(x0, k) for k in FIB_KEYS}
    update["forwarding_state_preserved"] = x0.forwarding_state_preserved
    return new.model_copy(update={"gracebgp": new.gracebgp.model_copy(update=update)})
