"""The clone's own company, whatever it is (the sample, or yours once you adopt Nudge), on a copy:
it validates, passes its own policy tests and can do a dry run. The only test that reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import ROOT, SAMPLE_PARTS, nudge


def test_this_clones_company_validates_passes_its_tests_and_dry_runs(tmp_path: Path) -> None:
    copy = tmp_path / "company"
    copy.mkdir()
    for part in SAMPLE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part)
        elif source.is_file():
            shutil.copy2(source, copy / part)
    validated = nudge("validate", "--root", str(copy))
    assert validated.code == 0, validated.out + validated.err
    if any((copy / "policies" / "tests").glob("*.yaml")):
        tested = nudge("test", "--root", str(copy))
        assert tested.code == 0, tested.out + tested.err
    dry = nudge("run", "--dry-run", "--root", str(copy), "--today", "2026-11-23")
    assert dry.code == 0, dry.out + dry.err
    assert dry.out.startswith("dry run:")
    assert not (copy / "log").exists() and not (copy / "outbox").exists()
