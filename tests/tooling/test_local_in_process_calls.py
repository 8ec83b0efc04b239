"""The local stack's in-process door to moto: a call answered at ``before-call`` is the call botocore would make.

The same operations go through a client of moto's own mock (every request serialized, signed, sent to
moto's stub and parsed by botocore's endpoint) and through a client whose endpoint is the local
stack's, answered by ``InProcessCalls`` from the same backend: the answers (outputs, errors and the
errors' modeled fields) must be equal.
"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local import aws

ENDPOINT = "http://127.0.0.1:9"  # nothing listens there: every call must be answered in process


@pytest.fixture
def in_process(tables) -> Iterator[aws.InProcessCalls]:
    calls = aws.InProcessCalls(ENDPOINT)
    calls.install()
    yield calls
    calls.uninstall()


def _without_metadata(answer: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in answer.items() if name != "ResponseMetadata"}


def _error(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    return _without_metadata(raised.value.response)


def test_answers_in_process_equal_botocores_own(tables, in_process):
    name = tables.names["ChargesTable"]
    moto_client = tables.client
    local = aws.dynamodb(ENDPOINT, "us-east-1")
    key = {"PK": {"S": "P#t#C#u#door"}, "SK": {"S": "CH#1"}}
    local.put_item(TableName=name, Item={**key, "n": {"N": "1"}, "b": {"B": b"\x00\xff"}})
    calls_after_put = in_process.calls

    def both(operation: str, **arguments: Any) -> tuple[Any, Any]:
        return (
            _without_metadata(getattr(moto_client, operation)(**arguments)),
            _without_metadata(getattr(local, operation)(**arguments)),
        )

    got, expected = both("get_item", TableName=name, Key=key)
    assert got == expected
    assert expected["Item"]["b"] == {"B": b"\x00\xff"}
    got, expected = both(
        "query", TableName=name, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": key["PK"]}
    )
    assert got == expected

    # A failed condition: the error, and its modeled field Item (what Powertools' idempotency reads).
    failed_put: dict[str, Any] = {
        "TableName": name,
        "Item": {**key, "n": {"N": "2"}},
        "ConditionExpression": "attribute_not_exists(PK)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    in_process_error = _error(lambda: local.put_item(**failed_put))
    assert in_process_error == _error(lambda: moto_client.put_item(**failed_put))
    assert in_process_error["Error"]["Code"] == "ConditionalCheckFailedException"
    assert in_process_error["Item"]["n"] == {"N": "1"}

    # A cancelled transaction: the reasons, one per item (what the stream handler reads).
    cancelled: dict[str, Any] = {
        "TransactItems": [
            {"Put": {"TableName": name, "Item": {**key, "SK": {"S": "CH#2"}}}},
            {"ConditionCheck": {"TableName": name, "Key": key, "ConditionExpression": "attribute_not_exists(PK)"}},
        ]
    }
    in_process_error = _error(lambda: local.transact_write_items(**cancelled))
    assert in_process_error == _error(lambda: moto_client.transact_write_items(**cancelled))
    assert [reason["Code"] for reason in in_process_error["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]

    # The stream: records with their creation times (timestamps parsed as botocore parses them).
    arn = moto_client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    streams = {"moto": boto3.client("dynamodbstreams", region_name="us-east-1")}
    streams["local"] = aws.dynamodb_streams(ENDPOINT, "us-east-1")
    records = {}
    for door, client in streams.items():
        shard = client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = client.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records[door] = client.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert records["local"] == records["moto"]
    assert records["local"][0]["dynamodb"]["NewImage"]["n"] == {"N": "1"}

    assert in_process.calls > calls_after_put, "the local client's calls were not answered in process"
    assert local.get_item(TableName=name, Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 200
