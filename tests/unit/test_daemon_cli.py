"""gracebgpd's command line takes gobgpd's (issue 15, item 7): each gobgpd 3.x option is mapped,
or accepted with a start-up notice of what gracebgpd does instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from gracebgp import daemon
from gracebgp.config.cmdline import NOTICES, Options, build_parser, parse_args

#: ``gobgpd --help`` of GoBGP 3.x (the Debian package): every long option it lists.
GOBGPD_OPTIONS = ["--config-file", "--config-type", "--log-level", "--log-plain", "--syslog",
                  "--syslog-facility", "--disable-stdlog", "--cpus", "--api-hosts", "--graceful-restart",
                  "--dry-run", "--pprof-host", "--pprof-disable", "--sdnotify", "--tls", "--tls-cert-file",
                  "--tls-key-file", "--version"]
GOBGPD_SHORT = {"-f": "--config-file", "-t": "--config-type", "-l": "--log-level", "-p": "--log-plain",
                "-s": "--syslog", "-r": "--graceful-restart", "-d": "--dry-run"}


def test_every_gobgpd_option_exists_with_its_short_name() -> None:
    actions = {o: a for a in build_parser()._actions for o in a.option_strings}
    assert [o for o in GOBGPD_OPTIONS if o not in actions] == []
    assert [s for s, long in GOBGPD_SHORT.items() if actions[s] is not actions[long]] == []


def test_the_seed_command_line() -> None:
    """``gobgpd -f bgp-graceful.conf -l debug -p -r`` (../shared/seeds/000_2a066cbdae717637.txt)."""
    opts = parse_args(["-f", "bgp-graceful.conf", "-l", "debug", "-p", "-r"])
    assert opts == Options(Path("bgp-graceful.conf"), "toml", "debug", "text",
                           notices=(NOTICES["graceful_restart"],))
    assert "state directory" in opts.notices[0] and "R=1" in opts.notices[0]


def test_defaults() -> None:
    assert parse_args(["-f", "x"]) == Options(Path("x"))


@pytest.mark.parametrize(("args", "field", "value"), [
    (["-t", "yaml"], "config_type", "yaml"),
    (["--config-type=json"], "config_type", "json"),
    (["-d"], "check", True),
    (["--dry-run"], "check", True),
    (["--check"], "check", True),
    (["--log-format", "json"], "log_format", "json"),
    (["--log-plain"], "log_format", "text"),
    (["-l", "WARN"], "log_level", "warning"),
    (["--log-level=trace"], "log_level", "debug"),
    (["-l", "panic"], "log_level", "error"),
    (["--record", "r.jsonl"], "record", "r.jsonl"),
    (["--preflight"], "preflight", True),
])
def test_mapped_options(args: list[str], field: str, value: object) -> None:
    assert getattr(parse_args(["-f", "x", *args]), field) == value


@pytest.mark.parametrize(("args", "dest", "shown"), [
    (["-r"], "graceful_restart", "R=1 after a planned restart or a crash"),
    (["--pprof-disable"], "pprof_disable", "no pprof listener"),
    (["--pprof-host", "localhost:6060"], "pprof_host", "--pprof-host localhost:6060"),
    (["--api-hosts=:50051"], "api_hosts", "--api-hosts :50051: gracebgpd serves no gRPC API"),
    (["--tls"], "tls", "api-tls-cert-file"),
    (["--tls-cert-file", "c.pem"], "tls_cert_file", "--tls-cert-file configures TLS"),
    (["--tls-key-file", "k.pem"], "tls_key_file", "--tls-key-file configures TLS"),
    (["-s", "yes"], "syslog", "-s/--syslog yes: gracebgpd logs to stderr"),
    (["--syslog-facility", "local0"], "syslog_facility", "--syslog-facility local0"),
    (["--disable-stdlog"], "disable_stdlog", "--disable-stdlog"),
    (["--cpus", "4"], "cpus", "--cpus 4: gracebgpd is one Python process"),
    (["--sdnotify"], "sdnotify", "$NOTIFY_SOCKET"),
])
def test_options_accepted_with_a_notice(args: list[str], dest: str, shown: str) -> None:
    opts = parse_args(["-f", "x", *args])
    assert opts.notices == (NOTICES[dest].format(value=args[-1].split("=")[-1]),)
    assert shown in opts.notices[0]


def test_short_options_combine_as_in_gobgpd() -> None:
    opts = parse_args(["-pr", "-f", "x"])
    assert opts.log_format == "text" and opts.notices == (NOTICES["graceful_restart"],)


def test_contradictions_and_unknown_options_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["-p", "--log-format", "json"], ["-t", "hcl"], ["-l", "verbose"], ["--bogus"], []):
        with pytest.raises(SystemExit) as info:
            parse_args(["-f", "x", *args] if args else [])
        assert info.value.code == 2
    err = capsys.readouterr().err
    assert "-p/--log-plain asks for text log lines and --log-format json for JSON" in err
    assert "invalid log level 'verbose'" in err


CONF = """\
[global.config]
  as = 65001
  router-id = "192.0.2.1"
  port = -1
[gracebgp]
  state-dir = "{dir}/state"
  api-socket = "{dir}/api.sock"
"""


def test_dry_run_is_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "gobgpd.conf"
    conf.write_text(CONF.format(dir=tmp_path))
    assert daemon.main(["-f", str(conf), "-d", "-r", "-p"]) == 0
    assert capsys.readouterr().out.startswith(f"{conf}: configuration OK")
    conf.write_text(CONF.format(dir=tmp_path) + "colour = 1\n")
    assert daemon.main(["-f", str(conf), "--dry-run"]) == 1
    assert f"{conf}:8: gracebgp.colour: unknown key" in capsys.readouterr().err


def test_check_reads_yaml_with_t(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "gobgpd.yaml"
    conf.write_text(f"global:\n  config:\n    as: 65001\n    router-id: 192.0.2.1\n"
                    f"gracebgp:\n  state-dir: {tmp_path}/state\n  api-socket: {tmp_path}/api.sock\n")
    assert daemon.main(["-f", str(conf), "-t", "yaml", "-d"]) == 0
    assert daemon.main(["-f", str(conf), "-d"]) == 1
    assert "looks like YAML: use -t yaml" in capsys.readouterr().err


def test_log_formats_are_the_log_setups() -> None:
    from gracebgp.config.cmdline import LOG_FORMATS
    from gracebgp.runtime.logsetup import FORMATS
    assert LOG_FORMATS == FORMATS
