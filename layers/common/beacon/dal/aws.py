"""boto3 clients, created on first use; the translation of AWS failures into domain errors; backoff."""

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ParamValidationError, ReadTimeoutError

from beacon.errors import StorageUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sqs import SQSClient

# Throttling and server-side faults: the request may succeed if sent again.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)

BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0
# Calls one function makes at once (the stream function writes a batch's customers concurrently):
# the client keeps as many connections, so that no call waits for one.
MAX_CONCURRENT_CALLS = 32

_BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
    max_pool_connections=MAX_CONCURRENT_CALLS,
    # Per call, botocore checks the parameters against the model and rebuilds its User-Agent string from a
    # dozen sanitized parts: a third of a call's CPU, which bounds the stream function's concurrent writes
    # (docs/benchmarks.md, "Concurrent stream writes"). Our requests are built by dal/ alone (DynamoDB still
    # refuses a malformed one), and a fixed User-Agent only leaves out the SDK's own usage metadata.
    parameter_validation=False,
    user_agent="beacon-charges",
)


@lru_cache(maxsize=1)
def dynamodb_client() -> "DynamoDBClient":
    """The DynamoDB client of this execution environment (``AWS_ENDPOINT_URL`` points it elsewhere)."""
    return boto3.client("dynamodb", config=_BOTO_CONFIG)


@lru_cache(maxsize=1)
def kms_client() -> "KMSClient":
    """The KMS client of this execution environment, created on first use (only to hash an erased identity)."""
    return boto3.client("kms", config=_BOTO_CONFIG)


@lru_cache(maxsize=1)
def sqs_client() -> "SQSClient":
    """The SQS client of this execution environment, created on first use (rarely: only to queue a job)."""
    return boto3.client("sqs", config=_BOTO_CONFIG)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with full jitter: a random delay up to ``base * 2**attempt``, capped.

    The one backoff of the project: every retry loop sleeps ``backoff_delay(attempt)`` (tests patch this name).
    """
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ``ClientError``."""
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn throttling, timeouts and server faults into ``StorageUnavailableError`` (503, safe to retry)."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in RETRYABLE_CODES:
            raise StorageUnavailableError(f"storage is busy while trying to {action}; retry the request") from exc
        raise
    except (ReadTimeoutError, ConnectionError) as exc:
        raise StorageUnavailableError(f"storage did not answer while trying to {action}; retry the request") from exc
    except ParamValidationError:
        raise
    except BotoCoreError as exc:
        raise StorageUnavailableError(f"storage failed while trying to {action}; retry the request") from exc


BATCH_ATTEMPTS = 8
BATCH_GET_LIMIT = 100


def until_processed(
    send: Callable[[dict[str, Any]], Any],
    request_items: dict[str, Any],
    *,
    unprocessed: str,
    action: str,
    sleep: Callable[[float], None],
) -> list[dict[str, Any]]:
    """Answers of a batch call (``send(request_items)``), sent again with what DynamoDB left unprocessed
    (the answer's ``unprocessed`` field) until nothing is left: the one retry loop of the batch calls.

    Between two calls it sleeps ``backoff_delay(attempt)`` seconds; after ``BATCH_ATTEMPTS`` calls that
    still leave something, the work fails with ``StorageUnavailableError`` (503, safe to retry).
    """
    answers: list[dict[str, Any]] = []
    pending = request_items
    for attempt in range(BATCH_ATTEMPTS):
        with storage_errors(action):
            answer = send(pending)
        answers.append(answer)
        pending = dict(answer.get(unprocessed) or {})
        if not pending:
            return answers
        if attempt + 1 < BATCH_ATTEMPTS:  # no point waiting after the last attempt
            sleep(backoff_delay(attempt))
    raise StorageUnavailableError(f"storage is busy and did not finish while trying to {action}; retry the request")


def batch_get_items(
    client: "DynamoDBClient",
    table_name: str,
    keys: Sequence[dict[str, Any]],
    *,
    action: str,
    sleep: Callable[[float], None],
    projection: str | None = None,
) -> list[dict[str, Any]]:
    """Every item found under ``keys`` (strongly consistent BatchGetItem, 100 keys a call; keys left
    unprocessed asked again by ``until_processed``)."""
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {"Keys": list(keys[start : start + BATCH_GET_LIMIT]), "ConsistentRead": True}
        if projection is not None:
            request["ProjectionExpression"] = projection
        answers = until_processed(
            lambda pending: client.batch_get_item(RequestItems=pending),
            {table_name: request},
            unprocessed="UnprocessedKeys",
            action=action,
            sleep=sleep,
        )
        items.extend(item for answer in answers for item in answer.get("Responses", {}).get(table_name, []))
    return items
