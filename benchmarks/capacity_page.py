"""``python -m benchmarks.capacity_page`` (``make capacity``): docs/capacity.md and its chart, from the capacity model.

Reads docs/benchmarks.json (``--figures``) and template.yaml (``--parameter-overrides`` as ``sam deploy`` takes
them), runs the model at every scale, checks its lag with the stream simulation and writes the page (``--out``).
Nothing is measured here: ``make bench`` measures, then runs this.
"""

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.capacity_model import (
    HOT_SHARE,
    JOBS_FUNCTION,
    LAG_TOLERANCE,
    PUBLISHED,
    PUBLISHED_ON,
    STREAM_FUNCTION,
    LagCheck,
    Limit,
    Model,
    Scale,
    check_lag,
    load_inputs,
    load_settings,
    model_scale,
    published,
    recompute_seconds,
    run_model,
)
from benchmarks.report import save_chart
from benchmarks.text import met, table
from local.sam import parse_parameter_overrides
from local.template import ROOT

CHECKED_SCALES = (1, 100, 10_000)
FLOOR_SCALE, FLOOR_TARGET = 1_000, 1.3
OPT_INS = {"`Tracing=Active`": {"Tracing": "Active"}, "`SystemLogLevel=INFO`": {"SystemLogLevel": "INFO"}}
RETRIED_SHARE = 0.01
PAGE, CHART = "capacity.md", "capacity.png"
SAMCONFIG_ENVIRONMENT = "largest-scale"
# What AWS documents of a hot partition key with many sort keys, and of a stream's records in a slot.
SPLIT_FOR_HEAT = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/burst-adaptive-capacity.html"
    "#isolate-frequent-access-items"
)
IN_ORDER = "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html"


def _n(value: float) -> str:
    shown = ((100, f"{value:,.0f}"), (10, f"{value:,.1f}"), (0.01, f"{value:,.2f}"), (-math.inf, f"{value:.1g}"))
    return next(text for least, text in shown if value >= least) if value else "0"


def _usd(value: float) -> str:
    return f"${value:,.0f}" if value >= 100 else f"${value:,.2f}"


def _s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:,.0f} ms"
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 60:,.0f} min" if seconds >= 120 else f"{seconds:,.1f} s"


def _x(scale: float) -> str:
    return f"{scale:,.0f}x" if scale >= 1 else f"{scale:.2g}x"


def binding_scale(model: Model, name: str, *, hot: bool = False) -> float | None:
    """The scale (between 0.01x and 10,000,000x) at which the limit called ``name`` reaches its limit."""

    def utilization(scale: float) -> float:
        row = model_scale(scale, model.inputs, model.settings, model.assumptions, hot_share=HOT_SHARE if hot else 0)
        return next((lim.utilization for lim in row.limits if lim.name == name), 0.0)

    low, high = 0.01, 1e7
    if utilization(high) < 1:
        return None
    if utilization(low) >= 1:
        return low
    for _ in range(40):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if utilization(mid) < 1 else (low, mid)
    return high


def binding_scales(model: Model, *, hot: bool = False) -> dict[str, float | None]:
    """Every limit's binding scale (``None``: not below 10,000,000x)."""
    limits = (model.hot if hot else model.scales)[-1].limits
    return {limit.name: binding_scale(model, limit.name, hot=hot) for limit in limits}


def largest_scale_parameters(model: Model) -> dict[str, str]:
    """The template parameters the advice at the largest scale sets (samconfig.toml's example environment)."""
    lifts = [limit.lift for limit in model.scales[-1].limits if limit.kind == "parameter" and limit.utilization >= 0.8]
    assignments = (a.split("=") for lift in lifts for a in lift.split("`")[1::2] if "=" in a)
    parameters = {name: value.replace(",", "") for name, value in assignments}
    if "ThrottlingRateLimit" in parameters:
        parameters["ThrottlingBurstLimit"] = str(2 * int(parameters["ThrottlingRateLimit"]))
    return parameters


# ---------------------------------------------------------------- chart


def chart(model: Model, checks: list[LagCheck], path: Path) -> None:
    """Monthly cost and summary lag against scale."""
    scales = [r.scale for r in model.scales]
    fig, cost = plt.subplots(figsize=(9, 5.6))
    cost.plot(scales, [r.monthly_total for r in model.scales], "o-", color="#4477aa", label="monthly cost")
    cost.plot(scales, [r.floor_total for r in model.scales], ":", color="#4477aa", label="its floor")
    cost.set(xscale="log", yscale="log", ylabel="US$ a month (us-east-1)")
    cost.set(xlabel="scale of the realistic day (10,000 charges a day at 1x)")
    cost.set_xticks(scales, [_x(s) for s in scales])
    lag = cost.twinx()
    lag.set(yscale="log", ylabel="seconds from a charge to its summary (log)")
    lag.plot(scales, [r.lag.max_lag_s for r in model.scales], "s--", color="#cc3311", label="oldest summary lag")
    lag.plot(
        scales, [r.lag.max_lag_s for r in model.hot], "^:", color="#ee7733", label=f"same, one customer {HOT_SHARE:.0%}"
    )
    advised = [_with_factor(model, r, min(10, r.stream.parallelization_needed)).lag.max_lag_s for r in model.scales]
    lag.plot(scales, advised, "d-.", color="#228833", label="lag with the advised StreamParallelizationFactor")
    simulated = [c for c in checks if c.hot_share == 0]
    lag.plot([c.scale for c in simulated], [c.sim.max_lag_s for c in simulated], "x", color="black", label="simulation")
    oldest = model.settings.maximum_record_age_s
    lag.axhline(oldest, color="#999999", linestyle=":", linewidth=1)
    lag.text(scales[0], oldest * 1.15, "MaximumRecordAgeInSeconds", fontsize=7)
    (lines, labels), (more, more_labels) = cost.get_legend_handles_labels(), lag.get_legend_handles_labels()
    cost.legend(lines + more, labels + more_labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8)
    cost.set_title("Cost and summary lag against scale (template defaults)")
    save_chart(fig, path)


def _with_factor(model: Model, row: Scale, factor: int) -> Scale:
    settings = replace(model.settings, parallelization_factor=factor)
    return model_scale(row.scale, model.inputs, settings, model.assumptions, hot_share=row.hot_share)


# ---------------------------------------------------------------- markdown


def _by_scale(rows: list[Scale], figures: list[tuple[str, Callable[[Scale], str]]]) -> list[str]:
    """A table with a column per scale and a row per figure."""
    cells = [[label, *[cell(r) for r in rows]] for label, cell in figures]
    return table(["", *[_x(r.scale) for r in rows]], "l" + "r" * len(rows), cells)


def _lag(r: Scale) -> str:
    behind = " **behind; older records go to the failure queue**" if r.lag.gives_up else " **behind**"
    return _s(r.lag.max_lag_s) + (behind if r.lag.behind else "")


def _exceeded(r: Scale) -> str:
    return "; ".join(f"{x.name} ({x.utilization:.1f}x)" for x in r.binding) or "none"


def _scale_table(rows: list[Scale]) -> list[str]:
    first = rows[0]
    return _by_scale(
        rows,
        [
            ("charges a day", lambda r: _n(r.day.charges)),
            ("API requests/s at peak", lambda r: _n(r.peak_requests_per_s)),
            ("charges/s at peak", lambda r: _n(r.peak_charges_per_s)),
            *[(f"concurrency: {f.removesuffix('Function')}", _get("concurrency", f)) for f in first.concurrency],
            *[(f"{table} WRU/s", _get("table_wru_per_s", table)) for table in first.table_wru_per_s],
            ("SummariesTable RRU/s", _get("table_rru_per_s", "SummariesTable")),
            *[(f"hottest key: {key}, WCU/s", _get("hot_keys", key)) for key in first.hot_keys],
            ("stream shards (table partitions)", lambda r: str(r.stream.shards)),
            ("records/s per batch slot (of capacity)", lambda r: f"{_n(r.lag.rate)} ({_n(r.lag.capacity)})"),
            ("records per batch", lambda r: _n(r.lag.batch)),
            ("batch duration", lambda r: _s(r.lag.handler_s)),
            ("summary lag, mean", lambda r: _s(r.lag.mean_lag_s)),
            ("summary lag, oldest", _lag),
            ("`StreamParallelizationFactor` needed", lambda r: str(r.stream.parallelization_needed)),
            *[(f"{service} a month", _get("monthly_cost", service, _usd)) for service in first.monthly_cost],
            ("**total a month**", lambda r: f"**{_usd(r.monthly_total)}**"),
            ("per million charges", lambda r: _usd(r.per_million)),
            ("**floor** per million charges", lambda r: _usd(r.floor_per_million)),
            ("x floor", lambda r: f"{r.per_million / r.floor_per_million:.2f}x"),
            ("limits exceeded at peak", _exceeded),
        ],
    )


def _get(field: str, key: str, show: Callable[[float], str] = _n) -> Callable[[Scale], str]:
    return lambda row: show(getattr(row, field)[key])


def _limits_table(rows: list[Scale], at: dict[str, float | None]) -> list[str]:
    header = ["limit", "value", "binds at", *[_x(r.scale) for r in rows], "lifted by (the value at the largest scale)"]
    lines = []
    for name in sorted(at, key=lambda n: at[n] or math.inf):
        found: list[Limit] = [next(x for x in r.limits if x.name == name) for r in rows]
        values = sorted({round(x.limit, 1) for x in found})
        value = _n(values[0]) if len(values) == 1 else f"{_n(values[0])} to {_n(values[-1])}"
        cells = [f"**{x.utilization:.2f}**" if x.utilization >= 1 else f"{x.utilization:.2g}" for x in found]
        scale, last = at[name], found[-1]
        lines.append(
            [name, f"{value} {last.unit}", _x(scale) if scale else "never", *cells, f"{last.lift} ({last.kind})"]
        )
    return table(header, "lrr" + "r" * len(rows) + "l", lines)


def _advice(model: Model) -> list[str]:
    lines, said = [], set()
    for row, hot_row in zip(model.scales, model.hot, strict=True):
        names = {b.name for b in row.binding}
        steps = []
        for limit in [*row.binding, *[x for x in hot_row.binding if x.name not in names]]:
            hot = "" if limit.name in names else f" (with one customer at {HOT_SHARE:.0%})"
            if not (limit.name in said and limit.kind == "design"):
                steps.append(
                    f"  - {limit.name}{hot}: {_n(limit.demand)} against {_n(limit.limit)} {limit.unit}. {limit.lift}."
                )
            said.add(limit.name)
        close = [x for x in row.limits if 0.5 <= x.utilization < 1]
        steps += [f"  - close: {x.name} at {x.utilization:.0%} of {_n(x.limit)} {x.unit}." for x in close]
        tightest = max(row.limits, key=lambda x: x.utilization)
        quiet = f"nothing to change; the tightest limit, {tightest.name}, is at {tightest.utilization:.0%}."
        lines += [f"- **{_x(row.scale)}**:", *steps] if steps else [f"- **{_x(row.scale)}**: {quiet}"]
    return lines


def _checks_table(checks: list[LagCheck]) -> list[str]:
    header = ["scale", "day", "slot rate", "compared", "model", "simulation", "difference"]
    header += [f"within {LAG_TOLERANCE:.0%}", "simulated p99 / oldest", "records given up"]

    def row(c: LagCheck) -> list[str]:
        day = f"one customer {c.hot_share:.0%}" if c.hot_share else "realistic"
        model, sim, agrees = _s(c.figures[0]), _s(c.figures[1]), "yes" if c.agrees else "**no**"
        lags, rate = f"{_s(c.sim.p99_lag_s)} / {_s(c.sim.max_lag_s)}", f"{_n(c.model.rate)}/s"
        return [_x(c.scale), day, rate, c.what, model, sim, f"{c.error:.1%}", agrees, lags, f"{c.sim.given_up:,}"]

    return table(header, "rlrlrrrlrr", [row(c) for c in checks])


def _binds_first(model: Model, at: dict[str, float | None], at_hot: dict[str, float | None]) -> list[str]:
    largest = model.scales[-1]
    kinds = {x.name: x.kind for x in largest.limits}
    ordered = sorted(at, key=lambda n: at[n] or math.inf)
    design = [name for name in ordered if kinds[name] == "design"]
    first_design = min((at[name] or math.inf for name in design), default=math.inf)
    design_at = f"beyond {_x(largest.scale)}" if first_design > largest.scale else f"at {_x(first_design)}"
    scale_of = {name: _x(at[name]) if at[name] else "never" for name in ordered}  # type: ignore[arg-type]
    lines = [
        "The limits that bind on the realistic day, in order: "
        + ", ".join(f"{name} ({scale_of[name]}, {kinds[name]})" for name in ordered if at[name])
        + f". Up to {_x(largest.scale)} all are quotas or parameters (*What to change at each step*); those only a "
        f"design change lifts bind {design_at}: {', '.join(f'{name} ({scale_of[name]})' for name in design)}."
    ]
    if first := model.first_binding():
        row, limit = first
        lines.append(f"The first is **{limit.name}**, at {_x(at[limit.name] or row.scale)}: {limit.lift}.")
    if hot_first := model.first_binding(model.hot):
        row, limit = hot_first
        lines.append(f"With one customer at {HOT_SHARE:.0%}: **{limit.name}** ({_x(at_hot[limit.name] or row.scale)}).")

    return [" ".join(lines), ""]


def _hot_customer(model: Model, at_hot: dict[str, float | None]) -> list[str]:
    """How far one customer goes: its charges' partition key and its batch slot."""
    row = model.hot[-1]
    keys = [x for x in row.limits if x.name.startswith(("the busiest customer's charges", "stream: the hot"))]
    first = min(keys, key=lambda x: at_hot[x.name] or math.inf)
    scale = at_hot[first.name] or math.inf
    per_second = scale * model.inputs.day_charges * model.assumptions.peak_to_mean / 86_400 * HOT_SHARE
    return [
        "### How far one customer goes",
        "",
        f"One customer's charges share a partition key, its records a batch slot. First to bind: **{first.name}**, at "
        f"{_x(scale)}: about {per_second:,.0f} charges a second from that customer at the busiest hour "
        f"({_n(first.limit)} {first.unit} for {', '.join(x.name for x in keys)} at {_x(row.scale)}). Past it its "
        "summary lags (up to `MaximumRecordAgeInSeconds`) or its writes are throttled and retried; others are not.",
        "",
        "Lifting it: more stream function memory (a vCPU at 1,769 MB; 512 MB now), then less CPU a record; past 1,000 "
        "write units a second, a design change: its charges under several partition keys (a suffix, a Query each). "
        f"DynamoDB may [split for heat]({SPLIT_FOR_HEAT}) a busy item collection by sort key when traffic does not "
        "follow the sort key and there is no local secondary index, as in ChargesTable (random charge ids), but AWS "
        "publishes neither when nor how far, and a partition still takes 1,000 write units a second at most: the model "
        f"counts none of it. Lambda documents [in-order processing per item]({IN_ORDER}) across a shard's concurrent "
        "batches, so a customer's records may spread over its slots; the model keeps them in one, the worse case.",
        "",
    ]


def _jobs(model: Model) -> list[str]:
    inputs, settings, million = model.inputs, model.settings, 1_000_000
    pages, cpu = math.ceil(million / inputs.recompute_charges_per_page), inputs.recompute_cpu_s_per_charge * million
    jobs_s = recompute_seconds(cpu, pages, settings.memory_mb[JOBS_FUNCTION], model.assumptions)
    stream_s = recompute_seconds(cpu, pages, settings.memory_mb[STREAM_FUNCTION], model.assumptions)
    at_once = published("sqs_mapping_concurrency")
    return [
        "## The recompute and the jobs function",
        "",
        "The realistic day's recomputes are new customers' (tens of charges, one Query page), in the stream function. "
        f"One of {million:,} charges would take {_s(stream_s)}, past its {settings.timeout_s[STREAM_FUNCTION] - 10} s, "
        f"so `{JOBS_FUNCTION}` ({settings.memory_mb[JOBS_FUNCTION]:,} MB, {settings.timeout_s[JOBS_FUNCTION]:,} s) "
        f"runs it in about {_s(jobs_s)} (docs/benchmarks.md, section 4), up to {at_once:,.0f} at once (adding up to "
        f"300 a minute, within the account's Lambda concurrency): about {at_once / jobs_s:,.1f} a second. The queue "
        "holds the rest; a job failed three times goes to its dead-letter queue.",
        "",
    ]


def _floor_section(model: Model, opt_ins: dict[str, Model]) -> list[str]:
    rows = model.scales
    at = next((r for r in rows if r.scale == FLOOR_SCALE), rows[-1])
    ratio = at.per_million / at.floor_per_million
    above = sorted(
        ((name, cost - at.floor_cost.get(name, 0.0)) for name, cost in at.monthly_cost.items()), key=lambda p: -p[1]
    )
    figures = (("", "monthly_total"), (", per million charges", "per_million"))
    extra = [(label + suffix, _more(other, figure)) for label, other in opt_ins.items() for suffix, figure in figures]
    return [
        "## The bill against its floor",
        "",
        "The floor, what any implementation on this stack pays for the day: API Gateway's and Lambda's requests, a "
        "write unit per stored charge, a summary write per customer per batch (mean rate, the template's batching), a "
        "registry entry per new customer, half a read unit per summary read, storage; no logs, traces, metrics, "
        "backups or compute beyond the requests.",
        "",
        f"**Goal at {_x(FLOOR_SCALE)}: ≤ {FLOOR_TARGET}x the floor:** {met(ratio <= FLOOR_TARGET)}: "
        f"{_usd(at.per_million)} against {_usd(at.floor_per_million)} per million charges ({ratio:.2f}x). Above the "
        f"floor, a month at {_x(at.scale)}: "
        + "; ".join(f"{name} {_usd(cost)}" for name, cost in above if cost > 0.005)
        + " (DynamoDB: the stream's consistent summary reads, new customers' recomputes, point-in-time recovery, "
        "writes above the floor; Lambda: duration).",
        "",
        "What the observability parameters add a month at each scale:",
        "",
        *_by_scale(rows, extra),
        "`Tracing=Active`: Lambda traces 1 invocation a second and 5% of the rest, per function; `TracingSubsegments="
        "true` adds subsegments (handler, route, DynamoDB calls) at no extra X-Ray cost, for a longer cold start "
        "(docs/benchmarks.md). `SystemLogLevel=INFO`: Lambda's START and REPORT lines, every invocation.",
        "",
    ]


def _more(other: Model, figure: str) -> Callable[[Scale], str]:
    """What ``other`` adds to a scale's ``figure``."""
    by_scale = {row.scale: row for row in other.scales}
    return lambda row: f"+{_usd(getattr(by_scale[row.scale], figure) - getattr(row, figure))}"


def _inputs_section(model: Model) -> list[str]:
    i, t = model.inputs, model.settings
    (measured, modelled), wru, rru = i.day_stream_check, i.stream_wru, i.stream_rru
    logs = ", ".join(f"{name.removesuffix('Function')} {n:,.0f}" for name, n in i.log_bytes.items())
    memory = ", ".join(f"{name.removesuffix('Function')} {mb:,} MB" for name, mb in t.memory_mb.items())
    batch = f"at {i.slot_latency_s * 1000:g} ms a call ({i.slot_records} records, {i.slot_workers} at once)"
    cpu = f"{i.single_cpu_ms * 1000:,.0f} µs / {i.bulk_cpu_ms_per_charge * 1000:,.1f} µs"
    slot = f"{i.slot_cpu_ms_per_record * 1000:,.0f} µs; {_s(i.slot_wait_s)}"
    recompute = f"{i.recompute_cpu_s_per_charge * 1e5:,.2f} s; {i.recompute_charges_per_page:,.0f}"
    log_bytes = f"platform {i.platform_log_bytes:,.0f} (at INFO), access log {i.access_log_bytes:,.0f}"
    new, check = f"{i.new_customer_wru:g}; {i.new_customer_rru:g}", f"{measured:,.0f} / {modelled:,.0f}"
    counts = f"{t.custom_metrics} / {t.alarm_metrics} / {t.dashboards}"
    measured_rows = {
        "CPU of a single charge (warm handler) / per charge of the largest bulk": cpu,
        f"the concurrent stream batch: CPU per record; waiting beyond CPU {batch}": slot,
        "a recompute's CPU per 100,000 charges; charges per Query page": recompute,
        f"log bytes per invocation: {logs} (a stream invocation is a batch)": log_bytes,
        "write units of a single charge / per charge of a bulk": f"{i.single_wru:g} / {i.bulk_wru_per_charge:g}",
        "stream write units, customers with a summary: per record, per customer in a batch, per batch": _fit(wru),
        "stream read units, likewise": _fit(rru),
        "a new customer's, beyond those: write units (its registry entry); read units (its recompute)": new,
        "check of that fit: the benchmark day's stream write units, measured / modelled": check,
    }
    template_rows = {
        "MemorySize": memory,
        "BatchSize / MaximumBatchingWindowInSeconds": f"{t.batch_size} / {t.batching_window_s:g}",
        "ParallelizationFactor (`StreamParallelizationFactor`)": t.parallelization_factor,
        "MaximumRecordAgeInSeconds / MaximumRetryAttempts": f"{t.maximum_record_age_s:,} / {t.maximum_retry_attempts}",
        "ThrottlingRateLimit / ThrottlingBurstLimit": f"{t.throttling_rate:g} / {t.throttling_burst:g}",
        "LogRetentionDays; Tracing / SystemLogLevel": f"{t.log_retention_days}; {t.tracing} / {t.system_log_level}",
        "dashboard metrics (custom) / alarm metrics / dashboards": counts,
    }
    return [
        "## Inputs",
        "",
        *table(["measured (docs/benchmarks.json)", "value"], "lr", [list(pair) for pair in measured_rows.items()]),
        *table(["template.yaml (through `local.sam`)", "value"], "lr", [list(pair) for pair in template_rows.items()]),
        "Assumed (neither measured nor published):",
        "",
        *[f"- {line}" for line in model.assumptions.describe()],
        "",
    ]


def _fit(fit: tuple[float, ...]) -> str:
    return ", ".join(f"{x:g}" for x in fit)


def markdown(
    model: Model,
    checks: list[LagCheck],
    retried: LagCheck,
    overrides: dict[str, str],
    opt_ins: dict[str, Model] | None = None,
) -> str:
    """The whole page."""
    inputs, settings, largest = model.inputs, model.settings, model.scales[-1]
    at, at_hot = binding_scales(model), binding_scales(model, hot=True)
    params = ", ".join(f"`{k}={v}`" for k, v in overrides.items()) or "their defaults"
    parameters = " ".join(f"{name}={value}" for name, value in largest_scale_parameters(model).items())
    sim = retried.sim
    lines = [
        "# Capacity",
        "",
        "Generated by `make capacity` (`python -m benchmarks.capacity_page`, also run by `make bench`); do not edit by "
        "hand. A model, not a load test: every figure follows from its inputs, docs/benchmarks.json (the run on "
        + "; ".join(sorted(set(inputs.runs.values())))
        + f"), template.yaml with its parameters at {params}, AWS's quotas and prices as published on {PUBLISHED_ON} "
        "([below](#sources)) and the assumptions listed below.",
        "",
        "## What binds first",
        "",
        *_binds_first(model, at, at_hot),
        "![cost and lag against scale](capacity.png)",
        "",
        *_floor_section(model, opt_ins or {}),
        "## What to change at each step",
        "",
        *_advice(model),
        "",
        f"The parameters for {_x(largest.scale)}: `sam deploy --config-env {SAMCONFIG_ENVIRONMENT}` (samconfig.toml: "
        f"`{parameters}`); the quotas are asked for in Service Quotas.",
        "",
        "## The realistic day at each scale",
        "",
        f"The day of docs/benchmarks.md times the scale: {inputs.day_charges:,} charges over {inputs.day_customers:,} "
        f"new customers, {inputs.day_single_requests:,} one per request, {inputs.day_bulk_charges:,} in "
        f"{inputs.day_bulk_requests:,} bulk requests. Peak: the busiest hour, **{model.assumptions.peak_to_mean:g}x "
        "the day's mean rate**; the bill: the daily totals, 30 days a month.",
        "",
        *_scale_table(model.scales),
        f"## A day with one customer taking {HOT_SHARE:.0%} of the charges",
        "",
        "The stream rows are that customer's slot's.",
        "",
        *_scale_table(model.hot),
        *_hot_customer(model, at_hot),
        "## Every limit, at peak",
        "",
        "Demand over limit at each scale (bold: exceeded).",
        "",
        *_limits_table(model.scales, at),
        f"With one customer at {HOT_SHARE:.0%}:",
        "",
        *_limits_table(model.hot, at_hot),
        *_jobs(model),
        "## The stream, simulated",
        "",
        "`benchmarks/stream_sim.py` simulates the busiest slot record by record (Poisson arrivals, 4 polls a second, "
        "the template's window and batch size, batches one at a time with their distinct customers, retries with "
        f"bisection, the maximum record age) to check the model's lag within {LAG_TOLERANCE:.0%} at "
        f"{', '.join(_x(s) for s in CHECKED_SCALES)}: the mean lag below capacity, above it the age at the peak's end.",
        "",
        *_checks_table(checks),
        f"With {RETRIED_SHARE:.0%} of batches failing at {_x(retried.scale)} (bisected, retried up to "
        f"`MaximumRetryAttempts`={settings.maximum_retry_attempts}), the simulated mean lag is {_s(sim.mean_lag_s)} "
        f"(p99 {_s(sim.p99_lag_s)}, oldest {_s(sim.max_lag_s)}; {sim.failed_batches:,} of {sim.batches:,} batches "
        f"failed, {sim.given_up:,} records given up): a retry costs a batch's duration, not a window. Below capacity "
        "the lag is the window plus a batch; near it (over about 90% busy) the model understates it; above it the "
        "age grows by (1 - capacity / rate) a second of peak.",
        "",
        *_inputs_section(model),
        "## Sources",
        "",
        f"Quotas and prices as published on {PUBLISHED_ON} (us-east-1; check them before relying on them):",
        "",
        *table(
            ["value", "what", "source"],
            "rll",
            [[f"{p.value:,.10g} {p.unit}", p.what, f"<{p.source}>"] for p in PUBLISHED.values()],
        ),
    ]
    return "\n".join(lines).rstrip() + "\n"


def write(out_dir: Path, figures_path: Path | None = None, overrides: dict[str, str] | None = None) -> Path:
    """Run the model and the simulation; write capacity.md and capacity.png into ``out_dir``."""
    overrides = overrides or {}
    inputs = load_inputs(figures_path)
    model = run_model(inputs, load_settings(overrides))
    opt_ins = {
        label: run_model(inputs, load_settings({**overrides, **extra}))
        for label, extra in OPT_INS.items()
        if any(model.settings.parameters.get(name) != value for name, value in extra.items())
    }
    checks = [check_lag(model, scale) for scale in CHECKED_SCALES] + [check_lag(model, CHECKED_SCALES[-1], hot=True)]
    retried = check_lag(model, 100, failure_probability=RETRIED_SHARE)
    out_dir.mkdir(parents=True, exist_ok=True)
    chart(model, checks, out_dir / CHART)
    page = out_dir / PAGE
    page.write_text(markdown(model, checks, retried, overrides, opt_ins), encoding="utf-8")
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity_page", description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "benchmarks.json", help="benchmark figures")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where capacity.md and its chart go")
    parser.add_argument("--parameter-overrides", default="", help="as sam deploy takes them, e.g. Tracing=Active")

    args = parser.parse_args(argv)
    page = write(args.out, args.figures, parse_parameter_overrides(args.parameter_overrides))
    print(f"capacity: wrote {page}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
