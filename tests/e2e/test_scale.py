"""Summaries at scale, seen from outside on the local stack: one partition key per customer, a project's
customers listed from its registry, and a loyal customer's summary item that stays small.

docs/design.md ("Keys", "Summary size") says why; these read the embedded DynamoDB the stack prints.
"""

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from beacon.dal.item_keys import summary_pk
from beacon.dal.summary_items import summary_key
from local.process import RunningStack, run_local_stack
from local.template import ROOT
from tests.e2e.conftest import Stack, unique
from tests.integration.test_summarize_charges import item_size

WAIT_SECONDS = 60
VISITS = 40  # more sessions than the summary item used to keep spans of (it grew to 1.7 KB with 36)
PAST_CHARGES = 5_000


def wait_for_count(read: Any, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        answer = read()
        if answer.status_code == 200 and answer.json()["data"]["charges"]["count"] >= count:
            return dict(answer.json()["data"])
        assert time.monotonic() < deadline, f"the summary did not reach {count} charges: {answer.text}"
        time.sleep(0.25)


def stored_summary(dynamodb: Any, table: str, user_id: str) -> dict[str, Any]:
    key = summary_key("local", f"u#{user_id}")
    item: dict[str, Any] = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    return item


def beacon(exports: dict[str, str], *args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(ROOT / "bin" / "beacon"), *args],
        env={**os.environ, **exports},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_two_customers_of_a_project_have_their_own_partition_key_and_are_listed(stack: Stack):
    if not stack.exports:
        pytest.skip(reason="reads the local stack's embedded DynamoDB: run against `make dev`'s stack")
    ada, grace = unique("e2e-ada"), unique("e2e-grace")
    for user_id in (ada, grace):
        assert stack.post("/charges", {"user_id": user_id, "amount": 100}).ok
        wait_for_count(lambda u=user_id: stack.summary(user_id=u), 1)

    table = stack.exports["SUMMARIES_TABLE_NAME"]
    keys = {user_id: stored_summary(stack.dynamodb, table, user_id)["PK"]["S"] for user_id in (ada, grace)}

    assert keys == {ada: summary_pk("local", f"u#{ada}"), grace: summary_pk("local", f"u#{grace}")}
    listed = beacon(stack.exports, "customers", "list", "--project", "local")
    assert {ada, grace} <= {line.get("user_id") for line in listed}


@pytest.fixture(scope="module")
def short_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own whose sessions end after 1 second of inactivity: a visit a second is a new session."""
    log_path: Path = tmp_path_factory.mktemp("short-sessions") / "stack.log"
    with run_local_stack(log_path, parameter_overrides="SessionTimeoutSeconds=1") as running:
        yield running


def test_a_loyal_customers_summary_item_stays_under_1_kb(short_sessions: RunningStack):
    user_id = unique("e2e-loyal")
    session = requests.Session()
    headers = {"Authorization": "Bearer pk_local_dev"}
    read_headers = {"Authorization": "Bearer sk_local_dev"}
    base = short_sessions.base_url

    def read() -> Any:
        return session.get(f"{base}/customers/summary", params={"user_id": user_id}, headers=read_headers, timeout=30)

    # Given a customer who came back VISITS times (each visit a session of its own)
    for visit in range(VISITS):
        assert session.post(f"{base}/charges", json={"user_id": user_id, "amount": 1}, headers=headers, timeout=30).ok
        wait_for_count(read, visit + 1)
        time.sleep(1.2)
    # and then had years of past charges imported (no visit of theirs)
    for start in range(0, PAST_CHARGES, 1_000):
        past = [{"amount": 2, "created_at": 1_600_000_000 + start + n, "update_session": False} for n in range(1_000)]
        body = {"user_id": user_id, "charges": past}
        assert session.post(f"{base}/charges/bulk", json=body, headers=headers, timeout=60).ok

    # When the summary has counted them all
    summary = wait_for_count(read, VISITS + PAST_CHARGES)

    # Then every session is counted, and the item that holds it is under 1 KB (one write unit a write)
    assert summary["sessions"]["count"] == VISITS
    assert summary["charges"]["total"] == VISITS + 2 * PAST_CHARGES
    item = stored_summary(short_sessions.dynamodb(), short_sessions.exports["SUMMARIES_TABLE_NAME"], user_id)
    sizes = {name: item_size({name: value}) for name, value in item.items()}
    assert item_size(item) <= 1_024, f"{item_size(item)} bytes: {json.dumps(sizes)}"
