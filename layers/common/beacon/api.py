"""The HTTP layer shared by every API function: resolver factory, request reading, key check, envelope.

Routes call ``parse_body``, ``query_parameters`` and ``current_caller``; every domain exception becomes
the error envelope here, in one place, so that a handler never catches anything. Nothing that a
client sends can end in a 5xx: a malformed body is a 400, an unexpected failure of ours a logged 500.

A body sent with ``Content-Encoding: gzip`` arrives as API Gateway passes it, base64-encoded and still
compressed: it is inflated here, never more than the 1 MiB limit and a byte at once.

CORS is API Gateway's: the HTTP API's ``CorsConfiguration`` in template.yaml answers preflights before
any function runs and sets the CORS headers of every answer (replacing any a function would set), so
the resolver configures none.
"""

import base64
import binascii
import json
import re
import time
import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from beacon.errors import (
    BeaconError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    RequestInFlightError,
    StorageUnavailableError,
    UnsupportedContentEncodingError,
)
from beacon.models.caller import Caller, KeySource
from beacon.models.fields import request_clock
from beacon.models.parsing import parse_model
from beacon.observability import logger, metrics, record
from beacon.services.authenticate import authenticate, require_secret

MAX_BODY_BYTES = 1_048_576  # the JSON as read: after inflating a gzip body (whose compressed size is bounded too)
MAX_JSON_DEPTH = 32  # a charge sits at depth 3 (body > charges > charge); nothing valid comes near
# text/plain is what navigator.sendBeacon sends for a string body.
JSON_MEDIA_TYPES = frozenset({"application/json", "text/plain"})
ROUTES: dict[str, list[str]] = {
    "/charges": ["POST"],
    "/charges/bulk": ["POST"],
    "/customers/summary": ["GET"],
    "/customers": ["DELETE"],
}
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
# The errors worth retrying after a moment. Not every 409: a charge_id stored with other content is final.
RETRY_AFTER: dict[type[BeaconError], str] = {RequestInFlightError: "1", StorageUnavailableError: "1"}
ACCEPTED_ENCODINGS = ["gzip", "identity"]
# x-gzip is gzip's older name (RFC 9110 asks recipients to take it as gzip).
_GZIP_NAMES = frozenset({"gzip", "x-gzip"})
# 16 + 15: a gzip header and trailer around the deflate stream (not zlib's, not raw deflate), a 32 KiB window.
_GZIP_WBITS = 16 + zlib.MAX_WBITS

_BODY = "beacon_body"
_CALLER = "beacon_caller"
_RECEIVED_MS = "beacon_received_ms"


def create_resolver() -> APIGatewayHttpResolver:
    """An HTTP API (payload v2) resolver answering every error with the envelope."""
    app = APIGatewayHttpResolver()

    @app.exception_handler(BeaconError)
    def _domain_error(exc: BeaconError) -> Response:
        _count_rejected_charges(app)
        record(fields=[e.field for e in exc.errors])
        return error_response(exc)

    @app.not_found
    def _no_route(_exc: RouteNotFoundError) -> Response:
        path, method = app.current_event.path, app.current_event.http_method
        if path in ROUTES:
            return error_response(
                MethodNotAllowedError(
                    f"{method} is not allowed on {path}; use {', '.join(ROUTES[path])}", allowed=ROUTES[path]
                )
            )
        return error_response(NotFoundError(f"no route {method} {path}", field="path"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected failure")
        metrics.add_metric(name="UnexpectedErrors", unit=MetricUnit.Count, value=1)
        _count_rejected_charges(app)
        failure = BeaconError("internal error; the request can be retried safely with the same Idempotency-Key")
        return error_response(failure)

    return app


def success(data: Any = None, headers: dict[str, str] | None = None, *, status: int = 200) -> Response:
    """``200 {"success": true, "code": 200, "data": ...}`` (or another 2xx: 202 for an erasure recorded)."""
    body = {
        "success": True,
        "code": status,
        "data": data.model_dump(mode="json") if isinstance(data, BaseModel) else data,
    }
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def error_response(exc: BeaconError) -> Response:
    """The error envelope for a domain exception, with the headers its status calls for."""
    errors = [{"field": e.field, "message": e.message} for e in exc.errors]
    headers: dict[str, str] = {}
    if type(exc) in RETRY_AFTER:
        headers["Retry-After"] = RETRY_AFTER[type(exc)]
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="beacon"'
    if isinstance(exc, MethodNotAllowedError):
        headers["Allow"] = ", ".join(exc.allowed)
    if isinstance(exc, UnsupportedContentEncodingError):
        headers["Accept-Encoding"] = ", ".join(exc.accepted)
    return Response(
        status_code=exc.status,
        content_type=content_types.APPLICATION_JSON,
        body={"success": False, "code": exc.status, "data": None, "errors": errors},
        headers=headers,
    )


# ---------------------------------------------------------------- request body


def json_body(app: APIGatewayHttpResolver) -> dict[str, Any]:
    """The request body as a JSON object, read once per request (size, media type, encoding, syntax)."""
    if _BODY not in app.context:
        app.append_context(**{_BODY: _read_json_object(app)})
    body: dict[str, Any] = app.context[_BODY]
    return body


def parse_body[M: BaseModel](app: APIGatewayHttpResolver, model: type[M]) -> M:
    """The request body validated against ``model`` (400 naming every bad field).

    ``created_at`` values are checked against the time the request was received (``received_ms``),
    corrected by the body's ``sent_at`` when it has a valid one.
    """
    body = json_body(app)
    return parse_model(model, body, context=request_clock(body, received_ms(app)))


def received_ms(app: APIGatewayHttpResolver) -> int:
    """When the API received the request, in UNIX milliseconds: read once, so that the checks of
    ``created_at`` and the charges stored use the same instant."""
    if _RECEIVED_MS not in app.context:
        app.append_context(**{_RECEIVED_MS: time.time_ns() // 1_000_000})
    received: int = app.context[_RECEIVED_MS]
    return received


def _read_json_object(app: APIGatewayHttpResolver) -> dict[str, Any]:
    event = app.current_event
    raw = _body_bytes(event.body, bool(event.is_base64_encoded), event.headers.get("content-encoding"))
    media_type, _, parameters = (event.headers.get("content-type") or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type and media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
        raise InvalidRequestError(
            f"Content-Type must be application/json (or text/plain, as navigator.sendBeacon sends); got {media_type}",
            field="Content-Type",
        )
    charset = _charset(parameters)
    if charset not in (None, "utf-8", "utf8"):
        raise InvalidRequestError(
            f"the body must be UTF-8 JSON; Content-Type declares charset={charset} (send UTF-8 and say charset=utf-8)",
            field="Content-Type",
        )
    if not raw.strip():
        raise InvalidRequestError("the body is empty; send a JSON object", field="body")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequestError("the body is not valid UTF-8", field="body") from None
    document = parse_json(text)
    if not isinstance(document, dict):
        raise InvalidRequestError(f"the body must be a JSON object, got {_json_kind(document)}", field="body")
    return document


def _charset(parameters: str) -> str | None:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def _body_bytes(body: str | None, is_base64: bool, content_encoding: str | None) -> bytes:
    """The body's bytes as the client meant them: base64 undone, a gzip body inflated; at most 1 MiB either way."""
    gzipped = _is_gzip(content_encoding)
    raw = _raw_body(body, is_base64)
    if len(raw) > MAX_BODY_BYTES:
        what = "compressed body" if gzipped else "body"
        message = f"the {what} is {len(raw)} bytes; the limit is {MAX_BODY_BYTES} (1 MiB)"
        raise PayloadTooLargeError(message, field="body")
    return inflate_gzip(raw, MAX_BODY_BYTES) if gzipped and raw else raw


def _is_gzip(content_encoding: str | None) -> bool:
    """Whether the body is gzip-compressed; ``identity`` or no header is as good as none; 415 for anything else."""
    codings = [coding.strip().lower() for coding in (content_encoding or "").split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if not codings:
        return False
    if len(codings) == 1 and codings[0] in _GZIP_NAMES:
        return True
    shown = _display_key(content_encoding.strip() if content_encoding else "")
    raise UnsupportedContentEncodingError(
        f"Content-Encoding must be gzip or identity (or absent); got {shown}", accepted=ACCEPTED_ENCODINGS
    )


def inflate_gzip(data: bytes, limit: int) -> bytes:
    """``data`` (one or more gzip members) inflated, never more than ``limit`` + 1 bytes of it held at once.

    Past ``limit`` bytes it is a 413, whatever the rest would have held: a 10 KB body of ten million
    zeros is refused after its first MiB. A stream that is corrupt, truncated or followed by anything
    but another gzip member is a 400 naming ``body``.
    """
    inflated = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(_GZIP_WBITS)
        try:
            inflated += inflater.decompress(rest, limit + 1 - len(inflated))
        except zlib.error as exc:
            raise InvalidRequestError(f"the body is not valid gzip: {exc}", field="body") from None
        if len(inflated) > limit:
            raise PayloadTooLargeError(
                f"the body inflates to more than {limit} bytes; the limit (1 MiB) applies to the decompressed body",
                field="body",
            )
        if not inflater.eof:
            raise InvalidRequestError("the gzip body is truncated: its stream does not end", field="body")
        rest = inflater.unused_data
    return bytes(inflated)


def _raw_body(body: str | None, is_base64: bool) -> bytes:
    if body is None:
        return b""
    try:
        return base64.b64decode(body, validate=True) if is_base64 else body.encode("utf-8")
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidRequestError("the body could not be decoded", field="body") from None


class _DuplicateKeyError(ValueError):
    pass


class _ConstantError(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKeyError(key)
        document[key] = value
    return document


def _reject_constant(name: str) -> Any:
    raise _ConstantError(name)


def parse_json(text: str) -> Any:
    """Strict JSON: no duplicate keys, no NaN or Infinity, bounded nesting and number size.

    Numbers with a fraction or an exponent are read as exact ``Decimal``s, so that ``5000.0`` can be
    told an integer and ``1000.0000000000000001`` cannot pass for one (a float would round it).
    """
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_reject_constant,
            parse_float=Decimal,
        )
    except json.JSONDecodeError as exc:
        message = f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise InvalidRequestError(message, field="body") from None
    except _DuplicateKeyError as exc:
        key = _display_key(str(exc))
        raise InvalidRequestError(f"the key '{key}' appears twice in one JSON object", field=key) from None
    except _ConstantError as exc:
        raise InvalidRequestError(f"{exc} is not a JSON number", field="body") from None
    except RecursionError:
        raise InvalidRequestError("the body is nested too deeply", field="body") from None
    except ValueError:
        # int() refuses numbers of more than 4,300 digits
        raise InvalidRequestError("the body holds a number too large to read", field="body") from None
    if _nesting_exceeds(document, MAX_JSON_DEPTH):
        raise InvalidRequestError(f"the body is nested more than {MAX_JSON_DEPTH} levels deep", field="body")
    return document


def _nesting_exceeds(document: Any, limit: int) -> bool:
    # Iterative, so that a deep document cannot exhaust the stack here either.
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
    return False


def _display_key(key: str) -> str:
    """A client's JSON key as it may be echoed in an answer or a log: printable (escaped) and short."""
    shown = key if key.isprintable() else key.encode("unicode_escape").decode("ascii")
    return (shown if len(shown) <= 64 else f"{shown[:61]}...") or '""'


def _json_kind(value: object) -> str:
    return {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        Decimal: "a number",
    }.get(type(value), "null")


def _charge_count(app: APIGatewayHttpResolver) -> int:
    body = app.context.get(_BODY)
    charges = body.get("charges") if isinstance(body, dict) else None
    return len(charges) if isinstance(charges, list) and charges else 1


def _count_rejected_charges(app: APIGatewayHttpResolver) -> None:
    """A write request answered with an error: its charges count as rejected (by status: ``log_invocation``)."""
    if app.current_event.http_method == "POST":
        metrics.add_metric(name="ChargesRejected", unit=MetricUnit.Count, value=_charge_count(app))


def query_parameters(app: APIGatewayHttpResolver, names: tuple[str, ...], *, only: bool = False) -> dict[str, str]:
    """The query parameters ``names``, each sent at most once (400 naming a repeated one).

    API Gateway joins a repeated parameter's values with commas (``?user_id=a&user_id=b`` arrives as
    ``user_id=a,b``), which could be mistaken for one value; the raw query string tells them apart.
    ``only``: any other parameter (``api_key`` aside, which authentication reads) is a 400 naming it, for
    an endpoint that must not act on a request it half understood.
    """
    sent = [name for name, _ in parse_qsl(app.current_event.raw_query_string or "", keep_blank_values=True)]
    unknown = [name for name in sent if name not in names and name != "api_key"] if only else []
    if unknown:
        listed = " or ".join(names)
        raise InvalidRequestError(f"unknown query parameter {unknown[0]!r}: send {listed}", field=unknown[0] or "query")
    for name in names:
        if sent.count(name) > 1:
            raise InvalidRequestError(f"{name} must be sent once; it appears {sent.count(name)} times", field=name)
    parameters = app.current_event.query_string_parameters or {}
    return {name: parameters[name] for name in names if name in parameters}


# ---------------------------------------------------------------- authorisation


def _find_key(app: APIGatewayHttpResolver, *, look_in_body: bool) -> tuple[str | None, KeySource]:
    authorization = app.current_event.headers.get("authorization") or ""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), "header"
    query_key = (app.current_event.query_string_parameters or {}).get("api_key")
    if query_key:
        return query_key, "query"
    if look_in_body:
        body_key = json_body(app).get("api_key")
        if isinstance(body_key, str) and body_key:
            return body_key, "body"
    return None, "header"


def any_key(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """Route middleware: a public or secret key, from the header, ``?api_key=`` or the body's ``api_key``."""
    raw_key, source = _find_key(app, look_in_body=True)
    caller = authenticate(raw_key, source)
    record(project_id=caller.project_id, key_id=caller.key_id)
    app.append_context(**{_CALLER: caller})
    return next_middleware(app)


def secret_key(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """Route middleware: a secret key, and only from the Authorization header."""
    raw_key, source = _find_key(app, look_in_body=False)
    caller = authenticate(raw_key, source)
    record(project_id=caller.project_id, key_id=caller.key_id)
    require_secret(caller)
    app.append_context(**{_CALLER: caller})
    return next_middleware(app)


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    """The caller that the route's key middleware authenticated."""
    caller: Caller = app.context[_CALLER]
    return caller


def idempotency_key(app: APIGatewayHttpResolver) -> str | None:
    """The request's ``Idempotency-Key`` header, if it sent one (400 when malformed)."""
    value = app.current_event.headers.get("idempotency-key")
    if value is None:
        return None
    if not IDEMPOTENCY_KEY_PATTERN.match(value):
        raise InvalidRequestError(
            "Idempotency-Key must be 1 to 255 visible ASCII characters (! to ~, no spaces)", field="Idempotency-Key"
        )
    return value


Middleware = Callable[[APIGatewayHttpResolver, NextMiddleware], Response]
