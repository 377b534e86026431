"""What reading a repository gives: the Repository, every problem found on the way, and where
each entity was written (so a later check can point at the file and line to change)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from runner import yamlload
from runner.errors import Problem, Severity
from runner.model import Defaults, Repository

JsonPath = tuple[str | int, ...]
# What a repository is read with when its settings.yaml could not be: the rest is still checked.
FALLBACK_DEFAULTS = Defaults(locale="en", timezone="UTC", currency="EUR", policy="standard")


@dataclass(frozen=True)
class Source:
    """Where an entity was written: positions are looked up only when a problem is reported."""

    doc: yamlload.Document
    prefix: JsonPath = ()

    def problem(
        self, where: JsonPath, message: str, key: bool = False, severity: Severity = "error"
    ) -> Problem:
        line, col = yamlload.locate(self.doc.text, (*self.prefix, *where), key=key)
        return Problem(self.doc.path, line, col, message, severity)


@dataclass(frozen=True)
class SourceOf:
    """Where an entity was written, looked up in `sources` only when a problem is placed: a
    snapshot's sources are read from disk on the first lookup (110 MiB at 100k invoices)."""

    sources: MutableMapping[tuple[str, str], Source]
    key: tuple[str, str]

    def problem(
        self, where: JsonPath, message: str, key: bool = False, severity: Severity = "error"
    ) -> Problem:
        return self.sources[self.key].problem(where, message, key, severity)


class Overlay(MutableMapping[tuple[str, str], Source]):
    """The sources of a load made from another one (repository.load_revision): its own (the
    changed files'), over those of the load it was made from (the unchanged files', asked for
    only when one of them is). Iterating lists the keys of both."""

    def __init__(self, under: MutableMapping[tuple[str, str], Source]) -> None:
        self.own: dict[tuple[str, str], Source] = {}
        self.under = under

    def __getitem__(self, key: tuple[str, str]) -> Source:
        found = self.own.get(key)
        return found if found is not None else self.under[key]

    def __setitem__(self, key: tuple[str, str], value: Source) -> None:
        self.own[key] = value

    def __delitem__(self, key: tuple[str, str]) -> None:
        del self.own[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter({**dict.fromkeys(self.under), **self.own})

    def __len__(self) -> int:
        return len({*self.under, *self.own})


@dataclass
class Loaded:
    repo: Repository
    problems: list[Problem] = field(default_factory=list)  # the files' own, then references
    # A snapshot's are read only when asked for (a problem to place): 110 MiB at 100k invoices
    sources: MutableMapping[tuple[str, str], Source] = field(default_factory=dict)
    rejected: dict[str, set[str]] = field(default_factory=dict)  # kind -> ids of files in error
    # What rendering every template found (runner.checks.templates), once computed: kept beside
    # the snapshot (snapshot.save_checks), so a command after `validate` does not render again.
    template_problems: list[Problem] | None = None
    # How this load is keyed in the snapshot (a snapshot.Fingerprint; not part of what it says
    # about the files; the module is not imported here, as it imports this one).
    fingerprint: Any = field(default=None, compare=False, repr=False)
    started_ns: int = field(default=0, compare=False, repr=False)
    # Read from a snapshot without the invoices (but those with an attachment): for a command
    # that never looks at them (`nudge test`); see workspace.load_valid.
    left_out: bool = field(default=False, compare=False, repr=False)

    def source_of(self, kind: str, name: str) -> SourceOf:
        """Where entity `name` of `kind` was written, looked up when a problem is placed."""
        return SourceOf(self.sources, (kind, name))

    def was_rejected(self, kind: str, name: str) -> bool:
        """Whether `name` is the id of a file that had errors (so a reference is not 'unknown')."""
        if kind == "policy" and name == FALLBACK_DEFAULTS.policy and "settings" in self.rejected:
            return True
        return name in self.rejected.get(kind, set())

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]
