"""Moving summaries of the first layout (one partition key per project) to one per customer, while the stream runs.

A stack upgraded from the first layout holds old summaries under ``P#<project>`` / ``C#<customer>``.
Until ``beacon summaries migrate`` moves them, the read endpoint reads them there, and the stream
recomputes a customer it finds no new summary for. The migration registers each customer, recomputes
the ones the stream has not, and deletes the old items; run while charges keep arriving, nothing is
lost and nothing counted twice.
"""

from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from beacon.dal.summary_items import legacy_summary_key, summary_item
from beacon.logic import seen
from beacon.logic.fold import summarize
from beacon.models.records import ChargeRecord
from beacon.models.stored import SeenWindow, StoredSummary
from beacon.services import summarize_batch
from functions.get_summary.app import lambda_handler as get_summary
from ops import migrate as migrate_module
from ops.main import main
from tests.builders import call, http_event
from tests.conftest import SECRET_KEY
from tests.stream_builders import T0, charge, charge_records, put_charges, stored_summaries


def old_summary(tables, charges: list[ChargeRecord]) -> None:
    """A customer's summary as the first layout stored it: counted, with its window, under the project's key."""
    first = charges[0]
    window = seen.add(SeenWindow(since=T0 - 5_000), seen.by_bucket((c.charge_id, c.received_at) for c in charges))[0]
    stored = StoredSummary(
        first.project_id, first.customer_id, summarize(charges, session_timeout=1800), version=len(charges), seen=window
    )
    item = {**summary_item(stored, updated_at=T0), **legacy_summary_key(first.project_id, first.customer_id)}
    tables.client.put_item(TableName=tables.names["SummariesTable"], Item=item)


def legacy_items(tables) -> list[dict[str, Any]]:
    items = tables.items("SummariesTable")
    return [i for i in items if i["type"]["S"] == "summary" and i["SK"]["S"] != "SUMMARY"]


def deliver(charges: list[ChargeRecord]) -> None:
    records = [DynamoDBRecord(r) for r in charge_records(charges, created_at=T0 + 61)]
    assert not summarize_batch.process_stream_records(records).failed


def read(user_id: str) -> Any:
    headers = {"authorization": f"Bearer {SECRET_KEY}"}
    return call(get_summary, http_event("get_summary.json", headers=headers, query={"user_id": user_id}))


def test_an_old_summary_is_read_where_it_is_until_it_is_moved(tables):
    ada = [charge("ada", amount=5, received_at=T0), charge("ada", amount=7, received_at=T0 + 30)]
    put_charges(tables.client, tables.names["ChargesTable"], ada)
    old_summary(tables, ada)

    answer = read("ada")

    assert answer.status == 200, answer.body
    assert (answer.body["data"]["charges"]["count"], answer.body["data"]["charges"]["total"]) == (2, 12)


def test_migrating_while_the_stream_runs_loses_nothing_and_counts_nothing_twice(tables, capsys, monkeypatch):
    # Given three customers of the first layout, each with its charges counted in an old summary
    customers = {name: [charge(name, amount=2**i, received_at=T0 + i) for i in range(3)] for name in ("a", "b", "c")}
    for charges in customers.values():
        put_charges(tables.client, tables.names["ChargesTable"], charges)
        old_summary(tables, charges)
    # and new charges arriving while the migration runs: b's before it reaches b, c's after, a's redelivered
    later = {"b": charge("b", amount=2**10, received_at=T0 + 50), "c": charge("c", amount=2**11, received_at=T0 + 55)}
    put_charges(tables.client, tables.names["ChargesTable"], list(later.values()))
    real_recompute = migrate_module.recompute_customer
    steps: list[str] = []

    def stream_runs_meanwhile(context: Any, key: tuple[str, str]) -> Any:
        steps.append(key[1])
        if key[1] == "u#b":
            deliver([later["b"], *customers["a"]])  # the stream recomputes b first; a's records come again
        written = real_recompute(context, key)
        if key[1] == "u#c":
            deliver([later["c"]])  # after c is moved: folded into its new summary
        return written

    monkeypatch.setattr(migrate_module, "recompute_customer", stream_runs_meanwhile)

    # When the summaries are migrated
    assert main(["summaries", "migrate"]) == 0
    report = capsys.readouterr().out

    # Then every customer has one summary in the new layout, registered, counting each of its charges once
    assert legacy_items(tables) == []
    stored = stored_summaries(tables.client, tables.names["SummariesTable"])
    totals = {customer: s.summary.charges.total for (_, customer), s in stored.items()}
    assert totals == {"u#a": 7, "u#b": 7 + 2**10, "u#c": 7 + 2**11}
    assert {customer: s.summary.charges.count for (_, customer), s in stored.items()} == {
        "u#a": 3,
        "u#b": 4,
        "u#c": 4,
    }
    assert sorted(c for _, c in summarize_batch.repository().customers("local")) == ["u#a", "u#b", "u#c"]
    assert "3 customer(s) of the first layout" in report
    # And a second run finds nothing left to move
    assert main(["summaries", "migrate"]) == 0
    assert "0 customer(s) of the first layout" in capsys.readouterr().out


@pytest.mark.parametrize("layout", ["old", "new"])
def test_the_stream_counts_a_customer_of_either_layout_once(tables, layout):
    # Given a customer counted in a summary of the old layout, or already moved to the new one
    ada = [charge("ada", amount=1, received_at=T0), charge("ada", amount=2, received_at=T0 + 10)]
    put_charges(tables.client, tables.names["ChargesTable"], ada)
    old_summary(tables, ada)
    if layout == "new":
        assert main(["summaries", "migrate"]) == 0

    # When a new charge and an old one are delivered
    new = charge("ada", amount=4, received_at=T0 + 20)
    put_charges(tables.client, tables.names["ChargesTable"], [new])
    deliver([new, ada[0]])

    # Then the new summary counts each charge once
    [stored] = [
        s for (_, c), s in stored_summaries(tables.client, tables.names["SummariesTable"]).items() if c == "u#ada"
    ]
    assert (stored.summary.charges.count, stored.summary.charges.total) == (3, 7)
