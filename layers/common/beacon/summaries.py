"""Summaries: fold a stream batch into the summaries exactly once, read one, rebuild them, replay failures.

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

from beacon.dal.charges import backoff_delay
from beacon.dal.keys import CHARGE_ITEM_TYPE, customer_id
from beacon.dal.summaries import MAX_CHARGES_PER_TRANSACTION, SummariesRepository
from beacon.errors import NotFoundError, StorageUnavailableError
from beacon.logic.summary import EMPTY_SUMMARY, CustomerSummary, fold_charges, summarize
from beacon.models.persistence import ChargeRecord
from beacon.models.summary import StoredSummary, SummaryView
from beacon.observability import logger
from beacon.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

    from beacon.dal.stream_failures import FailureQueue, StreamReader

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
            charge = ChargeRecord.from_item(image)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            logger.error("unreadable charge record", sequence_number=sequence)
            outcome.failed.append(sequence)
            continue
        group = groups[(charge.project_id, charge.customer_id)]
        group.sequences.append(sequence)
        group.charges.append(charge)
    if not groups:
        return outcome
    try:
        stored = summaries.get_many(list(groups))
    except StorageUnavailableError:
        logger.exception("summaries could not be read; the whole batch will be retried")
        outcome.customers_failed += len(groups)
        outcome.failed.extend(sequence for group in groups.values() for sequence in group.sequences)
        return outcome
    for key, group in groups.items():
        if seconds_left is not None and seconds_left() < DEADLINE_MARGIN_SECONDS:
            outcome.customers_failed += 1
            outcome.failed.extend(group.sequences)
            continue
        try:
            applied, duplicates = summarize_customer(
                summaries, key, group.charges, stored.get(key), session_timeout=timeout, now=now, sleep=sleep
            )
        except Exception:
            logger.exception("summary not written", project_id=key[0], charges=len(group.charges))
            outcome.customers_failed += 1
            outcome.failed.extend(group.sequences)
            continue
        outcome.charges_applied += applied
        outcome.duplicates_skipped += duplicates
        outcome.customers_updated += 1 if applied else 0
    if outcome.customers_failed:
        logger.warning("customers left for a retry", customers=outcome.customers_failed, records=len(outcome.failed))
    outcome.failed.sort(key=int)
    return outcome


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
        base = stored.summary if stored else EMPTY_SUMMARY
        new = StoredSummary(
            project_id=key[0],
            customer_id=key[1],
            summary=fold_charges(base, chunk, session_timeout=session_timeout),
            version=(stored.version if stored else 0) + 1,
        )
        try:
            result = summaries.commit(
                new, expected_version=stored.version if stored else None, charges=chunk, now=int(now())
            )
        except StorageUnavailableError:
            # Also when the outcome is unknown (a timeout): re-reading and the markers sort it out.
            result = None
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
            sleep(backoff_delay(fruitless))
        if result is None or result.version_conflict or result.retryable:
            stored = summaries.get(*key)
    return applied, duplicates


def _is_charge(image: Any) -> bool:
    return isinstance(image, dict) and image.get("type") == {"S": CHARGE_ITEM_TYPE}


# ---------------------------------------------------------------- read


def read_summary(project_id: str, *, user_id: str | None, email: str | None) -> SummaryView:
    """A customer's summary as the read endpoint shows it; ``NotFoundError`` for an unknown customer."""
    stored = repository().get(project_id, customer_id(user_id, email), consistent=False)
    if stored is None:
        name = "user_id" if user_id is not None else "email"
        raise NotFoundError(f"no customer with this {name} in the project has a summarized charge", field=name)
    return SummaryView.of(stored.summary)


# ---------------------------------------------------------------- rebuild


def summary_fields(summary: CustomerSummary) -> dict[str, Any]:
    """Every field of a summary, flat: what the endpoint shows plus the state later folds depend on."""
    fields = SummaryView.of(summary).flat()
    fields["state.session_spans"] = [list(span) for span in summary.sessions.spans]
    fields["state.sessions_closed"] = summary.sessions.closed
    fields["state.last_charge_key"] = list(summary.charges.last_key) if summary.charges.last_key else None
    fields["state.email_key"] = list(summary.email_key) if summary.email_key else None
    return fields


@dataclass(frozen=True)
class RebuildResult:
    """One customer's check: the fields that differ, ``(stored, recomputed)``, and whether it was repaired."""

    project_id: str
    customer_id: str
    differences: dict[str, tuple[Any, Any]]
    charges: int
    unsummarized: int
    repaired: bool = False


def rebuild_customer(
    project_id: str, customer: str, *, repair: bool, now: Callable[[], float] = time.time
) -> RebuildResult:
    """Recompute a customer's summary from its stored charges, compare it field by field, repair it if asked.

    A repair writes what the charges say and marks the charges not yet summarized, with the same
    transactions as the stream (version check, markers): a stream record of one of those charges
    that arrives later is dropped, and a concurrent stream write makes the repair start over.
    """
    summaries = repository()
    timeout = get_settings().session_timeout_seconds
    for _ in range(MAX_COMMIT_ATTEMPTS):
        stored = summaries.get(project_id, customer)
        charges = summaries.charges_of(project_id, customer)
        expected = summarize((charge for charge, _ in charges), session_timeout=timeout)
        stored_fields = summary_fields(stored.summary if stored else EMPTY_SUMMARY)
        expected_fields = summary_fields(expected)
        differences = {
            name: (stored_fields[name], value)
            for name, value in expected_fields.items()
            if stored_fields[name] != value
        }
        if stored is None and charges:
            differences.setdefault("summary", (None, "missing"))
        unsummarized = [charge for charge, marked in charges if not marked]
        result = RebuildResult(project_id, customer, differences, len(charges), len(unsummarized))
        if not repair or not differences or not charges:
            return result  # a summary without any charge is left for an operator to look at
        if _repair(summaries, stored, charges, timeout=timeout, now=int(now())):
            return RebuildResult(project_id, customer, differences, len(charges), len(unsummarized), repaired=True)
    raise SummaryConflictError("the summary kept changing during the repair; run the rebuild again")


def _repair(
    summaries: SummariesRepository,
    stored: StoredSummary | None,
    charges: Sequence[tuple[ChargeRecord, bool]],
    *,
    timeout: int,
    now: int,
) -> bool:
    first = charges[0][0]
    state = summarize((charge for charge, marked in charges if marked), session_timeout=timeout)
    pending = [charge for charge, marked in charges if not marked]
    version = stored.version if stored else None
    chunks = [pending[i : i + MAX_CHARGES_PER_TRANSACTION] for i in range(0, len(pending), MAX_CHARGES_PER_TRANSACTION)]
    for chunk in chunks or [[]]:
        state = fold_charges(state, chunk, session_timeout=timeout)
        new = StoredSummary(first.project_id, first.customer_id, state, (version or 0) + 1)
        if not summaries.commit(new, expected_version=version, charges=chunk, now=now).committed:
            return False
        version = new.version
    return True


def rebuild_project(project_id: str, *, repair: bool) -> Iterable[RebuildResult]:
    """Check every customer of a project: those with a summary (a Query) and those with charges (a Scan)."""
    summaries = repository()
    customers = {stored.customer_id for stored in summaries.list_for_project(project_id)}
    customers |= summaries.customers_with_charges(project_id)
    for customer in sorted(customers):
        yield rebuild_customer(project_id, customer, repair=repair)


# ---------------------------------------------------------------- replay


@dataclass
class ReplayResult:
    """One on-failure message: its stream range and what became of it."""

    shard_id: str
    start_sequence: str
    end_sequence: str
    status: str  # "replayed", "failed" (left in the queue), "gone"/"dropped" (trimmed from the stream: rebuild)
    records: int = 0
    outcome: BatchOutcome | None = None


def replay_failures(
    queue: "FailureQueue", reader: "StreamReader", *, max_messages: int, drop_gone: bool = False
) -> list[ReplayResult]:
    """Read the on-failure queue, re-read each batch from the stream, process it like the handler, delete it when done.

    A message whose records the stream no longer holds (older than its 24 hours) is reported as
    ``gone`` and left in the queue (``dropped`` with ``drop_gone``): rebuild the summaries from the
    stored charges. A batch with records that fail again stays in the queue (``failed``).
    """
    from beacon.dal.stream_failures import StreamRecordsGoneError  # the replay command only: not at cold start

    results: list[ReplayResult] = []
    seen: set[str] = set()
    while len(results) < max_messages:
        # A message left in the queue comes back after its visibility timeout: once seen, stop.
        messages = [m for m in queue.receive(min(10, max_messages - len(results))) if m.message_id not in seen]
        if not messages:
            break
        for message in messages:
            seen.add(message.message_id)
            info = message.batch_info
            result = ReplayResult(info.shard_id, info.start_sequence, info.end_sequence, status="failed")
            try:
                records = reader.read_range(info.stream_arn, info.shard_id, info.start_sequence, info.end_sequence)
            except StreamRecordsGoneError:
                result.status = "gone"
                if drop_gone:
                    queue.delete(message.receipt_handle)
                    result.status = "dropped"
                results.append(result)
                continue
            result.records = len(records)
            result.outcome = process_stream_records(DynamoDBRecord(record) for record in records)
            if not result.outcome.failed:
                queue.delete(message.receipt_handle)
                result.status = "replayed"
            results.append(result)
    return results
