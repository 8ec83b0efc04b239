"""A local event source mapping: reads a table's stream and invokes its function as Lambda would.

The stream is read with the real ``dynamodbstreams`` API (DescribeStream, GetShardIterator,
GetRecords), each record is turned into the Lambda event format and passed through the mapping's
``FilterCriteria`` (records that fail it are dropped, as Lambda drops them). Records are batched per
shard, in order, up to ``BatchSize`` or until ``MaximumBatchingWindowInSeconds`` has passed since the
first one arrived. Then:

- ``ReportBatchItemFailures``: a response naming failed items makes the batch retry from the first
  of them (the records before it are done); an unknown item identifier fails the whole batch.
- an exception: with ``BisectBatchOnFunctionError`` the failing batch is split in two halves, each
  retried on its own until a single record is left; that record is then retried. Bisection itself
  does not use up a retry, so a poison record never takes healthy neighbours down with it.
- ``MaximumRetryAttempts`` and ``MaximumRecordAgeInSeconds`` bound the retries; records given up on
  are handed to ``on_give_up`` with the on-failure record Lambda would send to the destination
  (the local stack prints it and, when the destination is a queue of the template, sends it there).

A shard's batches are delivered one after the other: while a batch is retried, the shard waits.
"""

import json
import sys
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Event
from typing import TYPE_CHECKING, Any, Literal

from local.filters import passes
from local.sam import ACCOUNT_ID, StreamMapping
from ops.stream_failures import to_lambda_record

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

POLL_INTERVAL_SECONDS = 0.25  # Lambda polls a DynamoDB stream shard four times a second
SHARD_REFRESH_SECONDS = 5.0
MAX_RETRY_DELAY_SECONDS = 2.0

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class PendingRecord:
    """A stream record in the Lambda event format, and when the poller read it."""

    event: dict[str, Any]
    read_at: float

    @property
    def sequence_number(self) -> str:
        return str(self.event["dynamodb"]["SequenceNumber"])

    @property
    def created_at(self) -> float:
        return float(self.event["dynamodb"]["ApproximateCreationDateTime"])


@dataclass(frozen=True)
class GivenUp:
    """Records the mapping stopped retrying, with the on-failure record Lambda would send for them."""

    records: list[dict[str, Any]]
    failure_record: dict[str, Any]


@dataclass
class Outcome:
    """What one invocation did to a batch: ``retry_from`` is None on success, else the first record to retry."""

    retry_from: int | None
    error: bool = False
    status: str = "ok"


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    pending: deque[PendingRecord] = field(default_factory=deque)


def print_given_up(given_up: GivenUp) -> None:
    """The local on-failure destination: the records and Lambda's failure record, on stderr."""
    print(
        f"STREAM RECORDS GIVEN UP ({len(given_up.records)}): "
        + json.dumps({"failure": given_up.failure_record, "records": given_up.records}, default=str),
        file=sys.stderr,
        flush=True,
    )


class StreamPoller:
    """One event source mapping: a stream, a function, and Lambda's batching and retry behaviour."""

    def __init__(
        self,
        mapping: StreamMapping,
        stream_arn: str,
        streams: "DynamoDBStreamsClient",
        invoke: Invoke,
        *,
        region: str,
        on_give_up: Callable[[GivenUp], None] = print_given_up,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        verbose: bool = True,
    ) -> None:
        self.mapping = mapping
        self.stream_arn = stream_arn
        self.streams = streams
        self.invoke = invoke
        self.region = region
        self.on_give_up = on_give_up
        self.clock = clock
        self.sleep = sleep
        self.verbose = verbose
        self.function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{mapping.function}"
        self.given_up: list[GivenUp] = []
        self.delivered = 0
        self.filtered_out = 0
        self._shards: dict[str, _Shard] = {}
        self._shards_checked = float("-inf")

    # ---------------------------------------------------------------- reading

    def refresh_shards(self) -> None:
        """Start reading every shard not seen yet (from the mapping's StartingPosition)."""
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._shards:
                continue
            position: Literal["LATEST", "TRIM_HORIZON"] = (
                "LATEST" if self.mapping.starting_position == "LATEST" else "TRIM_HORIZON"
            )
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=position
            )["ShardIterator"]
            self._shards[shard_id] = _Shard(shard_id, iterator)
        self._shards_checked = time.monotonic()

    def read(self) -> int:
        """Read what every shard has; keep the records that pass the filter. The number read."""
        if time.monotonic() - self._shards_checked > SHARD_REFRESH_SECONDS:
            self.refresh_shards()
        count = 0
        for shard in self._shards.values():
            while shard.iterator is not None:
                answer = self.streams.get_records(ShardIterator=shard.iterator, Limit=1000)
                shard.iterator = answer.get("NextShardIterator")  # None once a closed shard is read to its end
                records = answer.get("Records", [])
                now = self.clock()
                for raw in records:
                    event = to_lambda_record(dict(raw), self.stream_arn)
                    if passes(self.mapping.filters, event):
                        shard.pending.append(PendingRecord(event, now))
                    else:
                        self.filtered_out += 1
                count += len(records)
                if not records:
                    break
        return count

    # ---------------------------------------------------------------- delivering

    def poll(self) -> int:
        """One round: read the stream, then deliver every batch that is ready. The number of records delivered."""
        self.read()
        delivered = 0
        for shard in self._shards.values():
            while self._ready(shard):
                batch = [shard.pending.popleft() for _ in range(min(self.mapping.batch_size, len(shard.pending)))]
                self.deliver(shard.shard_id, batch)
                delivered += len(batch)
        self.delivered += delivered
        return delivered

    def pending(self) -> int:
        """Records read and not yet delivered."""
        return sum(len(shard.pending) for shard in self._shards.values())

    def _ready(self, shard: _Shard) -> bool:
        if not shard.pending:
            return False
        if len(shard.pending) >= self.mapping.batch_size:
            return True
        return self.clock() - shard.pending[0].read_at >= self.mapping.batching_window_seconds

    def deliver(self, shard_id: str, batch: list[PendingRecord], retries: int = 0) -> None:
        """Invoke the function with ``batch`` until it succeeds or the records are given up."""
        while batch:
            batch = self._drop_expired(shard_id, batch, retries)
            if not batch:
                return
            outcome = self._invoke(batch)
            self._say(f"{len(batch)} record(s) -> {outcome.status}")
            if outcome.retry_from is None:
                return
            remaining = batch[outcome.retry_from :]
            if outcome.error and self.mapping.bisect_on_error and len(remaining) > 1:
                middle = len(remaining) // 2
                self._say(f"bisecting {len(remaining)} records into {middle} + {len(remaining) - middle}")
                self.deliver(shard_id, remaining[:middle], retries)
                self.deliver(shard_id, remaining[middle:], retries)
                return
            if 0 <= self.mapping.maximum_retry_attempts <= retries:
                self._give_up(shard_id, remaining, "RetryAttemptsExhausted", retries + 1, outcome.error)
                return
            retries += 1
            self._say(f"retrying {len(remaining)} record(s) from {remaining[0].sequence_number} (retry {retries})")
            self.sleep(min(MAX_RETRY_DELAY_SECONDS, 0.05 * 2**retries))
            batch = remaining

    def _invoke(self, batch: list[PendingRecord]) -> Outcome:
        try:
            response = self.invoke(self.mapping.function, {"Records": [record.event for record in batch]})
        except Exception:
            print(f"{self.mapping.function} raised on a batch of {len(batch)} stream record(s):", file=sys.stderr)
            traceback.print_exc()
            return Outcome(retry_from=0, error=True, status="function error")
        if not self.mapping.report_batch_item_failures or not isinstance(response, dict):
            return Outcome(retry_from=None)
        failures = response.get("batchItemFailures") or []
        if not failures:
            return Outcome(retry_from=None)
        positions = {record.sequence_number: index for index, record in enumerate(batch)}
        identifiers = [failure.get("itemIdentifier") if isinstance(failure, dict) else None for failure in failures]
        if any(identifier not in positions for identifier in identifiers):
            return Outcome(retry_from=0, status=f"invalid batchItemFailures {identifiers}: whole batch failed")
        first = min(positions[str(identifier)] for identifier in identifiers)
        return Outcome(retry_from=first, status=f"{len(identifiers)} item failure(s), first at {first}")

    def _drop_expired(self, shard_id: str, batch: list[PendingRecord], retries: int) -> list[PendingRecord]:
        if self.mapping.maximum_record_age_seconds < 0:
            return batch
        oldest_allowed = self.clock() - self.mapping.maximum_record_age_seconds
        expired = [record for record in batch if record.created_at < oldest_allowed]
        if expired:
            self._give_up(shard_id, expired, "RecordAgeExceeded", retries, error=False)
        return [record for record in batch if record.created_at >= oldest_allowed]

    def _give_up(self, shard_id: str, records: list[PendingRecord], condition: str, invokes: int, error: bool) -> None:
        first, last = records[0], records[-1]
        failure_record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": invokes,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": "Unhandled"} if error else {}),
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first.sequence_number,
                "endSequenceNumber": last.sequence_number,
                "approximateArrivalOfFirstRecord": _iso(first.created_at),
                "approximateArrivalOfLastRecord": _iso(last.created_at),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        given_up = GivenUp(records=[record.event for record in records], failure_record=failure_record)
        self.given_up.append(given_up)
        self.on_give_up(given_up)

    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"stream -> {self.mapping.function}: {message}", flush=True)

    # ---------------------------------------------------------------- running

    def run(self, stop: Event) -> None:
        """Poll until ``stop`` is set; errors of the poller itself are printed and polling goes on."""
        while not stop.is_set():
            try:
                delivered = self.poll()
            except Exception:
                if stop.is_set():
                    return
                print(f"stream poller of {self.mapping.function} failed; retrying in 1 s:", file=sys.stderr)
                traceback.print_exc()
                stop.wait(1.0)
                continue
            if not delivered:
                stop.wait(POLL_INTERVAL_SECONDS)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
