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

import contextlib
import importlib
import io
import json
import math
import os
import random
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from unittest import mock

from benchmarks.functions import FunctionSpec, function_specs, in_process_environment
from benchmarks.warm import LambdaContext, bulk_event, stream_record
from local.template import table_definitions

WRITE_PRICE_PER_MILLION = 0.625
READ_PRICE_PER_MILLION = 0.125
PRICES_AS_OF = "us-east-1 on-demand, as documented in 2025"
BATCH_WRITE_LIMIT = 25

Item = dict[str, Any]


# ---------------------------------------------------------------- item size and units


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value, by DynamoDB's item size rules."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        digits = Decimal(data).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data) if isinstance(data, bytes) else len(str(data).encode("utf-8"))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(attribute_size({"N": n}) for n in data)
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + attribute_size(v) + 1 for k, v in data.items())
    return len(json.dumps(data))


def item_size(item: Item | None) -> int:
    """Bytes of an item: every attribute's name and value."""
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in (item or {}).items())


def write_units(*sizes: int) -> int:
    """Units of one write: 1 per started KB of the larger image (at least 1)."""
    return max(1, math.ceil(max(sizes, default=0) / 1024))


def read_units(size: int, *, consistent: bool) -> float:
    """Units of one read: 1 per started 4 KB when strongly consistent, half otherwise (at least one such unit)."""
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


# ---------------------------------------------------------------- metering


class MotoItems:
    """Items read straight from moto's backend: sizing an item costs no request (and no response serialization)."""

    def __init__(self, region: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self.backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]

    def get(self, table_name: str, key: Item) -> Item | None:
        """The item with this key (attribute values), or ``None``."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self.backend.get_table(table_name)
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        found = table.get_item(DynamoType(key[table.hash_key_attr]), range_value)
        return found.to_json()["Attributes"] if found is not None else None


@dataclass
class Work:
    """Requests and capacity units spent for some number of charges."""

    charges: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0

    def plus(self, other: "Work") -> "Work":
        """The work of both, for the same charges (a write path and the stream that follows it)."""
        requests = Counter(self.requests)
        requests.update(other.requests)
        return Work(self.charges, requests, self.write_units + other.write_units, self.read_units + other.read_units)

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    def per_charge(self, value: float) -> float:
        return value / self.charges if self.charges else 0.0

    @property
    def cost_per_million_charges(self) -> float:
        """US dollars per million charges at on-demand prices."""
        return (
            self.per_charge(self.write_units) * WRITE_PRICE_PER_MILLION
            + self.per_charge(self.read_units) * READ_PRICE_PER_MILLION
        )

    def describe_requests(self) -> str:
        return ", ".join(f"{count:g} {op}" for op, count in sorted(self.requests.items())) or "none"


class Meter:
    """botocore hooks on the client the code uses: requests and capacity units, and the charge items written."""

    def __init__(self, client: Any, items: "MotoItems", charges_table: str) -> None:
        self.items = items
        self.charges_table = charges_table
        self.work = Work()
        self.written_charges: list[Item] = []
        client.meta.events.register_first("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def take(self, charges: int) -> Work:
        """The work since the last ``take``, attributed to ``charges`` charges."""
        work, self.work = self.work, Work()
        work.charges = charges
        return work

    def _current(self, table: str, key: Item) -> Item | None:
        return self.items.get(table, key)

    def _current_many(self, targets: list[tuple[str, Item]]) -> list[Item | None]:
        return [self.items.get(table, key) for table, key in targets]

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        before: list[int] = []
        if model.name in ("UpdateItem", "DeleteItem"):
            before = [item_size(self._current(params["TableName"], params["Key"]))]
        elif model.name == "TransactWriteItems":
            before = [item_size(item) for item in self._current_many(_transaction_keys(params["TransactItems"]))]
        context["meter"] = (dict(params), before)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        params, before = context.pop("meter", ({}, []))
        operation = model.name
        self.work.requests[operation] += 1
        ok = http_response.status_code < 300
        if operation == "PutItem":
            self.work.write_units += write_units(item_size(params["Item"]))
            if ok and params["TableName"] == self.charges_table:
                self.written_charges.append(params["Item"])
        elif operation in ("UpdateItem", "DeleteItem"):
            after = self._current(params["TableName"], params["Key"]) if operation == "UpdateItem" else None
            self.work.write_units += write_units(before[0], item_size(after))
        elif operation == "BatchWriteItem":
            unprocessed = parsed.get("UnprocessedItems") or {}
            for table, requests in params["RequestItems"].items():
                done = [r for r in requests if r not in unprocessed.get(table, [])]
                for request in done:
                    item = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")
                    self.work.write_units += write_units(item_size(item))
                    if table == self.charges_table and "PutRequest" in request:
                        self.written_charges.append(item)
        elif operation == "TransactWriteItems":
            actions = params["TransactItems"]
            images = self._current_many(_transaction_keys(actions)) if ok else [None] * len(actions)
            for action, size_before, item_after in zip(actions, before, images, strict=True):
                (kind, spec), *_ = action.items()
                if kind == "Put":
                    size_after = item_size(spec["Item"])
                elif kind == "Update" and ok:
                    size_after = item_size(item_after)
                else:
                    size_after = size_before
                self.work.write_units += 2 * write_units(size_before, size_after)
        elif operation == "GetItem":
            size = item_size(parsed.get("Item"))
            self.work.read_units += read_units(size, consistent=bool(params.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            for table, spec in params["RequestItems"].items():
                found = parsed.get("Responses", {}).get(table, [])
                sizes = [item_size(item) for item in found]
                sizes += [0] * max(0, len(spec["Keys"]) - len(found))  # a key with no item still costs a unit
                consistent = bool(spec.get("ConsistentRead"))
                self.work.read_units += sum(read_units(size, consistent=consistent) for size in sizes)
        elif operation == "Query":
            size = sum(item_size(item) for item in parsed.get("Items", []))
            self.work.read_units += read_units(size, consistent=bool(params.get("ConsistentRead")))
        elif operation == "TransactGetItems":
            for response in parsed.get("Responses", []):
                self.work.read_units += 2 * read_units(item_size(response.get("Item")), consistent=True)


def _key_names(key: Item) -> tuple[str, ...]:
    return tuple(name for name in ("PK", "SK", "id") if name in key)


def _transaction_keys(actions: list[Item]) -> list[tuple[str, Item]]:
    targets = []
    for action in actions:
        (_kind, spec), *_ = action.items()
        key = spec.get("Key") or {name: spec["Item"][name] for name in _key_names(spec["Item"])}
        targets.append((spec["TableName"], key))
    return targets


# ---------------------------------------------------------------- the stack in moto


@dataclass
class Stack:
    """The handlers, running in process against moto, metered."""

    handlers: dict[str, Any]
    meter: Meter
    inspector: Any
    tables: dict[str, str]

    def call(self, name: str, event: dict[str, Any]) -> Any:
        answer = self.handlers[name].lambda_handler(event, LambdaContext())
        failed = isinstance(answer, dict) and (answer.get("statusCode", 200) != 200 or answer.get("batchItemFailures"))
        if failed:
            raise RuntimeError(f"{name} did not accept the benchmark's request: {str(answer)[:300]}")
        return answer

    def summarize(self, items: list[Item]) -> None:
        """One stream invocation carrying these charge items, as the event source mapping would deliver them."""
        self.call("summarize_charges", {"Records": [stream_record(item) for item in items]})

    def summaries(self) -> dict[str, Item]:
        """Every summary item, by customer sort key."""
        paginator = self.inspector.get_paginator("scan")
        pages = paginator.paginate(TableName=self.tables["SummariesTable"])
        return {item["SK"]["S"]: item for page in pages for item in page["Items"]}


@contextlib.contextmanager
def moto_stack() -> Iterator[Stack]:
    """Every table of template.yaml in moto, the local project's keys, the handlers wired to a metered client."""
    import boto3
    from moto import mock_aws

    from benchmarks.warm import _load, _reset_caches

    specs: list[FunctionSpec] = function_specs()
    tables = {logical_id: logical_id for logical_id in table_definitions()}
    environment = in_process_environment(specs)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        environment.pop(name, None)
    sink = io.StringIO()
    with (
        mock.patch.dict(os.environ, environment),
        warnings.catch_warnings(action="ignore"),
        contextlib.redirect_stdout(sink),
        _fast_moto_transactions(),
        mock_aws(),
    ):
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            os.environ.pop(name, None)
        inspector = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        for logical_id, definition in table_definitions().items():
            inspector.create_table(TableName=logical_id, **definition)
        client = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        meter = Meter(client, MotoItems("us-east-1"), tables["ChargesTable"])
        with mock.patch("boto3.client", lambda *args, **kwargs: client):
            _reset_caches()
            from beacon.dal.items import api_key_item
            from beacon.observability import logger
            from ops.keys import new_key_record

            for handler in logger.handlers:
                if hasattr(handler, "setStream"):
                    handler.setStream(sink)
            for kind, raw in (("public", "pk_local_dev"), ("secret", "sk_local_dev")):
                inspector.put_item(
                    TableName=environment["API_KEYS_TABLE_NAME"],
                    Item=api_key_item(new_key_record("local", kind, raw)[1]),  # type: ignore[arg-type]
                )
            try:
                yield Stack({s.name: _load(s) for s in specs}, meter, inspector, tables)
            finally:
                _reset_caches()
                importlib.invalidate_caches()


@contextlib.contextmanager
def _fast_moto_transactions() -> Iterator[None]:
    """The local stack's fix of moto's TransactWriteItems, which deep-copies whole tables once per item."""
    try:
        from local import moto_fixes
    except ImportError:  # without it the stream scenarios are slow on big tables, not wrong
        yield
        return
    moto_fixes.apply()
    try:
        yield
    finally:
        moto_fixes.remove()


# ---------------------------------------------------------------- scenarios


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


def _single_event(customer: str, amount: int, idempotency_key: str | None = None) -> dict[str, Any]:
    from benchmarks.warm import _http_event

    event = _http_event("create_charge.json", {"user_id": customer, "amount": amount})
    if idempotency_key:
        event["headers"]["idempotency-key"] = idempotency_key
    return event


def _bulk_for(customer: str, amounts: list[int]) -> dict[str, Any]:
    event = bulk_event(len(amounts))
    body = json.loads(event["body"])
    body["user_id"] = customer
    for charge, amount in zip(body["charges"], amounts, strict=True):
        charge["amount"] = amount
    event["body"] = json.dumps(body)
    return event


def _write_floor(charges: int, requests: Counter[str]) -> Work:
    return Work(charges, requests, float(charges), 0.0)


def _stream_floor(charges: int, customer_batches: int) -> Work:
    return Work(charges, Counter({"summary write": customer_batches}), float(customer_batches), 0.0)


def _naive_stream(charges: int) -> Work:
    return Work(charges, Counter({"UpdateItem": charges}), float(charges), 0.0)


def stream_batch_size() -> int:
    """The event source mapping's BatchSize in template.yaml (100, Lambda's default, if none)."""
    from local.template import template

    for resource in template()["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "DynamoDB":
                return int(event["Properties"].get("BatchSize", 100))
    return 100


def measure(
    *, day_charges: int = 10_000, day_customers: int = 1_000, bulk_sizes: tuple[int, ...] = (100, 1000), seed: int = 7
) -> CapacityReport:
    """The scenarios of docs/benchmarks.md, on the real handlers; ``day_*`` scales the realistic day."""
    rng = random.Random(seed)
    scenarios: list[Scenario] = []
    batch_size = stream_batch_size()
    with moto_stack() as stack:
        meter = stack.meter
        has_stream = "summarize_charges" in stack.handlers
        # Prime the key cache (one GetItem per key and container every API_KEY_CACHE_TTL_SECONDS).
        stack.call("create_charge", _single_event("warmup", 1))
        key_lookup = meter.take(1)

        stack.call("create_charge", _single_event("alice", 4999))
        scenarios.append(
            Scenario(
                "single charge (POST /charges)",
                meter.take(1),
                _write_floor(1, Counter({"PutItem": 1})),
                note=f"a container's first request with a key also reads it: {key_lookup.requests['GetItem']} "
                f"GetItem, {key_lookup.read_units:g} read unit (eventually consistent), then not again for "
                "API_KEY_CACHE_TTL_SECONDS",
            )
        )
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
            scenarios.append(
                Scenario(
                    f"bulk of {size} (POST /charges/bulk)",
                    meter.take(size),
                    _write_floor(size, Counter({"BatchWriteItem": math.ceil(size / BATCH_WRITE_LIMIT)})),
                )
            )
        if has_stream:
            for records, spread in ((100, 10), (100, 100), (1, 1)):
                items = [_stream_item(f"s{records}_{spread}_{i % spread}", 100, i) for i in range(records)]
                _store(stack, items)
                stack.summarize(items)
                scenarios.append(
                    Scenario(
                        f"stream batch of {records} record(s) over {spread} customer(s)",
                        meter.take(records),
                        _stream_floor(records, spread),
                        _naive_stream(records),
                    )
                )
        meter.written_charges.clear()

        # The realistic day: 80% of the charges sent one by one, 20% in bulks of 1 to 50, customers at random.
        customers = [f"day_{i}" for i in range(day_customers)]
        plan: list[tuple[str, int]] = [("single", 1)] * int(day_charges * 0.8)
        left = day_charges - len(plan)
        while left > 0:
            size = min(left, rng.randint(1, 50))
            plan.append(("bulk", size))
            left -= size
        rng.shuffle(plan)
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
        day_write = meter.take(day_charges)
        written = list(meter.written_charges)
        requests = len(plan)
        floor_requests = Counter(
            {
                "PutItem": sum(1 for kind, _ in plan if kind == "single"),
                "BatchWriteItem": sum(math.ceil(size / BATCH_WRITE_LIMIT) for kind, size in plan if kind == "bulk"),
            }
        )
        write_floor = _write_floor(day_charges, floor_requests)
        scenarios.append(Scenario("day: write path", day_write, write_floor))
        verified, note = False, "no stream handler in template.yaml"
        if has_stream:
            pairs = 0
            for start in range(0, len(written), batch_size):
                batch = written[start : start + batch_size]
                pairs += len({item["PK"]["S"] for item in batch})
                stack.summarize(batch)
            day_stream = meter.take(day_charges)
            scenarios.append(
                Scenario(
                    f"day: stream, full batches of {batch_size}",
                    day_stream,
                    _stream_floor(day_charges, pairs),
                    _naive_stream(day_charges),
                    note=f"{pairs} (customer, batch) pairs",
                )
            )
            scenarios.append(
                Scenario(
                    "day: total (write path + stream, full batches)",
                    day_write.plus(day_stream),
                    write_floor.plus(_stream_floor(day_charges, pairs)),
                    day_write.plus(_naive_stream(day_charges)),
                )
            )
            verified, note = _verify(stack, expected)
        return CapacityReport(
            scenarios=scenarios,
            day_charges=day_charges,
            day_customers=day_customers,
            day_requests=requests,
            stream_batch_size=batch_size,
            summaries_verified=verified,
            verification_note=note,
        )


def _stream_item(customer: str, amount: int, offset: int) -> Item:
    from benchmarks.warm import T0, charge_item

    return charge_item(customer, amount, T0 + offset)


def _store(stack: Stack, items: list[Item]) -> None:
    for item in items:
        stack.inspector.put_item(TableName=stack.tables["ChargesTable"], Item=item)


def _verify(stack: Stack, expected: dict[str, tuple[int, int]]) -> tuple[bool, str]:
    summaries = stack.summaries()
    wrong = []
    for customer, (count, total) in expected.items():
        item = summaries.get(f"C#u#{customer}")
        got = (int(item["charge_count"]["N"]), int(item["charge_total"]["N"])) if item else (0, 0)
        if got != (count, total):
            wrong.append(customer)
    if wrong:
        return False, f"{len(wrong)} of {len(expected)} summaries differ from the charges sent, e.g. {wrong[:3]}"
    return True, f"all {len(expected)} summaries equal the count and total of the charges sent"
