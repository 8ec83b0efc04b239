"""Fixtures shared by every test: a clean AWS environment and moto tables built from template.yaml."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from beacon.dal import aws
from beacon.dal.api_keys import ApiKeysRepository
from beacon.settings import get_settings
from local.caches import reset_caches
from local.template import table_definitions, template
from ops.keys import new_key_record

PUBLIC_KEY = "pk_local_dev"  # the keys the events/ files and the local stack use
SECRET_KEY = "sk_local_dev"
OTHER_PROJECT_SECRET_KEY = "sk_other_project_key"
PROJECT = "local"
OTHER_PROJECT = "globex"


def table_env_names() -> dict[str, str]:
    """Env var -> table logical id, as template.yaml's Globals wire them (``CHARGES_TABLE_NAME: !Ref ChargesTable``)."""
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    tables = table_definitions()
    return {
        name: value["Ref"]
        for name, value in variables.items()
        if isinstance(value, dict) and value.get("Ref") in tables
    }


_MOTO_LOCK = threading.RLock()


@pytest.fixture(autouse=True, scope="session")
def moto_one_call_at_a_time() -> Iterator[None]:
    """moto's in-process mock answers calls from several threads (the stream function writes a batch's
    customers concurrently) without a lock of its own; AWS serves each call atomically, so here one call
    is served at a time, as the local stack's embedded AWS does (``local.aws.BACKEND_LOCK``)."""
    real = BotocoreStubber.process_request

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with _MOTO_LOCK:
            return real(self, request)

    BotocoreStubber.process_request = one_at_a_time  # type: ignore[method-assign]
    yield
    BotocoreStubber.process_request = real  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "beacon-charges")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "BeaconTest")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for env_name, logical_id in table_env_names().items():
        monkeypatch.setenv(env_name, f"test-{logical_id}")
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without waiting: the one backoff of the code (``beacon.dal.aws.backoff_delay``) returns 0."""
    monkeypatch.setattr(aws, "backoff_delay", lambda attempt: 0.0)


@dataclass
class Tables:
    """The moto tables of one test, by logical id, and a client to look at them."""

    client: Any
    names: dict[str, str]

    def items(self, logical_id: str) -> list[dict[str, Any]]:
        """Every item of a table (a Scan: fine on test-sized tables)."""
        paginator = self.client.get_paginator("scan")
        return [item for page in paginator.paginate(TableName=self.names[logical_id]) for item in page["Items"]]

    def charges(self) -> list[dict[str, Any]]:
        return [item for item in self.items("ChargesTable") if item.get("type", {}).get("S") == "charge"]


def create_tables(client: Any) -> dict[str, str]:
    names = {}
    for logical_id, definition in table_definitions().items():
        name = f"test-{logical_id}"
        client.create_table(TableName=name, **definition)
        names[logical_id] = name
    return names


def seed_keys() -> None:
    repository = ApiKeysRepository(get_settings().api_keys_table_name)
    for project, kind, raw in (
        (PROJECT, "public", PUBLIC_KEY),
        (PROJECT, "secret", SECRET_KEY),
        (OTHER_PROJECT, "secret", OTHER_PROJECT_SECRET_KEY),
    ):
        repository.put(new_key_record(project, kind, raw)[1])  # type: ignore[arg-type]


@pytest.fixture
def tables() -> Iterator[Tables]:
    """Every table of template.yaml in moto, with a public and a secret key for PROJECT and one for OTHER_PROJECT."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        names = create_tables(client)
        seed_keys()
        yield Tables(client=client, names=names)


@dataclass
class JobsQueue:
    """The customer jobs queue of template.yaml in moto, which the stream hands recomputes to."""

    client: Any
    url: str
    arn: str

    def messages(self) -> list[dict[str, Any]]:
        """Every message waiting in the queue (received, so invisible to a second call for a while)."""
        found: list[dict[str, Any]] = []
        while batch := self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            found += batch
        return found

    def as_record(self, message: dict[str, Any]) -> dict[str, Any]:
        """The message as Lambda's SQS event source mapping hands it to the jobs function."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": "us-east-1",
        }


@pytest.fixture
def jobs_queue(tables: Tables, monkeypatch: pytest.MonkeyPatch) -> JobsQueue:
    """The customer jobs queue, named to the functions as template.yaml does (CUSTOMER_JOBS_QUEUE_URL)."""
    client = boto3.client("sqs", region_name="us-east-1")
    url = client.create_queue(QueueName="test-CustomerJobsQueue")["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    monkeypatch.setenv("CUSTOMER_JOBS_QUEUE_URL", url)
    reset_caches()
    return JobsQueue(client, url, arn)


@pytest.fixture
def erasure_key(jobs_queue: JobsQueue, monkeypatch: pytest.MonkeyPatch) -> str:
    """The HMAC key of template.yaml that hashes erased identities, in moto (ERASURE_HASH_KEY_ID); the jobs queue."""
    kms = boto3.client("kms", region_name="us-east-1")
    key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    monkeypatch.setenv("ERASURE_HASH_KEY_ID", key_id)
    reset_caches()
    return key_id
