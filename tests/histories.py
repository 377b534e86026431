"""Years of send log for a generated company (tests/generated.py), as daily runs, people and what
came back would have written it: the history the bounded read (runner/logsummary.py) is held to
the whole log on.

`add_old_invoices` gives the company an invoice open for three years (its first reminders,
its hold, the step that follows another, all years old) and invoices settled long ago.
`draw_history` draws, over the five years before the read day: deliveries of the invoices'
real occurrence keys (sent, failed, unknown, superseded, missed, cancelled), several invoices
in one message, contacts recorded by hand, a number that said STOP four years ago (and maybe
START later), bounced addresses (permanent or not), replies and auto-replies, SMS delivered or
not, the owner's tasks about them, messages about invoices no longer in the repository, and
messages whose outcome nobody knows. Each entry goes to the month file of the day it was
written, as the log's writer puts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from runner import schedule
from runner.feedback.tasks import task_keys
from runner.model import Repository
from runner.sendlog import Entry, Key, path_for

from generated import Company

Draw = Callable[..., Any]
YEAR = timedelta(days=365)
PHONE = "+4520123456"  # every generated customer's billing contact has this number


def add_old_invoices(company: Company, today: date) -> None:
    """An invoice open for three years, and three settled years ago, for the first customer."""
    customer = company.customers[0]["id"]
    issued = today - 3 * YEAR
    company.invoices.append(
        {
            "id": "OPEN-3Y",
            "customer": customer,
            "issued": issued.isoformat(),
            "due": (issued + timedelta(days=30)).isoformat(),
            "amount": "1000.00",
        }
    )
    for n in range(3):
        issued = today - (4 - n) * YEAR
        company.invoices.append(
            {
                "id": f"PAID-{n}",
                "customer": customer,
                "issued": issued.isoformat(),
                "due": (issued + timedelta(days=30)).isoformat(),
                "amount": "250.00",
                "payments": [
                    {"date": (issued + timedelta(days=40)).isoformat(), "amount": "250.00"}
                ],
            }
        )


class History:
    """Entries as the log's writer would put them, each stamped with the day it was written."""

    def __init__(self, draw: Draw, today: date) -> None:
        self.draw = draw
        self.today = today
        self.entries: list[dict[str, Any]] = []
        self.count = 0

    def stamp(self, day: date) -> str:
        self.count += 1
        return f"{day.isoformat()}T07:{self.count // 60 % 60:02d}:{self.count % 60:02d}.000000Z"

    def add(self, day: date, **fields: Any) -> dict[str, Any]:
        self.count += 1
        raw = {"id": f"e{self.count:05d}", "at": self.stamp(day), "date": day.isoformat(), **fields}
        self.entries.append(raw)
        return raw

    def written(self, earliest: date, latest: date) -> date:
        """A day between the two (a run a few days late, or on time)."""
        latest = min(latest, self.today)
        if latest <= earliest:
            return latest
        late = self.draw(st.integers(0, min(3, (latest - earliest).days)))
        return earliest + timedelta(days=late)

    def delivery(
        self,
        day: date,
        keys: list[str],
        customer: str,
        invoices: list[str],
        step: str,
        channel: str,
        outcome: str,
        to: list[str],
    ) -> None:
        base = {
            "delivery": f"d{self.count:05d}",
            "keys": keys,
            "customer": customer,
            "invoices": invoices,
            "step": step,
            "channel": channel,
            "to": to,
            "cc": [],
            "template": f"{step}/en.{channel}.j2",
            "locale": "en",
            "run": f"run-{day.isoformat()}",
        }
        if outcome in ("superseded", "missed"):
            self.add(day, status=outcome, **{k: v for k, v in base.items() if k != "delivery"})
            return
        self.add(day, status="pending", **base)
        if outcome == "sent":
            self.add(day, status="sent", provider_id="250 ok", attempts=1, **base)
        elif outcome == "failed":
            self.add(day, status="failed", reason="550 no such user", permanent=True, **base)
        elif outcome == "retry":
            self.add(day, status="failed", reason="421 busy", permanent=False, **base)
        elif outcome == "cancelled":
            self.add(day, status="cancelled", reason="run x claimed it first", **base)
        elif outcome == "resolved":
            self.add(day, status="unknown", reason="timeout", **base)
            # `nudge resolve` writes to the month of the message it decides on
            self.add(day, status="resolved", sent=self.draw(st.booleans()), **base)
        # "unknown": a pending with no outcome: the run died mid-send


OUTCOMES = ["sent", "sent", "sent", "sent", "failed", "retry", "unknown", "superseded", "missed"]
OUTCOMES += ["cancelled", "resolved"]


def draw_history(draw: Draw, repo: Repository, today: date) -> list[dict[str, Any]]:
    history = History(draw, today)
    for invoice in sorted(repo.invoices.values(), key=lambda i: i.id):
        _reminders(history, repo, invoice.id)
    customers = sorted(repo.customers)
    _by_hand(history, repo)
    _stop(history)
    for _ in range(draw(st.integers(0, 6))):
        _came_back(history, repo, draw(st.sampled_from(customers)))
    for n in range(draw(st.integers(0, 4))):  # invoices archived out of the repository since
        day = today - timedelta(days=draw(st.integers(200, 5 * 365)))
        customer = draw(st.sampled_from(customers))
        history.delivery(
            day,
            [f"ARCH-{n}/s0/{day.isoformat()}/email"],
            customer,
            [f"ARCH-{n}"],
            "s0",
            "email",
            draw(st.sampled_from(OUTCOMES)),
            [f"billing@{customer}.example"],
        )
    return history.entries


def _reminders(history: History, repo: Repository, invoice_id: str) -> None:
    """Some of the invoice's real occurrences logged, as the runs of their days would have."""
    draw = history.draw
    invoice = repo.invoices[invoice_id]
    policy = repo.policy_for(invoice)
    assert policy is not None
    installment = 1 if invoice.installments else None
    due = min(i.due for i in invoice.obligations)
    sent: dict[str, date] = {}
    for _ in range(2):  # again, for the steps that follow a step now sent
        for occ in schedule.occurrences(policy, due, history.today, sent.get):
            if occ.date < invoice.issued or draw(st.integers(0, 2)) == 0:
                continue
            for channel in occ.step.channels:
                key = str(Key(invoice.id, installment, occ.step.id, occ.date, channel))
                if any(key in e.get("keys", ()) for e in history.entries):
                    continue
                outcome = draw(st.sampled_from(OUTCOMES))
                day = history.written(occ.date, occ.date + timedelta(days=3))
                customer = repo.customers[invoice.customer]
                history.delivery(
                    day,
                    [key],
                    customer.id,
                    [invoice.id],
                    occ.step.id,
                    channel,
                    outcome,
                    [f"billing@{customer.id}.example"],
                )
                if outcome == "sent":
                    sent.setdefault(occ.step.id, occ.date)


def _by_hand(history: History, repo: Repository) -> None:
    draw = history.draw
    invoices = sorted(repo.invoices)
    for _ in range(draw(st.integers(0, 4))):
        invoice = repo.invoices[draw(st.sampled_from(invoices))]
        start = max(invoice.issued, history.today - 5 * YEAR)
        day = start + timedelta(days=draw(st.integers(0, max(0, (history.today - start).days))))
        policy = repo.policy_for(invoice)
        assert policy is not None
        step = draw(st.sampled_from([None, *(s.id for s in policy.steps)]))
        history.add(
            day,
            status="note",
            customer=invoice.customer,
            invoices=[invoice.id],
            channel="call",
            text="called; promised to pay Friday",
            by="Ada Finance",
            **({"step": step} if step else {}),
        )


def _stop(history: History) -> None:
    """The billing number said STOP four years ago; it may have said START since, and STOP
    again."""
    draw = history.draw
    day = history.today - 4 * YEAR - timedelta(days=draw(st.integers(0, 60)))
    history.add(day, status="optout", phone=PHONE, reason="Twilio 21610")
    for status in draw(st.sampled_from([[], ["optin"], ["optin", "optout"]])):
        day += timedelta(days=draw(st.integers(1, 500)))
        history.add(min(day, history.today), status=status, phone=PHONE)


def _came_back(history: History, repo: Repository, customer: str) -> None:
    """A bounce, a reply, an auto-reply or an SMS status, maybe years ago, maybe with the owner's
    task about it sent."""
    draw = history.draw
    day = history.today - timedelta(days=draw(st.integers(0, 5 * 365)))
    invoices = sorted(i.id for i in repo.invoices_of(customer)) or ["ARCH-0"]
    named = [draw(st.sampled_from(invoices))]
    address = draw(st.sampled_from([f"billing@{customer}.example", f"finance@{customer}.example"]))
    kind = draw(st.sampled_from(["bounced", "reply", "autoreply", "delivered", "undelivered"]))
    base = {"customer": customer, "invoices": named, "step": "s0", "inbound": f"<in{day}@x>"}
    if kind == "bounced":
        raw = history.add(
            day,
            status="bounced",
            channel="email",
            address=address,
            permanent=draw(st.booleans()),
            reason="550 5.1.1 user unknown",
            **base,
        )
    elif kind in ("reply", "autoreply"):
        wait = day + timedelta(days=draw(st.integers(0, 6)))
        raw = history.add(
            day,
            status=kind,
            channel="email",
            **{"from": address, "name": "Finn Finance", "subject": "Re: reminder"},
            wait_until=wait.isoformat(),
            excerpt="We paid last week.",
            **base,
        )
    else:
        raw = history.add(
            day,
            status=kind,
            channel="sms",
            phone=PHONE,
            sid=f"SM{history.count:032d}",
            **({"reason": "Twilio undelivered, error 30003"} if kind == "undelivered" else {}),
            **base,
        )
    keys = task_keys(Entry(raw))
    if keys and kind in ("bounced", "reply", "undelivered") and draw(st.booleans()):
        history.delivery(
            history.written(day, day + timedelta(days=2)),
            keys[:1],
            customer,
            named,
            keys[0].split("/")[-3],
            "task",
            draw(st.sampled_from(["sent", "sent", "unknown"])),
            ["olga@example.com"],
        )


def write_log(root: Path, entries: list[dict[str, Any]]) -> None:
    """The entries into log/YYYY/MM.jsonl by the day each was written, in time order."""
    files: dict[Path, list[str]] = {}
    for raw in sorted(entries, key=lambda e: (e["at"], e["id"])):
        path = path_for(root, date.fromisoformat(raw["date"]))
        files.setdefault(path, []).append(json.dumps(raw, ensure_ascii=False, sort_keys=True))
    for path, lines in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
