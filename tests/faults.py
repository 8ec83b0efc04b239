"""DynamoDB faults injected into the client the code under test uses, through botocore's ``before-call`` event.

A fault answers a call instead of moto: an AWS error (parsed by botocore into the same ``ClientError``
a real throttle gives), a timeout, or a BatchWriteItem that takes only part of its items (the rest
come back as ``UnprocessedItems``, as DynamoDB does under load). Calls without a fault go to moto.
The hook short-circuits botocore's own retries, so one injected fault stands for a fault that lasted
through them.
"""

import json
import threading
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ReadTimeoutError

from beacon.dal import aws
from local.moto_speedups import binaries_as_bytes

Answer = tuple[AWSResponse, dict[str, Any]] | None
Fault = Callable[["Call"], Answer]


@dataclass
class Call:
    """One DynamoDB call as the client was about to send it."""

    operation: str
    params: dict[str, Any]
    number: int  # 1 for the first call of this operation (on this table, when the plan names one)


def aws_error(code: str, status: int = 400) -> Fault:
    """The call fails with this AWS error code (what DynamoDB answers when throttling or failing)."""

    def fault(call: Call) -> Answer:
        body = {"Error": {"Code": code, "Message": f"injected {code}"}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return AWSResponse("https://dynamodb.us-east-1.amazonaws.com", status, HTTPHeaders(), None), body

    return fault


THROTTLED = aws_error("ProvisionedThroughputExceededException")
INTERNAL_ERROR = aws_error("InternalServerError", 500)


def timed_out(call: Call) -> Answer:
    """No answer in time: what botocore raises when the read timeout expires."""
    raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@dataclass
class _Plan:
    operation: str
    fault: Fault
    calls: Collection[int] | None
    table: str | None


@dataclass
class DynamoDBFaults:
    """Faults planned per operation (and optionally per table), and a count of every call seen."""

    backend: Any  # a client of the same moto backend that no fault touches, to let part of a call through
    calls: Counter[str] = field(default_factory=Counter)
    plans: list[_Plan] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # the stream writes customers in threads

    def inject(
        self, operation: str, fault: Fault, *, calls: Collection[int] | None = None, table: str | None = None
    ) -> None:
        """Answer ``operation`` (on ``table`` only, if given) with ``fault``: on the given call numbers, or always."""
        self.plans.append(_Plan(operation, fault, calls, table))

    def clear(self) -> None:
        """No more faults (the counts stay)."""
        self.plans.clear()

    def partly_unprocessed(self, keep: int) -> Fault:
        """A BatchWriteItem that writes only its first ``keep`` items and returns the others unprocessed."""

        def fault(call: Call) -> Answer:
            [(table, requests)] = call.params["RequestItems"].items()
            if keep:
                self.backend.batch_write_item(RequestItems={table: requests[:keep]})
            unprocessed = {table: requests[keep:]} if requests[keep:] else {}
            return AWSResponse("", 200, HTTPHeaders(), None), {"UnprocessedItems": unprocessed}

        return fault

    def after_success(self, fault: Fault) -> Fault:
        """The call is carried out, then ``fault`` hides the answer (a timeout after DynamoDB wrote)."""

        def carried_out(call: Call) -> Answer:
            method = getattr(self.backend, _snake_case(call.operation))
            method(**binaries_as_bytes(call.params))
            return fault(call)

        return carried_out

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Answer:
        operation = model.name
        api_params = json.loads(params["body"] or b"{}")
        tables = _tables_of(api_params)
        with self._lock:
            self.calls[operation] += 1
            for table in tables:
                self.calls[f"{operation}:{table}"] += 1
            if "Item" in api_params and "type" in api_params["Item"]:  # a PutItem of an item of our tables
                self.calls[f"{operation}:type={api_params['Item']['type']['S']}"] += 1
            chosen = None
            for plan in self.plans:
                if plan.operation != operation or (plan.table is not None and plan.table not in tables):
                    continue
                number = self.calls[f"{operation}:{plan.table}" if plan.table else operation]
                if plan.calls is None or number in plan.calls:
                    chosen = (plan.fault, Call(operation, api_params, number))
                    break
        return chosen[0](chosen[1]) if chosen else None


def _tables_of(api_params: dict[str, Any]) -> set[str]:
    if "TableName" in api_params:
        return {api_params["TableName"]}
    return set(api_params.get("RequestItems", {}))


def _snake_case(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def install(backend: Any) -> DynamoDBFaults:
    """Hook the functions' DynamoDB client (``beacon.dal.aws.dynamodb_client()``); ``backend`` bypasses faults."""
    faults = DynamoDBFaults(backend=backend)
    aws.dynamodb_client().meta.events.register("before-call.dynamodb", faults.before_call)  # type: ignore[arg-type]  # a before-call handler may answer
    return faults
