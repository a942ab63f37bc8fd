"""The API client's routing-policy calls (docs/api.md "Routing policy"), mixed into
``api.client.Client``: list, add or replace and delete defined sets and policy
definitions, set or clear an apply-policy, read the installed policies and explain a
route. Bodies are plain JSON objects in the configuration's field names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, TypeAdapter

from gracebgp.api.policy_schema import (
    DefinedSetEntry,
    Explanation,
    JsonObject,
    PolicyChanged,
    PolicyLevel,
    PolicyListing,
)

if TYPE_CHECKING:
    import httpx

M = TypeVar("M", bound=BaseModel)
L = TypeVar("L")

_SETS = TypeAdapter(list[DefinedSetEntry])
_LEVELS = TypeAdapter(list[PolicyLevel])
_OBJECTS = TypeAdapter(list[dict[str, Any]])
_EXPLAINED = TypeAdapter(list[Explanation])


def _q(text: str) -> str:
    return quote(text, safe="")


class PolicyCalls:
    """The policy methods of ``Client`` (which provides ``_request``, ``_parse`` and ``_parse_list``)."""

    if TYPE_CHECKING:
        def _request(self, method: str, path: str, body: BaseModel | None = None) -> httpx.Response: ...

        def _parse(self, model: type[M], response: httpx.Response) -> M: ...

        def _parse_list(self, adapter: TypeAdapter[list[L]], response: httpx.Response) -> list[L]: ...

    def policies(self) -> PolicyListing:
        """ListPolicyAssignments: every assignment with its statements and match counts."""
        return self._parse(PolicyListing, self._request("GET", "/v1/policies"))

    def explain_route(self, peer: str, prefix: str, direction: str = "import",
                      family: str = "ipv4-unicast") -> list[Explanation]:
        """ExplainRoute: the route through the peer's import or export policy."""
        query = urlencode({"peer": peer, "prefix": prefix, "direction": direction, "family": family})
        return self._parse_list(_EXPLAINED, self._request("GET", f"/v1/policies/explain?{query}"))

    def defined_sets(self, kind: str | None = None) -> list[DefinedSetEntry]:
        path = "/v1/defined-sets" + (f"?kind={_q(kind)}" if kind else "")
        return self._parse_list(_SETS, self._request("GET", path))

    def add_defined_set(self, kind: str, data: dict[str, Any]) -> PolicyChanged:
        return self._changed("PUT", f"/v1/defined-sets/{_q(kind)}", JsonObject(data))

    def delete_defined_set(self, kind: str, name: str) -> PolicyChanged:
        return self._changed("DELETE", f"/v1/defined-sets/{_q(kind)}/{_q(name)}")

    def policy_definitions(self) -> list[dict[str, Any]]:
        return self._parse_list(_OBJECTS, self._request("GET", "/v1/policy-definitions"))

    def add_policy(self, data: dict[str, Any]) -> PolicyChanged:
        return self._changed("PUT", "/v1/policy-definitions", JsonObject(data))

    def delete_policy(self, name: str) -> PolicyChanged:
        return self._changed("DELETE", f"/v1/policy-definitions/{_q(name)}")

    def policy_levels(self) -> list[PolicyLevel]:
        return self._parse_list(_LEVELS, self._request("GET", "/v1/policy-assignments"))

    def set_policies(self, neighbor: str, data: dict[str, Any]) -> PolicyChanged:
        """SetPolicies: the keys of ``data`` replace the level's (``neighbor``: an address or 'global')."""
        return self._changed("PUT", f"/v1/policy-assignments/{_q(neighbor)}", JsonObject(data))

    def clear_policies(self, neighbor: str) -> PolicyChanged:
        return self._changed("DELETE", f"/v1/policy-assignments/{_q(neighbor)}")

    def _changed(self, method: str, path: str, body: BaseModel | None = None) -> PolicyChanged:
        return self._parse(PolicyChanged, self._request(method, path, body))
