"""Small builders for Lambda events and contexts, starting from the ready files in events/."""

import base64
import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A copy of ``events/<name>``."""
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


def http_event(
    name: str,
    *,
    body: Any = ...,
    raw_body: str | bytes | None = None,
    headers: dict[str, str | None] | None = None,
    query: dict[str, str] | None = None,
    method: str | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """An HTTP API v2 event from ``events/<name>`` with its body, headers (None removes one) or route changed."""
    event = copy.deepcopy(load_event(name))
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    if body is not ...:
        event["body"] = json.dumps(body)
        event["isBase64Encoded"] = False
    if raw_body is not None:
        if isinstance(raw_body, bytes):
            event["body"] = base64.b64encode(raw_body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = raw_body
            event["isBase64Encoded"] = False
    for key, value in (headers or {}).items():
        if value is None:
            event["headers"].pop(key.lower(), None)
        else:
            event["headers"][key.lower()] = value
    if query is not None:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if method is not None:
        event["requestContext"]["http"]["method"] = method
    if path is not None:
        event["rawPath"] = path
        event["requestContext"]["http"]["path"] = path
    return event


@dataclass
class FakeLambdaContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name: str = "beacon-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:beacon-test"
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    remaining_millis: int = 60_000  # the stream function's Timeout

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@dataclass
class HttpAnswer:
    """A handler's answer, decoded."""

    status: int
    headers: dict[str, str]
    body: Any


def call(handler: Any, event: dict[str, Any]) -> HttpAnswer:
    """Invoke ``lambda_handler`` in process and decode what API Gateway would send back."""
    response = handler(event, FakeLambdaContext())
    raw = response.get("body") or ""
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8")
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return HttpAnswer(status=response["statusCode"], headers=headers, body=json.loads(raw) if raw else None)
