"""`nudge history INVOICE|CUSTOMER|POLICY`: what happened, from git history and the send log.

An invoice's or customer's timeline: its files' changes, the imports, the changes of the policy
that governs it, and every send log entry (in a customer's, each names its invoices). A
policy's: the commits that changed its file, each with what changed."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from runner import git, workspace, yamlload
from runner.model import Repository
from runner.sendlog import Key


@dataclass(frozen=True)
class Event:
    when: str  # ISO date or timestamp, for ordering
    kind: str  # change, policy, sent, failed, unknown, pending, note, ...
    what: str
    who: str = ""
    commit: str = ""
    invoices: tuple[str, ...] = ()  # the invoices it is about, where it is about some
    # each invoice's own stage, where one message was about invoices at different stages
    stages: tuple[str, ...] = ()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="INVOICE|CUSTOMER|POLICY")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    repo = workspace.load_valid(root).repo
    target = args.target
    if target in repo.policies and target not in repo.invoices and target not in repo.customers:
        events = policy_events(root, repo.policies[target].id, repo.policies[target].path)
    else:
        events = _timeline(root, repo, target)
    events.sort(key=lambda e: e.when)
    if args.format == "json":
        print(
            json.dumps(
                {"target": args.target, "events": [asdict(e) for e in events]},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print(_table(args.target, repo, events))
    return 0


def _timeline(root: Path, repo: Repository, target: str) -> list[Event]:
    customer_id, invoice_ids = workspace.invoices_of(repo, target)
    imported = import_events(root, set(invoice_ids))
    by_import = {e.commit for e in imported if e.commit}
    # a file change an import made is told by the import's own line, which says where it came from
    events = [
        e
        for e in _file_events(root, repo, customer_id, invoice_ids)
        if not (e.kind == "change" and e.commit in by_import)
    ]
    events += imported
    logged = _log_events(root, set(invoice_ids), customer_id)
    if target not in repo.invoices:  # a customer's: which invoice each message was about
        logged = [replace(e, what=f"{_named(e)}: {e.what}") for e in logged]
    return events + logged


def _table(target: str, repo: Repository, events: list[Event]) -> str:
    if target in repo.invoices:
        name = repo.customers[repo.invoices[target].customer].name
    elif target in repo.customers:
        name = repo.customers[target].name
    else:
        name = f"policy, {repo.policies[target].path}"
    lines = [f"History of {target} ({name})", ""]
    for e in events:
        parts = [e.who] if e.who else []
        if e.commit:
            parts.append(
                ("" if e.kind in ("change", "policy", "import") else "config ") + e.commit[:8]
            )
        by = f"  ({', '.join(parts)})" if parts else ""
        lines.append(f"{e.when[:16].replace('T', ' '):<16}  {e.kind:<9} {e.what}{by}")
    return "\n".join(lines if events else [*lines, "(nothing recorded)"])


# -- git history of the files ------------------------------------------------------------------


def _commits(root: Path, path: str) -> list[tuple[str, str, str, str]]:
    """(sha, ISO date, author, subject) of commits touching `path`, oldest first."""
    if not git.is_repo(root):
        return []
    out = git.out(root, "log", "--reverse", "--format=%H%x1f%aI%x1f%an%x1f%s", "--", path)
    return [tuple(line.split("\x1f", 3)) for line in out.splitlines() if line]  # type: ignore[misc]


def _at(root: Path, sha: str, path: str) -> Any:
    done = git.git(root, "show", f"{sha}:{path}", check=False)
    if done.returncode != 0:
        return None
    try:
        return yamlload.parse(done.stdout.decode("utf-8", "replace"))
    except yamlload.YamlProblem:
        return None


def _invoice_in(data: Any, invoice_id: str) -> dict[str, Any] | None:
    if isinstance(data, dict) and isinstance(data.get("invoices"), list):
        return next(
            (i for i in data["invoices"] if isinstance(i, dict) and i.get("id") == invoice_id), None
        )
    return data if isinstance(data, dict) and data.get("id") == invoice_id else None


def _file_events(
    root: Path, repo: Repository, customer_id: str, invoice_ids: list[str]
) -> list[Event]:
    events: list[Event] = []
    for invoice_id in invoice_ids:
        path = repo.invoices[invoice_id].path
        before: dict[str, Any] | None = None
        for sha, when, who, _ in _commits(root, path):
            now = _invoice_in(_at(root, sha, path), invoice_id)
            for what in describe_invoice_change(invoice_id, before, now):
                events.append(Event(when, "change", what, who, sha, (invoice_id,)))
            before = now
    customer = repo.customers[customer_id]
    before_c: dict[str, Any] | None = None
    for sha, when, who, _ in _commits(root, customer.path):
        now_c = _at(root, sha, customer.path)
        for what in describe_customer_change(customer_id, before_c, now_c):
            events.append(Event(when, "change", what, who, sha))
        before_c = now_c if isinstance(now_c, dict) else None
    policies = {repo.policy_for(repo.invoices[i]) for i in invoice_ids}
    for policy in sorted((p for p in policies if p is not None), key=lambda p: p.id):
        events += policy_events(root, policy.id, policy.path)
    return events


def policy_events(root: Path, policy_id: str, path: str) -> list[Event]:
    """The commits that changed the policy's file, each with what changed in the policy."""
    events = []
    before: Any = None
    for sha, when, who, subject in _commits(root, path):
        now = _at(root, sha, path)
        changes = describe_policy_change(before, now)
        what = f"policy {policy_id}: {'; '.join(changes)} ({subject})"
        events.append(Event(when, "policy", what, who, sha))
        before = now
    return events


def describe_policy_change(before: Any, after: Any) -> list[str]:
    """What a commit changed in a policy, step by step ('step tier-1: at 14 -> 10')."""
    if not isinstance(after, dict):
        return ["removed"] if isinstance(before, dict) else ["not a readable policy"]
    steps = {str(s.get("id")): s for s in after.get("steps", []) if isinstance(s, dict)}
    if not isinstance(before, dict):
        return [f"created, steps {', '.join(steps) or '(none)'}"]
    out = _changed_keys("", before, after, skip=("steps", "$schema"))
    old = {str(s.get("id")): s for s in before.get("steps", []) if isinstance(s, dict)}
    for step_id in [*old, *(s for s in steps if s not in old)]:
        if step_id not in steps:
            out.append(f"step {step_id} removed")
        elif step_id not in old:
            out.append(f"step {step_id} added")
        else:
            out += _changed_keys(f"step {step_id}: ", old[step_id], steps[step_id], skip=("id",))
    if list(old) != list(steps) and set(old) == set(steps):
        out.append(f"steps reordered: {', '.join(steps)}")
    return out or ["comments or layout only"]


def _changed_keys(
    prefix: str, before: dict[str, Any], after: dict[str, Any], skip: tuple[str, ...]
) -> list[str]:
    keys = [k for k in [*before, *(k for k in after if k not in before)] if k not in skip]
    return [
        f"{prefix}{key} {_shown(before.get(key))} -> {_shown(after.get(key))}"
        for key in keys
        if before.get(key) != after.get(key)
    ]


WATCHED = (
    "amount",
    "due",
    "paused_until",
    "disputed",
    "void",
    "written_off",
    "promise",
    "installments",
    "discount",
    "policy",
)


def describe_invoice_change(
    invoice_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[str]:
    if after is None:
        return [f"{invoice_id} removed"] if before is not None else []
    if before is None:
        return [f"{invoice_id} created: {after.get('amount')} due {after.get('due')}"]
    out = []
    old_payments = {json.dumps(p, sort_keys=True, default=str) for p in before.get("payments", [])}
    for payment in after.get("payments", []) or []:
        if json.dumps(payment, sort_keys=True, default=str) not in old_payments:
            ref = f" ({payment.get('ref')})" if payment.get("ref") else ""
            out.append(
                f"{invoice_id}: payment of {payment.get('amount')} on "
                f"{payment.get('date')} recorded{ref}"
            )
    for key in WATCHED:
        if before.get(key) != after.get(key):
            out.append(f"{invoice_id}: {key} {_shown(before.get(key))} -> {_shown(after.get(key))}")
    return out


def describe_customer_change(customer_id: str, before: Any, after: Any) -> list[str]:
    if not isinstance(after, dict):
        return []
    if not isinstance(before, dict):
        return [f"customer {customer_id} created"]
    return [
        f"customer {customer_id}: {key} {_shown(before.get(key))} -> {_shown(after.get(key))}"
        for key in ("paused_until", "hold", "policy", "locale", "contacts")
        if before.get(key) != after.get(key)
    ]


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


# -- imports ---------------------------------------------------------------------------------


def import_events(root: Path, invoice_ids: set[str]) -> list[Event]:
    """What imported files did to these invoices (imports/applied.jsonl), each with the commit
    that recorded it."""
    from runner.imports import record

    events = []
    for entry in record.entries(root):
        changes = [c for c in entry.get("changes", ()) if c.get("invoice") in invoice_ids]
        if not changes:
            continue
        sha, when, who = _recorded_by(root, str(entry.get("sha256", "")))
        for change in changes:
            events.append(
                Event(
                    when or str(entry.get("at", "")), "import", _imported(entry, change), who, sha
                )
            )
    return events


def _recorded_by(root: Path, sha256: str) -> tuple[str, str, str]:
    from runner.imports.record import RECORD

    if not sha256 or not git.is_repo(root):
        return "", "", ""
    out = git.out(root, "log", "--reverse", "--format=%H%x1f%aI%x1f%an", "-S", sha256, "--", RECORD)
    first = out.splitlines()[0].split("\x1f") if out else []
    return (first[0], first[1], first[2]) if len(first) == 3 else ("", "", "")


def _imported(entry: dict[str, Any], change: dict[str, Any]) -> str:
    from decimal import Decimal

    from runner.bookkeeping import shown

    invoice = change.get("invoice")
    source = entry.get("file", "")
    action = change.get("action")
    if action == "paid":
        amount = Decimal(str(change.get("amount", "0")))
        money = shown(abs(amount), str(change.get("currency", "")))
        verb = "payment reversed" if amount < 0 else "paid"
        if entry.get("kind") == "payments":
            outcome = f": {change['outcome']}" if change.get("outcome") else ""
            return (
                f"{invoice}: {verb} {money}, bank statement {entry.get('statement_date', '')}, "
                f"transaction {change.get('ref', '')} ({source}){outcome}"
            )
        return f"{invoice}: {verb} {money}, per the accounting export {source}"
    if action == "created":
        return f"{invoice}: imported from {source} row {change.get('row')}"
    fields = "; ".join(f"{k} {a} -> {b}" for k, (a, b) in change.get("fields", {}).items())
    return f"{invoice}: updated from {source} row {change.get('row')}: {fields}"


# -- the send log ------------------------------------------------------------------------------


def _parsed(text: str) -> Key | None:
    try:
        return Key.parse(text)
    except ValueError:
        return None


def _log_events(root: Path, invoice_ids: set[str], customer_id: str) -> list[Event]:
    from runner.feedback import report as came_back
    from runner.sendlog import FEEDBACK_STATUSES, read

    events = []
    entries = read(root).entries
    by_delivery: dict[str, set[str]] = {}
    for e in entries:
        by_delivery.setdefault(e.delivery, set()).add(e.status)
    for entry in entries:
        status = entry.status
        if _told_by_others(status, by_delivery[entry.delivery]):
            continue
        keys = [key for key in (_parsed(k) for k in entry.keys) if key is not None]
        named = tuple(i for i in dict.fromkeys(_invoices_in(entry, keys)) if i in invoice_ids)
        if not named:
            continue
        when = str(entry.get("at") or entry.get("date") or "")
        # a message about several invoices names each one's own stage by its key
        own = list(dict.fromkeys(key.step for key in keys if key.invoice in invoice_ids))
        step = own[0] if len(own) == 1 else "" if own else entry.get("step", "")
        stage = {key.invoice: key.step for key in keys}
        stages = tuple(stage.get(i, "") for i in named) if len(own) > 1 else ()
        what = f"{step} {entry.get('channel', '')}".strip()
        if status in ("sent", "failed", "unknown", "pending", "handover", "cancelled"):
            to = ", ".join(entry.get("to", ()))
            what = f"{what} to {to}" if to else what
            what += {
                "pending": ": claimed, never handed over (due again once its run is over)",
                "handover": ": handed over, no answer (outcome unknown)",
            }.get(status, "")
            if entry.get("reason"):
                what += f": {entry.get('reason')}"
        elif status == "note":
            by = entry.get("by") or "someone"
            what = f"{entry.get('channel', 'note')} by {by}: {entry.get('text')}"
        elif status in ("superseded", "missed"):
            day = keys[0].day.isoformat() if keys else "?"
            what = f"{what} ({day}): {entry.get('reason', status)}"
        elif status == "resolved":
            what = f"outcome decided by a person: {'sent' if entry.get('sent') else 'not sent'}"
        elif status == "reconciled":
            verdict = "sent" if entry.get("sent") else "not sent"
            what = (
                f"outcome settled from the provider's records: {verdict} ({entry.get('evidence')})"
            )
        elif status in FEEDBACK_STATUSES:
            what = came_back.describe(entry)
        events.append(
            Event(
                when,
                status,
                what,
                commit=str(entry.get("commit") or ""),
                invoices=named,
                stages=stages,
            )
        )
    return events


def _told_by_others(status: str, statuses: set[str]) -> bool:
    """Whether another entry of the same delivery tells its story: a claim or hand-over is told
    by its outcome; a superseded or missed record another run had made first is cancelled, and
    neither it nor its cancellation is news."""
    decided = statuses - {"pending", "handover"}
    if status == "pending":
        return bool(decided or "handover" in statuses)
    if status == "handover":
        return bool(decided)
    skipped = statuses & {"superseded", "missed"}
    return bool(skipped) and "cancelled" in statuses and status in (*skipped, "cancelled")


def _named(event: Event) -> str:
    """The invoices an event was about, each with its own stage where they differ."""
    if not event.stages:
        return ", ".join(event.invoices)
    return ", ".join(
        f"{i} ({s})" if s else i for i, s in zip(event.invoices, event.stages, strict=True)
    )


def _invoices_in(entry: Any, keys: list[Key]) -> list[str]:
    return [*entry.get("invoices", ()), *(key.invoice for key in keys)]
