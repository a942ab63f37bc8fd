"""The immutable codec context: what a session negotiated that changes the bytes.

RFC 6793 (4-octet AS), RFC 7911 §3 (ADD-PATH per family and direction), RFC 8654 (extended
message), RFC 8950 §4 (extended next hop), RFC 7606 §7.5/§7.9/§7.10 (handling that depends on
iBGP vs eBGP).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gracebgp.types import Family
from gracebgp.wire.iana import MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN


@dataclass(frozen=True, slots=True)
class CodecContext:
    """One direction of one session.

    A session builds two: one for what it receives, one for what it sends, because
    ADD-PATH is negotiated per direction (RFC 7911 §4).

    * ``as4``: both sides sent the 4-octet AS capability; AS numbers are 4 octets.
    * ``addpath``: families whose NLRI carry a 4-octet Path Identifier in this direction.
    * ``extended_message``: both sides sent capability 6; messages up to 65535 octets.
    * ``ibgp``: the peer is internal (changes RFC 7606 handling of LOCAL_PREF etc.).
    * ``extended_next_hop``: IPv4 families whose MP_REACH_NLRI may carry an IPv6 next hop
      (RFC 8950 §4, negotiated); for any other IPv4 family a 16- or 32-octet next hop is
      malformed (RFC 7606 §7.11).
    """

    as4: bool = True
    addpath: frozenset[Family] = field(default_factory=frozenset)
    extended_message: bool = False
    ibgp: bool = False
    extended_next_hop: frozenset[Family] = field(default_factory=frozenset)

    @property
    def max_message_len(self) -> int:
        return MAX_EXTENDED_MESSAGE_LEN if self.extended_message else MAX_MESSAGE_LEN


DEFAULT_CONTEXT = CodecContext()
