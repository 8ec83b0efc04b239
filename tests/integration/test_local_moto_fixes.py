"""The local stack's fix of moto's TransactWriteItems: a cancelled one leaves the table and its stream as they were."""

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodbstreams.models import dynamodbstreams_backends

from local import moto_fixes


@pytest.fixture
def fixed_moto(tables) -> Iterator[None]:
    moto_fixes.apply()
    yield
    moto_fixes.remove()


@pytest.fixture
def charges(tables, fixed_moto):
    name = tables.names["ChargesTable"]
    arn = tables.client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = [
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    ]

    def new_records() -> list[str]:
        answer = streams.get_records(ShardIterator=iterator[0])
        iterator[0] = answer["NextShardIterator"]
        return [f"{r['eventName']} {r['dynamodb']['Keys']['SK']['S']}" for r in answer["Records"]]

    def key(sk: str) -> dict:
        return {"PK": {"S": "P#t#C#u#1"}, "SK": {"S": sk}}

    def item(sk: str):
        return tables.client.get_item(TableName=name, Key=key(sk)).get("Item")

    tables.client.put_item(TableName=name, Item={**key("A"), "n": {"N": "1"}})
    return name, key, item, new_records, tables.client


def test_a_cancelled_transaction_restores_the_items_and_leaves_no_stream_record(charges):
    name, key, item, new_records, client = charges
    assert new_records() == ["INSERT A"]

    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {**key("B"), "n": {"N": "2"}}}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": key("A"),
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": key("Z"),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
            ]
        )

    assert item("B") is None
    assert item("A")["n"] == {"N": "1"}
    assert new_records() == []
    client.put_item(TableName=name, Item={**key("C"), "n": {"N": "3"}})
    assert new_records() == ["INSERT C"]  # the stream readers still follow the table


def test_a_successful_transaction_is_applied_and_streamed(charges):
    name, key, item, new_records, client = charges
    new_records()

    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": name,
                    "Item": {**key("B"), "n": {"N": "2"}},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Update": {
                    "TableName": name,
                    "Key": key("A"),
                    "UpdateExpression": "SET n = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                }
            },
        ]
    )

    assert item("B")["n"] == {"N": "2"}
    assert item("A")["n"] == {"N": "2"}
    assert new_records() == ["INSERT B", "MODIFY A"]


def test_only_the_newest_shard_iterators_are_kept(charges, monkeypatch):
    monkeypatch.setattr(moto_fixes, "MAX_SHARD_ITERATORS", 3)
    name, key, _item, new_records, client = charges
    for _ in range(10):
        new_records()
    client.put_item(TableName=name, Item={**key("D"), "n": {"N": "4"}})

    assert len(dynamodbstreams_backends["123456789012"]["us-east-1"].shard_iterators) <= 3
    assert new_records() == ["INSERT D"]  # the iterator in use is among the newest


def test_answers_read_and_written_with_json_equal_motos_own(tables):
    """The fast path for DynamoDB's JSON protocol gives botocore the same answers as moto's parser and serializer."""
    name = tables.names["ChargesTable"]
    arn = tables.client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    every_type = {
        "PK": {"S": "P#t#C#u#types"},
        "SK": {"S": "CH#1"},
        "n": {"N": "12.5"},
        "b": {"B": b"\x00\xff"},
        "flag": {"BOOL": True},
        "nothing": {"NULL": True},
        "list": {"L": [{"S": "é"}, {"N": "1"}, {"M": {"deep": {"SS": ["a", "b"]}}}]},
        "numbers": {"NS": ["1", "2"]},
        "blobs": {"BS": [b"\x01", b"\x02"]},
    }
    tables.client.put_item(TableName=name, Item=every_type)

    def answers() -> list[object]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        return [
            tables.client.get_item(TableName=name, Key={"PK": every_type["PK"], "SK": every_type["SK"]})["Item"],
            tables.client.query(
                TableName=name,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": every_type["PK"]},
            )["Items"],
            [
                (r["eventName"], r["dynamodb"]["NewImage"], r["dynamodb"]["ApproximateCreationDateTime"])
                for r in records
            ],
        ]

    without_fix = answers()
    moto_fixes.apply()
    try:
        with_fix = answers()
    finally:
        moto_fixes.remove()

    assert with_fix == without_fix
    assert with_fix[0] == every_type | {"n": {"N": "12.5"}}


def _query_answers(client, table: str, index_table: str | None) -> list[object]:
    """Queries of every shape the fix changes (and an index query, which it leaves to moto)."""
    pk = {"S": "P#t#C#u#q"}
    queries = [
        {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": {":pk": pk}},
        {
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": {":pk": pk, ":low": {"S": "S#03"}, ":high": {"S": "S#07"}},
            "ScanIndexForward": False,
        },
        {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": pk, ":prefix": {"S": "S#1"}, ":odd": {"N": "1"}},
            "FilterExpression": "n = :odd",
            "ProjectionExpression": "SK, n",
        },
        {"KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": {":pk": {"S": "P#t#C#u#none"}}},
    ]
    answers: list[object] = []
    for query in queries:
        pages = client.get_paginator("query").paginate(TableName=table, PaginationConfig={"PageSize": 4}, **query)
        answers.append([(page["Count"], page["Items"], page.get("LastEvaluatedKey")) for page in pages])
    if index_table is None:
        return answers
    answers.append(
        client.query(
            TableName=index_table,
            IndexName="ByProject",
            KeyConditionExpression="project_id = :p",
            ExpressionAttributeValues={":p": {"S": "q"}},
        )["Items"]
    )
    return answers


def test_a_query_reads_only_its_partition_and_answers_as_moto_does(tables, monkeypatch):
    """moto sorts the whole table for each query; the fix hands it the partition's items, same answers."""
    from moto.dynamodb.models.table import Table

    from local.template import table_definitions

    client, table = tables.client, tables.names["ChargesTable"]
    index_table = next(
        tables.names[logical_id]
        for logical_id, definition in table_definitions().items()
        if any(index["IndexName"] == "ByProject" for index in definition.get("GlobalSecondaryIndexes", []))
    )
    for partition in ("q", "other"):
        for n in range(20):
            item = {"PK": {"S": f"P#t#C#u#{partition}"}, "SK": {"S": f"S#{n:02d}"}, "n": {"N": str(n % 2)}}
            client.put_item(TableName=table, Item=item)
    for n in range(3):
        client.put_item(
            TableName=index_table, Item={"PK": {"S": f"K#{n}"}, "project_id": {"S": "q"}, "created_at": {"N": str(n)}}
        )
    without_fix = _query_answers(client, table, index_table)

    moto_fixes.apply()
    try:
        with_fix = _query_answers(client, table, index_table)
        # Given a table query, when moto's whole-table listing is out of reach, then the query still answers.
        original_all_items = Table.all_items
        monkeypatch.setattr(Table, "all_items", lambda self: pytest.fail("a table query listed the whole table"))
        partition_only = _query_answers(client, table, None)
        monkeypatch.setattr(Table, "all_items", original_all_items)
    finally:
        moto_fixes.remove()

    assert with_fix == without_fix
    assert partition_only == without_fix[:-1]
    assert [len(page[1]) for page in without_fix[0]] == [4, 4, 4, 4, 4]  # pages of 4 over the 20 items of one partition
    assert not any(page[1] for page in without_fix[3])  # an absent partition: nothing (and nothing added to the table)
    assert len(without_fix[4]) == 3


def _writes_of_every_size(client, table: str) -> list[object]:
    """Items under and over moto's 400 KB bound, with many attributes: what each write answers.

    A binary counts by its bytes, not by the base64 text it travels as (the fix reads requests with
    ``json``, and hands binaries to moto as bytes, as moto's own parser does).
    """
    answers: list[object] = []
    for name, blob in (("under", 404_000), ("over", 406_000)):
        item = {"PK": {"S": f"P#t#C#u#{name}"}, "SK": {"S": "S"}}
        item.update({f"a{n:02d}": {"N": str(n)} for n in range(30)})
        item["blob"] = {"B": b"x" * (blob - 300)}
        try:
            client.put_item(TableName=table, Item=item)
            stored = client.get_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})["Item"]
            answers.append(stored == item)
        except ClientError as exc:
            answers.append((exc.response["Error"]["Code"], exc.response["Error"]["Message"]))
    return answers


def test_an_item_is_sized_once_with_motos_bound_and_error(tables):
    """moto sums every attribute's size again for each attribute it adds; the fix sizes the item once."""
    client, table = tables.client, tables.names["ChargesTable"]
    without_fix = _writes_of_every_size(client, table)
    moto_fixes.apply()
    try:
        with_fix = _writes_of_every_size(client, table)
    finally:
        moto_fixes.remove()
    assert with_fix == without_fix
    assert without_fix[0] is True
    assert without_fix[1] == ("ValidationException", "Item size has exceeded the maximum allowed size")
