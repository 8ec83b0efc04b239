"""env.json, the `--env-vars` file of `make invoke`: the local stack's resources and endpoint, seen from containers."""

import json

from local.sam import ACCOUNT_ID
from local.stack import STACK_NAME, StackSettings
from local.template import ROOT, template
from tests.conftest import table_env_names


def test_env_json_names_the_local_stacks_tables_queue_and_key_and_points_boto3_at_its_endpoint():
    variables = json.loads((ROOT / "env.json").read_text(encoding="utf-8"))["Parameters"]
    endpoint = f"http://host.docker.internal:{StackSettings().dynamodb_port}"
    assert variables == {
        "AWS_ENDPOINT_URL": endpoint,
        **{name: f"{STACK_NAME}-{logical_id}" for name, logical_id in table_env_names().items()},
        "CUSTOMER_JOBS_QUEUE_URL": f"{endpoint}/{ACCOUNT_ID}/{STACK_NAME}-CustomerJobsQueue",
        "ERASURE_HASH_KEY_ID": f"alias/{STACK_NAME}-ErasureHashKey",  # the local stack's alias of the key
    }


def test_every_resource_a_function_is_told_of_is_named_in_env_json():
    # A variable the template sets to a resource of the stack (!Ref) that env.json leaves out would send
    # a function under `sam local` to the logical id instead of the local stack's resource.
    named = json.loads((ROOT / "env.json").read_text(encoding="utf-8"))["Parameters"]
    document = template()
    declared = dict(document["Globals"]["Function"]["Environment"]["Variables"])
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            declared.update(resource["Properties"].get("Environment", {}).get("Variables", {}))
    resources = document["Resources"].keys()
    told = {name for name, value in declared.items() if isinstance(value, dict) and value.get("Ref") in resources}
    assert told <= named.keys()


def test_the_endpoint_variable_is_declared_for_sam_local_and_never_set_in_aws():
    # SAM's --env-vars only sets variables the template declares; !Ref AWS::NoValue leaves it out in AWS.
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AWS_ENDPOINT_URL"] == {"Ref": "AWS::NoValue"}
