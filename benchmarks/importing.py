"""Import rate on the local stack: ``bin/beacon import``'s rows/s beside the rate of single charges.

First ``singles`` charges one per ``POST /charges`` from as many threads as the import uses, the stream left to
catch up; then a CSV of ``rows`` past charges imported with the command's own code, timed from reading the file to
the last answer. Both are wall time on the cores the stack shares: their ratio in one run is the figure.
"""

import io
import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests  # type: ignore[import-untyped]

from benchmarks.load import Target, local_stack
from benchmarks.text import table
from ops.importer.chunks import file_digest, make_chunks
from ops.importer.command import send_chunks
from ops.importer.progress import PlainProgress
from ops.importer.rows import read_rows
from ops.importer.sending import ApiClient

DRAIN_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ImportReport:
    """Both rates, what the import sent, and the check that everything accepted was stored once."""

    concurrency: int
    singles: int
    singles_accepted: int
    singles_seconds: float
    rows: int
    customers: int
    rows_accepted: int
    requests: int
    retries: int
    import_seconds: float
    stored: int

    @property
    def singles_per_second(self) -> float:
        return self.singles_accepted / self.singles_seconds if self.singles_seconds else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_accepted / self.import_seconds if self.import_seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.rows_per_second / self.singles_per_second if self.singles_per_second else 0.0


def _send_singles(target: Target, count: int, customers: list[str], concurrency: int) -> tuple[int, float]:
    """``count`` single charges from ``concurrency`` threads; returns how many were accepted and the seconds taken."""
    bodies = [
        {"user_id": customers[n % len(customers)], "amount": 100 + n, "update_session": False} for n in range(count)
    ]
    with ThreadPoolExecutor(concurrency) as pool:
        started, sessions = time.perf_counter(), threading.local()

        def send(body: dict[str, Any]) -> bool:
            sessions.session = getattr(sessions, "session", None) or requests.Session()
            return target.post(sessions.session, "/charges", body) == "200"

        accepted = sum(pool.map(send, bodies))
    return accepted, time.perf_counter() - started


def _wait_for_stream(target: Target, customers: list[str], expected: int) -> None:
    """Until the summaries count ``expected`` charges in all (so that the import does not share the stream)."""
    session, deadline = requests.Session(), time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if sum((target.charges_of(session, c) or (0, 0))[0] for c in customers) >= expected:
            return
        time.sleep(0.5)


def history_csv(rows: int, customers: int, seed: int = 14) -> str:
    """A CSV of ``rows`` past charges (UNIX seconds and ISO 8601 times, half and half) over ``customers``."""
    rng = random.Random(seed)
    run = f"{rng.getrandbits(32):08x}"
    lines = ["user_id,email,amount,created_at"]
    for n in range(rows):
        created_at = 1_700_000_000 + n * 60
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created_at)) if n % 2 else str(created_at)
        lines.append(f"import-{run}-{rng.randrange(customers)},,{rng.randint(1, 100_000)},{when}")
    return "\n".join(lines) + "\n"


def measure(*, rows: int, customers: int, singles: int, concurrency: int = 4) -> ImportReport:
    """Start the local stack, time single charges then an import, check what was stored, stop the stack."""
    with local_stack() as target:
        single_customers = [f"single-{n}" for n in range(max(1, singles // 10))]
        singles_accepted, singles_seconds = _send_singles(target, singles, single_customers, concurrency)
        _wait_for_stream(target, single_customers, singles_accepted)

        data = history_csv(rows, customers).encode("utf-8")
        client = ApiClient(target.base_url, target.public_key, pool_size=concurrency)
        started = time.perf_counter()
        parsed = read_rows(data.decode("utf-8"))
        chunks = make_chunks(parsed.charges, file_digest(data))
        outcome = send_chunks(
            client, chunks, parsed, progress=PlainProgress(io.StringIO(), math.inf), concurrency=concurrency
        )
        import_seconds, counts = time.perf_counter() - started, outcome.counts
        client.close()
        return ImportReport(
            concurrency=concurrency,
            singles=singles,
            singles_accepted=singles_accepted,
            singles_seconds=singles_seconds,
            rows=rows,
            customers=customers,
            rows_accepted=counts.accepted,
            requests=counts.requests,
            retries=counts.retries,
            import_seconds=import_seconds,
            stored=target.count_stored("local"),
        )


def section(report: ImportReport) -> list[str]:
    """The page's section on the import rate."""
    stored_ok = report.stored == report.singles_accepted + report.rows_accepted
    r = report
    single = [f"{r.singles_accepted:,}", f"{r.singles:,}", f"{r.singles_seconds:.1f}", f"{r.singles_per_second:,.0f}"]
    imported = [f"{r.rows_accepted:,}", f"{r.requests:,} ({r.retries} retries)", f"{r.import_seconds:.1f}"]
    rows = [["single charges", *single, "1.00x"], ["`bin/beacon import`", *imported, f"{r.rows_per_second:,.0f}"]]
    rows[1].append(f"{r.ratio:.2f}x")
    return [
        "## 6. Historical import on the local stack",
        "",
        f"A fresh local stack. First {report.singles:,} single charges (`POST /charges`, one charge a request) from "
        f"{report.concurrency} threads; then, once the stream has caught up, `bin/beacon import`'s code imports a CSV "
        f"of {report.rows:,} past charges over {report.customers:,} customers (read, validated with the API's model, "
        f"grouped by customer into bulk requests with an `Idempotency-Key` each, {report.concurrency} in flight), "
        "timed from reading the file to the last answer. Wall time, on the two cores the stack also uses.",
        "",
        *table(["client", "charges accepted", "requests", "seconds", "charges/s", "x single charges"], "lrrrrr", rows),
        f"After the import: {report.singles_accepted + report.rows_accepted:,} charges accepted, {report.stored:,} "
        f"stored ({'equal' if stored_ok else 'NOT equal'}). A bulk request carries up to 1,000 charges of one "
        "customer in one request and one idempotency record, so the import's rate grows with the charges per "
        "customer; the stream then summarizes them at its own pace (section 5).",
        "",
    ]
