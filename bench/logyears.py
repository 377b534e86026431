"""Section 3: year five costs what year one costs. The same 100k-invoice repository with one and
with five years of send log, each with the log summary the daily job keeps (`nudge log summary`):
`nudge plan` and `nudge run --transport outbox` end to end, fresh processes, on the load snapshot
the daily job's `nudge validate` leaves. Target: five years / one year <= 1.2 for both. Also how
long making the summary from the whole log and checking it take, and how many entries a daily
command reads."""

from __future__ import annotations

import shutil
import tempfile
from argparse import Namespace
from datetime import date
from pathlib import Path
from typing import Any

from common import NUDGE, OUT, SNAPSHOTS, Report, Series, command, fmt_s, fmt_x, ratio


def make_summary(root: Path, today: date, timeout: float) -> dict[str, Any]:
    """The summary as the daily job's step makes it, from the whole log; then its check."""
    (root / "log" / "summary.json").unlink(missing_ok=True)
    env = {"NUDGE_CACHE_DIR": str(SNAPSHOTS)}
    made = command(
        [*NUDGE, "log", "summary", "--root", str(root), "--today", today.isoformat()], timeout, env
    )
    checked = command([*NUDGE, "log", "summary", "--root", str(root), "--check"], timeout, env)
    path = root / "log" / "summary.json"
    return {
        "make": made.get("seconds") if made else None,
        "check": checked.get("seconds") if checked else None,
        "bytes": path.stat().st_size if path.exists() else 0,
        "log_bytes": sum(p.stat().st_size for p in (root / "log").glob("*/*.jsonl")),
    }


def run_outbox(root: Path, today: date, timeout: float) -> dict[str, Any] | None:
    """`nudge run --transport outbox` once, the repository put back as it was afterwards (the
    log lines it wrote taken out, its outbox thrown away)."""
    month = root / "log" / f"{today.year:04d}" / f"{today.month:02d}.jsonl"
    before = month.read_bytes() if month.exists() else None
    with tempfile.TemporaryDirectory(dir=OUT, prefix="outbox-") as outbox:
        try:
            return command(
                [*NUDGE, "run", "--root", str(root), "--today", today.isoformat(), "--transport",
                 "outbox", "--outbox", outbox],
                timeout,
                {"NUDGE_CACHE_DIR": str(SNAPSHOTS)},
            )  # fmt: skip
        finally:
            if before is None:
                month.unlink(missing_ok=True)
            else:
                month.write_bytes(before)


def entries_read(root: Path, today: date) -> int:
    """How many log entries `plan` reads (the summary's and the months after it)."""
    from runner import logsummary, repository, simulate

    repo = repository.load(root).repo
    return len(logsummary.read(root, [simulate.open_on(repo, today)], today).report.entries)


def section(roots: dict[int, Path], today: date, args: Namespace, report: Report) -> dict[str, Any]:
    years = sorted(roots)
    print(f"== year {years[-1]} against year {years[0]}: the same repository", flush=True)
    summaries = {}
    shutil.rmtree(SNAPSHOTS, ignore_errors=True)  # once: each repository's stays for its rounds
    for count in years:
        root = roots[count]
        command(
            [*NUDGE, "validate", "--root", str(root)],
            args.timeout,
            {"NUDGE_CACHE_DIR": str(SNAPSHOTS)},
        )  # fmt: skip  (the snapshot plan and run use)
        summaries[count] = made = make_summary(root, today, args.timeout)
        print(
            f"  {count} year(s): {made['log_bytes'] / 2**20:.0f} MiB of log; the summary "
            f"{made['bytes'] / 2**20:.1f} MiB, made from the whole log in {fmt_s(made['make'])}, "
            f"checked in {fmt_s(made['check'])}; plan reads {entries_read(root, today)} entries",
            flush=True,
        )
    series = {(c, k): Series(f"{k} {c}y") for c in years for k in ("plan", "run")}
    plan_cmd = [*NUDGE, "plan", "--today", today.isoformat()]
    for round_no in range(args.repeat):
        for (count, kind), s in series.items():
            root = roots[count]
            if kind == "plan":
                env = {"NUDGE_CACHE_DIR": str(SNAPSHOTS)}
                s.add(command([*plan_cmd, "--root", str(root)], args.timeout, env))
            else:
                s.add(run_outbox(root, today, args.timeout))
        print(
            f"    round {round_no + 1}: "
            + ", ".join(
                f"{s.name} {fmt_s(s.times[-1]) if s.times else '-'}" for s in series.values()
            ),
            flush=True,
        )
    first, last = years[0], years[-1]
    for kind in ("plan", "run"):
        for count in years:
            s = series[(count, kind)]
            print(f"  {kind} with {count} year(s) of log: {s.spread()}")
        value = ratio(series[(last, kind)].best, series[(first, kind)].best)
        print(f"  {kind}: {last} years / {first} year = {fmt_x(value)}")
        label = f"{kind} time, {last} years of log / {first} year (100k)"
        report.target(label, value, fmt_x(value), 1.2, below=True)
    for count in years:
        made = summaries[count]
        report.add(
            f"log summary, {count} year(s): size / made / checked",
            f"{made['bytes'] / 2**20:.1f} MiB / {fmt_s(made['make'])} / {fmt_s(made['check'])}",
        )
    print(flush=True)
    return {"series": series, "summaries": summaries}
