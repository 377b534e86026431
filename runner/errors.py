"""Problems a person can act on, and the one error type the CLI turns into a plain sentence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


class NudgeError(Exception):
    """A known failure: the CLI prints the message (no traceback) and exits 1."""

    exit_code = 1


class ConfigInvalid(NudgeError):
    """The repository does not validate: every command refuses it, with exit 1, or 2 from a
    command that would send (so a workflow tells "nothing was sent" from a failed send)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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
