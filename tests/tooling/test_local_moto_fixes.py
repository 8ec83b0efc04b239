"""local.moto_fixes and local.moto_speedups: each correctness fix against the moto behaviour it works around,
each speed patch against moto's own answers, and the switch that leaves the speed patches out.

The correctness tests run each scenario on moto as it is (and show the flaw: when a moto upgrade mends
it, the test says so and the fix can go) and with the fix alone, without the speed patches.
"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodbstreams.models import dynamodbstreams_backends

from local import moto_fixes, moto_speedups

UPSTREAM_MENDED = "moto no longer does this: the fix in local/moto_fixes.py may go"


@pytest.fixture(autouse=True)
def moto_as_it_is() -> Iterator[None]:
    moto_fixes.remove()
    yield
    moto_fixes.remove()


class Charges:
    """One partition of the charges table, with a reader that follows its stream from the start."""

    def __init__(self, tables: Any) -> None:
        self.client = tables.client
        self.name = tables.names["ChargesTable"]
        arn = self.client.describe_table(TableName=self.name)["Table"]["LatestStreamArn"]
        self.streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]

    def new_records(self) -> list[str]:
        answer = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = answer["NextShardIterator"]
        return [f"{r['eventName']} {r['dynamodb']['Keys']['SK']['S']}" for r in answer["Records"]]

    @staticmethod
    def key(sk: str) -> dict:
        return {"PK": {"S": "P#t#C#u#1"}, "SK": {"S": sk}}

    def put(self, sk: str, n: int) -> None:
        self.client.put_item(TableName=self.name, Item={**self.key(sk), "n": {"N": str(n)}})

    def item(self, sk: str) -> dict | None:
        return self.client.get_item(TableName=self.name, Key=self.key(sk)).get("Item")

    def cancelled_transaction(self) -> None:
        """A Put and an Update, cancelled by a failed condition check."""
        with pytest.raises(ClientError, match="TransactionCanceled"):
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.name, "Item": {**self.key("B"), "n": {"N": "2"}}}},
                    {
                        "Update": {
                            "TableName": self.name,
                            "Key": self.key("A"),
                            "UpdateExpression": "SET n = :two",
                            "ExpressionAttributeValues": {":two": {"N": "2"}},
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self.name,
                            "Key": self.key("Z"),
                            "ConditionExpression": "attribute_exists(PK)",
                        }
                    },
                ]
            )


def after_a_cancelled_transaction(tables: Any) -> dict[str, Any]:
    """What a stream reader and the table show after a cancelled transaction, and after a later write."""
    charges = Charges(tables)
    charges.put("A", 1)
    assert charges.new_records() == ["INSERT A"]
    charges.cancelled_transaction()
    seen = {"items": (charges.item("B"), charges.item("A")), "records": charges.new_records()}
    charges.put("C", 3)
    return seen | {"later": charges.new_records()}


# ---------------------------------------------------------------- correctness fixes


def test_moto_swaps_the_stream_of_a_table_whose_transaction_is_cancelled(tables):
    # Given moto as it is, when a transaction is cancelled, then the table is rolled back but its stream's reader
    # is left on the old stream: it reads the cancelled writes as records and never sees a later write
    seen = after_a_cancelled_transaction(tables)
    assert seen["items"] == (None, {**Charges.key("A"), "n": {"N": "1"}})
    assert (seen["records"], seen["later"]) == (["INSERT B", "MODIFY A"], []), UPSTREAM_MENDED


def test_the_fix_rolls_a_cancelled_transaction_back_in_place_and_the_stream_goes_on(tables):
    moto_fixes.apply(speedups=False)

    seen = after_a_cancelled_transaction(tables)

    assert seen["items"] == (None, {**Charges.key("A"), "n": {"N": "1"}})
    assert seen["records"] == []
    assert seen["later"] == ["INSERT C"]  # the stream readers still follow the table


def test_with_the_fix_a_successful_transaction_is_applied_and_streamed(tables):
    moto_fixes.apply(speedups=False)
    charges = Charges(tables)
    charges.put("A", 1)
    charges.new_records()

    charges.client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": charges.name,
                    "Item": {**charges.key("B"), "n": {"N": "2"}},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Update": {
                    "TableName": charges.name,
                    "Key": charges.key("A"),
                    "UpdateExpression": "SET n = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                }
            },
        ]
    )

    assert charges.item("B")["n"] == {"N": "2"}
    assert charges.item("A")["n"] == {"N": "2"}
    assert charges.new_records() == ["INSERT B", "MODIFY A"]


def shard_iterators_after_polls(tables: Any, polls: int) -> tuple[int, list[str]]:
    """How many shard iterators moto holds after ``polls`` reads of the stream, and what the reader then sees."""
    charges = Charges(tables)
    for _ in range(polls):
        charges.new_records()
    charges.put("D", 4)
    return len(dynamodbstreams_backends["123456789012"]["us-east-1"].shard_iterators), charges.new_records()


def test_moto_keeps_every_shard_iterator_it_hands_out(tables, monkeypatch):
    monkeypatch.setattr(moto_fixes, "MAX_SHARD_ITERATORS", 3)
    held, records = shard_iterators_after_polls(tables, 10)
    assert held > 10, UPSTREAM_MENDED
    assert records == ["INSERT D"]


def test_the_fix_keeps_only_the_newest_shard_iterators(tables, monkeypatch):
    monkeypatch.setattr(moto_fixes, "MAX_SHARD_ITERATORS", 3)
    moto_fixes.apply(speedups=False)

    held, records = shard_iterators_after_polls(tables, 10)

    assert held <= 3
    assert records == ["INSERT D"]  # the iterator in use is among the newest


# ---------------------------------------------------------------- the switch


def moto_attributes_in_place(patches: moto_fixes.Patches) -> list[bool]:
    return [
        getattr(owner, name) is original
        for (owner, name), original in zip(patches.targets, patches.originals, strict=True)
    ]


@pytest.mark.parametrize("value", ["0", "false", "off", "no"])
def test_local_moto_speedups_off_leaves_every_speed_patch_out_and_applies_the_fixes(monkeypatch, value):
    monkeypatch.setenv(moto_fixes.SPEEDUPS_VARIABLE, value)

    moto_fixes.apply()

    assert all(moto_attributes_in_place(moto_speedups.PATCHES))
    assert all(fix.applied for fix in moto_fixes.FIXES)


def test_by_default_and_when_asked_every_speed_patch_is_in_and_remove_puts_moto_back(monkeypatch):
    monkeypatch.delenv(moto_fixes.SPEEDUPS_VARIABLE, raising=False)
    moto_fixes.apply()
    assert moto_speedups.PATCHES.applied and not any(moto_attributes_in_place(moto_speedups.PATCHES))

    moto_fixes.remove()
    assert all(moto_attributes_in_place(moto_speedups.PATCHES))
    assert all(all(moto_attributes_in_place(fix)) for fix in moto_fixes.FIXES)

    # An argument wins over the environment
    monkeypatch.setenv(moto_fixes.SPEEDUPS_VARIABLE, "0")
    moto_fixes.apply(speedups=True)
    assert moto_speedups.PATCHES.applied


# ---------------------------------------------------------------- speed patches: moto's own answers


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
    moto_speedups.PATCHES.apply()
    try:
        with_fix = answers()
    finally:
        moto_speedups.PATCHES.remove()

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

    moto_speedups.PATCHES.apply()
    try:
        with_fix = _query_answers(client, table, index_table)
        # Given a table query, when moto's whole-table listing is out of reach, then the query still answers.
        original_all_items = Table.all_items
        monkeypatch.setattr(Table, "all_items", lambda self: pytest.fail("a table query listed the whole table"))
        partition_only = _query_answers(client, table, None)
        monkeypatch.setattr(Table, "all_items", original_all_items)
    finally:
        moto_speedups.PATCHES.remove()

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
        item: dict[str, dict[str, Any]] = {"PK": {"S": f"P#t#C#u#{name}"}, "SK": {"S": "S"}}
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
    moto_speedups.PATCHES.apply()
    try:
        with_fix = _writes_of_every_size(client, table)
    finally:
        moto_speedups.PATCHES.remove()
    assert with_fix == without_fix
    assert without_fix[0] is True
    assert without_fix[1] == ("ValidationException", "Item size has exceeded the maximum allowed size")
