"""A company's repository validates in one line, and its files point editors at their schemas.
Checked on the test company (the clone's own sample is checked by `nudge validate` in .ci/run:
a company that adopts Nudge replaces it)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXTURE, ROOT, nudge


def test_a_valid_repository_validates_with_one_line(sample: Path) -> None:
    result = nudge("validate", "--root", str(sample))
    assert result.code == 0, result.out + result.err
    customers = len(list(sample.glob("customers/*.yaml")))
    assert result.out.startswith(f"valid: {customers} customers, ")
    assert " invoices, 3 policies, " in result.out
    assert len(result.out.strip().splitlines()) == 1
    assert result.err == ""


def test_json_format_is_a_document(sample: Path) -> None:
    (sample / "customers" / "acme.yaml").write_text("id: acme\n")
    result = nudge("validate", "--root", str(sample), "--format", "json")
    assert result.code == 1
    data = json.loads(result.out)
    assert data["valid"] is False
    assert {
        "file": "customers/acme.yaml",
        "line": 1,
        "col": 1,
        "severity": "error",
        "message": "missing required key 'name'",
    } in data["problems"]


def test_every_company_file_points_editors_at_its_schema() -> None:
    """Each file names its schema relative to where it sits in a clone (the company's folders
    beside runner/), so an editor finds it: the test company's files, placed as in a clone."""
    files = [
        FIXTURE / "settings.yaml",
        *FIXTURE.glob("customers/*.yaml"),
        *FIXTURE.glob("invoices/**/*.yaml"),
        *FIXTURE.glob("policies/*.yaml"),
    ]
    assert len(files) > 30
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        placed = ROOT / path.relative_to(FIXTURE)
        schema = (placed.parent / first.split("=", 1)[1]).resolve()
        assert schema.is_file(), f"{path}: {schema} does not exist"


def test_schema_command_prints_the_shipped_schema() -> None:
    result = nudge("schema", "invoice")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "due" in schema["$defs"]["invoice"]["required"]
