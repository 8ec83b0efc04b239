"""API handler -> moto's charges table -> its stream (the real dynamodbstreams API) -> stream handler -> summary.

The records are read with describe_stream / get_shard_iterator / get_records, turned into the event
Lambda delivers, filtered with the template's own FilterCriteria and handed to the stream handler in
batches of the template's BatchSize, then read back through GET /customers/summary.
"""

import json
from typing import Any

import boto3
import pytest

from beacon.dal.items import charge_from_item
from beacon.logic.fold import summarize
from beacon.models.records import ChargeRecord
from beacon.models.responses import SummaryView
from functions.bulk_charges.app import lambda_handler as bulk_handler
from functions.create_charge.app import lambda_handler as create_handler
from functions.get_summary.app import lambda_handler as summary_handler
from functions.summarize_charges.app import lambda_handler as summarize_handler
from local.filters import passes
from local.template import template
from ops.stream_failures import StreamReader
from tests.builders import FakeLambdaContext, call, http_event
from tests.conftest import PUBLIC_KEY, SECRET_KEY

STREAM_EVENT = template()["Resources"]["SummarizeChargesFunction"]["Properties"]["Events"]["ChargesStream"][
    "Properties"
]
FILTERS = [json.loads(f["Pattern"]) for f in STREAM_EVENT["FilterCriteria"]["Filters"]]


class Pipeline:
    """Reads what the charges stream holds since the last read and delivers it the way the mapping would."""

    def __init__(self, tables) -> None:
        self.tables = tables
        self.reader = StreamReader(boto3.client("dynamodbstreams", region_name="us-east-1"))
        description = tables.client.describe_table(TableName=tables.names["ChargesTable"])["Table"]
        self.stream_arn = description["LatestStreamArn"]
        self.positions: dict[str, str] = {}

    def new_records(self) -> list[dict[str, Any]]:
        return self.reader.read_new(self.stream_arn, self.positions)

    def deliver(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        passing = [r for r in records if passes(FILTERS, r)]
        size = STREAM_EVENT["BatchSize"]
        responses = []
        for start in range(0, len(passing), size):
            responses.append(summarize_handler({"Records": passing[start : start + size]}, FakeLambdaContext()))
        return responses


def post_charge(body: dict[str, Any], key: str = PUBLIC_KEY) -> None:
    answer = call(
        create_handler, http_event("create_charge.json", body=body, headers={"authorization": f"Bearer {key}"})
    )
    assert answer.status == 200, answer.body


def post_bulk(body: dict[str, Any]) -> None:
    answer = call(
        bulk_handler, http_event("bulk_charges.json", body=body, headers={"authorization": f"Bearer {PUBLIC_KEY}"})
    )
    assert answer.status == 200, answer.body


def summary(query: dict[str, str]) -> Any:
    answer = call(
        summary_handler, http_event("get_summary.json", query=query, headers={"authorization": f"Bearer {SECRET_KEY}"})
    )
    return answer


def stored_charges(tables) -> list[ChargeRecord]:
    return [charge_from_item(item) for item in tables.charges()]


def test_charges_posted_to_the_api_reach_the_summary_through_the_real_stream(tables):
    # Given single and bulk charges, with and without update_session, for two customers
    pipeline = Pipeline(tables)
    post_charge({"user_id": "ada", "email": "ada@example.com", "amount": 4999, "created_at": 1764057600})
    post_charge({"email": "  Grace@Example.com ", "amount": 250})
    post_bulk(
        {
            "user_id": "ada",
            "email": "ada@new.example.com",
            "charges": [
                {"amount": 100, "created_at": 1735689600, "update_session": False},
                {"amount": 200, "created_at": 1764057700},
                *({"amount": i, "created_at": 1764000000 + i} for i in range(150)),
            ],
        }
    )

    # When the stream's records are read with the dynamodbstreams API and delivered through the filter
    charges_before = tables.charges()
    records = pipeline.new_records()
    assert [r["eventName"] for r in records] == ["INSERT"] * 154
    assert all(isinstance(r["dynamodb"]["SequenceNumber"], str) for r in records)
    responses = pipeline.deliver(records)

    # Then no record failed and the summaries equal what the stored charges say
    assert responses and all(r == {"batchItemFailures": []} for r in responses)
    charges = stored_charges(tables)
    ada = summarize([c for c in charges if c.customer_id == "u#ada"], session_timeout=1800)
    answer = summary({"user_id": "ada"})
    assert answer.status == 200, answer.body
    assert answer.body["data"] == SummaryView.of(ada).model_dump()
    assert answer.body["data"]["charges"]["count"] == 153
    assert answer.body["data"]["email"] == "ada@new.example.com"
    grace = summary({"email": "grace@example.com"})
    assert grace.body["data"]["charges"] == {
        "count": 1,
        "total": 250,
        "first_at": grace.body["data"]["sessions"]["first_seen_at"],
        "last_at": grace.body["data"]["sessions"]["last_seen_at"],
        "last_amount": 250,
    }

    # And the handler wrote nothing to the charges table: its stream holds nothing new, every charge item
    # is still what the API wrote, and the summaries table holds summaries, seen items and the registry only
    assert pipeline.new_records() == []
    assert tables.charges() == charges_before
    assert {item["type"]["S"] for item in tables.items("SummariesTable")} <= {"summary", "seen", "customer"}


def test_the_stream_delivered_twice_counts_every_charge_once(tables):
    pipeline = Pipeline(tables)
    for amount in (10, 20, 30):
        post_charge({"user_id": "twice", "amount": amount})
    records = pipeline.new_records()

    pipeline.deliver(records)
    pipeline.deliver(records)
    pipeline.deliver(list(reversed(records)))

    data = summary({"user_id": "twice"}).body["data"]
    assert (data["charges"]["count"], data["charges"]["total"]) == (3, 60)


@pytest.mark.parametrize("event_name", ["MODIFY", "REMOVE"])
def test_the_template_filter_passes_only_charge_inserts(tables, event_name):
    pipeline = Pipeline(tables)
    post_charge({"user_id": "f", "amount": 1})
    [insert] = pipeline.new_records()
    assert passes(FILTERS, insert)
    other = {**insert, "eventName": event_name}
    assert not passes(FILTERS, other)
    not_a_charge = {
        **insert,
        "dynamodb": {**insert["dynamodb"], "NewImage": {**insert["dynamodb"]["NewImage"], "type": {"S": "x"}}},
    }
    assert not passes(FILTERS, not_a_charge)
