"""The narrow views of the Speaker that its parts are handed (DESIGN.md rule 1: the Speaker
owns all routing state; its parts change it through these, never through the whole
Speaker). Each part names what it uses in a Protocol of its own, built from these two;
the Speaker is one of each. None of them imports ``core.speaker``: the Speaker sits on
top of ``core`` and nothing below it knows its class (the import-linter contract
"core's modules, top to bottom" keeps it so).
"""

from __future__ import annotations

from typing import Any, Protocol

from gracebgp.core import events as ev
from gracebgp.core.peer import Peer


class Emits(Protocol):
    """Outputs of the input being handled: any output, or a log line."""

    def emit(self, output: ev.Output) -> None: ...

    def log(self, level: str, message: str, peer: Peer | None = None, subsystem: str = "session",
            event: str = "", **fields: Any) -> None: ...


class Peers(Protocol):
    """The configured peers by address."""

    @property
    def peers(self) -> dict[str, Peer]: ...
