"""Who may use the API (issue 12, item 5), as the configuration says it: the Unix socket's
group and mode (``api-socket-group``, ``api-socket-mode``), TLS on the TCP API
(``api-tls-cert-file``, ``api-tls-key-file``) and the token-free metrics listener
(``metrics-listen``). Every value that cannot be used is an error at its key, with the
file's line; the files are loaded when the configuration is (``--check`` included); the
keys survive a dump; a change needs a restart, and a reload keeps the running values."""

from __future__ import annotations

import grp
import os
from pathlib import Path

import pytest

from gracebgp.api.client import Client, ClientError
from gracebgp.config import check, diff, parse, to_toml
from gracebgp.config.extras import group_id, host_port, server_tls_context
from gracebgp.runtime.fromconfig import keep_identity
from tests.selfsigned import SelfSigned, make_cert

from .conftest import MINIMAL, only, problems

GRACE = MINIMAL + "[gracebgp]\n"  # [gracebgp] is line 4
TOKEN = 'api-token-file = "/etc/gracebgp/token"\n'
LISTEN = TOKEN + 'api-listen = "127.0.0.1:8179"\n'


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> SelfSigned:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> SelfSigned:
    return make_cert(tmp_path_factory.mktemp("tls-other"), name="other")


def tls(cert: Path | str, key: Path | str) -> str:
    return f'api-tls-cert-file = "{cert}"\napi-tls-key-file = "{key}"\n'


def a_group() -> grp.struct_group:
    """A group every Debian host has (not the root group, to see the value move)."""
    for name in ("daemon", "adm", "nogroup"):
        try:
            return grp.getgrnam(name)
        except KeyError:
            continue
    pytest.skip("no daemon, adm or nogroup group on this host")


def test_defaults_keep_todays_socket_and_listeners() -> None:
    g = parse(MINIMAL).gracebgp
    assert (g.api_socket_group, g.api_socket_mode) == (None, "0660")
    assert (g.api_tls_cert_file, g.api_tls_key_file, g.metrics_listen) == (None, None, None)


# --- api-socket-group -------------------------------------------------------------------------

def test_a_group_by_name_or_number() -> None:
    group = a_group()
    for written, value in ((f'"{group.gr_name}"', group.gr_name), (str(group.gr_gid), group.gr_gid),
                           (f'"{group.gr_gid}"', str(group.gr_gid)), ("4242", 4242)):
        g = parse(GRACE + f"api-socket-group = {written}\n").gracebgp
        assert g.api_socket_group == value
        assert group_id(value) == (4242 if value == 4242 else group.gr_gid)


@pytest.mark.parametrize(("written", "message"), [
    ('"no-such-group-gb"', "there is no group 'no-such-group-gb' on this host (getent group "
                           "no-such-group-gb): create it, or give a numeric gid"),
    ('""', 'empty; give a group name (e.g. "gracebgp") or a numeric gid'),
    ("-1", "-1 is not a group id (0..4294967294)"),
    ("4294967295", "4294967295 is not a group id (0..4294967294)"),
    ("true", "expected a group name or a numeric gid, got true or false"),
    ("[1]", "expected a group name or a numeric gid, got tuple"),
])
def test_a_group_that_does_not_exist_is_an_error_at_its_key(written: str, message: str) -> None:
    assert only(GRACE + f"api-socket-group = {written}\n") == (5, "gracebgp.api-socket-group", message)


# --- api-socket-mode --------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "mode"), [('"0660"', "0660"), ('"660"', "0660"), ('"0600"', "0600"),
                                               ('"0640"', "0640"), ('" 0664 "', "0664")])
def test_a_mode_is_octal_digits(written: str, mode: str) -> None:
    assert parse(GRACE + f"api-socket-mode = {written}\n").gracebgp.api_socket_mode == mode


@pytest.mark.parametrize(("written", "message"), [
    ('"0666"', "'0666' is world-writable: every local user could drive gracebgpd (stop it, change its "
               'routes); give the operators a group (api-socket-group) and use "0660"'),
    ('"0662"', "'0662' is world-writable"),
    ('"777"', "'777' is world-writable"),
    ("0o660", 'write the mode as a string of octal digits, e.g. "0660" (the number 432 is read as decimal)'),
    ("660", 'write the mode as a string of octal digits, e.g. "0660" (the number 660 is read as decimal)'),
    ('"0680"', "'0680' is not a permission mode: three octal digits"),
    ('"4660"', "'4660' is not a permission mode: three octal digits, e.g. \"0660\" (no setuid, setgid or "
               "sticky bits)"),
    ('"rw-rw----"', "'rw-rw----' is not a permission mode"),
    ("true", "expected a string, got true"),
])
def test_a_mode_that_cannot_be_used_is_an_error_at_its_key(written: str, message: str) -> None:
    line, key, text = only(GRACE + f"api-socket-mode = {written}\n")
    assert (line, key) == (5, "gracebgp.api-socket-mode")
    assert text.startswith(message), text


def test_a_group_needs_a_mode_that_lets_it_connect() -> None:
    group = a_group().gr_name
    text = GRACE + f'api-socket-group = "{group}"\napi-socket-mode = "0640"\n'
    assert only(text) == (6, "gracebgp.api-socket-mode",
                          "'0640' gives api-socket-group no write permission, which connecting to a Unix "
                          'socket needs: the group could not use the API (use "0660")')
    parse(GRACE + f'api-socket-group = "{group}"\napi-socket-mode = "0620"\n')  # write is what counts


# --- api-tls-cert-file, api-tls-key-file --------------------------------------------------------

def test_tls_with_a_self_made_certificate(pair: SelfSigned) -> None:
    g = parse(GRACE + LISTEN + tls(pair.cert, pair.key)).gracebgp
    assert (g.api_tls_cert_file, g.api_tls_key_file) == (str(pair.cert), str(pair.key))
    context = server_tls_context(str(pair.cert), str(pair.key))
    assert context.minimum_version >= __import__("ssl").TLSVersion.TLSv1_2


def test_tls_without_api_listen_is_an_error_at_the_certificate(pair: SelfSigned) -> None:
    assert only(GRACE + TOKEN + tls(pair.cert, pair.key)) == (
        6, "gracebgp.api-tls-cert-file",
        "a TLS certificate for the TCP API needs api-listen (the listener it is for)")


def test_both_files_or_neither(pair: SelfSigned) -> None:
    # The missing key is named; its line is the table's, where it belongs.
    assert only(GRACE + LISTEN + f'api-tls-cert-file = "{pair.cert}"\n') == (
        4, "gracebgp.api-tls-key-file",
        "api-tls-cert-file needs api-tls-key-file, the file of the certificate's private key")
    assert only(GRACE + LISTEN + f'api-tls-key-file = "{pair.key}"\n') == (
        7, "gracebgp.api-tls-key-file", "a TLS key needs api-tls-cert-file, the certificate it belongs to")


def test_files_that_cannot_be_used_are_errors_at_their_keys(tmp_path: Path, pair: SelfSigned,
                                                            other: SelfSigned) -> None:
    missing = tmp_path / "missing.crt"
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    encrypted = make_cert(tmp_path, name="enc", encrypt=True)
    cases = [
        (tls(missing, pair.key), 7, "api-tls-cert-file",
         f"cannot read {missing}: No such file or directory"),
        (tls(pair.key, pair.key), 7, "api-tls-cert-file",
         f'{pair.key} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block)'),
        (tls(garbage, pair.key), 7, "api-tls-cert-file", f"{garbage}: the certificate cannot be read: "),
        (tls(pair.cert, pair.cert), 8, "api-tls-key-file",
         f'{pair.cert} holds no PEM private key (a "-----BEGIN PRIVATE KEY-----" block)'),
        (tls(pair.cert, tmp_path / "none.key"), 8, "api-tls-key-file",
         f"cannot read {tmp_path / 'none.key'}: No such file or directory"),
        (tls(pair.cert, other.key), 8, "api-tls-key-file",
         f"the key in {other.key} is not the key of the certificate in {pair.cert}"),
        (tls(encrypted.cert, encrypted.key), 8, "api-tls-key-file",
         f"the key in {encrypted.key} is encrypted: gracebgpd cannot ask for a passphrase; store it "
         "unencrypted in a file only gracebgpd's user can read"),
        (tls(tmp_path, pair.key), 7, "api-tls-cert-file", f"cannot read {tmp_path}: Is a directory"),
    ]
    for extra, line, key, message in cases:
        (p,) = problems(GRACE + LISTEN + extra)
        assert (p.line, p.key) == (line, f"gracebgp.{key}"), (extra, p)
        assert p.message.startswith(message), (extra, p.message)


def test_the_check_loads_the_files(tmp_path: Path, pair: SelfSigned, other: SelfSigned) -> None:
    """``gracebgpd --check`` (config.check) reports a key that does not fit its
    certificate, FILE:LINE: key: message; the pair that fits passes."""
    conf = tmp_path / "bgp.toml"
    conf.write_text(GRACE + LISTEN + tls(pair.cert, other.key))
    code, text = check(conf)
    assert code == 1
    assert text == (f"{conf}:8: gracebgp.api-tls-key-file: the key in {other.key} is not the key of the "
                    f"certificate in {pair.cert}")
    conf.write_text(GRACE + LISTEN + tls(pair.cert, pair.key))
    assert check(conf)[0] == 0


# --- metrics-listen ---------------------------------------------------------------------------

def test_metrics_listen_needs_no_token() -> None:
    g = parse(GRACE + 'metrics-listen = "[::1]:9179"\n').gracebgp
    assert g.metrics_listen == "[::1]:9179" and g.api_token_file is None
    assert host_port(g.metrics_listen) == ("::1", 9179)


@pytest.mark.parametrize(("extra", "line", "message"), [
    ('metrics-listen = "9179"\n', 5, "'9179' is not host:port (use [addr]:port for IPv6)"),
    ('metrics-listen = "127.0.0.1:0"\n', 5, "'127.0.0.1:0' is not host:port (use [addr]:port for IPv6)"),
    ('metrics-listen = "::1:9179"\n', 5, "'::1:9179': write an IPv6 address in brackets, e.g. [::1]:8179"),
    (LISTEN + 'metrics-listen = "127.0.0.1:8179"\n', 7,
     "'127.0.0.1:8179' is where api-listen ('127.0.0.1:8179') listens: give the metrics listener a port "
     "of its own"),
    (LISTEN + 'metrics-listen = "0.0.0.0:8179"\n', 7,
     "'0.0.0.0:8179' is where api-listen ('127.0.0.1:8179') listens"),
])
def test_metrics_listen_that_cannot_be_bound_is_an_error_at_its_key(extra: str, line: int,
                                                                   message: str) -> None:
    got_line, key, text = only(GRACE + extra)
    assert (got_line, key) == (line, "gracebgp.metrics-listen")
    assert text.startswith(message), text


def test_metrics_on_another_port_of_the_api_host() -> None:
    parse(GRACE + LISTEN + 'metrics-listen = "127.0.0.1:9179"\n')
    parse(GRACE + LISTEN + 'metrics-listen = "127.0.0.2:8179"\n')


# --- every problem at once, dump, reload --------------------------------------------------------

def test_every_problem_in_one_run(tmp_path: Path) -> None:
    text = (GRACE + 'api-socket-group = "no-such-group-gb"\napi-socket-mode = "0666"\n'
            + LISTEN + tls(tmp_path / "a.crt", tmp_path / "a.key") + 'metrics-listen = "x"\n')
    assert [(p.line, p.key) for p in problems(text)] == [
        (5, "gracebgp.api-socket-group"), (6, "gracebgp.api-socket-mode"),
        (9, "gracebgp.api-tls-cert-file"), (11, "gracebgp.metrics-listen")]


def full(pair: SelfSigned) -> str:
    return (GRACE + f'api-socket-group = "{a_group().gr_name}"\napi-socket-mode = "0620"\n'
            + LISTEN + tls(pair.cert, pair.key) + 'metrics-listen = "127.0.0.1:9179"\n')


def test_the_keys_survive_a_dump(pair: SelfSigned) -> None:
    cfg = parse(full(pair))
    text = to_toml(cfg)
    for key in ("api-socket-group", "api-socket-mode", "api-tls-cert-file", "api-tls-key-file",
                "metrics-listen"):
        assert f"\n{key} = " in text
    assert parse(text) == cfg
    assert 'api-socket-mode = "0660"' in to_toml(parse(MINIMAL))  # the default, written out


def test_a_change_needs_a_restart_and_a_reload_keeps_the_running_values(pair: SelfSigned) -> None:
    running, new = parse(MINIMAL), parse(full(pair))
    d = diff(running, new)
    assert [r.split(" changed")[0] for r in d.needs_restart] == [
        "gracebgp.api-listen", "gracebgp.api-token-file", "gracebgp.api-socket-group",
        "gracebgp.api-socket-mode", "gracebgp.api-tls-cert-file", "gracebgp.api-tls-key-file",
        "gracebgp.metrics-listen"]
    kept = keep_identity(running, new)
    assert kept.gracebgp == running.gracebgp
    assert diff(new, new).needs_restart == ()


# --- the client's side ------------------------------------------------------------------------

def test_a_ca_file_that_cannot_be_used_is_one_line(tmp_path: Path, pair: SelfSigned) -> None:
    with pytest.raises(ClientError) as err:
        Client("https://127.0.0.1:8179", ca_file=str(tmp_path / "none.pem"))
    assert str(err.value) == f"cannot use the CA file {tmp_path / 'none.pem'}: No such file or directory"
    with pytest.raises(ClientError) as err:
        Client("https://127.0.0.1:8179", ca_file=str(pair.key))
    assert str(err.value).startswith(f"cannot use the CA file {pair.key}: "), err.value
    with Client("https://127.0.0.1:8179", ca_file=str(pair.cert)) as client:
        assert client.ca_file == str(pair.cert)


def test_the_ca_file_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, pair: SelfSigned) -> None:
    monkeypatch.setenv("GRACEBGP_CA_FILE", str(pair.cert))
    with Client("https://127.0.0.1:8179") as client:
        assert client.ca_file == str(pair.cert)
    with Client("http://127.0.0.1:8179") as client:  # plain HTTP: nothing to verify
        assert client.ca_file is None
    monkeypatch.delenv("GRACEBGP_CA_FILE")
    with Client("https://127.0.0.1:8179") as client:
        assert client.ca_file is None  # the system's CAs
    assert os.environ.get("GRACEBGP_CA_FILE") is None
