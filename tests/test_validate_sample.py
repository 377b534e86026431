"""The sample repository is the newcomer's first impression: it must validate clean."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, nudge


def test_sample_repository_validates_with_one_line() -> None:
    result = nudge("validate", "--root", str(ROOT))
    assert result.code == 0, result.out + result.err
    assert result.out.startswith("valid: 8 customers, 30 invoices, 3 policies")
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


def test_every_sample_file_points_editors_at_its_schema() -> None:
    files = [
        ROOT / "settings.yaml",
        *ROOT.glob("customers/*.yaml"),
        *ROOT.glob("invoices/**/*.yaml"),
        *ROOT.glob("policies/*.yaml"),
    ]
    assert len(files) > 30
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        schema = (path.parent / first.split("=", 1)[1]).resolve()
        assert schema.is_file(), f"{path}: {schema} does not exist"


def test_schema_command_prints_the_shipped_schema() -> None:
    result = nudge("schema", "invoice")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "due" in schema["$defs"]["invoice"]["required"]
