"""Tables for people: aligned plain text, Markdown and HTML from one description; numbers are
right-aligned so their digits line up."""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    head: tuple[str, ...]
    rows: list[list[str]]
    right: frozenset[int] = field(default_factory=frozenset)  # columns of numbers

    def text(self, indent: str = "  ") -> list[str]:
        lines = [list(self.head), *self.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(len(self.head))]
        return [
            (indent + "  ".join(self._pad(i, c, widths[i]) for i, c in enumerate(line))).rstrip()
            for line in lines
        ]

    def _pad(self, column: int, cell: str, width: int) -> str:
        return cell.rjust(width) if column in self.right else cell.ljust(width)

    def markdown(self, limit: int | None = None) -> list[str]:
        rule = "|" + "".join("---:|" if i in self.right else "---|" for i in range(len(self.head)))
        shown = self.rows if limit is None else self.rows[:limit]
        lines = ["| " + " | ".join(self.head) + " |", rule]
        return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in shown]

    def html(self) -> str:
        def cell(tag: str, column: int, text: str) -> str:
            align = ' class="num"' if column in self.right else ""
            return f"<{tag}{align}>{html.escape(text)}</{tag}>"

        head = "".join(cell("th", i, h) for i, h in enumerate(self.head))
        body = "".join(
            "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
