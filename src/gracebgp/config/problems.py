"""Configuration errors that point at the file, line and key an operator has to fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gracebgp.errors import GraceBGPError


@dataclass(frozen=True, slots=True, order=True)
class ConfigProblem:
    """One thing wrong with a configuration file.

    ``line`` is 1-based; 0 means the problem concerns the whole file (it could not be
    read). ``key`` is a key path such as ``neighbors[1].timers.config.hold-time``, or
    ``(syntax)`` for a TOML syntax error, or ``""`` when no key applies.
    """

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(GraceBGPError):
    """A configuration that cannot be used; ``problems`` lists every reason, in file order.

    ``str(error)`` is one ``FILE:LINE: KEY: MESSAGE`` line per problem.
    """

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(
            sorted(set(problems), key=lambda p: (p.file, p.line, p.key, p.message)))
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.problems)!r})"
