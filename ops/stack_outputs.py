"""Prints `export NAME=value` lines for the tables, queue and API URL of a deployed stack, read from its Outputs.

``python -m ops.stack_outputs STACK_NAME`` (what ``bin/beacon --stack`` runs); the local stack prints the same names.
"""

import shlex
import sys

import boto3

OUTPUT_TO_ENV = {
    "ApiUrl": "BEACON_API_URL",
    "ChargesTableName": "CHARGES_TABLE_NAME",
    "SummariesTableName": "SUMMARIES_TABLE_NAME",
    "ApiKeysTableName": "API_KEYS_TABLE_NAME",
    "IdempotencyTableName": "IDEMPOTENCY_TABLE_NAME",
    "SummarizeFailureQueueUrl": "SUMMARIZE_FAILURE_QUEUE_URL",
    "SessionTimeoutSeconds": "SESSION_TIMEOUT_SECONDS",
    "StreamMaxRecordAgeSeconds": "STREAM_MAX_RECORD_AGE_SECONDS",
}


def main(stack_name: str) -> int:
    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    for output in stack.get("Outputs", []):
        env_name = OUTPUT_TO_ENV.get(output["OutputKey"])
        if env_name:
            print(f"export {env_name}={shlex.quote(output['OutputValue'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
