"""What a neighbor's configuration asks of its TCP sockets (``events.SocketOptions``):
the TCP MD5 key (RFC 2385) or the TCP-AO keys (RFC 5925), and the TTL rules. Pure:
the runtime (``runtime.sockopts``) sets the options, on the outgoing socket before its
SYN, on each accepted connection and on the listening sockets.

TTL, as GoBGP sets it, for both connection directions:

    [neighbors.ttl-security.config] enabled     TTL 255, and nothing accepted below
                                                ttl-min (GTSM, RFC 5082 §3: 255 for a
                                                directly connected peer, 256 - hops)
    [neighbors.ebgp-multihop.config] enabled    TTL multihop-ttl (iBGP too)
    [neighbors.transport.config] ttl            TTL ttl (the three exclude each other)
    eBGP (single hop)                           TTL 1: the session cannot run over a
                                                router (RFC 4271 §5.1.3 expects a shared
                                                subnet for eBGP)
    iBGP                                        the kernel's default TTL (64)

The other ``[neighbors.transport.config]`` keys map one to one: ``tcp-mss``, ``ip-tos``,
``bind-interface``, ``mtu-discovery``, ``local-port`` (0 / "" / absent: not set).
"""

from __future__ import annotations

from typing import Any

from gracebgp.config.tcpao import ALGORITHMS
from gracebgp.core.events import AoKey, SocketOptions

GTSM_TTL = 255  # RFC 5082 §3: "set the TTL ... to 255"
SINGLE_HOP_TTL = 1


def socket_options(neighbor: Any, *, ebgp: bool) -> SocketOptions:
    """From a ``gracebgp.config`` Neighbor (duck-typed); its ``md5_password`` is
    ``auth-password`` or the key read from ``auth-password-file``."""
    min_ttl = None
    if neighbor.ttl_security_enabled:
        ttl: int | None = GTSM_TTL
        min_ttl = neighbor.ttl_security_ttl_min
    elif neighbor.ebgp_multihop_enabled:
        ttl = neighbor.ebgp_multihop_ttl
    elif neighbor.ttl:
        ttl = neighbor.ttl
    else:
        ttl = SINGLE_HOP_TTL if ebgp else None
    keys = tuple(AoKey(k.send_id, k.rid, *ALGORITHMS[k.algorithm], k.key) for k in neighbor.tcp_ao_keys)
    current = neighbor.tcp_ao_current_key if keys else None
    return SocketOptions(md5_password=neighbor.md5_password or None, ao_keys=keys,
                         ao_current=keys[0].send_id if keys and current is None else current,
                         ttl=ttl, min_ttl=min_ttl,
                         tcp_mss=neighbor.tcp_mss or None, tos=neighbor.ip_tos or None,
                         bind_interface=neighbor.bind_interface or None,
                         pmtu_discovery=neighbor.mtu_discovery, local_port=neighbor.local_port or None)
