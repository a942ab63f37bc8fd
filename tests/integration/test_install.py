"""The documented install (README "Install", docs/deploy.md): build the wheel from the
sources, install it into a fresh virtualenv (its dependencies come from the package
index), and use what it installed: ``gracebgpd --version``, ``gracebgpd --check`` of an
example, the ``gracebgp`` command, then a real start with a notification socket, the CLI
against it, ``gracebgp restart`` (the re-execution of an installed console script, same
PID) and ``gracebgp stop``.

About 15-60 s (most of it pip); marked ``install`` (``pytest -m "not install"`` leaves it
out). It needs the package index, or a pip cache or configuration that has the
dependencies.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gracebgp import __version__

from .api_daemons import free_port
from .test_examples import EXAMPLES, assert_checks

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
#: What the wheel is built from (deploy/Containerfile's build stage copies the same).
SOURCES = ("LICENSE", "README.md", "pyproject.toml", "src")
WHEEL = f"gracebgp-{__version__}-py3-none-any.whl"


def run(argv: list[str], timeout: float = 600, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env,
                          cwd=cwd)


def clean_env() -> dict[str, str]:
    """Nothing of this test's interpreter leaks into the new virtualenv's programs."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with the wheel built from SOURCES installed; its bin directory."""
    top = Path(tmp_path_factory.mktemp("install"))
    tree = top / "tree"
    tree.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, tree / name)
    dist = top / "dist"
    r = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(tree)], cwd=top)
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = sorted(p.name for p in dist.iterdir())
    assert wheels == [WHEEL]
    check_wheel(dist / WHEEL)
    env = top / "venv"
    r = run([sys.executable, "-m", "venv", str(env)], env=clean_env())
    assert r.returncode == 0, r.stderr
    r = run([str(env / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
             str(dist / WHEEL)], env=clean_env())
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    yield env / "bin"


def check_wheel(path: Path) -> None:
    with zipfile.ZipFile(path) as whl:
        names = whl.namelist()
        meta = whl.read(f"gracebgp-{__version__}.dist-info/METADATA").decode()
        entry_points = whl.read(f"gracebgp-{__version__}.dist-info/entry_points.txt").decode()
    assert f"gracebgp-{__version__}.dist-info/licenses/LICENSE" in names
    assert "License-Expression: Apache-2.0" in meta and f"Version: {__version__}" in meta
    assert not [n for n in names if n.startswith(("tests/", "bench/", "tools/"))]
    for script in ("gracebgpd = gracebgp.daemon:main", "gracebgp = gracebgp.cli.main:main"):
        assert script in entry_points


def test_installed_commands_run(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    env = clean_env()
    r = run([str(venv / "gracebgpd"), "--version"], env=env)
    assert r.returncode == 0 and r.stdout.strip() == f"gracebgpd {__version__}", r.stdout + r.stderr
    r = run([str(venv / "gracebgp"), "--version"], env=env)
    assert r.returncode == 0 and r.stdout.strip() == f"gracebgp {__version__}"
    r = run([str(venv / "gracebgp"), "--help"], env=env)
    assert r.returncode == 0 and "restart" in r.stdout and "health" in r.stdout
    r = run([str(venv / "gracebgp-wiredump"), "--help"], env=env)
    assert r.returncode == 0, r.stderr
    # The installed code is what runs: not this checkout's.
    r = run([str(venv / "python"), "-c", "import gracebgp; print(gracebgp.__file__)"], env=env)
    assert str(venv.parent) in r.stdout and str(ROOT / "src") not in r.stdout
    where = Path(tmp_path_factory.mktemp("chk"))
    line = assert_checks(EXAMPLES / "kubernetes-node.toml", where, [str(venv / "gracebgpd")])
    assert line.endswith("configuration OK (2 neighbors, 5 routes)")


def notification(sock: socket.socket) -> dict[str, str]:
    sock.settimeout(60)
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.split("\n"))


def test_installed_daemon_starts_restarts_in_place_and_stops(venv: Path) -> None:
    state = Path(tempfile.mkdtemp(prefix="gbi", dir="/tmp"))  # short: socket paths <= 107 bytes
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(state / "notify"))
    port = free_port("127.0.0.1")
    conf = state / "gracebgpd.toml"
    conf.write_text(f'[global.config]\nas = 65001\nrouter-id = "192.0.2.1"\nport = {port}\n'
                    'local-address-list = ["127.0.0.1"]\n'
                    '[[neighbors]]\n[neighbors.config]\nneighbor-address = "127.0.0.30"\npeer-as = 65002\n'
                    '[neighbors.transport.config]\npassive-mode = true\n'
                    f"[gracebgp]\nstate-dir = '{state}'\napi-socket = '{state / 'api.sock'}'\n")
    env = {**clean_env(), "NOTIFY_SOCKET": str(state / "notify")}
    cli = [str(venv / "gracebgp"), "--socket", str(state / "api.sock")]
    with (state / "log").open("wb") as log:
        proc = subprocess.Popen([str(venv / "gracebgpd"), "-f", str(conf)], stdout=log,
                                stderr=subprocess.STDOUT, env=env)
    try:
        assert notification(notify)["MAINPID"] == str(proc.pid)
        r = run([*cli, "global"], env=env)
        assert r.returncode == 0 and "65001" in r.stdout, r.stdout + r.stderr
        r = run([*cli, "restart", "--wait"], env=env)
        assert r.returncode == 0, r.stderr
        assert notification(notify)["RELOADING"] == "1"
        back = notification(notify)
        assert back["READY"] == "1" and back["MAINPID"] == str(proc.pid) and proc.poll() is None
        r = run([*cli, "stop", "--withdraw"], env=env)
        assert r.returncode == 0, r.stderr
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        notify.close()
        shutil.rmtree(state, ignore_errors=True)
