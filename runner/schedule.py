"""Which reminders are due, and why: a pure function of (repository, send log, now).

No clock, no disk, no network here. `decide_invoice()` gives every decision for one invoice with
a reason a finance person can read; `plan()` groups the due ones into deliveries. `run` acts on a
plan, `plan` prints it, and `backtest`, `nudge test` and `plan --days` replay it day by day
(runner/simulate.py): one code path, so what a plan shows is what a run sends.

The rules (README, "How the schedule decides"):
- Settled (ledger.settled: amount + fees - payments - discount earned <= 0), void, written off,
  disputed, not yet issued, paused, or waiting for a promise to pay: nothing is sent.
- Everything dated is known from its date on: a payment, a promise (from `made`), a note.
- Occurrences move to the next business day of the policy's calendar. Each occurrence and
  channel has a key; a key in the log is never sent again.
- Of the occurrences not yet sent, per channel, only the most advanced recent one goes out;
  the others are superseded, and one older than the catch-up window is missed. "Most advanced"
  is the latest day counted from the due date (day 105 of a weekly step is later than a
  one-off step on day 100). A stage already sent is never followed by an earlier one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache, cached_property
from zoneinfo import ZoneInfo

from runner import calendar, context, ledger
from runner.feedback import rules as feedback
from runner.model import Contact, Customer, Invoice, Policy, Repository, Step
from runner.sendlog import KeyState, LogIndex, key_text

ONE_DAY = timedelta(days=1)
NOTE_REACH_DAYS = 3  # a contact by hand covers reminders due up to this many days before it


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def noon(day: date, timezone: str) -> datetime:
    """The instant `--today DAY` stands for: midday in the company's time zone."""
    return datetime.combine(day, time(12), tzinfo=zone(timezone))


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(zone(timezone)).date()


@dataclass(frozen=True)
class Occurrence:
    step_index: int
    step: Step
    day: int  # days after the due date: as the policy says, or where an `after` step fell
    date: date  # moved to a business day

    @property
    def rank(self) -> tuple[int, int]:
        """How advanced: the day counted from the due date first, the step's place second."""
        return (self.day, self.step_index)

    @cached_property
    def iso_date(self) -> str:
        """`date` as keys write it: an occurrence is shared by the policy's invoices due the
        same day (`_fixed_occurrences`), and asked for its keys every day of a forecast."""
        return self.date.isoformat()


@dataclass(frozen=True)
class Decision:
    """One (invoice, step occurrence, channel) and what the schedule makes of it today."""

    invoice: str
    customer: str
    policy: str
    step: str
    step_index: int
    channel: str
    occurrence: date
    day: int
    due: date  # the obligation's due date the day counts from
    key: str
    status: str  # due, sent, unknown, failed, superseded, missed, handled, waiting, future...
    reason: str
    logged: bool = False  # the status comes from the send log, not from today's decision

    @property
    def rank(self) -> tuple[int, int]:
        return (self.day, self.step_index)


@dataclass(frozen=True)
class Delivery:
    """One message to send: a customer, a step, a channel, on a day, for one or more invoices."""

    date: date
    customer: str
    policy: str
    step: str
    step_index: int
    channel: str
    invoices: tuple[str, ...]
    keys: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    template: str
    locale: str
    reason: str
    total_due: Decimal
    currency: str
    separate: bool = False  # a step's own message (`separate: true`), beside the day's merged one

    @property
    def id(self) -> str:
        """Unique in a day's plan: the merged message of a customer and channel, or a separate
        step's own (its policy named, as another policy's step may share its id)."""
        base = f"{self.customer}/{self.step}/{self.date.isoformat()}/{self.channel}"
        return f"{base}@{self.policy}" if self.separate else base

    def as_json(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "customer": self.customer,
            "policy": self.policy,
            "step": self.step,
            "channel": self.channel,
            "invoices": list(self.invoices),
            "keys": list(self.keys),
            "to": list(self.to),
            "cc": list(self.cc),
            "template": self.template,
            "locale": self.locale,
            "reason": self.reason,
            "total_due": str(self.total_due),
            "currency": self.currency,
        }


@dataclass
class Plan:
    today: date
    deliveries: list[Delivery] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)  # invoice -> why no reminders
    # Where each delivery stands in the day's order: (0, customer, channel, policy, step) for a
    # reminder, (1, n) for the task of what came back n-th; `merged` sorts by it.
    order: list[tuple[object, ...]] = field(default_factory=list)

    def with_status(self, *statuses: str) -> list[Decision]:
        """Today's decisions with these statuses (not the ones already in the log)."""
        return [d for d in self.decisions if d.status in statuses and not d.logged]


# -- occurrences ------------------------------------------------------------------------------

SentOn = Callable[[str], date | None]  # step id -> the day it was first sent, if it was


def step_days(step: Step, due: date) -> list[int]:
    if step.at is not None:
        return [step.at]
    start, end = int(step.start or 0), int(step.end or 0)
    if step.every:
        return list(range(start, end + 1, step.every))
    return [
        d for d in range(start, end + 1) if (due + timedelta(days=d)).weekday() in step.weekdays
    ]


def occurrences(
    policy: Policy, due: date, until: date | None = None, sent_on: SentOn | None = None
) -> list[Occurrence]:
    """Every occurrence of every step for an obligation due on `due` (up to `until`). A step
    `after` another has one occurrence once that step was sent (`sent_on` says when)."""
    found: list[Occurrence] = []
    limit = (until - due).days if until is not None else None
    fixed = _fixed_occurrences(policy, due)
    for index, step in enumerate(policy.steps):
        if step.after is not None:
            follow = _following(policy, step, due, sent_on)
            if follow is not None and (until is None or follow <= until):
                found.append(Occurrence(index, step, (follow - due).days, follow))
            continue
        for occ in fixed[index]:
            if limit is not None and occ.day > limit:
                break
            found.append(occ)
    return found


# id(policy) -> (the policy, kept so the id is not reused; due date -> `_fixed_occurrences`)
_FIXED: dict[int, tuple[Policy, dict[date, tuple[tuple[Occurrence, ...], ...]]]] = {}
FIXED_POLICIES = 64  # policies whose occurrences are kept; more, and the oldest are forgotten


def _fixed_occurrences(policy: Policy, due: date) -> tuple[tuple[Occurrence, ...], ...]:
    """For each step of the policy not `after` another, every occurrence for an obligation due
    on `due`, in the order of its days (empty for the others). The same for every invoice of the
    policy due that day, and asked for every day of a forecast: worked out once."""
    kept = _FIXED.get(id(policy))
    if kept is None or kept[0] is not policy:
        while len(_FIXED) >= FIXED_POLICIES:
            del _FIXED[next(iter(_FIXED))]
        kept = _FIXED[id(policy)] = (policy, {})
    by_due = kept[1]
    found = by_due.get(due)
    if found is None:
        found = by_due[due] = tuple(
            () if step.after is not None else _step_occurrences(policy, index, step, due)
            for index, step in enumerate(policy.steps)
        )
    return found


def _step_occurrences(policy: Policy, index: int, step: Step, due: date) -> tuple[Occurrence, ...]:
    found = []
    seen: set[date] = set()
    for day in step_days(step, due):
        moved = calendar.next_business_day(due + timedelta(days=day), policy.calendar)
        if moved not in seen:
            seen.add(moved)
            found.append(Occurrence(index, step, day, moved))
    return tuple(found)


def _following(policy: Policy, step: Step, due: date, sent_on: SentOn | None) -> date | None:
    """When a step `after` another falls: business days after that one was sent, or after the
    deadline it gave."""
    assert step.after is not None
    sent = sent_on(step.after.step) if sent_on is not None else None
    if sent is None:
        return None
    leader = next(s for s in policy.steps if s.id == step.after.step)
    start = calendar.pay_by(sent, leader.deadline_days, policy.calendar) or sent
    return calendar.add_business_days(start, step.after.business_days, policy.calendar)


def business_days_between(start: date, end: date, policy: Policy) -> int:
    """Business days after `start` up to and including `end`."""
    count, day = 0, start
    while day < end:
        day += ONE_DAY
        if calendar.is_business_day(day, policy.calendar):
            count += 1
    return count


# -- why an invoice gets no reminders ---------------------------------------------------------


def promise_known(invoice: Invoice, today: date) -> bool:
    """A promise counts from the day it was given (`made`; the invoice date when not given)."""
    promise = invoice.promise
    return promise is not None and (promise.made or invoice.issued) <= today


def stop_reason(
    repo: Repository, invoice: Invoice, policy: Policy, customer: Customer, today: date
) -> str | None:
    if invoice.void:
        return "void: no reminders"
    if invoice.written_off:
        return "written off: no reminders"
    if invoice.disputed:
        return "disputed: reminders stop until the dispute is settled (remove 'disputed')"
    if invoice.issued > today:
        return f"not issued until {invoice.issued}"
    principal = ledger.principal_balance(invoice, today)
    balance: Decimal | None = None  # the open balance: fees worked out only when they matter
    if principal <= 0 or not ledger.fees_never_negative(invoice, policy, repo.settings):
        balance = ledger.open_balance(invoice, policy, repo.settings, today)
        if balance <= 0:
            return _paid(invoice, today)
    if not policy.chase_fees and principal <= 0:
        return (
            f"the invoice is paid; the {balance} {invoice.currency} of late fees left is not "
            "reminded (the policy says chase_fees: false)"
        )
    if customer.paused_until and today <= customer.paused_until:
        return f"customer asked us to pause until {customer.paused_until}"
    if invoice.paused_until and today <= invoice.paused_until:
        return f"invoice paused until {invoice.paused_until}"
    promise = invoice.promise
    if promise is not None and promise_known(invoice, today) and today <= promise.date:
        given = f" on {promise.made}" if promise.made else ""
        return f"customer promised{given} to pay by {promise.date}: waiting until then"
    if balance is None and principal < policy.min_balance:  # else it is at least the minimum
        balance = ledger.open_balance(invoice, policy, repo.settings, today)
    if balance is not None and balance < policy.min_balance:
        return (
            f"balance {balance} {invoice.currency} is below the policy minimum {policy.min_balance}"
        )
    return None


def _paid(invoice: Invoice, today: date) -> str:
    last = max((p.date for p in invoice.payments if p.date <= today), default=None)
    text = f"paid in full{f' on {last}' if last else ''}"
    earned = ledger.discount_earned(invoice, today)
    if earned:
        text += f", with the early-payment discount of {earned} {invoice.currency}"
    return text


# -- the decision -----------------------------------------------------------------------------


def decide_invoice(
    repo: Repository, log: LogIndex, invoice: Invoice, today: date, explain: bool = False
) -> tuple[str | None, list[Decision]]:
    """(why nothing is sent, or None; every decision for the invoice's current obligation).
    With `explain`, occurrences after today are included too (status `future`)."""
    customer = repo.customers[invoice.customer]
    policy = repo.policy_for(invoice)
    assert policy is not None  # validation guarantees it
    reason = stop_reason(repo, invoice, policy, customer, today)
    reason = reason or feedback.waiting(log, invoice.id, today)
    if reason is not None and not explain:
        return reason, []
    current = ledger.current_obligation(invoice, today) or ledger.obligations(invoice, today)[-1]
    installment = current.number if invoice.installments else None
    until = None if explain else today

    def sent_on(step: str) -> date | None:
        return log.first_sent(invoice.id, installment, step)

    resumed = _resumed(repo, log, invoice, customer, today)
    anchor = _anchor(log, invoice.id, installment, policy, current.due, today, resumed)
    decisions: list[Decision] = []
    for occ in occurrences(policy, anchor, until, sent_on):
        for channel in occ.step.channels:
            key = key_text(invoice.id, installment, occ.step.id, occ.iso_date, channel)
            status, why = _status(log, key, occ, today, reason)
            decisions.append(
                Decision(
                    invoice.id,
                    customer.id,
                    policy.id,
                    occ.step.id,
                    occ.step_index,
                    channel,
                    occ.date,
                    occ.day,
                    anchor,
                    key,
                    status,
                    why,
                    logged=log.state(key) is not None,
                )
            )
    if reason is None:
        start = repo.settings.start
        decisions = _resolve_candidates(decisions, policy, today, log, invoice, customer, start)
    return reason, decisions


def _anchor(
    log: LogIndex,
    invoice: str,
    installment: int | None,
    policy: Policy,
    due: date,
    today: date,
    resumed: date | None,
) -> date:
    """The date an invoice's steps count from: its due date, unless it came in late. An invoice
    nobody has contacted yet that has already passed its policy's entry step (`first_contact`)
    starts there today, and the later steps follow at the policy's intervals from that day (an
    overdue book on its first run: a day-95 invoice gets the first letter, not the lawyer's).
    Once it entered so, its first message's key keeps the shifted date: the anchor is derived
    from the log again every day."""
    entry = policy.entry_step
    if entry is None:
        return due
    first = policy.steps[entry]
    contact = log.first_contact(invoice, installment)
    if contact is not None:
        key, _ = contact
        nominal = calendar.next_business_day(due + timedelta(days=first.first_day), policy.calendar)
        if key.step == first.id and key.day != nominal:
            return key.day - timedelta(days=first.first_day)
        return due
    if log.notes_for(invoice):
        return due  # a person has been in touch: the policy runs from the due date
    reached = [occ for occ in occurrences(policy, due, today) if set(occ.step.channels) - {"task"}]
    later = any(occ.rank > (first.first_day, entry) for occ in reached)
    own = next((occ for occ in reached if occ.step_index == entry), None)
    window = policy.catch_up if first.catch_up is None else first.catch_up
    since = max(own.date, resumed) if own is not None and resumed is not None else None
    too_old = own is not None and business_days_between(since or own.date, today, policy) > window
    return today - timedelta(days=first.first_day) if later or too_old else due


def _status(
    log: LogIndex, key: str, occ: Occurrence, today: date, stopped: str | None
) -> tuple[str, str]:
    state = log.state(key)
    if state is not None:
        return state.status, _logged(state)
    if stopped is not None:
        return "stopped", stopped
    if occ.date > today:
        return "future", f"scheduled for {occ.date} (day {occ.day})"
    return "candidate", ""


def _logged(state: KeyState) -> str:
    """What the log says of a key, in words (only the status's own are made: a forecast asks
    for every occurrence already logged, every day)."""
    when = f" on {state.day}" if state.day else ""
    status = state.status
    if status == "sent":
        return f"already sent{when}"
    if status == "unknown":
        return (
            f"outcome unknown{when} (the run stopped mid-send): a person must check and resolve "
            "it before it is sent again"
        )
    if status == "failed":
        return f"failed{when}: {state.entry.get('reason', 'see the log')}"
    if status == "claimed":
        return f"being sent by run {state.entry.get('run', '?')}, which claimed it"
    if status in ("superseded", "missed"):
        return f"{status}{when}"
    return status


def _resolve_candidates(
    decisions: list[Decision],
    policy: Policy,
    today: date,
    log: LogIndex,
    invoice: Invoice,
    customer: Customer,
    start: date | None = None,
) -> list[Decision]:
    """Of the occurrences not yet sent, per channel: the most advanced recent one is due."""
    progressed: dict[str, Decision] = {}
    for d in decisions:
        if d.status in ("sent", "unknown", "failed", "claimed") and (
            d.channel not in progressed or d.rank > progressed[d.channel].rank
        ):
            progressed[d.channel] = d
    candidates = [d for d in decisions if d.status == "candidate"]
    handled = {d.key for d in candidates if _handled_by_note(log, d, today)}
    resumed = _resumed_from(invoice, customer, log, today, start)
    recent = {
        d.key for d in candidates if d.key not in handled and _in_window(d, policy, today, resumed)
    }
    best: dict[str, Decision] = {}
    for d in candidates:
        if d.key in recent and (d.channel not in best or d.rank > best[d.channel].rank):
            best[d.channel] = d
    business_today = calendar.is_business_day(today, policy.calendar)
    return [
        _before_start(
            _decided(
                d,
                d.key in handled,
                d.key in recent,
                best,
                progressed,
                policy,
                today,
                business_today,
                invoice,
            ),
            start,
        )
        if d.status == "candidate"
        else d
        for d in decisions
    ]


def _before_start(decided: Decision, start: date | None) -> Decision:
    """An occurrence skipped before Nudge started reminding (settings.yaml `start`) is not a
    missed or superseded one: nothing was due to be sent then."""
    if start is None or decided.occurrence >= start:
        return decided
    if decided.status not in ("superseded", "missed"):
        return decided
    return replace(
        decided,
        status="before-start",
        reason=f"fell before Nudge started reminding on {start} (settings.yaml start)",
    )


def _decided(
    d: Decision,
    handled: bool,
    recent: bool,
    best: dict[str, Decision],
    progressed: dict[str, Decision],
    policy: Policy,
    today: date,
    business_today: bool,
    invoice: Invoice,
) -> Decision:
    if handled:
        return replace(d, status="handled", reason="a person recorded a contact by hand for it")
    if not recent:
        return replace(
            d,
            status="missed",
            reason=(
                f"was due {d.occurrence}, more than {_window(d, policy)} business days ago: too "
                "late to send after missed runs"
            ),
        )
    top = best[d.channel]
    if top is not d:
        return replace(
            d,
            status="superseded",
            reason=f"superseded by the more advanced '{top.step}' of {top.occurrence} "
            f"(day {top.day})",
        )
    done = progressed.get(d.channel)
    if done is not None and done.rank > d.rank:
        return replace(
            d,
            status="superseded",
            reason=f"a more advanced reminder ('{done.step}', day {done.day}) was already sent",
        )
    if not business_today:
        return replace(
            d,
            status="waiting",
            reason=(
                f"today ({today}) is not a business day in the policy's calendar: sent on the next "
                "one"
            ),
        )
    return replace(d, status="due", reason=due_reason(d, policy, today, invoice))


def due_reason(d: Decision, policy: Policy, today: date, invoice: Invoice) -> str:
    step = policy.steps[d.step_index]
    obligation = ledger.current_obligation(invoice, today)
    real_due = obligation.due if obligation else invoice.due
    entry = _entry(policy)
    shifted = d.due != real_due and step.after is None
    if shifted and (entry is None or d.step_index == policy.entry_step):
        late = (today - real_due).days
        text = (
            f"{d.step}: first contact for an invoice {late} days past its due date {real_due}: "
            f"the policy starts late invoices at '{entry.id if entry else d.step}' and runs its "
            f"later steps from there"
        )
        if d.occurrence != today:
            text += f"; was due {d.occurrence}, sent now after missed runs"
        return text + _broken(invoice, today)
    if shifted and entry is not None:  # a later step of an invoice that came in late
        started = d.due + timedelta(days=entry.first_day)  # the first contact's day
        apart = d.day - entry.first_day
        when = (
            f"{abs(apart)} days {'after' if apart >= 0 else 'before'} '{entry.id}' on {started}, "
            f"where the policy started this invoice {(started - real_due).days} days past its "
            f"due date {real_due}"
        )
    elif step.after is not None:
        leader = next(s for s in policy.steps if s.id == step.after.step)
        since = "the deadline of" if leader.deadline_days else "sending"
        when = f"{step.after.business_days} business days after {since} '{leader.id}'"
    elif d.day == 0:
        when = f"on the due date {d.due}"
    else:
        when = f"{abs(d.day)} days {'before' if d.day < 0 else 'after'} the due date {d.due}"
    text = f"{d.step}: {when}"
    nominal = d.due + timedelta(days=d.day)
    if step.after is None and d.occurrence != nominal and d.occurrence == today:
        text += f", moved from {nominal} (not a business day)"
    if d.occurrence != today:
        text += f"; was due {d.occurrence}, sent now after missed runs"
    return text + _broken(invoice, today)


def _broken(invoice: Invoice, today: date) -> str:
    if invoice.promise is not None and invoice.promise_broken(today):
        return f"; the promise to pay by {invoice.promise.date} was broken"
    return ""


def _entry(policy: Policy) -> Step | None:
    index = policy.entry_step
    return policy.steps[index] if index is not None else None


def _window(d: Decision, policy: Policy) -> int:
    window = policy.steps[d.step_index].catch_up
    return policy.catch_up if window is None else window


def _in_window(d: Decision, policy: Policy, today: date, resumed: date | None = None) -> bool:
    """Recent enough to send: the window counts from the occurrence, or from the day a pause
    (customer or invoice paused, a promise) that covered it ended."""
    start = max(d.occurrence, resumed) if resumed is not None else d.occurrence
    return business_days_between(start, today, policy) <= _window(d, policy)


def _resumed(
    repo: Repository, log: LogIndex, invoice: Invoice, customer: Customer, today: date
) -> date | None:
    return _resumed_from(invoice, customer, log, today, repo.settings.start)


def _resumed_from(
    invoice: Invoice, customer: Customer, log: LogIndex, today: date, start: date | None
) -> date | None:
    """From when the catch-up window counts: the end of the last pause, a reply's wait, or the
    day Nudge started (settings.yaml start), whichever is latest."""
    resumed = feedback.resumed(resumed_on(invoice, customer, today), log, invoice.id, today)
    if start is not None and start <= today:
        resumed = max(resumed, start) if resumed is not None else start
    return resumed


def resumed_on(invoice: Invoice, customer: Customer, today: date) -> date | None:
    """The day after the last pause that has ended by today, if any."""
    promise = invoice.promise
    ends = [
        customer.paused_until,
        invoice.paused_until,
        promise.date if promise is not None and promise_known(invoice, today) else None,
    ]
    ended = [end for end in ends if end is not None and end < today]
    return max(ended) + ONE_DAY if ended else None


def _handled_by_note(log: LogIndex, d: Decision, today: date) -> bool:
    """A contact a person recorded by hand (known from its date on) covers the occurrence."""
    for note in log.notes_for(d.invoice):
        noted = note.day
        if noted is None or noted > today:
            continue
        step = note.get("step")
        if step and step == d.step and d.occurrence <= noted:
            return True
        if not step and noted - timedelta(days=NOTE_REACH_DAYS) <= d.occurrence <= noted:
            return True
    return False


# -- the plan ---------------------------------------------------------------------------------


def plan(
    repo: Repository,
    log: LogIndex,
    now: datetime,
    explain: bool = False,
    only: Iterable[str] | None = None,
) -> Plan:
    """Every decision for every invoice, and the due ones grouped into deliveries (`only`: of
    these customers or invoices; None: of all, an empty list: of none)."""
    wanted = set(only) if only is not None else None
    result, days = _decide_all(repo, log, now, explain, wanted)
    _deliver(repo, log, result, days, now, wanted)
    return result


def plan_alike(
    repo: Repository,
    twin: Repository,
    log: LogIndex,
    now: datetime,
    only: Iterable[str] | None = None,
) -> tuple[Plan, Plan]:
    """`plan` of two trees that decide alike (`plandiff.decided_alike`: they differ only in what
    goes into a message, not in when or whether it is sent), decided once: the plans of `repo`
    and of `twin`, the same decisions grouped into each tree's messages."""
    wanted = set(only) if only is not None else None
    result, days = _decide_all(repo, log, now, False, wanted)
    other = Plan(result.today, decisions=list(result.decisions))
    _deliver(repo, log, result, days, now, wanted)
    _deliver(twin, log, other, days, now, wanted)
    return result, other


def merged(parts: list[Plan]) -> Plan:
    """One day's plans of disjoint sets of customers as one plan of them all, in the order
    `plan` gives (deliveries by `order`, decisions and stops by invoice)."""
    if len(parts) == 1:
        return parts[0]
    placed = sorted(
        ((o, d) for p in parts for o, d in zip(p.order, p.deliveries, strict=True)),
        key=lambda pair: pair[0],
    )
    decisions = sorted((d for p in parts for d in p.decisions), key=lambda d: d.invoice)
    stopped = dict(sorted(item for p in parts for item in p.stopped.items()))
    return Plan(
        parts[0].today,
        deliveries=[d for _, d in placed],
        decisions=decisions,
        stopped=stopped,
        order=[o for o, _ in placed],
    )


def _decide_all(
    repo: Repository, log: LogIndex, now: datetime, explain: bool, wanted: set[str] | None
) -> tuple[Plan, dict[str, date]]:
    """The plan's decisions (no deliveries yet), and each customer's own today."""
    result = Plan(local_today(now, repo.settings.defaults.timezone))
    days: dict[str, date] = {}
    for invoice in sorted(repo.invoices.values(), key=lambda i: i.id):
        if wanted is not None and invoice.customer not in wanted and invoice.id not in wanted:
            continue
        customer = repo.customers[invoice.customer]
        today = days.get(customer.id) or local_today(now, customer.timezone)
        days[customer.id] = today
        reason, decisions = decide_invoice(repo, log, invoice, today, explain)
        if reason is not None:
            result.stopped[invoice.id] = reason
        result.decisions.extend(decisions)
    return result, days


def _deliver(
    repo: Repository,
    log: LogIndex,
    result: Plan,
    days: dict[str, date],
    now: datetime,
    wanted: set[str] | None,
) -> None:
    """The plan's due decisions grouped into its deliveries, and its tasks added."""
    due: dict[tuple[str, str, str, int], list[Decision]] = {}
    for d in result.decisions:
        if d.status == "due":
            due.setdefault(_message_of(repo, d), []).append(d)
    for (customer_id, channel, policy, step), group in sorted(due.items()):
        delivery = _delivery(repo, log, customer_id, channel, group, days[customer_id])
        if policy:
            delivery = replace(delivery, separate=True)
        if channel == "sms" and not delivery.to and log.opted_out:
            _opted_out_everywhere(result, group)  # every number said STOP: not a failure
            continue
        result.deliveries.append(delivery)
        result.order.append((0, customer_id, channel, policy, step))
    from runner.feedback import tasks  # builds on this module

    tasks.add(repo, log, result, now, wanted)


def _message_of(repo: Repository, d: Decision) -> tuple[str, str, str, int]:
    """Which message a due reminder goes into: one per customer and channel a day, whatever the
    stages of its invoices; a step marked `separate` gets a message of its own."""
    step = repo.policies[d.policy].steps[d.step_index]
    return (
        (d.customer, d.channel, d.policy, d.step_index)
        if step.separate
        else (
            d.customer,
            d.channel,
            "",
            -1,
        )
    )


def _opted_out_everywhere(result: Plan, group: list[Decision]) -> None:
    keys = {d.key for d in group}
    reason = "every number of the recipients opted out of SMS (STOP); no text is sent"
    result.decisions = [
        replace(d, status="opted-out", reason=reason) if d.key in keys else d
        for d in result.decisions
    ]


def recipients(
    repo: Repository,
    customer: Customer,
    step: Step,
    channel: str,
    opted_out: set[str] | frozenset[str] = frozenset(),
) -> tuple[list[Contact], list[Contact]]:
    """(to, cc) of a step's message on a channel. A task goes to our own people only."""
    to = [c for role in step.roles_for(channel) for c in repo.people(customer, role, channel)]
    cc = [
        c
        for role in step.cc_for(channel)
        for c in repo.people(customer, role, channel)
        if c not in to
    ]
    if channel == "sms":
        to = [c for c in to if c.phone and not _opted_out(c.phone, opted_out)]
        cc = []
    elif channel in ("email", "task"):
        to = [c for c in to if c.email]
        cc = [c for c in cc if c.email]
    else:
        cc = []
    return to, cc


def message_locale(repo: Repository, customer_locale: str, channel: str) -> str:
    """The language a message is written in: the customer's; a task is for our own people, in
    the company's language."""
    return repo.settings.defaults.locale if channel == "task" else customer_locale


def _opted_out(phone: str, opted_out: set[str] | frozenset[str]) -> bool:
    from runner.sendlog import hashed

    return bool(opted_out) and (phone in opted_out or hashed(phone) in opted_out)


def address(contact: Contact, channel: str) -> str:
    if channel == "sms":
        return contact.phone or ""
    if channel == "letter":
        return contact.name
    return contact.email or ""


def _delivery(
    repo: Repository,
    log: LogIndex,
    customer_id: str,
    channel: str,
    group: list[Decision],
    today: date,
) -> Delivery:
    """One message for a group of due reminders: the most advanced stage's template and
    recipients; every invoice listed (each with its own stage: its key names it)."""
    customer = repo.customers[customer_id]
    lead = max(group, key=lambda d: d.rank)
    step = repo.policies[lead.policy].steps[lead.step_index]
    to, cc = feedback.reachable(
        *recipients(repo, customer, step, channel, log.opted_out), channel, log
    )
    group = sorted(group, key=lambda d: (d.invoice, d.rank))
    invoices = tuple(dict.fromkeys(d.invoice for d in group))
    first = repo.invoices[invoices[0]]
    total = context.statement_total(repo, customer, today, first.currency)
    locale = message_locale(repo, customer.locale, channel)
    template = repo.template_for(step.template, locale, channel) or step.template
    reasons = "; ".join(dict.fromkeys(f"{d.invoice}: {d.reason}" for d in group))
    return Delivery(
        date=today,
        customer=customer_id,
        policy=lead.policy,
        step=step.id,
        step_index=lead.step_index,
        channel=channel,
        invoices=invoices,
        keys=tuple(d.key for d in group),
        to=tuple(address(c, channel) for c in to),
        cc=tuple(address(c, channel) for c in cc),
        template=template,
        locale=locale,
        reason=reasons,
        total_due=total,
        currency=first.currency,
    )
