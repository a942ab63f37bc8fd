"""The policy book: every defined set and policy definition by name, the global
apply-policy, and the rule that turns one level's apply-policy into an ``Assignment``.

Which level applies (gracebgp's rule, written down in docs/configuration.md): for each
direction, a neighbor's own apply-policy (set on the neighbor or inherited from its peer
group) replaces the global one when it names policies or sets a default for that
direction; otherwise the global apply-policy applies. This is how GoBGP treats a route
server client's policies (they replace the global ones for that client) and how most
routers resolve a policy set at several levels (the most specific wins).

The default disposition of the level that applies is its default-import-policy /
default-export-policy when configured, else GoBGP's accept, or RFC 8212's reject for an
eBGP peer with no policy when ``rfc8212`` is on (``definitions.default_disposition``).

A book is immutable; a reload or an API change builds a new one. Assignments are made
once per (level, direction, external) and kept, so the evaluation caches keyed on the
assignment object stay valid for the book's lifetime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gracebgp.policy.definitions import Assignment, Direction, Disposition, Policy, default_disposition
from gracebgp.policy.prefixes import AddressSet, PrefixSet
from gracebgp.policy.textsets import ExtCommunitySet, TextSet


@dataclass(frozen=True, slots=True)
class ApplyPolicy:
    """One level's apply-policy (global, a peer group, a neighbor), by policy name.

    ``default_import`` / ``default_export``: None when the level does not set it."""

    import_policies: tuple[str, ...] = ()
    export_policies: tuple[str, ...] = ()
    default_import: Disposition | None = None
    default_export: Disposition | None = None

    def __post_init__(self) -> None:
        for value in (self.default_import, self.default_export):
            if value is Disposition.NONE:
                raise ValueError("a default policy must be accept-route or reject-route")

    def names(self, direction: Direction) -> tuple[str, ...]:
        return self.import_policies if direction is Direction.IMPORT else self.export_policies

    def default(self, direction: Direction) -> Disposition | None:
        return self.default_import if direction is Direction.IMPORT else self.default_export

    def configures(self, direction: Direction) -> bool:
        """Whether this level says anything for ``direction`` (then it replaces the global level)."""
        return bool(self.names(direction)) or self.default(direction) is not None


NO_POLICY = ApplyPolicy()


@dataclass(frozen=True, slots=True)
class DefinedSets:
    """GoBGP's [defined-sets], each kind by set name."""

    prefix_sets: Mapping[str, PrefixSet] = field(default_factory=dict)
    neighbor_sets: Mapping[str, AddressSet] = field(default_factory=dict)
    community_sets: Mapping[str, TextSet] = field(default_factory=dict)
    ext_community_sets: Mapping[str, ExtCommunitySet] = field(default_factory=dict)
    large_community_sets: Mapping[str, TextSet] = field(default_factory=dict)
    as_path_sets: Mapping[str, TextSet] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PolicyBook:
    sets: DefinedSets = field(default_factory=DefinedSets)
    #: Policy definitions by name, in configuration order.
    policies: Mapping[str, Policy] = field(default_factory=dict)
    #: [global.apply-policy.config]
    global_policy: ApplyPolicy = NO_POLICY
    #: gracebgp's switch: RFC 8212 §3 for eBGP peers without policy in a direction.
    rfc8212: bool = False
    #: What the book was compiled from (``config.policy_source.PolicySource``), kept for the
    #: API's edits and for recordings; None for a book built directly.
    source: Any = field(default=None, compare=False, repr=False)
    _made: dict[tuple[ApplyPolicy, Direction, bool], Assignment] = field(
        default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.check(self.global_policy)

    def check(self, level: ApplyPolicy) -> None:
        """ValueError naming the first policy ``level`` refers to that is not defined."""
        for direction in Direction:
            for name in level.names(direction):
                if name not in self.policies:
                    raise ValueError(f"policy {name!r} is not defined in [[policy-definitions]]")

    def level(self, own: ApplyPolicy | None, direction: Direction) -> ApplyPolicy:
        """The level whose policies apply in ``direction`` for a peer whose own
        apply-policy is ``own`` (None or empty: the global one)."""
        if own is not None and own.configures(direction):
            return own
        return self.global_policy

    def assignment(self, own: ApplyPolicy | None, direction: Direction, external: bool) -> Assignment:
        """The assignment for one peer and direction (``external``: an eBGP peer)."""
        level = self.level(own, direction)
        key = (level, direction, external)
        made = self._made.get(key)
        if made is None:
            self.check(level)
            policies = tuple(self.policies[name] for name in level.names(direction))
            default = level.default(direction)
            if default is None:
                default = default_disposition(external, bool(policies), self.rfc8212)
            made = self._made[key] = Assignment(policies, default)
        return made
