"""The TCP API's certificate ages (runtime.tlswatch, config.certinfo): its notAfter read
from the PEM as openssl prints it, a warning a day from 14 days before, an error and a
health condition once expired, nothing for a certificate far from its end."""

from __future__ import annotations

import calendar
import logging
import subprocess
import time
from pathlib import Path

import pytest

from gracebgp.config.certinfo import CertificateError, not_after
from gracebgp.runtime.tlswatch import REPEAT, WARN_BEFORE, CertificateWatch
from tests.selfsigned import make_cert, openssl


def _openssl_end(cert: Path) -> float:
    """notAfter as ``openssl x509 -enddate`` prints it ("Dec  7 11:28:22 2026 GMT")."""
    out = subprocess.run([openssl(), "x509", "-in", str(cert), "-noout", "-enddate"], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return float(calendar.timegm(time.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y GMT")))


@pytest.mark.parametrize("days", [2, 20000])  # UTCTime; GeneralizedTime (after 2049, RFC 5280 §4.1.2.5)
def test_not_after_is_what_openssl_reads(tmp_path: Path, days: int) -> None:
    cert = make_cert(tmp_path).cert
    if days != 2:  # (make_cert: 2 days)
        key = tmp_path / "long.key"
        cert = tmp_path / "long.crt"
        subprocess.run([openssl(), "req", "-x509", "-newkey", "rsa:2048", "-keyout", str(key),
                        "-out", str(cert), "-days", str(days), "-subj", "/CN=long", "-nodes"],
                       capture_output=True, timeout=60, check=True)
    assert not_after(cert.read_text()) == _openssl_end(cert)


PEM = "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----"


@pytest.mark.parametrize("text", ["", "no certificate here", PEM.format("!!!"), PEM.format("MIIB"),
                                  PEM.format("AQID")])
def test_what_is_not_a_readable_certificate_is_an_error(text: str) -> None:
    with pytest.raises(CertificateError):
        not_after(text)


def test_the_watch_warns_daily_before_the_end_then_reports_it_expired(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cert = make_cert(tmp_path).cert
    end = _openssl_end(cert)
    now = [end - WARN_BEFORE - 3600]
    watch = CertificateWatch(str(cert), clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="gracebgp.api"):
        watch.tick()
        assert caplog.records == [] and watch.conditions() == []
        now[0] = end - 13 * 86400
        watch.tick()
        watch.tick()
        warned = [r for r in caplog.records if getattr(r, "event", "") == "api-certificate-expiring"]
        assert len(warned) == 1 and "in 13.0 days" in warned[0].getMessage()
        assert watch.conditions() == []  # expiring is not a health condition
        now[0] += REPEAT - 1
        watch.tick()
        now[0] += 2
        watch.tick()
        assert sum(getattr(r, "event", "") == "api-certificate-expiring" for r in caplog.records) == 2
        now[0] = end + 1
        watch.tick()
        assert [r.levelname for r in caplog.records if getattr(r, "event", "") == "api-certificate-expired"] \
            == ["ERROR"]
    [(kind, subject, reason, message)] = watch.conditions()
    assert (kind, reason) == ("ApiCertificateExpired", "CertificateExpired") and str(cert) in subject
    assert time.strftime("%Y-%m-%d", time.gmtime(end)) in message


def test_an_unreadable_certificate_is_said_once_and_not_watched(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    with caplog.at_level(logging.INFO, logger="gracebgp.api"):
        watch = CertificateWatch(str(bad), clock=lambda: 0.0)
        watch.tick()
    assert watch.not_after is None and watch.conditions() == []
    assert [getattr(r, "event", "") for r in caplog.records] == ["api-certificate-unreadable"]
