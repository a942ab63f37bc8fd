"""Frozen models of GoBGP's routing-policy configuration, as written: ``[defined-sets]``,
``[[policy-definitions]]`` and the ``apply-policy`` of the global level, a neighbor and a
peer group (issue 16). They check the shape and the spellings; ``policy_compile`` turns them
into a ``policy.PolicyBook`` and checks what spans objects (names referred to, regular
expressions, mask-length ranges).

The models are flat where GoBGP nests containers; the TOML key of each field is in
``config.schema`` (``DEFINED_SETS``, ``POLICY_DEFINITION``, ``STATEMENT``, the
``apply-policy`` keys of ``GLOBAL`` and ``NEIGHBOR``). Value spellings are GoBGP's:
``route-disposition`` "none" | "accept-route" | "reject-route", ``match-set-options`` "any" |
"all" | "invert", comparison operators "eq" | "ge" | "le", ``route-type`` "internal" |
"external" | "local" ("none": no condition).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from gracebgp.config.fields import Frozen
from gracebgp.config.global_afi import afi_safi_name
from gracebgp.policy.book import ApplyPolicy
from gracebgp.policy.definitions import Disposition

__all__ = ["ApplyPolicyConfig", "Compare", "DefinedSetsConfig", "MatchSet", "NeighborSetConfig",
           "PolicyDefinitionConfig", "PrefixEntryConfig", "PrefixSetConfig", "PrependConfig",
           "SetCommunityConfig", "StatementConfig", "TextSetConfig", "apply_policy_of",
           "disposition_text"]

_U32 = 0xFFFFFFFF
Name = Annotated[str, Field(min_length=1)]
DefaultPolicy = Literal["accept-route", "reject-route"]
#: GoBGP's ``RouteDisposition`` / ``DefaultPolicyType`` spellings.
DISPOSITIONS: dict[str, Disposition] = {
    "none": Disposition.NONE, "accept-route": Disposition.ACCEPT, "reject-route": Disposition.REJECT}


def disposition_text(value: Disposition) -> str:
    """``Disposition.ACCEPT`` -> "accept-route" (GoBGP's spelling)."""
    return next(text for text, d in DISPOSITIONS.items() if d is value)


# -- [defined-sets] ------------------------------------------------------------------------

class PrefixEntryConfig(Frozen):
    """``[[defined-sets.prefix-sets.prefix-list]]``: ``ip-prefix`` and ``masklength-range``
    ("MIN..MAX"; omitted: the prefix's own length only)."""

    ip_prefix: str
    masklength_range: str = ""


class PrefixSetConfig(Frozen):
    """``[[defined-sets.prefix-sets]]``: ``prefix-set-name`` and its ``prefix-list``."""

    name: Name
    prefix_list: tuple[PrefixEntryConfig, ...] = ()


class NeighborSetConfig(Frozen):
    """``[[defined-sets.neighbor-sets]]``: ``neighbor-set-name``, ``neighbor-info-list``
    (addresses or prefixes)."""

    name: Name
    neighbor_info_list: tuple[str, ...] = ()


class TextSetConfig(Frozen):
    """A community, ext-community, large-community or as-path set of
    ``[defined-sets.bgp-defined-sets]``: its name and its entries (``community-list`` ...)."""

    name: Name
    entries: tuple[str, ...] = ()


class DefinedSetsConfig(Frozen):
    """``[defined-sets]``, each kind in configuration order."""

    prefix_sets: tuple[PrefixSetConfig, ...] = ()
    neighbor_sets: tuple[NeighborSetConfig, ...] = ()
    community_sets: tuple[TextSetConfig, ...] = ()
    ext_community_sets: tuple[TextSetConfig, ...] = ()
    large_community_sets: tuple[TextSetConfig, ...] = ()
    as_path_sets: tuple[TextSetConfig, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in type(self).model_fields)


# -- [[policy-definitions]] ----------------------------------------------------------------

class MatchSet(Frozen):
    """A ``match-*-set`` condition: the set's name and ``match-set-options`` (GoBGP's
    default "any"; prefix and neighbor sets take only any or invert)."""

    name: Name
    options: Literal["any", "all", "invert"] = "any"


class Compare(Frozen):
    """``as-path-length`` / ``community-count``: ``operator`` and ``value``."""

    operator: Literal["eq", "ge", "le"]
    value: int = Field(ge=0, le=_U32)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class SetCommunityConfig(Frozen):
    """``set-community`` / ``set-ext-community`` / ``set-large-community``: ``options`` (add,
    remove, replace; GoBGP's documentation also writes them in capitals) and the
    ``set-*-community-method`` ``communities-list``."""

    options: Annotated[Literal["add", "remove", "replace"], BeforeValidator(_lower)]
    communities: tuple[str, ...] = ()


class PrependConfig(Frozen):
    """``set-as-path-prepend``: ``as`` (a number, or "last-as") and ``repeat-n`` (1..255)."""

    asn: str | int
    repeat_n: int = Field(ge=1, le=255)


AfiSafiName = Annotated[str, AfterValidator(afi_safi_name)]


class StatementConfig(Frozen):
    """``[[policy-definitions.statements]]``: conditions, actions, disposition. A statement
    without a name gets GoBGP's "<policy>_stmt<index>"."""

    name: str = ""
    match_prefix_set: MatchSet | None = None
    match_neighbor_set: MatchSet | None = None
    match_community_set: MatchSet | None = None
    match_ext_community_set: MatchSet | None = None
    match_large_community_set: MatchSet | None = None
    match_as_path_set: MatchSet | None = None
    as_path_length: Compare | None = None
    community_count: Compare | None = None
    route_type: Literal["none", "internal", "external", "local"] = "none"
    afi_safi_in: tuple[AfiSafiName, ...] = ()
    next_hop_in_list: tuple[str, ...] = ()
    route_disposition: Literal["none", "accept-route", "reject-route"] = "none"
    set_community: SetCommunityConfig | None = None
    set_ext_community: SetCommunityConfig | None = None
    set_large_community: SetCommunityConfig | None = None
    #: "100", "+10", "-10" (a number is taken as "100").
    set_med: str | int | None = None
    #: 0 is GoBGP's "not set": no action.
    set_local_pref: int | None = Field(default=None, ge=0, le=_U32)
    #: an address, "self" or "unchanged".
    set_next_hop: str | None = None
    set_as_path_prepend: PrependConfig | None = None


class PolicyDefinitionConfig(Frozen):
    """``[[policy-definitions]]``: ``name`` and the ordered ``statements``."""

    name: Name
    statements: tuple[StatementConfig, ...] = ()


# -- apply-policy ------------------------------------------------------------------------------

class ApplyPolicyConfig(Frozen):
    """``[...apply-policy.config]`` as written: the policy lists and the defaults (None:
    not set at this level)."""

    import_policies: tuple[Name, ...] = ()
    export_policies: tuple[Name, ...] = ()
    default_import: DefaultPolicy | None = None
    default_export: DefaultPolicy | None = None


def apply_policy_of(value: Any) -> Any:
    """A BeforeValidator: the written ``apply-policy`` table (field names of
    ``ApplyPolicyConfig``) -> ``policy.book.ApplyPolicy``; an ApplyPolicy or None passes.
    Problems are raised with their keys' locations (pydantic nests them)."""
    if not isinstance(value, dict):
        return value
    shape = ApplyPolicyConfig.model_validate(value)
    return ApplyPolicy(
        import_policies=shape.import_policies,
        export_policies=shape.export_policies,
        default_import=None if shape.default_import is None else DISPOSITIONS[shape.default_import],
        default_export=None if shape.default_export is None else DISPOSITIONS[shape.default_export],
    )


#: A model field holding one level's apply-policy (Global, Neighbor).
ApplyPolicyField = Annotated[ApplyPolicy | None, BeforeValidator(apply_policy_of)]
