"""The summaries table: summaries, the seen items beside them, and the one conditional write that keeps both right.

A summary is written with a condition on the ``version`` it was computed from (or on its absence):
one ``PutItem``, or, when the write also adds seen items (``logic.seen``), one
``TransactWriteItems`` of the summary and those items. Either the figures and the window of
counted charges change together, or nothing does. Charge items are never written here.
"""

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.dal.aws import batch_get_items, dynamodb_client, error_code, storage_errors
from beacon.dal.item_keys import CHARGE_ITEM_TYPE, charge_pk, seen_bucket_range, seen_pk, summary_pk
from beacon.dal.items import (
    charge_from_item,
    seen_ids_from_item,
    seen_item,
    summary_from_item,
    summary_item,
    summary_key,
)
from beacon.errors import StorageUnavailableError
from beacon.models.records import ChargeRecord
from beacon.models.summary import StoredSummary

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A transaction holds at most 100 items (the summary and 99 seen items) and 4 MB.
MAX_SEEN_ITEMS_PER_WRITE = 99
MAX_IDS_PER_SEEN_ITEM = 20_000  # 320 KB of ids, under DynamoDB's 400 KB item limit
MAX_SEEN_IDS_PER_WRITE = 200_000  # 3.2 MB, under the 4 MB of a transaction
# Cancellation reasons after which the same write may succeed when sent again.
RETRYABLE_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
# Seen items outlive the longest window (a record age of 7 days, the most Lambda allows, and margins).
SEEN_ITEM_LIFETIME_SECONDS = 8 * 86_400


class SummariesRepository:
    """Reads and writes summaries; marks charges summarized in the same transactions."""

    def __init__(
        self,
        summaries_table: str,
        charges_table: str,
        client: "DynamoDBClient | None" = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.summaries_table = summaries_table
        self.charges_table = charges_table
        self._client = client
        self._sleep = sleep

    @property
    def client(self) -> "DynamoDBClient":
        return self._client or dynamodb_client()

    def get(self, project_id: str, customer: str, *, consistent: bool = True) -> StoredSummary | None:
        """One customer's summary, or ``None`` before its first summarized charge."""
        with storage_errors("read the summary"):
            response = self.client.get_item(
                TableName=self.summaries_table,
                Key=summary_key(project_id, customer),
                ConsistentRead=consistent,
            )
        item = response.get("Item")
        return summary_from_item(item) if item else None

    def get_many(self, customers: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredSummary]:
        """The summaries of several ``(project_id, customer)`` at once (consistent BatchGetItem, 100 a call)."""
        keys = [summary_key(project, customer) for project, customer in dict.fromkeys(customers)]
        items = batch_get_items(self.client, self.summaries_table, keys, action="read the summaries", sleep=self._sleep)
        summaries = (summary_from_item(item) for item in items)
        return {(stored.project_id, stored.customer_id): stored for stored in summaries}

    def list_for_project(self, project_id: str) -> Iterator[StoredSummary]:
        """Every summary of a project (one paginated Query on the project's partition)."""
        paginator = self.client.get_paginator("query")
        with storage_errors("list the summaries"):
            for page in paginator.paginate(
                TableName=self.summaries_table,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": summary_pk(project_id)}},
                ConsistentRead=True,
            ):
                for item in page.get("Items", []):
                    yield summary_from_item(item)

    def customers_with_charges(self, project_id: str) -> set[str]:
        """Every customer of a project that has a stored charge: a Scan of the whole charges table.

        Its cost is the size of the charges table (every project's charges are read and filtered),
        which is why a project-wide rebuild is an occasional operator command.
        """
        customers: set[str] = set()
        paginator = self.client.get_paginator("scan")
        with storage_errors("scan the charges"):
            for page in paginator.paginate(
                TableName=self.charges_table,
                FilterExpression="project_id = :project AND #type = :charge",
                ProjectionExpression="customer_id",
                ExpressionAttributeNames={"#type": "type"},
                ExpressionAttributeValues={":project": {"S": project_id}, ":charge": {"S": CHARGE_ITEM_TYPE}},
            ):
                customers.update(item["customer_id"]["S"] for item in page.get("Items", []))
        return customers

    def seen_ids(self, project_id: str, customer: str, buckets: Sequence[int]) -> frozenset[str]:
        """The ids in the customer's seen items of ``buckets`` (one consistent Query over their range)."""
        if not buckets:
            return frozenset()
        low, high = seen_bucket_range(min(buckets), max(buckets))
        wanted = set(buckets)
        ids: set[str] = set()
        paginator = self.client.get_paginator("query")
        with storage_errors("read the seen charges"):
            for page in paginator.paginate(
                TableName=self.summaries_table,
                KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
                ExpressionAttributeValues={
                    ":pk": {"S": seen_pk(project_id, customer)},
                    ":low": {"S": low},
                    ":high": {"S": high},
                },
                ConsistentRead=True,
            ):
                for item in page.get("Items", []):
                    if int(item["bucket"]["N"]) in wanted:
                        ids.update(seen_ids_from_item(item))
        return frozenset(ids)

    def write(
        self,
        summary: StoredSummary,
        *,
        expected_version: int | None,
        seen: Mapping[int, frozenset[str]],
        now: int,
    ) -> bool:
        """Write ``summary`` (and the seen items of ``seen``: bucket -> ids) if it is still at ``expected_version``.

        ``expected_version`` ``None``: no summary yet. ``summary.version`` must be the next one. ``False``:
        the summary changed meanwhile, or DynamoDB refused for now (a conflict, a throttle): re-read it.
        """
        put: dict[str, Any] = {"TableName": self.summaries_table, "Item": summary_item(summary, updated_at=now)}
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        items = self._seen_items(summary, seen, now=now)
        try:
            with storage_errors("write the summary"):
                if items:
                    transaction: list[Any] = [{"Put": put}, *({"Put": item} for item in items)]
                    self.client.transact_write_items(TransactItems=transaction)
                else:
                    self.client.put_item(**put)
        except ClientError as exc:
            _raise_unless_refused(exc)
            return False
        return True

    def _seen_items(self, summary: StoredSummary, seen: Mapping[int, frozenset[str]], *, now: int) -> list[Any]:
        items: list[Any] = []
        for bucket, ids in sorted(seen.items()):
            ordered = sorted(ids)
            for part, start in enumerate(range(0, len(ordered), MAX_IDS_PER_SEEN_ITEM)):
                item = seen_item(
                    summary.project_id,
                    summary.customer_id,
                    bucket=bucket,
                    version=summary.version,
                    part=part,
                    ids=ordered[start : start + MAX_IDS_PER_SEEN_ITEM],
                    expires_at=now + SEEN_ITEM_LIFETIME_SECONDS,
                )
                # A new version's items never exist: the summary's version check makes them unique.
                items.append({"TableName": self.summaries_table, "Item": item})
        if len(items) > MAX_SEEN_ITEMS_PER_WRITE or sum(map(len, seen.values())) > MAX_SEEN_IDS_PER_WRITE:
            raise ValueError("too many seen ids for one write (see MAX_SEEN_ITEMS_PER_WRITE)")
        return items

    def charges_of(self, project_id: str, customer: str) -> list[ChargeRecord]:
        """Every stored charge of one customer (a consistent Query of its partition)."""
        charges: list[ChargeRecord] = []
        paginator = self.client.get_paginator("query")
        with storage_errors("read the charges"):
            for page in paginator.paginate(
                TableName=self.charges_table,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :charge)",
                ExpressionAttributeValues={":pk": {"S": charge_pk(project_id, customer)}, ":charge": {"S": "CHARGE#"}},
                ConsistentRead=True,
            ):
                charges.extend(charge_from_item(item) for item in page.get("Items", []))
        return charges


def _raise_unless_refused(exc: ClientError) -> None:
    """Return when the write was refused by its condition or for now (re-read and try again); raise otherwise."""
    code = error_code(exc)
    if code == "ConditionalCheckFailedException":
        return
    if code != "TransactionCanceledException":
        raise exc
    reasons = exc.response.get("CancellationReasons") or []
    codes = {str(reason.get("Code") or "None") for reason in reasons}
    unexpected = codes - {"None", "ConditionalCheckFailed", *RETRYABLE_REASONS}
    if unexpected:
        raise StorageUnavailableError(f"the summary transaction was refused: {', '.join(sorted(unexpected))}") from exc
