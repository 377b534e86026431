"""SMS through the twilio client. Imported only when an SMS is sent live (twilio is heavy).

Twilio's answers, classified: 429 (documented as never processed) and 503 with Retry-After are
retried; a timeout or other 5xx after the POST went out is `unknown`; 21211 (invalid number),
21614 (not a mobile) and 21610 (the recipient sent STOP) are permanent, and 21610 is remembered.
"""

from __future__ import annotations

import asyncio
from typing import Any

from runner.channels import Handover, Outcome
from runner.compose import Outgoing
from runner.model import SmsSettings
from runner.reconcile import Listing, LookupFailed, Message

OPTED_OUT = 21610
PERMANENT_CODES = {
    21211: "invalid phone number",
    21614: "not a mobile number",
    OPTED_OUT: "the recipient opted out (STOP)",
}


class TwilioSms:
    def __init__(
        self,
        name: str,
        settings: SmsSettings,
        account_sid: str,
        auth_token: str,
        timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.settings = settings
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.timeout = timeout
        self.delivered: dict[str, dict[str, str]] = {}  # delivery id -> number -> message sid
        self.slots = asyncio.Semaphore(4)
        self.broken: str | None = None  # credentials refused: no more requests this run

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, message: Outgoing, handover: Handover) -> Outcome:
        done = self.delivered.setdefault(message.delivery.id, {})
        results: list[Outcome] = []
        for number in message.delivery.to:
            if number in done:
                continue
            async with self.slots:
                if self.broken is not None:
                    outcome = Outcome("retry", reason=self.broken)
                elif not await handover():  # the batch says stop: nothing of it has left
                    outcome = Outcome("deferred")
                else:
                    outcome = await asyncio.to_thread(self._post, number, message.text.strip())
            if outcome.status == "sent":
                done[number] = outcome.provider_id
            results.append(outcome)
        return _combine(done, results)

    def _client(self) -> Any:
        return client(self.settings, self.account_sid, self.auth_token, self.timeout)

    def _post(self, number: str, body: str) -> Outcome:
        import requests
        from twilio.base.exceptions import TwilioRestException

        client = self._client()
        params: dict[str, str] = {"to": number, "body": body}
        if self.settings.messaging_service_sid:
            params["messaging_service_sid"] = self.settings.messaging_service_sid
        else:
            params["from_"] = self.settings.sender or ""
        try:
            created = client.messages.create(**params)
        except TwilioRestException as exc:
            if int(exc.status) == 401:
                # Our credentials, not the message: certainly not sent, so not `failed` (that is
                # permanent and would block it for good); the next run sends it once fixed.
                self.broken = (
                    f"Twilio authentication failed (401, error {exc.code}): check "
                    f"{self.settings.account_sid_env} and "
                    f"{self.settings.auth_token_env}"
                )
                return Outcome("retry", reason=self.broken)
            return _classify(exc, number, getattr(client.http_client, "last_headers", {}))
        except (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError) as exc:
            return Outcome(
                "retry", reason=f"cannot connect to Twilio: {type(exc).__name__}", unreachable=True
            )
        except requests.exceptions.ConnectionError as exc:
            if _before_request(exc):
                return Outcome("retry", reason="cannot connect to Twilio", unreachable=True)
            return Outcome("unknown", reason="connection lost after the request was sent")
        except requests.exceptions.Timeout:
            return Outcome(
                "unknown", reason="Twilio did not answer in time after the request was sent"
            )
        return Outcome("sent", provider_id=str(created.sid))

    def messages_to(self, number: str, limit: int = 1000) -> Listing:
        """Twilio's list of the messages this account sent to `number` (Messages.json GET,
        filtered by To), for runner.reconcile. Filtered by To only: a message still queued has
        no DateSent yet, and a DateSent filter would leave it out and call it never sent."""
        import requests
        from twilio.base.exceptions import TwilioException

        client = self._client()
        found = []
        try:
            for record in client.messages.stream(
                to=number, page_size=min(limit, 1000), limit=limit
            ):
                found.append(
                    Message(
                        sid=str(record.sid),
                        to=str(record.to),
                        body=str(record.body or ""),
                        created=record.date_created,
                        status=str(record.status),
                    )
                )
        except (TwilioException, requests.exceptions.RequestException) as exc:
            raise LookupFailed(
                f"cannot read Twilio's list of messages ({type(exc).__name__}): the unknown "
                "outcomes stay for the next run or a person"
            ) from None
        return Listing(tuple(found), complete=len(found) < limit)


def client(settings: SmsSettings, account_sid: str, auth_token: str, timeout: float) -> Any:
    """The twilio client for these settings (also used to ask about messages already sent)."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    class Remembering(TwilioHttpClient):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            response = super().request(*args, **kwargs)
            # header names are case-insensitive; a plain dict of requests' headers
            # would miss a `retry-after` sent in lower case
            self.last_headers = {k.lower(): v for k, v in (response.headers or {}).items()}
            return response

    made = Client(account_sid, auth_token, http_client=Remembering(timeout=timeout))
    if settings.api_base:
        made.api.base_url = settings.api_base.rstrip("/")
    return made


def _before_request(exc: BaseException) -> bool:
    from urllib3.exceptions import NewConnectionError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectionRefusedError):
            return True
        reason = getattr(current, "reason", None)
        args = getattr(current, "args", ())
        current = (
            reason
            if isinstance(reason, BaseException)
            else (args[0] if args and isinstance(args[0], BaseException) else current.__cause__)
        )
    return False


def _classify(exc: Any, number: str, headers: dict[str, str]) -> Outcome:
    status, code = int(exc.status), exc.code
    detail = f"Twilio {status}" + (f" error {code}" if code else "") + f": {exc.msg}"
    if status == 429:
        return Outcome("retry", reason=detail, retry_after=_seconds(headers.get("retry-after")))
    if status == 503 and headers.get("retry-after"):
        return Outcome("retry", reason=detail, retry_after=_seconds(headers.get("retry-after")))
    if status >= 500:
        return Outcome("unknown", reason=detail + " (after the request was sent)")
    if code in PERMANENT_CODES:
        detail = f"{number}: {PERMANENT_CODES[code]} ({detail})"
    return Outcome("failed", reason=detail, opted_out=(number,) if code == OPTED_OUT else ())


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _combine(done: dict[str, str], results: list[Outcome]) -> Outcome:
    opted = tuple(n for r in results for n in r.opted_out)
    failed = [r for r in results if r.status != "sent"]
    if done and not failed:
        return Outcome("sent", provider_id=",".join(done.values()))
    for status in ("unknown", "retry", "deferred"):
        worst = next((r for r in failed if r.status == status), None)
        if worst is not None:
            return Outcome(
                status,
                reason=worst.reason,
                retry_after=worst.retry_after,
                opted_out=opted,
                provider_id=",".join(done.values()),
                unreachable=worst.unreachable,
            )
    if done:
        return Outcome(
            "sent",
            provider_id=",".join(done.values()),
            opted_out=opted,
            refused=tuple(r.reason for r in failed),
            reason="; ".join(r.reason for r in failed),
        )
    return Outcome(
        "failed", reason="; ".join(r.reason for r in failed) or "no recipient", opted_out=opted
    )
