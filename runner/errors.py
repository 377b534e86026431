"""Problems a person can act on, and the one error type the CLI turns into a plain sentence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


class NudgeError(Exception):
    """A known failure: the CLI prints the message (no traceback) and exits 1."""

    exit_code = 1


class ConfigInvalid(NudgeError):
    """The repository does not validate; commands that send refuse to run."""

    exit_code = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of validation, pinned to a place in a file."""

    path: str
    line: int
    col: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}:{self.col}: {prefix}{self.message}"
