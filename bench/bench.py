#!/usr/bin/env python3
"""Nudge benchmark: every figure of the README's Performance section, each with its target and
whether it is met. Prints figures; asserts nothing. See bench/README.md.

    python bench/bench.py                    # all of it (an hour or more the first time)
    python bench/bench.py --update-readme    # the same, and the README's table rewritten
    python bench/bench.py --quick            # a smoke check at 10k

Each part lives in its own module, by what it measures: generate.py (the companies),
loadplan.py (load, validate, plan at 10k/100k), logyears.py (one year of log against five),
prcheck.py (check.yml at 100k), sending.py (e-mail), memory.py, startup.py, profiles.py.
Every heavy measurement runs in a fresh process (this script with --worker), so each starts as
cold as a real `nudge` command and a runaway one can be stopped without losing the report.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import generate
import loadplan
import logyears
import memory
import prcheck
import profiles
import sending
import startup
from common import OUT, RESULT, ROOT, SNAPSHOTS, Report, fmt_s

SECTIONS = ("sizes", "years", "prcheck", "email", "memory", "startup", "profile")
WORKERS = {
    **generate.WORKERS,
    **loadplan.WORKERS,
    **sending.WORKERS,
    **memory.WORKERS,
    **profiles.WORKERS,
}
README = ROOT / "README.md"
TABLE = re.compile(r"(<!-- bench figures -->\n)(?:.*?\n)?(<!-- /bench figures -->)", re.S)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help="invoice counts, comma-separated (customers = /10)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke check: 10k only, 200 e-mails, no 100k parts"
    )
    parser.add_argument("--today", default=common.DEFAULT_TODAY, help="the day plans are made for")
    parser.add_argument("--years", type=int, default=5, help="years of log against one year")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best of)")
    parser.add_argument("--messages", type=int, default=1000, help="e-mails per send run")
    parser.add_argument(
        "--smtp-delay", type=float, default=0.02, help="seconds the test server sits on a message"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=16,
        help="email.max_connections measured beside the default (runner.model)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1200, help="seconds before one measurement is stopped"
    )
    parser.add_argument(
        "--max-repeat-seconds",
        type=float,
        default=300,
        help="a measurement whose first run takes longer is not repeated",
    )
    parser.add_argument("--regenerate", action="store_true", help="generate the repositories again")
    parser.add_argument(
        "--skip",
        default="profile",
        help=f"sections left out, comma-separated: {','.join(SECTIONS)}",
    )
    parser.add_argument(
        "--profile-size", type=int, default=10000, help="the size profiled (one of --sizes)"
    )
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="write the final table into README.md's Performance section",
    )
    # internal
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-args", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--smtp-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.02, help=argparse.SUPPRESS)
    return parser.parse_args()


def run_worker(args: argparse.Namespace) -> None:
    today = date.fromisoformat(args.today)
    if args.worker not in ("generate", "add-years"):
        common.preimport()
    result = WORKERS[args.worker](today, **json.loads(args.worker_args))
    result.setdefault("maxrss_mb", common.rss_mb())
    print(RESULT + json.dumps(result, default=str), flush=True)


def main() -> int:
    args = arguments()
    os.environ.setdefault("NUDGE_CACHE_DIR", str(SNAPSHOTS))  # never the user's own cache
    if args.smtp_server:
        sending.smtp_server(args.delay)
        return 0
    if args.worker:
        run_worker(args)
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    today = date.fromisoformat(args.today)
    sizes = [10000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    skip = set(filter(None, args.skip.split(",")))
    if args.quick:
        skip |= {"years", "prcheck", "memory"}
    began = time.perf_counter()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"Nudge benchmark, {time.strftime('%Y-%m-%d %H:%M')}: Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {load}; today = {today}; best of {args.repeat}, "
        "each run in a fresh process\n",
        flush=True,
    )
    version = common.code_version()
    print(f"runner code: {version}\n", flush=True)
    report = Report()

    print("== the generated repositories", flush=True)
    roots = {}
    for size in sizes:
        roots[size], info = generate.ensure_repo(size, today, args.regenerate)
        generate.describe(roots[size], info)
        print("  invoice states: " + ", ".join(f"{k} {v}" for k, v in info["states"].items()))
    big = max(sizes)
    years: dict[int, Path] = {}
    if big >= 100000 and not skip >= {"years", "memory"}:
        years = {1: roots[big]}
        years[args.years], info = generate.ensure_repo(big, today, args.regenerate, args.years)
        generate.describe(years[args.years], info)
    print(flush=True)

    found = {}
    if "sizes" not in skip:
        found = loadplan.section(roots, today, args, report)
    if "years" not in skip and years:
        logyears.section(years, today, args, report)
    if "prcheck" not in skip and big >= 100000:
        prcheck.section(roots[big], found.get(big, {}).get("floor"), today, args, report)
    if "email" not in skip:
        sending.section(
            roots[min(sizes)], today, 200 if args.quick else args.messages, args, report
        )
    if "memory" not in skip and years:
        memory.section(years, today, args, report)
    if "startup" not in skip:
        startup.section(today, report)
    if "profile" not in skip:
        size = args.profile_size if args.profile_size in roots else min(roots)
        profiles.section(size, roots[size], today, args.timeout)

    report.print()
    print(f"\n(total benchmark time {fmt_s(time.perf_counter() - began)}; runner code {version})")
    if common.code_version() != version:
        print(
            f"WARNING: runner/ changed during the run (now {common.code_version()}): the figures "
            "above mix versions of the code; run again for a consistent set"
        )
    table = markdown(report, version)
    (OUT / "figures.md").write_text(table, encoding="utf-8")
    if args.update_readme:
        text = README.read_text(encoding="utf-8")
        if not TABLE.search(text):
            raise SystemExit("README.md has no <!-- bench figures --> block to write into")
        README.write_text(TABLE.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text))
        print("README.md: the Performance table is the one above")
    return 0


def markdown(report: Report, version: str) -> str:
    """The final table as the README shows it, with the day and the machine."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"Measured on {time.strftime('%Y-%m-%d')} by `python bench/bench.py` (runner {version}): "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {load} at the end.",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.figure} | {r.value} | {r.target} | {r.met} |" for r in report.rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
