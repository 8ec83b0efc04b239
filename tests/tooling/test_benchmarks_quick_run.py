"""The quick run of the benchmarks (`python -m benchmarks --quick`) measures every part, so that they cannot rot.

No time is asserted (a smoke run's timings mean nothing). What is asserted is what the benchmarks observe
about the code: every function answered its ready event, the DynamoDB work of each request, that after the
load every charge accepted is stored and every summary is right, and that the page and its charts are written.
"""

import pytest

from benchmarks.__main__ import PARTS, run
from benchmarks.report import Results, write


@pytest.fixture(scope="module")
def results() -> Results:
    return run(list(PARTS), quick=True)


def test_every_part_was_measured(results):
    assert results.missing == {}


def test_every_function_answered_its_ready_event_at_cold_start(results):
    assert results.cold is not None
    answers = {function.name: function.answer for function in results.cold.functions}
    assert answers["CreateChargeFunction"] == answers["BulkChargesFunction"] == answers["GetSummaryFunction"] == 200
    assert answers["EraseCustomerFunction"] == 202
    assert answers["SummarizeChargesFunction"] == answers["CustomerJobsFunction"] == {"batchItemFailures": []}
    assert all(function.runs["init_cpu_ms"] and function.init_cpu > 0 for function in results.cold.functions)


def test_with_tracing_subsegments_every_function_still_answers_its_ready_event(results):
    assert results.cold is not None
    assert {f.name: f.answer for f in results.cold.sdk} == {f.name: f.answer for f in results.cold.functions}


def test_each_invocation_writes_one_line_of_a_few_hundred_bytes(results):
    assert results.logs is not None
    assert {case.function for case in results.logs.cases} == {f.name for f in results.cold.functions}  # type: ignore[union-attr]
    for case in results.logs.cases:
        assert case.lines == 1, case.name
        assert 100 < case.bytes < 2_000, case.name
        assert '"correlation_id"' in case.example and '"_aws"' in case.example
    assert results.logs.access_log_bytes > 100 and results.logs.platform_bytes > 100


def test_the_warm_handlers_make_the_same_dynamodb_calls_as_the_baseline(results):
    # (besides reading a key now and then: the key cache keeps it for API_KEY_CACHE_TTL_SECONDS)
    for cases in (results.warm, results.warm_stub):
        assert cases
        for case in cases:
            real = {operation: count for operation, count in case.real_calls.items() if operation != "GetItem"}
            bare = {operation: count for operation, count in case.bare_calls.items() if operation != "GetItem"}
            assert real == bare, case.name
            assert case.real_ms > 0 and case.bare_ms > 0


def test_each_charge_costs_one_write_on_the_write_path(results):
    assert results.capacity is not None
    scenarios = {scenario.name: scenario for scenario in results.capacity.scenarios}
    single = scenarios["single charge (POST /charges)"].measured
    assert dict(single.requests) == {"PutItem": 1}
    assert (single.write_units, single.read_units) == (1.0, 0.0)
    bulk = scenarios["bulk of 100 (POST /charges/bulk)"].measured
    assert dict(bulk.requests) == {"BatchWriteItem": 4}
    assert (bulk.per_charge(bulk.write_units), bulk.read_units) == (1.0, 0.0)
    day = scenarios["day: write path"]
    assert day.measured.write_units == day.floor.write_units == results.capacity.day_charges


def test_the_summaries_after_the_day_equal_the_charges_sent_and_the_registry_lists_every_customer(results):
    capacity = results.capacity
    assert capacity is not None
    assert capacity.summaries_verified, capacity.verification_note
    day = next(s for s in capacity.scenarios if s.name.startswith("day: stream"))
    assert day.measured.by_type["customer"] == day.floor.requests["registry entry"] == capacity.day_customers
    # every customer the run summarized is listed, one consistent Query page per registry shard at least
    assert capacity.listing.charges > capacity.day_customers and capacity.listing.requests["Query"] >= 16


def test_a_loyal_customers_summary_stays_small_and_costs_one_write_unit_outside_the_import(results):
    assert results.capacity is not None
    year, imported, after = results.capacity.loyal
    for phase in (year, after):
        assert phase.summary_units == phase.writes > 0 and phase.seen_units == 0, phase
        assert phase.largest_bytes <= 1024, phase
    assert imported.seen_units > 0  # the import's ids went to seen items, beside a summary item still small
    assert imported.largest_bytes <= 1024


def test_a_recompute_counts_every_charge_through_botocore_in_a_fresh_interpreter(results):
    recompute = results.recompute
    assert recompute is not None
    assert recompute.counted == recompute.charges == 20_000 and recompute.pages > 1
    assert recompute.cpu_s > 0 and recompute.peak_above_mb > 0


def test_the_concurrent_batch_writes_every_customer_once(results):
    batch = results.concurrency
    assert batch is not None
    assert batch.calls["PutItem"] == batch.records  # one summary write per customer, either way
    assert batch.sequential_s > batch.records * batch.latency_s  # one call after another: at least their latency


def test_after_the_load_every_accepted_charge_is_stored_and_every_summary_is_right(results):
    load = results.load
    assert load is not None
    assert load.accepted_charges == load.stored_charges > 0
    assert load.summaries_right == load.customers > 0
    assert sum(step.accepted for step in load.steps) > 0


def test_the_import_sends_one_bulk_per_customer_and_stores_every_row_once(results):
    imported = results.importing
    assert imported is not None
    assert imported.rows_accepted == imported.rows > 0
    assert imported.requests == imported.customers  # under 1,000 rows each: one bulk request per customer
    assert imported.stored == imported.singles_accepted + imported.rows_accepted


def test_the_erasure_deletes_every_charge_of_the_customer_through_the_jobs_function(results):
    assert results.erasure is not None
    assert results.erasure.charges == 2_000
    assert results.erasure.calls["BatchWriteItem"] == 2_000 // 25
    assert results.erasure.calls["SendMessage"] == 1  # the final pass, queued


def test_the_page_and_its_charts_are_written(results, tmp_path):
    page = write(results, tmp_path).read_text(encoding="utf-8")
    assert "was not measured" not in page
    assert "## 4. The stream's tails" in page and "## 6. Historical import on the local stack" in page
    for chart in ("cold-start", "warm", "capacity", "load"):
        assert (tmp_path / f"benchmarks-{chart}.png").stat().st_size > 0
        assert f"(benchmarks-{chart}.png)" in page


def test_the_figures_file_feeds_the_capacity_model(results, tmp_path):
    # The figures as data (docs/benchmarks.json): the day the run measured and its stream batches
    from benchmarks import figures
    from benchmarks.capacity_model import load_inputs, run_model

    inputs = load_inputs(figures.write(results, tmp_path))
    assert (inputs.day_charges, inputs.day_customers) == (100, 10)
    assert inputs.day_single_requests == 80
    assert inputs.new_customer_wru == 1.0  # a new customer's registry entry
    measured, modelled = inputs.day_stream_check
    assert abs(measured - modelled) <= 0.1 * measured
    assert inputs.slot_records == 200 and inputs.recompute_charges_per_page > 1_000
    assert run_model(inputs=inputs, scales=(1, 10)).scales[1].monthly_total > 0
