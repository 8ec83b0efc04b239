"""DynamoDB throttling, failures and timeouts during a write: a retryable 503, then exactly once on retry.

Faults are injected into the functions' own DynamoDB client (tests/faults.py); the items are read
back from moto with a client no fault touches.
"""

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from functions.bulk_charges.app import lambda_handler as bulk_charges
from functions.create_charge.app import lambda_handler as create_charge
from tests import faults as dynamodb_faults
from tests.builders import call, http_event
from tests.conftest import SECRET_KEY

CHARGES = "test-ChargesTable"
IDEMPOTENCY = "test-IdempotencyTable"

FAULTS = {
    "throttled": dynamodb_faults.THROTTLED,
    "internal-error": dynamodb_faults.INTERNAL_ERROR,
    "timeout": dynamodb_faults.timed_out,
}


@pytest.fixture
def faults(tables):
    return dynamodb_faults.install(tables.client)


@pytest.fixture(autouse=True)
def _no_waiting(no_backoff):
    pass


def single(amount: int = 4999, key: str | None = "order-1"):
    headers: dict[str, str | None] = {"authorization": f"Bearer {SECRET_KEY}", "idempotency-key": key}
    return http_event("create_charge.json", body={"user_id": "user_42", "amount": amount}, headers=headers)


def bulk(count: int, key: str | None = "import-1"):
    headers: dict[str, str | None] = {"authorization": f"Bearer {SECRET_KEY}", "idempotency-key": key}
    body = {"user_id": "user_42", "charges": [{"amount": i, "created_at": 1_764_000_000 + i} for i in range(count)]}
    return http_event("bulk_charges.json", body=body, headers=headers)


def assert_retryable(answer) -> None:
    assert answer.status == 503, answer.body
    assert answer.headers["retry-after"] == "1"
    assert answer.body["success"] is False
    assert answer.body["code"] == 503
    assert answer.body["data"] is None
    assert "retry" in answer.body["errors"][0]["message"]


def stored_amounts(tables) -> list[int]:
    return sorted(int(item["amount"]["N"]) for item in tables.charges())


def charge_keys(tables) -> list[tuple[str, str]]:
    return sorted((item["PK"]["S"], item["SK"]["S"]) for item in tables.charges())


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_single_charge_whose_write_fails_is_a_503_and_the_retry_stores_it_once(tables, faults, fault):
    # Given the charges table fails the first PutItem
    faults.inject("PutItem", fault, calls={1}, table=CHARGES)

    # When the charge is sent, then retried with the same Idempotency-Key
    first = call(create_charge, single())
    assert_retryable(first)
    assert tables.charges() == []
    assert tables.items("IdempotencyTable") == []  # the failed attempt left no record behind

    retry = call(create_charge, single())

    # Then it is stored exactly once
    assert retry.status == 200, retry.body
    assert stored_amounts(tables) == [4999]
    assert "idempotent-replayed" not in retry.headers
    # and a further retry is a replay that writes nothing
    again = call(create_charge, single())
    assert again.status == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert stored_amounts(tables) == [4999]


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_bulk_of_100_failing_on_the_third_batch_write_is_completed_by_the_retry(tables, faults, fault):
    # Given the third BatchWriteItem call fails (charges 50 to 74)
    faults.inject("BatchWriteItem", fault, calls={3})

    first = call(bulk_charges, bulk(100))

    # Then the client gets a retryable 503, and the first two batches are stored
    assert_retryable(first)
    assert stored_amounts(tables) == list(range(50))
    assert faults.calls["BatchWriteItem"] == 3
    stored_before = charge_keys(tables)

    # When the client retries with the same Idempotency-Key
    retry = call(bulk_charges, bulk(100))

    # Then the 50 missing charges are written (two more batch writes) and each charge is stored exactly once
    assert retry.status == 200, retry.body
    assert faults.calls["BatchWriteItem"] == 5
    assert stored_amounts(tables) == list(range(100))
    assert len(set(charge_keys(tables))) == 100
    assert set(stored_before) <= set(charge_keys(tables))  # the retry named the same charges, it did not add new ones


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_write_that_succeeded_but_whose_answer_was_lost_is_not_repeated(tables, faults, fault):
    # Given DynamoDB stores the single charge but the function never sees the answer
    faults.inject("PutItem", faults.after_success(fault), calls={1}, table=CHARGES)

    first = call(create_charge, single(amount=7))
    assert_retryable(first)
    assert stored_amounts(tables) == [7]

    # When the client retries, the conditional put finds the charge already there
    retry = call(create_charge, single(amount=7))
    assert retry.status == 200, retry.body
    assert stored_amounts(tables) == [7]


def test_a_bulk_whose_last_batch_was_stored_but_unanswered_is_not_repeated(tables, faults):
    faults.inject("BatchWriteItem", faults.after_success(dynamodb_faults.timed_out), calls={4})

    assert_retryable(call(bulk_charges, bulk(80)))
    assert stored_amounts(tables) == list(range(80))

    retry = call(bulk_charges, bulk(80))
    assert retry.status == 200, retry.body
    assert faults.calls["BatchWriteItem"] == 4  # the retry found all 80 stored and wrote nothing
    assert stored_amounts(tables) == list(range(80))


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_failing_check_of_stored_charges_is_a_503_that_wrote_nothing(tables, faults, fault):
    faults.inject("BatchGetItem", fault, calls={1})
    assert_retryable(call(bulk_charges, bulk(30)))
    assert tables.charges() == []
    assert call(bulk_charges, bulk(30)).status == 200
    assert stored_amounts(tables) == list(range(30))


def test_unprocessed_keys_of_the_stored_charges_check_are_asked_again(tables, faults):
    # Given a first attempt stored 25 of 40 charges
    faults.inject("BatchWriteItem", dynamodb_faults.THROTTLED, calls={2})
    assert_retryable(call(bulk_charges, bulk(40)))
    assert len(tables.charges()) == 25

    # and the retry's BatchGetItem is answered with every key unprocessed once
    def all_unprocessed(request):
        return AWSResponse("", 200, HTTPHeaders(), None), {
            "Responses": {CHARGES: []},
            "UnprocessedKeys": request.params["RequestItems"],
        }

    faults.inject("BatchGetItem", all_unprocessed, calls={2})
    retry = call(bulk_charges, bulk(40))

    # Then the keys are asked again, the 25 found and only the 15 others written
    assert retry.status == 200, retry.body
    assert faults.calls["BatchGetItem"] == 3
    assert faults.calls["BatchWriteItem"] == 3
    assert stored_amounts(tables) == list(range(40))


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("endpoint", ["single", "bulk"])
def test_a_failing_idempotency_table_is_a_503_that_wrote_nothing(tables, faults, fault, endpoint):
    # Given the idempotency record cannot be created
    faults.inject("PutItem", fault, calls={1}, table=IDEMPOTENCY)
    handler, event = (create_charge, single) if endpoint == "single" else (bulk_charges, lambda: bulk(10))

    assert_retryable(call(handler, event()))
    assert tables.charges() == []
    assert tables.items("IdempotencyTable") == []

    assert call(handler, event()).status == 200
    assert len(tables.charges()) == (1 if endpoint == "single" else 10)


def test_when_the_failed_attempt_cannot_be_forgotten_the_retry_waits_and_nothing_is_duplicated(tables, faults):
    # Given the write fails and so does the clean-up of the idempotency record
    faults.inject("BatchWriteItem", dynamodb_faults.THROTTLED, calls={2})
    faults.inject("DeleteItem", dynamodb_faults.INTERNAL_ERROR, table=IDEMPOTENCY)

    assert_retryable(call(bulk_charges, bulk(50)))
    assert len(tables.charges()) == 25

    # When the client retries at once: the record still says "in progress" (until the function's timeout)
    retry = call(bulk_charges, bulk(50))
    assert retry.status == 409, retry.body
    assert retry.headers["retry-after"] == "1"
    assert len(tables.charges()) == 25


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_without_an_idempotency_key_a_fault_is_still_a_503_not_a_500(tables, faults, fault):
    faults.inject("PutItem", fault, table=CHARGES)
    assert_retryable(call(create_charge, single(key=None)))
    assert tables.charges() == []


def test_a_throttled_key_lookup_is_a_503_that_wrote_nothing(tables, faults):
    faults.inject("GetItem", dynamodb_faults.THROTTLED, table="test-ApiKeysTable")
    assert_retryable(call(create_charge, single()))
    assert tables.charges() == []
    assert tables.items("IdempotencyTable") == []


def test_a_non_retryable_storage_error_is_a_500_that_says_the_retry_is_safe(tables, faults):
    # A failure of ours (here: a table that does not exist) is a 500, never blamed on the client
    faults.inject("PutItem", dynamodb_faults.aws_error("ResourceNotFoundException"), table=CHARGES)
    answer = call(create_charge, single())
    assert answer.status == 500
    assert answer.body["success"] is False and answer.body["data"] is None
    assert "retried safely" in answer.body["errors"][0]["message"]
    assert call(create_charge, single()).status == 500
    faults.clear()
    assert call(create_charge, single()).status == 200
    assert stored_amounts(tables) == [4999]
