"""The summary of the send log's closed months: what they still say about open work.

The log (`log/YYYY/MM.jsonl`) is append-only and grows every month; the daily commands' work
does not: it is the open invoices. So `run`, `plan` and `validate` read the months after the
summary's last one in full and, for the months up to it, `log/summary.json`: the entries of those
months that can still matter, verbatim. Which is, from the months it covers:

- every entry about an invoice that was open on the summary's day (`made`): its deliveries (the
  outcome of each; the claim too while there is none), its contacts by hand, what came back
  about it. That is what the schedule reads of an invoice: its keys, the first send of a step
  another step follows, the hold, the contact history a message tells;
- every delivery whose outcome is not known yet (a person still has to resolve it);
- the latest opt-out or opt-in of each number;
- for each address and number, the latest entry of each kind that came back about it: what
  makes it unreachable, or working again;
- what came back that may still open a task for the owner (no task sent for it yet), and the
  task deliveries of everything kept;
- any entry of a kind this version does not know.

What is left out is only about invoices settled, void or written off on that day (or no longer
in the repository), with every delivery's outcome known. The summary is derived from the log
alone plus the list of open invoices it names, so `nudge log summary --check` makes it again from
the log and compares (CI does). It never hides a sent message from the daily commands, because
they use it only when all of these hold, and otherwise read the whole log (and say why):

1. every month file it covers has the size it had when it was made, and no month was added
   below its last one (a late union merge, a run or a note with an old --today);
2. every invoice that may still get a reminder or be in a statement, and that could have
   entries in those months (issued before its last month ended, plus time zones), is one it
   kept: open then, so all its entries are in it. An invoice open again since (a payment
   removed, an invoice restored) sends the daily commands back to the whole log;
3. the months read in full reach back far enough for what looks back in time (the SMS status
   of the last `sms.status_days` days).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from runner import claims, sendlog
from runner.errors import NudgeError
from runner.model import Invoice, Repository
from runner.sendlog import Entry, LogIndex, ReadReport, share

FORMAT = "nudge-log-summary-1"
PATH = "log/summary.json"
HORIZON_DAYS = 31  # the months read in full reach at least this far back from the summary's day
ISSUE_MARGIN = timedelta(days=2)  # a run's company date and a customer's differ by a day at most


@dataclass(frozen=True)
class Month:
    """A log file the summary covers, as it was when the summary was made."""

    name: str  # YYYY/MM
    size: int
    sha256: str


@dataclass(frozen=True)
class Summary:
    through: str  # YYYY/MM: the last month covered
    made: date  # the day whose open invoices it keeps
    months: tuple[Month, ...]
    kept: frozenset[str]  # the invoices open on `made` that could have entries in its months
    entries: tuple[Entry, ...]

    @property
    def last_day(self) -> date:
        """The last day of the last month covered."""
        return _last_day(self.through)


# -- what is kept: the pure core ----------------------------------------------------------------


def select(entries: Iterable[Entry], kept: frozenset[str]) -> list[Entry]:
    """The entries (of the months a summary covers) that can still matter once those months are
    no longer read, for `kept`, the invoices open on the summary's day; in time order."""
    from runner.feedback.tasks import owes_task, task_keys

    entries = list(entries)
    folded = sendlog.index(entries)
    unsettled = {e.delivery for e in folded.unknown}
    groups: dict[str, list[Entry]] = {}
    by_key: dict[str, set[str]] = {}
    chosen: dict[int, Entry] = {}  # id(entry) -> entry
    latest: dict[tuple[str, ...], Entry] = {}
    for entry in entries:
        status = entry.status
        if status in sendlog.DELIVERY_STATUSES:
            groups.setdefault(entry.delivery, []).append(entry)
            for key in entry.keys:
                by_key.setdefault(key, set()).add(entry.delivery)
        elif status in ("optout", "optin"):
            _latest(latest, ("phone", str(entry.get("phone"))), entry)
        elif status in sendlog.FEEDBACK_STATUSES:
            if _about(entry, kept) or owes_task(entry, folded):
                chosen[id(entry)] = entry
            for subject in _subjects(entry):
                _latest(latest, (*subject, status, str(entry.get("permanent", True))), entry)
        elif status == "note":
            if _about(entry, kept):
                chosen[id(entry)] = entry
        else:
            chosen[id(entry)] = entry  # a kind this version does not know: keep it
    chosen.update((id(e), e) for e in latest.values())
    wanted = {
        d for d, group in groups.items() if d in unsettled or any(_about(e, kept) for e in group)
    }
    for entry in list(chosen.values()):
        if entry.status in sendlog.FEEDBACK_STATUSES:
            for key in task_keys(entry):
                wanted |= by_key.get(key, set())
    for delivery in wanted:
        settled = delivery not in unsettled
        chosen.update(
            (id(e), e)
            for e in groups[delivery]
            if not (settled and e.status in sendlog.CLAIM_STATUSES)
        )
    return sorted(chosen.values(), key=sendlog.time_order)


def _latest(latest: dict[tuple[str, ...], Entry], subject: tuple[str, ...], entry: Entry) -> None:
    current = latest.get(subject)
    if current is None or sendlog.time_order(entry) >= sendlog.time_order(current):
        latest[subject] = entry


def _subjects(entry: Entry) -> list[tuple[str, str]]:
    """What an entry that came back is about: an address (bounce, reply) or a number."""
    found = []
    for field, lower in (("address", True), ("from", True), ("phone", False)):
        value = entry.get(field)
        if value:
            text = str(value)
            found.append((field, text.lower() if lower else text))
    return found


def _about(entry: Entry, invoices: frozenset[str]) -> bool:
    """Whether an entry names one of the invoices, in its invoices or its keys."""
    named = entry.get("invoices") or ()
    if isinstance(named, list) and any(str(i) in invoices for i in named):
        return True
    return any(sendlog.invoice_of(str(key)) in invoices for key in entry.keys)


def _open(repo: Repository, day: date) -> list[Invoice]:
    """The invoices that may still get a reminder or be in a statement on `day` or after."""
    from runner.simulate import open_on

    return list(open_on(repo, day).invoices.values())


def uncovered(summary: Summary, invoices: Iterable[Invoice]) -> list[str]:
    """Of `invoices` (those that may still matter on a day), the ones that may have entries in
    the summary's months but that it did not keep: open again since it was made, or the day is
    before it."""
    issued_by = summary.last_day + ISSUE_MARGIN
    return sorted(
        invoice.id
        for invoice in invoices
        if invoice.issued <= issued_by and invoice.id not in summary.kept
    )


# -- the file -----------------------------------------------------------------------------------


def dumps(summary: Summary) -> str:
    """The summary as its file holds it: stable, one entry a line."""
    head = {
        "format": FORMAT,
        "through": summary.through,
        "made": summary.made.isoformat(),
        "months": [{"month": m.name, "size": m.size, "sha256": m.sha256} for m in summary.months],
        "kept": sorted(summary.kept),
    }
    lines = [json.dumps(head, ensure_ascii=False, sort_keys=True)[:-1] + ', "entries": [']
    body = [json.dumps(e.raw, ensure_ascii=False, sort_keys=True) for e in summary.entries]
    lines += [f"{line}," for line in body[:-1]] + body[-1:]
    return "\n".join([*lines, "]}"]) + "\n"


def loads(text: str) -> Summary:
    """The summary a file holds; ValueError saying what is wrong with it."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a summary this version reads (format {FORMAT})")
    try:
        months = tuple(
            Month(str(m["month"]), int(m["size"]), str(m["sha256"])) for m in data["months"]
        )
        strings: dict[str, str] = {}
        entries = tuple(
            Entry(share(raw, strings)) for raw in data["entries"] if isinstance(raw, dict)
        )
        return Summary(
            through=str(data["through"]),
            made=date.fromisoformat(data["made"]),
            months=months,
            kept=frozenset(str(i) for i in data["kept"]),
            entries=entries,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a field is missing or wrong ({exc})") from None


def load(root: Path) -> Summary | None:
    """The repository's summary, None if it has none; NudgeError if it cannot be read."""
    path = root / PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NudgeError(f"{PATH}: cannot read it ({exc.strerror})") from None
    try:
        return loads(text)
    except ValueError as exc:
        raise NudgeError(f"{PATH}: {exc}") from None


# -- reading the log with it --------------------------------------------------------------------


@dataclass
class Read:
    """The log as the daily commands read it, and how."""

    index: LogIndex
    report: ReadReport
    summary: Summary | None  # the summary used; None: the whole log was read
    why: str  # why the whole log was read ("" when the summary was used or there is none)


def months(root: Path) -> dict[str, Path]:
    """Every log file by its month, YYYY/MM."""
    return {sendlog.month_of(path): path for path in sendlog.log_files(root)}


def stale(root: Path, summary: Summary, files: dict[str, Path] | None = None) -> str:
    """Why the log files no longer are what the summary covers ("" if they are): a file it
    covers changed size or went, or a month up to its last one was added."""
    files = months(root) if files is None else files
    covered = {m.name: m for m in summary.months}
    for name, month in covered.items():
        path = files.get(name)
        if path is None:
            return f"log/{name}.jsonl is gone"
        size = path.stat().st_size
        if size != month.size:
            return f"log/{name}.jsonl changed since it was made ({month.size} -> {size} bytes)"
    added = [n for n in files if n <= summary.through and n not in covered]
    if added:
        return f"log/{added[0]}.jsonl was added since it was made"
    return ""


def looks_back(repo: Repository) -> int:
    """How many days back a daily command looks at the log by date (the SMS status asked for)."""
    sms = repo.settings.sms
    return sms.status_days if sms else 0


def horizon(repo: Repository) -> int:
    """How many days before its day a summary stops: the months after it, read in full, reach
    back at least that far."""
    return max(HORIZON_DAYS, looks_back(repo) + 1)


def read(root: Path, pools: Sequence[Repository], day: date) -> Read:
    """The log for the daily commands on `day`: the summary and the months after it when they
    are enough for `pools` (the invoices that may still matter on `day`, simulate.open_on, of
    each repository the command decides on), else the whole log."""
    open_invoices = [i for pool in pools for i in pool.invoices.values()]
    horizon_days = max(looks_back(pool) for pool in pools)
    files = months(root)
    try:
        summary = load(root)
    except NudgeError as exc:
        summary, why = None, str(exc)
    else:
        why = ""
        if summary is not None:
            why = _unusable(root, summary, files, open_invoices, day, horizon_days)
    if summary is None or why or day < summary.made:
        report = sendlog.read(root, files=list(files.values()))
        return Read(claims.indexed(report.entries), report, None, why)
    later = [path for name, path in files.items() if name > summary.through]
    report = sendlog.read(root, files=later)
    seen = {e.id for e in report.entries if e.id}
    report.entries[:0] = [e for e in summary.entries if not e.id or e.id not in seen]
    return Read(claims.indexed(report.entries), report, summary, "")


def _unusable(
    root: Path,
    summary: Summary,
    files: dict[str, Path],
    open_invoices: Iterable[Invoice],
    day: date,
    horizon_days: int,
) -> str:
    """Why the summary cannot stand for its months on `day` ("" when it can, or when `day` is
    before it was made: the whole log is read then, without a word)."""
    why = stale(root, summary, files)
    if why:
        return f"{PATH} no longer matches the log ({why})"
    if day < summary.made:
        return ""
    if (day - summary.last_day).days <= horizon_days:
        return (
            f"{PATH} covers the log up to {summary.through}, but the SMS status of the last "
            f"{horizon_days} days is asked for"
        )
    missing = uncovered(summary, open_invoices)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        return (
            f"{PATH} does not keep {missing[0]}{more}, which may get reminders again although "
            f"it was settled when the summary was made on {summary.made}"
        )
    return ""


def entries(root: Path) -> list[Entry]:
    """The entries the daily commands see (the summary's and the months after it), or every
    entry when the summary no longer matches the files; for a look at what other runs logged."""
    files = months(root)
    try:
        summary = load(root)
    except NudgeError:
        summary = None
    if summary is None or stale(root, summary, files):
        return sendlog.read(root, files=list(files.values())).entries
    later = [path for name, path in files.items() if name > summary.through]
    found = sendlog.read(root, files=later).entries
    seen = {e.id for e in found if e.id}
    return [e for e in summary.entries if not e.id or e.id not in seen] + found


# -- making it ----------------------------------------------------------------------------------


def through_for(made: date, repo: Repository) -> str:
    """The last month a summary made on `made` covers: the last one that ended at least
    `horizon` days before."""
    limit = made - timedelta(days=horizon(repo))
    year, month = limit.year, limit.month
    if _month_end(year, month) > limit:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return f"{year:04d}/{month:02d}"


def kept_on(repo: Repository, made: date, through: str) -> frozenset[str]:
    """The invoices a summary made on `made` keeps: open then, and issued early enough to have
    entries in the months up to `through`."""
    issued_by = _last_day(through) + ISSUE_MARGIN
    return frozenset(i.id for i in _open(repo, made) if i.issued <= issued_by)


def make(root: Path, through: str, made: date, kept: frozenset[str]) -> Summary:
    """The summary of the log files up to `through`, keeping the invoices `kept`."""
    covered = {name: path for name, path in months(root).items() if name <= through}
    report = sendlog.read(root, files=list(covered.values()))
    return Summary(
        through=through,
        made=made,
        months=tuple(_month(name, path) for name, path in covered.items()),
        kept=kept,
        entries=tuple(select(report.entries, kept)),
    )


def extend(
    root: Path, previous: Summary, through: str, made: date, kept: frozenset[str]
) -> Summary:
    """`previous` carried on to `through`, reading only the months after its last one (the
    caller checked that it still matches the files and keeps every invoice of `kept` that could
    have entries in its months)."""
    added = {
        name: path for name, path in months(root).items() if previous.through < name <= through
    }
    report = sendlog.read(root, files=list(added.values()))
    seen = {e.id for e in report.entries if e.id}
    carried = [e for e in previous.entries if not e.id or e.id not in seen]
    return Summary(
        through=through,
        made=made,
        months=previous.months + tuple(_month(name, path) for name, path in added.items()),
        kept=kept,
        entries=tuple(select([*carried, *report.entries], kept)),
    )


def update(root: Path, repo: Repository, made: date) -> tuple[Summary | None, str]:
    """The summary as of `made` (None: nothing to write) and one sentence on what was done:
    carried on from the one there when it still matches, else made from the whole log."""
    through = through_for(made, repo)
    files = months(root)
    if not any(name <= through for name in files):
        return (
            None,
            f"nothing to summarize yet: no month of the log ended {horizon(repo)} days before "
            f"{made}",
        )
    try:
        previous = load(root)
    except NudgeError:
        previous = None
    why = stale(root, previous, files) if previous is not None else ""
    if previous is not None and not why and previous.through >= through:
        return None, f"{PATH} is up to date (it covers the log up to {previous.through})"
    kept = kept_on(repo, made, through)
    if previous is not None and not why and not uncovered(previous, _open(repo, made)):
        summary = extend(root, previous, through, made, kept)
        how = f"carried on from {previous.through}"
    else:
        summary = make(root, through, made, kept)
        how = "made from the whole log" + (f" ({why})" if why else "")
    return summary, (
        f"{PATH} covers the log up to {through}: {len(summary.entries)} entries kept for "
        f"{len(kept)} open invoices and what still matters, {how}"
    )


def write(root: Path, summary: Summary) -> None:
    path = root / PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(dumps(summary), encoding="utf-8")
    temporary.replace(path)


def check(root: Path) -> list[str]:
    """What is wrong with the summary: every file it covers must be unchanged, and made again
    from those files (keeping the invoices it names) it must hold the same entries."""
    summary = load(root)
    if summary is None:
        return []
    files = months(root)
    problems = []
    for month in summary.months:
        path = files.get(month.name)
        if path is None:
            problems.append(f"log/{month.name}.jsonl is gone")
        elif _month(month.name, path) != month:
            problems.append(f"log/{month.name}.jsonl changed since the summary was made")
    covered = {m.name for m in summary.months}
    problems += [
        f"log/{name}.jsonl is not in it, although it is older than its last month"
        for name in files
        if name <= summary.through and name not in covered
    ]
    if problems:
        return problems
    again = make(root, summary.through, summary.made, summary.kept)
    have = {_canonical(e) for e in summary.entries}
    should = {_canonical(e) for e in again.entries}
    problems += [f"it lacks this entry of the log: {text}" for text in sorted(should - have)[:10]]
    problems += [
        f"it holds an entry the log does not call for: {text}"
        for text in sorted(have - should)[:10]
    ]
    return problems


def _canonical(entry: Entry) -> str:
    return json.dumps(entry.raw, ensure_ascii=False, sort_keys=True)


def _month(name: str, path: Path) -> Month:
    data = path.read_bytes()
    return Month(name, len(data), hashlib.sha256(data).hexdigest())


def _last_day(through: str) -> date:
    year, month = map(int, through.split("/"))
    return _month_end(year, month)


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)
