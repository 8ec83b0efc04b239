"""Summarizing: a stream batch folded into the customers' summaries exactly once, and the recompute behind it.

A batch's charge records are grouped by customer and the summaries read at once (one consistent
BatchGetItem). The customers are then written concurrently, each by one task that keeps its
writes in order: plan from the stored summary (``logic.plan``), one conditional write under its
version, and when the summary changed meanwhile, read it and plan again (``SummariesRepository.commit``).
A record the window cannot decide (``logic.seen``), and a customer with no summary yet, is
recomputed from its stored charges, read page by page in memory that does not grow with the history.
A recompute that would not finish in the invocation's time is handed to the jobs function, which
has fifteen minutes; the version check keeps it exactly once wherever it runs.

A customer whose summary cannot be written is reported failed on its own (its records go back
in ``batchItemFailures``); Lambda retries from the lowest of them, and the other customers' records
that come back with the retry are duplicates by then. docs/design.md, "Exactly once", gives the
argument.
"""

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from beacon.dal import aws
from beacon.dal.item_keys import CHARGE_ITEM_TYPE
from beacon.dal.items import charge_from_item
from beacon.dal.jobs import JobsQueue
from beacon.dal.summaries import CustomerKey, SummariesRepository, SummaryConflictError
from beacon.errors import StorageUnavailableError
from beacon.logic import plan, seen
from beacon.logic.fold import Tally
from beacon.models.jobs import CustomerJob
from beacon.models.records import ChargeRecord
from beacon.models.stored import StoredSummary, SummaryWrite
from beacon.models.summary import EMPTY_SUMMARY, CustomerSummary
from beacon.observability import logger
from beacon.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

# A customer's work is started only with this much of the invocation left, and a recompute stops
# reading when it would go below it: one commit (a few calls of at most 5 s each) must still fit.
DEADLINE_MARGIN_SECONDS = 10.0
RECOMPUTE_ATTEMPTS = 3

SecondsLeft = Callable[[], float]


class RecomputeHandoffError(Exception):
    """A recompute that cannot finish within the invocation's remaining time."""


class _Unknown(Exception):
    """A record the summary's window cannot decide: the customer is recomputed."""


class _StartOver(Exception):
    """The summary changed during a recompute in a way the recompute cannot catch up with."""


@dataclass
class BatchOutcome:
    """What one batch did; ``failed`` holds the sequence numbers to report to Lambda."""

    records: int = 0
    ignored: int = 0
    customers_updated: int = 0
    charges_applied: int = 0
    duplicates_skipped: int = 0
    customers_failed: int = 0
    customers_recomputed: int = 0
    customers_handed_off: int = 0
    failed: list[str] = field(default_factory=list)

    def fail(self, sequences: list[str]) -> None:
        """One customer left for a retry: its records are reported as failures."""
        self.customers_failed += 1
        self.failed.extend(sequences)

    def applied(self, done: "CustomerOutcome") -> None:
        """One customer's charges dealt with (written, recomputed, handed off, or all of them duplicates)."""
        self.charges_applied += done.applied
        self.duplicates_skipped += done.duplicates
        self.customers_updated += 1 if done.applied or done.recomputed else 0
        self.customers_recomputed += 1 if done.recomputed else 0
        self.customers_handed_off += 1 if done.handed_off else 0

    def response(self) -> "PartialItemFailureResponse":
        """The partial batch response of ``ReportBatchItemFailures``."""
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in sorted(self.failed, key=int)]}


@dataclass(frozen=True)
class CustomerOutcome:
    """One customer's part of a batch: charges newly counted, duplicates dropped, recomputed, handed off."""

    applied: int = 0
    duplicates: int = 0
    recomputed: bool = False
    handed_off: bool = False


@dataclass
class _CustomerBatch:
    sequences: list[str] = field(default_factory=list)
    charges: list[ChargeRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What every customer's work needs: the tables, the clock, the window's horizon and limits."""

    summaries: SummariesRepository
    since: int
    session_timeout: int
    now: Callable[[], float] = time.time
    seconds_left: SecondsLeft | None = None
    limits: seen.WindowLimits = seen.LIMITS

    def time_is_short(self) -> bool:
        """Less than ``DEADLINE_MARGIN_SECONDS`` of the invocation left."""
        return self.seconds_left is not None and self.seconds_left() < DEADLINE_MARGIN_SECONDS


def repository() -> SummariesRepository:
    """The summaries repository of this environment's tables."""
    settings = get_settings()
    return SummariesRepository(settings.summaries_table_name, settings.charges_table_name)


# ---------------------------------------------------------------- the stream batch


def process_stream_records(
    records: Iterable[DynamoDBRecord],
    *,
    summaries: SummariesRepository | None = None,
    now: Callable[[], float] = time.time,
    seconds_left: SecondsLeft | None = None,
    concurrency: int = aws.MAX_CONCURRENT_CALLS,
    limits: seen.WindowLimits | None = None,
) -> BatchOutcome:
    """Fold a stream batch into the summaries: each customer once, up to ``concurrency`` at a time.

    ``seconds_left`` (the invocation's remaining time): a customer is started only while more than
    ``DEADLINE_MARGIN_SECONDS`` remain; the others are reported as failures, so that Lambda retries
    them instead of the whole batch after a timeout.
    """
    settings = get_settings()
    outcome = BatchOutcome()
    groups, newest = _group_by_customer(records, outcome)
    if not groups:
        return outcome
    summaries = summaries or repository()
    context = Context(
        summaries=summaries,
        since=seen.horizon(newest, settings.stream_max_record_age_seconds),
        session_timeout=settings.session_timeout_seconds,
        now=now,
        seconds_left=seconds_left,
        limits=limits or seen.LIMITS,
    )
    try:
        stored = summaries.get_many(list(groups))
    except StorageUnavailableError:
        logger.exception("summaries could not be read; the whole batch will be retried")
        for group in groups.values():
            outcome.fail(group.sequences)
        return outcome

    def work(key: CustomerKey) -> CustomerOutcome | None:
        if context.time_is_short():
            return None
        try:
            return summarize_customer(context, key, groups[key].charges, stored.get(key))
        except Exception:
            logger.exception("summary not written", project_id=key[0], charges=len(groups[key].charges))
            return None

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(groups)))) as pool:
        for key, done in zip(groups, pool.map(work, groups), strict=True):
            if done is None:
                outcome.fail(groups[key].sequences)
            else:
                outcome.applied(done)
    if outcome.customers_failed:
        logger.warning("customers left for a retry", customers=outcome.customers_failed, records=len(outcome.failed))
    return outcome


def _group_by_customer(
    records: Iterable[DynamoDBRecord], outcome: BatchOutcome
) -> tuple[dict[CustomerKey, _CustomerBatch], int]:
    """The batch's charge records by customer, and when the newest of them was created.

    Other records are counted as ignored, unreadable ones as failed. A record without
    ``ApproximateCreationDateTime`` counts as created when its charge was received.
    """
    groups: dict[CustomerKey, _CustomerBatch] = defaultdict(_CustomerBatch)
    newest = 0
    for record in records:
        stream_record = record.dynamodb
        sequence = stream_record.sequence_number if stream_record else None
        image = stream_record.get("NewImage") if stream_record else None
        if record.event_name != DynamoDBRecordEventName.INSERT or not _is_charge(image) or sequence is None:
            outcome.ignored += 1  # the event source filter passes only charge inserts; this is the second line
            continue
        outcome.records += 1
        try:
            charge = charge_from_item(image)  # type: ignore[arg-type]
            created_at = stream_record.approximate_creation_date_time  # type: ignore[union-attr]
        except (KeyError, TypeError, ValueError):
            logger.error("unreadable charge record", sequence_number=sequence)
            outcome.failed.append(sequence)
            continue
        newest = max(newest, charge.received_at if created_at is None else created_at)
        group = groups[(charge.project_id, charge.customer_id)]
        group.sequences.append(sequence)
        group.charges.append(charge)
    return groups, newest


def _is_charge(image: Any) -> bool:
    return isinstance(image, dict) and image.get("type") == {"S": CHARGE_ITEM_TYPE}


# ---------------------------------------------------------------- one customer


def summarize_customer(
    context: Context, key: CustomerKey, charges: Sequence[ChargeRecord], stored: StoredSummary | None
) -> CustomerOutcome:
    """Count one customer's charges in its summary exactly once: folded in, or recomputed, or handed off."""
    pending, applied = list(charges), 0
    while True:
        fold = functools.partial(_plan_fold, context, pending=tuple(pending))
        try:
            write = context.summaries.commit(key, stored, fold, now=context.now)
        except _Unknown:
            return _recompute_or_hand_off(context, key, applied=applied)
        if write is None:  # nothing left to count: what is pending is counted already
            return CustomerOutcome(applied, len(charges) - applied)
        applied += len(write.counted)
        pending = [charge for charge in pending if charge.charge_id not in write.counted]
        stored = write.summary  # a customer with more than one write holds takes another


def _plan_fold(
    context: Context, current: StoredSummary | None, *, pending: Sequence[ChargeRecord]
) -> SummaryWrite | None:
    buckets = plan.buckets_to_read(current, pending)
    elsewhere: frozenset[str] = frozenset()
    if current is not None and buckets:
        elsewhere = frozenset().union(*context.summaries.seen_ids(*_key(current), buckets).values())
    folded = plan.plan_fold(
        current,
        pending,
        elsewhere=elsewhere,
        since=context.since,
        session_timeout=context.session_timeout,
        limits=context.limits,
    )
    if folded.recompute:
        raise _Unknown
    return folded.write


def _recompute_or_hand_off(context: Context, key: CustomerKey, *, applied: int) -> CustomerOutcome:
    try:
        recompute_customer(context, key)
    except RecomputeHandoffError:
        hand_off(key)
        return CustomerOutcome(applied, handed_off=True)
    return CustomerOutcome(applied, recomputed=True)


def hand_off(key: CustomerKey) -> None:
    """Queue the customer's recompute for the jobs function (no queue configured: fail, to be retried)."""
    queue_url = get_settings().customer_jobs_queue_url
    if not queue_url:
        raise RecomputeHandoffError("no jobs queue to hand the recompute to (CUSTOMER_JOBS_QUEUE_URL)")
    JobsQueue(queue_url).send(CustomerJob(kind="recompute", project_id=key[0], customer_id=key[1]))
    logger.info("recompute handed to the jobs function", project_id=key[0])


def _key(stored: StoredSummary) -> CustomerKey:
    return stored.project_id, stored.customer_id


# ---------------------------------------------------------------- the recompute


def recompute_customer(context: Context, key: CustomerKey, *, first: "Recompute | None" = None) -> SummaryWrite | None:
    """Replace the customer's summary with what its stored charges give, exactly once.

    The charges are read page by page and tallied (memory: the spans of the sessions, the ids of the
    window's buckets). When the summary changes while they are read, what it counted meanwhile is
    folded into the recompute (``plan.missed_by``), so that a long history is read again only when
    that cannot be told. ``RecomputeHandoffError`` when the reading would pass the deadline.
    ``first``: a recompute already read (``ops.rebuild`` compares before it repairs). ``None`` back:
    nothing to write (no charge counts, and no summary but an erasure's tombstone).
    """
    for _ in range(RECOMPUTE_ATTEMPTS):
        try:
            return (first or Recompute(context, key)).commit()
        except _StartOver:
            first = None
    raise SummaryConflictError("the summary kept changing during the recompute")


class Recompute:
    """One recompute: the customer's summary as read, its stored charges tallied, and its writes."""

    def __init__(self, context: Context, key: CustomerKey) -> None:
        self.context, self.key = context, key
        self.stored = context.summaries.get(*key)
        # Charges received before the customer was erased never count (the erasure deletes them).
        self.erased_before = self.stored.erased_before if self.stored else None
        base_since = seen.advance(self.stored.seen, context.since).since if self.stored else context.since
        self.tally = Tally(EMPTY_SUMMARY, session_timeout=context.session_timeout)
        self.charges = 0
        self.recent: dict[int, set[str]] = defaultdict(set)
        for page in context.summaries.charge_pages(*key):
            if context.time_is_short():
                raise RecomputeHandoffError(f"recompute of {key[0]} not finished in time")
            self._add(page, since=base_since)
        self.last: SummaryWrite | None = None

    def _add(self, charges: list[ChargeRecord], since: int | None) -> None:
        """Tally charges (those received before an erasure left out); keep the ids of buckets ``since`` keeps."""
        for charge in charges:
            if self.erased_before is not None and charge.received_ms < self.erased_before:
                continue
            self.tally.add(charge)
            self.charges += 1
            bucket = seen.bucket_of(charge.received_at)
            if not seen.expired(bucket, since):
                self.recent[bucket].add(charge.charge_id)

    @property
    def expected(self) -> CustomerSummary:
        """The summary the stored charges give, every session span kept."""
        return self.tally.summary()

    def commit(self) -> SummaryWrite | None:
        """Write the recomputed summary in place of the stored one (``_StartOver`` when it cannot catch up)."""
        return self.context.summaries.commit(self.key, self.stored, self.plan, now=self.context.now)

    def plan(self, current: StoredSummary | None) -> SummaryWrite | None:
        """The recompute's write in place of ``current``, with what ``current`` counted that it did not read."""
        if (current.erased_before if current else None) != self.erased_before:
            raise _StartOver  # erased while the charges were read: read them again, from the new floor
        if self.last is not None and current is not None:
            extra = plan.missed_by(self.last, self.context.summaries.counted_ids(current))
            if extra is None:
                raise _StartOver
            self._add(self.context.summaries.charges_by_id(*self.key, sorted(extra)), since=0)  # all kept
        self.last = plan.plan_recompute(
            self.key,
            current,
            self.tally.summary(),
            {bucket: frozenset(ids) for bucket, ids in self.recent.items()},
            since=self.context.since,
            session_timeout=self.context.session_timeout,
            limits=self.context.limits,
        )
        return self.last


def run_job(
    job: CustomerJob, *, seconds_left: SecondsLeft | None = None, now: Callable[[], float] = time.time
) -> SummaryWrite | None:
    """Do a recompute the stream handed over (``hand_off``), with the jobs function's time."""
    settings = get_settings()
    context = Context(
        summaries=repository(),
        since=seen.horizon(int(now()), settings.stream_max_record_age_seconds),
        session_timeout=settings.session_timeout_seconds,
        now=now,
        seconds_left=seconds_left,
    )
    return recompute_customer(context, (job.project_id, job.customer_id))
