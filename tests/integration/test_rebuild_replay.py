"""`beacon summaries rebuild` and `beacon summaries replay` against moto (tables, stream, SQS)."""

import json
import time
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from beacon.dal.summaries import SummariesRepository
from beacon.dal.summary_items import summary_item, summary_key
from beacon.logic.fold import summarize
from beacon.models.records import ChargeRecord
from beacon.models.stored import StoredSummary
from beacon.services.summarize_batch import process_stream_records
from ops import stream_failures
from ops.main import main
from tests.faults import THROTTLED, install
from tests.stream_builders import T0, charge, expected_summaries, put_charges, stored_summaries


def run(capsys, *argv: str) -> tuple[int, list[str]]:
    status = main(list(argv))
    return status, capsys.readouterr().out.splitlines()


def reports(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def repository(tables) -> SummariesRepository:
    return SummariesRepository(tables.names["SummariesTable"], tables.names["ChargesTable"], client=tables.client)


def stream_records(tables) -> list[dict[str, Any]]:
    arn = tables.client.describe_table(TableName=tables.names["ChargesTable"])["Table"]["LatestStreamArn"]
    return stream_failures.StreamReader(boto3.client("dynamodbstreams", region_name="us-east-1")).read_new(arn, {})


def summarized_through_the_stream(tables, charges: list[ChargeRecord]) -> None:
    """Store charges and fold their stream records (read from moto's stream) into the summaries."""
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = [r for r in stream_records(tables) if r["eventName"] == "INSERT"]
    outcome = process_stream_records(DynamoDBRecord(r) for r in records)
    assert not outcome.failed


def summaries(tables) -> dict:
    return {k: s.summary for k, s in stored_summaries(tables.client, tables.names["SummariesTable"]).items()}


def expected(tables, charges: list[ChargeRecord]) -> dict:
    """What the summaries must be: each customer's charges folded at once, as its stored window keeps them."""
    return expected_summaries(charges, stored_summaries(tables.client, tables.names["SummariesTable"]))


def windows(tables) -> dict:
    """Each summary's window of counted charges: (since, every id it holds inline)."""
    stored = stored_summaries(tables.client, tables.names["SummariesTable"])
    return {k: (s.seen.since, set().union(*s.seen.buckets.values())) for k, s in stored.items()}


def recent_charge(customer: str, **fields: Any) -> ChargeRecord:
    """A charge received just now: its record is young enough for the window to remember it."""
    return charge(customer, created_at=int(time.time()), **fields)


def corrupt(tables, project: str, customer: str, **changes: Any) -> None:
    """Overwrite a stored summary's figures (a bug, a manual edit, a restore from an old backup); its window stays."""
    stored = repository(tables).get(project, customer)
    assert stored is not None
    wrong = StoredSummary(
        project,
        customer,
        summarize([charge(customer.split("#", 1)[1], amount=1)], session_timeout=1800),
        stored.version,
        stored.seen,
    )
    tables.client.put_item(TableName=tables.names["SummariesTable"], Item=summary_item(wrong, updated_at=T0))


# ---------------------------------------------------------------- rebuild


def test_rebuild_finds_nothing_when_the_summaries_match_the_charges(tables, capsys):
    summarized_through_the_stream(tables, [charge("ada", amount=5), charge("ada", amount=7), charge("bob@example.com")])
    status, lines = run(capsys, "summaries", "rebuild", "--project", "local")
    assert status == 0
    assert reports(lines) == []
    assert lines[-1] == "checked 2 customer(s) of project local: 0 differed, 0 repaired"


def test_rebuild_reports_a_wrong_summary_field_by_field_and_repair_fixes_it(tables, capsys):
    # Given ada's summary overwritten with a wrong one
    charges = [charge("ada", amount=5, received_at=T0), charge("ada", amount=7, received_at=T0 + 9000)]
    summarized_through_the_stream(tables, charges)
    corrupt(tables, "local", "u#ada")

    # When the customer is rebuilt without --repair
    status, lines = run(capsys, "summaries", "rebuild", "--project", "local", "--user-id", "ada")

    # Then it is reported (exit 1) with the stored and recomputed value of each field, and left as it is
    assert status == 1
    [report] = reports(lines)
    assert report["customer"] == "u#ada" and report["repaired"] is False
    assert report["differences"]["charges.count"] == {"stored": 1, "recomputed": 2}
    assert report["differences"]["charges.total"] == {"stored": 1, "recomputed": 12}
    assert report["differences"]["sessions.count"] == {"stored": 1, "recomputed": 2}
    assert summaries(tables)[("local", "u#ada")].charges.count == 1

    # When repaired, the summary equals its charges (written with a window) and a second check finds nothing
    status, lines = run(capsys, "summaries", "rebuild", "--project", "local", "--user-id", "ada", "--repair")
    assert status == 1 and reports(lines)[0]["repaired"] is True
    assert summaries(tables) == expected(tables, charges)
    assert windows(tables)[("local", "u#ada")][0] is not None
    assert run(capsys, "summaries", "rebuild", "--project", "local", "--user-id", "ada")[0] == 0


def test_repair_sets_first_seen_on_a_summary_written_when_only_tracked_charges_counted(tables, capsys):
    # Given a customer known only from historical imports, whose summary was written with no First Seen
    charges = [
        charge("imported", received_at=T0 + 60, update_session=False),
        charge("imported", received_at=T0, update_session=False),
    ]
    summarized_through_the_stream(tables, charges)
    stored = repository(tables).get("local", "u#imported")
    assert stored is not None and stored.summary.sessions.first_seen_at == T0
    old_rule = replace(stored.summary, sessions=replace(stored.summary.sessions, first_seen_at=None))
    old = StoredSummary("local", "u#imported", old_rule, stored.version, stored.seen)
    tables.client.put_item(TableName=tables.names["SummariesTable"], Item=summary_item(old, updated_at=T0))

    # When the project is rebuilt, then repaired
    status, lines = run(capsys, "summaries", "rebuild", "--project", "local")
    assert status == 1
    [report] = reports(lines)
    assert report["differences"] == {"sessions.first_seen_at": {"stored": None, "recomputed": T0}}
    status, lines = run(capsys, "summaries", "rebuild", "--project", "local", "--repair")

    # Then First Seen is the earliest charge received, sessions stay empty, and nothing differs any more
    assert status == 1 and reports(lines)[0]["repaired"] is True
    repaired = summaries(tables)[("local", "u#imported")]
    assert (repaired.sessions.first_seen_at, repaired.sessions.last_seen_at, repaired.sessions.count) == (T0, None, 0)
    assert summaries(tables) == expected(tables, charges)
    assert run(capsys, "summaries", "rebuild", "--project", "local")[0] == 0


def test_repair_counts_a_charge_the_stream_lost_and_its_late_record_then_counts_nothing(tables, capsys):
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    # Given a summarized charge, and a second charge whose stream record is late (both received just now)
    first, lost = recent_charge("ada", amount=100), recent_charge("ada", amount=250)
    summarized_through_the_stream(tables, [first])
    put_charges(tables.client, tables.names["ChargesTable"], [lost])

    # When the project is rebuilt with --repair
    status, lines = run(capsys, "summaries", "rebuild", "--project", "local", "--repair")

    # Then the figures differed by the missing charge, and the summary counts both charges, both in its window
    assert status == 1
    [report] = reports(lines)
    assert report["differences"]["charges.count"] == {"stored": 1, "recomputed": 2}
    assert (report["charges"], report["repaired"]) == (2, True)
    assert summaries(tables) == expected(tables, [first, lost])
    assert windows(tables)[("local", "u#ada")][1] == {first.charge_id, lost.charge_id}

    # And when the late record shows up after all, the window says it is counted: nothing is written
    repaired = repository(tables).get("local", "u#ada")
    late = [r for r in stream_records(tables) if r["eventName"] == "INSERT"][-1]
    outcome = process_stream_records([DynamoDBRecord(late)])
    assert (outcome.failed, outcome.charges_applied, outcome.customers_recomputed) == ([], 0, 0)
    assert repository(tables).get("local", "u#ada") == repaired
    assert summaries(tables)[("local", "u#ada")].charges.total == 350


def test_repair_moves_a_summary_of_the_old_layout_to_the_window(tables, capsys):
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    # Given a summary with the right figures written by the old design: no window of counted charges
    charges = [recent_charge("ada", amount=5), recent_charge("ada", amount=7)]
    summarized_through_the_stream(tables, charges)
    old = summary_item(repository(tables).get("local", "u#ada"), updated_at=T0)
    for name in ("seen_since", "seen", "seen_overflow"):
        old.pop(name, None)
    tables.client.put_item(TableName=tables.names["SummariesTable"], Item=old)

    # When the project is checked, the missing window is the one difference reported
    status, lines = run(capsys, "summaries", "rebuild", "--project", "local")
    assert status == 1
    [report] = reports(lines)
    assert report["differences"] == {"state.seen_since": {"stored": None, "recomputed": "a window of counted charges"}}

    # When repaired, the summary (same figures) has a window holding its recent charges, and nothing differs
    status, lines = run(capsys, "summaries", "rebuild", "--project", "local", "--repair")
    assert status == 1 and reports(lines)[0]["repaired"] is True
    assert summaries(tables) == expected(tables, charges)
    item = tables.client.get_item(TableName=tables.names["SummariesTable"], Key=summary_key("local", "u#ada"))["Item"]
    assert "seen_since" in item
    assert windows(tables)[("local", "u#ada")][1] == {c.charge_id for c in charges}
    assert run(capsys, "summaries", "rebuild", "--project", "local")[0] == 0

    # And the records of those charges delivered again are recognised by the new window: nothing is written
    repaired = repository(tables).get("local", "u#ada")
    records = [DynamoDBRecord(r) for r in stream_records(tables) if r["eventName"] == "INSERT"]
    outcome = process_stream_records(records)
    assert (outcome.failed, outcome.charges_applied, outcome.customers_recomputed) == ([], 0, 0)
    assert repository(tables).get("local", "u#ada") == repaired


def test_a_project_rebuild_checks_the_customers_of_its_registry(tables, capsys):
    # Given two customers summarized (so registered), and a third whose charge the stream has not seen yet
    summarized_through_the_stream(tables, [charge("ada", amount=5), charge("bob", amount=7)])
    put_charges(tables.client, tables.names["ChargesTable"], [charge("carol", amount=9)])
    corrupt(tables, "local", "u#bob")

    status, lines = run(capsys, "summaries", "rebuild", "--project", "local")

    # Then the registry's customers are checked (bob differs); carol is not listed yet
    assert status == 1
    assert [report["customer"] for report in reports(lines)] == ["u#bob"]
    assert lines[-1] == "checked 2 customer(s) of project local: 1 differed, 0 repaired"


def test_a_project_rebuild_with_scan_finds_customers_that_have_charges_but_no_summary(tables, capsys):
    put_charges(tables.client, tables.names["ChargesTable"], [charge("grace@example.com", amount=3)])
    put_charges(tables.client, tables.names["ChargesTable"], [charge("other", project="globex")])

    status, lines = run(capsys, "summaries", "rebuild", "--project", "local", "--scan", "--repair")

    assert status == 1
    [report] = reports(lines)
    assert report["customer"] == "e#grace@example.com"
    assert report["differences"]["summary"] == {"stored": None, "recomputed": "missing"}
    # only the project that was asked for is touched
    assert set(summaries(tables)) == {("local", "e#grace@example.com")}


def test_rebuild_by_email_normalizes_it_and_refuses_an_invalid_one(tables, capsys):
    summarized_through_the_stream(tables, [charge("grace@example.com", amount=3)])
    assert run(capsys, "summaries", "rebuild", "--project", "local", "--email", " Grace@Example.COM ")[0] == 0
    assert main(["summaries", "rebuild", "--project", "local", "--email", "not-an-address"]) == 2


# ---------------------------------------------------------------- replay


@pytest.fixture
def failure_queue(tables) -> str:
    # A visibility timeout of 0: a message left in the queue is received again at once
    sqs = boto3.client("sqs", region_name="us-east-1")
    return sqs.create_queue(QueueName="summarize-failures", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]


def send_failure(
    queue_url: str,
    records: list[dict[str, Any]],
    shard_id: str | None = None,
    arrivals: tuple[int, int] | None = None,
    **changes: Any,
) -> None:
    """What Lambda sends to the on-failure destination: where the batch is, not the batch.

    ``arrivals``: when its first and last records arrived in the stream (by default their creation times);
    ``changes``: fields of ``DDBStreamBatchInfo`` to change (``None`` leaves one out).
    """
    arn = records[0]["eventSourceARN"]
    first, last = arrivals or (int(records[0]["dynamodb"]["ApproximateCreationDateTime"]),) * 2
    if shard_id is None:
        stream = boto3.client("dynamodbstreams", region_name="us-east-1").describe_stream(StreamArn=arn)
        shard_id = stream["StreamDescription"]["Shards"][0]["ShardId"]
    body = {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-25T08:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(first),
            "approximateArrivalOfLastRecord": _iso(last),
            "batchSize": len(records),
            "streamArn": arn,
        },
    }
    info = body["DDBStreamBatchInfo"]
    for name, value in changes.items():
        if value is None:
            info.pop(name)
        else:
            info[name] = value
    boto3.client("sqs", region_name="us-east-1").send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def queue_depth(queue_url: str) -> int:
    attributes = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_replay_folds_the_batch_a_message_points_at_and_deletes_the_message(tables, failure_queue, capsys, monkeypatch):
    # Given a batch of three customers the stream function gave up on, one of its charges already counted
    charges = [
        recent_charge("ada", amount=5),
        recent_charge("bob", amount=7),
        recent_charge("ada", amount=9),
        recent_charge("c@example.com"),
    ]
    summarized_through_the_stream(tables, charges[:1])
    put_charges(tables.client, tables.names["ChargesTable"], charges[1:])
    records = [r for r in stream_records(tables) if r["eventName"] == "INSERT"]
    send_failure(failure_queue, records)
    monkeypatch.setenv("SUMMARIZE_FAILURE_QUEUE_URL", failure_queue)

    # When the queue is replayed
    status, lines = run(capsys, "summaries", "replay")

    # Then every charge counts once (the one counted already is a duplicate: it is in ada's window),
    # and the message is gone
    assert status == 0, lines
    [report] = reports(lines)
    assert (report["status"], report["records"], report["failed_records"], report["duplicates_skipped"]) == (
        "replayed",
        4,
        0,
        1,
    )
    assert summaries(tables) == expected(tables, charges)
    assert queue_depth(failure_queue) == 0


def test_replaying_a_batch_counted_already_reports_its_records_as_duplicates_and_writes_nothing(
    tables, failure_queue, capsys, monkeypatch
):
    # Given a batch of two customers, counted already (the failure was reported after the writes)
    charges = [recent_charge("ada", amount=5), recent_charge("bob", amount=7), recent_charge("ada", amount=9)]
    summarized_through_the_stream(tables, charges)
    before = stored_summaries(tables.client, tables.names["SummariesTable"])
    send_failure(failure_queue, [r for r in stream_records(tables) if r["eventName"] == "INSERT"])
    monkeypatch.setenv("SUMMARIZE_FAILURE_QUEUE_URL", failure_queue)

    # When the queue is replayed
    status, lines = run(capsys, "summaries", "replay")

    # Then every record is reported as a duplicate and no summary changed (not even its version)
    assert status == 0, lines
    [report] = reports(lines)
    assert (report["status"], report["records"], report["failed_records"]) == ("replayed", 3, 0)
    assert stored_summaries(tables.client, tables.names["SummariesTable"]) == before
    assert report["duplicates_skipped"] == 3


def test_replaying_records_older_than_the_window_recomputes_instead_of_counting_again(
    tables, failure_queue, capsys, monkeypatch
):
    # Given charges received long ago (T0, a year before their records: the window has moved past them),
    # all counted already, and a later charge of ada whose record is not in the replayed range
    charges = [charge("ada", amount=5), charge("bob", amount=7), charge("ada", amount=9)]
    summarized_through_the_stream(tables, charges)
    assert all(not ids for _, ids in windows(tables).values())
    records = [r for r in stream_records(tables) if r["eventName"] == "INSERT"]
    unreplayed = charge("ada", amount=100)
    put_charges(tables.client, tables.names["ChargesTable"], [unreplayed])
    send_failure(failure_queue, records)
    monkeypatch.setenv("SUMMARIZE_FAILURE_QUEUE_URL", failure_queue)

    # When the queue is replayed
    status, lines = run(capsys, "summaries", "replay")

    # Then the records were not folded again: ada and bob were recomputed from their stored charges
    # (which also counts ada's later charge), so nothing is counted twice
    assert status == 0, lines
    [report] = reports(lines)
    assert (report["status"], report["records"], report["failed_records"]) == ("replayed", 3, 0)
    assert summaries(tables) == expected(tables, [*charges, unreplayed])
    assert summaries(tables)[("local", "u#ada")].charges.count == 3
    assert queue_depth(failure_queue) == 0


def test_a_batch_that_fails_again_stays_in_the_queue(tables, failure_queue, capsys, no_backoff):
    put_charges(tables.client, tables.names["ChargesTable"], [charge("ada")])
    send_failure(failure_queue, stream_records(tables))
    install(tables.client).inject("PutItem", THROTTLED)  # every summary write is refused

    status, lines = run(capsys, "summaries", "replay", "--queue-url", failure_queue)

    assert status == 1
    assert reports(lines)[0]["status"] == "failed"
    assert queue_depth(failure_queue) == 1
    assert summaries(tables) == {}


def trimmed(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """The stream no longer holds what is asked for (older than 24 hours): GetShardIterator says so."""
    client = boto3.client("dynamodbstreams", region_name="us-east-1")
    stubber = Stubber(client)
    for _ in range(times):
        stubber.add_client_error("get_shard_iterator", service_error_code="TrimmedDataAccessException")
    stubber.activate()
    monkeypatch.setattr(stream_failures.StreamReader, "client", property(lambda self: client))


def test_a_batch_the_stream_no_longer_holds_has_its_customers_rebuilt_from_the_stored_charges(
    tables, failure_queue, capsys, monkeypatch
):
    # Given a message whose records were trimmed from the stream (older than 24 hours): ada's two charges,
    # received while the batch's records arrived, never counted; bob's charge, received a day later, not in it
    ada = [charge("ada", amount=5, received_at=T0), charge("ada", amount=7, received_at=T0 + 20)]
    bob = charge("bob", amount=9, received_at=T0 + 86_400)
    put_charges(tables.client, tables.names["ChargesTable"], [*ada, bob])
    send_failure(failure_queue, stream_records(tables)[:2], arrivals=(T0, T0 + 21))
    trimmed(monkeypatch, times=1)

    # When the queue is replayed
    status, lines = run(capsys, "summaries", "replay", "--queue-url", failure_queue)

    # Then ada, whose charges arrived then, is rebuilt from her stored charges; the report says so; the message is gone
    assert status == 0, lines
    [report] = reports(lines)
    assert (report["status"], report["customers_rebuilt"]) == ("rebuilt", 1)
    assert "1 rebuilt from the charges" in lines[-1]
    assert summaries(tables) == expected(tables, ada)
    assert queue_depth(failure_queue) == 0


def test_a_gone_batch_whose_customers_cannot_be_found_stays_in_the_queue_with_what_to_do(
    tables, failure_queue, capsys, monkeypatch
):
    # Given a message whose records were trimmed, with no arrival times to find its customers by
    put_charges(tables.client, tables.names["ChargesTable"], [charge("ada")])
    send_failure(
        failure_queue, stream_records(tables), approximateArrivalOfFirstRecord=None, approximateArrivalOfLastRecord=None
    )
    trimmed(monkeypatch, times=2)

    # When replayed, it is reported as gone, the rebuild command is suggested and the message kept
    status, lines = run(capsys, "summaries", "replay", "--queue-url", failure_queue)
    assert status == 1
    assert reports(lines)[0]["status"] == "gone"
    assert any("summaries rebuild" in line for line in lines)
    assert queue_depth(failure_queue) == 1

    # With --drop-gone, the message is deleted once reported
    status, lines = run(capsys, "summaries", "replay", "--queue-url", failure_queue, "--drop-gone")
    assert status == 1 and reports(lines)[0]["status"] == "dropped"
    assert queue_depth(failure_queue) == 0


class PagedStream:
    """GetRecords as DynamoDB Streams may answer it: empty pages first, then the records, a page at a time."""

    def __init__(self, records: list[dict[str, Any]], *, empty_pages: int, closes_after: int | None = None) -> None:
        self.records, self.empty_pages, self.closes_after = records, empty_pages, closes_after
        self.calls = 0

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "0"}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self.calls += 1
        position = int(ShardIterator)
        if self.calls <= self.empty_pages:
            return {"Records": [], "NextShardIterator": ShardIterator}
        page = self.records[position : position + 1]
        closed = self.closes_after is not None and position + 1 >= self.closes_after
        return {"Records": page, **({} if closed else {"NextShardIterator": str(position + 1)})}


def test_replay_reads_through_empty_pages_to_the_end_of_the_range(tables, failure_queue, capsys, monkeypatch):
    # Given a message for a batch of three charges, whose shard answers ten empty pages before the records
    charges = [recent_charge("ada", amount=2**i) for i in range(3)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = [r for r in stream_records(tables) if r["eventName"] == "INSERT"]
    send_failure(failure_queue, records)
    stream = PagedStream([dict(r, eventSourceARN=None) for r in records], empty_pages=10)
    monkeypatch.setattr(stream_failures.StreamReader, "client", property(lambda self: stream))
    monkeypatch.setattr(stream_failures, "EMPTY_PAGE_PAUSE_SECONDS", 0)

    # When the queue is replayed
    status, lines = run(capsys, "summaries", "replay", "--queue-url", failure_queue)

    # Then the range was read to its end, every charge counted, and the message deleted
    assert status == 0, lines
    assert (reports(lines)[0]["status"], reports(lines)[0]["records"]) == ("replayed", 3)
    assert summaries(tables)[("local", "u#ada")].charges.total == 7
    assert queue_depth(failure_queue) == 0


def test_a_range_that_cannot_be_read_to_its_end_stays_in_the_queue(tables, failure_queue, capsys, monkeypatch):
    # Given a message for three records of a shard that closes after the second one
    charges = [recent_charge("ada", amount=2**i) for i in range(3)]
    put_charges(tables.client, tables.names["ChargesTable"], charges)
    records = [r for r in stream_records(tables) if r["eventName"] == "INSERT"]
    send_failure(failure_queue, records)
    stream = PagedStream([dict(r, eventSourceARN=None) for r in records], empty_pages=0, closes_after=2)
    monkeypatch.setattr(stream_failures.StreamReader, "client", property(lambda self: stream))

    # When the queue is replayed
    status, lines = run(capsys, "summaries", "replay", "--queue-url", failure_queue)

    # Then it is reported incomplete, nothing is counted from it, the message stays, and the command fails
    assert status == 1
    assert (reports(lines)[0]["status"], reports(lines)[0]["records"]) == ("incomplete", 2)
    assert summaries(tables) == {}
    assert queue_depth(failure_queue) == 1


def test_replay_without_a_queue_is_a_usage_error(tables, monkeypatch, capsys):
    monkeypatch.delenv("SUMMARIZE_FAILURE_QUEUE_URL", raising=False)
    assert main(["summaries", "replay"]) == 2
    assert "SUMMARIZE_FAILURE_QUEUE_URL" in capsys.readouterr().err


def test_a_summary_without_any_charge_is_reported_but_never_repaired_away(tables, capsys):
    summarized_through_the_stream(tables, [charge("ada", amount=5)])
    # Given a summary whose charges were deleted by hand (charges are never deleted by the application)
    for item in tables.charges():
        tables.client.delete_item(TableName=tables.names["ChargesTable"], Key={"PK": item["PK"], "SK": item["SK"]})

    status, lines = run(capsys, "summaries", "rebuild", "--project", "local", "--repair")

    assert status == 1
    [report] = reports(lines)
    assert report["differences"]["charges.count"] == {"stored": 1, "recomputed": 0}
    assert report["repaired"] is False
    assert summaries(tables)[("local", "u#ada")].charges.count == 1


def test_rebuild_of_a_customer_the_project_does_not_have_says_so_and_fails(tables, capsys):
    status = main(["summaries", "rebuild", "--project", "local", "--user-id", "nobody"])

    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.strip() == "error: project local has no customer with user_id nobody"
    assert "checked" not in captured.out
