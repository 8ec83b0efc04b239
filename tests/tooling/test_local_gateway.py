"""The local API gateway over a real socket: the payload v2 event it builds and the response it makes of an answer."""

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.gateway import Gateway
from local.sam import Route
from tests.builders import load_event

ROUTES = [
    Route("ChargeFunction", "POST", "/charges"),
    Route("CustomerFunction", "GET", "/customers/{customer_id}"),
    Route("DefaultFunction", "ANY", "$default"),
]


class Recorder:
    """A stand-in for the functions: remembers each event and answers what a test tells it to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answer: Any = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        self.calls.append((function, event))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def gateway(recorder: Recorder) -> Iterator[Gateway]:
    server = Gateway(ROUTES, recorder, port=0)
    server.start()
    yield server
    server.stop()


def test_a_post_becomes_the_payload_v2_event_of_its_route(gateway, recorder):
    response = requests.post(
        f"{gateway.url}/charges?b=2&a=1&a=3",
        data=json.dumps({"amount": 1}),
        headers={"Authorization": "Bearer pk_local_dev", "Content-Type": "application/json", "X-Custom": "yes"},
        timeout=5,
    )

    assert response.status_code == 200
    function, event = recorder.calls[0]
    assert function == "ChargeFunction"
    reference = load_event("create_charge.json")
    assert set(reference) <= set(event)  # every top-level key of the events/ file
    assert set(reference["requestContext"]) <= set(event["requestContext"])
    assert set(reference["requestContext"]["http"]) <= set(event["requestContext"]["http"])
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "POST /charges"
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/charges"
    assert event["rawQueryString"] == "b=2&a=1&a=3"
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["authorization"] == "Bearer pk_local_dev"
    assert event["headers"]["x-custom"] == "yes"
    assert all(name == name.lower() for name in event["headers"])
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"amount": 1}


def test_path_parameters_and_cookies(gateway, recorder):
    requests.get(f"{gateway.url}/customers/c-42", headers={"Cookie": "a=1; b=2"}, timeout=5)

    function, event = recorder.calls[0]
    assert function == "CustomerFunction"
    assert event["routeKey"] == "GET /customers/{customer_id}"
    assert event["pathParameters"] == {"customer_id": "c-42"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert "body" not in event
    assert "queryStringParameters" not in event


def test_unmatched_routes_and_methods_go_to_the_default_route(gateway, recorder):
    requests.get(f"{gateway.url}/charges", timeout=5)
    requests.options(f"{gateway.url}/anything/else", headers={"Origin": "https://shop.example"}, timeout=5)

    assert [(f, e["routeKey"], e["requestContext"]["http"]["method"]) for f, e in recorder.calls] == [
        ("DefaultFunction", "$default", "GET"),
        ("DefaultFunction", "$default", "OPTIONS"),
    ]


def test_text_bodies_pass_as_text_and_binary_ones_in_base64(gateway, recorder):
    requests.post(f"{gateway.url}/charges", data=b'{"a": 1}', headers={"Content-Type": "text/plain"}, timeout=5)
    binary = bytes(range(256))
    requests.post(
        f"{gateway.url}/charges", data=binary, headers={"Content-Type": "application/octet-stream"}, timeout=5
    )

    (_, text_event), (_, binary_event) = recorder.calls
    assert (text_event["body"], text_event["isBase64Encoded"]) == ('{"a": 1}', False)
    assert binary_event["isBase64Encoded"] is True
    assert base64.b64decode(binary_event["body"]) == binary


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", "br", "identity, gzip"])
def test_a_body_with_a_content_encoding_passes_in_base64_as_it_arrived_never_decompressed(gateway, recorder, encoding):
    # Given a gzip body, and (to show the encoding alone decides) a body that is valid UTF-8 text
    compressed = gzip.compress(b'{"amount": 1}')
    for body in (compressed, b'{"amount": 2}'):
        requests.post(
            f"{gateway.url}/charges",
            data=body,
            headers={"Content-Type": "application/json", "Content-Encoding": encoding},
            timeout=5,
        )

    (_, gzip_event), (_, text_event) = recorder.calls
    for event, sent in ((gzip_event, compressed), (text_event, b'{"amount": 2}')):
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == sent
        assert event["headers"]["content-encoding"] == encoding


def test_identity_is_no_encoding_and_the_body_passes_as_text(gateway, recorder):
    requests.post(
        f"{gateway.url}/charges",
        data=b'{"a": 1}',
        headers={"Content-Type": "application/json", "Content-Encoding": "identity"},
        timeout=5,
    )

    [(_, event)] = recorder.calls
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)


def test_the_answer_becomes_status_headers_cookies_and_body(gateway, recorder):
    recorder.answer = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/octet-stream", "X-One": "1"},
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "cookies": ["session=abc; HttpOnly"],
        "body": base64.b64encode(b"\x00\x01binary").decode(),
        "isBase64Encoded": True,
    }

    response = requests.post(f"{gateway.url}/charges", json={}, timeout=5)

    assert response.status_code == 201
    assert response.headers["X-One"] == "1"
    assert response.headers["X-Many"] == "a, b"
    assert response.headers["Set-Cookie"] == "session=abc; HttpOnly"
    assert response.content == b"\x00\x01binary"


def test_an_answer_without_status_code_is_a_200_json_document(gateway, recorder):
    recorder.answer = {"hello": "world"}

    response = requests.post(f"{gateway.url}/charges", json={}, timeout=5)

    assert response.status_code == 200
    assert response.json() == {"hello": "world"}


def test_a_handler_exception_is_a_500_envelope_and_the_server_keeps_serving(gateway, recorder, capsys):
    recorder.answer = RuntimeError("boom")

    failed = requests.post(f"{gateway.url}/charges", json={}, timeout=5)
    recorder.answer = {"statusCode": 200, "body": "ok"}
    after = requests.post(f"{gateway.url}/charges", json={}, timeout=5)

    assert failed.status_code == 500
    body = failed.json()
    assert body["success"] is False and body["code"] == 500 and body["data"] is None
    assert body["errors"][0]["field"] == "request"
    assert "RuntimeError: boom" in body["errors"][0]["message"]
    assert "Traceback" in capsys.readouterr().err
    assert (after.status_code, after.text) == (200, "ok")


def test_without_a_default_route_an_unknown_path_is_api_gateway_404():
    server = Gateway(ROUTES[:1], Recorder(), port=0)
    server.start()
    try:
        response = requests.get(f"{server.url}/nowhere", timeout=5)
    finally:
        server.stop()
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


def test_keep_alive_connections_serve_several_requests(gateway, recorder):
    with requests.Session() as session:
        statuses = [session.post(f"{gateway.url}/charges", json={"n": n}, timeout=5).status_code for n in range(5)]
    assert statuses == [200] * 5
    assert [json.loads(e["body"])["n"] for _, e in recorder.calls] == list(range(5))
