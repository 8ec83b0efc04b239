"""A discrete-event simulation of one batch slot of the summarizer's stream, to check the capacity model's lag.

Record by record: Poisson arrivals at the slot's rate (uniform over the customers, or one taking a share); the
poller sees a record at its next poll; a batch starts when the slot is free and ``BatchSize`` records wait or the
batching window has passed since the first; it takes the model's handler time for its real number of distinct
customers; a failed batch is bisected and retried up to ``MaximumRetryAttempts``, and records older than
``MaximumRecordAgeInSeconds`` when their batch starts are given up. It reports each record's lag and the iterator age
when the arrivals stop.
"""

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.stats import percentile

GIVEN_UP = -1.0
BatchSeconds = Callable[[int, int], float]
"""Seconds a batch of (records, distinct customers) takes."""


@dataclass(frozen=True)
class SimResult:
    """What one run of the simulation saw."""

    records: int
    summarized: int
    given_up: int
    batches: int
    failed_batches: int
    mean_lag_s: float
    p99_lag_s: float
    max_lag_s: float
    age_at_end_s: float
    """Age of the oldest record not yet summarized when the arrivals stop (0 when none is left)."""
    longest_batch_s: float


@dataclass(frozen=True)
class _Records:
    """The arrivals of one run: when each record was written, when the poller saw it, whose it is."""

    arrivals: list[float]
    seen: list[float]
    owners: list[int]


def _records(
    rng: random.Random, rate: float, seconds: float, customers: int, hot_share: float, poll_s: float
) -> _Records:
    arrivals: list[float] = []
    t = rng.expovariate(rate) if rate > 0 else math.inf
    while t < seconds:
        arrivals.append(t)
        t += rng.expovariate(rate)
    others = max(1, customers - 1) if hot_share else customers
    draw = rng.random
    owners = [0 if hot_share and draw() < hot_share else 1 + int(draw() * others) for _ in arrivals]
    return _Records(arrivals, [math.ceil(a / poll_s) * poll_s for a in arrivals], owners)


def _next_batch(records: _Records, first: int, clock: float, batch_size: int, window_s: float) -> tuple[int, float]:
    """(end of the next batch, when it starts): once the slot is free and the window has closed or it is full."""
    seen, total = records.seen, len(records.seen)
    full_at = seen[first + batch_size - 1] if first + batch_size <= total else math.inf
    clock = max(clock, min(seen[first] + window_s, full_at))
    end = first
    while end < total and end - first < batch_size and seen[end] <= clock:
        end += 1
    return end, clock


def simulate(
    *,
    rate: float,
    seconds: float,
    batch_seconds: BatchSeconds,
    batch_size: int,
    window_s: float,
    poll_s: float,
    customers: int,
    hot_share: float = 0.0,
    failure_probability: float = 0.0,
    maximum_retry_attempts: int = 10,
    maximum_record_age_s: float = math.inf,
    seed: int = 1,
) -> SimResult:
    """Run one slot for ``seconds`` of arrivals at ``rate`` records/s, then until every record is done."""
    rng = random.Random(seed)
    records = _records(rng, rate, seconds, customers, hot_share, poll_s)
    arrivals, total = records.arrivals, len(records.arrivals)
    done = [math.inf] * total  # when each record was summarized (GIVEN_UP: sent to the failure queue)
    retries: deque[tuple[list[int], int]] = deque()  # (record indexes, attempts so far)
    next_record, clock = 0, 0.0
    batches = failed = 0
    longest = 0.0

    while next_record < total or retries:
        if retries:
            batch, attempts = retries.popleft()
        else:
            end, clock = _next_batch(records, next_record, clock, batch_size, window_s)
            batch, attempts, next_record = list(range(next_record, end)), 0, end
        for i in batch:
            if clock - arrivals[i] > maximum_record_age_s:
                done[i] = GIVEN_UP
        batch = [i for i in batch if done[i] != GIVEN_UP]
        if not batch:
            continue
        took = batch_seconds(len(batch), len({records.owners[i] for i in batch}))
        longest, clock, batches = max(longest, took), clock + took, batches + 1
        if failure_probability and rng.random() < failure_probability:
            failed += 1
            _retry(batch, attempts, maximum_retry_attempts, retries, done)
            continue
        for i in batch:
            done[i] = clock
    return _result(arrivals, done, seconds, batches, failed, longest)


def _retry(
    batch: list[int], attempts: int, maximum: int, retries: deque[tuple[list[int], int]], done: list[float]
) -> None:
    """A failed batch: bisected and retried first (``BisectBatchOnFunctionError``), or given up after ``maximum``."""
    if attempts >= maximum >= 0:
        for i in batch:
            done[i] = GIVEN_UP
    elif len(batch) > 1:
        half = len(batch) // 2
        retries.extendleft([(batch[half:], attempts + 1), (batch[:half], attempts + 1)])
    else:
        retries.appendleft((batch, attempts + 1))


def _result(
    arrivals: list[float], done: list[float], seconds: float, batches: int, failed: int, longest: float
) -> SimResult:
    lags = [d - a for a, d in zip(arrivals, done, strict=True) if d >= 0]
    waiting = [a for a, d in zip(arrivals, done, strict=True) if d > seconds]
    return SimResult(
        records=len(arrivals),
        summarized=len(lags),
        given_up=sum(1 for d in done if d == GIVEN_UP),
        batches=batches,
        failed_batches=failed,
        mean_lag_s=sum(lags) / len(lags) if lags else 0.0,
        p99_lag_s=percentile(lags, 99),
        max_lag_s=max(lags, default=0.0),
        age_at_end_s=seconds - min(waiting) if waiting else 0.0,
        longest_batch_s=longest,
    )
