"""`plan --against REF`: what the working tree adds to, removes from or changes in REF's plan."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from runner import git, repository, workspace
from runner.loaded import Loaded
from runner.model import Invoice, Policy, Repository
from runner.output import counted
from runner.schedule import Delivery, Plan

COMPARED = ("invoices", "to", "cc", "template", "locale", "total_due", "currency")


@dataclass(frozen=True)
class Change:
    kind: str  # added, removed, changed
    delivery: Delivery
    before: Delivery | None = None

    def differences(self) -> list[str]:
        if self.before is None:
            return []
        return [
            f"{name}: {_show(getattr(self.before, name))} -> {_show(getattr(self.delivery, name))}"
            for name in COMPARED
            if getattr(self.before, name) != getattr(self.delivery, name)
        ]


def _show(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)


MOST_CHANGED = 2000  # files; a revision further apart is read whole


@contextmanager
def revision(
    root: Path, ref: str, head: Loaded | None = None
) -> Iterator[tuple[Repository, set[str] | None]]:
    """The repository as git revision `ref` holds it (valid, or NudgeError saying so), and with
    `head` the customers whose plan can differ (`affected`; None: all, or no `head`). With
    `head`, this working tree's (valid) load, only the files that differ are read (the pull-request
    check compares two trees that differ in a few files); else, or when the settings differ,
    the whole revision."""
    valid = head is not None and not head.errors
    changed = git.changed_files(root, ref, repository.DATA_PATHS) if valid else None
    if head is None or changed is None or "settings.yaml" in changed or len(changed) > MOST_CHANGED:
        with git.temporary_export(root, ref) as folder:
            try:
                loaded = workspace.load_valid(Path(folder))
            except workspace.ConfigInvalid as exc:
                raise workspace.NudgeError(
                    f"{ref} itself is not valid, so there is nothing to compare with: {exc}"
                ) from None
            yield loaded.repo, affected(head.repo, loaded.repo) if head is not None else None
        return
    concerned: dict[str, set[str] | None] = {}  # worked out once: the check and the plan ask

    def concern(base: Repository) -> set[str] | None:
        concerned["customers"] = affected(head.repo, base)
        return concerned["customers"]

    with tempfile.TemporaryDirectory(prefix="nudge-rev-") as folder:
        git.export_files(root, ref, sorted(changed), Path(folder))
        loaded = repository.load_revision(root, head, Path(folder), changed, concern)
    errors = sorted({p for p in loaded.problems if p.severity == "error"})
    if errors:
        shown = "\n".join(f"  {p}" for p in errors[:20])
        raise workspace.NudgeError(
            f"{ref} itself is not valid, so there is nothing to compare with: "
            f"{len(errors)} error(s):\n{shown}"
        )
    if "customers" not in concerned:
        concern(loaded.repo)
    yield loaded.repo, concerned["customers"]


def affected(head: Repository, base: Repository) -> set[str] | None:
    """The customers whose plan can differ between the two repositories (None: all of them):
    their own file, one of their invoices or a policy they use differs. A plan is made customer
    by customer from those, the settings and the template names (and the same log), so every
    other customer's plan is the same in both."""
    if head.settings != base.settings or head.templates != base.templates:
        return None
    policies = {
        p for p in {*head.policies, *base.policies} if head.policies.get(p) != base.policies.get(p)
    }
    found = set()
    for customer in {*head.customers, *base.customers}:
        mine, theirs = head.customers.get(customer), base.customers.get(customer)
        invoices, before = head.invoices_of(customer), base.invoices_of(customer)
        used = {c.policy for c in (mine, theirs) if c is not None}
        used |= {i.policy for i in (*invoices, *before) if i.policy}
        if mine != theirs or used & policies or not _same(invoices, before):
            found.add(customer)
    orphans = {i.customer for i in head.invoices.values() if i.customer not in head.customers}
    orphans |= {i.customer for i in base.invoices.values() if i.customer not in base.customers}
    return found | orphans


def decided_alike(head: Repository, base: Repository, customers: set[str] | None) -> bool:
    """Whether the two trees make the same decisions for these customers every day (None, all
    of them, is not worked out: False): their settings, template names, customers and invoices
    are the same, and a policy that differs does so only in what its steps put into a message
    (`_when`). Then a forecast of one tree gives the other's decisions too
    (simulate.forecast_alike): only the messages they are grouped into can differ."""
    if customers is None or head.settings != base.settings or head.templates != base.templates:
        return False
    for customer in customers:
        if head.customers.get(customer) != base.customers.get(customer):
            return False
        if not _same(head.invoices_of(customer), base.invoices_of(customer)):
            return False
    names = {*head.policies, *base.policies}
    return all(_when(head.policies.get(p)) == _when(base.policies.get(p)) for p in names)


def _when(policy: Policy | None) -> Policy | None:
    """The policy without what its steps put into a message, and the schedule never reads:
    their template, who is in copy, their description."""
    if policy is None:
        return None
    steps = tuple(replace(s, template="", cc=(), description="") for s in policy.steps)
    return replace(policy, steps=steps)


def _same(these: tuple[Invoice, ...], those: tuple[Invoice, ...]) -> bool:
    return len(these) == len(those) and all(
        a is b or a == b for a, b in zip(these, those, strict=True)
    )


def compare(base: list[Plan], head: list[Plan], customers: set[str] | None = None) -> list[Change]:
    """What `head` adds to, removes from or changes in `base` (of `customers` only, if given)."""

    def wanted(d: Delivery) -> bool:
        return customers is None or d.customer in customers

    before = {d.id: d for p in base for d in p.deliveries if wanted(d)}
    after = {d.id: d for p in head for d in p.deliveries if wanted(d)}
    changes = [Change("added", after[k]) for k in after if k not in before]
    changes += [Change("removed", before[k]) for k in before if k not in after]
    changes += [
        Change("changed", after[k], before[k])
        for k in after
        if k in before and Change("changed", after[k], before[k]).differences()
    ]
    return sorted(
        changes,
        key=lambda c: (c.delivery.date, c.delivery.customer, c.delivery.step, c.delivery.channel),
    )


def render(changes: list[Change], form: str, ref: str) -> str:
    if form == "json":
        return json.dumps(
            {
                "against": ref,
                "changes": [
                    {"change": c.kind, **c.delivery.as_json(), "differences": c.differences()}
                    for c in changes
                ],
            },
            indent=2,
            ensure_ascii=False,
        )
    counts = {k: sum(1 for c in changes if c.kind == k) for k in ("added", "removed", "changed")}
    headline = (
        f"Compared with {ref}: {counted(counts['added'], 'message')} added, {counts['removed']} "
        f"removed, {counts['changed']} changed"
    )
    if not changes:
        return f"Compared with {ref}: this change sends exactly the same messages."
    sign = {"added": "+", "removed": "-", "changed": "~"}
    if form == "markdown":
        lines = [
            f"**{headline}**",
            "",
            "| | date | customer | step | channel | invoices | to |",
            "|---|---|---|---|---|---|---|",
        ]
        shown = changes[:200]
        for c in shown:
            d = c.delivery
            lines.append(
                f"| {sign[c.kind]} | {d.date} | {d.customer} | {d.step} | {d.channel} | "
                f"{', '.join(d.invoices)} | {', '.join(d.to)} |"
            )
        if len(changes) > len(shown):
            more = len(changes) - len(shown)
            lines.append(f"\n... and {more} more (see plan-diff.json in the artifact)")
        details = [
            f"- `{c.delivery.id}`: " + "; ".join(c.differences())
            for c in changes
            if c.kind == "changed"
        ][:200]
        if details:
            lines += [
                "",
                "<details><summary>What changed in each message</summary>",
                "",
                *details,
                "",
                "</details>",
            ]
        return "\n".join(lines)
    lines = [headline]
    for c in changes:
        d = c.delivery
        lines.append(
            f"{sign[c.kind]} {d.date} {d.customer} {d.step} {d.channel} "
            f"[{', '.join(d.invoices)}] -> {', '.join(d.to)}"
        )
        lines.extend(f"    {diff}" for diff in c.differences())
    return "\n".join(lines)
