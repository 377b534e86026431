"""`validate` measures every SMS a customer would get against settings `sms.max_segments`: a
template that renders longer is named once, with its longest text's length, alphabet and
segments (GSM 03.38 / 3GPP TS 23.040: 160 GSM-7 septets or 70 UCS-2 units in one segment, 153
or 67 a segment when concatenated)."""

from __future__ import annotations

import math
import re
from pathlib import Path

from conftest import copy_sample, nudge

LINE = re.compile(
    r"^templates/(?P<template>\S+\.sms\.j2):1:1: SMS is (?P<units>\d+) (?P<encoding>GSM-7|UCS-2) "
    r"characters = (?P<segments>\d+) segments, more than settings sms.max_segments "
    r"\((?P<limit>\d+)\): shorten it$",
    re.M,
)


def segments(units: int, encoding: str) -> int:
    single, part = (160, 153) if encoding == "GSM-7" else (70, 67)
    return 1 if units <= single else math.ceil(units / part)


def with_limit(root: Path, limit: int) -> Path:
    settings = root / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    assert "max_segments: 3" in text
    settings.write_text(text.replace("max_segments: 3", f"max_segments: {limit}"), "utf-8")
    return root


def test_an_sms_longer_than_the_limit_is_named_with_its_length(tmp_path: Path) -> None:
    root = with_limit(copy_sample(tmp_path / "repo"), 1)
    done = nudge("validate", "--root", str(root), env={"NUDGE_CACHE_DIR": "off"})
    found = list(LINE.finditer(done.out))
    assert done.code == 1 and found, done.out
    named = {m["template"] for m in found}
    assert len(named) == len(found), "one line per template (its longest text), not one per length"
    # every language a customer of the sample is written to in the last stage's text
    assert {t.split("/")[0] for t in named} == {"gentle-tier-3"}
    assert {t.split("/")[1].split(".")[0] for t in named} >= {"da", "en", "fa", "pl", "zh"}
    for m in found:
        units, encoding = int(m["units"]), m["encoding"]
        assert int(m["limit"]) == 1
        assert int(m["segments"]) == segments(units, encoding) > 1
        # Persian, Polish and Chinese texts need UCS-2; Danish and English fit GSM-7
        language = m["template"].split("/")[1].split(".")[0]
        assert encoding == ("UCS-2" if language in ("fa", "pl", "zh") else "GSM-7"), m[0]


def test_the_sample_fits_its_own_limit(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "repo")
    done = nudge("validate", "--root", str(root), env={"NUDGE_CACHE_DIR": "off"})
    assert done.code == 0, done.out
    assert "SMS is" not in done.out


def test_the_longest_sms_is_found_among_customers_alike(tmp_path: Path) -> None:
    """Customers whose data differ only in their texts' lengths render alike; validate tries only
    those no other outdoes. A longer name in GSM-7 does not outdo a shorter one with a letter out
    of GSM-7 (the whole SMS is then UCS-2, 67 units a segment): that one is the longest here."""
    root = with_limit(copy_sample(tmp_path / "repo"), 1)
    (root / "templates/gentle-tier-3/en.sms.j2").write_text(
        "{{ customer.name }} / {{ invoices[0].id }}: please pay.", encoding="utf-8"
    )
    customer = (root / "customers/thames-analytics.yaml").read_text(encoding="utf-8")
    invoice = (root / "invoices/2026/INV-1023.yaml").read_text(encoding="utf-8")
    names = {
        "long": "Thames " + "Analytics " * 10 + "Ltd",  # 110 characters, GSM-7: one segment
        "wide": "Łódź " + "Analytics " * 5 + "Sp. z o.o.",  # 65, with Ł and ó: UCS-2
        "short": "Tham Ltd",
    }
    for n, (key, name) in enumerate(names.items()):
        (root / f"customers/thames-{key}.yaml").write_text(
            customer.replace("id: thames-analytics", f"id: thames-{key}").replace(
                "name: Thames Analytics Ltd", f'name: "{name}"'
            ),
            encoding="utf-8",
        )
        (root / f"invoices/2026/INV-902{n}.yaml").write_text(
            invoice.replace("id: INV-1023", f"id: INV-902{n}").replace(
                "customer: thames-analytics", f"customer: thames-{key}"
            ),
            encoding="utf-8",
        )
    done = nudge("validate", "--root", str(root), env={"NUDGE_CACHE_DIR": "off"})
    found = {m["template"]: m for m in LINE.finditer(done.out)}
    assert "gentle-tier-3/en.sms.j2" in found, done.out
    m = found["gentle-tier-3/en.sms.j2"]
    text = f"{names['wide']} / INV-9021: please pay."
    assert (int(m["units"]), m["encoding"], int(m["segments"])) == (len(text), "UCS-2", 2), m[0]
