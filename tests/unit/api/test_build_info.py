"""``gracebgp_build_info`` in the metrics (api/metrics.py): which gracebgp runs, on which
Python, as a constant-1 gauge whose labels carry the facts; the version is the package's,
the one ``gracebgpd --version`` and GetGlobal report."""

from __future__ import annotations

import platform
from importlib.metadata import version

from prometheus_client.parser import text_string_to_metric_families

from gracebgp import __version__
from gracebgp.api import metrics
from gracebgp.api.service import DaemonInfo
from gracebgp.config.model import Global
from gracebgp.core.speaker import Speaker


def test_build_info_names_the_version_and_python() -> None:
    speaker = Speaker(65001, "192.0.2.1")
    info = DaemonInfo(__version__, "node", 0.0, 179, ("192.0.2.1",), "retain", True,
                      Global(asn=65001, router_id="192.0.2.1"))
    text = metrics.render(metrics.registry_for(speaker, info, lambda: 1.0)).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    build = families["gracebgp_build_info"]
    assert build.type == "gauge"
    assert [(s.labels, s.value) for s in build.samples] == [
        ({"version": __version__, "python": platform.python_version()}, 1.0)]


def test_the_version_is_the_installed_distribution_s() -> None:
    # pyproject.toml reads the version from gracebgp.__version__: one source.
    assert version("gracebgp") == __version__
