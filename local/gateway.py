"""A local API Gateway (HTTP API): routes requests to the template's functions as payload v2 events.

Each request becomes the event API Gateway would send (see events/create_charge.json), the route
chosen as API Gateway chooses it (the most specific ``Method Path``, else ``$default``, whatever the
method: TRACE or FOO reach the ``$default`` route like GET does), and the function's answer
(statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded) becomes the HTTP response.
A handler that raises gets its traceback printed and the client a 500 envelope; the server keeps
serving. Where a client can tell, it behaves as API Gateway does:

- a body is passed as text only when it is valid UTF-8, its media type is textual (or absent) and
  it has no ``Content-Encoding`` (other than ``identity``); anything else (another charset's bytes,
  UTF-16 or UTF-32, a gzip body) reaches the function base64-encoded with ``isBase64Encoded: true``,
  as it arrived: API Gateway does not decompress a request body. It does not document its rule for
  HTTP APIs beyond "text or binary"; this is the rule the functions must cope with either way;
- with the template's ``CorsConfiguration``, a preflight (``OPTIONS`` with ``Origin`` and
  ``Access-Control-Request-Method``) is answered here, 204, never reaching a function, and a request
  with an ``Origin`` gets the configured CORS headers added to the function's answer (replacing any
  the function set, as API Gateway does);
- the path is the request's path as sent: ``//charges`` is not ``/charges`` (it goes to ``$default``);
  repeated query parameters are joined with commas in ``queryStringParameters``;
- a body that stops arriving for ``BODY_READ_TIMEOUT_SECONDS`` is answered 408 with the envelope;
- connections are accepted with a listen backlog of ``LISTEN_BACKLOG`` and served one thread each,
  so that a burst of clients connecting at once is queued, not reset.
"""

import base64
import json
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from local.sam import ACCOUNT_ID, CorsConfiguration, Route

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request limit
API_ID = "local"
BODY_READ_TIMEOUT_SECONDS = 10.0
IDLE_TIMEOUT_SECONDS = 60.0  # a keep-alive connection with no new request is closed after this
LISTEN_BACKLOG = 1024
_TEXT_MEDIA_TYPES = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded"}
)

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class HttpRequest:
    """A request as it arrived: method, target (path and query), headers in order, raw body."""

    method: str
    target: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def select_route(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route API Gateway would pick (``routes`` most specific first, ``$default`` last) and its path parameters."""
    for route in routes:
        if route.is_default:
            return route, {}
        parameters = route.match(method, path)
        if parameters is not None:
            return route, parameters
    return None


def split_target(target: str) -> tuple[str, str]:
    """The path exactly as sent (``//charges`` stays so) and the raw query string of a request target."""
    path, _, query = target.partition("?")
    return path.split("#", 1)[0] or "/", query


def is_text(content_type: str | None, body: bytes, content_encoding: str | None = None) -> bool:
    """Whether the body is passed as text: valid UTF-8 of a textual (or undeclared) media type, not encoded
    (a ``Content-Encoding`` other than ``identity`` makes it binary, whatever its bytes); else base64."""
    if any(coding.strip().lower() not in ("", "identity") for coding in (content_encoding or "").split(",")):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not content_type:
        return True
    media_type = content_type.split(";")[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES or media_type.endswith(("+json", "+xml"))


def http_api_event(request: HttpRequest, route: Route, path_parameters: dict[str, str]) -> dict[str, Any]:
    """The HTTP API payload v2 event of ``request`` for ``route``."""
    path, raw_query = split_target(request.target)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
    }
    if cookies:
        event["cookies"] = cookies
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    host = headers.get("host", "127.0.0.1")
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": request.method,
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if request.body:
        text = is_text(headers.get("content-type"), request.body, headers.get("content-encoding"))
        event["body"] = request.body.decode("utf-8") if text else base64.b64encode(request.body).decode("ascii")
        event["isBase64Encoded"] = not text
    else:
        event["isBase64Encoded"] = False
    return event


def http_response(result: Any) -> HttpResponse:
    """The HTTP response API Gateway makes of a function's answer (payload format 2.0)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Format inference: anything but a response object is a 200 with the answer as JSON.
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], body.encode("utf-8"))
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    raw = result.get("body")
    if raw is None:
        content = b""
    elif result.get("isBase64Encoded"):
        content = base64.b64decode(raw)
    else:
        content = (raw if isinstance(raw, str) else json.dumps(raw)).encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, content)


def _envelope(status: int, field: str, message: str) -> HttpResponse:
    body = {"success": False, "code": status, "data": None, "errors": [{"field": field, "message": message}]}
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode("utf-8"))


def is_preflight(request: HttpRequest) -> bool:
    """A CORS preflight: ``OPTIONS`` with an ``Origin`` and an ``Access-Control-Request-Method``."""
    names = {name.lower() for name, _ in request.headers}
    return request.method == "OPTIONS" and {"origin", "access-control-request-method"} <= names


def _header(request: HttpRequest, name: str) -> str:
    return next((value for key, value in request.headers if key.lower() == name), "")


def preflight_response(cors: CorsConfiguration, request: HttpRequest) -> HttpResponse:
    """API Gateway's own answer to a preflight: 204, with the configured headers if origin and method are allowed."""
    origin, method = _header(request, "origin"), _header(request, "access-control-request-method")
    if not (cors.allows_origin(origin) and cors.allows_method(method)):
        return HttpResponse(204, [], b"")
    headers = [
        ("Access-Control-Allow-Origin", "*" if "*" in cors.allow_origins else origin),
        ("Access-Control-Allow-Methods", ",".join(cors.allow_methods)),
        ("Access-Control-Allow-Headers", ",".join(cors.allow_headers)),
    ]
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return HttpResponse(204, headers, b"")


def with_cors_headers(cors: CorsConfiguration, request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """The answer to a request from an allowed ``Origin``: the configured CORS headers instead of the function's."""
    origin = _header(request, "origin")
    if not origin or not cors.allows_origin(origin):
        return response
    headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
    headers.append(("Access-Control-Allow-Origin", "*" if "*" in cors.allow_origins else origin))
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return HttpResponse(response.status, headers, response.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A keep-alive connection a client never closes must not hold up the shutdown.
    block_on_close = False
    # Python's default backlog is 5: a burst of clients connecting at once would be reset.
    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone in the middle of a request (killed, reset) is not an error of ours: one line, no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            print(f"{client_address[0]}: the client closed the connection ({type(error).__name__})", flush=True)
            return
        super().handle_error(request, client_address)


class Gateway:
    """The HTTP server: one thread per connection, HTTP/1.1 keep-alive, requests to functions."""

    def __init__(
        self,
        routes: Sequence[Route],
        invoke: Invoke,
        host: str = "127.0.0.1",
        port: int = 3000,
        *,
        cors: CorsConfiguration | None = None,
    ) -> None:
        self.routes = list(routes)
        self.invoke = invoke
        self.cors = cors
        self._server = _Server((host, port), _handler_class(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def handle(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        """The response to ``request`` and the name of the function that answered it ("-" for none)."""
        if self.cors is not None and is_preflight(request):
            return preflight_response(self.cors, request), "-"
        response, function = self._route(request)
        return (response if self.cors is None else with_cors_headers(self.cors, request, response)), function

    def _route(self, request: HttpRequest) -> tuple[HttpResponse, str]:
        path = split_target(request.target)[0]
        selected = select_route(self.routes, request.method, path)
        if selected is None:
            return HttpResponse(404, [("Content-Type", "application/json")], b'{"message":"Not Found"}'), "-"
        route, parameters = selected
        event = http_api_event(request, route, parameters)
        try:
            return http_response(self.invoke(route.function, event)), route.function
        except Exception as exc:
            print(f"{route.function} raised while answering {request.method} {path}:", file=sys.stderr)
            traceback.print_exc()
            message = f"{route.function} failed: {type(exc).__name__}: {exc} (traceback in the local stack's output)"
            return _envelope(500, "request", message), route.function


def _read_chunked(stream: Any, limit: int) -> bytes:
    body = b""
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass
            return body
        body += stream.read(size)
        stream.readline()
        if len(body) > limit:
            raise ValueError("payload too large")


class _RequestHandler(BaseHTTPRequestHandler):
    """Every request to the gateway ``_handler_class`` binds it to."""

    gateway: Gateway
    protocol_version = "HTTP/1.1"
    server_version = "beacon-local"
    # Headers and body leave in two writes: with Nagle's algorithm on, a keep-alive client waits
    # for a delayed ACK (40-200 ms) before the body arrives.
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_SECONDS

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method without a do_<METHOD> with its own HTML 501; every method is routed here.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except TimeoutError:
            self.close_connection = True
            message = f"the request body did not arrive within {BODY_READ_TIMEOUT_SECONDS:g} s"
            response, function = _envelope(408, "body", message), "-"
        except ValueError as exc:
            self.close_connection = True
            response, function = _envelope(413 if "large" in str(exc) else 400, "body", str(exc)), "-"
        else:
            request = HttpRequest(
                method=self.command,
                target=self._target(),
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                protocol=self.request_version,
            )
            response, function = self.gateway.handle(request)
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped waiting (its timeout): nothing left to answer, no error of ours.
            self.close_connection = True
            print(f"{self.command} {self._target()} -> {function}: the client closed the connection", flush=True)
            return
        elapsed = (time.perf_counter() - started) * 1000
        print(f"{self.command} {self._target()} -> {function} {response.status} ({elapsed:.0f} ms)", flush=True)

    def _target(self) -> str:
        # http.server folds a leading "//" into "/" in self.path; API Gateway routes the path as sent.
        parts = self.requestline.split()
        return parts[1] if len(parts) == 3 else self.path

    def _read_body(self) -> bytes:
        """The body; ``TimeoutError`` when it stalls for ``BODY_READ_TIMEOUT_SECONDS``."""
        connection: socket.socket = self.connection
        connection.settimeout(BODY_READ_TIMEOUT_SECONDS)
        try:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return _read_chunked(self.rfile, MAX_PAYLOAD_BYTES)
            length_header = self.headers.get("Content-Length") or "0"
            if not length_header.isdigit():
                raise ValueError("Content-Length is not a number")
            length = int(length_header)
            if length > MAX_PAYLOAD_BYTES:
                raise ValueError(f"payload too large: {length} bytes; API Gateway accepts {MAX_PAYLOAD_BYTES}")
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                raise ValueError(f"the body ended after {len(body)} of {length} bytes (Content-Length)")
            return body
        finally:
            connection.settimeout(IDLE_TIMEOUT_SECONDS)

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        skip = {"content-length", "transfer-encoding", "connection"}
        for name, value in response.headers:
            if name.lower() not in skip:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """The access line is printed by ``_serve``; the stdlib's own is left out."""

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve


def _handler_class(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    """The request handler class of a server in front of ``gateway``."""
    return type("RequestHandler", (_RequestHandler,), {"gateway": gateway})
