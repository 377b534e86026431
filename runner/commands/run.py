"""`nudge run`: send what is due, exactly once, and leave a log that loses nothing."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner import reconcile, simulate, workspace
from runner.deliver import Batch, Deadline, Job, now_stamp
from runner.errors import NudgeError
from runner.feedback.collect import read_what_came_back
from runner.model import Repository
from runner.output import counted
from runner.schedule import Plan, local_today, zone
from runner.sendlog import LogIndex, Writer


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
    started = time.monotonic()  # the run's deadline counts from here
    root: Path = args.root
    publisher = _publisher(args) if (args.commit or args.push) and not args.dry_run else None
    # Only the repository is kept: what the load says of each file (a third of its memory at
    # 100k invoices) is freed before the log is read.
    repo = workspace.load_valid(root, sends=True).repo
    deadline = Deadline(repo.settings.deadline_minutes, started)
    now = workspace.now(args, repo.settings.defaults.timezone)
    day = local_today(now, repo.settings.defaults.timezone)
    pool = simulate.open_on(repo, day)
    log, report = workspace.read_log(root, [pool], day)
    for file, line, why in report.damaged:
        print(f"{file}:{line}: warning: {why}", file=sys.stderr)
    came_back = read_what_came_back(args, repo, log, report, now)  # bounces, replies, SMS status
    log = came_back.log
    settled: list[reconcile.Settlement] = []
    unsettled: list[str] = []
    if not args.dry_run:
        settled, unsettled, log = _reconcile(args, repo, log, now, deadline)
    # what `nudge plan` shows, by the same path
    today_plan = simulate.forecast(repo, log, now, 1, args.only, pool)[0]
    jobs = _compose(repo, root, today_plan, log)
    # The log, the plan and the messages live until the run ends: left out of the collections
    # from here on, those of sending walk only what sending makes (letters are printed in a
    # process of their own: runner/pdf.py).
    gc.freeze()
    if args.dry_run:
        print(_dry_run(today_plan, jobs))
        return 0
    if publisher is not None:
        publisher.author = (repo.settings.git_author_name, repo.settings.git_author_email)
    summary = _send(args, repo, log, today_plan, jobs, publisher, deadline)
    summary.settled, summary.not_settled = settled, unsettled
    _report(summary)
    code = summary.exit_code
    if publisher is not None:
        code = max(code, _publish_outcomes(publisher, summary))
    came_back.finish()  # says what came back; marks it read now that the log is safe
    for sentence in summary.stops():
        print(f"nudge: {sentence}", file=sys.stderr)
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
    """sent, failed, unknown or deferred (not handed over: due again). A retry given up on is a
    failure (certainly not sent)."""
    status = job.outcome.status if job.outcome else "failed"
    return "failed" if status == "retry" else status


class Summary:
    def __init__(
        self,
        jobs: list[Job],
        today_plan: Plan,
        log: LogIndex,
        claimed_elsewhere: int = 0,
        notes: list[str] | None = None,
    ) -> None:
        self.jobs = jobs
        self.plan = today_plan
        self.log = log
        self.claimed_elsewhere = claimed_elsewhere
        self.notes = notes or []  # what a channel could not do as usual (letters without PDF)
        self.written: list[dict[str, Any]] = []
        self.settled: list[reconcile.Settlement] = []
        self.not_settled: list[str] = []  # why providers' records could not be read
        self.stopped: list[str] = []  # why the batch handed nothing more over
        self.by_status: Counter[str] = Counter()
        self.sent_by_channel: Counter[str] = Counter()
        for job in jobs:
            status = outcome_word(job)
            self.by_status[status] += 1
            if status == "sent":
                self.sent_by_channel[job.delivery.channel] += 1

    @property
    def exit_code(self) -> int:
        return 1 if any(self.by_status[s] for s in ("failed", "unknown", "deferred")) else 0

    def headline(self) -> str:
        sent = self.by_status["sent"]
        channels = ", ".join(f"{c} {n}" for c, n in sorted(self.sent_by_channel.items()))
        text = f"{self.plan.today} sent {sent}" + (f" ({channels})" if channels else "")
        for status in ("failed", "unknown", "deferred"):
            if self.by_status[status]:
                text += f", {status} {self.by_status[status]}"
        return text

    def stops(self) -> list[str]:
        """Why the run stopped handing messages over, one sentence each."""
        left = Counter(
            job.outcome.reason
            for job in self.jobs
            if job.outcome and job.outcome.status == "deferred"
        )
        return [
            f"{reason}: {counted(left[reason], 'message')} not handed over, due again"
            for reason in self.stopped
        ]

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
        out += self.notes
        out += self._settlements()
        if self.log.unknown:
            out.append(
                f"Needs a person: {counted(len(self.log.unknown), 'earlier message')} with "
                "unknown outcome (see `nudge report`); they are not re-sent automatically"
            )
        return out

    def _settlements(self) -> list[str]:
        out = []
        if self.settled:
            sent = sum(1 for s in self.settled if s.sent)
            out.append(
                f"Settled from the provider's records: {sent} sent, "
                f"{len(self.settled) - sent} not sent (due again)"
            )
            out += [
                f"  {'sent' if s.sent else 'not sent'}: {', '.join(s.entry.keys)}: {s.evidence}"
                for s in self.settled
            ]
        out += [f"Not settled: {why}" for why in self.not_settled]
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
        return "\n".join([*lines, "", *rest, *self.stops()]) + "\n"


def _reconcile(
    args: argparse.Namespace, repo: Repository, log: LogIndex, now: datetime, deadline: Deadline
) -> tuple[list[reconcile.Settlement], list[str], LogIndex]:
    """Unknown SMS outcomes settled from Twilio's records (live runs only), written to the log;
    the log as it then stands."""
    from runner import transports

    unknown = [e for e in log.unknown if e.get("channel") == "sms"]
    credentials = transports.sms_credentials(repo)
    sms = repo.settings.sms
    if args.transport == "outbox" or credentials is None or sms is None:
        return [], [], log
    if not unknown or deadline.left() < 60:  # the deadline is for sending: settle next time
        return [], [], log
    from runner.channels.twilio_sms import TwilioSms

    twilio = TwilioSms("sms", sms, *credentials, timeout=min(30, deadline.left() / 4))
    settled, failed = reconcile.settle_sms(
        unknown,
        twilio.messages_to,
        reconcile.known_provider_ids(log),
        _phones(repo),
        datetime.now(UTC),
        reconcile.settle_after(),
    )
    if not settled:
        return [], failed, log
    writer = Writer(args.root, now.astimezone(zone(repo.settings.defaults.timezone)).date())
    stamp = {"at": now_stamp(), "run": transports.run_id()}
    writer.append_many([{**raw, **stamp} for raw in reconcile.entries(settled)])
    return settled, failed, workspace.read_log(args.root)[0]


def _phones(repo: Repository) -> Callable[[str], str]:
    """A logged recipient (a number, or its hash with log.hash_recipients) back to a number."""
    from runner.sendlog import hashed

    known = {
        hashed(c.phone): c.phone
        for cust in repo.customers.values()
        for c in cust.contacts
        if c.phone
    }
    return lambda logged: known.get(logged, "") if logged.startswith("sha256:") else logged


def _send(
    args: argparse.Namespace,
    repo: Repository,
    log: LogIndex,
    today_plan: Plan,
    jobs: list[Job],
    publisher: Any,
    deadline: Deadline,
) -> Summary:
    from runner import transports

    root: Path = args.root
    channels = transports.choose(repo, args.transport, args.outbox or root / "outbox")
    for note in transports.notes(repo, args.transport):
        print(f"note: {note}", file=sys.stderr)
    writer = Writer(root, today_plan.today)
    run_id, (commit, dirty) = transports.run_id(), transports.config_source(root)
    skipped = _record_skipped(writer, today_plan, run_id, commit, dirty)
    batch = Batch(
        writer,
        channels,
        run_id,
        commit,
        repo.settings.hash_recipients,
        transports.retry_policy(),
        _progress(),
        deadline,
        repo.settings.company.email.rsplit("@", 1)[-1],
        dirty=dirty,
    )
    batch.record_pending(jobs)
    taken: list[Job] = []
    if publisher is not None and publisher.push:
        taken = _claim(publisher, writer, jobs, skipped, today_plan)
    sending = [job for job in jobs if job not in taken]
    asyncio.run(batch.send_all(sending))
    notes = sorted({note for sender in channels.values() for note in getattr(sender, "notes", ())})
    summary = Summary(sending, today_plan, log, claimed_elsewhere=len(taken), notes=notes)
    summary.written = writer.written
    summary.stopped = [batch.stopped] if batch.stopped else []
    summary.stopped += list(batch.circuits.values())
    return summary


def _report(summary: Summary) -> None:
    print("\n".join(summary.lines()))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(summary.markdown())


def _claim(
    publisher: Any,
    writer: Writer,
    jobs: list[Job],
    skipped: list[dict[str, Any]],
    today_plan: Plan,
) -> list[Job]:
    """Push our claims (and the occurrences we recorded as superseded or missed) before
    sending; give up what another run recorded first, bookkeeping included, so the remote log
    holds each decision once."""
    from runner import publish
    from runner.sendlog import Entry

    ours = [Entry(raw) for raw in writer.written if raw.get("status") == "pending"]
    ours += [Entry(raw) for raw in skipped]
    mine = {key for entry in ours for key in entry.keys}
    cancelled: set[str] = set()

    def recheck() -> bool:
        taken = publish.claimed_elsewhere(publisher.root, mine, publisher.run_id)
        fresh = [e for e in ours if e.delivery not in cancelled]
        newly = publish.cancel(writer, fresh, taken)
        cancelled.update(newly)
        return bool(newly)

    claims = sum(1 for e in ours if e.status == "pending")
    publisher.commit(f"{today_plan.today} sending {claims} (pending)")
    if not publisher.push_with_retry(recheck):
        for job in jobs:
            cancelled.add(job.delivery_id)
        publish.cancel(writer, ours, {k: "this run (push failed)" for k in mine})
        publisher.commit(f"{today_plan.today} nothing sent: the claims could not be pushed")
        raise publish.PublishError(
            "could not push the pending entries, so nothing was sent (another run may be "
            "sending the same reminders); the next run will try again"
        )
    return [job for job in jobs if job.delivery_id in cancelled]


def _record_skipped(
    writer: Writer, today_plan: Plan, run_id: str, commit: str | None, dirty: bool
) -> list[dict[str, Any]]:
    """The occurrences not sent after missed runs, recorded (each its own delivery id, so a run
    that loses a race for them cancels them like its claims)."""
    from runner.sendlog import new_id

    written = []
    for d in today_plan.with_status("superseded", "missed"):
        entry = {
            "status": d.status,
            "at": now_stamp(),
            "delivery": new_id(),
            "date": today_plan.today.isoformat(),
            "keys": [d.key],
            "customer": d.customer,
            "invoices": [d.invoice],
            "step": d.step,
            "channel": d.channel,
            "reason": d.reason,
            "run": run_id,
            "commit": commit,
            **({"dirty": True} if dirty else {}),
        }
        writer.append(entry)
        written.append(entry)
    return written


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
        f"dry run: {counted(len(jobs), 'message')} would be sent ({today_plan.today}); "
        "nothing sent, nothing written"
    ]
    for job in jobs:
        d = job.delivery
        what = job.message.subject if job.message else f"NOT SENDABLE: {job.error}"
        lines.append(f"  {d.channel:<6} {d.customer:<18} {d.step:<22} -> {', '.join(d.to)}: {what}")
    return "\n".join(lines)
