"""The fast reader gives libyaml's value for every text it accepts, and declines the rest.

A wrong answer here would be wrong data (an amount, a date, a stop flag read differently), so the
two readers are compared on every YAML file in the repository and the broken-file corpus, and on
generated documents full of the scalars YAML types in surprising ways.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runner import quickyaml, yamlload

from conftest import FIXTURE, ROOT


def typed(value: Any) -> Any:
    """Equality that sees types: True == 1 == Decimal('1.0') in Python, not in a ledger."""
    if isinstance(value, dict):
        return ("map", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("seq", [typed(v) for v in value])
    return (type(value).__name__, repr(value))


def libyaml(text: str) -> Any:
    try:
        return typed(yamlload.parse_with_libyaml(text))
    except yamlload.YamlProblem:
        return "error"


def agrees(text: str) -> bool:
    """Whether the fast reader accepted `text` (and then it must agree with libyaml)."""
    quick = quickyaml.load(text)
    if quick is None:
        return False
    assert typed(quick) == libyaml(text), text
    return True


REPOSITORY_YAML = sorted(
    [*(ROOT / "tests").rglob("*.yaml"), *(ROOT / "runner").rglob("*.yaml")]
) + sorted((ROOT / ".github").rglob("*.yml"))


def test_every_yaml_file_in_the_repository_reads_the_same() -> None:
    accepted = 0
    for path in REPOSITORY_YAML:
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue
        accepted += agrees(text)
    invoices = sorted((FIXTURE / "invoices").rglob("INV-*.yaml"))
    assert invoices and all(quickyaml.load(p.read_text("utf-8")) for p in invoices), (
        "every sample invoice is plain YAML: the fast reader should take all of them"
    )
    assert accepted > len(REPOSITORY_YAML) // 2


SURPRISING = [
    "yes", "No", "ON", "off", "y", "n", "true", "False", "null", "Null", "~", "",
    "0", "-0", "+7", "007", "012", "0x1F", "0o17", "0b101", "1_000", "1:30", "190:20:30",
    "1.5", "-1.50", "1.", ".5", "1e3", "1.0e+3", ".inf", "-.Inf", ".nan", "3.14_15",
    "2026-11-23", "2026-02-30", "2026-11-23 10:00", "2026-11-23T10:00:00Z", "20261123",
    "a: b", "a:b", "a #b", "a#b", "#a", "- a", "-a", "-", "-1", "? a", ":a", ",a", "a,b",
    "[a]", "{a}", "a]", "a}", "&a b", "*a", "!x y", "|", ">", "%x", "@x", "`x", "'a", '"a',
    "a'b", 'a"b', "it's", "<<", "=", "a  b", "é", "Ciarán O'Brien", "نگین", "客户", "$x",
    "a\\b", "\\n", "http://x.example/a?b=c#d", "x@y.example", "+45 20 12 34 56",
]  # fmt: skip

scalars = st.one_of(
    st.text(alphabet="abxyzé客 .-:#'0123456789", min_size=1, max_size=10),  # mostly tame
    st.text(alphabet="abxyzé客 .-:#'0123456789", min_size=1, max_size=10),
    st.sampled_from(SURPRISING),
    st.text(alphabet=" #:-,[]{}'\"\\!&*|>?%@`.0123456789abcxyzéش\t~_$", max_size=8),
)
good_keys = st.sampled_from(
    ["id", "due", "amount", "customer", "payments", "$schema", "a.b", "x-y"]
)
keys = st.one_of(
    good_keys,
    good_keys,
    good_keys,
    good_keys,
    st.sampled_from(["yes", "on", "null", "0", "Y", "<<"]),
    st.text(alphabet="abcyn_-$.:# 1'\"", min_size=1, max_size=5),
)


def written(value: str, style: str) -> str:
    if style == "double":
        return '"' + value + '"'
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    return value


@st.composite
def scalar_text(draw: st.DrawFn) -> str:
    value = draw(scalars)
    style = draw(st.sampled_from(["plain", "plain", "double", "single"]))
    comment = draw(st.sampled_from(["", "", " # note", "  #x", "#x", " "]))
    return written(value, style) + comment


@st.composite
def flow(draw: st.DrawFn) -> str:
    items = draw(st.lists(scalar_text(), max_size=3))
    if draw(st.booleans()):
        names = draw(st.lists(keys, max_size=len(items), min_size=len(items)))
        body = ", ".join(f"{k}: {v}" for k, v in zip(names, items, strict=True))
        return "{" + body + "}" + draw(st.sampled_from(["", " # c", "x", " ,"]))
    return "[" + ", ".join(items) + "]" + draw(st.sampled_from(["", " # c", "]"]))


@st.composite
def block(draw: st.DrawFn, indent: int, depth: int, tame: bool) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    if depth < 2 and draw(st.integers(0, 4)) == 0:  # a sequence
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["scalar", "flow", "mapping"]))
            if kind == "mapping":
                sub = draw(block(indent + 2, depth + 1, tame))
                lines.append(pad + "- " + sub[0].lstrip(" "))
                lines += sub[1:]
            else:
                lines.append(pad + "- " + draw(scalar_text() if kind == "scalar" else flow()))
        return lines
    names = (
        draw(st.lists(good_keys, min_size=1, max_size=4, unique=True))
        if tame
        else draw(st.lists(keys, min_size=1, max_size=4))
    )
    for key in names:
        kind = draw(st.sampled_from(["scalar", "scalar", "flow", "nested", "empty", "comment"]))
        if kind == "nested" and depth < 2:
            lines.append(f"{pad}{key}:")
            deeper = draw(st.sampled_from([2, 4] if tame else [2, 4, 0, 1]))
            lines += draw(block(indent + deeper, depth + 1, tame))
        elif kind == "flow":
            lines.append(f"{pad}{key}: {draw(flow())}")
        elif kind == "empty":
            lines.append(f"{pad}{key}:")
        elif kind == "comment":
            lines.append(f"{pad}# {draw(scalars)}")
        else:
            lines.append(f"{pad}{key}: {draw(scalar_text())}")
    return lines


@st.composite
def documents(draw: st.DrawFn, tame: bool = False) -> str:
    """YAML text: with `tame`, well-formed with unique keys; otherwise anything near it."""
    lines = draw(block(0, 0, tame))
    if lines[0].startswith("-"):
        lines = ["top:", *lines]
    for _ in range(0 if tame else draw(st.sampled_from([0, 1, 2]))):  # disturb lines
        at = draw(st.integers(0, len(lines) - 1))
        change = draw(st.sampled_from(["indent", "dedent", "tab", "crlf", "blank", "---", "cont"]))
        if change == "indent":
            lines[at] = " " + lines[at]
        elif change == "dedent" and lines[at].startswith(" "):
            lines[at] = lines[at][1:]
        elif change == "tab":
            lines[at] = "\t" + lines[at]
        elif change == "crlf":
            lines[at] += "\r"
        elif change == "blank":
            lines.insert(at, "   ")
        elif change == "---":
            lines.insert(at, "---")
        else:
            lines.insert(at + 1, "   continued")
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n# end\n"]))


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
@example("a: 1\nb: yes\n")
@example("due: 2026-11-23 # a date\namount: 12.50\n")
def test_generated_documents_read_the_same_or_go_to_libyaml(text: str) -> None:
    agrees(text)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(tame=True))
def test_generated_plain_documents_read_the_same_or_go_to_libyaml(text: str) -> None:
    agrees(text)


def test_the_fast_reader_takes_the_common_shapes() -> None:
    """Not a tautology: the generated test only proves agreement for what is accepted."""
    text = (
        "# yaml-language-server: $schema=x\n"
        "---\n"
        "id: INV-1\n"
        'description: "Consulting, October: phase 2"\n'
        "note: it's done # see ticket\n"
        "amount: '1 250.00'\n"
        "rate: 1.50\n"
        "count: 3\n"
        "stop: no\n"
        "due: 2026-11-23\n"
        "empty:\n"
        "tags: [a, b]\n"
        "payments:\n"
        '  - {date: 2026-01-06, amount: "3.51", ref: Ciarán O\'Brien}\n'
        "  - date: 2026-01-07\n"
        '    amount: "1"\n'
        "contacts:\n"
        "- x\n"
        "- -5\n"
    )
    data = quickyaml.load(text)
    assert data == {
        "id": "INV-1",
        "description": "Consulting, October: phase 2",
        "note": "it's done",
        "amount": "1 250.00",
        "rate": Decimal("1.50"),
        "count": 3,
        "stop": False,
        "due": "2026-11-23",
        "empty": None,
        "tags": ["a", "b"],
        "payments": [
            {"date": "2026-01-06", "amount": "3.51", "ref": "Ciarán O'Brien"},
            {"date": "2026-01-07", "amount": "1"},
        ],
        "contacts": ["x", -5],
    }
    assert typed(data) == libyaml(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: |\n  text\n",
        "a: b: c\n",
        "a: 1\na: 2\n",
        "a: 1\n  b: 2\n",
        "a:\n  - 1\n - 2\n",
        "a: [1, [2]]\n",
        "a: {b: 1\n",
        "a: 0x1F\n",
        "yes: 1\n",
        "a: 1\r\nb: 2\r\n",
        "\ufeffa: 1\n",
        'a: "x\\ty"\n',
        "- 1\n",
    ],
)
def test_what_the_fast_reader_leaves_to_libyaml(text: str) -> None:
    assert quickyaml.load(text) is None
