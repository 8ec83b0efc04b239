"""An in-memory stand-in for the DynamoDB client, so that a benchmark times our code and a model test runs fast.

It keeps items in dicts and answers the calls the functions make (GetItem, PutItem, UpdateItem,
DeleteItem, BatchWriteItem, BatchGetItem, Query, Scan, TransactWriteItems), counting each one, one
call at a time (a lock: DynamoDB applies each call atomically). It keeps DynamoDB's rules where our
code depends on them: a PutItem's condition (``attribute_not_exists(PK)`` or ``version = :expected``)
is checked, a transaction applies all of its Puts and Deletes or none, as its conditions hold (a
ConditionCheck: the erasure's, that the summary is a tombstone), with ``TransactionCanceledException``
and a reason per item, a Query reads one partition in sort key order (``PK = :pk``, ``begins_with(SK,
...)``, ``SK BETWEEN``) in pages of ``page_size`` items. It does not evaluate update expressions nor
filters: a benchmark that needs more runs on moto (see ``capacity``). Beyond DynamoDB it answers the
two calls an erasure makes: SQS's SendMessage (the message kept in ``messages``) and KMS's GenerateMac
(an HMAC-SHA-256 keyed by the key id).

``latency`` adds a fixed delay to every call (outside the lock: calls overlap, as DynamoDB's do);
``hooks`` see each call before it is answered (a model test interleaves other work there).
"""

import functools
import hashlib
import heapq
import hmac
import threading
import time
import types
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

Item = dict[str, Any]
KEY_NAMES = ("PK", "SK", "id")
Hook = Callable[[str, dict[str, Any]], None]


def _key(item: Item) -> tuple[str, ...]:
    return tuple(str(next(iter(item[name].values()))) for name in KEY_NAMES if name in item)


class FakeDynamoDB:
    """Answers DynamoDB client calls from memory; ``calls`` counts them by operation name."""

    def __init__(self, *, latency: float = 0.0, page_size: int = 1_000) -> None:
        self.tables: dict[str, dict[tuple[str, ...], Item]] = {}
        self.calls: Counter[str] = Counter()
        self.latency = latency
        self.page_size = page_size
        self.hooks: list[Hook] = []
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.RLock()

    def table(self, name: str) -> dict[tuple[str, ...], Item]:
        return self.tables.setdefault(name, {})

    def seed(self, table_name: str, item: Item) -> None:
        """Store an item without counting a call (keys, summaries a benchmark starts from)."""
        self.table(table_name)[_key(item)] = item

    def _call(self, operation: str, params: dict[str, Any], answer: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        for hook in list(self.hooks):
            hook(operation, params)
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.calls[operation] += 1
            return answer()

    def get_item(self, *, TableName: str, Key: Item, **_: Any) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            item = self.table(TableName).get(_key(Key))
            return {"Item": item} if item is not None else {}

        return self._call("GetItem", {"TableName": TableName, "Key": Key}, answer)

    def put_item(self, **params: Any) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            if not self._holds(params):
                old = params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                raise _conditional_check_failed(
                    "PutItem", self.table(params["TableName"]).get(_key(params["Item"])) if old else None
                )
            self.table(params["TableName"])[_key(params["Item"])] = params["Item"]
            return {}

        return self._call("PutItem", params, answer)

    def _holds(self, put: dict[str, Any]) -> bool:
        """Whether a Put's condition holds (the two our code writes, or none)."""
        condition = put.get("ConditionExpression", "")
        current = self.table(put["TableName"]).get(_key(put["Item"]))
        if condition.startswith("attribute_not_exists(PK)"):
            return current is None
        if condition == "version = :expected":
            return current is not None and current["version"] == put["ExpressionAttributeValues"][":expected"]
        return True

    def _action_holds(self, action: dict[str, Any]) -> bool:
        """Whether a transaction's action holds: a Put's condition, the ConditionCheck our code makes (the summary
        is an erasure's tombstone)."""
        if "Put" in action:
            return self._holds(action["Put"])
        if "ConditionCheck" not in action:
            return True
        check = action["ConditionCheck"]
        condition = check["ConditionExpression"]
        if condition != "attribute_exists(erased_before) AND charge_count = :none":
            raise NotImplementedError(condition)
        current = self.table(check["TableName"]).get(_key(check["Key"]))
        none = check["ExpressionAttributeValues"][":none"]
        return current is not None and "erased_before" in current and current["charge_count"] == none

    def update_item(self, *, TableName: str, Key: Item, **_: Any) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            self.table(TableName).setdefault(_key(Key), dict(Key))
            return {}

        return self._call("UpdateItem", {"TableName": TableName, "Key": Key}, answer)

    def delete_item(self, *, TableName: str, Key: Item, **_: Any) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            self.table(TableName).pop(_key(Key), None)
            return {}

        return self._call("DeleteItem", {"TableName": TableName, "Key": Key}, answer)

    def batch_write_item(self, *, RequestItems: dict[str, list[Item]], **_: Any) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            for table_name, requests in RequestItems.items():
                table = self.table(table_name)
                for request in requests:
                    if "PutRequest" in request:
                        table[_key(request["PutRequest"]["Item"])] = request["PutRequest"]["Item"]
                    else:
                        table.pop(_key(request["DeleteRequest"]["Key"]), None)
            return {"UnprocessedItems": {}}

        return self._call("BatchWriteItem", {"RequestItems": RequestItems}, answer)

    def batch_get_item(self, *, RequestItems: dict[str, Item], **_: Any) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            responses = {
                name: [self.table(name)[_key(k)] for k in spec["Keys"] if _key(k) in self.table(name)]
                for name, spec in RequestItems.items()
            }
            return {"Responses": responses, "UnprocessedKeys": {}}

        return self._call("BatchGetItem", {"RequestItems": RequestItems}, answer)

    def query(self, **params: Any) -> dict[str, Any]:
        return self._call("Query", params, lambda: self._page(self._matching(params), params))

    def scan(self, **params: Any) -> dict[str, Any]:
        return self._call("Scan", params, lambda: self._page(list(self.table(params["TableName"]).items()), params))

    def _matching(self, params: dict[str, Any]) -> list[tuple[tuple[str, ...], Item]]:
        """The items of a Query's partition that its sort key condition keeps (``_page`` orders them)."""
        values, condition = params["ExpressionAttributeValues"], params["KeyConditionExpression"]
        pk = values[":pk"]["S"]
        items = [(key, item) for key, item in self.table(params["TableName"]).items() if key[0] == pk]
        if "begins_with(SK" in condition:
            prefix = values[condition.split("begins_with(SK, ")[1].split(")")[0]]["S"]
            items = [(key, item) for key, item in items if key[1].startswith(prefix)]
        if "SK BETWEEN" in condition:
            low, high = values[":low"]["S"], values[":high"]["S"]
            items = [(key, item) for key, item in items if low <= key[1] <= high]
        return items

    def _page(self, items: list[tuple[tuple[str, ...], Item]], params: dict[str, Any]) -> dict[str, Any]:
        """One page, in key order, from ``ExclusiveStartKey``, with ``LastEvaluatedKey`` when more follow.

        Only the page is sorted (``heapq.nsmallest``): reading a large partition page by page stays linear.
        """
        if (start := params.get("ExclusiveStartKey")) is not None:
            after = _key(start)
            items = [(key, item) for key, item in items if key > after]
        size = min(params.get("Limit") or self.page_size, self.page_size)
        page = heapq.nsmallest(size + 1, items, key=lambda entry: entry[0])
        more, page = len(page) > size, page[:size]
        answer: dict[str, Any] = {"Items": [item for _, item in page], "Count": len(page)}
        if more:
            answer["LastEvaluatedKey"] = {name: page[-1][1][name] for name in KEY_NAMES if name in page[-1][1]}
        return answer

    def get_paginator(self, operation: str) -> Any:
        """A paginator that follows ``LastEvaluatedKey`` (``query`` and ``scan`` alike)."""
        return types.SimpleNamespace(paginate=functools.partial(_pages, getattr(self, operation)))

    def transact_write_items(self, *, TransactItems: list[Item], **_: Any) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            holds = [self._action_holds(action) for action in TransactItems]
            if not all(holds):
                raise _transaction_cancelled(holds)
            for action in TransactItems:
                if "Put" in action:
                    self.table(action["Put"]["TableName"])[_key(action["Put"]["Item"])] = action["Put"]["Item"]
                elif "Delete" in action:
                    self.table(action["Delete"]["TableName"]).pop(_key(action["Delete"]["Key"]), None)
            return {}

        return self._call("TransactWriteItems", {"TransactItems": TransactItems}, answer)

    def send_message(self, **params: Any) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            self.messages.append(params)
            return {"MessageId": str(uuid.uuid4())}

        return self._call("SendMessage", params, answer)

    def generate_mac(self, *, KeyId: str, Message: bytes, MacAlgorithm: str, **_: Any) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            mac = hmac.new(KeyId.encode(), Message, hashlib.sha256).digest()
            return {"Mac": mac, "KeyId": KeyId, "MacAlgorithm": MacAlgorithm}

        return self._call("GenerateMac", {"KeyId": KeyId}, answer)

    def answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Dispatch by operation name (``PutItem``), as a botocore ``before-call`` hook sees it."""
        method: Callable[..., dict[str, Any]] = getattr(self, _snake(operation))
        return method(**params)


def _pages(method: Callable[..., dict[str, Any]], **params: Any) -> Iterator[dict[str, Any]]:
    params.pop("PaginationConfig", None)
    while True:
        page = method(**params)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _transaction_cancelled(holds: list[bool]) -> ClientError:
    reasons = [{"Code": "None"} if held else {"Code": "ConditionalCheckFailed"} for held in holds]
    error = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}, "CancellationReasons": reasons}
    return ClientError(error, "TransactWriteItems")  # type: ignore[arg-type]


def _conditional_check_failed(operation: str, item: Item | None = None) -> ClientError:
    error: dict[str, Any] = {
        "Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}
    }
    if item is not None:
        error["Item"] = item  # ReturnValuesOnConditionCheckFailure=ALL_OLD
    return ClientError(error, operation)  # type: ignore[arg-type]


def attach(events: Any, fake: FakeDynamoDB) -> None:
    """Make the DynamoDB (and SQS, KMS) clients of these botocore ``events`` (a client's ``meta.events``, or a
    session's ``events`` for every client it creates from now on) answer from ``fake``: they still validate and
    serialize, but send nothing."""

    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = dict(params)

    def answer(model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        try:
            return AWSResponse("", 200, {}, None), fake.answer(model.name, context["bench_params"])  # type: ignore[arg-type]
        except ClientError as exc:
            return AWSResponse("", 400, {}, None), dict(exc.response)  # type: ignore[arg-type]

    for service in ("dynamodb", "sqs", "kms"):
        events.register_first(f"before-parameter-build.{service}", keep_params)
        events.register(f"before-call.{service}", answer)


def key_items() -> list[Item]:
    """The local project's public and secret keys (``pk_local_dev``, ``sk_local_dev``), as the key store holds them."""
    from beacon.dal.items import api_key_item
    from ops.keys import new_key_record

    kinds = (("public", "pk_local_dev"), ("secret", "sk_local_dev"))
    return [api_key_item(new_key_record("local", kind, raw)[1]) for kind, raw in kinds]  # type: ignore[arg-type]


def seed_keys(fake: FakeDynamoDB, table_name: str) -> None:
    for item in key_items():
        fake.seed(table_name, item)


def seed_summaries(fake: FakeDynamoDB, table_name: str, stream_event: dict[str, Any]) -> None:
    """The summaries that the charges of a stream event (events/summarize_charges.json) make, as stored."""
    from beacon.dal.items import charge_from_item
    from beacon.dal.summary_items import summary_item
    from beacon.logic.fold import summarize
    from beacon.models.records import ChargeRecord
    from beacon.models.stored import SeenWindow, StoredSummary

    charges: dict[tuple[str, str], list[ChargeRecord]] = {}
    for record in stream_event.get("Records", []):
        charge = charge_from_item(record["dynamodb"]["NewImage"])
        charges.setdefault((charge.project_id, charge.customer_id), []).append(charge)
    for (project_id, customer), records in charges.items():
        stored = StoredSummary(
            project_id=project_id,
            customer_id=customer,
            summary=summarize(records, session_timeout=1800),
            version=1,
            seen=SeenWindow(since=0),  # a window that has not expired any bucket yet
        )
        fake.seed(table_name, summary_item(stored, updated_at=max(c.received_at for c in records)))
