"""DynamoDB work per charge: requests and capacity units of the real handlers, against the floors and a naive design.

The handlers run in process against moto (``mock_aws``) with the tables of template.yaml. Every call the
code makes goes through one boto3 client with botocore hooks that count requests and compute the capacity
units from the items' sizes with DynamoDB's documented rules (moto's own ``ConsumedCapacity`` is not
size-aware; the items before and after a write are read straight from moto's backend): a write is 1 unit
per started KB of the larger of the item before and after, a strongly consistent read 1 unit per started
4 KB (eventually consistent: half), a transactional write or read twice that, a batch counts each item on
its own, a Query counts the items it returns together.

Prices: us-east-1 on-demand, $0.625 per million write request units and $0.125 per million read request
units, as documented in 2025. Lambda's reads of the stream are free and not counted.
"""

import json
import math
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from benchmarks.dynamodb_units import Item, item_size
from benchmarks.harness import T0, bulk_event, charge_item, http_event
from benchmarks.metering import Work
from benchmarks.moto_stack import Stack, moto_stack
from local import sam

BATCH_WRITE_LIMIT = 25


@dataclass
class Scenario:
    """Measured work beside its floor and the naive design's, for the same charges."""

    name: str
    measured: Work
    floor: Work
    naive: Work | None = None
    note: str = ""


@dataclass
class CapacityReport:
    """Every scenario, and whether the summaries after the day equal what the charges say."""

    scenarios: list[Scenario]
    day_charges: int
    day_customers: int
    day_requests: int
    stream_batch_size: int
    summaries_verified: bool
    verification_note: str


def _single_event(
    customer: str, amount: int, idempotency_key: str | None = None, charge_id: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": customer, "amount": amount}
    if charge_id is not None:
        body["charge_id"] = charge_id
    event = http_event("create_charge.json", body)
    if idempotency_key:
        event["headers"]["idempotency-key"] = idempotency_key
    return event


def _bulk_for(customer: str, amounts: list[int], *, named: bool = False) -> dict[str, Any]:
    event = bulk_event(len(amounts))
    body = json.loads(event["body"])
    body["user_id"] = customer
    for index, (charge, amount) in enumerate(zip(body["charges"], amounts, strict=True)):
        charge["amount"] = amount
        if named:
            charge["charge_id"] = f"order-{index}"
    event["body"] = json.dumps(body)
    return event


def _write_floor(charges: int, requests: Counter[str]) -> Work:
    return Work(charges, requests, float(charges), 0.0)


def _stored_floor(charges: int, requests: Counter[str]) -> Work:
    """Charges sent again under their charge_id: a strongly consistent read each, to know they are stored."""
    return Work(charges, requests, 0.0, float(charges))


def _stream_floor(charges: int, customer_batches: int) -> Work:
    return Work(charges, Counter({"summary write": customer_batches}), float(customer_batches), 0.0)


def _naive_stream(charges: int) -> Work:
    return Work(charges, Counter({"UpdateItem": charges}), float(charges), 0.0)


def stream_batch_size() -> int:
    """The event source mapping's BatchSize in template.yaml (100, Lambda's default, if none)."""
    for spec in sam.functions().values():
        for event in spec.events.values():
            if event.get("Type") == "DynamoDB":
                return int(event["Properties"].get("BatchSize", 100))
    return 100


def measure(
    *,
    day_charges: int = 10_000,
    day_customers: int = 1_000,
    bulk_sizes: tuple[int, ...] = (100, 1000),
    heavy_charges: int = 100_000,
    seed: int = 7,
) -> CapacityReport:
    """The scenarios of docs/benchmarks.md, on the real handlers; ``day_*`` scales the realistic day."""
    rng = random.Random(seed)
    batch_size = stream_batch_size()
    with moto_stack() as stack:
        has_stream = "summarize_charges" in stack.handlers
        scenarios = _request_scenarios(stack, bulk_sizes)
        if has_stream:
            scenarios += _stream_scenarios(stack, heavy_charges)
        stack.meter.written_charges.clear()
        plan = _day_plan(rng, day_charges)
        expected = _send_day(stack, rng, plan, [f"day_{i}" for i in range(day_customers)])
        day_write = stack.meter.take(day_charges)
        write_floor = _write_floor(day_charges, _day_floor_requests(plan))
        scenarios.append(Scenario("day: write path", day_write, write_floor))
        verified, note = False, "no stream handler in template.yaml"
        if has_stream:
            scenarios += _day_stream_scenarios(stack, day_charges, batch_size, day_write, write_floor)
            verified, note = _verify(stack, expected)
        return CapacityReport(
            scenarios=scenarios,
            day_charges=day_charges,
            day_customers=day_customers,
            day_requests=len(plan),
            stream_batch_size=batch_size,
            summaries_verified=verified,
            verification_note=note,
        )


def _request_scenarios(stack: Stack, bulk_sizes: tuple[int, ...]) -> list[Scenario]:
    """One request of each kind: a single charge, with an Idempotency-Key, bulks of each size."""
    meter = stack.meter
    # Prime the key cache (one GetItem per key and container every API_KEY_CACHE_TTL_SECONDS).
    stack.call("create_charge", _single_event("warmup", 1))
    key_lookup = meter.take(1)
    stack.call("create_charge", _single_event("alice", 4999))
    scenarios = [
        Scenario(
            "single charge (POST /charges)",
            meter.take(1),
            _write_floor(1, Counter({"PutItem": 1})),
            note=f"a container's first request with a key also reads it: {key_lookup.requests['GetItem']} "
            f"GetItem, {key_lookup.read_units:g} read unit (eventually consistent), then not again for "
            "API_KEY_CACHE_TTL_SECONDS",
        )
    ]
    stack.call("create_charge", _single_event("alice", 4999, idempotency_key=uuid.uuid4().hex))
    scenarios.append(
        Scenario(
            "single charge with Idempotency-Key",
            meter.take(1),
            _write_floor(1, Counter({"PutItem": 1})),
            note="Powertools idempotency: one conditional PutItem (in progress) and one UpdateItem (completed)",
        )
    )
    for size in bulk_sizes:
        stack.call("bulk_charges", _bulk_for(f"bulk_{size}", [100] * size))
        floor = _write_floor(size, Counter({"BatchWriteItem": math.ceil(size / BATCH_WRITE_LIMIT)}))
        scenarios.append(Scenario(f"bulk of {size} (POST /charges/bulk)", meter.take(size), floor))
    return scenarios + _charge_id_scenarios(stack, bulk_sizes)


def _charge_id_scenarios(stack: Stack, bulk_sizes: tuple[int, ...]) -> list[Scenario]:
    """Charges carrying the client's charge_id: new, and sent again (stored once, never overwritten)."""
    meter = stack.meter
    scenarios = []
    stack.call("create_charge", _single_event("named", 4999, charge_id="order-1"))
    scenarios.append(Scenario("charge_id: single charge", meter.take(1), _write_floor(1, Counter({"PutItem": 1}))))
    stack.call("create_charge", _single_event("named", 4999, charge_id="order-1"))
    scenarios.append(
        Scenario(
            "charge_id: single charge, sent again",
            meter.take(1),
            _stored_floor(1, Counter({"GetItem": 1})),
            note="the conditional PutItem that stores a new charge finds this one stored: the refused condition "
            "costs its write unit (a read first would cost every new charge a read unit), and the refusal carries "
            "the stored item to compare (ALL_OLD)",
        )
    )
    for size in bulk_sizes:
        for again in (False, True):
            stack.call("bulk_charges", _bulk_for(f"named_bulk_{size}", [100] * size, named=True))
            calls = math.ceil(size / 100)
            if again:
                floor = _stored_floor(size, Counter({"BatchGetItem": calls}))
            else:
                floor = _write_floor(size, Counter({"PutItem": size}))
            note = (
                "every charge is found stored by the read: nothing is written"
                if again
                else "one consistent BatchGetItem per 100 charges first (a conflict writes nothing), then one "
                "conditional PutItem per new charge, 10 in flight"
            )
            name = f"charge_id: bulk of {size}" + (", sent again" if again else "")
            scenarios.append(Scenario(name, meter.take(size), floor, note=note))
    return scenarios


def _stream_scenarios(stack: Stack, heavy_charges: int) -> list[Scenario]:
    """Stream batches of 100 records over 10 and 100 customers, a batch of one record, a batch delivered
    again, and a heavy customer: an import of ``heavy_charges`` charges of one customer in ten minutes."""
    scenarios = []
    for records, spread in ((100, 10), (100, 100), (1, 1)):
        items = [_stream_item(f"s{records}_{spread}_{i % spread}", 100, i) for i in range(records)]
        _store(stack, items)
        stack.summarize(items)
        scenarios.append(
            Scenario(
                f"stream batch of {records} record(s) over {spread} customer(s)",
                stack.meter.take(records),
                _stream_floor(records, spread),
                _naive_stream(records),
            )
        )
        if spread == 10:
            stack.summarize(items)  # Lambda retries the whole batch (a timeout after the writes)
            scenarios.append(
                Scenario(
                    "the same batch delivered again",
                    stack.meter.take(records),
                    Work(records, Counter(), 0.0, 0.0),
                    _naive_stream(records),
                    note="every record is a duplicate: the summaries are read, nothing is written",
                )
            )
    scenarios.append(_heavy_customer(stack, heavy_charges))
    return scenarios


def _heavy_customer(stack: Stack, charges: int) -> Scenario:
    """One customer's historical import: ``charges`` charges received over ten minutes, in full stream batches."""
    batch_size = stream_batch_size()
    items = [_stream_item("heavy", 100, i * 600 // charges) for i in range(charges)]
    for start in range(0, charges, batch_size):
        stack.summarize(items[start : start + batch_size])
    work = stack.meter.take(charges)
    summary = stack.summaries().get("u#heavy")
    size = item_size(summary) if summary else 0
    counted = int(summary["charge_count"]["N"]) if summary else 0
    batches = math.ceil(charges / batch_size)
    return Scenario(
        f"heavy customer: {charges:,} charges in ten minutes",
        work,
        _stream_floor(charges, batches),
        _naive_stream(charges),
        note=f"one customer, {batches} batches of {batch_size}; its summary counts {counted:,} charges and ends "
        f"at {size:,} bytes, the counted ids beyond 40 going to seen items written in the same transaction",
    )


def _day_plan(rng: random.Random, day_charges: int) -> list[tuple[str, int]]:
    """The realistic day: 80% of the charges sent one by one, 20% in bulks of 1 to 50, in random order."""
    plan: list[tuple[str, int]] = [("single", 1)] * int(day_charges * 0.8)
    left = day_charges - len(plan)
    while left > 0:
        size = min(left, rng.randint(1, 50))
        plan.append(("bulk", size))
        left -= size
    rng.shuffle(plan)
    return plan


def _send_day(
    stack: Stack, rng: random.Random, plan: list[tuple[str, int]], customers: list[str]
) -> dict[str, tuple[int, int]]:
    """Send the day's requests for customers at random; the (count, total) each customer should end with."""
    expected: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for kind, size in plan:
        customer = rng.choice(customers)
        amounts = [rng.randint(1, 100_000) for _ in range(size)]
        if kind == "single":
            stack.call("create_charge", _single_event(customer, amounts[0]))
        else:
            stack.call("bulk_charges", _bulk_for(customer, amounts))
        count, total = expected[customer]
        expected[customer] = (count + size, total + sum(amounts))
    return expected


def _day_floor_requests(plan: list[tuple[str, int]]) -> Counter[str]:
    return Counter(
        {
            "PutItem": sum(1 for kind, _ in plan if kind == "single"),
            "BatchWriteItem": sum(math.ceil(size / BATCH_WRITE_LIMIT) for kind, size in plan if kind == "bulk"),
        }
    )


def _day_stream_scenarios(
    stack: Stack, day_charges: int, batch_size: int, day_write: Work, write_floor: Work
) -> list[Scenario]:
    """The day's charges through the stream in full batches, and the day's total."""
    written = list(stack.meter.written_charges)
    pairs = 0
    for start in range(0, len(written), batch_size):
        batch = written[start : start + batch_size]
        pairs += len({item["PK"]["S"] for item in batch})
        stack.summarize(batch)
    day_stream = stack.meter.take(day_charges)
    return [
        Scenario(
            f"day: stream, full batches of {batch_size}",
            day_stream,
            _stream_floor(day_charges, pairs),
            _naive_stream(day_charges),
            note=f"{pairs} (customer, batch) pairs",
        ),
        Scenario(
            "day: total (write path + stream, full batches)",
            day_write.plus(day_stream),
            write_floor.plus(_stream_floor(day_charges, pairs)),
            day_write.plus(_naive_stream(day_charges)),
        ),
    ]


def _stream_item(customer: str, amount: int, offset: int) -> Item:
    return charge_item(customer, amount, T0 + offset)


def _store(stack: Stack, items: list[Item]) -> None:
    for item in items:
        stack.inspector.put_item(TableName=stack.tables["ChargesTable"], Item=item)


def _verify(stack: Stack, expected: dict[str, tuple[int, int]]) -> tuple[bool, str]:
    summaries = stack.summaries()
    wrong = []
    for customer, (count, total) in expected.items():
        item = summaries.get(f"u#{customer}")
        got = (int(item["charge_count"]["N"]), int(item["charge_total"]["N"])) if item else (0, 0)
        if got != (count, total):
            wrong.append(customer)
    if wrong:
        return False, f"{len(wrong)} of {len(expected)} summaries differ from the charges sent, e.g. {wrong[:3]}"
    return True, f"all {len(expected)} summaries equal the count and total of the charges sent"
