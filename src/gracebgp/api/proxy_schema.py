"""The models of gracebgp-proxyd's API (docs/proxy.md): one proxied VM session with both
of its legs (issue 20 item 3), shared by the proxy's server and the API client."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProxyDirection(BaseModel):
    """One direction of a session: VM to control node (``from_vm``) or back."""

    counts: dict[str, int] = Field(default_factory=dict, description="messages per type")
    octets: int = 0
    last_message: float | None = Field(default=None, description="Unix time")
    last_keepalive: float | None = Field(default=None, description="Unix time")
    last_notification: str | None = Field(default=None, description="decoded: CODE/SUBCODE and text")
    last_notification_at: float | None = None


class ProxyRehoming(BaseModel):
    """One move of the session to another control node (or the attempt)."""

    started: float
    from_node: str
    reason: str
    tried: list[str] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)
    to_node: str | None = None
    upstream_up: float | None = None
    finished: float | None = None
    outcome: str
    replayed_updates: int = 0
    withdrawn_from_vm: int = 0
    buffered_updates: int = 0


class ProxySession(BaseModel):
    """A VM's BGP session and its relay to a control node."""

    network: str
    vm_interface: str
    vm_address: str
    vm_port: int
    vm_facing_address: str = Field(description="the address the VM peers with")
    kind: str = Field(description="gateway or service")
    nat_port: int = Field(description="source port of the upstream leg")
    upstream_address: str
    control_node: str
    control_node_role: str = Field(description="primary, secondary or standby (after a re-homing)")
    control_nodes: list[str] = Field(description="this session's nodes in order of use")
    phase: str = Field(description="connecting, opening, established, rehoming or closed")
    vm_tcp: str
    vm_bgp: str
    node_tcp: str
    node_bgp: str
    hold_time: int | None = None
    vm_as: int | None = None
    vm_router_id: str | None = None
    node_as: int | None = None
    node_router_id: str | None = None
    established_since: float | None = None
    prefixes_from_vm: int = 0
    prefixes_to_vm: int = 0
    from_vm: ProxyDirection
    from_node: ProxyDirection
    rehomings: list[ProxyRehoming] = Field(default_factory=list)
    closed_reason: str = ""
