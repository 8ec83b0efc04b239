"""The stream handler in process, on events/summarize_charges.json and built batches, against moto tables."""

from typing import Any

import pytest

from beacon.dal import aws
from beacon.dal.items import charge_from_item, charge_item
from beacon.dal.summaries import SummariesRepository
from beacon.errors import StorageUnavailableError
from beacon.logic.fold import summarize
from beacon.models.records import ChargeRecord
from beacon.services import summarize_batch as summaries_module
from beacon.services.summarize_batch import SummaryConflictError, process_stream_records, summarize_customer
from functions.summarize_charges.app import lambda_handler
from tests.builders import FakeLambdaContext, load_event
from tests.stream_builders import (
    T0,
    charge,
    charge_records,
    expected_summaries,
    put_charges,
    stored_summaries,
    stream_event,
    stream_record,
)

NO_FAILURES: dict[str, Any] = {"batchItemFailures": []}


def handle(event: dict[str, Any]) -> dict[str, Any]:
    return lambda_handler(event, FakeLambdaContext())


def charges_of_event(event: dict[str, Any]) -> list[ChargeRecord]:
    return [
        charge_from_item(record["dynamodb"]["NewImage"])
        for record in event["Records"]
        if record["eventName"] == "INSERT"
    ]


def summaries_of(tables) -> dict:
    return stored_summaries(tables.client, tables.names["SummariesTable"])


def marked(tables) -> dict[str, bool]:
    return {item["charge_id"]["S"]: "summarized_at" in item for item in tables.charges()}


def test_the_ready_event_summarizes_each_customer_once_and_marks_every_charge(tables):
    # Given the charges of events/summarize_charges.json stored as the write path stores them
    event = load_event("summarize_charges.json")
    charges = charges_of_event(event)
    put_charges(tables.client, tables.names["ChargesTable"], charges)

    # When the stream batch (3 charge inserts of 2 customers and one MODIFY) is handled
    response = handle(event)

    # Then nothing failed, each customer's summary was written once (version 1) and matches its charges
    assert response == NO_FAILURES
    stored = summaries_of(tables)
    assert set(stored) == {("local", "u#user_42"), ("local", "e#grace@example.com")}
    assert {key: s.version for key, s in stored.items()} == dict.fromkeys(stored, 1)
    assert {key: s.summary for key, s in stored.items()} == expected_summaries(charges)
    ada = stored[("local", "u#user_42")].summary
    assert (ada.charges.count, ada.charges.total, ada.charges.last_amount) == (2, 6499, 1500)
    assert (ada.sessions.count, ada.sessions.first_seen_at, ada.sessions.last_seen_at) == (1, 1764057600, 1764057900)
    assert (ada.user_id, ada.email) == ("user_42", "ada@example.com")
    grace = stored[("local", "e#grace@example.com")].summary
    assert (grace.charges.count, grace.sessions.count, grace.sessions.first_seen_at) == (1, 0, None)
    assert all(marked(tables).values())


def test_the_same_batch_delivered_again_counts_nothing_twice(tables):
    event = load_event("summarize_charges.json")
    put_charges(tables.client, tables.names["ChargesTable"], charges_of_event(event))
    assert handle(event) == NO_FAILURES
    first = summaries_of(tables)

    assert handle(event) == NO_FAILURES

    again = summaries_of(tables)
    assert {k: (s.summary, s.version) for k, s in again.items()} == {
        k: (s.summary, s.version) for k, s in first.items()
    }


def test_records_other_than_charge_inserts_are_ignored(tables):
    # Given a charge that exists, and records the filter should have stopped: MODIFY, REMOVE, another item type
    stored = charge("u1")
    put_charges(tables.client, tables.names["ChargesTable"], [stored])
    other_item = {"PK": {"S": "P#local#X"}, "SK": {"S": "OTHER#1"}, "type": {"S": "note"}}
    event = stream_event(
        [
            stream_record(charge_item(stored), event_name="MODIFY"),
            stream_record(charge_item(stored), event_name="REMOVE"),
            stream_record(other_item),
        ]
    )

    assert handle(event) == NO_FAILURES
    assert summaries_of(tables) == {}
    assert marked(tables) == {stored.charge_id: False}


def test_the_latest_email_is_kept_and_charges_without_session_leave_sessions_alone(tables):
    charges = [
        charge("u1", received_at=T0, email="old@example.com"),
        charge("u1", received_at=T0 + 60, email="new@example.com"),
        charge("u1", received_at=T0 + 99_999, update_session=False),
    ]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    assert handle(stream_event(charge_records(charges))) == NO_FAILURES
    summary = summaries_of(tables)[("local", "u#u1")].summary
    assert summary.email == "new@example.com"
    assert (summary.sessions.count, summary.sessions.last_seen_at) == (1, T0 + 60)
    assert summary.charges.count == 3


def test_more_than_99_charges_of_one_customer_are_written_in_several_transactions(tables):
    charges = [charge("bulk", amount=i, received_at=T0 + i) for i in range(250)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)

    assert handle(stream_event(charge_records(charges))) == NO_FAILURES

    stored = summaries_of(tables)[("local", "u#bulk")]
    assert stored.summary == summarize(charges, session_timeout=1800)
    assert (stored.summary.charges.count, stored.summary.charges.total) == (250, sum(range(250)))
    assert stored.version == 3  # 99 + 99 + 52
    assert all(marked(tables).values())


def test_a_customer_that_cannot_be_written_is_reported_and_a_retry_from_there_completes(tables, monkeypatch):
    # Given a batch of two customers where every write of "broken" fails
    good = [charge("good", amount=5), charge("good", amount=7)]
    broken = [charge("broken", amount=11), charge("broken", amount=13)]
    put_charges(tables.client, tables.names["ChargesTable"], good + broken)
    records = charge_records([good[0], broken[0], good[1], broken[1]])
    real_commit = SummariesRepository.commit

    def failing_commit(self, summary, **kwargs):
        if summary.customer_id == "u#broken":
            raise StorageUnavailableError("injected")
        return real_commit(self, summary, **kwargs)

    monkeypatch.setattr(SummariesRepository, "commit", failing_commit)
    monkeypatch.setattr(aws, "backoff_delay", lambda attempt: 0.0)

    # When the batch is handled
    response = handle(stream_event(records))

    # Then exactly the broken customer's records are reported (as sequence-number strings) and "good" is written
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]},
            {"itemIdentifier": records[3]["dynamodb"]["SequenceNumber"]},
        ]
    }
    assert set(summaries_of(tables)) == {("local", "u#good")}

    # When Lambda retries from the lowest reported record (the records after it come again) and storage is back
    monkeypatch.setattr(SummariesRepository, "commit", real_commit)
    assert handle(stream_event(records[1:])) == NO_FAILURES

    # Then both summaries equal their charges: good[1], delivered twice, counted once
    assert {k: s.summary for k, s in summaries_of(tables).items()} == expected_summaries(good + broken)


def test_an_unreadable_charge_record_is_reported_not_dropped(tables):
    item = charge_item(charge("u1"))
    del item["amount"]
    record = stream_record(item)
    assert handle(stream_event([record])) == {
        "batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]
    }


def test_when_the_summaries_cannot_be_read_every_record_is_reported(tables, monkeypatch):
    charges = [charge("a"), charge("b")]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges)

    def unavailable(self, customers):
        raise StorageUnavailableError("injected")

    monkeypatch.setattr(SummariesRepository, "get_many", unavailable)
    response = handle(stream_event(records))
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [
        r["dynamodb"]["SequenceNumber"] for r in records
    ]
    assert summaries_of(tables) == {}


def test_a_summary_written_by_someone_else_meanwhile_is_re_read_and_nothing_is_lost(tables):
    # Given a summary read as "absent" while another invocation has written it since
    repository = SummariesRepository(tables.names["SummariesTable"], tables.names["ChargesTable"], client=tables.client)
    first, second = charge("u1", amount=100), charge("u1", amount=200)
    put_charges(tables.client, tables.names["ChargesTable"], [first, second])
    assert process_stream_records([_record(first)], summaries=repository).customers_updated == 1

    # When the stale reader folds the second charge on top of nothing
    applied, duplicates = summarize_customer(
        repository, ("local", "u#u1"), [first, second], None, session_timeout=1800, sleep=lambda _s: None
    )

    # Then the version check sent it back to re-read; the first charge is recognised as already counted
    assert (applied, duplicates) == (1, 1)
    stored = summaries_of(tables)[("local", "u#u1")]
    assert (stored.summary.charges.count, stored.summary.charges.total, stored.version) == (2, 300, 2)


def test_a_summary_that_stays_contended_fails_after_bounded_attempts(tables, monkeypatch):
    repository = SummariesRepository(tables.names["SummariesTable"], tables.names["ChargesTable"], client=tables.client)
    stored_charge = charge("u1")
    put_charges(tables.client, tables.names["ChargesTable"], [stored_charge])
    sleeps: list[float] = []

    def always_conflicting(self, summary, **kwargs):
        from beacon.dal.summaries import CommitResult

        return CommitResult(committed=False, version_conflict=True)

    monkeypatch.setattr(SummariesRepository, "commit", always_conflicting)
    with pytest.raises(SummaryConflictError):
        summarize_customer(
            repository, ("local", "u#u1"), [stored_charge], None, session_timeout=1800, sleep=sleeps.append
        )
    assert len(sleeps) == summaries_module.MAX_COMMIT_ATTEMPTS - 1
    assert marked(tables) == {stored_charge.charge_id: False}


def _record(c: ChargeRecord):
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    return DynamoDBRecord(stream_record(charge_item(c)))


def test_customers_left_when_time_runs_out_are_reported_for_a_retry_not_lost(tables):
    # Given a batch of three customers and an invocation with 12 s left, then 3 s after the first write
    charges = [charge("first"), charge("second"), charge("third")]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges)
    context = FakeLambdaContext(remaining_millis=12_000)
    real_commit = SummariesRepository.commit

    def commit_and_tick(self, summary, **kwargs):
        result = real_commit(self, summary, **kwargs)
        context.remaining_millis = 3_000
        return result

    # When it is handled
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SummariesRepository, "commit", commit_and_tick)
        response = lambda_handler(stream_event(records), context)

    # Then the first customer is written and the two others are reported, in sequence order
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [
        r["dynamodb"]["SequenceNumber"] for r in records[1:]
    ]
    assert set(summaries_of(tables)) == {("local", "u#first")}
    # And the retry from there completes the batch
    assert handle(stream_event(records[1:])) == NO_FAILURES
    assert {k: s.summary for k, s in summaries_of(tables).items()} == expected_summaries(charges)
