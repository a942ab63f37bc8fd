"""runtime/mallocpolicy.py: glibc maps large blocks apart once the policy ran, so a dict
table a growth gave up goes back to the system instead of staying a hole in the heap; the
operator's environment wins. The allocator's state is per process, so each case runs in a
child interpreter, and reads glibc's own count of mapped blocks (``mallinfo2().hblks``)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gracebgp
from gracebgp.runtime.mallocpolicy import MMAP_THRESHOLD

SRC = str(Path(gracebgp.__file__).resolve().parent.parent)  # the tree under test, in the child too

CHILD = textwrap.dedent("""
    import ctypes, sys
    from gracebgp.runtime.mallocpolicy import malloc_note, tune_malloc

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                   "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2

    def mapped() -> int:
        return libc.mallinfo2().hblks

    threshold = int(sys.argv[2])
    if sys.argv[1] == "tune":
        print(tune_malloc())
        assert malloc_note() == tune_malloc()  # (what the daemon logs once it serves)
    grown = bytes(2 * threshold)     # a table's block mapped, then given up ...
    del grown                        # (glibc's own threshold rises to its size)
    before = mapped()
    table = bytes(threshold + threshold // 2)   # ... the next one, smaller
    print("next large block mapped apart:", mapped() == before + 1)
    del table
    print("and returned when freed:", mapped() == before)
    small = bytes(threshold // 2)
    print("a block under the threshold mapped apart:", mapped() == before + 1)
""")


def _child(mode: str, **env: str) -> list[str]:
    """The case in a child whose environment has no malloc settings but ``env``'s."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"},
           "PYTHONPATH": SRC, **env}
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(MMAP_THRESHOLD)], check=False,
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


_GLIBC = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
glibc = pytest.mark.skipif(
    not _GLIBC or not hasattr(ctypes.CDLL(None), "mallinfo2"),
    reason="the policy is glibc's mmap threshold; the test reads mallinfo2 (glibc 2.33 or later)")


@glibc
def test_after_the_policy_a_large_block_is_mapped_apart_and_returned() -> None:
    lines = _child("tune")
    assert lines[0] == "blocks of 4 MiB and more mapped apart (returned to the system when freed)"
    assert lines[1:] == ["next large block mapped apart: True", "and returned when freed: True",
                         "a block under the threshold mapped apart: False"]


@glibc
def test_without_it_glibc_serves_the_smaller_block_from_the_heap() -> None:
    """What the policy is for: glibc's default raised its threshold past the next table."""
    assert _child("plain")[0] == "next large block mapped apart: False"


@glibc
def test_the_operators_environment_wins() -> None:
    for env in ({"MALLOC_MMAP_THRESHOLD_": "131072"}, {"MALLOC_TRIM_THRESHOLD_": "131072"},
                {"MALLOC_TOP_PAD_": "0"}, {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}):
        lines = _child("tune", **env)
        assert lines[0] == "malloc tuned by the environment: left as it is", env
        assert lines[1] == "next large block mapped apart: True", env  # (their threshold: 128 KiB)


@glibc
def test_a_preloaded_allocator_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under LD_PRELOAD (jemalloc, tcmalloc) the process's malloc is not glibc's, and a
    mallopt, if the allocator has one, may do nothing and say it worked: no call, and the
    log says why."""
    from gracebgp.runtime import mallocpolicy

    real = ctypes.CDLL("libc.so.6")
    calls: list[tuple[int, int]] = []

    class Library:
        def __init__(self, malloc: object) -> None:
            self.malloc = malloc

        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

    libraries = {None: Library(real.free), "libc.so.6": Library(real.malloc)}  # (two different functions)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libraries[name])  # (what mallocpolicy calls)
    monkeypatch.setattr(mallocpolicy, "_NOTE", ["not tuned"])  # (this process's note left as it was)
    for name in (*mallocpolicy._ENVIRONMENT, "GLIBC_TUNABLES"):  # (the variables it leaves alone for)
        monkeypatch.delenv(name, raising=False)
    assert mallocpolicy.tune_malloc() == "malloc is not glibc's (a preloaded allocator): left as it is"
    assert calls == [] and mallocpolicy.malloc_note() == mallocpolicy.tune_malloc()
    libraries[None] = libraries["libc.so.6"]  # glibc's own: the threshold is set
    assert mallocpolicy.tune_malloc().startswith("blocks of 4 MiB") and calls == [(-3, 4 << 20)]
