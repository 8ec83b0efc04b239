"""env.json, the `--env-vars` file of `make invoke`: the local stack's tables and its DynamoDB, as containers see it."""

import json

from local.stack import STACK_NAME, StackSettings
from local.template import ROOT, template
from tests.conftest import table_env_names


def test_env_json_gives_every_table_variable_the_local_stacks_table_and_points_boto3_at_its_dynamodb():
    variables = json.loads((ROOT / "env.json").read_text(encoding="utf-8"))["Parameters"]
    assert variables == {
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://host.docker.internal:{StackSettings().dynamodb_port}",
        **{name: f"{STACK_NAME}-{logical_id}" for name, logical_id in table_env_names().items()},
    }


def test_the_endpoint_variable_is_declared_for_sam_local_and_never_set_in_aws():
    # SAM's --env-vars only sets variables the template declares; !Ref AWS::NoValue leaves it out in AWS.
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AWS_ENDPOINT_URL_DYNAMODB"] == {"Ref": "AWS::NoValue"}
