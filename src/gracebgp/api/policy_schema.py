"""The routing-policy API's bodies (issue 16 items 4-5, docs/api.md "Routing policy"):
the installed policies per neighbor and direction with their statements' match counts
(``gracebgp policies``), the answers of the edits, and the explanation of one route's
way through a peer's policy. Layer L0: values only.

Defined sets, policy definitions and apply-policies travel in the configuration models'
field names (``config.policy_model``: ``prefix_list``, ``ip_prefix``,
``masklength_range``, ``statements``, ``match_prefix_set``, ``import_policies``,
``default_import`` ...), as plain JSON objects, checked by the service.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel

from gracebgp.api.schema import Model

DispositionName = Literal["accept", "reject", "none"]
SetKind = Literal["prefix", "neighbor", "community", "ext-community", "large-community", "as-path"]


class PolicyStatementRow(Model):
    """One statement of one policy as an assignment runs it."""

    policy: str
    statement: str
    match_neighbors: list[str] = Field(description="neighbor-set entries the statement requires "
                                                    "(prefixed '!' when inverted)")
    match_prefixes: list[str] = Field(description="prefix-set entries, 'PREFIX MIN..MAX' when a range "
                                                   "(prefixed '!' when inverted)")
    conditions: list[str] = Field(description="the other conditions, described")
    disposition: DispositionName = Field(description="route action: none falls through to the next")
    actions: list[str] = Field(description="path actions")
    matches: int = Field(description="routes this statement matched since the policy was installed")


class PolicyAssignmentView(Model):
    """The policies one neighbor (or ``global``) runs in one direction."""

    peer: str = Field(description="a neighbor address, or 'global'")
    direction: Literal["import", "export"]
    policies: list[str]
    default: Literal["accept", "reject"] | None = Field(
        description="the level's default action; null: not set (accept, or RFC 8212's reject for eBGP)")
    statements: list[PolicyStatementRow]


class PolicyListing(Model):
    """GET /v1/policies: the assignments in force, then the policy as data."""

    assignments: list[PolicyAssignmentView]
    source: dict[str, Any] | None = Field(description=(
        "defined_sets, policies, global_policy, rfc8212 in the configuration's field names; "
        "null when the policy was not compiled from a configuration"))


class PolicyChanged(Model):
    """The answer to an edit: what changed, per peer and family (nothing was reset)."""

    ok: bool = True
    message: str
    changed: list[dict[str, Any]] = Field(default=[], description=(
        "per peer and family whose policy changed: import_changed (prefixes whose best path "
        "moved) and export_changed (routes sent again or withdrawn)"))


class JsonObject(RootModel[dict[str, Any]]):
    """A set, policy definition or apply-policy as sent (the client's request body)."""


class DefinedSetEntry(Model):
    kind: SetKind
    set: dict[str, Any]


class PolicyLevel(Model):
    """One level's apply-policy: ``global`` or a neighbor's own (null: none)."""

    neighbor: str
    apply_policy: dict[str, Any] | None


class ExplainStep(Model):
    policy: str
    statement: str
    matched: bool
    actions: list[str] = Field(default_factory=list)
    decided: DispositionName = "none"


class Explanation(Model):
    """One route through one peer's policy in one direction (counters untouched)."""

    peer: str
    direction: Literal["import", "export"]
    family: str
    prefix: str
    path_id: int | None = None
    policies: list[str] = Field(description="the policies that applied, in order ([] : none)")
    steps: list[ExplainStep]
    result: Literal["accepted", "rejected"]
    decided_by: str = Field(description="'POLICY/STATEMENT', 'default' or 'no policy'")
    before: dict[str, Any] = Field(description="next_hop and attrs as the policy saw the route")
    after: dict[str, Any] | None = Field(description="next_hop and attrs after the policy; null: rejected")
