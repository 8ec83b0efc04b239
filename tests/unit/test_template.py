"""The template's non-negotiables, read from template.yaml itself (local.template.load_template).

Each test names the property it protects: stream processing that cannot drop or loop, a log group
with retention per function, least privilege, data at rest encrypted and recoverable, one runtime
and one architecture, throttling, tracing and alarms.
"""

import re
from typing import Any

import pytest

from beacon.settings import Settings
from local.template import ROOT, load_template

TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
PARAMETERS: dict[str, dict[str, Any]] = TEMPLATE["Parameters"]
GLOBALS: dict[str, Any] = TEMPLATE["Globals"]["Function"]

DATA_TABLES = ("ChargesTable", "SummariesTable", "ApiKeysTable")
# Actions that IAM only grants on "*": they have no resource-level permissions.
ONLY_ON_ANY_RESOURCE = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}
# Access-log variables that identify a request without carrying what the client sent (no query
# string, no headers, no body): a key sent as ?api_key= must never reach the logs.
ACCESS_LOG_VARIABLES = {
    "$context.requestId",
    "$context.identity.sourceIp",
    "$context.requestTime",
    "$context.routeKey",
    "$context.status",
    "$context.responseLength",
    "$context.responseLatency",
    "$context.integrationErrorMessage",
}


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in RESOURCES.items() if res["Type"] == resource_type}


FUNCTIONS = of_type("AWS::Serverless::Function")
TABLES = of_type("AWS::DynamoDB::Table")
ALARMS = of_type("AWS::CloudWatch::Alarm")


def ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def stream_sources() -> list[tuple[str, dict[str, Any]]]:
    """(name, properties) of every stream event source: SAM DynamoDB/Kinesis events and raw mappings."""
    sources = [
        (f"{fn}.{event}", spec["Properties"])
        for fn, res in FUNCTIONS.items()
        for event, spec in res["Properties"].get("Events", {}).items()
        if spec["Type"] in ("DynamoDB", "Kinesis")
    ]
    sources += [(name, res["Properties"]) for name, res in of_type("AWS::Lambda::EventSourceMapping").items()]
    return sources


def unconditional(items: list[Any]) -> list[dict[str, Any]]:
    """A statement list with each ``!If [condition, a, b]`` replaced by what either branch may put there."""
    found: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict) and "Fn::If" in item:
            found += [branch for branch in item["Fn::If"][1:] if branch != {"Ref": "AWS::NoValue"}]
        else:
            found.append(item)
    return found


def statements() -> list[tuple[str, dict[str, Any]]]:
    """(owner, statement) of every IAM statement written in the template (SAM Policies and IAM/SQS/SNS policies)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name, res in FUNCTIONS.items():
        for policy in res["Properties"].get("Policies", []):
            found += [(name, s) for s in unconditional(policy.get("Statement", []))] if isinstance(policy, dict) else []
    for name, res in RESOURCES.items():
        props = res.get("Properties", {})
        documents = [props.get("PolicyDocument"), props.get("AssumeRolePolicyDocument")]
        documents += [p.get("PolicyDocument") for p in props.get("Policies", []) if isinstance(p, dict)]
        if res["Type"] != "AWS::Serverless::Function":
            found += [
                (name, s) for doc in documents if isinstance(doc, dict) for s in unconditional(doc.get("Statement", []))
            ]
    return found


def target_of(value: Any) -> str | None:
    """The logical id that ``!Ref X`` or ``!GetAtt X.Attr`` points at."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return ref(value)


def targets_of(value: Any) -> set[str]:
    """Logical ids a resource ARN names: ``!GetAtt X.Arn``, ``!Ref X`` or ``!Sub "${X.StreamArn}..."``."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        source = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return set(re.findall(r"\$\{([A-Za-z0-9]+)[.}]", source))
    target = target_of(value)
    return {target} if target else set()


def queue_name(queue: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [queue, "QueueName"]}


def alarms_on(metric: str, dimension: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in ALARMS.values()
        if a["Properties"].get("MetricName") == metric and dimension in a["Properties"].get("Dimensions", [])
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- stream processing


@pytest.mark.parametrize(("name", "props"), stream_sources(), ids=[name for name, _ in stream_sources()])
def test_every_stream_source_reports_partial_failures_bisects_and_cannot_drop_records_silently(name, props):
    assert "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []), f"{name}: ReportBatchItemFailures"
    assert props.get("BisectBatchOnFunctionError") is True, f"{name}: bisect on error"
    retries = props.get("MaximumRetryAttempts")
    assert isinstance(retries, int) and 0 <= retries <= 10, f"{name}: a retry cap (default -1 retries forever)"
    age = props.get("MaximumRecordAgeInSeconds")
    if isinstance(age, dict):  # a parameter: its bounds must hold whatever a deploy passes
        parameter = PARAMETERS[age["Ref"]]
        assert parameter["MinValue"] >= 60 and parameter["MaxValue"] <= 604_800, f"{name}: a bounded record age"
        age = parameter["Default"]
    assert isinstance(age, int) and 60 <= age <= 86_400, f"{name}: a maximum record age (-1 keeps them a day)"
    on_failure = props.get("DestinationConfig", {}).get("OnFailure", {})
    assert on_failure.get("Destination"), f"{name}: an on-failure destination"
    filters = props.get("FilterCriteria", {}).get("Filters", [])
    assert filters and all(f.get("Pattern") for f in filters), f"{name}: a FilterCriteria"


def test_the_summarizer_runs_as_many_batches_per_shard_as_a_parameter_says_one_by_default():
    # docs/capacity.md: the first lever once the stream falls behind; Lambda accepts 1 to 10.
    [(name, props)] = [(n, p) for n, p in stream_sources() if n.startswith("SummarizeChargesFunction.")]
    assert ref(props.get("ParallelizationFactor")) == "StreamParallelizationFactor", name
    parameter = PARAMETERS["StreamParallelizationFactor"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (1, 1, 10)


def test_a_stream_table_has_a_consumer_for_its_stream():
    streamed = {name for name, table in TABLES.items() if "StreamSpecification" in table["Properties"]}
    consumed = {target_of(props.get("Stream")) for _, props in stream_sources()}
    assert streamed <= consumed, f"tables whose stream nobody reads: {streamed - consumed}"


def test_every_on_failure_queue_is_encrypted_and_alarmed_when_not_empty():
    queues = {target_of(props["DestinationConfig"]["OnFailure"]["Destination"]) for _, props in stream_sources()}
    assert queues, "no on-failure queue"
    for queue in queues:
        assert RESOURCES[queue]["Type"] == "AWS::SQS::Queue"
        props = RESOURCES[queue]["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), f"{queue}: SSE"
        [alarm] = alarms_on("ApproximateNumberOfMessagesVisible", {"Name": "QueueName", "Value": queue_name(queue)})
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Threshold"] == 0
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_every_stream_consumer_has_an_iterator_age_alarm_in_seconds_of_a_threshold_parameter():
    consumers = {name.split(".")[0] for name, _ in stream_sources() if "." in name}
    assert consumers
    for function in consumers:
        [alarm] = [
            a["Properties"]
            for a in ALARMS.values()
            for m in a["Properties"].get("Metrics", [])
            if m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "IteratorAge"
            and m["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
        ]
        metrics = {m["Id"]: m for m in alarm["Metrics"]}
        assert metrics["age"]["MetricStat"]["Metric"]["Namespace"] == "AWS/Lambda"
        assert metrics["age"]["MetricStat"]["Stat"] == "Maximum"
        # IteratorAge is in milliseconds; the parameter is in seconds.
        assert metrics["seconds"]["Expression"] == "age / 1000"
        assert ref(alarm["Threshold"]) == "IteratorAgeAlarmSeconds"
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


# ---------------------------------------------------------------- functions


def test_every_function_has_its_own_log_group_with_retention():
    groups = {}
    for name, res in FUNCTIONS.items():
        group = ref(res["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        assert group in RESOURCES, f"{name}: LoggingConfig.LogGroup should !Ref a log group of the template"
        assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
        assert RESOURCES[group]["Properties"].get("RetentionInDays"), f"{group}: retention"
        groups[group] = [*groups.get(group, []), name]
    shared = {group: names for group, names in groups.items() if len(names) > 1}
    assert not shared, f"functions sharing a log group: {shared}"


def test_one_runtime_and_one_architecture_everywhere_and_the_layer_is_built_for_it():
    assert GLOBALS["Runtime"] == "python3.13"
    [architecture] = GLOBALS["Architectures"]
    for name, res in FUNCTIONS.items():
        assert res["Properties"].get("Runtime", "python3.13") == "python3.13", name
        assert res["Properties"].get("Architectures", [architecture]) == [architecture], name
    layers = of_type("AWS::Serverless::LayerVersion")
    assert layers
    # layers/common/Makefile builds the layer: its wheels for the functions' architecture and Python
    makefile = (ROOT / "layers" / "common" / "Makefile").read_text(encoding="utf-8")
    platform = re.search(r"^PLATFORM \?= manylinux\w+_(\w+)$", makefile, re.MULTILINE)
    assert platform and {"aarch64": "arm64"}.get(platform.group(1), platform.group(1)) == architecture
    assert "--python-version 3.13 " in makefile
    for name, layer in layers.items():
        assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": architecture}, name
        assert layer["Properties"]["ContentUri"] == "layers/common/", name
        assert layer["Properties"]["CompatibleArchitectures"] == [architecture], name
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"], name


def test_functions_log_json_at_levels_of_parameters_and_name_their_metrics_namespace_and_service():
    # Lambda's advanced logging controls: JSON, the functions' level and the platform's as parameters
    assert GLOBALS["LoggingConfig"]["LogFormat"] == "JSON"
    assert ref(GLOBALS["LoggingConfig"]["ApplicationLogLevel"]) == "LogLevel"
    assert ref(GLOBALS["LoggingConfig"]["SystemLogLevel"]) == "SystemLogLevel"
    assert PARAMETERS["LogLevel"]["Default"] == "INFO"
    # never above INFO: the metrics' EMF lines carry no level, and Lambda files them at INFO
    assert set(PARAMETERS["LogLevel"]["AllowedValues"]) <= {"TRACE", "DEBUG", "INFO"}
    assert set(PARAMETERS["SystemLogLevel"]["AllowedValues"]) == {"DEBUG", "INFO", "WARN"}
    variables = GLOBALS["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert ref(variables["POWERTOOLS_LOG_LEVEL"]) == "LogLevel"
    for name, res in FUNCTIONS.items():
        assert "LoggingConfig" not in res["Properties"] or set(res["Properties"]["LoggingConfig"]) == {"LogGroup"}, name


def test_tracing_is_a_parameter_and_the_xray_sdk_an_opt_in_of_its_own():
    assert ref(GLOBALS["Tracing"]) == "Tracing"
    assert set(PARAMETERS["Tracing"]["AllowedValues"]) == {"Active", "PassThrough"}
    assert all("Tracing" not in res["Properties"] for res in FUNCTIONS.values())
    # Powertools' Tracer (and with it the X-Ray SDK) only when TracingSubsegments says so
    assert PARAMETERS["TracingSubsegments"]["Default"] == "false"
    assert GLOBALS["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingSdkSubsegments", "false", "true"]
    }
    assert TEMPLATE["Conditions"]["TracingSdkSubsegments"] == {"Fn::Equals": [{"Ref": "TracingSubsegments"}, "true"]}
    # and a role may send traces only when Lambda records them
    assert TEMPLATE["Conditions"]["TracingActive"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}
    for function in FUNCTIONS:
        for policy in role_of(function)["Policies"]:
            for item in policy["PolicyDocument"]["Statement"]:
                actions = {a for s in unconditional([item]) for a in as_list(s["Action"]) if a.startswith("xray:")}
                if actions:
                    assert item["Fn::If"][0] == "TracingActive", function


def test_reserved_concurrency_is_a_parameter_off_by_default():
    assert PARAMETERS["ReservedConcurrency"]["Default"] == 0
    assert GLOBALS["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert TEMPLATE["Conditions"]["HasReservedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "0"]}]
    }


# ---------------------------------------------------------------- least privilege


def role_of(function: str) -> dict[str, Any]:
    role = target_of(FUNCTIONS[function]["Properties"].get("Role"))
    assert role in RESOURCES and RESOURCES[role]["Type"] == "AWS::IAM::Role", (
        f"{function}: Role: !GetAtt <its role>.Arn"
    )
    return RESOURCES[role]["Properties"]


def granted(function: str) -> list[tuple[str, Any]]:
    """(action, resource) pairs the function's role allows."""
    return [
        (action, resource)
        for policy in role_of(function)["Policies"]
        for statement in unconditional(policy["PolicyDocument"]["Statement"])
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_has_its_own_role_with_no_managed_policy(function):
    # Without Role, SAM attaches AWSLambdaBasicExecutionRole (logs on "*") and, for a stream,
    # AWSLambdaDynamoDBExecutionRole (every stream of the account): broader than what a function uses.
    props = FUNCTIONS[function]["Properties"]
    assert "Policies" not in props, f"{function}: put its statements in its role"
    role = role_of(function)
    assert "ManagedPolicyArns" not in role
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert (trust["Principal"], trust["Action"]) == ({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole")
    others = {target_of(f["Properties"].get("Role")) for name, f in FUNCTIONS.items() if name != function}
    assert target_of(props["Role"]) not in others, f"{function} shares its role"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_function_writes_logs_only_to_its_own_log_group(function):
    own = FUNCTIONS[function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    logs = [(action, resource) for action, resource in granted(function) if action.startswith("logs:")]
    assert sorted(action for action, _ in logs) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert all(resource == {"Fn::GetAtt": [own, "Arn"]} for _, resource in logs), logs


def test_no_statement_grants_a_wildcard_action_or_a_wildcard_resource_iam_does_not_require():
    found = statements()
    assert found
    for owner, statement in found:
        actions = as_list(statement.get("Action", []))
        resources = as_list(statement.get("Resource", []))
        assert statement.get("Effect") == "Allow", f"{owner}: {statement}"
        assert all(isinstance(a, str) and "*" not in a for a in actions), f"{owner}: wildcard action in {statement}"
        if "*" in resources:
            assert set(actions) <= ONLY_ON_ANY_RESOURCE, f"{owner}: wildcard resource in {statement}"


def test_the_only_wildcards_are_the_kms_key_policy_ones_aws_requires():
    # A key policy's Resource is always "*" (the key itself); the account root keeps kms:* as in AWS's
    # default key policy, so that the key stays manageable through IAM. Services get named actions only.
    # KMS rotates encryption keys only: the HMAC key that hashes erased identities keeps its material.
    for name, key in of_type("AWS::KMS::Key").items():
        if key["Properties"].get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT":
            assert key["Properties"]["EnableKeyRotation"] is True, name
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            principal = statement["Principal"]
            if statement["Action"] == "kms:*":
                assert principal == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
            else:
                assert principal == {"Service": "cloudwatch.amazonaws.com"}, statement
                assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"], statement


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_resource_a_function_may_touch_is_one_of_this_stack(function):
    for action, resource in granted(function):
        if resource == "*":
            continue
        assert targets_of(resource) & RESOURCES.keys(), f"{function}: {action} on {resource}, not of this stack"
        assert action.split(":")[0] in ("dynamodb", "sqs", "logs", "kms"), (function, action)


def test_the_write_path_never_changes_keys_or_summaries():
    writes = {"dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    for function in ("CreateChargeFunction", "BulkChargesFunction"):
        for action, resource in granted(function):
            if action in writes:
                assert target_of(resource) in ("ChargesTable", "IdempotencyTable"), (function, action, resource)
    assert {target_of(r) for a, r in granted("GetSummaryFunction") if a.startswith("dynamodb:")} == {
        "SummariesTable",
        "ApiKeysTable",
    }
    assert {a for a, _ in granted("GetSummaryFunction") if a.startswith("dynamodb:")} == {"dynamodb:GetItem"}


def test_a_stream_consumer_reads_only_its_stream_and_sends_only_to_its_failure_and_jobs_queues():
    for name, props in stream_sources():
        function = name.split(".")[0]
        allowed = granted(function)
        stream_reads = {a for a, r in allowed if r == props["Stream"]}
        assert stream_reads == {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
        destination = props["DestinationConfig"]["OnFailure"]["Destination"]
        # the jobs queue it hands recomputes to is the one its environment names
        jobs_queue = RESOURCES[function]["Properties"]["Environment"]["Variables"]["CUSTOMER_JOBS_QUEUE_URL"]["Ref"]
        sends = [r for a, r in allowed if a.startswith("sqs:")]
        assert sends == [destination, {"Fn::GetAtt": [jobs_queue, "Arn"]}]
        assert {a for a, r in allowed if a.startswith("sqs:")} == {"sqs:SendMessage"}


def test_the_jobs_queue_feeds_one_function_retries_a_job_then_keeps_it_in_a_dead_letter_queue():
    [(function, props)] = [
        (fn, spec["Properties"])
        for fn, res in FUNCTIONS.items()
        for spec in res["Properties"].get("Events", {}).values()
        if spec["Type"] == "SQS"
    ]
    queue = RESOURCES[props["Queue"]["Fn::GetAtt"][0]]["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["VisibilityTimeout"] >= 6 * RESOURCES[function]["Properties"]["Timeout"]
    assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 5
    dead_letters = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    queue_name = {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letters, "QueueName"]}}
    [alarm] = alarms_on("ApproximateNumberOfMessagesVisible", queue_name)
    assert alarm["Threshold"] == 0


# ---------------------------------------------------------------- data at rest


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_has_point_in_time_recovery_and_encryption_at_rest(name):
    props = TABLES[name]["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize("name", DATA_TABLES)
def test_data_tables_are_deletion_protected_by_default_and_retained(name):
    table = TABLES[name]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectData", True, False]}
    assert TEMPLATE["Conditions"]["ProtectData"] == {"Fn::Equals": [{"Ref": "DeletionProtection"}, "true"]}
    assert PARAMETERS["DeletionProtection"]["Default"] == "true"


def test_every_queue_and_topic_is_encrypted():
    for name, queue in of_type("AWS::SQS::Queue").items():
        props = queue.get("Properties", {})
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), f"{name}: encrypt it (SSE)"
    topics = of_type("AWS::SNS::Topic")
    assert topics
    for name, topic in topics.items():
        assert ref(topic["Properties"]["KmsMasterKeyId"]) in of_type("AWS::KMS::Key"), name


# ---------------------------------------------------------------- the API


def test_the_api_is_throttled_by_parameters():
    settings = of_type("AWS::Serverless::HttpApi")["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert ref(settings["ThrottlingBurstLimit"]) == "ThrottlingBurstLimit"
    assert ref(settings["ThrottlingRateLimit"]) == "ThrottlingRateLimit"
    assert PARAMETERS["ThrottlingBurstLimit"]["Default"] >= PARAMETERS["ThrottlingRateLimit"]["Default"] > 0


def test_access_logs_go_to_a_log_group_with_retention_and_never_record_query_strings_or_headers():
    access = of_type("AWS::Serverless::HttpApi")["HttpApi"]["Properties"]["AccessLogSettings"]
    group = access["DestinationArn"]["Fn::GetAtt"][0]
    assert RESOURCES[group]["Properties"]["RetentionInDays"]
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", access["Format"]))
    assert variables
    assert variables <= ACCESS_LOG_VARIABLES, f"access logs would record {variables - ACCESS_LOG_VARIABLES}"


# ---------------------------------------------------------------- alarms


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_has_an_errors_and_a_throttles_alarm(function):
    for metric in ("Errors", "Throttles"):
        [alarm] = alarms_on(metric, {"Name": "FunctionName", "Value": {"Ref": function}})
        assert alarm["Namespace"] == "AWS/Lambda"
        assert alarm["Statistic"] == "Sum"
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_api_5xx_rate_has_an_alarm():
    [alarm] = [
        a["Properties"]
        for a in ALARMS.values()
        if any(
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "5xx"
            for m in a["Properties"].get("Metrics", [])
        )
    ]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    for metric_id in ("errors", "requests"):
        metric = metrics[metric_id]["MetricStat"]["Metric"]
        assert metric["Namespace"] == "AWS/ApiGateway"
        assert metric["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]
    assert metrics["rate"]["Expression"] == "IF(requests > 0, errors / requests, 0)"
    assert ref(alarm["Threshold"]) == "Api5xxRateAlarmThreshold"


def test_every_alarm_notifies_the_topic_when_an_alarm_email_is_set():
    topic = {"Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]}
    assert ALARMS
    for name, alarm in ALARMS.items():
        assert alarm["Properties"]["AlarmActions"] == topic, name
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching", name
    assert TEMPLATE["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    for name in ("AlarmTopic", "AlarmTopicKey"):
        assert RESOURCES[name]["Condition"] == "HasAlarmEmail"
    assert RESOURCES["AlarmTopic"]["Properties"]["Subscription"] == [
        {"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}
    ]


def test_every_parameter_is_described():
    for name, parameter in PARAMETERS.items():
        assert len(parameter.get("Description", "").split()) >= 4, f"{name}: describe it (docs/operations.md)"


def test_the_summarizer_knows_the_record_age_its_event_source_mapping_enforces():
    # The window of counted charges (beacon/logic/seen.py) is only as long as the age past which no
    # record is delivered: both read one parameter, which refuses -1 (infinite) at deploy time.
    function = RESOURCES["SummarizeChargesFunction"]["Properties"]
    mapping = function["Events"]["ChargesStream"]["Properties"]
    age = function["Environment"]["Variables"]["STREAM_MAX_RECORD_AGE_SECONDS"]
    assert mapping["MaximumRecordAgeInSeconds"] == age == {"Ref": "StreamMaxRecordAgeSeconds"}
    parameter = PARAMETERS["StreamMaxRecordAgeSeconds"]
    assert parameter["MinValue"] > 0, "-1 (never discard) would make the window of counted charges unbounded"
    settings = Settings.model_fields["stream_max_record_age_seconds"]
    bounds = {type(m).__name__: m for m in settings.metadata}
    assert (bounds["Ge"].ge, bounds["Le"].le) == (parameter["MinValue"], parameter["MaxValue"])
