"""Summarizing a stream batch: fold a batch of charge records into the customers' summaries, exactly once.

Exactly once (DESIGN.md): a batch's charge records are grouped by customer. Per customer, the
summary is read (one consistent BatchGetItem for the whole batch), the customer's new charges are
folded in, and ONE TransactWriteItems puts the summary under its ``version`` and marks every one of
those charges ``summarized_at`` under ``attribute_not_exists(summarized_at)``. When the transaction
is cancelled, the charges whose marker failed were counted by an earlier write (a re-delivered
record, a retried batch, a concurrent invocation) and are dropped; a failed version check means
another writer got there first: re-read and fold again. After ``MAX_COMMIT_ATTEMPTS`` fruitless
attempts that customer's records are reported as failed (``batchItemFailures``) and Lambda retries
from the lowest one; the other customers' records that come back are dropped by their markers.
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
from beacon.dal.summaries import MAX_CHARGES_PER_TRANSACTION, CommitResult, SummariesRepository
from beacon.errors import StorageUnavailableError
from beacon.logic.fold import fold_charges
from beacon.models.records import ChargeRecord
from beacon.models.summary import EMPTY_SUMMARY, StoredSummary
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
    failed: list[str] = field(default_factory=list)

    def fail(self, sequences: list[str]) -> None:
        """One customer left for a retry: its records are reported as failures."""
        self.customers_failed += 1
        self.failed.extend(sequences)

    def applied(self, charges: int, duplicates: int) -> None:
        """One customer's summary written: ``charges`` newly counted, ``duplicates`` dropped."""
        self.charges_applied += charges
        self.duplicates_skipped += duplicates
        self.customers_updated += 1 if charges else 0

    def response(self) -> "PartialItemFailureResponse":
        """The partial batch response of ``ReportBatchItemFailures``."""
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in self.failed]}


@dataclass
class _CustomerBatch:
    sequences: list[str] = field(default_factory=list)
    charges: list[ChargeRecord] = field(default_factory=list)


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
    """Fold a stream batch into the summaries, one transaction per customer (more past 99 charges).

    ``seconds_left`` (the invocation's remaining time): when it falls under ``DEADLINE_MARGIN_SECONDS``,
    the customers not yet written are reported as failures, so that Lambda retries them from there
    instead of the whole batch after a timeout.
    """
    summaries = summaries or repository()
    timeout = get_settings().session_timeout_seconds
    outcome = BatchOutcome()
    groups = _group_by_customer(records, outcome)
    if not groups:
        return outcome
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
            applied, duplicates = summarize_customer(
                summaries, key, group.charges, stored.get(key), session_timeout=timeout, now=now, sleep=sleep
            )
        except Exception:
            logger.exception("summary not written", project_id=key[0], charges=len(group.charges))
            outcome.fail(group.sequences)
            continue
        outcome.applied(applied, duplicates)
    if outcome.customers_failed:
        logger.warning("customers left for a retry", customers=outcome.customers_failed, records=len(outcome.failed))
    outcome.failed.sort(key=int)
    return outcome


def _group_by_customer(records: Iterable[DynamoDBRecord], outcome: BatchOutcome) -> dict[CustomerKey, _CustomerBatch]:
    """The batch's charge records by customer; other records are counted as ignored, unreadable ones as failed."""
    groups: dict[CustomerKey, _CustomerBatch] = defaultdict(_CustomerBatch)
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
        except (KeyError, TypeError, ValueError):
            logger.error("unreadable charge record", sequence_number=sequence)
            outcome.failed.append(sequence)
            continue
        group = groups[(charge.project_id, charge.customer_id)]
        group.sequences.append(sequence)
        group.charges.append(charge)
    return groups


def summarize_customer(
    summaries: SummariesRepository,
    key: CustomerKey,
    charges: Sequence[ChargeRecord],
    stored: StoredSummary | None,
    *,
    session_timeout: int,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, int]:
    """Fold one customer's charges into its summary exactly once; returns (charges applied, duplicates skipped)."""
    unique = {charge.charge_id: charge for charge in charges}
    duplicates = len(charges) - len(unique)
    pending = sorted(unique.values(), key=lambda c: (c.received_at, c.created_at, c.charge_id))
    applied, fruitless = 0, 0
    while pending:
        chunk = pending[:MAX_CHARGES_PER_TRANSACTION]
        new, result = _commit_next(summaries, key, stored, chunk, session_timeout=session_timeout, now=int(now()))
        if result is not None and result.committed:
            applied += len(chunk)
            pending = pending[len(chunk) :]
            stored, fruitless = new, 0
            continue
        if result is not None and result.already_summarized:
            duplicates += len(result.already_summarized)
            pending = [c for c in pending if c.charge_id not in result.already_summarized]
        else:
            fruitless += 1
            if fruitless >= MAX_COMMIT_ATTEMPTS:
                raise SummaryConflictError(f"summary still contended after {MAX_COMMIT_ATTEMPTS} attempts")
            sleep(aws.backoff_delay(fruitless))
        if result is None or result.version_conflict or result.retryable:
            stored = summaries.get(*key)
    return applied, duplicates


def _commit_next(
    summaries: SummariesRepository,
    key: CustomerKey,
    stored: StoredSummary | None,
    chunk: Sequence[ChargeRecord],
    *,
    session_timeout: int,
    now: int,
) -> tuple[StoredSummary, CommitResult | None]:
    """The summary after ``chunk`` and what became of writing it (``None``: storage failed, outcome unknown)."""
    base = stored.summary if stored else EMPTY_SUMMARY
    new = StoredSummary(
        project_id=key[0],
        customer_id=key[1],
        summary=fold_charges(base, chunk, session_timeout=session_timeout),
        version=(stored.version if stored else 0) + 1,
    )
    try:
        return new, summaries.commit(new, expected_version=stored.version if stored else None, charges=chunk, now=now)
    except StorageUnavailableError:
        # Also when the outcome is unknown (a timeout): re-reading and the markers sort it out.
        return new, None


def _is_charge(image: Any) -> bool:
    return isinstance(image, dict) and image.get("type") == {"S": CHARGE_ITEM_TYPE}
