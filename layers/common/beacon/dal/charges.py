"""The charges table: charges are written once and never changed by the write path."""

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.dal.aws import BATCH_ATTEMPTS, batch_get_items, dynamodb_client, error_code, storage_errors, until_processed
from beacon.dal.item_keys import charge_pk
from beacon.dal.items import AttributeValues, charge_content, charge_item, charge_key, received_ms_of
from beacon.models.records import ChargeRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_WRITE_LIMIT = 25
MAX_ATTEMPTS = BATCH_ATTEMPTS
# PutItems in flight for the named charges of one bulk: botocore's default connection pool (10).
PUT_CONCURRENCY = 10


def _chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ChargeIdTakenError(Exception):
    """Named charges whose ``charge_id`` is stored already with another amount or ``created_at``.

    ``charges`` are the request's records that were refused; ``written`` counts the charges of the
    request that were stored before the conflict showed (0 unless another request raced this one).
    """

    def __init__(self, charges: Sequence[ChargeRecord], written: int = 0) -> None:
        super().__init__(f"{len(charges)} charge_id(s) already stored with other content")
        self.charges = list(charges)
        self.written = written


class ChargesRepository:
    """Writes and reads charge items."""

    def __init__(
        self,
        table_name: str,
        client: "DynamoDBClient | None" = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._sleep = sleep

    @property
    def client(self) -> "DynamoDBClient":
        return self._client or dynamodb_client()

    def add(self, charges: Sequence[ChargeRecord], *, skip_existing: bool) -> int:
        """Store charges that are not stored yet; return how many were written.

        Charges the client named (``client_charge_id``) go first, each one conditional PutItem that
        never overwrites: one already stored with the same content is left as it is, one stored with
        other content raises ``ChargeIdTakenError``. When several are named, they are all read first
        (one consistent BatchGetItem per 100), so that a conflict is found before anything is written.

        Then the others: a single one is one conditional PutItem; several go through BatchWriteItem
        (25 a call, unprocessed items retried with backoff), and with ``skip_existing`` (charge ids
        derived from an Idempotency-Key) the ones a failed earlier attempt already wrote are read first
        and left as they are, so that a retry never rewrites or duplicates a charge.
        """
        named = [c for c in charges if c.client_charge_id is not None]
        unnamed = [c for c in charges if c.client_charge_id is None]
        written = self._add_named(named) if named else 0
        if len(unnamed) == 1:
            return written + (self._put_if_absent(unnamed[0]) is None)
        if skip_existing:
            stored = self._stored_keys(unnamed)
            unnamed = [c for c in unnamed if _pk_sk(charge_key(c)) not in stored]
        self._batch_write([charge_item(c) for c in unnamed])
        return written + len(unnamed)

    def _add_named(self, charges: Sequence[ChargeRecord]) -> int:
        if len(charges) > 1:
            stored = self._stored_contents(charges)
            taken = [c for c in charges if c.charge_id in stored and stored[c.charge_id] != c.content]
            if taken:
                raise ChargeIdTakenError(taken)
            charges = [c for c in charges if c.charge_id not in stored]
        found = self._put_each_if_absent(charges)
        # Only a request that raced this one since the read above can have stored other content.
        taken = [c for c, item in zip(charges, found, strict=True) if item is not None and _content(item) != c.content]
        written = sum(item is None for item in found)
        if taken:
            raise ChargeIdTakenError(taken, written)
        return written

    def _put_each_if_absent(self, charges: Sequence[ChargeRecord]) -> list[AttributeValues | None]:
        if len(charges) <= 1:
            return [self._put_if_absent(c) for c in charges]
        with ThreadPoolExecutor(max_workers=min(PUT_CONCURRENCY, len(charges))) as pool:
            return list(pool.map(self._put_if_absent, charges))

    def _put_if_absent(self, charge: ChargeRecord) -> AttributeValues | None:
        """Write the charge unless its key is taken; ``None`` when written, else the item stored under it."""
        try:
            with storage_errors("store the charge"):
                self.client.put_item(
                    TableName=self.table_name,
                    Item=charge_item(charge),
                    # A charge id is random, derived from an Idempotency-Key (an item there is this very
                    # charge, stored by an earlier attempt) or from the client's charge_id (compared by
                    # the caller); the item that is there comes back at no extra cost.
                    ConditionExpression="attribute_not_exists(PK)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                stored: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
                return stored
            raise
        return None

    def erase_received_before(self, project_id: str, customer: str, erased_before: int) -> Iterator[int]:
        """Delete the customer's charges received before ``erased_before`` (UNIX ms), a page at a time.

        Yields how many each page deleted, so that the caller may stop between pages and go on later
        (a deleted charge is not read again). A Query of the customer's partition for the keys and
        receive times, and BatchWriteItem deletes, ``PUT_CONCURRENCY`` at a time. Charges received
        from then on stay.
        """
        paginator = self.client.get_paginator("query")
        pages = iter(
            paginator.paginate(
                TableName=self.table_name,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": charge_pk(project_id, customer)}},
                ProjectionExpression="PK, SK, received_at, received_ms",
                ConsistentRead=True,
            )
        )
        with ThreadPoolExecutor(max_workers=PUT_CONCURRENCY) as pool:
            while True:
                with storage_errors("read the charges to erase"):
                    page = next(pages, None)
                if page is None:
                    return
                keys = [_key_of(item) for item in page.get("Items", []) if received_ms_of(item) < erased_before]
                list(pool.map(self._batch_delete, _chunks(keys, BATCH_WRITE_LIMIT)))
                yield len(keys)

    def _batch_delete(self, keys: Sequence[dict[str, Any]]) -> None:
        until_processed(
            lambda pending: self.client.batch_write_item(RequestItems=pending),
            {self.table_name: [{"DeleteRequest": {"Key": key}} for key in keys]},
            unprocessed="UnprocessedItems",
            action="erase the charges",
            sleep=self._sleep,
        )

    def _batch_write(self, items: Sequence[dict[str, Any]]) -> None:
        for chunk in _chunks(items, BATCH_WRITE_LIMIT):
            until_processed(
                lambda pending: self.client.batch_write_item(RequestItems=pending),
                {self.table_name: [{"PutRequest": {"Item": item}} for item in chunk]},
                unprocessed="UnprocessedItems",
                action="store the charges",
                sleep=self._sleep,
            )

    def _stored_keys(self, charges: Sequence[ChargeRecord]) -> set[tuple[str, str]]:
        items = batch_get_items(
            self.client,
            self.table_name,
            [charge_key(c) for c in charges],
            action="check the stored charges",
            sleep=self._sleep,
            projection="PK, SK",
        )
        return {_pk_sk(item) for item in items}

    def _stored_contents(self, charges: Sequence[ChargeRecord]) -> dict[str, tuple[int, int | None]]:
        """Charge id -> content of those of ``charges`` that are stored (amount, created_at as the client sent it)."""
        items = batch_get_items(
            self.client,
            self.table_name,
            [charge_key(c) for c in charges],
            action="check the stored charges",
            sleep=self._sleep,
            projection="charge_id, amount, client_created_at",
        )
        return {item["charge_id"]["S"]: charge_content(item) for item in items}


def _content(item: AttributeValues) -> tuple[int, int | None] | None:
    """The content of the item a failed condition returned (``None`` if none came back: never the same)."""
    return charge_content(item) if item else None


def _key_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"PK": item["PK"], "SK": item["SK"]}


def _pk_sk(item: dict[str, Any]) -> tuple[str, str]:
    return item["PK"]["S"], item["SK"]["S"]
