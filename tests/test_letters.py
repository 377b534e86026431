"""Letters on paper, asserted from the PDF WeasyPrint makes of them: where the address prints
(inside the window of the envelope the letter goes in), how many pages, what text, which glyphs;
and a run on a machine without Pango, which writes the letters as HTML and says so once.

The windows are the standards' figures, not the layout's (runner/starter/templates/_layout/
letter.j2 explains both), measured in mm from the sheet's top and left edges.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
from fontTools.ttLib import TTFont
from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1
from scenarios import PERSONA, Scenario, invoice, render, scenario_repo

from runner import context, localefmt, payref, pdf, repository
from runner.compose import Outgoing
from runner.model import Repository

from conftest import STARTER, copy_sample, git_repo, nudge

MM_PER_PT = 25.4 / 72
FORMAT = "\u2068\u2069\u200e\u200f"  # bidi isolates and marks: no glyphs, nothing to read


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    def holds(self, line: Line) -> bool:
        slack = 0.05  # mm: rounding in the PDF's coordinates
        return (
            self.left - slack <= line.left
            and line.right <= self.right + slack
            and self.top - slack <= line.top
            and line.bottom <= self.bottom + slack
        )


# A4 folded at 105 mm in a DL (110 x 220 mm) or C6/5 (114 x 229 mm) envelope, window 90 x 45 mm
# 20 mm from the left and 15 mm from the bottom (DIN 680): the sheet slides 5 or 9 mm up and
# down, 10 mm sideways in a DL. What the window shows in every position of the sheet:
DIN_WINDOW = Box(20, 54, 100, 90)
DIN_ADDRESS_ZONE = 62.7  # DIN 5008 form B: the address from here down, the return address above
# US Letter in thirds in a #10 envelope (4 1/8 x 9 1/2 in), window 1 1/8 x 4 1/2 in, 7/8 in from
# the left and 1/2 in from the bottom: resting at the bottom, with 1 in of sideways play and the
# 1/8 in USPS wants clear around the address (DMM 601.6.3).
US_WINDOW = Box(25.4, 55.0, 108.0, 77.3)
A4 = (210.0, 297.0)
US_LETTER = (215.9, 279.4)


@dataclass(frozen=True)
class Line:
    text: str
    left: float
    top: float
    right: float
    bottom: float
    baseline: float
    bold: bool


@dataclass(frozen=True)
class Printed:
    html: str
    pdf: pdf.Pdf
    size: tuple[float, float]
    pages: list[list[Line]]  # the lines of each page, top to bottom

    @property
    def text(self) -> str:
        return "\n".join(line.text for page in self.pages for line in page)

    def window(self) -> list[Line]:
        """Everything printed where an envelope's window can be: left of the information
        block, below the letterhead, above the letter's heading."""
        heading = 96.0 if self.size == A4 else 85.0
        return [ln for ln in self.pages[0] if 44 < ln.top < heading and ln.left < 115]


def lines_of(page: Any) -> list[Line]:
    rows: dict[int, list[dict[str, Any]]] = {}
    for char in page.chars:  # by baseline: fonts of two scripts on one line differ in height
        rows.setdefault(round(_baseline(char) * 2), []).append(char)
    lines = []
    for _, chars in sorted(rows.items()):
        # a page's columns (the window and the information block) are apart: split at gaps
        chars.sort(key=lambda c: float(c["x0"]))
        run: list[dict[str, Any]] = []
        for char in chars:
            if run and (float(char["x0"]) - float(run[-1]["x1"])) * MM_PER_PT > 6:
                lines.append(_line(run))
                run = []
            run.append(char)
        lines.append(_line(run))
    return [line for line in lines if line.text.strip()]


def rows(lines: list[Line]) -> list[str]:
    """The text of lines that share a baseline (a label and its value, a header and its page
    number), left to right, one string each."""
    found: dict[float, list[Line]] = {}
    for line in lines:
        found.setdefault(round(line.baseline, 1), []).append(line)
    return [
        plain(" ".join(ln.text for ln in sorted(row, key=lambda ln: ln.left)))
        for _, row in sorted(found.items())
    ]


def _line(chars: list[dict[str, Any]]) -> Line:
    text = chars[0]["text"]
    for before, char in itertools.pairwise(chars):
        gap = (float(char["x0"]) - float(before["x1"])) * MM_PER_PT
        text += (" " if gap > 1 and not text.endswith(" ") else "") + char["text"]
    return Line(
        text,
        min(float(c["x0"]) for c in chars) * MM_PER_PT,
        min(float(c["top"]) for c in chars) * MM_PER_PT,
        max(float(c["x1"]) for c in chars) * MM_PER_PT,
        max(float(c["bottom"]) for c in chars) * MM_PER_PT,
        _baseline(chars[0]),
        all("Bold" in c["fontname"] for c in chars if c["text"].strip()),
    )


def _baseline(char: dict[str, Any]) -> float:
    """mm from the top of the page (the matrix's f is from the bottom, as is y1)."""
    return (float(char["top"]) + float(char["y1"]) - float(char["matrix"][5])) * MM_PER_PT


def printed(message: Outgoing) -> Printed:
    assert message.html
    made = pdf.render(message.html)
    assert not made.warnings, made.warnings  # every CSS rule of the layout is one WeasyPrint uses
    with pdfplumber.open(io.BytesIO(made.data)) as document:
        first = document.pages[0]
        size = (round(float(first.width) * MM_PER_PT, 1), round(float(first.height) * MM_PER_PT, 1))
        pages = [lines_of(page) for page in document.pages]
    assert len(pages) == made.pages
    return Printed(message.html, made, size, pages)


def same_characters(printed_line: str, expected: str) -> bool:
    """The characters of a line, in any order: right-to-left text is extracted in the order it
    is drawn (left to right), so only the multiset of characters can be compared."""

    def chars(text: str) -> Counter[str]:
        return Counter(c for c in unicodedata.normalize("NFC", text) if c not in FORMAT + " ")

    return chars(printed_line) == chars(expected)


def missing_glyphs(data: bytes) -> list[str]:
    """Text drawn with a glyph its font does not have (.notdef, or a glyph id beyond the font):
    what would print as an empty box. Also a font the PDF does not embed."""
    problems = []
    document = PDFDocument(PDFParser(io.BytesIO(data)))
    for font in _fonts(document):
        name = str(font.get("BaseFont"))
        descendant = resolve1(resolve1(font["DescendantFonts"])[0])
        descriptor = resolve1(descendant["FontDescriptor"])
        program = next((descriptor[k] for k in ("FontFile2", "FontFile3") if k in descriptor), None)
        if program is None:
            problems.append(f"{name}: not embedded")
            continue
        glyphs = TTFont(io.BytesIO(resolve1(program).get_data()), lazy=True)["maxp"].numGlyphs
        to_unicode = resolve1(font["ToUnicode"]).get_data().decode("latin-1")
        mapped = "".join(re.findall(r"(?s)beginbfchar(.*?)endbfchar", to_unicode))
        for gid, code in re.findall(r"<([0-9a-f]{4})>\s*<([0-9a-f]+)>", mapped):
            if int(gid, 16) == 0 or int(gid, 16) >= glyphs:
                text = bytes.fromhex(code).decode("utf-16-be")
                problems.append(f"{name}: no glyph for {text!r}")
    return problems


def _fonts(document: Any) -> Iterator[dict[str, Any]]:
    for xref in document.xrefs:
        for objid in xref.get_objids():
            try:
                obj = resolve1(document.getobj(objid))
            except Exception:
                continue
            if isinstance(obj, dict) and "DescendantFonts" in obj:
                yield obj


# -- the letters -------------------------------------------------------------------------------

PERSIAN_LABELS = {
    "date": "تاریخ",
    "our_reference": "شمارهٔ ما",
    "your_customer_number": "شمارهٔ مشتری",
    "invoice": "صورت‌حساب",
    "invoices": "صورت‌حساب‌ها",
    "reference": "شناسهٔ پرداخت",
    "page": "صفحه",
    "due": "سررسید",
    "amount": "مبلغ",
    "paid": "پرداخت‌شده",
    "balance": "مانده",
    "total": "جمع کل",
    "in_dispute": "مورد اختلاف (در جمع منظور نشده است)",
    "pay_online": "پرداخت آنلاین",
    "bank_transfer": "انتقال بانکی",
    "beneficiary": "صاحب حساب",
    "bank": "بانک",
    "account": "شمارهٔ حساب",
    "reg": "کد شعبه",
    "quote_reference": "لطفاً شناسهٔ پرداخت هر صورت‌حساب را در شرح واریز بنویسید:",
    "for_invoice": "صورت‌حساب",
}
# A Persian letter for the layout's right-to-left test (the shipped Persian letters come from
# their translators; test_every_shipped_letter covers them): its own words, the shared macros.
PERSIAN_LOCALE = (
    '{% import "_layout/macros.j2" as m with context %}{% set m = m %}\n'
    f"{{% set labels = {json.dumps(PERSIAN_LABELS, ensure_ascii=False)} %}}\n"
    '{% set letter_closing = "با احترام،" %}\n'
)
PERSIAN_LETTER = """{% extends "_layout/letter.j2" %}
{% import "_test/fa.j2" as t with context %}
{% block subject %}یادآوری پرداخت{% endblock %}
{% block content %}
{% call t.m.p() %}{{ contact.name }} گرامی،{% endcall %}
{% call t.m.p() %}بر اساس سوابق ما، صورت‌حساب زیر هنوز پرداخت نشده است.{% endcall %}
{{ t.m.statement(statement, totals, disputed, t.labels) }}
{{ t.m.payment(payment, invoices, t.labels, True) }}
{% endblock %}
"""

RTL_POLICY = """id: rtl-test
description: The Persian letter of the layout's right-to-left test.
steps:
  - {id: letter-30, at: 30, send: [letter], template: rtl-test-letter}
"""


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repository, Path]:
    root = copy_sample(tmp_path_factory.mktemp("letters") / "repo")
    (root / "templates" / "_test").mkdir()
    (root / "templates" / "_test" / "fa.j2").write_text(PERSIAN_LOCALE, encoding="utf-8")
    (root / "templates" / "rtl-test-letter").mkdir()
    (root / "templates" / "rtl-test-letter" / "fa.letter.j2").write_text(
        PERSIAN_LETTER, encoding="utf-8"
    )
    (root / "policies" / "rtl-test.yaml").write_text(RTL_POLICY, encoding="utf-8")
    return repository.load(root).repo, root


@dataclass(frozen=True)
class Sent:
    repo: Repository  # the test company as the letter saw it (the scenario's invoices)
    message: Outgoing

    @property
    def customer(self) -> Any:
        return self.repo.customers[self.message.delivery.customer]


def letter(
    company: tuple[Repository, Path],
    customer: str,
    overdue: tuple[int, ...] = (30,),
    policy: str = "letters-30-60-90",
    **changes: Any,
) -> Sent:
    """The letter `policy` sends `customer` on the scenarios' day about invoices this many days
    overdue (letters-30-60-90: 30 the reminder, 60 the penalty letter, 90 the lawyer's)."""

    def invoices(c: str, currency: str) -> list[Any]:
        return [
            invoice(4100 + n, c, currency, days, f"{1250 * (n + 1)}.00")
            for n, days in enumerate(overdue)
        ]

    scenario = Scenario(
        customer,
        customer,
        policy,
        invoices,
        customer=changes,
        persona=customer,
    )
    base, root = company
    found = [(d, m) for d, m in render(base, root, scenario, "en") if d.channel == "letter"]
    assert len(found) == 1
    return Sent(scenario_repo(base, scenario, "en")[0], found[0][1])


def zones(page: Printed) -> tuple[str, list[Line]]:
    """The return address (DIN 5008: above 62.7 mm, as one string) and the address lines."""
    lines = page.window()
    returned = " ".join(ln.text for ln in lines if ln.baseline < DIN_ADDRESS_ZONE)
    return " ".join(returned.split()), [ln for ln in lines if ln.baseline >= DIN_ADDRESS_ZONE]


def plain(text: str) -> str:
    """Text as extracted, spaces of every kind as one (Babel puts no-break spaces in amounts)."""
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def open_amounts(sent: Sent) -> list[str]:
    """Each listed invoice's open amount and the total, as the customer's locale writes them."""
    repo, delivery = sent.repo, sent.message.delivery
    views = [context.invoice_view(repo, repo.invoices[i], delivery.date) for i in delivery.invoices]
    total = sum((v.balance for v in views), Decimal(0))
    currency = views[0].currency
    return [
        localefmt.money(m, currency, delivery.locale) for m in (*(v.balance for v in views), total)
    ]


# -- where the address prints ------------------------------------------------------------------


def test_an_a4_letter_shows_the_address_in_a_din_5008_window(company) -> None:  # type: ignore[no-untyped-def]
    sent = letter(company, "hyggehus")
    page = printed(sent.message)
    settings = sent.repo.settings.company
    assert page.size == A4
    returned, address = zones(page)
    assert returned == " · ".join([settings.name, *settings.address])
    assert [ln.text for ln in address] == [sent.customer.name, *sent.customer.address]
    assert all(DIN_WINDOW.holds(ln) for ln in page.window()), page.window()
    assert len(page.pages) == 1


def test_a_us_letter_shows_the_address_in_a_number_10_window(company) -> None:  # type: ignore[no-untyped-def]
    sent = letter(company, "acme")
    page = printed(sent.message)
    assert page.size == US_LETTER
    # nothing but the address in a US window: the return address is the envelope's own
    assert [ln.text for ln in page.window()] == [sent.customer.name, *sent.customer.address]
    assert all(US_WINDOW.holds(ln) for ln in page.window()), page.window()
    assert len(page.pages) == 1


LONG = (
    "c/o Finance Department",
    "Building 3, 2nd floor",
    "Postboks 112",
    "Industrivej 7",
    "DK-8000 Aarhus C",
    "Danmark",
    "Attn. Accounts Payable",
    "Ref. PO 2026-118",
    "Gate B",
)


@pytest.mark.parametrize(
    ("customer", "lines"),
    [("hyggehus", 6), ("hyggehus", 9), ("acme", 5), ("acme", 7)],
    ids=["a4-6-lines", "a4-9-lines-smaller", "us-5-lines", "us-7-lines-smaller"],
)
def test_an_address_of_as_many_lines_as_the_window_holds_is_inside_it(  # type: ignore[no-untyped-def]
    company, customer: str, lines: int
) -> None:
    address = LONG[: lines - 1]
    sent = letter(company, customer, address=address)
    page = printed(sent.message)
    window = US_WINDOW if page.size == US_LETTER else DIN_WINDOW
    shown = page.window() if window is US_WINDOW else zones(page)[1]
    assert [ln.text for ln in shown] == [sent.customer.name, *address]
    assert all(window.holds(ln) for ln in page.window()), page.window()
    assert len(page.pages) == 1


@pytest.mark.parametrize(
    ("customer", "lines", "warned"),
    [
        ("liffey-software", 6, False),
        ("liffey-software", 7, True),
        ("liffey-software", 10, True),
        ("acme", 5, False),
        ("acme", 6, True),
    ],
)
def test_validate_warns_about_an_address_longer_than_the_window(  # type: ignore[no-untyped-def]
    sample: Path, customer: str, lines: int, warned: bool
) -> None:
    path = sample / "customers" / f"{customer}.yaml"
    text = path.read_text(encoding="utf-8")
    block = "".join(f"  - {line}\n" for line in LONG[: lines - 1])
    text = re.sub(r"(?m)^address:.*\n(?:  - .*\n)+", f"address:\n{block}", text)
    path.write_text(text, encoding="utf-8")
    found = [str(p) for p in repository.load(sample).problems if "envelope window" in p.message]
    assert bool(found) == warned, found
    if warned:
        (warning,) = found
        assert warning.startswith(f"customers/{customer}.yaml:")
        assert ": warning: " in warning
        assert f"the address has {lines} lines with the name" in warning
        assert ("hides the lines after" in warning) == (lines > 9)


# -- what the letter says, and on how many pages -----------------------------------------------


def test_a_letter_about_several_invoices_prints_every_reference_and_amount_on_one_page(  # type: ignore[no-untyped-def]
    company,
) -> None:
    sent = letter(company, "liffey-software", (30, 35))
    page = printed(sent.message)
    text = plain(page.text)
    listed = [sent.repo.invoices[i] for i in sent.message.delivery.invoices]
    assert len(listed) == 2
    for inv in listed:
        assert payref.printed(payref.creditor_reference(inv.id)) in text
    for amount in open_amounts(sent):
        assert plain(amount) in text
    # the payment links as text a reader can type (paper has no buttons), one per invoice as
    # the link names the invoice; the named signatory
    assert "Pay online:" in text
    for inv in listed:
        assert f"https://pay.nordlys.example/{inv.id}" in text
    assert "Freja Lindqvist Credit Controller Nordlys Consulting ApS" in text
    assert len(page.pages) == 1


def test_the_reference_line_names_date_references_customer_and_invoice(company) -> None:  # type: ignore[no-untyped-def]
    sent = letter(company, "liffey-software", (60,))
    page = printed(sent.message)
    (inv,) = sent.message.delivery.invoices
    assert rows([ln for ln in page.pages[0] if ln.left > 120 and 45 < ln.top < 96]) == [
        "Date 23 November 2026",
        "Our reference letter-60/2026-11-23",
        "Customer number liffey-software",
        f"Invoice {inv}",
        f"Payment reference {payref.printed(payref.creditor_reference(inv))}",
    ]
    assert len(page.pages) == 1


def test_a_long_letter_breaks_cleanly_onto_a_second_page_with_header_and_number(  # type: ignore[no-untyped-def]
    company,
) -> None:
    sent = letter(company, "liffey-software", (90, 60, 32))  # our lawyer's, three invoices
    page = printed(sent.message)
    assert len(page.pages) == 2
    first, second = page.pages
    assert not any("Page" in ln.text for ln in first)
    assert rows(second)[0] == (
        "Bruun & Holst Advokatpartnerselskab · Liffey Software Ltd · 23 November 2026 Page 2 / 2"
    )
    # no page ends with a heading, the closing stays with the signature, tables stay whole
    assert not first[-2].bold, first[-2]  # [-1] is the footer
    texts = [rows(p) for p in page.pages]
    closing = next(i for i, p in enumerate(texts) if "Yours sincerely," in p)
    assert "Mette Bruun" in texts[closing]
    table = [i for i, p in enumerate(texts) for t in p if re.match(r"INV-41\d\d \d+ \w+ 2026", t)]
    assert len(table) == 3 and len(set(table)) == 1, texts


# -- every script ------------------------------------------------------------------------------


def test_a_persian_letter_is_right_to_left_with_every_glyph(company) -> None:  # type: ignore[no-untyped-def]
    sent = letter(company, "parsian-design", policy="rtl-test")
    assert sent.message.delivery.template == "rtl-test-letter/fa.letter.j2"
    assert 'dir="rtl"' in (sent.message.html or "")
    page = printed(sent.message)
    _, address = zones(page)
    expected = [sent.customer.name, *sent.customer.address]
    assert len(address) == len(expected)
    for shown, line in zip(address, expected, strict=True):
        assert same_characters(shown.text, line), (shown.text, line)
        assert abs(shown.right - 100) < 0.5  # right-aligned: the line starts at the right
    assert all(DIN_WINDOW.holds(ln) for ln in page.window()), page.window()
    assert any(same_characters(ln.text, "یادآوری پرداخت") for ln in page.pages[0])
    assert "۱۴۰۵" in page.text  # the Solar Hijri year, in Persian digits
    assert missing_glyphs(page.pdf.data) == []
    assert len(page.pages) == 1


def test_a_letter_to_china_prints_every_chinese_glyph(company) -> None:  # type: ignore[no-untyped-def]
    sent = letter(company, "huaxin-trading")
    page = printed(sent.message)
    _, address = zones(page)
    assert [ln.text for ln in address] == [sent.customer.name, *sent.customer.address]
    assert all(DIN_WINDOW.holds(ln) for ln in page.window()), page.window()
    assert "请通过银行转账付款" in "".join(page.text.split())  # the payment instructions
    assert missing_glyphs(page.pdf.data) == []
    assert len(page.pages) == 1


def test_the_glyph_check_sees_text_no_font_has(tmp_path: Path) -> None:
    """missing_glyphs is no formality: on a system whose only font is a Latin one (fontconfig
    pointed at a folder holding the DejaVu subset of another PDF), Chinese prints as empty
    boxes, and the check names each character."""
    latin = pdf.render('<p style="font-family: DejaVu Sans">Abc</p>').data
    (font,) = _fonts(PDFDocument(PDFParser(io.BytesIO(latin))))
    descriptor = resolve1(resolve1(resolve1(font["DescendantFonts"])[0])["FontDescriptor"])
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "latin.ttf").write_bytes(resolve1(descriptor["FontFile2"]).get_data())
    config = tmp_path / "fonts.conf"
    config.write_text(
        f'<?xml version="1.0"?>\n<fontconfig><dir>{tmp_path / "fonts"}</dir>'
        f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>\n"
    )
    script = "import sys; from runner import pdf\n"
    script += "sys.stdout.buffer.write(pdf.render(sys.stdin.read()).data)"
    done = subprocess.run(
        [sys.executable, "-c", script],
        input="<p>上海 Abc</p>".encode(),
        capture_output=True,
        env={**os.environ, "FONTCONFIG_FILE": str(config)},
    )
    assert done.returncode == 0, done.stderr
    problems = missing_glyphs(done.stdout)
    assert any("'上'" in p for p in problems) and any("'海'" in p for p in problems), problems


LETTERS = sorted(STARTER.glob("templates/*/*.letter.j2"))


@pytest.mark.parametrize("template", LETTERS, ids=[f"{p.parent.name}/{p.name}" for p in LETTERS])
def test_every_shipped_letter_prints_its_address_in_the_window(company, template: Path) -> None:  # type: ignore[no-untyped-def]
    """Every letter template Nudge ships, in its language, to that language's customer of the
    test company, on the day its policy sends it: the address in the window, every glyph, no
    CSS WeasyPrint ignores."""
    repo, _ = company
    name = template.parent.name
    policy, step = next(
        (p, s)
        for p in repo.policies.values()
        for s in p.steps
        if s.template == name and "letter" in s.channels
    )
    sent = letter(company, PERSONA[template.name.split(".")[0]], (step.first_day,), policy.id)
    assert sent.message.delivery.template == f"{name}/{template.name}"
    page = printed(sent.message)
    window = US_WINDOW if page.size == US_LETTER else DIN_WINDOW
    assert page.window()
    assert all(window.holds(ln) for ln in page.window()), page.window()
    assert missing_glyphs(page.pdf.data) == []


# -- the run -----------------------------------------------------------------------------------

LETTER = "letters/2026-11-23/liffey-software.letter-90.letter"


def letter_entries(root: Path) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in (root / "log/2026/11.jsonl").read_text().splitlines()]
    return [e for e in entries if e.get("channel") == "letter" and e.get("status") == "sent"]


def test_a_run_prints_each_letter_to_pdf_and_show_prints_it_again(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "repo")
    result = nudge("run", "--root", str(root), "--today", "2026-11-23", "--only", "liffey-software")
    assert result.code == 0, result.out + result.err
    outbox = root / "outbox"
    assert (outbox / f"{LETTER}.html").is_file()
    data = (outbox / f"{LETTER}.pdf").read_bytes()
    with pdfplumber.open(io.BytesIO(data)) as document:
        first = plain(document.pages[0].extract_text())
    assert "Demand for payment on behalf of Nordlys Consulting ApS" in first
    (entry,) = letter_entries(root)
    assert entry["provider_id"] == f"outbox:{LETTER}.pdf"
    assert "HTML only" not in result.out + result.err
    # the letter printed again from the log and the commit it names: the same bytes
    show = ["show", entry["keys"][0], "--root", str(root), "--part", "pdf"]
    shown = subprocess.run([sys.executable, "-m", "runner", *show], capture_output=True)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == data


def test_the_run_prints_its_letters_in_a_process_of_its_own(tmp_path: Path) -> None:
    """WeasyPrint laying out a letter takes some 80-90 MiB for a moment: a run holding 100k
    invoices prints in a child process, so the run itself never loads WeasyPrint, and the PDF
    is the one `show --part pdf` prints in its own process (the same bytes)."""
    root = git_repo(tmp_path / "repo")
    code = (
        "import sys; from runner.main import main; "
        f"code = main(['run', '--root', {str(root)!r}, '--today', '2026-11-23', "
        "'--only', 'liffey-software']); "
        "print('loaded' if 'weasyprint' in sys.modules else 'not loaded'); sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "not loaded"
    data = (root / "outbox" / f"{LETTER}.pdf").read_bytes()
    (entry,) = letter_entries(root)
    show = ["show", entry["keys"][0], "--root", str(root), "--part", "pdf"]
    shown = subprocess.run([sys.executable, "-m", "runner", *show], capture_output=True)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == data


def test_a_printing_process_that_dies_fails_one_letter_and_the_next_starts_another() -> None:
    printer = pdf.Printer()
    try:
        page = "<html><body><p>Dear customer</p></body></html>"
        first = printer.render(page)
        assert first.pages == 1 and first.data.startswith(b"%PDF-")
        assert printer.render(page).data == first.data  # the process prints one after another
        process = printer._process
        assert process is not None
        process.kill()
        process.wait()
        with pytest.raises(pdf.PdfError, match=r"the printing process ended \(exit status -9\)"):
            printer.render(page)
        assert printer.render(page).data == first.data  # the next letter, a new process
    finally:
        printer.close()
    assert printer._process is None


def test_without_pango_a_run_writes_the_letters_as_html_and_says_so_once(
    sample: Path, tmp_path: Path
) -> None:
    """A machine with only Python: the dynamic loader finds no usable Pango (an empty file in
    its place, first on LD_LIBRARY_PATH), as WeasyPrint's import meets it there."""
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libpango-1.0.so.0").write_bytes(b"")
    result = nudge(
        "run",
        "--root",
        str(sample),
        "--today",
        "2026-11-23",
        "--only",
        "liffey-software",
        env={"LD_LIBRARY_PATH": str(broken)},
    )
    assert result.code == 0, result.out + result.err
    outbox = sample / "outbox"
    assert (outbox / f"{LETTER}.html").is_file()
    assert not (outbox / f"{LETTER}.pdf").exists()
    (entry,) = letter_entries(sample)
    assert entry["provider_id"] == f"outbox:{LETTER}.html"
    said = [line for line in (result.out + result.err).splitlines() if "Pango" in line]
    assert said == [
        "Letters written as HTML only: WeasyPrint cannot load libpango-1.0-0 (Pango), which PDF "
        "letters need; install it with `apt-get install libpango-1.0-0 libpangoft2-1.0-0` "
        "(Debian, Ubuntu) or `brew install pango` (macOS)"
    ]
    assert "WeasyPrint could not import" not in result.out + result.err  # its own banner
