"""Git, run as a subprocess: the only module that talks to git."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from runner.errors import NudgeError


class GitError(NudgeError):
    pass


def git(
    root: Path,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    import os

    try:
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            input=stdin,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip() or done.stdout.decode().strip()
        raise GitError(f"git {' '.join(args[:2])} failed: {message}")
    return done


def out(root: Path, *args: str) -> str:
    return git(root, *args).stdout.decode("utf-8", "replace").strip()


def is_repo(root: Path) -> bool:
    return git(root, "rev-parse", "--git-dir", check=False).returncode == 0


def head_commit(root: Path) -> str | None:
    done = git(root, "rev-parse", "--verify", "-q", "HEAD", check=False)
    return done.stdout.decode().strip() or None if done.returncode == 0 else None


def has_commit(root: Path, ref: str) -> bool:
    done = git(root, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
    return done.returncode == 0


def uncommitted(root: Path, paths: tuple[str, ...]) -> list[str]:
    """Files under `paths` whose content is not what HEAD holds: changed (staged or not), new
    (unless ignored) or deleted. Empty outside a repository."""
    done = git(root, "status", "--porcelain", "--untracked-files=all", "--", *paths, check=False)
    if done.returncode != 0:
        return []
    return [line[3:] for line in done.stdout.decode("utf-8", "replace").splitlines() if line]


def export(root: Path, ref: str, target: Path) -> Path:
    """Write the files of revision `ref` into `target` (no .git): the repository as it was."""
    _verify(root, ref)
    prefix = out(root, "rev-parse", "--show-prefix")
    tree = f"{ref}:{prefix}" if prefix else ref
    archive = git(root, "archive", "--format=tar", tree).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def changed_files(root: Path, ref: str, paths: tuple[str, ...]) -> set[str] | None:
    """The files under `paths` that differ between revision `ref` and the working tree, relative
    to `root`: changed, added or deleted on either side, and files git does not track there
    (untracked or ignored, which `ref` cannot hold). None when `root` is not the top of its git
    repository."""
    if out(root, "rev-parse", "--show-prefix"):
        return None
    _verify(root, ref)
    tracked = git(root, "diff", "--name-only", "--no-renames", "-z", ref, "--", *paths).stdout
    others = git(root, "ls-files", "--others", "-z", "--", *paths).stdout
    names = (tracked + others).decode("utf-8", "surrogateescape").split("\0")
    return {name for name in names if name}


def export_files(root: Path, ref: str, paths: list[str], target: Path) -> None:
    """Write the files of `paths` that revision `ref` holds into `target` (the others it lacks)."""
    held = git(root, "ls-tree", "-r", "--name-only", "-z", ref, "--", *paths).stdout
    present = [name for name in held.decode("utf-8", "surrogateescape").split("\0") if name]
    if not present:
        return
    archive = git(root, "archive", "--format=tar", ref, "--", *present).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


def _verify(root: Path, ref: str) -> None:
    if not is_repo(root):
        raise GitError(f"{root} is not a git repository: --against needs git history")
    if not has_commit(root, ref):
        raise GitError(
            f"'{ref}' is not a revision in this repository (try origin/main or a "
            "commit id; in CI, fetch it first)"
        )


def temporary_export(root: Path, ref: str) -> tempfile.TemporaryDirectory[str]:
    holder = tempfile.TemporaryDirectory(prefix="nudge-rev-")
    export(root, ref, Path(holder.name))
    return holder


def commit_paths(root: Path, paths: list[str], message: str, author: tuple[str, str]) -> str:
    """Commit exactly `paths` (new or changed) and nothing else staged; the new commit's id.
    The person's own git identity, or in CI (and where none is configured) `author`."""
    import os

    if not is_repo(root):
        raise GitError(f"{root} is not a git repository: --commit needs one")
    env = {}
    in_ci = os.environ.get("CI") == "true"
    if in_ci or git(root, "config", "user.name", check=False).returncode != 0:
        name, email = author
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
    git(root, "add", "--", *paths)
    git(root, "commit", "--quiet", "-m", message, "--", *paths, env=env)
    return out(root, "rev-parse", "HEAD")
