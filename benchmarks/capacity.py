"""DynamoDB work per charge: requests and capacity units of the real handlers, against the floors and a naive design.

The handlers run in process against moto with the tables of template.yaml, their client metered by
``benchmarks.metering``: one request of each kind, stream batches, the realistic day (the write path and the stream
following it in full batches), the listing of the day's customers, and a loyal customer's summary over a year.
"""

import json
import math
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from beacon.dal.items import charge_item
from beacon.dal.summaries import SummariesRepository
from beacon.dal.summary_items import summary_key
from beacon.logic.identity import identify_customer
from beacon.logic.seen import WindowLimits
from benchmarks.capacity_model import load_settings
from benchmarks.harness import T0, bulk_event, charge, http_event
from benchmarks.metering import Item, Work, item_size
from benchmarks.moto_stack import Stack, moto_stack

BATCH_WRITE_LIMIT = 25
DAY = 86_400


@dataclass
class Scenario:
    """Measured work beside its floor and the naive design's, for the same charges."""

    name: str
    measured: Work
    floor: Work
    naive: Work | None = None
    note: str = ""


@dataclass(frozen=True)
class Phase:
    """Part of the loyal customer's life: its summary writes, their write units, the summary item's size."""

    name: str
    writes: int
    summary_units: float
    seen_units: float
    largest_bytes: int
    last_bytes: int


@dataclass
class CapacityReport:
    """Every scenario, whether the summaries after the day equal what the charges say, listing and loyalty."""

    scenarios: list[Scenario]
    day_charges: int
    day_customers: int
    day_requests: int
    stream_batch_size: int
    summaries_verified: bool
    verification_note: str
    listing: Work = field(default_factory=Work)
    """The read of the whole registry after the day (``charges``: the customers listed)."""
    loyal: list[Phase] = field(default_factory=list)


def _single_event(customer: str, amount: int, *, idempotency_key: str = "", charge_id: str = "") -> dict[str, Any]:
    event = http_event("create_charge.json", {"user_id": customer, "amount": amount} | _named(charge_id))
    event["headers"] |= {"idempotency-key": idempotency_key} if idempotency_key else {}
    return event


def _named(charge_id: str) -> dict[str, str]:
    return {"charge_id": charge_id} if charge_id else {}


def _bulk(customer: str, amounts: list[int], *, named: bool = False) -> dict[str, Any]:
    event = bulk_event(len(amounts), customer, amounts)
    body = json.loads(event["body"])
    body["charges"] = [c | _named(f"order-{i}" if named else "") for i, c in enumerate(body["charges"])]
    return event | {"body": json.dumps(body)}


def _floor(charges: int, requests: dict[str, int], *, writes: float = 0.0, reads: float = 0.0) -> Work:
    return Work(charges, Counter(requests), writes, reads)


def _stream_floor(charges: int, pairs: int, new_customers: int = 0) -> Work:
    """One summary write per customer per batch, one registry entry per new customer."""
    requests = Counter({"summary write": pairs, "registry entry": new_customers})
    return Work(charges, +requests, float(pairs + new_customers), 0.0)


def _naive_stream(charges: int) -> Work:
    return Work(charges, Counter({"UpdateItem": charges}), float(charges), 0.0)


def measure(
    *,
    day_charges: int = 10_000,
    day_customers: int = 1_000,
    bulk_sizes: tuple[int, ...] = (100, 1000),
    heavy_charges: int = 100_000,
    loyal_days: int = 365,
    loyal_import: int = 5_000,
    seed: int = 7,
) -> CapacityReport:
    """The scenarios of docs/benchmarks.md, on the real handlers; ``day_*`` scales the realistic day."""
    rng = random.Random(seed)
    batch_size = load_settings().batch_size  # the event source mapping's BatchSize in template.yaml
    with moto_stack() as stack:
        scenarios = _request_scenarios(stack, bulk_sizes) + _stream_scenarios(stack, heavy_charges, batch_size)
        plan = _day_plan(rng, day_charges)
        expected, day = _run_day(stack, rng, plan, [f"day_{i}" for i in range(day_customers)], batch_size)
        scenarios += day
        verified, note = _verify(stack, expected)
        listing = _list_customers(stack)
        loyal = _loyal_customer(stack, loyal_days, loyal_import, batch_size)
    return CapacityReport(scenarios, day_charges, day_customers, len(plan), batch_size, verified, note, listing, loyal)


def _request_scenarios(stack: Stack, bulk_sizes: tuple[int, ...]) -> list[Scenario]:
    """One request of each kind: a single charge, with an Idempotency-Key, bulks of each size."""
    meter = stack.meter
    # Prime the key cache (one GetItem per key and container every API_KEY_CACHE_TTL_SECONDS).
    stack.call("create_charge", _single_event("warmup", 1))
    key_lookup = meter.take(1)
    stack.call("create_charge", _single_event("alice", 4999))
    single = _floor(1, {"PutItem": 1}, writes=1)
    note = (
        f"a container's first request with a key also reads it: {key_lookup.requests['GetItem']} GetItem, "
        f"{key_lookup.read_units:g} read unit (eventually consistent), then not again for API_KEY_CACHE_TTL_SECONDS"
    )
    scenarios = [Scenario("single charge (POST /charges)", meter.take(1), single, note=note)]
    stack.call("create_charge", _single_event("alice", 4999, idempotency_key=uuid.uuid4().hex))
    note = "Powertools idempotency: one conditional PutItem (in progress) and one UpdateItem (completed)"
    scenarios.append(Scenario("single charge with Idempotency-Key", meter.take(1), single, note=note))
    for size in bulk_sizes:
        stack.call("bulk_charges", _bulk(f"bulk_{size}", [100] * size))
        floor = _floor(size, {"BatchWriteItem": math.ceil(size / BATCH_WRITE_LIMIT)}, writes=size)
        scenarios.append(Scenario(f"bulk of {size} (POST /charges/bulk)", meter.take(size), floor))
    return scenarios + _charge_id_scenarios(stack, bulk_sizes)


def _charge_id_scenarios(stack: Stack, bulk_sizes: tuple[int, ...]) -> list[Scenario]:
    """Charges carrying the client's charge_id: new, and sent again (stored once, never overwritten)."""
    meter = stack.meter
    stack.call("create_charge", _single_event("named", 4999, charge_id="order-1"))
    scenarios = [Scenario("charge_id: single charge", meter.take(1), _floor(1, {"PutItem": 1}, writes=1))]
    stack.call("create_charge", _single_event("named", 4999, charge_id="order-1"))
    note = (
        "the conditional PutItem finds the charge stored: the refused condition costs its write unit (reading first "
        "would cost every new charge a read unit) and returns the stored item to compare (ALL_OLD)"
    )
    again = _floor(1, {"GetItem": 1}, reads=1)
    scenarios.append(Scenario("charge_id: single charge, sent again", meter.take(1), again, note=note))
    named = (
        "a consistent BatchGetItem per 100 charges first (a conflict writes nothing), then a conditional PutItem per "
        "new charge, 10 in flight"
    )
    for size in bulk_sizes:
        stack.call("bulk_charges", _bulk(f"named_bulk_{size}", [100] * size, named=True))
        floor = _floor(size, {"PutItem": size}, writes=size)
        scenarios.append(Scenario(f"charge_id: bulk of {size}", meter.take(size), floor, note=named))

        stack.call("bulk_charges", _bulk(f"named_bulk_{size}", [100] * size, named=True))
        floor = _floor(size, {"BatchGetItem": math.ceil(size / 100)}, reads=size)
        note = "every charge is found stored by the read: nothing is written"
        scenarios.append(Scenario(f"charge_id: bulk of {size}, sent again", meter.take(size), floor, note=note))
    return scenarios


def _stream_scenarios(stack: Stack, heavy_charges: int, batch_size: int) -> list[Scenario]:
    """Stream batches of customers that have summaries (100 records over 10 and 100 customers, 1 over 1), the
    same batch delivered again, 100 new customers, and one customer's import of ``heavy_charges`` charges."""
    scenarios = []
    for records, spread in ((100, 10), (100, 100), (1, 1)):
        names = [f"s{records}_{spread}_{i}" for i in range(spread)]
        _summarize(stack, [charge(names[i % spread], 100, T0 + i) for i in range(records)])  # their first summaries
        stack.meter.take(0)
        items = _summarize(stack, [charge(names[i % spread], 100, T0 + 2 * 3600 + i) for i in range(records)])
        name = f"stream batch of {records} record(s) over {spread} customer(s)"
        work = stack.meter.take(records)
        scenarios.append(Scenario(name, work, _stream_floor(records, spread), _naive_stream(records)))
        if spread == 10:
            stack.summarize(items)  # Lambda retries the whole batch (a timeout after the writes)
            note = "every record is a duplicate: the summaries are read, nothing is written"
            again = Scenario("the same batch delivered again", stack.meter.take(records), Work(records), note=note)
            scenarios.append(again)
    _summarize(stack, [charge(f"new_{i}", 100, T0 + i) for i in range(100)])
    work, floor = stack.meter.take(100), _stream_floor(100, 100, 100)
    note = "each one's first record: its stored charges read (a Query), its registry entry written"
    new = Scenario("stream batch of 100 records over 100 new customers", work, floor, _naive_stream(100), note)
    return [*scenarios, new, _heavy_customer(stack, heavy_charges, batch_size)]


def _summarize(stack: Stack, charges: list[Any]) -> list[Item]:
    """Store ``charges`` as the write path would (unmetered), then summarize them in one stream invocation."""
    items = [charge_item(c) for c in charges]
    stack.store(items)
    stack.summarize(items)
    return items


def _heavy_customer(stack: Stack, charges: int, batch_size: int) -> Scenario:
    """One customer's historical import: ``charges`` charges received over ten minutes, in full stream batches,
    each stored before its batch is summarized (the stream follows the write path by about a second)."""
    stored = [charge("heavy", 100, T0 + i * 600 // charges, update_session=False) for i in range(charges)]
    for start in range(0, charges, batch_size):
        _summarize(stack, stored[start : start + batch_size])
    summary = stack.summaries().get(identify_customer("heavy", None))
    batches, counted = math.ceil(charges / batch_size), int(summary["charge_count"]["N"]) if summary else 0
    note = (
        f"one new customer, {batches} batches of {batch_size}; its summary counts {counted:,} charges and ends at "
        f"{item_size(summary):,} bytes, the counted ids beyond {WindowLimits().inline_ids} going to seen items "
        "written in the same transaction"
    )
    work, floor = stack.meter.take(charges), _stream_floor(charges, batches, 1)
    return Scenario(f"heavy customer: {charges:,} charges in ten minutes", work, floor, _naive_stream(charges), note)


def _day_plan(rng: random.Random, day_charges: int) -> list[int]:
    """The realistic day's requests by size: 80% of the charges sent one by one, 20% in bulks of 1 to 50."""
    plan = [1] * int(day_charges * 0.8)
    left = day_charges - len(plan)
    while left > 0:
        plan.append(min(left, rng.randint(1, 50)))
        left -= plan[-1]
    rng.shuffle(plan)
    return plan


def _run_day(
    stack: Stack, rng: random.Random, plan: list[int], customers: list[str], batch_size: int
) -> tuple[dict[str, tuple[int, int]], list[Scenario]]:
    """Send the day's requests for customers at random, the stream following in full batches as they fill;
    returns the (count, total) each customer should end with, and the day's scenarios."""
    expected: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    write, stream, pairs = Work(), Work(), 0
    stack.meter.written_charges.clear()  # the scenarios before summarized theirs
    for n, size in enumerate(plan):
        customer, amounts = rng.choice(customers), [rng.randint(1, 100_000) for _ in range(size)]
        if size == 1:
            stack.call("create_charge", _single_event(customer, amounts[0]))
        else:
            stack.call("bulk_charges", _bulk(customer, amounts))
        expected[customer] = (expected[customer][0] + size, expected[customer][1] + sum(amounts))
        write = write.plus(stack.meter.take(0))
        waiting = stack.meter.written_charges
        while len(waiting) >= batch_size or (n == len(plan) - 1 and waiting):
            batch, stack.meter.written_charges = waiting[:batch_size], waiting[batch_size:]
            pairs += len({item["PK"]["S"] for item in batch})
            stack.summarize(batch)
            stream, waiting = stream.plus(stack.meter.take(0)), stack.meter.written_charges
    charges = sum(plan)
    write.charges = stream.charges = charges
    singles = plan.count(1)
    write_floor = _floor(charges, {"PutItem": singles}, writes=charges)
    write_floor.requests["BatchWriteItem"] = sum(math.ceil(s / BATCH_WRITE_LIMIT) for s in plan if s > 1)
    stream_floor = _stream_floor(charges, pairs, len(expected))
    note = f"{pairs} (customer, batch) pairs, {len(expected)} new customers"
    totals = (write.plus(stream), write_floor.plus(stream_floor), write.plus(_naive_stream(charges)))
    return expected, [
        Scenario("day: write path", write, write_floor),
        Scenario(f"day: stream, full batches of {batch_size}", stream, stream_floor, _naive_stream(charges), note),
        Scenario("day: total (write path + stream, full batches)", *totals),
    ]


def _verify(stack: Stack, expected: dict[str, tuple[int, int]]) -> tuple[bool, str]:
    counted = {c: (int(i["charge_count"]["N"]), int(i["charge_total"]["N"])) for c, i in stack.summaries().items()}
    wrong = [c for c, figures in expected.items() if counted.get(identify_customer(c, None)) != figures]
    if wrong:
        return False, f"{len(wrong)} of {len(expected)} summaries differ from the charges sent, e.g. {wrong[:3]}"
    return True, f"all {len(expected)} summaries equal the count and total of the charges sent"


def _list_customers(stack: Stack) -> Work:
    """``bin/beacon customers list``'s read of the whole registry (every customer the run summarized)."""
    repository = SummariesRepository(stack.tables["SummariesTable"], stack.tables["ChargesTable"], stack.client)
    listed = sum(1 for _ in repository.customers("local"))
    return stack.meter.take(listed)


def _loyal_customer(stack: Stack, days: int, imported: int, batch_size: int) -> list[Phase]:
    """A visit a day for ``days`` days (two charges a few minutes apart, one stream batch), then an import of
    ``imported`` past charges (received within a minute, in full batches), then visits again once the
    import's minutes have left the window: the summary item's size and the write units of each summary write."""
    start = T0 + 400 * DAY
    visits = [[charge("loyal", 1_200, start + d * DAY + 36_000 + m * 300) for m in (0, 1)] for d in range(days)]
    end = start + days * DAY
    imports = [charge("loyal", 2_500, end + i * 60 // imported, update_session=False) for i in range(imported)]
    after = [[charge("loyal", 1_200, end + d * DAY + 36_000 + m * 300) for m in (0, 1)] for d in (1, 2, 3)]
    imported_batches = [imports[i : i + batch_size] for i in range(0, imported, batch_size)]
    return [
        _phase(stack, f"a visit a day for {days} days", visits),
        _phase(stack, f"an import of {imported:,} past charges", imported_batches),
        _phase(stack, "visits after the import's minutes left the window", after),
    ]


def _phase(stack: Stack, name: str, batches: list[list[Any]]) -> Phase:
    sizes, writes, work = [], 0, Work()
    key = summary_key("local", identify_customer("loyal", None))
    for batch in batches:
        _summarize(stack, batch)
        step = stack.meter.take(len(batch))
        work, writes = work.plus(step), writes + step.requests["PutItem"] + step.requests["TransactWriteItems"]
        writes -= 1 if step.by_type["customer"] else 0  # the first summary's registry entry is a PutItem too
        sizes.append(item_size(stack.meter.stored(stack.tables["SummariesTable"], key)))
    return Phase(name, writes, work.by_type["summary"], work.by_type["seen"], max(sizes), sizes[-1])
