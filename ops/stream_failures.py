"""The stream's on-failure queue and the DynamoDB Streams API that replays what it points at.

Lambda sends a message per batch it gave up on (retries exhausted or records too old). The message
holds no records, only where they are: ``DDBStreamBatchInfo`` (stream ARN, shard id, first and last
sequence number). The records stay readable in the stream for 24 hours.
"""

import json
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

MAX_EMPTY_PAGES = 5
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

    def __init__(self, client: "DynamoDBStreamsClient | None" = None, *, limit: int = 1000) -> None:
        self._client = client
        self.limit = limit

    @property
    def client(self) -> "DynamoDBStreamsClient":
        return self._client or streams_client()

    def read_range(self, stream_arn: str, shard_id: str, start: str, end: str) -> list[dict[str, Any]]:
        """The records from sequence number ``start`` to ``end`` inclusive, in Lambda's event format.

        Sequence numbers are compared as integers (they are decimal strings of up to 40 digits).
        """
        first, last = int(start), int(end)
        records: list[dict[str, Any]] = []
        try:
            iterator: str | None = self.client.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=start
            )["ShardIterator"]
            empty_pages = 0
            while iterator and empty_pages < MAX_EMPTY_PAGES:
                page = self.client.get_records(ShardIterator=iterator, Limit=self.limit)
                if not page["Records"]:
                    empty_pages += 1
                for record in page["Records"]:
                    sequence = int(record["dynamodb"]["SequenceNumber"])
                    if sequence > last:
                        return records
                    if sequence >= first:
                        records.append(to_lambda_record(dict(record), stream_arn))
                iterator = page.get("NextShardIterator")
        except ClientError as exc:
            if error_code(exc) in GONE_CODES:
                raise StreamRecordsGoneError(f"shard {shard_id} no longer holds sequence number {start}") from exc
            raise
        return records

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
