"""``python -m benchmarks.capacity_page`` (``make capacity``): docs/capacity.md and its chart, from the capacity model.

Reads docs/benchmarks.json (``--figures``) and template.yaml (``--parameter-overrides`` as
``sam deploy`` takes them), runs the model at every scale, checks its lag with the stream simulation and
writes the page (``--out``). Nothing is measured here: ``make bench`` measures, then runs this.
"""

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.capacity_model import (
    HOT_SHARE,
    LAG_TOLERANCE,
    PUBLISHED,
    PUBLISHED_ON,
    LagCheck,
    Limit,
    Model,
    Scale,
    SlotLoad,
    check_lag,
    load_inputs,
    load_settings,
    model_scale,
    run_model,
)
from local.sam import parse_parameter_overrides
from local.template import ROOT

CHECKED_SCALES = (1, 100, 10_000)
FLOOR_SCALE = 1_000
FLOOR_TARGET = 1.3
# The opt-ins the template offers, priced beside the defaults.
OPT_INS = {
    "`Tracing=Active`": {"Tracing": "Active"},
    "`SystemLogLevel=INFO`": {"SystemLogLevel": "INFO"},
}
RETRIED_SHARE = 0.01
PAGE = "capacity.md"
CHART = "capacity.png"
API_FUNCTIONS = ("CreateChargeFunction", "BulkChargesFunction", "GetSummaryFunction")
STREAM = "SummarizeChargesFunction"
STREAM_SLOT = "stream: each batch slot (shards x `StreamParallelizationFactor`)"


def _n(value: float) -> str:
    if value == 0:
        return "0"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    if value >= 0.01:
        return f"{value:,.2f}"
    return f"{value:.1g}"


def _usd(value: float) -> str:
    return f"${value:,.0f}" if value >= 100 else f"${value:,.2f}"


def _s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:,.0f} ms"
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds:,.1f} s"


def _x(scale: float) -> str:
    return f"{scale:,.0f}x" if scale >= 1 else f"{scale:.2g}x"


def binding_scale(model: Model, name: str, *, hot: bool = False) -> float | None:
    """The scale (between 0.01x and 1,000,000x) at which the limit called ``name`` reaches its limit."""

    def utilization(scale: float) -> float:
        row = model_scale(scale, model.inputs, model.settings, model.assumptions, hot_share=HOT_SHARE if hot else 0)
        return next((lim.utilization for lim in row.limits if lim.name == name), 0.0)

    low, high = 0.01, 1e6
    if utilization(high) < 1:
        return None
    if utilization(low) >= 1:
        return low
    for _ in range(40):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if utilization(mid) < 1 else (low, mid)
    return high


def binding_scales(model: Model, *, hot: bool = False) -> dict[str, float | None]:
    """Every limit's binding scale (``None``: not below 1,000,000x)."""
    rows = model.hot if hot else model.scales
    return {limit.name: binding_scale(model, limit.name, hot=hot) for limit in rows[-1].limits}


def _with_factor(model: Model, row: Scale, factor: int) -> Scale:
    settings = replace(model.settings, parallelization_factor=factor)
    return model_scale(row.scale, model.inputs, settings, model.assumptions, hot_share=row.hot_share)


# ---------------------------------------------------------------- chart


def chart(model: Model, checks: list[LagCheck], path: Path) -> None:
    """Monthly cost and summary lag against scale."""
    scales = [r.scale for r in model.scales]
    fig, cost_ax = plt.subplots(figsize=(9, 5.6))
    cost_ax.plot(scales, [r.monthly_total for r in model.scales], "o-", color="#4477aa", label="monthly cost")
    cost_ax.plot(scales, [r.floor_total for r in model.scales], ":", color="#4477aa", label="its floor")
    cost_ax.set_xscale("log")
    cost_ax.set_yscale("log")
    cost_ax.set_xticks(scales, [_x(s) for s in scales])
    cost_ax.set_xlabel("scale of the realistic day (10,000 charges a day at 1x)")
    cost_ax.set_ylabel("US$ a month (us-east-1)")
    lag_ax = cost_ax.twinx()
    lag_ax.set_yscale("log")
    lag_ax.plot(scales, [r.lag.max_lag_s for r in model.scales], "s--", color="#cc3311", label="oldest summary lag")
    lag_ax.plot(
        scales, [r.lag.max_lag_s for r in model.hot], "^:", color="#ee7733", label=f"same, one customer {HOT_SHARE:.0%}"
    )
    advised = [_with_factor(model, r, min(10, r.parallelization_needed)).lag.max_lag_s for r in model.scales]
    lag_ax.plot(scales, advised, "d-.", color="#228833", label="lag with the advised StreamParallelizationFactor")
    simulated = [c for c in checks if c.hot_share == 0]
    lag_ax.plot(
        [c.scale for c in simulated],
        [c.sim.max_lag_s for c in simulated],
        "x",
        color="black",
        markersize=9,
        label="simulation",
    )
    lag_ax.axhline(model.settings.maximum_record_age_s, color="#999999", linestyle=":", linewidth=1)
    lag_ax.text(scales[0], model.settings.maximum_record_age_s * 1.15, "MaximumRecordAgeInSeconds", fontsize=7)
    lag_ax.set_ylabel("seconds from a charge to its summary (log)")
    lines, labels = cost_ax.get_legend_handles_labels()
    more, more_labels = lag_ax.get_legend_handles_labels()
    cost_ax.legend(
        lines + more, labels + more_labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8
    )
    cost_ax.set_title("Cost and summary lag against scale (template defaults)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- markdown


def _behind(slot: SlotLoad, alarm_s: float) -> str:
    if slot.gives_up:
        return " **behind; older records go to the failure queue**"
    if slot.behind:
        return " **behind; the iterator-age alarm fires**" if slot.max_lag_s > alarm_s else " **behind**"
    return ""


def _scale_tables(rows: list[Scale], alarm_s: float) -> list[str]:
    head = "| | " + " | ".join(_x(r.scale) for r in rows) + " |"
    rule = "| --- |" + " ---: |" * len(rows)

    def line(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    return [
        head,
        rule,
        line("charges a day", [_n(r.charges_per_day) for r in rows]),
        line("API requests/s at peak", [_n(r.peak_requests_per_s) for r in rows]),
        line("charges/s at peak", [_n(r.peak_charges_per_s) for r in rows]),
        *[
            line(f"concurrency: {name.removesuffix('Function')}", [_n(r.concurrency[name]) for r in rows])
            for name in (*API_FUNCTIONS, STREAM)
        ],
        line("ChargesTable WRU/s", [_n(r.table_wru_per_s["ChargesTable"]) for r in rows]),
        line("SummariesTable WRU/s", [_n(r.table_wru_per_s["SummariesTable"]) for r in rows]),
        line("SummariesTable RRU/s", [_n(r.table_rru_per_s["SummariesTable"]) for r in rows]),
        line(
            "hottest key: `P#<project>` (summaries) WCU/s",
            [_n(r.hot_key_wru_per_s["SummariesTable P#<project>"]) for r in rows],
        ),
        line(
            "hottest key: busiest customer's charges WCU/s",
            [_n(r.hot_key_wru_per_s["ChargesTable, busiest customer"]) for r in rows],
        ),
        line("stream shards (table partitions)", [str(r.shards) for r in rows]),
        line("records/s per batch slot (of capacity)", [f"{_n(r.lag.rate)} ({_n(r.lag.capacity)})" for r in rows]),
        line("records per batch", [_n(r.lag.batch) for r in rows]),
        line("batch duration", [_s(r.lag.handler_s) for r in rows]),
        line("summary lag, mean", [_s(r.lag.mean_lag_s) for r in rows]),
        line("summary lag, oldest", [_s(r.lag.max_lag_s) + _behind(r.lag, alarm_s) for r in rows]),
        line("`StreamParallelizationFactor` needed", [str(r.parallelization_needed) for r in rows]),
        *[
            line(f"{service} a month", [_usd(r.monthly_cost[service]) for r in rows])
            for service in rows[0].monthly_cost
        ],
        line("**total a month**", [f"**{_usd(r.monthly_total)}**" for r in rows]),
        line("per million charges", [_usd(r.per_million) for r in rows]),
        line("**floor** per million charges", [_usd(r.floor_per_million) for r in rows]),
        line("x floor", [f"{r.per_million / r.floor_per_million:.2f}x" for r in rows]),
        line(
            "limits exceeded at peak",
            ["; ".join(f"{lim.name} ({lim.utilization:.1f}x)" for lim in r.binding) or "none" for r in rows],
        ),
    ]


def _limits_table(rows: list[Scale], at: dict[str, float | None]) -> list[str]:
    lines = [
        "| limit | value | binds at | " + " | ".join(_x(r.scale) for r in rows) + " | lifted by |",
        "| --- | ---: | ---: |" + " ---: |" * len(rows) + " --- |",
    ]
    for name in sorted(at, key=lambda n: at[n] or math.inf):
        found: list[Limit] = [next(x for x in r.limits if x.name == name) for r in rows]
        values = sorted({round(x.limit, 1) for x in found})
        value = _n(values[0]) if len(values) == 1 else f"{_n(values[0])} to {_n(values[-1])}"
        cells = [f"**{x.utilization:.2f}**" if x.utilization >= 1 else f"{x.utilization:.2g}" for x in found]
        scale = at[name]
        lines.append(
            f"| {name} | {value} {found[0].unit} | {_x(scale) if scale else 'never'} | "
            + " | ".join(cells)
            + f" | {found[-1].lift} ({found[-1].kind}) |"
        )
    return lines


def _advice(model: Model) -> list[str]:
    lines = []
    seen: set[str] = set()
    for row, hot_row in zip(model.scales, model.hot, strict=True):
        names = {b.name for b in row.binding}
        steps = []
        for limit in [*row.binding, *[lim for lim in hot_row.binding if lim.name not in names]]:
            again = limit.name in seen and "StreamParallelizationFactor" not in limit.name
            seen.add(limit.name)
            if not again:
                hot = "" if limit.name in names else f" (with one customer at {HOT_SHARE:.0%})"
                steps.append(
                    f"  - {limit.name}{hot}: {_n(limit.demand)} against {_n(limit.limit)} {limit.unit}. {limit.lift}."
                )
        near = [lim for lim in row.limits if 0.5 <= lim.utilization < 1]
        steps += [f"  - close: {lim.name} at {lim.utilization:.0%} of {_n(lim.limit)} {lim.unit}." for lim in near]
        if steps:
            lines += [f"- **{_x(row.scale)}**:", *steps]
        else:
            lines.append(
                f"- **{_x(row.scale)}**: nothing to change; the tightest limit, {row.tightest.name}, is at "
                f"{row.tightest.utilization:.0%}."
            )
    return lines


def _checks_table(checks: list[LagCheck]) -> list[str]:
    lines = [
        "| scale | day | slot rate | compared | model | simulation | difference | within "
        f"{LAG_TOLERANCE:.0%} | simulated p99 / oldest | records given up |",
        "| ---: | --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for c in checks:
        model_value, sim_value = c.figures
        lines.append(
            f"| {_x(c.scale)} | {'one customer ' + format(c.hot_share, '.0%') if c.hot_share else 'realistic'} "
            f"| {_n(c.model.rate)}/s | {c.what} | {_s(model_value)} | {_s(sim_value)} | {c.error:.1%} "
            f"| {'yes' if c.agrees else '**no**'} | {_s(c.sim.p99_lag_s)} / {_s(c.sim.max_lag_s)} "
            f"| {c.sim.given_up:,} |"
        )
    return lines


def _floor_section(model: Model, opt_ins: dict[str, Model]) -> list[str]:
    rows = model.scales
    at = next((r for r in rows if r.scale == FLOOR_SCALE), rows[-1])
    ratio = at.per_million / at.floor_per_million
    verdict = "**met**" if ratio <= FLOOR_TARGET else "**missed**"
    above = sorted(
        ((name, cost - at.floor_cost.get(name, 0.0)) for name, cost in at.monthly_cost.items()),
        key=lambda pair: -pair[1],
    )
    lines = [
        "## The bill against its floor",
        "",
        "The floor is what any implementation of this API on this stack pays for the same day: API Gateway's and",
        "Lambda's requests, one write unit per stored charge, one summary write per customer per batch (at the",
        "day's mean rate, with the template's batching), half a read unit per summary read, and storing the",
        "charges and summaries; no logs, traces, metrics, backups or compute beyond the requests.",
        "",
        f"**Goal at {_x(FLOOR_SCALE)}: ≤ {FLOOR_TARGET}x the floor:** {verdict}: {_usd(at.per_million)} against "
        f"{_usd(at.floor_per_million)} per million charges ({ratio:.2f}x). Above the floor, a month at "
        f"{_x(at.scale)}: "
        + "; ".join(f"{name} {_usd(cost)}" for name, cost in above if cost > 0.005)
        + " (DynamoDB: the stream's consistent reads of the summaries, point-in-time recovery, the writes above"
        " one per customer per batch; Lambda: the functions' duration).",
        "",
        "The parameters that buy more observability, priced at each scale (a month, on top of the defaults):",
        "",
        "| | " + " | ".join(_x(r.scale) for r in rows) + " |",
        "| --- |" + " ---: |" * len(rows),
    ]
    for label, other in opt_ins.items():
        extra = [o.monthly_total - r.monthly_total for o, r in zip(other.scales, rows, strict=True)]
        per_million = [o.per_million - r.per_million for o, r in zip(other.scales, rows, strict=True)]
        lines.append(f"| {label} | " + " | ".join(f"+{_usd(e)}" for e in extra) + " |")
        lines.append(f"| {label}, per million charges | " + " | ".join(f"+{_usd(e)}" for e in per_million) + " |")
    lines += [
        "",
        "`Tracing=Active` records Lambda's own trace of 1 invocation a second and 5% of the rest, per function (its",
        "initialization, invocation and overhead); `TracingSubsegments=true` adds the handler's, the route's and",
        "each DynamoDB call's subsegments to those traces at no extra X-Ray cost, for a longer cold start",
        "(docs/benchmarks.md). `SystemLogLevel=INFO` writes Lambda's START and REPORT lines (duration, memory",
        "used, init duration) for every invocation.",
        "",
    ]
    return lines


def markdown(
    model: Model,
    checks: list[LagCheck],
    retried: LagCheck,
    overrides: dict[str, str],
    opt_ins: dict[str, Model] | None = None,
) -> str:
    """The whole page."""
    inputs, settings, a = model.inputs, model.settings, model.assumptions
    runs = sorted(set(inputs.runs.values()))
    first = model.first_binding()
    first_hot = model.first_binding(model.hot)
    at, at_hot = binding_scales(model), binding_scales(model, hot=True)
    behind = at.get(STREAM_SLOT)
    fit = inputs.stream
    fit_check = (
        "| check of that fit: the benchmark day's stream write units, measured / modelled "
        f"| {inputs.day_stream_check[0]:,.0f} / {inputs.day_stream_check[1]:,.0f} |"
        if inputs.day_stream_check
        else "| check of that fit | not possible: the run does not count its day's (customer, batch) pairs |"
    )
    params = ", ".join(f"`{k}={v}`" for k, v in overrides.items()) or "their defaults"
    lines = [
        "# Capacity",
        "",
        "Generated by `make capacity` (`python -m benchmarks.capacity_page`, also run by `make bench`); do not edit",
        "by hand. Inputs: the figures of docs/benchmarks.json, from the benchmark run on "
        + "; ".join(runs)
        + f", template.yaml with its parameters at {params}, AWS's published quotas and prices (as published on "
        f"{PUBLISHED_ON}, [below](#sources)) and the assumptions listed below. It is a model, not a load test: "
        "each figure follows from those inputs, and changes when they do.",
        "",
        "## What binds first",
        "",
    ]
    if first:
        row, limit = first
        lines.append(
            f"On the realistic day, the first limit to bind is **{limit.name}**, at "
            f"{_x(at[limit.name] or row.scale)} ({_n(limit.limit)} {limit.unit}). What lifts it: {limit.lift}. In "
            "order, the limits that bind on the realistic day: "
            + ", ".join(f"{name} ({_x(scale)})" for name, scale in sorted(at.items(), key=lambda i: i[1] or 0) if scale)
            + "."
        )
    if behind:
        lines.append(
            f"The summarizer falls behind at {_x(behind)} with "
            f"`StreamParallelizationFactor={settings.parallelization_factor}`:"
            " from there the summaries' lag grows for as long as the peak lasts, and a record older than"
            f" `MaximumRecordAgeInSeconds` ({settings.maximum_record_age_s:,} s) goes to the failure queue instead"
            " of its summary."
        )
    if first_hot:
        row, limit = first_hot
        lines.append(
            f"With one customer taking {HOT_SHARE:.0%} of the charges, the first is **{limit.name}** at "
            f"{_x(at_hot[limit.name] or row.scale)}."
        )
    lines += [
        "",
        "![cost and lag against scale](capacity.png)",
        "",
        *_floor_section(model, opt_ins or {}),
        "## What to change at each step",
        "",
        *_advice(model),
        "",
        "## The realistic day at each scale",
        "",
        f"The day of docs/benchmarks.md: {inputs.day_charges:,} charges over {inputs.day_customers:,} customers, "
        f"{inputs.day_single_requests:,} sent one per request and {inputs.day_bulk_charges:,} in "
        f"{inputs.day_bulk_requests:,} bulk requests, multiplied by the scale (customers too). Peak figures are for "
        f"the busiest hour, at **{a.peak_to_mean:g}x the day's mean rate** (the peak-to-mean ratio assumed); the "
        "bill uses the daily totals, 30 days a month.",
        "",
        *_scale_tables(model.scales, settings.iterator_age_alarm_s),
        "",
        f"## A day with one customer taking {HOT_SHARE:.0%} of the charges",
        "",
        "The same day, but one customer sends a tenth of the charges. Its charges share one partition key, and"
        " Lambda keeps one partition key's records in one batch slot, in order: that slot carries the customer's"
        " records on top of its share of the others (the stream rows below are that slot's).",
        "",
        *_scale_tables(model.hot, settings.iterator_age_alarm_s),
        "",
        "## Every limit, at peak",
        "",
        "Demand over the limit at each scale (bold: exceeded), and the scale at which it reaches the limit.",
        "",
        *_limits_table(model.scales, at),
        "",
        f"With one customer at {HOT_SHARE:.0%}:",
        "",
        *_limits_table(model.hot, at_hot),
        "",
        "## The stream, simulated",
        "",
        "`benchmarks/stream_sim.py` simulates the busiest batch slot record by record: Poisson arrivals, the",
        "poller's 4 reads a second, the batching window and batch size of the template, one batch at a time,",
        "each batch's real number of distinct customers, retries with bisection and the maximum record age.",
        f"It checks the model's lag (within {LAG_TOLERANCE:.0%}) at {', '.join(_x(s) for s in CHECKED_SCALES)}: the",
        "mean lag below capacity, the iterator age when the busiest hour ends above it (arrivals stop then; the",
        "simulation's oldest lag is the age reached while the backlog drains).",
        "",
        *_checks_table(checks),
        "",
        f"With {RETRIED_SHARE:.0%} of the batches failing at {_x(retried.scale)} (each bisected and retried, up to "
        f"`MaximumRetryAttempts`={model.settings.maximum_retry_attempts}), the simulated mean lag is "
        f"{_s(retried.sim.mean_lag_s)} (p99 {_s(retried.sim.p99_lag_s)}, oldest {_s(retried.sim.max_lag_s)}; "
        f"{retried.sim.failed_batches:,} of {retried.sim.batches:,} batches failed, {retried.sim.given_up:,} records "
        "given up): a retry costs a batch's duration again, not a window.",
        "",
        "Below capacity the lag is the batching window plus a batch's duration: the first record of a batch waits",
        f"the whole window ({settings.batching_window_s:g} s), the others less. Close to capacity (a slot above about",
        "90% busy) the model's steady-state figures understate the lag, which the simulation shows growing in",
        "bursts; above it the age grows by (1 - capacity / rate) each second of the peak.",
        "",
        "## Inputs",
        "",
        "| measured (docs/benchmarks.json) | value |",
        "| --- | ---: |",
        f"| CPU of a single charge (warm handler) | {inputs.single_cpu_ms * 1000:,.0f} µs |",
        f"| CPU per charge of the largest bulk | {inputs.bulk_cpu_ms_per_charge * 1000:,.1f} µs |",
        f"| CPU per stream record | {inputs.stream_cpu_ms_per_record * 1000:,.1f} µs |",
        "| log bytes per invocation: "
        + ", ".join(f"{name.removesuffix('Function')} {n:,.0f}" for name, n in inputs.log_bytes.items())
        + f" (a stream invocation is a batch) | platform {inputs.platform_log_bytes:,.0f} (at INFO), access log "
        f"{inputs.access_log_bytes:,.0f} |",
        "| write units of a single charge / per charge of a bulk "
        f"| {inputs.single_wru:g} / {inputs.bulk_wru_per_charge:g} |",
        f"| stream write units: per record, per customer in a batch, per batch | {fit.write_units[0]:g}, "
        f"{fit.write_units[1]:g}, {fit.write_units[2]:g} |",
        f"| stream read units: per record, per customer in a batch, per batch | {fit.read_units[0]:g}, "
        f"{fit.read_units[1]:g}, {fit.read_units[2]:g} |",
        "| stream calls: per record, per customer in a batch, per batch | "
        + "; ".join(f"{op} {c[0]:g}, {c[1]:g}, {c[2]:g}" for op, c in fit.calls.items())
        + " |",
        fit_check,
        "",
        "The stream's figures are fitted to the benchmark's stream batches (records, customers, one batch); the",
        "per-record units are counted on ChargesTable (a charge's own item), the per-customer ones on",
        "SummariesTable. When `make bench` measures other figures, this page follows them.",
        "",
        "| template.yaml (through `local.sam`) | value |",
        "| --- | ---: |",
        f"| MemorySize | {', '.join(sorted({f'{m} MB' for m in settings.memory_mb.values()}))} |",
        f"| BatchSize | {settings.batch_size} |",
        f"| MaximumBatchingWindowInSeconds | {settings.batching_window_s:g} |",
        f"| ParallelizationFactor (`StreamParallelizationFactor`) | {settings.parallelization_factor} |",
        f"| MaximumRecordAgeInSeconds | {settings.maximum_record_age_s:,} |",
        f"| MaximumRetryAttempts | {settings.maximum_retry_attempts} |",
        "| ThrottlingRateLimit / ThrottlingBurstLimit "
        f"| {settings.throttling_rate:g} / {settings.throttling_burst:g} |",
        f"| LogRetentionDays | {settings.log_retention_days} |",
        f"| Tracing / SystemLogLevel | {settings.tracing} / {settings.system_log_level} |",
        f"| dashboard metrics (custom) / alarm metrics / dashboards | {settings.custom_metrics} / "
        f"{settings.alarm_metrics} / {settings.dashboards} |",
        f"| IteratorAgeAlarmSeconds | {settings.iterator_age_alarm_s:g} |",
        "",
        "Assumed (neither measured nor published):",
        "",
        *[f"- {line}" for line in a.describe()],
        "- stream shards: one per partition of ChargesTable, and partitions from its write throughput (at least"
        " 4, one per 1,000 WCU/s); storage adds one per 10 GB, so an older, larger table has more shards",
        "",
        "## Sources",
        "",
        f"Quotas and prices as published on {PUBLISHED_ON} (us-east-1; check them before relying on them):",
        "",
        "| value | what | source |",
        "| ---: | --- | --- |",
        *[f"| {p.value:,.10g} {p.unit} | {p.what} | <{p.source}> |" for p in PUBLISHED.values()],
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
    checks = [check_lag(model, scale) for scale in CHECKED_SCALES]
    checks.append(check_lag(model, CHECKED_SCALES[-1], hot=True))
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
    parser.add_argument(
        "--parameter-overrides", default="", help="template parameters, e.g. StreamParallelizationFactor=4"
    )
    args = parser.parse_args(argv)
    page = write(args.out, args.figures, parse_parameter_overrides(args.parameter_overrides))
    print(f"capacity: wrote {page}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
