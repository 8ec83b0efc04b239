"""Erasing a customer of 100,000 charges: the erase job's pass through the jobs function, timed.

The customer's charges are in the in-memory table, and every DynamoDB, SQS and KMS call takes
``LATENCY_MS`` more (as a real call's round trip does; calls overlap, as DynamoDB's do): the wall time
is what the job's Query pages and BatchWriteItem deletes (``PUT_CONCURRENCY`` at a time) take, the CPU
time what our code and boto3's stand-in spend. The floor is those calls' latency alone. On AWS one
customer's charges share a partition key, which takes 1,000 write units a second until DynamoDB splits
it for heat: ``aws_floor_s`` is that bound, which no code lifts.
"""

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

from beacon.dal.charges import BATCH_WRITE_LIMIT, PUT_CONCURRENCY
from beacon.dal.items import charge_item
from benchmarks.fake_dynamodb import FakeDynamoDB, seed_keys
from benchmarks.functions import EVENTS_DIR
from benchmarks.harness import LambdaContext, charge, in_process

LATENCY_MS = 5.0
PAGE_SIZE = 3_000  # charge items a 1 MB Query page holds (about 300 bytes each)
PARTITION_WRITES_PER_SECOND = 1_000
CUSTOMER = "u#erased"


@dataclass
class ErasureResult:
    charges: int
    wall_s: float
    cpu_s: float
    calls: dict[str, int] = field(default_factory=dict)
    latency_ms: float = LATENCY_MS

    @property
    def floor_s(self) -> float:
        """The calls' latency alone: the Query pages one after the other, each page's deletes in parallel."""
        pages = math.ceil(self.charges / PAGE_SIZE)
        rounds = pages * math.ceil(PAGE_SIZE / BATCH_WRITE_LIMIT / PUT_CONCURRENCY)
        return (pages + rounds) * self.latency_ms / 1000

    @property
    def aws_floor_s(self) -> float:
        return self.charges / PARTITION_WRITES_PER_SECOND


def _seed(fake: FakeDynamoDB, table: str, count: int, erased_before: int) -> None:
    """``count`` charges of the customer (``CUSTOMER``), a second apart, received before ``erased_before`` (ms)."""
    for n in range(count):
        fake.seed(table, charge_item(charge("erased", 100 + n, erased_before // 1000 - count + n)))


def _job_event(erased_before: int) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / "customer_jobs.json").read_text(encoding="utf-8"))
    body = {"kind": "erase", "project_id": "local", "customer_id": CUSTOMER, "erased_before": erased_before}
    event["Records"][0]["body"] = json.dumps(body)
    return event


def measure(charges: int = 100_000) -> ErasureResult:
    """The erase job's pass over a customer of ``charges`` charges, through the jobs function's handler."""
    fake = FakeDynamoDB(page_size=PAGE_SIZE)
    erased_before = int(time.time() * 1000)
    with in_process(fake, lambda table: seed_keys(fake, table)) as handlers:
        _seed(fake, os.environ["CHARGES_TABLE_NAME"], charges, erased_before)
        fake.latency = LATENCY_MS / 1000
        wall, cpu = time.perf_counter(), time.process_time()
        answer = handlers["customer_jobs"].lambda_handler(_job_event(erased_before), LambdaContext(900))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        left = sum(1 for item in fake.table(os.environ["CHARGES_TABLE_NAME"]).values() if item["type"]["S"] == "charge")
    assert answer == {"batchItemFailures": []} and left == 0, (answer, left)
    return ErasureResult(charges, wall, cpu, dict(fake.calls))


if __name__ == "__main__":
    result = measure()
    print(result, f"floor {result.floor_s:.2f} s, AWS partition floor {result.aws_floor_s:.0f} s")
