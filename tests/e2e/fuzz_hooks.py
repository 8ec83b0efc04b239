"""Schemathesis hooks for the fuzz run over HTTP (``tests/e2e/schemathesis.toml``).

A valid ``Idempotency-Key`` is made unique per request. The generator draws keys from a small space
("0", "00", ...), and the same key sent again with another body is refused with 422, as documented:
that answer depends on what was sent before, which no schema can say. A key that is not valid is
sent as generated, so that its 400 is still checked.

A valid ``created_at`` later than 24 hours after now is moved back to now: that bound depends on
when the request is sent, which openapi.yaml states in words (a schema has only fixed bounds). An
invalid one is sent as generated.
"""

import re
import time
import uuid
from typing import Any

import schemathesis

VALID_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
FUTURE_ALLOWANCE_SECONDS = 24 * 3600


@schemathesis.hook
def before_call(ctx: Any, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and VALID_IDEMPOTENCY_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = f"{key[:200]}-{uuid.uuid4().hex}"
    if isinstance(case.body, dict):
        _bring_back_from_the_future(case.body)
        for charge in case.body.get("charges") or []:
            if isinstance(charge, dict):
                _bring_back_from_the_future(charge)


def _bring_back_from_the_future(charge: dict[str, Any]) -> None:
    value = charge.get("created_at")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return
    digits = str(value)
    number = int(value) if isinstance(value, int | float) and float(value).is_integer() else None
    if number is None and digits.isascii() and digits.isdigit():
        number = int(digits)
    now = int(time.time())
    if number is not None and number > now + FUTURE_ALLOWANCE_SECONDS:
        charge["created_at"] = now if isinstance(value, int | float) else str(now)
