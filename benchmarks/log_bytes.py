"""Log bytes per invocation: what each function writes to its log group, and what the platform and API Gateway add.

- **application**: the real handlers, in process and warm, at the template's log level, their output captured (the
  invocation's one EMF line, ``beacon.observability``); the median over a few requests of each kind.
- **platform**: Lambda's ``platform.start`` and ``platform.report`` lines at ``SystemLogLevel`` INFO or DEBUG, built
  in the shape AWS documents with this stack's values (nothing here runs Lambda); WARN, the default, writes none.
- **access log**: API Gateway's line for a request, the template's ``AccessLogSettings.Format`` filled in.
"""

import copy
import functools
import io
import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.fake_dynamodb import FakeDynamoDB, seed_keys
from benchmarks.functions import EVENTS_DIR, function_specs
from benchmarks.harness import (
    Event,
    LambdaContext,
    bulk_event,
    http_event,
    in_process,
    single_charge_event,
    stream_event,
    user_id_charge_event,
)
from local.template import resources_of_type, template

# A request's values in API Gateway's access log (HTTP API ids are 16 characters; a latency of two digits).
ACCESS_LOG_VALUES = {
    "$context.requestId": "Mh8JDgzHIAMEVsA=",
    "$context.identity.sourceIp": "203.0.113.70",
    "$context.requestTime": "05/Dec/2026:08:04:12 +0000",
    "$context.routeKey": "POST /charges",
    "$context.status": "200",
    "$context.responseLength": "45",
    "$context.responseLatency": "12",
    "$context.integrationErrorMessage": "-",
}
_REQUEST_ID = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"
_TRACE = "Root=1-6752f0a4-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"
PLATFORM_LINES = (
    {
        "time": "2026-12-05T08:04:12.345Z",
        "type": "platform.start",
        "record": {"requestId": _REQUEST_ID, "version": "$LATEST"},
    },
    {
        "time": "2026-12-05T08:04:12.361Z",
        "type": "platform.report",
        "record": {
            "requestId": _REQUEST_ID,
            "metrics": {"durationMs": 15.74, "billedDurationMs": 16, "memorySizeMB": 512, "maxMemoryUsedMB": 91},
            "tracing": {"spanId": "54565fb41ac79632", "type": "X-Amzn-Trace-Id", "value": _TRACE},
            "status": "success",
        },
    },
)


@dataclass
class LogCase:
    """One kind of invocation: the median bytes and lines it wrote."""

    name: str
    function: str
    status: str
    bytes: float
    lines: float
    invocations: int
    example: str = ""


@dataclass
class LogReport:
    """Every kind of invocation, and the bytes beside the application's."""

    cases: list[LogCase] = field(default_factory=list)
    platform_bytes: int = 0
    access_log_bytes: int = 0

    def of(self, function: str) -> LogCase:
        """The function's accepted (2xx) case: what it writes on a good day."""
        return next(c for c in self.cases if c.function == function and c.status.startswith("2"))


def platform_bytes() -> int:
    """Bytes of Lambda's own lines for one invocation at ``SystemLogLevel`` INFO (one line per JSON object)."""
    return sum(len(json.dumps(line, separators=(",", ":"))) + 1 for line in PLATFORM_LINES)


def access_log_bytes(document: dict[str, Any] | None = None) -> int:
    """Bytes of API Gateway's access log line for one request, from the template's format."""
    apis = resources_of_type("AWS::Serverless::HttpApi", document or template())
    [api] = apis.values()
    line = " ".join(str(api["Properties"]["AccessLogSettings"]["Format"]).split())
    filled = re.sub(r"\$context\.[A-Za-z.]+", lambda m: ACCESS_LOG_VALUES.get(m.group(0), "-"), line)
    return len(filled.encode("utf-8")) + 1


def _case(
    sink: io.StringIO, name: str, function: str, handler: Any, make_event: Callable[[], Event], count: int
) -> LogCase:
    """``count`` invocations after a first one (whose cold start may add a metric line): their median bytes."""
    texts, statuses = [], set()
    for _ in range(count + 1):
        start = sink.seek(0, io.SEEK_END)
        answer = handler(make_event(), LambdaContext())
        statuses.add(str(answer.get("statusCode", 200)) if isinstance(answer, dict) else "200")
        sink.seek(start)
        texts.append(sink.read())
    texts = texts[1:]
    sizes, lines = [len(t.encode("utf-8")) for t in texts], [len(t.splitlines()) for t in texts]
    [status] = statuses
    example = texts[-1].splitlines()[-1] if texts[-1] else ""
    return LogCase(name, function, status, statistics.median(sizes), statistics.median(lines), count, example)


def measure(count: int = 20) -> LogReport:
    """The bytes of each kind of invocation, ``count`` of each."""
    fake, sink = FakeDynamoDB(), io.StringIO()
    report = LogReport(platform_bytes=platform_bytes(), access_log_bytes=access_log_bytes())
    refused = http_event("create_charge.json", {"user_id": "user_1", "amount": "49.99"})
    read = http_event("get_summary.json", {})
    read["headers"]["authorization"] = "Bearer sk_local_dev"
    read.update(queryStringParameters={"user_id": "stream_0"}, rawQueryString="user_id=stream_0")
    job = json.loads((EVENTS_DIR / "customer_jobs.json").read_text(encoding="utf-8"))
    erase = json.loads((EVENTS_DIR / "erase_customer.json").read_text(encoding="utf-8"))
    stream_batch = functools.partial(stream_event, 100, 10, fake, "ChargesTable")
    cases: list[tuple[str, str, Callable[[], Event]]] = [
        ("single charge", "create_charge", single_charge_event),
        ("single charge, user_id only", "create_charge", user_id_charge_event),
        ("single charge refused (400)", "create_charge", lambda: refused),
        ("bulk of 20", "bulk_charges", lambda: bulk_event(20)),
        ("stream batch of 100 records, 10 customers", "summarize_charges", stream_batch),
        ("summary read", "get_summary", lambda: copy.deepcopy(read)),
        ("customer job (a recompute)", "customer_jobs", lambda: copy.deepcopy(job)),
        ("erasure (DELETE /customers)", "erase_customer", lambda: copy.deepcopy(erase)),
    ]
    with in_process(fake, lambda table: seed_keys(fake, table), sink=sink) as handlers:
        ids = {spec.name: spec.logical_id for spec in function_specs()}
        report.cases = [_case(sink, name, ids[f], handlers[f].lambda_handler, event, count) for name, f, event in cases]
    return report
