"""The file formats, documented from the schemas: the pages are current, every field is
described (editors show the same sentences as people type), and every example is a valid file."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import schema, schemadocs, yamlload

from conftest import ROOT, nudge

DOCS = ROOT / "docs" / "formats"


def test_the_format_pages_are_what_the_schemas_generate(tmp_path: Path) -> None:
    done = nudge("schema", "--docs", str(tmp_path / "formats"))
    assert done.code == 0, done.err
    generated = {p.name: p.read_text("utf-8") for p in (tmp_path / "formats").iterdir()}
    committed = {p.name: p.read_text("utf-8") for p in DOCS.iterdir()}
    stale = sorted(
        n for n in generated.keys() | committed.keys() if generated.get(n) != committed.get(n)
    )
    assert not stale, (
        f"docs/formats/ is out of date ({', '.join(stale)}): run `{schemadocs.REGENERATE}`"
    )


@pytest.mark.parametrize("kind", schema.KINDS)
def test_every_field_says_what_it_is(kind: str) -> None:
    bare = [f.path for f in schemadocs.fields(schema.schema(kind)) if not f.description]
    assert not bare, f"{kind}: fields without a description (editors show nothing): {bare}"


@pytest.mark.parametrize("kind", schema.KINDS)
def test_every_pattern_says_its_rule_in_words(kind: str) -> None:
    def patterns(node: object, where: str) -> list[str]:
        if isinstance(node, dict):
            found = [where] if "pattern" in node and "patternErrorMessage" not in node else []
            return found + [f for k, v in node.items() for f in patterns(v, f"{where}/{k}")]
        if isinstance(node, list):
            return [f for i, v in enumerate(node) for f in patterns(v, f"{where}/{i}")]
        return []

    assert patterns(schema.schema(kind), kind) == []


@pytest.mark.parametrize("kind", schema.KINDS)
def test_the_example_on_each_page_is_a_valid_file(kind: str) -> None:
    examples = schema.schema(kind).get("examples", [])
    assert examples, f"{kind}: the schema has no example for its page"
    text = schemadocs.example_yaml(examples[0])
    assert f"```yaml\n{text}```" in (DOCS / f"{kind}.md").read_text("utf-8")
    data = yamlload.parse(text)  # as Nudge reads a file: dates stay text, amounts quoted
    assert list(schema.check(kind, data)) == []


def test_fields_are_listed_with_their_kind_and_whether_required() -> None:
    customer = {f.path: f for f in schemadocs.fields(schema.schema("customer"))}
    assert customer["id"].required == "yes" and customer["locale"].required == ""
    assert customer["contacts"].kind == "list of mappings (fields below), at least one"
    assert customer["contacts[].phone"].kind == "phone number (international form)"
    assert customer["paused_until"].kind == "date (YYYY-MM-DD) or empty"
    invoice = {f.path: f for f in schemadocs.fields(schema.schema("invoice"))}
    assert {"id", "customer", "issued", "due", "amount"} == {
        p for p, f in invoice.items() if f.required == "yes" and "." not in p
    }
    assert invoice["payments[].amount"].kind == 'amount (text, e.g. "1250.00")'


def test_schema_without_a_kind_or_docs_is_one_sentence() -> None:
    done = nudge("schema")
    assert done.code == 1
    assert "give one of: settings, customer, invoice" in done.err
    assert "Traceback" not in done.err


def test_angle_brackets_show_on_the_page_outside_code() -> None:
    schema_ = {
        "title": "T",
        "description": "files <id>.yaml",
        "properties": {"a": {"type": "string", "description": "x | y in `a<b>`"}},
    }
    text = schemadocs.page("t", schema_)
    assert "files &lt;id&gt;.yaml" in text
    assert "| `a` | text |  | x \\| y in `a<b>` |" in text
