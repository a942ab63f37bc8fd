"""The "route" Notices that follow the Loc-RIB's best paths (the route events of
WatchEvents, when someone follows them: ``events.RoutesWatched``): one per best-path
change of a flush, RFC 4271 §9.1.2 (the best route selected per destination).
"""

from __future__ import annotations

from typing import Protocol

from gracebgp.core import events as ev
from gracebgp.rib.loc_rib import LocRib
from gracebgp.types import Family
from gracebgp.wire.nlri import format_prefix
from gracebgp.wire.text import format_attrs


class Watched(Protocol):
    """What ``flushed`` needs of the speaker."""

    watch_routes: bool
    loc: dict[Family, LocRib]


def flushed(speaker: Watched, family: Family, keys: set[int]) -> list[ev.Output]:
    """The prefixes of ``family`` whose candidates changed in this flush: to the kernel FIB
    when it follows the Loc-RIB (``LocRib.fib_keys``), and as "route" Notices when someone
    follows them."""
    loc = speaker.loc[family]
    if loc.fib_keys is not None:
        loc.fib_keys.update(keys)
    return notices(loc, family, keys) if speaker.watch_routes else []


def notices(loc: LocRib, family: Family, keys: set[int]) -> list[ev.Output]:
    """One "route" Notice per best-path change (at most 1000 per batch, then a count)."""
    out: list[ev.Output] = []
    for n, key in enumerate(sorted(keys)):
        if n == 1000:
            out.append(ev.Notice("route", f"{len(keys) - 1000} more route changes in {family}", None,
                                 {"family": str(family), "more": len(keys) - 1000}))
            break
        prefix = format_prefix(key, family.afi)
        best = loc.best(key)
        if best is None:
            out.append(ev.Notice("route", f"{prefix} withdrawn", None,
                                 {"family": str(family), "prefix": prefix, "best": None}))
            continue
        src, path, _ = best
        out.append(ev.Notice(
            "route", f"{prefix} via {','.join(path.next_hop) or '-'} from "
            f"{src.address or 'local'}", src.address or None,
            {"family": str(family), "prefix": prefix, "next_hop": list(path.next_hop),
             "source": src.address or None, "attrs": format_attrs(path.attrs)}))
    return out
