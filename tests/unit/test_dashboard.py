"""The operations dashboard of template.yaml charts only metrics that exist, and every one an operator needs.

A metric of the functions' namespace must be one the code emits: its name is found in the layer and the
handlers (every ``add_metric(name=...)``, and Powertools' ``ColdStart`` where a handler captures it), its
dimensions are the ones the code adds. A metric of AWS's namespaces must be one AWS publishes, on a resource of
this stack. And the other way round: every metric the code emits is charted, and every function of the template
has its latency, throttles, concurrency and cold starts on the page, so that a new function or metric shows up
here as a failing test until it is charted.
"""

import ast
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from local.template import ROOT, load_template

TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
VARIABLES = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
NAMESPACE, SERVICE = VARIABLES["POWERTOOLS_METRICS_NAMESPACE"], VARIABLES["POWERTOOLS_SERVICE_NAME"]
FUNCTIONS = sorted(name for name, res in RESOURCES.items() if res["Type"] == "AWS::Serverless::Function")
[DASHBOARD] = [res for res in RESOURCES.values() if res["Type"] == "AWS::CloudWatch::Dashboard"]

# What AWS publishes (its documentation of each service's metrics), with the dimension that names the resource
# and the type of that resource.
AWS_METRICS: dict[str, tuple[set[str], str, str]] = {
    "AWS/Lambda": (
        {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions", "IteratorAge"},
        "FunctionName",
        "AWS::Serverless::Function",
    ),
    "AWS/ApiGateway": ({"Count", "4xx", "5xx", "Latency", "IntegrationLatency"}, "ApiId", "AWS::Serverless::HttpApi"),
    "AWS/SQS": (
        {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent"},
        "QueueName",
        "AWS::SQS::Queue",
    ),
}
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}\s+MetricName=\"(\w+)\"")


@cache
def widgets() -> list[dict[str, Any]]:
    """The dashboard's widgets, each ``${X}`` of the !Sub written ``<X>`` (a bare number parameter: 0)."""
    body = DASHBOARD["Properties"]["DashboardBody"]["Fn::Sub"]
    body = re.sub(r":\s*\$\{[^}]*\}", ": 0", body)
    document = json.loads(re.sub(r"\$\{([^}]*)\}", r"<\1>", body))
    found: list[dict[str, Any]] = document["widgets"]
    return found


def charted() -> Iterator[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, metric, dimensions, options) of every metric the dashboard charts, searches included."""
    for widget in widgets():
        for entry in widget.get("properties", {}).get("metrics", []):
            options = entry[-1] if isinstance(entry[-1], dict) else {}
            if "expression" in options:
                for found in SEARCH.finditer(options["expression"]):
                    namespace, *dimensions = (part.strip() for part in found[1].split(","))
                    yield namespace, found[2], dict.fromkeys(dimensions, "*"), options
                continue
            namespace, metric, *pairs = [part for part in entry if isinstance(part, str)]
            yield namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True)), options


def _calls(path: Path) -> Iterator[ast.Call]:
    yield from (node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Call))


def _keyword(call: ast.Call, name: str) -> Any:
    return next((k.value.value for k in call.keywords if k.arg == name and isinstance(k.value, ast.Constant)), None)


@cache
def emitted() -> dict[str, set[frozenset[str]]]:
    """Metric name -> the dimension sets the code emits it with, read from the layer and the handlers."""
    sources = [*(ROOT / "layers" / "common" / "beacon").rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]
    names: set[str] = set()
    extra_dimensions: set[str] = set()
    cold_start = False
    for path in sources:
        for call in _calls(path):
            method = call.func.attr if isinstance(call.func, ast.Attribute) else ""
            if method == "add_metric" and _keyword(call, "name"):
                names.add(_keyword(call, "name"))
            elif method == "add_dimensions":
                extra_dimensions |= {k.arg for k in call.keywords if k.arg}
            elif method == "log_metrics" and _keyword(call, "capture_cold_start_metric") is True:
                cold_start = True
    sets = {frozenset({"service"}), frozenset({"service"} | extra_dimensions)}
    found: dict[str, set[frozenset[str]]] = dict.fromkeys(names, sets)
    if cold_start:  # Powertools: one ColdStart per function, with the function's name and the service
        found["ColdStart"] = {frozenset({"function_name", "service"})}
    return found


def test_the_code_emits_metrics_to_find():
    assert {"ChargesAccepted", "ChargesRejected", "SummaryLag", "ColdStart"} <= set(emitted())


@pytest.mark.parametrize("namespace, metric, dimensions, options", list(charted()))
def test_every_metric_charted_is_one_the_functions_emit_or_aws_publishes(namespace, metric, dimensions, options):
    if namespace == NAMESPACE:
        assert metric in emitted(), f"{metric}: no code emits it"
        assert frozenset(dimensions) in emitted()[metric], f"{metric}: the code never emits it with {dimensions}"
        assert dimensions["service"] in (SERVICE, "*"), f"{metric}: service {dimensions['service']}"  # *: a search
        if "function_name" in dimensions:
            assert dimensions["function_name"].strip("<>") in FUNCTIONS, dimensions
        return
    assert namespace in AWS_METRICS, f"{namespace}: neither the functions' namespace nor one of AWS's"
    metrics, dimension, resource_type = AWS_METRICS[namespace]
    assert metric in metrics, f"{namespace} publishes no {metric}"
    assert list(dimensions) == [dimension], (metric, dimensions)
    target = dimensions[dimension].strip("<>").split(".")[0]
    assert RESOURCES[target]["Type"] == resource_type, (metric, target)


def test_every_metric_the_functions_emit_is_charted():
    on_page = {metric for namespace, metric, _, _ in charted() if namespace == NAMESPACE}
    assert set(emitted()) - on_page == set()


def test_charges_refused_and_error_answers_are_charted_by_status():
    searched = {metric for _, metric, dimensions, _ in charted() if "status" in dimensions}
    assert {"ChargesRejected", "ErrorResponses"} <= searched


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_its_latency_throttles_concurrency_and_cold_starts_on_the_page(function):
    of_function = [
        (metric, options.get("stat"))
        for _, metric, dimensions, options in charted()
        if f"<{function}>" in (dimensions.get("FunctionName"), dimensions.get("function_name"))
    ]
    assert {("Duration", "p50"), ("Duration", "p99")} <= set(of_function), function
    assert {"Throttles", "Errors", "ConcurrentExecutions", "ColdStart"} <= {metric for metric, _ in of_function}


def test_the_stream_iterator_age_summary_lag_batch_failures_and_failure_queue_are_on_the_page():
    consumers = {
        name
        for name in FUNCTIONS
        if any(e["Type"] == "DynamoDB" for e in RESOURCES[name]["Properties"].get("Events", {}).values())
    }
    queues = {name for name, res in RESOURCES.items() if res["Type"] == "AWS::SQS::Queue"}
    on_page = {(metric, value) for _, metric, dimensions, _ in charted() for value in dimensions.values()}
    assert consumers and queues
    for consumer in consumers:
        assert ("IteratorAge", f"<{consumer}>") in on_page
    for queue in queues:
        assert ("ApproximateNumberOfMessagesVisible", f"<{queue}.QueueName>") in on_page
    assert {"SummaryLag", "SummaryFailures"} <= {metric for metric, _ in on_page}


def test_the_dashboard_is_an_output():
    output = TEMPLATE["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    [logical_id] = [name for name, res in RESOURCES.items() if res is DASHBOARD]
    assert f"${{{logical_id}}}" in output
