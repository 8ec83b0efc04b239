"""An in-memory stand-in for the DynamoDB client, so that a benchmark times our code and not a server.

It keeps items in dicts and answers the calls the functions make (GetItem, PutItem with an
``attribute_not_exists`` condition, UpdateItem, DeleteItem, BatchWriteItem, BatchGetItem, Query,
TransactWriteItems), counting each one. It does not evaluate update expressions: a benchmark that
needs DynamoDB's semantics runs on moto (see ``capacity``).
"""

from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

Item = dict[str, Any]
KEY_NAMES = ("PK", "SK", "id")


def _key(item: Item) -> tuple[str, ...]:
    return tuple(str(next(iter(item[name].values()))) for name in KEY_NAMES if name in item)


class FakeDynamoDB:
    """Answers DynamoDB client calls from memory; ``calls`` counts them by operation name."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[tuple[str, ...], Item]] = {}
        self.calls: Counter[str] = Counter()

    def table(self, name: str) -> dict[tuple[str, ...], Item]:
        return self.tables.setdefault(name, {})

    def seed(self, table_name: str, item: Item) -> None:
        """Store an item without counting a call (keys, summaries a benchmark starts from)."""
        self.table(table_name)[_key(item)] = item

    def get_item(self, *, TableName: str, Key: Item, **_: Any) -> dict[str, Any]:
        self.calls["GetItem"] += 1
        item = self.table(TableName).get(_key(Key))
        return {"Item": item} if item is not None else {}

    def put_item(self, *, TableName: str, Item: Item, ConditionExpression: str = "", **_: Any) -> dict[str, Any]:
        self.calls["PutItem"] += 1
        table = self.table(TableName)
        if ConditionExpression.startswith("attribute_not_exists(PK)") and _key(Item) in table:
            raise _conditional_check_failed("PutItem")
        table[_key(Item)] = Item
        return {}

    def update_item(self, *, TableName: str, Key: Item, **_: Any) -> dict[str, Any]:
        self.calls["UpdateItem"] += 1
        self.table(TableName).setdefault(_key(Key), dict(Key))
        return {}

    def delete_item(self, *, TableName: str, Key: Item, **_: Any) -> dict[str, Any]:
        self.calls["DeleteItem"] += 1
        self.table(TableName).pop(_key(Key), None)
        return {}

    def batch_write_item(self, *, RequestItems: dict[str, list[Item]], **_: Any) -> dict[str, Any]:
        self.calls["BatchWriteItem"] += 1
        for table_name, requests in RequestItems.items():
            table = self.table(table_name)
            for request in requests:
                if "PutRequest" in request:
                    table[_key(request["PutRequest"]["Item"])] = request["PutRequest"]["Item"]
                else:
                    table.pop(_key(request["DeleteRequest"]["Key"]), None)
        return {"UnprocessedItems": {}}

    def batch_get_item(self, *, RequestItems: dict[str, Item], **_: Any) -> dict[str, Any]:
        self.calls["BatchGetItem"] += 1
        responses = {
            name: [self.table(name)[_key(k)] for k in spec["Keys"] if _key(k) in self.table(name)]
            for name, spec in RequestItems.items()
        }
        return {"Responses": responses, "UnprocessedKeys": {}}

    def query(self, *, TableName: str, ExpressionAttributeValues: Item, **_: Any) -> dict[str, Any]:
        self.calls["Query"] += 1
        pk = next(iter(ExpressionAttributeValues.values()))["S"]
        return {"Items": [item for key, item in self.table(TableName).items() if key[0] == pk], "Count": 0}

    def get_paginator(self, operation: str) -> "_OnePage":
        """A paginator whose every result fits one page (``query`` and ``scan`` alike)."""
        return _OnePage(getattr(self, operation))

    def transact_write_items(self, *, TransactItems: list[Item], **_: Any) -> dict[str, Any]:
        self.calls["TransactWriteItems"] += 1
        for action in TransactItems:
            if "Put" in action:
                self.table(action["Put"]["TableName"])[_key(action["Put"]["Item"])] = action["Put"]["Item"]
            elif "Update" in action:
                update = action["Update"]
                self.table(update["TableName"]).setdefault(_key(update["Key"]), dict(update["Key"]))
        return {}

    def transact_get_items(self, *, TransactItems: list[Item], **_: Any) -> dict[str, Any]:
        self.calls["TransactGetItems"] += 1
        found = [self.table(g["Get"]["TableName"]).get(_key(g["Get"]["Key"])) for g in TransactItems]
        return {"Responses": [{"Item": item} if item is not None else {} for item in found]}

    def answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Dispatch by operation name (``PutItem``), as a botocore ``before-call`` hook sees it."""
        method: Callable[..., dict[str, Any]] = getattr(self, _snake(operation))
        return method(**params)


class _OnePage:
    def __init__(self, method: Any) -> None:
        self.method = method

    def paginate(self, **params: Any) -> Any:
        yield self.method(**params)


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _conditional_check_failed(operation: str) -> ClientError:
    error = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}}
    return ClientError(error, operation)  # type: ignore[arg-type]


def attach_to_client(client: Any, fake: FakeDynamoDB) -> None:
    """Make a real botocore client answer from ``fake``: it still validates and serializes, but sends nothing."""
    _register(client.meta.events, fake)


def _register(events: Any, fake: FakeDynamoDB) -> None:
    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = dict(params)

    def answer(model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        try:
            return AWSResponse("", 200, {}, None), fake.answer(model.name, context["bench_params"])  # type: ignore[arg-type]
        except ClientError as exc:
            return AWSResponse("", 400, {}, None), dict(exc.response)  # type: ignore[arg-type]

    events.register_first("before-parameter-build.dynamodb", keep_params)
    events.register("before-call.dynamodb", answer)


def attach_to_session(session: Any, fake: FakeDynamoDB) -> None:
    """Every DynamoDB client the boto3 ``session`` creates from now on answers from ``fake``."""
    _register(session.events, fake)


def seed_keys(fake: FakeDynamoDB, table_name: str) -> None:
    """The local project's public and secret keys (``pk_local_dev``, ``sk_local_dev``), as the key store holds them."""
    from beacon.dal.items import api_key_item
    from ops.keys import new_key_record

    for kind, raw in (("public", "pk_local_dev"), ("secret", "sk_local_dev")):
        fake.seed(table_name, api_key_item(new_key_record("local", kind, raw)[1]))  # type: ignore[arg-type]


def seed_summaries(fake: FakeDynamoDB, table_name: str, stream_event: dict[str, Any]) -> None:
    """The summaries that the charges of a stream event (events/summarize_charges.json) make, as stored."""
    from beacon.dal.items import charge_from_item, summary_item
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
