"""DELETE /customers in process: the customer reads 404 at once, the jobs function deletes every item of
theirs, and nothing the stream still delivers (a late record, a retried batch, a replay, a recompute)
brings them back; a charge received afterwards starts a new customer."""

import json
import time
from typing import Any

import pytest

from beacon.dal.identity_hash import IdentityHasher
from beacon.dal.item_keys import charge_pk, erasures_pk, registry_pk, registry_shard
from beacon.dal.summary_items import summary_key
from beacon.logic.api_keys import hash_key, key_id_of
from beacon.models.jobs import CustomerJob
from beacon.models.records import ChargeRecord
from beacon.services.erase_customer import STREAM_RETENTION_SECONDS, TOMBSTONE_MARGIN_SECONDS
from beacon.settings import get_settings
from functions.customer_jobs.app import lambda_handler as jobs_handler
from functions.erase_customer.app import lambda_handler
from functions.get_summary.app import lambda_handler as get_summary_handler
from functions.summarize_charges.app import lambda_handler as summarize_handler
from ops.main import main
from tests.builders import FakeLambdaContext, call, http_event
from tests.conftest import OTHER_PROJECT_SECRET_KEY, PROJECT, PUBLIC_KEY, SECRET_KEY, JobsQueue
from tests.stream_builders import charge, charge_records, put_charges, stream_event

USER = "user_42"
CUSTOMER = f"u#{USER}"
MANY = 60  # more charges than a summary item keeps the ids of: the rest go to seen items


def erase(query: dict[str, str] | None = None, key: str | None = SECRET_KEY) -> Any:
    headers = {"authorization": f"Bearer {key}" if key else None}
    return call(lambda_handler, http_event("erase_customer.json", headers=headers, query=query or {"user_id": USER}))


def read(query: dict[str, str] | None = None) -> Any:
    return call(get_summary_handler, http_event("get_summary.json", query=query or {"user_id": USER}))


def deliver(charges: list[ChargeRecord]) -> None:
    """The stream's records of ``charges`` through the stream function, every one of them taken."""
    answer = summarize_handler(stream_event(charge_records(charges)), FakeLambdaContext())
    assert answer == {"batchItemFailures": []}


def charged(tables, count: int = MANY, *, start: int = 1_764_057_600, **fields: Any) -> list[ChargeRecord]:
    """``count`` charges of user_42, a second apart from ``start``, stored and summarized."""
    charges = [charge(USER, project=PROJECT, created_at=start + i, **fields) for i in range(count)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    deliver(charges)
    return charges


def run_jobs(queue: JobsQueue) -> list[CustomerJob]:
    """Every job waiting in the queue, through the jobs function."""
    messages = queue.messages()
    context = FakeLambdaContext(remaining_millis=900_000)
    assert jobs_handler({"Records": [queue.as_record(m) for m in messages]}, context) == {"batchItemFailures": []}
    return [CustomerJob.model_validate_json(m["Body"]) for m in messages]


def items_of(tables, customer: str = CUSTOMER) -> dict[str, list[dict[str, Any]]]:
    """Every item, in every table, that belongs to the customer or names it, by table."""
    found: dict[str, list[dict[str, Any]]] = {}
    for logical_id, name in tables.names.items():
        items = [i for page in tables.client.get_paginator("scan").paginate(TableName=name) for i in page["Items"]]
        mine = [i for i in items if customer in json.dumps(i, default=repr) or USER in json.dumps(i, default=repr)]
        if mine:
            found[logical_id] = mine
    return found


def summary_of(tables, customer: str = CUSTOMER) -> dict[str, Any] | None:
    key = summary_key(PROJECT, customer)
    return tables.client.get_item(TableName=tables.names["SummariesTable"], Key=key, ConsistentRead=True).get("Item")


def erasure_records(tables) -> list[dict[str, Any]]:
    answer = tables.client.query(
        TableName=tables.names["SummariesTable"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": erasures_pk(PROJECT)}},
    )
    return answer["Items"]


@pytest.fixture
def customer(tables, erasure_key) -> list[ChargeRecord]:
    """user_42 with MANY charges, a summary, seen items and a registry entry."""
    charges = charged(tables)
    assert read().status == 200
    assert {i["type"]["S"] for i in items_of(tables)["SummariesTable"]} == {"summary", "seen", "customer"}
    return charges


def test_an_erased_customer_is_202_and_reads_404_at_once(tables, customer):
    answer = erase()
    assert (answer.status, answer.body) == (202, {"success": True, "code": 202, "data": None})
    answer = read()
    assert answer.status == 404
    assert [e["field"] for e in answer.body["errors"]] == ["user_id"]


def test_the_erase_job_deletes_every_item_of_the_customer_but_the_tombstone(tables, customer, jobs_queue):
    erase()
    [job] = run_jobs(jobs_queue)
    assert (job.kind, job.customer_id, job.final) == ("erase", CUSTOMER, False)

    left = items_of(tables)
    assert list(left) == ["SummariesTable"]  # no charge, no seen item, no registry entry
    [tombstone] = left["SummariesTable"]
    assert tombstone["charge_count"] == {"N": "0"}
    assert "email" not in tombstone and "user_id" not in tombstone  # nothing of the customer but its key
    # The tombstone expires once no record of an erased charge can still come (DynamoDB's TTL).
    erased_at = int(tombstone["erased_before"]["N"]) // 1000
    kept = max(STREAM_RETENTION_SECONDS, get_settings().stream_max_record_age_seconds) + TOMBSTONE_MARGIN_SECONDS
    assert int(tombstone["expiration"]["N"]) == erased_at + kept + 300
    assert abs(erased_at - time.time()) < 60


def test_the_final_pass_comes_once_every_charge_received_before_could_be_written(tables, customer, jobs_queue):
    erase()
    run_jobs(jobs_queue)
    attributes = jobs_queue.client.get_queue_attributes(
        QueueUrl=jobs_queue.url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"  # the final pass, five minutes later
    # A write of the customer that the API received before the erasure and that lands after the first pass
    [straggler] = [charge(USER, project=PROJECT)]
    put_charges(tables.client, tables.names["ChargesTable"], [straggler])
    [record] = erasure_records(tables)
    assert "completed_at" not in record

    final = CustomerJob(kind="erase", project_id=PROJECT, customer_id=CUSTOMER, final=True, erased_before=0)
    final = final.model_copy(update={"erased_before": int(summary_of(tables)["erased_before"]["N"])})
    message = {"MessageId": "final", "ReceiptHandle": "final", "Body": final.model_dump_json()}
    answer = jobs_handler({"Records": [jobs_queue.as_record(message)]}, FakeLambdaContext(remaining_millis=900_000))
    assert answer == {"batchItemFailures": []}

    assert list(items_of(tables)) == ["SummariesTable"]  # the straggler is gone too
    [record] = erasure_records(tables)
    assert abs(int(record["completed_at"]["N"]) - time.time()) < 60


def test_the_erasure_record_keeps_a_keyed_hash_of_the_identity_and_never_the_identity(tables, customer, erasure_key):
    erase()
    [record] = erasure_records(tables)
    assert USER not in json.dumps(record) and CUSTOMER not in json.dumps(record)
    # Whoever may use the key shows that this identity was erased; without it the hash says nothing.
    assert record["SK"]["S"] == IdentityHasher(erasure_key).hash(PROJECT, CUSTOMER)
    assert record["key_id"] == {"S": key_id_of(hash_key(SECRET_KEY))}  # which key asked
    assert abs(int(record["erased_at"]["N"]) - time.time()) < 60


def test_erasing_again_or_a_customer_that_does_not_exist_is_202_and_one_record_each(tables, customer, jobs_queue):
    assert erase().status == 202
    assert erase().status == 202
    assert erase({"email": "nobody@example.com"}).status == 202
    assert len(erasure_records(tables)) == 2
    assert [job.kind for job in run_jobs(jobs_queue)] == ["erase"] * 3
    assert list(items_of(tables)) == ["SummariesTable"]
    assert read({"email": "nobody@example.com"}).status == 404


@pytest.mark.parametrize(("key", "status", "field"), [(PUBLIC_KEY, 403, "api_key"), (None, 401, "api_key")])
def test_only_a_secret_key_erases(tables, customer, jobs_queue, key, status, field):
    answer = erase(key=key)
    assert answer.status == status
    assert [e["field"] for e in answer.body["errors"]] == [field]
    assert read().status == 200
    assert jobs_queue.messages() == [] and erasure_records(tables) == []


def test_an_other_projects_key_erases_its_own_customer_of_that_name_not_this_one(tables, customer, jobs_queue):
    assert erase(key=OTHER_PROJECT_SECRET_KEY).status == 202
    run_jobs(jobs_queue)
    assert read().status == 200
    assert (
        len(
            tables.client.query(
                TableName=tables.names["ChargesTable"],
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": charge_pk(PROJECT, CUSTOMER)}},
            )["Items"]
        )
        == MANY
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "user_id"),
        ({"user_id": USER, "email": "ada@example.com"}, "user_id"),
        ({"email": "nope"}, "email"),
        ({"user_id": USER, "project": "elsewhere"}, "project"),
    ],
    ids=["neither", "both", "bad-email", "unknown-parameter"],
)
def test_a_bad_query_is_400_naming_the_field_and_erases_nothing(tables, customer, jobs_queue, query, field):
    answer = call(lambda_handler, http_event("erase_customer.json", query=query))
    assert answer.status == 400
    assert field in {e["field"] for e in answer.body["errors"]}
    assert read().status == 200
    assert jobs_queue.messages() == [] and erasure_records(tables) == []


def test_records_of_erased_charges_still_in_the_stream_bring_nothing_back(tables, customer, jobs_queue):
    erase()
    run_jobs(jobs_queue)
    # A late record, a retried batch, a replay of the failure queue: records of charges received before.
    late = [charge(USER, project=PROJECT, created_at=1_764_100_000)]
    deliver(late)
    deliver(customer[:10])
    assert read().status == 404
    assert list(items_of(tables)) == ["SummariesTable"]
    [tombstone] = items_of(tables)["SummariesTable"]
    assert tombstone["charge_count"] == {"N": "0"}


def test_a_recompute_of_an_erased_customer_counts_nothing_even_before_its_charges_are_deleted(
    tables, customer, jobs_queue
):
    erase()
    jobs_queue.messages()  # the erase job is not run: the charges are still stored
    job = CustomerJob(kind="recompute", project_id=PROJECT, customer_id=CUSTOMER)
    message = {"MessageId": "recompute", "ReceiptHandle": "recompute", "Body": job.model_dump_json()}
    answer = jobs_handler({"Records": [jobs_queue.as_record(message)]}, FakeLambdaContext(remaining_millis=900_000))
    assert answer == {"batchItemFailures": []}
    assert read().status == 404
    assert summary_of(tables)["charge_count"] == {"N": "0"}


def test_a_charge_received_after_the_erasure_starts_a_new_customer(tables, customer, jobs_queue):
    erase()
    run_jobs(jobs_queue)
    later = int(time.time()) + 5
    charged(tables, count=1, start=later, amount=700)
    answer = read()
    assert answer.status == 200
    assert answer.body["data"]["charges"] == {
        "count": 1,
        "total": 700,
        "first_at": later,
        "last_at": later,
        "last_amount": 700,
    }
    stored = summary_of(tables)
    assert "expiration" not in stored  # a live summary never expires
    registry = tables.client.query(
        TableName=tables.names["SummariesTable"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": registry_pk(PROJECT, registry_shard(CUSTOMER))}},
    )["Items"]
    assert [i["customer_id"]["S"] for i in registry] == [CUSTOMER]  # registered again
    # The final pass of the erasure leaves the new customer whole.
    final = CustomerJob(
        kind="erase",
        project_id=PROJECT,
        customer_id=CUSTOMER,
        final=True,
        erased_before=int(stored["erased_before"]["N"]),
    )
    message = {"MessageId": "final", "ReceiptHandle": "final", "Body": final.model_dump_json()}
    jobs_handler({"Records": [jobs_queue.as_record(message)]}, FakeLambdaContext(remaining_millis=900_000))
    assert read().body["data"]["charges"]["count"] == 1
    assert (
        len(
            tables.client.query(
                TableName=tables.names["SummariesTable"],
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": registry_pk(PROJECT, registry_shard(CUSTOMER))}},
            )["Items"]
        )
        == 1
    )


def test_a_customer_with_more_charges_than_one_pass_can_delete_is_erased_over_several(tables, customer, jobs_queue):
    erase()
    [message] = jobs_queue.messages()
    # An invocation with less than the pass's margin left stops after its first page and queues the job again.
    answer = jobs_handler({"Records": [jobs_queue.as_record(message)]}, FakeLambdaContext(remaining_millis=30_000))
    assert answer == {"batchItemFailures": []}
    [again] = jobs_queue.messages()
    assert CustomerJob.model_validate_json(again["Body"]).final is False
    jobs_handler({"Records": [jobs_queue.as_record(again)]}, FakeLambdaContext(remaining_millis=900_000))
    assert list(items_of(tables)) == ["SummariesTable"]


def test_idempotency_records_hold_no_identity_so_an_erasure_leaves_them(tables, erasure_key):
    from functions.create_charge.app import lambda_handler as create_handler

    body = {"user_id": USER, "email": "ada@example.com", "amount": 100, "created_at": 1_764_057_600}
    answer = call(create_handler, http_event("create_charge.json", body=body, headers={"idempotency-key": "k-1"}))
    assert answer.status == 200, answer.body
    idempotency = tables.client.scan(TableName=tables.names["IdempotencyTable"])["Items"]
    assert idempotency and all(USER not in json.dumps(i) and "ada@" not in json.dumps(i) for i in idempotency)


def test_the_operators_command_erases_as_the_api_does(tables, customer, jobs_queue, capsys):
    status = main(["customers", "erase", "--project", PROJECT, "--user-id", USER])

    assert status == 0
    assert json.loads(capsys.readouterr().out)["erased"] is True
    assert read().status == 404
    [record] = erasure_records(tables)
    assert record["key_id"] == {"S": "operator"}
    assert [job.kind for job in run_jobs(jobs_queue)] == ["erase"]
    assert list(items_of(tables)) == ["SummariesTable"]  # the tombstone


def test_the_operators_command_with_now_deletes_at_once_and_says_how_much(tables, customer, jobs_queue, capsys):
    status = main(["customers", "erase", "--project", PROJECT, "--user-id", USER, "--now"])

    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["charges_deleted"] == MANY and printed["other_items_deleted"] >= 2  # seen items, registry entry
    assert list(items_of(tables)) == ["SummariesTable"]
    assert [i["type"]["S"] for i in items_of(tables)["SummariesTable"]] == ["summary"]
    assert read().status == 404
