"""``[[global.afi-safis]]``: the families the RIB holds and a family's own ``use-multiple-paths``.

GoBGP's schema puts the same ``use-multiple-paths`` container (``config enabled``,
``ebgp.config allow-multiple-as / maximum-paths``, ``ibgp.config maximum-paths``) in
``[global]`` and in each ``[[global.afi-safis]]``; with OpenConfig's meaning the family's
own block wins for that family and the global one is the default for every other
(core.events.Tunables.use_multiple_paths). Also the afi-safi-name check every afi-safi
list shares.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from gracebgp.config.fields import GOBGP_ONLY_AFI_SAFIS, SUPPORTED_AFI_SAFIS, Frozen, afi_safi_feature
from gracebgp.types import Family


class UseMultiplePaths(Frozen):
    """``[global.afi-safis.use-multiple-paths]``: one family's multipath settings, the same
    four keys as ``[global.use-multiple-paths]`` (Global.multipath...). Written at all, the
    block decides for its family, its omitted keys taking their defaults (OpenConfig's
    per-afi-safi container)."""

    enabled: bool = False
    allow_multiple_as: bool = False
    ebgp_maximum_paths: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    ibgp_maximum_paths: int = Field(default=0, ge=0, le=0xFFFFFFFF)


class NamedFamily(Frozen):
    """An afi-safi list entry: ``[...afi-safis.config] afi-safi-name``, a supported family."""

    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return afi_safi_name(value)

    @property
    def family(self) -> Family:
        return SUPPORTED_AFI_SAFIS[self.name]


class GlobalAfiSafi(NamedFamily):
    """``[[global.afi-safis]]``: a family the RIB holds (gracebgp holds both unicast families
    whether listed or not) and its own ``use-multiple-paths`` (None: the global one)."""

    multipath: UseMultiplePaths | None = None


def afi_safi_name(value: str) -> str:
    """``value`` if it names a family gracebgp supports, else the error that says why not."""
    if value in SUPPORTED_AFI_SAFIS:
        return value
    supported = " and ".join(SUPPORTED_AFI_SAFIS)
    if value in GOBGP_ONLY_AFI_SAFIS:
        feature = afi_safi_feature(value) or "a family"
        raise ValueError(f"afi-safi {value!r} is {feature}, which gracebgp does not support yet; "
                         f"gracebgp supports only {supported}")
    raise ValueError(f"unknown afi-safi {value!r}; gracebgp supports only {supported}")
