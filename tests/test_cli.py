"""The command line as a whole: start-up stays light, errors stay human."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, nudge

PROBE = (
    "import sys, runner.main\n"
    "try:\n    code = runner.main.main(sys.argv[1:])\n"
    "except SystemExit as exit:\n    code = exit.code\n"
    "heavy = [m for m in ('jinja2', 'twilio', 'aiosmtplib', 'holidays', 'babel', 'yaml')"
    " if m in sys.modules]\n"
    "print('LOADED', ','.join(heavy), file=sys.stderr)\n"
)


def loaded_modules(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED"))
    return [m for m in line.split(" ", 1)[1].split(",") if m]


def test_help_imports_nothing_heavy() -> None:
    assert loaded_modules("--help") == []


def test_a_run_to_the_outbox_never_loads_twilio(sample: Path) -> None:
    loaded = loaded_modules("run", "--root", str(sample), "--today", "2026-11-23")
    assert "twilio" not in loaded and "aiosmtplib" not in loaded
    assert "jinja2" in loaded  # it did render the messages


def test_unknown_root_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    result = nudge("plan", "--root", str(tmp_path / "nowhere"))
    assert result.code == 1
    assert "is not a directory" in result.err and "Traceback" not in result.err


def test_invalid_repository_stops_run_with_exit_2(sample: Path) -> None:
    (sample / "customers" / "acme.yaml").write_text("id: acme\n")
    result = nudge("run", "--root", str(sample), "--today", "2026-11-23")
    assert result.code == 2
    assert "nothing was done" in result.err
    assert not (sample / "log").exists() and not (sample / "outbox").exists()


def test_dry_run_writes_nothing(sample: Path) -> None:
    result = nudge("run", "--root", str(sample), "--today", "2026-11-23", "--dry-run")
    assert result.code == 0
    assert result.out.startswith("dry run: 11 messages would be sent (2026-11-23)")
    assert not (sample / "log").exists() and not (sample / "outbox").exists()
