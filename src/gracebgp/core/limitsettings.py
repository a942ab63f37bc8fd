"""One peer's prefix-limit settings and state, as values (GoBGP's
``[neighbors.afi-safis.prefix-limit.config]``): below ``core.peer``, which holds them; what
is done with them (RFC 4271 §6.7, RFC 4486 §4) is ``core.limits``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gracebgp.types import Family


@dataclass(frozen=True, slots=True)
class PrefixLimitSettings:
    """One family's limit, from the configuration (max_prefixes > 0)."""

    max_prefixes: int
    threshold_pct: int = 0  # shutdown-threshold-pct; 0: no warning
    restart_timer: float = 0.0  # seconds held down; 0: until EnablePeer

    @property
    def threshold(self) -> int | None:
        """The count above which a warning is due (GoBGP: max * pct / 100, integer), None
        when no threshold is set."""
        return self.max_prefixes * self.threshold_pct // 100 if self.threshold_pct else None


Limits = tuple[tuple[Family, PrefixLimitSettings], ...]


def configured(pairs: Iterable[tuple[Family, Any]]) -> Limits:
    """(family, ``config.model.PrefixLimit``) pairs -> the limits that limit something."""
    return tuple((f, PrefixLimitSettings(p.max_prefixes, p.shutdown_threshold_pct, float(p.restart_timer)))
                 for f, p in pairs if p.max_prefixes > 0)


@dataclass(slots=True)
class LimitState:
    """One peer's prefix-limit state (owned by the Speaker)."""

    #: Family -> the session (``stats.established_count``) its threshold warning was for.
    warned: dict[Family, int] = field(default_factory=dict)
    held: Family | None = None  # the family that went over; the session is held down
    held_count: int = 0  # its count when it went over
    restart_at: float | None = None  # when restart-timer starts it again (None: EnablePeer)
    exceeded: dict[Family, int] = field(default_factory=dict)  # sessions closed, per family
