"""Reading a Nudge repository from disk into a Repository, collecting every problem on the way."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from runner import latepay, parallel, paths, schema, snapshot, yamlload
from runner.checks import cross_references
from runner.errors import Problem
from runner.loaded import FALLBACK_DEFAULTS, Loaded, Overlay, Source, SourceOf
from runner.model import (
    DEFAULT_MAX_CONNECTIONS,
    WEEKDAYS,
    After,
    BankAccount,
    Calendar,
    Company,
    Contact,
    Counsel,
    Customer,
    Defaults,
    Discount,
    EmailSettings,
    InboundSettings,
    Installment,
    Invoice,
    LateFee,
    Payer,
    Payment,
    PaymentInfo,
    Policy,
    Promise,
    Repository,
    Settings,
    SmsSettings,
    Step,
)

JsonPath = tuple[str | int, ...]


class _Invalid(Exception):
    """Raised inside a parser once the problem has been recorded: the entity is skipped."""


Refused = list[tuple[str, str]]  # (path, why it is not read)


def data_files(root: Path, folder: str, refused: Refused | None = None) -> list[str]:
    """The YAML files under root/folder, as path strings (100k Paths cost a second), in the
    order of their path components. Symbolic links that leave the repository or lead nowhere
    are not read: they go to `refused`; linked folders are not entered."""
    deep = folder != "policies"  # policies/tests/ holds test cases, not policies
    names = _walk(root, os.path.join(root, folder), (".yaml", ".yml"), refused, deep)
    return sorted(names, key=_by_components)


def template_files(root: Path, refused: Refused | None = None) -> list[str]:
    return sorted(_walk(root, str(root / "templates"), (".j2",), refused, True))


def _walk(
    root: Path, top: str, suffixes: tuple[str, ...], refused: Refused | None, deep: bool
) -> list[str]:
    found: list[str] = []
    try:
        entries = list(os.scandir(top))
    except OSError:
        return found
    for entry in entries:
        if entry.is_symlink():  # from the directory listing itself: no extra system call
            why = _link_refused(root, entry, suffixes)
            if why is None:
                if entry.name.endswith(suffixes) and entry.is_file():
                    found.append(entry.path)
            elif refused is not None:
                refused.append((entry.path, why))
        elif entry.is_dir():
            if deep:
                found += _walk(root, entry.path, suffixes, refused, deep)
        elif entry.name.endswith(suffixes):
            found.append(entry.path)
    return found


def _link_refused(root: Path, entry: os.DirEntry[str], suffixes: tuple[str, ...]) -> str | None:
    """Why a symbolic link among the data files or templates is not read, or None."""
    try:
        folder = entry.is_dir()
        target = entry.is_file() or folder
    except OSError:  # a loop
        target = folder = False
    if not (folder or entry.name.endswith(suffixes)):
        return None  # not ours to read (a PDF beside the invoices, say)
    if not target:
        return paths.NOWHERE
    return None if paths.is_inside(root, entry.path) else paths.OUTSIDE


def _taken(
    problems: list[Problem], kind: str, entity: Any, source: Source | SourceOf, out: dict[str, Any]
) -> bool:
    """Whether `entity`'s id is already taken in `out` (then a problem says by which file)."""
    if entity.id not in out:
        return False
    problems.append(
        source.problem(
            ("id",), f"duplicate {kind} id '{entity.id}': already used in {out[entity.id].path}"
        )
    )
    return True


def _by_components(name: str) -> str:
    # "a/b" before "a-c/d", as Path comparison orders them: the separator sorts first.
    return name.replace(os.sep, "\0")


def load(
    root: Path, invoices: bool = True, cold: Callable[[list[str], int], None] | None = None
) -> Loaded:
    """Every data file read and checked (or the snapshot of the last load, if none changed).
    `invoices=False`: a snapshot may leave out the invoices (snapshot.load). `cold`: called
    with the template files' names (relative to templates/) and the number of data files when
    there is no snapshot, before the files are read (checks.Precompiling)."""
    with no_gc():
        refused: Refused = []
        listing = {folder: data_files(root, folder, refused) for folder in DATA_FOLDERS}
        templates = template_files(root, refused)
        settings = os.path.join(root, "settings.yaml")
        if os.path.islink(settings) and not paths.is_inside(root, settings):
            refused.append((settings, paths.OUTSIDE))
        read = [settings]
        read += [name for folder in DATA_FOLDERS for name in listing[folder]]
        fingerprint = snapshot.Fingerprint(root, read + templates + [p for p, _ in refused])
        loaded = snapshot.load(root, fingerprint, invoices)
        if loaded is None:
            started = time.time_ns()
            base = len(str(root / "templates")) + 1
            names = sorted(name[base:].replace(os.sep, "/") for name in templates)
            if cold is not None:
                cold(names, len(read))
            loaded = _load(root, listing, frozenset(names))
            for link, why in refused:
                loaded.problems.append(Problem(paths.relative(root, link), 1, 1, why))
            loaded.problems.extend(cross_references(loaded))
            loaded.started_ns = started
            snapshot.save(root, fingerprint, loaded, started)
        loaded.fingerprint = fingerprint
        return loaded


@contextmanager
def no_gc() -> Iterator[None]:
    """Reading builds millions of small objects and no cycles worth collecting; the cyclic
    collector would walk the whole growing heap again and again (quadratic at 100k files).
    What was read lives as long as the command, so it is frozen out of later collections too."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


DATA_FOLDERS = ("policies", "customers", "invoices")
INVOICES_SHARE = 0.47  # of the invoice files, the forked copy's share (measured at 100k)
# Everything a command reads to decide and render (besides the log): a message can be rendered
# again exactly from the commit its log entry names only when none of these differed from it.
CONFIG_PATHS = ("settings.yaml", *DATA_FOLDERS, "templates")
# What reading some invoice files gives: the invoices with their sources, the problems found,
# the names of the files rejected (by kind).
Rejected = dict[str, set[str]]
_Part = tuple[list[tuple[Source, Invoice]], list[Problem], Rejected]


def _load(root: Path, listing: dict[str, list[str]], templates: frozenset[str]) -> Loaded:
    reader = _Reader(root, listing)
    settings = reader.settings()
    policies = reader.many("policies", "policy", lambda r, s, d: r.policy(s, d, settings))
    customers = reader.many("customers", "customer", lambda r, s, d: r.customer(s, d, settings))

    def read_invoices(paths: list[str]) -> _Part:
        return _read_invoices(root, paths, settings, customers)

    found: list[tuple[Source, Invoice]] = []
    # Half the invoice files are read by a second process when there are many (parallel.py).
    # The copy's invoices are pickled back to this process (a quarter of the time reading
    # them took): its share is smaller, so both are done at about the same time.
    halves = parallel.halves(listing["invoices"], read_invoices, share=INVOICES_SHARE)
    for built, problems, rejected in halves:
        found += built
        reader.absorb(problems, rejected)
    invoices = _first_of_each_id(found, reader.problems, reader.sources)
    repo = Repository(settings, customers, invoices, policies, templates)
    return Loaded(repo, reader.problems, reader.sources, reader.rejected)


# -- another revision, from this one ---------------------------------------------------------------

DATA_PATHS = ("settings.yaml", *DATA_FOLDERS, "templates")


def load_revision(
    root: Path,
    head: Loaded,
    base: Path,
    changed: set[str],
    concerned: Callable[[Repository], set[str] | None] | None = None,
) -> Loaded:
    """The repository as another git revision holds it, from `head` (this working tree's load)
    and only the files that differ between the two: `changed`, paths relative to the root, of
    which the revision's versions are under `base` (a path missing there is one it lacks). Every
    other file is the same in both, so what it gave is taken from `head` without reading it
    again, except an invoice whose customer's currency changed (it is read again from `root`).
    settings.yaml must be the same in both, and `head` valid (the caller reads the whole revision
    otherwise). `concerned`: the customers the difference can concern, given the revision
    (None: any); the names and sums only they are part of are checked again, as the rest is
    what `head`, valid, holds."""
    settings = head.repo.settings
    reader = _Reader(base, {})
    for folder in ("policies", "customers"):
        reader.listing[folder] = [
            os.path.join(base, rel)
            for rel in sorted(changed, key=_by_components)
            if _is_data(rel, folder) and (base / rel).is_file()
        ]
    merged = _Merge(head, changed, reader)
    policies = merged.entities(
        "policy",
        head.repo.policies,
        reader.many("policies", "policy", lambda r, s, d: r.policy(s, d, settings)),
    )
    customers = merged.entities(
        "customer",
        head.repo.customers,
        reader.many("customers", "customer", lambda r, s, d: r.customer(s, d, settings)),
    )
    moved = {
        c
        for c in {*customers, *head.repo.customers}
        if _currency(customers.get(c)) != _currency(head.repo.customers.get(c))
    }
    again = {
        head.sources[("invoice", invoice.id)].doc.path
        for customer in moved
        for invoice in head.repo.invoices_of(customer)
    } - changed  # the files of invoices whose customer's currency changed
    new_files = [r for r in sorted(changed) if _is_data(r, "invoices") and (base / r).is_file()]
    fresh = _invoices_of(base, new_files, settings, customers, reader)
    fresh += _invoices_of(root, sorted(again), settings, customers, reader)
    invoices = merged.invoices(fresh, {*changed, *again})
    base_templates = {
        rel.removeprefix("templates/")
        for rel in changed
        if rel.startswith("templates/") and rel.endswith(".j2")
    }
    templates = frozenset(
        {t for t in head.repo.templates if f"templates/{t}" not in changed}
        | {t for t in base_templates if (base / "templates" / t).is_file()}
    )
    repo = Repository(settings, customers, invoices, policies, templates)
    loaded = Loaded(repo, reader.problems + merged.problems, merged.sources, reader.rejected)
    from runner.checks import cross_references  # it imports this module

    loaded.problems.extend(cross_references(loaded, concerned(repo) if concerned else None))
    return loaded


def _invoices_of(
    root: Path,
    paths: list[str],
    settings: Settings,
    customers: dict[str, Customer],
    into: _Reader,
) -> list[tuple[Source, Invoice]]:
    """The invoices of some files under `root` (relative paths); problems go `into` a reader."""
    files = [os.path.join(root, p) for p in paths]
    found, problems, rejected = _read_invoices(root, files, settings, customers)
    into.absorb(problems, rejected)
    return found


def _read_invoices(
    root: Path, files: list[str], settings: Settings, customers: dict[str, Customer]
) -> _Part:
    """The invoices of these files (paths as strings), with what a reader of its own found."""
    part = _Reader(root, {})
    built = []
    for source, data in part.documents(files, "invoice"):
        invoice = part.guarded(lambda s=source, d=data: part.invoice(s, d, settings, customers))
        if invoice is not None:
            built.append((source, invoice))
    return built, part.problems, part.rejected


def _is_data(rel: str, folder: str) -> bool:
    if not rel.startswith(f"{folder}/") or not rel.endswith((".yaml", ".yml")):
        return False
    return folder != "policies" or rel.count("/") == 1  # policies/tests/ holds test cases


def _currency(customer: Customer | None) -> tuple[bool, str | None]:
    return (customer is not None, customer.currency if customer else None)


class _Merge:
    """What `head` read from the unchanged files, with what the revision's changed files give,
    in the order of their paths, as a load of the revision would find them."""

    def __init__(self, head: Loaded, changed: set[str], reader: _Reader) -> None:
        self.head = head
        self.changed = changed
        self.reader = reader
        self.sources = Overlay(head.sources)  # the unchanged files' read only when asked for
        self.problems: list[Problem] = []

    def entities(self, kind: str, kept: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        found: list[tuple[Any, Source | None]] = [
            (entity, None) for entity in kept.values() if entity.path not in self.changed
        ]
        read = self.reader.sources
        found += [(e, read[(kind, n)]) for n, e in new.items()]
        out: dict[str, Any] = {}
        for entity, source in sorted(found, key=lambda x: _by_components(x[0].path)):
            where = source or self.head.source_of(kind, entity.id)
            if _taken(self.problems, kind, entity, where, out):
                continue
            out[entity.id] = entity
            if source is not None:
                self.sources[(kind, entity.id)] = source
        return out

    def invoices(self, fresh: list[tuple[Source, Invoice]], read: set[str]) -> dict[str, Invoice]:
        found: list[tuple[Source | SourceOf, Invoice]] = [
            (self.head.source_of("invoice", i.id), i)
            for i in self.head.repo.invoices.values()
            if i.path not in read
        ]
        found += fresh
        found.sort(key=lambda pair: _by_components(pair[1].path))
        return _first_of_each_id(found, self.problems, self.sources)


def _first_of_each_id(
    found: Sequence[tuple[Source | SourceOf, Invoice]],
    problems: list[Problem],
    sources: MutableMapping[tuple[str, str], Source],
) -> dict[str, Invoice]:
    """The invoices by id, the first file found for each: a later one with the same id is a
    problem (added to `problems`); the source of each kept goes into `sources` (one already
    there, a SourceOf, is not)."""
    invoices: dict[str, Invoice] = {}
    for source, invoice in found:
        if invoice.id in invoices:
            first = invoices[invoice.id].path
            problems.append(
                source.problem(
                    ("id",), f"duplicate invoice id '{invoice.id}': already used in {first}"
                )
            )
            continue
        invoices[invoice.id] = invoice
        if isinstance(source, Source):
            sources[("invoice", invoice.id)] = source
    return invoices


class _Reader:
    def __init__(self, root: Path, listing: dict[str, list[str]]) -> None:
        self.root = root
        self.listing = listing
        self.problems: list[Problem] = []
        self.sources: dict[tuple[str, str], Source] = {}
        self.rejected: dict[str, set[str]] = {}

    def reject(self, kind: str, path: str, data: Any = None) -> None:
        name = data.get("id") if isinstance(data, dict) else None
        self.rejected.setdefault(kind, set()).add(
            name if isinstance(name, str) else Path(path).stem
        )

    # -- files -------------------------------------------------------------------------------

    def read(self, path: str) -> yamlload.Document | None:
        rel = path[len(str(self.root)) + 1 :].replace(os.sep, "/")
        try:
            return yamlload.load(path, rel)
        except yamlload.YamlProblem as exc:
            self.problems.append(Problem(rel, exc.line, exc.col, exc.message))
        except OSError as exc:
            self.problems.append(Problem(rel, 1, 1, f"cannot read file: {exc.strerror}"))
        return None

    def documents(self, paths: list[str], kind: str) -> Iterable[tuple[Source, dict[str, Any]]]:
        for path in paths:
            doc = self.read(path)
            if doc is None:
                self.reject(kind, os.path.basename(path))
                continue
            if not isinstance(doc.data, dict):
                self.reject(kind, doc.path)
                what = "empty" if doc.data is None else "not a mapping of keys to values"
                self.problems.append(
                    Problem(
                        doc.path,
                        1,
                        1,
                        f"file is {what}: expected {'an' if kind[0] in 'aeiou' else 'a'} {kind}",
                    )
                )
                continue
            if kind == "invoice" and "invoices" in doc.data:
                items = doc.data["invoices"]
                if not isinstance(items, list):
                    src = Source(doc)
                    self.problems.append(src.problem(("invoices",), "invoices: expected a list"))
                    continue
                extra = [k for k in doc.data if k not in ("invoices", "$schema")]
                for key in extra:
                    self.problems.append(
                        Source(doc).problem(
                            (key,), f"unknown key '{key}' beside 'invoices'", key=True
                        )
                    )
                for index, item in enumerate(items):
                    yield from self.checked(Source(doc, ("invoices", index)), item, kind)
            else:
                yield from self.checked(Source(doc), doc.data, kind)

    def checked(
        self, source: Source, data: Any, kind: str
    ) -> Iterable[tuple[Source, dict[str, Any]]]:
        found = [source.problem(w, m, key=k) for w, k, m in schema.check(kind, data)]
        self.problems.extend(found)
        if found:
            self.reject(kind, source.doc.path, data)
        else:
            yield source, data

    def many(self, folder: str, kind: str, parse: Any) -> dict[str, Any]:
        """The entities of a folder's files, by id: `parse(reader, source, data)` builds one.
        Half the files are read by a second process when there are many (parallel.py): 10,000
        customers are seconds of Python, which the other core would spend idle."""

        def read(paths: list[str]) -> tuple[list[tuple[Source, Any]], list[Problem], Rejected]:
            part = _Reader(self.root, {})
            built = []
            for source, data in part.documents(paths, kind):
                entity = part.guarded(lambda s=source, d=data: parse(part, s, d))
                if entity is None:
                    part.reject(kind, source.doc.path, data)
                else:
                    built.append((source, entity))
            return built, part.problems, part.rejected

        out: dict[str, Any] = {}
        found: list[tuple[Source, Any]] = []
        for built, problems, rejected in parallel.halves(self.listing[folder], read):
            found += built
            self.absorb(problems, rejected)
        for source, entity in found:
            if _taken(self.problems, kind, entity, source, out):
                continue
            stem = Path(source.doc.path).stem
            if stem != entity.id:
                self.problems.append(
                    source.problem(
                        ("id",),
                        f"{kind} id '{entity.id}' differs from the file name '{stem}': "
                        f"name the file {entity.id}.yaml",
                        severity="warning",
                    )
                )
            out[entity.id] = entity
            self.sources[(kind, entity.id)] = source
        return out

    def guarded(self, parse: Any) -> Any:
        try:
            return parse()
        except _Invalid:
            return None

    def absorb(self, problems: list[Problem], rejected: Rejected) -> None:
        """What another reader (another process's) found, added to this one's."""
        self.problems += problems
        for kind, names in rejected.items():
            self.rejected.setdefault(kind, set()).update(names)

    def fail(self, source: Source, where: JsonPath, message: str) -> _Invalid:
        self.problems.append(source.problem(where, message))
        return _Invalid()

    # -- values ------------------------------------------------------------------------------

    def money(self, source: Source, where: JsonPath, value: Any, currency: str) -> Decimal:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
        places = _precision(currency)
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            example = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
            raise self.fail(
                source,
                where,
                f"{schema.label(where)}: {value} has more decimals than {currency} allows "
                f'({places}): write it as exact money, e.g. "{example}"',
            )
        return amount

    # -- kinds -------------------------------------------------------------------------------

    def settings(self) -> Settings:
        path = os.path.join(self.root, "settings.yaml")
        placeholder = Settings(
            Company("(settings.yaml missing)", "nobody@invalid"), FALLBACK_DEFAULTS
        )
        if os.path.islink(path) and not paths.is_inside(self.root, path):
            self.rejected["settings"] = {"settings"}  # load() names the link
            return placeholder
        if not os.path.exists(path):
            self.problems.append(
                Problem(
                    "settings.yaml",
                    1,
                    1,
                    "settings.yaml is missing: copy it from the sample repository",
                )
            )
            self.rejected["settings"] = {"settings"}
            return placeholder
        doc = self.read(path)
        if doc is None:
            self.rejected["settings"] = {"settings"}
            return placeholder
        if not isinstance(doc.data, dict):
            self.problems.append(
                Problem(doc.path, 1, 1, "file is not a mapping: expected settings")
            )
            self.rejected["settings"] = {"settings"}
            return placeholder
        source = Source(doc)
        if not list(self.checked(source, doc.data, "settings")):
            self.rejected["settings"] = {"settings"}
            return placeholder
        d = doc.data
        company = d["company"]
        payment = d.get("payment", {})
        instructions = payment.get("instructions", "")
        pairs = (
            tuple(instructions.items()) if isinstance(instructions, dict) else (("", instructions),)
        )
        email = d.get("email")
        sms = d.get("sms")
        interest = d.get("interest", {})
        git = d.get("git", {})
        self.sources[("settings", "settings")] = source
        defaults = Defaults(**d["defaults"])
        return Settings(
            company=Company(
                name=company["name"],
                email=company["email"],
                reply_to=company.get("reply_to"),
                phone=company.get("phone", ""),
                address=tuple(company.get("address", ())),
                vat=company.get("vat", ""),
                website=company.get("website", ""),
                country=company.get("country") or d.get("calendar", {}).get("country"),
                signatory=person(company["signatory"], "signatory")
                if "signatory" in company
                else None,
            ),
            defaults=defaults,
            payment=PaymentInfo(
                link=payment.get("link", ""),
                iban=payment.get("iban", ""),
                bic=payment.get("bic", ""),
                account=payment.get("account", ""),
                instructions=pairs,
                accounts=tuple(
                    BankAccount(
                        beneficiary=a["beneficiary"],
                        currencies=tuple(a.get("currencies", ())),
                        bank=a.get("bank", ""),
                        iban=a.get("iban", ""),
                        bic=a.get("bic", ""),
                        reg=a.get("reg", ""),
                        account=a.get("account", ""),
                        sort_code=a.get("sort_code", ""),
                        routing=a.get("routing", ""),
                    )
                    for a in payment.get("accounts", ())
                ),
            ),
            counsel=Counsel(
                name=d["counsel"]["name"],
                firm=d["counsel"]["firm"],
                address=tuple(d["counsel"]["address"]),
                email=d["counsel"].get("email", ""),
                phone=d["counsel"].get("phone", ""),
                reference=d["counsel"].get("reference", ""),
            )
            if "counsel" in d
            else None,
            email=EmailSettings(
                host=email["host"],
                port=email.get("port", 587),
                security=email.get("security", "starttls"),
                username_env=email.get("username_env", "SMTP_USERNAME"),
                password_env=email.get("password_env", "SMTP_PASSWORD"),
                sender=email.get("from"),
                timeout=float(email.get("timeout", 30)),
                max_connections=email.get("max_connections", DEFAULT_MAX_CONNECTIONS),
                bcc=email.get("bcc"),
                auth=email.get("auth", "login"),
            )
            if email
            else None,
            sms=SmsSettings(
                sender=_e164(sms["from"]) if sms.get("from") else None,
                messaging_service_sid=sms.get("messaging_service_sid"),
                account_sid_env=sms.get("account_sid_env", "TWILIO_ACCOUNT_SID"),
                auth_token_env=sms.get("auth_token_env", "TWILIO_AUTH_TOKEN"),
                max_segments=sms.get("max_segments", 3),
                api_base=sms.get("api_base"),
                status_days=sms.get("status_days", 7),
            )
            if sms is not None
            else None,
            inbound=_inbound(d.get("inbound")),
            hash_recipients=d.get("log", {}).get("hash_recipients", False),
            git_author_name=git.get("author_name", "nudge-bot"),
            git_author_email=git.get("author_email", "nudge-bot@users.noreply.invalid"),
            reference_rate=Decimal(str(interest["reference_rate"]))
            if "reference_rate" in interest
            else None,
            compensation=Decimal(str(interest.get("compensation", 40))),
            reference_rates=tuple(
                (country, Decimal(str(rate)))
                for country, rate in interest.get("reference_rates", {}).items()
            ),
            exchange_rates=tuple(
                (currency, Decimal(str(rate)))
                for currency, rate in interest.get("exchange_rates", {}).items()
            ),
            calendar=calendar(d.get("calendar", {})),
            start=_date(d.get("start")),
            staff=tuple(Contact(s["name"], s["role"], s["email"]) for s in d.get("staff", ())),
            deadline_minutes=float(d.get("run", {}).get("deadline_minutes", 20)),
        )

    def policy(self, source: Source, d: dict[str, Any], settings: Settings) -> Policy:
        steps = tuple(self.step(source, i, s) for i, s in enumerate(d["steps"]))
        seen: set[str] = set()
        for index, step in enumerate(steps):
            if step.id in seen:
                raise self.fail(source, ("steps", index, "id"), f"duplicate step id '{step.id}'")
            seen.add(step.id)
            timed = [s for s in steps[:index] if s.after is None]
            if step.after is None and timed and step.first_day < timed[-1].first_day:
                raise self.fail(
                    source,
                    ("steps", index),
                    f"steps[{index}]: step '{step.id}' starts on day {step.first_day}, before the "
                    f"step above it: list steps in the order they happen",
                )
        self.step_references(source, steps)
        self.first_contact(source, steps, d.get("first_contact"))
        fee = d.get("late_fee")
        return Policy(
            id=d["id"],
            steps=steps,
            description=d.get("description", ""),
            calendar=calendar(d["calendar"]) if "calendar" in d else settings.calendar,
            min_balance=Decimal(str(d.get("min_balance", 0))),
            catch_up=d.get("catch_up", 3),
            late_fee=self.late_fee(source, fee) if fee is not None else None,
            chase_fees=d.get("chase_fees", True),
            first_contact=d.get("first_contact"),
            path=source.doc.path,
        )

    def first_contact(self, source: Source, steps: tuple[Step, ...], name: str | None) -> None:
        """`first_contact` names a step with a day that writes to the customer."""
        if name is None:
            return
        step = next((s for s in steps if s.id == name), None)
        if step is None:
            hint = _closest(name, [s.id for s in steps])
            raise self.fail(
                source,
                ("first_contact",),
                f"first_contact: no step '{name}' in this policy"
                + (f" (did you mean '{hint}'?)" if hint else ""),
            )
        if step.after is not None or not set(step.channels) - {"task"}:
            raise self.fail(
                source,
                ("first_contact",),
                f"first_contact: step '{name}' cannot be a first contact: name a step with a day "
                "('at' or 'from') that sends the customer an e-mail, text or letter",
            )

    def step_references(self, source: Source, steps: tuple[Step, ...]) -> None:
        """A step `after` another must name one listed above it (so there is no cycle)."""
        for index, step in enumerate(steps):
            if step.after is None:
                continue
            earlier = [s.id for s in steps[:index]]
            if step.after.step not in earlier:
                where = ("steps", index, "after", "step")
                if step.after.step in {s.id for s in steps}:
                    raise self.fail(
                        source,
                        where,
                        f"steps[{index}] ('{step.id}'): it follows '{step.after.step}', which is "
                        "listed below it: list the step it follows first",
                    )
                hint = _closest(step.after.step, earlier)
                raise self.fail(
                    source,
                    where,
                    f"steps[{index}] ('{step.id}'): after: no step '{step.after.step}' above it"
                    + (f" (did you mean '{hint}'?)" if hint else ""),
                )

    def late_fee(self, source: Source, d: dict[str, Any]) -> LateFee:
        if ("percent" in d) == ("statutory" in d):
            raise self.fail(
                source,
                ("late_fee",),
                "late_fee: give either 'percent' (with every_days, from_day) or "
                "'statutory: eu', not both or neither",
            )
        percent = Decimal(str(d["percent"])) if "percent" in d else None
        return LateFee(percent, d.get("every_days", 30), d.get("from_day", 1), d.get("statutory"))

    def step(self, source: Source, index: int, d: dict[str, Any]) -> Step:
        where: JsonPath = ("steps", index)
        name = f"steps[{index}] ('{d['id']}')"
        ranged = "from" in d or "to" in d
        if ["at" in d, ranged, "after" in d].count(True) != 1:
            raise self.fail(
                source,
                where,
                f"{name}: give exactly one of 'at: DAY', a range 'from: DAY' + 'to: DAY', or "
                "'after: {step: STEP, business_days: N}'",
            )
        if ranged:
            if "from" not in d or "to" not in d:
                raise self.fail(source, where, f"{name}: a range needs both 'from' and 'to'")
            if d["from"] > d["to"]:
                raise self.fail(
                    source,
                    (*where, "to"),
                    f"{name}: 'to' ({d['to']}) is before 'from' ({d['from']})",
                )
            if ("every" in d) == ("weekdays" in d):
                raise self.fail(
                    source,
                    where,
                    f"{name}: a range repeats either 'every: DAYS' or on 'weekdays: "
                    "[mon, thu]': give exactly one",
                )
        elif "every" in d or "weekdays" in d:
            raise self.fail(
                source,
                where,
                f"{name}: 'every'/'weekdays' need a range ('from' and 'to'), not 'at'",
            )
        return Step(
            id=d["id"],
            channels=tuple(d["send"]),
            template=d["template"],
            at=d.get("at"),
            start=d.get("from"),
            end=d.get("to"),
            every=d.get("every"),
            weekdays=tuple(WEEKDAYS.index(w) for w in d.get("weekdays", ())),
            recipients=tuple(d.get("recipients", ())),
            cc=tuple(d.get("cc", ())),
            hold=d.get("hold", False),
            deadline_days=d.get("deadline_days"),
            catch_up=d.get("catch_up"),
            fee=Decimal(str(d["fee"])) if "fee" in d else None,
            description=d.get("description", ""),
            after=self.after(source, where, name, d),
            separate=d.get("separate", False),
            task_to=tuple(d.get("task_to", ())),
        )

    def after(self, source: Source, where: JsonPath, name: str, d: dict[str, Any]) -> After | None:
        if "after" not in d:
            return None
        if "fee" in d:
            raise self.fail(
                source,
                (*where, "fee"),
                f"{name}: a step that follows another ('after') cannot add a fee: put the fee on "
                "a step with a day ('at' or 'from')",
            )
        return After(d["after"]["step"], d["after"]["business_days"])

    def customer(self, source: Source, d: dict[str, Any], settings: Settings) -> Customer:
        owner = d.get("owner")
        defaults = settings.defaults
        return Customer(
            id=d["id"],
            name=d["name"],
            locale=d.get("locale", defaults.locale),
            timezone=d.get("timezone", defaults.timezone),
            policy=d.get("policy", defaults.policy),
            contacts=tuple(
                Contact(
                    c["name"],
                    c["role"],
                    c.get("email"),
                    _e164(c["phone"]) if "phone" in c else None,
                    gender=c.get("gender"),
                )
                for c in d["contacts"]
            ),
            owner=Contact(
                owner["name"],
                "owner",
                owner["email"],
                gender=owner.get("gender"),
                local_names=tuple(owner.get("name_local", {}).items()),
            )
            if owner
            else None,
            country=d.get("country"),
            law=d.get("law"),
            currency=d.get("currency"),
            address=tuple(d.get("address", ())),
            paused_until=_date(d.get("paused_until")),
            hold=d.get("hold", False),
            payers=tuple(
                Payer(p.get("name", ""), compact_iban(p.get("iban", "")))
                for p in d.get("payers", ())
            ),
            path=source.doc.path,
        )

    def invoice(
        self, source: Source, d: dict[str, Any], settings: Settings, customers: dict[str, Customer]
    ) -> Invoice:
        customer = customers.get(d["customer"])
        currency = (
            d.get("currency")
            or (customer.currency if customer else None)
            or (settings.defaults.currency)
        )
        money = self.money
        discount = d.get("discount")
        promise = d.get("promise")
        return Invoice(
            id=d["id"],
            customer=d["customer"],
            issued=date.fromisoformat(d["issued"]),
            due=date.fromisoformat(d["due"]),
            amount=money(source, ("amount",), d["amount"], currency),
            currency=currency,
            policy=d.get("policy"),
            description=d.get("description", ""),
            discount=Discount(
                Decimal(str(discount["percent"])), date.fromisoformat(discount["until"])
            )
            if discount
            else None,
            payments=tuple(
                Payment(
                    date.fromisoformat(p["date"]),
                    money(source, ("payments", i, "amount"), p["amount"], currency),
                    p.get("ref", ""),
                )
                for i, p in enumerate(d.get("payments", ()))
            ),
            promise=Promise(
                date.fromisoformat(promise["date"]),
                money(source, ("promise", "amount"), promise["amount"], currency)
                if "amount" in promise
                else None,
                promise.get("note", ""),
                _date(promise.get("made")),
            )
            if promise
            else None,
            disputed=d.get("disputed", False),
            dispute_reason=d.get("dispute_reason", ""),
            void=d.get("void", False),
            written_off=d.get("written_off", False),
            paused_until=_date(d.get("paused_until")),
            installments=tuple(
                Installment(
                    date.fromisoformat(x["due"]),
                    money(source, ("installments", i, "amount"), x["amount"], currency),
                )
                for i, x in enumerate(d.get("installments", ()))
            ),
            attachment=d.get("attachment"),
            law=latepay.law_of(customer, settings),
            path=source.doc.path,
        )


@cache
def _precision(currency: str) -> int:
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency))


def person(d: dict[str, Any], role: str) -> Contact:
    title = d.get("title", "")
    titles = title if isinstance(title, dict) else {}
    return Contact(
        d["name"],
        role,
        gender=d.get("gender"),
        title=title if isinstance(title, str) else next(iter(titles.values()), ""),
        local_names=tuple(d.get("name_local", {}).items()),
        local_titles=tuple(titles.items()),
    )


def calendar(d: dict[str, Any]) -> Calendar:
    closed = d.get("closed", ())
    return Calendar(
        country=d.get("country"),
        subdivision=d.get("subdivision"),
        weekends=tuple(WEEKDAYS.index(w) for w in d.get("weekends", ["sat", "sun"])),
        closed=frozenset(date.fromisoformat(x) for x in closed if len(x) == 10),
        closed_yearly=frozenset((int(x[:2]), int(x[3:])) for x in closed if len(x) == 5),
    )


def _closest(word: str, choices: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def compact_iban(text: str) -> str:
    """An IBAN as banks compare it: no spaces, upper case."""
    return "".join(text.split()).upper()


def _e164(number: str) -> str:
    """A number the schema checked (schema.is_phone), in E.164 form."""
    return schema.e164(number) or number


def _inbound(d: dict[str, Any] | None) -> InboundSettings | None:
    if d is None:
        return None
    security = d.get("security", "tls")
    return InboundSettings(
        address=d["address"],
        host=d["host"],
        username_env=d["username_env"],
        password_env=d["password_env"],
        port=d.get("port", 993 if security == "tls" else 143),
        security=security,
        folder=d.get("folder", "INBOX"),
        copies_folder=d.get("copies_folder"),
        reply_wait_days=d.get("reply_wait_days", 3),
        timeout=float(d.get("timeout", 30)),
        max_message_bytes=d.get("max_message_bytes", 10 * 1024 * 1024),
    )
