"""Which of two connections to one peer survives a connection collision.

RFC 4271 §6.8 (keep the connection initiated by the speaker with the higher BGP
Identifier), RFC 6286 §2.3 (equal identifiers: the speaker with the larger AS number wins).

The FSM asks ``keep_outgoing`` when a valid OPEN arrives while another connection to the
same peer is in OpenSent or OpenConfirm; the loser gets the OpenCollisionDump event
(Cease / Connection Collision Resolution). Checking OpenSent connections too is the RFC
4271 §6.8 "MAY": the peer's identifier is known, because both connections belong to one
configured peer address and one of them has just brought its OPEN. Resolving at the first
OPEN means both sides decide before either can reach Established on the losing connection.
"""

from __future__ import annotations

from gracebgp.wire.addr import ipv4_bytes


def _id(text: str) -> int:
    """RFC 4271 §6.8 step 1: identifiers compare as 4-octet unsigned integers."""
    return int.from_bytes(ipv4_bytes(text), "big")


def keep_outgoing(local_id: str, local_as: int, remote_id: str, remote_as: int) -> bool:
    """True when our outgoing connection survives, False when the peer's survives.

    RFC 4271 §6.8: "retain only the connection initiated by the BGP speaker with the
    higher-valued BGP Identifier"; RFC 6286 §2.3: with identical identifiers (possible
    between different ASes), "the connection initiated by the BGP speaker with the larger
    AS number is preserved".
    """
    ours, theirs = _id(local_id), _id(remote_id)
    if ours != theirs:
        return ours > theirs
    return local_as > remote_as
