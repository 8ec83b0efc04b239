"""Schemathesis hooks for the fuzz run over HTTP (``tests/e2e/schemathesis.toml``).

A valid ``Idempotency-Key`` is made unique per request. The generator draws keys from a small space
("0", "00", ...), and the same key sent again with another body is refused with 422, as documented:
that answer depends on what was sent before, which no schema can say. A key that is not valid is
sent as generated, so that its 400 is still checked.
"""

import re
import uuid
from typing import Any

import schemathesis

VALID_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@schemathesis.hook
def before_call(ctx: Any, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and VALID_IDEMPOTENCY_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = f"{key[:200]}-{uuid.uuid4().hex}"
