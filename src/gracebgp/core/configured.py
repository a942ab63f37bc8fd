"""Routes of the configuration file (``[[gracebgp.routes]]``) belong to the file: AddPaths
and DeletePaths may not replace or delete them (issue 10 finding 10).

Without this check a configured route changed or deleted through the API is silently
put back by the next reload or restart, which re-originates what the file says. As in
GoBGP, which tells routes apart by where they came from, the file stays the one source
of truth for its routes; the refusal (409) names the prefixes and the file to edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

from gracebgp.types import Family
from gracebgp.wire.nlri import format_prefix

#: How many of the refused prefixes the message names.
SHOWN = 3


def configured_refusal(configured: Set[tuple[Family, int]], keys: Iterable[tuple[Family, int]],
                       config_file: str, verb: str) -> str | None:
    """Why a request that would ``verb`` ("add", "delete") the routes ``keys`` is refused:
    some are configured routes; None when none is. One line for the operator."""
    if not configured:
        return None
    hits = [fk for fk in keys if fk in configured]
    if not hits:
        return None
    names = ", ".join(format_prefix(key, family.afi) for family, key in hits[:SHOWN])
    if len(hits) > SHOWN:
        names += f" and {len(hits) - SHOWN} more"
    where = config_file or "the configuration file"
    it, is_ = ("it", "is") if len(hits) == 1 else ("them", "are")
    change, done = ("remove", "deleted") if verb == "delete" else ("change", "added")
    return (f"{names} {is_} configured in {where} ([[gracebgp.routes]]); {change} {it} there and "
            f"reload (SIGHUP); nothing was {done}")
