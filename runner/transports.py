"""Choosing how each channel goes out: the outbox, or the real providers (credentials from env)."""

from __future__ import annotations

import os
from pathlib import Path

from runner.channels import Channel
from runner.channels.outbox import Outbox
from runner.deliver import RetryPolicy
from runner.errors import NudgeError
from runner.model import Repository


def _env(name: str | None) -> str | None:
    return os.environ.get(name) if name else None


def email_credentials(
    repo: Repository, transport: str = "auto"
) -> tuple[str | None, str | None] | None:
    """(username, password) when live e-mail is possible, else None. A relay without login
    (`auth: none`) has no credentials to wait for, so only `--transport live` sends through it:
    `auto` on a machine that merely reaches the relay must not mail real customers."""
    settings = repo.settings.email
    if settings is None:
        return None
    if settings.auth == "none":
        return (None, None) if transport == "live" else None
    user, password = _env(settings.username_env), _env(settings.password_env)
    return (user, password) if user and password else None


def sms_credentials(repo: Repository) -> tuple[str, str] | None:
    settings = repo.settings.sms
    if settings is None:
        return None
    sid, token = _env(settings.account_sid_env), _env(settings.auth_token_env)
    return (sid, token) if sid and token else None


def notes(repo: Repository, transport: str) -> list[str]:
    """What a person should know about how this run sends, in a sentence each."""
    email = repo.settings.email
    if transport == "auto" and email is not None and email.auth == "none":
        return [
            f"e-mail: the relay {email.host}:{email.port} takes mail without a login (auth: none), "
            "so --transport auto writes e-mail to the outbox; --transport live sends through it"
        ]
    return []


def choose(repo: Repository, transport: str, outbox: Path) -> dict[str, Channel]:
    channels: dict[str, Channel] = {
        name: Outbox(name, repo, outbox) for name in ("email", "sms", "letter", "task")
    }
    if transport == "outbox":
        return channels
    email = email_credentials(repo, transport)
    sms = sms_credentials(repo)
    if transport == "live" and email is None and repo.settings.email is not None:
        raise NudgeError(
            "--transport live: e-mail credentials are not in the environment (set "
            f"{repo.settings.email.username_env} and {repo.settings.email.password_env}, or "
            "auth: none in settings.yaml for a relay that takes mail without a login)"
        )
    if transport == "live" and sms is None and repo.settings.sms is not None:
        raise NudgeError(
            "--transport live: Twilio credentials are not in the environment (set "
            f"{repo.settings.sms.account_sid_env} and {repo.settings.sms.auth_token_env})"
        )
    if email is not None and repo.settings.email is not None:
        from runner.channels.smtp import Smtp

        smtp = Smtp("email", repo, repo.settings.email, *email)
        channels["email"] = smtp
        channels["task"] = smtp
    if sms is not None and repo.settings.sms is not None:
        from runner.channels.twilio_sms import TwilioSms

        channels["sms"] = TwilioSms("sms", repo.settings.sms, *sms)
    return channels


def run_id() -> str:
    run = os.environ.get("GITHUB_RUN_ID")
    if run:
        return f"gh-{run}-{os.environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    return _local_run_id()


_LOCAL: list[str] = []


def _local_run_id() -> str:
    if not _LOCAL:
        from datetime import UTC, datetime

        from runner.sendlog import new_id

        _LOCAL.append(f"local-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{new_id()[:6]}")
    return _LOCAL[0]


def config_source(root: Path) -> tuple[str | None, bool]:
    """The commit the run's files come from (None outside git), and whether any of them has
    changes not committed (then that commit does not hold exactly what was sent)."""
    from runner import git
    from runner.repository import CONFIG_PATHS

    try:
        if not git.is_repo(root):
            return None, False
        return git.head_commit(root), bool(git.uncommitted(root, CONFIG_PATHS))
    except NudgeError:
        return None, False


def retry_policy() -> RetryPolicy:
    base = float(os.environ.get("NUDGE_RETRY_BASE_SECONDS", "1.0"))
    return RetryPolicy(base_seconds=base)
