"""gracebgp: a BGP speaker whose restarts, upgrades and drains never drop traffic.

As a library::

    from gracebgp import Speaker           # the sans-IO core: handle(input, now) -> commands
    from gracebgp.wire import decode_message, encode_message   # the codec alone
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Speaker", "__version__"]

if TYPE_CHECKING:
    from gracebgp.core.speaker import Speaker


def __getattr__(name: str) -> Any:
    # Imported on first use so that codec-only users do not load the whole speaker.
    if name == "Speaker":
        from gracebgp.core.speaker import Speaker  # noqa: PLC0415

        return Speaker
    raise AttributeError(f"module 'gracebgp' has no attribute {name!r}")
