"""End to end: a bounded client sends charges to the local stack at rising rates, then checks every summary.

The client is open-loop: requests are scheduled at the step's rate and handed to a bounded pool of worker threads
(keep-alive); a request that finds every worker busy is shed and counted, never sent late, and latency runs from
the scheduled start (no coordinated omission). A probe sends a charge for a new customer twice a second and polls
its summary every 100 ms: the summary lag. After the last step every summary is checked against what was accepted.
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

from benchmarks.capacity_model import load_settings
from local.process import run_local_stack

PROBE_INTERVAL, POLL_INTERVAL, PROBE_TIMEOUT = 0.5, 0.1, 60.0  # seconds


@dataclass(frozen=True)
class Target:
    """A running API: its base URL, the keys of its project, what it stored and its process's CPU time."""

    base_url: str
    public_key: str
    secret_key: str
    count_stored: Callable[[str], int]  # project_id -> charge items stored for it
    cpu_seconds: Callable[[], float]

    def post(self, session: requests.Session, path: str, body: dict[str, Any]) -> str:
        """The status of a POST with the public key (the exception's name when there is no answer)."""
        headers = {"Authorization": f"Bearer {self.public_key}"}
        try:
            return str(session.post(f"{self.base_url}{path}", json=body, headers=headers, timeout=30).status_code)
        except requests.RequestException as exc:
            return type(exc).__name__

    def charges_of(self, session: requests.Session, user_id: str) -> tuple[int, int] | None:
        """(count, total) of a customer's summary, ``None`` when it has none (yet)."""
        headers = {"Authorization": f"Bearer {self.secret_key}"}
        try:
            url, params = f"{self.base_url}/customers/summary", {"user_id": user_id}
            answer = session.get(url, params=params, headers=headers, timeout=30)
        except requests.RequestException:
            return None
        charges = answer.json()["data"]["charges"] if answer.status_code == 200 else None
        return (charges["count"], charges["total"]) if charges else None


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
    stack_cpu_seconds: float = 0.0  # the API process's CPU time from the first request to the last summary

    @property
    def cpu_ms_per_charge(self) -> float:
        return self.stack_cpu_seconds * 1000 / self.accepted_charges if self.accepted_charges else 0.0


class _Ledger:
    """What the API accepted, per customer: [charges, total amount]."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.customers: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def accept(self, customer: str, amounts: list[int]) -> None:
        with self.lock:
            self.customers[customer][0] += len(amounts)
            self.customers[customer][1] += sum(amounts)


def _session(workers: int) -> requests.Session:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=workers, pool_maxsize=workers))
    return session


Job = tuple[float, str, dict[str, Any], str, list[int], Step]


def measure(*, rates: list[float], step_seconds: float, drain_timeout: float = 120.0) -> LoadReport:
    """Start the local stack, send charges at each rate for ``step_seconds``, measure the summary lag, then check
    every summary; stop the stack."""
    with local_stack() as target:
        rng, run_id, workers = random.Random(11), uuid.uuid4().hex[:8], 16
        pool, ledger, session = [f"load-{run_id}-{i}" for i in range(200)], _Ledger(), _session(workers + 2)
        jobs: queue.Queue[Job | None] = queue.Queue(maxsize=workers)
        threads = [threading.Thread(target=_send_jobs, args=(jobs, session, target, ledger)) for _ in range(workers)]
        stop, timeouts, lags = threading.Event(), [0], list[float]()
        threads.append(threading.Thread(target=_probe, args=(target, ledger, run_id, stop, lags, timeouts)))
        for thread in threads:
            thread.start()
        cpu_before = target.cpu_seconds()
        steps = [_offer(jobs, rng, pool, rate, step_seconds) for rate in rates]
        for _ in range(workers):
            jobs.put(None)
        stop.set()
        for thread in threads:
            thread.join()
        drain_started = time.perf_counter()
        right = _wait_for_summaries(target, session, ledger, drain_timeout)
        return LoadReport(
            steps=steps,
            lag_ms=lags,
            lag_timeouts=timeouts[0],
            accepted_charges=sum(count for count, _ in ledger.customers.values()),
            stored_charges=target.count_stored("local"),
            customers=len(ledger.customers),
            summaries_right=right,
            drain_seconds=time.perf_counter() - drain_started,
            workers=workers,
            batching_window=load_settings().batching_window_s,
            stack_cpu_seconds=target.cpu_seconds() - cpu_before,
        )


def _offer(jobs: "queue.Queue[Job | None]", rng: random.Random, pool: list[str], rate: float, seconds: float) -> Step:
    """Schedule ``rate`` requests a second for ``seconds``: 80% single charges, 20% bulks of 1 to 20."""
    step, started = Step(rate=rate, seconds=seconds), time.perf_counter()
    for n in range(int(rate * seconds)):
        scheduled = started + n / rate
        time.sleep(max(0.0, scheduled - time.perf_counter()))
        customer = rng.choice(pool)
        single = rng.random() < 0.8
        amounts = [rng.randint(1, 100_000) for _ in range(1 if single else rng.randint(1, 20))]
        path, body = "/charges", {"user_id": customer, "amount": amounts[0]}
        if not single:
            path, body = "/charges/bulk", {"user_id": customer, "charges": [{"amount": a} for a in amounts]}
        try:
            jobs.put_nowait((scheduled, path, body, customer, amounts, step))
            step.sent += 1
        except queue.Full:
            step.shed += 1
    return step


def _send_jobs(jobs: "queue.Queue[Job | None]", session: requests.Session, target: Target, ledger: _Ledger) -> None:
    """A worker: send each job's request, record its latency (from when it was scheduled) and outcome."""
    while (job := jobs.get()) is not None:
        scheduled, path, body, customer, amounts, step = job
        outcome = target.post(session, path, body)
        with ledger.lock:
            step.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
            step.accepted += outcome == "200"
            if outcome != "200":
                step.errors[outcome] = step.errors.get(outcome, 0) + 1
        if outcome == "200":
            ledger.accept(customer, amounts)


def _probe(
    target: Target, ledger: _Ledger, run_id: str, stop: threading.Event, lags: list[float], timeouts: list[int]
) -> None:
    """Every ``PROBE_INTERVAL`` a charge for a new customer; every ``POLL_INTERVAL`` a look at those not seen yet."""
    session, n, next_probe = _session(2), 0, time.perf_counter()
    outstanding: dict[str, float] = {}
    while not stop.is_set() or outstanding:
        if not stop.is_set() and time.perf_counter() >= next_probe:
            n, next_probe, customer = n + 1, time.perf_counter() + PROBE_INTERVAL, f"probe-{run_id}-{n}"
            if target.post(session, "/charges", {"user_id": customer, "amount": 1}) == "200":
                outstanding[customer] = time.perf_counter()
                ledger.accept(customer, [1])
        for customer, accepted_at in list(outstanding.items()):
            if target.charges_of(session, customer):
                lags.append((time.perf_counter() - accepted_at) * 1000)
                del outstanding[customer]
            elif time.perf_counter() - accepted_at > PROBE_TIMEOUT:
                timeouts[0] += 1
                del outstanding[customer]
        time.sleep(POLL_INTERVAL)


def _wait_for_summaries(target: Target, session: requests.Session, ledger: _Ledger, timeout: float) -> int:
    """Poll every customer's summary until all equal the ledger (or the timeout); return how many are right."""
    pending, deadline = dict(ledger.customers), time.perf_counter() + timeout
    while pending and time.perf_counter() < deadline:
        for customer, (count, total) in list(pending.items()):
            if target.charges_of(session, customer) == (count, total):
                del pending[customer]
        time.sleep(0.5 if pending else 0)
    return len(ledger.customers) - len(pending)


@contextmanager
def local_stack() -> Iterator[Target]:
    """``python -m local`` in a process of its own, on free ports; stopped as Ctrl-C would."""
    with tempfile.TemporaryDirectory() as scratch, run_local_stack(Path(scratch) / "stack.log") as running:
        dynamodb, table = running.dynamodb(), running.exports["CHARGES_TABLE_NAME"]

        def count_stored(project_id: str) -> int:
            pages = dynamodb.get_paginator("scan").paginate(
                TableName=table,
                FilterExpression="#type = :charge AND project_id = :project",
                ExpressionAttributeNames={"#type": "type"},
                ExpressionAttributeValues={":charge": {"S": "charge"}, ":project": {"S": project_id}},
                Select="COUNT",
            )
            return sum(page["Count"] for page in pages)

        yield Target(running.base_url, "pk_local_dev", "sk_local_dev", count_stored, running.cpu_seconds)
