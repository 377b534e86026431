"""Rows of an export, whatever its shape: CSV (any delimiter, UTF-8 with or without a BOM, or
the mapping's declared encoding such as cp1250), XLSX (openpyxl), JSON lines. Every value can
say where it came from (`file:row:column`), and text is turned into money and dates exactly as
the mapping says, or a problem that names the place."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from runner.errors import NudgeError, Problem
from runner.imports.mapping import Mapping

MAX_BYTES = 512 * 1024 * 1024
DELIMITERS = ",;\t|"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class BadValue(Exception):
    """A cell that cannot be read as what the mapping says it is."""


@dataclass(frozen=True)
class Row:
    number: int  # the row as a spreadsheet shows it (the header is row 1)
    cells: dict[str, Any]


@dataclass(frozen=True)
class Table:
    name: str  # as messages show the file
    header: tuple[str, ...]
    rows: list[Row]

    def where(self, row: Row, column: str) -> tuple[int, int]:
        col = self.header.index(column) + 1 if column in self.header else 1
        return row.number, col

    def problem(self, row: Row, column: str, message: str) -> Problem:
        line, col = self.where(row, column)
        return Problem(self.name, line, col, message)


def read(path: Path, name: str, mapping: Mapping) -> Table:
    """The table in `path`, per the mapping; NudgeError naming the place when it cannot be."""
    form = mapping.format or _format_of(path)
    if path.stat().st_size > MAX_BYTES:
        raise NudgeError(f"{name}: the file is larger than {MAX_BYTES // 2**20} MiB")
    if form == "xlsx":
        return _xlsx(path, name, mapping)
    text = decode(path.read_bytes(), name, mapping.encoding)
    if form == "jsonl":
        return _jsonl(text, name)
    return _csv(text, name, mapping)


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "csv"


def decode(data: bytes, name: str, declared: str | None) -> str:
    """A byte-order mark decides; else UTF-8; else the declared encoding. Never a silent guess:
    a row neither can read is named."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data, encoding, name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if declared is None:
            raise NudgeError(
                f"{name}:{_row_at(data, exc.start)}: byte 0x{data[exc.start]:02x} is not UTF-8: "
                "say the file's encoding in the mapping (`encoding: cp1250` for Central European "
                "exports, `cp1252` for Western European ones)"
            ) from None
    return _strict(data, declared, name)


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except LookupError:
        raise NudgeError(f"{name}: the mapping's encoding '{encoding}' is unknown") from None
    except UnicodeDecodeError as exc:
        raise NudgeError(
            f"{name}:{_row_at(data, exc.start)}: byte 0x{data[exc.start]:02x} cannot be read as "
            f"{encoding}: is the mapping's encoding right?"
        ) from None


def _row_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _csv(text: str, name: str, mapping: Mapping) -> Table:
    first = text.split("\n", 1)[0]
    delimiter = mapping.delimiter
    if delimiter == "auto":
        counts = [(first.count(d), d) for d in DELIMITERS]
        found, delimiter = max(counts)
        if not found:
            raise NudgeError(
                f"{name}:1: cannot tell how the header's columns are separated: set "
                "`delimiter:` in the mapping"
            )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = tuple(cell.strip() for cell in next(reader))
    except StopIteration:
        raise NudgeError(f"{name}: the file is empty") from None
    rows = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            number = reader.line_num
            if len(cells) > len(header):
                raise NudgeError(
                    f"{name}:{number}:{len(header) + 1}: the row has {len(cells)} columns, the "
                    f"header {len(header)}: a delimiter inside a value that is not quoted?"
                )
            rows.append(Row(number, dict(zip(header, cells, strict=False))))
    except csv.Error as exc:
        raise NudgeError(f"{name}:{reader.line_num}: {exc}") from None
    return Table(name, header, rows)


def _jsonl(text: str, name: str) -> Table:
    rows: list[Row] = []
    header: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise NudgeError(f"{name}:{number}:{exc.colno}: not JSON: {exc.msg}") from None
        if not isinstance(item, dict):
            raise NudgeError(f"{name}:{number}:1: expected one JSON object per line")
        header.update(dict.fromkeys(item))
        rows.append(Row(number, item))
    return Table(name, tuple(header), rows)


def _xlsx(path: Path, name: str, mapping: Mapping) -> Table:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as exc:
        raise NudgeError(f"{name}: not an XLSX workbook ({exc})") from None
    try:
        sheet = book[mapping.sheet] if mapping.sheet else book.worksheets[0]
    except KeyError:
        raise NudgeError(
            f"{name}: no worksheet '{mapping.sheet}' (it has {', '.join(book.sheetnames)})"
        ) from None
    lines = sheet.iter_rows(values_only=True)
    header = tuple(str(c).strip() if c is not None else "" for c in next(lines, ()))
    rows = [
        Row(number, dict(zip(header, cells, strict=False)))
        for number, cells in enumerate(lines, 2)
        if any(c not in (None, "") for c in cells)
    ]
    book.close()
    return Table(name, header, rows)


# -- values --------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def amount(value: Any, mapping: Mapping) -> Decimal:
    if isinstance(value, bool):
        raise BadValue(f"{value!r} is not an amount")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = "".join(cell_text(value).split()).replace("\u00a0", "")
    if mapping.thousands:
        text = text.replace(mapping.thousands.strip() or " ", "")
    if mapping.decimal == ",":
        if "." in text and not mapping.thousands:
            raise BadValue(f"'{value}' has a '.' but the mapping says decimals are ','")
        text = text.replace(",", ".")
    elif "," in text:
        raise BadValue(
            f"'{value}' has a ',': for decimal commas set `decimal: \",\"` in the mapping, "
            'for thousands separators `thousands: ","`'
        )
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        raise BadValue(f"'{value}' is not an amount") from None
    if not parsed.is_finite():
        raise BadValue(f"'{value}' is not an amount")
    return parsed


def day(value: Any, mapping: Mapping) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    form = mapping.date_format
    try:
        if form:
            return datetime.strptime(text, form).date()
        return date.fromisoformat(text)
    except ValueError:
        wanted = form or "%Y-%m-%d"
        raise BadValue(
            f"'{text}' is not a date as the mapping reads them ({wanted}): set `date_format:`"
        ) from None


def columns_missing(table: Table, mapping: Mapping) -> Iterator[str]:
    for key, column in mapping.columns.items():
        if column not in table.header and key not in mapping.optional:
            yield f"{key} (column '{column}')"
