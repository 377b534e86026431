"""Shared fixtures: copies of the test company, and running the CLI as a user would.

Tests never read the clone's own company (settings.yaml, customers/, invoices/, policies/,
templates/, log/ at the top): a company that adopts Nudge replaces those. They use the test
company under tests/fixtures/company, always copied to a temporary folder first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "company"
VENDOR = ROOT / "tests" / "vendor"  # what tests need from outside, each with its SOURCE.md
IBM_CSV = VENDOR / "ibm-accounts-receivable" / "WA_Fn-UseC_-Accounts-Receivable.csv"
SAMPLE_PARTS = ("settings.yaml", "customers", "invoices", "policies", "templates")


@dataclass
class Result:
    code: int
    out: str
    err: str


def copy_sample(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for part in SAMPLE_PARTS:
        source = FIXTURE / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        else:
            shutil.copy2(source, target / part)
    return target


# Load snapshots go to a directory of the test run's own, never the user's cache; set on import,
# before any test module loads a repository.
os.environ["NUDGE_CACHE_DIR"] = tempfile.mkdtemp(prefix="nudge-test-cache-")
os.environ.pop("NUDGE_TODAY", None)  # a date in the developer's shell must not leak in
# Nor CI's own environment: tests that mean CI say so (CI=true in the env they pass), and a
# commit's author is the test repository's configured person, not a runner's identity.
for _name in list(os.environ):
    if _name in ("CI", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE") or _name.startswith(
        ("GITHUB_", "GIT_AUTHOR_", "GIT_COMMITTER_", "RUNNER_")
    ):
        os.environ.pop(_name)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A private copy of the test company (tests may change it)."""
    return copy_sample(tmp_path / "repo")


def nudge(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> Result:
    """Run the real CLI in a subprocess, as a user or CI would."""
    import os

    done = subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd or ROOT / "tests",  # not the clone's own company: tests pass --root
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return Result(done.returncode, done.stdout, done.stderr)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def git_repo(path: Path, author: str = "Ada Finance") -> Path:
    """A git repository holding a copy of the test company, committed by `author`."""
    copy_sample(path)
    for name in (".gitattributes", ".gitignore"):
        (path / name).write_text((ROOT / name).read_text())
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", author)
    git(path, "config", "user.email", "ada@example.com")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "the sample company")
    return path
