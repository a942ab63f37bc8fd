"""Error types shared by every layer; each protocol error maps 1:1 to a NOTIFICATION.

RFC 4271 §4.5 (NOTIFICATION code/subcode/data), DESIGN.md rule 4.
"""

from __future__ import annotations


class GraceBGPError(Exception):
    """Base class of every error gracebgp raises on purpose."""


class CodecError(GraceBGPError):
    """Bytes that do not decode, carrying the NOTIFICATION they call for.

    `code`/`subcode`/`data` are exactly what goes into the NOTIFICATION that a
    session sends when this error ends it (RFC 4271 §6).
    """

    def __init__(self, code: int, subcode: int, data: bytes = b"", reason: str = "") -> None:
        self.code = int(code)
        self.subcode = int(subcode)
        self.data = bytes(data)
        self.reason = reason or f"BGP error {code}/{subcode}"
        super().__init__(self.reason)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.subcode}, {self.data.hex()!r}, {self.reason!r})"


class FramingError(CodecError):
    """The byte stream cannot be cut into BGP messages (RFC 4271 §6.1)."""


class EncodeError(GraceBGPError):
    """A message object cannot be put on the wire (value out of range, too long)."""
