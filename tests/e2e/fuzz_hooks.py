"""Schemathesis hooks for the fuzz run over HTTP (``tests/e2e/schemathesis.toml``).

A valid ``Idempotency-Key`` is made unique per request. The generator draws keys from a small space
("0", "00", ...), and the same key sent again with another body is refused with 422, as documented:
that answer depends on what was sent before, which no schema can say. A key that is not valid is
sent as generated, so that its 400 is still checked. A valid ``charge_id`` is made unique the same
way, for the same reason (the same id sent again with another amount is a documented 409); within one
bulk each gets its own suffix, since a repeat there is a 400 that a schema cannot express either.

A valid ``created_at`` later than 24 hours after now is moved back to now, and one before 2000-01-01
forward to it: both bounds depend on when the request is received and on ``sent_at``, which
openapi.yaml states in words (a schema has only fixed bounds). An invalid one is sent as generated. A
valid ``sent_at`` is replaced by the time of sending, and then every valid ``created_at`` is kept a
minute inside its bounds: the correction ``created_at + (received_at - sent_at)`` depends on when the
request arrives, which no schema can say either.
"""

import re
import time
import uuid
from typing import Any

import schemathesis

VALID_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
VALID_CHARGE_ID = re.compile(r"[!-~](?:[ -~]{0,253}[!-~])?")
VALID_SENT_AT = re.compile(r"0|[1-9][0-9]{0,10}")
FUTURE_ALLOWANCE_SECONDS = 24 * 3600
MIN_CREATED_AT = 946_684_800
MARGIN_SECONDS = 60  # what the correction by sent_at may move a created_at by, and more


@schemathesis.hook
def before_call(ctx: Any, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and VALID_IDEMPOTENCY_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = f"{key[:200]}-{uuid.uuid4().hex}"
    if not isinstance(case.body, dict):
        return
    corrected = _sent_now(case.body)
    charges = [case.body, *(c for c in case.body.get("charges") or [] if isinstance(c, dict))]
    for charge in charges:
        _bring_back_from_the_future(charge, margin=MARGIN_SECONDS if corrected else 0)
        _unique_charge_id(charge)


def _sent_now(body: dict[str, Any]) -> bool:
    value = body.get("sent_at")
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float) and float(value).is_integer() and 0 <= value < 10**11:
        body["sent_at"] = int(time.time())
        return True
    if isinstance(value, str) and VALID_SENT_AT.fullmatch(value):
        body["sent_at"] = str(int(time.time()))
        return True
    return False


def _unique_charge_id(charge: dict[str, Any]) -> None:
    value = charge.get("charge_id")
    if isinstance(value, str) and VALID_CHARGE_ID.fullmatch(value):
        charge["charge_id"] = f"{value[:200]}-{uuid.uuid4().hex}"


def _bring_back_from_the_future(charge: dict[str, Any], *, margin: int) -> None:
    value = charge.get("created_at")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return
    digits = str(value)
    number = int(value) if isinstance(value, int | float) and float(value).is_integer() else None
    if number is None and digits.isascii() and digits.isdigit():
        number = int(digits)
    now = int(time.time())
    if number is None:
        return
    if number > now + FUTURE_ALLOWANCE_SECONDS - margin:
        number = now
    elif number < MIN_CREATED_AT + margin:
        number = MIN_CREATED_AT + margin
    else:
        return
    charge["created_at"] = number if isinstance(value, int | float) else str(number)
