"""The capacity model and the stream simulation (benchmarks/capacity_model.py, benchmarks/stream_sim.py).

The model runs on the committed benchmark figures (docs/benchmarks.json) and template.yaml, the simulation
on short peaks; what is checked are the invariants a reader of docs/capacity.md relies on: cost grows with
traffic, the lag below capacity is the batching window plus a batch, the first limit to bind is named and
its lift lifts it, up to 100,000x only quotas and parameters bind on the realistic day, the inputs come from
the figures file, samconfig.toml holds the largest scale's parameters, and the simulation agrees with the model.
"""

import itertools
import json
import math
import re
import tomllib

import pytest

from benchmarks import capacity_page, figures
from benchmarks.capacity_model import (
    PUBLISHED,
    check_lag,
    load_inputs,
    load_settings,
    published,
    run_model,
)
from benchmarks.stream_sim import simulate
from local.sam import parse_parameter_overrides
from local.template import ROOT

SMALL_SCALES = (0.5, 1, 10, 100, 1_000, 10_000)


@pytest.fixture(scope="module")
def model():
    return run_model(scales=SMALL_SCALES)


def test_every_service_costs_more_as_traffic_grows(model):
    for rows in (model.scales, model.hot):
        for smaller, larger in itertools.pairwise(rows):
            assert larger.monthly_total > smaller.monthly_total
            for service, cost in smaller.monthly_cost.items():
                assert larger.monthly_cost[service] >= cost, (service, smaller.scale, larger.scale)
            assert larger.peak_requests_per_s > smaller.peak_requests_per_s
            assert larger.table_wru_per_s["ChargesTable"] > smaller.table_wru_per_s["ChargesTable"]


def test_far_below_capacity_the_lag_is_the_batching_window_plus_one_batch(model):
    window = model.settings.batching_window_s
    poll = 1 / published("stream_polls_per_second")
    quiet = [row for row in model.scales + model.hot if row.lag.rate < row.lag.capacity / 2]
    assert len(quiet) >= 4
    for row in quiet:
        slot = row.lag
        assert not slot.behind
        assert slot.mean_lag_s <= slot.max_lag_s <= window + poll + slot.handler_s, row.scale
        # The simulation of that slot keeps no record longer than the window, the poll and the batch (or two,
        # when its window closes while the one before still runs).
        check = check_lag(model, row.scale, hot=bool(row.hot_share), seconds=300)
        assert check.sim.given_up == 0
        assert check.sim.max_lag_s <= window + poll + 2 * check.sim.longest_batch_s + 1e-9, row.scale


def test_the_first_binding_limit_is_named_and_its_parameter_lifts_it(model):
    first = model.first_binding()
    assert first is not None, "at 10,000x the realistic day some limit binds"
    row, limit = first
    assert limit.name and limit.lift and limit.kind in ("parameter", "quota", "design")
    assert limit.utilization >= 1 and limit == row.binding[0]
    assert all(not earlier.binding for earlier in model.scales if earlier.scale < row.scale)
    # Raising the stage throttle, the parameter it names, lifts it at that scale.
    assert "ThrottlingRateLimit" in limit.lift
    raised = run_model(settings=load_settings({"ThrottlingRateLimit": "100000"}), scales=(row.scale,))
    assert limit.name not in {lim.name for lim in raised.scales[0].binding}


def test_the_advised_parallelization_factor_keeps_the_summarizer_up():
    base = run_model(scales=(10_000,))
    [row] = base.scales
    assert row.slot.behind, "one batch per shard falls behind at 10,000x on the committed figures"
    assert 1 < row.stream.parallelization_needed <= 10
    advised = run_model(
        settings=load_settings({"StreamParallelizationFactor": str(row.stream.parallelization_needed)}),
        scales=(10_000,),
    )
    assert not advised.scales[0].slot.behind
    assert advised.scales[0].slot.max_lag_s < 10


@pytest.mark.parametrize(("scale", "hot", "seconds"), [(1, False, 600), (100, False, 300), (10_000, False, 120)])
def test_the_simulation_agrees_with_the_model(model, scale, hot, seconds):
    check = check_lag(model, scale, hot=hot, seconds=seconds)
    model_value, sim_value = check.figures
    assert check.agrees, f"{scale}x: model {model_value:.2f} s, simulation {sim_value:.2f} s ({check.what})"
    assert check.model.behind == (scale == 10_000)


def test_every_record_is_summarized_or_given_up_whatever_fails():
    # Batches fail one time in five: bisected and retried, never lost, never counted twice.
    result = simulate(
        rate=50,
        seconds=60,
        batch_seconds=lambda records, customers: 0.02 + 0.001 * records + 0.01 * customers,
        batch_size=100,
        window_s=1,
        poll_s=0.25,
        customers=20,
        failure_probability=0.2,
        maximum_retry_attempts=2,
        seed=3,
    )
    assert result.failed_batches > 0
    assert result.summarized + result.given_up == result.records > 2_000
    assert result.given_up > 0  # some ran out of retries


def test_records_older_than_the_maximum_age_are_given_up_when_the_slot_falls_behind():
    result = simulate(
        rate=100,
        seconds=120,
        batch_seconds=lambda records, customers: 0.02 * customers,  # 50 records/s at most
        batch_size=100,
        window_s=1,
        poll_s=0.25,
        customers=10_000,
        maximum_record_age_s=30,
    )
    assert result.given_up > 0
    assert result.summarized + result.given_up == result.records
    assert result.max_lag_s <= 30 + result.longest_batch_s + 1e-9  # young enough when its batch started


def _figures_changed(tmp_path, change):
    document = json.loads((ROOT / "docs" / figures.FIGURES_FILE).read_text(encoding="utf-8"))
    change(document["parts"])
    path = tmp_path / figures.FIGURES_FILE
    path.write_text(json.dumps(document), encoding="utf-8")
    return load_inputs(path)


def test_the_model_reads_its_figures_from_the_benchmark_file(tmp_path):
    # Given the committed figures with the stream as the marker design wrote it: a transaction per
    # customer per batch that also marks each record's charge (2 units a record, 2 a customer)
    def marker_design(parts):
        for name, scenario in parts["dynamodb"]["scenarios"].items():
            shape = re.fullmatch(r"stream batch of (\d+) record\(s\) over (\d+) customer\(s\)", name)
            if shape:
                records, customers = map(int, shape.groups())
                scenario["write_units"] = float(2 * records + 2 * customers)
        parts["dynamodb"]["run"]["machine"] = "another machine; run at 2030-01-01 00:00 UTC"

    # When the model reads them
    inputs = _figures_changed(tmp_path, marker_design)
    changed, committed = run_model(inputs=inputs, scales=(1_000,)), run_model(scales=(1_000,))

    # Then it uses them: a write per record, dearer DynamoDB, and the run is the one named
    assert inputs.stream_wru == (2.0, 2.0, 0.0)
    assert changed.scales[0].monthly_cost["DynamoDB"] > committed.scales[0].monthly_cost["DynamoDB"]
    assert changed.scales[0].table_wru_per_s["ChargesTable"] > committed.scales[0].table_wru_per_s["ChargesTable"]
    assert "another machine; run at 2030-01-01 00:00 UTC" in inputs.runs.values()


def test_the_slot_capacity_comes_from_the_measured_concurrent_batch(tmp_path):
    # Given the concurrent batch measured with twice the CPU, and written one customer after another
    def slower(parts):
        parts["stream"]["concurrency"]["concurrent_cpu_s"] *= 2
        parts["stream"]["concurrency"]["concurrent_s"] += parts["stream"]["concurrency"]["concurrent_cpu_s"] / 2

    def sequential(parts):
        batch = parts["stream"]["concurrency"]
        batch["concurrent_s"], batch["concurrent_cpu_s"] = batch["sequential_s"], batch["sequential_cpu_s"]

    committed = run_model(scales=(10_000,)).scales[0].slot.capacity
    # Then a slot takes fewer records a second: about half as many with twice the CPU (the CPU is most of a batch)
    assert (
        run_model(inputs=_figures_changed(tmp_path, slower), scales=(10_000,)).scales[0].slot.capacity < 0.7 * committed
    )
    assert (
        run_model(inputs=_figures_changed(tmp_path, sequential), scales=(10_000,)).scales[0].slot.capacity < committed
    )


def test_up_to_100000x_only_quotas_and_parameters_bind_on_the_realistic_day(model):
    largest = run_model(scales=(100_000,))
    [row] = largest.scales
    assert row.binding, "at 100,000x the realistic day some limits bind"
    assert {limit.kind for limit in row.binding} <= {"parameter", "quota"}
    for limit in (limit for limit in row.limits if limit.kind == "design"):
        scale = capacity_page.binding_scale(largest, limit.name)
        assert scale is None or scale > 100_000, limit.name
    # each lift names the value to set at that scale
    assert all(any(char.isdigit() for char in limit.lift) for limit in row.binding if limit.kind == "parameter")


def test_samconfig_holds_the_parameters_of_the_largest_scale():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    overrides = config[capacity_page.SAMCONFIG_ENVIRONMENT]["deploy"]["parameters"]["parameter_overrides"]
    advised = capacity_page.largest_scale_parameters(run_model())
    assert advised and advised.items() <= parse_parameter_overrides(overrides).items()


def test_the_committed_fit_reproduces_the_benchmark_day():
    measured, modelled = load_inputs().day_stream_check
    # Within 5%: the fit (units per record, per customer, per batch, per new customer) has no term for the seen
    # items of customers with more than 16 charges in a window.
    assert math.isclose(measured, modelled, rel_tol=0.05)


def test_the_page_names_its_run_its_parameters_and_a_source_for_every_quota_and_price(tmp_path, monkeypatch):
    monkeypatch.setattr(capacity_page, "CHECKED_SCALES", (1, 100))
    page = capacity_page.write(tmp_path, overrides={"StreamParallelizationFactor": "3"}).read_text(encoding="utf-8")
    assert (tmp_path / capacity_page.CHART).stat().st_size > 0
    assert "![cost and lag against scale](capacity.png)" in page
    committed = json.loads((ROOT / "docs" / figures.FIGURES_FILE).read_text(encoding="utf-8"))
    assert f"run at {committed['parts']['dynamodb']['run']['when']}" in page  # the committed benchmark run
    assert "`StreamParallelizationFactor=3`" in page
    assert "| ParallelizationFactor (`StreamParallelizationFactor`) | 3 |" in page
    for quota in PUBLISHED.values():
        assert quota.source in page and quota.what in page
    assert "## What to change at each step" in page and "peak-to-mean ratio" in page


def test_the_bill_is_above_its_floor_at_every_scale_and_the_floor_pays_only_requests_writes_and_storage(model):
    for row in model.scales + model.hot:
        assert row.per_million > row.floor_per_million > 0, row.scale
        assert set(row.floor_cost) == {"API Gateway", "Lambda", "DynamoDB"}
        for service, floor in row.floor_cost.items():
            assert row.monthly_cost[service] >= floor, (service, row.scale)
    # The floor's DynamoDB: at least a write unit per charge, and less than the design's (no consistent reads of
    # the summaries, no seen items, no point-in-time recovery)
    row = next(r for r in model.scales if r.scale == 1_000)
    assert row.charges_per_month / 1e6 * published("ddb_write_price") < row.floor_cost["DynamoDB"]
    assert row.floor_cost["DynamoDB"] < row.monthly_cost["DynamoDB"]


def test_xray_is_priced_from_the_sampling_configured():
    passthrough = run_model(settings=load_settings({"Tracing": "PassThrough"}), scales=(1, 1_000))
    active = run_model(settings=load_settings({"Tracing": "Active"}), scales=(1, 1_000))
    assert [r.monthly_cost["X-Ray"] for r in passthrough.scales] == [0.0, 0.0]
    quiet, busy = active.scales
    # At 1x every invocation is sampled (fewer than one a second); at 1,000x one a second and 5% of the rest
    invocations = 30 * quiet.day.requests
    assert quiet.monthly_cost["X-Ray"] >= invocations / 1e6 * published("xray_trace_price")
    assert busy.monthly_cost["X-Ray"] < 0.1 * 1_000 * quiet.monthly_cost["X-Ray"]


def test_lambdas_own_log_lines_are_paid_for_only_at_system_log_level_info():
    warn = run_model(settings=load_settings({"SystemLogLevel": "WARN"}), scales=(100,))
    info = run_model(settings=load_settings({"SystemLogLevel": "INFO"}), scales=(100,))
    [quiet], [verbose] = warn.scales, info.scales
    invocations = quiet.day.requests  # a START and a REPORT line for each API request at least
    assert verbose.log_bytes_per_day - quiet.log_bytes_per_day >= invocations * warn.inputs.platform_log_bytes
    assert verbose.monthly_cost["CloudWatch Logs"] > quiet.monthly_cost["CloudWatch Logs"]


def test_the_log_bytes_are_the_measured_ones():
    inputs = load_inputs()
    document = json.loads((ROOT / "docs" / figures.FIGURES_FILE).read_text(encoding="utf-8"))
    logs = document["parts"]["logs"]
    assert inputs.access_log_bytes == logs["access_log_bytes"]
    assert set(inputs.log_bytes) == {case["function"] for case in logs["cases"].values()}
    assert all(bytes_ > 0 for bytes_ in inputs.log_bytes.values())
