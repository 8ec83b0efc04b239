"""A discrete-event simulation of one batch slot of the summarizer's stream, to check the capacity model's lag.

What it simulates, record by record, for one slot (Lambda runs ``ParallelizationFactor`` of them per shard,
each fed by the partition keys hashed to it):

- charges arrive as a Poisson process at the slot's rate, each of one customer (uniform over the
  customers, or one customer taking a share of them);
- the poller sees a record at its next poll (4 a second); a batch starts when the slot is free and either
  ``BatchSize`` records wait or ``MaximumBatchingWindowInSeconds`` has passed since the first of them was
  seen;
- a batch of n records over k distinct customers takes the handler time the model uses (the benchmarks'
  CPU per record and DynamoDB calls per record, customer and batch, with the assumed latencies), with the
  batch's real k, not its expectation;
- a batch fails with a given probability; it is then bisected (``BisectBatchOnFunctionError``) and its
  halves retried, up to ``MaximumRetryAttempts``; records older than ``MaximumRecordAgeInSeconds`` when
  their batch starts are given up (the on-failure queue).

It reports each record's lag (written to summarized), and the iterator age when the arrivals stop.
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
    p50_lag_s: float
    p99_lag_s: float
    max_lag_s: float
    age_at_end_s: float
    """Age of the oldest record not yet summarized when the arrivals stop (0 when none is left)."""
    mean_batch: float
    longest_batch_s: float


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
    arrivals: list[float] = []
    t = rng.expovariate(rate) if rate > 0 else math.inf
    while t < seconds:
        arrivals.append(t)
        t += rng.expovariate(rate)
    others = max(1, customers - 1) if hot_share else customers
    draw = rng.random
    owners = [0 if hot_share and draw() < hot_share else 1 + int(draw() * others) for _ in arrivals]
    seen = [math.ceil(a / poll_s) * poll_s for a in arrivals]

    done = [math.inf] * len(arrivals)  # when each record was summarized
    retries: deque[tuple[list[int], int]] = deque()  # (record indexes, attempts so far)
    next_record, clock = 0, 0.0
    given_up = batches = failed = 0
    longest = 0.0
    total = len(arrivals)

    while next_record < total or retries:
        if retries:
            batch, attempts = retries.popleft()
        else:
            window_closes = seen[next_record] + window_s
            full_at = seen[next_record + batch_size - 1] if next_record + batch_size <= total else math.inf
            clock = max(clock, min(window_closes, full_at))
            end = next_record
            while end < total and end - next_record < batch_size and seen[end] <= clock:
                end += 1
            batch, attempts = list(range(next_record, end)), 0
            next_record = end
        expired = [i for i in batch if clock - arrivals[i] > maximum_record_age_s]
        given_up += len(expired)
        for i in expired:
            done[i] = GIVEN_UP
        batch = [i for i in batch if clock - arrivals[i] <= maximum_record_age_s]
        if not batch:
            continue
        took = batch_seconds(len(batch), len({owners[i] for i in batch}))
        longest = max(longest, took)
        clock += took
        batches += 1
        if failure_probability and rng.random() < failure_probability:
            failed += 1
            if attempts >= maximum_retry_attempts >= 0:
                given_up += len(batch)
                for i in batch:
                    done[i] = GIVEN_UP
            elif len(batch) > 1:
                half = len(batch) // 2
                retries.extendleft([(batch[half:], attempts + 1), (batch[:half], attempts + 1)])
            else:
                retries.appendleft((batch, attempts + 1))
            continue
        for i in batch:
            done[i] = clock
    lags = [d - a for a, d in zip(arrivals, done, strict=True) if d >= 0]
    waiting = [a for a, d in zip(arrivals, done, strict=True) if d > seconds]
    return SimResult(
        records=total,
        summarized=len(lags),
        given_up=given_up,
        batches=batches,
        failed_batches=failed,
        mean_lag_s=sum(lags) / len(lags) if lags else 0.0,
        p50_lag_s=percentile(lags, 50),
        p99_lag_s=percentile(lags, 99),
        max_lag_s=max(lags, default=0.0),
        age_at_end_s=seconds - min(waiting) if waiting else 0.0,
        mean_batch=len(lags) / max(1, batches - failed),
        longest_batch_s=longest,
    )
