"""The routing policy of a configuration in a few lines, for ``gracebgpd --check``: how
many sets of each kind, each policy with its statement count, and for the global level
and every neighbor the policies that apply in each direction and the default for routes
no statement decides (issue 16). Which level applies follows ``PolicyBook.level``: a
neighbor's own apply-policy (written or from its peer group) for a direction it sets,
else the global one.
"""

from __future__ import annotations

from gracebgp.config.model import Config
from gracebgp.config.policy_model import disposition_text
from gracebgp.policy.book import ApplyPolicy, PolicyBook
from gracebgp.policy.definitions import Direction

_KINDS = (("prefix", "prefix_sets"), ("neighbor", "neighbor_sets"), ("community", "community_sets"),
          ("ext-community", "ext_community_sets"), ("large-community", "large_community_sets"),
          ("as-path", "as_path_sets"))


def has_policy(config: Config) -> bool:
    """Whether the file configures any routing policy at all."""
    return bool(not config.defined_sets.empty or config.policy_definitions or config.gracebgp.rfc8212
                or config.global_.apply_policy is not None
                or any(n.apply_policy is not None for n in config.neighbors))


def _direction(book: PolicyBook, own: ApplyPolicy | None, direction: Direction, external: bool) -> str:
    level = book.level(own, direction)
    where = "global" if level is book.global_policy else "own"
    names = ", ".join(level.names(direction)) or "no policies"
    default = disposition_text(book.assignment(own, direction, external).default)
    return f"{direction.name.lower()} {names} ({where}), default {default}"


def summary(config: Config) -> list[str]:
    """The lines ``--check`` prints; none when the file has no routing policy."""
    if not has_policy(config):
        return []
    book = config.policy_book
    counts = ", ".join(f"{len(getattr(book.sets, field))} {kind}" for kind, field in _KINDS)
    lines = [f"routing policy: defined sets: {counts}; {len(book.policies)} policies"
             + ("; rfc8212 on (eBGP without policy: reject)" if book.rfc8212 else "")]
    lines += [f"  policy {name!r}: {len(p.statements)} statements" for name, p in book.policies.items()]
    both = [_direction(book, None, d, True) for d in Direction]
    lines.append(f"  global: {'; '.join(both)}")
    for n in config.neighbors:
        external = config.is_ebgp(n) is not False  # any AS: shown as for eBGP
        parts = [_direction(book, n.apply_policy, d, external) for d in Direction]
        lines.append(f"  neighbor {n.neighbor_address}: {'; '.join(parts)}")
    return lines
