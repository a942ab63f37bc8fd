"""Routing policy in GoBGP's model (issue 16): defined sets, statements, policies,
assignments, and their evaluation over one route. Layer L2, pure: it imports only
``gracebgp.wire`` and ``gracebgp.types``; ``rib`` may use it. ``config.policy_compile``
builds the book from GoBGP's [defined-sets], [[policy-definitions]] and apply-policy.

Modules
-------
* ``prefixes``: prefix-sets (mask-length ranges) and address sets (neighbor-set,
  next-hop-in-list). Matching probes one dict per prefix length present in the set,
  keyed by the masked network, so its cost does not grow with the number of entries.
* ``textsets``: community, ext-community, large-community and as-path sets: regular
  expressions over the values' text, with GoBGP's anchoring rules (a literal "65100:1"
  matches exactly, a regex is used unanchored) and ``_`` in as-path entries standing for
  ``(^|[,{}() ]|$)``.
* ``conditions``: the match conditions and match-set-options (prefix/neighbor sets:
  any|invert; the BGP sets: any|all|invert).
* ``actions``: route attribute actions editing a ``Draft``; results are interned by
  value (``wire.attrset.intern_value``) so equal results are one object.
* ``definitions``: ``Statement`` (with its match counter), ``Policy``, ``Assignment``
  (policies + default disposition), RFC 8212's default.
* ``route``: ``Source`` (peer, peer AS, route type) and ``Route`` (family, prefix key,
  next hop, source).
* ``evaluate``: ``attr_verdict`` and ``evaluate`` -> ``Decision``.
* ``book``: ``PolicyBook`` (every set and policy by name, the global apply-policy) and
  ``ApplyPolicy`` (one level's, by name); ``book.assignment`` picks the level that applies.

Evaluation order (GoBGP's)
--------------------------
Policies in order, statements in order; a statement matches when all its conditions
hold (no conditions: always). A matching statement applies its actions, then: accept or
reject decides and stops; "none" falls through to the next statement, then the next
policy, with the changed attributes. No decision: the assignment's default (accept
unless configured; RFC 8212 reject for eBGP without policy when the gracebgp switch is
on, ``default_disposition``). Every match adds one to the statement's counter; the trace
(``explain=True``) lists each statement evaluated, whether it matched, its actions and
its decision, and costs nothing when not asked for.

Where it runs (the wiring, ``rib.policy_filter``, ``rib.policy_attach``, ``core.policies``)
------------------------------------------------------------------------------------------
* The configuration (``config.policy_compile``, ``config.policy_source``) builds a
  ``PolicyBook``; ``book.assignment`` gives each peer's import and export assignment.
* Import runs in ``rib/channel.py`` between the Adj-RIB-In (kept pre-policy) and the
  Loc-RIB; export per peer in the Adj-RIB-Out, after the export rules (GoBGP's order).
* Routes sharing a Path differ only in their prefix, so ``rib.policy_filter`` evaluates
  once per (Path, which prefix sets hold the prefix) and counts per route; the verdict
  and result caches this package offers (``attr_verdict``, ``ResultMemo``) are for callers
  that evaluate per route.
* A new book or apply-policy is re-run over the kept routes without a session reset
  (``core.policies.rebind``); ``--explain`` evaluates with ``explain=True, count=False``.
"""

from gracebgp.policy.actions import (
    Draft,
    NextHopChoice,
    NextHopKind,
    PrependAsPath,
    SetCommunities,
    SetLocalPref,
    SetMed,
    SetNextHop,
    SetOp,
    set_community,
    set_ext_community,
    set_large_community,
)
from gracebgp.policy.book import NO_POLICY, ApplyPolicy, DefinedSets, PolicyBook
from gracebgp.policy.conditions import (
    AfiSafiIn,
    AsPathLength,
    CommunityCount,
    Comparison,
    MatchAsPathSet,
    MatchCommunitySet,
    MatchExtCommunitySet,
    MatchLargeCommunitySet,
    MatchNeighborSet,
    MatchOption,
    MatchPrefixSet,
    NextHopInList,
    RouteTypeIs,
)
from gracebgp.policy.definitions import (
    Assignment,
    Direction,
    Disposition,
    MatchCounter,
    Policy,
    Statement,
    default_disposition,
)
from gracebgp.policy.evaluate import (
    AttrVerdict,
    Decision,
    ResultMemo,
    TraceStep,
    attr_verdict,
    evaluate,
)
from gracebgp.policy.prefixes import AddressSet, PrefixEntry, PrefixSet, parse_entry
from gracebgp.policy.route import Route, RouteType, Source
from gracebgp.policy.textsets import ExtCommunitySet, TextSet

__all__ = [
    "NO_POLICY",
    "AddressSet",
    "AfiSafiIn",
    "ApplyPolicy",
    "AsPathLength",
    "Assignment",
    "AttrVerdict",
    "CommunityCount",
    "Comparison",
    "Decision",
    "DefinedSets",
    "Direction",
    "Disposition",
    "Draft",
    "ExtCommunitySet",
    "MatchAsPathSet",
    "MatchCommunitySet",
    "MatchCounter",
    "MatchExtCommunitySet",
    "MatchLargeCommunitySet",
    "MatchNeighborSet",
    "MatchOption",
    "MatchPrefixSet",
    "NextHopChoice",
    "NextHopInList",
    "NextHopKind",
    "Policy",
    "PolicyBook",
    "PrefixEntry",
    "PrefixSet",
    "PrependAsPath",
    "ResultMemo",
    "Route",
    "RouteType",
    "RouteTypeIs",
    "SetCommunities",
    "SetLocalPref",
    "SetMed",
    "SetNextHop",
    "SetOp",
    "Source",
    "Statement",
    "TextSet",
    "TraceStep",
    "attr_verdict",
    "default_disposition",
    "evaluate",
    "parse_entry",
    "set_community",
    "set_ext_community",
    "set_large_community",
]
