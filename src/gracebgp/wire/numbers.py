"""One int object per number that decoded attributes hold: community values and AS numbers.

Unpacking a COMMUNITIES value or an AS_PATH segment makes a new int object for every
number above 256 (32 octets each for a 32-bit community, 28 or 32 for an AS number), so
a full table decodes the same few thousand numbers into hundreds of thousands of objects:
in the routing benchmark's stream, 165,000 community ints for 500 values, 60,000 AS
number ints for the 20,000 AS paths (issue 14 item 3: 0.6 MB per 100k routes). The
attributes keep this table's objects instead. Equal ints are interchangeable, so nothing
else changes; the table is a cache, emptied when it is full (an attribute decoded after
that shares with the ones decoded after it).
"""

from __future__ import annotations

_LIMIT = 1 << 17  # distinct numbers (a full table: some 75,000 AS numbers in use)
_SHARED: dict[int, int] = {}


def shared(values: tuple[int, ...]) -> tuple[int, ...]:
    """``values`` with each number replaced by this table's object of the same value. For
    plain ints as ``struct`` unpacks them only: the table matches by value, so a bool or an
    IntEnum member would stand for (or be replaced by) the int equal to it."""
    table = _SHARED
    if len(table) >= _LIMIT:
        table.clear()
    return tuple(map(table.setdefault, values, values))
