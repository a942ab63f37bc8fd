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
* ``actions``: route attribute actions editing a ``Draft``; results are interned
  through ``wire.attrset.intern_derived`` so equal results are one object.
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

Caching plan (issue 16 item 6), for the wiring step
---------------------------------------------------
Conditions split into attribute-only ones (community, ext/large community, as-path,
as-path-length, community-count, route-type, neighbor-set: functions of the AttrSet and
the ``Source``) and per-route ones (prefix-set, afi-safi-in, next-hop-in-list).
``attr_verdict(assignment, attrs, source)`` computes the first kind for every statement;
the caller keeps it in a dict keyed by ``(attrs, source, assignment)`` (AttrSets are
interned, so identity hashing is cheap; a Source is a small frozen value) and passes it
to ``evaluate(assignment, route, attrs, verdict)``, which then only runs the per-route
conditions — a prefix-set probe — per prefix. The verdict is used only while the
attributes are unchanged: once a fall-through statement's actions change them, later
statements test the changed set directly. Likewise ``evaluate(..., results=memo)``
with one ``ResultMemo`` dict per assignment reuses the changed AttrSet made for earlier
prefixes with the same attributes and the same statements applied (the actions are
functions of the attributes alone), instead of encoding and interning it again. Both
caches must be dropped when the assignment is replaced (a new object: key on it, or
clear on reload) and can be bounded by dropping entries whose AttrSet the RIB released.

What the wiring step must do
----------------------------
* Compile the GoBGP config (defined-sets, policy-definitions, apply-policy per neighbor,
  peer group and global) into these objects; parse errors here are ValueErrors with the
  offending value, which the loader turns into file:line:key errors.
* Import: in ``rib/channel.py``, between the Adj-RIB-In (kept pre-policy) and the
  Loc-RIB, with ``Source(peer=sender address, peer_as, INTERNAL|EXTERNAL)``; a rejected
  route is withdrawn from the Loc-RIB but stays in the Adj-RIB-In.
* Export: per peer before the Adj-RIB-Out, with ``Source(peer=receiver address, ...,
  route_type of the route: LOCAL for originated routes)``; routes originated through the
  API or [[gracebgp.routes]] pass the global export policy too.
* Apply ``Decision.next_hop``: ADDRESS replaces the next hop, SELF is the session's local
  address, UNCHANGED keeps the next hop on eBGP. LOCAL_PREF set by policy is still not
  sent to external peers (RFC 4271 §5.1.5).
* Re-evaluate from the Adj-RIB-In on reload and send only the differences.
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
