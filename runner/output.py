"""Printing problems for people (text), for GitHub (workflow commands) and for programs (json)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from runner.errors import Problem


def counted(number: int, noun: str, plural: str = "") -> str:
    """'1 error', '3 errors'; '1 policy', '2 policies' (given the plural)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem) -> str:
    return (
        f"::{problem.severity} file={_escape_property(problem.path)},line={problem.line},"
        f"col={problem.col}::{_escape_data(problem.message)}"
    )


def problems(items: Sequence[Problem], form: str) -> str:
    if form == "json":
        return json.dumps(
            {
                "valid": not any(p.severity == "error" for p in items),
                "problems": [
                    {
                        "file": p.path,
                        "line": p.line,
                        "col": p.col,
                        "severity": p.severity,
                        "message": p.message,
                    }
                    for p in items
                ],
            },
            indent=2,
            ensure_ascii=False,
        )
    if form == "github":
        return "\n".join(github_annotation(p) for p in items)
    return "\n".join(str(p) for p in items)
