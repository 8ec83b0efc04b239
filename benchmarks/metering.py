"""Metering the DynamoDB work of the real handlers: requests and capacity units, from botocore hooks on their client.

Units follow DynamoDB's documented rules from the items' sizes (moto's ``ConsumedCapacity`` is not size-aware), the
items before a write read straight from moto's backend; prices are us-east-1 on-demand.
"""

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITE_PRICE_PER_MILLION = 0.625
READ_PRICE_PER_MILLION = 0.125
PRICES_AS_OF = "us-east-1 on-demand, as documented in 2025"
KEY_NAMES = ("PK", "SK", "id")

Item = dict[str, Any]


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value, by DynamoDB's item size rules."""
    (kind, data), *_ = value.items()
    if kind in ("S", "SS"):
        return sum(len(s.encode("utf-8")) for s in ([data] if kind == "S" else data))
    if kind in ("N", "NS"):
        numbers = [data] if kind == "N" else data
        return sum(math.ceil(len(Decimal(n).normalize().as_tuple().digits) / 2) + 1 for n in numbers)
    if kind == "B":
        return len(data) if isinstance(data, bytes) else len(str(data).encode("utf-8"))
    if kind in ("BOOL", "NULL"):
        return 1
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


@dataclass
class Work:
    """Requests and capacity units spent for some number of charges."""

    charges: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0
    by_type: Counter[str] = field(default_factory=Counter)
    """Write units by the ``type`` of the item written (charge, summary, seen, customer; other)."""

    def plus(self, other: "Work") -> "Work":
        """The work of both, for the same charges (a write path and the stream that follows it)."""
        units = (self.write_units + other.write_units, self.read_units + other.read_units)
        return Work(self.charges, self.requests + other.requests, *units, self.by_type + other.by_type)

    def per_charge(self, value: float) -> float:
        return value / self.charges if self.charges else 0.0

    @property
    def cost_per_million_charges(self) -> float:
        """US dollars per million charges at on-demand prices."""
        writes = self.per_charge(self.write_units) * WRITE_PRICE_PER_MILLION
        return writes + self.per_charge(self.read_units) * READ_PRICE_PER_MILLION

    def describe_requests(self) -> str:
        return ", ".join(f"{count:g} {op}" for op, count in sorted(self.requests.items())) or "none"


class Meter:
    """botocore hooks on the client the code uses: requests and capacity units, and the charge items written."""

    def __init__(self, client: Any, charges_table: str, region: str = "us-east-1") -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self.backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
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

    def stored(self, table_name: str, key: Item) -> Item | None:
        """The item with this key (attribute values), read straight from moto's backend (no request)."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self.backend.get_table(table_name)
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        found = table.get_item(DynamoType(key[table.hash_key_attr]), range_value)
        return found.to_json()["Attributes"] if found is not None else None

    def _size_now(self, table: str, key: Item) -> int:
        return item_size(self.stored(table, {name: value for name, value in key.items() if name in KEY_NAMES}))

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        targets = _written(model.name, params)
        context["meter"] = (dict(params), [self._size_now(table, key) for table, key, _ in targets])

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        params, before = context.pop("meter", ({}, []))
        self.work.requests[model.name] += 1
        if model.name in _READS:
            self.work.read_units += _READS[model.name](params, parsed)
            return
        factor = 2 if model.name == "TransactWriteItems" else 1
        for (table, key, put), size in zip(_written(model.name, params), before, strict=True):
            # A put is charged on the larger of the item replaced and the new one, also when its condition
            # refuses it; an update or a delete on the item before and after.
            self._wrote(put, factor * write_units(size, item_size(put) if put else self._size_now(table, key)))
        ok = http_response.status_code < 300
        if model.name == "PutItem" and ok and params["TableName"] == self.charges_table:
            self.written_charges.append(params["Item"])
        for table, request in _batch_done(params, parsed):
            item = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")
            self._wrote(item, write_units(item_size(item)))
            if table == self.charges_table and "PutRequest" in request:
                self.written_charges.append(item)

    def _wrote(self, item: Item | None, units: int) -> None:
        self.work.write_units += units
        self.work.by_type[str((item or {}).get("type", {}).get("S", "other"))] += units


def _written(operation: str, params: dict[str, Any]) -> list[tuple[str, Item, Item | None]]:
    """(table, key or item, the item put or ``None``) of every item a single or transactional write replaces."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        specs = [params]
    elif operation == "TransactWriteItems":
        specs = [next(iter(action.values())) for action in params["TransactItems"]]
    else:
        return []
    return [(spec["TableName"], spec.get("Key") or spec["Item"], spec.get("Item")) for spec in specs]


def _batch_done(params: dict[str, Any], parsed: dict[str, Any]) -> list[tuple[str, Item]]:
    """(table, request) of every request a BatchWriteItem did (those it left unprocessed left out)."""
    unprocessed = parsed.get("UnprocessedItems") or {}
    return [
        (table, request)
        for table, requests in params.get("RequestItems", {}).items()
        for request in requests
        if request not in unprocessed.get(table, [])
    ]


def _consistent(spec: dict[str, Any], sizes: list[int]) -> float:
    return sum(read_units(size, consistent=bool(spec.get("ConsistentRead"))) for size in sizes)


def _batch_get_units(params: dict[str, Any], parsed: dict[str, Any]) -> float:
    units = 0.0
    for table, spec in params["RequestItems"].items():
        found = parsed.get("Responses", {}).get(table, [])
        units += _consistent(spec, [item_size(i) for i in found] + [0] * max(0, len(spec["Keys"]) - len(found)))
    return units  # a key not found costs a read too


def _page_units(params: dict[str, Any], parsed: dict[str, Any]) -> float:
    """A Query's or Scan's page: the units of all the items it read together."""
    return _consistent(params, [sum(item_size(i) for i in parsed.get("Items", []))])


_READS: dict[str, Callable[[dict[str, Any], dict[str, Any]], float]] = {
    "GetItem": lambda params, parsed: _consistent(params, [item_size(parsed.get("Item"))]),
    "BatchGetItem": _batch_get_units,
    "Query": _page_units,
    "Scan": _page_units,
}
