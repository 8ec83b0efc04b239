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

import copy
import json
import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from beacon.dal.item_keys import charge_pk, charge_sk
from beacon.dal.items import summary_key
from benchmarks.fake_dynamodb import FakeDynamoDB, attach_to_client, seed_keys
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
            summary = {
                **summary_key("local", customer),
                "total": {"N": str(total)},
                "seen": {"B": ids},
            }
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
    with in_process(client, lambda table: seed_keys(fake, table)) as handlers:
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
            bare = bare_summarize(client, f"{summaries_table}-bare")
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
