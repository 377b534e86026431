"""The load snapshot: a second command on unchanged files skips reading them, and any change
to any file (even one that keeps its size and modification time) is read again."""

from __future__ import annotations

import os
import stat
import time
from decimal import Decimal
from pathlib import Path

import pytest

from runner import repository, snapshot, yamlload
from runner.errors import NudgeError

from conftest import copy_sample, nudge

HOUR_NS = 3600 * 10**9


def aged(root: Path) -> Path:
    """Files last changed an hour ago, as in a checkout: old enough to be snapshotted."""
    past = time.time_ns() - HOUR_NS
    for path in root.rglob("*"):
        os.utime(path, ns=(past, past))
    return root


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    return aged(copy_sample(tmp_path / "repo"))


def snapshots(root: Path) -> list[Path]:
    return sorted((root.parent / "cache").rglob("*.pickle"))


def no_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path, rel: str) -> str:
        raise AssertionError(f"{rel} was read again")

    monkeypatch.setattr(yamlload, "read_text", refuse)


def test_a_second_load_of_unchanged_files_reads_none_of_them(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = repository.load(repo)
    assert len(snapshots(repo)) == 1
    no_reading(monkeypatch)
    second = repository.load(repo)
    assert second.repo == first.repo
    assert second.problems == first.problems
    assert second.sources.keys() == first.sources.keys()


def test_an_edit_that_keeps_size_and_time_is_still_read(repo: Path) -> None:
    repository.load(repo)
    path = repo / "invoices" / "2026" / "INV-1042.yaml"
    before = path.stat()
    text = path.read_text()
    assert 'amount: "12500.00"' in text
    path.write_text(text.replace('amount: "12500.00"', 'amount: "12900.00"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same mtime
    assert path.stat().st_size == before.st_size
    assert repository.load(repo).repo.invoices["INV-1042"].amount == Decimal("12900.00")


def test_added_and_removed_files_are_seen(repo: Path) -> None:
    repository.load(repo)
    path = repo / "invoices" / "2026" / "INV-1042.yaml"
    path.rename(repo / "invoices" / "2026" / "INV-9042.yaml.off")
    assert "INV-1042" not in repository.load(repo).repo.invoices
    (repo / "invoices" / "2026" / "INV-9042.yaml.off").rename(path)
    assert "INV-1042" in repository.load(repo).repo.invoices


def test_files_changed_in_the_last_seconds_are_not_snapshotted(repo: Path) -> None:
    (repo / "invoices" / "2026" / "INV-1042.yaml").touch()  # could change again unnoticed
    repository.load(repo)
    assert snapshots(repo) == []
    aged(repo)
    repository.load(repo)
    assert len(snapshots(repo)) == 1


def test_a_damaged_snapshot_is_ignored_and_replaced(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = repository.load(repo)
    [path] = snapshots(repo)
    path.write_bytes(path.read_bytes()[:5000])  # a crash mid-write, or a full disk
    assert repository.load(repo).repo == first.repo
    no_reading(monkeypatch)
    assert repository.load(repo).repo == first.repo  # the snapshot was written again


def test_where_entities_were_written_is_read_only_when_a_problem_is_placed(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = repository.load(repo)
    [path] = snapshots(repo)
    sources = path.with_suffix(snapshot.SOURCES)
    read_text = yamlload.read_text
    no_reading(monkeypatch)
    second = repository.load(repo)
    sources.rename(sources.with_suffix(".away"))  # plan and run get by without it
    assert second.repo == first.repo
    with pytest.raises(NudgeError, match=r"went away while in use.*run the command again"):
        second.sources[("customer", "acme")]
    sources.with_suffix(".away").rename(sources)
    third = repository.load(repo)
    source = third.sources[("customer", "acme")]  # read now, and placing a problem works
    placed = source.problem(("name",), "x")
    assert placed == first.sources[("customer", "acme")].problem(("name",), "x")
    assert (placed.path, placed.line) == ("customers/acme.yaml", 3)  # the file's `name:` line
    monkeypatch.setattr(yamlload, "read_text", read_text)
    sources.unlink()  # a snapshot without its sources is not used: the files are read again
    assert repository.load(repo).sources.keys() == first.sources.keys()
    assert sources.exists()


def test_snapshots_are_private_and_outside_the_repository(repo: Path) -> None:
    repository.load(repo)
    [path] = snapshots(repo)
    assert repo not in path.parents
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_off_means_no_snapshot(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_CACHE_DIR", "off")
    repository.load(repo)
    assert snapshots(repo) == []
    assert snapshot.directory() is None


def test_validate_reports_the_same_problems_from_a_snapshot(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "repo")
    bad = root / "invoices" / "2026" / "INV-1042.yaml"
    bad.write_text(bad.read_text().replace("due: 2026-10-31", "due: 2026-10-32"))
    aged(root)
    env = {"NUDGE_CACHE_DIR": str(tmp_path / "cache")}
    first = nudge("validate", "--root", str(root), env=env)
    assert snapshots(root) != []
    second = nudge("validate", "--root", str(root), env=env)
    assert first.code == second.code == 1
    assert "INV-1042.yaml:6:6: due: '2026-10-32' does not exist" in first.out
    assert (second.out, second.err) == (first.out, first.err)


def test_a_large_load_is_written_by_a_forked_copy_while_the_command_goes_on(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "BACKGROUND_FROM", 1)  # the sample counts as large
    first = repository.load(repo)
    snapshot.settle()  # what the command does before it exits
    no_reading(monkeypatch)
    assert repository.load(repo).repo == first.repo


def test_only_the_newest_snapshots_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    roots = [aged(copy_sample(tmp_path / f"tree{n}")) for n in range(snapshot.KEEP + 2)]
    for root in roots:
        repository.load(root)
    kept = sorted((tmp_path / "cache").rglob("*.pickle"))
    assert len(kept) == snapshot.KEEP
    assert len(list((tmp_path / "cache").rglob("*.sources"))) == snapshot.KEEP  # theirs too
    newest = snapshot._path(roots[-1])
    assert newest in kept


def test_the_template_checks_are_kept_beside_the_load_and_run_again_after_an_edit(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner import checks

    rendered: list[str] = []
    render = checks.Renderer.render

    def counting(self: checks.Renderer, name: str, channel: str, ctx: dict[str, object]) -> object:
        rendered.append(name)
        return render(self, name, channel, ctx)

    monkeypatch.setattr(checks.Renderer, "render", counting)
    first = checks.all_problems(repository.load(repo), repo)
    snapshot.settle()
    assert rendered  # the first validate renders every template a customer would get
    assert list((repo.parent / "cache").rglob("*.checks"))
    rendered.clear()
    assert checks.all_problems(repository.load(repo), repo) == first
    assert rendered == []  # the same files: what the checks found is read back, not rendered
    template = next((repo / "templates").rglob("*.email.j2"))
    template.write_text(template.read_text() + "\n")
    again = checks.all_problems(repository.load(repo), repo)  # an edit: checked again
    assert rendered and again == first


def test_nudge_test_reads_a_snapshot_without_the_invoices_and_refuses_the_same(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nudge test` never looks at the company's invoices: from a snapshot with the template
    checks beside it they are left out, but those with an attachment (every load checks them),
    and it passes, or refuses, as reading every file would."""
    from runner import checks

    whole = repository.load(repo)
    assert repository.load(repo, invoices=False).repo.invoices == whole.repo.invoices  # no checks
    checks.all_problems(repository.load(repo), repo)  # what validate leaves beside the load
    light = repository.load(repo, invoices=False)
    assert light.left_out
    assert light.repo.invoices == {k: i for k, i in whole.repo.invoices.items() if i.attachment}
    assert light.repo.invoices  # the sample has one: INV-1042's PDF
    assert (light.repo.customers, light.repo.policies) == (
        whole.repo.customers,
        whole.repo.policies,
    )
    assert repository.load(repo).repo == whole.repo  # and the whole load is the whole again
    env = {"NUDGE_CACHE_DIR": str(repo.parent / "cache")}
    snapshotted = nudge("test", "--root", str(repo), env=env)
    assert snapshotted.code == 0, snapshotted.err
    assert (snapshotted.out, snapshotted.code) == (
        nudge("test", "--root", str(repo), env={"NUDGE_CACHE_DIR": "off"}).out,
        0,
    )
    invoice = repo / "invoices" / "2026" / "INV-1042.yaml"  # outside: an error, from a snapshot too
    invoice.write_text(invoice.read_text().replace("invoices/pdf/INV-1042.pdf", "../INV-1042.pdf"))
    aged(repo)
    nudge("validate", "--root", str(repo), env=env)
    refused = nudge("test", "--root", str(repo), env=env)
    assert refused.code == 1
    assert "INV-1042.yaml" in refused.err and "outside the repository" in refused.err
    assert repository.load(repo, invoices=False).left_out  # it was the snapshot that refused
