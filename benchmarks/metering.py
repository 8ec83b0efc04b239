"""Metering the DynamoDB work of the real handlers: requests and capacity units, from botocore hooks on their client.

Capacity units are computed from the items' sizes with DynamoDB's documented rules (moto's own
``ConsumedCapacity`` is not size-aware); the items before and after a write are read straight from
moto's backend. A batch counts each item on its own, a Query counts the items it returns together.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.dynamodb_units import (
    READ_PRICE_PER_MILLION,
    WRITE_PRICE_PER_MILLION,
    Item,
    item_size,
    read_units,
    write_units,
)


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
        elif model.name == "PutItem":
            key = {name: params["Item"][name] for name in _key_names(params["Item"])}
            before = [item_size(self._current(params["TableName"], key))]
        elif model.name == "TransactWriteItems":
            before = [item_size(item) for item in self._current_many(_transaction_keys(params["TransactItems"]))]
        context["meter"] = (dict(params), before)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        params, before = context.pop("meter", ({}, []))
        self.work.requests[model.name] += 1
        count = getattr(self, f"_count_{model.name}", None)
        if count is not None:
            count(Call(params, parsed, before, ok=http_response.status_code < 300))

    # One method per operation: the units it costs, by DynamoDB's rules.

    def _count_PutItem(self, call: "Call") -> None:
        # The larger of the item replaced and the new one (also when a condition refuses the write)
        self.work.write_units += write_units(call.before[0], item_size(call.params["Item"]))
        if call.ok and call.params["TableName"] == self.charges_table:
            self.written_charges.append(call.params["Item"])

    def _count_UpdateItem(self, call: "Call") -> None:
        after = self._current(call.params["TableName"], call.params["Key"])
        self.work.write_units += write_units(call.before[0], item_size(after))

    def _count_DeleteItem(self, call: "Call") -> None:
        self.work.write_units += write_units(call.before[0])

    def _count_BatchWriteItem(self, call: "Call") -> None:
        unprocessed = call.parsed.get("UnprocessedItems") or {}
        for table, requests in call.params["RequestItems"].items():
            done = [r for r in requests if r not in unprocessed.get(table, [])]
            for request in done:
                item = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")
                self.work.write_units += write_units(item_size(item))
                if table == self.charges_table and "PutRequest" in request:
                    self.written_charges.append(item)

    def _count_TransactWriteItems(self, call: "Call") -> None:
        actions = call.params["TransactItems"]
        images = self._current_many(_transaction_keys(actions)) if call.ok else [None] * len(actions)
        for action, size_before, item_after in zip(actions, call.before, images, strict=True):
            (kind, spec), *_ = action.items()
            if kind == "Put":
                size_after = item_size(spec["Item"])
            elif kind == "Update" and call.ok:
                size_after = item_size(item_after)
            else:
                size_after = size_before
            self.work.write_units += 2 * write_units(size_before, size_after)

    def _count_GetItem(self, call: "Call") -> None:
        size = item_size(call.parsed.get("Item"))
        self.work.read_units += read_units(size, consistent=bool(call.params.get("ConsistentRead")))

    def _count_BatchGetItem(self, call: "Call") -> None:
        for table, spec in call.params["RequestItems"].items():
            found = call.parsed.get("Responses", {}).get(table, [])
            sizes = [item_size(item) for item in found]
            sizes += [0] * max(0, len(spec["Keys"]) - len(found))  # a key with no item still costs a unit
            consistent = bool(spec.get("ConsistentRead"))
            self.work.read_units += sum(read_units(size, consistent=consistent) for size in sizes)

    def _count_Query(self, call: "Call") -> None:
        size = sum(item_size(item) for item in call.parsed.get("Items", []))
        self.work.read_units += read_units(size, consistent=bool(call.params.get("ConsistentRead")))

    def _count_TransactGetItems(self, call: "Call") -> None:
        for response in call.parsed.get("Responses", []):
            self.work.read_units += 2 * read_units(item_size(response.get("Item")), consistent=True)


@dataclass(frozen=True)
class Call:
    """One DynamoDB call as the meter sees it: what was sent, what came back, the item sizes before it."""

    params: dict[str, Any]
    parsed: dict[str, Any]
    before: list[int]
    ok: bool


def _key_names(key: Item) -> tuple[str, ...]:
    return tuple(name for name in ("PK", "SK", "id") if name in key)


def _transaction_keys(actions: list[Item]) -> list[tuple[str, Item]]:
    targets = []
    for action in actions:
        (_kind, spec), *_ = action.items()
        key = spec.get("Key") or {name: spec["Item"][name] for name in _key_names(spec["Item"])}
        targets.append((spec["TableName"], key))
    return targets
