"""What a configuration's routing policy does to a few routes, for tests: the compiled
``Config.policy_book`` run (``policy.evaluate``, with the trace) over each configured
neighbor's import and export assignment, as the core runs it."""

from __future__ import annotations

from typing import Any

from gracebgp.config import Config
from gracebgp.policy import Direction, RouteType, Source, evaluate
from gracebgp.policy.textsets import parse_ext_community
from gracebgp.wire import AttrSet

from ..policy.helpers import attrs as _attrs
from ..policy.helpers import route


def attrs(*asns: int, comms: tuple[str, ...] = (), ext: tuple[str, ...] = (),
          large: tuple[tuple[int, int, int], ...] = (), med: int | None = None,
          lp: int | None = None) -> AttrSet:
    """The policy tests' attribute builder, with extended communities written as text."""
    return _attrs(*asns, comms=comms, ext=tuple(parse_ext_community(e) for e in ext), large=large,
                  med=med, lp=lp, nh="192.0.2.9")


def source_of(cfg: Config, address: str) -> Source:
    n = cfg.neighbor(address)
    assert n is not None and n.peer_as is not None
    kind = RouteType.EXTERNAL if cfg.is_ebgp(n) else RouteType.INTERNAL
    return Source(n.neighbor_address, n.peer_as, kind)


def decide(cfg: Config, address: str, direction: Direction, prefix: str, a: AttrSet,
           nh: str = "192.0.2.9", route_type: RouteType | None = None) -> tuple[bool, AttrSet, Any]:
    """(accepted, resulting attributes, next-hop choice) for one route and neighbor."""
    n = cfg.neighbor(address)
    assert n is not None
    src = source_of(cfg, address)
    if route_type is not None:
        src = Source(src.peer, src.peer_as, route_type)
    assignment = cfg.policy_book.assignment(n.apply_policy, direction, external=bool(cfg.is_ebgp(n)))
    d = evaluate(assignment, route(prefix, src, nh=nh), a)
    return d.accepted, d.attrs, d.next_hop


#: Routes the walk's effect runs: an IPv4 route carrying one value of every kind, an IPv6 one.
WALK_ROUTES = (
    ("10.1.2.0/24", attrs(65002, 65010, comms=("65002:1",), ext=("rt:65002:1",), large=((65002, 1, 1),),
                          med=5, lp=100)),
    ("2001:db8::/48", attrs(65003)),
)


def policy_effect(cfg: Config) -> list[object]:
    """Everything the book does that a consumer sees: the sets' names, each statement's
    conditions, and for every neighbor, direction and walk route the decision with its trace."""
    book = cfg.policy_book
    sets = book.sets
    out: list[object] = [sorted(m) for m in (sets.prefix_sets, sets.neighbor_sets, sets.community_sets,
                                             sets.ext_community_sets, sets.large_community_sets,
                                             sets.as_path_sets)]
    out += [[c.describe() for st in p.statements for c in st.conditions] for p in book.policies.values()]
    for n in cfg.neighbors:
        src = source_of(cfg, n.neighbor_address)
        for direction in Direction:
            assignment = book.assignment(n.apply_policy, direction, external=bool(cfg.is_ebgp(n)))
            for prefix, a in WALK_ROUTES:
                nh = "2001:db8::9" if ":" in prefix else "192.0.2.9"
                d = evaluate(assignment, route(prefix, src, nh=nh), a, explain=True)
                out.append((n.neighbor_address, direction, prefix, d.accepted, d.attrs.attrs, d.next_hop,
                            d.by_default, d.trace))
    return out
