"""AS_PATH rewriting and counting rules that configuration turns on per neighbor: the
own-AS loop count (RFC 4271 §9.1.2, relaxed by ``allow-own-as``), replacing the peer's
AS with ours (``replace-peer-as``) and removing or replacing private AS numbers
(``remove-private-as``, RFC 6996 §5 ranges), with GoBGP's meaning of each key.

Segments are ``(SegmentType, AS numbers)`` as in :mod:`gracebgp.wire.attributes`; every
rule keeps each segment's type and order and drops a segment left empty (RFC 4271 §4.3:
a segment holds one AS at least).
"""

from __future__ import annotations

from enum import StrEnum

from gracebgp.wire.attributes import Segment

#: RFC 6996 §5: the private-use ranges of 2-octet and 4-octet AS numbers (65535 and
#: 4294967295 are reserved, RFC 7300, not private).
PRIVATE_AS_RANGES = ((64512, 65534), (4200000000, 4294967294))


class RemovePrivateAs(StrEnum):
    """``[neighbors.config] remove-private-as``: what export to the neighbor does with
    private AS numbers. GoBGP's values; the empty string (the default) leaves them."""

    NONE = ""
    ALL = "all"  # every private AS number is removed
    REPLACE = "replace"  # every private AS number becomes our AS


def is_private_as(asn: int) -> bool:
    """RFC 6996 §5: ``asn`` is reserved for private use."""
    return any(lo <= asn <= hi for lo, hi in PRIVATE_AS_RANGES)


def count_as(segments: tuple[Segment, ...], asn: int) -> int:
    """How many times ``asn`` appears in the AS_PATH, every segment type counted (an
    AS_SET member counts once like a sequence member)."""
    return sum(asns.count(asn) for _, asns in segments)


def holds_as(segments: tuple[Segment, ...], asn: int) -> bool:
    """``asn`` appears in the AS_PATH (the export loop check, RFC 4271 §9.1.2 on the
    receiver's side: stops at the first hit). Once per UPDATE received and per path
    exported to an eBGP peer."""
    for _, asns in segments:  # noqa: SIM110 (a loop: no generator made per call)
        if asn in asns:
            return True
    return False


def own_as_loop(segments: tuple[Segment, ...], local_as: int, allow_own_as: int = 0) -> bool:
    """RFC 4271 §9.1.2: a route whose AS_PATH holds our AS is not a candidate; with
    ``allow-own-as`` N (GoBGP's meaning) only one holding it more than N times is refused."""
    if not allow_own_as:
        return holds_as(segments, local_as)
    return count_as(segments, local_as) > allow_own_as


def replace_as(segments: tuple[Segment, ...], old: int, new: int) -> tuple[Segment, ...]:
    """Each occurrence of ``old`` replaced by ``new`` (``replace-peer-as`` on export: the
    peer's AS becomes ours, so the peer's own loop check, RFC 4271 §9.1.2, accepts the
    route)."""
    if count_as(segments, old) == 0:
        return segments
    return tuple((stype, tuple(new if a == old else a for a in asns)) for stype, asns in segments)


def remove_private(segments: tuple[Segment, ...], mode: RemovePrivateAs,
                   local_as: int) -> tuple[Segment, ...]:
    """``remove-private-as`` on export, GoBGP's meaning: "all" drops every private AS
    number wherever it stands, public ones beside it or not (unlike Cisco's original rule,
    which touched only an all-private path); "replace" puts ``local_as`` in each one's
    place. A segment left empty is dropped."""
    if mode is RemovePrivateAs.NONE or not any(is_private_as(a) for _, asns in segments for a in asns):
        return segments
    out: list[Segment] = []
    for stype, asns in segments:
        if mode is RemovePrivateAs.REPLACE:
            kept = tuple(local_as if is_private_as(a) else a for a in asns)
        else:
            kept = tuple(a for a in asns if not is_private_as(a))
        if kept:
            out.append((stype, kept))
    return tuple(out)
