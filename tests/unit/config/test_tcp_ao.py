"""``[[neighbors.gracebgp.tcp-ao-keys]]`` and ``tcp-ao-current-key`` (RFC 5925; issue 11
deliverable 3): what the file may say, each refusal at its key, and what reaches the
socket options (Linux's algorithm names, MAC lengths, the current key)."""

from __future__ import annotations

from pathlib import Path

from gracebgp.config import parse
from gracebgp.core.events import AoKey
from gracebgp.core.sockets import socket_options

from .conftest import MINIMAL, only

NEIGHBOR = MINIMAL + """\
[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65002
"""
KEY1 = '[[neighbors.gracebgp.tcp-ao-keys]]\nsend-id = 1\nsecret = "k-alpha"\n'
KEY2 = ('[[neighbors.gracebgp.tcp-ao-keys]]\nsend-id = 2\nrecv-id = 7\nalgorithm = "aes-128-cmac-96"\n'
        'secret = "k-beta"\n')


def test_keys_reach_the_socket_options_with_linux_names() -> None:
    cfg = parse(NEIGHBOR + KEY1 + KEY2)
    opts = socket_options(cfg.neighbors[0], ebgp=True)
    assert opts.ao_keys == (AoKey(1, 1, "hmac(sha1)", 12, "k-alpha"),
                            AoKey(2, 7, "cmac(aes128)", 12, "k-beta"))
    assert opts.ao_current == 1  # no tcp-ao-current-key: the first key
    assert opts.md5_password is None
    assert "k-alpha" not in repr(cfg.neighbors[0]) and "k-alpha" not in repr(opts)  # secrets never shown


def test_current_key_chooses_the_send_id() -> None:
    cfg = parse(NEIGHBOR + "[neighbors.gracebgp]\ntcp-ao-current-key = 2\n" + KEY1 + KEY2)
    assert socket_options(cfg.neighbors[0], ebgp=True).ao_current == 2


def test_no_keys_no_ao() -> None:
    opts = socket_options(parse(NEIGHBOR).neighbors[0], ebgp=True)
    assert opts.ao_keys == () and opts.ao_current is None


def test_secret_from_a_file(tmp_path: Path) -> None:
    key = tmp_path / "ao.key"
    key.write_text("from-a-secret\n")
    cfg = parse(NEIGHBOR + f'[[neighbors.gracebgp.tcp-ao-keys]]\nsend-id = 3\nsecret-file = "{key}"\n')
    assert socket_options(cfg.neighbors[0], ebgp=True).ao_keys[0].key == "from-a-secret"


def test_duplicate_send_id_is_refused_at_the_keys() -> None:
    _line, key, message = only(NEIGHBOR + KEY1 + KEY1.replace('"k-alpha"', '"other"'))
    assert key.endswith("gracebgp.tcp-ao-keys") and "send-id 1 is used by two keys" in message


def test_duplicate_recv_id_is_refused() -> None:
    _line, key, message = only(NEIGHBOR + KEY1 + KEY2.replace("recv-id = 7", "recv-id = 1"))
    assert key.endswith("tcp-ao-keys") and "recv-id 1 is used by two keys" in message


def test_current_key_must_be_a_send_id() -> None:
    line, key, message = only(NEIGHBOR + "[neighbors.gracebgp]\ntcp-ao-current-key = 7\n" + KEY1 + KEY2)
    assert key.endswith("tcp-ao-current-key") and "7 is not the send-id of a key" in message
    assert line == 9  # the line of tcp-ao-current-key


def test_current_key_without_keys() -> None:
    _line, key, message = only(NEIGHBOR + "[neighbors.gracebgp]\ntcp-ao-current-key = 1\n")
    assert key.endswith("tcp-ao-current-key") and "no [[neighbors.gracebgp.tcp-ao-keys]]" in message


def test_md5_and_ao_together_are_refused() -> None:
    text = NEIGHBOR.replace("peer-as = 65002\n", 'peer-as = 65002\nauth-password = "md5"\n') + KEY1
    _line, key, message = only(text)
    assert key.endswith("tcp-ao-keys") and "TCP MD5 or by TCP-AO, not both" in message


def test_one_secret_per_key(tmp_path: Path) -> None:
    _line, key, message = only(NEIGHBOR + "[[neighbors.gracebgp.tcp-ao-keys]]\nsend-id = 1\n")
    assert "tcp-ao-keys" in key and "exactly one of them" in message
    f = tmp_path / "k"
    f.write_text("x")
    _line, key, message = only(NEIGHBOR + KEY1 + f'secret-file = "{f}"\n')
    assert "exactly one of them" in message


def test_bad_values_are_refused_at_their_keys(tmp_path: Path) -> None:
    _line, key, message = only(NEIGHBOR + KEY1.replace('"k-alpha"', '"' + "x" * 81 + '"'))
    assert "81 octets long; a TCP-AO key has at most 80 (Linux TCP_AO_MAXKEYLEN)" in message
    _line, key, message = only(NEIGHBOR + KEY1 + 'algorithm = "md5"\n')
    assert key.endswith("tcp-ao-keys[0].algorithm") and "hmac-sha-1-96" in message
    _line, key, message = only(NEIGHBOR + KEY1.replace("send-id = 1", "send-id = 256"))
    assert key.endswith("tcp-ao-keys[0].send-id")
    _line, key, message = only(NEIGHBOR + f'[[neighbors.gracebgp.tcp-ao-keys]]\nsend-id = 1\n'
                                          f'secret-file = "{tmp_path / "missing"}"\n')
    assert key.endswith("secret-file") and "cannot read" in message
    empty = tmp_path / "empty"
    empty.write_text("\n")
    _line, key, message = only(NEIGHBOR + f'[[neighbors.gracebgp.tcp-ao-keys]]\nsend-id = 1\n'
                                          f'secret-file = "{empty}"\n')
    assert "it must hold the TCP-AO key" in message
