"""`plan --against REF`: what the working tree adds to, removes from or changes in REF's plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from runner import git, workspace
from runner.model import Repository
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


@contextmanager
def revision(root: Path, ref: str) -> Iterator[Repository]:
    """The repository as git revision `ref` holds it (valid, or NudgeError saying so)."""
    with git.temporary_export(root, ref) as folder:
        try:
            loaded = workspace.load_valid(Path(folder))
        except workspace.ConfigInvalid as exc:
            raise workspace.NudgeError(
                f"{ref} itself is not valid, so there is nothing to compare with: {exc}"
            ) from None
        yield loaded.repo


def compare(base: list[Plan], head: list[Plan]) -> list[Change]:
    before = {d.id: d for p in base for d in p.deliveries}
    after = {d.id: d for p in head for d in p.deliveries}
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
        f"Compared with {ref}: {counts['added']} message(s) added, {counts['removed']} "
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
            lines.append(f"\n... and {len(changes) - len(shown)} more (see the full plan artifact)")
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
