"""When a PEM certificate stops being valid (its notAfter), read without a crypto library.

RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate, ... }; TBSCertificate ::=
SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity, ... };
Validity ::= SEQUENCE { notBefore Time, notAfter Time }; Time is UTCTime (YYMMDDHHMMSSZ,
years 1950-2049, §4.1.2.5.1) or GeneralizedTime (YYYYMMDDHHMMSSZ, §4.1.2.5.2). DER
(X.690 §8.1): a tag octet, a length (short form, or 0x80 | n then n octets), the value.
"""

from __future__ import annotations

import base64
import calendar
import re

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.S)
_SEQUENCE, _CONTEXT_0, _UTC_TIME, _GENERALIZED_TIME = 0x30, 0xA0, 0x17, 0x18


class CertificateError(ValueError):
    """The text holds no certificate this reader understands."""


def _item(der: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the DER item at ``i``."""
    if i + 2 > len(der):
        raise CertificateError("truncated DER")
    tag, first = der[i], der[i + 1]
    i += 2
    if first & 0x80:
        count = first & 0x7F
        if not 1 <= count <= 4 or i + count > len(der):
            raise CertificateError("bad DER length")
        length = int.from_bytes(der[i:i + count], "big")
        i += count
    else:
        length = first
    if i + length > len(der):
        raise CertificateError("DER item overruns the certificate")
    return tag, i, i + length


def _time(tag: int, text: bytes) -> float:
    """RFC 5280 §4.1.2.5: UTCTime or GeneralizedTime, in UTC ('Z'), as epoch seconds."""
    digits = text.decode("ascii", "replace")
    if tag == _UTC_TIME and re.fullmatch(r"\d{12}Z", digits):
        year = int(digits[:2])
        year += 1900 if year >= 50 else 2000
        rest = digits[2:12]
    elif tag == _GENERALIZED_TIME and re.fullmatch(r"\d{14}Z", digits):
        year, rest = int(digits[:4]), digits[4:14]
    else:
        raise CertificateError(f"unreadable validity time {digits!r}")
    month, day, hour, minute, second = (int(rest[k:k + 2]) for k in range(0, 10, 2))
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def not_after(pem: str) -> float:
    """The notAfter of the first certificate in ``pem`` (epoch seconds); CertificateError
    when there is none or it cannot be read."""
    found = _PEM.search(pem)
    if found is None:
        raise CertificateError("no PEM certificate")
    try:
        der = base64.b64decode("".join(found.group(1).split()), validate=True)
    except ValueError:
        raise CertificateError("the PEM certificate is not base64") from None
    tag, start, _ = _item(der, 0)  # Certificate
    if tag != _SEQUENCE:
        raise CertificateError("not a certificate")
    tag, i, end = _item(der, start)  # tbsCertificate
    if tag != _SEQUENCE:
        raise CertificateError("not a certificate")
    fields: list[tuple[int, int, int]] = []
    while i < end and len(fields) < 5:
        tag, vstart, vend = _item(der, i)
        fields.append((tag, vstart, vend))
        i = vend
    if fields and fields[0][0] == _CONTEXT_0:  # [0] version
        fields = fields[1:]
    if len(fields) < 4 or fields[3][0] != _SEQUENCE:  # serial, signature, issuer, validity
        raise CertificateError("no validity in the certificate")
    _, vstart, vend = fields[3]
    _, _, b_end = _item(der, vstart)  # notBefore
    tag, a_start, a_end = _item(der, b_end)  # notAfter
    if a_end > vend:
        raise CertificateError("bad validity")
    return _time(tag, der[a_start:a_end])
