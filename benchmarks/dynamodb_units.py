"""DynamoDB's item size and capacity unit rules, and its on-demand prices, as the capacity benchmark applies them.

A write is 1 unit per started KB of the larger of the item before and after, a strongly consistent read
1 unit per started 4 KB (eventually consistent: half), a transactional write or read twice that.
Prices: us-east-1 on-demand, $0.625 per million write request units and $0.125 per million read request
units, as documented in 2025.
"""

import json
import math
from decimal import Decimal
from typing import Any

WRITE_PRICE_PER_MILLION = 0.625
READ_PRICE_PER_MILLION = 0.125
PRICES_AS_OF = "us-east-1 on-demand, as documented in 2025"

Item = dict[str, Any]


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
