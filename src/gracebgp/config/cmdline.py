"""gracebgpd's command line: its own options and every option of gobgpd 3.x, each handled explicitly.

A systemd unit or a container command written for gobgpd runs gracebgpd when only the
binary's name changes. Each gobgpd option (``gobgpd --help``) is one of:

* mapped, same meaning: ``-f/--config-file``, ``-t/--config-type`` (toml, yaml, json),
  ``-l/--log-level`` (logrus's level names), ``-p/--log-plain`` (text lines),
  ``-d/--dry-run`` (``--check``), ``--version``;
* accepted with a start-up notice saying what gracebgpd does instead, where gracebgpd
  decides the matter itself or has no such part: ``-r/--graceful-restart`` (the R bit
  comes from the state directory), ``--pprof-host``/``--pprof-disable`` (no pprof),
  ``--api-hosts`` and ``--tls*`` (no gRPC API), ``-s/--syslog``, ``--syslog-facility``,
  ``--disable-stdlog`` (logs go to stderr), ``--cpus``, ``--sdnotify``.

None is refused: none of them changes what gracebgpd does on the wire.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gracebgp.config.formats import CONFIG_TYPES

#: ``-l`` values: gracebgp's four, and logrus's names as gobgpd takes them.
LOG_LEVELS = {"debug": "debug", "info": "info", "warning": "warning", "error": "error",
              "warn": "warning", "trace": "debug", "fatal": "error", "panic": "error"}
LOG_FORMATS = ("text", "json")

_NO_GRPC = ("gracebgpd serves no gRPC API: its HTTP API listens on [gracebgp] api-socket (and "
            "api-listen), the gracebgp CLI talks to it")
_NO_TLS = ("{flag} configures TLS for gobgpd's gRPC API; " + _NO_GRPC + ", with TLS from [gracebgp] "
           "api-tls-cert-file and api-tls-key-file")
_STDERR = "gracebgpd logs to stderr (under systemd: the journal, which can forward to syslog)"
#: dest -> what gracebgpd does instead of the gobgpd option ({value}: the option's value).
NOTICES = {
    "graceful_restart": "-r/--graceful-restart: gracebgpd sets the Restart State (R) bit of its "
                        "graceful-restart capability itself, from its state directory "
                        "([gracebgp] state-dir): R=1 after a planned restart or a crash, R=0 on a cold start",
    "pprof_disable": "--pprof-disable: gracebgpd has no pprof listener, there is nothing to disable",
    "pprof_host": "--pprof-host {value}: gracebgpd has no pprof listener (profile it with py-spy); ignored",
    "api_hosts": "--api-hosts {value}: " + _NO_GRPC + "; ignored",
    "tls": _NO_TLS.format(flag="--tls") + "; ignored",
    "tls_cert_file": _NO_TLS.format(flag="--tls-cert-file") + "; ignored",
    "tls_key_file": _NO_TLS.format(flag="--tls-key-file") + "; ignored",
    "syslog": "-s/--syslog {value}: " + _STDERR + "; it does not send to syslog itself",
    "syslog_facility": "--syslog-facility {value}: " + _STDERR + "; ignored",
    "disable_stdlog": "--disable-stdlog: " + _STDERR + ", its only log destination, and keeps doing so",
    "cpus": "--cpus {value}: gracebgpd is one Python process whose routing runs on one core; ignored",
    "sdnotify": "--sdnotify: gracebgpd uses the sd_notify protocol whenever $NOTIFY_SOCKET is set "
                "(systemd Type=notify), with or without this option",
}


@dataclass(frozen=True)
class Options:
    """What the command line asks for."""

    config_file: Path
    config_type: str = "toml"
    log_level: str = "info"
    log_format: str = "text"
    check: bool = False
    preflight: bool = False
    take_over: bool = False  # --take-over: the sessions of the gracebgpd running on the state dir
    record: str | None = None
    #: One line per gobgpd option accepted with a different meaning, for the start-up log.
    notices: tuple[str, ...] = ()


def _level(value: str) -> str:
    level = value.lower()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"invalid log level {value!r} (choose from "
                                         f"{', '.join(LOG_LEVELS)})")
    return level


def build_parser(version: str = "") -> argparse.ArgumentParser:
    """The parser; ``version``: what ``--version`` prints after "gracebgpd"."""
    ap = argparse.ArgumentParser(
        prog="gracebgpd", description="gracebgp BGP daemon (takes gobgpd's command line too)",
        epilog="exit codes: 0 stopped as asked, 1 invalid configuration, 2 bad command line, 3 another "
               "gracebgpd holds the state directory, 4 a listener cannot be bound, 5 the state directory "
               "cannot be used, 6 the planned restart could not re-execute")
    ap.add_argument("-f", "--config-file", required=True, type=Path,
                    help="the configuration, in GoBGP's schema")
    ap.add_argument("-t", "--config-type", default="toml", choices=CONFIG_TYPES,
                    help="the file's format: toml (default), yaml or json (gobgpd's -t)")
    ap.add_argument("-l", "--log-level", default="info", type=_level, metavar="LEVEL",
                    help="debug, info (default), warning or error (gobgpd's trace, warn, fatal and panic "
                         "map to the nearest); debug adds each OPEN with its capabilities, each "
                         "NOTIFICATION and a summary of the UPDATEs per peer and family")
    ap.add_argument("--log-format", choices=LOG_FORMATS, default=None,
                    help="text (default), or json: one object per line with time, level, logger, peer, "
                         "event, msg and fields (docs/logging.md)")
    ap.add_argument("-p", "--log-plain", action="store_true",
                    help="text log lines (gobgpd's option; text is gracebgpd's default, JSON is "
                         "--log-format json)")
    ap.add_argument("--check", "-d", "--dry-run", dest="check", action="store_true",
                    help="validate the configuration (and the state and socket directories) and exit "
                         "(0 valid, 1 not); for a neighbor in a peer group, print its effective values")
    ap.add_argument("--preflight", action="store_true",
                    help="--check, and import every module the daemon needs (run by 'gracebgp restart' "
                         "before any session is closed)")
    ap.add_argument("--take-over", action="store_true",
                    help="start by taking the sessions over from the gracebgpd running with the same "
                         "state-dir (through <state-dir>/handover.sock), which then exits; for container "
                         "upgrades (docs/deploy.md)")
    ap.add_argument("--record", metavar="FILE",
                    help="append every input and output of the speaker to FILE as JSON lines, for a "
                         "replay test (docs/scenarios.md); overrides [gracebgp] record. Large: every "
                         "UPDATE in hex")
    gobgpd = ap.add_argument_group("gobgpd options gracebgpd accepts, with a notice at start of what it "
                                   "does instead")
    gobgpd.add_argument("-r", "--graceful-restart", action="store_true",
                        help="ignored: the R bit comes from the state directory")
    gobgpd.add_argument("--pprof-disable", action="store_true", help="ignored: there is no pprof")
    gobgpd.add_argument("--pprof-host", metavar="HOST:PORT", help="ignored: there is no pprof")
    gobgpd.add_argument("--api-hosts", metavar="HOSTS", help="ignored: there is no gRPC API")
    gobgpd.add_argument("--tls", action="store_true", help="ignored: there is no gRPC API")
    gobgpd.add_argument("--tls-cert-file", metavar="FILE", help="ignored: there is no gRPC API")
    gobgpd.add_argument("--tls-key-file", metavar="FILE", help="ignored: there is no gRPC API")
    gobgpd.add_argument("-s", "--syslog", metavar="DEST", help="ignored: logs go to stderr")
    gobgpd.add_argument("--syslog-facility", metavar="FACILITY", help="ignored: logs go to stderr")
    gobgpd.add_argument("--disable-stdlog", action="store_true", help="ignored: logs go to stderr")
    gobgpd.add_argument("--cpus", metavar="N", help="ignored: one process")
    gobgpd.add_argument("--sdnotify", action="store_true",
                        help="accepted: sd_notify is used whenever $NOTIFY_SOCKET is set")
    ap.add_argument("--version", action="version", version=f"gracebgpd {version}".strip())
    return ap


def parse_args(argv: Sequence[str] | None = None, version: str = "") -> Options:
    """The command line as :class:`Options`; a wrong one exits with status 2 (argparse)."""
    ap = build_parser(version)
    args = ap.parse_args(argv)
    if args.log_plain and args.log_format == "json":
        ap.error("-p/--log-plain asks for text log lines and --log-format json for JSON: give one")
    notices = []
    level = LOG_LEVELS[args.log_level]
    if level != args.log_level:
        notices.append(f"-l {args.log_level}: gracebgpd's nearest log level is {level}")
    for dest, text in NOTICES.items():
        value = getattr(args, dest)
        if value not in (None, False):
            notices.append(text.format(value=value))
    return Options(config_file=args.config_file, config_type=args.config_type, log_level=level,
                   log_format=args.log_format or "text", check=args.check, preflight=args.preflight,
                   take_over=args.take_over, record=args.record, notices=tuple(notices))
