"""The handlers in process against moto, with the tables of template.yaml and a metered DynamoDB client."""

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks.fake_dynamodb import key_items
from benchmarks.harness import LambdaContext, in_process, record_of
from benchmarks.metering import Item, Meter
from local import moto_fixes
from local.template import table_definitions


@dataclass
class Stack:
    """The handlers, running in process against moto, metered."""

    handlers: dict[str, Any]
    meter: Meter
    inspector: Any
    tables: dict[str, str]
    client: Any
    """The metered client the handlers use."""

    def call(self, name: str, event: dict[str, Any]) -> Any:
        answer = self.handlers[name].lambda_handler(event, LambdaContext())
        failed = isinstance(answer, dict) and (answer.get("statusCode", 200) != 200 or answer.get("batchItemFailures"))
        if failed:
            raise RuntimeError(f"{name} did not accept the benchmark's request: {str(answer)[:300]}")
        return answer

    def summarize(self, items: list[Item]) -> None:
        """One stream invocation carrying these charge items, as the event source mapping would deliver them."""
        self.call("summarize_charges", {"Records": [record_of(item) for item in items]})

    def store(self, items: list[Item]) -> None:
        """Store charge items as the write path would, unmetered (a recompute reads them)."""
        for item in items:
            self.inspector.put_item(TableName=self.tables["ChargesTable"], Item=item)

    def summaries(self) -> dict[str, Item]:
        """Every summary item, by customer (``u#...``)."""
        pages = self.inspector.get_paginator("scan").paginate(TableName=self.tables["SummariesTable"])
        items = (item for page in pages for item in page["Items"] if item["type"]["S"] == "summary")
        return {item["customer_id"]["S"]: item for item in items}


@contextlib.contextmanager
def moto_stack() -> Iterator[Stack]:
    """Every table of template.yaml in moto, the local project's keys, the handlers wired to a metered client."""
    import boto3
    from moto import mock_aws

    tables = {logical_id: logical_id for logical_id in table_definitions()}
    with _moto_as_dynamodb(), mock_aws():
        inspector = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        for logical_id, definition in table_definitions().items():
            inspector.create_table(TableName=logical_id, **definition)
        client = boto3.session.Session().client("dynamodb", region_name="us-east-1")
        meter = Meter(client, tables["ChargesTable"])

        def seed_keys(table: str) -> None:
            for item in key_items():
                inspector.put_item(TableName=table, Item=item)

        with in_process(client, seed_keys) as handlers:
            yield Stack(handlers, meter, inspector, tables, client)


@contextlib.contextmanager
def _moto_as_dynamodb() -> Iterator[None]:
    """moto with the local stack's fixes (``local.moto_fixes``), answering one call at a time as DynamoDB applies
    each atomically: the stream function writes a batch's customers from several threads."""
    from moto.core.botocore_stubber import BotocoreStubber

    real, lock = BotocoreStubber.process_request, threading.Lock()

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return real(self, request)

    moto_fixes.apply()
    BotocoreStubber.process_request = one_at_a_time  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = real  # type: ignore[method-assign]
        moto_fixes.remove()
