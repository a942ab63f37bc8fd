"""gobgpd's command line starts gracebgpd (issue 15, item 7): the seed's
``gobgpd -f bgp-graceful.conf -l debug -p -r`` with the binary's name changed, and the
same with JSON log lines. Loopback only: the BGP port is off (port = -1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from .test_daemon import gracebgpd, wait_for

CONF = """\
[global.config]
  as = 65001
  router-id = "192.168.128.132"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.2"
    peer-as = 65001
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 30
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
[gracebgp]
  state-dir = "{dir}/state"
  api-socket = "{dir}/api.sock"
"""


@pytest.mark.parametrize("log_args", [["-p"], ["--log-format", "json"]])
def test_the_seed_command_line_starts(tmp_path: Path, log_args: list[str]) -> None:
    conf = tmp_path / "bgp-graceful.conf"
    conf.write_text(CONF.format(dir=tmp_path))
    log = tmp_path / "gracebgpd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(gracebgpd("-f", str(conf), "-l", "debug", *log_args, "-r"),
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        text = wait_for(log, "API on unix:")
        assert "gobgpd option accepted: -r/--graceful-restart" in text
        assert "start: cold start, R=0" in text
        if log_args != ["-p"]:
            lines = [json.loads(line) for line in text.splitlines()]
            assert any(line.get("event") == "gobgpd-option" for line in lines)
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
