"""Polish grammar the shipped locale file gets right: the three plural forms of a count, the
salutation and the account manager's title by gender, the verb agreeing with the people in copy.
(The scenario corpus shows them in context; here each form is pinned on its own.)"""

from __future__ import annotations

import pytest
from jinja2 import ChoiceLoader, DictLoader, FileSystemLoader

from runner.model import Contact
from runner.templates import Renderer

from conftest import STARTER

PROBE = """{% import "_locale/pl.j2" as t with context %}
{% for n in counts %}{{ n }}: {{ t.invoices_count(n) }}, {{ t.days(n) }}
{% endfor %}
{{ t.greeting(person) }}
{{ t.greeting(person, letter=True) }}
{{ t.copy_sentence(copied) }}
{{ t.task_for() }}
"""

FINANCE = Contact("Paweł Wiśniewski", "finance", "p@example.com", gender="male")
KATARZYNA = Contact("Katarzyna Wójcik", "owner", "k@example.com", gender="female")
PIOTR = Contact("Piotr Zieliński", "owner", "p.z@example.com", gender="male")
SOMEONE = Contact("Dział Księgowości", "billing", "ksiegowosc@example.com")


def probe(person: Contact, copied: list[Contact], owner: Contact | None) -> str:
    loader = ChoiceLoader(
        [DictLoader({"probe/pl.task.j2": PROBE}), FileSystemLoader(str(STARTER / "templates"))]
    )
    context = {
        "locale": "pl",
        "counts": [1, 2, 4, 5, 12, 14, 21, 22, 25, 112, 122],
        "person": person,
        "copied": copied,
        "owner": owner,
    }
    return Renderer(loader).render("probe/pl.task.j2", "task", context).text


def test_counts_take_the_three_plural_forms() -> None:
    text = probe(SOMEONE, [], None)
    expected = {
        1: "1 faktura, 1 dzień",
        2: "2 faktury, 2 dni",
        4: "4 faktury, 4 dni",
        5: "5 faktur, 5 dni",
        12: "12 faktur, 12 dni",
        14: "14 faktur, 14 dni",
        21: "21 faktur, 21 dni",
        22: "22 faktury, 22 dni",
        25: "25 faktur, 25 dni",
        112: "112 faktur, 112 dni",
        122: "122 faktury, 122 dni",
    }
    for n, words in expected.items():
        assert f"{n}: {words}\n" in text


@pytest.mark.parametrize(
    ("person", "salutation"),
    [
        (KATARZYNA, "Szanowna Pani,"),
        (FINANCE, "Szanowny Panie,"),
        (SOMEONE, "Szanowni Państwo,"),
    ],
)
def test_the_salutation_takes_the_contacts_gender(person: Contact, salutation: str) -> None:
    lines = probe(person, [], None).splitlines()
    assert salutation in lines
    assert "Szanowni Państwo," in lines  # a letter goes to the company, whoever reads it


def test_the_account_manager_is_opiekunka_or_opiekun_and_the_verb_agrees() -> None:
    both = probe(SOMEONE, [FINANCE, KATARZYNA], KATARZYNA)
    assert (
        "Kopię tej wiadomości otrzymują również Paweł Wiśniewski (dział finansowy) "
        "i Katarzyna Wójcik (Państwa opiekunka w naszej firmie)." in both
    )
    assert "Zadanie dla: Katarzyna Wójcik, opiekunka klienta" in both
    one = probe(SOMEONE, [PIOTR], PIOTR)
    assert (
        "Kopię tej wiadomości otrzymuje również Piotr Zieliński (Państwa opiekun w naszej firmie)."
        in one
    )
    assert "Zadanie dla: Piotr Zieliński, opiekun klienta" in one
    assert "opiekunka" not in one
