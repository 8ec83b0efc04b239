"""The stream handler in process, on events/summarize_charges.json and built batches, against moto tables.

Exactly once without a marker per charge (beacon/logic/seen.py): each summary keeps a window of the
charge ids it counted, and each batch makes one conditional write per customer. The tests check
what is stored (summaries, seen items, untouched charge items), the handler's partial batch
response, and the DynamoDB calls the handler makes (counted on its client by tests/faults.py).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from beacon.dal import aws
from beacon.dal.item_keys import seen_pk
from beacon.dal.items import charge_from_item, charge_item, summary_from_item, summary_item, summary_key
from beacon.logic import seen
from beacon.logic.fold import summarize
from beacon.models.records import ChargeRecord
from beacon.models.summary import StoredSummary
from beacon.services import summarize_batch
from functions.summarize_charges.app import lambda_handler
from tests.builders import FakeLambdaContext, load_event
from tests.faults import THROTTLED, Call, DynamoDBFaults, aws_error, install
from tests.stream_builders import (
    T0,
    charge,
    charge_records,
    expected_summaries,
    put_charges,
    stored_seen_ids,
    stored_summaries,
    stream_event,
    stream_record,
)

NO_FAILURES: dict[str, Any] = {"batchItemFailures": []}


@pytest.fixture
def faults(tables) -> DynamoDBFaults:
    """The handler's DynamoDB client, counted (and faulted when a test says so)."""
    return install(tables.client)


def handle(event: dict[str, Any], context: FakeLambdaContext | None = None) -> dict[str, Any]:
    return lambda_handler(event, context or FakeLambdaContext())


def charges_of_event(event: dict[str, Any]) -> list[ChargeRecord]:
    return [
        charge_from_item(record["dynamodb"]["NewImage"])
        for record in event["Records"]
        if record["eventName"] == "INSERT"
    ]


def summaries_of(tables) -> dict[tuple[str, str], StoredSummary]:
    return stored_summaries(tables.client, tables.names["SummariesTable"])


def summary_raw_item(tables, project: str, customer: str) -> dict[str, Any]:
    return tables.client.get_item(TableName=tables.names["SummariesTable"], Key=summary_key(project, customer))["Item"]


def charge_items(tables) -> dict[str, dict[str, Any]]:
    return {item["charge_id"]["S"]: item for item in tables.charges()}


def writes(faults: DynamoDBFaults) -> tuple[int, int]:
    """(PutItem, TransactWriteItems) calls of the handler so far."""
    return faults.calls["PutItem"], faults.calls["TransactWriteItems"]


def sequences(records: list[dict[str, Any]]) -> list[str]:
    return [record["dynamodb"]["SequenceNumber"] for record in records]


def failures(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it (names + values; numbers about one byte per two digits)."""

    def value_size(value: dict[str, Any]) -> int:
        [(kind, inner)] = value.items()
        if kind == "S":
            return len(inner.encode())
        if kind == "B":
            return len(inner)
        if kind == "N":
            return len(inner) // 2 + 2
        if kind == "NS":
            return sum(len(n) // 2 + 2 for n in inner)
        if kind == "BOOL":
            return 1
        if kind == "L":
            return 3 + sum(1 + value_size(v) for v in inner)
        if kind == "M":
            return 3 + sum(len(k.encode()) + 1 + value_size(v) for k, v in inner.items())
        raise AssertionError(f"unexpected attribute type {kind}")

    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


@contextmanager
def responses_lost(operation: str, *, times: int = 1) -> Iterator[list[str]]:
    """The first ``times`` calls of ``operation`` are carried out by DynamoDB, then time out on the way back."""
    lost: list[str] = []

    def after_call(**_: Any) -> None:
        if len(lost) < times:
            lost.append(operation)
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    events = aws.dynamodb_client().meta.events
    events.register(f"after-call.dynamodb.{operation}", after_call)
    try:
        yield lost
    finally:
        events.unregister(f"after-call.dynamodb.{operation}", after_call)


def only_for(customer_id: str, fault: Callable[[Call], Any], calls: list[str]) -> Callable[[Call], Any]:
    """``fault`` for the writes of one customer's summary; others go through. ``calls`` counts the faulted ones."""

    def faulted(call: Call) -> Any:
        put = call.params if "Item" in call.params else call.params["TransactItems"][0]["Put"]
        if put["Item"]["customer_id"]["S"] != customer_id:
            return None
        calls.append(customer_id)
        return fault(call)

    return faulted


# ---------------------------------------------------------------- one write per customer per batch


def test_the_ready_event_writes_each_customer_once_and_leaves_the_charges_as_they_are(tables, faults):
    # Given the charges of events/summarize_charges.json stored as the write path stores them
    event = load_event("summarize_charges.json")
    charges = charges_of_event(event)
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    before = charge_items(tables)

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
    # a historical import only: no session, no Last Seen, but First Seen (when the customer was first added)
    assert (grace.charges.count, grace.sessions.count) == (1, 0)
    assert (grace.sessions.first_seen_at, grace.sessions.last_seen_at) == (1764058000, None)
    # And each summary's window holds exactly the ids it counted; the charge items were not touched
    for key, summary in stored.items():
        counted = {c.charge_id for c in charges if (c.project_id, c.customer_id) == key}
        assert set().union(*summary.seen.buckets.values()) == counted
    assert charge_items(tables) == before
    # With one PutItem per customer: no transaction, no write to the charges table
    assert writes(faults) == (2, 0)
    assert faults.calls[f"PutItem:{tables.names['ChargesTable']}"] == 0


def test_a_normal_batch_is_one_read_and_one_put_per_customer(tables, faults):
    # Given a batch of 6 charges of three customers, interleaved
    charges = [charge("a"), charge("b"), charge("a"), charge("c"), charge("c"), charge("c")]
    put_charges(tables.client, tables.names["ChargesTable"], charges)

    assert handle(stream_event(charge_records(charges))) == NO_FAILURES

    # Then the summaries were read in one BatchGetItem and written with three PutItems, no transaction
    assert (faults.calls["BatchGetItem"], *writes(faults)) == (1, 3, 0)
    assert {k: s.summary for k, s in summaries_of(tables).items()} == expected_summaries(charges)


def test_a_batch_delivered_again_whole_writes_nothing(tables, faults):
    event = load_event("summarize_charges.json")
    put_charges(tables.client, tables.names["ChargesTable"], charges_of_event(event))
    assert handle(event) == NO_FAILURES
    first = summaries_of(tables)
    written = writes(faults)

    # When the same batch comes again (the invocation timed out after it had written)
    assert handle(event) == NO_FAILURES

    # Then it was read, found counted, and nothing was written
    assert writes(faults) == written
    assert summaries_of(tables) == first


def test_a_duplicate_record_counts_once_in_the_same_batch_and_in_a_later_one(tables, faults):
    a, b, c = charge("dup", amount=1), charge("dup", amount=10), charge("dup", amount=100)
    put_charges(tables.client, tables.names["ChargesTable"], [a, b, c])
    [record_a, record_b, record_c] = charge_records([a, b, c])

    # When a's record comes twice in one batch, then again in the next one beside c's
    assert handle(stream_event([record_a, record_b, record_a])) == NO_FAILURES
    assert handle(stream_event([record_a, record_c])) == NO_FAILURES

    # Then every charge counts once, in two writes
    stored = summaries_of(tables)[("local", "u#dup")]
    assert (stored.summary.charges.count, stored.summary.charges.total) == (3, 111)
    assert stored.summary == summarize([a, b, c], session_timeout=1800)
    assert (stored.version, writes(faults)) == (2, (2, 0))


def test_records_other_than_charge_inserts_are_ignored(tables, faults):
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
    assert writes(faults) == (0, 0)
    assert charge_items(tables) == {stored.charge_id: charge_item(stored)}


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


# ---------------------------------------------------------------- heavy customers


def test_a_heavy_customer_keeps_a_small_summary_item_and_its_redelivered_records_count_nothing(tables, faults):
    # Given 1,000 charges of one customer over 17 minutes, delivered in batches of 200
    charges = [charge("heavy", amount=i, received_at=T0 + i) for i in range(1_000)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    batches = [charges[i : i + 200] for i in range(0, 1_000, 200)]
    records = [charge_records(batch, created_at=batch[-1].received_at + 1) for batch in batches]

    for batch in records:
        assert handle(stream_event(batch)) == NO_FAILURES

    # Then the summary counts them all, one write per batch
    stored = summaries_of(tables)[("local", "u#heavy")]
    assert stored.summary == summarize(charges, session_timeout=1800)
    assert (stored.summary.charges.count, stored.version, sum(writes(faults))) == (1_000, 5, 5)
    # And the summary item stays small: the ids past INLINE_MAX_IDS are in seen items beside it
    assert stored.seen.inline_ids <= seen.INLINE_MAX_IDS
    assert item_size(summary_raw_item(tables, "local", "u#heavy")) < 2_000
    in_seen_items = stored_seen_ids(tables.client, tables.names["SummariesTable"])[seen_pk("local", "u#heavy")]
    assert in_seen_items | set().union(*stored.seen.buckets.values()) == {c.charge_id for c in charges}

    # When every batch is delivered again, and a batch of records taken across them
    for batch in [*records, [batch[7] for batch in records]]:
        assert handle(stream_event(batch)) == NO_FAILURES

    # Then the seen items recognised them: nothing was written and nothing counted twice
    assert sum(writes(faults)) == 5
    assert summaries_of(tables)[("local", "u#heavy")] == stored


def test_a_batch_spanning_more_minutes_than_one_write_holds_counts_each_charge_once(tables):
    # Given one customer's charges received over 250 distinct minutes, delivered late in one batch
    charges = [charge("spread", amount=i, received_at=T0 + 60 * i) for i in range(250)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges, created_at=charges[-1].received_at + 1)

    assert handle(stream_event(records)) == NO_FAILURES
    assert summaries_of(tables)[("local", "u#spread")].summary == summarize(charges, session_timeout=1800)

    # And delivered again, nothing counts twice (the oldest are past the window: recomputed, not folded)
    assert handle(stream_event(records)) == NO_FAILURES
    stored = summaries_of(tables)[("local", "u#spread")].summary
    assert (stored, stored.charges.count) == (summarize(charges, session_timeout=1800), 250)


# ---------------------------------------------------------------- records the window cannot decide


def test_a_record_older_than_the_window_makes_the_summary_recomputed_from_the_stored_charges(tables):
    # Given a charge counted at T0, and a second one stored whose record never came (lost to the failure queue)
    counted, lost = charge("old", amount=100, received_at=T0), charge("old", amount=7, received_at=T0 + 5)
    later = charge("old", amount=20, received_at=T0 + 10_000)
    put_charges(tables.client, tables.names["ChargesTable"], [counted, lost, later])
    assert handle(stream_event(charge_records([counted], created_at=T0 + 1))) == NO_FAILURES
    # and a record created hours later, which moves the window past T0's minute
    assert handle(stream_event(charge_records([later], created_at=T0 + 10_001))) == NO_FAILURES
    window = summaries_of(tables)[("local", "u#old")].seen
    assert seen.expired(seen.bucket_of(T0), window.since)

    # When the first charge's record is delivered again (a replay of an old batch)
    assert handle(stream_event(charge_records([counted], created_at=T0 + 1))) == NO_FAILURES

    # Then it is not folded in a second time: the summary is recomputed from the stored charges, the
    # lost charge included, and the window keeps the recent ones
    stored = summaries_of(tables)[("local", "u#old")]
    assert stored.summary == summarize([counted, lost, later], session_timeout=1800)
    assert (stored.summary.charges.count, stored.summary.charges.total, stored.version) == (3, 127, 3)
    assert later.charge_id in stored.seen.buckets[seen.bucket_of(later.received_at)]


def test_a_summary_of_the_old_layout_is_recomputed_on_its_first_record_and_then_has_a_window(tables, faults):
    # Given two charges counted by the old design (charge items with summarized_at markers, a summary without window)
    a, b = charge("legacy", amount=5, received_at=T0), charge("legacy", amount=6, received_at=T0 + 30)
    put_charges(tables.client, tables.names["ChargesTable"], [a, b])
    for c in (a, b):
        tables.client.update_item(
            TableName=tables.names["ChargesTable"],
            Key={"PK": charge_item(c)["PK"], "SK": charge_item(c)["SK"]},
            UpdateExpression="SET summarized_at = :at",
            ExpressionAttributeValues={":at": {"N": str(T0 + 40)}},
        )
    old = summary_item(StoredSummary("local", "u#legacy", summarize([a, b], session_timeout=1800), 2), updated_at=T0)
    for name in ("seen_since", "seen", "seen_overflow"):
        old.pop(name, None)
    tables.client.put_item(TableName=tables.names["SummariesTable"], Item=old)
    assert summary_from_item(old).seen.since is None

    # When the record of a new charge arrives
    c = charge("legacy", amount=7, received_at=T0 + 60)
    put_charges(tables.client, tables.names["ChargesTable"], [c])
    assert handle(stream_event(charge_records([c], created_at=T0 + 61))) == NO_FAILURES

    # Then the summary is recomputed from the three stored charges and now has a window holding them
    stored = summaries_of(tables)[("local", "u#legacy")]
    assert stored.summary == summarize([a, b, c], session_timeout=1800)
    assert (stored.summary.charges.total, stored.version) == (18, 3)
    assert "seen_since" in summary_raw_item(tables, "local", "u#legacy")
    assert set().union(*stored.seen.buckets.values()) == {a.charge_id, b.charge_id, c.charge_id}

    # And a record of an old charge delivered again is a duplicate: no write
    written = writes(faults)
    assert handle(stream_event(charge_records([a], created_at=T0 + 1))) == NO_FAILURES
    assert writes(faults) == written
    assert summaries_of(tables)[("local", "u#legacy")] == stored


# ---------------------------------------------------------------- unknown outcomes, conflicts, failures


@pytest.mark.parametrize(
    ("customer", "count", "operation"), [("light", 3, "PutItem"), ("heavy", 50, "TransactWriteItems")]
)
def test_a_write_whose_response_is_lost_is_re_read_and_not_counted_twice(
    tables, faults, no_backoff, customer, count, operation
):
    # Given a batch of one customer (50 charges: its ids go to seen items, in a transaction)
    charges = [charge(customer, amount=i + 1) for i in range(count)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)

    # When the write is carried out but its answer times out
    with responses_lost(operation) as lost:
        response = handle(stream_event(charge_records(charges)))

    # Then the handler re-read the summary, found its own write, and wrote nothing more
    assert lost == [operation]
    assert response == NO_FAILURES
    stored = summaries_of(tables)[("local", f"u#{customer}")]
    assert stored.summary == summarize(charges, session_timeout=1800)
    assert (stored.version, faults.calls[operation], sum(writes(faults))) == (1, 1, 1)


def test_a_summary_written_by_another_invocation_meanwhile_is_re_read_and_nothing_is_lost(tables, faults, no_backoff):
    # Given a batch of two charges of one customer, and another invocation that writes the first of
    # them between this one's read and its write (a bisected retry, a replay)
    first, second = charge("u1", amount=100), charge("u1", amount=200)
    put_charges(tables.client, tables.names["ChargesTable"], [first, second])
    records = charge_records([first, second])
    other = summarize_batch.SummariesRepository(
        tables.names["SummariesTable"], tables.names["ChargesTable"], client=faults.backend
    )

    def other_invocation_first(call: Call) -> None:
        from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

        outcome = summarize_batch.process_stream_records([DynamoDBRecord(records[0])], summaries=other)
        assert outcome.charges_applied == 1
        return None  # then this call goes to DynamoDB, whose version check refuses it

    faults.inject("PutItem", other_invocation_first, calls={1})

    # When the batch is handled
    assert handle(stream_event(records)) == NO_FAILURES

    # Then the refused write was re-read: the first charge was recognised as counted, the second added
    stored = summaries_of(tables)[("local", "u#u1")]
    assert (stored.summary.charges.count, stored.summary.charges.total, stored.version) == (2, 300, 2)
    assert faults.calls["PutItem"] == 2


def test_a_customer_contended_past_the_bounded_attempts_is_reported_and_the_others_written(tables, faults, no_backoff):
    # Given a batch of two customers, where every write of "contended" finds another version
    calm, contended = [charge("calm"), charge("calm")], [charge("contended")]
    put_charges(tables.client, tables.names["ChargesTable"], calm + contended)
    records = charge_records([calm[0], contended[0], calm[1]])
    attempts: list[str] = []
    faults.inject("PutItem", only_for("u#contended", aws_error("ConditionalCheckFailedException"), attempts))

    response = handle(stream_event(records))

    # Then "contended" was tried MAX_COMMIT_ATTEMPTS times and its record reported; "calm" was written
    assert failures(response) == [records[1]["dynamodb"]["SequenceNumber"]]
    assert len(attempts) == summarize_batch.MAX_COMMIT_ATTEMPTS
    assert set(summaries_of(tables)) == {("local", "u#calm")}

    # And Lambda's retry from the reported record completes the batch; calm[1], delivered again, counts once
    faults.clear()
    assert handle(stream_event(records[1:])) == NO_FAILURES
    assert {k: s.summary for k, s in summaries_of(tables).items()} == expected_summaries(calm + contended)


def test_a_customer_whose_writes_keep_failing_is_reported_and_a_retry_from_there_completes(tables, faults, no_backoff):
    # Given a batch of two customers where every write of "broken" is throttled
    good = [charge("good", amount=5), charge("good", amount=7)]
    broken = [charge("broken", amount=11), charge("broken", amount=13)]
    put_charges(tables.client, tables.names["ChargesTable"], good + broken)
    records = charge_records([good[0], broken[0], good[1], broken[1]])
    faults.inject("PutItem", only_for("u#broken", THROTTLED, []))

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
    faults.clear()
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


def test_when_the_summaries_cannot_be_read_every_record_is_reported(tables, faults, no_backoff):
    charges = [charge("a"), charge("b")]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges)
    faults.inject("BatchGetItem", THROTTLED)

    response = handle(stream_event(records))

    assert failures(response) == sequences(records)
    assert summaries_of(tables) == {}
    assert writes(faults) == (0, 0)


def test_customers_left_when_time_runs_out_are_reported_for_a_retry_not_lost(tables, faults):
    # Given a batch of three customers and an invocation with 12 s left, then 3 s once the first write is sent
    charges = [charge("first"), charge("second"), charge("third")]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges)
    context = FakeLambdaContext(remaining_millis=12_000)

    def time_passes(call: Call) -> None:
        context.remaining_millis = 3_000
        return None  # the write itself goes through

    faults.inject("PutItem", time_passes)

    # When it is handled
    response = handle(stream_event(records), context)

    # Then the first customer is written and the two others are reported, in sequence order
    assert failures(response) == sequences(records[1:])
    assert set(summaries_of(tables)) == {("local", "u#first")}
    # And the retry from there completes the batch
    faults.clear()
    assert handle(stream_event(records[1:])) == NO_FAILURES
    assert {k: s.summary for k, s in summaries_of(tables).items()} == expected_summaries(charges)


# ---------------------------------------------------------------- the window check is load-bearing


def test_without_the_window_check_a_redelivered_record_is_counted_twice(tables, monkeypatch):
    # Given the window check removed: a record counted already is never recognised as a duplicate
    real_classify = seen.classify

    def never_duplicate(*args: Any) -> seen.Verdict:
        verdict = real_classify(*args)
        return seen.Verdict.NEW if verdict is seen.Verdict.DUPLICATE else verdict

    monkeypatch.setattr(seen, "classify", never_duplicate)
    charges = [charge("twice", amount=10), charge("twice", amount=20)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges)

    # When the batch is delivered twice (a retry after a timeout)
    assert handle(stream_event(records)) == NO_FAILURES
    assert handle(stream_event(records)) == NO_FAILURES

    # Then every charge is counted twice: the guarantee rests on the window (with it, see
    # test_a_batch_delivered_again_whole_writes_nothing)
    stored = summaries_of(tables)[("local", "u#twice")].summary
    assert (stored.charges.count, stored.charges.total) == (4, 60)
    assert stored != summarize(charges, session_timeout=1800)
