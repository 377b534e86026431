"""Late-payment law as data (runner/data/late_payment.yaml): which law an invoice falls under,
its statutory interest rate and fixed compensation. Pure.

Whose law: the contract's (`law:` in the customer file, or `none`), else the company's own
country's for a customer in the EU/EEA (Directive 2011/7/EU); a customer elsewhere is charged no
statutory interest or compensation unless its file names a law.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from runner.model import Customer, Settings

# The EU member states and the other EEA states (Iceland, Liechtenstein, Norway).
EU_EEA = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
        *("IS", "LI", "NO"),
    }
)


@dataclass(frozen=True)
class Tier:
    below: Decimal | None  # exclusive upper bound of the invoice amount, None: any amount
    amount: Decimal


@dataclass(frozen=True)
class Law:
    country: str
    statute: str  # its name in the country's language
    statute_en: str  # as an English sentence names it ("the Danish Interest Act ...")
    reference: str  # what the reference rate is
    points: Decimal  # added to the reference rate, a year
    currency: str  # of the compensation amounts
    threshold_currency: str  # of the tiers' bounds
    tiers: tuple[Tier, ...]


@cache
def laws() -> dict[str, Law]:
    import yaml

    text = resources.files("runner.data").joinpath("late_payment.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return {
        country: Law(
            country,
            entry["statute"],
            entry["statute_en"],
            entry["reference"],
            Decimal(entry["points"]),
            entry["currency"],
            entry["threshold_currency"],
            tuple(
                Tier(Decimal(t["below"]) if "below" in t else None, Decimal(t["amount"]))
                for t in entry["compensation"]
            ),
        )
        for country, entry in data.items()
    }


def law_of(customer: Customer | None, settings: Settings) -> str | None:
    """The country whose late-payment law governs the customer's invoices, or None."""
    if customer is not None and customer.law:
        return None if customer.law == "none" else customer.law
    home = settings.company.country
    where = (customer.country if customer else None) or home
    if home is None or where not in EU_EEA or home not in laws():
        return None
    return home


def reference_rate(law: str, settings: Settings) -> Decimal | None:
    """The current reference rate of a law, from settings.yaml (the company's own, or others')."""
    others = dict(settings.reference_rates)
    if law in others:
        return others[law]
    return settings.reference_rate if law == settings.company.country else None


def yearly_rate(law: str, settings: Settings) -> Decimal | None:
    """Statutory interest in percent a year: the reference rate plus the law's points."""
    known = laws().get(law)
    rate = reference_rate(law, settings)
    if known is None or rate is None:
        return None
    return rate + known.points


def convert(amount: Decimal, source: str, target: str, settings: Settings) -> Decimal | None:
    """`amount` in `source` stated in `target`, through the euro rates of settings.yaml."""
    if source == target:
        return amount
    per_euro = {"EUR": Decimal(1), **dict(settings.exchange_rates)}
    if source not in per_euro or target not in per_euro:
        return None
    return amount / per_euro[source] * per_euro[target]


def compensation(law: str, amount: Decimal, currency: str, settings: Settings) -> Decimal | None:
    """The fixed compensation for one late invoice of `amount` in `currency`, in that currency
    (not rounded); None when the law is unknown or a rate to state it is missing."""
    known = laws().get(law)
    if known is None:
        return None
    size = convert(amount, currency, known.threshold_currency, settings)
    if size is None:
        return None
    tier = next(t for t in known.tiers if t.below is None or size < t.below)
    return convert(tier.amount, known.currency, currency, settings)
