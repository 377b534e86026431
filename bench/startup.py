"""Section 7: start-up. `nudge --help` (target < 0.25 s) and `nudge plan` on the sample
repository, best of 5 fresh processes, with `python -c pass` beside them; and what the imports
of `nudge --help` cost (python -X importtime)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from typing import Any

from common import ROOT, Report, fmt_s


def measure(today: date) -> dict[str, Any]:
    def timed(cmd: list[str], n: int) -> tuple[list[float], str]:
        times, error = [], ""
        for _ in range(n):
            start = time.perf_counter()
            proc = subprocess.run(
                cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                timeout=300,
            )  # fmt: skip
            times.append(time.perf_counter() - start)
            if proc.returncode:
                error = f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"
        return times, error

    py = sys.executable
    bare, _ = timed([py, "-c", "pass"], 5)
    help_times, help_error = timed([py, "-m", "runner", "--help"], 5)
    plan_times, plan_error = timed(
        [py, "-m", "runner", "plan", "--root", str(ROOT), "--today", today.isoformat()], 5
    )
    proc = subprocess.run(
        [py, "-X", "importtime", "-m", "runner", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    imports = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, raw = line[12:].split("|")
        depth = len(raw) - len(raw.lstrip())
        imports.append((int(cumulative), int(self_us), raw.strip(), depth))
    top = min((d for *_, d in imports), default=0)
    total = sum(c for c, _, _, d in imports if d == top)
    return {
        "python": bare,
        "help": help_times,
        "help_error": help_error,
        "plan_sample": plan_times,
        "plan_error": plan_error,
        "imports": [(c, s, n) for c, s, n, _ in imports],
        "import_total_us": total,
    }


def section(today: date, report: Report) -> None:
    print("== start-up (best of 5, fresh processes)", flush=True)
    st = measure(today)
    help_best, plan_best = min(st["help"]), min(st["plan_sample"])
    print(f"  python -c pass                 {fmt_s(min(st['python']))}")
    print(f"  nudge --help                   {fmt_s(help_best)} (worst {fmt_s(max(st['help']))}) "
          f"{st['help_error']}")  # fmt: skip
    print(f"  nudge plan --today {today} (sample repo)  {fmt_s(plan_best)} "
          f"(worst {fmt_s(max(st['plan_sample']))}) {st['plan_error']}")  # fmt: skip
    print(
        f"  -X importtime, `nudge --help`: all imports {st['import_total_us'] / 1000:.0f} ms; the "
        "10 slowest by cumulative time (nested imports count in their parents):"
    )
    for cumulative, self_us, name in sorted(st["imports"], reverse=True)[:10]:
        print(f"    {cumulative / 1000:7.1f} ms  (self {self_us / 1000:6.1f} ms)  {name}")
    value = None if st["help_error"] else help_best
    report.target("nudge --help (best of 5), seconds", value, fmt_s(help_best), 0.25, below=True)
    report.add(f"nudge plan --today {today}, sample repository",
               fmt_s(plan_best) if not st["plan_error"] else st["plan_error"])  # fmt: skip
    print(flush=True)
