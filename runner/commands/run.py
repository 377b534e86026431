"""`nudge run`: send what is due, exactly once, and leave a log that loses nothing."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from pathlib import Path

from runner import workspace
from runner.deliver import Batch, Job, now_stamp
from runner.errors import NudgeError
from runner.repository import Loaded
from runner.schedule import Plan, plan
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
    root: Path = args.root
    loaded = workspace.load_valid(root, templates=True)
    repo = loaded.repo
    log, report = workspace.read_log(root)
    for file, line, why in report.damaged:
        print(f"{file}:{line}: warning: {why}", file=sys.stderr)
    now = workspace.now(args, repo.settings.defaults.timezone)
    today_plan = plan(repo, log, now, only=args.only)
    jobs = _compose(loaded, root, today_plan)
    if args.dry_run:
        print(_dry_run(today_plan, jobs))
        return 0
    if args.push or args.commit:
        from runner import publish

        return publish.run_and_publish(args, loaded, log, today_plan, jobs, _send)
    summary = _send(args, loaded, log, today_plan, jobs, before_send=None)
    return summary.exit_code


def _compose(loaded: Loaded, root: Path, today_plan: Plan) -> list[Job]:
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
            jobs.append(Job(delivery, compose(loaded.repo, delivery, renderer, root)))
        except (RenderError, NudgeError) as exc:
            jobs.append(Job(delivery, None, f"cannot render: {exc}"))
    return jobs


class Summary:
    def __init__(self, jobs: list[Job], today_plan: Plan, log: LogIndex) -> None:
        self.jobs = jobs
        self.plan = today_plan
        self.log = log
        self.by_status: Counter[str] = Counter()
        self.sent_by_channel: Counter[str] = Counter()
        for job in jobs:
            status = job.outcome.status if job.outcome else "failed"
            status = "failed" if status == "retry" else status
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
            status = outcome.status if outcome else "failed"
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
            status = job.outcome.status if job.outcome else "failed"
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
    loaded: Loaded,
    log: LogIndex,
    today_plan: Plan,
    jobs: list[Job],
    before_send: object,
) -> Summary:
    from runner import transports

    root: Path = args.root
    repo = loaded.repo
    channels = transports.choose(repo, args.transport, args.outbox or root / "outbox")
    writer = Writer(root, today_plan.today)
    try:
        _record_skipped(writer, today_plan, transports.run_id(), transports.config_commit(root))
        batch = Batch(
            writer,
            channels,
            transports.run_id(),
            transports.config_commit(root),
            repo.settings.hash_recipients,
            transports.retry_policy(),
            _progress(),
        )
        batch.record_pending(jobs)
        if callable(before_send):
            before_send()
        asyncio.run(batch.send_all(jobs))
    finally:
        writer.close()
    summary = Summary(jobs, today_plan, log)
    print("\n".join(summary.lines()))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(summary.markdown())
    return summary


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
