"""The template's HTTP API through SAM's emulation of API Gateway (``sam local start-api``), over HTTP."""

import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from beacon.dal.item_keys import charge_pk
from beacon.logic.identity import identify_customer
from tests.conftest import PROJECT, PUBLIC_KEY
from tests.sam_local.conftest import NO_RESPONSE_ATTEMPTS, Sam, sam_server

pytestmark = pytest.mark.sam_local

# The first request starts the function's runtime: under qemu, tens of seconds.
REQUEST_TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def api_url(sam: Sam, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sam_server(sam, "start-api", tmp_path_factory.mktemp("start-api")) as server:
        yield server.url


def test_a_charge_posted_to_the_emulated_api_is_answered_200_and_stored(api_url: str, sam: Sam):
    user_id = f"sam-api-{uuid.uuid4().hex[:12]}"
    # 502 is SAM's answer when the event never reached the function (see test_invoke's LambdaApi.invoke);
    # that is sent again, and the table must still hold exactly one charge.
    for attempt in range(1, NO_RESPONSE_ATTEMPTS + 1):
        started = time.monotonic()
        answer = requests.post(
            f"{api_url}/charges",
            headers={"Authorization": f"Bearer {PUBLIC_KEY}"},
            json={"user_id": user_id, "amount": 4999, "created_at": 1764057600},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        sam.timed("start-api", f"POST /charges (attempt {attempt})", time.monotonic() - started)
        if answer.status_code != 502:
            break
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True, "code": 200, "data": None}
    stored = sam.stack.dynamodb().query(
        TableName=sam.stack.exports["CHARGES_TABLE_NAME"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": charge_pk(PROJECT, identify_customer(user_id, None))}},
        ConsistentRead=True,
    )["Items"]
    assert [(item["amount"], item["created_at"]) for item in stored] == [({"N": "4999"}, {"N": "1764057600"})]


def test_a_cors_preflight_is_answered_with_the_templates_cors_configuration(api_url: str, sam: Sam):
    started = time.monotonic()
    answer = requests.options(
        f"{api_url}/charges",
        headers={
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    sam.timed("start-api", "OPTIONS /charges", time.monotonic() - started)
    assert answer.status_code in (200, 204), answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert "idempotency-key" in answer.headers["Access-Control-Allow-Headers"].lower()
