"""The stream handler in process, on events/summarize_charges.json and built batches, against moto tables.

Exactly once without a marker per charge (beacon/logic/seen.py): each summary keeps a window of the
charge ids it counted, and each batch makes one conditional write per customer; a customer with no
summary yet, or a record the window cannot decide, is recomputed from the stored charges. The tests
check what is stored (summaries, seen items, the registry, untouched charge items), the handler's
partial batch response, and the DynamoDB calls the handler makes (counted on its client by
tests/faults.py).
"""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.exceptions import ReadTimeoutError

from beacon.dal import aws
from beacon.dal.item_keys import seen_pk
from beacon.dal.items import charge_from_item, charge_item
from beacon.dal.summaries import MAX_COMMIT_ATTEMPTS
from beacon.dal.summary_items import legacy_summary_key, summary_item, summary_key
from beacon.logic import seen
from beacon.logic.fold import summarize
from beacon.models.records import ChargeRecord
from beacon.models.stored import StoredSummary
from beacon.services import summarize_batch
from functions.customer_jobs.app import lambda_handler as jobs_handler
from functions.summarize_charges.app import lambda_handler
from local.caches import reset_caches
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
    """(PutItem, TransactWriteItems) calls of the handler so far that wrote a summary (registry entries left out)."""
    return faults.calls["PutItem:type=summary"], faults.calls["TransactWriteItems"]


def summarized(tables, charges: list[ChargeRecord]) -> None:
    """Customers that have a summary already: their charges stored and their records handled, each record
    created (``ApproximateCreationDateTime``) a second after the last of them was received."""
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    created_at = max(c.received_at for c in charges) + 1 if charges else None
    assert handle(stream_event(charge_records(charges, created_at=created_at))) == NO_FAILURES


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
        if put["Item"]["customer_id"]["S"] != customer_id or put["Item"]["type"]["S"] != "summary":
            return None
        calls.append(customer_id)
        return fault(call)

    return faulted


# ---------------------------------------------------------------- new customers: recomputed from their charges


def test_the_ready_event_recomputes_its_new_customers_once_each_and_registers_them(tables, faults):
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
    assert {key: s.summary for key, s in stored.items()} == expected_summaries(charges, stored)
    ada = stored[("local", "u#user_42")].summary
    assert (ada.charges.count, ada.charges.total, ada.charges.last_amount) == (2, 6499, 1500)
    assert (ada.sessions.count, ada.sessions.first_seen_at, ada.sessions.last_seen_at) == (1, 1764057600, 1764057900)
    assert (ada.user_id, ada.email) == ("user_42", "ada@example.com")
    grace = stored[("local", "e#grace@example.com")].summary
    # a historical import only: no session, no Last Seen, but First Seen (when the customer was first added)
    assert (grace.charges.count, grace.sessions.count) == (1, 0)
    assert (grace.sessions.first_seen_at, grace.sessions.last_seen_at) == (1764058000, None)
    # And each summary's window holds exactly the ids of its stored charges; the charge items were not touched
    for key, summary in stored.items():
        counted = {c.charge_id for c in charges if (c.project_id, c.customer_id) == key}
        assert set().union(*summary.seen.buckets.values()) == counted
    assert charge_items(tables) == before
    # With one Query of its charges and one PutItem per customer, and its registry entry
    assert faults.calls[f"Query:{tables.names['ChargesTable']}"] == 2
    assert (writes(faults), faults.calls["PutItem:type=customer"]) == ((2, 0), 2)
    assert faults.calls[f"PutItem:{tables.names['ChargesTable']}"] == 0
    assert sorted(c for _, c in summarize_batch.repository().customers("local")) == ["e#grace@example.com", "u#user_42"]


def test_two_customers_of_a_project_have_their_summaries_under_partition_keys_of_their_own(tables):
    summarized(tables, [charge("ada"), charge("grace")])
    items = [i for i in tables.items("SummariesTable") if i["type"]["S"] == "summary"]
    assert sorted(item["PK"]["S"] for item in items) == ["P#local#C#u#ada", "P#local#C#u#grace"]
    assert {item["SK"]["S"] for item in items} == {"SUMMARY"}


# ---------------------------------------------------------------- one write per customer per batch


def test_a_normal_batch_is_one_read_and_one_put_per_customer(tables, faults):
    # Given three customers that have summaries
    summarized(tables, [charge("a"), charge("b"), charge("c")])
    reads, written = faults.calls["BatchGetItem"], writes(faults)
    # and a batch of 6 new charges of theirs, interleaved
    charges = [charge("a"), charge("b"), charge("a"), charge("c"), charge("c"), charge("c")]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    queries = faults.calls["Query"]

    assert handle(stream_event(charge_records(charges))) == NO_FAILURES

    # Then the summaries were read in one BatchGetItem and written with three PutItems: no Query, no transaction
    assert (faults.calls["BatchGetItem"] - reads, faults.calls["Query"] - queries) == (1, 0)
    assert writes(faults) == (written[0] + 3, 0)
    stored = summaries_of(tables)
    assert {k: s.version for k, s in stored.items()} == dict.fromkeys(stored, 2)
    assert {k: s.summary.charges.count for k, s in stored.items()} == {
        ("local", "u#a"): 3,
        ("local", "u#b"): 2,
        ("local", "u#c"): 4,
    }


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
    summarized(tables, [charge("dup", amount=1000)])
    a, b, c = charge("dup", amount=1), charge("dup", amount=10), charge("dup", amount=100)
    put_charges(tables.client, tables.names["ChargesTable"], [a, b])
    [record_a, record_b] = charge_records([a, b])
    written = writes(faults)

    # When a's record comes twice in one batch, then again in the next one beside c's
    assert handle(stream_event([record_a, record_b, record_a])) == NO_FAILURES
    put_charges(tables.client, tables.names["ChargesTable"], [c])
    assert handle(stream_event([record_a, *charge_records([c])])) == NO_FAILURES

    # Then every charge counts once, in one write per batch
    stored = summaries_of(tables)[("local", "u#dup")]
    assert (stored.summary.charges.count, stored.summary.charges.total) == (4, 1111)
    assert (stored.version, writes(faults)) == (3, (written[0] + 2, 0))


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
    summarized(tables, [charge("u1", received_at=T0, email="old@example.com")])
    later = [
        charge("u1", received_at=T0 + 60, email="new@example.com"),
        charge("u1", received_at=T0 + 99_999, update_session=False),
    ]
    summarized(tables, later)
    summary = summaries_of(tables)[("local", "u#u1")].summary
    assert summary.email == "new@example.com"
    assert (summary.sessions.count, summary.sessions.last_seen_at) == (1, T0 + 60)
    assert summary.charges.count == 3


# ---------------------------------------------------------------- heavy and old customers


def test_a_heavy_customer_keeps_a_small_summary_item_and_its_redelivered_records_count_nothing(tables, faults):
    # Given 1,000 charges of one customer over 17 minutes, stored and delivered in batches of 200
    charges = [charge("heavy", amount=i, received_at=T0 + i) for i in range(1_000)]
    batches = [charges[i : i + 200] for i in range(0, 1_000, 200)]
    records = [charge_records(batch, created_at=batch[-1].received_at + 1) for batch in batches]
    for batch, batch_records in zip(batches, records, strict=True):
        put_charges(tables.client, tables.names["ChargesTable"], batch)
        assert handle(stream_event(batch_records)) == NO_FAILURES

    # Then the summary counts them all, one write per batch
    stored = summaries_of(tables)[("local", "u#heavy")]
    assert stored.summary == expected_summaries(charges, {("local", "u#heavy"): stored})[("local", "u#heavy")]
    assert (stored.summary.charges.count, stored.version, sum(writes(faults))) == (1_000, 5, 5)
    # And the summary item stays small: the ids past the inline bound are in seen items beside it
    assert stored.seen.inline_ids <= seen.LIMITS.inline_ids
    assert item_size(summary_raw_item(tables, "local", "u#heavy")) < 1_024
    in_seen_items = stored_seen_ids(tables.client, tables.names["SummariesTable"])[seen_pk("local", "u#heavy")]
    assert in_seen_items | set().union(*stored.seen.buckets.values()) == {c.charge_id for c in charges}

    # When every batch is delivered again, and a batch of records taken across them
    for batch in [*records, [batch[7] for batch in records]]:
        assert handle(stream_event(batch)) == NO_FAILURES

    # Then the seen items recognised them: nothing was written and nothing counted twice
    assert sum(writes(faults)) == 5
    assert summaries_of(tables)[("local", "u#heavy")] == stored


def test_a_batch_spanning_more_minutes_than_one_write_holds_takes_several_writes_each_charge_once(tables, faults):
    # Given a customer with a summary, then its charges received over 250 distinct minutes, delivered in one batch
    summarized(tables, [charge("spread", amount=0, received_at=T0 - 60)])
    charges = [charge("spread", amount=i, received_at=T0 + 60 * i) for i in range(1, 251)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges, created_at=charges[-1].received_at + 1)
    written = sum(writes(faults))

    assert handle(stream_event(records)) == NO_FAILURES

    # Then it took several writes (a write holds 99 minutes of seen items), and counts every charge once
    stored = summaries_of(tables)[("local", "u#spread")]
    assert sum(writes(faults)) - written == 3
    assert (stored.summary.charges.count, stored.summary.charges.total) == (251, sum(range(251)))

    # And delivered again, nothing counts twice (the oldest are past the window: recomputed, not folded)
    assert handle(stream_event(records)) == NO_FAILURES
    again = summaries_of(tables)[("local", "u#spread")].summary
    assert (again.charges.count, again.charges.total) == (251, sum(range(251)))


def test_a_loyal_customer_s_summary_item_stays_small_however_many_visits(tables, faults):
    # Given a customer who comes once a day for a year, each visit's record delivered on the day
    for day in range(365):
        visit = charge("loyal", amount=day, received_at=T0 + day * 86_400)
        summarized(tables, [visit])

    # Then the summary counts 365 sessions, keeps none of the closed ones as spans, and its item is under 1 KB
    stored = summaries_of(tables)[("local", "u#loyal")]
    assert (stored.summary.charges.count, stored.summary.sessions.count) == (365, 365)
    assert len(stored.summary.sessions.spans) == 1
    assert item_size(summary_raw_item(tables, "local", "u#loyal")) < 1_024


# ---------------------------------------------------------------- records the window cannot decide


def test_a_record_older_than_the_window_makes_the_summary_recomputed_from_the_stored_charges(tables):
    # Given a charge counted at T0, and a second one stored whose record never came (lost to the failure queue)
    counted, lost = charge("old", amount=100, received_at=T0), charge("old", amount=7, received_at=T0 + 5)
    later = charge("old", amount=20, received_at=T0 + 10_000)
    summarized(tables, [counted])
    put_charges(tables.client, tables.names["ChargesTable"], [lost, later])
    # and a record created hours later, which moves the window past T0's minute
    assert handle(stream_event(charge_records([later], created_at=T0 + 10_001))) == NO_FAILURES
    window = summaries_of(tables)[("local", "u#old")].seen
    assert seen.expired(seen.bucket_of(T0), window.since)
    assert summaries_of(tables)[("local", "u#old")].summary.charges.count == 2

    # When the first charge's record is delivered again (a replay of an old batch)
    assert handle(stream_event(charge_records([counted], created_at=T0 + 1))) == NO_FAILURES

    # Then it is not folded in a second time: the summary is recomputed from the stored charges, the
    # lost charge included, and the window keeps the recent ones
    stored = summaries_of(tables)[("local", "u#old")]
    assert (stored.summary.charges.count, stored.summary.charges.total, stored.version) == (3, 127, 3)
    assert later.charge_id in stored.seen.buckets[seen.bucket_of(later.received_at)]


def test_a_summary_of_the_first_layout_is_recomputed_into_the_new_one_on_its_first_record(tables, faults):
    # Given two charges counted by the first layout: one summary item under the project's partition key
    a, b = charge("legacy", amount=5, received_at=T0), charge("legacy", amount=6, received_at=T0 + 30)
    put_charges(tables.client, tables.names["ChargesTable"], [a, b])
    old = summary_item(StoredSummary("local", "u#legacy", summarize([a, b], session_timeout=1800), 2), updated_at=T0)
    old.update(legacy_summary_key("local", "u#legacy"))
    tables.client.put_item(TableName=tables.names["SummariesTable"], Item=old)

    # When the record of a new charge arrives
    c = charge("legacy", amount=7, received_at=T0 + 60)
    put_charges(tables.client, tables.names["ChargesTable"], [c])
    assert handle(stream_event(charge_records([c], created_at=T0 + 61))) == NO_FAILURES

    # Then the customer has a summary in the new layout, recomputed from the three stored charges, with a window
    stored = summaries_of(tables)[("local", "u#legacy")]
    assert (stored.summary.charges.total, stored.version) == (18, 1)
    assert set().union(*stored.seen.buckets.values()) == {a.charge_id, b.charge_id, c.charge_id}

    # And a record of an old charge delivered again is a duplicate: no write
    written = writes(faults)
    assert handle(stream_event(charge_records([a], created_at=T0 + 1))) == NO_FAILURES
    assert writes(faults) == written


def test_a_late_visit_inside_a_session_no_longer_kept_as_a_span_is_recomputed_not_counted_as_a_visit(
    tables, monkeypatch
):
    # Given a one-minute session timeout, and a customer with 12 visits five minutes apart: all recent
    # enough for a late charge to join, but only the newest 8 kept as spans (the oldest 4 counted)
    monkeypatch.setenv("SESSION_TIMEOUT_SECONDS", "60")
    reset_caches()
    visits = [charge("busy", received_at=T0 + minute * 300) for minute in range(12)]
    summarized(tables, visits)
    kept = summaries_of(tables)[("local", "u#busy")].summary.sessions
    assert (kept.count, len(kept.spans), kept.closed) == (12, seen.LIMITS.spans, 12 - seen.LIMITS.spans)

    # When a charge of the first visit arrives late (a second API instance, received then, written now)
    late = charge("busy", received_at=T0 + 30)
    put_charges(tables.client, tables.names["ChargesTable"], [late])
    outcome = summarize_batch.process_stream_records([DynamoDBRecord(r) for r in charge_records([late])])

    # Then it joined the first visit: still 12 sessions (the summary was recomputed from the stored charges)
    assert outcome.customers_recomputed == 1
    sessions = summaries_of(tables)[("local", "u#busy")].summary.sessions
    assert (sessions.count, sessions.first_seen_at) == (12, T0)


# ---------------------------------------------------------------- the recompute: paged, caught up, handed off


def test_a_recompute_catches_up_with_a_summary_written_meanwhile_without_reading_the_history_again(
    tables, faults, no_backoff
):
    # Given a customer whose record the window cannot decide (no summary yet), with 3 stored charges
    charges = [charge("raced", amount=2**i) for i in range(3)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    extra = charge("raced", amount=2**3)
    other = summarize_batch.SummariesRepository(
        tables.names["SummariesTable"], tables.names["ChargesTable"], client=faults.backend
    )

    def another_invocation_writes_first(call: Call) -> None:
        # while the recompute read the charges, another invocation summarized the customer, extra included
        put_charges(faults.backend, tables.names["ChargesTable"], [extra])
        records = [DynamoDBRecord(r) for r in charge_records([*charges, extra])]
        assert summarize_batch.process_stream_records(records, summaries=other).customers_recomputed == 1

    faults.inject("Query", another_invocation_writes_first, calls={1}, table=tables.names["ChargesTable"])

    # When the first record is handled
    assert handle(stream_event(charge_records(charges[:1]))) == NO_FAILURES

    # Then the recompute's write was refused, and it folded in what the other counted and it had not read
    stored = summaries_of(tables)[("local", "u#raced")]
    assert (stored.summary.charges.count, stored.summary.charges.total, stored.version) == (4, 15, 2)
    assert faults.calls[f"Query:{tables.names['ChargesTable']}"] == 1  # the history was read once


def test_a_recompute_that_would_pass_the_deadline_is_handed_to_the_jobs_function(tables, jobs_queue, faults):
    # Given a customer with stored charges, no summary, and an invocation that runs short of time while
    # the recompute reads them
    charges = [charge("big", amount=i) for i in range(50)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    context = FakeLambdaContext(remaining_millis=30_000)

    def time_runs_short(call: Call) -> None:
        context.remaining_millis = 5_000

    faults.inject("Query", time_runs_short, table=tables.names["ChargesTable"])

    # When its record is handled
    response = handle(stream_event(charge_records([charges[0]])), context)

    # Then no record failed: the recompute was queued for the jobs function, nothing written yet
    assert response == NO_FAILURES
    assert ("local", "u#big") not in summaries_of(tables)
    [message] = jobs_queue.messages()
    assert json.loads(message["Body"]) == {"kind": "recompute", "project_id": "local", "customer_id": "u#big"}

    # When the jobs function runs the job (its own 15 minutes)
    faults.clear()
    answer = jobs_handler({"Records": [jobs_queue.as_record(message)]}, FakeLambdaContext(remaining_millis=900_000))

    # Then the summary counts every stored charge
    assert answer == NO_FAILURES
    stored = summaries_of(tables)[("local", "u#big")]
    assert (stored.summary.charges.count, stored.summary.charges.total) == (50, sum(range(50)))


# ---------------------------------------------------------------- unknown outcomes, conflicts, failures


@pytest.mark.parametrize(
    ("customer", "count", "operation"), [("light", 3, "PutItem"), ("heavy", 50, "TransactWriteItems")]
)
def test_a_write_whose_response_is_lost_is_re_read_and_not_counted_twice(
    tables, faults, no_backoff, customer, count, operation
):
    # Given a customer with a summary, and a batch of its charges (50: its ids go to seen items, in a transaction)
    summarized(tables, [charge(customer, amount=0)])
    charges = [charge(customer, amount=i + 1) for i in range(count)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    calls = faults.calls[operation]

    # When the write is carried out but its answer times out
    with responses_lost(operation) as lost:
        response = handle(stream_event(charge_records(charges)))

    # Then the handler re-read the summary, found its own write, and wrote nothing more
    assert lost == [operation]
    assert response == NO_FAILURES
    stored = summaries_of(tables)[("local", f"u#{customer}")]
    assert (stored.summary.charges.count, stored.summary.charges.total) == (count + 1, sum(range(count + 1)))
    assert (stored.version, faults.calls[operation] - calls) == (2, 1)


def test_a_summary_written_by_another_invocation_meanwhile_is_re_read_and_nothing_is_lost(tables, faults, no_backoff):
    # Given a customer with a summary, a batch of two of its charges, and another invocation that writes the
    # first of them between this one's read and its write (a bisected retry, a replay)
    summarized(tables, [charge("u1", amount=1000)])
    first, second = charge("u1", amount=100), charge("u1", amount=200)
    put_charges(tables.client, tables.names["ChargesTable"], [first, second])
    records = charge_records([first, second])
    other = summarize_batch.SummariesRepository(
        tables.names["SummariesTable"], tables.names["ChargesTable"], client=faults.backend
    )

    def other_invocation_first(call: Call) -> None:
        outcome = summarize_batch.process_stream_records([DynamoDBRecord(records[0])], summaries=other)
        assert outcome.charges_applied == 1
        return None  # then this call goes to DynamoDB, whose version check refuses it

    calls = faults.calls["PutItem"]
    faults.inject("PutItem", other_invocation_first, calls={calls + 1})  # the next PutItem: this batch's write

    # When the batch is handled
    assert handle(stream_event(records)) == NO_FAILURES

    # Then the refused write was re-read: the first charge was recognised as counted, the second added
    stored = summaries_of(tables)[("local", "u#u1")]
    assert (stored.summary.charges.count, stored.summary.charges.total, stored.version) == (3, 1300, 3)
    assert faults.calls["PutItem"] - calls == 2


def test_a_customer_contended_past_the_bounded_attempts_is_reported_and_the_others_written(tables, faults, no_backoff):
    # Given two customers with summaries, a batch of theirs, and every write of "contended" finding another version
    summarized(tables, [charge("calm"), charge("contended")])
    calm, contended = [charge("calm"), charge("calm")], [charge("contended")]
    put_charges(tables.client, tables.names["ChargesTable"], calm + contended)
    records = charge_records([calm[0], contended[0], calm[1]])
    attempts: list[str] = []
    faults.inject("PutItem", only_for("u#contended", aws_error("ConditionalCheckFailedException"), attempts))

    response = handle(stream_event(records))

    # Then "contended" was tried MAX_COMMIT_ATTEMPTS times and its record reported; "calm" was written
    assert failures(response) == [records[1]["dynamodb"]["SequenceNumber"]]
    assert len(attempts) == MAX_COMMIT_ATTEMPTS
    counts = {key: s.summary.charges.count for key, s in summaries_of(tables).items()}
    assert counts == {("local", "u#calm"): 3, ("local", "u#contended"): 1}

    # And Lambda's retry from the reported record completes the batch; calm[1], delivered again, counts once
    faults.clear()
    assert handle(stream_event(records[1:])) == NO_FAILURES
    counts = {key: s.summary.charges.count for key, s in summaries_of(tables).items()}
    assert counts == {("local", "u#calm"): 3, ("local", "u#contended"): 2}


def test_a_customer_whose_writes_keep_failing_is_reported_and_a_retry_from_there_completes(tables, faults, no_backoff):
    # Given two customers with summaries, and a batch of theirs where every write of "broken" is throttled
    summarized(tables, [charge("good", amount=1), charge("broken", amount=1)])
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
    totals = {key: s.summary.charges.total for key, s in summaries_of(tables).items()}
    assert totals == {("local", "u#good"): 13, ("local", "u#broken"): 1}

    # When Lambda retries from the lowest reported record (the records after it come again) and storage is back
    faults.clear()
    assert handle(stream_event(records[1:])) == NO_FAILURES

    # Then both summaries equal their charges: good[1], delivered twice, counted once
    totals = {key: s.summary.charges.total for key, s in summaries_of(tables).items()}
    assert totals == {("local", "u#good"): 13, ("local", "u#broken"): 25}


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
    # Given three customers with summaries, a batch of theirs, and an invocation with 15 s left, then 3 s once
    # the first write is sent
    summarized(tables, [charge("first"), charge("second"), charge("third")])
    charges = [charge("first"), charge("second"), charge("third")]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges)
    remaining = [15.0]

    def time_passes(call: Call) -> None:
        remaining[0] = 3.0
        return None  # the write itself goes through

    faults.inject("PutItem", time_passes)

    # When it is handled one customer at a time
    outcome = summarize_batch.process_stream_records(
        [DynamoDBRecord(r) for r in records], seconds_left=lambda: remaining[0], concurrency=1
    )

    # Then the first customer is written and the two others are reported, in sequence order
    assert failures(outcome.response()) == sequences(records[1:])
    assert {k: s.version for k, s in summaries_of(tables).items()} == {
        ("local", "u#first"): 2,
        ("local", "u#second"): 1,
        ("local", "u#third"): 1,
    }
    # And the retry from there completes the batch
    faults.clear()
    assert handle(stream_event(records[1:])) == NO_FAILURES
    assert {k: s.summary.charges.count for k, s in summaries_of(tables).items()} == dict.fromkeys(
        summaries_of(tables), 2
    )


def test_with_too_little_time_left_no_customer_is_started_and_every_record_is_reported(tables, faults):
    summarized(tables, [charge("late")])
    charges = [charge("late"), charge("late")]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges)
    written = writes(faults)

    response = handle(stream_event(records), FakeLambdaContext(remaining_millis=5_000))

    assert failures(response) == sequences(records)
    assert writes(faults) == written


# ---------------------------------------------------------------- concurrency


def test_a_batch_s_customers_are_written_concurrently_each_once_and_right(tables, faults):
    # Given 40 customers with summaries, and a batch of two new charges each
    customers = [f"c{n:02d}" for n in range(40)]
    summarized(tables, [charge(c, amount=1) for c in customers])
    charges = [charge(c, amount=a) for c in customers for a in (10, 100)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def slow_write(call: Call) -> None:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.02)  # a write's round trip: the others go on meanwhile
        with lock:
            in_flight[0] -= 1

    faults.inject("PutItem", slow_write)

    assert handle(stream_event(charge_records(charges))) == NO_FAILURES

    # Then writes overlapped (at most MAX_CONCURRENT_CALLS at once), and each customer's summary is right
    assert 1 < most[0] <= aws.MAX_CONCURRENT_CALLS
    stored = summaries_of(tables)
    assert {key: (s.version, s.summary.charges.total) for key, s in stored.items()} == {
        ("local", f"u#{c}"): (2, 111) for c in customers
    }


def test_one_customer_s_writes_stay_in_order_when_a_batch_takes_several(tables, faults):
    # Given a customer whose batch spans 250 minutes (three writes), beside 30 other customers
    summarized(tables, [charge("spread", amount=0, received_at=T0 - 60), *(charge(f"o{n}") for n in range(30))])
    spread = [charge("spread", amount=1, received_at=T0 + 60 * i) for i in range(250)]
    others = [charge(f"o{n}") for n in range(30)]
    put_charges(tables.client, tables.names["ChargesTable"], spread + others)
    versions: list[int] = []

    def record_version(call: Call) -> None:
        summary = call.params["TransactItems"][0]["Put"]["Item"]
        if summary["customer_id"]["S"] == "u#spread":
            versions.append(int(summary["version"]["N"]))

    faults.inject("TransactWriteItems", record_version)

    assert handle(stream_event(charge_records(spread + others, created_at=spread[-1].received_at))) == NO_FAILURES

    # Then its writes went one after the other, each on the version the previous one wrote
    assert versions == [2, 3, 4]
    assert summaries_of(tables)[("local", "u#spread")].summary.charges.count == 251


# ---------------------------------------------------------------- the window check is load-bearing


def test_without_the_window_check_a_redelivered_record_is_counted_twice(tables, monkeypatch):
    # Given the window check removed: a record counted already is never recognised as a duplicate
    real_classify = seen.classify

    def never_duplicate(*args: Any) -> seen.Verdict:
        verdict = real_classify(*args)
        return seen.Verdict.NEW if verdict is seen.Verdict.DUPLICATE else verdict

    monkeypatch.setattr(seen, "classify", never_duplicate)
    summarized(tables, [charge("twice", amount=1)])
    charges = [charge("twice", amount=10), charge("twice", amount=20)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = charge_records(charges)

    # When the batch is delivered twice (a retry after a timeout)
    assert handle(stream_event(records)) == NO_FAILURES
    assert handle(stream_event(records)) == NO_FAILURES

    # Then every charge is counted twice: the guarantee rests on the window (with it, see
    # test_a_batch_delivered_again_whole_writes_nothing)
    stored = summaries_of(tables)[("local", "u#twice")].summary
    assert (stored.charges.count, stored.charges.total) == (5, 61)
