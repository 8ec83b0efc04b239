"""The stream's on-failure queue and the DynamoDB Streams API that replays what it points at.

Lambda sends a message per batch it gave up on (retries exhausted or records too old). The message
holds no records, only where they are: ``DDBStreamBatchInfo`` (stream ARN, shard id, first and last
sequence number). The records stay readable in the stream for 24 hours.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from beacon.dal.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_sqs import SQSClient

# GetRecords may answer empty pages before it reaches the part of a shard that holds records (AWS's
# DynamoDB Streams documentation); a range is read until its end sequence number, at most this many pages.
MAX_PAGES = 1_000
EMPTY_PAGE_PAUSE_SECONDS = 0.2  # a shard takes 5 GetRecords calls a second
GONE_CODES = frozenset({"TrimmedDataAccessException", "ResourceNotFoundException", "ExpiredIteratorException"})


class StreamRecordsGoneError(Exception):
    """The stream no longer holds these records (trimmed after 24 hours, or the stream was replaced)."""


@lru_cache(maxsize=1)
def streams_client() -> "DynamoDBStreamsClient":
    """The DynamoDB Streams client (``AWS_ENDPOINT_URL`` points it elsewhere)."""
    return boto3.client("dynamodbstreams")


@lru_cache(maxsize=1)
def sqs_client() -> "SQSClient":
    """The SQS client."""
    return boto3.client("sqs")


class StreamBatchInfo(BaseModel):
    """``DDBStreamBatchInfo`` of an on-failure message."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    stream_arn: str = Field(alias="streamArn")
    shard_id: str = Field(alias="shardId")
    start_sequence: str = Field(alias="startSequenceNumber")
    end_sequence: str = Field(alias="endSequenceNumber")
    batch_size: int | None = Field(alias="batchSize", default=None)
    first_arrival: datetime | None = Field(alias="approximateArrivalOfFirstRecord", default=None)
    last_arrival: datetime | None = Field(alias="approximateArrivalOfLastRecord", default=None)


@dataclass(frozen=True)
class RangeRead:
    """The records of a range, and whether the range was read to its end."""

    records: list[dict[str, Any]]
    complete: bool


@dataclass(frozen=True)
class FailureMessage:
    message_id: str
    receipt_handle: str
    batch_info: StreamBatchInfo


class FailureQueue:
    """Receives and deletes the on-failure messages of the stream function."""

    def __init__(self, queue_url: str, client: "SQSClient | None" = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> "SQSClient":
        return self._client or sqs_client()

    def receive(self, max_messages: int) -> list[FailureMessage]:
        """Up to ``max_messages`` (1-10) messages; each stays invisible to others for the queue's visibility timeout."""
        response = self.client.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=max(1, min(10, max_messages)), WaitTimeSeconds=1
        )
        messages = []
        for message in response.get("Messages", []):
            body = json.loads(message["Body"])
            info = StreamBatchInfo.model_validate(body["DDBStreamBatchInfo"])
            messages.append(
                FailureMessage(
                    message_id=message["MessageId"], receipt_handle=message["ReceiptHandle"], batch_info=info
                )
            )
        return messages

    def delete(self, receipt_handle: str) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)


def to_lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record in the shape Lambda's event source mapping delivers it (JSON-ready)."""
    converted = json.loads(json.dumps(record, default=_json_default))
    converted["eventSourceARN"] = stream_arn
    return converted


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        # botocore parses ApproximateCreationDateTime; a naive one is UTC (DynamoDB Local, moto).
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp())
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class StreamReader:
    """Reads a range of records of one shard, with the real ``dynamodbstreams`` API."""

    def __init__(
        self,
        client: "DynamoDBStreamsClient | None" = None,
        *,
        limit: int = 1000,
        max_pages: int = MAX_PAGES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.limit = limit
        self.max_pages = max_pages
        self._sleep = sleep

    @property
    def client(self) -> "DynamoDBStreamsClient":
        return self._client or streams_client()

    def read_range(self, stream_arn: str, shard_id: str, start: str, end: str) -> RangeRead:
        """The records from sequence number ``start`` to ``end`` inclusive, in Lambda's event format.

        Pages are read until a record at or past ``end``, however many empty pages come first (up
        to ``max_pages``); a range whose end was not reached is ``complete=False``. Sequence numbers
        are compared as integers (decimal strings of up to 40 digits).
        """
        first, last = int(start), int(end)
        records: list[dict[str, Any]] = []
        try:
            iterator: str | None = self.client.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=start
            )["ShardIterator"]
            for _ in range(self.max_pages):
                if not iterator:
                    break  # a closed shard read to its end
                page = self.client.get_records(ShardIterator=iterator, Limit=self.limit)
                for record in page["Records"]:
                    sequence = int(record["dynamodb"]["SequenceNumber"])
                    if first <= sequence <= last:
                        records.append(to_lambda_record(dict(record), stream_arn))
                    if sequence >= last:
                        return RangeRead(records, complete=True)
                if not page["Records"]:
                    self._sleep(EMPTY_PAGE_PAUSE_SECONDS)
                iterator = page.get("NextShardIterator")
        except ClientError as exc:
            if error_code(exc) in GONE_CODES:
                raise StreamRecordsGoneError(f"shard {shard_id} no longer holds sequence number {start}") from exc
            raise
        return RangeRead(records, complete=False)

    def read_new(self, stream_arn: str, positions: dict[str, str]) -> list[dict[str, Any]]:
        """Every record of every shard after ``positions`` (shard id -> last sequence number read), which it advances.

        What a poller does (the local stack, the tests): a shard not in ``positions`` is read from its start.
        """
        description = self.client.describe_stream(StreamArn=stream_arn)["StreamDescription"]
        records: list[dict[str, Any]] = []
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            position = positions.get(shard_id)
            if position is None:
                iterator: str | None = self.client.get_shard_iterator(
                    StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            else:
                iterator = self.client.get_shard_iterator(
                    StreamArn=stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=position,
                )["ShardIterator"]
            while iterator:
                page = self.client.get_records(ShardIterator=iterator, Limit=self.limit)
                if not page["Records"]:
                    break
                for record in page["Records"]:
                    records.append(to_lambda_record(dict(record), stream_arn))
                    positions[shard_id] = record["dynamodb"]["SequenceNumber"]
                iterator = page.get("NextShardIterator")
        return records
