"""A local API Gateway (HTTP API): routes requests to the template's functions as payload v2 events.

Each request becomes the event API Gateway would send (see events/create_charge.json), the route
chosen as API Gateway chooses it (the most specific ``Method Path``, else ``$default``), and the
function's answer (statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded) becomes
the HTTP response. A handler that raises gets its traceback printed and the client a 500 envelope;
the server keeps serving.
"""

import base64
import json
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
from urllib.parse import parse_qsl, urlsplit

from local.sam import ACCOUNT_ID, Route

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request limit
API_ID = "local"
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


def is_text(content_type: str | None, body: bytes) -> bool:
    """Whether API Gateway passes the body as text (else it base64-encodes it)."""
    if not content_type:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    media_type = content_type.split(";")[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES or media_type.endswith(("+json", "+xml"))


def http_api_event(request: HttpRequest, route: Route, path_parameters: dict[str, str]) -> dict[str, Any]:
    """The HTTP API payload v2 event of ``request`` for ``route``."""
    split = urlsplit(request.target)
    path, raw_query = split.path or "/", split.query
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
        text = is_text(headers.get("content-type"), request.body)
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A keep-alive connection a client never closes must not hold up the shutdown.
    block_on_close = False


class Gateway:
    """The HTTP server: one thread per connection, HTTP/1.1 keep-alive, requests to functions."""

    def __init__(self, routes: Sequence[Route], invoke: Invoke, host: str = "127.0.0.1", port: int = 3000) -> None:
        self.routes = list(routes)
        self.invoke = invoke
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
        path = urlsplit(request.target).path or "/"
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


def _handler_class(gateway: Gateway) -> type[BaseHTTPRequestHandler]:  # noqa: C901 (one nested class of small methods)
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "beacon-local"
        # Headers and body leave in two writes: with Nagle's algorithm on, a keep-alive client waits
        # for a delayed ACK (40-200 ms) before the body arrives.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            started = time.perf_counter()
            try:
                body = self._read_body()
            except ValueError as exc:
                self.close_connection = True
                response, function = _envelope(413 if "large" in str(exc) else 400, "body", str(exc)), "-"
            else:
                request = HttpRequest(
                    method=self.command,
                    target=self.path,
                    headers=list(self.headers.items()),
                    body=body,
                    source_ip=self.client_address[0],
                    protocol=self.request_version,
                )
                response, function = gateway.handle(request)
            self._send(response)
            elapsed = (time.perf_counter() - started) * 1000
            print(f"{self.command} {self.path} -> {function} {response.status} ({elapsed:.0f} ms)", flush=True)

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return _read_chunked(self.rfile, MAX_PAYLOAD_BYTES)
            length_header = self.headers.get("Content-Length") or "0"
            if not length_header.isdigit():
                raise ValueError("Content-Length is not a number")
            length = int(length_header)
            if length > MAX_PAYLOAD_BYTES:
                raise ValueError(f"payload too large: {length} bytes; API Gateway accepts {MAX_PAYLOAD_BYTES}")
            return self.rfile.read(length) if length else b""

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

    return RequestHandler
