"""Chaos: every charge counts exactly once in its summary, whatever the platform does to the stream.

Per seed: 2,000 charges (12,000 over the default six seeds) of 110 customers (user ids and e-mails,
single and bulk, with and without update_session, received out of order) are stored through the
charges repository and read back from moto's stream with the dynamodbstreams API. A poller that
behaves like Lambda's event source mapping (random batch sizes, checkpoint at the lowest reported
failure, bisect after a crash) delivers them to the stream handler while faults are injected:

- records delivered twice (inside a batch, and the poller rewinding over records already done);
- a whole batch retried after the handler wrote its summaries (an invocation that timed out late);
- the handler killed after N transactions (nothing in it can catch the runtime ending);
- customers whose writes keep failing (throttling, transaction conflicts): partial batch failures,
  retried from the reported item;
- responses lost after a transaction committed (timeouts: did it happen or not?);
- a second invocation writing the same customers between the first one's read and its write.

After every run, each summary equals the summary recomputed from the stored charges, field by
field (what the endpoint shows and the state later folds depend on), and every charge is marked.
"""

import os
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from beacon.dal import aws
from beacon.dal.charges import ChargesRepository
from beacon.dal.items import charge_from_item, charge_key
from beacon.dal.summaries import SummariesRepository
from beacon.logic.fold import summarize
from beacon.models.records import ChargeRecord
from beacon.models.summary import StoredSummary
from beacon.observability import metrics
from functions.summarize_charges.app import lambda_handler
from local import moto_fixes
from ops.rebuild import summary_fields
from ops.stream_failures import StreamReader
from tests.builders import FakeLambdaContext
from tests.stream_builders import T0, expected_summaries, stored_summaries

# More seeds for a deeper run: CHAOS_SEEDS=100 pytest tests/integration/test_chaos.py
SEEDS = range(int(os.environ.get("CHAOS_SEEDS", "6")))
CUSTOMERS = 110
CHARGES_PER_SEED = 2_000
FAULTS = ("none", "duplicates", "retry_whole", "kill", "failing_customers", "lost_responses", "interleave", "rewind")


class HandlerKilled(BaseException):
    """The runtime ending an invocation (timeout, out of memory): an exception the handler cannot catch."""


# ---------------------------------------------------------------- moto, faster


@pytest.fixture
def item_level_rollback() -> Iterator[None]:
    """The local stack's fix of moto's transactions (local/moto_fixes.py), applied in this process.

    moto copies every table a transaction touches before running it, which makes each transaction
    cost the size of the charges table (and of its stream): tens of ms at 1,000 items. The fix
    remembers the items the transaction names and puts them back on failure: the same all-or-nothing
    outcome, so that the thousands of transactions of a run take seconds.
    ``test_item_level_rollback_undoes_what_moto_undoes`` checks the two against each other.
    """
    moto_fixes.apply()
    try:
        yield
    finally:
        moto_fixes.remove()


# ---------------------------------------------------------------- the charges


def make_charges(rng: random.Random, count: int) -> list[ChargeRecord]:
    """Charges as the write path stores them: 2/3 of the customers by user id, 1/3 by e-mail only."""
    customers = [f"user-{i}" for i in range(CUSTOMERS * 2 // 3)]
    customers += [f"buyer{i}@example.com" for i in range(CUSTOMERS - len(customers))]
    charges: list[ChargeRecord] = []
    clock = T0
    while len(charges) < count:
        clock += rng.randint(0, 240)
        customer = customers[len(charges) % CUSTOMERS] if len(charges) < CUSTOMERS else rng.choice(customers)
        by_email = "@" in customer
        bulk = rng.random() < 0.12
        received_at = clock - rng.randint(0, 90)  # several API instances: receipt times arrive out of order
        for _ in range(rng.randint(2, 130) if bulk else 1):
            charges.append(
                ChargeRecord(
                    project_id=rng.choice(["local", "local", "globex"]) if not bulk else "local",
                    customer_id=f"e#{customer}" if by_email else f"u#{customer}",
                    charge_id=f"{rng.getrandbits(128):032x}",
                    user_id=None if by_email else customer,
                    email=customer
                    if by_email
                    else rng.choice([None, f"{customer}@example.com", f"{customer}@new.example"]),
                    amount=rng.randint(0, 100_000),
                    created_at=received_at - (rng.randint(0, 10**7) if bulk else rng.randint(0, 5)),
                    received_at=received_at,
                    update_session=rng.random() < (0.3 if bulk else 0.85),
                )
            )
    return charges


def store(charges: list[ChargeRecord], table: str) -> None:
    """Write charges the way the two endpoints do: singles one by one, a bulk request's charges together."""
    repository = ChargesRepository(table)
    index = 0
    while index < len(charges):
        end = index + 1
        while end < len(charges) and charges[end].received_at == charges[index].received_at:
            end += 1
        assert repository.add(charges[index:end], skip_existing=False) == end - index
        index = end


# ---------------------------------------------------------------- faults


class FaultyTransactions:
    """Wraps the DynamoDB client's transact_write_items with the fault of the current invocation."""

    def __init__(self, client: Any) -> None:
        self.real = client.transact_write_items
        self.mode = "none"
        self.rng = random.Random(0)
        self.calls = 0
        self.kill_after = 0
        self.failing: set[str] = set()
        self.interleave: Any = None
        self.seen: Counter[str] = Counter()

    @contextmanager
    def injecting(self, mode: str, rng: random.Random, customers: set[str], interleave: Any = None) -> Iterator[None]:
        self.mode, self.rng, self.calls, self.interleave = mode, rng, 0, interleave
        self.kill_after = rng.randint(0, max(0, len(customers) - 1))
        self.failing = set(rng.sample(sorted(customers), k=max(1, len(customers) // 3)))
        try:
            yield
        finally:
            self.mode = "none"

    def __call__(self, **kwargs: Any) -> Any:
        customer = kwargs["TransactItems"][0]["Put"]["Item"]["customer_id"]["S"]
        self.calls += 1
        if self.mode == "kill" and self.calls > self.kill_after:
            self.seen["kill"] += 1
            raise HandlerKilled
        if self.mode == "failing_customers" and customer in self.failing:
            self.seen["failing_customers"] += 1
            raise self._refusal(len(kwargs["TransactItems"]))
        if self.mode == "interleave" and self.interleave is not None:
            second, self.interleave, self.mode = self.interleave, None, "none"
            self.seen["interleave"] += 1
            second()  # another invocation writes the same customers between this one's read and its write
        response = self.real(**kwargs)
        if self.mode == "lost_responses" and self.rng.random() < 0.4:
            self.seen["lost_responses"] += 1
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        return response

    def _refusal(self, items: int) -> ClientError:
        if self.rng.random() < 0.5:
            return ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}},
                "TransactWriteItems",
            )
        reasons = [{"Code": "TransactionConflict", "Message": "injected"}] + [{"Code": "None"}] * (items - 1)
        return ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "injected"},
                "CancellationReasons": reasons,  # type: ignore[typeddict-unknown-key]
            },
            "TransactWriteItems",
        )


# ---------------------------------------------------------------- the poller


def invoke(records: list[dict[str, Any]]) -> dict[str, Any]:
    # With POWERTOOLS_METRICS_DISABLED, Powertools never clears its metric set; at 100 values of one
    # metric it serialises them on its own and needs a namespace that was not set at import time.
    metrics.clear_metrics()
    return lambda_handler({"Records": records}, FakeLambdaContext())


def sequence(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]


def customers_of(records: list[dict[str, Any]]) -> set[str]:
    return {r["dynamodb"]["NewImage"]["customer_id"]["S"] for r in records}


def deliver_with_chaos(
    records: list[dict[str, Any]], faults: FaultyTransactions, rng: random.Random, max_batch: int
) -> Counter[str]:
    """Deliver the shard's records until all are checkpointed, as Lambda would, with a fault per invocation."""
    position, limit, invocations = 0, 10**9, 0
    schedule = list(FAULTS)  # every fault at least once, then at random
    happened: Counter[str] = Counter()
    while position < len(records):
        invocations += 1
        assert invocations < 20 * len(records), "the poller makes no progress"
        fault = schedule.pop(0) if schedule else rng.choice(FAULTS)
        window = records[position : position + min(limit, rng.randint(1, max_batch))]
        batch = window
        if fault == "rewind":  # the stream hands out records it had delivered already
            position = max(0, position - rng.randint(1, 300))
            happened[fault] += 1
            continue
        if fault == "duplicates":
            batch = sorted(window + rng.sample(window, k=rng.randint(1, len(window))), key=lambda r: int(sequence(r)))
        interleaved = [r for r in records if r["dynamodb"]["NewImage"]["customer_id"]["S"] in customers_of(batch)]
        second = rng.sample(interleaved, k=min(len(interleaved), rng.randint(1, 60)))
        with faults.injecting(fault, rng, customers_of(batch), interleave=lambda second=second: invoke(second)):
            try:
                response = invoke(batch)
            except HandlerKilled:
                happened["kill"] += 1
                limit = max(1, len(window) // 2)  # BisectBatchOnFunctionError: the batch is split and retried
                continue
        limit = 10**9
        happened[fault] += 1
        if fault == "retry_whole":
            continue  # the invocation timed out after writing: Lambda delivers the same batch again
        failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        if failed:
            happened["partial_failure"] += 1
            lowest = min(failed, key=int)
            position += next(i for i, r in enumerate(window) if sequence(r) == lowest)
        else:
            position += len(window)
    return happened


def assert_exactly_once(tables: Any, seed: int) -> None:
    stored_items = tables.charges()
    charges = [charge_from_item(item) for item in stored_items]
    unmarked = [item["charge_id"]["S"] for item in stored_items if "summarized_at" not in item]
    assert not unmarked, f"seed {seed}: {len(unmarked)} charges never summarized"
    expected = expected_summaries(charges)
    stored = stored_summaries(tables.client, tables.names["SummariesTable"])
    assert set(stored) == set(expected), f"seed {seed}: summaries of {set(stored) ^ set(expected)}"
    for key, summary in expected.items():
        actual, wanted = summary_fields(stored[key].summary), summary_fields(summary)
        differing = {name: (actual[name], wanted[name]) for name in wanted if actual[name] != wanted[name]}
        assert not differing, f"seed {seed}, customer {key}: (stored, recomputed) {differing}"


def run(tables: Any, seed: int, count: int, monkeypatch: pytest.MonkeyPatch, max_batch: int = 300) -> Counter[str]:
    rng = random.Random(seed)
    monkeypatch.setattr(aws, "backoff_delay", lambda attempt: 0.0)
    charges = make_charges(rng, count)
    store(charges, tables.names["ChargesTable"])
    arn = tables.client.describe_table(TableName=tables.names["ChargesTable"])["Table"]["LatestStreamArn"]
    records = StreamReader(boto3.client("dynamodbstreams", region_name="us-east-1")).read_new(arn, {})
    assert len(records) == len(charges)
    faults = FaultyTransactions(aws.dynamodb_client())
    monkeypatch.setattr(aws.dynamodb_client(), "transact_write_items", faults)
    happened = deliver_with_chaos(records, faults, rng, max_batch)
    assert_exactly_once(tables, seed)
    return happened + faults.seen


@pytest.mark.parametrize("seed", SEEDS)
def test_every_charge_counts_exactly_once_whatever_the_faults(tables, item_level_rollback, monkeypatch, seed):
    happened = run(tables, seed, CHARGES_PER_SEED, monkeypatch)
    # The run really went through every kind of fault (a chaos test that injects nothing proves nothing)
    for fault in (*FAULTS, "partial_failure"):
        if fault != "none":
            assert happened[fault] > 0, f"seed {seed}: no {fault}"


def cancelled_transaction_outcome(tables: Any, seed: int) -> tuple[Any, ...]:
    """A transaction whose last condition fails after a Put and an Update succeeded: what is left of it."""
    rng = random.Random(seed)
    fresh, done = charge_pair = [make_charges(rng, 1)[0], make_charges(rng, 1)[0]]
    store(charge_pair, tables.names["ChargesTable"])
    tables.client.update_item(
        TableName=tables.names["ChargesTable"],
        Key=charge_key(done),
        UpdateExpression="SET summarized_at = :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    repository = SummariesRepository(tables.names["SummariesTable"], tables.names["ChargesTable"], client=tables.client)
    summary = StoredSummary(fresh.project_id, fresh.customer_id, summarize(charge_pair, session_timeout=1800), 1)
    result = repository.commit(summary, expected_version=None, charges=charge_pair, now=2)
    items = {item["charge_id"]["S"]: item for item in tables.charges()}
    return (
        result.committed,
        result.already_summarized == {done.charge_id},
        repository.get(fresh.project_id, fresh.customer_id),
        "summarized_at" in items[fresh.charge_id],
        items[done.charge_id]["summarized_at"],
    )


def test_item_level_rollback_undoes_what_moto_undoes(tables):
    # moto's own rollback: the summary Put and the first marker are undone, the old marker stays
    with_moto = cancelled_transaction_outcome(tables, seed=1)
    assert with_moto == (False, True, None, False, {"N": "1"})
    moto_fixes.apply()
    try:
        assert cancelled_transaction_outcome(tables, seed=2) == with_moto
    finally:
        moto_fixes.remove()
