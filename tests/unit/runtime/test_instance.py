"""runtime.instance: one gracebgpd per state directory (flock), handed across execv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gracebgp.runtime.instance import ENV_FD, LOCK_NAME, InstanceError, acquire

HOLD = """
import sys, time
from gracebgp.runtime.instance import acquire
lock = acquire(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
"""


def test_second_acquire_names_the_holder_and_touches_nothing(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        (tmp_path / "running.json").write_text("keep")
        with pytest.raises(InstanceError) as caught:
            acquire(tmp_path)
        assert caught.value.pid == proc.pid and f"pid {proc.pid}" in str(caught.value)
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(proc.pid)
        assert (tmp_path / "running.json").read_text() == "keep"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    # The holder is gone: the lock is free (a crash releases it with the process).
    lock = acquire(tmp_path)
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    lock.release()


EXEC = """
import os, sys
from gracebgp.runtime.instance import ENV_FD, acquire
if os.environ.get(ENV_FD):
    lock = acquire(sys.argv[1])
    print("adopted", lock.fd, os.get_inheritable(lock.fd), ENV_FD in os.environ, flush=True)
    sys.stdin.read()
else:
    lock = acquire(sys.argv[1])
    lock.hand_over()
    os.execv(sys.executable, [sys.executable, *sys.argv])
"""


def test_lock_is_handed_over_across_exec(tmp_path: Path) -> None:
    """The planned restart's execv: the new image adopts the locked descriptor."""
    script = tmp_path / "exec.py"
    script.write_text(EXEC)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "state")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        # adopted, close-on-exec again, the variable consumed
        assert line[:1] == ["adopted"] and line[2:] == ["False", "False"], line
        with pytest.raises(InstanceError) as caught:
            acquire(tmp_path / "state")
        assert caught.value.pid == proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def test_a_state_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(InstanceError) as caught:
        acquire(tmp_path / "f")
    assert caught.value.pid is None and "cannot create it" in str(caught.value)


def test_a_foreign_descriptor_is_not_adopted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = os.open(tmp_path / "other", os.O_RDWR | os.O_CREAT)
    try:
        monkeypatch.setenv(ENV_FD, str(other))
        lock = acquire(tmp_path / "state")
        assert lock.fd != other and ENV_FD not in os.environ
        lock.release()
    finally:
        os.close(other)
