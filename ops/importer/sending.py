"""Posting bulk requests to the API, retrying what is safe to retry.

A chunk always carries its ``Idempotency-Key``, so resending it can never store a charge twice:
429 (throttled), 503 (storage busy), other 5xx and lost connections are retried up to ``attempts``
times, honouring ``Retry-After`` when the API sends one and otherwise waiting an exponential backoff
with full jitter, so that concurrent workers do not all come back at once; that policy is urllib3's
(what ``requests`` runs on), with those statuses. 409 says that a request with the same key is still
running (typically one a killed run left behind, still being served): it ends within the function's
timeout, so it is awaited for up to ``in_flight_patience_seconds`` rather than a number of attempts;
a 409 without ``Retry-After`` names a ``charge_id`` stored with other content, and is final. Other
4xx answers are not retried: the request's rows are refused.

Bodies are sent gzip-compressed (``Content-Encoding: gzip``): a bulk of 1,000 charges shrinks
several times over; the API's 1 MiB limit is the uncompressed body's, which the chunks respect.
"""

import gzip
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests  # type: ignore[import-untyped]
from requests.adapters import HTTPAdapter  # type: ignore[import-untyped]
from urllib3 import BaseHTTPResponse
from urllib3.util.retry import Retry

from ops.importer.chunks import Chunk

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
IN_FLIGHT = 409
KEY_REFUSED_STATUSES = frozenset({401, 403})
_CHARGE_FIELD = re.compile(r"charges\[(\d+)\]\.?(.*)")


class _ImportRetry(Retry):
    """urllib3's policy with full jitter: a random wait up to the exponential backoff, or ``Retry-After`` plus
    up to one backoff step."""

    def get_backoff_time(self) -> float:
        return random.uniform(0, min(self.backoff_max, self.backoff_factor * 2 ** len(self.history)))

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is None:
            return False
        time.sleep(retry_after + random.uniform(0, self.backoff_factor))
        return True


@dataclass(frozen=True)
class RowError:
    """A problem the API reported for one charge of the chunk (``index``), or for all of them (``None``)."""

    index: int | None
    field: str
    message: str


@dataclass(frozen=True)
class Answer:
    """How one chunk ended: the last status (``None`` when no answer came), the errors it named, retries made."""

    status: int | None
    retries: int = 0
    replayed: bool = False
    errors: list[RowError] = field(default_factory=list)
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == 200

    @property
    def key_refused(self) -> bool:
        return self.status in KEY_REFUSED_STATUSES

    @property
    def rejected(self) -> bool:
        """A 4xx other than a refused key or one still retryable: the API will never take these rows as they are."""
        return self.status is not None and 400 <= self.status < 500 and not self.key_refused and not self.gave_up

    @property
    def gave_up(self) -> bool:
        """No answer, or still a retryable status after the last attempt: the rows were not stored; run again."""
        in_flight = self.status == IN_FLIGHT and not _names_a_charge_id(self.errors)
        return self.status is None or self.status in RETRIED_STATUSES or in_flight or self.status >= 500


class ApiClient:
    """Sends chunks to ``POST {base_url}/charges/bulk`` with a key; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        pool_size: int = 4,
        attempts: int = 8,
        backoff_seconds: float = 0.25,
        max_backoff_seconds: float = 20.0,
        timeout_seconds: float = 60.0,
        in_flight_patience_seconds: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = base_url.rstrip("/") + "/charges/bulk"
        self.key = key
        self.timeout = timeout_seconds
        retry = _ImportRetry(
            total=attempts - 1,
            status_forcelist=RETRIED_STATUSES,
            allowed_methods=None,  # POST too: every request carries its Idempotency-Key
            backoff_factor=backoff_seconds,
            backoff_max=max_backoff_seconds,
            retry_after_max=round(max_backoff_seconds * 3),
            raise_on_status=False,
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.attempts = attempts
        self.in_flight_patience = in_flight_patience_seconds
        self.clock, self.sleep = clock, sleep  # the wait for a request in flight (409) goes by these

    def send(self, chunk: Chunk) -> Answer:
        """Post one chunk (retrying as above) and say how it ended."""
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Idempotency-Key": chunk.key,
        }
        body = gzip.compress(chunk.body(), compresslevel=6, mtime=0)
        deadline, made = self.clock() + self.in_flight_patience, 0
        while True:
            try:
                response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                return Answer(status=None, retries=made + self.attempts - 1, detail=_reason(exc))
            made += len(response.raw.retries.history) if response.raw.retries is not None else 0
            in_flight = response.status_code == IN_FLIGHT and not _names_a_charge_id(_errors(response))
            if not in_flight or self.clock() >= deadline:
                break
            made += 1
            self.sleep(_seconds(response.headers.get("Retry-After")) + random.uniform(0, 1))
        replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
        if response.status_code == 200:
            return Answer(status=200, retries=made, replayed=replayed)
        return Answer(
            status=response.status_code,
            retries=made,
            errors=_errors(response),
            detail=f"HTTP {response.status_code}",
        )

    def close(self) -> None:
        self.session.close()


def _errors(response: requests.Response) -> list[RowError]:
    """The envelope's errors, each tied to the charge it names (``charges[3].amount``) or to the whole chunk."""
    try:
        listed = response.json().get("errors") or []
    except (ValueError, AttributeError):
        listed = []
    errors = []
    for item in listed:
        name, message = str(item.get("field", "request")), str(item.get("message", ""))
        match = _CHARGE_FIELD.fullmatch(name)
        if match:
            leaf = match.group(2) or "row"
            errors.append(RowError(int(match.group(1)), leaf, message.replace(f"{name}", leaf, 1)))
        else:
            errors.append(RowError(None, name, message))
    if not errors:
        errors.append(RowError(None, "request", f"the API answered {response.status_code}: {response.text[:200]}"))
    return errors


def _names_a_charge_id(errors: list[RowError]) -> bool:
    """A 409 naming a charge_id: stored with other content, final (the other 409 is a request still in flight)."""
    return any(error.field == "charge_id" for error in errors)


def _seconds(retry_after: str | None) -> float:
    """``Retry-After`` in seconds when it is a number of seconds (what the API sends), else one second."""
    return float(retry_after) if retry_after and retry_after.strip().isdigit() else 1.0


def _reason(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
