"""``python -m benchmarks.capacity_page`` (``make capacity``): docs/capacity.md and its chart, from the capacity model.

Reads docs/benchmarks.json (``--figures``) and template.yaml (``--parameter-overrides`` as ``sam deploy`` takes
them), runs the model at every scale, checks its lag with the stream simulation and writes the page (``--out``).
Nothing is measured here: ``make bench`` measures, then runs this.
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
    if value == 0:
        return "0"
    for least, shown in ((100, f"{value:,.0f}"), (10, f"{value:,.1f}"), (0.01, f"{value:,.2f}")):
        if value >= least:
            return shown
    return f"{value:.1g}"


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
    return {
        limit.name: binding_scale(model, limit.name, hot=hot)
        for limit in (model.hot if hot else model.scales)[-1].limits
    }


def largest_scale_parameters(model: Model) -> dict[str, str]:
    """The template parameters the advice at the largest scale sets (samconfig.toml's example environment)."""
    row = model.scales[-1]
    parameters = {}
    for limit in row.limits:
        if limit.kind == "parameter" and limit.utilization >= 1 / 1.25:
            for assignment in limit.lift.split("`")[1::2]:
                if "=" in assignment:
                    name, value = assignment.split("=")
                    parameters[name] = value.replace(",", "")
    if "ThrottlingRateLimit" in parameters:
        parameters["ThrottlingBurstLimit"] = str(2 * int(parameters["ThrottlingRateLimit"]))
    return parameters


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
    hot = f"same, one customer {HOT_SHARE:.0%}"
    lag_ax.plot(scales, [r.lag.max_lag_s for r in model.hot], "^:", color="#ee7733", label=hot)
    advised = [_with_factor(model, r, min(10, r.stream.parallelization_needed)).lag.max_lag_s for r in model.scales]
    lag_ax.plot(scales, advised, "d-.", color="#228833", label="lag with the advised StreamParallelizationFactor")
    simulated = [c for c in checks if c.hot_share == 0]
    lag_ax.plot(
        [c.scale for c in simulated], [c.sim.max_lag_s for c in simulated], "x", color="black", label="simulation"
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


def _with_factor(model: Model, row: Scale, factor: int) -> Scale:
    settings = replace(model.settings, parallelization_factor=factor)
    return model_scale(row.scale, model.inputs, settings, model.assumptions, hot_share=row.hot_share)


# ---------------------------------------------------------------- markdown


def _line(label: str, values: list[str]) -> str:
    return f"| {label} | " + " | ".join(values) + " |"


def _scale_table(rows: list[Scale], alarm_s: float) -> list[str]:
    def lag(r: Scale) -> str:
        slot = r.lag
        behind = " **behind; older records go to the failure queue**" if slot.gives_up else " **behind**"
        return _s(slot.max_lag_s) + (behind if slot.behind else "")

    return [
        _line("", [_x(r.scale) for r in rows]),
        "| --- |" + " ---: |" * len(rows),
        _line("charges a day", [_n(r.day.charges) for r in rows]),
        _line("API requests/s at peak", [_n(r.peak_requests_per_s) for r in rows]),
        _line("charges/s at peak", [_n(r.peak_charges_per_s) for r in rows]),
        *[
            _line(f"concurrency: {name.removesuffix('Function')}", [_n(r.concurrency[name]) for r in rows])
            for name in rows[0].concurrency
        ],
        *[_line(f"{table} WRU/s", [_n(r.table_wru_per_s[table]) for r in rows]) for table in rows[0].table_wru_per_s],
        _line("SummariesTable RRU/s", [_n(r.table_rru_per_s["SummariesTable"]) for r in rows]),
        *[_line(f"hottest key: {key}, WCU/s", [_n(r.hot_keys[key]) for r in rows]) for key in rows[0].hot_keys],
        _line("stream shards (table partitions)", [str(r.stream.shards) for r in rows]),
        _line("records/s per batch slot (of capacity)", [f"{_n(r.lag.rate)} ({_n(r.lag.capacity)})" for r in rows]),
        _line("records per batch", [_n(r.lag.batch) for r in rows]),
        _line("batch duration", [_s(r.lag.handler_s) for r in rows]),
        _line("summary lag, mean", [_s(r.lag.mean_lag_s) for r in rows]),
        _line("summary lag, oldest", [lag(r) for r in rows]),
        _line("`StreamParallelizationFactor` needed", [str(r.stream.parallelization_needed) for r in rows]),
        *[
            _line(f"{service} a month", [_usd(r.monthly_cost[service]) for r in rows])
            for service in rows[0].monthly_cost
        ],
        _line("**total a month**", [f"**{_usd(r.monthly_total)}**" for r in rows]),
        _line("per million charges", [_usd(r.per_million) for r in rows]),
        _line("**floor** per million charges", [_usd(r.floor_per_million) for r in rows]),
        _line("x floor", [f"{r.per_million / r.floor_per_million:.2f}x" for r in rows]),
        _line(
            "limits exceeded at peak",
            ["; ".join(f"{x.name} ({x.utilization:.1f}x)" for x in r.binding) or "none" for r in rows],
        ),
    ]


def _limits_table(rows: list[Scale], at: dict[str, float | None]) -> list[str]:
    lines = [
        "| limit | value | binds at | "
        + " | ".join(_x(r.scale) for r in rows)
        + " | lifted by (the value at the largest scale) |",
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
    lines, said = [], set()
    for row, hot_row in zip(model.scales, model.hot, strict=True):
        names = {b.name for b in row.binding}
        steps = []
        for limit in [*row.binding, *[x for x in hot_row.binding if x.name not in names]]:
            hot = "" if limit.name in names else f" (with one customer at {HOT_SHARE:.0%})"
            again = limit.name in said and limit.kind == "design"
            said.add(limit.name)
            if not again:
                steps.append(
                    f"  - {limit.name}{hot}: {_n(limit.demand)} against {_n(limit.limit)} {limit.unit}. {limit.lift}."
                )
        steps += [
            f"  - close: {x.name} at {x.utilization:.0%} of {_n(x.limit)} {x.unit}."
            for x in row.limits
            if 0.5 <= x.utilization < 1
        ]
        tightest = row.tightest
        quiet = f"nothing to change; the tightest limit, {tightest.name}, is at {tightest.utilization:.0%}."
        lines += [f"- **{_x(row.scale)}**:", *steps] if steps else [f"- **{_x(row.scale)}**: {quiet}"]
    return lines


def _checks_table(checks: list[LagCheck]) -> list[str]:
    lines = [
        f"| scale | day | slot rate | compared | model | simulation | difference | within {LAG_TOLERANCE:.0%} "
        "| simulated p99 / oldest | records given up |",
        "| ---: | --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for c in checks:
        model_value, sim_value = c.figures
        day = f"one customer {c.hot_share:.0%}" if c.hot_share else "realistic"
        lines.append(
            f"| {_x(c.scale)} | {day} | {_n(c.model.rate)}/s | {c.what} | {_s(model_value)} | {_s(sim_value)} | "
            f"{c.error:.1%} "
            f"| {'yes' if c.agrees else '**no**'} | {_s(c.sim.p99_lag_s)} / {_s(c.sim.max_lag_s)} | {c.sim.given_up:,} "
            "|"
        )
    return lines


def _binds_first(model: Model, at: dict[str, float | None], at_hot: dict[str, float | None]) -> list[str]:
    largest = model.scales[-1]
    ordered = ", ".join(f"{name} ({_x(scale)}, {kind})" for name, scale, kind in _order(largest, at) if scale)
    design = [(name, scale) for name, scale, kind in _order(largest, at) if kind == "design"]
    first_design = min((s for _, s in design if s), default=math.inf)
    design_at = f"beyond {_x(largest.scale)}" if first_design > largest.scale else f"at {_x(first_design)}"
    design_text = ", ".join(f"{name} ({_x(scale) if scale else 'never'})" for name, scale in design)
    first, hot_first = model.first_binding(), model.first_binding(model.hot)
    lines = [
        f"On the realistic day, in order, the limits that bind: {ordered}. Up to {_x(largest.scale)} every one of them "
        "is a quota or a parameter, lifted as *What to change at each step* says; the limits only a change of design "
        f"lifts bind {design_at}: {design_text}."
    ]
    if first:
        lines.append(
            f"The first is **{first[1].name}**, at {_x(at[first[1].name] or first[0].scale)}: {first[1].lift}."
        )
    if hot_first:
        limit = hot_first[1]
        lines.append(
            f"With one customer taking {HOT_SHARE:.0%} of the charges, the first is **{limit.name}** at "
            f"{_x(at_hot[limit.name] or hot_first[0].scale)}."
        )
    return [" ".join(lines), ""]


def _order(row: Scale, at: dict[str, float | None]) -> list[tuple[str, float | None, str]]:
    kinds = {x.name: x.kind for x in row.limits}
    return [(name, at[name], kinds[name]) for name in sorted(at, key=lambda n: at[n] or math.inf)]


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
        f"One customer's charges share one partition key, and its records one batch slot. What binds it first is "
        f"**{first.name}**, at {_x(scale)} on this day: about {per_second:,.0f} charges a second from that one "
        "customer "
        f"at the busiest hour ({_n(first.limit)} {first.unit} for {', '.join(x.name for x in keys)} at "
        f"{_x(row.scale)}). Past it the customer's summary lags (its records wait in their slot, for up to "
        "`MaximumRecordAgeInSeconds`), or its writes are throttled and retried; the other customers are not held up.",
        "",
        "What would lift it: the stream function's memory (a slot's CPU: a full vCPU at 1,769 MB, against 512 MB "
        "now), then less CPU a record; past 1,000 write units a second, one customer's charges under several "
        "partition keys (a suffix, read back by one Query per suffix), a change of design. DynamoDB itself may help "
        "before that, without a figure one can plan on: it can split a busy item collection (one partition key, "
        "many sort keys) between partitions by sort key, as long as its traffic does not follow a rising or falling "
        "sort key, and not on a table with a local secondary index ([split for heat]"
        f"({SPLIT_FOR_HEAT})). ChargesTable qualifies (random charge ids, no local secondary index), but AWS "
        "publishes neither when a split happens nor how far it goes; each partition still takes at most 1,000 write "
        "units a second, and a single item never more. The model counts none of it. Lambda, for its part, documents "
        "in-order processing per item (partition and sort key) across a shard's concurrent batches "
        f"([with-ddb]({IN_ORDER})): "
        "a customer's records may spread over the slots of its shard; the model keeps them in one, the worse case.",
        "",
    ]


def _jobs(model: Model) -> list[str]:
    inputs, settings = model.inputs, model.settings
    million = 1_000_000
    pages = math.ceil(million / inputs.recompute_charges_per_page)
    cpu = inputs.recompute_cpu_s_per_charge * million
    jobs_s = recompute_seconds(cpu, pages, settings.memory_mb[JOBS_FUNCTION], model.assumptions)
    stream_s = recompute_seconds(cpu, pages, settings.memory_mb[STREAM_FUNCTION], model.assumptions)
    budget = settings.timeout_s[STREAM_FUNCTION] - 10
    at_once = published("sqs_mapping_concurrency")
    return [
        "## The recompute and the jobs function",
        "",
        "On the realistic day every recompute is a new customer's (tens of charges, one Query page) and runs in the "
        f"stream function. A customer of {million:,} charges takes about {_s(stream_s)} there, past the {budget} s "
        f"its `Timeout` leaves: it goes to `{JOBS_FUNCTION}` ({settings.memory_mb[JOBS_FUNCTION]:,} MB, "
        f"{settings.timeout_s[JOBS_FUNCTION]:,} s), which takes about {_s(jobs_s)} (docs/benchmarks.md, section 4). "
        f"Its SQS event source mapping runs up to {at_once:,.0f} jobs at once (adding up to 300 a minute), within "
        f"the account's Lambda concurrency: about {at_once / jobs_s:,.1f} such recomputes a second; the queue holds "
        "the rest (its messages wait, they are not lost, and a job failed three times goes to its dead-letter queue).",
        "",
    ]


def _floor_section(model: Model, opt_ins: dict[str, Model]) -> list[str]:
    rows = model.scales
    at = next((r for r in rows if r.scale == FLOOR_SCALE), rows[-1])
    ratio = at.per_million / at.floor_per_million
    above = sorted(
        ((name, cost - at.floor_cost.get(name, 0.0)) for name, cost in at.monthly_cost.items()), key=lambda p: -p[1]
    )
    lines = [
        "## The bill against its floor",
        "",
        "The floor is what any implementation of this API on this stack pays for the same day: API Gateway's and "
        "Lambda's requests, one write unit per stored charge, one summary write per customer per batch (at the day's "
        "mean rate, with the template's batching), one registry entry per new customer, half a read unit per summary "
        "read, and storing the charges and summaries; no logs, traces, metrics, backups or compute beyond the "
        "requests.",
        "",
        f"**Goal at {_x(FLOOR_SCALE)}: ≤ {FLOOR_TARGET}x the floor:** "
        f"{'**met**' if ratio <= FLOOR_TARGET else '**missed**'}: "
        f"{_usd(at.per_million)} against {_usd(at.floor_per_million)} per million charges ({ratio:.2f}x). Above the "
        f"floor, a month at {_x(at.scale)}: "
        + "; ".join(f"{name} {_usd(cost)}" for name, cost in above if cost > 0.005)
        + " (DynamoDB: the stream's consistent reads of the summaries, new customers' recomputes, point-in-time "
        "recovery, the writes above the floor; Lambda: the functions' duration).",
        "",
        "The parameters that buy more observability, priced at each scale (a month, on top of the defaults):",
        "",
        _line("", [_x(r.scale) for r in rows]),
        "| --- |" + " ---: |" * len(rows),
    ]
    for label, other in opt_ins.items():
        pairs = list(zip(other.scales, rows, strict=True))
        lines.append(_line(label, [f"+{_usd(o.monthly_total - r.monthly_total)}" for o, r in pairs]))
        lines.append(
            _line(f"{label}, per million charges", [f"+{_usd(o.per_million - r.per_million)}" for o, r in pairs])
        )
    return [
        *lines,
        "",
        "`Tracing=Active` records Lambda's own trace of 1 invocation a second and 5% of the rest, per function; "
        "`TracingSubsegments=true` adds the handler's, the route's and each DynamoDB call's subsegments to those "
        "traces "
        "at no extra X-Ray cost, for a longer cold start (docs/benchmarks.md). `SystemLogLevel=INFO` writes Lambda's "
        "START and REPORT lines for every invocation.",
        "",
    ]


def _inputs_section(model: Model) -> list[str]:
    inputs, settings = model.inputs, model.settings
    measured, modelled = inputs.day_stream_check
    wru, rru = inputs.stream_wru, inputs.stream_rru
    logs = ", ".join(f"{name.removesuffix('Function')} {n:,.0f}" for name, n in inputs.log_bytes.items())
    return [
        "## Inputs",
        "",
        "| measured (docs/benchmarks.json) | value |",
        "| --- | ---: |",
        "| CPU of a single charge (warm handler) / per charge of the largest bulk | "
        f"{inputs.single_cpu_ms * 1000:,.0f} µs / {inputs.bulk_cpu_ms_per_charge * 1000:,.1f} µs |",
        f"| the concurrent stream batch: CPU per record; waiting beyond CPU at {inputs.slot_latency_s * 1000:g} ms a "
        "call "
        f"({inputs.slot_records} records, {inputs.slot_workers} at once) | {inputs.slot_cpu_ms_per_record * 1000:,.0f} "
        f"µs; {_s(inputs.slot_wait_s)} |",
        "| a recompute's CPU per 100,000 charges; charges per Query page | "
        f"{inputs.recompute_cpu_s_per_charge * 1e5:,.2f} s; {inputs.recompute_charges_per_page:,.0f} |",
        f"| log bytes per invocation: {logs} (a stream invocation is a batch) | platform "
        f"{inputs.platform_log_bytes:,.0f} (at INFO), access log {inputs.access_log_bytes:,.0f} |",
        f"| write units of a single charge / per charge of a bulk | {inputs.single_wru:g} / "
        f"{inputs.bulk_wru_per_charge:g} |",
        f"| stream write units, customers with a summary: per record, per customer in a batch, per batch | {wru[0]:g}, "
        f"{wru[1]:g}, {wru[2]:g} |",
        f"| stream read units, likewise | {rru[0]:g}, {rru[1]:g}, {rru[2]:g} |",
        "| a new customer's, beyond those: write units (its registry entry); read units (its recompute) | "
        f"{inputs.new_customer_wru:g}; {inputs.new_customer_rru:g} |",
        f"| check of that fit: the benchmark day's stream write units, measured / modelled | {measured:,.0f} / "
        f"{modelled:,.0f} |",
        "",
        "| template.yaml (through `local.sam`) | value |",
        "| --- | ---: |",
        "| MemorySize | "
        + ", ".join(f"{name.removesuffix('Function')} {mb:,} MB" for name, mb in settings.memory_mb.items())
        + " |",
        f"| BatchSize / MaximumBatchingWindowInSeconds | {settings.batch_size} / {settings.batching_window_s:g} |",
        f"| ParallelizationFactor (`StreamParallelizationFactor`) | {settings.parallelization_factor} |",
        f"| MaximumRecordAgeInSeconds / MaximumRetryAttempts | {settings.maximum_record_age_s:,} / "
        f"{settings.maximum_retry_attempts} |",
        f"| ThrottlingRateLimit / ThrottlingBurstLimit | {settings.throttling_rate:g} / {settings.throttling_burst:g} "
        "|",
        f"| LogRetentionDays; Tracing / SystemLogLevel | {settings.log_retention_days}; {settings.tracing} / "
        f"{settings.system_log_level} |",
        f"| dashboard metrics (custom) / alarm metrics / dashboards | {settings.custom_metrics} / "
        f"{settings.alarm_metrics} / {settings.dashboards} |",
        "",
        "Assumed (neither measured nor published):",
        "",
        *[f"- {line}" for line in model.assumptions.describe()],
        "",
    ]


def markdown(
    model: Model,
    checks: list[LagCheck],
    retried: LagCheck,
    overrides: dict[str, str],
    opt_ins: dict[str, Model] | None = None,
) -> str:
    """The whole page."""
    settings = model.settings
    at, at_hot = binding_scales(model), binding_scales(model, hot=True)
    params = ", ".join(f"`{k}={v}`" for k, v in overrides.items()) or "their defaults"
    largest = " ".join(f"{name}={value}" for name, value in largest_scale_parameters(model).items())
    lines = [
        "# Capacity",
        "",
        "Generated by `make capacity` (`python -m benchmarks.capacity_page`, also run by `make bench`); do not edit by "
        "hand. Inputs: the figures of docs/benchmarks.json, from the benchmark run on "
        + "; ".join(sorted(set(model.inputs.runs.values())))
        + f", template.yaml with its parameters at {params}, AWS's published quotas and prices (as published on "
        f"{PUBLISHED_ON}, [below](#sources)) and the assumptions listed below. It is a model, not a load test: each "
        "figure follows from those inputs, and changes when they do.",
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
        f"samconfig.toml's `{SAMCONFIG_ENVIRONMENT}` environment holds the parameters for "
        f"{_x(model.scales[-1].scale)}: "
        f"`sam deploy --config-env {SAMCONFIG_ENVIRONMENT}` (`{largest}`); the quotas are asked for in Service Quotas.",
        "",
        "## The realistic day at each scale",
        "",
        f"The day of docs/benchmarks.md: {model.inputs.day_charges:,} charges over {model.inputs.day_customers:,} new "
        f"customers, {model.inputs.day_single_requests:,} sent one per request and {model.inputs.day_bulk_charges:,} "
        "in "
        f"{model.inputs.day_bulk_requests:,} bulk requests, multiplied by the scale (customers too). Peak figures are "
        f"for the busiest hour, at **{model.assumptions.peak_to_mean:g}x the day's mean rate**; the bill uses the "
        "daily "
        "totals, 30 days a month.",
        "",
        *_scale_table(model.scales, settings.iterator_age_alarm_s),
        "",
        f"## A day with one customer taking {HOT_SHARE:.0%} of the charges",
        "",
        "The same day, but one customer sends a tenth of the charges; the stream rows are its slot's.",
        "",
        *_scale_table(model.hot, settings.iterator_age_alarm_s),
        "",
        *_hot_customer(model, at_hot),
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
        *_jobs(model),
        "## The stream, simulated",
        "",
        "`benchmarks/stream_sim.py` simulates the busiest batch slot record by record: Poisson arrivals, the poller's "
        "4 "
        "reads a second, the batching window and batch size of the template, one batch at a time, each batch's real "
        "number of distinct customers, retries with bisection and the maximum record age. It checks the model's lag "
        f"(within {LAG_TOLERANCE:.0%}) at {', '.join(_x(s) for s in CHECKED_SCALES)}: the mean lag below capacity, the "
        "iterator age when the busiest hour ends above it.",
        "",
        *_checks_table(checks),
        "",
        f"With {RETRIED_SHARE:.0%} of the batches failing at {_x(retried.scale)} (each bisected and retried, up to "
        f"`MaximumRetryAttempts`={settings.maximum_retry_attempts}), the simulated mean lag is "
        f"{_s(retried.sim.mean_lag_s)} "
        f"(p99 {_s(retried.sim.p99_lag_s)}, oldest {_s(retried.sim.max_lag_s)}; {retried.sim.failed_batches:,} of "
        f"{retried.sim.batches:,} batches failed, {retried.sim.given_up:,} records given up): a retry costs a batch's "
        "duration again, not a window. Below capacity the lag is the batching window plus a batch's duration; close to "
        "capacity (a slot above about 90% busy) the model's steady-state figures understate it; above it the age "
        "grows by (1 - capacity / rate) each second of the peak.",
        "",
        *_inputs_section(model),
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
    parser.add_argument(
        "--parameter-overrides", default="", help="template parameters, e.g. StreamParallelizationFactor=4"
    )
    args = parser.parse_args(argv)
    page = write(args.out, args.figures, parse_parameter_overrides(args.parameter_overrides))
    print(f"capacity: wrote {page}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
