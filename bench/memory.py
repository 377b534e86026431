"""Section 6: memory. The peak resident memory (ru_maxrss) of `nudge plan` and of `nudge run
--transport outbox` at 100k invoices, each a fresh process on the snapshot validate leaves, with
one and with five years of log; target <= 600 MiB. The figure is that of the largest process
(wait4 reports the command's own, or a forked child's when larger). Beside it, where the memory
goes: tracemalloc's peak after each phase of a plan (load, log, plan) in one process."""

from __future__ import annotations

import time
from argparse import Namespace
from datetime import date
from pathlib import Path
from typing import Any

from common import NUDGE, SNAPSHOTS, Report, command, rss_mb
from logyears import run_outbox

LIMIT_MB = 600


def do_phases(today: date, root: str) -> dict[str, Any]:
    """tracemalloc's current and peak memory after each phase of a plan, in one process."""
    import tracemalloc

    from runner import schedule, simulate, workspace
    from runner.simulate import forecast

    path = Path(root)
    found: dict[str, Any] = {}
    start = time.perf_counter()
    tracemalloc.start()

    def mark(phase: str) -> None:
        current, peak = tracemalloc.get_traced_memory()
        found[phase] = {"current_mb": current / 2**20, "peak_mb": peak / 2**20}
        tracemalloc.reset_peak()

    repo = workspace.load_valid(path).repo
    mark("load")
    pool = simulate.open_on(repo, today)
    log, _ = workspace.read_log(path, [pool], today)
    mark("log")
    forecast(repo, log, schedule.noon(today, repo.settings.defaults.timezone), 1, pool=pool)
    mark("plan")
    tracemalloc.stop()
    return {"seconds": time.perf_counter() - start, "phases": found, "maxrss_mb": rss_mb()}


WORKERS = {"phases": do_phases}


def section(roots: dict[int, Path], today: date, args: Namespace, report: Report) -> None:
    from common import worker

    print("== memory at 100k: peak resident memory of a fresh process", flush=True)
    env = {"NUDGE_CACHE_DIR": str(SNAPSHOTS)}
    for years, root in sorted(roots.items()):
        command([*NUDGE, "validate", "--root", str(root)], args.timeout, env)  # the snapshot
        plan = command([*NUDGE, "plan", "--root", str(root), "--today", today.isoformat()],
                       args.timeout, env)  # fmt: skip
        run = run_outbox(root, today, args.timeout)
        for name, result in (("plan", plan), ("run", run)):
            value = result.get("maxrss_mb") if result and "seconds" in result else None
            shown = f"{value:.0f} MiB" if value is not None else "failed"
            print(f"  nudge {name}, {years} year(s) of log: {shown}")
            report.target(f"peak RSS, nudge {name}, 100k, {years}y of log", value, shown,
                          LIMIT_MB, below=True)  # fmt: skip
    phases = worker("phases", {"root": str(roots[max(roots)])}, today, args.timeout * 3)
    if phases and "phases" in phases:
        print(
            "  tracemalloc, plan with the most log: "
            + "; ".join(
                f"{phase} {v['current_mb']:.0f} MiB held (peak {v['peak_mb']:.0f})"
                for phase, v in phases["phases"].items()
            )
        )
    print(flush=True)
