"""The corpus of broken repositories: `nudge validate` must say precisely what is wrong, and where.

tests/corpus/_base is a small valid repository. Every other folder there is one case: its files
are laid over a copy of _base (same relative paths) and its expected.txt lists exactly the
problem lines (`path:line:col: message`) that validate must print, no more and no fewer.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import nudge

CORPUS = Path(__file__).resolve().parent / "corpus"
BASE = CORPUS / "_base"
SUMMARY = re.compile(r"^\d+ errors? in \d+ files? \(.*\)$")
ANNOTATION = re.compile(r"^::(error|warning) file=[^,]+,line=\d+,col=\d+::.+$")


def _huge_export(repo: Path) -> None:
    """A valid-looking invoices export padded to 5 MiB (generated: never committed)."""
    target = 5 * 1024 * 1024
    head = "# Exported from the accounting system.\ninvoices:\n"
    item = (
        "  - id: INV-{n}\n"
        "    customer: acme\n"
        '    description: "Consulting, {pad}"\n'
        "    issued: 2026-10-01\n"
        "    due: 2026-10-31\n"
        '    amount: "100.00"\n'
    )
    parts = [head]
    size = len(head)
    n = 100000
    while size < target:
        chunk = item.format(n=n, pad="x" * 200)
        parts.append(chunk)
        size += len(chunk)
        n += 1
    text = "".join(parts)
    path = repo / "invoices" / "2026" / "export-2026-10.yaml"
    path.write_text(text, encoding="utf-8")
    with path.open("r+b") as handle:  # exactly 5 MiB: trim the padding of the last item
        handle.truncate(target)


GENERATED: dict[str, Callable[[Path], None]] = {"huge-file": _huge_export}

CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))


def build(case: str, target: Path) -> Path:
    """A copy of _base with the case's files laid over it."""
    repo = target / "repo"
    shutil.copytree(BASE, repo)
    folder = CORPUS / case
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() or rel.as_posix() == "expected.txt":
            continue
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, repo / rel)
    if case in GENERATED:
        GENERATED[case](repo)
    return repo


def expected(case: str) -> list[str]:
    text = (CORPUS / case / "expected.txt").read_text(encoding="utf-8")
    return sorted(line for line in text.splitlines() if line.strip())


def printed(out: str, err: str) -> list[str]:
    """Every problem line printed, the closing summary line on stderr left out."""
    err_lines = [line for line in err.splitlines() if line.strip()]
    if err_lines and SUMMARY.match(err_lines[-1]):
        err_lines = err_lines[:-1]
    return sorted([line for line in out.splitlines() if line.strip()] + err_lines)


def test_corpus_has_the_cases() -> None:
    assert len(CASES) >= 35
    for case in CASES:
        assert (CORPUS / case / "expected.txt").is_file(), f"{case} has no expected.txt"


def test_base_repository_is_valid(tmp_path: Path) -> None:
    repo = shutil.copytree(BASE, tmp_path / "repo")
    result = nudge("validate", "--root", str(repo))
    assert result.code == 0, result.out + result.err
    assert result.out.startswith("valid: 2 customers, 3 invoices, 1 policy")
    assert result.err == ""


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_validate_names_the_problem(case: str, tmp_path: Path) -> None:
    repo = build(case, tmp_path)
    result = nudge("validate", "--root", str(repo))
    both = result.out + result.err
    assert "Traceback" not in both, both
    assert printed(result.out, result.err) == expected(case), both
    assert result.code == 1, both


def test_github_annotations_are_single_well_formed_lines(tmp_path: Path) -> None:
    repo = build("unknown-key-dew", tmp_path)
    # A file name with a comma and a colon, and a message that would carry a newline.
    awkward = repo / "invoices" / "2026" / "INV-5, copy: v2.yaml"
    awkward.write_text(
        'id: INV-5\ncustomer: acme\nissued: 2026-09-01\ndue: 2026-10-01\namount: "10,00"\n'
        '"note\\nsecond line": 1\n',
        encoding="utf-8",
    )
    (repo / "templates" / "final" / "en.email.j2").write_text(
        '{% extends "_layout/email.j2" %}\n{% block subject %}{{ invoices[0].id }{% endblock %}\n',
        encoding="utf-8",
    )
    result = nudge("validate", "--root", str(repo), "--format", "github")
    assert "Traceback" not in result.out + result.err, result.out + result.err
    assert result.code == 1, result.out + result.err
    lines = result.out.splitlines()
    assert len(lines) >= 4, result.out
    for line in lines:
        assert ANNOTATION.match(line), line
        assert "\r" not in line, line
    awkward_lines = [line for line in lines if "INV-5" in line]
    assert awkward_lines, result.out
    for line in awkward_lines:
        assert "file=invoices/2026/INV-5%2C copy%3A v2.yaml," in line, line
    assert any("note%0Asecond line" in line for line in awkward_lines), result.out
