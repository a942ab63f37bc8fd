"""The explicit outcomes of UPDATE parsing (RFC 7606 §2, §3 h): never exceptions.

Actions are ordered by strength so that "the approach with the strongest action MUST be
used" (RFC 7606 §3 h) is ``max()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class UpdateAction(IntEnum):
    ACCEPT = 0
    ATTRIBUTE_DISCARD = 1  # RFC 7606 §2: drop the attribute, keep the UPDATE
    TREAT_AS_WITHDRAW = 2  # RFC 7606 §2: every NLRI in the UPDATE is withdrawn
    SESSION_RESET = 3  # RFC 4271 §6.3: NOTIFICATION, session ends


@dataclass(frozen=True, slots=True)
class Problem:
    """One error found in an UPDATE.

    ``subcode``/``data`` are the UPDATE Message Error NOTIFICATION that RFC 4271 §6.3 names
    for it, used when the outcome is (or escalates to, RFC 7606 §5.2) a session reset.
    """

    action: UpdateAction
    subcode: int
    reason: str
    attr_type: int | None = None
    data: bytes = b""
