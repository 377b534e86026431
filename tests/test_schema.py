"""Shortcuts in the schema's formats give the long way's answer.

An amount in the common shape ("1250.00") is accepted without being worked out as a Decimal
(schema.money_problem); every other text goes the long way. Both must agree on everything."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from runner import schema

NUMBERISH = st.from_regex(r"\A[ +-]?[0-9]{0,15}(\.[0-9]{0,10})?([eE][+-]?[0-9]{1,3})?[ \n]?\Z")


@given(st.one_of(NUMBERISH, st.text(alphabet="0123456789.-+eE _,\n", max_size=24), st.text()))
@example("999999999999.99999999")  # the largest accepted the short way
@example("1000000000000")  # one digit too many
@example("0.000000001")  # one decimal too many
@example("-0")
@example("000000000000.5")
@example("5\n")
@example(" 5")
@example("")
@example("-")
@example(".5")
@example("5.")
def test_an_amount_accepted_the_short_way_is_one_the_long_way_accepts(text: str) -> None:
    assert schema.money_problem(text) == schema._money_problem(text), text


def test_the_short_way_takes_the_common_shapes() -> None:
    for text in ("1250.00", "-40", "0.5", "3832.51", "999999999999.12345678"):
        assert schema._PLAIN_MONEY.fullmatch(text), text
        assert schema.money_problem(text) is None
