"""`nudge show KEY`: a logged message rendered again, from the commit the log entry names.

Only what can be rendered exactly is shown. When the commit cannot give back what was sent (the
run read uncommitted changes, the commit is gone, it lacks the customer or the template...),
`show` says so in one sentence and exits 1, never a guess and never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from runner import git, workspace
from runner.errors import ConfigInvalid, NudgeError
from runner.model import Repository
from runner.schedule import Delivery
from runner.sendlog import Entry, LogIndex

SHOWN = ("pending", "handover", "sent")  # a message that was (or may have been) handed over
NEEDED = ("customer", "policy", "step", "channel", "date", "template", "locale")


class CannotShow(NudgeError):
    """A logged message that cannot be rendered again exactly, and why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "key", help="a delivery key, e.g. INV-1042/weekly-statement/2026-11-23/email"
    )
    parser.add_argument(
        "--part",
        choices=("text", "html", "subject", "eml", "pdf"),
        default="text",
        help="which part to print (default: the text; pdf: a letter as printed, to redirect "
        "to a file)",
    )


def find(root: Path, key: str) -> Entry:
    """The log entry of the message with `key`: its outcome if it was sent, else its claim."""
    from runner.sendlog import read

    entries = [e for e in read(root).entries if key in e.keys]
    if not entries:
        raise NudgeError(f"no message with key '{key}' in the log")
    shown = [e for e in entries if e.status in SHOWN]
    if not shown:
        statuses = ", ".join(dict.fromkeys(e.status for e in entries))
        raise CannotShow(f"{key} was never sent (the log says: {statuses}): there is no message")
    sent = [e for e in shown if e.status == "sent"]
    return (sent or shown)[-1]


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    entry = find(root, args.key)
    if str(entry.get("template", "")).startswith("nudge:"):
        raise NudgeError(
            "that is a task Nudge wrote about what came back (a bounce or a reply), not a "
            f"template: its text is in `nudge history {entry.get('customer')}`"
        )
    if args.part == "pdf" and entry.get("channel") != "letter":
        raise NudgeError(
            f"only a letter has a PDF; this is {entry.get('channel')}: try --part html"
        )
    try:
        text = render(root, entry, "html" if args.part == "pdf" else args.part)
    except CannotShow as exc:
        raise CannotShow(f"{args.key} cannot be rendered again exactly: {exc}") from None
    if args.part == "pdf":
        _write_pdf(text)
    else:
        print(text, end="")
    return 0


def _write_pdf(page: str) -> None:
    """A letter's PDF on stdout, the same bytes the run wrote to the outbox."""
    from runner import pdf

    if sys.stdout.isatty():
        raise NudgeError("--part pdf writes a PDF: redirect it to a file (> letter.pdf)")
    missing = pdf.available()
    if missing:
        raise NudgeError(f"no PDF here: {missing}")
    sys.stdout.flush()
    sys.stdout.buffer.write(pdf.render(page).data)


def render(root: Path, entry: Entry, part: str) -> str:
    """The part of the message, rendered from the commit its log entry names."""
    commit = source_commit(root, entry)
    log, _ = workspace.read_log(root)
    try:
        holder = git.temporary_export(root, commit)
    except git.GitError as exc:
        raise CannotShow(f"the files of commit {commit[:8]} cannot be read ({exc})") from None
    with holder as folder:
        at = Path(folder)
        try:
            repo = workspace.load_valid(at).repo
        except ConfigInvalid as exc:
            first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
            raise CannotShow(f"the files of commit {commit[:8]} are not valid: {first}") from None
        delivery = rebuilt(repo, at, entry, commit)
        return _part(repo, at, delivery, log, part, commit)


def source_commit(root: Path, entry: Entry) -> str:
    """The commit that holds exactly what the message was rendered from; else CannotShow."""
    commit = str(entry.get("commit") or "")
    if not commit:
        raise CannotShow("its log entry names no commit (the run was outside git)")
    if entry.get("dirty"):
        raise CannotShow(
            f"the run that sent it read files with uncommitted changes, so commit {commit[:8]} "
            "does not hold what was sent (commit your changes before `nudge run`)",
        )
    if not git.is_repo(root):
        raise CannotShow(f"{root} is not a git repository, so commit {commit[:8]} is not here")
    if not git.has_commit(root, commit):
        raise CannotShow(
            f"commit {commit[:8]}, which its log entry names, is not in this repository "
            "(history rewritten, or a shallow clone: `git fetch --unshallow`)",
        )
    return commit


def rebuilt(repo: Repository, at: Path, entry: Entry, commit: str) -> Delivery:
    """The delivery the log entry records, checked against what the commit holds."""
    missing = [name for name in NEEDED if not entry.get(name)]
    if missing:
        raise CannotShow(f"its log entry lacks {', '.join(missing)}")
    short = commit[:8]
    customer, policy_id = str(entry.get("customer")), str(entry.get("policy"))
    invoices = tuple(str(i) for i in entry.get("invoices", ()))
    absent = [f"customer '{customer}'"] if customer not in repo.customers else []
    absent += [f"invoice '{i}'" for i in invoices if i not in repo.invoices]
    policy = repo.policies.get(policy_id)
    if policy is None:
        absent.append(f"policy '{policy_id}'")
    elif not any(s.id == entry.get("step") for s in policy.steps):
        absent.append(f"step '{entry.get('step')}' in policy '{policy_id}'")
    if not (at / "templates" / str(entry.get("template"))).is_file():
        absent.append(f"template '{entry.get('template')}'")
    if absent:
        raise CannotShow(f"commit {short} has no {', no '.join(absent)}")
    assert policy is not None
    index = next(i for i, s in enumerate(policy.steps) if s.id == entry.get("step"))
    try:
        day = date.fromisoformat(str(entry.get("date")))
    except ValueError:
        raise CannotShow(f"its log entry's date '{entry.get('date')}' is not a date") from None
    return Delivery(
        date=day,
        customer=customer,
        policy=policy.id,
        step=policy.steps[index].id,
        step_index=index,
        channel=str(entry.get("channel")),
        invoices=invoices,
        keys=entry.keys,
        to=tuple(entry.get("to", ())),
        cc=tuple(entry.get("cc", ())),
        template=str(entry.get("template")),
        locale=str(entry.get("locale")),
        reason="",
        total_due=Decimal(0),
        currency="",
    )


def _part(
    repo: Repository,
    at: Path,
    delivery: Delivery,
    log: LogIndex,
    part: str,
    commit: str,
) -> str:
    from jinja2 import FileSystemLoader

    from runner.compose import compose, email_message
    from runner.templates import Renderer, RenderError

    renderer = Renderer(FileSystemLoader(str(at / "templates")))
    try:
        message = compose(repo, delivery, renderer, at, log)
    except (RenderError, NudgeError) as exc:
        raise CannotShow(f"rendering it from commit {commit[:8]} fails: {exc}") from None
    if part == "subject":
        return message.subject + "\n"
    if part == "html":
        return message.html or ""
    if part == "eml":
        return email_message(repo, message).as_string()
    return message.text
