"""What each function loads at init: a fresh interpreter imports its handler module with Lambda's environment.

The environment is the one the cold-start benchmark gives a function (``benchmarks.cold_start``): the template's
variables with its parameters at their defaults (or overridden), ``LAMBDA_TASK_ROOT``, an X-Ray trace header
as Lambda sets it, the layer and the function's code on the path. Nothing is timed here: what is checked is
which modules are loaded.
"""

import json
import subprocess
import sys
from collections.abc import Mapping

import pytest

from benchmarks.cold_start import SDK_SUBSEGMENTS, lambda_environment
from benchmarks.functions import FunctionSpec, function_specs
from local.template import ROOT

SPECS = {spec.logical_id: spec for spec in function_specs()}
SDK_SPECS = {spec.logical_id: spec for spec in function_specs(SDK_SUBSEGMENTS)}
INIT = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
from beacon.observability import tracer
print(json.dumps({"modules": sorted(sys.modules), "tracer": type(tracer).__module__ + "." + type(tracer).__name__}))
"""
XRAY_SDK = ("aws_xray_sdk", "wrapt")


def init(spec: FunctionSpec, extra: Mapping[str, str] | None = None) -> dict[str, object]:
    """The modules loaded once the handler module is imported, and the tracer the layer built."""
    env = lambda_environment(spec) | dict(extra or {})
    env.pop("BENCH_BLOCKED", None)
    run = subprocess.run(
        [sys.executable, "-P", "-c", INIT, spec.module],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    loaded: dict[str, object] = json.loads(run.stdout.splitlines()[-1])
    return loaded


def sdk_modules(loaded: dict[str, object]) -> list[str]:
    modules = loaded["modules"]
    assert isinstance(modules, list)
    return [name for name in modules if name.split(".")[0] in XRAY_SDK]


@pytest.mark.parametrize("function", sorted(SPECS))
def test_no_function_loads_the_xray_sdk_at_init_by_default(function):
    loaded = init(SPECS[function])
    assert sdk_modules(loaded) == []
    assert loaded["tracer"] == "beacon.observability.Untraced"


@pytest.mark.parametrize("function", sorted(SDK_SPECS))
def test_with_tracing_subsegments_the_function_runs_powertools_tracer_and_its_sdk(function):
    loaded = init(SDK_SPECS[function])
    assert "aws_xray_sdk.core" in sdk_modules(loaded)
    assert loaded["tracer"] == "aws_lambda_powertools.tracing.tracer.Tracer"


@pytest.mark.parametrize("function", sorted(SPECS))
def test_a_function_loads_only_the_powertools_resolver_and_event_class_it_uses(function):
    modules = set(init(SPECS[function])["modules"])  # type: ignore[arg-type]
    # AppSync's resolver (and Powertools' batch utility) bring asyncio; each function reads one kind of event
    assert "aws_lambda_powertools.event_handler.appsync" not in modules
    assert "asyncio" not in modules
    events = {
        "aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event",
        "aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event",
        "aws_lambda_powertools.utilities.data_classes.sqs_event",
    }
    assert "aws_lambda_powertools.utilities.data_classes.kinesis_stream_event" not in modules
    assert len(events & modules) <= 1, function  # the jobs function builds its batch processor on its first job


SUMMARY_MODULES = {"beacon.models.summary", "beacon.models.stored", "beacon.dal.summary_items", "beacon.dal.summaries"}


@pytest.mark.parametrize("function", ["CreateChargeFunction", "BulkChargesFunction"])
def test_the_write_functions_load_nothing_of_the_summaries(function):
    modules = set(init(SPECS[function])["modules"])  # type: ignore[arg-type]
    assert modules & SUMMARY_MODULES == set()
    assert "beacon.models.requests" in modules


@pytest.mark.parametrize("function", ["GetSummaryFunction", "EraseCustomerFunction"])
def test_the_customer_endpoints_load_no_model_of_a_charge_body(function):
    modules = set(init(SPECS[function])["modules"])  # type: ignore[arg-type]
    assert "beacon.models.requests" not in modules
    assert "beacon.models.queries" in modules


@pytest.mark.parametrize("function", ["CreateChargeFunction", "BulkChargesFunction"])
def test_pydantic_type_adapter_waits_for_a_body_with_sent_at(function):
    assert "pydantic.type_adapter" not in init(SPECS[function])["modules"]  # type: ignore[operator]
