"""Warm handler cost: each handler in process, DynamoDB answered from memory, against a bare baseline.

The real handlers run with all they do on Lambda but the network (resolver, validation, logs and metrics to a null
stream, no Tracer). ``FakeDynamoDB`` answers either behind a real botocore client (``boto3``: validation and
serialization in both the handler and the baseline, the headline ratio) or in its place (``stub``: only our code
and its libraries timed). The baseline makes the same DynamoDB calls from ``json.loads`` and the dicts they need.
"""

import copy
import functools
import json
import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from beacon.dal.item_keys import charge_pk, charge_sk
from beacon.dal.summary_items import summary_key
from benchmarks.fake_dynamodb import FakeDynamoDB, attach, seed_keys
from benchmarks.harness import (
    Event,
    Handler,
    LambdaContext,
    bulk_event,
    in_process,
    single_charge_event,
    stream_event,
    user_id_charge_event,
)
from benchmarks.stats import median


@dataclass
class WarmCase:
    """One kind of request: the real handler's and the baseline's median time per request."""

    name: str
    charges: int
    real_ms: float
    bare_ms: float
    real_calls: dict[str, float]
    bare_calls: dict[str, float]
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


# ---------------------------------------------------------------- baseline


def bare_charges(client: Any, table: str) -> Handler:
    """The same calls as ``POST /charges`` (a PutItem) and ``POST /charges/bulk`` (BatchWriteItem calls of 25 items),
    from ``json.loads`` alone."""

    def handler(event: Event, _context: Any) -> dict[str, Any]:
        body, now = json.loads(event["body"]), int(time.time())
        if "charges" not in body:
            item = _bare_item(body["user_id"], body, now)
            client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(PK)")
        else:
            items = [{"PutRequest": {"Item": _bare_item(body["user_id"], c, now)}} for c in body["charges"]]
            for start in range(0, len(items), 25):
                client.batch_write_item(RequestItems={table: items[start : start + 25]})
        return {"statusCode": 200, "body": '{"success": true, "code": 200, "data": null}'}

    return handler


def bare_summarize(client: Any, summaries_table: str) -> Handler:
    """The same calls as the stream handler: one BatchGetItem, then one PutItem per customer (its condition aside)."""

    def handler(event: Event, _context: Any) -> dict[str, Any]:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in event["Records"]:
            image = record["dynamodb"]["NewImage"]
            groups[image["customer_id"]["S"]].append(image)
        keys = [summary_key("local", customer) for customer in groups]
        client.batch_get_item(RequestItems={summaries_table: {"Keys": keys, "ConsistentRead": True}})
        for customer, images in groups.items():
            total = sum(int(image["amount"]["N"]) for image in images)
            ids = b"".join(bytes.fromhex(image["charge_id"]["S"]) for image in images)
            summary = {**summary_key("local", customer), "total": {"N": str(total)}, "seen": {"B": ids}}
            client.put_item(TableName=summaries_table, Item=summary)
        return {"batchItemFailures": []}

    return handler


def _bare_item(user_id: str, charge: dict[str, Any], now: int) -> dict[str, Any]:
    charge_id = uuid.uuid4().hex
    return {
        "PK": {"S": charge_pk("local", f"u#{user_id}")},
        "SK": {"S": charge_sk(charge_id)},
        "amount": {"N": str(charge["amount"])},
        "created_at": {"N": str(charge.get("created_at") or now)},
    }


# ---------------------------------------------------------------- timing


def _time_requests(handler: Handler, events: list[Event], fake: FakeDynamoDB) -> tuple[list[float], Counter[str]]:
    """CPU milliseconds of this thread per request (other processes do not stretch it), and the calls made."""
    before, times = Counter(fake.calls), []
    for event in events:
        started = time.thread_time()
        answer = handler(event, LambdaContext())
        times.append((time.thread_time() - started) * 1000)
        if isinstance(answer, dict) and (answer.get("statusCode", 200) != 200 or answer.get("batchItemFailures")):
            raise RuntimeError(f"the benchmark request was not accepted: {str(answer)[:300]}")
    return times, Counter(fake.calls) - before


Case = tuple[str, int, int, tuple[Handler, Handler], Callable[[], Event]]
"""A kind of request: its name, charges, requests to time, (handler, baseline), what makes its event."""


def _case(case: Case, fake: FakeDynamoDB) -> WarmCase:
    """The handler and the baseline in alternating rounds, so that a burst of noise on the machine hits both alike."""
    name, charges, requests, handlers, make_event = case
    times: list[list[float]] = [[], []]
    calls: list[Counter[str]] = [Counter(), Counter()]
    for handler in handlers:
        _time_requests(handler, [make_event() for _ in range(max(2, requests // 10))], fake)
    for _ in range(5):
        for n, handler in enumerate(handlers):
            spent, made = _time_requests(handler, [make_event() for _ in range(max(1, requests // 5))], fake)
            times[n] += spent
            calls[n] += made
    count = len(times[0])
    real_calls, bare_calls = ({op: n / count for op, n in sorted(c.items())} for c in calls)
    return WarmCase(name, charges, median(times[0]), median(times[1]), real_calls, bare_calls, count)


def measure(scale: float = 1.0, *, mode: str = "boto3") -> list[WarmCase]:
    """Every case; ``scale`` multiplies the number of requests. ``mode``: ``boto3`` (a real botocore client answered
    in memory) or ``stub`` (the plain Python stub)."""
    fake = FakeDynamoDB()
    client: Any = fake
    if mode == "boto3":
        import boto3

        session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench")
        client = session.client("dynamodb", region_name="us-east-1")
        attach(client.meta.events, fake)
    with in_process(client, lambda table: seed_keys(fake, table)) as handlers:
        charges, summaries = os.environ["CHARGES_TABLE_NAME"], os.environ["SUMMARIES_TABLE_NAME"]
        create, bulk = handlers["create_charge"].lambda_handler, handlers["bulk_charges"].lambda_handler
        single, bare_bulk = (create, bare_charges(client, charges)), (bulk, bare_charges(client, charges))
        # The baseline's summaries table of its own: its summaries are not the real ones the handler reads back.
        stream = (handlers["summarize_charges"].lambda_handler, bare_summarize(client, f"{summaries}-bare"))
        stream_batch = functools.partial(stream_event, 100, 10, fake, charges)
        cases: list[Case] = [
            ("single charge", 1, 2000, single, single_charge_event),
            ("single charge, user_id only", 1, 2000, single, user_id_charge_event),
            *[
                (f"bulk of {size}", size, n, bare_bulk, functools.partial(copy.deepcopy, bulk_event(size)))
                for size, n in ((100, 200), (1000, 30))
            ],
            ("stream batch of 100 records, 10 customers", 100, 150, stream, stream_batch),
        ]
        return [_case((name, size, max(5, int(n * scale)), pair, event), fake) for name, size, n, pair, event in cases]
