"""Cross-references and rendering checks: what a schema cannot see.

Each check yields Problems pinned to the file and line a person has to change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from jinja2 import FileSystemLoader

from runner import context, ledger, parallel, paths, sms
from runner.errors import Problem
from runner.loaded import Loaded, SourceOf
from runner.model import Customer, Invoice, Policy, Repository, Step, locale_chain
from runner.schedule import message_locale, recipients
from runner.simulate import paid_on
from runner.templates import Renderer, RenderError


def cross_references(loaded: Loaded, customers: set[str] | None = None) -> Iterator[Problem]:
    """What no single file shows: names that must exist, sums that must agree, contacts a
    policy needs. `customers`: only what concerns these (their files, invoices and policies'
    pairs), the rest being known to be right (another revision's unchanged part); None: all."""
    repo = loaded.repo
    if customers is not None:  # what is gone through; names are looked up in the whole
        repo = replace(
            repo,
            customers={c: repo.customers[c] for c in customers if c in repo.customers},
            invoices={i: v for i, v in repo.invoices.items() if v.customer in customers},
        )
    # settings.yaml's place, unless it could not be read (looked up for a problem to place)
    read = "settings" not in loaded.rejected
    settings_src = loaded.source_of("settings", "settings") if read else None
    policy = repo.settings.defaults.policy
    if settings_src and policy not in repo.policies and not loaded.was_rejected("policy", policy):
        yield settings_src.problem(
            ("defaults", "policy"), _unknown("policy", repo.settings.defaults.policy, repo.policies)
        )
    for customer in repo.customers.values():
        if customer.policy not in repo.policies and not loaded.was_rejected(
            "policy", customer.policy
        ):
            yield loaded.source_of("customer", customer.id).problem(
                ("policy",), _unknown("policy", customer.policy, repo.policies)
            )
    payment = repo.settings.payment
    if settings_src and not (
        payment.link
        or payment.iban
        or payment.account
        or any(text for _, text in payment.instructions)
    ):
        yield settings_src.problem(
            ("company",),
            "settings.yaml says nowhere how to pay: add "
            "payment.link, payment.iban or payment.instructions (every "
            "message includes them)",
        )
    for policy_ in repo.policies.values():
        yield from _tasks_stay_inside(loaded, policy_)
    for invoice in repo.invoices.values():
        yield from _invoice(loaded, invoice)
    pairs = list(_customer_policies(repo))
    yield from _missing_templates(loaded, pairs)
    for customer, used in pairs:
        yield from _customer_against_policy(loaded, customer, used)


def _tasks_stay_inside(loaded: Loaded, policy: Policy) -> Iterator[Problem]:
    """A task is for our own people: the owner, or a role under `staff` in settings.yaml."""
    ours = {"owner", *(c.role for c in loaded.repo.settings.staff)}
    source = loaded.source_of("policy", policy.id)
    for index, step in enumerate(policy.steps):
        if step.task_to and "task" not in step.channels:
            yield source.problem(
                ("steps", index, "task_to"),
                f"step '{step.id}' names task_to but sends no task: add task to 'send' or "
                "remove task_to",
            )
        if "task" not in step.channels:
            continue
        field = "task_to" if step.task_to else "recipients"
        for role in step.roles_for("task"):
            if role not in ours:
                yield source.problem(
                    ("steps", index, field),
                    f"step '{step.id}' would send its task to '{role}', which is not one of our "
                    "own people: a task goes to owner or to a role under 'staff' in "
                    "settings.yaml, never to a customer's contact",
                )


def _unknown(kind: str, name: str, known: Mapping[str, object]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    hint = (
        f" (did you mean '{close[0]}'?)"
        if close
        else (f" (known: {', '.join(sorted(known)) or 'none'})")
    )
    return f"{kind} '{name}' does not exist{hint}"


def _invoice(loaded: Loaded, invoice: Invoice) -> Iterator[Problem]:
    repo = loaded.repo
    source = loaded.source_of("invoice", invoice.id)
    if invoice.customer not in repo.customers and not loaded.was_rejected(
        "customer", invoice.customer
    ):
        yield source.problem(("customer",), _unknown("customer", invoice.customer, repo.customers))
    if (
        invoice.policy
        and invoice.policy not in repo.policies
        and not loaded.was_rejected("policy", invoice.policy)
    ):
        yield source.problem(("policy",), _unknown("policy", invoice.policy, repo.policies))
    if invoice.due < invoice.issued:
        yield source.problem(("due",), f"due ({invoice.due}) is before issued ({invoice.issued})")
    if invoice.installments:
        planned = sum((i.amount for i in invoice.installments), Decimal(0))
        if planned != invoice.amount:
            yield source.problem(
                ("installments",),
                f"installments add up to {planned}, but the amount is {invoice.amount}: "
                "make them equal",
            )
    paid = sum((p.amount for p in invoice.payments), Decimal(0))
    if paid > invoice.amount + ledger.late_fees(
        invoice,
        repo.policy_for(invoice),
        repo.settings,
        max((p.date for p in invoice.payments), default=invoice.due),
    ):
        yield source.problem(
            ("payments",),
            f"payments add up to {paid}, more than the {invoice.amount} owed: check for a "
            "duplicate payment, or record the credit note",
            severity="warning",
        )


def _customer_policies(repo: Repository) -> Iterator[tuple[Customer, Policy]]:
    """Every (customer, policy) pair that can occur: the customer's own and invoice overrides."""
    pairs: dict[tuple[str, str], tuple[Customer, Policy]] = {}
    for customer in repo.customers.values():
        if customer.policy in repo.policies:
            pairs[(customer.id, customer.policy)] = (customer, repo.policies[customer.policy])
    for invoice in repo.invoices.values():
        owner = repo.customers.get(invoice.customer)
        policy = repo.policy_for(invoice)
        if owner and policy:
            pairs[(owner.id, policy.id)] = (owner, policy)
    yield from (pairs[key] for key in sorted(pairs))


def _missing_templates(loaded: Loaded, pairs: list[tuple[Customer, Policy]]) -> Iterator[Problem]:
    """One problem per step, channel and locale without a template, naming who would miss it."""
    repo = loaded.repo
    missing: dict[tuple[str, int, str, str], list[str]] = {}
    for customer, policy in pairs:
        for index, step in enumerate(policy.steps):
            for channel in step.channels:
                locale = message_locale(repo, customer.locale, channel)
                if repo.template_for(step.template, locale, channel) is None:
                    key = (policy.id, index, channel, locale)
                    missing.setdefault(key, []).append(customer.id)
    for (policy_id, index, channel, locale), customers in sorted(missing.items()):
        step = repo.policies[policy_id].steps[index]
        tried = ", ".join(
            f"{c}.{channel}.j2" for c in locale_chain(locale, repo.settings.defaults.locale)
        )
        yield loaded.sources[("policy", policy_id)].problem(
            ("steps", index, "template"),
            f"step '{step.id}' has no {channel} template '{step.template}' for locale '{locale}' "
            f"(customers: {', '.join(customers)}): add templates/{step.template}/ one of {tried}",
        )


def _customer_against_policy(
    loaded: Loaded, customer: Customer, policy: Policy
) -> Iterator[Problem]:
    customer_src = loaded.source_of("customer", customer.id)
    repo = loaded.repo
    for step in policy.steps:
        for channel in step.channels:
            for role in (*step.roles_for(channel), *step.cc_for(channel)):
                contacts = repo.people(customer, role, channel)
                if channel == "task" and role != "owner":
                    continue  # our staff: checked with the policy (_tasks_stay_inside)
                if not contacts:
                    yield customer_src.problem(
                        ("contacts",),
                        f"policy '{policy.id}' step '{step.id}' sends to role '{role}', but "
                        f"customer {customer.id} has no contact with that role: add one",
                    )
                    continue
                need = {"sms": "phone", "email": "email", "task": "email"}.get(channel)
                if (
                    role in step.roles_for(channel)
                    and need
                    and not any(getattr(c, need) for c in contacts)
                ):
                    yield customer_src.problem(
                        ("contacts",),
                        f"policy '{policy.id}' step '{step.id}' sends {channel} to role '{role}', "
                        f"but no '{role}' contact of customer {customer.id} has {_article(need)}",
                    )
            if channel == "letter" and not customer.address:
                yield customer_src.problem(
                    ("name",),
                    f"policy '{policy.id}' step '{step.id}' sends a letter, but customer "
                    f"{customer.id} has no 'address'",
                )
    if customer.address and any("letter" in step.channels for step in policy.steps):
        yield from _window_lines(customer_src, customer)


def _window_lines(source: SourceOf, customer: Customer) -> Iterator[Problem]:
    """A letter's address shows in an envelope's window: 6 lines in a DIN 5008 window (A4),
    5 in a US #10 window (US Letter), the customer's name included. The letter layout sets
    up to 9 (7 in the US) in smaller type; lines beyond those fall outside the window."""
    window, most, fits = ("US #10", 5, 7) if customer.country == "US" else ("DIN 5008", 6, 9)
    lines = 1 + len(customer.address)
    if lines > most:
        hidden = f", and the envelope hides the lines after the {fits}th" if lines > fits else ""
        yield source.problem(
            ("address",),
            f"the address has {lines} lines with the name, more than the {most} a {window} "
            f"envelope window shows: letters print it in smaller type{hidden}; shorten it to "
            f"{most} lines",
            severity="warning",
        )


def _article(need: str) -> str:
    return "a phone number" if need == "phone" else "an e-mail address"


# -- templates ---------------------------------------------------------------------------------


class Precompiling:
    """Every template compiled into the bytecode cache by a forked copy (parallel.meanwhile)
    while this process reads the files without a snapshot (`repository.load(cold=start)`): the
    load leaves the other core idle for a second or two at 100k invoices (settings, policies,
    cross-references), and the template checks that follow it then read what they would have
    compiled back from the cache (`compiled()`). Nothing is started with a snapshot, with a
    few templates, with no bytecode cache, or with fewer than PRECOMPILE_FROM data files (the
    load would be over long before the copy, and waiting for it costs more than compiling in
    two processes as `templates` does: the sample repository 1.4 -> 2.0 s)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._wait: Callable[[], bool] | None = None

    def start(self, names: list[str], files: int) -> None:
        if files < PRECOMPILE_FROM or len(names) < PARALLEL_COMPILES // 2:  # see the class
            return
        renderer = Renderer(FileSystemLoader(str(self.root / "templates")))
        if not renderer.caches_bytecode():
            return

        def work() -> None:
            for kind, name in _compile_jobs(names):
                renderer.precompile(kind, [name])

        self._wait = parallel.meanwhile(work)

    def compiled(self) -> bool:
        """Waits for the copy, if one was started: whether every template is in the cache
        (bar those that do not compile: the checks compile them again and say why)."""
        done = self._wait is not None and self._wait()
        self._wait = None
        return done


def all_problems(loaded: Loaded, root: Path, compiled: bool = False) -> list[Problem]:
    """Every problem `validate` finds, sorted. The template checks (the slow part) are kept with
    the load, beside its snapshot, so the next command on unchanged files does not render again.
    `compiled`: every template is in the bytecode cache already (Precompiling)."""
    if loaded.template_problems is None:
        loaded.template_problems = list(templates(loaded, root, compiled))
        from runner import snapshot

        snapshot.save_checks(root, loaded)
    found = loaded.problems + loaded.template_problems + list(attachments(loaded, root))
    return sorted(set(found))


def attachments(loaded: Loaded, root: Path) -> Iterator[Problem]:
    """Invoice PDFs: inside the repository (never a file a link leads out to), and there.
    Checked on every load: the files are not among those a snapshot is keyed by."""
    for invoice in loaded.repo.invoices.values():
        if not invoice.attachment:
            continue
        path = root / invoice.attachment
        where = loaded.source_of("invoice", invoice.id)  # read only for a problem to place
        if not paths.is_inside(root, path):
            yield where.problem(
                ("attachment",),
                f"attachment: '{invoice.attachment}' is outside the repository (or a link "
                "leading out of it): Nudge attaches only files inside the repository",
            )
        elif not path.is_file():
            yield where.problem(
                ("attachment",),
                f"attachment: '{invoice.attachment}' does not exist: e-mails go without it",
                severity="warning",
            )


Lengths = tuple[tuple[int, bool], ...]  # of the texts of an SMS that vary (`_text_lengths`)
PARALLEL_RENDERS = 400  # different renders; fewer are done in this process alone
HTML_TEMPLATES = ("email.j2", "letter.j2")  # e-mails and letters, and (`_in_html`) the shared
PARALLEL_COMPILES = 40  # templates to compile (in two environments) before a copy helps
PRECOMPILE_FROM = 20000  # data files (10,000 load in about the time 100 templates compile)
TRIAL_BYTES = 36  # of template compiled in the time a customer's trials take (0.29 ms; 8 us a byte)


@dataclass(frozen=True)
class Trial:
    """One render `validate` does: a template on the data of the first customer of its shape."""

    template: str
    channel: str
    customer: Customer
    step: Step
    sample: Sample


def templates(loaded: Loaded, root: Path, compiled: bool = False) -> Iterator[Problem]:
    """Every template parses; every one a customer would get renders against their data.
    `compiled`: every template is in the bytecode cache already (Precompiling)."""
    repo = loaded.repo
    renderer = Renderer(FileSystemLoader(str(root / "templates")))
    if compiled:
        found_trials = list(_trials(repo))
    else:
        found_trials = _compile_and_find_trials(repo, renderer, root)
    seen: set[tuple[str, int, str]] = set()
    for name in sorted(repo.templates):
        try:
            renderer.check_syntax(name)
        except RenderError as exc:
            problem = _template_problem(exc, root, seen)
            if problem.message:
                yield problem
    # Every other one to each half: the first renders of each template and locale (the
    # locale's data) are the slow ones, and they come early in the list.
    trials = found_trials[0::2] + found_trials[1::2]

    def render_all(part: list[Trial]) -> tuple[list[Problem], dict[str, sms.SmsLength]]:
        longest: dict[str, sms.SmsLength] = {}
        return list(_render(repo, renderer, root, part, set(seen), longest)), longest

    # Many renders: half of them done in a second process (parallel.py), problems merged (and
    # sorted by the caller). Every template is compiled by now, here: the copy inherits them.
    renderer.precompile("html", [n for n in sorted(repo.templates) if _in_html(n)])
    longest: dict[str, sms.SmsLength] = {}
    for found, lengths in parallel.halves(trials, render_all, least=PARALLEL_RENDERS):
        for problem in found:
            key = (problem.path, problem.line, problem.message)
            if key not in seen:
                seen.add(key)
                yield problem
        for name, length in lengths.items():
            _keep_longest(longest, name, length)
    if repo.settings.sms:
        yield from _too_long(longest, repo.settings.sms.max_segments)


def _in_html(name: str) -> bool:
    """Whether a template is rendered as HTML too: e-mails, letters, and what they import."""
    return name.endswith(HTML_TEMPLATES) or name.startswith("_")


def _compile_and_find_trials(repo: Repository, renderer: Renderer, root: Path) -> list[Trial]:
    """Every template compiled for plain text (what `check_syntax` asks for) and for HTML where
    one is rendered so, and the trials found (`_trials`). Compiling is seconds of Python for a
    hundred templates: with a bytecode cache a forked copy compiles its share meanwhile
    (parallel.py) and this process reads them back from the cache instead (milliseconds)."""
    jobs = _compile_jobs(sorted(repo.templates))
    folder = root / "templates"
    cost = {job: _size(folder / job[1]) for job in jobs}
    # Two bundles of about the same work: this process's also finds the trials, which take
    # about as long as compiling TRIAL_BYTES of template per customer.
    loads = [len(repo.customers) * TRIAL_BYTES, 0]
    bundles: list[list[tuple[str, str]]] = [[("trials", "")], []]
    for job in sorted(jobs, key=lambda j: (-cost[j], j)):
        lighter = 0 if loads[0] <= loads[1] else 1
        bundles[lighter].append(job)
        loads[lighter] += cost[job]

    def work(part: list[list[tuple[str, str]]]) -> list[Trial]:
        found: list[Trial] = []
        for kind, name in (job for bundle in part for job in bundle):
            if kind == "trials":
                found = list(_trials(repo))
            else:
                renderer.precompile(kind, [name])
        return found

    if not renderer.caches_bytecode() or len(jobs) < PARALLEL_COMPILES:
        return work(bundles)  # no cache to hand the copy's work back through, or little work
    return parallel.halves(bundles, work, least=2)[0]


def _compile_jobs(names: list[str]) -> list[tuple[str, str]]:
    """(environment, template) for every compile the checks ask for: each template for plain
    text (what `check_syntax` asks for), and for HTML the ones rendered so."""
    return [("plain", n) for n in names] + [("html", n) for n in names if _in_html(n)]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _trials(repo: Repository) -> Iterator[Trial]:
    """Each template a customer would get, once per shape of their data (`_shape`). Of SMS
    trials of one shape only those whose texts no other's outdo (`_outdone`) are rendered."""
    rendered: set[tuple[object, ...]] = set()
    measured = repo.settings.sms is not None
    texts: dict[tuple[object, ...], dict[Lengths, Trial]] = {}
    for customer, policy in _customer_policies(repo):
        own = sorted(
            (
                i
                for i in repo.invoices_of(customer.id)
                if repo.policy_for(i) is policy and not i.void
            ),
            key=lambda i: (i.due, i.id),
        )
        open_on = OpenOn(own)
        for step in policy.steps:
            sample = sample_invoice(repo, customer, policy, step, own, open_on)
            for channel in step.channels:
                locale = message_locale(repo, customer.locale, channel)
                found = repo.template_for(step.template, locale, channel)
                if found is None:
                    continue
                shape = _shape(found, channel, customer, step, sample)
                trial = Trial(found, channel, customer, step, sample)
                if channel == "sms":
                    lengths = _text_lengths(customer, sample) if measured else ()
                    shape += (len(lengths),)
                    texts.setdefault(shape, {}).setdefault(lengths, trial)
                elif shape not in rendered:  # else a customer of this shape rendered it already
                    rendered.add(shape)
                    yield trial
    for by_lengths in texts.values():
        # Whatever outdoes a trial comes before it in this order, and so does whatever outdoes
        # that one: comparing with the trials kept is enough.
        kept: list[Lengths] = []
        for lengths in sorted(by_lengths, key=_weight, reverse=True):
            if not any(_outdone(lengths, other) for other in kept):
                kept.append(lengths)
        keep = set(kept)
        yield from (trial for lengths, trial in by_lengths.items() if lengths in keep)


def _weight(lengths: Lengths) -> tuple[int, int]:
    return sum(n for n, _ in lengths), sum(1 for _, gsm in lengths if not gsm)


def _outdone(lengths: Lengths, other: Lengths) -> bool:
    """Whether an SMS with these texts cannot be longer than one with another's: each of the
    other's texts at least as long, and not GSM-7 where this one's is not (one character out of
    GSM-7 makes the whole SMS UCS-2, of shorter segments). The template and the rest of the
    shape being the same, the other's SMS has at least as many segments."""
    return all(
        n <= m and (gsm or not other_gsm)
        for (n, gsm), (m, other_gsm) in zip(lengths, other, strict=True)
    )


def _render(
    repo: Repository,
    renderer: Renderer,
    root: Path,
    trials: list[Trial],
    seen: set[tuple[str, int, str]],
    longest: dict[str, sms.SmsLength],
) -> Iterator[Problem]:
    """The problems of these renders; the longest SMS of each template put in `longest`."""
    for trial in trials:
        ctx = sample_context(repo, trial.customer, trial.step, trial.channel, trial.sample)
        try:
            message = renderer.render(trial.template, trial.channel, ctx)
        except RenderError as exc:
            problem = _template_problem(exc, root, seen)
            if problem.message:
                yield problem
            continue
        if trial.channel == "sms" and repo.settings.sms:  # measured only against a limit
            _keep_longest(longest, trial.template, sms.measure(message.text.strip()))


@dataclass(frozen=True)
class Sample:
    """The invoice a customer's template is tried on, the day it is tried, and its neighbours."""

    invoice: Invoice
    day: date
    others_open: int  # other invoices of the customer still unpaid that day (the statement)
    repo: Repository


class OpenOn:
    """Whether an invoice is issued and not paid in full on a day. The day payments reach the
    amount is found once per invoice (unless one was reversed), not summed again for every
    step's day: `validate` asks this of every invoice for every step of every customer."""

    def __init__(self, invoices: list[Invoice]) -> None:
        self.paid_in_full: dict[int, date | None] = {
            id(i): paid_on(i) for i in invoices if all(p.amount >= 0 for p in i.payments)
        }

    def __call__(self, invoice: Invoice, day: date) -> bool:
        if invoice.issued > day:
            return False
        key = id(invoice)
        if key not in self.paid_in_full:
            return invoice.paid_by(day) < invoice.amount
        full = self.paid_in_full[key]
        return full is None or day < full


def sample_invoice(
    repo: Repository,
    customer: Customer,
    policy: Policy,
    step: Step,
    own: list[Invoice],
    open_on: OpenOn | None = None,
) -> Sample:
    """The customer's latest invoice that reaches this step unpaid, or a stand-in of theirs."""
    is_open = open_on or OpenOn(own)
    for invoice in reversed(own):
        day = invoice.due + timedelta(days=step.first_day)
        if is_open(invoice, day):
            others = sum(1 for i in own if i is not invoice and is_open(i, day))
            return Sample(invoice, day, others, repo)
    stand_in = Invoice(
        id="SAMPLE-1",
        customer=customer.id,
        issued=date(2026, 1, 1),
        due=date(2026, 1, 31),
        amount=Decimal("1000.00"),
        currency=customer.currency or repo.settings.defaults.currency,
        policy=policy.id,
        description="Sample invoice",
    )
    theirs = {i.id: i for i in repo.invoices_of(customer.id)}
    return Sample(
        stand_in,
        stand_in.due + timedelta(days=step.first_day),
        0,
        replace(repo, invoices={**theirs, stand_in.id: stand_in}),
    )


def _shape(
    template: str, channel: str, customer: Customer, step: Step, sample: Sample
) -> tuple[object, ...]:
    """What about a context can make a template fail: which values are there, not what they say.

    Two customers with the same shape render the same template the same way, as far as errors
    go, so a repository of 10,000 customers renders each template a few times, not 10,000.
    For an SMS the months named and the count of other open invoices matter too (the words
    differ); the lengths of its texts are `_text_lengths`.
    """
    invoice = sample.invoice
    roles = tuple(sorted({c.role for c in customer.contacts}))
    shape: tuple[object, ...] = (
        template,
        customer.locale,
        bool(customer.owner),
        bool(customer.address),
        customer.hold,
        roles,
        invoice.currency,
        invoice.discount is not None,
        bool(invoice.installments),
        invoice.promise is not None,
        invoice.promise_broken(sample.day),
        step.deadline_days is not None,
    )
    if channel == "sms":  # what changes the words of an SMS besides its texts' lengths
        shape += (sample.day.month, invoice.due.month, sample.others_open)
    return shape


def _text_lengths(customer: Customer, sample: Sample) -> Lengths:
    """The length and alphabet (GSM-7 or not) of every text of an SMS that varies from customer
    to customer: equal ones measure the same."""
    invoice = sample.invoice
    texts = [
        customer.name,
        *(c.name for c in customer.contacts),
        invoice.id,
        str(invoice.amount),
        invoice.description,
    ]
    return tuple((len(t), _gsm(t)) for t in texts)


def _gsm(text: str) -> bool:
    return sms.measure(text).encoding == "GSM-7"


def sample_context(
    repo: Repository, customer: Customer, step: Step, channel: str, sample: Sample
) -> dict[str, object]:
    """The template context of the sample invoice on the step's day."""
    to, cc = recipients(sample.repo, customer, step, channel)
    locale = message_locale(repo, customer.locale, channel)
    return context.build(sample.repo, customer, step, [sample.invoice], to, locale, sample.day, cc)


def _keep_longest(longest: dict[str, sms.SmsLength], name: str, length: sms.SmsLength) -> None:
    kept = longest.get(name)
    if kept is None or (length.segments, length.units) > (kept.segments, kept.units):
        longest[name] = length


def _too_long(longest: dict[str, sms.SmsLength], limit: int) -> Iterator[Problem]:
    """One problem per SMS template a customer would get longer than the limit: its longest."""
    for name, length in sorted(longest.items()):
        if length.segments > limit:
            yield Problem(
                f"templates/{name}",
                1,
                1,
                f"SMS is {length.units} {length.encoding} characters = {length.segments} "
                f"segments, more than settings sms.max_segments ({limit}): shorten it",
            )


def _template_problem(exc: RenderError, root: Path, seen: set[tuple[str, int, str]]) -> Problem:
    path = exc.template
    base = str(root / "templates")
    if path.startswith(base):
        path = "templates" + path[len(base) :]
    elif not path.startswith("templates/"):
        path = f"templates/{path}"
    key = (path, exc.line, exc.message)
    if key in seen:
        return Problem(path, exc.line, 1, "")
    seen.add(key)
    return Problem(path, exc.line, 1, f"template error: {exc.message}")
