"""A snapshot of the last load, reused while no file under the repository has changed.

Reading 100,000 invoice files takes longer than anything Nudge does with them, and a session of
commands (`validate`, then `plan`, `plan --explain`, `history`...) reads the same files each
time. Like git's index, the snapshot is keyed by what `stat` says of every file the load reads
(path, size, modification and change time, inode), plus the Nudge code and the libraries that
judge the data; any difference and the files are read again. A file changed in the two seconds
before a load could change again within the clock's resolution unnoticed, so a load that sees
one is not kept ("racily clean", in git's words).

Snapshots live in the user's cache directory (`$NUDGE_CACHE_DIR`, else `$XDG_CACHE_HOME/nudge`,
else `~/.cache/nudge`), never in the repository, readable by the user only; they hold what the
files hold. `NUDGE_CACHE_DIR=off` turns them off.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from runner.errors import NudgeError
from runner.loaded import Loaded, Source

FORMAT = b"nudge-snapshot-2\n"
RACY_NS = 2_000_000_000
# Libraries whose verdicts decide what a load accepts: a new version may judge differently.
JUDGES = ("pyyaml", "babel", "email-validator", "phonenumbers", "holidays", "jsonschema")


def directory() -> Path | None:
    configured = os.environ.get("NUDGE_CACHE_DIR")
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nudge"


class Fingerprint:
    """What stat says of every file a load reads, hashed, and the newest modification time."""

    def __init__(self, root: Path, files: list[str]) -> None:
        digest = hashlib.blake2b(_code_identity(), digest_size=32)
        newest = 0
        prefix = len(str(root)) + 1
        lines = []
        for name in files:
            try:
                st = os.stat(name)
            except OSError:
                lines.append(f"{name[prefix:]}\0missing\n")
                continue
            newest = max(newest, st.st_mtime_ns)
            lines.append(
                f"{name[prefix:]}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n"
            )
        digest.update("".join(lines).encode("utf-8", "surrogateescape"))
        self.digest = digest.digest()
        self.newest_ns = newest

    @property
    def header(self) -> bytes:
        """What every file kept for these files starts with: the format, then the digest."""
        return FORMAT + self.digest


def _path(root: Path) -> Path | None:
    base = directory()
    if base is None:
        return None
    name = hashlib.sha256(str(root.resolve()).encode("utf-8", "surrogateescape")).hexdigest()
    return base / "snapshots" / f"{name[:32]}.pickle"


def load(root: Path, fingerprint: Fingerprint, invoices: bool = True) -> Loaded | None:
    """The snapshot of `root` if every file is as it was when it was taken; else None.
    `invoices=False`: without the invoices but those with an attachment (`left_out`), when the
    template checks are kept too (they need every invoice otherwise)."""
    path = _path(root)
    if path is None or not _kept_for(path.with_suffix(SOURCES), fingerprint):
        return None
    # From the file, frame by frame: never the whole snapshot in memory beside what it holds
    # (80 MB at 100k invoices, the load's high-water mark). The first frame is the load with
    # only the invoices that have an attachment (what every load checks), the second every
    # invoice, in their order.

    def frames(handle: BinaryIO) -> Loaded:
        loaded: Loaded = pickle.load(handle)
        if loaded.template_problems is None:
            loaded.template_problems = _read(path.with_suffix(CHECKS), fingerprint)
        if invoices or loaded.template_problems is None:
            loaded.repo = replace(loaded.repo, invoices=pickle.load(handle))
        else:
            loaded.left_out = True
        return loaded

    loaded: Loaded | None = _read(path, fingerprint, frames)
    if loaded is None:
        return None
    loaded.sources = LazySources(path.with_suffix(SOURCES), fingerprint)
    return loaded


class LazySources(MutableMapping[tuple[str, str], Source]):
    """Where each entity was written, read from the snapshot only when a problem is to be placed
    (validate's checks, a merge): `plan` and `run` never need it, and it is as large in memory
    as the invoices themselves."""

    def __init__(self, path: Path, fingerprint: Fingerprint) -> None:
        self._path = path
        self._fingerprint = fingerprint
        self._data: dict[tuple[str, str], Source] | None = None

    @property
    def data(self) -> dict[tuple[str, str], Source]:
        if self._data is None:
            found = _read(self._path, self._fingerprint)
            if found is None:
                raise NudgeError(
                    f"the snapshot's file {self._path} went away while in use (another Nudge "
                    "cleaning its cache?): run the command again"
                )
            self._data = found
        return self._data

    def __getitem__(self, key: tuple[str, str]) -> Source:
        return self.data[key]

    def __setitem__(self, key: tuple[str, str], value: Source) -> None:
        self.data[key] = value

    def __delitem__(self, key: tuple[str, str]) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __reduce__(self) -> tuple[object, ...]:
        return (dict, (self.data,))  # a snapshot written from this load holds the sources


def _kept_for(path: Path, fingerprint: Fingerprint) -> bool:
    """Whether `path` was written for these files (its header alone is read)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(fingerprint.header)) == fingerprint.header
    except OSError:
        return False


def _read(
    path: Path, fingerprint: Fingerprint, frames: Callable[[BinaryIO], Any] = pickle.load
) -> Any:
    """What `path` keeps for these files (read after the header by `frames`), or None (none
    kept, or kept for other files). A damaged file is only slower work: it is removed and the
    files are read (or checked) again."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(fingerprint.header)) != fingerprint.header:
                return None
            return frames(handle)
    except FileNotFoundError:
        return None
    except Exception:
        _forget(path)
        return None


def save_checks(root: Path, loaded: Loaded) -> None:
    """Keep what the template checks found beside the load's snapshot (of the same files). The
    load is kept as soon as it is read, by a copy of the process working while the templates
    are compiled and rendered; their result, a short list, is written here after them, so the
    load is never pickled twice nor waited for alone at the end."""
    path = _path(root)
    fingerprint = loaded.fingerprint
    if path is None or fingerprint is None or fingerprint.newest_ns > loaded.started_ns - RACY_NS:
        return
    payload = pickle.dumps(loaded.template_problems, protocol=pickle.HIGHEST_PROTOCOL)
    _replace(path.with_suffix(CHECKS), fingerprint.header + payload)


CHECKS = ".checks"  # beside NAME.pickle: the template checks of the same fingerprint
SOURCES = ".sources"  # and where each entity was written


def save(root: Path, fingerprint: Fingerprint, loaded: Loaded, started_ns: int) -> None:
    """Keep `loaded` for the next load, unless a file changed too recently to trust its stat.

    A large repository is written by a forked copy of this process, on another core, while the
    command goes on; the command waits for it before it exits (settle), so the next command
    finds it."""
    path = _path(root)
    if path is None or fingerprint.newest_ns > started_ns - RACY_NS:
        return
    if len(loaded.sources) < BACKGROUND_FROM or not hasattr(os, "fork"):
        _write(path, fingerprint, loaded)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        if not _writers:
            atexit.register(settle)
        _writers.append(pid)
        return
    try:  # the copy: write, and leave without running the command's exit handlers
        _write(path, fingerprint, loaded)
    finally:
        os._exit(0)


BACKGROUND_FROM = 20_000  # files; below this, writing inline costs less than a fork
_writers: list[int] = []


def settle() -> None:
    """Wait for snapshots still being written."""
    while _writers:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(_writers.pop(), 0)


def _write(path: Path, fingerprint: Fingerprint, loaded: Loaded) -> None:
    """The sources first, in a file of their own (read only when asked for), then the rest."""
    sources = pickle.dumps(dict(loaded.sources), protocol=pickle.HIGHEST_PROTOCOL)
    if not _replace(path.with_suffix(SOURCES), fingerprint.header + sources):
        return
    invoices = loaded.repo.invoices
    attached = {k: i for k, i in invoices.items() if i.attachment}
    first = replace(loaded, sources={}, repo=replace(loaded.repo, invoices=attached))
    payload = pickle.dumps(first, protocol=pickle.HIGHEST_PROTOCOL)
    payload += pickle.dumps(invoices, protocol=pickle.HIGHEST_PROTOCOL)
    if _replace(path, fingerprint.header + payload):
        with contextlib.suppress(OSError):
            _prune(path.parent)


def _replace(path: Path, content: bytes) -> bool:
    """Write the file whole or not at all; False if the cache directory cannot take it (a
    read-only or full one: the next load reads the files)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-")  # mode 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temp, path)
    except OSError:
        return False
    return True


KEEP = 4  # snapshots of other roots kept (plan --against and show load old commits' trees)


def _prune(folder: Path) -> None:
    """The newest few snapshots stay; each is as large as the repository's data."""
    found = []
    for entry in os.scandir(folder):
        if not entry.name.endswith(".pickle"):
            continue  # another command's snapshot still being written
        with contextlib.suppress(OSError):
            found.append((entry.stat().st_mtime_ns, entry.path))
    for _, stale in sorted(found, reverse=True)[KEEP:]:
        _forget(Path(stale))
        _forget(Path(stale).with_suffix(CHECKS))
        _forget(Path(stale).with_suffix(SOURCES))


def _forget(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


@cache
def _code_identity() -> bytes:
    """This Nudge (its files' sizes and times), this Python, and the judging libraries."""
    from importlib.metadata import PackageNotFoundError, version

    package = Path(__file__).parent
    parts = [FORMAT.decode(), sys.version]
    for name in JUDGES:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} -")
    for top, dirs, files in os.walk(package):
        dirs.sort()
        for file in sorted(files):
            if file.endswith((".py", ".json")):
                st = os.stat(os.path.join(top, file))
                parts.append(f"{top}/{file} {st.st_size} {st.st_mtime_ns}")
    return "\n".join(parts).encode("utf-8", "surrogateescape")
