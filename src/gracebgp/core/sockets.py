"""What a neighbor's configuration asks of its TCP sockets (``events.SocketOptions``):
the TCP MD5 key (RFC 2385) and the TTL rules. Pure: the runtime (``runtime.sockopts``)
sets the options, on the outgoing socket before its SYN and on the listening sockets
for the peer's own connections.
"""

from __future__ import annotations

from typing import Any

from gracebgp.core.events import SocketOptions


def socket_options(neighbor: Any, *, ebgp: bool) -> SocketOptions:
    """From a ``gracebgp.config`` Neighbor (duck-typed); its ``md5_password`` is
    ``auth-password`` or the key read from ``auth-password-file``."""
    ttl = neighbor.ebgp_multihop_ttl if neighbor.ebgp_multihop_enabled else None
    return SocketOptions(md5_password=neighbor.md5_password or None, ttl=ttl)
