"""The local stack's functions in lanes: the API's functions one at a time, the stream's beside them.

And what the lanes share of the layer (Powertools' logger and metrics, imported once per process)
stays right when invocations of two lanes run at once.
"""

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.lambdas import API_LANE, Invoker, LocalFunction, lane_of, share_layer_between_lanes
from local.sam import FunctionSpec, functions

WAIT = 5.0  # seconds: far longer than any of these steps takes


def _spec(logical_id: str, event_type: str) -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        code_path=Path("."),
        handler="app.lambda_handler",
        timeout_seconds=3,
        memory_mb=128,
        environment={},
        events={"Trigger": {"Type": event_type, "Properties": {}}},
    )


def _invoker(handlers: dict[str, tuple[str, Callable[[dict[str, Any], Any], Any]]]) -> Invoker:
    return Invoker(
        {
            logical_id: LocalFunction(spec=_spec(logical_id, event_type), handler=handler, region="us-east-1")
            for logical_id, (event_type, handler) in handlers.items()
        }
    )


def _in_thread(target: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_the_templates_api_functions_share_a_lane_and_the_stream_function_has_its_own():
    lanes = {logical_id: lane_of(spec) for logical_id, spec in functions().items()}

    assert lanes["CreateChargeFunction"] == lanes["BulkChargesFunction"] == lanes["GetSummaryFunction"] == API_LANE
    assert lanes["SummarizeChargesFunction"] == "SummarizeChargesFunction"


def test_an_api_request_is_answered_while_a_stream_batch_is_still_running():
    batch_started, batch_may_end = threading.Event(), threading.Event()

    def summarize(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batch_started.set()
        assert batch_may_end.wait(WAIT)
        return {"batchItemFailures": []}

    invoker = _invoker(
        {
            "Summarize": ("DynamoDB", summarize),
            "CreateCharge": ("HttpApi", lambda event, context: {"statusCode": 200, "name": context.function_name}),
        }
    )
    stream = _in_thread(lambda: invoker.invoke("Summarize", {"Records": []}))
    assert batch_started.wait(WAIT)

    # Given a stream batch in progress, when a request comes, then it is answered before the batch ends.
    answered: list[Any] = []
    request = _in_thread(lambda: answered.append(invoker.invoke("CreateCharge", {})))
    request.join(WAIT)
    answered_during_the_batch = list(answered)
    batch_may_end.set()
    stream.join(WAIT)
    request.join(WAIT)

    assert answered_during_the_batch == [{"statusCode": 200, "name": "CreateCharge"}], "it waited for the batch"


def test_two_api_functions_never_run_at_once():
    """Powertools keeps the event being resolved in a class attribute: one for every resolver of the process."""
    first_started, first_may_end = threading.Event(), threading.Event()
    running: list[str] = []

    def create(event: dict[str, Any], context: Any) -> str:
        running.append("create")
        first_started.set()
        assert first_may_end.wait(WAIT)
        running.remove("create")
        return "created"

    def summary(event: dict[str, Any], context: Any) -> list[str]:
        return list(running)

    invoker = _invoker({"CreateCharge": ("HttpApi", create), "GetSummary": ("HttpApi", summary)})
    first = _in_thread(lambda: invoker.invoke("CreateCharge", {}))
    assert first_started.wait(WAIT)
    seen: list[list[str]] = []
    second = _in_thread(lambda: seen.append(invoker.invoke("GetSummary", {})))
    second.join(0.2)
    assert second.is_alive(), "a second API function ran while the first was still running"

    first_may_end.set()
    first.join(WAIT)
    second.join(WAIT)
    assert seen == [[]]


@pytest.fixture
def shared_layer() -> Iterator[None]:
    """``share_layer_between_lanes`` applied to the layer's logger and metrics, and undone afterwards."""
    from beacon.observability import logger, metrics

    formatter = logger.registered_formatter
    formatter_class, keys = type(formatter), dict(formatter.log_format)
    provider_class, provider_attributes = type(metrics.provider), dict(vars(metrics.provider))
    # As at the local stack's start, before any invocation: an earlier test's API event may have left
    # its correlation id among the process's keys (Powertools keeps appended keys between invocations).
    logger.remove_keys(["correlation_id"])
    share_layer_between_lanes()
    share_layer_between_lanes()  # idempotent
    yield
    formatter.__class__ = formatter_class
    formatter.log_format = keys
    metrics.provider.__class__ = provider_class
    for name in set(vars(metrics.provider)) - set(provider_attributes):
        delattr(metrics.provider, name)
    vars(metrics.provider).update(provider_attributes)


def test_each_invocation_logs_its_own_lambda_context_when_two_lanes_run_at_once(shared_layer, capsys):
    from aws_lambda_powertools.logging import correlation_paths

    from beacon.observability import logger
    from local.lambdas import LocalContext

    both_decorated = threading.Barrier(2, timeout=WAIT)
    seen: dict[str, Any] = {}

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def api_handler(event: dict[str, Any], context: Any) -> None:
        both_decorated.wait()  # the stream's invocation has now appended its keys too
        seen["api"] = dict(logger.get_current_keys())

    @logger.inject_lambda_context
    def stream_handler(event: dict[str, Any], context: Any) -> None:
        both_decorated.wait()
        seen["stream"] = dict(logger.get_current_keys())

    def context(name: str) -> LocalContext:
        return LocalContext(function_name=name, memory_limit_in_mb=128, invoked_function_arn="arn", timeout_seconds=3)

    api = _in_thread(lambda: api_handler({"requestContext": {"requestId": "req-1"}}, context("CreateCharge")))
    stream = _in_thread(lambda: stream_handler({"Records": []}, context("Summarize")))
    api.join(WAIT)
    stream.join(WAIT)

    assert seen["api"]["function_name"] == "CreateCharge"
    assert seen["api"]["correlation_id"] == "req-1"
    assert seen["stream"]["function_name"] == "Summarize"
    assert "correlation_id" not in seen["stream"]
    # the keys every thread starts with (the service name the process's environment gave the logger)
    assert seen["api"]["service"] == seen["stream"]["service"] == logger.service


def test_each_lane_writes_its_own_invocation_line_when_two_run_at_once(shared_layer, capsys, monkeypatch):
    """The metrics, dimensions and metadata of one invocation's line are its own, whatever runs beside it."""
    from beacon.observability import metrics, record

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    both_recorded = threading.Barrier(2, timeout=WAIT)

    def invocation(name: str) -> None:
        metrics.add_metric(name=f"{name}Metric", unit="Count", value=1)
        metrics.add_dimensions(service="beacon-charges", status=name)
        record(correlation_id=name)
        both_recorded.wait()  # the other lane has recorded its own meanwhile
        metrics.flush_metrics()

    lanes = [_in_thread(lambda name=name: invocation(name)) for name in ("Api", "Stream")]
    for lane in lanes:
        lane.join(WAIT)

    lines = {line["correlation_id"]: line for line in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(lines) == {"Api", "Stream"}
    for name, line in lines.items():
        [directive] = line["_aws"]["CloudWatchMetrics"]
        assert [metric["Name"] for metric in directive["Metrics"]] == [f"{name}Metric"]
        assert line["status"] == name


def test_metrics_added_by_two_lanes_at_once_never_fail(shared_layer, capsys):
    """Powertools serializes its class-level metric set every 100 values: no other thread may change it meanwhile."""
    import sys

    from beacon.observability import metrics

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a race shows at once
    failures: list[BaseException] = []

    def add(prefix: str) -> None:
        try:
            for n in range(3_000):
                metrics.add_metric(name=f"{prefix}{n % 150}", unit="Count", value=1)
        except BaseException as exc:
            failures.append(exc)

    try:
        threads = [_in_thread(lambda prefix=prefix: add(prefix)) for prefix in ("Api", "Stream")]
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(switch)
        metrics.clear_metrics()

    assert failures == []
