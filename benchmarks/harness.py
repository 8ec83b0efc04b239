"""The one harness every benchmark runs the handlers with: in process, the template's environment, ready events.

``in_process`` loads the handlers with every boto3 client replaced (answered from memory or by moto); the builders
shape requests as events/ does, and stream records of charges stored as the write path stores them
(``beacon.dal.items``).
"""

import contextlib
import importlib
import io
import itertools
import json
import logging
import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from unittest import mock

from beacon.dal.items import charge_item, stream_record
from beacon.logic.identity import identify_customer
from beacon.models.records import ChargeRecord
from benchmarks.fake_dynamodb import FakeDynamoDB
from benchmarks.functions import EVENTS_DIR, FunctionSpec, function_specs
from local.caches import reset_caches

Event = dict[str, Any]
Handler = Callable[[Event, Any], Any]
T0 = 1_764_057_600


class LambdaContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def __init__(self, seconds_left: float = 10.0) -> None:
        self.aws_request_id = uuid.uuid4().hex
        self.seconds_left = seconds_left

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds_left * 1000)


@contextlib.contextmanager
def in_process(
    client: Any, seed_keys: Callable[[str], None], sink: io.StringIO | None = None
) -> Iterator[dict[str, ModuleType]]:
    """The template's environment, every boto3 client replaced by ``client``, output silenced; yields the handlers.

    ``seed_keys(table_name)`` stores the local project's keys (``pk_local_dev``, ``sk_local_dev``) where the
    handlers will look for them. What the handlers write (their logs and metrics) goes to ``sink``.
    """
    specs = function_specs()
    # every function's variables (the first function's where they differ)
    environment = {name: value for spec in reversed(specs) for name, value in spec.environment.items()}
    environment |= {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    environment |= {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    sink = sink if sink is not None else io.StringIO()
    with (
        warnings.catch_warnings(action="ignore", category=UserWarning),
        mock.patch.dict(os.environ, environment),
        mock.patch("boto3.client", lambda *args, **kwargs: client),
        contextlib.redirect_stdout(sink),
    ):
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            os.environ.pop(name, None)
        reset_caches()
        from beacon.observability import logger

        handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
        streams = [h.setStream(sink) for h in handlers]
        seed_keys(environment["API_KEYS_TABLE_NAME"])
        try:
            yield {spec.name: load_handler(spec) for spec in specs}
        finally:
            for handler, stream in zip(handlers, streams, strict=True):
                if stream is not None:
                    handler.setStream(stream)
            reset_caches()


def load_handler(spec: FunctionSpec) -> ModuleType:
    """The function's handler module, imported under its package name (functions.<name>.app)."""
    return importlib.import_module(f"{spec.code_dir.parent.name}.{spec.code_dir.name}.{spec.module}")


# ---------------------------------------------------------------- events


def http_event(file_name: str, body: dict[str, Any]) -> Event:
    """A ready HTTP event of events/ with this body and the local public key, no Idempotency-Key."""
    event: Event = json.loads((EVENTS_DIR / file_name).read_text(encoding="utf-8"))
    event["headers"].pop("idempotency-key", None)
    event["headers"]["authorization"] = "Bearer pk_local_dev"
    event["body"] = json.dumps(body)
    event["isBase64Encoded"] = False
    return event


_CUSTOMERS = itertools.count()


def single_charge_event() -> Event:
    """``POST /charges`` as in the ready event (user_id, e-mail, amount, time), each time for another customer."""
    n = next(_CUSTOMERS)
    body = {"user_id": f"user_{n}", "email": f"customer.{n}@example.com", "amount": 4999, "created_at": T0}
    return http_event("create_charge.json", body)


def user_id_charge_event() -> Event:
    """``POST /charges`` with a user_id and an amount only (no e-mail address to validate)."""
    return http_event("create_charge.json", {"user_id": f"user_{next(_CUSTOMERS)}", "amount": 4999})


def bulk_event(size: int, user_id: str = "user_42", amounts: list[int] | None = None) -> Event:
    """``POST /charges/bulk`` with ``size`` charges of one customer (amounts 100, 101, ... unless given)."""
    amounts = amounts or [100 + i for i in range(size)]
    charges = [{"amount": amounts[i], "created_at": T0 + i, "update_session": i % 2 == 0} for i in range(size)]
    return http_event("bulk_charges.json", {"user_id": user_id, "charges": charges})


def charge(user_id: str, amount: int, received_at: int, *, update_session: bool = True) -> ChargeRecord:
    """A charge of the local project's customer ``user_id``, created when it was received."""
    return ChargeRecord(
        project_id="local",
        customer_id=identify_customer(user_id, None),
        charge_id=uuid.uuid4().hex,
        user_id=user_id,
        email=None,
        amount=amount,
        created_at=received_at,
        received_ms=received_at * 1000,
        update_session=update_session,
    )


_SEQUENCES = itertools.count(10**6)


def record_of(item: dict[str, Any]) -> dict[str, Any]:
    """The stream record of storing the charge ``item``, created when its charge was received (DynamoDB writes
    it within seconds of the receipt)."""
    sequence = str(4 * 10**39 + next(_SEQUENCES))
    return stream_record(item, sequence=sequence, created_at=int(item["received_at"]["N"]))


_BATCH_CLOCK = itertools.count()
# Two hours between two stream batches of the same customers: each finds the ids of the one before
# expired from its window, as a summary in steady state does (docs/design.md, "Exactly once").
BATCH_SPACING_SECONDS = 7_200


def stream_event(records: int, customers: int, fake: FakeDynamoDB | None = None, table: str = "") -> Event:
    """A stream batch of ``records`` charge inserts spread over ``customers`` (stored in ``fake`` first)."""
    start = T0 + next(_BATCH_CLOCK) * BATCH_SPACING_SECONDS
    items = [charge_item(charge(f"stream_{i % customers}", 100 + i, start + i)) for i in range(records)]
    for item in items if fake else ():
        fake.seed(table, item)  # type: ignore[union-attr]
    return {"Records": [record_of(item) for item in items]}
