"""The routing policy as data (issue 16 items 3-4): what a ``PolicyBook`` is compiled
from, in the configuration's own models, so that the API can list, add, replace and
delete defined sets, policy definitions and the global assignment (GoBGP's
AddDefinedSet / DeleteDefinedSet / AddPolicy / DeletePolicy / SetPolicies operations)
and a recording can write the book down and read it back (``to_json``, ``from_json``).

Changes made through the API live until the next reload or restart, as in GoBGP: a
reload puts the file's whole policy back (the daemon sends the file's book every time;
``core.reload`` keeps the running one when both come from the same source).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from gracebgp.config.policy_compile import compile_book
from gracebgp.config.policy_model import (
    ApplyPolicyConfig,
    DefinedSetsConfig,
    NeighborSetConfig,
    PolicyDefinitionConfig,
    PrefixSetConfig,
    TextSetConfig,
    apply_policy_of,
    disposition_text,
)
from gracebgp.policy.book import ApplyPolicy, PolicyBook

#: Set kinds as the API and the CLI name them -> (DefinedSetsConfig field, model).
SET_KINDS: dict[str, tuple[str, type[BaseModel]]] = {
    "prefix": ("prefix_sets", PrefixSetConfig),
    "neighbor": ("neighbor_sets", NeighborSetConfig),
    "community": ("community_sets", TextSetConfig),
    "ext-community": ("ext_community_sets", TextSetConfig),
    "large-community": ("large_community_sets", TextSetConfig),
    "as-path": ("as_path_sets", TextSetConfig),
}


def apply_policy_json(level: ApplyPolicy | None) -> dict[str, Any] | None:
    """``level`` in ``ApplyPolicyConfig``'s field names (None stays None)."""
    if level is None:
        return None
    di, de = level.default_import, level.default_export
    return {"import_policies": list(level.import_policies), "export_policies": list(level.export_policies),
            "default_import": None if di is None else disposition_text(di),
            "default_export": None if de is None else disposition_text(de)}


def parse_apply_policy(data: Any) -> ApplyPolicy:
    """An apply-policy in ``ApplyPolicyConfig``'s field names; ValueError when malformed."""
    try:
        shape = ApplyPolicyConfig.model_validate(data, strict=False)
    except ValidationError as exc:
        raise ValueError(_problems(exc)) from None
    out = apply_policy_of(shape.model_dump())
    assert isinstance(out, ApplyPolicy)
    return out


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())


@dataclass(frozen=True, slots=True)
class PolicySource:
    defined_sets: DefinedSetsConfig = field(default_factory=DefinedSetsConfig)
    policies: tuple[PolicyDefinitionConfig, ...] = ()
    global_policy: ApplyPolicy | None = None
    rfc8212: bool = False

    def build(self) -> PolicyBook:
        """The compiled book, carrying this source; ValueError listing every problem."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        book = compile_book(self.defined_sets, self.policies, self.global_policy, self.rfc8212, problems)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        return replace(book, source=self)

    # --- edits (each returns a new source; ``build`` says whether it is consistent) ----------
    def with_set(self, kind: str, data: Any) -> PolicySource:
        """Add or replace (by name) a defined set of ``kind`` (``SET_KINDS``)."""
        name, model = _kind(kind)
        try:
            item = model.model_validate(data, strict=False)
        except ValidationError as exc:
            raise ValueError(_problems(exc)) from None
        current = getattr(self.defined_sets, name)
        kept = tuple(s for s in current if s.name != item.name)  # type: ignore[attr-defined]
        at = next((i for i, s in enumerate(current) if s.name == item.name), len(kept))  # type: ignore[attr-defined]
        sets = self.defined_sets.model_copy(update={name: (*kept[:at], item, *kept[at:])})
        return replace(self, defined_sets=sets)

    def without_set(self, kind: str, name: str) -> PolicySource:
        """Delete a defined set (KeyError when there is none by that name)."""
        field_name, _ = _kind(kind)
        current = getattr(self.defined_sets, field_name)
        if not any(s.name == name for s in current):
            raise KeyError(f"no {kind} set named {name!r}")
        sets = self.defined_sets.model_copy(update={field_name: tuple(s for s in current if s.name != name)})
        return replace(self, defined_sets=sets)

    def with_policy(self, data: Any) -> PolicySource:
        """Add or replace (by name, in place) a policy definition."""
        try:
            item = PolicyDefinitionConfig.model_validate(data, strict=False)
        except ValidationError as exc:
            raise ValueError(_problems(exc)) from None
        names = [p.name for p in self.policies]
        if item.name in names:
            at = names.index(item.name)
            return replace(self, policies=(*self.policies[:at], item, *self.policies[at + 1:]))
        return replace(self, policies=(*self.policies, item))

    def without_policy(self, name: str) -> PolicySource:
        if not any(p.name == name for p in self.policies):
            raise KeyError(f"no policy named {name!r}")
        return replace(self, policies=tuple(p for p in self.policies if p.name != name))

    def with_global(self, level: ApplyPolicy | None) -> PolicySource:
        return replace(self, global_policy=level)

    # --- JSON (recordings, the API's listing) --------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"defined_sets": self.defined_sets.model_dump(mode="json"),
                "policies": [p.model_dump(mode="json") for p in self.policies],
                "global_policy": apply_policy_json(self.global_policy), "rfc8212": self.rfc8212}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicySource:
        level = data.get("global_policy")
        policies = data.get("policies") or ()
        return cls(DefinedSetsConfig.model_validate(data.get("defined_sets") or {}, strict=False),
                   tuple(PolicyDefinitionConfig.model_validate(p, strict=False) for p in policies),
                   None if level is None else parse_apply_policy(level), bool(data.get("rfc8212")))


def _kind(kind: str) -> tuple[str, type[BaseModel]]:
    try:
        return SET_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown set kind {kind!r}: one of {', '.join(SET_KINDS)}") from None


def source_of(cfg: Any) -> PolicySource:
    """A ``config.Config``'s policy: its defined sets and policy definitions, the global
    apply-policy and ``[gracebgp] rfc8212``."""
    return PolicySource(cfg.defined_sets, tuple(cfg.policy_definitions), cfg.global_.apply_policy,
                        cfg.gracebgp.rfc8212)


def book_of(cfg: Any) -> PolicyBook:
    """``source_of(cfg).build()``: the book the daemon runs (the loader has checked it)."""
    return source_of(cfg).build()
