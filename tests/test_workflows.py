"""The GitHub workflows: linted by actionlint and zizmor, and their shell steps run here, in
order, in a clone with a bare remote standing in for GitHub — so what runs in Actions is tested."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import ROOT, copy_sample, git

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it comes with the test dependencies (.[test])")
    return found


def test_workflows_pass_actionlint() -> None:
    done = subprocess.run(
        [tool("actionlint"), *map(str, sorted(WORKFLOWS.glob("*.yml")))],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflows_pass_zizmor_even_pedantic() -> None:
    done = subprocess.run(
        [tool("zizmor"), "--offline", "--persona=pedantic", str(WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout + done.stderr


def test_inputs_and_secrets_never_reach_a_shell_line_directly() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"


def test_remind_is_never_cancelled_and_check_never_uses_pull_request_target() -> None:
    remind = yaml.safe_load((WORKFLOWS / "remind.yml").read_text())
    check = yaml.safe_load((WORKFLOWS / "check.yml").read_text())
    assert remind["concurrency"]["cancel-in-progress"] is False
    assert remind["jobs"]["remind"]["permissions"] == {"contents": "write"}
    assert check["jobs"]["check"]["permissions"] == {"contents": "read"}
    triggers = check[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request_target" not in triggers and "pull_request" in triggers


def test_the_lock_pins_every_dependency_the_project_names_with_its_hashes() -> None:
    """requirements.txt, which every workflow and .ci/run install with --require-hashes, pins
    each runtime and test dependency of pyproject.toml (and the build backend) at a version its
    range allows, with hashes: a dependency added without compiling the lock again fails here,
    not in a workflow's install."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    named = [
        *project["build-system"]["requires"],
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["test"],
    ]
    text = (ROOT / "requirements.txt").read_text()
    pins = {
        canonicalize_name(name): (Version(version), hashes)
        for name, version, hashes in re.findall(
            r"^([A-Za-z0-9._-]+)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", text, re.M
        )
    }
    for line in named:
        wanted = Requirement(line)
        pinned = pins.get(canonicalize_name(wanted.name))
        assert pinned is not None, f"requirements.txt does not pin {wanted.name}: run pip-compile"
        version, hashes = pinned
        assert wanted.specifier.contains(version), f"{wanted.name}=={version} is not {wanted}"
        assert "--hash=sha256:" in hashes
    unhashed = [line for line in text.splitlines() if "==" in line and not line.endswith("\\")]
    assert unhashed == []


# -- running the steps ------------------------------------------------------------------------


CODE = ("runner", "pyproject.toml", "requirements.txt", "README.md", ".gitattributes", ".gitignore")
TODAY = "2026-11-23"  # the workflows act on the real date; the tests pin it with NUDGE_TODAY


@pytest.fixture(scope="module")
def runner_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A virtualenv for the workflows' `pip install .`, seeing this one's dependencies."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    outer = [p for p in sys.path if p.endswith("site-packages")]
    (site / "outer.pth").write_text("\n".join(outer) + "\n")
    return {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


@pytest.fixture
def github(tmp_path: Path) -> tuple[Path, Path]:
    """A bare remote with the project on main, and a checkout of it (what actions/checkout does)."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    seed.mkdir()
    for name in CODE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, seed / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, seed / name)
    copy_sample(seed)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "-c", "user.name=Seed", "-c", "user.email=s@example.com", "commit", "-qm", "seed")
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "-q", "-u", "origin", "main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    return bare, work


def pull_request_commit(work: Path, message: str) -> None:
    """Commit the working tree's changes as a reviewer's pull request would bring them."""
    git(work, "-c", "user.name=Pat", "-c", "user.email=p@example.com", "commit", "-qam", message)


def evaluate(text: str, context: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        if expression.startswith("secrets."):
            return ""  # no secrets here: the runner falls back to the outbox
        return context[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def run_steps(
    workflow: str,
    work: Path,
    env: dict[str, str],
    context: dict[str, str],
    summary: Path,
    expect_failure: str | None = None,
) -> list[str]:
    """Run the workflow's `run:` steps in order, as Actions would (stopping at the first that
    fails); `uses:` steps are done by the fixtures."""
    job = next(iter(yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"].values()))
    ran = []
    for step in job["steps"]:
        if "run" not in step:
            continue
        step_env = {k: evaluate(str(v), context) for k, v in step.get("env", {}).items()}
        full_env = {
            **env,
            **step_env,
            "GITHUB_STEP_SUMMARY": str(summary),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_RUN_ID": "1234",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_REPOSITORY": "acme/ar",
            "NUDGE_TODAY": TODAY,
        }
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
            cwd=work,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        ran.append(step["name"])
        if step["name"] == expect_failure:
            assert done.returncode != 0, f"step '{step['name']}' should have failed"
            ran.append(done.stdout + done.stderr)
            return ran
        assert done.returncode == 0, f"step '{step['name']}' failed:\n{done.stdout}{done.stderr}"
    return ran


def test_remind_steps_send_commit_and_push(
    github: tuple[Path, Path], runner_env: dict[str, str], tmp_path: Path
) -> None:
    bare, work = github
    summary = tmp_path / "summary.md"
    context = {
        "github.event.repository.default_branch": "main",
        "inputs.today": "2026-11-23",
        "inputs.dry_run": "false",
    }
    ran = run_steps("remind.yml", work, runner_env, context, summary)
    assert ran == [
        "Install",
        "Sync with the remote branch",
        "Validate",
        "Send reminders",
        "Carry the log summary on",
    ]
    assert "### Nudge: 2026-11-23 sent 11" in summary.read_text()
    assert git(bare, "log", "-1", "--format=%s", "main").startswith("nudge: 2026-11-23 sent 11")
    # the next scheduled run, on a checkout that is now behind: it syncs and sends nothing
    stale = tmp_path / "stale"
    git(tmp_path, "clone", "-q", str(bare), str(stale))
    git(stale, "reset", "-q", "--hard", "HEAD~2")
    summary.write_text("")
    run_steps("remind.yml", stale, runner_env, context, summary)
    assert "### Nudge: 2026-11-23 sent 0" in summary.read_text()


def test_check_steps_show_what_a_policy_change_would_send(
    github: tuple[Path, Path], runner_env: dict[str, str], tmp_path: Path
) -> None:
    _, work = github
    base = git(work, "rev-parse", "HEAD")
    policy = work / "policies" / "gentle.yaml"
    policy.write_text(
        policy.read_text().replace("at: 14, send: [email]", "at: 14, send: [email], cc: [finance]")
    )
    customer = work / "customers" / "huaxin-trading.yaml"
    customer.write_text(customer.read_text() + "paused_until: 2026-12-31\n")
    pull_request_commit(
        work, "gentle: finance in copy of the first reminder; Huaxin asked for a pause"
    )
    summary = tmp_path / "summary.md"
    context = {"github.event.pull_request.base.sha": base, "github.event.pull_request.number": "7"}
    ran = run_steps("check.yml", work, runner_env, context, summary)
    assert ran == [
        "Install",
        "Validate",
        "Policy tests",
        "Log summary",
        "What this change would send",
    ]
    text = summary.read_text()
    assert text.startswith(f"**Compared with {base}:")
    assert "| - | 2026-11-23 | huaxin-trading | tier-1 |" in text  # paused: removed
    # finance now in copy of a first reminder (Wisła's of 4 December; Parsian's first reminder
    # of today rides in its more advanced tier-3 message, whose recipients are tier-3's)
    assert "| ~ | 2026-12-04 | wisla-logistyka | tier-1 |" in text
    assert (
        "- `wisla-logistyka/tier-1/2026-12-04/email`: cc:  -> p.wisniewski@wisla-logistyka.example"
    ) in text
    planned = json.loads((work / "plan" / "plan.json").read_text())
    assert planned["days"] == 14 and planned["deliveries"]
    diff = json.loads((work / "plan" / "plan-diff.json").read_text())
    assert diff and "huaxin-trading" in json.dumps(diff)


def test_check_fails_when_a_change_breaks_a_policy_test(
    github: tuple[Path, Path], runner_env: dict[str, str], tmp_path: Path
) -> None:
    _, work = github
    base = git(work, "rev-parse", "HEAD")
    policy = work / "policies" / "gentle.yaml"
    policy.write_text(policy.read_text().replace("at: 14, send: [email]", "at: 10, send: [email]"))
    pull_request_commit(work, "gentle: first reminder after 10 days")
    context = {"github.event.pull_request.base.sha": base, "github.event.pull_request.number": "8"}
    ran = run_steps(
        "check.yml",
        work,
        runner_env,
        context,
        tmp_path / "summary.md",
        expect_failure="Policy tests",
    )
    assert ran[:3] == ["Install", "Validate", "Policy tests"]
    assert (
        "FAIL policies/tests/gentle-never-paid.yaml" in ran[3]
        and "sent but not expected: 2026-04-10 tier-1 email" in ran[3]
    )


def test_report_steps_write_the_summary_and_the_page(
    github: tuple[Path, Path], runner_env: dict[str, str], tmp_path: Path
) -> None:
    _, work = github
    summary = tmp_path / "summary.md"
    ran = run_steps("report.yml", work, runner_env, {}, summary)
    assert ran == ["Install", "Report", "Log summary matches the log"]
    assert summary.read_text().startswith("## Nudge report, ")
    assert (work / "report" / "report.html").read_text().startswith("<!doctype html>")


def test_import_shares_the_reminders_group_and_runs_before_them() -> None:
    imports = yaml.safe_load((WORKFLOWS / "import.yml").read_text())
    remind = yaml.safe_load((WORKFLOWS / "remind.yml").read_text())
    assert imports["concurrency"] == remind["concurrency"]
    assert imports["concurrency"]["cancel-in-progress"] is False
    assert imports["jobs"]["import"]["permissions"] == {"contents": "write"}
    minute, hour = imports[True]["schedule"][0]["cron"].split()[:2]
    r_minute, r_hour = remind[True]["schedule"][0]["cron"].split()[:2]
    assert (int(hour), int(minute)) < (int(r_hour), int(r_minute))


def test_import_steps_commit_the_payments_before_the_reminders_run(
    github: tuple[Path, Path], runner_env: dict[str, str], tmp_path: Path
) -> None:
    bare, work = github
    # the bank's export job commits the statement of the day
    folder = work / "imports" / "statements"
    folder.mkdir(parents=True)
    shutil.copy2(ROOT / "tests" / "fixtures" / "imports" / "camt053-danske-2026-12-03.xml", folder)
    git(work, "add", "-A")
    git(
        work, "-c", "user.name=Bank", "-c", "user.email=b@example.com", "commit", "-qm", "statement"
    )
    git(work, "push", "-q", "origin", "main")
    before_import = tmp_path / "before"
    git(tmp_path, "clone", "-q", str(bare), str(before_import))
    summary = tmp_path / "summary.md"
    context = {"github.event.repository.default_branch": "main"}
    ran = run_steps("import.yml", work, runner_env, context, summary)
    assert ran == ["Install", "Sync with the remote branch", "Validate", "Import", "Push"]
    text = summary.read_text()
    assert "**payments from imports/statements/camt053-danske-2026-12-03.xml" in text
    assert "- INV-1021: paid 7,350.00 EUR on 2026-12-03" in text
    subject = git(bare, "log", "-1", "--format=%s%n%an", "main")
    assert subject.startswith("nudge import: payments from imports/statements/camt053")
    assert subject.endswith("\nnudge-bot")  # the settings' author: CI has no identity of its own
    # the reminder run that follows sees the payments: Acme's invoices are not reminded
    assert {"INV-1021", "INV-1034", "INV-1042"} <= planned(before_import, runner_env)
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(bare), str(fresh))
    after = planned(fresh, runner_env)
    assert not {"INV-1021", "INV-1034", "INV-1042"} & after and "INV-1031" in after
    # a second run the same morning has nothing left to do
    summary.write_text("")
    run_steps("import.yml", work, runner_env, context, summary)
    assert "nothing to import" in summary.read_text()


def planned(checkout: Path, env: dict[str, str]) -> set[str]:
    """The invoices the plan of the morning after the statement reminds."""
    done = subprocess.run(
        ["nudge", "plan", "--format", "json"],
        cwd=checkout,
        env={**env, "NUDGE_TODAY": "2026-12-04"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return {i for d in json.loads(done.stdout)["deliveries"] for i in d["invoices"]}
