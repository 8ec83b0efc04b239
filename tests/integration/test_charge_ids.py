"""The client's own ``charge_id``, in process against moto: one charge per customer and id, whatever the request.

A charge with a ``charge_id`` is stored under an id derived from the project, the customer and that
name; sent again with the same amount and ``created_at`` (as the client sent it) it is a 200 that
writes nothing; with other content it is a 409 naming ``charge_id`` (``charges[i].charge_id`` in a
bulk) and nothing of the request is written. A stored charge is never overwritten.
"""

import pytest

from beacon.dal.items import charge_item
from beacon.logic.charges import named_charge_id
from beacon.models.records import ChargeRecord
from beacon.models.requests import BulkChargesRequest, CreateChargeRequest
from beacon.services.record_charges import IngestCommand
from functions.bulk_charges.app import lambda_handler as bulk_charges
from functions.create_charge.app import lambda_handler as create_charge
from functions.summarize_charges.app import lambda_handler as summarize
from tests import faults as dynamodb_faults
from tests.builders import FakeLambdaContext, call, http_event
from tests.conftest import OTHER_PROJECT_SECRET_KEY, PUBLIC_KEY
from tests.stream_builders import stream_record

SUCCESS = {"success": True, "code": 200, "data": None}
CHARGES = "test-ChargesTable"


def single(body: dict, *, key: str = PUBLIC_KEY, idempotency_key: str | None = None):
    headers = {"authorization": f"Bearer {key}", "idempotency-key": idempotency_key}
    return call(create_charge, http_event("create_charge.json", body={"user_id": "shopper", **body}, headers=headers))


def bulk(charges: list[dict], *, user_id: str = "shopper", idempotency_key: str | None = None):
    headers = {"authorization": f"Bearer {PUBLIC_KEY}", "idempotency-key": idempotency_key}
    body = {"user_id": user_id, "charges": charges}
    return call(bulk_charges, http_event("bulk_charges.json", body=body, headers=headers))


def stored(tables) -> dict[str, dict]:
    """The stored charges by the client's charge_id ("-" for those without one)."""
    return {item.get("client_charge_id", {"S": "-"})["S"]: item for item in tables.charges()}


def amounts(tables) -> list[int]:
    return sorted(int(item["amount"]["N"]) for item in tables.charges())


def assert_conflict(answer, fields: list[str]) -> None:
    assert answer.status == 409, answer.body
    assert (answer.body["success"], answer.body["code"], answer.body["data"]) == (False, 409, None)
    assert [error["field"] for error in answer.body["errors"]] == fields
    assert "retry-after" not in answer.headers  # not a request in flight: sending it again cannot help


@pytest.fixture
def faults(tables):
    return dynamodb_faults.install(tables.client)


# ---------------------------------------------------------------- stored once


def test_a_named_charge_is_stored_under_an_id_derived_from_its_name(tables):
    answer = single({"amount": 4999, "created_at": 1_764_057_600, "charge_id": "order-1001"})

    assert answer.status == 200, answer.body
    [item] = tables.charges()
    expected_id = named_charge_id("local", "u#shopper", "order-1001")
    assert item["charge_id"] == {"S": expected_id}
    assert item["SK"] == {"S": f"CHARGE#{expected_id}"}
    assert item["client_charge_id"] == {"S": "order-1001"}
    assert item["client_created_at"] == {"N": "1764057600"}
    assert item["amount"] == {"N": "4999"}


def test_the_same_charge_sent_again_in_any_request_is_stored_once(tables):
    first = single({"amount": 4999, "created_at": 1_764_057_600, "charge_id": "order-1001"})
    written = tables.charges()

    again = single({"amount": 4999, "created_at": 1_764_057_600, "charge_id": "order-1001"})
    as_string = single({"amount": "4999", "created_at": "1764057600", "charge_id": "order-1001"})
    in_a_bulk = bulk(
        [
            {"amount": 100, "charge_id": "order-1002"},
            {"amount": 4999, "created_at": 1_764_057_600, "charge_id": "order-1001"},
        ]
    )

    assert [a.status for a in (first, again, as_string, in_a_bulk)] == [200, 200, 200, 200]
    assert again.body == in_a_bulk.body == SUCCESS
    assert sorted(stored(tables)) == ["order-1001", "order-1002"]
    assert stored(tables)["order-1001"] == written[0]  # not written again: the first item, unchanged


def test_a_named_charge_sent_again_without_created_at_matches_one_sent_without_it(tables):
    first = single({"amount": 300, "charge_id": "tip-9"})
    again = single({"amount": 300, "charge_id": "tip-9", "update_session": False})

    assert (first.status, again.status) == (200, 200)
    [item] = tables.charges()
    assert "client_created_at" not in item
    assert item["update_session"] == {"BOOL": True}  # update_session is not the charge's content: the first stays


def test_charge_ids_are_per_customer_and_per_project(tables):
    answers = [
        single({"amount": 1, "charge_id": "inv-1"}),
        single({"user_id": "someone-else", "amount": 2, "charge_id": "inv-1"}),
        single({"user_id": None, "email": "shopper@example.com", "amount": 3, "charge_id": "inv-1"}),
        single({"amount": 4, "charge_id": "inv-1"}, key=OTHER_PROJECT_SECRET_KEY),
    ]

    assert [a.status for a in answers] == [200, 200, 200, 200]
    assert amounts(tables) == [1, 2, 3, 4]
    assert {item["PK"]["S"] for item in tables.charges()} == {
        "P#local#C#u#shopper",
        "P#local#C#u#someone-else",
        "P#local#C#e#shopper@example.com",
        "P#globex#C#u#shopper",
    }


def test_a_named_charge_is_summarized_once_however_often_it_is_sent(tables):
    for _ in range(3):
        assert single({"amount": 750, "charge_id": "order-7"}).status == 200
    assert bulk([{"amount": 750, "charge_id": "order-7"}, {"amount": 250}]).status == 200

    records = [stream_record(item) for item in tables.charges()]
    assert summarize({"Records": records}, FakeLambdaContext()) == {"batchItemFailures": []}

    [summary] = [item for item in tables.items("SummariesTable") if item["type"]["S"] == "summary"]
    assert (summary["charge_count"]["N"], summary["charge_total"]["N"]) == ("2", "1000")


# ---------------------------------------------------------------- other content: 409, nothing written


@pytest.mark.parametrize(
    "resent",
    [
        {"amount": 5000, "created_at": 1_764_057_600},
        {"amount": 4999, "created_at": 1_764_057_601},
        {"amount": 4999},  # the first said when; this one does not: another charge
    ],
    ids=["other-amount", "other-created-at", "no-created-at"],
)
def test_a_charge_id_sent_again_with_other_content_is_a_409_and_writes_nothing(tables, resent):
    assert single({"amount": 4999, "created_at": 1_764_057_600, "charge_id": "order-1001"}).status == 200
    before = tables.charges()

    answer = single({**resent, "charge_id": "order-1001"})

    assert_conflict(answer, ["charge_id"])
    message = answer.body["errors"][0]["message"]
    assert "order-1001" in message and "already stored" in message
    assert "4999" not in message  # the stored charge's content is not disclosed
    assert tables.charges() == before


def test_a_bulk_with_one_conflicting_charge_is_a_409_naming_it_and_stores_none_of_its_charges(tables, faults):
    assert single({"amount": 4999, "charge_id": "order-1001"}).status == 200
    before = tables.charges()

    answer = bulk(
        [
            {"amount": 1, "charge_id": "order-2001"},
            {"amount": 2},
            {"amount": 5000, "charge_id": "order-1001"},
            {"amount": 3, "charge_id": "order-2002"},
        ]
    )

    assert_conflict(answer, ["charges[2].charge_id"])
    assert tables.charges() == before
    # the conflict was found by reading before any write
    assert faults.calls["BatchGetItem"] == 1
    assert faults.calls[f"PutItem:{CHARGES}"] == 1  # the first single charge's, nothing since
    assert faults.calls["BatchWriteItem"] == 0


def test_every_conflicting_charge_of_a_bulk_is_named(tables):
    assert bulk([{"amount": 1, "charge_id": "a"}, {"amount": 2, "charge_id": "b"}]).status == 200

    answer = bulk(
        [
            {"amount": 9, "charge_id": "b"},
            {"amount": 1, "charge_id": "a"},
            {"amount": 8, "charge_id": "z"},
            {"amount": 7, "charge_id": "a2"},
        ]
    )
    answer_both = bulk([{"amount": 9, "charge_id": "b"}, {"amount": 9, "charge_id": "a"}])

    assert_conflict(answer, ["charges[0].charge_id"])
    assert_conflict(answer_both, ["charges[0].charge_id", "charges[1].charge_id"])
    assert sorted(stored(tables)) == ["a", "b"]


def test_a_charge_stored_by_a_racing_request_after_the_check_is_not_overwritten(tables, faults):
    # Given another request stores "order-5" with another amount between this bulk's read and its write
    racing_item = charge_item(
        ChargeRecord(
            project_id="local",
            customer_id="u#shopper",
            charge_id=named_charge_id("local", "u#shopper", "order-5"),
            user_id="shopper",
            email=None,
            amount=777,
            created_at=1_764_057_600,
            received_ms=1_764_057_600_000,
            update_session=True,
            client_charge_id="order-5",
        )
    )

    def rival_writes_first(call):
        if call.params["Item"]["client_charge_id"]["S"] == "order-5":
            tables.client.put_item(TableName=CHARGES, Item=racing_item)
        return None  # then the bulk's own PutItem goes ahead

    faults.inject("PutItem", rival_writes_first, table=CHARGES)

    # When the bulk is sent
    answer = bulk([{"amount": 5, "charge_id": "order-5"}, {"amount": 6, "charge_id": "order-6"}, {"amount": 7}])

    # Then it is a 409 naming the charge, and the rival's charge is kept as it was written
    assert_conflict(answer, ["charges[0].charge_id"])
    assert stored(tables)["order-5"] == racing_item
    assert amounts(tables) == [6, 777]  # order-6 raced through; the charge without a name was not written after


# ---------------------------------------------------------------- within one request


def test_a_charge_id_repeated_within_a_bulk_is_a_400_naming_the_second_and_writes_nothing(tables):
    answer = bulk([{"amount": 1, "charge_id": "x"}, {"amount": 2}, {"amount": 1, "charge_id": "x"}])

    assert answer.status == 400, answer.body
    assert [error["field"] for error in answer.body["errors"]] == ["charges[2].charge_id"]
    assert "charges[0].charge_id" in answer.body["errors"][0]["message"]
    assert tables.charges() == []


@pytest.mark.parametrize(
    ("charge_id", "problem"),
    [
        ("", "printable ASCII"),
        ("x" * 256, "at most 255"),
        (" leading", "space"),
        ("trailing ", "space"),
        ("   ", "space"),
        ("tab\there", "printable ASCII"),
        ("café-1", "printable ASCII"),
        ("line\nbreak", "printable ASCII"),
        (1001, "must be a string"),
        (None, None),  # null is absent: accepted
    ],
)
def test_a_charge_id_must_be_1_to_255_printable_ascii_characters(tables, charge_id, problem):
    for answer, field in (
        (single({"amount": 1, "charge_id": charge_id}), "charge_id"),
        (bulk([{"amount": 1}, {"amount": 1, "charge_id": charge_id}]), "charges[1].charge_id"),
    ):
        if problem is None:
            assert answer.status == 200, answer.body
            continue
        assert answer.status == 400, answer.body
        [error] = answer.body["errors"]
        assert error["field"] == field
        assert problem in error["message"]
    assert len(tables.charges()) == (3 if problem is None else 0)


def test_the_longest_and_the_oddest_charge_ids_are_kept_exactly(tables):
    names = ["x" * 255, "a b", "!", "~`'\"{}[]\\/", "0"]
    answer = bulk([{"amount": n, "charge_id": name} for n, name in enumerate(names)])

    assert answer.status == 200, answer.body
    assert sorted(stored(tables)) == sorted(names)


# ---------------------------------------------------------------- with an Idempotency-Key


def test_with_an_idempotency_key_both_guarantees_hold(tables):
    # A replay of the same key and body: nothing written, Idempotent-Replayed
    first = bulk([{"amount": 1, "charge_id": "k1"}, {"amount": 2}], idempotency_key="import-1")
    replay = bulk([{"amount": 1, "charge_id": "k1"}, {"amount": 2}], idempotency_key="import-1")
    # The same named charge under another key (a day later, the key expired): not stored again
    other_key = bulk([{"amount": 1, "charge_id": "k1"}, {"amount": 3}], idempotency_key="import-2")
    # The same key with another body is still a 422
    reused = bulk([{"amount": 1, "charge_id": "k1"}], idempotency_key="import-1")

    assert [first.status, replay.status, other_key.status] == [200, 200, 200]
    assert replay.headers["idempotent-replayed"] == "true"
    assert reused.status == 422
    assert amounts(tables) == [1, 2, 3]


def test_a_409_under_an_idempotency_key_leaves_no_record_so_the_corrected_request_can_use_the_key(tables):
    assert single({"amount": 10, "charge_id": "order-8"}).status == 200

    refused = single({"amount": 11, "charge_id": "order-8"}, idempotency_key="fix-me")
    assert_conflict(refused, ["charge_id"])
    assert tables.items("IdempotencyTable") == []

    corrected = single({"amount": 10, "charge_id": "order-8"}, idempotency_key="fix-me")
    assert corrected.status == 200, corrected.body
    assert amounts(tables) == [10]


# ---------------------------------------------------------------- what it costs


def test_a_new_named_charge_is_one_conditional_put_and_a_resend_one_more(tables, faults):
    assert single({"amount": 1, "charge_id": "cost-1"}).status == 200
    assert single({"amount": 1, "charge_id": "cost-1"}).status == 200

    assert faults.calls[f"PutItem:{CHARGES}"] == 2
    assert faults.calls["GetItem:" + CHARGES] == 0
    assert faults.calls["BatchGetItem"] == 0


def test_a_named_bulk_is_read_once_per_100_then_put_charge_by_charge(tables, faults):
    charges = [{"amount": i, "charge_id": f"bulk-{i}"} for i in range(250)]

    answer = bulk(charges)
    again = bulk(charges)

    assert (answer.status, again.status) == (200, 200)
    assert len(tables.charges()) == 250
    assert faults.calls["BatchGetItem"] == 3 + 3
    assert faults.calls[f"PutItem:{CHARGES}"] == 250  # the second time, every one is found stored: no write
    assert faults.calls["BatchWriteItem"] == 0


# ---------------------------------------------------------------- what existed before


def test_a_request_without_charge_ids_is_hashed_as_before_they_existed():
    # The Idempotency-Key's record and the charge ids derived from it hash the charges as dumped: a retry
    # that spans a deploy must find the same hash (a replay, or the ids a half-done bulk already stored).
    single = CreateChargeRequest.model_validate({"user_id": "u", "amount": 5, "created_at": 1_764_057_600})
    bulk = BulkChargesRequest.model_validate({"user_id": "u", "sent_at": 1, "charges": [{"amount": 1}]})
    for charges in ([single], bulk.charges):
        command = IngestCommand(
            project_id="p",
            idempotency_key="k",
            endpoint="charges",
            received_ms=0,
            user_id="u",
            email=None,
            charges=charges,
        )
        assert [set(charge) for charge in command.model_dump(mode="json")["charges"]] == [
            {"amount", "created_at", "update_session"}
        ]
    named = CreateChargeRequest.model_validate({"user_id": "u", "amount": 5, "charge_id": "c-1"})
    assert named.model_dump()["charge_id"] == "c-1"
