"""One gracebgpd per state directory: an exclusive ``flock`` on ``<state_dir>/gracebgpd.lock``,
held for the life of the process and handed across the planned restart's ``execv``.

A second start against the same state directory must touch nothing the running daemon
owns (its sessions, API socket, ``running.json``, route store): it takes the lock first,
fails at once and names the PID written in the lock file.

The planned restart (``gracebgp restart``) re-executes the process. Descriptors are
close-on-exec (PEP 446), which would release the lock between ``execv`` and the new
process taking it again: a window in which another instance could start. So the lock's
descriptor is made inheritable just before ``execv`` and its number passed in
``GRACEBGPD_LOCK_FD``; the new process adopts it (same file, same open file description,
so the ``flock`` never lapses) and makes it close-on-exec again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

LOCK_NAME = "gracebgpd.lock"
ENV_FD = "GRACEBGPD_LOCK_FD"


class InstanceError(Exception):
    """The state directory is locked by another process (``pid``) or cannot be locked."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class InstanceLock:
    """The held lock; ``fd`` stays open (and locked) until ``release`` or process exit."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def hand_over(self) -> None:
        """Just before ``execv``: keep the locked descriptor open in the new image."""
        os.set_inheritable(self.fd, True)
        os.environ[ENV_FD] = str(self.fd)

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def _holder(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _adopt(path: Path) -> InstanceLock | None:
    """The descriptor our previous image handed over (``hand_over``), if it is this lock."""
    raw = os.environ.pop(ENV_FD, "")
    if not raw.isdigit():
        return None
    fd = int(raw)
    try:
        held, here = os.fstat(fd), os.stat(path)
        if (held.st_dev, held.st_ino) != (here.st_dev, here.st_ino):
            return None
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours already: succeeds at once
        os.set_inheritable(fd, False)
    except OSError:
        return None
    return InstanceLock(path, fd)


def acquire(state_dir: str | Path) -> InstanceLock:
    """Take the state directory's lock (creating the directory); InstanceError when another
    process holds it (naming its PID) or when the directory or file cannot be used."""
    directory = Path(state_dir)
    path = directory / LOCK_NAME
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstanceError(f"state-dir {directory}: cannot create it: {exc.strerror or exc}") from None
    adopted = _adopt(path)
    if adopted is not None:
        return adopted
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise InstanceError(f"state-dir {directory}: cannot open {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            pid = _holder(path)
            raise InstanceError(f"another gracebgpd (pid {pid if pid is not None else 'unknown'}) is "
                                f"running with state-dir {directory} (it holds {path}); this one exits "
                                "and touches nothing", pid) from None
        raise InstanceError(f"state-dir {directory}: cannot lock {path}: {exc.strerror or exc}") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as exc:
        os.close(fd)
        raise InstanceError(f"state-dir {directory}: cannot write {path}: {exc.strerror or exc}") from None
    return InstanceLock(path, fd)
