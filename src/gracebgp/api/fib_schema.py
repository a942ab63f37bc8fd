"""GetFib's answer (``gracebgp fib``, docs/api.md): the kernel FIB per family (issue 17)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FibConflict(BaseModel):
    prefix: str
    protocol: int = Field(description="the kernel protocol number of the route that holds the prefix")


class FibFailure(BaseModel):
    prefix: str
    errno: int = Field(description="the kernel's errno for the last failed operation on the prefix")
    error: str
    count: int = Field(description="failed operations on the prefix so far")


class FibFamily(BaseModel):
    family: str
    gate: str = Field(description='"holding" (selection not done yet: adopted routes untouched) or "open"')
    desired: int = Field(description="prefixes selection wants in the kernel")
    installed: int = Field(description="routes of ours in the kernel")
    pending: int = Field(description="operations handed to the kernel without an answer yet")
    adopted: int = Field(description="routes of the previous run not reconciled yet")
    adopted_at_start: int
    conflicts: int = Field(description="prefixes another protocol holds at our table and metric")
    failures: int
    added: int
    replaced: int
    deleted: int
    in_sync: bool = Field(description="the kernel holds what selection wants (conflicts and failures aside)")
    f_bit: bool = Field(description="the F bit this start advertises (RFC 4724 §3)")
    f_reason: str
    conflict_list: list[FibConflict] = Field(description="the first 100")
    failure_list: list[FibFailure] = Field(description="the first 100")


class FibView(BaseModel):
    protocol: int
    table: int
    metric: int
    families: list[FibFamily]
