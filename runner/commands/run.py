"""`nudge run`: send what is due, exactly once, and leave a log that loses nothing."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from runner import workspace
from runner.commands.plan import forecast
from runner.deliver import Batch, Job, now_stamp
from runner.errors import NudgeError
from runner.feedback.collect import read_what_came_back
from runner.model import Repository
from runner.schedule import Plan, local_today
from runner.sendlog import LogIndex, Writer
from runner.simulate import open_on


def add_arguments(parser: argparse.ArgumentParser) -> None:
    workspace.add_today(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be sent; send nothing, write nothing",
    )
    parser.add_argument(
        "--transport",
        choices=("auto", "outbox", "live"),
        default="auto",
        help="outbox: write messages to outbox/; live: send them; auto (default): "
        "live where credentials are in the environment, else outbox",
    )
    parser.add_argument(
        "--only", metavar="CUSTOMER", action="append", help="only this customer (repeatable)"
    )
    parser.add_argument(
        "--outbox", type=Path, default=None, help="where outbox messages go (default: ROOT/outbox)"
    )
    parser.add_argument("--commit", action="store_true", help="commit the send log afterwards")
    parser.add_argument(
        "--push",
        action="store_true",
        help="commit and push the log: pending entries before sending, outcomes after",
    )


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    publisher = _publisher(args) if (args.commit or args.push) and not args.dry_run else None
    # Only the repository is kept: what the load says of each file (a third of its memory at
    # 100k invoices) is freed before the log is read.
    repo = workspace.load_valid(root, templates=True).repo
    zone = repo.settings.defaults.timezone
    now = workspace.now(args, zone)
    pool = open_on(repo, local_today(now, zone))
    log, report = workspace.read_log(root, [pool], local_today(now, zone))
    for file, line, why in report.damaged:
        print(f"{file}:{line}: warning: {why}", file=sys.stderr)
    came_back = read_what_came_back(args, repo, log, report, now)  # bounces, replies, SMS status
    log = came_back.log
    today_plan = forecast(repo, log, now, 1, args.only, pool)[0]  # what `nudge plan` shows
    jobs = _compose(repo, root, today_plan, log)
    if args.dry_run:
        print(_dry_run(today_plan, jobs))
        return 0
    if publisher is not None:
        publisher.author = (repo.settings.git_author_name, repo.settings.git_author_email)
    summary = _send(args, repo, log, today_plan, jobs, publisher)
    code = summary.exit_code
    if publisher is not None:
        code = max(code, _publish_outcomes(publisher, summary))
    came_back.finish()  # says what came back; marks it read now that the log is safe
    return code


def _publisher(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from runner import publish, transports

    publisher = publish.Publisher(
        args.root, args.push, ("nudge-bot", "nudge-bot@invalid"), transports.run_id()
    )
    publisher.preflight()
    if args.push:
        publisher.sync()  # decide on the remote's log, not on an hours-old checkout
    return publisher


def _publish_outcomes(publisher: Any, summary: Summary) -> int:
    from runner import publish

    if not publisher.commit(summary.headline()):
        return 0
    if not publisher.push or publisher.push_with_retry():
        return 0
    lines = [raw for raw in summary.written]
    publisher.remember_unpushed(lines)
    _write_unpushed(publisher, summary)
    raise publish.PublishError(
        f"the log was committed but could not be pushed after {publish.PUSH_TRIES} tries; "
        "the commit is left in place and the unpushed lines are in outbox/unpushed-log.jsonl "
        "(and the job summary): push it by hand before the next run"
    )


def _write_unpushed(publisher: Any, summary: Summary) -> None:
    folder = publisher.root / "outbox"
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join(publisher.unpushed) + "\n"
    (folder / "unpushed-log.jsonl").write_text(text, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write("\n### Log lines not pushed\n\n```\n" + text + "```\n")


def _compose(repo: Repository, root: Path, today_plan: Plan, log: LogIndex) -> list[Job]:
    from jinja2 import FileSystemLoader

    from runner.compose import compose
    from runner.templates import Renderer, RenderError

    renderer = Renderer(FileSystemLoader(str(root / "templates")))
    jobs = []
    for delivery in today_plan.deliveries:
        if not delivery.to:
            jobs.append(
                Job(
                    delivery,
                    None,
                    f"nobody to send {delivery.channel} to (no contact "
                    "with an address for the step's roles, or opted out)",
                )
            )
            continue
        try:
            jobs.append(Job(delivery, compose(repo, delivery, renderer, root, log)))
        except (RenderError, NudgeError) as exc:
            jobs.append(Job(delivery, None, f"cannot render: {exc}"))
    return jobs


def outcome_word(job: Job) -> str:
    """sent, failed or unknown: a retry given up on is a failure (certainly not sent)."""
    status = job.outcome.status if job.outcome else "failed"
    return "failed" if status == "retry" else status


class Summary:
    def __init__(
        self, jobs: list[Job], today_plan: Plan, log: LogIndex, claimed_elsewhere: int = 0
    ) -> None:
        self.jobs = jobs
        self.plan = today_plan
        self.log = log
        self.claimed_elsewhere = claimed_elsewhere
        self.written: list[dict[str, Any]] = []
        self.by_status: Counter[str] = Counter()
        self.sent_by_channel: Counter[str] = Counter()
        for job in jobs:
            status = outcome_word(job)
            self.by_status[status] += 1
            if status == "sent":
                self.sent_by_channel[job.delivery.channel] += 1

    @property
    def exit_code(self) -> int:
        return 1 if self.by_status["failed"] or self.by_status["unknown"] else 0

    def headline(self) -> str:
        sent = self.by_status["sent"]
        channels = ", ".join(f"{c} {n}" for c, n in sorted(self.sent_by_channel.items()))
        text = f"{self.plan.today} sent {sent}" + (f" ({channels})" if channels else "")
        for status in ("failed", "unknown"):
            if self.by_status[status]:
                text += f", {status} {self.by_status[status]}"
        return text

    def lines(self) -> list[str]:
        out = [self.headline()]
        for job in self.jobs:
            outcome = job.outcome
            status = outcome_word(job)
            d = job.delivery
            line = f"  {status:<8} {d.channel:<6} {d.customer} {d.step} [{', '.join(d.invoices)}]"
            if outcome and outcome.reason:
                line += f": {outcome.reason}"
            out.append(line)
        tasks = [j for j in self.jobs if j.delivery.channel == "task" and j.message]
        if tasks:
            out.append("Tasks for our people:")
            out += [
                f"  - {j.message.subject} ({', '.join(j.delivery.to)})" for j in tasks if j.message
            ]
        skipped = Counter(d.status for d in self.plan.with_status("superseded", "missed"))
        if skipped:
            out.append(
                "Not sent: "
                + ", ".join(f"{n} {s}" for s, n in sorted(skipped.items()))
                + " (after missed runs; recorded in the log)"
            )
        if self.claimed_elsewhere:
            out.append(f"Already sent by another run: {self.claimed_elsewhere} (not sent again)")
        if self.log.unknown:
            out.append(
                f"Needs a person: {len(self.log.unknown)} earlier message(s) with unknown "
                "outcome (see `nudge report`); they are not re-sent automatically"
            )
        return out

    def markdown(self) -> str:
        lines = [
            f"### Nudge: {self.headline()}",
            "",
            "| outcome | channel | customer | step | invoices | note |",
            "|---|---|---|---|---|---|",
        ]
        for job in self.jobs:
            status = outcome_word(job)
            reason = (job.outcome.reason if job.outcome else job.error).replace("|", "\\|")
            d = job.delivery
            lines.append(
                f"| {status} | {d.channel} | {d.customer} | {d.step} | "
                f"{', '.join(d.invoices)} | {reason} |"
            )
        rest = self.lines()[1 + len(self.jobs) :]
        return "\n".join([*lines, "", *rest]) + "\n"


def _send(
    args: argparse.Namespace,
    repo: Repository,
    log: LogIndex,
    today_plan: Plan,
    jobs: list[Job],
    publisher: Any,
) -> Summary:
    from runner import transports

    root: Path = args.root
    channels = transports.choose(repo, args.transport, args.outbox or root / "outbox")
    writer = Writer(root, today_plan.today)
    run_id, commit = transports.run_id(), transports.config_commit(root)
    _record_skipped(writer, today_plan, run_id, commit)
    batch = Batch(
        writer,
        channels,
        run_id,
        commit,
        repo.settings.hash_recipients,
        transports.retry_policy(),
        _progress(),
    )
    batch.record_pending(jobs)
    taken: list[Job] = []
    if publisher is not None and publisher.push:
        taken = _claim(publisher, writer, jobs, today_plan)
    sending = [job for job in jobs if job not in taken]
    asyncio.run(batch.send_all(sending))
    summary = Summary(sending, today_plan, log, claimed_elsewhere=len(taken))
    summary.written = writer.written
    print("\n".join(summary.lines()))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(summary.markdown())
    return summary


def _claim(publisher: Any, writer: Writer, jobs: list[Job], today_plan: Plan) -> list[Job]:
    """Push our pending entries before sending; give up keys another run claimed first."""
    from runner import publish
    from runner.sendlog import Entry

    pending = [Entry(raw) for raw in writer.written if raw.get("status") == "pending"]
    mine = {key for entry in pending for key in entry.keys}
    cancelled: set[str] = set()

    def recheck() -> bool:
        taken = publish.claimed_elsewhere(publisher.root, mine, publisher.run_id)
        fresh = [e for e in pending if str(e.raw["delivery"]) not in cancelled]
        newly = publish.cancel(writer, fresh, taken)
        cancelled.update(newly)
        return bool(newly)

    publisher.commit(f"{today_plan.today} sending {len(pending)} (pending)")
    if not publisher.push_with_retry(recheck):
        for job in jobs:
            cancelled.add(job.delivery_id)
        publish.cancel(writer, pending, {k: "this run (push failed)" for k in mine})
        publisher.commit(f"{today_plan.today} nothing sent: the claims could not be pushed")
        raise publish.PublishError(
            "could not push the pending entries, so nothing was sent (another run may be "
            "sending the same reminders); the next run will try again"
        )
    return [job for job in jobs if job.delivery_id in cancelled]


def _record_skipped(writer: Writer, today_plan: Plan, run_id: str, commit: str | None) -> None:
    for d in today_plan.with_status("superseded", "missed"):
        writer.append(
            {
                "status": d.status,
                "at": now_stamp(),
                "date": today_plan.today.isoformat(),
                "keys": [d.key],
                "customer": d.customer,
                "invoices": [d.invoice],
                "step": d.step,
                "channel": d.channel,
                "reason": d.reason,
                "run": run_id,
                "commit": commit,
            }
        )


def _progress():  # type: ignore[no-untyped-def]
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total >= 20:
            print(
                f"\r{done}/{total} messages",
                end="" if done < total else "\n",
                file=sys.stderr,
                flush=True,
            )

    return show


def _dry_run(today_plan: Plan, jobs: list[Job]) -> str:
    if not jobs:
        return f"dry run: nothing to send ({today_plan.today})"
    lines = [
        f"dry run: {len(jobs)} message(s) would be sent ({today_plan.today}); nothing sent, "
        "nothing written"
    ]
    for job in jobs:
        d = job.delivery
        what = job.message.subject if job.message else f"NOT SENDABLE: {job.error}"
        lines.append(f"  {d.channel:<6} {d.customer:<18} {d.step:<22} -> {', '.join(d.to)}: {what}")
    return "\n".join(lines)
