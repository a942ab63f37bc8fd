"""The ``[gracebgp]`` section: gracebgp's own settings and locally originated routes."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from gracebgp.config.fields import Community, Frozen, IPAddress, LargeCommunity, normalize_prefix
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family


class Route(Frozen):
    """``[[gracebgp.routes]]``: a locally originated route."""

    prefix: str
    #: None: next-hop-self (the session's local address).
    next_hop: IPAddress | None = None
    origin: Literal["igp", "egp", "incomplete"] = "igp"
    communities: tuple[Community, ...] = ()
    large_communities: tuple[LargeCommunity, ...] = ()
    med: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    local_pref: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return normalize_prefix(value)

    @field_validator("next_hop")
    @classmethod
    def _next_hop(cls, value: str | None, info: ValidationInfo) -> str | None:
        prefix = info.data.get("prefix")
        if (value is not None and prefix is not None
                and ipaddress.ip_address(value).version != ipaddress.ip_network(prefix).version):
            raise ValueError(f"{value} is not in the address family of {prefix}")
        return value

    @property
    def family(self) -> Family:
        return IPV6_UNICAST if ":" in self.prefix else IPV4_UNICAST


class GraceBGP(Frozen):
    """``[gracebgp]``: gracebgp's own additions to GoBGP's schema."""

    #: Where the daemon keeps state that must survive a restart (GR/LLGR bookkeeping).
    state_dir: str = Field(default="/var/lib/gracebgp", min_length=1)
    #: The API's Unix socket (DESIGN.md §4).
    api_socket: str = Field(default="/run/gracebgp/gracebgpd.sock", min_length=1)
    #: File holding the bearer token the TCP API requires; declared before api_listen,
    #: whose check needs it.
    api_token_file: str | None = Field(default=None, min_length=1)
    #: Optional TCP listener for the API, "host:port" ("[::1]:8179" for IPv6).
    api_listen: str | None = None
    #: SIGTERM: "retain" stops without NOTIFICATION so peers run GR and keep our routes;
    #: "withdraw" sends a Cease NOTIFICATION first (a Hard Reset where RFC 8538 was
    #: negotiated, RFC 8538 §3) so peers drop our routes at once, as gobgpd does.
    sigterm: Literal["retain", "withdraw"] = "retain"
    #: The F bit of our GR capability (RFC 4724 §3): the FIB outlives the daemon.
    forwarding_state_preserved: bool = True
    routes: tuple[Route, ...] = ()

    @field_validator("api_listen")
    @classmethod
    def _listen(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 0xFFFF:
            raise ValueError(f"{value!r} is not host:port (use [addr]:port for IPv6)")
        if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
            raise ValueError(f"{value!r}: write an IPv6 address in brackets, e.g. [::1]:8179")
        if "api_token_file" in info.data and info.data["api_token_file"] is None:
            raise ValueError("a TCP API listener needs api-token-file (the token that guards it)")
        return value
