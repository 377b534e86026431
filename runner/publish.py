"""`run --commit/--push`: the send log committed, and claimed on the remote before anything goes.

With --push the protocol is: sync with the remote; write the claims (`pending` entries) and the
occurrences recorded as superseded or missed; commit and push them (a rejected push is fetched,
rebased — the log's union merge keeps both sides — and checked again: what another run recorded
first is `cancelled` here, claims and bookkeeping alike, and not sent); send, each message handed
over in the log first; commit and push the outcomes. A run that dies mid-send leaves its claims
on the remote: while it may still hand them over no other run sends them; once it is over, those
it never handed over are due again (runner.claims).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runner import git
from runner.deliver import now_stamp
from runner.errors import NudgeError
from runner.repository import CONFIG_PATHS
from runner.sendlog import Entry, Writer

PUSH_TRIES = 5


class PublishError(NudgeError):
    pass


@dataclass
class Publisher:
    root: Path
    push: bool
    author: tuple[str, str]
    run_id: str
    unpushed: list[str] = field(default_factory=list)

    # -- before anything -------------------------------------------------------------------------

    def preflight(self) -> None:
        root = self.root
        if not git.is_repo(root):
            raise PublishError(f"{root} is not a git repository: --commit/--push need one")
        branch = git.git(root, "symbolic-ref", "-q", "--short", "HEAD", check=False)
        if branch.returncode != 0:
            raise PublishError(
                "HEAD is detached: check out the branch the log belongs on "
                "(e.g. `git checkout main`) before --commit/--push"
            )
        self.branch = branch.stdout.decode().strip()
        changed = git.out(
            root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)log"
        )
        new = git.out(root, "status", "--porcelain", "--untracked-files=all", "--", *CONFIG_PATHS)
        dirty = "\n".join(dict.fromkeys([*changed.splitlines(), *new.splitlines()]))
        if dirty:
            raise PublishError(
                "the working tree has uncommitted changes outside log/ (or new files Nudge "
                "reads); commit or stash them first, so the log records the configuration it "
                f"ran with:\n{dirty}"
            )
        if self.push:
            upstream = git.git(
                root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}", check=False
            )
            if upstream.returncode != 0:
                raise PublishError(
                    f"branch {self.branch} has no upstream to push to: "
                    f"`git branch --set-upstream-to=origin/{self.branch}`"
                )
            self.upstream = upstream.stdout.decode().strip()

    def sync(self) -> None:
        """Bring in what other runs logged, before deciding what is due."""
        git.git(self.root, "fetch", "--quiet")
        git.git(self.root, "rebase", "--quiet", self.upstream)

    # -- committing -----------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        name, email = self.author
        return {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }

    def commit(self, headline: str) -> bool:
        """Commit the log (and nothing else); False when there was nothing to commit."""
        root = self.root
        git.git(root, "add", "--", "log")
        if git.git(root, "diff", "--cached", "--quiet", "--", "log", check=False).returncode == 0:
            return False
        message = f"nudge: {headline} [skip ci]\n\n" + "\n".join(self._trailers())
        git.git(
            root, "commit", "--quiet", "--no-verify", "-m", message, "--", "log", env=self._env()
        )
        return True

    def _trailers(self) -> list[str]:
        lines = [f"Nudge-Run: {self.run_id}"]
        server, repo, run = (
            os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
        )
        if server and repo and run:
            lines.append(f"Nudge-Run-URL: {server}/{repo}/actions/runs/{run}")
        return lines

    # -- pushing --------------------------------------------------------------------------------

    def push_with_retry(self, recheck: Callable[[], bool] | None = None) -> bool:
        """Push; on rejection fetch, rebase and (for claims) re-check. False if it never went."""
        for attempt in range(PUSH_TRIES):
            done = git.git(
                self.root, "push", "--quiet", "origin", f"HEAD:{self._remote_branch()}", check=False
            )
            if done.returncode == 0:
                return True
            git.git(self.root, "fetch", "--quiet", check=False)
            rebased = git.git(self.root, "rebase", "--quiet", self.upstream, check=False)
            if rebased.returncode != 0:
                git.git(self.root, "rebase", "--abort", check=False)
                break
            if recheck is not None and recheck():
                self.commit("cancelled claims another run made first")
            time.sleep(min(0.2 * 2**attempt, 5))
        return False

    def _remote_branch(self) -> str:
        return self.upstream.split("/", 1)[1] if "/" in self.upstream else self.branch

    def remember_unpushed(self, lines: list[dict[str, object]]) -> None:
        self.unpushed.extend(json.dumps(line, ensure_ascii=False, sort_keys=True) for line in lines)


def claimed_elsewhere(root: Path, mine: set[str], run_id: str) -> dict[str, str]:
    """Keys of ours that other runs' entries decide (a live claim, a hand-over, an outcome, a
    superseded or missed record): key -> that run. Their cancelled claims, and claims of runs
    that are over without handing them over, leave a key to us. Our keys are of open invoices:
    the log's summary keeps theirs, so it and the months after it are enough."""
    from runner import claims, logsummary
    from runner.sendlog import index

    theirs = (e for e in logsummary.entries(root) if e.get("run") != run_id)
    others = index(theirs, claims.live_now())
    return {
        key: str(state.entry.get("run", "another run"))
        for key in mine
        if (state := others.state(key)) is not None
    }


def cancel(writer: Writer, entries: list[Entry], taken: dict[str, str]) -> list[str]:
    """Write `cancelled` for our pending deliveries whose keys another run claimed first."""
    cancelled = []
    for entry in entries:
        if any(k in taken for k in entry.keys):
            writer.append(
                {
                    **{
                        k: entry.raw[k]
                        for k in ("delivery", "keys", "customer", "step", "channel", "date", "run")
                    },
                    "status": "cancelled",
                    "at": now_stamp(),
                    "reason": f"run {taken[next(k for k in entry.keys if k in taken)]} "
                    "claimed it first",
                }
            )
            cancelled.append(str(entry.raw["delivery"]))
    return cancelled
