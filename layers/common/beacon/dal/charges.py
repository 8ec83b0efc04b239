"""The charges table: charges are written once and never changed by the write path."""

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.dal import aws
from beacon.dal.aws import batch_get_items, dynamodb_client, error_code, storage_errors
from beacon.dal.items import charge_item, charge_key
from beacon.errors import StorageUnavailableError
from beacon.models.records import ChargeRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_WRITE_LIMIT = 25
MAX_ATTEMPTS = 8


def _chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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

        A single charge is one conditional PutItem. Several go through BatchWriteItem (25 a call,
        unprocessed items retried with backoff); with ``skip_existing`` (charge ids derived from an
        Idempotency-Key), the ones a failed earlier attempt already wrote are read first and left as
        they are, so that a retry never rewrites or duplicates a charge.
        """
        if len(charges) == 1:
            return self._put_if_absent(charges[0])
        if skip_existing:
            stored = self._stored_keys(charges)
            charges = [c for c in charges if _pk_sk(charge_key(c)) not in stored]
        self._batch_write([charge_item(c) for c in charges])
        return len(charges)

    def _put_if_absent(self, charge: ChargeRecord) -> int:
        try:
            with storage_errors("store the charge"):
                self.client.put_item(
                    TableName=self.table_name,
                    Item=charge_item(charge),
                    # A charge id is either random or derived from an Idempotency-Key: an item that
                    # exists already is this very charge, stored by an earlier attempt.
                    ConditionExpression="attribute_not_exists(PK)",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return 0
            raise
        return 1

    def _batch_write(self, items: Sequence[dict[str, Any]]) -> None:
        for chunk in _chunks(items, BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {self.table_name: [{"PutRequest": {"Item": item}} for item in chunk]}
            for attempt in range(MAX_ATTEMPTS):
                with storage_errors("store the charges"):
                    response = self.client.batch_write_item(RequestItems=pending)
                pending = dict(response.get("UnprocessedItems") or {})
                if not pending:
                    break
                if attempt + 1 < MAX_ATTEMPTS:  # no point waiting after the last attempt
                    self._sleep(aws.backoff_delay(attempt))
            else:
                raise StorageUnavailableError("storage is busy and did not take every charge; retry the request")

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


def _pk_sk(item: dict[str, Any]) -> tuple[str, str]:
    return item["PK"]["S"], item["SK"]["S"]
