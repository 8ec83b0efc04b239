"""Replaying the stream batches that the summarizer's on-failure queue points at, exactly like the function.

A message is deleted only once its batch is done: its whole range read back from the stream and
folded in, or, when the stream no longer holds the range (24 hours), the customers whose charges
arrived in the batch's time rebuilt from the stored charges. Anything else leaves the message in
the queue, reported, and the command fails.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from beacon.logic.seen import WRITE_SLACK_SECONDS
from beacon.services.summarize_batch import BatchOutcome, process_stream_records, repository
from ops.rebuild import rebuild_customer
from ops.stream_failures import FailureMessage, FailureQueue, StreamReader, StreamRecordsGoneError


@dataclass
class ReplayResult:
    """One on-failure message: its stream range and what became of it.

    ``status``: ``replayed`` (deleted), ``failed`` (records failed again: left in the queue),
    ``incomplete`` (the range could not be read to its end: left), ``rebuilt`` (the stream no longer
    holds it; its customers were rebuilt from the stored charges: deleted), ``gone`` (no longer in
    the stream and no arrival times to find its customers by: left, or ``dropped`` with ``drop_gone``).
    """

    shard_id: str
    start_sequence: str
    end_sequence: str
    status: str
    records: int = 0
    outcome: BatchOutcome | None = None
    rebuilt: list[tuple[str, str]] = field(default_factory=list)


Rebuild = Callable[[str, str], object]


def replay_failures(
    queue: FailureQueue,
    reader: StreamReader,
    *,
    max_messages: int,
    drop_gone: bool = False,
    rebuild: Rebuild | None = None,
) -> list[ReplayResult]:
    """Read the on-failure queue, redo each batch like the handler, delete each message whose batch is done."""
    rebuild = rebuild or (lambda project, customer: rebuild_customer(project, customer, repair=True))
    results: list[ReplayResult] = []
    received: set[str] = set()
    while len(results) < max_messages:
        # A message left in the queue comes back after its visibility timeout: once seen, stop.
        messages = [m for m in queue.receive(min(10, max_messages - len(results))) if m.message_id not in received]
        if not messages:
            break
        for message in messages:
            received.add(message.message_id)
            result = _replay(message, reader, rebuild, drop_gone=drop_gone)
            if result.status in ("replayed", "rebuilt", "dropped"):
                queue.delete(message.receipt_handle)
            results.append(result)
    return results


def _replay(message: FailureMessage, reader: StreamReader, rebuild: Rebuild, *, drop_gone: bool) -> ReplayResult:
    info = message.batch_info
    result = ReplayResult(info.shard_id, info.start_sequence, info.end_sequence, status="failed")
    try:
        read = reader.read_range(info.stream_arn, info.shard_id, info.start_sequence, info.end_sequence)
    except StreamRecordsGoneError:
        if info.first_arrival is None or info.last_arrival is None:
            result.status = "dropped" if drop_gone else "gone"
            return result
        result.rebuilt = sorted(_customers_arrived(info.first_arrival, info.last_arrival))
        for project, customer in result.rebuilt:
            rebuild(project, customer)
        result.status = "rebuilt"
        return result
    result.records = len(read.records)
    if not read.complete or len(read.records) < (info.batch_size or 0):
        result.status = "incomplete"
        return result
    result.outcome = process_stream_records(DynamoDBRecord(record) for record in read.records)
    result.status = "failed" if result.outcome.failed else "replayed"
    return result


def _customers_arrived(first: datetime, last: datetime) -> set[tuple[str, str]]:
    """The customers with a charge received while the batch's records arrived (and a margin each side)."""
    slack = timedelta(seconds=WRITE_SLACK_SECONDS)
    return repository().customers_received_between(int((first - slack).timestamp()), int((last + slack).timestamp()))
