"""DELETE /customers over HTTP: the summary reads 404 at once, the stored items go, nothing brings them back.

Against the local stack the embedded DynamoDB is read directly: the customer's charges, seen items
and registry entry are gone once the erase job's first pass has run (a few seconds); what stays
under the customer's summary key is the erasure's tombstone, which holds nothing but the key, a
floor and an expiry (docs/design.md, "Erasure"). The final pass, 5 minutes later, is the
integration tests' (tests/integration/test_erase_customer.py).
"""

import time
from typing import Any

import pytest
import requests

from beacon.dal.item_keys import registry_pk, registry_shard, registry_sk, seen_pk, summary_pk
from beacon.logic.identity import identify_customer
from tests.e2e.conftest import Stack, unique

WAIT_SECONDS = 60


def erase(stack: Stack, key: str, **query: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return stack.session.delete(f"{stack.base_url}/customers", params=query, headers=headers, timeout=30)


def summary_items(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    """What the summaries table holds of the customer: its summary key's items, seen items, registry entry."""
    assert stack.project is not None
    table = stack.exports["SUMMARIES_TABLE_NAME"]
    customer = identify_customer(user_id, None)
    items = []
    for pk in (summary_pk(stack.project, customer), seen_pk(stack.project, customer)):
        found = stack.dynamodb.query(
            TableName=table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        )
        items += found["Items"]
    key = {"PK": {"S": registry_pk(stack.project, registry_shard(customer))}, "SK": {"S": registry_sk(customer)}}
    registered = stack.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return items + ([registered] if registered else [])


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT_SECONDS} s: {what}"
        time.sleep(0.25)


@pytest.fixture
def local(stack: Stack) -> Stack:
    if not stack.exports:
        pytest.skip(reason="reads the local stack's embedded DynamoDB: run against `make dev`'s stack")
    return stack


def test_an_erased_customer_reads_404_at_once_and_its_items_go(local: Stack):
    # Given a customer with a summary, many charges (more than its summary item keeps the ids of) and one
    # charge sent just before the erasure, still in the stream
    user_id = unique("e2e-erase")
    bulk = {"user_id": user_id, "charges": [{"amount": 100 + i} for i in range(60)]}
    assert local.post("/charges/bulk", bulk).ok
    wait_until(lambda: local.summary(user_id=user_id).status_code == 200, "the summary")
    assert local.post("/charges", {"user_id": user_id, "amount": 7}).ok

    # When it is erased with the secret key
    erased = erase(local, local.secret_key, user_id=user_id)

    # Then the answer is 202 and the summary reads 404 at once
    assert erased.status_code == 202, erased.text
    assert erased.json() == {"success": True, "code": 202, "data": None}
    assert local.summary(user_id=user_id).status_code == 404
    # and within seconds no charge, seen item nor registry entry is left: only the tombstone, with no identity
    wait_until(lambda: local.stored_charges(user_id=user_id) == [], "the charges deleted")
    wait_until(lambda: len(summary_items(local, user_id)) == 1, "the seen items and registry entry deleted")
    [tombstone] = summary_items(local, user_id)
    assert tombstone["charge_count"] == {"N": "0"}
    assert not {"user_id", "email", "last_amount", "first_at"} & set(tombstone)
    # and the charge sent just before the erasure never brought the summary back
    time.sleep(3)
    assert local.summary(user_id=user_id).status_code == 404


def test_a_charge_after_the_erasure_starts_a_new_customer(local: Stack):
    user_id = unique("e2e-erase-again")
    assert local.post("/charges", {"user_id": user_id, "amount": 500}).ok
    wait_until(lambda: local.summary(user_id=user_id).status_code == 200, "the summary")
    assert erase(local, local.secret_key, user_id=user_id).status_code == 202
    wait_until(lambda: local.stored_charges(user_id=user_id) == [], "the charges deleted")

    assert local.post("/charges", {"user_id": user_id, "amount": 42}).ok

    wait_until(lambda: local.summary(user_id=user_id).status_code == 200, "the new customer's summary")
    charges = local.summary(user_id=user_id).json()["data"]["charges"]
    assert (charges["count"], charges["total"], charges["last_amount"]) == (1, 42, 42)
    assert len(local.stored_charges(user_id=user_id)) == 1


def test_a_public_key_cannot_erase(local: Stack):
    user_id = unique("e2e-erase-public")
    assert local.post("/charges", {"user_id": user_id, "amount": 500}).ok
    wait_until(lambda: local.summary(user_id=user_id).status_code == 200, "the summary")

    refused = erase(local, local.public_key, user_id=user_id)

    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "api_key"
    assert local.summary(user_id=user_id).status_code == 200
    assert len(local.stored_charges(user_id=user_id)) == 1
