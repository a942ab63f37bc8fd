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


#: The longest Unix socket path Linux can bind (unix(7): 108 octets with the NUL).
MAX_SOCKET_PATH = 107


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
    #: ``gracebgp drain``: seconds between re-advertising with GRACEFUL_SHUTDOWN (RFC 8326)
    #: and withdrawing, for the peers to move their traffic.
    drain_delay: int = Field(default=10, ge=0, le=3600)
    #: After our restart, how long selection deferral waits for a configured GR peer that
    #: has not come up at all (an Established peer is waited for until its End-of-RIB or
    #: the deferral-time).
    establish_wait: int = Field(default=30, ge=0, le=0xFFFF)
    #: RFC 9494 §4.5: also send LLGR-stale routes to iBGP peers without LLGR, with
    #: NO_EXPORT and LOCAL_PREF 0 (default: only to peers that negotiated LLGR).
    llgr_to_ibgp: bool = False
    #: RFC 8538 §5: send the "provisional" Cease subcodes (Administrative Reset, Other
    #: Configuration Change, Out of Resources, BFD Down) as Hard Reset. Default false:
    #: with N negotiated, they leave our routes at the peer (graceful restart applies).
    provisional_hard_reset: bool = False
    routes: tuple[Route, ...] = ()

    @field_validator("api_socket")
    @classmethod
    def _socket_path(cls, value: str) -> str:
        # sockaddr_un.sun_path is 108 octets with the terminating NUL (unix(7)): a longer
        # path cannot be bound, and a daemon nobody can manage must not start.
        size = len(value.encode())
        if size > MAX_SOCKET_PATH:
            raise ValueError(f"{size} bytes long; a Unix socket path has at most {MAX_SOCKET_PATH} "
                             "(AF_UNIX): choose a shorter path")
        return value

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
