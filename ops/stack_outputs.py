"""A deployed stack's Outputs as the environment variables the operator commands read (``bin/beacon --stack``).

``stack_environment(name)`` reads the stack's tables, queue, API URL and session timeout from its
Outputs, or raises ``StackError`` with a one-line reason (no such stack, no region or credentials,
no answer, not a Beacon stack). ``python -m ops.stack_outputs STACK_NAME`` prints them as
``export NAME=value`` lines; the local stack prints the same names.
"""

import re
import shlex
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

OUTPUT_TO_ENV = {
    "ApiUrl": "BEACON_API_URL",
    "ChargesTableName": "CHARGES_TABLE_NAME",
    "SummariesTableName": "SUMMARIES_TABLE_NAME",
    "ApiKeysTableName": "API_KEYS_TABLE_NAME",
    "IdempotencyTableName": "IDEMPOTENCY_TABLE_NAME",
    "SummarizeFailureQueueUrl": "SUMMARIZE_FAILURE_QUEUE_URL",
    "SessionTimeoutSeconds": "SESSION_TIMEOUT_SECONDS",
    "StreamMaxRecordAgeSeconds": "STREAM_MAX_RECORD_AGE_SECONDS",
    "CustomerJobsQueueUrl": "CUSTOMER_JOBS_QUEUE_URL",
    "ErasureHashKeyId": "ERASURE_HASH_KEY_ID",
}
# Without these a stack is not a Beacon stack: no command could work on it.
REQUIRED_OUTPUTS = ("ChargesTableName", "SummariesTableName", "ApiKeysTableName", "IdempotencyTableName")
# CloudFormation's rule for a stack name; a stack id (its ARN) is accepted too.
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}|arn:[a-z-]+:cloudformation:[^\s]+:stack/[^\s]+")


class StackError(ValueError):
    """The stack cannot be read: the message is one line that says why."""


def check_stack_name(value: str) -> str:
    """A stack name as CloudFormation allows one (letters, digits, '-', starting with a letter), or a stack id."""
    if not _STACK_NAME.fullmatch(value):
        raise ValueError(
            f"stack name {value!r} must be 1-128 characters of A-Z, a-z, 0-9 and '-', starting with a letter"
        )
    return value


def stack_environment(stack_name: str, client: Any = None) -> dict[str, str]:
    """Every variable of ``OUTPUT_TO_ENV`` the stack's Outputs give, by variable name."""
    check_stack_name(stack_name)
    stack = _describe(stack_name, client)
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
    if missing:
        raise StackError(
            f"stack {stack_name} ({stack.get('StackStatus', 'status unknown')}) is not a Beacon charges stack: "
            f"it has no {', '.join(missing)} output"
        )
    return {env_name: outputs[name] for name, env_name in OUTPUT_TO_ENV.items() if name in outputs}


def _describe(stack_name: str, client: Any) -> Any:
    try:
        cloudformation = client or boto3.client("cloudformation")
    except NoRegionError:
        raise StackError(
            f"cannot read stack {stack_name}: no AWS region (set AWS_REGION or your profile's region)"
        ) from None
    try:
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except NoCredentialsError:
        raise StackError(
            f"cannot read stack {stack_name}: no AWS credentials (AWS_PROFILE, or the usual variables)"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        region = cloudformation.meta.region_name
        if error.get("Code") == "ValidationError" and "does not exist" in str(error.get("Message")):
            raise StackError(f"no stack named {stack_name} in {region} (is AWS_REGION the stack's region?)") from None
        raise StackError(f"cannot read stack {stack_name}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise StackError(f"cannot read stack {stack_name}: {exc}") from None


def main(stack_name: str) -> int:
    """Print the stack's variables as ``export`` lines; on failure one line on standard error, exit 2."""
    try:
        environment = stack_environment(stack_name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, value in environment.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m ops.stack_outputs STACK_NAME", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
