"""C allocator policy for a daemon whose tables grow to millions of entries.

A Python dict or set keeps its table in one block, replaced by one twice the size each
time the table grows: a 1M-prefix Adj-RIB ends with a 40 MiB block after blocks of 20, 10,
5 ... MiB. glibc maps a block apart from its heap only above ``M_MMAP_THRESHOLD``, and by
default it raises that threshold to the size of each mapped block freed. So after the first
growths the tables of the Adj-RIBs-In, the Loc-RIB and the Adj-RIBs-Out, growing side by
side, come from the heap, and each block a growth gives up stays a hole in it that the
process keeps (the heap is returned only from its top).

With the threshold fixed at ``MMAP_THRESHOLD`` every block that large is a mapping of its
own, returned to the system when freed; smaller blocks (every object, most tables) are
served as before. At 4 MiB a table of up to about 100,000 entries stays on the heap, so a
flush's working sets (the changed keys, the pending exports) do not map and unmap pages
each time. Measured (docs/benchmarks.md): RSS per 100k routes 28.1 -> 27.5 MB for one
injector and one collector, 77.4 -> 72.1 MB for 100 peers into 10 collectors, the time
unchanged.

The operator's own setting wins: with ``MALLOC_MMAP_THRESHOLD_`` or a ``glibc.malloc``
tunable in the environment nothing is changed, nor under another C library.
"""

from __future__ import annotations

import ctypes
import os

MMAP_THRESHOLD = 4 << 20  # octets: blocks this large and larger are mappings of their own
_M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc <malloc.h>)
_NOTE = ["not tuned"]  # what tune_malloc did, for the daemon's log (the allocator is per process)


def _libc() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):  # not a name this system knows: not glibc
        return ""


def tune_malloc() -> str:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD`` (call it before the tables grow:
    memory the heap already holds is used first). Returns what was done (``malloc_note``)."""
    _NOTE[0] = _tune()
    return _NOTE[0]


def malloc_note() -> str:
    """What ``tune_malloc`` did in this process (the daemon logs it once it serves)."""
    return _NOTE[0]


def _tune() -> str:
    libc = _libc()
    if not libc.startswith("glibc"):
        return f"C library {libc or 'unknown'}: its allocator left as it is"
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return "malloc tuned by the environment: left as it is"
    if not ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        return f"{libc}: mallopt(M_MMAP_THRESHOLD) refused; malloc left as it is"
    return f"blocks of {MMAP_THRESHOLD >> 20} MiB and more mapped apart (returned to the system when freed)"
