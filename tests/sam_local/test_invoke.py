"""Every event in events/ through SAM's emulation of Lambda (``sam local start-lambda``, the Lambda API).

Each function runs as built by ``sam build``, in a Lambda container with its layer, against the local
stack's tables: the answers are the ones the in-process tests expect, and what is stored is checked
in DynamoDB. Warm containers: the first invoke of a function pays its cold start, the others do not.
"""

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from beacon.dal.item_keys import charge_pk
from beacon.dal.summary_items import summary_key
from beacon.logic.identity import identify_customer
from local.sam import functions, http_routes
from tests.builders import EVENTS_DIR, load_event
from tests.conftest import PROJECT
from tests.sam_local.conftest import NO_RESPONSE_ATTEMPTS, REGION, Sam, sam_server

pytestmark = pytest.mark.sam_local

OK = {"success": True, "code": 200, "data": None}


class LambdaApi:
    """Invokes functions through ``start-lambda`` and reads the local stack's tables."""

    def __init__(self, client: Any, sam: Sam) -> None:
        self.client = client
        self.sam = sam
        self.dynamodb = sam.stack.dynamodb()
        self.tables = {name: sam.stack.exports[name] for name in ("CHARGES_TABLE_NAME", "SUMMARIES_TABLE_NAME")}

    def invoke(self, function: str, event: dict[str, Any], label: str) -> Any:
        """The function's answer. An empty one is SAM's "No response from invoke container": when SAM
        (re)creates a container under qemu, it can post the event through Docker's port proxy before
        the emulated runtime listens, and the event never reaches the function; it is sent again."""
        for attempt in range(1, NO_RESPONSE_ATTEMPTS + 1):
            started = time.monotonic()
            answer = self.client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
            raw = answer["Payload"].read()
            retried = f" (attempt {attempt})" if attempt > 1 or not raw else ""
            self.sam.timed("invoke", f"{function} {label}{retried}", time.monotonic() - started)
            if raw:
                break
        payload = json.loads(raw or b"null")
        assert payload is not None, f"SAM got no response from {function} in {NO_RESPONSE_ATTEMPTS} attempts"
        assert "FunctionError" not in answer, payload
        return payload

    def http(self, event_name: str) -> tuple[int, dict[str, str], Any]:
        """Status, headers (lower-cased) and JSON body of the function the event's route reaches."""
        event = load_event(event_name)
        payload = self.invoke(function_for(event), event, event_name)
        headers = {k.lower(): v for k, v in (payload.get("headers") or {}).items()}
        body = json.loads(payload["body"]) if payload.get("body") else None
        return payload["statusCode"], headers, body

    def charges(self, *, user_id: str | None = None, email: str | None = None) -> list[dict[str, Any]]:
        """The charge items stored for a customer of the events' project."""
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.tables["CHARGES_TABLE_NAME"],
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": charge_pk(PROJECT, identify_customer(user_id, email))}},
            ConsistentRead=True,
        )
        return [item for page in pages for item in page["Items"] if item.get("type", {}).get("S") == "charge"]

    def all_charges(self) -> int:
        return int(self.dynamodb.scan(TableName=self.tables["CHARGES_TABLE_NAME"], Select="COUNT")["Count"])


def function_for(event: dict[str, Any]) -> str:
    """The function the template wires to an event: its HTTP API route, or its DynamoDB stream."""
    specs = functions()
    if "Records" in event:
        kind = "SQS" if event["Records"][0].get("eventSource") == "aws:sqs" else "DynamoDB"
        (name,) = [n for n, s in specs.items() if any(e["Type"] == kind for e in s.events.values())]
        return name
    method, path = event["requestContext"]["http"]["method"], event["rawPath"]
    for route in http_routes(specs):
        if route.is_default or route.match(method, path) is not None:
            return route.function
    raise AssertionError(f"no route for {method} {path}")


@pytest.fixture(scope="module")
def api(sam: Sam, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaApi]:
    with sam_server(sam, "start-lambda", tmp_path_factory.mktemp("start-lambda")) as server:
        config = Config(read_timeout=900, connect_timeout=10, retries={"max_attempts": 0})
        client = boto3.client(
            "lambda",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=config,
        )
        yield LambdaApi(client, sam)


CHECKED = {
    "summarize_charges.json",
    "customer_jobs.json",
    "get_summary.json",
    "erase_customer.json",
    "create_charge.json",
    "create_charge_beacon.json",
    "create_charge_idempotent.json",
    "bulk_charges.json",
    "create_charge_invalid.json",
    "create_charge_malformed.json",
    "create_charge_no_key.json",
    "bulk_charges_invalid.json",
    "unknown_route.json",
}


def test_every_event_in_events_is_checked_here():
    assert {path.name for path in EVENTS_DIR.glob("*.json")} == CHECKED


def test_the_stream_batch_builds_the_summaries_the_read_endpoint_shows(api: LambdaApi):
    # Given the batch's charges stored as the write path stores them...
    event = load_event("summarize_charges.json")
    images = [r["dynamodb"]["NewImage"] for r in event["Records"] if r["eventName"] == "INSERT"]
    for image in images:
        api.dynamodb.put_item(TableName=api.tables["CHARGES_TABLE_NAME"], Item=image)
    # ...which the local stack's own stream poller summarizes first: undo that, so that what follows
    # is the emulated function's work alone.
    customers = {(i["project_id"]["S"], i["customer_id"]["S"]) for i in images}
    summary_keys = [summary_key(p, c) for p, c in customers]
    _wait_until(lambda: all(_summary_of(api, key) is not None for key in summary_keys))
    for key in summary_keys:
        api.dynamodb.delete_item(TableName=api.tables["SUMMARIES_TABLE_NAME"], Key=key)

    assert api.invoke(function_for(event), event, "summarize_charges.json") == {"batchItemFailures": []}

    summaries = [_summary_of(api, key) for key in summary_keys]
    assert all(summary is not None and summary["version"] == {"N": "1"} for summary in summaries)
    status, _, body = api.http("get_summary.json")
    assert status == 200, body
    assert body == {
        "success": True,
        "code": 200,
        "data": {
            "user_id": "user_42",
            "email": "ada@example.com",
            "charges": {"count": 2, "total": 6499, "first_at": 1764057600, "last_at": 1764057900, "last_amount": 1500},
            "sessions": {"count": 1, "first_seen_at": 1764057600, "last_seen_at": 1764057900},
        },
    }


def test_a_customer_job_recomputes_the_customer_from_its_stored_charges(api: LambdaApi):
    # Given user_42's summary deleted (the local stack's stream wrote it), its charges still stored
    event = load_event("customer_jobs.json")
    key = summary_key(PROJECT, "u#user_42")
    stored = api.charges(user_id="user_42")
    assert stored, "the stream test above stores user_42's charges"
    api.dynamodb.delete_item(TableName=api.tables["SUMMARIES_TABLE_NAME"], Key=key)

    # When the jobs function runs the event's recompute job
    assert api.invoke(function_for(event), event, "customer_jobs.json") == {"batchItemFailures": []}

    # Then the summary is back, counting every stored charge
    summary = _summary_of(api, key)
    assert summary is not None and summary["charge_count"] == {"N": str(len(stored))}


def test_a_charge_is_answered_200_and_stored(api: LambdaApi):
    before = api.charges(user_id="user_42")
    status, _, body = api.http("create_charge.json")
    assert (status, body) == (200, OK)
    (new,) = _added(before, api.charges(user_id="user_42"))
    assert (new["amount"], new["email"]) == ({"N": "4999"}, {"S": "ada@example.com"})
    assert new["created_at"] == {"N": "1764057600"}


def test_a_beacon_with_the_key_in_the_body_is_stored_under_the_lower_cased_email(api: LambdaApi):
    before = api.charges(email="grace@example.com")
    status, _, body = api.http("create_charge_beacon.json")
    assert (status, body) == (200, OK)
    (new,) = _added(before, api.charges(email="grace@example.com"))
    assert new["amount"] == {"N": "1200"}


def test_an_idempotent_charge_is_stored_once_and_replayed(api: LambdaApi):
    before = api.charges(user_id="user_42")
    status, _, body = api.http("create_charge_idempotent.json")
    assert (status, body) == (200, OK)
    (new,) = _added(before, api.charges(user_id="user_42"))
    assert new["amount"] == {"N": "2500"}

    status, headers, body = api.http("create_charge_idempotent.json")
    assert (status, body) == (200, OK)
    assert headers.get("idempotent-replayed") == "true"
    assert [item["SK"] for item in _added(before, api.charges(user_id="user_42"))] == [new["SK"]]


def test_a_bulk_request_stores_every_charge(api: LambdaApi):
    before = api.charges(user_id="user_42")
    status, _, body = api.http("bulk_charges.json")
    assert (status, body) == (200, OK)
    added = _added(before, api.charges(user_id="user_42"))
    assert sorted(int(item["amount"]["N"]) for item in added) == [500, 1000, 2500]


@pytest.mark.parametrize(
    ("event_name", "status", "fields"),
    [
        ("create_charge_invalid.json", 400, {"amount", "created_at"}),
        ("create_charge_malformed.json", 400, {"body"}),
        ("create_charge_no_key.json", 401, {"api_key"}),
        ("bulk_charges_invalid.json", 400, {"charges[1].amount", "charges[2].update_session"}),
    ],
)
def test_bad_requests_are_refused_naming_the_field_and_store_nothing(api: LambdaApi, event_name, status, fields):
    before = api.all_charges()
    answer_status, _, body = api.http(event_name)
    assert answer_status == status, body
    assert (body["success"], body["code"], body["data"]) == (False, status, None)
    assert {error["field"] for error in body["errors"]} == fields
    assert api.all_charges() == before


def test_an_unknown_method_gets_405_naming_the_method(api: LambdaApi):
    # (Preflights never reach a function: API Gateway answers them from CorsConfiguration; start-api is checked.)
    status, headers, body = api.http("unknown_route.json")
    assert status == 405, body
    assert headers["allow"] == "POST"
    assert body["errors"][0]["field"] == "method"


def test_an_erased_customer_reads_404_at_once_and_its_charges_are_deleted_by_the_jobs_queue(api: LambdaApi):
    # (Last: user_42, whom the tests above charge, is erased.)
    assert api.charges(user_id="user_42")
    status, _, body = api.http("erase_customer.json")
    assert (status, body) == (202, {"success": True, "code": 202, "data": None})
    status, _, body = api.http("get_summary.json")
    assert status == 404, body
    # The erase job went to the local stack's jobs queue (env.json), whose poller runs it.
    _wait_until(lambda: not api.charges(user_id="user_42"))


def _summary_of(api: LambdaApi, key: dict[str, Any]) -> dict[str, Any] | None:
    item = api.dynamodb.get_item(TableName=api.tables["SUMMARIES_TABLE_NAME"], Key=key, ConsistentRead=True)
    return item.get("Item")


def _added(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of ``after`` that ``before`` did not have (by sort key)."""
    known = {item["SK"]["S"] for item in before}
    return [item for item in after if item["SK"]["S"] not in known]


def _wait_until(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the local stack's pollers (stream, jobs queue) did not get there in time"
        time.sleep(0.2)
