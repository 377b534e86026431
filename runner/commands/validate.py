"""`nudge validate`: schemas, cross-references and templates, every problem at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner import output
from runner.errors import Problem
from runner.loaded import Loaded
from runner.output import counted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "github", "json"),
        default="text",
        help="text for people, github for workflow annotations, json for programs",
    )


def check(root: Path) -> tuple[Loaded, list[Problem]]:
    """Load the repository and run every check; problems sorted by file and line."""
    from runner import checks, repository
    from runner.feedback.validate import came_back, unreachable_contacts, usable_summary

    compiling = checks.Precompiling(root)
    loaded = repository.load(root, cold=compiling.start)
    found = checks.all_problems(loaded, root, compiling.compiled())
    summary, warned = usable_summary(root)  # the log's summary, read once for both
    found += unreachable_contacts(loaded, came_back(root, summary))  # warnings: validate only
    found += warned
    return loaded, sorted(set(found))


def run(args: argparse.Namespace) -> int:
    loaded, found = check(args.root)
    errors = [p for p in found if p.severity == "error"]
    if found:
        print(output.problems(found, args.format))
    if args.format == "json":
        return 1 if errors else 0
    repo = loaded.repo
    summary = (
        f"{counted(len(repo.customers), 'customer')}, {counted(len(repo.invoices), 'invoice')}, "
        f"{counted(len(repo.policies), 'policy', 'policies')}, "
        f"{counted(len(repo.templates), 'template')}"
    )
    if errors:
        files = len({p.path for p in errors})
        print(
            f"{counted(len(errors), 'error')} in {counted(files, 'file')} ({summary})",
            file=sys.stderr,
        )
        return 1
    if args.format == "text":
        warned = f", {counted(len(found), 'warning')}" if found else ""
        print(f"valid: {summary}{warned}")
    return 0
