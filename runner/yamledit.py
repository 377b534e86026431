"""Round-trip edits of the YAML files people also edit by hand (ruamel.yaml): comments, key
order, quoting and flow style are kept; only the fields an edit names change. Every edited or
new file is checked against its schema before anything is written, and all are written
together: each to a temporary file beside it, then renamed over the original.
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from runner import schema, yamlload
from runner.errors import NudgeError, Problem


def _yaml() -> Any:
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never re-wrap a long description
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def money(amount: Decimal) -> Any:
    """Money as the files write it: text in double quotes, e.g. "1200.00"."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(str(amount))


def text(value: str) -> Any:
    """A string written in double quotes (safe for any content)."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(value)


def flow(**items: Any) -> Any:
    """A small mapping written on one line, like the payments in the sample files."""
    from ruamel.yaml.comments import CommentedMap

    node = CommentedMap(items)
    node.fa.set_flow_style()
    return node


@dataclass
class YamlFile:
    """One file opened for editing."""

    rel: str  # relative to the repository, with '/'
    original: str  # "" for a new file
    data: Any
    kind: str  # the schema it must satisfy: invoice, customer

    def render(self) -> str:
        out = io.StringIO()
        _yaml().dump(self.data, out)
        return out.getvalue()


@dataclass
class Edits:
    """Files to write, all or nothing, under one repository."""

    root: Path
    files: dict[str, YamlFile] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)  # rel -> text, written as is

    def open(self, rel: str, kind: str) -> YamlFile:
        if rel not in self.files:
            path = self.root / rel
            original = yamlload.read_text(path, rel)
            self.files[rel] = YamlFile(rel, original, _yaml().load(original), kind)
        return self.files[rel]

    def create(self, rel: str, kind: str, data: Any, header: str = "") -> YamlFile:
        if rel in self.files or (self.root / rel).exists():
            raise NudgeError(f"{rel} already exists: nothing was written")
        body = io.StringIO()
        _yaml().dump(data, body)
        new = YamlFile(rel, "", _yaml().load(header + body.getvalue()), kind)
        self.files[rel] = new
        return new

    def texts(self) -> dict[str, tuple[str, str]]:
        """rel -> (before, after) for every file that changes."""
        out = {}
        for rel, opened in self.files.items():
            after = opened.render()
            if after != opened.original:
                out[rel] = (opened.original, after)
        for rel, after in self.raw.items():
            path = self.root / rel
            before = path.read_text(encoding="utf-8") if path.exists() else ""
            if after != before:
                out[rel] = (before, after)
        return out

    def problems(self) -> list[Problem]:
        """What the files would break, checked as `validate` reads them."""
        found = []
        for rel, (_, after) in self.texts().items():
            opened = self.files.get(rel)
            if opened is None:
                continue
            try:
                data = yamlload.parse(after)
            except yamlload.YamlProblem as exc:
                found.append(Problem(rel, exc.line, exc.col, exc.message))
                continue
            items = data["invoices"] if isinstance(data, dict) and "invoices" in data else [data]
            for item in items:
                for where, _, message in schema.check(opened.kind, item):
                    line, col = yamlload.locate(after, where)
                    found.append(Problem(rel, line, col, message))
        return found

    def diff(self) -> str:
        chunks: list[str] = []
        for rel, (before, after) in sorted(self.texts().items()):
            chunks += difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                f"a/{rel}" if before else "/dev/null",
                f"b/{rel}",
            )
        return "".join(chunks)

    def write(self) -> list[str]:
        """Check, then write every changed file (temporary files renamed into place); the
        relative paths written. A problem raises before anything is written."""
        problems = self.problems()
        if problems:
            shown = "\n".join(f"  {p}" for p in sorted(problems)[:20])
            raise NudgeError(f"the edit would make files invalid; nothing was written:\n{shown}")
        changed = self.texts()
        write_all(self.root, {rel: after for rel, (_, after) in changed.items()})
        return sorted(changed)


def write_all(root: Path, texts: dict[str, str]) -> None:
    """Every file written to a temporary sibling first; only when all are on disk are they
    renamed into place, so a failure leaves the repository as it was."""
    staged: list[tuple[str, Path]] = []
    try:
        for rel, content in texts.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            staged.append((temp, target))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
    except OSError as exc:
        for temp, _ in staged:
            Path(temp).unlink(missing_ok=True)
        raise NudgeError(
            f"cannot write {exc.filename}: {exc.strerror}; nothing was written"
        ) from None
    for temp, target in staged:
        os.replace(temp, target)


def invoice_node(opened: YamlFile, invoice_id: str) -> Any:
    """The mapping of one invoice in a file of one invoice or an export (`invoices: [...]`)."""
    data = opened.data
    if isinstance(data, dict) and isinstance(data.get("invoices"), list):
        for item in data["invoices"]:
            if isinstance(item, dict) and item.get("id") == invoice_id:
                return item
    elif isinstance(data, dict) and data.get("id") == invoice_id:
        return data
    raise NudgeError(f"{opened.rel}: invoice {invoice_id} is not in this file")


def insert_before(node: Any, key: str, value: Any, before: Iterable[str]) -> None:
    """Set `key`, placing a new key before the first of `before` present (else at the end)."""
    if key in node:
        node[key] = value
        return
    keys = list(node)
    for anchor in before:
        if anchor in keys:
            node.insert(keys.index(anchor), key, value)
            return
    node[key] = value


def sequence_like(items: Any, new: Any) -> Any:
    """`new` written in the style of the list it joins: one line per item when they are."""
    if items and hasattr(items[0], "fa") and not items[0].fa.flow_style():
        from ruamel.yaml.comments import CommentedMap

        return CommentedMap(new)
    return new
