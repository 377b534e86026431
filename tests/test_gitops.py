"""`run --commit/--push` against real git repositories with a bare remote standing in for GitHub."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import ROOT, copy_sample, git, nudge


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare remote holding the sample repository on main."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = copy_sample(tmp_path / "seed")
    for name in (".gitattributes", ".gitignore"):
        (seed / name).write_text((ROOT / name).read_text())
    git(seed, "init", "-q", "-b", "main")
    git(seed, "-c", "user.name=Seed", "-c", "user.email=seed@example.com", "add", "-A")
    git(seed, "-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "-qm", "seed")
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "-q", "-u", "origin", "main")
    return bare


def clone(remote: Path, where: Path) -> Path:
    git(where.parent, "clone", "-q", str(remote), str(where))
    git(where, "config", "user.name", "Someone")
    git(where, "config", "user.email", "someone@example.com")
    return where


def log_lines(repo: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for f in sorted((repo / "log").rglob("*.jsonl"))
        for line in f.read_text().splitlines()
        if line.strip()
    ]


def test_push_commits_only_the_log_with_a_message_that_says_what_happened(
    remote: Path, tmp_path: Path
) -> None:
    work = clone(remote, tmp_path / "work")
    (work / "notes.txt").write_text("untracked: must not be committed\n")
    result = nudge(
        "run",
        "--root",
        str(work),
        "--today",
        "2026-11-23",
        "--push",
        env={
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_REPOSITORY": "acme/ar",
            "GITHUB_RUN_ID": "42",
        },
    )
    assert result.code == 0, result.err
    check = clone(remote, tmp_path / "check")
    subjects = git(check, "log", "--format=%s|%an").splitlines()
    assert subjects[0] == (
        "nudge: 2026-11-23 sent 11 (email 7, letter 1, sms 2, task 1) [skip ci]|nudge-bot"
    )
    assert subjects[1] == "nudge: 2026-11-23 sending 11 (pending) [skip ci]|nudge-bot"
    body = git(check, "log", "-1", "--format=%b")
    assert "Nudge-Run: gh-42-1" in body
    assert "Nudge-Run-URL: https://github.example/acme/ar/actions/runs/42" in body
    changed = git(check, "diff", "--name-only", "HEAD~2", "HEAD").splitlines()
    assert changed == ["log/2026/11.jsonl"]
    statuses = [line["status"] for line in log_lines(check)]
    assert statuses.count("pending") == 11 and statuses.count("sent") == 11


def test_the_pending_claims_reach_the_remote_before_anything_is_sent(
    remote: Path, tmp_path: Path
) -> None:
    work = clone(remote, tmp_path / "work")
    assert nudge("run", "--root", str(work), "--today", "2026-11-23", "--push").code == 0
    check = clone(remote, tmp_path / "check")
    first_commit = git(check, "rev-list", "--reverse", "HEAD").splitlines()[1]
    git(check, "checkout", "-q", first_commit)
    at_claim = log_lines(check)
    assert {line["status"] for line in at_claim} == {"pending", "missed", "superseded"}


def test_second_run_the_same_day_sends_and_commits_nothing(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "work")
    assert nudge("run", "--root", str(work), "--today", "2026-11-23", "--push").code == 0
    head = git(work, "rev-parse", "HEAD")
    again = nudge("run", "--root", str(work), "--today", "2026-11-23", "--push")
    assert again.code == 0, again.err
    assert again.out.startswith("2026-11-23 sent 0")
    assert git(work, "rev-parse", "HEAD") == head


def test_a_run_that_finds_the_remote_ahead_syncs_first(remote: Path, tmp_path: Path) -> None:
    """A queued run's checkout can be hours old: it must not re-send what another run sent."""
    stale = clone(remote, tmp_path / "stale")
    fresh = clone(remote, tmp_path / "fresh")
    assert nudge("run", "--root", str(fresh), "--today", "2026-11-23", "--push").code == 0
    late = nudge("run", "--root", str(stale), "--today", "2026-11-23", "--push")
    assert late.code == 0, late.err
    assert late.out.startswith("2026-11-23 sent 0")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("detached", "HEAD is detached"),
        ("dirty", "uncommitted changes outside log/"),
        ("no-upstream", "has no upstream to push to"),
    ],
)
def test_clear_messages_instead_of_tracebacks(
    remote: Path, tmp_path: Path, setup: str, message: str
) -> None:
    work = clone(remote, tmp_path / "work")
    if setup == "detached":
        git(work, "checkout", "-q", "--detach")
    elif setup == "dirty":
        path = work / "customers" / "acme.yaml"
        path.write_text(path.read_text() + "\n")
    else:
        git(work, "branch", "--unset-upstream")
    result = nudge("run", "--root", str(work), "--today", "2026-11-23", "--push")
    assert result.code == 1
    assert message in result.err
    assert "Traceback" not in result.err
    assert not (work / "log").exists()


def test_two_runs_at_once_send_each_reminder_once_and_lose_no_line(
    remote: Path, tmp_path: Path
) -> None:
    one = clone(remote, tmp_path / "one")
    two = clone(remote, tmp_path / "two")
    cmd = [sys.executable, "-m", "runner", "run", "--today", "2026-11-23", "--push"]
    procs = [
        subprocess.Popen(
            [*cmd, "--root", str(w)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (one, two)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    check = clone(remote, tmp_path / "check")
    lines = log_lines(check)
    sent_keys = [k for line in lines if line["status"] == "sent" for k in line["keys"]]
    assert len(sent_keys) == len(set(sent_keys)), "a reminder was sent twice"
    assert len(sent_keys) == 24  # 11 messages (one per customer and channel) carrying 24 reminders
    for work in (one, two):  # every line either run wrote is on the remote
        local = {line["id"] for line in log_lines(work)}
        assert local <= {line["id"] for line in lines}
    sent_by = {line["run"] for line in lines if line["status"] == "sent"}
    either = "".join(out for out, _ in outputs)
    assert len(sent_by) == 2 or "Already sent by another run" in either


def test_a_run_that_loses_the_race_cancels_its_bookkeeping_too(
    remote: Path, tmp_path: Path
) -> None:
    """The loser decides on the same log as the winner, which pushes first (from the loser's
    pre-push hook): the loser cancels its claims and its superseded/missed records alike, so
    the remote log holds each decision once and `history` tells each missed occurrence once."""
    winner = clone(remote, tmp_path / "winner")
    loser = clone(remote, tmp_path / "loser")
    marker = tmp_path / "raced"
    hook = loser / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        "unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\n"
        f'if [ ! -e "{marker}" ]; then\n'
        f'  touch "{marker}"\n'
        f'  "{sys.executable}" -m runner run --root "{winner}" --today 2026-11-23 --push'
        f' > "{tmp_path / "winner.txt"}" 2>&1 || exit 1\n'
        "fi\n"
    )
    hook.chmod(0o755)
    lost = nudge("run", "--root", str(loser), "--today", "2026-11-23", "--push")
    assert marker.exists(), "the hook never ran"
    assert (tmp_path / "winner.txt").read_text().startswith("2026-11-23 sent 11")
    assert lost.code == 0, lost.out + lost.err
    assert lost.out.startswith("2026-11-23 sent 0"), lost.out
    assert "Already sent by another run: 11" in lost.out
    check = clone(remote, tmp_path / "check")
    lines = log_lines(check)
    runs = {str(line["run"]) for line in lines}
    assert len(runs) == 2
    cancelled = {line["delivery"] for line in lines if line["status"] == "cancelled"}
    standing = Counter(
        key
        for line in lines
        if line["status"] in ("superseded", "missed") and line["delivery"] not in cancelled
        for key in line["keys"]
    )
    recorded = Counter(
        key for line in lines if line["status"] in ("superseded", "missed") for key in line["keys"]
    )
    assert standing and set(standing.values()) == {1}
    assert set(recorded.values()) == {2}  # both decided them; the loser's are cancelled
    missed = next(line for line in lines if line["status"] == "missed")
    history = nudge("history", missed["invoices"][0], "--root", str(check))
    assert history.code == 0, history.err
    day = missed["keys"][0].split("/")[-2]
    occurrence = f"{missed['step']} {missed['channel']} ({day})"
    told = [line for line in history.out.splitlines() if occurrence in line]
    assert len(told) == 1, history.out
