"""Secrets the configuration names instead of holding: ``[neighbors.gracebgp]
auth-password-file``, the TCP MD5 key (RFC 2385) of one neighbor, and ``tcp-ao-keys
secret-file``, a TCP-AO master key (RFC 5925), read when the file
is loaded (at start and at each reload), so that the key can live in a file only root
reads, or in a Kubernetes Secret mounted as a file, instead of the configuration.

A file that cannot be read, is empty or holds a key too long for the kernel makes the
configuration invalid (``FILE:LINE: key: message``): a neighbor that asks for MD5 must
never connect without it. One trailing line break is not part of the key (``echo``
writes one); any other character is.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from gracebgp.config.fields import MAX_TCP_MD5_KEY, Frozen

MAX_SECRET_FILE = 4096  # octets read at most: a key file is small


class PasswordFile(Frozen):
    """A key read from ``path``; compares by path *and* key, so a reload notices a file
    whose content changed. The key never appears in a repr."""

    path: str
    key: str = Field(repr=False)


def md5_key_problem(key: str) -> str:
    """"" when ``key`` can be a TCP MD5 key, else why not (the kernel counts octets)."""
    return key_problem(key, "TCP MD5 key")


def key_problem(key: str, what: str) -> str:
    """"" when ``key`` fits the kernel (TCP_MD5SIG_MAXKEYLEN and TCP_AO_MAXKEYLEN are both
    80 octets), else why not."""
    size = len(key.encode())
    if size > MAX_TCP_MD5_KEY:
        limit = "TCP_AO_MAXKEYLEN" if "AO" in what else "TCP_MD5SIG_MAXKEYLEN"
        return f"{size} octets long; a {what} has at most {MAX_TCP_MD5_KEY} (Linux {limit})"
    return ""


def read_small_file(path: str, what: str, limit: int, only: str) -> bytes:
    """The content of a file the configuration names, at most ``limit`` octets
    (``ValueError`` saying why it cannot be used; ``what`` and ``only`` name what it holds)."""
    if not path:
        raise ValueError(f"empty path; name the file that holds the {what}")
    try:
        with Path(path).open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ValueError(f"{path} is longer than {limit} octets; it should hold only {only}")
    return data


def read_password_file(value: Any, what: str = "TCP MD5 key") -> Any:
    """A path -> the PasswordFile it names (``ValueError`` saying why it cannot be used);
    ``what`` names the key in messages (``TCP MD5 key``, ``TCP-AO key``)."""
    if not isinstance(value, str):
        return value  # strict validation reports the wrong type
    data = read_small_file(value, what, MAX_SECRET_FILE, "the key")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{value} is not UTF-8 text") from None
    key = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if not key:
        raise ValueError(f"{value} is empty; it must hold the {what}")
    why = key_problem(key, what)
    if why:
        raise ValueError(f"the key in {value} is {why}")
    return PasswordFile(path=value, key=key)


#: ``auth-password-file``: a path in TOML, the key it holds once loaded.
PasswordFileField = Annotated[PasswordFile, BeforeValidator(read_password_file)]
#: ``tcp-ao-keys secret-file``: the same for a TCP-AO master key (RFC 5925 §3.1).
AoKeyFileField = Annotated[PasswordFile, BeforeValidator(partial(read_password_file, what="TCP-AO key"))]
