"""`nudge init`: a new company's repository passes `validate` and `test` right after, in every
language Nudge ships; an existing company is replaced only with --force; bad answers are one
sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, STARTER, copy_sample, nudge

LANGUAGES = sorted(p.stem for p in (STARTER / "templates" / "_locale").glob("*.j2"))
COUNTRY = {"en": "IE", "da": "DK", "pl": "PL", "zh": "CN", "fa": "DE"}
CURRENCY = {"en": "EUR", "da": "DKK", "pl": "PLN", "zh": "CNY", "fa": "EUR"}
ZONE = {"en": "Europe/Dublin", "da": "Europe/Copenhagen", "pl": "Europe/Warsaw",
        "zh": "Asia/Shanghai", "fa": "Asia/Tehran"}  # fmt: skip


def init(root: Path, *extra: str, language: str = "en", policy: str = "gentle") -> object:
    return nudge(
        "init",
        "--root",
        str(root),
        "--name",
        "Brightwater Ltd",
        "--country",
        COUNTRY[language],
        "--locale",
        language,
        "--currency",
        CURRENCY[language],
        "--timezone",
        ZONE[language],
        "--policy",
        policy,
        "--today",
        "2026-12-02",
        *extra,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_new_company_validates_and_passes_its_policy_tests(tmp_path: Path, language: str) -> None:
    root = tmp_path / "company"
    done = init(root, language=language, policy="letters")
    assert done.code == 0, done.out + done.err  # type: ignore[attr-defined]
    validated = nudge("validate", "--root", str(root))
    assert validated.code == 0, validated.out + validated.err
    tested = nudge("test", "--root", str(root))
    assert tested.code == 0, tested.out
    assert tested.out.strip().endswith("6 passed, 0 failed")
    # only the chosen language's templates, every policy's step covered
    files = {p.name.split(".")[0] for p in (root / "templates").rglob("*.j2")}
    assert files - {"email", "letter", "macros"} == {language}
    settings = (root / "settings.yaml").read_text(encoding="utf-8")
    assert f"country: {COUNTRY[language]}" in settings and "policy: letters-30-60-90" in settings
    assert (root / ".github" / "workflows" / "remind.yml").is_file()
    # the example invoice (due 2027-01-01) is planned like any other: letter-30 on day 30, a
    # Sunday, so on the next business day of the country's calendar, by letter and e-mail
    plan = nudge(
        "plan", "--root", str(root), "--today", "2027-01-25", "--days", "10", "--format", "json"
    )  # fmt: skip
    assert plan.code == 0, plan.err
    planned = json.loads(plan.out)["deliveries"]
    assert sorted((d["step"], d["channel"], tuple(d["invoices"])) for d in planned) == [
        ("letter-30", "email", ("EXAMPLE-1",)),
        ("letter-30", "letter", ("EXAMPLE-1",)),
    ]


def test_a_policy_change_fails_the_policy_tests_init_wrote(tmp_path: Path) -> None:
    root = tmp_path / "company"
    assert init(root).code == 0  # type: ignore[attr-defined]
    gentle = root / "policies" / "gentle.yaml"
    gentle.write_text(gentle.read_text().replace("at: 14,", "at: 10,"))
    tested = nudge("test", "--root", str(root))
    assert tested.code == 1 and "FAIL policies/tests/gentle-never-paid.yaml" in tested.out


def test_the_sample_company_is_replaced_only_with_force(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "clone")
    (root / "log" / "2026").mkdir(parents=True)
    (root / "log" / "2026" / "11.jsonl").write_text("{}\n")
    refused = init(root)
    assert refused.code == 1  # type: ignore[attr-defined]
    assert "already holds a company" in refused.err and "--force" in refused.err  # type: ignore[attr-defined]
    assert (root / "customers" / "acme.yaml").exists()
    done = init(root, "--force")
    assert done.code == 0, done.err  # type: ignore[attr-defined]
    assert sorted(p.name for p in (root / "customers").iterdir()) == ["example.yaml"]
    assert not (root / "log").exists()
    assert nudge("validate", "--root", str(root)).code == 0


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (("--locale", "xx"), "is not a known locale"),
        (("--locale", "de"), "Nudge ships templates in"),
        (("--currency", "EURO"), "--currency: not an ISO 4217 currency code"),
        (("--timezone", "Europe/Atlantis"), "--timezone: not an IANA time zone"),
        (("--country", "XX"), "--country: not a country the holiday calendar knows"),
    ],
)
def test_a_wrong_answer_is_one_sentence(
    tmp_path: Path, changes: tuple[str, str], says: str
) -> None:
    args = ["init", "--root", str(tmp_path / "c"), "--name", "X", "--country", "DK",
            "--locale", "en", "--currency", "DKK", "--timezone", "Europe/Copenhagen"]  # fmt: skip
    flag, value = changes
    args[args.index(flag) + 1] = value
    done = nudge(*args)
    assert done.code == 1 and says in done.err and "Traceback" not in done.err
    assert not (tmp_path / "c").exists()


def test_the_workflows_init_writes_are_the_ones_nudge_runs_itself() -> None:
    """`nudge init` copies runner/starter/workflows; they are .github/workflows, kept equal."""
    ours = ROOT / ".github" / "workflows"
    shipped = STARTER / "workflows"
    names = sorted(p.name for p in ours.glob("*.yml"))
    assert names == sorted(p.name for p in shipped.glob("*.yml"))
    for name in names:
        assert (shipped / name).read_text() == (ours / name).read_text(), (
            f"runner/starter/workflows/{name} differs from .github/workflows/{name}: copy it"
        )
