"""The habits CI holds the code to: ruff (lint and format) and mypy with typed definitions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_is_clean() -> None:
    done = run(str(BIN / "ruff"), "check", "runner", "tests", "tools", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_clean() -> None:
    done = run(str(BIN / "ruff"), "format", "--check", "runner", "tests", "tools", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_passes_with_untyped_definitions_refused() -> None:
    done = run(sys.executable, "-m", "mypy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout
