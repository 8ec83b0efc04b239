"""Warm handler cost: each handler in process, DynamoDB answered from memory, against a bare baseline.

The real handlers run with everything they do on Lambda except the network: Powertools resolver,
middleware, pydantic validation, logging (to a null stream) and metrics (EMF to a null stream). The
Tracer is off, as outside Lambda (no X-Ray daemon). DynamoDB is answered by ``FakeDynamoDB`` in one of
two ways, and both are reported:

- ``boto3``: a real botocore client whose requests are answered in memory just before they would be
  signed and sent, so that the client-side work every Lambda handler pays to call DynamoDB (parameter
  validation, serialization) is in both the handler and the baseline. This is the headline ratio.
- ``stub``: the boto3 client itself replaced by the plain Python object, so that only our code and the
  libraries it calls are timed; the baseline is then little more than ``json.loads``.

The baseline does the same DynamoDB calls (checked: the call counts are reported side by side) with
nothing but ``json.loads`` and the dicts those calls need: no validation, no logging, no tracing.
"""

import contextlib
import copy
import importlib
import io
import json
import logging
import os
import time
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from unittest import mock

from benchmarks.fake_dynamodb import FakeDynamoDB, attach_to_client, seed_keys
from benchmarks.functions import EVENTS_DIR, FunctionSpec, function_specs, in_process_environment
from benchmarks.stats import median

Event = dict[str, Any]
Handler = Callable[[Event, Any], Any]
T0 = 1_764_057_600


@dataclass
class WarmCase:
    """One kind of request: the real handler's and the baseline's median time per request."""

    name: str
    charges: int
    real_ms: float
    bare_ms: float
    real_calls: dict[str, int]
    bare_calls: dict[str, int]
    requests: int

    @property
    def ratio(self) -> float:
        return self.real_ms / self.bare_ms if self.bare_ms else float("inf")

    @property
    def real_us_per_charge(self) -> float:
        return self.real_ms * 1000 / self.charges

    @property
    def bare_us_per_charge(self) -> float:
        return self.bare_ms * 1000 / self.charges


class LambdaContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def __init__(self) -> None:
        self.aws_request_id = uuid.uuid4().hex

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


# ---------------------------------------------------------------- environment


@contextlib.contextmanager
def in_process(client: Any, fake: FakeDynamoDB) -> Iterator[dict[str, ModuleType]]:
    """The template's environment, every boto3 client replaced by ``client``, output silenced; yields the handlers."""
    specs = function_specs()
    environment = in_process_environment(specs)
    sink = io.StringIO()
    with (
        warnings.catch_warnings(action="ignore", category=UserWarning),
        mock.patch.dict(os.environ, environment),
        mock.patch("boto3.client", lambda *args, **kwargs: client),
        contextlib.redirect_stdout(sink),
    ):
        _reset_caches()
        from beacon.observability import logger

        handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
        streams = [h.setStream(sink) for h in handlers]
        seed_keys(fake, environment["API_KEYS_TABLE_NAME"])
        try:
            yield {spec.name: _load(spec) for spec in specs}
        finally:
            for handler, stream in zip(handlers, streams, strict=True):
                if stream is not None:
                    handler.setStream(stream)
            _reset_caches()


def _load(spec: FunctionSpec) -> ModuleType:
    return importlib.import_module(f"{spec.code_dir.parent.name}.{spec.code_dir.name}.{spec.module}")


def _reset_caches() -> None:
    from local.caches import reset_caches

    reset_caches()


# ---------------------------------------------------------------- events


def _http_event(file_name: str, body: dict[str, Any]) -> Event:
    event: Event = json.loads((EVENTS_DIR / file_name).read_text(encoding="utf-8"))
    event["headers"].pop("idempotency-key", None)
    event["headers"]["authorization"] = "Bearer pk_local_dev"
    event["body"] = json.dumps(body)
    event["isBase64Encoded"] = False
    return event


_CUSTOMERS = iter(range(10**9))


def single_charge_event() -> Event:
    """``POST /charges`` as in the ready event (user_id, e-mail, amount, time), each time for another customer."""
    n = next(_CUSTOMERS)
    body = {"user_id": f"user_{n}", "email": f"customer.{n}@example.com", "amount": 4999, "created_at": T0}
    return _http_event("create_charge.json", body)


def user_id_charge_event() -> Event:
    """``POST /charges`` with a user_id and an amount only (no e-mail address to validate)."""
    n = next(_CUSTOMERS)
    return _http_event("create_charge.json", {"user_id": f"user_{n}", "amount": 4999})


def bulk_event(size: int) -> Event:
    """``POST /charges/bulk`` with ``size`` charges of one customer."""
    charges = [{"amount": 100 + i, "created_at": T0 + i, "update_session": i % 2 == 0} for i in range(size)]
    return _http_event("bulk_charges.json", {"user_id": "user_42", "charges": charges})


def charge_item(customer: str, amount: int, created_at: int) -> dict[str, Any]:
    """A charge item as the write path stores it (and as a stream record's NewImage carries it)."""
    charge_id = uuid.uuid4().hex
    return {
        "PK": {"S": f"P#local#C#u#{customer}"},
        "SK": {"S": f"CHARGE#{charge_id}"},
        "type": {"S": "charge"},
        "project_id": {"S": "local"},
        "customer_id": {"S": f"u#{customer}"},
        "charge_id": {"S": charge_id},
        "amount": {"N": str(amount)},
        "created_at": {"N": str(created_at)},
        "received_at": {"N": str(created_at)},
        "update_session": {"BOOL": True},
        "user_id": {"S": customer},
    }


_STREAM_RECORD: dict[str, Any] | None = None
_SEQUENCE = iter(range(10**6, 10**9))


def stream_record(item: dict[str, Any]) -> dict[str, Any]:
    """A Lambda stream record of an inserted item, shaped like events/summarize_charges.json."""
    global _STREAM_RECORD
    if _STREAM_RECORD is None:
        event = json.loads((EVENTS_DIR / "summarize_charges.json").read_text(encoding="utf-8"))
        _STREAM_RECORD = event["Records"][0]
    record = copy.deepcopy(_STREAM_RECORD)
    record["eventID"] = uuid.uuid4().hex
    record["eventName"] = "INSERT"
    record["dynamodb"]["Keys"] = {"PK": item["PK"], "SK": item["SK"]}
    record["dynamodb"]["NewImage"] = item
    record["dynamodb"]["SequenceNumber"] = str(4 * 10**39 + next(_SEQUENCE))
    return record


def stream_event(records: int, customers: int, fake: FakeDynamoDB | None = None, table: str = "") -> Event:
    """A stream batch of ``records`` charge inserts spread over ``customers`` (stored in ``fake`` first)."""
    items = [charge_item(f"stream_{i % customers}", 100 + i, T0 + i) for i in range(records)]
    if fake is not None:
        for item in items:
            fake.seed(table, item)
    return {"Records": [stream_record(item) for item in items]}


# ---------------------------------------------------------------- baseline


def bare_create_charge(client: Any, table: str) -> Handler:
    """The same PutItem as ``POST /charges``, from ``json.loads`` alone."""

    def handler(event: Event, _context: Any) -> dict[str, Any]:
        body = json.loads(event["body"])
        item = _bare_item(body["user_id"], body, int(time.time()))
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(PK)")
        return {"statusCode": 200, "body": '{"success": true, "code": 200, "data": null}'}

    return handler


def bare_bulk_charges(client: Any, table: str) -> Handler:
    """The same BatchWriteItem calls (25 items each) as ``POST /charges/bulk``, from ``json.loads`` alone."""

    def handler(event: Event, _context: Any) -> dict[str, Any]:
        body = json.loads(event["body"])
        now = int(time.time())
        items = [{"PutRequest": {"Item": _bare_item(body["user_id"], c, now)}} for c in body["charges"]]
        for start in range(0, len(items), 25):
            client.batch_write_item(RequestItems={table: items[start : start + 25]})
        return {"statusCode": 200, "body": '{"success": true, "code": 200, "data": null}'}

    return handler


def bare_summarize(client: Any, summaries_table: str, charges_table: str) -> Handler:
    """The same calls as the stream handler: one BatchGetItem, then one TransactWriteItems per customer."""

    def handler(event: Event, _context: Any) -> dict[str, Any]:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in event["Records"]:
            image = record["dynamodb"]["NewImage"]
            groups[image["customer_id"]["S"]].append(image)
        keys = [{"PK": {"S": "P#local"}, "SK": {"S": f"C#{customer}"}} for customer in groups]
        client.batch_get_item(RequestItems={summaries_table: {"Keys": keys, "ConsistentRead": True}})
        now = {"N": str(int(time.time()))}
        for customer, images in groups.items():
            total = sum(int(image["amount"]["N"]) for image in images)
            summary = {"PK": {"S": "P#local"}, "SK": {"S": f"C#{customer}"}, "total": {"N": str(total)}}
            actions: list[dict[str, Any]] = [{"Put": {"TableName": summaries_table, "Item": summary}}]
            actions.extend(
                {
                    "Update": {
                        "TableName": charges_table,
                        "Key": {"PK": image["PK"], "SK": image["SK"]},
                        "UpdateExpression": "SET summarized_at = :now",
                        "ExpressionAttributeValues": {":now": now},
                    }
                }
                for image in images
            )
            client.transact_write_items(TransactItems=actions)
        return {"batchItemFailures": []}

    return handler


def _bare_item(user_id: str, charge: dict[str, Any], now: int) -> dict[str, Any]:
    charge_id = uuid.uuid4().hex
    return {
        "PK": {"S": f"P#local#C#u#{user_id}"},
        "SK": {"S": f"CHARGE#{charge_id}"},
        "amount": {"N": str(charge["amount"])},
        "created_at": {"N": str(charge.get("created_at") or now)},
    }


# ---------------------------------------------------------------- timing


def _time_requests(handler: Handler, events: list[Event], fake: FakeDynamoDB) -> tuple[list[float], Counter[str]]:
    before = Counter(fake.calls)
    times = []
    for event in events:
        context = LambdaContext()
        # CPU time of this thread: the requests do no I/O here, and other processes on a busy
        # machine stretch wall-clock time but not this.
        started = time.thread_time()
        answer = handler(event, context)
        times.append((time.thread_time() - started) * 1000)
        status = answer.get("statusCode", 200) if isinstance(answer, dict) else 200
        if status != 200 or (isinstance(answer, dict) and answer.get("batchItemFailures")):
            raise RuntimeError(f"the benchmark request was not accepted: {str(answer)[:300]}")
    calls = Counter(fake.calls)
    calls.subtract(before)
    return times, +calls


def _case(
    name: str,
    charges: int,
    requests: int,
    real: Handler,
    bare: Handler,
    make_event: Callable[[], Event],
    fake: FakeDynamoDB,
) -> WarmCase:
    warmup = max(2, requests // 10)
    _time_requests(real, [make_event() for _ in range(warmup)], fake)
    _time_requests(bare, [make_event() for _ in range(warmup)], fake)
    real_times: list[float] = []
    bare_times: list[float] = []
    real_calls: Counter[str] = Counter()
    bare_calls: Counter[str] = Counter()
    # Alternate in rounds so that a burst of noise on the machine hits both alike.
    rounds = 5
    for _ in range(rounds):
        per_round = max(1, requests // rounds)
        times, calls = _time_requests(real, [make_event() for _ in range(per_round)], fake)
        real_times += times
        real_calls += calls
        times, calls = _time_requests(bare, [make_event() for _ in range(per_round)], fake)
        bare_times += times
        bare_calls += calls
    count = len(real_times)
    return WarmCase(
        name=name,
        charges=charges,
        real_ms=median(real_times),
        bare_ms=median(bare_times),
        real_calls={op: n / count for op, n in sorted(real_calls.items())},  # type: ignore[misc]
        bare_calls={op: n / count for op, n in sorted(bare_calls.items())},  # type: ignore[misc]
        requests=count,
    )


def measure(scale: float = 1.0, *, mode: str = "boto3") -> list[WarmCase]:
    """Every case; ``scale`` multiplies the number of requests (``--quick`` uses a small one).

    ``mode`` is ``boto3`` (a real botocore client answered in memory) or ``stub`` (the plain Python stub).
    """
    fake = FakeDynamoDB()
    client: Any = fake
    if mode == "boto3":
        import boto3

        client = boto3.session.Session().client(
            "dynamodb", region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
        )
        attach_to_client(client, fake)
    cases: list[WarmCase] = []
    with in_process(client, fake) as handlers:
        env = os.environ
        charges_table, summaries_table = env["CHARGES_TABLE_NAME"], env["SUMMARIES_TABLE_NAME"]

        def n(requests: int) -> int:
            return max(5, int(requests * scale))

        if "create_charge" in handlers:
            real = handlers["create_charge"].lambda_handler
            bare = bare_create_charge(client, charges_table)
            cases.append(_case("single charge", 1, n(2000), real, bare, single_charge_event, fake))
            cases.append(_case("single charge, user_id only", 1, n(2000), real, bare, user_id_charge_event, fake))
        if "bulk_charges" in handlers:
            real = handlers["bulk_charges"].lambda_handler
            bare = bare_bulk_charges(client, charges_table)
            for size, requests in ((100, 200), (1000, 30)):
                event = bulk_event(size)

                def same_bulk(event: Event = event) -> Event:
                    return copy.deepcopy(event)

                cases.append(_case(f"bulk of {size}", size, n(requests), real, bare, same_bulk, fake))
        if "summarize_charges" in handlers:
            real = handlers["summarize_charges"].lambda_handler
            # Its own summaries table: the baseline's summaries are not the real ones the handler reads back.
            bare = bare_summarize(client, f"{summaries_table}-bare", charges_table)
            cases.append(
                _case(
                    "stream batch of 100 records, 10 customers",
                    100,
                    n(150),
                    real,
                    bare,
                    lambda: stream_event(100, 10, fake, charges_table),
                    fake,
                )
            )
            fake.tables.get(charges_table, {}).clear()
    return cases
