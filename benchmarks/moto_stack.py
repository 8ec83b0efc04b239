"""The handlers in process against moto, with the tables of template.yaml and a metered DynamoDB client."""

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks.dynamodb_units import Item
from benchmarks.harness import LambdaContext, in_process, stream_record
from benchmarks.metering import Meter, MotoItems
from local import moto_fixes
from local.template import table_definitions


@dataclass
class Stack:
    """The handlers, running in process against moto, metered."""

    handlers: dict[str, Any]
    meter: Meter
    inspector: Any
    tables: dict[str, str]

    def call(self, name: str, event: dict[str, Any]) -> Any:
        answer = self.handlers[name].lambda_handler(event, LambdaContext())
        failed = isinstance(answer, dict) and (answer.get("statusCode", 200) != 200 or answer.get("batchItemFailures"))
        if failed:
            raise RuntimeError(f"{name} did not accept the benchmark's request: {str(answer)[:300]}")
        return answer

    def summarize(self, items: list[Item]) -> None:
        """One stream invocation carrying these charge items, as the event source mapping would deliver them."""
        self.call("summarize_charges", {"Records": [stream_record(item) for item in items]})

    def summaries(self) -> dict[str, Item]:
        """Every summary item, by customer (``u#...``)."""
        paginator = self.inspector.get_paginator("scan")
        pages = paginator.paginate(TableName=self.tables["SummariesTable"])
        items = (item for page in pages for item in page["Items"] if item["type"]["S"] == "summary")
        return {item["customer_id"]["S"]: item for item in items}


@contextlib.contextmanager
def moto_stack() -> Iterator[Stack]:
    """Every table of template.yaml in moto, the local project's keys, the handlers wired to a metered client."""
    import boto3
    from moto import mock_aws

    tables = {logical_id: logical_id for logical_id in table_definitions()}
    with _fast_moto_transactions(), mock_aws():
        inspector = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        for logical_id, definition in table_definitions().items():
            inspector.create_table(TableName=logical_id, **definition)
        client = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        meter = Meter(client, MotoItems("us-east-1"), tables["ChargesTable"])
        with in_process(client, lambda table: _seed_keys(inspector, table)) as handlers:
            try:
                yield Stack(handlers, meter, inspector, tables)
            finally:
                importlib.invalidate_caches()


def _seed_keys(client: Any, table_name: str) -> None:
    from beacon.dal.items import api_key_item
    from ops.keys import new_key_record

    for kind, raw in (("public", "pk_local_dev"), ("secret", "sk_local_dev")):
        record = new_key_record("local", kind, raw)[1]  # type: ignore[arg-type]
        client.put_item(TableName=table_name, Item=api_key_item(record))


@contextlib.contextmanager
def _fast_moto_transactions() -> Iterator[None]:
    """The local stack's fix of moto's TransactWriteItems, which deep-copies whole tables once per item."""
    moto_fixes.apply()
    try:
        yield
    finally:
        moto_fixes.remove()
