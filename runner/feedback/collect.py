"""Read what came back, at the start of a run: the effects around record.py and rules.py.

`read_what_came_back()` reads the inbound mailbox and Twilio's status of recent SMS, writes
what it learnt to the send log, settles e-mails of unknown outcome whose copy is in the
mailbox, and returns the log index the schedule decides on. A mailbox or Twilio that cannot be
reached is a warning: the run sends as it would have. `finish()`, at the end of the run, says
what came back (after the run's summary, whose first line stays the headline; and in the job
summary) and marks the messages read, now that the log recording them is safe (committed and
pushed, with --push): a run that dies before reads them again, and the log's record of each
arrival's Message-ID keeps it from counting twice.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from runner import claims, logsummary, sendlog, transports
from runner.deliver import now_stamp
from runner.feedback import record, sms_status
from runner.feedback.mailbox import Mailbox, MailboxError
from runner.model import Repository
from runner.schedule import local_today
from runner.sendlog import Entry, LogIndex, ReadReport

KIND_WORDS = {
    "bounce": "bounce(s)",
    "delayed": "delay warning(s)",
    "autoreply": "auto-reply(ies)",
    "reply": "reply(ies) from a person",
    "own-copy": "our own copies",
    "unrelated": "not about a reminder (left for a person)",
    "damaged": "unreadable",
}


@dataclass
class CameBack:
    log: LogIndex
    lines: list[str] = field(default_factory=list)
    mailbox: Mailbox | None = None
    read: list[int] = field(default_factory=list)  # uids to mark once the log is safe
    uidvalidity: int | None = None

    def finish(self) -> None:
        """Say what came back (after the run's summary, and in the job summary), and mark the
        messages read as processed: the log that records them is safe now. A failure to mark
        only means reading them again."""
        _show(self.lines)
        if self.mailbox is None or not self.read:
            return
        try:
            with self.mailbox.session() as box:
                box.mark_processed(self.read, self.uidvalidity)
        except MailboxError as exc:
            print(f"warning: {exc}: the next run reads them again (nothing is recorded twice)")


def read_what_came_back(
    args: argparse.Namespace, repo: Repository, log: LogIndex, report: ReadReport, now: datetime
) -> CameBack:
    """What came back since the last run, in the log (and the index returned) before deciding.
    Nothing is read in a dry run or with --transport outbox."""
    came_back = CameBack(log)
    if args.dry_run or args.transport == "outbox":
        return came_back
    root: Path = args.root
    today = local_today(now, repo.settings.defaults.timezone)
    new: list[dict[str, Any]] = []
    if repo.settings.inbound is not None:
        new += _mailbox(came_back, repo, log, today, args.transport, root)
    new += _sms(came_back, repo, log, today)
    if new:
        stamp, run_id = now_stamp(), transports.run_id()
        for raw in new:
            raw.setdefault("at", stamp)
            raw.setdefault("run", run_id)
        sendlog.Writer(root, today).append_many(new)
        came_back.log = claims.indexed([*report.entries, *(Entry(raw) for raw in new)])
    return came_back


def _mailbox(
    came_back: CameBack, repo: Repository, log: LogIndex, today: date, transport: str, root: Path
) -> list[dict[str, Any]]:
    settings = repo.settings.inbound
    assert settings is not None
    user, password = os.environ.get(settings.username_env), os.environ.get(settings.password_env)
    if not user or not password:
        if transport == "live":
            came_back.lines.append(
                f"warning: the inbound mailbox was not read: set {settings.username_env} and "
                f"{settings.password_env}"
            )
        return []
    box = Mailbox(settings, user, password)
    domain = repo.settings.company.email.rsplit("@", 1)[-1]
    unknown = [e for e in log.unknown if e.get("channel") in ("email", "task")]
    try:
        with box.session():
            fetched = box.new_messages()
            copies = [f for f in (settings.copies_folder, settings.folder) if f]
            ids = [record.message_id_of(e.keys, domain) for e in unknown]
            held = box.holding(copies, ids) if ids else {}
    except MailboxError as exc:
        came_back.lines.append(
            f"warning: the inbound mailbox was not read ({exc}): bounces and replies wait for "
            "the next run; sending goes on"
        )
        return []
    came_back.mailbox = box
    came_back.read = [f.uid for f in fetched]
    came_back.uidvalidity = box.uidvalidity
    where = {mid: f"the mailbox folder '{folder}'" for mid, folder in held.items()}
    settled = record.settle_unknown_emails(unknown, where, domain, today)
    whole = _whole_log(root) if (root / logsummary.PATH).exists() else None
    new = _arrivals(
        came_back, repo, log, [f.arrival for f in fetched], today, settings.address, whole
    )
    if settled:
        came_back.lines.append(
            f"  settled   {len(settled)} e-mail(s) of unknown outcome: their copy is in the "
            "mailbox, so they went out (recorded as sent)"
        )
    return settled + new


def _arrivals(
    came_back: CameBack,
    repo: Repository,
    log: LogIndex,
    arrivals: list[Any],
    today: date,
    address: str,
    whole: Callable[[], LogIndex] | None = None,
) -> list[dict[str, Any]]:
    """The entries for what arrived. `log` may be the bounded read (the log's summary and the
    months after it): an arrival naming an e-mail of ours it does not hold (a late reply to an
    old message about a settled invoice) is matched against the whole log (`whole`) instead."""
    domain = repo.settings.company.email.rsplit("@", 1)[-1]
    sent = record.sent_index(log, domain)
    counts: Counter[str] = Counter()
    new: list[dict[str, Any]] = []
    lines: list[str] = []
    for arrival in arrivals:
        answered = record.answered(arrival, sent) if arrival.kind in record.RECORDED else None
        if answered is None and whole is not None and _names_ours(arrival):
            sent = _widened(sent, record.sent_index(whole(), domain))
            whole = None
            answered = record.answered(arrival, sent)
        if answered is None:
            kind = arrival.kind if arrival.kind not in record.RECORDED else "unrelated"
            counts[kind] += 1
            if kind == "damaged":
                lines.append(f"  skipped   {arrival.inbound_id}: {arrival.reason}")
            continue
        counts[arrival.kind] += 1
        if arrival.inbound_id in sent.inbound:
            continue  # recorded by an earlier run that died before marking it
        sent.inbound.add(arrival.inbound_id)
        made = record.entries_for(arrival, answered, repo, today, repo.settings.hash_recipients)
        new += made
        lines += [_line(raw) for raw in made]
    total = sum(counts.values())
    parts = [f"{n} {KIND_WORDS.get(k, k)}" for k, n in sorted(counts.items())]
    came_back.lines.insert(
        0,
        f"What came back to {address}: {total} new message(s)"
        + (f": {', '.join(parts)}" if parts else ""),
    )
    came_back.lines += lines
    return new


def _names_ours(arrival: Any) -> bool:
    """An arrival that names an e-mail of ours: by Message-ID or keys, or a bounce."""
    recorded = arrival.kind in record.RECORDED
    return recorded and bool(arrival.answers or arrival.keys or arrival.kind == "bounce")


def _widened(sent: record.Sent, everything: record.Sent) -> record.Sent:
    everything.inbound |= sent.inbound  # what this run recorded already
    return everything


def _whole_log(root: Path) -> Callable[[], LogIndex]:
    def read() -> LogIndex:
        return sendlog.index(sendlog.read(root).entries)

    return read


def _line(raw: dict[str, Any]) -> str:
    status, customer = raw["status"], raw.get("customer")
    about = f"{raw.get('step')} of {raw.get('sent_on')} [{', '.join(raw.get('invoices', ()))}]"
    if status in ("bounced", "delayed"):
        return f"  {status:<9} {customer} {raw.get('address')}: {raw.get('reason')} ({about})"
    if status == "reply":
        return (
            f"  reply     {customer} {raw.get('name')}: {raw.get('subject')!r} ({about}); "
            f"reminders wait until {raw.get('wait_until')}, a task goes to the owner"
        )
    return f"  {status:<9} {customer} {raw.get('name')}: {raw.get('subject')!r} ({about})"


def _sms(came_back: CameBack, repo: Repository, log: LogIndex, today: date) -> list[dict[str, Any]]:
    settings = repo.settings.sms
    credentials = transports.sms_credentials(repo)
    if settings is None or credentials is None:
        return []
    asked = sms_status.to_ask(log, today, settings.status_days)
    if not asked:
        return []
    try:
        answers = sms_status.fetch(settings, *credentials, asked)
    except Exception as exc:  # the twilio client's errors have no common base; warn, go on
        came_back.lines.append(
            f"warning: Twilio was not asked whether {len(asked)} SMS arrived ({_say(exc)}); "
            "the next run asks again"
        )
        return []
    new = [
        sms_status.entry_for(a, message, today, repo.settings.hash_recipients)
        for a, message in answers
        if str(message.status) in sms_status.FINAL
    ]
    counts = Counter(raw["status"] for raw in new)
    pending = len(answers) - len(new)
    came_back.lines.append(
        f"SMS status: {counts['delivered']} delivered, {counts['undelivered']} undelivered"
        + (f", {pending} not final yet (asked again next run)" if pending else "")
    )
    came_back.lines += [
        f"  undelivered {raw.get('customer')} {raw.get('phone')}: {raw.get('reason')}"
        for raw in new
        if raw["status"] == "undelivered"
    ]
    return new


def _say(exc: BaseException) -> str:
    text = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {str(text)[:200]}"


def _show(lines: list[str]) -> None:
    if not lines:
        return
    print("\n".join(lines))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write("### What came back\n\n```\n" + "\n".join(lines) + "\n```\n\n")
    sys.stdout.flush()
