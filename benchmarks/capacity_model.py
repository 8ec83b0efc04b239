"""Capacity model: what running 1x to 100,000x the realistic day takes on AWS, and what it costs.

Its inputs: a benchmark run's figures (docs/benchmarks.json), template.yaml's settings (read through ``local.sam``
as the local stack reads them), AWS's published quotas and prices (``PUBLISHED``, each with its source) and the
``Assumptions`` neither gives, each stated on the page. For each scale it computes requests/s at peak, Lambda
concurrency, DynamoDB units/s per table and on the hottest partition keys, the stream's shards, batches and lag,
every limit with what lifts it, and the monthly bill beside its floor; ``benchmarks.stream_sim`` checks the lag.
"""

import itertools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy

from beacon.dal.item_keys import REGISTRY_SHARDS
from benchmarks import figures
from benchmarks.stream_sim import SimResult, simulate
from local.sam import LocalResources, functions, parameter_values, stream_mappings
from local.template import ROOT, resources_of_type, table_definitions, template

SCALES = (1, 10, 100, 1_000, 10_000, 100_000)
HOT_SHARE = 0.10
SECONDS_PER_DAY = 86_400
DAYS_PER_MONTH = 30
STREAM_FUNCTION, JOBS_FUNCTION = "SummarizeChargesFunction", "CustomerJobsFunction"
HEADROOM = 1.25  # a value to set leaves this much over the busiest hour's demand


# ---------------------------------------------------------------- published quotas and prices


@dataclass(frozen=True)
class Published:
    """A quota or price as AWS publishes it (us-east-1 where prices differ by region)."""

    value: float
    unit: str
    what: str
    source: str


PUBLISHED_ON = "2025-06-01"
"""The date the values below are stated as published on (no network where the model runs: check them)."""

# key | value | unit | what | source
_PUBLISHED = """
apigw_account_rps | 10000 | requests/s | API Gateway throttle per account and Region (burst 5,000) | https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
apigw_price | 1.00 | $ per million | HTTP API requests, first 300 million a month | https://aws.amazon.com/api-gateway/pricing/
lambda_concurrency | 1000 | executions | Lambda concurrent executions per Region | https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
lambda_concurrency_new_account | 10 | executions | Lambda concurrent executions, new account (raised on request) | https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
lambda_request_price | 0.20 | $ per million | Lambda requests | https://aws.amazon.com/lambda/pricing/
lambda_gb_second_price | 0.0000133334 | $ per GB-second | Lambda duration, arm64, first 6 billion GB-s a month | https://aws.amazon.com/lambda/pricing/
lambda_mb_per_vcpu | 1769 | MB | Lambda memory that buys one full vCPU (CPU is allocated in proportion) | https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
stream_polls_per_second | 4 | polls/s | Lambda polls each DynamoDB stream shard 4 times a second | https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
max_parallelization_factor | 10 | batches | ParallelizationFactor: concurrent batches per shard, 1 to 10 | https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
sqs_mapping_concurrency | 1000 | batches | SQS event source mapping: concurrent batches at most (+300 a minute) | https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
ddb_partition_wcu | 1000 | WCU/s | DynamoDB writes per partition (3,000 RCU/s for reads) | https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
ddb_table_wru | 40000 | WRU/s | DynamoDB on-demand write throughput per table (default quota) | https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
ddb_table_rru | 40000 | RRU/s | DynamoDB on-demand read throughput per table (default quota) | https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
ddb_new_table_wru | 4000 | WRU/s | a new on-demand table at once; then twice its last peak within 30 min | https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html
ddb_write_price | 0.625 | $ per million | DynamoDB on-demand write request units | https://aws.amazon.com/dynamodb/pricing/on-demand/
ddb_read_price | 0.125 | $ per million | DynamoDB on-demand read request units | https://aws.amazon.com/dynamodb/pricing/on-demand/
ddb_storage_price | 0.25 | $ per GB-month | DynamoDB Standard storage | https://aws.amazon.com/dynamodb/pricing/on-demand/
ddb_pitr_price | 0.20 | $ per GB-month | DynamoDB point-in-time recovery | https://aws.amazon.com/dynamodb/pricing/on-demand/
logs_ingest_price | 0.50 | $ per GB | CloudWatch Logs ingestion (Standard) | https://aws.amazon.com/cloudwatch/pricing/
logs_storage_price | 0.03 | $ per GB-month | CloudWatch Logs storage | https://aws.amazon.com/cloudwatch/pricing/
xray_trace_price | 5.00 | $ per million | X-Ray traces recorded | https://aws.amazon.com/xray/pricing/
xray_lambda_reservoir | 1 | trace/s | Lambda's sampling (Tracing: Active): the first request each second | https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
xray_lambda_rate | 0.05 | of the rest | Lambda's sampling (Tracing: Active): 5% of the requests beyond the first | https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
cloudwatch_metric_price | 0.30 | $ per metric-month | CloudWatch custom metrics (EMF), first 10,000 | https://aws.amazon.com/cloudwatch/pricing/
cloudwatch_alarm_price | 0.10 | $ per alarm metric-month | CloudWatch standard alarm, per metric it evaluates | https://aws.amazon.com/cloudwatch/pricing/
cloudwatch_dashboard_price | 3.00 | $ per dashboard-month | CloudWatch dashboard (beyond an account's first three) | https://aws.amazon.com/cloudwatch/pricing/
"""
PUBLISHED: dict[str, Published] = {
    key: Published(float(value), unit, what, source)
    for key, value, unit, what, source in (line.split(" | ") for line in _PUBLISHED.strip().splitlines())
}


def published(key: str) -> float:
    """The published value named ``key``."""
    return PUBLISHED[key].value


# ---------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class Assumptions:
    """What neither the benchmarks nor AWS's pages give; every field is printed on the page."""

    peak_to_mean: float = 3.0
    """The busiest hour runs at this multiple of the day's mean rate (12.5% of the day in one hour)."""
    peak_hours: float = 1.0
    latency_ms: Mapping[str, float] = field(
        default_factory=lambda: {"GetItem": 4, "PutItem": 5, "UpdateItem": 5, "BatchGetItem": 6, "BatchWriteItem": 8}
    )
    """DynamoDB round trip per call of the API functions, in Region (typical single-digit ms; not measured here)."""
    api_overhead_ms: float = 2.0
    stream_invoke_overhead_ms: float = 20.0
    query_page_ms: float = 20.0  # A 1 MB Query page's round trip (a recompute reads its history in such pages).
    summary_reads_per_customer_per_day: float = 1.0
    charge_item_bytes: float = 400.0
    summary_item_bytes: float = 500.0
    projects: int = 1

    def describe(self) -> list[str]:
        latencies = ", ".join(f"{op} {ms:g} ms" for op, ms in self.latency_ms.items())
        return [
            f"peak-to-mean ratio {self.peak_to_mean:g}: the busiest {self.peak_hours:g} h takes "
            f"{self.peak_to_mean * self.peak_hours / 24:.1%} of the day's charges; capacity is sized for it, the bill"
            " uses the daily totals",
            f"DynamoDB round trips of the API functions (not measured): {latencies}; the stream's from its measured"
            f" batch (docs/benchmarks.md, section 4); a recompute's 1 MB Query page {self.query_page_ms:g} ms",
            f"beyond the handler's CPU and DynamoDB calls, {self.api_overhead_ms:g} ms per API invocation and"
            f" {self.stream_invoke_overhead_ms:g} ms per stream batch",
            "CPU: the benchmark machine's, stretched by 1,769 MB / the function's memory (Lambda's share of a vCPU);"
            " a Graviton core as fast as the benchmark's",
            f"{self.summary_reads_per_customer_per_day:g} GET /customers/summary per customer per day; no"
            " Idempotency-Key (with one, a single charge costs 3 WRU); the measured day has neither",
            "every customer of a day is new (as measured): its first record is recomputed (a GetItem and a Query) and"
            f" writes its registry entry; 1,000 customers per 1x, in {self.projects} project(s)",
            "log bytes: each function's measured line (docs/benchmarks.md, section 7), Lambda's START and REPORT lines"
            " only at `SystemLogLevel` INFO or DEBUG, API Gateway's access log line per request; storage billed on the"
            " bytes ingested (AWS bills the compressed bytes: less)",
            "X-Ray: Lambda's sampling (1 trace a second, 5% of the rest) of each function's mean rate; none when"
            " `Tracing` is PassThrough",
            "CloudWatch: a custom metric all month per metric and dimensions the dashboard charts, every alarm of the"
            " template, the dashboard",
            f"items of {self.charge_item_bytes:g} bytes per charge and {self.summary_item_bytes:g} per summary (with"
            " DynamoDB's per-item overhead)",
            "no free tier; cold starts neither billed nor counted in concurrency (a steady load reuses environments);"
            " the API key read (once per container per `ApiKeyCacheTtlSeconds`) left out",
            "stream shards: one per ChargesTable partition, at least 4 and one per 1,000 WCU/s; storage adds one per"
            " 10 GB, so an older, larger table has more",
            "one customer's records in one batch slot, the worse case (*How far one customer goes*)",
        ]


# ---------------------------------------------------------------- inputs


Fit = tuple[float, float, float]
"""Units of a stream batch: (per record, per customer, per batch)."""


def at(fit: Fit, records: float, customers: float, batches: float = 1.0) -> float:
    """The units of ``batches`` batches holding ``records`` records and ``customers`` (customer, batch) pairs."""
    return fit[0] * records + fit[1] * customers + fit[2] * batches


@dataclass(frozen=True)
class Inputs:
    """The measured figures the model uses, and the runs they come from."""

    runs: dict[str, str]
    day_charges: int
    day_customers: int
    day_single_requests: int
    day_bulk_requests: int
    single_cpu_ms: float
    bulk_cpu_ms_per_charge: float
    single_wru: float
    bulk_wru_per_charge: float
    single_calls: dict[str, float]
    bulk_calls_per_charge: dict[str, float]
    stream_wru: Fit
    stream_rru: Fit
    new_customer_wru: float  # Beyond the fit, per new customer: its registry entry.
    new_customer_rru: float  # Beyond the fit, per new customer: the recompute's reads (a GetItem and a Query).
    slot_cpu_ms_per_record: float  # The concurrent stream batch's CPU per record (docs/benchmarks.md, section 4).
    slot_wait_s: float  # That batch's wall time beyond its CPU, at ``slot_latency_s`` a call.
    slot_records: int
    slot_workers: int
    slot_latency_s: float
    recompute_cpu_s_per_charge: float
    recompute_charges_per_page: float
    day_stream_check: tuple[float, float]
    """(measured, modelled) write units of the benchmark day's stream: the fit's check."""
    log_bytes: dict[str, float]
    platform_log_bytes: float
    access_log_bytes: float

    @property
    def day_bulk_charges(self) -> int:
        return self.day_charges - self.day_single_requests


SPILL_WRITE_UNITS = 3.0  # what a batch that writes a seen item adds: +1 for the summary, 2 for the seen item
_STREAM_BATCH = re.compile(r"stream batch of (\d+) record\(s\) over (\d+) customer\(s\)")
_DAY_NOTE = re.compile(r"(\d+) \(customer, batch\) pairs, (\d+) new customers")
NEW_CUSTOMERS = "stream batch of 100 records over 100 new customers"


def _solve(rows: list[list[float]], values: list[float]) -> Fit:
    """Least squares for the three unknowns; negatives become 0."""
    solution, _, rank, _ = numpy.linalg.lstsq(numpy.array(rows), numpy.array(values), rcond=None)
    if rank < 3:
        raise ValueError("the stream scenarios do not determine the per-record, per-customer and per-batch costs")
    per_record, per_customer, per_batch = (round(max(0.0, float(x)), 6) for x in solution)
    return per_record, per_customer, per_batch


def load_inputs(path: Path | None = None) -> Inputs:
    """The model's inputs from a benchmark figures file (docs/benchmarks.json by default)."""
    parts = figures.read(path or ROOT / "docs" / figures.FIGURES_FILE)["parts"]
    missing = {"warm", "dynamodb", "logs", "stream"} - set(parts)
    if missing:
        raise ValueError(f"the figures file has no {', '.join(sorted(missing))} part: run `make bench`")
    warm, dynamodb, scenarios = parts["warm"]["cases"], parts["dynamodb"], parts["dynamodb"]["scenarios"]
    bulk = max((c for name, c in warm.items() if name.startswith("bulk")), key=lambda c: c["charges"])
    single = scenarios["single charge (POST /charges)"]
    bulk_scenario = max((s for name, s in scenarios.items() if name.startswith("bulk of")), key=lambda s: s["charges"])
    singles = int(scenarios["day: write path"]["requests"].get("PutItem", 0))
    batch, recompute = parts["stream"]["concurrency"], parts["stream"]["recompute"]
    return Inputs(
        runs={part: parts[part]["run"]["machine"] for part in ("warm", "dynamodb", "stream")},
        day_charges=int(dynamodb["day_charges"]),
        day_customers=int(dynamodb["day_customers"]),
        day_single_requests=singles,
        day_bulk_requests=int(dynamodb["day_requests"]) - singles,
        single_cpu_ms=float(warm["single charge"]["handler_cpu_ms"]),
        bulk_cpu_ms_per_charge=float(bulk["handler_cpu_ms"]) / bulk["charges"],
        single_wru=single["write_units"] / single["charges"],
        bulk_wru_per_charge=bulk_scenario["write_units"] / bulk_scenario["charges"],
        single_calls={op: float(n) for op, n in single["requests"].items()},
        bulk_calls_per_charge={op: n / bulk_scenario["charges"] for op, n in bulk_scenario["requests"].items()},
        slot_cpu_ms_per_record=batch["concurrent_cpu_s"] * 1000 / batch["records"],
        slot_wait_s=max(0.0, batch["concurrent_s"] - batch["concurrent_cpu_s"]),
        slot_records=int(batch["records"]),
        slot_workers=int(batch["workers"]),
        slot_latency_s=float(batch["latency_s"]),
        recompute_cpu_s_per_charge=recompute["cpu_s"] / recompute["charges"],
        recompute_charges_per_page=recompute["charges"] / recompute["pages"],
        **_stream_inputs(scenarios, int(dynamodb["stream_batch_size"])),
        **_log_inputs(parts["logs"]),
    )


def _stream_inputs(scenarios: Mapping[str, Any], batch_size: int) -> dict[str, Any]:
    """The stream's units fitted to its batches of customers with a summary; a new customer's beyond them; the check
    of both against the day's stream."""
    batches = [(int(m[1]), int(m[2]), s) for name, s in scenarios.items() if (m := _STREAM_BATCH.fullmatch(name))]
    rows = [[float(r), float(c), 1.0] for r, c, _ in batches]
    wru = _solve(rows, [s["write_units"] for _, _, s in batches])
    rru = _solve(rows, [s["read_units"] for _, _, s in batches])
    new = scenarios[NEW_CUSTOMERS]
    new_wru, new_rru = (
        max(0.0, (new[units] - at(fit, 100, 100)) / 100) for units, fit in (("write_units", wru), ("read_units", rru))
    )
    day = next(s for name, s in scenarios.items() if name.startswith("day: stream"))
    pairs, new_customers = (int(n) for n in _DAY_NOTE.search(day["note"]).groups())  # type: ignore[union-attr]
    day_batches = math.ceil(day["charges"] / batch_size)
    # A customer whose window passes the ids its summary item holds writes a seen item in a transaction: the
    # summary's write doubled and the seen item's (two units up to 1 KB), which the fit's batches do not show.
    spills = float(day["requests"].get("TransactWriteItems", 0))
    modelled = at(wru, day["charges"], pairs, day_batches) + new_wru * new_customers + spills * SPILL_WRITE_UNITS
    check = (float(day["write_units"]), modelled)
    units = {"stream_wru": wru, "stream_rru": rru, "new_customer_wru": new_wru, "new_customer_rru": new_rru}
    return units | {"day_stream_check": check}


def _log_inputs(logs: Mapping[str, Any]) -> dict[str, Any]:
    """Each function's bytes per invocation from its accepted case (a good day), the platform's, the access log's."""
    by_function: dict[str, float] = {}
    for case in logs["cases"].values():
        if str(case["status"]).startswith("2"):
            by_function.setdefault(case["function"], float(case["bytes"]))
    platform, access = float(logs["platform_bytes"]), float(logs["access_log_bytes"])
    return {"log_bytes": by_function, "platform_log_bytes": platform, "access_log_bytes": access}


@dataclass(frozen=True)
class Settings:
    """What template.yaml configures, with its parameters' defaults (or the overrides given)."""

    memory_mb: dict[str, int]
    timeout_s: dict[str, int]
    batch_size: int
    batching_window_s: float
    parallelization_factor: int
    maximum_record_age_s: int
    maximum_retry_attempts: int
    throttling_rate: float
    throttling_burst: float
    log_retention_days: int
    parameters: dict[str, str]
    tracing: str = "Active"
    system_log_level: str = "WARN"
    custom_metrics: int = 0
    alarm_metrics: int = 0
    dashboards: int = 0


def load_settings(overrides: Mapping[str, str] | None = None) -> Settings:
    """template.yaml's settings as the local stack reads them (``local.sam``), with parameter overrides."""
    document = template()
    params = parameter_values(dict(overrides or {}), document)
    resources = LocalResources("us-east-1", "capacity", params, document.get("Conditions", {}))
    resources.tables = {name: name for name in table_definitions(document)}
    resources.table_stream_arns = {
        name: f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}/stream/model" for name in resources.tables
    }
    resources.queue_urls = {name: f"https://sqs/{name}" for name in resources_of_type("AWS::SQS::Queue", document)}
    specs = functions(document)
    [mapping] = [m for m in stream_mappings(specs, resources) if m.function == STREAM_FUNCTION]
    globals_ = document["Globals"]["Function"]
    return Settings(
        memory_mb={name: spec.memory_mb for name, spec in specs.items()},
        timeout_s={name: spec.timeout_seconds for name, spec in specs.items()},
        batch_size=mapping.batch_size,
        batching_window_s=mapping.batching_window_seconds,
        parallelization_factor=mapping.parallelization_factor,
        maximum_record_age_s=mapping.maximum_record_age_seconds,
        maximum_retry_attempts=mapping.maximum_retry_attempts,
        throttling_rate=float(params["ThrottlingRateLimit"]),
        throttling_burst=float(params["ThrottlingBurstLimit"]),
        log_retention_days=int(params["LogRetentionDays"]),
        parameters=params,
        tracing=str(resources.resolve(globals_.get("Tracing", "PassThrough"))),
        system_log_level=str(resources.resolve(globals_.get("LoggingConfig", {}).get("SystemLogLevel", "INFO"))),
        **_cloudwatch_counts(document),
    )


def _cloudwatch_counts(document: dict[str, Any]) -> dict[str, int]:
    """Custom metrics the dashboard charts in the functions' namespace, metrics the alarms evaluate, dashboards."""
    namespace = document["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    dashboards = resources_of_type("AWS::CloudWatch::Dashboard", document)
    custom: set[tuple[str, ...]] = set()
    for dashboard in dashboards.values():
        body = dashboard["Properties"]["DashboardBody"]
        text = body["Fn::Sub"] if isinstance(body, dict) else str(body)
        text = text if isinstance(text, str) else text[0]
        # ${Resource} -> its logical id (one series per function), a bare ${Parameter} (a number) -> 0
        text = re.sub(r"\$\{([^}.]*)[^}]*\}", r"\1", re.sub(r":\s*\$\{[^}]*\}", ": 0", text))
        for widget in json.loads(text)["widgets"]:
            metrics = widget.get("properties", {}).get("metrics", [])
            custom |= {
                tuple(n[1:]) for n in ([p for p in m if isinstance(p, str)] for m in metrics) if n[:1] == [namespace]
            }
    alarms = resources_of_type("AWS::CloudWatch::Alarm", document).values()
    alarm_metrics = sum(len([m for m in a["Properties"].get("Metrics", []) if "MetricStat" in m]) or 1 for a in alarms)
    return {"custom_metrics": len(custom), "alarm_metrics": alarm_metrics, "dashboards": len(dashboards)}


# ---------------------------------------------------------------- Lambda time


def cpu_stretch(memory_mb: int) -> float:
    """How much longer CPU work takes on a function of ``memory_mb`` than on a full core."""
    return max(1.0, published("lambda_mb_per_vcpu") / memory_mb)


def recompute_seconds(cpu_s: float, pages: int, memory_mb: int, assumptions: "Assumptions | None" = None) -> float:
    """Seconds a recompute measured at ``cpu_s`` of CPU over ``pages`` Query pages takes on a function of
    ``memory_mb``: its CPU stretched to the function's share of a vCPU, and a round trip a page."""
    return cpu_s * cpu_stretch(memory_mb) + pages * (assumptions or Assumptions()).query_page_ms / 1000


BatchSeconds = Callable[[float, float], float]


def batch_seconds(inputs: Inputs, settings: Settings, assumptions: Assumptions) -> BatchSeconds:
    """Seconds the summarizer takes for a batch of (records, distinct customers): the poller's hand-over, the
    measured concurrent batch's CPU per record stretched to the function's share of a vCPU, and that batch's
    waiting, by the rounds of ``slot_workers`` customers written at once (at the assumed PutItem latency)."""
    stretch = cpu_stretch(settings.memory_mb[STREAM_FUNCTION])
    measured_rounds = math.ceil(inputs.slot_records / inputs.slot_workers)
    latency = assumptions.latency_ms["PutItem"] / 1000 / inputs.slot_latency_s

    def seconds(records: float, customers: float) -> float:
        rounds = math.ceil(max(1.0, customers) / inputs.slot_workers) / measured_rounds
        cpu_ms = records * inputs.slot_cpu_ms_per_record * stretch
        return (assumptions.stream_invoke_overhead_ms + cpu_ms) / 1000 + inputs.slot_wait_s * rounds * latency

    return seconds


# ---------------------------------------------------------------- the stream side


def distinct_customers(records: float, customers: int, hot_share: float = 0.0) -> float:
    """Expected distinct customers among ``records`` records; one customer takes ``hot_share`` of them."""
    if records <= 0:
        return 0.0
    if hot_share <= 0:
        return customers * (1 - (1 - 1 / customers) ** records)
    others = max(1, customers - 1)
    return 1 - (1 - hot_share) ** records + others * (1 - (1 - (1 - hot_share) / others) ** records)


@dataclass(frozen=True)
class SlotLoad:
    """One of a shard's concurrent batch slots (``ParallelizationFactor`` per shard) in steady state."""

    rate: float  # Records per second into this slot.
    batch: float
    cycle_s: float  # Seconds between two batches' starts.
    handler_s: float
    capacity: float  # Records per second the slot can take with full batches.
    mean_lag_s: float
    max_lag_s: float
    """The oldest a record gets before its summary is written (behind: once the peak's backlog is drained)."""
    behind: bool
    age_at_peak_end_s: float = 0.0
    gives_up: bool = False
    """Behind long enough that records pass ``MaximumRecordAgeInSeconds``: they go to the failure queue."""


BatchTime = Callable[[float], float]


def slot_load(rate: float, batch_time: BatchTime, settings: Settings, peak_s: float) -> SlotLoad:
    """Batch size, cycle and lag of one slot over a peak of ``peak_s``: a batch starts when the slot is free and
    either the window since the first waiting record has passed or ``batch_size`` records wait (the template's
    batching, from ``settings``, with Lambda's polls).

    Window-bound: the first record opens the window, ``rate * window`` more join it. Fill-bound: a full batch
    every ``batch_size / rate``. Busy: what arrives while a batch runs is the next batch. Behind: full batches
    back to back fall short of the rate: the age grows by ``1 - capacity / rate`` per second of peak, and keeps
    growing after it until the peak's records are done (arrivals after the peak neglected).
    """
    batch_size, window_s, max_age_s = settings.batch_size, settings.batching_window_s, settings.maximum_record_age_s
    poll_s = 1 / published("stream_polls_per_second")
    capacity = batch_size / batch_time(batch_size)
    if rate <= 0:
        handler = batch_time(1)
        return SlotLoad(0.0, 0.0, math.inf, handler, capacity, window_s + handler, window_s + poll_s + handler, False)
    if rate >= capacity:
        handler = batch_time(batch_size)
        at_end = (1 - capacity / rate) * peak_s + handler + poll_s
        oldest = (rate / capacity - 1) * peak_s + handler + poll_s
        gives_up = oldest > max_age_s >= 0
        oldest = min(oldest, max_age_s) if max_age_s >= 0 else oldest
        return SlotLoad(rate, batch_size, handler, handler, capacity, oldest / 2, oldest, True, at_end, gives_up)
    batch, cycle = 1.0, 0.0
    for _ in range(200):
        cycle = max(batch_time(batch), min(1 / rate + window_s, batch_size / rate))
        batch, previous = min(float(batch_size), rate * cycle), batch
        if abs(batch - previous) < 1e-9:
            break
    handler = batch_time(batch)
    if handler >= min(1 / rate + window_s, batch_size / rate):  # busy: records wait out the running batch
        mean_wait, max_wait = cycle / 2, cycle
    elif batch_size / rate < 1 / rate + window_s:  # fill-bound
        mean_wait, max_wait = batch_size / rate / 2, batch_size / rate
    else:  # window-bound: the first record waits the whole window, the others half of it on average
        joined = rate * window_s
        mean_wait, max_wait = (window_s + joined * window_s / 2) / (1 + joined), window_s
    lags = (poll_s / 2 + mean_wait + handler, poll_s + max_wait + handler)
    return SlotLoad(rate, batch, cycle, handler, capacity, *lags, False)


# ---------------------------------------------------------------- one scale


@dataclass(frozen=True)
class Limit:
    """A limit, the demand on it at peak, and what lifts it (``kind``: parameter, quota or design)."""

    name: str
    demand: float
    limit: float
    unit: str
    lift: str
    kind: str

    @property
    def utilization(self) -> float:
        return self.demand / self.limit if self.limit else math.inf


@dataclass(frozen=True)
class Day:
    """One scale's day: its traffic, and what the bill counts."""

    charges: float
    singles: float
    bulks: float
    reads: float
    customers: int
    new_customers: float
    invocations: dict[str, float] = field(default_factory=dict)
    durations_ms: dict[str, float] = field(default_factory=dict)
    summary_writes: float = 0.0
    """One per (customer, batch) pair at the day's mean rate: the floor of the stream's writes."""
    wru: float = 0.0
    rru: float = 0.0

    @property
    def requests(self) -> float:
        return self.singles + self.bulks + self.reads


@dataclass(frozen=True)
class Stream:
    """The summarizer at peak: its slots, batches, and (customer, batch) pairs; ``hot`` is the hot customer's slot."""

    shards: int
    slot: SlotLoad
    hot: SlotLoad | None
    batches_per_s: float
    pairs_per_s: float
    concurrency: float
    parallelization_needed: int


@dataclass(frozen=True)
class Scale:
    """The model's figures for one scale of the realistic day."""

    scale: float
    hot_share: float
    day: Day
    peak_requests_per_s: float
    peak_charges_per_s: float
    concurrency: dict[str, float]
    table_wru_per_s: dict[str, float]
    table_rru_per_s: dict[str, float]
    hot_keys: dict[str, float]
    """WCU/s on the busiest partition key of each kind: a customer's charges, its summary, a registry shard."""
    stream: Stream
    monthly_cost: dict[str, float]
    floor_cost: dict[str, float]
    limits: list[Limit]
    log_bytes_per_day: float

    @property
    def slot(self) -> SlotLoad:
        return self.stream.slot

    @property
    def lag(self) -> SlotLoad:
        """The slot with the oldest records: the hot customer's when there is one."""
        hot = self.stream.hot
        return hot if hot and hot.max_lag_s > self.stream.slot.max_lag_s else self.stream.slot

    @property
    def monthly_total(self) -> float:
        return sum(self.monthly_cost.values())

    @property
    def floor_total(self) -> float:
        return sum(self.floor_cost.values())

    @property
    def charges_per_month(self) -> float:
        return self.day.charges * DAYS_PER_MONTH

    @property
    def per_million(self) -> float:
        return self.monthly_total / self.charges_per_month * 1e6

    @property
    def floor_per_million(self) -> float:
        return self.floor_total / self.charges_per_month * 1e6

    @property
    def binding(self) -> list[Limit]:
        """The limits the peak exceeds, most exceeded first."""
        return sorted((lim for lim in self.limits if lim.utilization >= 1), key=lambda x: -x.utilization)


def _api_durations(inputs: Inputs, settings: Settings, a: Assumptions) -> dict[str, float]:
    """Milliseconds per invocation of each API function."""
    bulk_mean = inputs.day_bulk_charges / max(1, inputs.day_bulk_requests)
    bulk_calls = {op: float(math.ceil(n * bulk_mean)) for op, n in inputs.bulk_calls_per_charge.items()}
    # the read endpoint's warm CPU is not benchmarked: a single charge's is used
    cpu: dict[str, tuple[float, Mapping[str, float]]] = {
        "CreateChargeFunction": (inputs.single_cpu_ms, inputs.single_calls),
        "BulkChargesFunction": (inputs.bulk_cpu_ms_per_charge * bulk_mean, bulk_calls),
        "GetSummaryFunction": (inputs.single_cpu_ms, {"GetItem": 1.0}),
    }
    return {
        name: ms * cpu_stretch(settings.memory_mb[name])
        + sum(n * a.latency_ms.get(op, 10.0) for op, n in calls.items())
        + a.api_overhead_ms
        for name, (ms, calls) in cpu.items()
    }


Slots = list[tuple[float, SlotLoad, float]]
"""Kinds of a shard's batch slots: (how many, the load of each, the hot customer's share of its records)."""


def _slots(charges_per_s: float, shards: int, hot: float, customers: int, ctx: "_Context") -> Slots:
    """The slots (count, load, hot customer's share of its records) of ``charges_per_s`` over ``shards``."""
    slots = shards * ctx.settings.parallelization_factor
    uniform = ctx.slot(charges_per_s * (1 - hot) / slots, 0.0, customers)
    if hot <= 0:
        return [(float(slots), uniform, 0.0)]
    rate = charges_per_s * hot + uniform.rate
    share = charges_per_s * hot / rate
    return [(slots - 1.0, uniform, 0.0), (1.0, ctx.slot(rate, share, customers), share)]


def _batches(kinds: Slots, customers: int) -> tuple[float, float]:
    """Batches/s and (customer, batch) pairs/s of these slots."""
    batches = sum(n * k.rate / k.batch for n, k, _ in kinds if k.batch)
    pairs = sum(n * k.rate / k.batch * distinct_customers(k.batch, customers, h) for n, k, h in kinds if k.batch)
    return batches, pairs


@dataclass(frozen=True)
class _Context:
    inputs: Inputs
    settings: Settings
    a: Assumptions

    def slot(self, rate: float, hot_share: float, customers: int) -> SlotLoad:
        handler = batch_seconds(self.inputs, self.settings, self.a)
        return slot_load(
            rate,
            lambda n: handler(n, distinct_customers(n, customers, hot_share)),
            self.settings,
            self.a.peak_hours * 3600,
        )


def _stream(day: Day, charges_wru: float, hot: float, ctx: _Context) -> tuple[Stream, Slots]:
    """The summarizer at peak (and its slots at the day's mean rate, for the bill)."""
    shards = max(4, math.ceil(charges_wru / published("ddb_partition_wcu")))  # a new table: throughput, not storage
    peak_charges = day.charges * ctx.a.peak_to_mean / SECONDS_PER_DAY
    kinds = _slots(peak_charges, shards, hot, day.customers, ctx)
    batches, pairs = _batches(kinds, day.customers)
    slot = kinds[0][1]
    factor = ctx.settings.parallelization_factor
    needed = max(1, math.ceil(slot.rate * factor / slot.capacity * HEADROOM))
    busy = sum(n * k.handler_s / k.cycle_s for n, k, _ in kinds if math.isfinite(k.cycle_s))
    stream = Stream(shards, slot, kinds[1][1] if hot > 0 else None, batches, pairs, min(shards * factor, busy), needed)
    return stream, _slots(day.charges / SECONDS_PER_DAY, shards, hot, day.customers, ctx)


def model_scale(
    scale: float, inputs: Inputs, settings: Settings, assumptions: Assumptions | None = None, *, hot_share: float = 0.0
) -> Scale:
    """Every figure of one scale: ``scale`` times the realistic day, optionally with one hot customer."""
    ctx = _Context(inputs, settings, assumptions or Assumptions())
    a = ctx.a
    customers = max(1, round(inputs.day_customers * scale))
    day = Day(
        charges=inputs.day_charges * scale,
        singles=inputs.day_single_requests * scale,
        bulks=inputs.day_bulk_requests * scale,
        reads=inputs.day_customers * scale * a.summary_reads_per_customer_per_day,
        customers=customers,
        new_customers=float(customers),
    )
    peak = a.peak_to_mean / SECONDS_PER_DAY
    durations = _api_durations(inputs, settings, a)
    rates = dict(zip(durations, (day.singles * peak, day.bulks * peak, day.reads * peak), strict=True))
    charges_wru = (day.singles * inputs.single_wru + (day.charges - day.singles) * inputs.bulk_wru_per_charge) * peak
    table_wru = {"ChargesTable": charges_wru + inputs.stream_wru[0] * day.charges * peak}
    stream, mean_kinds = _stream(day, table_wru["ChargesTable"], hot_share, ctx)
    concurrency = {name: rates[name] * durations[name] / 1000 for name in rates} | {STREAM_FUNCTION: stream.concurrency}
    new_per_s, pairs, batches = day.new_customers * peak, stream.pairs_per_s, stream.batches_per_s
    table_wru["SummariesTable"] = at(inputs.stream_wru, 0, pairs, batches) + inputs.new_customer_wru * new_per_s
    summaries_rru = at(inputs.stream_rru, 0, pairs, batches) + inputs.new_customer_rru * new_per_s
    table_rru = {"ChargesTable": 0.0, "SummariesTable": summaries_rru + day.reads * peak * 0.5}
    hot = stream.hot or stream.slot
    top = max(hot_share, 1 / customers)
    hot_keys = {
        "a customer's charges": top * day.charges * peak * (inputs.single_wru + inputs.stream_wru[0]),
        "a customer's summary": min(top * day.charges * peak, hot.rate / max(hot.batch, 1.0)) * inputs.stream_wru[1],
        "a registry shard": new_per_s / REGISTRY_SHARDS * inputs.new_customer_wru,
    }
    billed = _bill_day(day, durations, mean_kinds, ctx)
    scale_row = Scale(
        scale=scale,
        hot_share=hot_share,
        day=billed,
        peak_requests_per_s=sum(rates.values()),
        peak_charges_per_s=day.charges * peak,
        concurrency=concurrency,
        table_wru_per_s=table_wru,
        table_rru_per_s=table_rru,
        hot_keys=hot_keys,
        stream=stream,
        monthly_cost=_monthly_cost(billed, settings, ctx),
        floor_cost=floor_cost(billed, a),
        limits=[],
        log_bytes_per_day=_log_bytes_day(billed, inputs, settings),
    )
    return replace(scale_row, limits=limits_of(scale_row, settings))


def _bill_day(day: Day, durations: dict[str, float], mean_kinds: Slots, ctx: _Context) -> Day:
    """The day as the bill counts it: invocations and durations of every function, the tables' units."""
    inputs, new = ctx.inputs, day.new_customers
    batches, pairs = (x * SECONDS_PER_DAY for x in _batches(mean_kinds, day.customers))
    stream_ms = sum(n * k.rate / k.batch * k.handler_s for n, k, _ in mean_kinds if k.batch) * SECONDS_PER_DAY * 1000
    charges_wru = day.singles * inputs.single_wru + (day.charges - day.singles) * inputs.bulk_wru_per_charge
    wru = charges_wru + at(inputs.stream_wru, day.charges, pairs, batches) + inputs.new_customer_wru * new
    rru = at(inputs.stream_rru, day.charges, pairs, batches) + inputs.new_customer_rru * new + day.reads * 0.5
    invocations = dict(zip(durations, (day.singles, day.bulks, day.reads), strict=True))  # the API functions'
    return replace(
        day,
        invocations=invocations | {STREAM_FUNCTION: batches},
        durations_ms=durations | {STREAM_FUNCTION: stream_ms / max(batches, 1e-12)},
        summary_writes=pairs,
        wru=wru,
        rru=rru,
    )


# ---------------------------------------------------------------- limits


def _to_set(demand: float) -> str:
    """A round value to set that leaves ``HEADROOM`` over ``demand``."""
    value = demand * HEADROOM
    step = 10 ** max(0, int(math.log10(value)) - 1) if value >= 1 else 1
    return f"{math.ceil(value / step) * step:,.0f}"


# key | name | unit | kind (how it is lifted), and on the next line what lifts it ({value}: the value to set)
_LIMITS = """
stage | API stage throttle (`ThrottlingRateLimit`) | requests/s | parameter
    Set `ThrottlingRateLimit={value}` (`ThrottlingBurstLimit` twice it)
account | API Gateway account throttle | requests/s | quota
    Ask for {value} requests/s in Service Quotas (API Gateway throttle rate)
new account | Lambda concurrency, new account | executions | quota
    Ask for the default 1,000 in Service Quotas
concurrency | Lambda concurrency, default quota | executions | quota
    Ask for {value} in Service Quotas (Lambda concurrent executions)
new table | DynamoDB new on-demand table (the busier table) | WRU/s | quota
    Set its `WarmThroughput` to {value} write units/s
writes | DynamoDB table writes (the busier table) | WRU/s | quota
    Ask for {value} in Service Quotas (table-level write throughput)
reads | DynamoDB table reads (the busier table) | RRU/s | quota
    Ask for {value} in Service Quotas (table-level read throughput)
slot | stream: each batch slot (shards x `StreamParallelizationFactor`) | records/s | parameter
    Set `StreamParallelizationFactor={value}`
charges | the busiest customer's charges (one partition key) | WCU/s | design
    DynamoDB may split them by sort key; beyond, more keys
summary | the busiest customer's summary (one partition key) | WCU/s | design
    A write a batch at most: bigger batches (`BatchSize`)
registry | a registry shard (new customers) | WCU/s | design
    More shards (`REGISTRY_SHARDS` in beacon/dal/item_keys.py)
hot slot | stream: the hot customer's batch slot | records/s | design
    More CPU a slot (`MemorySize`), less CPU a record; beyond, more keys
"""
_LIMIT_ROWS = {
    head.split(" | ")[0]: (*head.split(" | ")[1:], lift.strip())
    for head, lift in itertools.batched(_LIMITS.strip().splitlines(), 2, strict=True)
}


def _limit(key: str, demand: float, limit: float, value: str | None = None) -> Limit:
    name, unit, kind, lift = _LIMIT_ROWS[key]
    return Limit(name, demand, limit, unit, lift.format(value=value or _to_set(demand)), kind)


def limits_of(row: Scale, settings: Settings) -> list[Limit]:
    """Every limit of one scale, with the demand at its peak and what lifts it (the value to set, for that scale)."""
    rps, stream, wcu, hot = row.peak_requests_per_s, row.stream, published("ddb_partition_wcu"), row.hot_keys
    busiest, reads = max(row.table_wru_per_s.values()), max(row.table_rru_per_s.values())
    concurrency, pf = sum(row.concurrency.values()), stream.parallelization_needed
    slot = _limit("slot", stream.slot.rate, stream.slot.capacity, str(pf))
    if pf > published("max_parallelization_factor"):
        slot = replace(slot, kind="design", lift="More CPU a slot (the stream function's `MemorySize`)")
    limits = [
        _limit("stage", rps, settings.throttling_rate),
        _limit("account", rps, published("apigw_account_rps")),
        _limit("new account", concurrency, published("lambda_concurrency_new_account")),
        _limit("concurrency", concurrency, published("lambda_concurrency")),
        _limit("new table", busiest, published("ddb_new_table_wru")),
        _limit("writes", busiest, published("ddb_table_wru")),
        _limit("reads", reads, published("ddb_table_rru")),
        slot,
        _limit("charges", hot["a customer's charges"], wcu),
        _limit("summary", hot["a customer's summary"], wcu),
        _limit("registry", hot["a registry shard"], wcu),
    ]
    return limits + ([_limit("hot slot", stream.hot.rate, stream.hot.capacity)] if stream.hot else [])


# ---------------------------------------------------------------- the bill


def sampled_traces_per_s(rate: float) -> float:
    """Traces Lambda records per second of a function invoked ``rate`` times a second (Tracing: Active)."""
    reservoir = published("xray_lambda_reservoir")
    return min(reservoir, rate) + published("xray_lambda_rate") * max(0.0, rate - reservoir)


def _log_bytes_day(day: Day, inputs: Inputs, settings: Settings) -> float:
    """Bytes ingested by CloudWatch Logs in a day: each function's lines, the platform's, the access log's."""
    application = sum(n * inputs.log_bytes.get(name, 0.0) for name, n in day.invocations.items())
    platform_lines = sum(day.invocations.values()) if settings.system_log_level in ("INFO", "DEBUG") else 0.0
    platform = platform_lines * inputs.platform_log_bytes
    return application + platform + day.requests * inputs.access_log_bytes


def _stored_gb(day: Day, a: Assumptions) -> float:
    return (day.charges * DAYS_PER_MONTH * a.charge_item_bytes + day.customers * a.summary_item_bytes) / 1e9


def _monthly_cost(day: Day, settings: Settings, ctx: _Context) -> dict[str, float]:
    month, memory, floor = DAYS_PER_MONTH, settings.memory_mb, floor_cost(day, ctx.a)
    gb_seconds = sum(
        n * month * day.durations_ms[name] / 1000 * memory[name] / 1024 for name, n in day.invocations.items()
    )
    log_gb = _log_bytes_day(day, ctx.inputs, settings) * month / 1e9
    traced = settings.tracing == "Active"
    traces = sum(sampled_traces_per_s(n / SECONDS_PER_DAY) for n in day.invocations.values()) if traced else 0.0
    return {
        "API Gateway": floor["API Gateway"],
        "Lambda": floor["Lambda"] + gb_seconds * published("lambda_gb_second_price"),
        "DynamoDB": day.wru * month / 1e6 * published("ddb_write_price")
        + day.rru * month / 1e6 * published("ddb_read_price")
        + _stored_gb(day, ctx.a) * (published("ddb_storage_price") + published("ddb_pitr_price")),
        "CloudWatch Logs": log_gb * published("logs_ingest_price")
        + log_gb * settings.log_retention_days / month * published("logs_storage_price"),
        "CloudWatch metrics, alarms, dashboard": settings.custom_metrics * published("cloudwatch_metric_price")
        + settings.alarm_metrics * published("cloudwatch_alarm_price")
        + settings.dashboards * published("cloudwatch_dashboard_price"),
        "X-Ray": traces * SECONDS_PER_DAY * month / 1e6 * published("xray_trace_price"),
    }


def floor_cost(day: Day, assumptions: Assumptions) -> dict[str, float]:
    """What any implementation of this API on this stack pays for the same day: API Gateway's and Lambda's requests,
    one write unit per stored charge, one summary write per customer per batch, one registry entry per new customer,
    half a read unit per summary read, storing the charges and summaries (no backups, logs or traces)."""
    month = DAYS_PER_MONTH
    writes = day.charges + day.summary_writes + day.new_customers
    return {
        "API Gateway": day.requests * month / 1e6 * published("apigw_price"),
        "Lambda": sum(day.invocations.values()) * month / 1e6 * published("lambda_request_price"),
        "DynamoDB": writes * month / 1e6 * published("ddb_write_price")
        + day.reads * 0.5 * month / 1e6 * published("ddb_read_price")
        + _stored_gb(day, assumptions) * published("ddb_storage_price"),
    }


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Model:
    """Every scale, on the realistic day and on the day with a hot customer."""

    inputs: Inputs
    settings: Settings
    assumptions: Assumptions
    scales: list[Scale]
    hot: list[Scale]

    def first_binding(self, rows: list[Scale] | None = None) -> tuple[Scale, Limit] | None:
        """The smallest scale at which some limit binds, and the most exceeded limit there."""
        return next(((row, row.binding[0]) for row in rows or self.scales if row.binding), None)


def run_model(
    inputs: Inputs | None = None,
    settings: Settings | None = None,
    assumptions: Assumptions | None = None,
    scales: tuple[float, ...] = SCALES,
) -> Model:
    """The model at every scale (from docs/benchmarks.json and template.yaml unless given)."""
    inputs, settings, a = inputs or load_inputs(), settings or load_settings(), assumptions or Assumptions()
    rows = [model_scale(s, inputs, settings, a) for s in scales]
    return Model(inputs, settings, a, rows, [model_scale(s, inputs, settings, a, hot_share=HOT_SHARE) for s in scales])


# ---------------------------------------------------------------- the simulation's check


LAG_TOLERANCE = 0.15
"""The simulation's lag may differ from the model's by this fraction at the checked scales."""


@dataclass(frozen=True)
class LagCheck:
    """The model's lag for the busiest slot of one scale beside the simulation's, over ``seconds`` of peak."""

    scale: float
    hot_share: float
    seconds: float
    model: SlotLoad
    sim: SimResult
    tolerance: float = LAG_TOLERANCE

    @property
    def what(self) -> str:
        return "iterator age when the peak ends" if self.model.behind else "mean lag"

    @property
    def figures(self) -> tuple[float, float]:
        """(model, simulation): the age left behind when the slot falls behind, else the mean lag."""
        if self.model.behind:
            return self.model.age_at_peak_end_s, self.sim.age_at_end_s
        return self.model.mean_lag_s, self.sim.mean_lag_s

    @property
    def error(self) -> float:
        model, sim = self.figures
        return abs(sim - model) / model if model else math.inf

    @property
    def agrees(self) -> bool:
        return self.error <= self.tolerance


def check_lag(
    model: Model,
    scale: float,
    *,
    hot: bool = False,
    seconds: float | None = None,
    failure_probability: float = 0.0,
) -> LagCheck:
    """Simulate the busiest slot of ``scale`` (the hot customer's, on the hot day) for ``seconds`` of peak (the
    model's busiest hour by default) and put its lag beside the model's for the same peak; with
    ``failure_probability``, that share of batches fails and is retried (the model knows no failures)."""
    row = next(r for r in (model.hot if hot else model.scales) if r.scale == scale)
    busiest = row.stream.hot if hot and row.stream.hot else row.slot
    settings = model.settings
    peak_s = seconds if seconds is not None else model.assumptions.peak_hours * 3600
    hot_in_slot = row.peak_charges_per_s * row.hot_share / busiest.rate if hot and busiest.rate else 0.0
    ctx = _Context(model.inputs, settings, replace(model.assumptions, peak_hours=peak_s / 3600))
    result = simulate(
        rate=busiest.rate,
        seconds=peak_s,
        batch_seconds=batch_seconds(model.inputs, settings, model.assumptions),
        batch_size=settings.batch_size,
        window_s=settings.batching_window_s,
        poll_s=1 / published("stream_polls_per_second"),
        customers=row.day.customers,
        hot_share=hot_in_slot,
        failure_probability=failure_probability,
        maximum_retry_attempts=settings.maximum_retry_attempts,
        maximum_record_age_s=settings.maximum_record_age_s,
    )
    return LagCheck(
        scale, row.hot_share if hot else 0.0, peak_s, ctx.slot(busiest.rate, hot_in_slot, row.day.customers), result
    )
