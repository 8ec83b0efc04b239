"""The summaries table: summaries, the seen items beside them, the customer registry, and the one commit loop.

A summary is written with a condition on the ``version`` it was planned from (or on its absence):
one ``PutItem``, or, when the write also adds seen items (``logic.seen``), one
``TransactWriteItems`` of the summary and those items. Either the figures and the window of
counted charges change together, or nothing does. ``commit`` is the loop every writer of a summary
goes through (the stream, the jobs function, the operator's rebuild): plan from what is stored,
write under its version, and when the summary changed meanwhile, read it again and plan again.
A customer's first summary also writes its registry entry, under one of a few partition keys of
its project, so that a project's customers can be listed without a write per charge.
Charge items are never written here.
"""

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.dal import aws
from beacon.dal.aws import batch_get_items, dynamodb_client, error_code, storage_errors, until_processed
from beacon.dal.item_keys import (
    CHARGE_ITEM_TYPE,
    REGISTRY_SHARDS,
    SUMMARY_ITEM_TYPE,
    charge_pk,
    charge_sk,
    legacy_summary_pk,
    registry_pk,
    registry_sk,
    seen_bucket_range,
    seen_pk,
)
from beacon.dal.items import charge_from_item, erasure_item, erasure_key
from beacon.dal.summary_items import (
    legacy_summary_key,
    registry_item,
    registry_key,
    seen_ids_from_item,
    seen_item,
    summary_from_item,
    summary_item,
    summary_key,
)
from beacon.errors import StorageUnavailableError
from beacon.models.records import ChargeRecord
from beacon.models.stored import StoredSummary, SummaryWrite

BATCH_WRITE_LIMIT = 25  # requests in one BatchWriteItem
TRANSACTION_LIMIT = 100  # items in one TransactWriteItems

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CustomerKey = tuple[str, str]  # (project_id, customer_id)
Plan = Callable[[StoredSummary | None], SummaryWrite | None]

MAX_COMMIT_ATTEMPTS = 6
# Cancellation reasons after which the same write may succeed when sent again.
RETRYABLE_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
# Seen items outlive the longest window (a record age of 7 days, the most Lambda allows, and margins).
SEEN_ITEM_LIFETIME_SECONDS = 8 * 86_400


class SummaryConflictError(Exception):
    """A customer's summary could not be written within the bounded number of attempts."""


class SummariesRepository:
    """Reads and writes summaries, their seen items and the registry; reads the charges a recompute needs."""

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

    # ------------------------------------------------------------ summaries

    def get(self, project_id: str, customer: str, *, consistent: bool = True) -> StoredSummary | None:
        """One customer's summary, or ``None`` before its first summarized charge."""
        return self._get(summary_key(project_id, customer), consistent=consistent)

    def get_legacy(self, project_id: str, customer: str, *, consistent: bool = True) -> StoredSummary | None:
        """A summary still in the first layout (until ``beacon summaries migrate`` moves it)."""
        return self._get(legacy_summary_key(project_id, customer), consistent=consistent)

    def _get(self, key: dict[str, Any], *, consistent: bool) -> StoredSummary | None:
        with storage_errors("read the summary"):
            response = self.client.get_item(TableName=self.summaries_table, Key=key, ConsistentRead=consistent)
        item = response.get("Item")
        return summary_from_item(item) if item else None

    def get_many(self, customers: Sequence[CustomerKey]) -> dict[CustomerKey, StoredSummary]:
        """The summaries of several customers at once (consistent BatchGetItem, 100 a call)."""
        keys = [summary_key(project, customer) for project, customer in dict.fromkeys(customers)]
        items = batch_get_items(self.client, self.summaries_table, keys, action="read the summaries", sleep=self._sleep)
        summaries = (summary_from_item(item) for item in items)
        return {(stored.project_id, stored.customer_id): stored for stored in summaries}

    def seen_ids(self, project_id: str, customer: str, buckets: Sequence[int]) -> dict[int, frozenset[str]]:
        """The ids in the customer's seen items of ``buckets``, by bucket (one consistent Query over their range)."""
        if not buckets:
            return {}
        low, high = seen_bucket_range(min(buckets), max(buckets))
        wanted = set(buckets)
        ids: dict[int, frozenset[str]] = {}
        expression = {":pk": {"S": seen_pk(project_id, customer)}, ":low": {"S": low}, ":high": {"S": high}}
        for item in self._query("read the seen charges", "PK = :pk AND SK BETWEEN :low AND :high", expression):
            bucket = int(item["bucket"]["N"])
            if bucket in wanted:
                ids[bucket] = ids.get(bucket, frozenset()) | seen_ids_from_item(item)
        return ids

    def counted_ids(self, stored: StoredSummary) -> dict[int, frozenset[str]]:
        """Every id the summary's window holds, its seen items' included, by bucket."""
        ids = dict(stored.seen.buckets)
        for bucket, more in self.seen_ids(stored.project_id, stored.customer_id, sorted(stored.seen.overflow)).items():
            ids[bucket] = ids.get(bucket, frozenset()) | more
        return ids

    def write(self, write: SummaryWrite, *, now: int) -> bool:
        """Make ``write`` if the summary is still at ``write.expected_version``; ``False`` when it is not.

        ``False`` also when DynamoDB refused for now (a conflict, a throttle): read it again. A new
        customer's registry entry is written first (idempotent: a refused summary leaves an entry
        that a summary soon follows).
        """
        summary = write.summary
        put: dict[str, Any] = {"TableName": self.summaries_table, "Item": summary_item(summary, updated_at=now)}
        if write.expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = {":expected": {"N": str(write.expected_version)}}
        items = self._seen_items(summary, write.seen_items, now=now)
        try:
            with storage_errors("write the summary"):
                if write.registers:
                    self.register(summary.project_id, summary.customer_id, now=now)
                if items:
                    transaction: list[Any] = [{"Put": put}, *({"Put": item} for item in items)]
                    self.client.transact_write_items(TransactItems=transaction)
                else:
                    self.client.put_item(**put)
        except ClientError as exc:
            _raise_unless_refused(exc)
            return False
        return True

    def commit(
        self, key: CustomerKey, current: StoredSummary | None, plan: Plan, *, now: Callable[[], float]
    ) -> SummaryWrite | None:
        """Make the write ``plan`` makes of the summary; when it changed meanwhile, read it and plan again.

        ``current``: the summary as the caller read it. ``None`` back: the plan had nothing to write.
        A timeout whose outcome is unknown counts as refused: the summary read next tells what
        happened (its version, its window). After ``MAX_COMMIT_ATTEMPTS`` refusals,
        ``SummaryConflictError``.
        """
        for attempt in range(MAX_COMMIT_ATTEMPTS):
            write = plan(current)
            if write is None:
                return None
            try:
                if self.write(write, now=int(now())):
                    return write
            except StorageUnavailableError:
                pass  # unknown outcome: the next read tells
            self._sleep(aws.backoff_delay(attempt))
            current = self.get(*key)
        raise SummaryConflictError(f"summary still contended after {MAX_COMMIT_ATTEMPTS} attempts")

    def _seen_items(
        self, summary: StoredSummary, seen: Mapping[int, tuple[frozenset[str], ...]], *, now: int
    ) -> list[Any]:
        # A new version's items never exist: the summary's version check makes them unique.
        return [
            {
                "TableName": self.summaries_table,
                "Item": seen_item(
                    summary.project_id,
                    summary.customer_id,
                    bucket=bucket,
                    version=summary.version,
                    part=part,
                    ids=ids,
                    expires_at=now + SEEN_ITEM_LIFETIME_SECONDS,
                ),
            }
            for bucket, parts in sorted(seen.items())
            for part, ids in enumerate(parts)
        ]

    # ------------------------------------------------------------ the registry

    def register(self, project_id: str, customer: str, *, now: int) -> None:
        """List the customer in its project's registry (one PutItem; writing it again changes nothing)."""
        self.client.put_item(TableName=self.summaries_table, Item=registry_item(project_id, customer, now))

    def customers(
        self, project_id: str, *, after: tuple[int, str] | None = None, page_size: int = 1_000
    ) -> Iterator[tuple[int, str]]:
        """Every customer of a project's registry, as ``(shard, customer)``: one paginated Query per registry
        shard, shard after shard, in sort key order; ``after`` resumes past a ``(shard, customer)`` it gave."""
        first_shard = after[0] if after else 0
        for shard in range(first_shard, REGISTRY_SHARDS):
            start = registry_sk(after[1]) if after and shard == first_shard else None
            expression = {":pk": {"S": registry_pk(project_id, shard)}}
            condition = "PK = :pk"
            if start is not None:
                condition, expression[":after"] = "PK = :pk AND SK > :after", {"S": start}
            for item in self._query("list the customers", condition, expression, page_size=page_size):
                yield shard, item["customer_id"]["S"]

    # ------------------------------------------------------------ erasures

    def record_erasure(self, project_id: str, subject_hash: str, *, erased_at: int, key_id: str) -> None:
        """Keep the record that a customer was erased: when, by which key, its identity only as a keyed hash."""
        with storage_errors("record the erasure"):
            item = erasure_item(project_id, subject_hash, erased_at=erased_at, key_id=key_id)
            self.client.put_item(TableName=self.summaries_table, Item=item)

    def erasure_done(self, project_id: str, subject_hash: str, *, completed_at: int) -> None:
        """Note on the erasure record when the customer's items were deleted."""
        with storage_errors("complete the erasure"):
            self.client.update_item(
                TableName=self.summaries_table,
                Key=erasure_key(project_id, subject_hash),
                UpdateExpression="SET completed_at = :at",
                ExpressionAttributeValues={":at": {"N": str(completed_at)}},
            )

    def erasure(self, project_id: str, subject_hash: str) -> dict[str, Any] | None:
        """The erasure record of a keyed hash (an audit: was this identity erased, when, by which key)."""
        with storage_errors("read the erasure"):
            answer = self.client.get_item(TableName=self.summaries_table, Key=erasure_key(project_id, subject_hash))
        return answer.get("Item")

    def delete_erased(self, project_id: str, customer: str, *, erasure_bucket: int) -> int:
        """Delete what the summaries table holds of an erased customer but its tombstone: seen items, a
        summary of the first layout, its registry entry. How many items.

        Seen items of buckets before ``erasure_bucket`` (the one the erasure was received in) hold erased
        charges only: they go. Those of it and later, and the registry entry, go while the tombstone
        says the customer is still erased (a
        transaction with a check of it): a charge received after the erasure makes the customer anew,
        whose seen items and entry stay.
        """
        expression = {":pk": {"S": seen_pk(project_id, customer)}}
        items = list(self._query("read the seen charges", "PK = :pk", expression))
        before = [{"PK": i["PK"], "SK": i["SK"]} for i in items if int(i["bucket"]["N"]) < erasure_bucket]
        after = [{"PK": i["PK"], "SK": i["SK"]} for i in items if int(i["bucket"]["N"]) >= erasure_bucket]
        for start in range(0, len(before), BATCH_WRITE_LIMIT):
            until_processed(
                lambda pending: self.client.batch_write_item(RequestItems=pending),
                {self.summaries_table: [{"DeleteRequest": {"Key": key}} for key in before[start : start + 25]]},
                unprocessed="UnprocessedItems",
                action="erase the seen charges",
                sleep=self._sleep,
            )
        self.delete_legacy(project_id, customer)
        deleted = len(before)
        keys = [*after, registry_key(project_id, customer)]
        for start in range(0, len(keys), TRANSACTION_LIMIT - 1):
            deleted += self._delete_if_erased(project_id, customer, keys[start : start + TRANSACTION_LIMIT - 1])
        return deleted

    def _delete_if_erased(self, project_id: str, customer: str, keys: Sequence[dict[str, Any]]) -> int:
        transaction: list[Any] = [
            {
                "ConditionCheck": {
                    "TableName": self.summaries_table,
                    "Key": summary_key(project_id, customer),
                    "ConditionExpression": "attribute_exists(erased_before) AND charge_count = :none",
                    "ExpressionAttributeValues": {":none": {"N": "0"}},
                }
            },
            *({"Delete": {"TableName": self.summaries_table, "Key": key}} for key in keys),
        ]
        try:
            with storage_errors("erase the seen charges and the registry entry"):
                self.client.transact_write_items(TransactItems=transaction)
        except ClientError as exc:
            _raise_unless_refused(exc)
            return 0
        return len(keys)

    # ------------------------------------------------------------ the charges a recompute reads

    def charge_pages(self, project_id: str, customer: str) -> Iterator[list[ChargeRecord]]:
        """A customer's stored charges, page by page (consistent Query pages of up to 1 MB)."""
        paginator = self.client.get_paginator("query")
        with storage_errors("read the charges"):
            for page in paginator.paginate(
                TableName=self.charges_table,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :charge)",
                ExpressionAttributeValues={":pk": {"S": charge_pk(project_id, customer)}, ":charge": {"S": "CHARGE#"}},
                ConsistentRead=True,
            ):
                yield [charge_from_item(item) for item in page.get("Items", [])]

    def charges_by_id(self, project_id: str, customer: str, charge_ids: Sequence[str]) -> list[ChargeRecord]:
        """The stored charges of these ids (consistent BatchGetItem); ids with no stored charge are left out."""
        pk = {"S": charge_pk(project_id, customer)}
        keys = [{"PK": pk, "SK": {"S": charge_sk(charge_id)}} for charge_id in charge_ids]
        items = batch_get_items(self.client, self.charges_table, keys, action="read the charges", sleep=self._sleep)
        return [charge_from_item(item) for item in items]

    def customers_received_between(self, first: int, last: int) -> set[CustomerKey]:
        """Every customer, of any project, with a charge received from ``first`` to ``last`` (a Scan of the charges).

        For the rare batch the on-failure queue points at after the stream has dropped its records.
        """
        customers: set[CustomerKey] = set()
        paginator = self.client.get_paginator("scan")
        with storage_errors("scan the charges"):
            for page in paginator.paginate(
                TableName=self.charges_table,
                FilterExpression="#type = :charge AND received_at BETWEEN :first AND :last",
                ProjectionExpression="project_id, customer_id",
                ExpressionAttributeNames={"#type": "type"},
                ExpressionAttributeValues={
                    ":charge": {"S": CHARGE_ITEM_TYPE},
                    ":first": {"N": str(first)},
                    ":last": {"N": str(last)},
                },
            ):
                customers.update((i["project_id"]["S"], i["customer_id"]["S"]) for i in page.get("Items", []))
        return customers

    def customers_with_charges(self, project_id: str) -> set[str]:
        """Every customer of a project that has a stored charge: a Scan of the whole charges table.

        Its cost is the size of the charges table (every project's charges are read and filtered),
        which is why it is an occasional operator check (``beacon summaries rebuild --scan``).
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

    # ------------------------------------------------------------ the first layout

    def legacy_summaries(self, project_id: str | None = None) -> Iterator[StoredSummary]:
        """The summaries still in the first layout: a project's (a Query), or every project's (a Scan)."""
        if project_id is not None:
            expression = {":pk": {"S": legacy_summary_pk(project_id)}}
            yield from (summary_from_item(item) for item in self._query("list the summaries", "PK = :pk", expression))
            return
        paginator = self.client.get_paginator("scan")
        with storage_errors("scan the summaries"):
            for page in paginator.paginate(
                TableName=self.summaries_table,
                FilterExpression="#type = :summary AND SK <> :sk",
                ExpressionAttributeNames={"#type": "type"},
                ExpressionAttributeValues={":summary": {"S": SUMMARY_ITEM_TYPE}, ":sk": {"S": "SUMMARY"}},
            ):
                yield from (summary_from_item(item) for item in page.get("Items", []))

    def delete_legacy(self, project_id: str, customer: str) -> None:
        """Delete a summary of the first layout (its customer's summary lives in the current layout)."""
        with storage_errors("delete the old summary"):
            self.client.delete_item(TableName=self.summaries_table, Key=legacy_summary_key(project_id, customer))

    def _query(
        self, action: str, condition: str, values: dict[str, Any], *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("query")
        extra = {"PaginationConfig": {"PageSize": page_size}} if page_size else {}
        with storage_errors(action):
            for page in paginator.paginate(
                TableName=self.summaries_table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ConsistentRead=True,
                **extra,  # type: ignore[arg-type]
            ):
                yield from page.get("Items", [])


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
