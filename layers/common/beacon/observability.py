"""Logger, metrics and tracer shared by every function, and the one line each invocation writes.

Configured by what template.yaml sets in Globals: ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``,
the application log level (Lambda's advanced logging controls pass it as ``AWS_LAMBDA_LOG_LEVEL``, which
Powertools' Logger obeys) and ``POWERTOOLS_TRACE_DISABLED``. Importing this module creates no AWS client and
loads nothing of the X-Ray SDK.

**One line per invocation.** The EMF document that ``metrics.log_metrics`` prints when the handler returns is
the invocation's line: its metrics and, as EMF metadata (``record``), what an operator looks a request up by:
``correlation_id`` (API Gateway's request id, or Lambda's for the stream function), ``status``, ``duration_ms``,
the project and key, the counts. Lambda files it at INFO (it has no ``level``). ``logger`` writes only what
goes wrong (WARNING, ERROR, with the same ``correlation_id``) and, at DEBUG, detail. The fields of the Lambda
context (function name, memory size, ARN, Lambda request id, cold start) are not repeated on every line: the
log group names the function and the platform records the rest.

**Tracing.** Lambda's active tracing (template.yaml, ``Tracing``) records each sampled invocation, with no SDK
in the function. Powertools' Tracer, which imports the X-Ray SDK and patches botocore when it is built, is
built only when ``POWERTOOLS_TRACE_DISABLED`` is ``false`` (the ``TracingSubsegments`` parameter): it adds
subsegments for the handler, the route and each AWS call. Otherwise ``tracer``'s decorators return the function
unchanged.
"""

import functools
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import jmespath_utils
from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = [
    "LambdaContext",
    "MetricUnit",
    "correlation_paths",
    "log_invocation",
    "logger",
    "metrics",
    "record",
    "tracer",
]

logger = Logger()
metrics = Metrics()

Handler = Callable[[Any, LambdaContext], Any]


class Tracer(Protocol):
    """What the handlers use of Powertools' Tracer."""

    def capture_lambda_handler(self, lambda_handler: Handler) -> Handler: ...

    def capture_method(self, method: Callable[..., Any]) -> Callable[..., Any]: ...


class Untraced:
    """Stands in for Powertools' Tracer when SDK subsegments are off: its decorators return the function."""

    def capture_lambda_handler(self, lambda_handler: Handler) -> Handler:
        return lambda_handler

    def capture_method(self, method: Callable[..., Any]) -> Callable[..., Any]:
        return method


def sdk_subsegments_enabled(environment: Mapping[str, str] = os.environ) -> bool:
    """Whether the functions run Powertools' Tracer: only when ``POWERTOOLS_TRACE_DISABLED`` says ``false``."""
    return environment.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() in ("false", "0")


def _tracer() -> Tracer:
    if not sdk_subsegments_enabled():
        return Untraced()
    from aws_lambda_powertools import Tracer as PowertoolsTracer

    tracer: Tracer = PowertoolsTracer()
    return tracer


tracer = _tracer()


def record(**fields: Any) -> None:
    """Put ``fields`` on this invocation's line (EMF metadata: searchable in the logs, not metric dimensions);
    ``None`` values are left out."""
    for key, value in fields.items():
        if value is not None:
            metrics.add_metadata(key=key, value=value)


def log_invocation(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Decorator for a handler, inside ``metrics.log_metrics``: its line names the invocation and how it ended.

    ``correlation_id`` is the event's value at ``correlation_id_path`` (a JMESPath expression, as Powertools'
    ``correlation_paths`` give them), or Lambda's request id without one; the logger's lines carry it too. An
    answer with a ``statusCode`` puts ``status`` on the line, and one other than 2xx also counts
    ``ErrorResponses``, by status (a dimension set of its own beside ``service``).
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def logged(event: Any, context: LambdaContext) -> Any:
            started = time.perf_counter()
            correlation_id = (
                jmespath_utils.query(envelope=correlation_id_path, data=event)
                if correlation_id_path
                else context.aws_request_id
            )
            logger.set_correlation_id(correlation_id)
            answer = handler(event, context)
            status = answer.get("statusCode") if isinstance(answer, Mapping) else None
            if status is not None and not 200 <= int(status) < 300:
                metrics.add_metric(name="ErrorResponses", unit=MetricUnit.Count, value=1)
                service = {"service": str(metrics.service)} if metrics.service else {}
                metrics.add_dimensions(**service, status=str(status))
            record(
                correlation_id=correlation_id,
                status=None if status is None else str(status),
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return answer

        return logged

    return decorate
