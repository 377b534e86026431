"""Plans as text for people, JSON for programs, markdown for a job summary."""

from __future__ import annotations

import json
from typing import Any

from runner import context, ledger
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

STATUS_WORDS = {
    "due": "SEND TODAY",
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
}


def explain_text(repo: Repository, result: Plan, invoice_ids: list[str]) -> str:
    lines: list[str] = []
    for invoice_id in invoice_ids:
        invoice = repo.invoices[invoice_id]
        customer = repo.customers[invoice.customer]
        policy = repo.policy_for(invoice)
        today = _today_for(result, invoice_id, result.today)
        view = context.invoice_view(repo, invoice, today)
        lines.append(f"{invoice.id} - {customer.name} - policy {policy.id if policy else '?'}")
        lines.append(
            f"  today {today} ({customer.timezone}); due {view.due}; "
            f"balance {view.balance} {view.currency}"
            + (f" (fees {view.fees})" if view.fees else "")
            + f"; {_overdue(view.days_overdue)}"
        )
        if view.installment:
            lines.append(
                f"  payment plan: installment {view.installment.number} of "
                f"{view.installment.count}, {view.installment.balance} left"
            )
        stop = result.stopped.get(invoice_id)
        lines.append(f"  => no reminders: {stop}" if stop else "  => reminders are running")
        for d in (x for x in result.decisions if x.invoice == invoice_id):
            word = STATUS_WORDS.get(d.status, d.status)
            lines.append(
                f"  {d.occurrence}  day {d.day:>4}  {d.step:<24} {d.channel:<6} "
                f"{word:<12} {d.reason}"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def _today_for(result: Plan, invoice_id: str, fallback: Any) -> Any:
    for delivery in result.deliveries:
        if invoice_id in delivery.invoices:
            return delivery.date
    return fallback


def _overdue(days: int) -> str:
    if days > 0:
        return f"{days} days overdue"
    if days < 0:
        return f"due in {-days} days"
    return "due today"


def explain_json(repo: Repository, result: Plan, invoice_ids: list[str]) -> dict[str, Any]:
    out = []
    for invoice_id in invoice_ids:
        invoice = repo.invoices[invoice_id]
        policy = repo.policy_for(invoice)
        out.append(
            {
                "invoice": invoice_id,
                "balance": str(ledger.open_balance(invoice, policy, repo.settings, result.today)),
                "stopped": result.stopped.get(invoice_id),
                "decisions": [
                    {
                        "date": d.occurrence.isoformat(),
                        "day": d.day,
                        "step": d.step,
                        "channel": d.channel,
                        "key": d.key,
                        "status": d.status,
                        "reason": d.reason,
                    }
                    for d in result.decisions
                    if d.invoice == invoice_id
                ],
            }
        )
    return {"today": result.today.isoformat(), "invoices": out}
