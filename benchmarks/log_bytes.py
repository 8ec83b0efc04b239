"""Log bytes per invocation: what each function writes to its log group, and what the platform and API Gateway add.

CloudWatch Logs bills every byte it ingests, so this part measures the bytes rather than assuming them:

- **application**: the real handlers, in process, warm (after a first invocation, whose cold start adds one
  ``ColdStart`` metric line), at the template's log level, with their output captured: the logger's lines and
  the EMF line Powertools' metrics print, which is the invocation's one line (``beacon.observability``). The
  median over a few requests of each kind, accepted and refused; DynamoDB is answered from memory.
- **platform**: the lines Lambda itself writes for an invocation when ``SystemLogLevel`` is INFO or DEBUG
  (``platform.start`` and ``platform.report``, JSON, in the shape AWS documents, with this stack's values: a
  request id, the duration, memory, the trace header of ``Tracing: Active``). At WARN, the template's default,
  an invocation that ends well writes none. These are built, not measured: nothing here runs Lambda.
- **access log**: API Gateway's line for each request, the template's ``AccessLogSettings.Format`` filled with
  a request's values (the request id, an IPv4 address, the time, the route, status, length and latency).
"""

import copy
import io
import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.fake_dynamodb import FakeDynamoDB, seed_keys
from benchmarks.functions import EVENTS_DIR
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


def _written(sink: io.StringIO, invoke: Callable[[], Any]) -> tuple[str, Any]:
    start = sink.tell()
    answer = invoke()
    sink.seek(start)
    text = sink.read()
    sink.seek(0, io.SEEK_END)
    return text, answer


def _case(
    sink: io.StringIO, name: str, function: str, handler: Any, make_event: Callable[[], Event], count: int
) -> LogCase:
    sizes, lines, statuses, example = [], [], [], ""
    for n in range(count + 1):
        text, answer = _written(sink, lambda: handler(make_event(), LambdaContext()))
        status = str(answer.get("statusCode", 200)) if isinstance(answer, dict) else "200"
        if n == 0:
            continue  # the first invocation of the process may carry the cold start's metric line
        sizes.append(len(text.encode("utf-8")))
        lines.append(len(text.splitlines()))
        statuses.append(status)
        example = text.splitlines()[-1] if text else ""
    [status] = set(statuses)
    return LogCase(name, function, status, statistics.median(sizes), statistics.median(lines), count, example)


def _job_event() -> Event:
    event: Event = json.loads((EVENTS_DIR / "customer_jobs.json").read_text(encoding="utf-8"))
    return event


def _erase_event() -> Event:
    event: Event = json.loads((EVENTS_DIR / "erase_customer.json").read_text(encoding="utf-8"))
    return event


def measure(count: int = 20) -> LogReport:
    """The bytes of each kind of invocation, ``count`` of each."""
    fake = FakeDynamoDB()
    sink = io.StringIO()
    report = LogReport(platform_bytes=platform_bytes(), access_log_bytes=access_log_bytes())
    with in_process(fake, lambda table: seed_keys(fake, table), sink=sink) as handlers:
        create, bulk = handlers["create_charge"].lambda_handler, handlers["bulk_charges"].lambda_handler
        read, stream = handlers["get_summary"].lambda_handler, handlers["summarize_charges"].lambda_handler
        jobs, erase = handlers["customer_jobs"].lambda_handler, handlers["erase_customer"].lambda_handler
        refused = http_event("create_charge.json", {"user_id": "user_1", "amount": "49.99"})
        read_event = http_event("get_summary.json", {})
        read_event["headers"]["authorization"] = "Bearer sk_local_dev"
        read_event["queryStringParameters"] = {"user_id": "stream_0"}
        read_event["rawQueryString"] = "user_id=stream_0"
        report.cases = [
            _case(sink, "single charge", "CreateChargeFunction", create, single_charge_event, count),
            _case(sink, "single charge, user_id only", "CreateChargeFunction", create, user_id_charge_event, count),
            _case(sink, "single charge refused (400)", "CreateChargeFunction", create, lambda: refused, count),
            _case(sink, "bulk of 20", "BulkChargesFunction", bulk, lambda: bulk_event(20), count),
            _case(
                sink,
                "stream batch of 100 records, 10 customers",
                "SummarizeChargesFunction",
                stream,
                lambda: stream_event(100, 10, fake, "ChargesTable"),
                count,
            ),
            _case(sink, "summary read", "GetSummaryFunction", read, lambda: copy.deepcopy(read_event), count),
            _case(sink, "customer job (a recompute)", "CustomerJobsFunction", jobs, _job_event, count),
            _case(sink, "erasure (DELETE /customers)", "EraseCustomerFunction", erase, _erase_event, count),
        ]
    return report
