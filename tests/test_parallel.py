"""Reading in two processes gives exactly what one process gives: the same invoices, problems
and rejections, in the same order, with duplicates caught across the two halves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner import parallel, repository

from conftest import copy_sample

DUPLICATED = "INV-1002"  # the first sample invoice file: its id is used again in the second half


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NUDGE_CACHE_DIR", "off")
    root = copy_sample(tmp_path / "repo")
    invoices = sorted((root / "invoices").rglob("INV-*.yaml"))
    first, last = invoices[0], invoices[-2]
    assert first.stem == DUPLICATED
    # an id used in the first half again in the second, a bad date, a file that is not YAML
    (root / "invoices" / "2026" / "INV-9999.yaml").write_text(first.read_text())
    last.write_text(last.read_text().replace("due: ", "due: 2026-02-30\nold_due: "))
    (root / "invoices" / "2026" / "INV-5000.yaml").write_text("id: [unclosed\n")
    # customers too (read in halves as well): an id used again in the second half, and one
    # whose phone number is no number
    acme = (root / "customers" / "acme.yaml").read_text()
    (root / "customers" / "zz-acme.yaml").write_text(acme)
    (root / "customers" / "zz-phone.yaml").write_text(
        acme.replace("id: acme", "id: zz-phone").replace('"+1 212 555 0143"', '"+1 212"')
    )
    return root


def load(root: Path, processes: str, monkeypatch: pytest.MonkeyPatch) -> repository.Loaded:
    monkeypatch.setenv("NUDGE_PROCESSES", processes)
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 2)
    return repository.load(root)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_two_processes_read_what_one_reads(broken: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = load(broken, "1", monkeypatch)
    two = load(broken, "2", monkeypatch)
    assert parallel._cores() >= 2, "this machine has two cores: the second run used a fork"
    assert two.repo == one.repo
    assert two.problems == one.problems
    assert two.rejected == one.rejected
    assert list(two.sources) == list(one.sources)
    messages = "\n".join(str(p) for p in two.problems)
    assert "invalid YAML" in messages and "INV-5000.yaml" in messages
    assert "2026-02-30" in messages
    assert f"INV-9999.yaml:2:5: duplicate invoice id '{DUPLICATED}': already used in " in messages
    assert "zz-acme.yaml:2:5: duplicate customer id 'acme': already used in " in messages
    assert "zz-phone.yaml" in messages and "zz-phone" in two.rejected["customer"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_failure_in_the_second_process_is_raised_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 2)
    monkeypatch.delenv("NUDGE_PROCESSES", raising=False)

    def work(items: list[int]) -> int:
        if 3 in items:
            raise ValueError("item 3 is bad")
        return sum(items)

    assert parallel.halves([1, 2, 4, 5], work) == [3, 9]
    with pytest.raises(RuntimeError, match="item 3 is bad"):
        parallel.halves([1, 2, 3, 4], work)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("cache", ["off", "folder"])
def test_templates_tried_in_two_processes_find_what_one_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: str
) -> None:
    """Renders, and with a bytecode cache the compiling too (the copy's share read back from the
    cache), done in two processes: the same problems, a syntax error wherever it was compiled."""
    from runner import checks

    root = copy_sample(tmp_path / "repo")
    danish = root / "templates" / "gentle-tier-1" / "da.email.j2"
    danish.write_text(
        danish.read_text().replace("{% block content %}", "{% block content %}{{ 1 / 0 }}")
    )
    broken = ["templates/call/pl.task.j2", "templates/final-notice/en.letter.j2"]
    for name in broken:  # a short one and a long one: one compiled by each process
        path = root / name
        path.write_text(path.read_text() + "\n{% if unclosed %}\n")
    loaded = repository.load(root)
    monkeypatch.setattr(checks, "PARALLEL_RENDERS", 2)
    found = []
    names = sorted(loaded.repo.templates)
    for processes, meanwhile in (("1", False), ("2", False), ("2", True)):
        folder = tmp_path / f"cache-{processes}-{meanwhile}"
        monkeypatch.setenv("NUDGE_CACHE_DIR", "off" if cache == "off" else str(folder))
        monkeypatch.setenv("NUDGE_PROCESSES", processes)
        compiled = False
        if meanwhile:  # compiled by a copy started as a cold load does (checks.Precompiling)
            compiling = checks.Precompiling(root)
            compiling.start(names, checks.PRECOMPILE_FROM)
            compiled = compiling.compiled()
            assert compiled == (cache == "folder"), "a copy compiles only into a cache"
            small = checks.Precompiling(root)  # a small load is over before a copy would be
            small.start(names, checks.PRECOMPILE_FROM - 1)
            assert not small.compiled()
        found.append(sorted(checks.templates(loaded, root, compiled)))
    one, two, precompiled = found
    assert one == two == precompiled
    assert [p.path for p in one] == sorted(["templates/gentle-tier-1/da.email.j2", *broken])
    assert "division by zero" in next(p.message for p in one if "da.email" in p.path)
    assert all("Unexpected end of template" in p.message for p in one if p.path in broken)
    if cache == "folder":  # what the copy compiled came back through the cache
        for meanwhile in (False, True):
            plain = tmp_path / f"cache-2-{meanwhile}" / "jinja-plain"
            assert len(list(plain.iterdir())) >= 100
