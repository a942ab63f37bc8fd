#!/usr/bin/env python3
"""Print (or write) the OpenAPI document of the gracebgpd API, docs/openapi.json.

The document comes from ``gracebgp.api.server.build_app`` itself, built around an idle
Speaker (no sockets, no daemon), so it is exactly what a running gracebgpd serves at
``/openapi.json``. After changing the API (schema.py, server.py) regenerate it::

    python tools/openapi.py > docs/openapi.json

``tests/integration/test_api.py`` fails while the committed file differs from what the
daemon serves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


async def _document() -> dict[str, Any]:
    from gracebgp import __version__
    from gracebgp.api.server import build_app
    from gracebgp.api.service import DaemonInfo
    from gracebgp.config import parse
    from gracebgp.core.speaker import Speaker
    from gracebgp.runtime.owner import Owner

    cfg = parse('[global.config]\nas = 64512\nrouter-id = "192.0.2.1"\n', "<openapi>")
    speaker = Speaker(cfg.global_.asn, cfg.global_.router_id)
    owner = Owner(speaker, [])
    loop = asyncio.get_running_loop()
    info = DaemonInfo(__version__, "openapi", loop.time(), cfg.global_.port, (), "retain", True, cfg.global_)
    return build_app(owner, info, None).openapi()


def document() -> dict[str, Any]:
    """The OpenAPI document as a dict (the same one ``GET /openapi.json`` answers)."""
    return asyncio.run(_document())


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("-o", "--output", type=Path, help="write to this file instead of standard output")
    args = ap.parse_args(argv)
    text = render()
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
