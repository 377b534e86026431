"""`plan --explain`: the plan's own reasoning for an invoice, step by step, never a second guess.

Today's decisions come from `schedule.plan`, the function `run` acts on. What happens later comes
from the same forecast `plan --days` shows (`simulate.replay`, assuming no new payments): each
occurrence is reported with the first decision the forecast took on it ("sent on", "superseded
on", "missed", "not sent: paid"), so an explanation can never promise a message the plan will not
send.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from runner import schedule, simulate
from runner.model import Repository
from runner.schedule import Decision
from runner.sendlog import LogIndex

FINAL = ("due", "superseded", "missed", "handled", "opted-out")  # a decision taken for good
HORIZON_CAP = 400  # days of forecast at most
SLACK_DAYS = 14  # forecast this long past the last occurrence (catch-up, business days)


@dataclass(frozen=True)
class Row:
    decision: Decision
    on: date | None  # the day the plan (or its forecast) decides it; None: logged or beyond


@dataclass
class InvoiceStory:
    invoice: str
    today: date  # the customer's own
    stopped: str | None  # why nothing is sent today
    rows: list[Row] = field(default_factory=list)  # each occurrence and channel, by date


@dataclass
class Explanation:
    today: date
    until: date  # the last day forecast
    stories: list[InvoiceStory]


def explain(
    repo: Repository, log: LogIndex, start: datetime, invoice_ids: list[str]
) -> Explanation:
    today_plan = schedule.plan(repo, log, start, only=invoice_ids)
    every = schedule.plan(repo, log, start, explain=True, only=invoice_ids)
    last = max((d.occurrence for d in every.decisions), default=today_plan.today)
    days = min(max((last - today_plan.today).days + SLACK_DAYS, 1), HORIZON_CAP)
    forecast = simulate.replay(
        repo, [start + timedelta(days=n) for n in range(days)], log, invoice_ids
    )
    taken: dict[str, Row] = {}
    seen: set[str] = set()  # every occurrence the forecast weighed
    for plan in forecast.plans:
        for d in plan.decisions:
            seen.add(d.key)
            if d.key not in taken and not d.logged and d.status in FINAL:
                taken[d.key] = Row(d, _decided_on(repo, plan, d))
    final = forecast.plans[-1]
    stories = []
    for invoice_id in invoice_ids:
        story = InvoiceStory(
            invoice_id,
            _customer_today(repo, today_plan, invoice_id, start),
            today_plan.stopped.get(invoice_id),
        )
        listed = {d.key: d for d in every.decisions if d.invoice == invoice_id}
        for d in (x for x in today_plan.decisions if x.invoice == invoice_id):
            listed[d.key] = d
        listed.update({k: r.decision for k, r in taken.items() if r.decision.invoice == invoice_id})
        stopped = invoice_id in final.stopped or any(d.status == "stopped" for d in listed.values())
        story.rows = [
            _row(d, taken, final)
            for d in listed.values()
            if d.logged or d.key in seen or d.occurrence > final.today or stopped  # see _row
        ]
        story.rows.sort(
            key=lambda r: (r.decision.occurrence, r.decision.step_index, r.decision.channel)
        )
        stories.append(story)
    return Explanation(today_plan.today, forecast.plans[-1].today, stories)


def _row(d: Decision, taken: dict[str, Row], last: schedule.Plan) -> Row:
    """An occurrence as the plan treats it: logged, decided today, or decided by the forecast.
    (One today's plan lists that the forecast never weighed although it falls within it is left
    out by the caller: the forecast counts that step from another day, an invoice's first
    contact when it came in late, and shows it there.)"""
    if d.logged:
        return Row(d, None)
    decided = taken.get(d.key)
    if decided is not None:
        return decided
    stop = last.stopped.get(d.invoice)
    if stop is not None or d.status == "stopped":
        return Row(replace(d, status="stopped", reason=stop or d.reason), None)
    if d.occurrence > last.today:
        why = f"after {last.today}, the last day forecast"
    else:
        why = f"not decided by {last.today}, the last day forecast"
    return Row(
        replace(d, status="future", reason=f"scheduled for {d.occurrence} (day {d.day}), {why}"),
        None,
    )


def _decided_on(repo: Repository, plan: schedule.Plan, d: Decision) -> date:
    """The customer's own date of the run that decided it (their time zone)."""
    return next((x.date for x in plan.deliveries if d.key in x.keys), plan.today)


def _customer_today(
    repo: Repository, plan: schedule.Plan, invoice_id: str, start: datetime
) -> date:
    customer = repo.customers[repo.invoices[invoice_id].customer]
    return schedule.local_today(start, customer.timezone)
