"""What every part of the benchmark shares: where things are, running a measurement in a fresh
worker process, timing a command end to end with its peak memory, repeated timings, the final
table of figures with their targets."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent  # the sample repository, and the checkout that holds `runner`
OUT = BENCH / "out"
SNAPSHOTS = OUT / "snapshots"  # the load snapshots of the runs (NUDGE_CACHE_DIR), never the user's
DEFAULT_TODAY = "2026-11-23"
RESULT = "BENCH-RESULT "  # prefix of the one JSON line a worker prints
NUDGE = [sys.executable, "-m", "runner"]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_x(ratio: float | None) -> str:
    return f"{ratio:.2f}x" if ratio is not None else "n/a"


def ratio(top: float | None, bottom: float | None) -> float | None:
    return top / bottom if top is not None and bottom else None


# -- the final table ------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: str
    target: str = ""
    met: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, figure: str, value: str, target: str = "", met: str = "") -> None:
        self.rows.append(Row(figure, value, target, met))

    def target(
        self, figure: str, value: float | None, shown: str, target: float, below: bool
    ) -> None:
        """A figure with a target: `value` at most (`below`) or at least `target`."""
        sign = "<=" if below else ">="
        self.add(figure, shown, f"{sign} {target:g}", check_mark(value, target, below))

    def print(self) -> None:
        width = max(len(r.figure) for r in self.rows) + 2
        vwidth = max(len(r.value) for r in self.rows) + 2
        print("== summary")
        print(f"  {'figure':<{width}}{'value':<{vwidth}}{'target':<10}met")
        for r in self.rows:
            print(f"  {r.figure:<{width}}{r.value:<{vwidth}}{r.target:<10}{r.met}")


def check_mark(value: float | None, target: float, below: bool) -> str:
    if value is None:
        return "n/a"
    ok = value <= target if below else value >= target
    return "yes" if ok else "NO"


# -- repeated timings -----------------------------------------------------------------------------


class Series:
    """Repeated timings of one thing: best, median, spread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.times: list[float] = []
        self.timeout: float | None = None
        self.failed = False
        self.info: dict[str, Any] = {}

    @property
    def best(self) -> float | None:
        return min(self.times) if self.times else None

    def add(self, result: dict[str, Any] | None) -> None:
        """A worker's or command's result: its seconds, or how it failed."""
        if result is None:
            self.failed = True
        elif "timeout" in result:
            self.timeout = result["timeout"]
        else:
            self.times.append(result["seconds"])
            rss = max(result.get("maxrss_mb", 0), self.info.get("maxrss_mb", 0))
            self.info = {**result, "maxrss_mb": rss}

    @property
    def done(self) -> bool:
        return self.timeout is not None or self.failed

    def spread(self) -> str:
        if self.timeout is not None and not self.times:
            return f"> {self.timeout:.0f} s (timeout)"
        if not self.times:
            return "failed" if self.failed else "not run"
        best, worst = min(self.times), max(self.times)
        med = statistics.median(self.times)
        if len(self.times) == 1:
            return f"{fmt_s(best)} (1 run)"
        return (
            f"best {fmt_s(best)}  median {fmt_s(med)}  worst {fmt_s(worst)}  "
            f"spread {100 * (worst - best) / best:.0f}%  (n={len(self.times)})"
        )


def warm(root: Path) -> None:
    """Every file under `root` read once, untimed, so a measurement starts with them in the page
    cache, as a job does after the checkout that wrote them. This host pages out file data left
    unread for about a minute: a command measured after another section read cold files from
    disk, its floor warm ones (the floor varied 7-32 s between runs)."""
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                with open(os.path.join(folder, name), "rb") as handle:
                    while handle.read(1 << 20):
                        pass
            except OSError:
                continue


# -- fresh processes ------------------------------------------------------------------------------


def worker(
    name: str, args: dict[str, Any], today: date, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """Run one measurement (bench.py --worker NAME) in a fresh process: its result, {"timeout":
    seconds} when it ran too long, or None (with the reason printed) when it failed."""
    cmd = [
        sys.executable,
        str(BENCH / "bench.py"),
        "--worker",
        name,
        "--worker-args",
        json.dumps(args),
        "--today",
        today.isoformat(),
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        print(f"    ! {name}: stopped after the {timeout:.0f} s timeout", flush=True)
        return {"timeout": timeout}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            return dict(json.loads(line[len(RESULT) :]))
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-8:]
    print(f"    ! {name} failed (exit {proc.returncode}):", *tail, sep="\n      ", flush=True)
    return None


def command(
    cmd: list[str], timeout: float, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> dict[str, Any] | None:
    """Run a command end to end, output to /dev/null: its seconds and the peak resident memory of
    its largest process (ru_maxrss through wait4: the process or a child it waited for, such as
    the forked second reader); {"timeout": seconds}, or None when it failed."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return {"timeout": timeout}
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    error = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in (0, 1):
        print(f"    ! {' '.join(cmd[2:5])} ... exit {proc.returncode}: {error.strip()[-400:]}")
        return None
    return {"seconds": seconds, "maxrss_mb": usage.ru_maxrss / 1024, "stderr": error}


def rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def preimport() -> None:
    """Libraries the runner imports lazily, imported before the clock starts: the in-process
    figures measure the work; start-up is measured on its own (startup.py)."""
    import babel.numbers  # noqa: F401
    import email_validator  # noqa: F401
    import holidays  # noqa: F401
    import jinja2  # noqa: F401
    import jsonschema  # noqa: F401
    import phonenumbers  # noqa: F401
    import yaml  # noqa: F401
    from babel import Locale  # noqa: F401

    import runner.checks
    import runner.commands.validate
    import runner.schedule
    import runner.workspace  # noqa: F401


def code_version() -> str:
    """The commit the runner comes from, and a fingerprint of uncommitted changes to it."""
    import hashlib

    def git(*argv: str) -> str:
        proc = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    diff = git("diff", "HEAD", "--", "runner") + git(
        "ls-files", "--others", "--exclude-standard", "runner"
    )
    if not diff:
        return head
    return f"{head} + uncommitted runner/ changes {hashlib.sha256(diff.encode()).hexdigest()[:8]}"
