"""What the local stack reads from template.yaml: functions, routes, environment, stream mappings."""

import json

import pytest

from local.sam import (
    LocalResources,
    Route,
    TemplateError,
    environment,
    functions,
    http_routes,
    parameter_values,
    parse_parameter_overrides,
    stream_mappings,
)
from local.template import ROOT, template


def local_resources(**overrides) -> LocalResources:
    document = template()
    resources = LocalResources(
        region="us-east-1",
        stack_name="beacon-local",
        parameters=parameter_values(overrides, document),
        conditions=document.get("Conditions", {}),
    )
    resources.tables = {name: f"beacon-local-{name}" for name in ("ChargesTable", "SummariesTable", "ApiKeysTable")}
    resources.tables["IdempotencyTable"] = "beacon-local-IdempotencyTable"
    resources.table_stream_arns = {"ChargesTable": "arn:aws:dynamodb:us-east-1:123456789012:table/c/stream/1"}
    resources.queue_urls = {
        name: f"http://127.0.0.1:8000/123456789012/beacon-local-{name}"
        for name in ("FailureQueue", "SummarizeFailureQueue", "CustomerJobsQueue", "CustomerJobsDeadLetterQueue")
    }
    resources.key_arns = {"ErasureHashKey": "arn:aws:kms:us-east-1:123456789012:key/0b7e-erasure"}
    resources.key_names = {"ErasureHashKey": "alias/beacon-local-ErasureHashKey"}
    return resources


def test_every_function_of_the_template_is_found_with_its_globals_and_handler_file():
    specs = functions()
    create = specs["CreateChargeFunction"]
    assert create.module_path == ROOT / "functions" / "create_charge" / "app.py"
    assert create.module_path.is_file()
    assert create.attribute == "lambda_handler"
    assert create.timeout_seconds == template()["Globals"]["Function"]["Timeout"]
    assert specs["BulkChargesFunction"].timeout_seconds == 29  # its own Timeout wins over the Globals'
    assert "CHARGES_TABLE_NAME" in create.environment  # from Globals


def test_routes_are_the_template_http_api_events_with_default_last():
    routes = http_routes(functions())
    assert Route("CreateChargeFunction", "POST", "/charges") in routes
    assert Route("BulkChargesFunction", "POST", "/charges/bulk") in routes
    assert routes[-1] == Route("CreateChargeFunction", "ANY", "$default")
    assert routes[-1].route_key == "$default"


def test_a_route_matches_its_method_and_path_and_extracts_parameters():
    assert Route("F", "POST", "/charges").match("POST", "/charges") == {}
    assert Route("F", "POST", "/charges").match("GET", "/charges") is None
    assert Route("F", "POST", "/charges").match("POST", "/charges/bulk") is None
    assert Route("F", "GET", "/customers/{id}").match("GET", "/customers/42") == {"id": "42"}
    assert Route("F", "ANY", "/files/{path+}").match("PUT", "/files/a/b") == {"path": "a/b"}


def test_literal_routes_win_over_parameters_and_greedy_ones():
    literal, param, greedy = Route("A", "GET", "/x/y"), Route("B", "GET", "/x/{id}"), Route("C", "GET", "/{p+}")
    ordered = sorted([greedy, param, literal], key=lambda r: r.specificity, reverse=True)
    assert ordered == [literal, param, greedy]


def test_environment_resolves_tables_and_parameter_defaults():
    resources = local_resources()
    env = environment(functions(), resources)
    assert env["CHARGES_TABLE_NAME"] == "beacon-local-ChargesTable"
    assert env["API_KEYS_TABLE_NAME"] == "beacon-local-ApiKeysTable"
    default_ttl = template()["Parameters"]["ApiKeyCacheTtlSeconds"]["Default"]
    assert env["API_KEY_CACHE_TTL_SECONDS"] == str(default_ttl)
    assert env["ERASURE_HASH_KEY_ID"] == "alias/beacon-local-ErasureHashKey"  # !Ref of a KMS key: its alias here


def test_parameter_overrides_replace_defaults_and_unknown_ones_are_refused():
    assert parse_parameter_overrides("LogLevel=DEBUG Stage=local") == {
        "LogLevel": "DEBUG",
        "Stage": "local",
    }
    env = environment(functions(), local_resources(LogLevel="DEBUG"))
    assert env["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    with pytest.raises(TemplateError, match="NoSuchParameter"):
        parameter_values({"NoSuchParameter": "1"})
    with pytest.raises(TemplateError, match="Name=Value"):
        parse_parameter_overrides("LogLevel")


def test_intrinsics_resolve_against_local_resources():
    resources = local_resources()
    resources.conditions = {
        "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
        "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]},
    }
    resolved = resources.resolve(
        {
            "Arn": {"Fn::GetAtt": ["ChargesTable", "Arn"]},
            "Stream": {"Fn::GetAtt": ["ChargesTable", "StreamArn"]},
            "Queue": {"Ref": "FailureQueue"},
            "QueueArn": {"Fn::GetAtt": ["FailureQueue", "Arn"]},
            "Sub": {"Fn::Sub": "${AWS::StackName}-${Stage}-${ChargesTable}"},
            "If": {"Fn::If": ["NotDev", "prod", "dev"]},
            "Gone": {"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, "kept"]},
            "Joined": {"Fn::Join": ["/", ["a", {"Ref": "AWS::Region"}]]},
        }
    )
    assert resolved == {
        "Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/beacon-local-ChargesTable",
        "Stream": "arn:aws:dynamodb:us-east-1:123456789012:table/c/stream/1",
        "Queue": "http://127.0.0.1:8000/123456789012/beacon-local-FailureQueue",
        "QueueArn": "arn:aws:sqs:us-east-1:123456789012:beacon-local-FailureQueue",
        "Sub": "beacon-local-dev-beacon-local-ChargesTable",
        "If": "dev",
        "Joined": "a/us-east-1",
    }
    with pytest.raises(TemplateError, match="Nowhere"):
        resources.resolve({"Ref": "Nowhere"})
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        resources.resolve({"Fn::ImportValue": "x"})


def test_two_functions_giving_one_variable_different_values_is_an_error():
    specs = functions()
    create, bulk = specs["CreateChargeFunction"], specs["BulkChargesFunction"]
    conflicting = {
        "CreateChargeFunction": create,
        "BulkChargesFunction": type(bulk)(**{**bulk.__dict__, "environment": {**bulk.environment, "LOG": "b"}}),
        "Other": type(bulk)(**{**bulk.__dict__, "logical_id": "Other", "environment": {"LOG": "c"}}),
    }
    with pytest.raises(TemplateError, match="LOG"):
        environment(conflicting, local_resources())


def test_a_stream_event_becomes_a_mapping_with_lambda_defaults_where_the_template_is_silent():
    document = {
        "Resources": {
            "SummarizeFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "functions/create_charge/",
                    "Handler": "app.lambda_handler",
                    "Events": {
                        "Full": {
                            "Type": "DynamoDB",
                            "Properties": {
                                "Stream": {"Fn::GetAtt": ["ChargesTable", "StreamArn"]},
                                "StartingPosition": "LATEST",
                                "BatchSize": 50,
                                "MaximumBatchingWindowInSeconds": 1,
                                "ParallelizationFactor": {"Ref": "StreamParallelizationFactor"},
                                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                                "BisectBatchOnFunctionError": True,
                                "MaximumRetryAttempts": 3,
                                "MaximumRecordAgeInSeconds": 3600,
                                "DestinationConfig": {
                                    "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}
                                },
                                "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]},
                            },
                        },
                        "Bare": {
                            "Type": "DynamoDB",
                            "Properties": {
                                "Stream": {"Fn::GetAtt": ["ChargesTable", "StreamArn"]},
                                "StartingPosition": "TRIM_HORIZON",
                            },
                        },
                    },
                },
            }
        }
    }
    full, bare = stream_mappings(functions(document), local_resources(StreamParallelizationFactor="4"))
    assert (full.table, full.function, full.starting_position) == ("ChargesTable", "SummarizeFunction", "LATEST")
    assert (full.batch_size, full.batching_window_seconds, full.parallelization_factor) == (50, 1, 4)
    assert full.filters == ({"eventName": ["INSERT"]},)
    assert full.report_batch_item_failures and full.bisect_on_error
    assert (full.maximum_retry_attempts, full.maximum_record_age_seconds) == (3, 3600)
    assert full.on_failure_destination == "arn:aws:sqs:us-east-1:123456789012:beacon-local-FailureQueue"
    assert (bare.batch_size, bare.batching_window_seconds, bare.filters) == (100, 0, ())
    assert bare.parallelization_factor == 1
    assert not bare.report_batch_item_failures and not bare.bisect_on_error
    assert (bare.maximum_retry_attempts, bare.maximum_record_age_seconds) == (-1, -1)
    assert bare.on_failure_destination is None
