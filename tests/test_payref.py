"""Every invoice gets one valid ISO 11649 reference, distinct for distinct invoice numbers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from stdnum import iso11649

from runner.payref import creditor_reference, printed


def test_a_plain_invoice_number_is_the_body_of_its_reference() -> None:
    ref = creditor_reference("INV-1042")
    assert ref.endswith("INV1042") and ref.startswith("RF")
    assert iso11649.is_valid(ref)
    assert creditor_reference("FV/2026/11/201").endswith("FV202611201")
    assert printed(ref).replace(" ", "") == ref


def test_the_standards_own_example_checks() -> None:
    # ISO 11649's example reference: body 539007547034, check digits 18
    from stdnum.iso7064 import mod_97_10

    assert mod_97_10.calc_check_digits("539007547034RF") == "18"


@given(st.text(min_size=1, max_size=60))
def test_any_invoice_number_gets_a_valid_reference(invoice_id: str) -> None:
    ref = creditor_reference(invoice_id)
    assert iso11649.is_valid(ref) and len(ref) <= 25


def test_long_or_symbol_only_numbers_still_differ() -> None:
    long_a, long_b = "A" * 30 + "1", "A" * 30 + "2"
    assert creditor_reference(long_a) != creditor_reference(long_b)
    assert creditor_reference("№/—") != creditor_reference("§/§")
