"""docs/benchmarks.md and its charts, from one run's results."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.capacity import CapacityReport
from benchmarks.capacity_model import recompute_seconds
from benchmarks.cold_start import ColdReport
from benchmarks.erasure import ErasureResult
from benchmarks.importing import ImportReport
from benchmarks.importing import section as import_section
from benchmarks.load import LoadReport
from benchmarks.log_bytes import LogReport
from benchmarks.machine import Machine
from benchmarks.metering import PRICES_AS_OF, READ_PRICE_PER_MILLION, WRITE_PRICE_PER_MILLION, Work
from benchmarks.stats import percentile
from benchmarks.stream import ConcurrencyReport, RecomputeReport
from benchmarks.text import met, table
from benchmarks.warm import WarmCase

COLD_TARGET, WARM_TARGET, DAY_TARGET, LOG_TARGET_BYTES = 1.10, 2.0, 1.05, 300
RECOMPUTE_MEMORY_GOAL_MB, SUMMARY_GOAL_BYTES = 64, 1024
CONCURRENCY_GOAL, SLOT_GOAL = 10.0, 1_500.0
ERASURE_GOAL_S = 60.0


@dataclass
class Results:
    """What one run measured; a part that failed or was skipped holds ``None`` and its reason in ``missing``."""

    machine: Machine
    quick: bool
    seconds: float = 0.0
    cold: ColdReport | None = None
    warm: list[WarmCase] | None = None
    warm_stub: list[WarmCase] | None = None
    capacity: CapacityReport | None = None
    recompute: RecomputeReport | None = None
    concurrency: ConcurrencyReport | None = None
    erasure: ErasureResult | None = None
    logs: LogReport | None = None
    load: LoadReport | None = None
    importing: ImportReport | None = None
    missing: dict[str, str] = field(default_factory=dict)


def _ms(value: float) -> str:
    return f"{value:,.1f} ms" if value >= 1 else f"{value * 1000:,.0f} µs"


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _verdict(ratio: float, target: float, *, at_least: bool = False) -> str:
    if (ratio >= target) if at_least else (ratio <= target):
        return f"**met** ({_x(ratio)} {'≥' if at_least else '≤'} {_x(target)})"
    return f"**missed** ({_x(ratio)} against {_x(target)})"


def _calls(calls: Mapping[str, float]) -> str:
    return ", ".join(f"{n:g} {op}" for op, n in sorted(calls.items()))


# ---------------------------------------------------------------- charts


def _bars(path: Path, names: list[str], series: list[tuple[str, list[float], str]], xlabel: str, title: str) -> None:
    """Horizontal bars, one group per name: ``series`` are (label, values, colour)."""
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(names) + 1.8))
    height = 0.8 / len(series)
    for n, (label, values, colour) in enumerate(series):
        offset = (n - (len(series) - 1) / 2) * height
        ax.barh([p + offset for p in range(len(names))], values, height, color=colour, label=label)
    ax.set_yticks(list(range(len(names))), names, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, title=title)
    ax.legend(loc="lower right", fontsize=8)
    save_chart(fig, path)


def save_chart(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _wru(work: Work | None) -> float:
    return work.per_charge(work.write_units) if work else 0.0


def _charts(results: Results, out_dir: Path) -> None:
    if cold := results.cold:
        names = ["floor", *[f.name.removesuffix("Function") for f in cold.functions]]
        init = ("init (CPU)", [cold.floor.init_cpu, *[f.init_cpu for f in cold.functions]], "#4477aa")
        first = ("first request (CPU)", [0.0, *[f.first_cpu for f in cold.functions]], "#aaccee")
        title = f"Cold start, median of {cold.runs} runs (target: {COLD_TARGET}x the floor's init)"
        _bars(out_dir / "benchmarks-cold-start.png", names, [init, first], "ms", title)
    if cases := results.warm:
        real = ("handler", [c.real_us_per_charge for c in cases], "#4477aa")
        bare = ("baseline", [c.bare_us_per_charge for c in cases], "#bbbbbb")
        names = [c.name for c in cases]
        _bars(out_dir / "benchmarks-warm.png", names, [real, bare], "µs of CPU per charge", "Warm cost per charge")
    if capacity := results.capacity:
        rows = [s for s in capacity.scenarios if s.naive is not None or s.name.startswith(("single", "bulk"))]
        kinds = (("measured", "#4477aa"), ("floor", "#bbbbbb"), ("naive", "#ee8866"))
        series = [(kind, [_wru(getattr(s, kind)) for s in rows], colour) for kind, colour in kinds]
        path, names = out_dir / "benchmarks-capacity.png", [s.name for s in rows]
        _bars(path, names, series, "write request units per charge", "DynamoDB writes per charge")
    if load := results.load:
        _load_chart(load, out_dir / "benchmarks-load.png")


def _load_chart(load: LoadReport, path: Path) -> None:
    rates = [s.rate for s in load.steps]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(rates, [s.accepted_per_second for s in load.steps], "o-", color="#4477aa", label="accepted requests/s")
    ax.plot(rates, rates, ":", color="#999999", label="offered requests/s")
    ax.set_xscale("log", base=2)
    ax.set_xticks(rates, [f"{rate:g}" for rate in rates])
    ax.set(xlabel="offered rate (requests/s)", ylabel="requests/s", title="Local stack under rising load")
    other = ax.twinx()
    for pct, style, colour in ((50, "s--", "#228833"), (99, "^--", "#cc3311")):
        latency = [percentile(s.latencies_ms, pct) for s in load.steps]
        other.plot(rates, latency, style, color=colour, label=f"p{pct} latency")
    other.set(yscale="log", ylabel="latency (ms, log)")
    lines, more = ax.get_legend_handles_labels(), other.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    save_chart(fig, path)


# ---------------------------------------------------------------- 1. cold start


def _bytecode_note(cold: ColdReport) -> list[str]:
    if (uncompiled := cold.without_bytecode) is None or not uncompiled.runs["init_cpu_ms"]:
        return []
    compiled = next(f for f in cold.functions if f.name == uncompiled.name)
    return [
        f"The layer's bytecode: {uncompiled.name} with its layer as SAM's `python3.13` build method ships it, sources "
        f"only, takes {_ms(uncompiled.init_cpu)} to init ({_x(uncompiled.init_cpu / cold.floor.init_cpu)} the floor, "
        f"{_x(uncompiled.init_cpu / compiled.init_cpu)} the row above). Lambda mounts a layer read-only: Python cannot "
        "write the `__pycache__` of what it imports from it, and compiles every module (pydantic, Powertools, the "
        "layer's botocore, `beacon`) at each cold start. `layers/common/Makefile` builds the layer with its bytecode "
        "(unchecked-hash `.pyc`, valid whatever times the zip keeps); `make build` fails on a module without it.",
        "",
    ]


def _cold_section(cold: ColdReport) -> list[str]:
    floor, default = cold.floor.init_cpu, {f.name: f.init_cpu for f in cold.functions}
    worst = max(cold.functions, key=lambda f: f.init_cpu)

    def answer(f: Any) -> str:
        first = f"{len(f.answer['batchItemFailures'])} batch item failures" if isinstance(f.answer, dict) else f.answer
        return f"{first} ({_calls(f.calls) or 'no DynamoDB call'})"

    def row(f: Any, third: str, last: str) -> list[str]:
        cells = [_ms(f.init_cpu), _x(f.init_cpu / floor), third, _ms(f.first_cpu), _ms(f.init_cpu + f.first_cpu)]
        return [f.name, *cells, last]

    header = ["target", "init (CPU)", "x floor", "init (wall)", "first request (CPU)", "init + first"]
    label = "floor: `import boto3`, one DynamoDB client, `import pydantic`"
    rows = [[label, _ms(floor), "1.00x", _ms(cold.floor.init), "-", _ms(floor), "-"]]
    rows += [row(f, _ms(f.init), answer(f)) for f in cold.functions]
    sdk = [row(f, _x(f.init_cpu / default[f.name]), "")[:-1] for f in cold.sdk]
    heavy = [[f.name, "; ".join(f"{n} {ms:g} ms" for n, ms in f.heavy)] for f in cold.functions if f.heavy]
    return [
        "## 1. Cold start",
        "",
        f"Medians of {cold.runs} fresh interpreters in interleaved rounds, with Lambda's environment (the template's "
        "defaults, `LAMBDA_TASK_ROOT`, an X-Ray trace header) and only the layer's and runtime's modules. *init*: "
        "importing the handler module and all it builds, in CPU time, which other processes do not stretch (wall time "
        "beside it). *first request*: the ready event of `events/`, a real botocore client answered in memory, "
        "creating it included.",
        "",
        *table([*header, "first answer"], "lrrrrrl", rows),
        "![cold start](benchmarks-cold-start.png)",
        "",
        f"**Target ≤ {COLD_TARGET}x the floor, every handler:** "
        f"{_verdict(worst.init_cpu / floor, COLD_TARGET)} for the heaviest, {worst.name}.",
        "",
        *_bytecode_note(cold),
        "Imports beyond the floor (`-X importtime` self time by package, inflated by its overhead: read proportions):",
        "",
        *table(["function", "heaviest additions"], "ll", heavy),
        "With `TracingSubsegments=true` (Powertools' Tracer: the X-Ray SDK loaded and botocore patched at init; "
        "subsegments for the handler, the route, each DynamoDB call), in the same rounds:",
        "",
        *table([*header[:3], "x the default", *header[4:]], "lrrrrr", sdk),
        "Near the floor because: no X-Ray SDK unless `TracingSubsegments=true` (active tracing needs none); lazy "
        "`event_handler` and `utilities.data_classes` (`beacon/__init__.py`): a function loads its one resolver and "
        "event class; models built on first use (`defer_build`, in *init + first*); `PYDANTIC_DISABLE_PLUGINS=__all__`"
        "; idempotency and `email_validator` imported when needed. Left: pydantic's model machinery, Powertools' "
        "logger, metrics and resolver, our modules.",
        "",
    ]


# ---------------------------------------------------------------- 2. warm cost


def _warm_section(cases: list[WarmCase], stub: list[WarmCase] | None) -> list[str]:
    by_name = {c.name: c for c in cases}
    single, by_id = by_name.get("single charge"), by_name.get("single charge, user_id only")
    bulks = {c.charges: c for c in cases if c.name.startswith("bulk")}

    def first(c: WarmCase) -> list[Any]:
        return [c.name, _ms(c.real_ms), _ms(c.bare_ms), _x(c.ratio), f"{c.real_us_per_charge:,.1f} µs"]

    calls = [f"{_calls(c.real_calls)} / {_calls(c.bare_calls)}" for c in cases]
    rows = [[*first(c), f"{c.bare_us_per_charge:,.1f} µs", n, c.requests] for c, n in zip(cases, calls, strict=True)]
    header = ["request", "handler", "baseline", "x baseline", "handler per charge"]
    lines = [
        "## 2. Warm handler cost",
        "",
        "Median CPU time per request, in process, handler and baseline in alternating rounds, logs and metrics to a "
        "null stream, the template's defaults. The baseline makes the same DynamoDB calls from `json.loads` alone. "
        "Both use a real botocore client answered in memory before signing, paying its client-side work as on Lambda.",
        "",
        *table(
            [*header, "baseline per charge", "DynamoDB calls (handler / baseline)", "requests timed"], "lrrrrrlr", rows
        ),
        "With a plain Python stub for the boto3 client (only our code and its libraries):",
        "",
        *table(header, "lrrrr", [first(c) for c in stub or []]),
        "![warm cost](benchmarks-warm.png)",
        "",
    ]
    if single:
        lines += [
            f"**Target ≤ {WARM_TARGET}x the baseline for a single charge:** {_verdict(single.ratio, WARM_TARGET)}."
        ]
    if 100 in bulks and 1000 in bulks:
        small, large = bulks[100].real_us_per_charge, bulks[1000].real_us_per_charge
        lines += [
            "",
            f"**Linear growth in bulk size:** {met(large / small <= 1.2)}: {small:,.1f} µs per charge in a bulk of "
            f"100, {large:,.1f} µs in a bulk of 1,000 ({_x(large / small)}; 1.00x is linear).",
        ]
    if single and by_id and single.ratio > WARM_TARGET:
        lines += [
            "",
            "Why the single charge misses: the baseline is little but its PutItem; the ratio is the fixed cost of the "
            f"stack docs/design.md chose, under a millisecond ({_ms(single.real_ms - by_id.real_ms)} of it e-mail "
            "validation: compare the two rows) over Powertools' resolver and metrics, strict pydantic, a charge id and "
            "JSON, beside a DynamoDB round trip of milliseconds on Lambda; 2x would mean dropping the framework.",
        ]
    return [*lines, ""]


# ---------------------------------------------------------------- 3. DynamoDB work


def _work_row(label: str, work: Work) -> list[Any]:
    units = [f"{work.write_units:,.1f}", f"{work.read_units:,.1f}", f"{work.per_charge(work.write_units):.2f}"]
    cost = f"${work.cost_per_million_charges:,.3f}"
    return [label, work.describe_requests(), *units, f"{work.per_charge(work.read_units):.2f}", cost]


def _capacity_section(capacity: CapacityReport) -> list[str]:
    rows = [
        _work_row(label, work)
        for s in capacity.scenarios
        for label, work in ((f"**{s.name}**", s.measured), ("floor", s.floor), ("naive", s.naive))
        if work is not None
    ]
    header = ["scenario", "requests", "write units", "read units", "WRU / charge", "RRU / charge"]
    return [
        "## 3. DynamoDB work per charge",
        "",
        "The real handlers in process against moto with template.yaml's tables, every request counted. Units are "
        "**computed from item sizes by DynamoDB's rules** (moto does not size `ConsumedCapacity`): a write 1 per "
        "started KB of the larger of before and after, a strongly consistent read 1 per started 4 KB (eventually: "
        f"half), transactions twice that, a batch per item, a missing item's read the minimum. {PRICES_AS_OF}: "
        f"${WRITE_PRICE_PER_MILLION} / ${READ_PRICE_PER_MILLION} per million write / read units; stream reads free.",
        "",
        "Floors: a write per charge stored, `ceil(N/25)` BatchWriteItem calls per bulk, a summary write per customer "
        "per batch, a registry entry per new customer (the least for listing a project's customers without a "
        "partition key per project); a charge resent under its `charge_id`: a strongly consistent read, no write. "
        "Naive: a summary update per stream record (not exactly once). Stream batches are of customers with a "
        "summary unless they say new.",
        "",
        *table([*header, "$ per million charges"], "llrrrrr", rows),
        *[f"- {s.name}: {s.note}" for s in capacity.scenarios if s.note],
        "",
        *_day_lines(capacity),
        "![DynamoDB writes per charge](benchmarks-capacity.png)",
        "",
        "Reading it: the write path is at its floor; an `Idempotency-Key` triples a single charge's writes. The "
        "stream writes a customer's summary once a batch (more when refused or too full) on a condition on its "
        'version, the summary carrying the ids counted of about the last 85 minutes (docs/design.md, "Exactly '
        'once"): exactly once costs no extra write; past 16 ids the window goes to a seen item in the same '
        "transaction. Named charges (`charge_id`): see the notes above.",
        "",
    ]


def _day_lines(capacity: CapacityReport) -> list[str]:
    by_name = {s.name: s for s in capacity.scenarios}
    total = by_name["day: total (write path + stream, full batches)"]
    stream = next(s for name, s in by_name.items() if name.startswith("day: stream"))
    registry, listing, by_type = stream.measured.by_type["customer"], capacity.listing, stream.measured.by_type
    written, floor = total.measured.write_units, total.floor.write_units
    per_thousand = listing.read_units * 1000 / listing.charges if listing.charges else 0.0
    check = "the summaries were checked: " if capacity.summaries_verified else "the check of the summaries failed: "
    return [
        f"The realistic day: {capacity.day_charges:,} charges over {capacity.day_customers:,} new customers, 80% one "
        f"per request, 20% in bulks of 1 to 50 ({capacity.day_requests:,} requests), the stream in batches of "
        f"BatchSize ({capacity.stream_batch_size}). A new customer's first record is recomputed (a GetItem and a "
        f"Query) and writes its registry entry. After it, {check}{capacity.verification_note}.",
        "",
        f"**The day against its write floor (≤ {DAY_TARGET:.2f}x):** {_verdict(written / floor, DAY_TARGET)}: "
        f"{written:,.0f} write units against {floor:,.0f}. The stream's {stream.measured.write_units:,.0f}: summaries "
        f"{by_type['summary']:,.0f}, seen items {by_type['seen']:,.0f}, the registry {registry:,.0f} "
        f"({registry / max(1, capacity.day_charges):.3f} per charge).",
        "",
        f"**Listing customers** (`bin/beacon customers list`, every registry shard read with consistent Query pages): "
        f"{listing.charges:,} customers in {listing.describe_requests()}, {listing.read_units:,.0f} read units: "
        f"{per_thousand:,.1f} read units per 1,000 customers (${per_thousand * READ_PRICE_PER_MILLION / 1e6:,.7f}).",
        "",
    ]


# ---------------------------------------------------------------- 4. the stream's tails


def _tails(results: Results) -> list[str]:
    lines = ["## 4. The stream's tails", ""]
    if results.recompute:
        lines += _recompute_lines(results.recompute)
    if results.capacity and results.capacity.loyal:
        lines += _loyal_lines(results.capacity)
    if results.concurrency:
        lines += _concurrency_lines(results.concurrency)
    if results.erasure:
        lines += _erasure_lines(results.erasure)
    return lines


def _recompute_lines(r: RecomputeReport) -> list[str]:
    stream_s, jobs_s = recompute_seconds(r.cpu_s, r.pages, 512), recompute_seconds(r.cpu_s, r.pages, 1024)
    stream_most, jobs_most = (int(r.charges * budget / s) for budget, s in ((50, stream_s), (890, jobs_s)))
    where = "the stream function itself" if stream_s <= 50 else "the jobs function (`CustomerJobsFunction`)"
    per_100k = r.cpu_s * 100_000 / r.charges
    row = [f"{r.charges:,}", f"{r.pages:,}", f"{r.cpu_s:,.1f} s", f"{per_100k:,.2f} s", f"{r.wall_s:,.1f} s"]
    header = ["charges", "Query pages", "CPU", "CPU per 100,000 charges", "wall", "resident before", "peak above it"]
    return [
        f"**A recompute of one customer with {r.charges:,} charges** from its stored charges, in a fresh interpreter, "
        "the layer's botocore client parsing raw 1 MB Query pages as on Lambda (their making not counted). History: "
        f"{r.sessions:,} sessions of 100 charges 30 s apart, ten a day, in sort key order.",
        "",
        *table(header, "rrrrrrr", [[*row, f"{r.rss_before_mb:,.0f} MB", f"{r.peak_above_mb:,.1f} MB"]]),
        f"**Memory ≤ {RECOMPUTE_MEMORY_GOAL_MB} MB above the interpreter:** "
        f"{met(r.peak_above_mb <= RECOMPUTE_MEMORY_GOAL_MB)} ({r.peak_above_mb:,.1f} MB: a page and the session "
        f"spans, not the history; the summary written counts {r.counted:,} charges).",
        "",
        f"**Where it runs: {where}.** Lambda's CPU grows with memory (a vCPU at 1,769 MB); a page adds a Query round "
        f"trip (20 ms assumed). The stream function (512 MB, 50 s of its 60 s `Timeout`): about {stream_s:,.0f} s; it "
        f"keeps customers of up to about {stream_most:,} charges and hands larger ones over. The jobs function (1,024 "
        f"MB, 15 minutes): about {jobs_s:,.0f} s, enough for about {jobs_most:,} charges.",
        "",
    ]


def _loyal_lines(capacity: CapacityReport) -> list[str]:
    def row(p: Any) -> list[str]:
        units = (f"{u / max(1, p.writes):.2f}" for u in (p.summary_units, p.summary_units + p.seen_units))
        return [p.name, f"{p.writes:,}", f"{p.largest_bytes:,} / {p.last_bytes:,}", *units]

    year, after = capacity.loyal[0], capacity.loyal[-1]
    at_floor = all(p.summary_units == p.writes and p.largest_bytes <= SUMMARY_GOAL_BYTES for p in (year, after))
    header = ["phase", "summary writes", "summary item, largest / last (bytes)"]
    header += ["WRU per write, summary item", "with seen items"]
    return [
        "**A loyal customer** (real stream handler): a visit a day (two charges five minutes apart) for a year, an "
        "import of past charges (no session) within a minute in full batches, then visits after the window.",
        "",
        *table(header, "lrrrr", [row(p) for p in capacity.loyal]),
        "**1.00 write unit per summary write over the year and after the import (the floor), the item ≤ 1 KB:** "
        f"{met(at_floor)}. The import's new ids go to a seen item in the same transaction (twice a write's units).",
        "",
    ]


def _concurrency_lines(c: ConcurrencyReport) -> list[str]:
    concurrent = c.records / c.concurrent_s
    runs = {"one after another (`concurrency=1`)": (c.sequential_s, c.sequential_cpu_s)}
    runs[f"concurrently (the default, {c.workers})"] = (c.concurrent_s, c.concurrent_cpu_s)
    rows = [[label, _ms(s * 1000), _ms(cpu * 1000), f"{c.records / s:,.0f}"] for label, (s, cpu) in runs.items()]
    return [
        f"**Concurrent stream writes:** a stream batch of {c.records} records over {c.records} customers with "
        f"summaries through `process_stream_records`, each DynamoDB call {c.latency_s * 1000:g} ms longer (answered in "
        "memory at `before-call`: validation and serialization counted, signing and HTTP not), median of "
        f"{c.rounds} alternating rounds; calls per batch: {_calls(c.calls)}.",
        "",
        *table(["customers written", "batch duration", "CPU", "records/s of one batch slot"], "lrrr", rows),
        f"**≥ {CONCURRENCY_GOAL:g}x and ≥ {SLOT_GOAL:,.0f} records/s at {c.latency_s * 1000:g} ms a call:** "
        f"{_verdict(c.ratio, CONCURRENCY_GOAL, at_least=True)}, {concurrent:,.0f} records/s "
        f"({met(concurrent >= SLOT_GOAL)}). Concurrent, it is bound by CPU ({c.concurrent_cpu_s / c.concurrent_s:.0%} "
        "of its duration, one interpreter lock, mostly botocore's), not latency. docs/capacity.md takes a slot's "
        "capacity from it, CPU stretched to the stream function's share of a vCPU.",
        "",
    ]


def _erasure_lines(e: ErasureResult) -> list[str]:
    return [
        f"**Erasing a customer of {e.charges:,} charges** (`DELETE /customers`' job in the jobs function's handler, "
        f"each call {e.latency_ms:g} ms longer): {e.wall_s:.1f} s, {e.cpu_s:.1f} s of CPU; calls: {_calls(e.calls)}; "
        f"latency alone {e.floor_s:.1f} s ({_x(e.wall_s / e.floor_s)} of it; the rest CPU, ours and the fake's). "
        f"**Under {ERASURE_GOAL_S:g} s:** {met(e.wall_s < ERASURE_GOAL_S)}. On AWS the charges' partition key takes "
        f"{e.charges / e.aws_floor_s:,.0f} write units a second until split for heat: at least {e.aws_floor_s:.0f} s "
        "whatever the code.",
        "",
    ]


# ---------------------------------------------------------------- 5. load, 7. logs


def _load_section(load: LoadReport) -> list[str]:
    stored = "equal" if load.stored_charges == load.accepted_charges else "NOT equal"
    ceiling = 1000 / load.cpu_ms_per_charge if load.cpu_ms_per_charge else 0
    timeouts = f", {load.lag_timeouts} not seen within 60 s" if load.lag_timeouts else ""
    lag = [_ms(percentile(load.lag_ms, pct)) for pct in (50, 99)]

    def row(s: Any) -> list[Any]:
        errors = ", ".join(f"{n}x {kind}" for kind, n in sorted(s.errors.items())) or "0"
        rate = f"{s.rate:g}/s for {s.seconds:g} s"
        latency = [_ms(percentile(s.latencies_ms, pct)) for pct in (50, 99)]
        return [rate, s.sent, s.accepted, f"{s.accepted_per_second:.1f}", *latency, errors, s.shed]

    header = ["offered rate", "sent", "accepted", "accepted/s", "p50", "p99", "errors", "shed (every worker waiting)"]
    return [
        "## 5. End to end on the local stack",
        "",
        "`python -m local` (`make dev`: moto's server and stream, the handlers, the poller with the template's batch "
        f"size and window) in its own process; an open-loop client of {load.workers} threads sends each rate in turn "
        "(80% single, 20% bulks of 1 to 20, 200 customers), shedding and counting (never sending late) a request "
        "that finds every worker busy. Latency runs from the scheduled send; client and stack share two cores.",
        "",
        *table(header, "rrrrrrlr", [row(s) for s in load.steps]),
        f"Summary lag (a probe charge twice a second, polled every 100 ms): p50 {lag[0]}, p99 {lag[1]} over "
        f"{len(load.lag_ms)} probes{timeouts}, mostly MaximumBatchingWindowInSeconds ({load.batching_window:g} s).",
        "",
        f"After the run: {load.accepted_charges:,} charges accepted, {load.stored_charges:,} stored ({stored}); "
        f"{load.summaries_right} of {load.customers} customers' summaries match what was accepted, "
        f"{load.drain_seconds:.1f} s after the last request. The stack used {load.stack_cpu_seconds:.1f} s of CPU, "
        f"{load.cpu_ms_per_charge:.1f} ms per accepted charge, API and stream (one interpreter lock: about "
        f"{ceiling:.0f} charges a second at most). A development tool's ceiling, it says nothing of Lambda (an "
        "environment per concurrent request); it shows where the stack saturates, losing or double-counting nothing.",
        "",
        "![local stack under load](benchmarks-load.png)",
        "",
    ]


def _logs_section(logs: LogReport) -> list[str]:
    single = logs.of("CreateChargeFunction")
    total = single.bytes + logs.access_log_bytes
    rows = [[c.name, c.function, c.status, f"{c.lines:g}", f"{c.bytes:,.0f}"] for c in logs.cases]
    return [
        "## 7. Log bytes per invocation",
        "",
        "What CloudWatch Logs ingests (and bills) per invocation: the real handlers, warm, in process, at the "
        f"template's log level (INFO), median of {single.invocations} of each kind. One line each: its EMF metrics, "
        "with what an operator looks a request up by as metadata (`correlation_id`, `status`, `duration_ms`, "
        "project, key id, counts).",
        "",
        *table(["invocation", "function", "status", "lines", "application bytes"], "lllrr", rows),
        f"Besides: API Gateway's access log line, {logs.access_log_bytes} bytes a request (the template's format); "
        f"Lambda's START and REPORT lines (as AWS documents), {logs.platform_bytes} bytes an invocation at "
        "`SystemLogLevel` INFO or DEBUG, none at WARN (the default). A single charge at the defaults: "
        f"{single.bytes:,.0f} + {logs.access_log_bytes} = {total:,.0f} bytes ({total + logs.platform_bytes:,.0f} at "
        "INFO), priced in docs/capacity.md.",
        "",
        f"**Goal ≤ {LOG_TARGET_BYTES} bytes of application log per request at INFO:** "
        f"{met(single.bytes <= LOG_TARGET_BYTES)} ({single.bytes:,.0f} bytes for a single charge), about 200 of them "
        "the EMF envelope of the request's metrics, which a separate log line would not save.",
        "",
        "A single charge's line:",
        "",
        "```json",
        single.example,
        "```",
        "",
    ]


def markdown(results: Results) -> str:
    """The whole page."""
    quick = " --quick: a smoke run, too short to read figures from" if results.quick else ""
    sections: list[tuple[Any, Callable[[], list[str]]]] = [
        (results.cold, lambda: _cold_section(results.cold)),  # type: ignore[arg-type]
        (results.warm, lambda: _warm_section(results.warm, results.warm_stub)),  # type: ignore[arg-type]
        (results.capacity, lambda: _capacity_section(results.capacity)),  # type: ignore[arg-type]
        (results.recompute or results.concurrency or results.erasure or results.capacity, lambda: _tails(results)),
        (results.load, lambda: _load_section(results.load)),  # type: ignore[arg-type]
        (results.importing, lambda: import_section(results.importing)),  # type: ignore[arg-type]
        (results.logs, lambda: _logs_section(results.logs)),  # type: ignore[arg-type]
    ]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`python -m benchmarks`{quick}); do not edit by hand. Machine: "
        f"{results.machine.describe()}. The run took {results.seconds:.0f} s.",
        "",
        "Every figure is a ratio to a floor measured in the same run, the absolute value beside it. No figure fails "
        "a build.",
        "",
        *[line for part, why in results.missing.items() for line in (f"> **{part} was not measured:** {why}", "")],
        *[line for measured, section in sections if measured for line in section()],
    ]
    return "\n".join(lines).rstrip() + "\n"


def write(results: Results, out_dir: Path) -> Path:
    """Write benchmarks.md and its charts into ``out_dir``; return the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _charts(results, out_dir)
    page = out_dir / "benchmarks.md"
    page.write_text(markdown(results), encoding="utf-8")
    return page
