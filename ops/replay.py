"""Replaying the stream batches that the summarizer's on-failure queue points at, exactly like the function."""

from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from beacon.services.summarize_batch import BatchOutcome, process_stream_records
from ops.stream_failures import FailureQueue, StreamReader, StreamRecordsGoneError


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
    queue: FailureQueue, reader: StreamReader, *, max_messages: int, drop_gone: bool = False
) -> list[ReplayResult]:
    """Read the on-failure queue, re-read each batch from the stream, process it like the handler, delete it when done.

    A message whose records the stream no longer holds (older than its 24 hours) is reported as
    ``gone`` and left in the queue (``dropped`` with ``drop_gone``): rebuild the summaries from the
    stored charges. A batch with records that fail again stays in the queue (``failed``).
    """
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
