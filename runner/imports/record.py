"""The record of applied imports, `imports/applied.jsonl`: one line per imported file with its
sha256 and what it changed. Importing a file whose hash is there changes nothing; `history`
reads it to say where a payment came from."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

RECORD = "imports/applied.jsonl"
UNMATCHED = "imports/unmatched"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entries(root: Path) -> list[dict[str, Any]]:
    path = root / RECORD
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue  # a hand-mangled line is ignored, as the send log does
        if isinstance(item, dict):
            found.append(item)
    return found


def applied(root: Path, sha256: str) -> dict[str, Any] | None:
    return next((e for e in entries(root) if e.get("sha256") == sha256), None)


def appended(root: Path, entry: dict[str, Any]) -> str:
    """The record's text with `entry` as a new last line."""
    path = root / RECORD
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    if before and not before.endswith("\n"):
        before += "\n"
    return before + json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
