"""Section 4: the pull-request check at scale. The steps of .github/workflows/check.yml (not the
install), run in order as Actions runs them, on a git copy of the 100k-invoice repository with a
pull request that changes a policy (and passes the policy tests, as a mergeable one does), with
an empty snapshot cache as on a fresh runner, the files read just before (in the page cache, as
after a checkout). Target: the whole check at most 3x the floor (a bare libyaml load of one
tree), measured on the same copy in the same rounds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from argparse import Namespace
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from common import NUDGE, OUT, ROOT, Report, Series, fmt_s, fmt_x, ratio, warm, worker

WORKFLOW = ROOT / ".github" / "workflows" / "check.yml"
VERSION = 2  # of the git copy below


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def ensure_copy(source: Path, today: date, timeout: float) -> tuple[Path, str]:
    """bench/out/pr-<name>: a git repository of `source` (its log summary made as the daily job
    would) on main, and a pull request on branch `change` that puts finance in copy of the
    gentle policy's first reminder; (the folder, the base commit). Kept while `source` and this
    code are the same."""
    target = OUT / f"pr-{source.name}"
    marker = target / ".bench-pr.json"
    wanted = {
        "version": VERSION,
        "source": json.loads((source / ".bench-generated.json").read_text()),
    }
    wanted["source"].pop("reused", None)
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return target, git(target, "rev-parse", "main")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".bench-*", "outbox"))
    subprocess.run(
        [*NUDGE, "log", "summary", "--root", str(target), "--today", today.isoformat()],
        cwd=ROOT, check=True, capture_output=True, timeout=timeout,
    )  # fmt: skip
    who = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, *who, "commit", "-qm", "the company")
    base = git(target, "rev-parse", "HEAD")
    git(target, "checkout", "-qb", "change")
    policy = target / "policies" / "gentle.yaml"
    text = policy.read_text(encoding="utf-8")
    changed = re.sub(r"(id: tier-1, at: \d+, send: \[email\])", r"\1, cc: [finance]", text, count=1)
    if changed == text:
        raise SystemExit("bench/prcheck.py: the gentle policy has no tier-1 step to change")
    policy.write_text(changed, encoding="utf-8")
    git(target, *who, "commit", "-qam", "gentle: finance in copy of the first reminder")
    marker.write_text(json.dumps(wanted))
    return target, base


def run_check(repo: Path, base: str, today: date, timeout: float) -> dict[str, Any] | None:
    """check.yml's run steps (all but Install) in order, timed; an empty snapshot cache."""
    job = next(iter(yaml.safe_load(WORKFLOW.read_text())["jobs"].values()))
    steps: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=OUT, prefix="check-") as scratch:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "NUDGE_CACHE_DIR": str(Path(scratch) / "cache"),
            "NUDGE_TODAY": today.isoformat(),
            "GITHUB_STEP_SUMMARY": str(Path(scratch) / "summary.md"),
            "BASE_SHA": base,
        }
        for step in job["steps"]:
            if "run" not in step or step.get("name") == "Install":
                continue
            start = time.perf_counter()
            done = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
                cwd=repo, env=env, capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
            steps[step["name"]] = time.perf_counter() - start
            if done.returncode != 0:
                print(f"    ! check step '{step['name']}' failed: {done.stderr.strip()[-400:]}")
                return None
        summary = Path(scratch, "summary.md").read_text(encoding="utf-8")
    shutil.rmtree(repo / "plan", ignore_errors=True)
    return {"seconds": sum(steps.values()), "steps": steps, "headline": summary.split("\n")[0]}


def section(
    source: Path, floor: float | None, today: date, args: Namespace, report: Report
) -> dict[str, Any]:
    """Rounds of (floor, check) on the pull request's copy, each with its files read just
    before (common.warm): the same cache state for both, as after a checkout. `floor`: the load
    section's, shown beside it."""
    print(f"== the pull-request check (check.yml) on {source.name}", flush=True)
    repo, base = ensure_copy(source, today, args.timeout)
    series, floors = Series("check"), Series("floor")
    for round_no in range(args.repeat):
        if round_no and series.times and series.times[0] > args.max_repeat_seconds:
            break
        warm(repo)
        floors.add(worker("floor", {"root": str(repo)}, today, args.timeout))
        warm(repo)
        result = run_check(repo, base, today, args.timeout * 3)
        series.add(result)
        if result:
            parts = ", ".join(f"{name} {fmt_s(s)}" for name, s in result["steps"].items())
            last = floors.times[-1] if floors.times else None
            print(
                f"    round {round_no + 1}: floor {fmt_s(last)}; check "
                f"{fmt_s(result['seconds'])} ({parts})",
                flush=True,
            )
    best = series.best
    value = ratio(best, floors.best)
    if series.info:
        print(f"  the job summary says: {series.info['headline']}")
    print(
        f"  check.yml end to end: {series.spread()}; / the floor of the same rounds "
        f"({fmt_s(floors.best)}; the load section's: {fmt_s(floor)}): {fmt_x(value)}\n"
    )
    report.target(
        "PR check (check.yml) end to end / floor, 100k", value, fmt_x(value), 3.0, below=True
    )
    return {"series": series}
