"""`nudge show` on a person's real state: it renders a logged message again only from a commit
that holds exactly what was sent, and otherwise says in one sentence what it cannot do (exit 1),
never a traceback. Real git repositories throughout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Result, git, git_repo, nudge

TODAY = "2026-11-23"
NEW_KEY = "FV-2026-201/tier-2/2026-11-23/email"  # the customer added without committing
OLD_KEY = "INV-1032/tier-2/2026-11-23/email"  # a customer committed before the run


def add_customer_uncommitted(repo: Path) -> None:
    """A Polish customer and their invoice, written but not committed (as a person would)."""
    wisla = (repo / "customers" / "wisla-logistyka.yaml").read_text()
    (repo / "customers" / "drukarnia-wawel.yaml").write_text(
        wisla.replace("wisla-logistyka", "drukarnia-wawel").replace("Wisła", "Drukarnia Wawel")
    )
    invoice = (repo / "invoices" / "2026" / "INV-1032.yaml").read_text()
    (repo / "invoices" / "2026" / "FV-2026-201.yaml").write_text(
        invoice.replace("INV-1032", "FV-2026-201").replace("wisla-logistyka", "drukarnia-wawel")
    )


def log_lines(repo: Path) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in (repo / "log" / "2026" / "11.jsonl").read_text().splitlines()
    ]


def write_log(repo: Path, lines: list[dict[str, object]]) -> None:
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (repo / "log" / "2026" / "11.jsonl").write_text(text)


def show(repo: Path, key: str) -> Result:
    return nudge("show", "--root", str(repo), key)


def assert_one_sentence(result: Result, *words: str) -> None:
    assert result.code == 1, (result.out, result.err)
    assert "Traceback" not in result.err
    assert result.out == ""
    message = result.err.strip()
    assert len(message.splitlines()) == 1, message
    for word in words:
        assert word in message, message


def test_a_run_on_uncommitted_files_is_recorded_dirty_and_show_says_so(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    add_customer_uncommitted(repo)
    assert nudge("run", "--root", str(repo), "--today", TODAY).code == 0
    lines = log_lines(repo)
    assert lines and all(line.get("dirty") is True for line in lines)
    assert any(NEW_KEY in line["keys"] for line in lines)  # type: ignore[operator]
    for key in (NEW_KEY, OLD_KEY):  # the whole run read uncommitted files, not only that one
        assert_one_sentence(
            show(repo, key),
            f"{key} cannot be rendered again exactly",
            "uncommitted changes",
        )
    # its friends: the timelines still work on the same state
    history = nudge("history", "--root", str(repo), "drukarnia-wawel")
    assert history.code == 0, history.err
    assert "FV-2026-201" in history.out


def test_a_run_on_committed_files_is_not_dirty_and_shows(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    (repo / "notes.txt").write_text("an untracked file Nudge does not read\n")
    assert nudge("run", "--root", str(repo), "--today", TODAY).code == 0
    assert not any("dirty" in line for line in log_lines(repo))
    shown = show(repo, OLD_KEY)
    assert shown.code == 0, shown.err
    assert "INV-1032" in shown.out


def test_an_old_log_entry_whose_commit_lacks_the_customer(tmp_path: Path) -> None:
    """Log lines from before runs recorded `dirty` (the KeyError: 'drukarnia-wawel' report)."""
    repo = git_repo(tmp_path / "repo")
    add_customer_uncommitted(repo)
    assert nudge("run", "--root", str(repo), "--today", TODAY).code == 0
    write_log(repo, [{k: v for k, v in line.items() if k != "dirty"} for line in log_lines(repo)])
    head = git(repo, "rev-parse", "HEAD")[:8]
    assert_one_sentence(
        show(repo, NEW_KEY),
        f"commit {head} has no customer 'drukarnia-wawel', no invoice 'FV-2026-201'",
    )


@pytest.mark.parametrize(
    ("change", "absent"),
    [
        ("template", "no template 'gentle-tier-2/pl.email.j2'"),
        ("step", "no step 'tier-2' in policy 'gentle'"),
        ("policy", "no policy 'gentle'"),
    ],
)
def test_a_commit_without_what_the_entry_names(tmp_path: Path, change: str, absent: str) -> None:
    repo = git_repo(tmp_path / "repo")
    assert nudge("run", "--root", str(repo), "--today", TODAY).code == 0
    lines = log_lines(repo)
    for line in lines:
        if OLD_KEY in line["keys"]:  # type: ignore[operator]
            value = {"template": "gentle-tier-2/pl.email.j2", "step": "tier-2", "policy": "gentle"}
            assert line[change] == value[change]
    # the files change under the entry, as if it named a later commit (a log from before runs
    # recorded `dirty`, or edited by hand): the commit is valid but lacks what the entry names
    if change == "template":  # the Polish text goes; Polish customers fall back to English
        (repo / "templates" / "gentle-tier-2" / "pl.email.j2").unlink()
    elif change == "step":
        policy = repo / "policies" / "gentle.yaml"
        policy.write_text(policy.read_text().replace("id: tier-2", "id: second-reminder"))
    else:
        lines = [{**line, "policy": "gentle"} for line in lines]
        (repo / "policies" / "gentle.yaml").rename(repo / "policies" / "kind.yaml")
        for path in (repo / "policies").glob("kind.yaml"):
            path.write_text(path.read_text().replace("id: gentle", "id: kind"))
        for named in [repo / "settings.yaml", *(repo / "customers").glob("*.yaml")]:
            named.write_text(named.read_text().replace("policy: gentle", "policy: kind"))
        for case in (repo / "policies" / "tests").glob("*.yaml"):
            case.write_text(case.read_text().replace("policy: gentle", "policy: kind"))
    git(repo, "add", "-A", "--", ".", ":(exclude)log")
    git(repo, "commit", "-qm", f"the {change} renamed")
    later = git(repo, "rev-parse", "HEAD")
    write_log(repo, [{**line, "commit": later} for line in lines])  # as if sent from it
    assert_one_sentence(show(repo, OLD_KEY), f"commit {later[:8]} has {absent}")


def test_a_commit_that_is_gone(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    first = git(repo, "rev-parse", "HEAD")
    invoice = repo / "invoices" / "2026" / "INV-1032.yaml"
    invoice.write_text(invoice.read_text().replace("Doradztwo", "Audyt"))
    git(repo, "commit", "-qam", "description corrected")
    sent_from = git(repo, "rev-parse", "HEAD")
    assert nudge("run", "--root", str(repo), "--today", TODAY).code == 0
    git(repo, "reset", "-q", "--hard", first)  # history rewritten: the commit is dropped
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    assert_one_sentence(show(repo, OLD_KEY), f"commit {sent_from[:8]}", "is not in this repository")


def test_a_log_entry_without_commit(sample: Path) -> None:
    assert nudge("run", "--root", str(sample), "--today", TODAY).code == 0  # not a git repository
    assert all(line["commit"] is None for line in log_lines(sample))
    assert_one_sentence(show(sample, OLD_KEY), "names no commit")


def test_a_copy_without_its_git_history(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    assert nudge("run", "--root", str(repo), "--today", TODAY).code == 0
    shutil.rmtree(repo / ".git")
    assert_one_sentence(show(repo, OLD_KEY), "is not a git repository")


def test_a_message_that_was_never_sent(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    assert nudge("run", "--root", str(repo), "--today", TODAY).code == 0
    write_log(
        repo,
        [
            {**line, "status": "failed", "reason": "550 mailbox unavailable"}
            for line in log_lines(repo)
            if line["status"] != "pending"
        ],
    )
    assert_one_sentence(show(repo, OLD_KEY), "was never sent (the log says: failed)")
    assert_one_sentence(show(repo, "INV-0000/tier-2/2026-11-23/email"), "no message with key")


def test_run_commit_refuses_new_files_it_would_read(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    add_customer_uncommitted(repo)
    refused = nudge("run", "--root", str(repo), "--today", TODAY, "--commit")
    assert refused.code == 1, refused.err
    assert "customers/drukarnia-wawel.yaml" in refused.err
    assert "invoices/2026/FV-2026-201.yaml" in refused.err
    assert not (repo / "log").exists() and not (repo / "outbox").exists()  # nothing sent
