"""What every command needs first: a valid repository, the send log, and what "today" means."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from runner import output, sendlog, yamledit
from runner.errors import ConfigInvalid, NudgeError
from runner.loaded import Loaded
from runner.model import Invoice, Repository


def load_valid(
    root: Path, sends: bool = False, templates: bool = True, invoices: bool = True
) -> Loaded:
    """The repository with every check passed (the files, their references, every template a
    customer would get), or the same refusal from every command: ConfigInvalid naming the first
    problems, exit 1 (2 from a command that would send). `templates=False` only for an old
    revision loaded to compare with. `invoices=False` for a command that never reads the
    company's invoices (`nudge test`): a snapshot's are then not read (`loaded.left_out`; the
    repository holds only those with an attachment), the same checks passed all the same."""
    from runner import checks, repository

    if not root.is_dir():
        raise NudgeError(f"{root} is not a directory: give --root the Nudge repository")
    compiling = checks.Precompiling(root)
    loaded = repository.load(root, invoices, cold=compiling.start if templates else None)
    problems = (
        checks.all_problems(loaded, root, compiling.compiled()) if templates else loaded.problems
    )
    errors = sorted({p for p in problems if p.severity == "error"})
    if errors:
        shown = "\n".join(f"  {p}" for p in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise ConfigInvalid(
            f"the repository is not valid ({output.counted(len(errors), 'error')}); nothing "
            f"was done:\n{shown}{more}\nrun `nudge validate` for the full list",
            exit_code=2 if sends else 1,
        )
    return loaded


def invoices_of(repo: Repository, target: str) -> tuple[str, list[str]]:
    """(customer, invoice ids) for an invoice id or a customer id given on the command line."""
    if target in repo.invoices:
        return repo.invoices[target].customer, [target]
    if target in repo.customers:
        return target, [i.id for i in repo.invoices_of(target)]
    raise NudgeError(f"'{target}' is neither an invoice nor a customer in this repository")


def invoice(repo: Repository, invoice_id: str) -> Invoice:
    found = repo.invoices.get(invoice_id)
    if found is None:
        from runner.schema import _closest

        close = _closest(invoice_id, repo.invoices)
        hint = f" (did you mean {close}?)" if close else ""
        raise NudgeError(f"there is no invoice '{invoice_id}' in this repository{hint}")
    return found


def read_log(
    root: Path, pools: Sequence[Repository] = (), day: date | None = None
) -> tuple[sendlog.LogIndex, sendlog.ReadReport]:
    """The send log, folded. Given the invoices a daily command decides on `day` (`pools`:
    simulate.open_on of each repository), the log's summary and the months after it when they
    are enough (runner/logsummary.py), else every month (said on stderr when the summary could
    not be used)."""
    from runner import claims
    from runner.repository import no_gc

    with no_gc():
        if pools and day is not None:
            from runner import logsummary

            read = logsummary.read(root, pools, day)
            if read.why:
                print(
                    f"warning: {read.why}: the whole log was read; `nudge log summary` makes "
                    "it again",
                    file=sys.stderr,
                )
            return read.index, read.report
        report = sendlog.read(root)
        return claims.indexed(report.entries), report


def add_today(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--today",
        type=parse_day,
        metavar="YYYY-MM-DD",
        help="act as if today were this date (default: the real date)",
    )


def parse_day(text: str) -> date:
    from runner.schema import date_problem

    problem = date_problem(text.strip())
    if problem is not None:
        raise argparse.ArgumentTypeError(f"'{text}' {problem}")
    return date.fromisoformat(text.strip())


TODAY_VARIABLE = "NUDGE_TODAY"


def now(args: argparse.Namespace, company_timezone: str) -> datetime:
    """The instant a command acts at: --today (else $NUDGE_TODAY) is midday in the company's
    time zone; without either, the real clock."""
    from runner.schedule import noon

    day: date | None = getattr(args, "today", None)
    if day is None:
        day = today_from_environment()
    if day is not None:
        return noon(day, company_timezone)
    return datetime.now(UTC)


def today_from_environment() -> date | None:
    text = os.environ.get(TODAY_VARIABLE, "").strip()
    if not text:
        return None
    try:
        return parse_day(text)
    except argparse.ArgumentTypeError as exc:
        raise NudgeError(f"{TODAY_VARIABLE}: {exc}") from None


def add_write_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="show the change as a diff; write nothing"
    )
    parser.add_argument(
        "--commit", action="store_true", help="commit the files changed (and nothing else)"
    )


def save(args: argparse.Namespace, edits: yamledit.Edits, message: str, repo: Repository) -> int:
    """The shell of every command that edits files: a diff for --dry-run, else write them all
    (or none), and with --commit commit just those files with `message`."""
    if args.dry_run:
        print(edits.diff() or "(nothing would change)", end="")
        return 0
    written = edits.write()
    if not written:
        print("nothing changed")
        return 0
    for rel in written:
        print(f"wrote {rel}")
    if args.commit:
        from runner import git

        settings = repo.settings
        sha = git.commit_paths(
            args.root, written, message, (settings.git_author_name, settings.git_author_email)
        )
        print(f"committed {sha[:8]}: {message.splitlines()[0]}")
    return 0
