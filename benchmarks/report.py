"""docs/benchmarks.md and its charts, from one run's results."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.capacity import CapacityReport, Scenario
from benchmarks.capacity_model import recompute_seconds
from benchmarks.cold_start import ColdReport
from benchmarks.importing import ImportReport
from benchmarks.importing import section as import_section
from benchmarks.load import LoadReport
from benchmarks.log_bytes import LogReport
from benchmarks.machine import Machine
from benchmarks.metering import PRICES_AS_OF, READ_PRICE_PER_MILLION, WRITE_PRICE_PER_MILLION, Work
from benchmarks.stream import ConcurrencyReport, RecomputeReport
from benchmarks.warm import WarmCase

COLD_TARGET = 1.10
WARM_TARGET = 2.0
LOG_TARGET_BYTES = 300
DAY_TARGET = 1.05
RECOMPUTE_MEMORY_GOAL_MB = 64
CONCURRENCY_GOAL, SLOT_GOAL = 10.0, 1_500.0


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


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


# ---------------------------------------------------------------- charts


def _bars(path: Path, names: list[str], series: list[tuple[str, list[float], str]], xlabel: str, title: str) -> None:
    """Horizontal bars, one group per name: ``series`` are (label, values, colour)."""
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(names) + 1.8))
    height = 0.8 / len(series)
    for n, (label, values, colour) in enumerate(series):
        ax.barh(
            [p + (n - (len(series) - 1) / 2) * height for p in range(len(names))],
            values,
            height,
            color=colour,
            label=label,
        )
    ax.set_yticks(list(range(len(names))), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cold_chart(cold: ColdReport, path: Path) -> None:
    names = ["floor", *[f.name.removesuffix("Function") for f in cold.functions]]
    init = [cold.floor.init_cpu, *[f.init_cpu for f in cold.functions]]
    first = [0.0, *[f.first_cpu for f in cold.functions]]
    title = f"Cold start, median of {cold.runs} runs (target: {COLD_TARGET}x the floor's init)"
    _bars(path, names, [("init (CPU)", init, "#4477aa"), ("first request (CPU)", first, "#aaccee")], "ms", title)


def warm_chart(cases: list[WarmCase], path: Path) -> None:
    series = [("handler", [c.real_us_per_charge for c in cases], "#4477aa")]
    series.append(("baseline", [c.bare_us_per_charge for c in cases], "#bbbbbb"))
    _bars(path, [c.name for c in cases], series, "µs of CPU per charge", "Warm cost per charge")


def capacity_chart(capacity: CapacityReport, path: Path) -> None:
    rows = [s for s in capacity.scenarios if s.naive is not None or s.name.startswith(("single", "bulk"))]
    series = [(label, [_wru(getattr(s, kind)) for s in rows], colour) for label, kind, colour in _CAPACITY_SERIES]
    _bars(path, [s.name for s in rows], series, "write request units per charge", "DynamoDB writes per charge")


_CAPACITY_SERIES = (("measured", "measured", "#4477aa"), ("floor", "floor", "#bbbbbb"), ("naive", "naive", "#ee8866"))


def load_chart(load: LoadReport, path: Path) -> None:
    rates = [s.rate for s in load.steps]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(rates, [s.accepted_per_second for s in load.steps], "o-", color="#4477aa", label="accepted requests/s")
    ax.plot(rates, rates, ":", color="#999999", label="offered requests/s")
    ax.set_xscale("log", base=2)
    ax.set_xticks(rates, [f"{rate:g}" for rate in rates])
    ax.set_xlabel("offered rate (requests/s)")
    ax.set_ylabel("requests/s")
    other = ax.twinx()
    other.plot(rates, [s.p50_ms for s in load.steps], "s--", color="#228833", label="p50 latency")
    other.plot(rates, [s.p99_ms for s in load.steps], "^--", color="#cc3311", label="p99 latency")
    other.set_yscale("log")
    other.set_ylabel("latency (ms, log)")
    lines, more = ax.get_legend_handles_labels(), other.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    ax.set_title("Local stack under rising load")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _wru(work: Work | None) -> float:
    return work.per_charge(work.write_units) if work else 0.0


# ---------------------------------------------------------------- markdown


def _cold_section(cold: ColdReport) -> list[str]:
    floor = cold.floor
    worst = max(cold.functions, key=lambda f: f.init_cpu)
    lines = [
        "## 1. Cold start",
        "",
        f"Each figure is the median of {cold.runs} fresh interpreters, run in interleaved rounds, with the environment "
        "Lambda gives the function (the template's variables at their defaults, `LAMBDA_TASK_ROOT`, an X-Ray trace",
        "header) and only the modules the layer and the runtime ship (dev-only packages of the virtualenv are hidden).",
        "*init* is the import of the handler module with all it builds at load time; the ratio uses CPU time, which",
        "other processes on a busy machine do not stretch (wall time beside it). *first request* runs the function's",
        "ready event from `events/` against a real botocore client answered in memory: it includes creating that",
        "client.",
        "",
        "| target | init (CPU) | x floor | init (wall) | first request (CPU) | init + first | first answer |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| floor: `import boto3`, one DynamoDB client, `import pydantic` | {_ms(floor.init_cpu)} | 1.00x "
        f"| {_ms(floor.init)} | - | {_ms(floor.init_cpu)} | - |",
    ]
    for f in cold.functions:
        calls = ", ".join(f"{n} {op}" for op, n in sorted(f.calls.items())) or "no DynamoDB call"
        answer = f"{len(f.answer['batchItemFailures'])} batch item failures" if isinstance(f.answer, dict) else f.answer
        lines.append(
            f"| {f.name} | {_ms(f.init_cpu)} | {_x(f.init_cpu / floor.init_cpu)} | {_ms(f.init)} | {_ms(f.first_cpu)} "
            f"| {_ms(f.init_cpu + f.first_cpu)} | {answer} ({calls}) |"
        )
    lines += [
        "",
        "![cold start](benchmarks-cold-start.png)",
        "",
        f"**Target ≤ {COLD_TARGET}x the floor, every handler:** "
        f"{_verdict(worst.init_cpu / floor.init_cpu, COLD_TARGET)} for the heaviest, {worst.name}.",
        "",
        "What the handlers import beyond the floor (`python -X importtime`, self time of the modules the floor does",
        "not load, grouped by package; importtime's own overhead inflates every figure, so read them as proportions):",
        "",
        "| function | heaviest additions |",
        "| --- | --- |",
        *[
            f"| {f.name} | " + "; ".join(f"{n} {ms:g} ms" for n, ms in f.heavy) + " |"
            for f in cold.functions
            if f.heavy
        ],
        "",
        *_sdk_table(cold),
        *_COLD_NOTES,
    ]
    return lines


_COLD_NOTES = [
    "What keeps the handlers near the floor:",
    "",
    "- No X-Ray SDK by default. Lambda's active tracing (the `Tracing` parameter) records each sampled invocation",
    "  without it; Powertools' Tracer, which imports `aws_xray_sdk` and `wrapt` and patches botocore, is built only",
    "  with `TracingSubsegments=true` (the table above), and `tracer`'s decorators return the function unchanged",
    "  otherwise (`beacon/observability.py`).",
    "- Importing `beacon` first makes the `__init__` of Powertools' `event_handler` and `utilities.data_classes`",
    "  packages lazy (`beacon/__init__.py`): they import every resolver (AppSync's brings `asyncio`) and every event",
    "  class; a function now loads the one resolver and the one event class it uses. The names resolve to the same",
    "  objects (`tests/unit/test_lazy_powertools.py`).",
    "- A model whose validator a request may not need is built on its first use (`defer_build`): the two request",
    "  bodies (each write function reads one), the error envelope, the stored records (the read endpoint builds no",
    "  charge). The *init + first* column counts what the first request builds.",
    "- `PYDANTIC_DISABLE_PLUGINS=__all__` (template): the layer ships no pydantic plugin, and without it the first",
    "  model built scans every installed distribution's entry points for one.",
    "- Powertools' idempotency utility is imported by the first request that sends an `Idempotency-Key`;",
    "  `email_validator` (with `idna`) by the first that sends an e-mail address; no operator code rides in the",
    "  layer (`ops/`).",
    "- What is left beyond the floor is pydantic's model machinery (the floor's `import pydantic` is lazy and loads",
    "  none of it; the first model class does), Powertools' logger, metrics and HTTP resolver, and our own modules.",
    "  The handlers create their DynamoDB client on first use: the floor creates one, so that work is in the floor's",
    "  column and in the handlers' *first request*.",
    "",
]


def _sdk_table(cold: ColdReport) -> list[str]:
    floor, default = cold.floor.init_cpu, {f.name: f.init_cpu for f in cold.functions}
    return [
        "With `TracingSubsegments=true` (Powertools' Tracer: the X-Ray SDK loaded and botocore patched at init,",
        "subsegments for the handler, the route and each DynamoDB call), measured in the same rounds:",
        "",
        "| target | init (CPU) | x floor | x the default | first request (CPU) | init + first |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *[
            f"| {f.name} | {_ms(f.init_cpu)} | {_x(f.init_cpu / floor)} | {_x(f.init_cpu / default[f.name])} "
            f"| {_ms(f.first_cpu)} | {_ms(f.init_cpu + f.first_cpu)} |"
            for f in cold.sdk
        ],
        "",
    ]


def _warm_section(cases: list[WarmCase], stub: list[WarmCase] | None) -> list[str]:
    single = next((c for c in cases if c.name == "single charge"), None)
    by_id = next((c for c in cases if c.name == "single charge, user_id only"), None)
    bulks = {c.charges: c for c in cases if c.name.startswith("bulk")}
    lines = [
        "## 2. Warm handler cost",
        "",
        "Per request, in process, median CPU time over alternating rounds of the handler and the baseline, with",
        "logging and EMF metrics written to a null stream and the template's defaults (no Tracer). The baseline is a",
        "bare handler that makes the same DynamoDB calls (counts below) from `json.loads` alone. DynamoDB is a real",
        "botocore client whose requests are answered in memory just before signing, so both pay botocore's client-side",
        "work, as any Lambda calling DynamoDB would.",
        "",
        "| request | handler | baseline | x baseline | handler per charge | baseline per charge "
        "| DynamoDB calls (handler / baseline) | requests timed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        *[
            f"| {c.name} | {_ms(c.real_ms)} | {_ms(c.bare_ms)} | {_x(c.ratio)} | {c.real_us_per_charge:,.1f} µs "
            f"| {c.bare_us_per_charge:,.1f} µs | {_calls(c.real_calls)} / {_calls(c.bare_calls)} | {c.requests} |"
            for c in cases
        ],
        "",
        "The same, with the boto3 client itself replaced by a plain Python stub (only our code and the libraries it",
        "calls are timed; the baseline is then little more than `json.loads`):",
        "",
        "| request | handler | baseline | x baseline | handler per charge |",
        "| --- | ---: | ---: | ---: | ---: |",
        *[
            f"| {c.name} | {_ms(c.real_ms)} | {_ms(c.bare_ms)} | {_x(c.ratio)} | {c.real_us_per_charge:,.1f} µs |"
            for c in stub or []
        ],
        "",
        "![warm cost](benchmarks-warm.png)",
        "",
    ]
    if single:
        lines += [
            f"**Target ≤ {WARM_TARGET}x the baseline for a single charge:** {_verdict(single.ratio, WARM_TARGET)}.",
            "",
        ]
    if 100 in bulks and 1000 in bulks:
        small, large = bulks[100].real_us_per_charge, bulks[1000].real_us_per_charge
        lines += [
            f"**Linear growth in bulk size:** {_met(large / small <= 1.2)}: {small:,.1f} µs per charge in a bulk of "
            "100, "
            f"{large:,.1f} µs in a bulk of 1,000 ({_x(large / small)}; 1.00x is linear).",
            "",
        ]
    if single and by_id and single.ratio > WARM_TARGET:
        lines += [
            "Why the single charge misses: the baseline does almost nothing besides the PutItem, so the ratio is the",
            "fixed",
            "cost of one request through the stack docs/design.md chose, a fraction of a millisecond "
            f"({_ms(single.real_ms - by_id.real_ms)} of it e-mail validation: compare the two rows). A profile spreads",
            "the rest over many small items, none above a fifth of it: Powertools' event data class and resolver, its",
            "EMF metrics, strict pydantic validation and the models built per request, a random charge id, JSON. On",
            "Lambda it sits beside a DynamoDB round trip of several milliseconds; reaching 2x would mean dropping the",
            "framework. Real steps, each worth a few tens of µs: skip `email_validator` for plain ASCII addresses a",
            "strict pattern accepts, build the stored item straight from the validated request.",
            "",
        ]
    return lines


def _calls(calls: Mapping[str, float]) -> str:
    return ", ".join(f"{n:g} {op}" for op, n in sorted(calls.items()))


def _work_row(label: str, work: Work) -> str:
    return (
        f"| {label} | {work.describe_requests()} | {work.write_units:,.1f} | {work.read_units:,.1f} "
        f"| {work.per_charge(work.write_units):.2f} | {work.per_charge(work.read_units):.2f} "
        f"| ${work.cost_per_million_charges:,.3f} |"
    )


def _capacity_section(capacity: CapacityReport) -> list[str]:
    rows = [
        row
        for s in capacity.scenarios
        for row in (_work_row(f"**{s.name}**", s.measured), _work_row("floor", s.floor))
        + ((_work_row("naive", s.naive),) if s.naive else ())
    ]
    return [
        "## 3. DynamoDB work per charge",
        "",
        "The real handlers, in process, against moto with the tables of template.yaml; every request counted. Capacity",
        "units are **computed from the items' sizes with DynamoDB's rules** (moto does not size its",
        "`ConsumedCapacity`): a write is 1 unit per started KB of the larger of the item before and after, a strongly",
        "consistent read 1 unit per started 4 KB (eventually consistent: half), transactional operations twice that, a",
        "batch counts each item,",
        f"a missing item read still costs the minimum. Prices: {PRICES_AS_OF}: ${WRITE_PRICE_PER_MILLION} per million "
        f"write request units, ${READ_PRICE_PER_MILLION} per million read request units. Lambda's reads of the stream",
        "are free.",
        "",
        "Floors: one write per charge stored, `ceil(N/25)` BatchWriteItem calls per bulk, one summary write per",
        "customer per batch, and one registry entry per new customer (the least any design that lists a project's",
        "customers writes without a partition key per project, which would carry every summary write of the project);",
        "for a charge sent again under its `charge_id`, one strongly consistent read and no write. The naive design",
        "updates the summary once per stream record (one UpdateItem, nothing to recognise a re-delivered record: not",
        "exactly once). The stream batches are of customers that have a summary (two hours after the one before, as in",
        "a steady state), unless they say new.",
        "",
        "| scenario | requests | write units | read units | WRU / charge | RRU / charge | $ per million charges |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        *[f"- {s.name}: {s.note}" for s in capacity.scenarios if s.note],
        "",
        *_day_lines(capacity),
        "![DynamoDB writes per charge](benchmarks-capacity.png)",
        "",
        *_CAPACITY_NOTES,
    ]


def _day_lines(capacity: CapacityReport) -> list[str]:
    by_name: dict[str, Scenario] = {s.name: s for s in capacity.scenarios}
    total, stream = (
        by_name["day: total (write path + stream, full batches)"],
        next(s for name, s in by_name.items() if name.startswith("day: stream")),
    )
    ratio = total.measured.write_units / total.floor.write_units
    registry, listing = stream.measured.by_type["customer"], capacity.listing
    per_thousand = listing.read_units * 1000 / listing.charges if listing.charges else 0.0
    check = "the summaries were checked: " if capacity.summaries_verified else "the check of the summaries failed: "
    return [
        f"The realistic day: {capacity.day_charges:,} charges over {capacity.day_customers:,} customers, all new that",
        f"day, 80% of the charges sent one per request and 20% in bulks of 1 to 50 ({capacity.day_requests:,} "
        "requests); the stream follows the write path in batches of the template's BatchSize "
        f"({capacity.stream_batch_size}) as they",
        "fill (a busy day; on a quiet one each batch holds one record: see the 1-record row). Each new customer's",
        "first record is recomputed from its stored charges (a GetItem and a Query, read units) and writes its",
        "registry",
        f"entry. After it, {check}{capacity.verification_note}.",
        "",
        f"**The day against its write floor (≤ {DAY_TARGET:.2f}x):** {_verdict(ratio, DAY_TARGET)}: "
        f"{total.measured.write_units:,.0f} write units against {total.floor.write_units:,.0f}. The stream's "
        f"{stream.measured.write_units:,.0f}: summaries {stream.measured.by_type['summary']:,.0f}, seen items "
        f"{stream.measured.by_type['seen']:,.0f}, the registry {registry:,.0f} (one unit per new customer, "
        f"{registry / max(1, capacity.day_customers):.2f} per customer of the day, "
        f"{registry / max(1, capacity.day_charges):.3f} per charge).",
        "",
        f"**Listing customers** (`bin/beacon customers list`, every registry shard read with consistent Query pages): "
        f"{listing.charges:,} customers in {listing.describe_requests()}, {listing.read_units:,.0f} read units: "
        f"{per_thousand:,.1f} read units per 1,000 customers (${per_thousand * READ_PRICE_PER_MILLION / 1e6:,.7f}).",
        "",
    ]


_CAPACITY_NOTES = [
    "Reading it: the write path is at its floor (one write unit per charge, `ceil(N/25)` calls per bulk, the API key",
    "read once per cache TTL). An `Idempotency-Key` triples a single charge's writes (Powertools stores an",
    "in-progress record, then completes it). The stream writes each customer's summary once per batch, with a",
    "condition on its version, and the summary item itself carries the ids of the charges it counted in the last 85",
    'minutes (docs/design.md, "Exactly once"): a re-delivered record is recognised there, so exactly once costs no',
    "write of its own. Above the floor: a customer whose window passes 40 ids (a bulk of more than 40 charges) writes",
    "them to a seen item in the same transaction, and reads them back with one Query when its next records could be",
    "among them. A batch delivered again costs its reads and no write.",
    "",
    "A charge with the client's own `charge_id` is at the write floor as well: one conditional PutItem that never",
    "overwrites. Sent again, the same PutItem finds it stored: a refused condition still costs its write unit, and the",
    "stored item comes back with the refusal (`ReturnValuesOnConditionCheckFailure`), so comparing costs no read. A",
    "bulk of named charges first reads them (one strongly consistent read unit each, one BatchGetItem per 100), so",
    "that a `charge_id` stored with other content is found before anything is written, then puts only the new ones:",
    "reads are priced a fifth of writes, so all or nothing costs a fifth more than the floor in dollars; sent again,",
    "a bulk costs its reads only.",
    "",
]


def _tails_section(results: Results) -> list[str]:
    lines = ["## 4. The stream's tails", ""]
    if results.recompute:
        lines += _recompute_lines(results.recompute)
    if results.capacity and results.capacity.loyal:
        lines += _loyal_lines(results.capacity)
    if results.concurrency:
        lines += _concurrency_lines(results.concurrency)
    return lines


def _recompute_lines(r: RecomputeReport) -> list[str]:
    stream_s, jobs_s = recompute_seconds(r.cpu_s, r.pages, 512), recompute_seconds(r.cpu_s, r.pages, 1024)
    stream_most, jobs_most = (int(r.charges * budget / s) for budget, s in ((50, stream_s), (890, jobs_s)))
    where = "the stream function itself" if stream_s <= 50 else "the jobs function (`CustomerJobsFunction`)"
    return [
        f"**A recompute of one customer with {r.charges:,} charges** (its summary rebuilt from its stored charges, as",
        "for a new customer, a record the window cannot decide, or after a layout change), in a fresh interpreter:",
        "DynamoDB is the layer's own botocore client, answered just before sending with raw 1 MB Query pages, so that",
        "every charge goes through botocore's parsing as on Lambda; the pages are made as they are asked for and the",
        "CPU that takes is left out. The history: "
        f"{r.sessions:,} sessions of 100 charges 30 s apart, ten a day, read in sort key order (random ids).",
        "",
        "| charges | Query pages | CPU | CPU per 100,000 charges | wall | resident before | peak above it |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {r.charges:,} | {r.pages:,} | {r.cpu_s:,.1f} s | {r.cpu_s_per_100k:,.2f} s | {r.wall_s:,.1f} s "
        f"| {r.rss_before_mb:,.0f} MB | {r.peak_above_mb:,.1f} MB |",
        "",
        f"**Memory ≤ {RECOMPUTE_MEMORY_GOAL_MB} MB above the interpreter:** "
        f"{_met(r.peak_above_mb <= RECOMPUTE_MEMORY_GOAL_MB)} ({r.peak_above_mb:,.1f} MB: a page and the session",
        f"spans, not the history; the summary written counts {r.counted:,} charges).",
        "",
        f"**Where it runs: {where}.** On Lambda a function gets CPU in proportion to its memory (a full vCPU at 1,769",
        "MB), so this CPU stretches by 1,769 / memory, and each page adds a Query round trip (20 ms assumed). The",
        f"stream function (512 MB, `Timeout` 60 s, 10 s kept as a margin) would take about {stream_s:,.0f} s: it can",
        f"recompute a customer of up to about {stream_most:,} charges itself, and hands a larger one over when its",
        f"time runs short. The jobs function (1,024 MB, 15 minutes) takes about {jobs_s:,.0f} s, and can recompute",
        f"a customer of up to about {jobs_most:,} charges.",
        "",
    ]


def _loyal_lines(capacity: CapacityReport) -> list[str]:
    rows = [
        f"| {p.name} | {p.writes:,} | {p.largest_bytes:,} / {p.last_bytes:,} "
        f"| {p.summary_units / max(1, p.writes):.2f} "
        f"| {(p.summary_units + p.seen_units) / max(1, p.writes):.2f} |"
        for p in capacity.loyal
    ]
    year, after = capacity.loyal[0], capacity.loyal[-1]
    at_floor = all(p.summary_units == p.writes and p.largest_bytes <= 1024 for p in (year, after))
    return [
        "**A loyal customer**, through the real stream handler: a visit a day (two charges five minutes apart) for a",
        "year, then an import of past charges (`bin/beacon import`'s default: they update no session) received within",
        "a minute and summarized in full batches, then visits again once the import's minutes have left the window.",
        "",
        "| phase | summary writes | summary item, largest / last (bytes) | WRU per write, summary item "
        "| with seen items |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"**1.00 write unit per summary write over the year and after the import (the floor), the item ≤ 1 KB:** "
        f"{_met(at_floor)}. During the import each batch counts 200 new ids: they go to a seen item written in the",
        "same transaction (twice the units of a write), which is what lets the summary item stay small.",
        "",
    ]


def _concurrency_lines(c: ConcurrencyReport) -> list[str]:
    sequential, concurrent = c.per_second(c.sequential_s), c.per_second(c.concurrent_s)
    return [
        f"**Concurrent stream writes:** one stream batch of {c.records} records over {c.records} customers that have",
        f"summaries, through `process_stream_records`, against DynamoDB calls that each take {c.latency_s * 1000:g} ms",
        "more (a real botocore client with the layer's configuration, answered by the in-memory DynamoDB at botocore's",
        "`before-call`: validation and serialization counted, signing and the HTTP exchange not), median of "
        f"{c.rounds} alternating rounds; calls per batch: {_calls(c.calls)}.",
        "",
        "| customers written | batch duration | CPU | records/s of one batch slot |",
        "| --- | ---: | ---: | ---: |",
        f"| one after another (`concurrency=1`) | {_ms(c.sequential_s * 1000)} | {_ms(c.sequential_cpu_s * 1000)} "
        f"| {sequential:,.0f} |",
        f"| concurrently (the default, {c.workers}) | {_ms(c.concurrent_s * 1000)} | {_ms(c.concurrent_cpu_s * 1000)} "
        f"| {concurrent:,.0f} |",
        "",
        f"**≥ {CONCURRENCY_GOAL:g}x and ≥ {SLOT_GOAL:,.0f} records/s at {c.latency_s * 1000:g} ms a call:** "
        f"{_verdict(c.ratio, CONCURRENCY_GOAL, at_least=True)}, {concurrent:,.0f} records/s "
        f"({_met(concurrent >= SLOT_GOAL)}). Concurrent, the batch is bound by its CPU "
        f"({c.concurrent_cpu_s / c.concurrent_s:.0%} of its duration; one interpreter lock), not by DynamoDB's",
        "latency: what shortens it further is less CPU per customer. docs/capacity.md takes a slot's capacity from",
        "this batch, its CPU stretched to the stream function's share of a vCPU.",
        "",
    ]


def _load_section(load: LoadReport) -> list[str]:
    errors = [", ".join(f"{n}x {kind}" for kind, n in sorted(s.errors.items())) or "0" for s in load.steps]
    stored = "equal" if load.stored_charges == load.accepted_charges else "NOT equal"
    ceiling = 1000 / load.cpu_ms_per_charge if load.cpu_ms_per_charge else 0
    timeouts = f", {load.lag_timeouts} not seen within 60 s" if load.lag_timeouts else ""
    return [
        "## 5. End to end on the local stack",
        "",
        "`python -m local` (what `make dev` runs: moto's server with its stream, the handlers, the stream poller with "
        f"the template's batch size and batching window) in a process of its own; an open-loop client with "
        f"{load.workers} worker threads (keep-alive) sends charges at each rate in turn (80% single, 20% bulks of 1 to",
        "20, over 200 customers); a request that finds every worker still waiting for an answer is shed and counted,",
        "never sent late. Latency runs from the scheduled send time. The client shares the two cores with the stack.",
        "",
        "| offered rate | sent | accepted | accepted/s | p50 | p99 | errors | shed (every worker waiting) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        *[
            f"| {s.rate:g}/s for {s.seconds:g} s | {s.sent} | {s.accepted} | {s.accepted_per_second:.1f} "
            f"| {_ms(s.p50_ms)} "
            f"| {_ms(s.p99_ms)} | {e} | {s.shed} |"
            for s, e in zip(load.steps, errors, strict=True)
        ],
        "",
        f"Summary lag (a probe charge twice a second, its summary polled every 100 ms): p50 {_ms(load.lag_p50_ms)}, "
        f"p99 {_ms(load.lag_p99_ms)} over {len(load.lag_ms)} probes{timeouts}. The template's "
        "MaximumBatchingWindowInSeconds "
        f"({load.batching_window:g} s) dominates it: the poller gathers records for up to that long.",
        "",
        f"After the run: {load.accepted_charges:,} charges accepted, {load.stored_charges:,} stored ({stored}); "
        f"{load.summaries_right} of {load.customers} customers' summaries equal what was accepted for them (count and "
        f"total), {load.drain_seconds:.1f} s after the last request. The stack's process used "
        f"{load.stack_cpu_seconds:.1f} s of CPU, {load.cpu_ms_per_charge:.1f} ms per accepted charge, API and stream",
        f"together (one process, one interpreter lock: about {ceiling:.0f} charges a second of one core is its "
        "ceiling).",
        "",
        "![local stack under load](benchmarks-load.png)",
        "",
        "Where the time goes (one-off py-spy profiles, 2026-11-29 and 2026-12-05, not re-measured here): the process's",
        "own calls reach moto's backend in process (a botocore hook at `before-call`, no socket, no signature) and",
        "DynamoDB's JSON is read and written with `json` (`local/moto_fixes.py`), which took a charge from about 22 ms",
        "to 8 ms of CPU; the API's functions and the stream's run in lanes of their own (`local/lambdas.py`), so a",
        "request waits at most for the longest single DynamoDB call of a stream batch, not the whole batch. Summary",
        "writes that carry seen items (customers with more than 40 charges in a window, as under this load) are moto's",
        "heaviest calls. The local stack is a development tool: one Python process serves the API, runs the handlers",
        "and polls the stream, and moto answers one call at a time; its ceiling says nothing about Lambda, where each",
        "concurrent request gets its own execution environment. It shows where it saturates and that no charge is",
        "lost or counted twice when it does.",
        "",
    ]


def _logs_section(logs: LogReport) -> list[str]:
    single = logs.of("CreateChargeFunction")
    total = single.bytes + logs.access_log_bytes
    return [
        "## 7. Log bytes per invocation",
        "",
        "What CloudWatch Logs ingests (and bills) for each invocation. *Application*: the real handlers, in process",
        "and warm, at the template's log level (INFO), their output captured; the median of "
        f"{single.invocations} invocations of each kind. Each invocation writes one line: its EMF metrics, with what "
        "an operator looks a request up by as EMF metadata (`correlation_id`, `status`, `duration_ms`, project,",
        "key id, counts); warnings and errors add lines of their own, and an execution environment's first invocation",
        "a `ColdStart` metric line.",
        "",
        "| invocation | function | status | lines | application bytes |",
        "| --- | --- | --- | ---: | ---: |",
        *[f"| {c.name} | {c.function} | {c.status} | {c.lines:g} | {c.bytes:,.0f} |" for c in logs.cases],
        "",
        f"Beside them: API Gateway's access log line, {logs.access_log_bytes} bytes a request (the template's format,",
        f"filled with a request's values); Lambda's own START and REPORT lines, {logs.platform_bytes} bytes an "
        "invocation,",
        "written only when `SystemLogLevel` is INFO or DEBUG (the template's default, WARN, drops them; built from the",
        f"shape AWS documents, not measured). A single charge at the defaults: {single.bytes:,.0f} + "
        f"{logs.access_log_bytes} = {total:,.0f} bytes (at `SystemLogLevel=INFO`, {total + logs.platform_bytes:,.0f});",
        "docs/capacity.md prices these.",
        "",
        f"**Goal ≤ {LOG_TARGET_BYTES} bytes of application log per request at INFO:** "
        f"{_met(single.bytes <= LOG_TARGET_BYTES)} ({single.bytes:,.0f} bytes for a single charge). The line is also",
        "the request's metrics: the EMF envelope (namespace, dimensions, metric names and units, timestamp) is about",
        "200 bytes of it, which a separate log line would have added to a separate EMF line, not saved.",
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
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`python -m benchmarks`{quick}); do not edit by hand. Machine: "
        f"{results.machine.describe()}. The run took {results.seconds:.0f} s.",
        "",
        "Every figure is a ratio against a floor measured in the same run, with the absolute value beside it.",
        "Nothing here is a test: no figure fails a build.",
        "",
        *[
            line
            for part, reason in results.missing.items()
            for line in (f"> **{part} was not measured:** {reason}", "")
        ],
    ]
    sections = (
        (results.cold, lambda: _cold_section(results.cold)),  # type: ignore[arg-type]
        (results.warm, lambda: _warm_section(results.warm, results.warm_stub)),  # type: ignore[arg-type]
        (results.capacity, lambda: _capacity_section(results.capacity)),  # type: ignore[arg-type]
        (results.recompute or results.concurrency or results.capacity, lambda: _tails_section(results)),
        (results.load, lambda: _load_section(results.load)),  # type: ignore[arg-type]
        (results.importing, lambda: import_section(results.importing)),  # type: ignore[arg-type]
        (results.logs, lambda: _logs_section(results.logs)),  # type: ignore[arg-type]
    )
    for measured, section in sections:
        lines += section() if measured else []
    return "\n".join(lines).rstrip() + "\n"


def write(results: Results, out_dir: Path) -> Path:
    """Write benchmarks.md and its charts into ``out_dir``; return the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if results.cold:
        cold_chart(results.cold, out_dir / "benchmarks-cold-start.png")
    if results.warm:
        warm_chart(results.warm, out_dir / "benchmarks-warm.png")
    if results.capacity:
        capacity_chart(results.capacity, out_dir / "benchmarks-capacity.png")
    if results.load:
        load_chart(results.load, out_dir / "benchmarks-load.png")
    page = out_dir / "benchmarks.md"
    page.write_text(markdown(results), encoding="utf-8")
    return page
