"""Erasing a customer: forgotten at once, every item of theirs deleted within minutes, never brought back.

The request (``DELETE /customers``, ``beacon customers erase``) queues the erase job first, so that the
deletion happens even if what follows fails (the client's retry is then answered the same way), then
replaces the summary with the erasure's tombstone, so that the customer reads as unknown from that
moment, and records the erasure under a keyed hash of the identity (``dal.identity_hash``).

The tombstone holds a floor, ``erased_before`` (when the API received the erasure, UNIX ms): no charge
received before it counts again, whatever the stream, a retry, a replay of the failure queue or a
rebuild delivers (``logic.plan.erased``); a charge received after it starts the customer anew. It
expires (DynamoDB's TTL) once no record of an erased charge can still come: the stream keeps records
24 hours, the event source mapping delivers none older than ``MaximumRecordAgeInSeconds``.

The job (``CustomerJobsFunction``) deletes the customer's charges received before the floor, its seen
items, a summary of the first layout and its registry entry, then queues a final pass for when every
charge received before the erasure has certainly been written (``WRITE_SLACK_SECONDS`` later), which
notes the erasure done. docs/design.md, "Erasure", says what is kept and why.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from beacon.dal.charges import ChargesRepository
from beacon.dal.identity_hash import IdentityHasher
from beacon.dal.jobs import JobsQueue
from beacon.dal.summaries import SummariesRepository
from beacon.logic import plan, seen
from beacon.logic.identity import identify_customer
from beacon.logic.seen import WRITE_SLACK_SECONDS
from beacon.models.jobs import CustomerJob
from beacon.models.stored import StoredSummary, SummaryWrite
from beacon.settings import Settings, get_settings

CustomerKey = tuple[str, str]
STREAM_RETENTION_SECONDS = 86_400  # DynamoDB Streams keeps a record this long
TOMBSTONE_MARGIN_SECONDS = 3_600
ERASE_MARGIN_SECONDS = 60  # a pass stops deleting charges with this much of its invocation left


@dataclass(frozen=True)
class Erased:
    """What one pass of an erase job deleted."""

    charges: int
    other_items: int
    final: bool
    continued: bool = False  # more charges than one pass could delete: the job is queued again


def erase_customer(
    project_id: str,
    *,
    user_id: str | None,
    email: str | None,
    erased_before: int,
    key_id: str,
    now: Callable[[], float] = time.time,
) -> None:
    """Erase a customer as of ``erased_before`` (UNIX ms): job queued, tombstone written, erasure recorded.

    The customer is named as for the summary read (one of ``user_id``, ``email``). Safe to call again:
    the job is done again to no effect, the tombstone is already there.
    """
    settings = get_settings()
    key = (project_id, identify_customer(user_id, email))
    _jobs(settings).send(CustomerJob(kind="erase", project_id=key[0], customer_id=key[1], erased_before=erased_before))
    summaries = _summaries(settings)
    tombstone(summaries, key, erased_before, settings.stream_max_record_age_seconds, now)
    summaries.record_erasure(key[0], _hash(settings, key), erased_at=erased_before // 1000, key_id=key_id)


def run_erase_job(
    job: CustomerJob, *, seconds_left: Callable[[], float] = lambda: math.inf, now: Callable[[], float] = time.time
) -> Erased:
    """One pass of the erase job: every item of the customer from before the erasure deleted.

    A customer with more charges than one invocation can delete stops between pages of charges, with
    ``ERASE_MARGIN_SECONDS`` left, and queues the same job again to go on (nothing deleted is read
    again). The pass that deletes the last charge deletes the other items and queues the final pass.
    """
    assert job.erased_before is not None, "an erase job names when the customer was erased"
    settings = get_settings()
    key = (job.project_id, job.customer_id)
    summaries = _summaries(settings)
    charges = ChargesRepository(settings.charges_table_name)
    tombstone(summaries, key, job.erased_before, settings.stream_max_record_age_seconds, now)  # if the request stopped
    erased = delete_erased(summaries, charges, key, job.erased_before, seconds_left)
    if erased.continued:
        _jobs(settings).send(job)
    elif job.final:
        summaries.erasure_done(key[0], _hash(settings, key), completed_at=int(now()))
    else:
        _jobs(settings).send(job.model_copy(update={"final": True}), delay_seconds=WRITE_SLACK_SECONDS)
    return Erased(
        erased.charges, erased.other_items, final=job.final and not erased.continued, continued=erased.continued
    )


def tombstone(
    summaries: SummariesRepository,
    key: CustomerKey,
    erased_before: int,
    max_record_age: int,
    now: Callable[[], float] = time.time,
) -> None:
    """Replace the customer's summary with the erasure's tombstone (``plan.plan_erasure``), unless it is there."""
    kept = max(STREAM_RETENTION_SECONDS, max_record_age) + TOMBSTONE_MARGIN_SECONDS
    expires_at = erased_before // 1000 + kept + WRITE_SLACK_SECONDS

    def in_place_of(current: StoredSummary | None) -> SummaryWrite | None:
        return plan.plan_erasure(key, current, erased_before=erased_before, expires_at=expires_at)

    summaries.commit(key, summaries.get(*key), in_place_of, now=now)


def delete_erased(
    summaries: SummariesRepository,
    charges: ChargesRepository,
    key: CustomerKey,
    erased_before: int,
    seconds_left: Callable[[], float] = lambda: math.inf,
) -> Erased:
    """Delete the customer's charges received before ``erased_before``, then its other items (``final`` unset)."""
    deleted = 0
    for page in charges.erase_received_before(*key, erased_before):
        deleted += page
        if seconds_left() < ERASE_MARGIN_SECONDS:
            return Erased(deleted, 0, final=False, continued=True)
    others = summaries.delete_erased(*key, erasure_bucket=seen.bucket_of(erased_before // 1000))
    return Erased(deleted, others, final=False)


def _summaries(settings: Settings) -> SummariesRepository:
    return SummariesRepository(settings.summaries_table_name, settings.charges_table_name)


def _jobs(settings: Settings) -> JobsQueue:
    if not settings.customer_jobs_queue_url:
        raise RuntimeError("CUSTOMER_JOBS_QUEUE_URL is not set: an erasure needs the customer jobs queue")
    return JobsQueue(settings.customer_jobs_queue_url)


def _hash(settings: Settings, key: CustomerKey) -> str:
    if not settings.erasure_hash_key_id:
        raise RuntimeError("ERASURE_HASH_KEY_ID is not set: an erasure is recorded under a keyed hash")
    return IdentityHasher(settings.erasure_hash_key_id).hash(*key)
