"""Self-signed TLS certificates for the tests, made with the ``openssl`` command line
(gracebgp has no dependency that makes certificates, and the tests add none): an EC
P-256 key and a certificate for 127.0.0.1, ::1 and localhost that is its own CA, as an
operator would make one for a TCP API on a private network."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class SelfSigned:
    cert: Path
    key: Path


def openssl() -> str:
    """The openssl command, or the test is skipped saying why."""
    found = shutil.which("openssl")
    if found is None:
        pytest.skip("the openssl command is not installed (Debian: apt-get install openssl)")
    return found


def make_cert(directory: Path, name: str = "api", cn: str = "gracebgpd-test",
              san: str = "IP:127.0.0.1,IP:::1,DNS:localhost", encrypt: bool = False) -> SelfSigned:
    """``directory/NAME.crt`` and ``directory/NAME.key`` (unencrypted unless ``encrypt``)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    command = [openssl(), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
               "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={cn}",
               "-addext", f"subjectAltName={san}"]
    command += ["-passout", "pass:secret"] if encrypt else ["-nodes"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, f"openssl failed: {done.stderr}"
    key.chmod(0o600)
    return SelfSigned(cert, key)
