"""The summaries table, and the one transaction that keeps a summary equal to the charges it counts.

A summary is written only together with the markers of the charges it newly counts: one
``TransactWriteItems`` puts the summary under an optimistic ``version`` check and sets
``summarized_at`` on each charge under ``attribute_not_exists(summarized_at)``. Hence the invariant
*summary == fold(charges marked summarized)*, whatever is retried, duplicated or interleaved.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from beacon.dal.aws import batch_get_items, dynamodb_client, error_code, storage_errors
from beacon.dal.item_keys import CHARGE_ITEM_TYPE, charge_pk, summary_pk
from beacon.dal.items import charge_from_item, charge_key, summary_from_item, summary_item, summary_key
from beacon.errors import StorageUnavailableError
from beacon.models.records import ChargeRecord
from beacon.models.summary import StoredSummary

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A transaction holds at most 100 items: the summary and up to 99 charge markers.
MAX_CHARGES_PER_TRANSACTION = 99
# Cancellation reasons after which the same transaction may succeed when sent again.
RETRYABLE_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


@dataclass(frozen=True)
class CommitResult:
    """What became of one summary transaction.

    ``committed``: written. Otherwise ``already_summarized`` names the charges whose marker
    condition failed (counted by an earlier write: drop them), ``version_conflict`` says that the
    summary changed since it was read (re-read it) and ``retryable`` that DynamoDB refused for now.
    """

    committed: bool
    already_summarized: frozenset[str] = field(default_factory=frozenset)
    version_conflict: bool = False
    retryable: bool = False


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

    def commit(
        self,
        summary: StoredSummary,
        *,
        expected_version: int | None,
        charges: Sequence[ChargeRecord],
        now: int,
    ) -> CommitResult:
        """Write ``summary`` and mark ``charges`` summarized, all or nothing.

        ``expected_version`` is the version the summary was computed from (``None``: no summary yet);
        ``summary.version`` must be the next one.
        """
        if len(charges) > MAX_CHARGES_PER_TRANSACTION:
            raise ValueError(f"at most {MAX_CHARGES_PER_TRANSACTION} charges per transaction")
        put: dict[str, Any] = {"TableName": self.summaries_table, "Item": summary_item(summary, updated_at=now)}
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        items: list[Any] = [{"Put": put}]
        items.extend(
            {
                "Update": {
                    "TableName": self.charges_table,
                    "Key": charge_key(charge),
                    "UpdateExpression": "SET summarized_at = :now",
                    # Exists: a stream record never creates a charge. Not yet summarized: this is
                    # what makes a re-delivered or retried record count zero more times.
                    "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(summarized_at)",
                    "ExpressionAttributeValues": {":now": {"N": str(now)}},
                }
            }
            for charge in charges
        )
        try:
            with storage_errors("write the summary"):
                self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            return _cancelled(exc, charges)
        return CommitResult(committed=True)

    def charges_of(self, project_id: str, customer: str) -> list[tuple[ChargeRecord, bool]]:
        """Every stored charge of one customer and whether it is marked summarized (a consistent Query)."""
        charges: list[tuple[ChargeRecord, bool]] = []
        paginator = self.client.get_paginator("query")
        with storage_errors("read the charges"):
            for page in paginator.paginate(
                TableName=self.charges_table,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :charge)",
                ExpressionAttributeValues={":pk": {"S": charge_pk(project_id, customer)}, ":charge": {"S": "CHARGE#"}},
                ConsistentRead=True,
            ):
                charges.extend((charge_from_item(item), "summarized_at" in item) for item in page.get("Items", []))
        return charges


def _cancelled(exc: ClientError, charges: Sequence[ChargeRecord]) -> CommitResult:
    reasons = exc.response.get("CancellationReasons") or []
    codes = [str(reason.get("Code") or "None") for reason in reasons]
    if len(codes) != len(charges) + 1:
        # Without one reason per item nothing can be concluded: treat the whole transaction as retryable.
        return CommitResult(committed=False, retryable=True)
    summary_code, charge_codes = codes[0], codes[1:]
    already = frozenset(
        c.charge_id for c, code in zip(charges, charge_codes, strict=True) if code == "ConditionalCheckFailed"
    )
    unexpected = {code for code in codes if code not in {"None", "ConditionalCheckFailed", *RETRYABLE_REASONS}}
    if unexpected:
        raise StorageUnavailableError(f"the summary transaction was refused: {', '.join(sorted(unexpected))}") from exc
    return CommitResult(
        committed=False,
        already_summarized=already,
        version_conflict=summary_code == "ConditionalCheckFailed",
        retryable=any(code in RETRYABLE_REASONS for code in codes),
    )
