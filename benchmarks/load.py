"""End to end: a bounded client sends charges to a running API at rising rates, then checks every summary.

The target is anything with a base URL and the keys of one project: by default the local stack
(``python -m local``, what ``make dev`` runs), started in a process of its own on free ports; any
other ``Target`` can be swapped in. The client is open-loop: requests are scheduled at the step's
rate and handed to a bounded pool of worker threads (keep-alive connections); a request that finds
every worker still waiting for an answer is shed and counted, never silently sent late. Latency is
measured from the scheduled start, so a server that falls behind shows it (no coordinated omission).

A probe thread sends, twice a second, one charge for a customer of its own and polls the summaries
of the probes not yet seen every 100 ms: the delay from the 200 to the first summary that counts the
charge is the summary lag (to within the polling interval). After the last step the client waits
for the stream to drain, then checks that the charges stored equal the charges accepted and that
every customer's summary (count and total) equals what was accepted for it.
"""

import queue
import random
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests  # type: ignore[import-untyped]

from benchmarks.stats import percentile
from local import sam
from local.process import run_local_stack

PROBE_INTERVAL = 0.5  # seconds between two probe charges
POLL_INTERVAL = 0.1  # seconds between two looks at the probes' summaries: the lag's resolution
PROBE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Target:
    """A running API and what the client needs to check it afterwards."""

    base_url: str
    public_key: str
    secret_key: str
    count_stored: Callable[[str], int]  # project_id -> charge items stored for it


@dataclass
class Step:
    """One rate step's outcome."""

    rate: float
    seconds: float
    sent: int = 0
    accepted: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    shed: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass
class LoadReport:
    """Every step, the summary lag and the final checks."""

    steps: list[Step]
    lag_ms: list[float]
    lag_timeouts: int
    accepted_charges: int
    stored_charges: int
    customers: int
    summaries_right: int
    drain_seconds: float
    workers: int
    batching_window: float

    @property
    def lag_p50_ms(self) -> float:
        return percentile(self.lag_ms, 50)

    @property
    def lag_p99_ms(self) -> float:
        return percentile(self.lag_ms, 99)


class _Ledger:
    """What the API accepted, per customer: (charges, total amount)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.customers: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def accept(self, customer: str, amounts: list[int]) -> None:
        with self.lock:
            entry = self.customers[customer]
            entry[0] += len(amounts)
            entry[1] += sum(amounts)

    @property
    def charges(self) -> int:
        return sum(count for count, _ in self.customers.values())


def _session(workers: int) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=workers, pool_maxsize=workers)
    session.mount("http://", adapter)
    return session


def _charge_request(rng: random.Random, customer: str) -> tuple[str, dict[str, Any], list[int]]:
    """80% single charges, 20% bulks of 1 to 20."""
    if rng.random() < 0.8:
        amount = rng.randint(1, 100_000)
        return "/charges", {"user_id": customer, "amount": amount}, [amount]
    amounts = [rng.randint(1, 100_000) for _ in range(rng.randint(1, 20))]
    return "/charges/bulk", {"user_id": customer, "charges": [{"amount": a} for a in amounts]}, amounts


Job = tuple[float, str, dict[str, Any], str, list[int], Step]


def run_load(
    target: Target,
    *,
    rates: list[float],
    step_seconds: float,
    workers: int = 16,
    customers: int = 200,
    drain_timeout: float = 120.0,
    seed: int = 11,
) -> LoadReport:
    """Send charges at each rate for ``step_seconds``, measure the summary lag, then check every summary."""
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:8]
    pool = [f"load-{run_id}-{i}" for i in range(customers)]
    ledger = _Ledger()
    session = _session(workers + 2)
    jobs: queue.Queue[Job | None] = queue.Queue(maxsize=workers)
    threads = [
        threading.Thread(target=_send_jobs, args=(jobs, session, target, ledger), daemon=True) for _ in range(workers)
    ]
    for thread in threads:
        thread.start()
    stop_probe = threading.Event()
    lags: list[float] = []
    lag_timeouts = [0]
    probe = threading.Thread(
        target=_probe_summaries, args=(target, ledger, run_id, stop_probe, lags, lag_timeouts), daemon=True
    )
    probe.start()
    steps = [_offer(jobs, rng, pool, rate, step_seconds) for rate in rates]
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    stop_probe.set()
    probe.join()

    drain_started = time.perf_counter()
    right = _wait_for_summaries(target, session, ledger, drain_timeout)
    return LoadReport(
        steps=steps,
        lag_ms=lags,
        lag_timeouts=lag_timeouts[0],
        accepted_charges=ledger.charges,
        stored_charges=target.count_stored("local"),
        customers=len(ledger.customers),
        summaries_right=right,
        drain_seconds=time.perf_counter() - drain_started,
        workers=workers,
        batching_window=stream_batching_window(),
    )


def _offer(jobs: "queue.Queue[Job | None]", rng: random.Random, pool: list[str], rate: float, seconds: float) -> Step:
    """Schedule ``rate`` requests a second for ``seconds`` (open loop); a request no worker can take is shed."""
    step = Step(rate=rate, seconds=seconds)
    started = time.perf_counter()
    for n in range(int(rate * seconds)):
        scheduled = started + n / rate
        pause = scheduled - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        customer = rng.choice(pool)
        path, body, amounts = _charge_request(rng, customer)
        try:
            jobs.put_nowait((scheduled, path, body, customer, amounts, step))
            step.sent += 1
        except queue.Full:
            step.shed += 1
    return step


def _send_jobs(jobs: "queue.Queue[Job | None]", session: requests.Session, target: Target, ledger: _Ledger) -> None:
    """A worker: send each job's request and record its latency (from when it was scheduled) and outcome."""
    headers = {"Authorization": f"Bearer {target.public_key}"}
    while (job := jobs.get()) is not None:
        scheduled, path, body, customer, amounts, step = job
        try:
            response = session.post(f"{target.base_url}{path}", json=body, headers=headers, timeout=30)
            outcome = str(response.status_code)
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        elapsed = (time.perf_counter() - scheduled) * 1000
        with ledger.lock:
            step.latencies_ms.append(elapsed)
            if outcome == "200":
                step.accepted += 1
            else:
                step.errors[outcome] = step.errors.get(outcome, 0) + 1
        if outcome == "200":
            ledger.accept(customer, amounts)


def _probe_summaries(
    target: Target, ledger: _Ledger, run_id: str, stop: threading.Event, lags: list[float], timeouts: list[int]
) -> None:
    """Every ``PROBE_INTERVAL`` a charge for a new customer; every ``POLL_INTERVAL`` a look at those not seen yet."""
    session = _session(2)
    outstanding: dict[str, float] = {}
    n, next_probe = 0, time.perf_counter()
    while not stop.is_set() or outstanding:
        now = time.perf_counter()
        if not stop.is_set() and now >= next_probe:
            n += 1
            next_probe = now + PROBE_INTERVAL
            customer = f"probe-{run_id}-{n}"
            if _send_probe(session, target, customer):
                outstanding[customer] = time.perf_counter()
                ledger.accept(customer, [1])
        for customer, accepted_at in list(outstanding.items()):
            seen = _summary_seen(session, target, customer)
            if seen is not None:
                lags.append((seen - accepted_at) * 1000)
                del outstanding[customer]
            elif time.perf_counter() - accepted_at > PROBE_TIMEOUT:
                timeouts[0] += 1
                del outstanding[customer]
        time.sleep(POLL_INTERVAL)


def _send_probe(session: requests.Session, target: Target, customer: str) -> bool:
    """One charge of 1 for a new customer; whether it was accepted."""
    public = {"Authorization": f"Bearer {target.public_key}"}
    try:
        response = session.post(
            f"{target.base_url}/charges", json={"user_id": customer, "amount": 1}, headers=public, timeout=30
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


def _summary_seen(session: requests.Session, target: Target, customer: str) -> float | None:
    """When the customer's summary was seen counting a charge (``perf_counter``), or ``None`` if not yet."""
    secret = {"Authorization": f"Bearer {target.secret_key}"}
    try:
        answer = session.get(
            f"{target.base_url}/customers/summary", params={"user_id": customer}, headers=secret, timeout=30
        )
    except requests.RequestException:
        return None
    seen = time.perf_counter()
    return seen if answer.status_code == 200 and answer.json()["data"]["charges"]["count"] >= 1 else None


def _wait_for_summaries(target: Target, session: requests.Session, ledger: _Ledger, timeout: float) -> int:
    """Poll every customer's summary until all equal the ledger (or the timeout); return how many are right."""
    secret = {"Authorization": f"Bearer {target.secret_key}"}
    pending = dict(ledger.customers)
    deadline = time.perf_counter() + timeout
    while pending and time.perf_counter() < deadline:
        for customer, (count, total) in list(pending.items()):
            answer = session.get(
                f"{target.base_url}/customers/summary", params={"user_id": customer}, headers=secret, timeout=30
            )
            if answer.status_code == 200:
                charges = answer.json()["data"]["charges"]
                if (charges["count"], charges["total"]) == (count, total):
                    del pending[customer]
        if pending:
            time.sleep(0.5)
    return len(ledger.customers) - len(pending)


def stream_batching_window() -> float:
    """The event source mapping's MaximumBatchingWindowInSeconds in template.yaml (0 if none)."""
    for spec in sam.functions().values():
        for event in spec.events.values():
            if event.get("Type") == "DynamoDB":
                return float(event["Properties"].get("MaximumBatchingWindowInSeconds", 0))
    return 0.0


# ---------------------------------------------------------------- the local stack


@contextmanager
def local_stack() -> Iterator[Target]:
    """``python -m local`` in a process of its own, on free ports; stopped as Ctrl-C would."""
    with tempfile.TemporaryDirectory() as scratch, run_local_stack(Path(scratch) / "stack.log") as running:
        dynamodb = running.dynamodb()
        table = running.exports["CHARGES_TABLE_NAME"]

        def count_stored(project_id: str) -> int:
            paginator = dynamodb.get_paginator("scan")
            pages = paginator.paginate(
                TableName=table,
                FilterExpression="#type = :charge AND project_id = :project",
                ExpressionAttributeNames={"#type": "type"},
                ExpressionAttributeValues={":charge": {"S": "charge"}, ":project": {"S": project_id}},
                Select="COUNT",
            )
            return sum(page["Count"] for page in pages)

        yield Target(running.base_url, "pk_local_dev", "sk_local_dev", count_stored)


def measure(*, rates: list[float], step_seconds: float, drain_timeout: float = 120.0) -> LoadReport:
    """Start the local stack, run the load against it, stop it."""
    with local_stack() as target:
        return run_load(target, rates=rates, step_seconds=step_seconds, drain_timeout=drain_timeout)
