"""The service manager's readiness protocol (sd_notify(3)), without libsystemd: what a
``Type=notify`` systemd unit (deploy/systemd/gracebgpd.service) waits for.

The protocol: one datagram to the AF_UNIX socket named in ``$NOTIFY_SOCKET`` (a leading
``@`` means Linux's abstract namespace), made of newline-separated ``KEY=VALUE`` lines.
gracebgpd sends:

* ``MAINPID=<pid>`` and ``READY=1`` once the configuration is loaded, the API answers and
  the BGP listeners are bound; again after ``gracebgp restart``, whose re-execution keeps
  the PID (systemd sees no exit, and the new process says it is ready);
* ``RELOADING=1`` with ``MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>`` when a reload (SIGHUP) or
  a planned restart (``gracebgp restart``) begins, and ``READY=1`` when it is done (what
  systemd's ``Type=notify-reload`` expects too);
* ``STOPPING=1`` when the process begins to stop (``gracebgp stop``, SIGINT, SIGTERM);
* ``STATUS=<one line>`` with each, for ``systemctl status``.

Nothing is sent without ``$NOTIFY_SOCKET``, and a notification that cannot be delivered
never stops the daemon: it is logged (once) and dropped. The variable is left in the
environment on purpose: the planned restart re-executes this process, and the new one
must find the socket.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("gracebgp.sdnotify")

ENV = "NOTIFY_SOCKET"


def address_of(value: str | None) -> str | bytes | None:
    """The socket address ``$NOTIFY_SOCKET`` names, or None when there is none gracebgpd
    can use: unset or empty, or a form other than an absolute path or ``@abstract``
    (systemd also knows ``vsock:``, for virtual machines; not a daemon's case)."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def message(*fields: str, status: str = "") -> bytes:
    """``KEY=VALUE`` lines; ``status`` as a ``STATUS=`` line on one line."""
    lines = list(fields)
    if status:
        lines.append("STATUS=" + " ".join(status.split()))
    return "\n".join(lines).encode()


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd compares ``MONOTONIC_USEC`` with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notifier:
    """Sends to one notification socket; ``address`` None: every call does nothing."""

    def __init__(self, address: str | bytes | None) -> None:
        self.address = address
        self._warned = False

    @classmethod
    def from_environment(cls) -> Notifier:
        value = os.environ.get(ENV)
        address = address_of(value)
        if value and address is None:
            log.warning("%s=%r is not a socket gracebgpd can notify (an absolute path or @name); "
                        "the service manager will not hear from us", ENV, value)
        return cls(address)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str, status: str = "") -> bool:
        """One datagram; True when it was sent."""
        if self.address is None:
            return False
        data = message(*fields, status=status)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:  # close-on-exec (PEP 446)
                sock.sendto(data, self.address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify the service manager at %s=%s: %s (further failures not logged)",
                            ENV, os.environ.get(ENV, ""), exc.strerror or exc)
            return False
        log.debug("sd_notify: %s", data.decode(errors="replace").replace("\n", " "))
        return True

    def ready(self, status: str = "") -> bool:
        """Started (or a reload or planned restart is done); MAINPID, since the planned
        restart's re-execution is a process systemd did not start itself."""
        return self.send(f"MAINPID={os.getpid()}", "READY=1", status=status)

    def reloading(self, status: str = "") -> bool:
        return self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", status=status)

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", status=status)

    def status(self, status: str) -> bool:
        return self.send(status=status)
