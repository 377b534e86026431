"""Importing a large accounting export into a large repository: prints figures, asserts nothing.

    python bench/imports.py [--size 100000] [--changed 0.01]

The repository is generate.py's company of SIZE invoices (bench/out/, reused), copied
to a temporary folder. The export lists every invoice in the `generic` preset's columns, with
the due date of one row in a hundred moved a week. Measured in fresh processes, with no load
snapshot: the bare libyaml load of the data files (bench.py's floor), the import, and the same
export imported again under another name (nothing left to change). It checks which files the
import touched against the rows that changed.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import generate  # noqa: E402


def export(root: Path, out: Path, every: int) -> set[str]:
    """The export of every invoice; the ids whose due date moved."""
    from runner.repository import load

    repo = load(root).repo
    moved: set[str] = set()
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "customer", "issued", "due", "amount", "currency", "description"])
        for number, invoice in enumerate(sorted(repo.invoices.values(), key=lambda i: i.id)):
            due = invoice.due
            if number % every == 0 and not invoice.installments:
                due += timedelta(days=7)
                moved.add(invoice.id)
            writer.writerow(
                [invoice.id, invoice.customer, invoice.issued, due, invoice.amount,
                 invoice.currency, invoice.description]
            )  # fmt: skip
    return moved


def stamps(root: Path) -> dict[str, int]:
    found = {}
    for top, _, files in os.walk(root):
        for name in files:
            path = os.path.join(top, name)
            found[path] = os.stat(path).st_mtime_ns
    return found


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{done.stdout}{done.stderr}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of rows changed")
    parser.add_argument("--today", default=common.DEFAULT_TODAY)
    args = parser.parse_args()
    today = date.fromisoformat(args.today)
    generated, _ = generate.ensure_repo(args.size, today, regenerate=False)
    env = {**os.environ, "NUDGE_CACHE_DIR": "off", "NUDGE_TODAY": args.today}
    with tempfile.TemporaryDirectory(prefix="nudge-bench-import-") as temp:
        root = Path(temp) / "repo"
        shutil.copytree(generated, root, ignore=shutil.ignore_patterns("log"))
        csv_path = Path(temp) / "export.csv"
        moved = export(root, csv_path, round(1 / args.changed))
        measured = common.worker("floor", {"root": str(root)}, today, timeout=3600)
        floor = float(measured["seconds"]) if measured else float("nan")
        before = stamps(root)
        command = [sys.executable, "-m", "runner", "--root", str(root), "import", "invoices"]
        first, out = timed([*command, str(csv_path), "--mapping", "generic"], env)
        after = stamps(root)
        touched = {p for p in after if after[p] != before.get(p)}
        invoice_files = {Path(p).stem for p in touched if "/invoices/" in p}
        again_path = Path(temp) / "export-again.csv"
        again_path.write_bytes(csv_path.read_bytes() + b"\n")
        second, out2 = timed([*command, str(again_path), "--mapping", "generic"], env)
    rows = args.size
    print(f"import of a {rows:,}-row export into a {rows:,}-invoice repository")
    print(f"  rows changed (due date moved a week): {len(moved):,}")
    print(
        f"  files written: {len(touched):,} ({len(invoice_files):,} invoice files, and the record)"
    )
    print(f"  written files are exactly the changed invoices: {invoice_files == moved}")
    print(f"  bare libyaml load of the data files (floor): {floor:.2f} s")
    print(f"  import: {first:.2f} s = {first / floor:.2f}x the bare load")
    print(f"  the same rows again (nothing to change): {second:.2f} s = {second / floor:.2f}x")
    print(f"  summary: {out.splitlines()[0]}")
    print(f"  again:   {out2.splitlines()[0]}")


if __name__ == "__main__":
    main()
