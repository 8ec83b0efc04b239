"""Security promises of the API, each tried through the real handlers against moto.

- API keys are stored only as SHA-256 hashes, looked up by hash and compared in constant time.
- A revoked key stops working once its cache entry expires (API_KEY_CACHE_TTL_SECONDS), not later.
- The read endpoint refuses a secret key in the URL (401), even a valid one.
- No key, request body or e-mail address reaches the logs at INFO; each invocation writes one line that
  carries the request id, the project id, the key id, the status and counts instead (and no Lambda context
  field); with the template's settings, metrics have a namespace and a service dimension.
"""

import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from beacon.dal import aws
from beacon.errors import UnauthorizedError
from beacon.logic.api_keys import key_id_of
from beacon.observability import logger
from beacon.services import authenticate as auth
from functions.bulk_charges.app import lambda_handler as bulk_charges
from functions.create_charge.app import lambda_handler as create_charge
from functions.get_summary.app import lambda_handler as get_summary
from functions.summarize_charges.app import lambda_handler as summarize_charges
from local.caches import reset_caches
from local.template import ROOT, template
from ops.main import main
from tests.builders import FakeLambdaContext, call, http_event, load_event
from tests.conftest import OTHER_PROJECT_SECRET_KEY, PUBLIC_KEY, SECRET_KEY, table_env_names
from tests.stream_builders import stream_event, stream_record

EMAIL = "Canary.Person@Example.org"
USER_ID = "canary-user-7f3a"
AMOUNT = 987_654_321


def bearer(key: str) -> dict[str, str | None]:
    return {"authorization": f"Bearer {key}"}


def created_key(capsys, project: str, kind: str) -> dict[str, str]:
    assert main(["keys", "create", "--project", project, "--kind", kind]) == 0
    return json.loads(capsys.readouterr().out.splitlines()[0])


# ---------------------------------------------------------------- keys at rest and their comparison


def test_keys_are_stored_as_sha256_hashes_only(tables, capsys):
    # Given keys created by the command, for two projects and both kinds
    keys = [created_key(capsys, project, kind) for project in ("shop-eu", "shop-us") for kind in ("public", "secret")]

    # When the whole keys table is read back
    stored = tables.items("ApiKeysTable")
    dump = json.dumps(stored)

    # Then each key is found under its SHA-256, and neither the key nor its secret part is stored anywhere
    hashes = {item["PK"]["S"] for item in stored}
    for key in [k["key"] for k in keys] + [PUBLIC_KEY, SECRET_KEY, OTHER_PROJECT_SECRET_KEY]:
        assert f"KEY#{hashlib.sha256(key.encode()).hexdigest()}" in hashes
        assert key not in dump
    for key in keys:
        secret_part = key["key"][7:]  # what follows the 7 characters kept as a display prefix
        assert len(secret_part) >= 24
        assert secret_part not in dump
        assert secret_part[:8] not in dump


def test_no_table_holds_a_key_whichever_way_requests_sent_it(tables):
    # Given accepted requests that carried keys in the header, the query string and the body, with and
    # without an Idempotency-Key (whose record stores a hash of the request)
    charge = {"user_id": "u1", "amount": 5}
    events = [
        http_event("create_charge.json", body=charge, headers=bearer(PUBLIC_KEY)),
        http_event("create_charge.json", body=charge, headers={"authorization": None}, query={"api_key": SECRET_KEY}),
        load_event("create_charge_beacon.json") | {"body": json.dumps(charge | {"api_key": PUBLIC_KEY})},
        http_event("create_charge.json", body=charge, headers=bearer(SECRET_KEY) | {"idempotency-key": "k-1"}),
        http_event("bulk_charges.json", headers=bearer(OTHER_PROJECT_SECRET_KEY)),
    ]
    assert [call(bulk_charges if "charges/bulk" in e["rawPath"] else create_charge, e).status for e in events] == [
        200
    ] * 5

    # Then no item of any table holds a key in clear
    everything = json.dumps({name: tables.items(name) for name in tables.names})
    assert len(tables.charges()) == 7
    assert tables.items("IdempotencyTable")
    for key in (PUBLIC_KEY, SECRET_KEY, OTHER_PROJECT_SECRET_KEY):
        assert key not in everything


def test_a_key_is_looked_up_by_its_hash_and_compared_in_constant_time(tables, monkeypatch):
    # Given a record of every GetItem sent to DynamoDB and of every comparison of secrets
    sent: list[dict[str, Any]] = []
    aws.dynamodb_client().meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: sent.append(params)
    )
    compared: list[tuple[str, str]] = []
    real_compare_digest = auth.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real_compare_digest(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)

    # When a request is authenticated
    answer = call(create_charge, http_event("create_charge.json", headers=bearer(SECRET_KEY)))

    # Then DynamoDB was asked for the key's hash (the key never left the function) ...
    assert answer.status == 200, answer.body
    key_hash = hashlib.sha256(SECRET_KEY.encode()).hexdigest()
    key_lookups = [p for p in sent if p["TableName"].endswith("ApiKeysTable")]
    assert key_lookups == [{"TableName": key_lookups[0]["TableName"], "Key": {"PK": {"S": f"KEY#{key_hash}"}}}]
    assert SECRET_KEY not in json.dumps(sent)
    # ... and the stored hash was checked with hmac.compare_digest, not ==
    assert compared == [(key_hash, key_hash)]


def test_an_unknown_key_is_401_and_writes_nothing(tables):
    for key in ("sk_" + "x" * 32, "pk_" + "y" * 32, SECRET_KEY[:-1]):
        answer = call(create_charge, http_event("create_charge.json", headers=bearer(key)))
        assert answer.status == 401, key
        assert answer.body["errors"] == [{"field": "api_key", "message": "unknown API key"}]
        assert answer.headers["www-authenticate"] == 'Bearer realm="beacon"'
    assert tables.charges() == []


# ---------------------------------------------------------------- revocation


class FakeMonotonicClock:
    """A ``time.monotonic`` the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeMonotonicClock:
    """The key cache's clock (``time.monotonic`` in ``beacon.services.authenticate``), and only that clock, by hand."""
    fake = FakeMonotonicClock()
    monkeypatch.setattr(auth, "time", SimpleNamespace(monotonic=fake, time=time.time))
    return fake


def test_a_revoked_key_works_until_its_cache_entry_expires_and_never_after(tables, capsys, clock, monkeypatch):
    # Given a key cached for 60 s by a function that just used it
    monkeypatch.setenv("API_KEY_CACHE_TTL_SECONDS", "60")
    reset_caches()
    key = created_key(capsys, "shop-eu", "public")

    def send(amount: int) -> int:
        body = {"user_id": "u1", "amount": amount}
        return call(create_charge, http_event("create_charge.json", body=body, headers=bearer(key["key"]))).status

    assert send(1) == 200

    # When the key is revoked
    assert main(["keys", "revoke", "--project", "shop-eu", "--key-id", key["key_id"]]) == 0

    # Then the function keeps accepting it for at most the TTL (the documented window) ...
    clock.now += 59
    assert send(2) == 200
    # ... and refuses it from then on, writing nothing
    clock.now += 2
    assert send(3) == 401
    clock.now += 3_600
    assert send(4) == 401
    assert sorted(int(item["amount"]["N"]) for item in tables.charges()) == [1, 2]


def test_with_a_zero_ttl_revocation_is_immediate(tables, capsys, monkeypatch):
    monkeypatch.setenv("API_KEY_CACHE_TTL_SECONDS", "0")
    reset_caches()
    key = created_key(capsys, "shop-eu", "secret")
    assert auth.authenticate(key["key"], "header").project_id == "shop-eu"
    assert main(["keys", "revoke", "--project", "shop-eu", "--key-id", key["key_id"]]) == 0
    with pytest.raises(UnauthorizedError, match="revoked"):
        auth.authenticate(key["key"], "header")


# ---------------------------------------------------------------- secret keys stay out of URLs


def test_the_read_endpoint_refuses_a_secret_key_in_the_url_even_a_valid_one(tables, logs):
    # Given a customer with a summary in "local"
    assert call(create_charge, http_event("create_charge.json", headers=bearer(PUBLIC_KEY))).status == 200
    records = [stream_record(item) for item in tables.charges()]
    assert summarize_charges(stream_event(records), FakeLambdaContext()) == {"batchItemFailures": []}
    in_url = {"user_id": "user_42", "api_key": SECRET_KEY}

    # When its valid secret key is sent as ?api_key= instead of the Authorization header
    answer = call(get_summary, http_event("get_summary.json", headers={"authorization": None}, query=in_url))

    # Then it is 401 with a message that says where the key goes, and no summary is in the answer
    assert answer.status == 401
    assert answer.body["data"] is None
    [error] = answer.body["errors"]
    assert error["field"] == "api_key"
    assert "Authorization header" in error["message"]
    assert SECRET_KEY not in json.dumps(answer.body)
    # while the same key in the header reads the summary, and a public key in the URL is 403
    assert call(get_summary, http_event("get_summary.json", headers=bearer(SECRET_KEY))).status == 200
    public = {"user_id": "user_42", "api_key": PUBLIC_KEY}
    assert (
        call(get_summary, http_event("get_summary.json", headers={"authorization": None}, query=public)).status == 403
    )
    assert SECRET_KEY not in logs.text and PUBLIC_KEY not in logs.text


# ---------------------------------------------------------------- logs


class _Stdout(io.TextIOBase):
    """Writes wherever ``print`` writes now (pytest's captured stdout), as Lambda's log stream takes both."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class CapturedLogs:
    """What the handlers wrote to their log stream since ``start``, in order: Powertools' logger lines and the EMF
    lines its metrics print (one a invocation), one dict per line."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.written = ""

    def start(self) -> None:
        """Forget what was written so far (an operator command's output, say)."""
        self.capsys.readouterr()
        self.written = ""

    @property
    def text(self) -> str:
        self.written += self.capsys.readouterr().out
        return self.written

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def of_request(self, correlation_id: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("correlation_id") == correlation_id]


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedLogs]:
    """The handlers' log output at INFO, the level the template deploys with: the logger's and the metrics'
    (enabled here, as deployed: an invocation's line is its metrics' EMF line)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous_stream, previous_level = handler.setStream(_Stdout()), logger.log_level
    logger.setLevel("INFO")
    captured = CapturedLogs(capsys)
    captured.start()
    try:
        yield captured
    finally:
        handler.setStream(previous_stream)
        logger.setLevel(previous_level)


def secrets_in(text: str, secrets: list[str]) -> list[str]:
    lowered = text.lower()
    return [secret for secret in secrets if secret.lower() in lowered]


def test_no_key_body_or_email_reaches_the_logs_at_info(tables, capsys, logs):
    # Given a revoked key, an unknown one, and a body that carries an e-mail address and a user id
    revoked = created_key(capsys, "local", "public")
    assert main(["keys", "revoke", "--project", "local", "--key-id", revoked["key_id"]]) == 0
    logs.start()
    unknown = "sk_" + "u" * 40
    charge = {"user_id": USER_ID, "email": EMAIL, "amount": AMOUNT}
    bulk = {"email": EMAIL, "charges": [{"amount": 1}, {"amount": 2}]}
    no_header = {"authorization": None}
    sent: list[dict[str, Any]] = []

    def send(handler: Any, event: dict[str, Any]) -> Any:
        sent.append(event)
        return call(handler, event)

    # When they are sent every way a client can send them, accepted or refused
    answers = [
        send(create_charge, http_event("create_charge.json", body=charge, headers=bearer(PUBLIC_KEY))),
        send(
            create_charge,
            http_event("create_charge.json", body=charge, headers=no_header, query={"api_key": SECRET_KEY}),
        ),
        send(
            create_charge,
            load_event("create_charge_beacon.json") | {"body": json.dumps(charge | {"api_key": PUBLIC_KEY})},
        ),
        send(bulk_charges, http_event("bulk_charges.json", body=bulk, headers=bearer(OTHER_PROJECT_SECRET_KEY))),
        # refused: same Idempotency-Key, another body (422); a spaced digit string (400); broken JSON (400)
        send(
            bulk_charges,
            http_event("bulk_charges.json", body=bulk | {"user_id": USER_ID}, headers=bearer(OTHER_PROJECT_SECRET_KEY)),
        ),
        send(
            create_charge,
            http_event("create_charge.json", body=charge | {"amount": f" {AMOUNT}"}, headers=bearer(SECRET_KEY)),
        ),
        send(
            create_charge,
            http_event("create_charge.json", raw_body=json.dumps(charge)[:-4], headers=bearer(SECRET_KEY)),
        ),
        # refused keys: unknown, revoked, malformed, not a Bearer token (401)
        send(create_charge, http_event("create_charge.json", body=charge, headers=bearer(unknown))),
        send(create_charge, http_event("create_charge.json", body=charge, headers=bearer(revoked["key"]))),
        send(create_charge, http_event("create_charge.json", body=charge, headers=no_header, query={"api_key": EMAIL})),
        send(
            create_charge,
            http_event("create_charge.json", body=charge, headers={"authorization": f"Basic {SECRET_KEY}"}),
        ),
    ]
    assert [a.status for a in answers] == [200, 200, 200, 200, 422, 400, 400, 401, 401, 401, 401]
    # and the stream handler summarizes what was stored, and the summaries are read by user id and e-mail
    records = [stream_record(item) for item in tables.charges()]
    context = FakeLambdaContext()
    assert summarize_charges(stream_event(records), context) == {"batchItemFailures": []}
    for key, query in (
        (SECRET_KEY, {"user_id": USER_ID}),
        (OTHER_PROJECT_SECRET_KEY, {"email": EMAIL}),
        (SECRET_KEY, {"email": "nobody@example.com"}),
    ):
        answers.append(send(get_summary, http_event("get_summary.json", headers=bearer(key), query=query)))
    assert [a.status for a in answers[-3:]] == [200, 200, 404]

    # Then each invocation wrote one line, naming it, with its status; nothing else was written at INFO
    # (but the metric of a cold start, once per function)
    for event, answer in zip(sent, answers, strict=True):
        [line] = logs.of_request(event["requestContext"]["requestId"])
        assert line["status"] == str(answer.status)
    assert len(logs.of_request(context.aws_request_id)) == 1
    assert all("correlation_id" in line or "ColdStart" in line for line in logs.lines), logs.text
    # and no key, e-mail address or body value is in the logs
    keys = [PUBLIC_KEY, SECRET_KEY, OTHER_PROJECT_SECRET_KEY, unknown, revoked["key"], revoked["key"][7:]]
    body_values = [EMAIL, USER_ID, str(AMOUNT), json.dumps(charge)[:20]]
    assert secrets_in(logs.text, keys + body_values + ["nobody@example.com"]) == []
    assert "@" not in logs.text


# What the platform records of every invocation itself (the log group, START and REPORT lines, X-Ray): no line
# of ours repeats it.
LAMBDA_CONTEXT_FIELDS = (
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "cold_start",
    "xray_trace_id",
)


def test_a_request_line_carries_the_request_id_project_key_status_counts_and_duration_only(tables, logs):
    # Given a bulk request of three charges
    event = http_event("bulk_charges.json", headers=bearer(SECRET_KEY))
    assert call(bulk_charges, event).status == 200

    # Then its one line names the request (the API's request id), the project, the key's public id, the status,
    # the counts and how long it took, beside its metrics
    [line] = logs.of_request(event["requestContext"]["requestId"])
    assert line["project_id"] == "local"
    assert line["key_id"] == key_id_of(hashlib.sha256(SECRET_KEY.encode()).hexdigest())
    assert line["status"] == "200"
    assert line["charges"] == 3
    assert "replayed" not in line
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    # and its metrics: the charges it stored, the size of the bulk
    assert (line["ChargesAccepted"], line["BulkSize"]) == ([3.0], [3.0])
    # and none of the Lambda context's fields
    assert [name for name in LAMBDA_CONTEXT_FIELDS if name in line] == []


def test_a_replayed_request_says_so_on_its_line(tables, logs):
    # Given a bulk request with an Idempotency-Key, sent twice
    headers = bearer(SECRET_KEY) | {"idempotency-key": "replay-line-1"}
    first, second = (http_event("bulk_charges.json", headers=headers) for _ in range(2))
    assert call(bulk_charges, first).status == call(bulk_charges, second).status == 200

    # Then the first stored the charges, and the second's line says it was a replay that stored nothing
    [stored] = logs.of_request(first["requestContext"]["requestId"])
    [replayed] = logs.of_request(second["requestContext"]["requestId"])
    assert (stored["ChargesAccepted"], "replayed" in stored) == ([3.0], False)
    assert (replayed["ChargesAccepted"], replayed["replayed"], replayed["charges"]) == ([0.0], True, 3)


def test_the_stream_handler_logs_how_many_customers_it_updated_and_no_identity(tables, logs):
    for body in ({"email": EMAIL, "amount": 1}, {"user_id": USER_ID, "amount": 2}, {"user_id": USER_ID, "amount": 3}):
        assert (
            call(create_charge, http_event("create_charge.json", body=body, headers=bearer(SECRET_KEY))).status == 200
        )
    context = FakeLambdaContext()
    records = [stream_record(item) for item in tables.charges()]
    assert summarize_charges(stream_event(records), context) == {"batchItemFailures": []}

    # Its line is named by Lambda's request id (what the failure queue's message names, requestContext.requestId)
    [line] = logs.of_request(context.aws_request_id)
    assert (line["RecordsProcessed"], line["CustomersUpdated"], line["customers_failed"]) == ([3.0], [2.0], 0)
    assert line["SummaryLag"][0] >= 0
    assert [name for name in LAMBDA_CONTEXT_FIELDS if name in line] == []
    assert secrets_in(logs.text, [EMAIL, USER_ID]) == []


def test_a_refused_request_is_logged_with_its_status_and_the_fields_only(tables, logs):
    event = http_event("create_charge.json", body={"email": EMAIL, "amount": -1}, headers=bearer(SECRET_KEY))
    assert call(create_charge, event).status == 400
    [line] = logs.of_request(event["requestContext"]["requestId"])
    assert line["status"] == "400"
    assert line["fields"] == ["amount"]
    # and its charges count as rejected, by status (a dimension set beside the service's)
    assert (line["ChargesRejected"], line["ErrorResponses"]) == ([1.0], [1.0])
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert ["service", "status"] in directive["Dimensions"]
    assert EMAIL.lower() not in logs.text.lower()


# ---------------------------------------------------------------- logs and metrics as deployed

DEPLOYED_RUN = """
import boto3
from moto import mock_aws

with mock_aws():
    from tests.conftest import create_tables, seed_keys

    create_tables(boto3.client("dynamodb", region_name="us-east-1"))
    seed_keys()
    from functions.bulk_charges.app import lambda_handler
    from tests.builders import FakeLambdaContext, http_event

    lambda_handler(http_event("bulk_charges.json"), FakeLambdaContext())
"""


def test_with_the_templates_settings_logs_name_the_service_and_metrics_have_a_namespace_and_service_dimension():
    # Given a fresh interpreter configured as template.yaml's Globals configure the functions
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    service, namespace = variables["POWERTOOLS_SERVICE_NAME"], variables["POWERTOOLS_METRICS_NAMESPACE"]
    env = {name: value for name, value in os.environ.items() if not name.startswith(("POWERTOOLS_", "AWS_"))}
    env |= {f"{name}": f"test-{logical_id}" for name, logical_id in table_env_names().items()}
    env |= {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": namespace,
        "POWERTOOLS_LOG_LEVEL": template()["Parameters"]["LogLevel"]["Default"],
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)]),
    }

    # When a bulk request is handled there, as Lambda would run it
    run = subprocess.run(
        [sys.executable, "-c", DEPLOYED_RUN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]

    # Then its one line names the service and the project, and its metrics go to the namespace with a service
    # dimension
    [recorded] = [line for line in lines if "correlation_id" in line]
    assert recorded["service"] == service
    assert recorded["project_id"] == "local"
    [directive] = recorded["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == namespace
    assert ["service"] in directive["Dimensions"]
    assert recorded["ChargesAccepted"] == [3.0]
    assert SECRET_KEY not in run.stdout
