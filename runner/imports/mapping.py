"""Mapping files: which column of an export (or a bank's CSV) is what. Shipped presets live in
runner/imports/presets/; a company keeps its own in imports/mappings/ of its repository."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from runner import schema, yamlload
from runner.errors import NudgeError

COMPANY_FOLDER = "imports/mappings"


@dataclass(frozen=True)
class Mapping:
    name: str
    kind: str  # invoices | payments
    columns: dict[str, str]
    source: str  # where the mapping was read from, for messages
    format: str | None = None
    delimiter: str = "auto"
    encoding: str | None = None
    decimal: str = "."
    thousands: str = ""
    date_format: str | None = None
    sheet: str | None = None
    lines_per_invoice: bool = False
    credit_note_types: frozenset[str] = frozenset()
    statuses: dict[str, str] = field(default_factory=dict)
    debit_marks: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    new_customers: dict[str, Any] = field(default_factory=dict)
    documented: str = ""
    description: str = ""

    def column(self, key: str) -> str | None:
        return self.columns.get(key)


REQUIRED = {
    "invoices": ("id", "issued", "due", "amount"),
    "payments": ("booked", "amount"),
}


def presets() -> list[str]:
    folder = resources.files("runner.imports").joinpath("presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def find(root: Path, name: str) -> Mapping:
    """A mapping by path, by name in the company's imports/mappings/, or a shipped preset."""
    as_path = Path(name)
    if name.endswith((".yaml", ".yml")) and (as_path.is_file() or (root / as_path).is_file()):
        path = as_path if as_path.is_file() else root / as_path
        return parse(yamlload.read_text(path, str(name)), str(name))
    own = root / COMPANY_FOLDER / f"{name}.yaml"
    if own.is_file():
        rel = f"{COMPANY_FOLDER}/{name}.yaml"
        return parse(yamlload.read_text(own, rel), rel)
    preset = resources.files("runner.imports").joinpath("presets", f"{name}.yaml")
    if preset.is_file():
        return parse(preset.read_text("utf-8"), f"preset {name}")
    raise NudgeError(
        f"no mapping '{name}': give a mapping file, one of {COMPANY_FOLDER}/*.yaml, or a "
        f"preset ({', '.join(presets())})"
    )


def parse(text: str, source: str) -> Mapping:
    try:
        data = yamlload.parse(text)
    except yamlload.YamlProblem as exc:
        raise NudgeError(f"{source}:{exc.line}:{exc.col}: {exc.message}") from None
    problems = [
        (yamlload.locate(text, where, key=key), message)
        for where, key, message in schema.check("mapping", data)
    ]
    if not problems and isinstance(data, dict):
        columns = data["columns"]
        for needed in REQUIRED[data["kind"]]:
            if needed not in columns:
                problems.append(((1, 1), f"columns: a {data['kind']} mapping needs '{needed}'"))
        if data["kind"] == "invoices" and not ({"customer", "customer_name"} & set(columns)):
            problems.append(((1, 1), "columns: give 'customer' or 'customer_name' (or both)"))
    if problems:
        shown = "\n".join(f"  {source}:{line}:{col}: {m}" for (line, col), m in problems)
        raise NudgeError(f"the mapping is not valid:\n{shown}")
    return _mapping(data, source)


def _mapping(data: dict[str, Any], source: str) -> Mapping:
    return Mapping(
        name=data["name"],
        kind=data["kind"],
        columns=dict(data["columns"]),
        source=source,
        format=data.get("format"),
        delimiter=data.get("delimiter", "auto"),
        encoding=data.get("encoding"),
        decimal=data.get("decimal", "."),
        thousands=data.get("thousands", ""),
        date_format=data.get("date_format"),
        sheet=data.get("sheet"),
        lines_per_invoice=data.get("lines_per_invoice", False),
        credit_note_types=frozenset(data.get("credit_note_types", ())),
        statuses=dict(data.get("statuses", {})),
        debit_marks=frozenset(data.get("debit_marks", ())),
        optional=frozenset(data.get("optional", ())),
        new_customers=dict(data.get("new_customers", {})),
        documented=data.get("documented", ""),
        description=data.get("description", ""),
    )
