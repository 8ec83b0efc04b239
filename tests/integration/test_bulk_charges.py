"""POST /charges/bulk in process against moto: validation before any write, batching, idempotent retries."""

import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.dal import aws
from beacon.dal.aws import BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS
from beacon.dal.charges import MAX_ATTEMPTS, ChargesRepository
from beacon.errors import StorageUnavailableError
from beacon.models.records import ChargeRecord
from functions.bulk_charges.app import lambda_handler
from functions.create_charge.app import lambda_handler as create_charge
from tests import faults as dynamodb_faults
from tests.builders import call, http_event, load_event
from tests.conftest import PUBLIC_KEY, SECRET_KEY

SUCCESS = {"success": True, "code": 200, "data": None}


def bulk_event(charges, *, key: str | None = None, identity: dict | None = None):
    headers: dict[str, str | None] = {"authorization": f"Bearer {SECRET_KEY}", "idempotency-key": key}
    body = (identity or {"user_id": "user_42"}) | {"charges": charges}
    return http_event("bulk_charges.json", body=body, headers=headers)


def amounts(items) -> list[int]:
    return sorted(int(item["amount"]["N"]) for item in items)


@pytest.fixture
def faults(tables):
    return dynamodb_faults.install(tables.client)


@pytest.fixture
def delays(monkeypatch):
    """The backoff delays the repository asked for; the sleeps themselves are skipped."""
    asked: list[float] = []
    real_delay = aws.backoff_delay

    def record(attempt: int) -> float:
        asked.append(real_delay(attempt))
        return 0.0

    monkeypatch.setattr(aws, "backoff_delay", record)
    return asked


# ---------------------------------------------------------------- the ready events


def test_the_ready_bulk_event_stores_each_charge_once(tables):
    # Given events/bulk_charges.json: three charges of user_42, the third without created_at
    before = int(time.time())
    answer = call(lambda_handler, load_event("bulk_charges.json"))
    after = int(time.time())

    assert answer.status == 200, answer.body
    assert answer.body == SUCCESS
    items = sorted(tables.charges(), key=lambda item: int(item["amount"]["N"]))
    assert [(i["amount"]["N"], i["update_session"]["BOOL"]) for i in items] == [
        ("500", True),
        ("1000", True),
        ("2500", False),
    ]
    assert {i["PK"]["S"] for i in items} == {"P#local#C#u#user_42"}
    assert len({i["SK"]["S"] for i in items}) == 3
    assert [i["created_at"]["N"] for i in items[1:]] == ["1764000000", "1764003600"]
    assert before <= int(items[0]["created_at"]["N"]) <= after
    assert items[0]["created_at"] == items[0]["received_at"]


def test_the_ready_invalid_bulk_event_names_each_bad_charge_and_writes_nothing(tables):
    answer = call(lambda_handler, load_event("bulk_charges_invalid.json"))
    assert answer.status == 400
    assert answer.body["success"] is False and answer.body["data"] is None
    assert {e["field"] for e in answer.body["errors"]} == {"charges[1].amount", "charges[2].update_session"}
    assert tables.charges() == []


def test_one_bad_charge_among_a_thousand_rejects_the_whole_request(tables):
    charges = [{"amount": 1}] * 999 + [{"amount": "1.5"}]
    answer = call(lambda_handler, bulk_event(charges))
    assert answer.status == 400
    assert [e["field"] for e in answer.body["errors"]] == ["charges[999].amount"]
    assert tables.charges() == []


def test_email_identity_for_a_bulk(tables):
    answer = call(lambda_handler, bulk_event([{"amount": 7}, {"amount": 8}], identity={"email": " Ada@Example.COM"}))
    assert answer.status == 200
    assert {i["PK"]["S"] for i in tables.charges()} == {"P#local#C#e#ada@example.com"}
    assert all(i["email"]["S"] == "ada@example.com" and "user_id" not in i for i in tables.charges())


def test_a_public_key_may_send_a_bulk(tables):
    event = bulk_event([{"amount": 1}])
    event["headers"]["authorization"] = f"Bearer {PUBLIC_KEY}"
    assert call(lambda_handler, event).status == 200
    assert len(tables.charges()) == 1


# ---------------------------------------------------------------- batching


def test_a_thousand_charges_go_in_forty_batch_writes_of_25(tables, faults):
    charges = [{"amount": i, "created_at": 1_764_000_000 + i} for i in range(1000)]
    answer = call(lambda_handler, bulk_event(charges))
    assert answer.status == 200, answer.body
    assert amounts(tables.charges()) == list(range(1000))
    assert faults.calls["BatchWriteItem"] == 40
    assert faults.calls["BatchGetItem"] == 0  # without an Idempotency-Key there is nothing to skip


def test_with_an_idempotency_key_stored_ids_are_checked_100_at_a_time(tables, faults):
    answer = call(lambda_handler, bulk_event([{"amount": i} for i in range(250)], key="batch-250"))
    assert answer.status == 200
    assert len(tables.charges()) == 250
    assert faults.calls["BatchGetItem"] == 3
    assert faults.calls["BatchWriteItem"] == 10


def test_a_single_charge_in_a_bulk_is_one_conditional_put(tables, faults):
    assert call(lambda_handler, bulk_event([{"amount": 3}], key="just-one")).status == 200
    assert faults.calls["PutItem:test-ChargesTable"] == 1
    assert faults.calls["BatchWriteItem"] == 0
    assert amounts(tables.charges()) == [3]


# ---------------------------------------------------------------- unprocessed items


def test_unprocessed_items_are_retried_with_growing_jittered_backoff_until_all_are_stored(tables, faults, delays):
    # Given DynamoDB takes only 10 of 25 items on the first call, then 10 of the 15 left, then the rest
    faults.inject("BatchWriteItem", faults.partly_unprocessed(keep=10), calls={1, 2})

    answer = call(lambda_handler, bulk_event([{"amount": i} for i in range(25)], key="unprocessed-twice"))

    assert answer.status == 200, answer.body
    assert amounts(tables.charges()) == list(range(25))
    assert faults.calls["BatchWriteItem"] == 3
    assert len(delays) == 2
    assert 0 <= delays[0] <= BACKOFF_BASE_SECONDS
    assert 0 <= delays[1] <= BACKOFF_BASE_SECONDS * 2


def test_items_that_stay_unprocessed_end_in_a_503_and_the_retry_stores_each_once(tables, faults, delays):
    # Given DynamoDB takes 5 items of the first call and then none, however often it is asked
    faults.inject("BatchWriteItem", faults.partly_unprocessed(keep=5), calls={1})
    faults.inject("BatchWriteItem", faults.partly_unprocessed(keep=0))
    charges = [{"amount": i} for i in range(60)]

    # When the request is sent: the bounded attempts run out on the first chunk
    answer = call(lambda_handler, bulk_event(charges, key="always-unprocessed"))

    # Then the client is told to retry, and what got through is stored
    assert answer.status == 503, answer.body
    assert answer.headers["retry-after"] == "1"
    assert answer.body["success"] is False and answer.body["data"] is None
    assert faults.calls["BatchWriteItem"] == MAX_ATTEMPTS
    assert len(delays) == MAX_ATTEMPTS - 1
    assert amounts(tables.charges()) == list(range(5))

    # When DynamoDB recovers and the client retries with the same Idempotency-Key
    faults.clear()
    retry = call(lambda_handler, bulk_event(charges, key="always-unprocessed"))

    # Then every charge is stored exactly once
    assert retry.status == 200, retry.body
    assert "idempotent-replayed" not in retry.headers
    assert amounts(tables.charges()) == list(range(60))


def test_the_repository_backs_off_with_full_jitter_up_to_the_cap(tables, faults):
    # Given a repository whose sleeps are recorded, and a DynamoDB that never takes anything
    faults.inject("BatchWriteItem", faults.partly_unprocessed(keep=0))
    slept: list[float] = []
    repository = ChargesRepository("test-ChargesTable", sleep=slept.append)
    records = [
        ChargeRecord(
            project_id="local",
            customer_id="u#u",
            charge_id=f"c{i}",
            user_id="u",
            email=None,
            amount=i,
            created_at=1_764_000_000,
            received_ms=1_764_000_000_000,
            update_session=True,
        )
        for i in range(2)
    ]

    with pytest.raises(StorageUnavailableError):
        repository.add(records, skip_existing=False)

    assert len(slept) == MAX_ATTEMPTS - 1
    caps = [min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt) for attempt in range(MAX_ATTEMPTS - 1)]
    assert all(0 <= delay <= cap for delay, cap in zip(slept, caps, strict=True))
    assert tables.charges() == []


@given(st.integers(min_value=0, max_value=64))
def test_backoff_delay_is_between_zero_and_the_capped_exponential(attempt):
    delay = aws.backoff_delay(attempt)
    assert 0 <= delay <= min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)


# ---------------------------------------------------------------- idempotent retries


def test_the_same_key_and_body_replays_and_stores_nothing_new(tables, faults):
    charges = [{"amount": i} for i in range(30)]
    first = call(lambda_handler, bulk_event(charges, key="replay-me"))
    writes = faults.calls["BatchWriteItem"]
    second = call(lambda_handler, bulk_event(charges, key="replay-me"))
    assert first.status == second.status == 200
    assert first.body == second.body == SUCCESS
    assert second.headers["idempotent-replayed"] == "true"
    assert faults.calls["BatchWriteItem"] == writes  # the replay never reached the charges table
    assert amounts(tables.charges()) == list(range(30))


def test_the_same_key_with_another_bulk_is_422_and_writes_nothing(tables):
    assert call(lambda_handler, bulk_event([{"amount": 1}, {"amount": 2}], key="k-422")).status == 200
    answer = call(lambda_handler, bulk_event([{"amount": 1}, {"amount": 3}], key="k-422"))
    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "Idempotency-Key"
    assert amounts(tables.charges()) == [1, 2]


def test_the_same_key_sent_to_the_other_endpoint_is_422(tables):
    assert call(lambda_handler, bulk_event([{"amount": 5}], key="shared-key")).status == 200
    single = http_event(
        "create_charge.json",
        body={"user_id": "user_42", "amount": 5},
        headers={"authorization": f"Bearer {SECRET_KEY}", "idempotency-key": "shared-key"},
    )
    answer = call(create_charge, single)
    assert answer.status == 422
    assert amounts(tables.charges()) == [5]


def test_a_request_still_in_flight_is_409_and_writes_nothing(tables, faults):
    # Given the first request's write never comes back (the function is still running when the retry arrives)
    charges = [{"amount": i} for i in range(3)]

    def retry_while_in_flight(_call):
        nested = call(lambda_handler, bulk_event(charges, key="in-flight"))
        assert nested.status == 409, nested.body
        assert nested.headers["retry-after"] == "1"
        assert nested.body["errors"][0]["field"] == "Idempotency-Key"
        return None  # then let the first request's write through

    faults.inject("BatchWriteItem", retry_while_in_flight, calls={1})
    answer = call(lambda_handler, bulk_event(charges, key="in-flight"))
    assert answer.status == 200
    assert faults.calls["BatchWriteItem"] == 1
    assert amounts(tables.charges()) == [0, 1, 2]


def test_without_a_key_the_same_bulk_twice_is_stored_twice(tables):
    for _ in range(2):
        assert call(lambda_handler, bulk_event([{"amount": 1}, {"amount": 2}])).status == 200
    assert amounts(tables.charges()) == [1, 1, 2, 2]


def test_items_carry_the_project_and_nothing_unknown(tables):
    body = {"user_id": "u9", "plan": "gold", "charges": [{"amount": 1, "note": "x"}, {"amount": 2}]}
    event = http_event("bulk_charges.json", body=body, headers={"idempotency-key": None})
    assert call(lambda_handler, event).status == 200
    for item in tables.charges():
        assert item["project_id"]["S"] == "local"
        assert set(item) == {
            "PK",
            "SK",
            "type",
            "project_id",
            "customer_id",
            "charge_id",
            "user_id",
            "amount",
            "created_at",
            "received_at",
            "received_ms",
            "position",
            "update_session",
        }


# ---------------------------------------------------------------- property: what is accepted is what is stored

valid_charges = st.lists(
    st.fixed_dictionaries(
        {"amount": st.integers(min_value=0, max_value=10**15)},
        optional={
            "created_at": st.integers(min_value=946_684_800, max_value=1_764_000_000),
            "update_session": st.booleans(),
        },
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(charges=valid_charges, user_id=st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=40))
def test_any_valid_bulk_is_stored_exactly_as_sent(tables, charges, user_id):
    customer = f"{user_id}-{uuid.uuid4().hex}"  # one customer per example: the tables outlive an example
    before = int(time.time())
    answer = call(lambda_handler, bulk_event(charges, key=uuid.uuid4().hex, identity={"user_id": customer}))
    assert answer.status == 200, answer.body
    stored = [item for item in tables.charges() if item["user_id"]["S"] == customer]
    in_request_order = sorted(stored, key=lambda i: int(i["position"]["N"]))
    as_stored = [
        (int(i["amount"]["N"]), int(i["created_at"]["N"]), i["update_session"]["BOOL"], int(i["received_at"]["N"]))
        for i in in_request_order
    ]
    received_at = as_stored[0][3]
    assert before <= received_at <= int(time.time())
    # each charge keeps its place in the request, and one receive time (milliseconds) for them all
    assert [int(i["position"]["N"]) for i in in_request_order] == list(range(len(charges)))
    assert {int(i["received_ms"]["N"]) // 1000 for i in stored} == {received_at}
    assert as_stored == [
        (c["amount"], c.get("created_at", received_at), c.get("update_session", True), received_at) for c in charges
    ]
