"""Section 2: loading, validating and planning at 10k and 100k invoices, against the floor (a
bare libyaml load of the same files). Figures (a)-(d) of bench/README.md, the ratio (b)+(c)/(a)
(target <= 2.0 at 100k) and the growth from 10k to 100k (target <= 11)."""

from __future__ import annotations

import shutil
import time
from argparse import Namespace
from datetime import date
from pathlib import Path
from typing import Any

from common import NUDGE, SNAPSHOTS, Report, Series, command, fmt_s, fmt_x, label, ratio
from common import worker as run_worker


def data_paths(root: Path) -> list[Path]:
    """Every data file the loader reads: settings, customers, invoices, policies (not tests/)."""
    from runner.repository import data_files

    files = [root / "settings.yaml"]
    for folder in ("customers", "invoices", "policies"):
        files += [Path(name) for name in data_files(root, folder)]
    return files


def do_floor(today: date, root: str) -> dict[str, Any]:
    """(a) The floor: yaml.load with libyaml's C parser over every data file, files read."""
    import yaml

    paths = data_paths(Path(root))  # listing the files is the loader's job too, not libyaml's
    start = time.perf_counter()
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            yaml.load(handle.read(), Loader=yaml.CSafeLoader)
    return {"seconds": time.perf_counter() - start, "files": len(paths)}


def validate(root: Path) -> dict[str, Any]:
    from runner.commands.validate import check

    loaded, found = check(root)
    errors = [p for p in found if p.severity == "error"]
    return {
        "errors": len(errors),
        "warnings": len(found) - len(errors),
        "first_errors": [str(p) for p in errors[:3]],
        "customers": len(loaded.repo.customers),
        "invoices": len(loaded.repo.invoices),
    }


def plan(root: Path, today: date) -> dict[str, Any]:
    """What `nudge plan --today D` computes, without printing."""
    from runner import schedule, simulate, workspace
    from runner.simulate import forecast

    repo = workspace.load_valid(root).repo
    pool = simulate.open_on(repo, today)
    log, report = workspace.read_log(root, [pool], today)
    start = schedule.noon(today, repo.settings.defaults.timezone)
    result = forecast(repo, log, start, 1, pool=pool)[0]
    return {
        "deliveries": len(result.deliveries),
        "decisions": len(result.decisions),
        "log_keys": len(log.keys),
        "log_entries": len(report.entries),
    }


def do_validate(today: date, root: str) -> dict[str, Any]:
    """(b) validate with no load snapshot, waiting for the snapshot it writes."""
    from runner import snapshot

    start = time.perf_counter()
    info = validate(Path(root))
    snapshot.settle()  # a command waits for its snapshot before it exits: that time counts
    return {"seconds": time.perf_counter() - start, **info}


def do_plan(today: date, root: str) -> dict[str, Any]:
    """(c), (d): plan after validate (its snapshot), or with snapshots off."""
    from runner import snapshot

    start = time.perf_counter()
    info = plan(Path(root), today)
    snapshot.settle()
    return {"seconds": time.perf_counter() - start, **info}


WORKERS = {"floor": do_floor, "validate": do_validate, "plan": do_plan}


def keep_summary(root: Path, today: date, timeout: float) -> None:
    """log/summary.json as the daily job leaves it (remind.yml's `nudge log summary --push` after
    each run): a repository in use has one, so `plan` reads it and the months after it. Made
    here once if missing (not timed: section 3 times making it)."""
    if not (root / "log" / "summary.json").exists():
        env = {"NUDGE_CACHE_DIR": "off"}
        command([*NUDGE, "log", "summary", "--root", str(root), "--today", today.isoformat()],
                timeout, env)  # fmt: skip


def measure(root: Path, today: date, args: Namespace) -> dict[str, Series]:
    """floor; validate with no snapshot; plan after it (the snapshot validate left, as in the
    check job); plan with snapshots off (a cold plan on its own); round-robin, best of N. The
    repository carries the log's summary the daily job keeps."""
    keep_summary(root, today, args.timeout)
    series = {k: Series(k) for k in ("floor", "validate", "plan", "plan-cold")}
    for round_no in range(args.repeat):
        for kind, s in series.items():
            if s.done or (round_no and s.times and s.times[0] > args.max_repeat_seconds):
                continue  # one run that long is figure enough
            if kind == "validate":
                shutil.rmtree(SNAPSHOTS, ignore_errors=True)
            env = {"NUDGE_CACHE_DIR": "off" if kind == "plan-cold" else str(SNAPSHOTS)}
            work = "plan" if kind == "plan-cold" else kind
            s.add(run_worker(work, {"root": str(root)}, today, args.timeout, env))
        print(
            f"    round {round_no + 1}: "
            + ", ".join(f"{k} {fmt_s(s.times[-1]) if s.times else '-'}" for k, s in series.items()),
            flush=True,
        )
    return series


def section(sizes: dict[int, Path], today: date, args: Namespace, report: Report) -> dict[int, Any]:
    """The figures of each size, and the growth from 10k to 100k."""
    found: dict[int, Any] = {}
    for size, root in sizes.items():
        print(f"== load, validate, plan: {label(size)} invoices", flush=True)
        series = measure(root, today, args)
        floor, val, pl = (series[k].best for k in ("floor", "validate", "plan"))
        cold = series["plan-cold"].best
        for name, s in series.items():
            print(f"  {name:<9} {s.spread()}")
        if series["validate"].info:
            v = series["validate"].info
            print(f"  validate found {v['errors']} errors, {v['warnings']} warnings")
        if series["plan"].info:
            p = series["plan"].info
            print(
                f"  plan: {p['deliveries']} deliveries, {p['decisions']} decisions, "
                f"{p['log_entries']} log entries read"
            )
        both = val + pl if val is not None and pl is not None else None
        both_cold = val + cold if val is not None and cold is not None else None
        cli = command(
            [*NUDGE, "plan", "--root", str(root), "--today", today.isoformat()],
            args.timeout,
            {"NUDGE_CACHE_DIR": "off"},  # cold: start-up and every file read
        )
        cli_s = cli.get("seconds") if cli else None
        print(
            f"  validate + plan = {fmt_s(both)} = {fmt_x(ratio(both, floor))} the floor "
            f"(plan on the snapshot validate left); with a cold plan "
            f"{fmt_x(ratio(both_cold, floor))}; CLI `nudge plan` cold, end to end: "
            f"{fmt_s(cli_s)}\n",
            flush=True,
        )
        found[size] = {"series": series, "both": both, "floor": floor}
        tag = label(size)
        report.add(f"{tag}: libyaml floor (a)", fmt_s(floor))
        report.add(f"{tag}: validate (b)", fmt_s(val) if val else series["validate"].spread())
        report.add(f"{tag}: plan after validate (c)", fmt_s(pl) if pl else series["plan"].spread())
        report.add(f"{tag}: plan, snapshots off (d)", fmt_s(cold))
        value = ratio(both, floor)
        if size >= 100000:
            report.target(f"{tag}: (b)+(c) / (a)", value, fmt_x(value), 2.0, below=True)
        else:
            report.add(f"{tag}: (b)+(c) / (a)", fmt_x(value))
        report.add(f"{tag}: (b)+(d) / (a)", fmt_x(ratio(both_cold, floor)))
        report.add(f"{tag}: CLI nudge plan, cold, end to end", fmt_s(cli_s))
    small, large = found.get(10000), found.get(100000)
    growth = ratio(large["both"], small["both"]) if small and large else None
    report.target("(b)+(c), 100k / 10k", growth, fmt_x(growth), 11, below=True)
    print(f"(b)+(c) at 100k / at 10k: {fmt_x(growth)}\n", flush=True)
    return found
