"""The stream's tails: one customer's recompute from a long history, and a batch's customers written concurrently.

- **recompute**: ``recompute_customer`` of one customer with ``charges`` stored charges, in a fresh interpreter
  (``python -m benchmarks.stream N``) so that its memory is the recompute's alone: the layer's botocore client gets
  raw 1 MB Query pages just before sending, made as they are asked for (their CPU left out).
- **concurrency**: a stream batch over as many customers with summaries, through ``process_stream_records`` with the
  layer's botocore client answered by ``FakeDynamoDB`` with a fixed added latency per call, written one customer
  after another (``concurrency=1``) and concurrently (the default).
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beacon.dal.item_keys import charge_pk, charge_sk
from beacon.dal.items import charge_item
from beacon.logic.identity import identify_customer
from benchmarks.cold_start import probe_output
from benchmarks.fake_dynamodb import FakeDynamoDB, attach, seed_keys, seed_summaries
from benchmarks.harness import charge, in_process, stream_event
from benchmarks.metering import item_size
from benchmarks.stats import median
from local.template import ROOT

PAGE_BYTES = 1_048_576  # DynamoDB's Query stops a page at 1 MB of items read
SESSIONS_A_DAY, CHARGES_A_SESSION, DAY = 10, 100, 86_400
T_START = 1_700_000_000


@dataclass(frozen=True)
class RecomputeReport:
    """One recompute, measured in a fresh interpreter."""

    charges: int
    pages: int
    sessions: int
    cpu_s: float
    """CPU of the recompute (the page generation left out)."""
    wall_s: float
    rss_before_mb: float
    peak_above_mb: float
    counted: int
    """The count of the summary it wrote (must equal ``charges``)."""


@dataclass(frozen=True)
class ConcurrencyReport:
    """One batch slot's batch, one customer after another and concurrently: median wall and CPU seconds."""

    records: int
    latency_s: float
    rounds: int
    sequential_s: float
    concurrent_s: float
    sequential_cpu_s: float
    concurrent_cpu_s: float
    workers: int
    calls: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.sequential_s / self.concurrent_s


# ---------------------------------------------------------------- the recompute


def recompute(charges: int) -> RecomputeReport:
    """The recompute of a customer with ``charges`` charges, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])}
    command = [sys.executable, "-m", "benchmarks.stream", str(charges)]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    return RecomputeReport(**probe_output(done, "the recompute probe"))


class _History:
    """One customer's stored charges as Query pages, made when asked for: ``SESSIONS_A_DAY`` sessions a day of
    charges 30 s apart, in sort key order (random ids in life, so another order than their times)."""

    def __init__(self, customer: str, charges: int) -> None:
        self.charges, self.spent = charges, 0.0
        item = charge_item(charge(customer, 7_777_777, 1_111_111_111))
        self.per_page = PAGE_BYTES // item_size(item)
        text = json.dumps(item, separators=(",", ":")).replace("%", "%%")
        marks = ((item["charge_id"]["S"], "i"), (item["received_ms"]["N"], "ms"), ("1111111111", "t"), ("7777777", "a"))
        for value, name in marks:
            text = text.replace(value, f"%({name})s")
        self.template = text

    def time_of(self, n: int) -> int:
        """When the ``n``-th charge in time order was received."""
        day, in_day = divmod(n, SESSIONS_A_DAY * CHARGES_A_SESSION)
        session, charge = divmod(in_day, CHARGES_A_SESSION)
        return T_START + day * DAY + session * 7_200 + charge * 30

    def page(self, request: dict[str, Any]) -> bytes:
        started = time.thread_time()
        start_key = request.get("ExclusiveStartKey")
        first = int(start_key["SK"]["S"].removeprefix(charge_sk("")), 16) + 1 if start_key else 0
        last = min(self.charges, first + self.per_page)
        items = []
        for position in range(first, last):
            at = self.time_of((position * 7_919 + 13) % self.charges)  # 7,919 is prime: a permutation
            items.append(self.template % {"i": f"{position:032x}", "ms": at * 1000, "t": at, "a": 100 + at % 900})
        parts = [f'{{"Count":{last - first},"ScannedCount":{last - first},"Items":[', ",".join(items), "]"]
        if last < self.charges:
            key = {"PK": request["ExpressionAttributeValues"][":pk"], "SK": {"S": charge_sk(f"{last - 1:032x}")}}
            parts.append(f',"LastEvaluatedKey":{json.dumps(key)}')
        self.spent += time.thread_time() - started
        return ("".join(parts) + "}").encode()


class _Body:
    def __init__(self, body: bytes) -> None:
        self.stream = lambda: [body]


def _answer_before_sending(client: Any, histories: dict[str, _History]) -> None:
    """Answer every DynamoDB request with a raw body, as DynamoDB would, just before it is sent."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    def answer(request: Any, **_: Any) -> AWSResponse:
        params, body = json.loads(request.body), b"{}"
        if request.headers["X-Amz-Target"].decode().endswith(".Query"):
            body = histories[params["ExpressionAttributeValues"][":pk"]["S"]].page(params)
        return AWSResponse(request.url, 200, HTTPHeaders(), _Body(body))

    client.meta.events.register("before-send.dynamodb", answer)


def _memory_kb(field: str) -> int:
    """A figure of /proc/self/status (Linux), in kB: ``VmRSS`` (resident now), ``VmHWM`` (its peak)."""
    lines = Path("/proc/self/status").read_text(encoding="ascii").splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith(f"{field}:"))


def _probe(charges: int) -> dict[str, Any]:
    """Run in the fresh interpreter: a small recompute first (lazy imports, models built), then the measured one."""
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    from beacon.dal import aws
    from beacon.dal.summaries import SummariesRepository
    from beacon.logic import seen
    from beacon.services.summarize_batch import Context, recompute_customer

    small, big_one = (("local", identify_customer(name, None)) for name in ("small", "big"))
    histories = {charge_pk(*small): _History("small", 1_000), charge_pk(*big_one): _History("big", charges)}
    client = aws.dynamodb_client()
    _answer_before_sending(client, histories)
    repository = SummariesRepository("SummariesTable", "ChargesTable", client)
    big = histories[charge_pk(*big_one)]
    now = big.time_of(charges - 1) + 60  # the record that started the recompute: a minute after the last charge
    context = Context(repository, since=seen.horizon(now, 3_600), session_timeout=1_800, now=lambda: now)
    recompute_customer(context, small)
    Path("/proc/self/clear_refs").write_text("5", encoding="ascii")  # resets VmHWM to the resident set now
    before, cpu, wall = _memory_kb("VmRSS"), time.process_time(), time.perf_counter()
    write = recompute_customer(context, big_one)
    cpu, wall = time.process_time() - cpu - big.spent, time.perf_counter() - wall
    assert write is not None, "a customer with charges and no erasure is always written"
    return {
        "charges": charges,
        "pages": -(-charges // big.per_page),
        "sessions": write.summary.summary.sessions.count,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "rss_before_mb": round(before / 1024, 1),
        "peak_above_mb": round((_memory_kb("VmHWM") - before) / 1024, 1),
        "counted": write.summary.summary.charges.count,
    }


# ---------------------------------------------------------------- concurrent writes


def concurrency(records: int = 200, latency_s: float = 0.005, rounds: int = 5) -> ConcurrencyReport:
    """A batch of ``records`` records over as many customers with summaries, written one customer after another
    and concurrently, in alternating rounds; each DynamoDB call takes ``latency_s`` more."""
    import boto3
    from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

    from beacon.dal import aws
    from beacon.dal.summaries import SummariesRepository
    from beacon.services.summarize_batch import process_stream_records

    fake = FakeDynamoDB(latency=latency_s)
    session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")
    client = session.client("dynamodb", config=aws._BOTO_CONFIG)  # the layer's client, its pool sized to its threads
    attach(client.meta.events, fake)
    times: dict[int, list[tuple[float, float]]] = {1: [], aws.MAX_CONCURRENT_CALLS: []}
    with in_process(client, lambda table: seed_keys(fake, table)):
        charges, summaries = os.environ["CHARGES_TABLE_NAME"], os.environ["SUMMARIES_TABLE_NAME"]
        repository = SummariesRepository(summaries, charges, client)
        calls_before = fake.calls.copy()
        for _ in range(rounds):
            for workers, seconds in times.items():
                event = stream_event(records, records, fake, charges)
                seed_summaries(fake, summaries, event)
                cpu, wall = time.process_time(), time.perf_counter()
                done = process_stream_records(
                    DynamoDBStreamEvent(event).records, summaries=repository, concurrency=workers
                )
                seconds.append((time.perf_counter() - wall, time.process_time() - cpu))
                if done.failed or done.customers_updated != records:
                    raise RuntimeError(f"the batch was not summarized: {done}")
    calls = {op: (n - calls_before[op]) / (2 * rounds) for op, n in fake.calls.items() if n > calls_before[op]}
    sequential, concurrent = times[1], times[aws.MAX_CONCURRENT_CALLS]
    return ConcurrencyReport(
        records=records,
        latency_s=latency_s,
        rounds=rounds,
        sequential_s=median([wall for wall, _ in sequential]),
        concurrent_s=median([wall for wall, _ in concurrent]),
        sequential_cpu_s=median([cpu for _, cpu in sequential]),
        concurrent_cpu_s=median([cpu for _, cpu in concurrent]),
        workers=aws.MAX_CONCURRENT_CALLS,
        calls=dict(sorted(calls.items())),
    )


if __name__ == "__main__":
    print(json.dumps(_probe(int(sys.argv[1]))))
