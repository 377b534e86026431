"""Plans as text for people, JSON for programs, markdown for a job summary."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from runner import context
from runner.explain import Explanation, Row
from runner.model import Repository
from runner.output import counted
from runner.schedule import Delivery, Plan
from runner.sms import SmsLength

Sizes = dict[str, SmsLength]  # delivery id -> what its text message costs


def render(plans: list[Plan], form: str, sizes: Sizes | None = None) -> str:
    sizes = sizes or {}
    if form == "json":
        return json.dumps(as_json(plans, sizes), indent=2, ensure_ascii=False)
    if form == "markdown":
        return markdown(plans, sizes)
    return table(plans, sizes)


def as_json(plans: list[Plan], sizes: Sizes | None = None) -> dict[str, Any]:
    sizes = sizes or {}
    deliveries = []
    for d in (d for p in plans for d in p.deliveries):
        item = d.as_json()
        if d.id in sizes:
            size = sizes[d.id]
            item["sms"] = {
                "encoding": size.encoding,
                "characters": size.units,
                "segments": size.segments,
            }
        deliveries.append(item)
    return {"today": plans[0].today.isoformat(), "days": len(plans), "deliveries": deliveries}


def _channel(d: Delivery, sizes: Sizes) -> str:
    size = sizes.get(d.id)
    if size is None:
        return d.channel
    return f"sms ({size.segments} x {size.encoding})"


def _row(d: Delivery, sizes: Sizes) -> list[str]:
    return [
        d.date.isoformat(),
        d.customer,
        d.step,
        _channel(d, sizes),
        ", ".join(d.invoices),
        ", ".join(d.to) or "(nobody)",
        f"{d.total_due} {d.currency}",
    ]


HEADER = ["date", "customer", "step", "channel", "invoices", "to", "total due"]


def table(plans: list[Plan], sizes: Sizes) -> str:
    deliveries = [d for p in plans for d in p.deliveries]
    span = f"{plans[0].today}" + (f" .. {plans[-1].today}" if len(plans) > 1 else "")
    if not deliveries:
        return f"nothing to send ({span})"
    rows = [HEADER, *(_row(d, sizes) for d in deliveries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"{counted(len(deliveries), 'message')} ({span}). Why:")
    lines.extend(f"  {d.id}: {d.reason}" for d in deliveries)
    return "\n".join(lines)


def markdown(plans: list[Plan], sizes: Sizes) -> str:
    deliveries = [d for p in plans for d in p.deliveries]
    span = f"{plans[0].today}" + (f" to {plans[-1].today}" if len(plans) > 1 else "")
    if not deliveries:
        return f"**Nothing to send** ({span})."
    lines = [
        f"**{counted(len(deliveries), 'message')}** ({span})",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(_md(c) for c in _row(d, sizes)) + " |" for d in deliveries]
    lines += ["", "<details><summary>Why each message is due</summary>", ""]
    lines += [f"- `{d.id}`: {_md(d.reason)}" for d in deliveries]
    lines += ["", "</details>"]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- explain ----------------------------------------------------------------------------------


def _word(row: Row, today: date) -> str:
    """What happens to an occurrence, in a few words (with the day the plan decides it)."""
    d = row.decision
    if d.status == "due":
        return "SEND TODAY" if row.on == today else f"sent {row.on}"
    word = {
        "sent": "sent",
        "unknown": "UNKNOWN",
        "failed": "failed",
        "superseded": "superseded",
        "missed": "missed",
        "handled": "handled by hand",
        "opted-out": "opted out",
        "waiting": "waiting",
        "future": "later",
        "stopped": "not sent",
    }.get(d.status, d.status)
    if row.on is not None and d.status != "stopped" and row.on != today:
        return f"{word} {row.on}"
    return word


def explain_text(repo: Repository, result: Explanation) -> str:
    lines: list[str] = [
        f"Explained with the plan of {result.today} and its forecast to {result.until}, "
        "assuming no new payments."
    ]
    for story in result.stories:
        invoice = repo.invoices[story.invoice]
        customer = repo.customers[invoice.customer]
        policy = repo.policy_for(invoice)
        view = context.invoice_view(repo, invoice, story.today)
        lines.append("")
        lines.append(f"{invoice.id} - {customer.name} - policy {policy.id if policy else '?'}")
        if view.balance <= 0:
            state = "settled"
        elif view.fees_only:
            state = "the amount is paid, late fees are left"
        else:
            state = _overdue(view.days_overdue)
        lines.append(
            f"  today {story.today} ({customer.timezone}); due {view.due}; "
            f"balance {view.balance} {view.currency}"
            + (f" (fees {view.fees})" if view.fees else "")
            + f"; {state}"
        )
        if view.installment:
            lines.append(
                f"  payment plan: installment {view.installment.number} of "
                f"{view.installment.count}, {view.installment.balance} left"
            )
        running = "  => reminders are running"
        lines.append(f"  => no reminders today: {story.stopped}" if story.stopped else running)
        for row in story.rows:
            d = row.decision
            lines.append(
                f"  {d.occurrence}  day {d.day:>4}  {d.step:<24} {d.channel:<6} "
                f"{_word(row, story.today):<22} {d.reason}"
            )
    return "\n".join(lines)


def _overdue(days: int) -> str:
    if days > 0:
        return f"{days} days overdue"
    if days < 0:
        return f"due in {-days} days"
    return "due today"


def explain_json(repo: Repository, result: Explanation) -> dict[str, Any]:
    out = []
    for story in result.stories:
        invoice = repo.invoices[story.invoice]
        view = context.invoice_view(repo, invoice, story.today)
        out.append(
            {
                "invoice": story.invoice,
                "today": story.today.isoformat(),
                "balance": str(view.balance),
                "stopped": story.stopped,
                "decisions": [
                    {
                        "date": row.decision.occurrence.isoformat(),
                        "day": row.decision.day,
                        "step": row.decision.step,
                        "channel": row.decision.channel,
                        "key": row.decision.key,
                        "status": row.decision.status,
                        "decided_on": row.on.isoformat() if row.on else None,
                        "reason": row.decision.reason,
                    }
                    for row in story.rows
                ],
            }
        )
    return {"today": result.today.isoformat(), "until": result.until.isoformat(), "invoices": out}
