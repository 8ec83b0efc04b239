"""Schemathesis against openapi.yaml, with the handlers in process behind a requests adapter.

Each generated request (valid and invalid bodies, headers, query strings) is sent through a
``requests`` session whose adapter turns it into the HTTP API (payload v2) event API Gateway would
send, and calls the function serving that route (unknown routes go to the ``$default`` route's
function, as in template.yaml). Checks: no 5xx, status codes, content types, headers and bodies as
documented, invalid input refused with a 4xx, and a 4xx wrote nothing (charges and idempotency records
counted before and after).
"""

import base64
import io
import json
import re
import uuid
import zlib
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from requests.adapters import BaseAdapter, HTTPAdapter
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi import checks as openapi_checks
from urllib3 import HTTPHeaderDict, HTTPResponse

from beacon.observability import metrics
from functions.bulk_charges.app import lambda_handler as bulk_charges
from functions.create_charge.app import lambda_handler as create_charge
from functions.erase_customer.app import lambda_handler as erase_customer
from functions.get_summary.app import lambda_handler as get_summary
from tests import faults as dynamodb_faults
from tests.builders import FakeLambdaContext, load_event
from tests.conftest import PUBLIC_KEY, SECRET_KEY, Tables

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"
BASE_URL = "https://beacon.test"
ROUTES = {
    ("POST", "/charges"): create_charge,
    ("POST", "/charges/bulk"): bulk_charges,
    ("GET", "/customers/summary"): get_summary,
    ("DELETE", "/customers"): erase_customer,
}
TEXT_MEDIA_TYPES = ("application/json", "text/")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")

schema = schemathesis.openapi.from_path(OPENAPI)
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=40,
    deterministic=True,
)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


def api_gateway_event(request: requests.PreparedRequest) -> dict[str, Any]:
    """The payload v2 event API Gateway would build for this request."""
    url = urlsplit(request.url or "")
    method = request.method or "GET"
    event = load_event("create_charge.json")
    query: dict[str, str] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value  # API Gateway joins repeats
    headers = {name.lower(): str(value) for name, value in request.headers.items()}
    body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
    event.update(
        routeKey="$default",
        rawPath=url.path,
        rawQueryString=url.query,
        headers=headers,
        queryStringParameters=query or None,
    )
    event["requestContext"]["http"].update(method=method, path=url.path)
    event["requestContext"]["requestId"] = f"st-{zlib.crc32(repr((method, request.url, body)).encode()):08x}"
    if body is None:
        event.pop("body", None)
        event["isBase64Encoded"] = False
    elif headers.get("content-type", "application/json").startswith(TEXT_MEDIA_TYPES) and _is_utf8(body):
        event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
    else:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    return event


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class LambdaAdapter(BaseAdapter):
    """A requests transport that answers with the Lambda handlers, in process."""

    def __init__(self, tables: Tables) -> None:
        super().__init__()
        self.tables = tables

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        event = api_gateway_event(request)
        route = (event["requestContext"]["http"]["method"], event["rawPath"])
        handler = ROUTES.get(route, create_charge)  # the $default route
        written_before = self.written()
        metrics.clear_metrics()
        result = handler(event, FakeLambdaContext())
        if 400 <= result["statusCode"] < 500:
            assert self.written() == written_before, f"a {result['statusCode']} wrote something: {result['body']}"
        raw = result.get("body") or ""
        content = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")
        raw_response = HTTPResponse(
            body=io.BytesIO(content),
            headers=HTTPHeaderDict(result.get("headers") or {}),
            status=result["statusCode"],
            reason=HTTPStatus(result["statusCode"]).phrase,
            version=11,
            preload_content=False,
        )
        return HTTPAdapter().build_response(request, raw_response)

    def written(self) -> tuple[int, int]:
        return self.item_count("ChargesTable"), self.item_count("IdempotencyTable")

    def item_count(self, logical_id: str) -> int:
        # moto counts a table's items live (a Scan per request would grow with every accepted bulk)
        table = self.tables.client.describe_table(TableName=self.tables.names[logical_id])["Table"]
        return int(table["ItemCount"])

    def close(self) -> None:
        pass


@pytest.fixture
def session(tables: Tables, erasure_key: str) -> Iterator[requests.Session]:
    http = requests.Session()
    http.mount(BASE_URL, LambdaAdapter(tables))
    # A customer for the read endpoint to find: the summary item as the stream function writes it
    seeded = load_event("create_charge.json")
    tables.client.put_item(
        TableName=tables.names["SummariesTable"],
        Item={
            "PK": {"S": "P#local"},
            "SK": {"S": "C#u#user_42"},
            "type": {"S": "summary"},
            "project_id": {"S": "local"},
            "customer_id": {"S": "u#user_42"},
            "version": {"N": "1"},
            "updated_at": {"N": "1764057600"},
            "charge_count": {"N": "1"},
            "charge_total": {"N": "4999"},
            "session_count": {"N": "1"},
            "sessions_closed": {"N": "0"},
            "session_spans": {"L": [{"L": [{"N": "1764057600"}, {"N": "1764057600"}]}]},
            "user_id": {"S": "user_42"},
            "first_at": {"N": "1764057600"},
            "last_at": {"N": "1764057600"},
            "last_amount": {"N": "4999"},
            "first_seen_at": {"N": "1764057600"},
            "last_seen_at": {"N": "1764057600"},
        },
    )
    assert seeded["rawPath"] == "/charges"
    yield http
    http.close()


def prepare(case: schemathesis.Case) -> dict[str, str]:
    """Headers (and query) that let generated requests get past the gates often enough to reach validation.

    A valid key on most requests, sometimes none or a public one; a fresh Idempotency-Key whenever the
    generated one is valid (a reused one would only ever answer 422); on the read endpoint, mostly one
    identity (both or none is a 400 before anything else is read).
    """
    spin = zlib.crc32(repr((case.body, case.query, case.headers)).encode()) % 10
    headers = dict(case.headers or {})
    if case.method == "DELETE" and _headers_made_invalid(case):
        return headers  # the erasure takes its key from the header alone: the case left without one is the test
    if spin == 1:
        headers["Authorization"] = f"Bearer {PUBLIC_KEY}"
    elif spin != 0:
        headers["Authorization"] = f"Bearer {SECRET_KEY}"
    if IDEMPOTENCY_KEY.fullmatch(str(headers.get("Idempotency-Key", ""))):
        headers["Idempotency-Key"] = uuid.uuid4().hex
    if case.query and {"user_id", "email"} <= set(case.query) and spin % 2 == 0:
        case.query.pop("email" if spin < 6 else "user_id")
    return headers


def _headers_made_invalid(case: schemathesis.Case) -> bool:
    component = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    return component is not None and component.mode.is_negative


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
def test_the_api_does_what_openapi_yaml_says(case: schemathesis.Case, session: requests.Session) -> None:
    headers = prepare(case)
    case.call_and_validate(base_url=BASE_URL, session=session, headers=headers, checks=CHECKS)


def test_the_document_covers_exactly_the_routes_the_functions_serve():
    document = schema.raw_schema
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert operations == set(ROUTES)
    assert document["openapi"].startswith("3.1")
    validate(yaml.safe_load(OPENAPI.read_text(encoding="utf-8")))  # a valid OpenAPI 3.1 document


def test_the_documented_examples_are_accepted_and_every_kind_of_answer_is_as_documented(
    tables: Tables, session: requests.Session
) -> None:
    document = schema.raw_schema
    secret = {"Authorization": f"Bearer {SECRET_KEY}"}
    for path in ("/charges", "/charges/bulk"):
        example = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]
        response = session.post(BASE_URL + path, data=json.dumps(example), headers=secret)
        assert response.status_code == 200, response.text
        schema[path]["POST"].validate_response(response)
    assert len(tables.charges()) == 4

    summary = schema["/customers/summary"]["GET"]
    found = session.get(BASE_URL + "/customers/summary", params={"user_id": "user_42"}, headers=secret)
    assert found.status_code == 200, found.text
    summary.validate_response(found)
    assert found.json()["data"]["charges"] == {
        "count": 1,
        "total": 4999,
        "first_at": 1764057600,
        "last_at": 1764057600,
        "last_amount": 4999,
    }
    missing = session.get(BASE_URL + "/customers/summary", params={"email": "nobody@example.com"}, headers=secret)
    assert missing.status_code == 404
    summary.validate_response(missing)
    erased = session.delete(BASE_URL + "/customers", params={"user_id": "user_42"}, headers=secret)
    assert erased.status_code == 202, erased.text
    schema["/customers"]["DELETE"].validate_response(erased)
    gone = session.get(BASE_URL + "/customers/summary", params={"user_id": "user_42"}, headers=secret)
    assert gone.status_code == 404

    # a storage fault: 503 with Retry-After, as documented
    faults = dynamodb_faults.install(tables.client)
    faults.inject("PutItem", dynamodb_faults.THROTTLED, table=tables.names["ChargesTable"])
    busy = session.post(BASE_URL + "/charges", json={"user_id": "u", "amount": 1}, headers=secret)
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "1"
    schema["/charges"]["POST"].validate_response(busy)
