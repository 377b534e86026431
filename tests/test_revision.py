"""`plan --against REF` reads only the files that differ between REF and the working tree
(repository.load_revision): held to reading the whole revision, on random pull requests —
policies, customers and invoices edited, added, deleted and renamed, a customer's currency
changed under its invoices, files git does not track, templates added and removed, a duplicate
id — the repository and the errors are the same, although only the customers the difference can
concern are checked again."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from runner import git, plandiff, repository, schedule, sendlog, workspace
from runner.plandiff import revision
from runner.simulate import forecast, forecast_alike

from conftest import git as run_git
from conftest import git_repo, nudge

CHANGES = [
    "policy day",
    "policy cc",
    "policy template",
    "invoice paid",
    "invoice deleted",
    "invoice added",
    "invoice renamed",
    "untracked invoice",
    "customer currency",
    "customer deleted",
    "template added",
    "template deleted",
    "duplicate id",
    "export file",
]


def change(root: Path, kind: str, n: int) -> None:
    invoices = sorted((root / "invoices" / "2026").glob("INV-*.yaml"))
    invoice = invoices[n % len(invoices)]
    if kind == "policy day":
        path = root / "policies" / "gentle.yaml"
        path.write_text(path.read_text().replace("at: 14,", f"at: {15 + n % 5},"))
    elif kind == "policy cc":  # what a message says, not when: forecast once for both trees
        path = root / "policies" / "gentle.yaml"
        path.write_text(
            path.read_text().replace(
                "at: 14, send: [email],", "at: 14, send: [email], cc: [finance],"
            )
        )
    elif kind == "policy template":
        path = root / "policies" / "gentle.yaml"
        path.write_text(
            path.read_text().replace("template: gentle-tier-1,", "template: gentle-tier-2,")
        )
    elif kind == "invoice paid":
        text = invoice.read_text()
        if "payments:" not in text:
            invoice.write_text(text + 'payments:\n  - {date: 2026-11-01, amount: "10.00"}\n')
    elif kind == "invoice deleted":
        invoice.unlink()
    elif kind == "invoice added":
        (root / "invoices" / "2026" / f"NEW-{n}.yaml").write_text(
            f'id: NEW-{n}\ncustomer: acme\nissued: 2026-10-01\ndue: 2026-10-31\namount: "99.00"\n'
        )
    elif kind == "invoice renamed":
        invoice.rename(invoice.with_name(f"renamed-{n}.yaml"))
    elif kind == "untracked invoice":
        (root / "invoices" / "local.yaml").write_text(
            'id: LOCAL-1\ncustomer: hyggehus\nissued: 2026-10-01\ndue: 2026-10-31\namount: "5.00"\n'
        )
    elif kind == "customer currency":
        path = root / "customers" / "acme.yaml"
        path.write_text(path.read_text().replace("currency: EUR", "currency: USD"))
    elif kind == "customer deleted":
        (root / "customers" / "thames-analytics.yaml").unlink(missing_ok=True)
    elif kind == "template added":
        folder = root / "templates" / "gentle-tier-1"
        shutil.copy(folder / "en.email.j2", folder / "pl.email.j2")
    elif kind == "template deleted":
        (root / "templates" / "statement" / "en.email.j2").unlink(missing_ok=True)
    elif kind == "duplicate id":
        shutil.copy(invoice, root / "invoices" / f"copy-{n}.yaml")
    elif kind == "export file":
        (root / "invoices" / "export.yaml").write_text(
            "invoices:\n"
            '  - {id: EXP-1, customer: acme, issued: 2026-09-01, due: 2026-10-01, amount: "1.00"}\n'
            '  - {id: EXP-2, customer: acme, issued: 2026-09-01, due: 2026-10-01, amount: "2.00"}\n'
        )


def errors(loaded: repository.Loaded) -> set[tuple[str, int, str]]:
    return {(p.path, p.line, p.message) for p in loaded.problems if p.severity == "error"}


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return git_repo(tmp_path_factory.mktemp("base") / "repo")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    base_changes=st.lists(st.tuples(st.sampled_from(CHANGES), st.integers(0, 30)), max_size=3),
    pull_request=st.lists(st.tuples(st.sampled_from(CHANGES), st.integers(0, 30)), max_size=4),
    commit=st.booleans(),
)
def test_a_revision_from_the_changed_files_is_the_revision_read_whole(
    tmp_path_factory: pytest.TempPathFactory,
    company: Path,
    base_changes: list[tuple[str, int]],
    pull_request: list[tuple[str, int]],
    commit: bool,
) -> None:
    root = tmp_path_factory.mktemp("pr") / "repo"
    shutil.copytree(company, root)
    for kind, n in base_changes:  # the base branch as it is: maybe not valid itself
        change(root, kind, n)
    run_git(root, "add", "-A")
    run_git(root, "commit", "-qm", "base", "--allow-empty")
    base = run_git(root, "rev-parse", "HEAD")
    for kind, n in pull_request:
        change(root, kind, n)
    if commit:
        run_git(root, "add", "invoices", "policies", "customers", "templates")
        run_git(root, "commit", "-qm", "the pull request", "--allow-empty")
    head = repository.load(root)
    assume(not head.errors)  # plan --against loads a valid working tree first (and stops if not)
    changed = git.changed_files(root, base, repository.DATA_PATHS)
    assert changed is not None
    whole_folder = tmp_path_factory.mktemp("whole")
    git.export(root, base, whole_folder)
    whole = repository.load(whole_folder)
    part_folder = tmp_path_factory.mktemp("part")
    git.export_files(root, base, sorted(changed), part_folder)
    # the names and sums checked again only where the difference can reach (as plan --against)
    part = repository.load_revision(
        root, head, part_folder, changed, lambda repo: plandiff.affected(head.repo, repo)
    )
    assert part.repo.settings == whole.repo.settings
    assert part.repo.policies == whole.repo.policies
    assert part.repo.customers == whole.repo.customers
    assert part.repo.invoices == whole.repo.invoices
    assert part.repo.templates == whole.repo.templates
    assert errors(part) == errors(whole)
    if whole.errors:
        return
    # and only the customers the change touches are planned again: the comparison is the same
    log = sendlog.index([])
    start = schedule.noon(date(2026, 11, 23), "Europe/Copenhagen")
    head_plans = forecast(head.repo, log, start, 10)
    differ = plandiff.affected(head.repo, part.repo)
    some = forecast(part.repo, log, start, 10, sorted(differ)) if differ != set() else []
    every = forecast(whole.repo, log, start, 10)
    assert plandiff.compare(some, head_plans, differ) == plandiff.compare(every, head_plans)
    if differ:  # plan --against plans this tree's affected customers alone too: their own plan
        mine = forecast(head.repo, log, start, 10, sorted(differ))
        theirs = [[d for d in p.deliveries if d.customer in differ] for p in head_plans]
        assert [p.deliveries for p in mine] == theirs
        assert plandiff.compare(some, mine, differ) == plandiff.compare(every, head_plans)
        if plandiff.decided_alike(head.repo, part.repo, differ):  # one forecast for both
            alike, twin = forecast_alike(head.repo, part.repo, log, start, 10, sorted(differ))
            assert [p.deliveries for p in alike] == [p.deliveries for p in mine]
            assert [p.deliveries for p in twin] == [p.deliveries for p in some]


def test_plan_against_reads_only_what_changed(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo")
    base = run_git(root, "rev-parse", "HEAD")
    path = root / "policies" / "gentle.yaml"
    path.write_text(path.read_text().replace("at: 14,", "at: 16,"))
    changed = git.changed_files(root, base, repository.DATA_PATHS)
    assert changed == {"policies/gentle.yaml"}
    head = repository.load(root)
    with revision(root, base, head) as (repo, differ):
        assert repo.policies["gentle"].steps[2].at == 14
        assert differ == plandiff.affected(head.repo, repo)  # the gentle policy's customers
        assert differ and differ < set(head.repo.customers)
    done = nudge("plan", "--root", str(root), "--against", base, "--today", "2026-11-23",
                 "--days", "14")  # fmt: skip
    assert done.code == 0, done.err
    assert "tier-1" in done.out


def test_a_base_not_valid_where_the_change_is_says_so(tmp_path: Path) -> None:
    """The base's names are checked again where the change reaches (here a customer's file
    that names a policy the base does not have), although the rest is taken from this tree."""
    root = git_repo(tmp_path / "repo")
    acme = root / "customers" / "acme.yaml"
    text = acme.read_text()
    acme.write_text(text.replace("policy: five-stage", "policy: five-stages"))
    run_git(root, "commit", "-qam", "a typo")
    base = run_git(root, "rev-parse", "HEAD")
    acme.write_text(text)  # the pull request fixes it
    done = nudge("plan", "--root", str(root), "--against", base, "--today", "2026-11-23",
                 "--days", "14")  # fmt: skip
    assert done.code != 0
    assert f"{base} itself is not valid, so there is nothing to compare with" in done.err
    assert "customers/acme.yaml" in done.err
    assert "policy 'five-stages' does not exist (did you mean 'five-stage'?)" in done.err


def test_a_change_of_what_a_message_says_is_compared_as_two_forecasts_would(
    tmp_path: Path,
) -> None:
    """finance put in copy of tier-1 and its template changed: the trees decide alike, so
    `plan --against` forecasts once, in two processes by customer; what it reports is what
    forecasting each tree whole and comparing gives."""
    root = git_repo(tmp_path / "repo")
    base = run_git(root, "rev-parse", "HEAD")
    whole_base = repository.load(root).repo
    change(root, "policy cc", 0)
    change(root, "policy template", 0)
    head = repository.load(root)
    assert plandiff.decided_alike(head.repo, whole_base, plandiff.affected(head.repo, whole_base))
    done = nudge("plan", "--root", str(root), "--against", base, "--today", "2026-11-23",
                 "--days", "40", "--format", "json", "--write-json", str(tmp_path / "out"),
                 env={"NUDGE_CACHE_DIR": str(tmp_path / "cache")})  # fmt: skip
    assert done.code == 0, done.err
    log, _ = workspace.read_log(root)
    start = schedule.noon(date(2026, 11, 23), head.repo.settings.defaults.timezone)
    expected = plandiff.compare(
        forecast(whole_base, log, start, 40), forecast(head.repo, log, start, 40)
    )
    assert expected and all(c.kind == "changed" for c in expected)
    assert json.loads(done.out) == json.loads(plandiff.render(expected, "json", base))
    written = json.loads((tmp_path / "out" / "plan-diff.json").read_text())
    assert written == json.loads(done.out)
