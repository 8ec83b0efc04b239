"""Summarizing a stream batch: fold a batch of charge records into the customers' summaries, exactly once.

Exactly once (docs/design.md, ``logic.seen``): a batch's charge records are grouped by customer. Per
customer, the summary is read (one consistent BatchGetItem for the whole batch) with its window of
the charges it counts; each record is a duplicate (its id is in the window: dropped), new, or
unknown (too old for the window to tell). The new charges are folded in and ONE conditional write
puts the summary, its window and, for a heavy customer, seen items, under the ``version`` it was
read at. When a record is unknown the customer's summary is recomputed from its stored charges
instead. A failed version check or an unknown outcome (a timeout) means: re-read and decide again
(the window tells whether the earlier write happened). After ``MAX_COMMIT_ATTEMPTS`` fruitless
attempts that customer's records are reported as failed (``batchItemFailures``) and Lambda retries
from the lowest one; the other customers' records that come back are duplicates by then.
"""

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from beacon.dal import aws
from beacon.dal.item_keys import CHARGE_ITEM_TYPE
from beacon.dal.items import charge_from_item
from beacon.dal.summaries import (
    MAX_IDS_PER_SEEN_ITEM,
    MAX_SEEN_IDS_PER_WRITE,
    MAX_SEEN_ITEMS_PER_WRITE,
    SummariesRepository,
)
from beacon.errors import StorageUnavailableError
from beacon.logic import seen
from beacon.logic.fold import fold_charges, summarize
from beacon.models.records import ChargeRecord
from beacon.models.summary import EMPTY_SUMMARY, EMPTY_WINDOW, CustomerSummary, SeenWindow, StoredSummary
from beacon.observability import logger
from beacon.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

MAX_COMMIT_ATTEMPTS = 6
DEADLINE_MARGIN_SECONDS = 5.0

CustomerKey = tuple[str, str]  # (project_id, customer_id)


class SummaryConflictError(Exception):
    """A customer's summary could not be written within the bounded number of attempts."""


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
    failed: list[str] = field(default_factory=list)

    def fail(self, sequences: list[str]) -> None:
        """One customer left for a retry: its records are reported as failures."""
        self.customers_failed += 1
        self.failed.extend(sequences)

    def applied(self, done: "CustomerOutcome") -> None:
        """One customer's charges dealt with (written, or all of them duplicates)."""
        self.charges_applied += done.applied
        self.duplicates_skipped += done.duplicates
        self.customers_updated += 1 if done.applied or done.recomputed else 0
        self.customers_recomputed += 1 if done.recomputed else 0

    def response(self) -> "PartialItemFailureResponse":
        """The partial batch response of ``ReportBatchItemFailures``."""
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in self.failed]}


@dataclass(frozen=True)
class CustomerOutcome:
    """One customer's part of a batch: charges newly counted, duplicates dropped, recomputed from storage."""

    applied: int = 0
    duplicates: int = 0
    recomputed: bool = False


@dataclass
class _CustomerBatch:
    sequences: list[str] = field(default_factory=list)
    charges: list[ChargeRecord] = field(default_factory=list)


@dataclass(frozen=True)
class _Write:
    """One conditional write to make: the next summary, the version it replaces and its seen items."""

    summary: StoredSummary
    expected_version: int | None
    seen_items: dict[int, frozenset[str]]
    charges: Sequence[ChargeRecord]  # what it counts
    pending: Sequence[ChargeRecord]  # every charge it found new (more than ``charges`` past one write)
    outcome: CustomerOutcome


def repository() -> SummariesRepository:
    """The summaries repository of this environment's tables."""
    settings = get_settings()
    return SummariesRepository(settings.summaries_table_name, settings.charges_table_name)


# ---------------------------------------------------------------- stream batch


def process_stream_records(
    records: Iterable[DynamoDBRecord],
    *,
    summaries: SummariesRepository | None = None,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    seconds_left: Callable[[], float] | None = None,
) -> BatchOutcome:
    """Fold a stream batch into the summaries, one conditional write per customer.

    ``seconds_left`` (the invocation's remaining time): when it falls under ``DEADLINE_MARGIN_SECONDS``,
    the customers not yet written are reported as failures, so that Lambda retries them from there
    instead of the whole batch after a timeout.
    """
    summaries = summaries or repository()
    settings = get_settings()
    outcome = BatchOutcome()
    groups, newest = _group_by_customer(records, outcome)
    if not groups:
        return outcome
    since = seen.horizon(newest, settings.stream_max_record_age_seconds)
    try:
        stored = summaries.get_many(list(groups))
    except StorageUnavailableError:
        logger.exception("summaries could not be read; the whole batch will be retried")
        for group in groups.values():
            outcome.fail(group.sequences)
        return outcome
    for key, group in groups.items():
        if seconds_left is not None and seconds_left() < DEADLINE_MARGIN_SECONDS:
            outcome.fail(group.sequences)
            continue
        try:
            done = summarize_customer(
                summaries,
                key,
                group.charges,
                stored.get(key),
                since=since,
                session_timeout=settings.session_timeout_seconds,
                now=now,
                sleep=sleep,
            )
        except Exception:
            logger.exception("summary not written", project_id=key[0], charges=len(group.charges))
            outcome.fail(group.sequences)
            continue
        outcome.applied(done)
    if outcome.customers_failed:
        logger.warning("customers left for a retry", customers=outcome.customers_failed, records=len(outcome.failed))
    outcome.failed.sort(key=int)
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


def summarize_customer(
    summaries: SummariesRepository,
    key: CustomerKey,
    charges: Sequence[ChargeRecord],
    stored: StoredSummary | None,
    *,
    since: int,
    session_timeout: int,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> CustomerOutcome:
    """Count one customer's charges in its summary exactly once.

    ``since``: how far the window may be pruned (``logic.seen.horizon`` of the batch's newest record).
    """
    pending = list({charge.charge_id: charge for charge in charges}.values())
    applied, duplicates = 0, len(charges) - len(pending)
    fruitless = 0
    while True:
        write = _next_write(summaries, key, pending, stored, since=since, session_timeout=session_timeout)
        if write is None:  # nothing left to count: what is pending is in the window already
            return CustomerOutcome(applied, duplicates + len(pending))
        try:
            written = summaries.write(
                write.summary, expected_version=write.expected_version, seen=write.seen_items, now=int(now())
            )
        except StorageUnavailableError:
            written = False  # also when the outcome is unknown (a timeout): the re-read window tells
        if written and write.outcome.recomputed:
            return CustomerOutcome(applied, duplicates, recomputed=True)  # it counts every stored charge
        if written:
            counted = {charge.charge_id for charge in write.charges}
            applied += len(counted)
            duplicates += write.outcome.duplicates
            pending = [charge for charge in write.pending if charge.charge_id not in counted]
            stored, fruitless = write.summary, 0
            continue  # a customer with more buckets than one write holds takes another write
        fruitless += 1
        if fruitless >= MAX_COMMIT_ATTEMPTS:
            raise SummaryConflictError(f"summary still contended after {MAX_COMMIT_ATTEMPTS} attempts")
        sleep(aws.backoff_delay(fruitless))
        stored = summaries.get(*key)


def _next_write(
    summaries: SummariesRepository,
    key: CustomerKey,
    charges: Sequence[ChargeRecord],
    stored: StoredSummary | None,
    *,
    since: int,
    session_timeout: int,
) -> _Write | None:
    """The next write that counts ``charges`` not yet counted by ``stored``, or ``None`` when there is none."""
    window = stored.seen if stored else None
    elsewhere: frozenset[str] = frozenset()
    if window is not None and window.overflow:
        wanted = sorted({seen.bucket_of(c.received_at) for c in charges} & window.overflow)
        elsewhere = summaries.seen_ids(key[0], key[1], wanted)
    verdicts = [seen.classify(window, c.charge_id, c.received_at, elsewhere) for c in charges]
    if seen.Verdict.UNKNOWN in verdicts:
        return recompute(summaries, key, stored, since=since, session_timeout=session_timeout)
    new = [c for c, verdict in zip(charges, verdicts, strict=True) if verdict is seen.Verdict.NEW]
    if not new:
        return None
    chunk = _one_write_of(new)
    start = seen.advance(window or EMPTY_WINDOW, since)
    next_window, seen_items = seen.add(start, seen.by_bucket((c.charge_id, c.received_at) for c in chunk))
    folded = fold_charges(stored.summary if stored else EMPTY_SUMMARY, chunk, session_timeout=session_timeout)
    return _replacing(
        stored,
        key,
        folded,
        next_window,
        seen_items,
        charges=chunk,
        pending=new,
        outcome=CustomerOutcome(duplicates=len(charges) - len(new)),
    )


def _replacing(
    stored: StoredSummary | None,
    key: CustomerKey,
    summary: CustomerSummary,
    window: SeenWindow,
    seen_items: dict[int, frozenset[str]],
    *,
    charges: Sequence[ChargeRecord],
    pending: Sequence[ChargeRecord],
    outcome: CustomerOutcome,
) -> _Write:
    """The write of ``summary`` and ``window`` in place of ``stored`` (``None``: no summary of ``key`` yet)."""
    return _Write(
        StoredSummary(key[0], key[1], summary, (stored.version if stored else 0) + 1, window),
        expected_version=stored.version if stored else None,
        seen_items=seen_items,
        charges=charges,
        pending=pending,
        outcome=outcome,
    )


def _one_write_of(new: Sequence[ChargeRecord]) -> list[ChargeRecord]:
    """The first of ``new`` that one write can hold: at most 99 buckets and 20,000 ids (one seen item per bucket)."""
    ordered = sorted(new, key=lambda c: seen.bucket_of(c.received_at))
    buckets: set[int] = set()
    chunk: list[ChargeRecord] = []
    for charge in ordered[:MAX_IDS_PER_SEEN_ITEM]:
        bucket = seen.bucket_of(charge.received_at)
        if bucket not in buckets and len(buckets) == MAX_SEEN_ITEMS_PER_WRITE:
            break
        buckets.add(bucket)
        chunk.append(charge)
    return chunk


def recompute(
    summaries: SummariesRepository,
    key: CustomerKey,
    stored: StoredSummary | None,
    *,
    since: int,
    session_timeout: int,
    charges: Sequence[ChargeRecord] | None = None,
) -> _Write:
    """The write that replaces the summary with the one its stored charges give (``logic.seen``: the *unknown* case).

    The window is refilled with the ids of every stored charge whose bucket has not expired. When
    they are more than one write holds, ``since`` moves forward past the oldest buckets: records of
    those charges, if any still come, are unknown again and recomputed again (right, only slower).
    """
    if charges is None:
        charges = summaries.charges_of(*key)
    window = seen.advance(stored.seen if stored else EMPTY_WINDOW, since)
    buckets = seen.by_bucket((c.charge_id, c.received_at) for c in charges)
    kept = {bucket: ids for bucket, ids in buckets.items() if not seen.expired(bucket, window.since)}
    window = _fit_one_write(SeenWindow(since=window.since), kept)
    next_window, seen_items = seen.add(window, kept)  # leaves out what _fit_one_write expired
    recomputed = summarize(charges, session_timeout=session_timeout)
    return _replacing(
        stored,
        key,
        recomputed,
        next_window,
        seen_items,
        charges=charges,
        pending=(),
        outcome=CustomerOutcome(recomputed=True),
    )


def _fit_one_write(window: SeenWindow, buckets: dict[int, frozenset[str]]) -> SeenWindow:
    """``window`` with ``since`` moved past the oldest of ``buckets`` until the rest fit in one write."""
    newest_first = sorted(buckets, reverse=True)
    items, ids = 0, 0
    for index, bucket in enumerate(newest_first):
        parts = -(-len(buckets[bucket]) // MAX_IDS_PER_SEEN_ITEM)
        if items + parts > MAX_SEEN_ITEMS_PER_WRITE or ids + len(buckets[bucket]) > MAX_SEEN_IDS_PER_WRITE:
            oldest_kept = newest_first[index - 1] if index else bucket + 1
            first_since = oldest_kept * seen.BUCKET_SECONDS + seen.WRITE_SLACK_SECONDS
            return seen.advance(window, first_since)
        items, ids = items + parts, ids + len(buckets[bucket])
    return window


def _is_charge(image: Any) -> bool:
    return isinstance(image, dict) and image.get("type") == {"S": CHARGE_ITEM_TYPE}
