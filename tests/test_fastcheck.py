"""The compiled schema check agrees with jsonschema on every document, valid or not."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner import schema, yamlload

from conftest import FIXTURE

SAMPLES = {
    "settings": [FIXTURE / "settings.yaml"],
    "customer": sorted((FIXTURE / "customers").glob("*.yaml")),
    "invoice": [p for p in sorted((FIXTURE / "invoices").rglob("INV-*.yaml"))],
    "policy": sorted((FIXTURE / "policies").glob("*.yaml")),
}

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 200)
    | st.sampled_from([3650, 3651, -3651, 10**12, 10**400])
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "2026-02-30",
            "2026-11-23",
            "9999-12-31",
            "1899-12-31",
            "2200-12-31",
            "Jens\nHolm",
            "Jens Holm\n",
            "999999999999.99",
            "1000000000000",
            "0.123456789",
            "INV/2026/1",
            "FV/2026//1",
            "EUR",
            "EURO",
            "email",
            "sms",
            "mon",
            "x@y.z",
            "+4520123456",
            "12.50",
            "Europe/Copenhagen",
            "da",
            "DK",
            "billing",
        ]
    )
    | st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10, max_value=10**6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "due", "amount", "at", "send", "x", "date", "role", "name"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=6,
)


def paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*here, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> Any:
    path = draw(st.sampled_from(SAMPLES[kind]))
    data = copy.deepcopy(yamlload.parse(Path(path).read_text(encoding="utf-8")))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data)))
        if not where:
            continue
        parent = data
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(values)
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["dew", "extra", "id", "cc"]))] = draw(values)
        else:
            parent.append(draw(values))
    return data


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_valid_samples_pass_both(kind: str) -> None:
    for path in SAMPLES[kind]:
        data = yamlload.parse(Path(path).read_text(encoding="utf-8"))
        assert schema.fast_check(kind)(data) is True
        assert schema._validator(kind).is_valid(data)


@pytest.mark.parametrize("kind", list(SAMPLES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fast_check_agrees_with_jsonschema(kind: str, data: st.DataObject) -> None:
    document = data.draw(mutated(kind))
    assert schema.fast_check(kind)(document) == schema._validator(kind).is_valid(document)


def test_decimals_are_numbers_for_both() -> None:
    document = {
        "id": "X",
        "customer": "c",
        "issued": "2026-01-01",
        "due": "2026-01-31",
        "amount": Decimal("12.50"),
    }
    assert schema.fast_check("invoice")(document) and schema._validator("invoice").is_valid(
        document
    )


address_parts = st.text(alphabet="aZ09.-_+é", min_size=1, max_size=12)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.builds(lambda a, b, c: f"{a}@{b}.{c}", address_parts, address_parts, address_parts),
        st.builds(
            lambda a, b, c: f"{a}@{b}.{c}",
            address_parts,
            address_parts,
            st.sampled_from(["test", "local", "LOCALHOST", "arpa", "example", "dk", "1a", "co"]),
        ),
        st.text(alphabet="ab.@-_+1", max_size=20),
        st.builds(lambda n: "a" * n + "@b.example", st.integers(60, 70)),
        st.builds(lambda n: "a@" + "b" * n + ".example", st.integers(60, 70)),
    )
)
def test_the_plain_address_shortcut_never_accepts_what_email_validator_refuses(
    address: str,
) -> None:
    from email_validator import EmailNotValidError, validate_email

    if schema._plain_email(address):
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            pytest.fail(f"{address!r} taken as plain, but email_validator says: {exc}")


def test_the_sample_addresses_take_the_shortcut() -> None:
    """Not vacuous: the common addresses are the ones the shortcut answers."""
    for address in ["ap@acme.example", "Jordan.Billing+ar@c00001-foods.example", "a_b@x.co.uk"]:
        assert schema._plain_email(address), address
    for address in ["a@b.test", "a..b@x.example", "a@x--y.example", "ø@x.dk", "a@b", "a@b.1a"]:
        assert not schema._plain_email(address), address
