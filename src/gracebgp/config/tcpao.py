"""``[[neighbors.gracebgp.tcp-ao-keys]]``: the Master Key Tuples (MKTs) of one neighbor's
TCP Authentication Option (RFC 5925), and ``[neighbors.gracebgp] tcp-ao-current-key``.

RFC 5925 §3.1: an MKT is a connection identifier (here: the neighbor's address), a
SendID and a RecvID (0..255: the KeyID we put in what we send, and the KeyID we accept
in what the peer sends; the peer's MKT has them the other way round), a master key, and
the algorithms (RFC 5926 §3: HMAC-SHA-1-96 and AES-128-CMAC-96, both with 12-octet MACs,
are the two every implementation must have). Several MKTs per peer make key rollover
possible without closing the connection (§3.3, §7.5.2): add the new key on both sides,
make it current (``tcp-ao-current-key``: we sign with it and ask the peer for it through
RNextKeyID), then remove the old one. A reload applies each step to the established
connection in place.

Rules checked here, each at its key:

1. SendIDs differ and RecvIDs differ (§3.1: the KeyID picks exactly one MKT of a
   connection; Linux refuses a duplicate with EEXIST).
2. Each key has its secret in exactly one place: ``secret`` or ``secret-file``.
3. ``tcp-ao-current-key`` names a SendID of the keys; absent: the first key.
4. Not together with ``auth-password``: a connection is protected by TCP-MD5 or by
   TCP-AO, never both (RFC 5925 §1 replaces RFC 2385; Linux refuses both keys for one
   peer with EKEYREJECTED).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gracebgp.config.fields import Frozen
from gracebgp.config.secrets import AoKeyFileField, PasswordFile, key_problem

#: ``algorithm``: RFC 5926 §3's names -> (Linux crypto API name, MAC length in octets).
ALGORITHMS: dict[str, tuple[str, int]] = {
    "hmac-sha-1-96": ("hmac(sha1)", 12),
    "aes-128-cmac-96": ("cmac(aes128)", 12),
}
AoAlgorithm = Literal["hmac-sha-1-96", "aes-128-cmac-96"]


class TcpAoKey(Frozen):
    """One MKT: ``send-id``, ``recv-id`` (default: ``send-id``), ``algorithm``, and the
    master key in ``secret`` or ``secret-file``."""

    send_id: int = Field(ge=0, le=255)
    recv_id: int | None = Field(default=None, ge=0, le=255)
    algorithm: AoAlgorithm = "hmac-sha-1-96"
    secret: str = Field(default="", repr=False)
    secret_file: AoKeyFileField | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> TcpAoKey:
        if bool(self.secret) == (self.secret_file is not None):
            raise ValueError("give the key in secret or in secret-file (exactly one of them)")
        why = key_problem(self.secret, "TCP-AO key") if self.secret else ""
        if why:
            raise ValueError(f"secret is {why}")
        return self

    @property
    def rid(self) -> int:
        """The RecvID: ``recv-id``, or ``send-id`` when absent."""
        return self.send_id if self.recv_id is None else self.recv_id

    @property
    def key(self) -> str:
        """The master key, from wherever it was given."""
        return self.secret_file.key if isinstance(self.secret_file, PasswordFile) else self.secret


def keys_problem(keys: tuple[TcpAoKey, ...]) -> str:
    """Rule 1: "" when the KeyIDs of ``keys`` are unique, else why not."""
    for name, ids in (("send-id", [k.send_id for k in keys]), ("recv-id", [k.rid for k in keys])):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            return (f"{name} {repeated[0]} is used by two keys; RFC 5925 §3.1: a KeyID must pick "
                    "exactly one key of a connection")
    return ""


def current_problem(current: int | None, keys: tuple[TcpAoKey, ...]) -> str:
    """Rule 3: "" when ``current`` can be the current key, else why not."""
    if current is None:
        return ""
    if not keys:
        return "there are no [[neighbors.gracebgp.tcp-ao-keys]] to choose from"
    if current not in {k.send_id for k in keys}:
        ids = ", ".join(str(k.send_id) for k in keys)
        return f"{current} is not the send-id of a key (the keys' send-ids: {ids})"
    return ""
