"""`nudge history`: a customer's timeline names the invoice of every entry; a policy's lists
the commits that changed its file, and what each changed. Real git repositories."""

from __future__ import annotations

import json
from pathlib import Path

from runner.commands.history import describe_policy_change

from conftest import git, git_repo, nudge

LOGGED = ("sent", "missed", "superseded", "note", "pending", "failed", "unknown")


def test_a_customer_timeline_names_the_invoice_of_each_entry(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    assert nudge("run", "--root", str(repo), "--today", "2026-11-23", "--commit").code == 0
    noted = nudge(
        "note", "--root", str(repo), "INV-1054", "called Małgorzata", "--today", "2026-11-24"
    )
    assert noted.code == 0, noted.err
    done = nudge("history", "--root", str(repo), "wisla-logistyka", "--format", "json")
    assert done.code == 0, done.err
    logged = [e for e in json.loads(done.out)["events"] if e["kind"] in LOGGED]
    assert {"sent", "missed", "note"} <= {e["kind"] for e in logged}
    for event in logged:
        assert event["invoices"], event
        named = event["what"].split(": ", 1)[0]
        assert all(invoice in named for invoice in event["invoices"]), event
    # one e-mail that day about two invoices at different stages: each named with its own
    sent = {e["what"] for e in logged if e["kind"] == "sent"}
    assert (
        "INV-1032 (tier-2), INV-1054 (just-checking): email to ksiegowosc@wisla-logistyka.example"
        in sent
    )
    table = nudge("history", "--root", str(repo), "wisla-logistyka").out
    assert "sent      INV-1032 (tier-2), INV-1054 (just-checking): email to ksiegowosc@" in table
    assert "note      INV-1054: call by Ada Finance: called Małgorzata" in table
    # an invoice's own timeline does not repeat its id before every line
    invoice = nudge("history", "--root", str(repo), "INV-1032").out
    assert "sent      tier-2 email to ksiegowosc@wisla-logistyka.example" in invoice


def test_a_policy_timeline_lists_the_commits_that_changed_its_file(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    policy = repo / "policies" / "gentle.yaml"

    def commit(path: Path, old: str, new: str, message: str) -> None:
        path.write_text(path.read_text().replace(old, new, 1))
        git(repo, "commit", "-qam", message)

    commit(policy, "at: 14,", "at: 10,", "tier-1 four days earlier")
    commit(repo / "settings.yaml", "policy: gentle", "policy: five-stage", "default policy")
    commit(policy, "# yaml-language-server", "# Reviewed by finance.\n# yaml-language-server", "x")
    commit(
        policy,
        "  - {id: tier-3,",
        "  - {id: tier-2b, at: 35, send: [sms], template: gentle-tier-3}\n  - {id: tier-3,",
        "a text between tier-2 and tier-3",
    )
    commit(repo / "customers" / "acme.yaml", "name:", "name: The", "acme renamed")
    done = nudge("history", "--root", str(repo), "gentle", "--format", "json")
    assert done.code == 0, done.err
    events = json.loads(done.out)["events"]
    assert [e["what"] for e in events] == [
        "policy gentle: created, steps heads-up, just-checking, tier-1, tier-2, tier-3 "
        "(the sample company)",
        "policy gentle: step tier-1: at 14 -> 10 (tier-1 four days earlier)",
        "policy gentle: comments or layout only (x)",
        "policy gentle: step tier-2b added (a text between tier-2 and tier-3)",
    ]
    assert {e["kind"] for e in events} == {"policy"}
    changed = git(repo, "log", "--format=%H", "--", "policies/gentle.yaml").splitlines()
    assert sorted(e["commit"] for e in events) == sorted(changed)
    table = nudge("history", "--root", str(repo), "gentle").out
    assert table.startswith("History of gentle (policy, policies/gentle.yaml)")
    # the timeline of an invoice under the policy shows the same commits, and no others
    invoice = json.loads(nudge("history", "--root", str(repo), "INV-1032", "--format", "json").out)[
        "events"
    ]
    assert [e["commit"] for e in invoice if e["kind"] == "policy"] == [e["commit"] for e in events]


def test_what_a_policy_commit_changed() -> None:
    before = {
        "id": "p",
        "catch_up": 3,
        "steps": [{"id": "a", "at": 1}, {"id": "b", "at": 9, "send": ["email"]}],
    }
    after = {
        "id": "p",
        "catch_up": 5,
        "steps": [{"id": "b", "at": 9, "send": ["email", "sms"]}, {"id": "c", "at": 20}],
    }
    assert describe_policy_change(before, after) == [
        "catch_up 3 -> 5",
        "step a removed",
        'step b: send ["email"] -> ["email", "sms"]',
        "step c added",
    ]
    assert describe_policy_change(after, None) == ["removed"]
    swapped = {**before, "steps": list(reversed(before["steps"]))}
    assert describe_policy_change(before, swapped) == ["steps reordered: b, a"]
