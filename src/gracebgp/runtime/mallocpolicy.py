"""C allocator policy for a daemon whose tables grow to millions of entries.

A Python dict or set keeps its table in one block, replaced by one twice the size each
time the table grows: a 1M-prefix Adj-RIB goes through blocks of 5, 10, 20 and 40 MiB.
glibc maps a block apart from its heap only above ``M_MMAP_THRESHOLD``, and by default it
raises that threshold (up to 32 MiB) to the size of each mapped block freed. So after the
first growths the tables of the Adj-RIBs-In, the Loc-RIB and the Adj-RIBs-Out, growing
side by side, come from the heap, and each block of 4 to 32 MiB that a growth gives up
stays a hole in it that the process keeps (the heap is returned only from its top).

With the threshold fixed at ``MMAP_THRESHOLD`` every block that large is a mapping of its
own, returned to the system when freed; smaller blocks (every object, a dict's table up to
87,000 entries, a set's up to 78,000) come from the heap as before. Fixing it also keeps
glibc's trim threshold at its 128 KiB start (it rose with the mmap threshold): free memory
at the top of the heap over that goes back to the system too. The price is page faults
where a program builds and frees large dicts in a loop (a micro-benchmark of 10k-60k entry
dicts: 60-100% more time per cycle); gracebgpd's own working sets of that size come and go
once per flush, and its time did not move (docs/benchmarks.md, "glibc's mmap threshold
fixed", where the memory it saves is measured too).

The operator's own setting wins: with a ``MALLOC_*_`` variable that fixes these thresholds
or a ``glibc.malloc`` tunable in the environment nothing is changed, nor under another C
library or a preloaded allocator (whose ``mallopt``, if any, is not glibc's).
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

MMAP_THRESHOLD = 4 << 20  # octets: blocks this large and larger are mappings of their own
_M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc <malloc.h>)
#: glibc's variables that fix these thresholds (each turns the dynamic adjustment off).
_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
_NOTE = ["not tuned"]  # what tune_malloc did, for the daemon's log (the allocator is per process)


def _libc() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):  # not a name this system knows: not glibc
        return ""


def tune_malloc() -> str:
    """Fix glibc's mmap threshold (call it before the tables grow: memory the heap already
    holds is used first). Returns what was done (``malloc_note``)."""
    _NOTE[0] = _tune()
    return _NOTE[0]


def malloc_note() -> str:
    """What ``tune_malloc`` did in this process (the daemon logs it once it serves)."""
    return _NOTE[0]


def _tune() -> str:
    libc = _libc()
    if not libc.startswith("glibc"):
        return f"C library {libc or 'unknown'}: its allocator left as it is"
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if any(name in os.environ for name in _ENVIRONMENT) or "glibc.malloc." in tunables:
        return "malloc tuned by the environment: left as it is"
    process, glibc = ctypes.CDLL(None), ctypes.CDLL("libc.so.6")
    if _address(process.malloc) != _address(glibc.malloc):
        return "malloc is not glibc's (a preloaded allocator): left as it is"
    if not glibc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        return f"{libc}: mallopt refused the mmap threshold; malloc left as it is"
    return f"blocks of {MMAP_THRESHOLD >> 20} MiB and more mapped apart (returned to the system when freed)"


def _address(function: Any) -> int | None:  # (a ctypes function pointer)
    """Where a C function of a loaded library is (two names for one function: one place)."""
    return ctypes.cast(function, ctypes.c_void_p).value
