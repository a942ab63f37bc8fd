"""deploy/: what can be checked without systemd, a container builder or a cluster.

* The systemd unit: ``systemd-analyze verify`` finds nothing (where it is installed); it is
  ``Type=notify`` (test_sdnotify.py runs the daemon against a notification socket),
  reloads with ``--check`` then SIGHUP, and its state and runtime directories are
  gracebgpd's defaults, so neither the configuration nor ``gracebgp`` needs to name them.
* The Containerfile: hadolint finds nothing (where installed: the dev extra has it on
  x86-64 Linux); every file it copies exists and is not left out of the build context;
  it builds the wheel from the same files as tests/integration/test_install.py.
* The Kubernetes manifests parse; each node configuration in the ConfigMap passes
  ``--check``; the volumes are where the configurations put the state directory and the
  API socket; the probe and preStop commands are real ``gracebgp`` commands; and, against
  a running gracebgpd, the liveness command passes while a peer is down and the readiness
  command does not.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from gracebgp.config import GraceBGP, parse
from gracebgp.config.cmdline import parse_args

from .api_daemons import Pair, kill, start_pair, wait_until
from .test_examples import assert_checks
from .test_install import SOURCES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "gracebgpd.service"
CONTAINERFILE = DEPLOY / "Containerfile"
MANIFEST = DEPLOY / "kubernetes" / "gracebgp.yaml"
PRESTOP = DEPLOY / "kubernetes" / "prestop-drain.yaml"
CLI = [sys.executable, "-m", "gracebgp.cli.main"]
DEFAULTS = GraceBGP()


# --- systemd ------------------------------------------------------------------------


def unit_entries(path: Path) -> dict[str, list[tuple[str, str]]]:
    """systemd's ini dialect: sections of (key, value), keys may repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{path}: not key=value in a section: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(entries: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in entries if k == key]


def test_unit_is_notify_reloads_checked_and_uses_the_default_paths() -> None:
    service = unit_entries(UNIT)["Service"]
    one = dict(service)  # the last of repeated keys: only ExecReload repeats, read below
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    start = shlex.split(one["ExecStart"])
    assert start[0].endswith("/gracebgpd") and start[1] == "-f"
    assert values(service, "ExecReload") == [f"{shlex.join(start)} --check", "/bin/kill -HUP $MAINPID"]
    assert one["KillMode"] == "mixed" and one["KillSignal"] == "SIGTERM"
    assert int(one["TimeoutStopSec"]) >= 10
    assert one["Restart"] == "on-failure"
    assert set(one["RestartPreventExitStatus"].split()) == {"1", "2", "3"}  # 6 is worth a new start
    # gracebgpd's and gracebgp's defaults: nothing to repeat in the configuration.
    assert DEFAULTS.state_dir == f"/var/lib/{one['StateDirectory']}"
    assert str(PurePosixPath(DEFAULTS.api_socket).parent) == f"/run/{one['RuntimeDirectory']}"
    assert "CAP_NET_BIND_SERVICE" in one["AmbientCapabilities"]
    sysusers = (DEPLOY / "systemd" / "gracebgp-sysusers.conf").read_text()
    assert re.search(rf"^u {one['User']} ", sysusers, re.MULTILINE)
    assert "gracebgp restart" in UNIT.read_text()  # the lossless restart is documented there


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    daemon = Path(sys.executable).parent / "gracebgpd"
    if analyze is None or not daemon.exists():
        pytest.skip("systemd-analyze or an installed gracebgpd is not available here")
    # verify insists that ExecStart's program exists: this environment's gracebgpd.
    text = UNIT.read_text().replace("/opt/gracebgp/bin/gracebgpd", str(daemon))
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr


# --- the container image ----------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def copies(path: Path) -> list[tuple[int, list[str]]]:
    """(stage index, sources) of each COPY from the build context."""
    stage, out = -1, []
    for word, rest in instructions(path):
        if word == "FROM":
            stage += 1
        if word == "COPY":
            args = shlex.split(rest)
            if any(a.startswith("--from") for a in args):
                continue
            args = [a for a in args if not a.startswith("--")]
            out.append((stage, args[:-1]))
    return out


def test_containerfile_copies_what_exists_and_what_the_context_keeps() -> None:
    ignore = (DEPLOY / "Containerfile.dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, "the context is everything by default; the ignore file starts from nothing"
    found = copies(CONTAINERFILE)
    assert found, "no COPY"
    for _, sources in found:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
            assert source.rstrip("/") in kept, f"COPY {source}: left out of the build context"
    # The build stage builds the wheel from the files test_install builds it from.
    build = sorted(s.rstrip("/").removeprefix("./") for stage, srcs in found if stage == 0 for s in srcs)
    assert build == sorted(SOURCES)


def test_containerfile_runs_gracebgpd_from_its_virtualenv() -> None:
    steps = instructions(CONTAINERFILE)
    froms = [rest for word, rest in steps if word == "FROM"]
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG" and "=" in rest)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"docker\.io/library/python:3\.1[1-9]-slim-(bookworm|trixie)", base), base
    assert all(f.startswith("${PYTHON_IMAGE}") for f in froms) and len(froms) == 2
    run = " ".join(rest for word, rest in steps if word == "RUN")
    assert "python -m venv /opt/gracebgp" in run and "pip wheel" in run
    entry = [rest for word, rest in steps if word == "ENTRYPOINT"]
    assert entry == ['["/opt/gracebgp/bin/gracebgpd"]']
    assert ("STOPSIGNAL", "SIGTERM") in steps
    assert ("VOLUME", f'["{DEFAULTS.state_dir}"]') in steps


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (the dev extra has it on x86-64 Linux)")
    r = subprocess.run([hadolint, str(CONTAINERFILE)], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 0 and not r.stdout.strip(), r.stdout + r.stderr


# --- Kubernetes ---------------------------------------------------------------------------


def manifest() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    return {d["kind"]: d for d in docs}


def container(ds: dict[str, Any]) -> dict[str, Any]:
    (c,) = ds["spec"]["template"]["spec"]["containers"]
    return dict(c)


def node_configs() -> dict[str, str]:
    data = manifest()["ConfigMap"]["data"]
    assert data and all(k.endswith(".toml") for k in data)
    return dict(data)


@pytest.mark.parametrize("key", sorted(node_configs()))
def test_configmap_node_configuration_passes_check(key: str,
                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    where = Path(tmp_path_factory.mktemp("cm"))
    path = where / key
    path.write_text(node_configs()[key])
    assert_checks(path, where)


def test_daemonset_volumes_args_and_update_strategy() -> None:
    ds = manifest()["DaemonSet"]
    spec = ds["spec"]["template"]["spec"]
    c = container(ds)
    assert spec["hostNetwork"] is True
    assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 1, "maxSurge": 0}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["config"]["configMap"]["name"] == manifest()["ConfigMap"]["metadata"]["name"]
    assert c["args"] == ["-f", f"{mounts['config']}/$(NODE_NAME).toml"]
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in c["env"]
    assert volumes["state"]["hostPath"]["path"] == mounts["state"]
    for key, text in node_configs().items():
        g = parse(text, key).gracebgp
        assert g.state_dir == mounts["state"], f"{key}: state-dir is not on the hostPath volume"
        assert str(PurePosixPath(g.api_socket).parent) == mounts["run"], key
        assert g.api_socket == DEFAULTS.api_socket, f"{key}: the probes use gracebgp's default socket"
        if g.metrics_listen is not None:  # the port the pod declares and Prometheus is told
            port = g.metrics_listen.rpartition(":")[2]
            assert {"name": "metrics", "containerPort": int(port), "protocol": "TCP"} in c["ports"], key
            assert ds["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == port, key
    sc = c["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert sc["readOnlyRootFilesystem"] is True


TAKEOVER = DEPLOY / "kubernetes" / "takeover-rollout.yaml"
TAKEOVER_LINGER = DEPLOY / "kubernetes" / "takeover-linger.yaml"  # step 1, rolled out first


def _json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 add / replace / remove, as kubectl applies them (the ops the patch uses)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = op["path"].strip("/").split("/")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if op["op"] == "remove":
            del target[last]  # KeyError: the patch names what is not there (kubectl fails too)
        elif op["op"] == "add" and last == "-":
            target.append(op["value"])
        elif op["op"] in ("add", "replace"):
            assert op["op"] == "add" or last in target, op
            target[last] = op["value"]
        else:
            raise AssertionError(f"unexpected op {op}")
    return doc


def test_takeover_rollout_patch_surges_and_takes_the_sessions_over() -> None:
    """Step 1 (the linger variable) on its own changes nothing else: rolled out the usual
    way, it puts GRACEBGPD_AFTER_TAKE_OVER=wait into the pods the first take-over rollout
    replaces (review of issue 19, item 11: else they exit, the kubelet restarts them, and
    they race the taker for the state directory). Step 2 then surges and takes over."""
    before = manifest()["DaemonSet"]
    linger = _json_patch(before, yaml.safe_load(TAKEOVER_LINGER.read_text()))
    c = container(linger)
    assert c["env"].count({"name": "GRACEBGPD_AFTER_TAKE_OVER", "value": "wait"}) == 1
    assert not parse_args(c["args"], "0").take_over
    assert linger["spec"]["updateStrategy"] == before["spec"]["updateStrategy"]
    ds = _json_patch(linger, yaml.safe_load(TAKEOVER.read_text()))
    assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    c = container(ds)
    assert "ports" not in c  # host ports would keep the surge pod Pending
    assert c["env"].count({"name": "GRACEBGPD_AFTER_TAKE_OVER", "value": "wait"}) == 1
    opts = parse_args(c["args"], "0")
    assert opts.take_over and str(opts.config_file).endswith("$(NODE_NAME).toml")


def probe(c: dict[str, Any], name: str) -> list[str]:
    command = c[name]["exec"]["command"]
    assert command[0] == "gracebgp", command
    return list(command[1:])


def test_probes_and_prestop_are_real_commands() -> None:
    c = container(manifest()["DaemonSet"])
    live, ready, start = probe(c, "livenessProbe"), probe(c, "readinessProbe"), probe(c, "startupProbe")
    assert "health" not in live and "health" not in start, "liveness must not depend on the peers"
    assert "health" in ready
    patch = yaml.safe_load(PRESTOP.read_text())
    (pc,) = patch["spec"]["template"]["spec"]["containers"]
    assert pc["name"] == c["name"]
    prestop = pc["lifecycle"]["preStop"]["exec"]["command"]
    assert prestop[:3] == ["gracebgp", "drain", "--wait"]
    grace = patch["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    for key, text in node_configs().items():
        assert grace >= parse(text, key).gracebgp.drain_delay + 20, key
    for argv in (live, ready, start, prestop[1:]):
        r = subprocess.run([*CLI, *argv, "--help"], capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 0, f"gracebgp {shlex.join(argv)}: {r.stderr}"


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    yield from start_pair()


def run_probe(argv: list[str], socket: Path) -> int:
    env = {**os.environ, "GRACEBGP_SOCKET": str(socket)}
    return subprocess.run([*CLI, *argv], capture_output=True, timeout=60, check=False, env=env).returncode


def test_liveness_passes_with_a_peer_down_readiness_does_not(pair: Pair) -> None:
    c = container(manifest()["DaemonSet"])
    live, ready = probe(c, "livenessProbe"), probe(c, "readinessProbe")
    a = pair.a.socket
    assert run_probe(live, a) == 0 and run_probe(ready, a) == 0  # Established, nothing to report
    kill(pair.b)  # A's only peer is gone
    wait_until("A's readiness fails with its peer down", lambda: run_probe(ready, a) == 1)
    assert run_probe(live, a) == 0, "liveness must pass while a peer is down"
    os.kill(pair.a.proc.pid, 9)
    pair.a.proc.wait(timeout=10)
    assert run_probe(live, a) != 0, "liveness must fail when the API does not answer"
