"""Capacity model: what running 1x to 10,000x the realistic day takes on AWS, and what it costs.

Inputs, and nothing else:

- the figures of a benchmark run (docs/benchmarks.json, written by ``make bench``): CPU per request and
  per stream record, DynamoDB requests and capacity units per charge and per stream batch, the
  realistic day's shape (charges, customers, single and bulk requests);
- template.yaml's settings, read through ``local.sam`` as the local stack reads them: memory sizes,
  the summarizer's event source mapping (BatchSize, MaximumBatchingWindowInSeconds,
  ParallelizationFactor, MaximumRecordAgeInSeconds, MaximumRetryAttempts), the stage throttle, log
  retention;
- AWS's published quotas and prices (``PUBLISHED``, each with its source and the date it states);
- the assumptions that neither gives (``Assumptions``: the peak-to-mean ratio, DynamoDB latencies,
  bytes logged per invocation...), each stated on the page.

For each scale it computes requests/s at peak, Lambda concurrency per function, DynamoDB units/s per
table and on the hottest partition key, the stream's shards and the summarizer's batches, the summary
lag, which limit binds first and what lifts it, and the monthly bill by service. The stream side is
checked by the discrete-event simulation in ``benchmarks.stream_sim``.
"""

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import figures
from benchmarks.stream_sim import SimResult, simulate
from local.sam import LocalResources, functions, parameter_values, stream_mappings
from local.template import ROOT, resources_of_type, table_definitions, template

SCALES = (1, 10, 100, 1_000, 10_000)
HOT_SHARE = 0.10
SECONDS_PER_DAY = 86_400
DAYS_PER_MONTH = 30
STREAM_FUNCTION = "SummarizeChargesFunction"


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

_APIGW_QUOTAS = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"
_LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
_DDB_QUOTAS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
PUBLISHED: dict[str, Published] = {
    "apigw_account_rps": Published(
        10_000, "requests/s", "API Gateway throttle per account and Region (burst 5,000)", _APIGW_QUOTAS
    ),
    "apigw_price": Published(
        1.00,
        "$ per million",
        "HTTP API requests, first 300 million a month",
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
    "lambda_concurrency": Published(1_000, "executions", "Lambda concurrent executions per Region", _LAMBDA_QUOTAS),
    "lambda_concurrency_new_account": Published(
        10, "executions", "Lambda concurrent executions of a new account (raised on request)", _LAMBDA_QUOTAS
    ),
    "lambda_request_price": Published(
        0.20, "$ per million", "Lambda requests", "https://aws.amazon.com/lambda/pricing/"
    ),
    "lambda_gb_second_price": Published(
        0.0000133334,
        "$ per GB-second",
        "Lambda duration, arm64, first 6 billion GB-s a month",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    "lambda_mb_per_vcpu": Published(
        1_769,
        "MB",
        "Lambda memory that buys one full vCPU (CPU is allocated in proportion)",
        "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html",
    ),
    "stream_polls_per_second": Published(
        4,
        "polls/s",
        "Lambda polls each DynamoDB stream shard 4 times a second",
        "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html",
    ),
    "max_parallelization_factor": Published(
        10,
        "batches",
        "ParallelizationFactor: concurrent batches per shard, 1 to 10",
        "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html",
    ),
    "ddb_partition_wcu": Published(
        1_000,
        "WCU/s",
        "DynamoDB writes per partition key value (3,000 RCU/s for reads)",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html",
    ),
    "ddb_partition_rcu": Published(
        3_000,
        "RCU/s",
        "DynamoDB reads per partition key value",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html",
    ),
    "ddb_partition_gb": Published(
        10,
        "GB",
        "DynamoDB partition size",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.Partitions.html",
    ),
    "ddb_table_wru": Published(40_000, "WRU/s", "DynamoDB on-demand throughput per table (default quota)", _DDB_QUOTAS),
    "ddb_new_table_wru": Published(
        4_000,
        "WRU/s",
        "a new on-demand table serves this at once, then doubles its previous peak within 30 min",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html",
    ),
    "ddb_write_price": Published(
        0.625,
        "$ per million",
        "DynamoDB on-demand write request units",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "ddb_read_price": Published(
        0.125,
        "$ per million",
        "DynamoDB on-demand read request units",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "ddb_storage_price": Published(
        0.25, "$ per GB-month", "DynamoDB Standard storage", "https://aws.amazon.com/dynamodb/pricing/on-demand/"
    ),
    "ddb_pitr_price": Published(
        0.20, "$ per GB-month", "DynamoDB point-in-time recovery", "https://aws.amazon.com/dynamodb/pricing/on-demand/"
    ),
    "logs_ingest_price": Published(
        0.50, "$ per GB", "CloudWatch Logs ingestion (Standard)", "https://aws.amazon.com/cloudwatch/pricing/"
    ),
    "logs_storage_price": Published(
        0.03, "$ per GB-month", "CloudWatch Logs storage", "https://aws.amazon.com/cloudwatch/pricing/"
    ),
    "xray_trace_price": Published(
        5.00,
        "$ per million",
        "X-Ray traces recorded",
        "https://aws.amazon.com/xray/pricing/",
    ),
    "xray_lambda_reservoir": Published(
        1,
        "trace/s",
        "Lambda's sampling with Tracing: Active: the first request each second (and the rate below), not"
        " configurable for a function",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html",
    ),
    "xray_lambda_rate": Published(
        0.05,
        "of the rest",
        "Lambda's sampling with Tracing: Active: 5% of the requests beyond the first each second",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html",
    ),
    "cloudwatch_metric_price": Published(
        0.30,
        "$ per metric-month",
        "CloudWatch custom metrics (EMF), first 10,000",
        "https://aws.amazon.com/cloudwatch/pricing/",
    ),
    "cloudwatch_alarm_price": Published(
        0.10,
        "$ per alarm metric-month",
        "CloudWatch standard-resolution alarm, per metric it evaluates",
        "https://aws.amazon.com/cloudwatch/pricing/",
    ),
    "cloudwatch_dashboard_price": Published(
        3.00,
        "$ per dashboard-month",
        "CloudWatch dashboard (beyond the first three of an account)",
        "https://aws.amazon.com/cloudwatch/pricing/",
    ),
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
        default_factory=lambda: {
            "GetItem": 4.0,
            "PutItem": 5.0,
            "UpdateItem": 5.0,
            "BatchGetItem": 6.0,
            "BatchWriteItem": 8.0,
            "TransactWriteItems": 12.0,
            "Query": 6.0,
        }
    )
    """DynamoDB round trip per call, in Region (typical single-digit ms; not measured here)."""
    api_overhead_ms: float = 2.0
    """Per API invocation, beyond the handler's CPU and its DynamoDB calls (runtime, log flush)."""
    stream_invoke_overhead_ms: float = 20.0
    """Per stream batch: the poller hands the batch to the function."""
    summary_reads_per_customer_per_day: float = 1.0
    """GET /customers/summary calls (the measured day has none)."""
    charge_item_bytes: float = 400.0
    """A stored charge, with DynamoDB's 100 bytes of per-item overhead."""
    summary_item_bytes: float = 500.0
    projects: int = 1
    """All charges in one project: a project's summaries share one partition key (the worst case)."""

    def describe(self) -> list[str]:
        latencies = ", ".join(f"{op} {ms:g} ms" for op, ms in self.latency_ms.items())
        return [
            f"peak-to-mean ratio {self.peak_to_mean:g}: the busiest {self.peak_hours:g} h runs at "
            f"{self.peak_to_mean:g}x the day's mean rate ({self.peak_to_mean * self.peak_hours / 24:.1%} of the "
            "day's charges); capacity is sized for it, the bill uses the daily totals",
            f"DynamoDB round trips (not measured here): {latencies}",
            f"{self.api_overhead_ms:g} ms per API invocation and {self.stream_invoke_overhead_ms:g} ms per stream "
            "batch beyond the handler's CPU and DynamoDB calls",
            "CPU: the benchmark machine's CPU time, stretched by 1,769 MB / the function's memory (Lambda's share of "
            "a vCPU); a Graviton core assumed as fast as the benchmark's",
            f"{self.summary_reads_per_customer_per_day:g} GET /customers/summary per customer per day (the measured "
            "day has none); no Idempotency-Key (the measured day sends none: with one, a single charge costs 3 WRU)",
            "log bytes: each function's measured line per invocation (docs/benchmarks.md, section 6), Lambda's own"
            " START and REPORT lines only when `SystemLogLevel` is INFO or DEBUG, API Gateway's access log line per"
            " request; CloudWatch Logs storage billed on the bytes ingested (it bills the compressed bytes: less)",
            "X-Ray: Lambda's sampling applied to each function's mean rate (1 trace a second, 5% of the rest), a trace"
            " per sampled invocation; nothing when `Tracing` is PassThrough",
            "CloudWatch: every metric the dashboard charts with its dimensions counts as one custom metric all month"
            " (the by-status series a search finds add $0.30 a month per status, prorated by the hours it is seen),"
            " every alarm of the template, the dashboard",
            f"items of {self.charge_item_bytes:g} bytes per charge and {self.summary_item_bytes:g} per summary "
            "(with DynamoDB's per-item overhead)",
            f"customers grow with the scale (1,000 per 1x), in {self.projects} project(s): a project's summaries "
            "share one partition key (`P#<project>`)",
            "no free tier; cold starts neither billed nor counted in concurrency (a steady load reuses environments);"
            " the API key read (once per container per `ApiKeyCacheTtlSeconds`) left out",
        ]


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class StreamCosts:
    """One stream batch of ``records`` charges over ``customers`` customers, fitted linearly from the benchmarks.

    ``x(records, customers) = per_record * records + per_customer * customers + per_batch``, for the write
    and read units and for each DynamoDB operation.
    """

    write_units: tuple[float, float, float]
    read_units: tuple[float, float, float]
    calls: dict[str, tuple[float, float, float]]

    @staticmethod
    def _at(coefficients: tuple[float, float, float], records: float, customers: float) -> float:
        per_record, per_customer, per_batch = coefficients
        return per_record * records + per_customer * customers + per_batch

    def wru(self, records: float, customers: float) -> float:
        return self._at(self.write_units, records, customers)

    def calls_of(self, records: float, customers: float) -> dict[str, float]:
        return {op: self._at(c, records, customers) for op, c in self.calls.items()}


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
    stream_cpu_ms_per_record: float
    single_wru: float
    bulk_wru_per_charge: float
    single_calls: dict[str, float]
    bulk_calls_per_charge: dict[str, float]
    stream: StreamCosts
    day_stream_check: tuple[float, float] | None
    """(measured, modelled) write units of the benchmark's day on the stream: the fit's check (``None`` when the
    run does not say how many (customer, batch) pairs its day had)."""
    log_bytes: dict[str, float]
    """Bytes each function writes per invocation (a request, or a stream batch), measured."""
    platform_log_bytes: float
    """Bytes of Lambda's own lines per invocation at ``SystemLogLevel`` INFO."""
    access_log_bytes: float
    """Bytes of API Gateway's access log line per request."""

    @property
    def day_bulk_charges(self) -> int:
        return self.day_charges - self.day_single_requests


SPILL_WRITE_UNITS = 3.0  # what a batch that writes a seen item adds: +1 for the summary, 2 for the seen item
_STREAM_BATCH = re.compile(r"stream batch of (\d+) record\(s\) over (\d+) customer\(s\)")
_PAIRS = re.compile(r"(\d+) \(customer, batch\) pairs")


def _solve(rows: list[list[float]], values: list[float]) -> tuple[float, float, float]:
    """Least squares for three unknowns (normal equations, Gaussian elimination); negatives become 0."""
    n = 3
    a = [[sum(r[i] * r[j] for r in rows) for j in range(n)] for i in range(n)]
    b = [sum(r[i] * v for r, v in zip(rows, values, strict=True)) for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            raise ValueError("the stream scenarios do not determine the per-record, per-customer and per-batch costs")
        a[col], a[pivot], b[col], b[pivot] = a[pivot], a[col], b[pivot], b[col]
        for r in range(n):
            if r != col:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
                b[r] -= f * b[col]
    x = [max(0.0, b[i] / a[i][i]) for i in range(n)]
    return (round(x[0], 6), round(x[1], 6), round(x[2], 6))


def load_inputs(path: Path | None = None) -> Inputs:
    """The model's inputs from a benchmark figures file (docs/benchmarks.json by default)."""
    document = figures.read(path or ROOT / "docs" / figures.FIGURES_FILE)
    parts = document["parts"]
    missing = {"warm", "dynamodb", "logs"} - set(parts)
    if missing:
        raise ValueError(f"the figures file has no {', '.join(sorted(missing))} part: run `make bench`")
    warm, dynamodb = parts["warm"]["cases"], parts["dynamodb"]
    scenarios = dynamodb["scenarios"]
    single = warm["single charge"]
    bulk = max((c for name, c in warm.items() if name.startswith("bulk")), key=lambda c: c["charges"])
    stream_case = next(c for name, c in warm.items() if name.startswith("stream batch"))

    batches = [(int(m[1]), int(m[2]), s) for name, s in scenarios.items() if (m := _STREAM_BATCH.fullmatch(name))]
    rows = [[float(r), float(c), 1.0] for r, c, _ in batches]
    operations = sorted({op for _, _, s in batches for op in s["requests"]})
    stream = StreamCosts(
        write_units=_solve(rows, [s["write_units"] for _, _, s in batches]),
        read_units=_solve(rows, [s["read_units"] for _, _, s in batches]),
        calls={op: _solve(rows, [float(s["requests"].get(op, 0)) for _, _, s in batches]) for op in operations},
    )
    day_write = scenarios["day: write path"]
    day_stream = next(s for name, s in scenarios.items() if name.startswith("day: stream"))
    pairs = _PAIRS.search(day_stream.get("note", ""))
    day_batches = math.ceil(day_write["charges"] / int(dynamodb["stream_batch_size"]))
    check = None
    if pairs:
        # A customer whose window passes the ids its summary item holds writes a seen item in a transaction:
        # the summary's write doubled and the seen item's (two units up to 1 KB), which the fit does not see.
        spills = float(day_stream["requests"].get("TransactWriteItems", 0))
        modelled = stream.wru(day_write["charges"], float(pairs[1])) + stream.write_units[2] * (day_batches - 1)
        modelled += spills * SPILL_WRITE_UNITS
        check = (float(day_stream["write_units"]), modelled)
    single_scenario = scenarios["single charge (POST /charges)"]
    bulk_scenario = max((s for name, s in scenarios.items() if name.startswith("bulk of")), key=lambda s: s["charges"])
    singles = int(day_write["requests"].get("PutItem", 0))
    return Inputs(
        runs={part: parts[part]["run"]["machine"] for part in ("warm", "dynamodb")},
        day_charges=int(dynamodb["day_charges"]),
        day_customers=int(dynamodb["day_customers"]),
        day_single_requests=singles,
        day_bulk_requests=int(dynamodb["day_requests"]) - singles,
        single_cpu_ms=float(single["handler_cpu_ms"]),
        bulk_cpu_ms_per_charge=float(bulk["handler_cpu_ms"]) / bulk["charges"],
        stream_cpu_ms_per_record=float(stream_case["handler_cpu_ms"]) / stream_case["charges"],
        single_wru=single_scenario["write_units"] / single_scenario["charges"],
        bulk_wru_per_charge=bulk_scenario["write_units"] / bulk_scenario["charges"],
        single_calls={op: float(n) for op, n in single_scenario["requests"].items()},
        bulk_calls_per_charge={op: n / bulk_scenario["charges"] for op, n in bulk_scenario["requests"].items()},
        stream=stream,
        day_stream_check=check,
        **_log_inputs(parts["logs"]),
    )


def _log_inputs(logs: Mapping[str, Any]) -> dict[str, Any]:
    """Each function's bytes per invocation from its accepted case (a good day), the platform's, the access log's."""
    accepted = [case for case in logs["cases"].values() if str(case["status"]).startswith("2")]
    by_function: dict[str, float] = {}
    for case in accepted:
        by_function.setdefault(case["function"], float(case["bytes"]))
    return {
        "log_bytes": by_function,
        "platform_log_bytes": float(logs["platform_bytes"]),
        "access_log_bytes": float(logs["access_log_bytes"]),
    }


@dataclass(frozen=True)
class Settings:
    """What template.yaml configures, with its parameters' defaults (or the overrides given)."""

    memory_mb: dict[str, int]
    batch_size: int
    batching_window_s: float
    parallelization_factor: int
    maximum_record_age_s: int
    maximum_retry_attempts: int
    throttling_rate: float
    throttling_burst: float
    log_retention_days: int
    iterator_age_alarm_s: float
    parameters: dict[str, str]
    tracing: str = "Active"
    """``Tracing``: Active (Lambda samples and records traces) or PassThrough (none here)."""
    system_log_level: str = "WARN"
    """``SystemLogLevel``: at INFO or DEBUG Lambda writes a START and a REPORT line per invocation."""
    custom_metrics: int = 0
    """Metrics (name and dimensions) the dashboard charts in the functions' namespace."""
    alarm_metrics: int = 0
    """Metrics the template's alarms evaluate (an alarm on a metric expression is billed per metric)."""
    dashboards: int = 0

    @property
    def platform_lines(self) -> bool:
        return self.system_log_level in ("INFO", "DEBUG")


def load_settings(overrides: Mapping[str, str] | None = None) -> Settings:
    """template.yaml's settings as the local stack reads them (``local.sam``), with parameter overrides."""
    document = template()
    params = parameter_values(dict(overrides or {}), document)
    resources = LocalResources("us-east-1", "capacity", params, document.get("Conditions", {}))
    resources.tables = {name: name for name in table_definitions(document)}
    resources.table_stream_arns = {
        name: f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}/stream/model"
        for name, definition in table_definitions(document).items()
        if "StreamSpecification" in definition
    }
    resources.queue_urls = {
        name: f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}"
        for name in resources_of_type("AWS::SQS::Queue", document)
    }
    specs = functions(document)
    [mapping] = [m for m in stream_mappings(specs, resources) if m.function == STREAM_FUNCTION]
    return Settings(
        memory_mb={name: spec.memory_mb for name, spec in specs.items()},
        batch_size=mapping.batch_size,
        batching_window_s=mapping.batching_window_seconds,
        parallelization_factor=mapping.parallelization_factor,
        maximum_record_age_s=mapping.maximum_record_age_seconds,
        maximum_retry_attempts=mapping.maximum_retry_attempts,
        throttling_rate=float(params["ThrottlingRateLimit"]),
        throttling_burst=float(params["ThrottlingBurstLimit"]),
        log_retention_days=int(params["LogRetentionDays"]),
        iterator_age_alarm_s=float(params["IteratorAgeAlarmSeconds"]),
        parameters=params,
        tracing=str(resources.resolve(document["Globals"]["Function"].get("Tracing", "PassThrough"))),
        system_log_level=str(
            resources.resolve(document["Globals"]["Function"].get("LoggingConfig", {}).get("SystemLogLevel", "INFO"))
        ),
        **_cloudwatch_counts(document, params),
    )


def _cloudwatch_counts(document: dict[str, Any], params: Mapping[str, str]) -> dict[str, int]:
    """Custom metrics the dashboard charts in the functions' namespace, metrics the alarms evaluate, dashboards."""
    namespace = document["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    custom: set[tuple[str, ...]] = set()
    for dashboard in resources_of_type("AWS::CloudWatch::Dashboard", document).values():
        body = dashboard["Properties"]["DashboardBody"]
        text = body["Fn::Sub"] if isinstance(body, dict) else str(body)
        text = text if isinstance(text, str) else text[0]
        # ${Resource} -> its logical id (one series per function), a bare ${Parameter} (a number) -> 0
        text = re.sub(r"\$\{([^}.]*)[^}]*\}", r"\1", re.sub(r":\s*\$\{[^}]*\}", ": 0", text))
        for widget in json.loads(text)["widgets"]:
            for metric in widget.get("properties", {}).get("metrics", []):
                names = [part for part in metric if isinstance(part, str)]
                if names[:1] == [namespace]:
                    custom.add(tuple(names[1:]))
    alarms = resources_of_type("AWS::CloudWatch::Alarm", document).values()
    alarm_metrics = sum(len([m for m in a["Properties"].get("Metrics", []) if "MetricStat" in m]) or 1 for a in alarms)
    return {
        "custom_metrics": len(custom),
        "alarm_metrics": alarm_metrics,
        "dashboards": len(resources_of_type("AWS::CloudWatch::Dashboard", document)),
    }


# ---------------------------------------------------------------- the stream side


def distinct_customers(records: float, customers: int, hot_share: float = 0.0) -> float:
    """Expected distinct customers among ``records`` records; one customer takes ``hot_share`` of them."""
    if records <= 0:
        return 0.0
    if hot_share <= 0:
        return customers * (1 - (1 - 1 / customers) ** records)
    others = max(1, customers - 1)
    hot = 1 - (1 - hot_share) ** records
    return hot + others * (1 - (1 - (1 - hot_share) / others) ** records)


@dataclass(frozen=True)
class SlotLoad:
    """One of a shard's concurrent batch slots (``ParallelizationFactor`` per shard) in steady state."""

    rate: float
    """Records per second into this slot."""
    batch: float
    """Records per batch."""
    cycle_s: float
    """Seconds between two batches' starts."""
    handler_s: float
    """Seconds one batch takes."""
    capacity: float
    """Records per second the slot can take with full batches."""
    mean_lag_s: float
    max_lag_s: float
    """The oldest a record gets before its summary is written (behind: once the peak's backlog is drained)."""
    behind: bool
    age_at_peak_end_s: float = 0.0
    """Behind: the iterator age when the busiest hour ends."""
    gives_up: bool = False
    """Behind long enough that records pass ``MaximumRecordAgeInSeconds``: they go to the failure queue."""


BatchTime = Callable[[float], float]


def slot_load(
    rate: float,
    batch_time: BatchTime,
    *,
    batch_size: int,
    window_s: float,
    poll_s: float,
    peak_s: float,
    max_age_s: float = math.inf,
) -> SlotLoad:
    """Batch size, cycle and lag of one slot: a batch starts when the slot is free and either the window since
    the first waiting record has passed or ``batch_size`` records wait.

    Window-bound: the first record opens the window, ``rate * window`` more join it. Fill-bound: a full batch
    every ``batch_size / rate``. Busy: what arrives while a batch runs is the next batch. Behind: full batches
    back to back fall short of the rate: the age grows by ``1 - capacity / rate`` per second of peak, and keeps
    growing after it until the peak's records are done (arrivals after the peak neglected).
    """
    capacity = batch_size / batch_time(batch_size)
    if rate <= 0:
        handler = batch_time(1)
        return SlotLoad(0.0, 0.0, math.inf, handler, capacity, window_s + handler, window_s + poll_s + handler, False)
    if rate >= capacity:
        # Full batches back to back: the record processed at t arrived at t * capacity / rate; after the peak the
        # slot still works through the peak's records, the oldest one's age growing until they are done.
        handler = batch_time(batch_size)
        at_end = (1 - capacity / rate) * peak_s + handler + poll_s
        oldest = (rate / capacity - 1) * peak_s + handler + poll_s
        gives_up = oldest > max_age_s >= 0
        oldest = min(oldest, max_age_s) if max_age_s >= 0 else oldest
        return SlotLoad(rate, batch_size, handler, handler, capacity, oldest / 2, oldest, True, at_end, gives_up)
    batch = 1.0
    cycle = 0.0
    for _ in range(200):
        cycle = max(batch_time(batch), min(1 / rate + window_s, batch_size / rate))
        new_batch = min(float(batch_size), rate * cycle)
        if abs(new_batch - batch) < 1e-9:
            break
        batch = new_batch
    handler = batch_time(batch)
    if handler >= min(1 / rate + window_s, batch_size / rate):  # busy: records wait out the running batch
        mean_wait, max_wait = cycle / 2, cycle
    elif batch_size / rate < 1 / rate + window_s:  # fill-bound
        mean_wait, max_wait = batch_size / rate / 2, batch_size / rate
    else:  # window-bound: the first record waits the whole window, the others half of it on average
        joined = rate * window_s
        mean_wait, max_wait = (window_s + joined * window_s / 2) / (1 + joined), window_s
    return SlotLoad(
        rate, batch, cycle, handler, capacity, poll_s / 2 + mean_wait + handler, poll_s + max_wait + handler, False
    )


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Limit:
    """A limit, the demand on it at peak, and what lifts it."""

    name: str
    demand: float
    limit: float
    unit: str
    lift: str
    kind: str
    """``parameter``, ``quota`` or ``design``: how it is lifted."""

    @property
    def utilization(self) -> float:
        return self.demand / self.limit if self.limit else math.inf


@dataclass(frozen=True)
class Scale:
    """The model's figures for one scale of the realistic day."""

    scale: float
    hot_share: float
    charges_per_day: float
    requests_per_day: float
    peak_requests_per_s: float
    peak_charges_per_s: float
    concurrency: dict[str, float]
    durations_ms: dict[str, float]
    table_wru_per_s: dict[str, float]
    table_rru_per_s: dict[str, float]
    hot_key_wru_per_s: dict[str, float]
    partitions: int
    shards: int
    parallelization_factor: int
    slot: SlotLoad
    hot_slot: SlotLoad | None
    parallelization_needed: int
    monthly_cost: dict[str, float]
    floor_cost: dict[str, float]
    """The floor's bill for the same day (``floor_cost``)."""
    limits: list[Limit]
    log_bytes_per_day: float

    @property
    def lag(self) -> SlotLoad:
        """The slot with the oldest records: the hot customer's when there is one."""
        if self.hot_slot and self.hot_slot.max_lag_s > self.slot.max_lag_s:
            return self.hot_slot
        return self.slot

    @property
    def monthly_total(self) -> float:
        return sum(self.monthly_cost.values())

    @property
    def floor_total(self) -> float:
        return sum(self.floor_cost.values())

    @property
    def charges_per_month(self) -> float:
        return self.charges_per_day * DAYS_PER_MONTH

    @property
    def per_million(self) -> float:
        """The month's bill per million charges."""
        return self.monthly_total / self.charges_per_month * 1e6

    @property
    def floor_per_million(self) -> float:
        return self.floor_total / self.charges_per_month * 1e6

    @property
    def binding(self) -> list[Limit]:
        """The limits the peak exceeds, most exceeded first."""
        return sorted((lim for lim in self.limits if lim.utilization >= 1), key=lambda x: -x.utilization)

    @property
    def tightest(self) -> Limit:
        return max(self.limits, key=lambda x: x.utilization)


def _cpu_stretch(memory_mb: int) -> float:
    return max(1.0, published("lambda_mb_per_vcpu") / memory_mb)


def _calls_ms(calls: Mapping[str, float], assumptions: Assumptions) -> float:
    return sum(n * assumptions.latency_ms.get(op, 10.0) for op, n in calls.items())


def batch_seconds(inputs: Inputs, settings: Settings, assumptions: Assumptions) -> Callable[[float, float], float]:
    """Seconds the summarizer takes for a batch of (records, distinct customers): the poller's hand-over, the
    benchmarks' CPU per record stretched to the function's share of a vCPU, and its DynamoDB calls one after
    the other."""
    stretch = _cpu_stretch(settings.memory_mb[STREAM_FUNCTION])

    def seconds(records: float, customers: float) -> float:
        ms = (
            assumptions.stream_invoke_overhead_ms
            + records * inputs.stream_cpu_ms_per_record * stretch
            + _calls_ms(inputs.stream.calls_of(records, customers), assumptions)
        )
        return ms / 1000

    return seconds


# One scale's figures in the order the page reads them (API, stream, tables, bill, limits); splitting it is
# left to do.
def model_scale(  # noqa: PLR0915
    scale: float,
    inputs: Inputs,
    settings: Settings,
    assumptions: Assumptions | None = None,
    *,
    hot_share: float = 0.0,
) -> Scale:
    """Every figure of one scale: ``scale`` times the realistic day, optionally with one hot customer."""
    a = assumptions or Assumptions()
    peak = a.peak_to_mean / SECONDS_PER_DAY
    charges_day = inputs.day_charges * scale
    singles_day = inputs.day_single_requests * scale
    bulks_day = inputs.day_bulk_requests * scale
    reads_day = inputs.day_customers * scale * a.summary_reads_per_customer_per_day
    customers = max(1, round(inputs.day_customers * scale))
    bulk_mean = inputs.day_bulk_charges / max(1, inputs.day_bulk_requests)

    # API functions: Little's law at peak.
    mem = settings.memory_mb
    durations = {
        "CreateChargeFunction": inputs.single_cpu_ms * _cpu_stretch(mem["CreateChargeFunction"])
        + _calls_ms(inputs.single_calls, a)
        + a.api_overhead_ms,
        "BulkChargesFunction": inputs.bulk_cpu_ms_per_charge * bulk_mean * _cpu_stretch(mem["BulkChargesFunction"])
        + _calls_ms({op: math.ceil(n * bulk_mean) for op, n in inputs.bulk_calls_per_charge.items()}, a)
        + a.api_overhead_ms,
        # The read endpoint's warm CPU is not benchmarked: a single charge's is used.
        "GetSummaryFunction": inputs.single_cpu_ms * _cpu_stretch(mem["GetSummaryFunction"])
        + _calls_ms({"GetItem": 1}, a)
        + a.api_overhead_ms,
    }
    rates = {
        "CreateChargeFunction": singles_day * peak,
        "BulkChargesFunction": bulks_day * peak,
        "GetSummaryFunction": reads_day * peak,
    }

    # Stream: shards from the charges table's partitions (a new table: throughput, not storage).
    peak_charges = charges_day * peak
    stream = inputs.stream
    write_path_wru = (singles_day * inputs.single_wru + (charges_day - singles_day) * inputs.bulk_wru_per_charge) * peak
    charges_wru = write_path_wru + stream.write_units[0] * peak_charges  # per-record stream writes: the charge items
    partitions = max(4, math.ceil(charges_wru / published("ddb_partition_wcu")))
    shards = partitions
    pf = settings.parallelization_factor

    handler = batch_seconds(inputs, settings, a)

    def batch_time(hot: float) -> BatchTime:
        return lambda records: handler(records, distinct_customers(records, customers, hot))

    poll_s = 1 / published("stream_polls_per_second")
    slot_args: dict[str, Any] = {
        "batch_size": settings.batch_size,
        "window_s": settings.batching_window_s,
        "poll_s": poll_s,
        "peak_s": a.peak_hours * 3600,
        "max_age_s": settings.maximum_record_age_s,
    }
    # Records spread over shards x factor slots by partition key; the hot customer's all land in one slot.
    slots = shards * pf

    def stream_at(charges_per_s: float) -> tuple[list[tuple[float, SlotLoad, float]], float, float]:
        """The slots (count, load, hot customer's share of its records), batches/s and (customer, batch) pairs/s."""
        uniform = slot_load(charges_per_s * (1 - hot_share) / slots, batch_time(0.0), **slot_args)
        kinds = [(float(slots), uniform, 0.0)]
        if hot_share > 0:
            rate = charges_per_s * hot_share + uniform.rate
            share = charges_per_s * hot_share / rate
            kinds = [(slots - 1.0, uniform, 0.0), (1.0, slot_load(rate, batch_time(share), **slot_args), share)]
        batches = sum(n * k.rate / k.batch for n, k, _ in kinds if k.batch)
        pairs = sum(n * k.rate / k.batch * distinct_customers(k.batch, customers, h) for n, k, h in kinds if k.batch)
        return kinds, batches, pairs

    # At peak: the capacity figures. At the day's mean rate: the bill (smaller batches, more summary writes).
    kinds, batches_per_s, pairs_per_s = stream_at(peak_charges)
    slot = kinds[0][1]
    hot_slot = kinds[1][1] if hot_share > 0 else None
    mean_kinds, mean_batches, mean_pairs = stream_at(charges_day / SECONDS_PER_DAY)
    pf_needed = max(1, math.ceil(slot.rate * pf / slot.capacity * 1.25))  # 25% headroom over the busiest hour
    rates[STREAM_FUNCTION] = batches_per_s
    durations[STREAM_FUNCTION] = max(k.handler_s for _, k, _ in kinds) * 1000
    concurrency = {name: rates[name] * durations[name] / 1000 for name in durations}
    concurrency[STREAM_FUNCTION] = min(
        float(slots), sum(n * k.handler_s / k.cycle_s for n, k, _ in kinds if math.isfinite(k.cycle_s))
    )

    # DynamoDB per table and on the hottest partition key, at peak. Per-record stream units would be the
    # charge items' (none since the stream stopped marking charges); per-customer ones the summaries'.
    def summaries_units(batches: float, pairs: float, reads: float) -> tuple[float, float]:
        wru = stream.write_units[1] * pairs + stream.write_units[2] * batches
        return wru, stream.read_units[1] * pairs + stream.read_units[2] * batches + reads

    summaries_wru, summaries_rru = summaries_units(batches_per_s, pairs_per_s, reads_day * peak)
    table_wru = {"ChargesTable": charges_wru, "SummariesTable": summaries_wru}
    table_rru = {"ChargesTable": 0.0, "SummariesTable": summaries_rru}
    top_customer = max(hot_share, 1 / customers)
    hot_key = {
        "SummariesTable P#<project>": summaries_wru / a.projects,
        "ChargesTable, busiest customer": top_customer * peak_charges * (inputs.single_wru + stream.write_units[0]),
    }
    day_summaries_wru, day_summaries_rru = summaries_units(
        mean_batches * SECONDS_PER_DAY, mean_pairs * SECONDS_PER_DAY, reads_day
    )
    mean_durations = {
        **durations,
        STREAM_FUNCTION: sum(n * k.rate / k.batch * k.handler_s for n, k, _ in mean_kinds if k.batch)
        / max(mean_batches, 1e-12)
        * 1000,
    }

    day = Day(
        charges=charges_day,
        requests=singles_day + bulks_day + reads_day,
        reads=reads_day,
        invocations={
            "CreateChargeFunction": singles_day,
            "BulkChargesFunction": bulks_day,
            "GetSummaryFunction": reads_day,
            STREAM_FUNCTION: mean_batches * SECONDS_PER_DAY,
        },
        durations_ms=mean_durations,
        summary_writes=mean_pairs * SECONDS_PER_DAY,
        wru=charges_wru / peak + day_summaries_wru,
        rru=day_summaries_rru,
        customers=customers,
    )
    total_concurrency = sum(concurrency.values())
    peak_requests = sum(rates[name] for name in ("CreateChargeFunction", "BulkChargesFunction", "GetSummaryFunction"))
    limits = [
        Limit(
            "API stage throttle (`ThrottlingRateLimit`)",
            peak_requests,
            settings.throttling_rate,
            "requests/s",
            "Raise `ThrottlingRateLimit` (and `ThrottlingBurstLimit`)",
            "parameter",
        ),
        Limit(
            "API Gateway account throttle",
            peak_requests,
            published("apigw_account_rps"),
            "requests/s",
            "Ask for more in Service Quotas (API Gateway throttle rate)",
            "quota",
        ),
        Limit(
            "Lambda concurrency, new account",
            total_concurrency,
            published("lambda_concurrency_new_account"),
            "executions",
            "Ask for the default 1,000 in Service Quotas (Lambda concurrent executions)",
            "quota",
        ),
        Limit(
            "Lambda concurrency, default quota",
            total_concurrency,
            published("lambda_concurrency"),
            "executions",
            "Ask for more in Service Quotas (Lambda concurrent executions)",
            "quota",
        ),
        Limit(
            "DynamoDB new on-demand table",
            charges_wru,
            published("ddb_new_table_wru"),
            "WRU/s",
            "Pre-warm the table (`WarmThroughput`) or ramp the traffic up over days",
            "quota",
        ),
        Limit(
            "DynamoDB table throughput",
            charges_wru,
            published("ddb_table_wru"),
            "WRU/s",
            "Ask for more in Service Quotas (DynamoDB table-level on-demand throughput)",
            "quota",
        ),
        Limit(
            "summaries' partition key `P#<project>`",
            hot_key["SummariesTable P#<project>"],
            published("ddb_partition_wcu"),
            "WCU/s",
            "No parameter or quota: spread a project's summaries over several partition keys (the key design)",
            "design",
        ),
        Limit(
            "busiest customer's charges partition key",
            hot_key["ChargesTable, busiest customer"],
            published("ddb_partition_wcu"),
            "WCU/s",
            "No parameter or quota: the busiest customer's charges spread over several partition keys (key design)",
            "design",
        ),
        Limit(
            "stream: each batch slot (shards x `StreamParallelizationFactor`)",
            slot.rate,
            slot.capacity,
            "records/s",
            f"Set `StreamParallelizationFactor={pf_needed}`"
            if pf_needed <= published("max_parallelization_factor")
            else "`StreamParallelizationFactor` stops at 10: the summarizer must write a batch's customers "
            "concurrently (a batch takes one transaction per customer, one after the other)",
            "parameter" if pf_needed <= published("max_parallelization_factor") else "design",
        ),
    ]
    if hot_slot:
        limits.append(
            Limit(
                "stream: the hot customer's batch slot (a key's records stay in order)",
                hot_slot.rate,
                hot_slot.capacity,
                "records/s",
                "No parameter: one key's records stay in one slot; the summarizer must write the slot's other "
                "customers concurrently, or write less per record",
                "design",
            )
        )
    return Scale(
        scale=scale,
        hot_share=hot_share,
        charges_per_day=charges_day,
        requests_per_day=singles_day + bulks_day + reads_day,
        peak_requests_per_s=peak_requests,
        peak_charges_per_s=peak_charges,
        concurrency=concurrency,
        durations_ms=durations,
        table_wru_per_s=table_wru,
        table_rru_per_s=table_rru,
        hot_key_wru_per_s=hot_key,
        partitions=partitions,
        shards=shards,
        parallelization_factor=pf,
        slot=slot,
        hot_slot=hot_slot,
        parallelization_needed=pf_needed,
        monthly_cost=_monthly_cost(day, inputs, settings, a),
        floor_cost=floor_cost(day, a),
        limits=limits,
        log_bytes_per_day=_log_bytes_day(day, inputs, settings),
    )


@dataclass(frozen=True)
class Day:
    """One day at one scale, as the bill counts it: requests, invocations per function, DynamoDB work."""

    charges: float
    requests: float
    reads: float
    invocations: Mapping[str, float]
    durations_ms: Mapping[str, float]
    summary_writes: float
    """One per (customer, batch) pair at the day's mean rate: the floor of the stream's writes."""
    wru: float
    rru: float
    customers: int


def sampled_traces_per_s(rate: float) -> float:
    """Traces Lambda records per second of a function invoked ``rate`` times a second (Tracing: Active)."""
    reservoir = published("xray_lambda_reservoir")
    return min(reservoir, rate) + published("xray_lambda_rate") * max(0.0, rate - reservoir)


def _log_bytes_day(day: Day, inputs: Inputs, settings: Settings) -> float:
    """Bytes ingested by CloudWatch Logs in a day: each function's lines, the platform's, the access log's."""
    application = sum(n * inputs.log_bytes.get(name, 0.0) for name, n in day.invocations.items())
    platform = sum(day.invocations.values()) * inputs.platform_log_bytes if settings.platform_lines else 0.0
    return application + platform + day.requests * inputs.access_log_bytes


def _monthly_cost(day: Day, inputs: Inputs, settings: Settings, assumptions: Assumptions) -> dict[str, float]:
    month = DAYS_PER_MONTH
    invocations = sum(day.invocations.values()) * month
    gb_seconds = sum(
        n * month * day.durations_ms[name] / 1000 * settings.memory_mb[name] / 1024
        for name, n in day.invocations.items()
    )
    stored_gb = (
        day.charges * month * assumptions.charge_item_bytes + day.customers * assumptions.summary_item_bytes
    ) / 1e9
    log_gb = _log_bytes_day(day, inputs, settings) * month / 1e9
    traces_per_s = (
        sum(sampled_traces_per_s(n / SECONDS_PER_DAY) for n in day.invocations.values())
        if settings.tracing == "Active"
        else 0.0
    )
    return {
        "API Gateway": day.requests * month / 1e6 * published("apigw_price"),
        "Lambda": invocations / 1e6 * published("lambda_request_price")
        + gb_seconds * published("lambda_gb_second_price"),
        "DynamoDB": (day.wru * month / 1e6 * published("ddb_write_price"))
        + (day.rru * month / 1e6 * published("ddb_read_price"))
        + stored_gb * (published("ddb_storage_price") + published("ddb_pitr_price")),
        "CloudWatch Logs": log_gb * published("logs_ingest_price")
        + log_gb * settings.log_retention_days / month * published("logs_storage_price"),
        "CloudWatch metrics, alarms, dashboard": settings.custom_metrics * published("cloudwatch_metric_price")
        + settings.alarm_metrics * published("cloudwatch_alarm_price")
        + settings.dashboards * published("cloudwatch_dashboard_price"),
        "X-Ray": traces_per_s * SECONDS_PER_DAY * month / 1e6 * published("xray_trace_price"),
    }


def floor_cost(day: Day, assumptions: Assumptions) -> dict[str, float]:
    """What any implementation of this API on this stack pays for the same day: API Gateway's and Lambda's
    requests, one write unit per stored charge, one summary write per customer per batch, half a read unit per
    summary read (eventually consistent), storing the charges and summaries (no backups, logs or traces)."""
    month = DAYS_PER_MONTH
    stored_gb = (
        day.charges * month * assumptions.charge_item_bytes + day.customers * assumptions.summary_item_bytes
    ) / 1e9
    return {
        "API Gateway": day.requests * month / 1e6 * published("apigw_price"),
        "Lambda": sum(day.invocations.values()) * month / 1e6 * published("lambda_request_price"),
        "DynamoDB": (day.charges + day.summary_writes) * month / 1e6 * published("ddb_write_price")
        + day.reads * 0.5 * month / 1e6 * published("ddb_read_price")
        + stored_gb * published("ddb_storage_price"),
    }


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
        for row in rows or self.scales:
            if row.binding:
                return row, row.binding[0]
        return None


def run_model(
    inputs: Inputs | None = None,
    settings: Settings | None = None,
    assumptions: Assumptions | None = None,
    scales: tuple[float, ...] = SCALES,
) -> Model:
    """The model at every scale (from docs/benchmarks.json and template.yaml unless given)."""
    inputs = inputs or load_inputs()
    settings = settings or load_settings()
    assumptions = assumptions or Assumptions()
    return Model(
        inputs=inputs,
        settings=settings,
        assumptions=assumptions,
        scales=[model_scale(s, inputs, settings, assumptions) for s in scales],
        hot=[model_scale(s, inputs, settings, assumptions, hot_share=HOT_SHARE) for s in scales],
    )


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
        """(model, simulation) of the figure compared: the age left behind when the slot falls behind, else the
        mean lag."""
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
    seed: int = 1,
    failure_probability: float = 0.0,
) -> LagCheck:
    """Simulate the busiest slot of ``scale`` (the hot customer's, on the hot day) for ``seconds`` of peak
    (the model's busiest hour by default) and put its lag beside the model's for the same peak; with
    ``failure_probability``, that share of batches fails and is retried (the model knows no failures)."""
    rows = model.hot if hot else model.scales
    row = next(r for r in rows if r.scale == scale)
    busiest = row.hot_slot if hot and row.hot_slot else row.slot
    peak_s = seconds if seconds is not None else model.assumptions.peak_hours * 3600
    customers = max(1, round(model.inputs.day_customers * scale))
    hot_in_slot = row.peak_charges_per_s * row.hot_share / busiest.rate if hot and busiest.rate else 0.0
    handler = batch_seconds(model.inputs, model.settings, model.assumptions)
    poll_s = 1 / published("stream_polls_per_second")
    expected = slot_load(
        busiest.rate,
        lambda n: handler(n, distinct_customers(n, customers, hot_in_slot)),
        batch_size=model.settings.batch_size,
        window_s=model.settings.batching_window_s,
        poll_s=poll_s,
        peak_s=peak_s,
        max_age_s=model.settings.maximum_record_age_s,
    )
    result = simulate(
        rate=busiest.rate,
        seconds=peak_s,
        batch_seconds=lambda n, k: handler(n, k),
        batch_size=model.settings.batch_size,
        window_s=model.settings.batching_window_s,
        poll_s=poll_s,
        customers=customers,
        hot_share=hot_in_slot,
        failure_probability=failure_probability,
        maximum_retry_attempts=model.settings.maximum_retry_attempts,
        maximum_record_age_s=model.settings.maximum_record_age_s,
        seed=seed,
    )
    return LagCheck(scale, row.hot_share if hot else 0.0, peak_s, expected, result)
