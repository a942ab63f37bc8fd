"""The TCP API's certificate (``api-tls-cert-file``) ages: gracebgpd says so before it
expires and while it is expired. The file is read once, at start, as the TLS context is
(docs/api.md: a new certificate takes ``gracebgp restart``).

* At start and then once a day from ``WARN_BEFORE`` before its notAfter: a warning in
  the log (``event: api-certificate-expiring``), or an error once it has expired.
* While it is expired: a condition in ``gracebgp health`` (``ApiCertificateExpired``),
  since clients that verify it (the CLI with ``--ca-file``) refuse the TCP API. An
  expiring certificate is not a condition: health stays what probes read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gracebgp.config.certinfo import CertificateError, not_after

log = logging.getLogger("gracebgp.api")

WARN_BEFORE = 14 * 86400.0  # seconds before notAfter the daily warning starts
REPEAT = 86400.0  # seconds between two warnings


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


class CertificateWatch:
    """``cert_file``'s notAfter (None: unreadable, reported once at start)."""

    def __init__(self, cert_file: str, clock: Callable[[], float] = time.time) -> None:
        self.cert_file = cert_file
        self.clock = clock
        self.warned_at: float | None = None
        try:
            with open(cert_file, encoding="ascii", errors="replace") as f:
                self.not_after: float | None = not_after(f.read())
        except (OSError, CertificateError) as exc:
            self.not_after = None
            log.warning("API TLS: cannot read the expiry of %s (%s): it is not watched", cert_file, exc,
                        extra={"event": "api-certificate-unreadable"})

    def tick(self) -> None:
        """Warn (at most once per ``REPEAT``) from ``WARN_BEFORE`` before notAfter on."""
        end, now = self.not_after, self.clock()
        if end is None or now < end - WARN_BEFORE:
            return
        if self.warned_at is not None and now - self.warned_at < REPEAT:
            return
        self.warned_at = now
        if now >= end:
            log.error("API TLS: the certificate %s expired at %s: clients that verify it refuse the TCP "
                      "API; replace the file and run gracebgp restart", self.cert_file, _when(end),
                      extra={"event": "api-certificate-expired", "not_after": _when(end)})
        else:
            log.warning("API TLS: the certificate %s expires at %s (in %.1f days): replace the file and run "
                        "gracebgp restart", self.cert_file, _when(end), (end - now) / 86400,
                        extra={"event": "api-certificate-expiring", "not_after": _when(end)})

    def conditions(self) -> list[tuple[str, str, str, str]]:
        """(type, subject, reason, message) while the certificate is expired."""
        end = self.not_after
        if end is None or self.clock() < end:
            return []
        return [("ApiCertificateExpired", f"api-tls-cert-file {self.cert_file}", "CertificateExpired",
                 f"expired at {_when(end)}: clients that verify it refuse the TCP API (replace the file "
                 "and run gracebgp restart)")]
