"""The embedded AWS: moto's server on a local port, with the template's tables (and streams) and queues.

moto keeps every table in this process's memory: the data lives as long as the local stack does.
Two doors lead to the same backends, one call at a time (``BACKEND_LOCK``): the HTTP endpoint that
the stack prints (for ``bin/beacon``, the AWS CLI, the tests), and, for the boto3 clients of this
process (the functions, the stream poller), a botocore hook that hands a call for that endpoint
straight to moto's backend in the calling thread: no signature, no socket, no HTTP parsing, no server thread.
"""

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypedDict

import boto3
import botocore.handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HeadersDict
from botocore.config import Config
from botocore.model import OperationModel
from botocore.parsers import ResponseParser, ResponseParserFactory
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import MockRawResponse
from moto.core.exceptions import HTTPException
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from beacon.dal.api_keys import ApiKeysRepository
from local import moto_fixes
from local.sam import LocalResources
from local.template import resources_of_type, table_definitions
from ops.keys import new_key_record

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

ACCESS_KEY_ID = SECRET_ACCESS_KEY = "local"
# Short timeouts: the server is on this machine; a call that takes seconds is a bug worth seeing.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=30)


class _Credentials(TypedDict):
    aws_access_key_id: str
    aws_secret_access_key: str


_CREDENTIALS = _Credentials(aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# moto's backends are not thread-safe: every call, through either door, holds this lock, which makes
# each call atomic, as in AWS (and lets local.moto_fixes roll a cancelled transaction back safely).
BACKEND_LOCK = threading.Lock()


def _one_request_at_a_time(app: WsgiApp) -> WsgiApp:
    """The server's WSGI app, one call at a time (``BACKEND_LOCK``)."""

    def serialized(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with BACKEND_LOCK:
            # Read the whole answer under the lock: the body iterator may still touch the backend.
            return list(app(environ, start_response))

    return serialized


class EmbeddedAws(ThreadedMotoServer):
    """moto's threaded server (on 127.0.0.1 unless told), calls serialized, start-up failures (a busy port) raised."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self._error: BaseException | None = None
        # werkzeug logs every request at INFO; the API's own access log is enough.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    def _server_entry(self) -> None:
        try:
            app = _one_request_at_a_time(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, threaded=True)
        except BaseException as exc:
            self._error = exc
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        moto_fixes.apply()
        super().start()
        if self._error is not None:
            raise self._error

    @property
    def endpoint(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


# X-Amz-Target prefix of the JSON protocol -> moto's service name and the AWS host its URL patterns expect.
_SERVICES = {
    "DynamoDB_20120810": ("dynamodb", "dynamodb.{region}.amazonaws.com"),
    "DynamoDBStreams_20120810": ("dynamodbstreams", "streams.dynamodb.{region}.amazonaws.com"),
    "AmazonSQS": ("sqs", "sqs.{region}.amazonaws.com"),
    "TrentService": ("kms", "kms.{region}.amazonaws.com"),
}
Dispatch = Callable[[Any, str, Any], tuple[int, dict[str, str], str | bytes]]


class InProcessCalls:
    """A botocore ``before-call`` hook: calls to ``endpoint`` are answered by moto's backend in this thread.

    Only DynamoDB, DynamoDB Streams and SQS (JSON protocol) calls are taken; anything else goes on to
    the HTTP endpoint as before. The answer is the one the server would give (the same handler of
    moto's, under ``BACKEND_LOCK``), parsed by botocore's parser for the operation (with the modeled
    fields of an error, such as a failed condition's ``Item``), as botocore's own ``Stubber`` answers
    from this event. What is saved is what a call does after it is serialized and before its answer
    is parsed: the user agent, the SigV4 signature, the retry machinery, the socket round trip, HTTP
    on both sides and the server's routing. No call is retried: moto neither throttles nor fails
    transiently, and what a function retries itself (a version conflict, a cancelled transaction)
    is an answer like any other.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/") + "/"
        self._dispatch: dict[tuple[str, str], tuple[str, Dispatch]] = {}
        self._parsers: dict[str, ResponseParser] = {}
        self.calls = 0

    def __call__(
        self, model: OperationModel, params: dict[str, Any], context: dict[str, Any], **kwargs: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        url = params.get("url") or ""
        region = context.get("client_region")
        if not url.startswith(self.endpoint) or not region:
            return None
        headers = HeadersDict({name: _text(value) for name, value in params.get("headers", {}).items()})
        target = headers.get("X-Amz-Target")
        service = _SERVICES.get(target.split(".", 1)[0]) if target else None
        if service is None:
            return None
        # A HeadersDict, as botocore's own prepared requests have (its type hints say otherwise).
        request = AWSPreparedRequest(params["method"], url, headers, params.get("body") or b"", False)  # type: ignore[arg-type]
        moto_url, dispatch = self._handler(service, region, url[len(self.endpoint) - 1 :])
        try:
            with BACKEND_LOCK:
                self.calls += 1
                status, answer_headers, body = dispatch(request, moto_url, request.headers)
        except HTTPException as exc:
            status, answer_headers, body = exc.code or 500, dict(exc.get_headers()), exc.get_body()
        content = body.encode("utf-8") if isinstance(body, str) else body
        response = AWSResponse(url, status, answer_headers, MockRawResponse(content))  # type: ignore[arg-type]
        return response, self._parse(model, response, content)

    def _parse(self, model: OperationModel, response: AWSResponse, content: bytes) -> dict[str, Any]:
        """What botocore's endpoint makes of an answer: the output (or the error and its modeled fields)."""
        protocol = model.service_model.resolved_protocol
        parser = self._parsers.get(protocol)
        if parser is None:
            parser = self._parsers[protocol] = ResponseParserFactory().create_parser(protocol)
        answer = {"headers": response.headers, "status_code": response.status_code, "body": content}
        parsed: dict[str, Any] = parser.parse(answer, model.output_shape)  # type: ignore[arg-type]
        if response.status_code >= 300:
            code = parsed.get("Error", {}).get("Code")
            shape = model.service_model.shape_for_error_code(code) if code else None
            if shape is not None:
                parsed.update(parser.parse(answer, shape))
        parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
        return parsed

    def _handler(self, service: tuple[str, str], region: str, path: str) -> tuple[str, Dispatch]:
        name, host = service
        cached = self._dispatch.get((name, region))
        if cached is None:
            base = f"https://{host.format(region=region)}"
            backend = get_backend(name)[DEFAULT_ACCOUNT_ID][region]  # type: ignore[call-overload]
            dispatch = next(handler for pattern, handler in backend.urls.items() if re.match(pattern, base + "/"))
            cached = self._dispatch[(name, region)] = (base, dispatch)
        return cached[0] + path, cached[1]

    def install(self) -> None:
        """Answer the calls of every boto3 client created from now on in this process."""
        botocore.handlers.BUILTIN_HANDLERS.append(("before-call", self))
        boto3.DEFAULT_SESSION = None  # the default session is made again, with the hook

    def uninstall(self) -> None:
        botocore.handlers.BUILTIN_HANDLERS.remove(("before-call", self))
        boto3.DEFAULT_SESSION = None


def _text(value: str | bytes | None) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else (value or "")


def dynamodb(endpoint: str, region: str) -> "DynamoDBClient":
    """A DynamoDB client of the embedded AWS."""
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region, config=_CLIENT_CONFIG, **_CREDENTIALS)


def dynamodb_streams(endpoint: str, region: str) -> "DynamoDBStreamsClient":
    """A DynamoDB Streams client of the embedded AWS."""
    return boto3.client(
        "dynamodbstreams", endpoint_url=endpoint, region_name=region, config=_CLIENT_CONFIG, **_CREDENTIALS
    )


def sqs(endpoint: str, region: str) -> "SQSClient":
    """An SQS client of the embedded AWS."""
    return boto3.client("sqs", endpoint_url=endpoint, region_name=region, config=_CLIENT_CONFIG, **_CREDENTIALS)


def kms(endpoint: str, region: str) -> "KMSClient":
    """A KMS client of the embedded AWS."""
    return boto3.client("kms", endpoint_url=endpoint, region_name=region, config=_CLIENT_CONFIG, **_CREDENTIALS)


def create_resources(endpoint: str, resources: LocalResources) -> None:
    """Create the template's DynamoDB tables (keys, indexes, stream), SQS queues and KMS keys; record their names."""
    ddb = dynamodb(endpoint, resources.region)
    for logical_id, definition in table_definitions().items():
        name = f"{resources.stack_name}-{logical_id}"
        description = ddb.create_table(TableName=name, **definition)["TableDescription"]
        resources.tables[logical_id] = name
        if "LatestStreamArn" in description:
            resources.table_stream_arns[logical_id] = description["LatestStreamArn"]
    queues = sqs(endpoint, resources.region)
    templates = resources_of_type("AWS::SQS::Queue")
    for logical_id, queue in templates.items():
        fifo = str(queue.get("Properties", {}).get("FifoQueue", "false")).lower() == "true"
        name = f"{resources.stack_name}-{logical_id}" + (".fifo" if fifo else "")
        created = queues.create_queue(QueueName=name, Attributes={"FifoQueue": "true"}) if fifo else None
        resources.queue_urls[logical_id] = (created or queues.create_queue(QueueName=name))["QueueUrl"]
    for logical_id, queue in templates.items():  # once every queue exists: a redrive names its dead-letter queue
        attributes = _queue_attributes(resources.resolve(queue.get("Properties", {})))
        queues.set_queue_attributes(QueueUrl=resources.queue_urls[logical_id], Attributes=attributes)
    keys = kms(endpoint, resources.region)
    for logical_id, key in resources_of_type("AWS::KMS::Key").items():
        spec = {name: key["Properties"][name] for name in ("KeySpec", "KeyUsage") if name in key["Properties"]}
        created_key = keys.create_key(Description=logical_id, **spec)["KeyMetadata"]
        # In AWS !Ref gives the key's id; here an alias, which KMS takes wherever it takes the id, so
        # that env.json can name the key of a stack not yet started.
        alias = f"alias/{resources.stack_name}-{logical_id}"
        keys.create_alias(AliasName=alias, TargetKeyId=created_key["KeyId"])
        resources.key_arns[logical_id], resources.key_names[logical_id] = created_key["Arn"], alias


def _queue_attributes(properties: dict[str, Any]) -> "dict[QueueAttributeNameType, str]":
    """The template's queue properties SQS applies (retention, visibility, delay, redrive), as SQS attributes."""
    names: tuple[QueueAttributeNameType, ...] = (
        "MessageRetentionPeriod",
        "VisibilityTimeout",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
    )
    attributes: dict[QueueAttributeNameType, str] = {n: str(properties[n]) for n in names if n in properties}
    if "RedrivePolicy" in properties:
        attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
    return attributes


def seed_keys(endpoint: str, region: str, table_name: str, project: str, public_key: str, secret_key: str) -> None:
    """Store a public and a secret key for ``project`` (their hashes, as ``beacon keys create`` does)."""
    repository = ApiKeysRepository(table_name, dynamodb(endpoint, region))
    repository.put(new_key_record(project, "public", public_key)[1])
    repository.put(new_key_record(project, "secret", secret_key)[1])
