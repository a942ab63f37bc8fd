"""The routing-policy endpoints of gracebgpd's API (docs/api.md "Routing policy"; GoBGP's
ListDefinedSet / AddDefinedSet / DeleteDefinedSet, ListPolicy / AddPolicy / DeletePolicy,
ListPolicyAssignment / SetPolicies): reads come from the speaker between owner turns,
every edit goes to the owner as a policy command (``api.policy_service``) and answers with
what changed per peer and family. Registered on the app by ``api.server.build_app``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import Body, FastAPI, Query

from gracebgp.api import policy_schema as ps
from gracebgp.api import policy_service as pol
from gracebgp.core.events import Reply
from gracebgp.core.speaker import Speaker

Ask = Callable[[object], Awaitable[Reply]]
_SET_BODY = Body(description="the set in the configuration's field names: name and prefix_list "
                             "(ip_prefix, masklength_range), neighbor_info_list, or entries",
                 examples=[{"name": "pods", "prefix_list": [{"ip_prefix": "10.0.0.0/8",
                                                             "masklength_range": "24..32"}]}])
_POLICY_BODY = Body(description="a policy definition: name and statements, in the configuration's "
                                "field names", examples=[{"name": "pods-in", "statements": [
                                    {"name": "pods", "match_prefix_set": {"name": "pods"},
                                     "set_local_pref": 200, "route_disposition": "accept-route"}]}])
_LEVEL_BODY = Body(description="import_policies, export_policies, default_import, default_export: "
                               "the keys given replace the level's, the others stay",
                   examples=[{"import_policies": ["pods-in"], "default_import": "reject-route"}])


def register(app: FastAPI, speaker: Speaker, ask: Ask, responses: dict[int | str, dict[str, Any]]) -> None:
    """Add the policy endpoints to ``app``; ``ask`` sends a command to the owner and returns
    its Reply (a refusal raises the RequestError it names)."""
    r = responses
    # One edit at a time: each is made on the policy the speaker runs, so a second edit
    # built before the first one's command has been carried out would undo it.
    editing = asyncio.Lock()

    async def run(make: Callable[[], object]) -> ps.PolicyChanged:
        async with editing:
            reply = await ask(make())
        result = reply.result if isinstance(reply.result, dict) else {}
        return ps.PolicyChanged(message=reply.message, changed=result.get("changed", []))

    @app.get("/v1/policies", response_model=ps.PolicyListing, operation_id="ListPolicyAssignments")
    async def list_policies() -> ps.PolicyListing:
        """The policies each neighbor (and 'global') runs per direction, every statement with
        its match count, then the policy as data."""
        return pol.listing(speaker)

    @app.get("/v1/policies/explain", response_model=list[ps.Explanation], operation_id="ExplainRoute",
             responses=r)
    async def explain(peer: str = Query(max_length=64), prefix: str = Query(max_length=64),
                      direction: Literal["import", "export"] = "import",
                      family: Literal["ipv4-unicast", "ipv6-unicast"] = "ipv4-unicast",
                      ) -> list[ps.Explanation]:
        """One route through one peer's policy, each statement evaluated; counts nothing."""
        return pol.explain(speaker, peer, prefix, direction, family)

    @app.get("/v1/defined-sets", response_model=list[ps.DefinedSetEntry], operation_id="ListDefinedSets",
             responses=r)
    async def list_sets(kind: ps.SetKind | None = None) -> list[ps.DefinedSetEntry]:
        return pol.defined_sets(speaker, kind)

    @app.put("/v1/defined-sets/{kind}", response_model=ps.PolicyChanged, operation_id="AddDefinedSet",
             responses=r)
    async def add_set(kind: ps.SetKind, body: dict[str, Any] = _SET_BODY) -> ps.PolicyChanged:
        """Add a set, or replace the one of that name."""
        return await run(lambda: pol.add_set(speaker, kind, body))

    @app.delete("/v1/defined-sets/{kind}/{name}", response_model=ps.PolicyChanged,
                operation_id="DeleteDefinedSet", responses=r)
    async def delete_set(kind: ps.SetKind, name: str) -> ps.PolicyChanged:
        """409 while a policy definition uses it."""
        return await run(lambda: pol.delete_set(speaker, kind, name))

    @app.get("/v1/policy-definitions", response_model=list[dict[str, Any]], operation_id="ListPolicies",
             responses=r)
    async def list_definitions() -> list[dict[str, Any]]:
        return pol.definitions(speaker)

    @app.put("/v1/policy-definitions", response_model=ps.PolicyChanged, operation_id="AddPolicy",
             responses=r)
    async def add_policy(body: dict[str, Any] = _POLICY_BODY) -> ps.PolicyChanged:
        """Add a policy definition, or replace the one of that name (in place)."""
        return await run(lambda: pol.add_policy(speaker, body))

    @app.delete("/v1/policy-definitions/{name}", response_model=ps.PolicyChanged, operation_id="DeletePolicy",
                responses=r)
    async def delete_policy(name: str) -> ps.PolicyChanged:
        """409 while an apply-policy (global or a neighbor's) names it."""
        return await run(lambda: pol.delete_policy(speaker, name))

    @app.get("/v1/policy-assignments", response_model=list[ps.PolicyLevel], operation_id="ListPolicyLevels")
    async def list_levels() -> list[ps.PolicyLevel]:
        return pol.levels(speaker)

    @app.put("/v1/policy-assignments/{neighbor}", response_model=ps.PolicyChanged, operation_id="SetPolicies",
             responses=r)
    async def set_level(neighbor: str, body: dict[str, Any] = _LEVEL_BODY) -> ps.PolicyChanged:
        """The apply-policy of 'global' or of a neighbor (its own replaces the global one for
        each direction it configures)."""
        return await run(lambda: pol.set_level(speaker, neighbor, body))

    @app.delete("/v1/policy-assignments/{neighbor}", response_model=ps.PolicyChanged,
                operation_id="ClearPolicies", responses=r)
    async def clear_level(neighbor: str) -> ps.PolicyChanged:
        return await run(lambda: pol.clear_level(speaker, neighbor))
