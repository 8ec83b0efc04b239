"""The local event source mapping: moto's stream read with the dynamodbstreams API, delivered as Lambda would.

A recording stand-in plays the function, so that each of Lambda's behaviours (batching, window,
filter, partial failures, bisection, retries, giving up) is shown on its own.
"""

import time
from dataclasses import replace
from typing import Any

import boto3
import pytest

from local.sam import StreamMapping
from local.streams import StreamPoller

CHARGE_INSERTS = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["charge"]}}}}
MAPPING = StreamMapping(function="SummarizeFunction", event_name="Stream", table="ChargesTable", batch_size=100)


class Function:
    """Records every batch; ``behave(numbers, records)`` gives each answer or raises (default: success)."""

    def __init__(self, behave=None) -> None:
        self.batches: list[list[int]] = []
        self.succeeded: list[int] = []
        self.events: list[dict[str, Any]] = []
        self.behave = behave or (lambda numbers, records: None)

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        assert function == "SummarizeFunction"
        numbers = [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in event["Records"]]
        self.batches.append(numbers)
        self.events.append(event)
        answer = self.behave(numbers, event["Records"])
        if not (isinstance(answer, dict) and answer.get("batchItemFailures")):
            self.succeeded.extend(numbers)
        return answer


@pytest.fixture
def stream(tables):
    table = tables.names["ChargesTable"]
    arn = tables.client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")

    def put(*numbers: int, item_type: str = "charge") -> None:
        for n in numbers:
            tables.client.put_item(
                TableName=table,
                Item={
                    "PK": {"S": f"P#t#C#u#{n}"},
                    "SK": {"S": f"CHARGE#{n}"},
                    "type": {"S": item_type},
                    "n": {"N": str(n)},
                },
            )

    def poller(function: Function, mapping: StreamMapping = MAPPING, **kwargs: Any) -> StreamPoller:
        created = StreamPoller(
            mapping, arn, streams, function, region="us-east-1", sleep=lambda s: None, verbose=False, **kwargs
        )
        created.refresh_shards()
        return created

    put.table, put.arn, put.poller, put.client = table, arn, poller, tables.client  # type: ignore[attr-defined]
    return put


def sequence_of(function: Function, n: int) -> str:
    for event in function.events:
        for record in event["Records"]:
            if record["dynamodb"]["NewImage"]["n"]["N"] == str(n):
                return record["dynamodb"]["SequenceNumber"]
    raise AssertionError(f"record {n} never delivered")


def test_records_reach_the_function_in_lambda_event_format(stream):
    function = Function()
    poller = stream.poller(function)
    stream(1)

    assert poller.poll() == 1

    (record,) = function.events[0]["Records"]
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == stream.arn
    dynamodb = record["dynamodb"]
    assert dynamodb["Keys"] == {"PK": {"S": "P#t#C#u#1"}, "SK": {"S": "CHARGE#1"}}
    assert dynamodb["NewImage"]["type"] == {"S": "charge"}
    assert dynamodb["StreamViewType"] == "NEW_IMAGE"
    assert isinstance(dynamodb["ApproximateCreationDateTime"], int)
    assert abs(dynamodb["ApproximateCreationDateTime"] - time.time()) < 120
    assert dynamodb["SequenceNumber"].isdigit() and dynamodb["SizeBytes"] > 0


def test_batches_hold_at_most_batch_size_records_in_stream_order(stream):
    function = Function()
    poller = stream.poller(function, replace(MAPPING, batch_size=3))
    stream(*range(7))

    poller.poll()

    assert function.batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_records_wait_for_the_batching_window(stream):
    now = [1000.0]
    function = Function()
    poller = stream.poller(function, replace(MAPPING, batch_size=3, batching_window_seconds=10), clock=lambda: now[0])
    stream(1, 2)

    poller.poll()
    now[0] += 9.9
    poller.poll()
    waited = list(function.batches)
    now[0] += 0.1
    poller.poll()

    assert waited == []
    assert function.batches == [[1, 2]]


def test_a_full_batch_does_not_wait_for_the_window(stream):
    function = Function()
    poller = stream.poller(function, replace(MAPPING, batch_size=2, batching_window_seconds=300))
    stream(1, 2, 3)

    poller.poll()

    assert function.batches == [[1, 2]]
    assert poller.pending() == 1


def test_records_failing_the_filter_are_dropped_not_delivered(stream):
    function = Function()
    poller = stream.poller(function, replace(MAPPING, filters=(CHARGE_INSERTS,)))
    stream(1)
    stream(2, item_type="summary")
    stream.client.update_item(
        TableName=stream.table,
        Key={"PK": {"S": "P#t#C#u#1"}, "SK": {"S": "CHARGE#1"}},
        UpdateExpression="SET summarized = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    stream(3)

    poller.poll()
    poller.poll()

    assert function.batches == [[1, 3]]
    assert poller.filtered_out == 2
    assert poller.pending() == 0


def test_a_partial_failure_retries_from_the_reported_item_only(stream):
    def fail_record_2_once(numbers, records):
        if numbers[0] == 0:
            return {"batchItemFailures": [{"itemIdentifier": records[numbers.index(2)]["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    function = Function(fail_record_2_once)
    poller = stream.poller(function, replace(MAPPING, report_batch_item_failures=True, maximum_retry_attempts=3))
    stream(0, 1, 2, 3, 4)

    poller.poll()

    assert function.batches == [[0, 1, 2, 3, 4], [2, 3, 4]]
    assert poller.given_up == []


def test_an_unknown_item_identifier_fails_the_whole_batch(stream):
    answers = iter([{"batchItemFailures": [{"itemIdentifier": "no-such-sequence-number"}]}, None])
    function = Function(lambda numbers, records: next(answers))
    poller = stream.poller(function, replace(MAPPING, report_batch_item_failures=True, maximum_retry_attempts=3))
    stream(0, 1, 2)

    poller.poll()

    assert function.batches == [[0, 1, 2], [0, 1, 2]]


def test_without_report_batch_item_failures_the_answer_is_ignored(stream):
    function = Function(lambda numbers, records: {"batchItemFailures": [{"itemIdentifier": "anything"}]})
    poller = stream.poller(function, replace(MAPPING, maximum_retry_attempts=3))
    stream(0, 1)

    poller.poll()

    assert function.batches == [[0, 1]]


def test_bisection_isolates_a_poison_record_and_only_it_is_given_up(stream, capsys):
    def poison(numbers, records):
        if 3 in numbers:
            raise ValueError("poison record 3")

    function = Function(poison)
    mapping = replace(MAPPING, bisect_on_error=True, maximum_retry_attempts=2, report_batch_item_failures=True)
    poller = stream.poller(function, mapping)
    stream(*range(8))

    poller.poll()

    assert sorted(function.succeeded) == [0, 1, 2, 4, 5, 6, 7]
    assert function.batches.count([3]) == 3  # the first try of the lone record, then two retries
    (given_up,) = poller.given_up
    assert [r["dynamodb"]["NewImage"]["n"]["N"] for r in given_up.records] == ["3"]
    info = given_up.failure_record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequence_of(function, 3)
    assert info["streamArn"] == stream.arn
    assert given_up.failure_record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert given_up.failure_record["requestContext"]["approximateInvokeCount"] == 3
    assert "STREAM RECORDS GIVEN UP (1)" in capsys.readouterr().err


def test_without_bisection_a_failing_batch_is_retried_whole_then_given_up_whole(stream):
    def always_fail(numbers, records):
        raise RuntimeError("down")

    function = Function(always_fail)
    poller = stream.poller(function, replace(MAPPING, maximum_retry_attempts=1))
    stream(0, 1, 2)

    poller.poll()

    assert function.batches == [[0, 1, 2], [0, 1, 2]]
    (given_up,) = poller.given_up
    assert len(given_up.records) == 3
    assert given_up.failure_record["responseContext"]["functionError"] == "Unhandled"


def test_a_partial_failure_that_never_succeeds_gives_up_from_the_failed_item(stream):
    def fail_from_2(numbers, records):
        return {"batchItemFailures": [{"itemIdentifier": records[numbers.index(2)]["dynamodb"]["SequenceNumber"]}]}

    function = Function(fail_from_2)
    poller = stream.poller(function, replace(MAPPING, report_batch_item_failures=True, maximum_retry_attempts=2))
    stream(0, 1, 2, 3)

    poller.poll()

    assert function.batches == [[0, 1, 2, 3], [2, 3], [2, 3]]
    (given_up,) = poller.given_up
    assert [r["dynamodb"]["NewImage"]["n"]["N"] for r in given_up.records] == ["2", "3"]


def test_records_older_than_the_maximum_age_are_given_up_without_an_invocation(stream):
    function = Function()
    mapping = replace(MAPPING, maximum_record_age_seconds=60)
    poller = stream.poller(function, mapping, clock=lambda: time.time() + 3600)
    stream(0, 1)

    poller.poll()

    assert function.batches == []
    (given_up,) = poller.given_up
    assert given_up.failure_record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert len(given_up.records) == 2


def test_starting_position_latest_skips_what_was_written_before(stream):
    stream(0)
    function = Function()
    poller = stream.poller(function, replace(MAPPING, starting_position="LATEST"))
    stream(1)

    poller.poll()

    assert function.batches == [[1]]
