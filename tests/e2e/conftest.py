"""End-to-end fixtures: a running stack reached over real HTTP.

By default the local stack (``python -m local``, what ``make dev`` runs) is started once per test
session, in a process of its own on free ports: the functions it runs set process-wide environment
variables and share moto's in-memory backends, which the other tests' ``mock_aws`` resets, so it
must not live in the test process. With ``AWS_SAM_STACK_NAME`` set, the tests run against that
deployed stack instead (its ``ApiUrl`` output; keys from ``BEACON_E2E_PUBLIC_KEY`` and
``BEACON_E2E_SECRET_KEY``, the keys' project from ``BEACON_E2E_PROJECT``; AWS credentials as usual).
"""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from beacon.dal.item_keys import charge_pk
from beacon.logic.identity import identify_customer
from local.process import run_local_stack
from tests.conftest import PROJECT, PUBLIC_KEY, SECRET_KEY

START_TIMEOUT_SECONDS = 60


@dataclass
class Stack:
    """A running API: where it is, its keys, and (when known) the tables behind it."""

    base_url: str
    public_key: str
    secret_key: str
    project: str | None
    dynamodb: Any
    charges_table: str | None
    log_path: Path | None = None
    exports: dict[str, str] = field(default_factory=dict)  # the environment the local stack prints for bin/beacon
    pid: int | None = None  # the local stack's process (None for a deployed stack)
    session: requests.Session = field(default_factory=requests.Session)

    def post(self, path: str, body: Any = None, *, key: str | None = None, **kwargs: Any) -> requests.Response:
        """POST JSON (or ``data=``) with ``Authorization: Bearer <key>`` (the public key unless told)."""
        headers = {"Authorization": f"Bearer {key or self.public_key}", **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        return self.session.post(f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def summary(self, **query: str) -> requests.Response:
        """GET /customers/summary with the secret key."""
        headers = {"Authorization": f"Bearer {self.secret_key}"}
        return self.session.get(f"{self.base_url}/customers/summary", params=query, headers=headers, timeout=30)

    def stored_charges(self, *, user_id: str | None = None, email: str | None = None) -> list[dict[str, Any]]:
        """The charge items stored for a customer of the keys' project (a Query on its partition)."""
        if self.project is None or self.charges_table is None:
            pytest.skip(reason="set BEACON_E2E_PROJECT to the keys' project to check what the deployed stack stored")
        paginator = self.dynamodb.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.charges_table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": charge_pk(self.project, identify_customer(user_id, email))}},
            ConsistentRead=True,
        )
        return [item for page in pages for item in page["Items"] if item.get("type", {}).get("S") == "charge"]

    def log(self) -> str:
        """What the local stack printed so far ("" for a deployed stack)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path else ""


def unique(prefix: str) -> str:
    """A customer id no other test (or earlier run against a deployed stack) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def aws_environment() -> None:
    """Replaces the suite's fake-AWS environment: e2e tests talk to a real endpoint (local or deployed)."""


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack_name = os.environ.get("AWS_SAM_STACK_NAME")
    if stack_name:
        yield _deployed_stack(stack_name)
        return
    yield from _local_stack(tmp_path_factory.mktemp("local-stack") / "stack.log")


@pytest.fixture(autouse=True)
def no_tracebacks_in_the_stack(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test fails when the local stack printed a traceback (a handler or poller failure) while it ran."""
    if "stack" not in request.fixturenames:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    before = len(stack.log())
    yield
    printed = stack.log()[before:]
    assert "Traceback" not in printed, f"the local stack failed during the test:\n{printed[-4000:]}"


def _local_stack(log_path: Path) -> Iterator[Stack]:
    with run_local_stack(
        log_path, public_key=PUBLIC_KEY, secret_key=SECRET_KEY, timeout=START_TIMEOUT_SECONDS
    ) as running:
        yield Stack(
            base_url=running.base_url,
            public_key=PUBLIC_KEY,
            secret_key=SECRET_KEY,
            project=PROJECT,
            dynamodb=running.dynamodb(),
            charges_table=running.exports["CHARGES_TABLE_NAME"],
            log_path=log_path,
            exports=running.exports,
            pid=running.pid,
        )


def _deployed_stack(stack_name: str) -> Stack:
    public_key, secret_key = os.environ.get("BEACON_E2E_PUBLIC_KEY"), os.environ.get("BEACON_E2E_SECRET_KEY")
    if not (public_key and secret_key):
        missing_keys = (
            f"AWS_SAM_STACK_NAME={stack_name} is set but BEACON_E2E_PUBLIC_KEY / BEACON_E2E_SECRET_KEY are not: "
            "create a key pair for a test project with `bin/beacon --stack <stack> keys create` and export them"
        )
        pytest.skip(reason=missing_keys)
    description = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    return Stack(
        base_url=outputs["ApiUrl"].rstrip("/"),
        public_key=public_key,
        secret_key=secret_key,
        project=os.environ.get("BEACON_E2E_PROJECT"),
        dynamodb=boto3.client("dynamodb"),
        charges_table=outputs.get("ChargesTableName"),
    )
