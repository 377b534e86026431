"""Shared fixtures: copies of the sample repository, and running the CLI as a user would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PARTS = ("settings.yaml", "customers", "invoices", "policies", "templates")


@dataclass
class Result:
    code: int
    out: str
    err: str


def copy_sample(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for part in SAMPLE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        else:
            shutil.copy2(source, target / part)
    return target


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A private copy of the sample repository (tests may change it)."""
    return copy_sample(tmp_path / "repo")


def nudge(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> Result:
    """Run the real CLI in a subprocess, as a user or CI would."""
    import os

    done = subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return Result(done.returncode, done.stdout, done.stderr)
