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
