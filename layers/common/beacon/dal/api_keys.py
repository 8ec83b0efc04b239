"""The API keys table: one item per key, addressed by the key's SHA-256; a ``ByProject`` index lists them."""

import time
from typing import TYPE_CHECKING

from beacon.dal.aws import dynamodb_client, storage_errors
from beacon.dal.item_keys import api_key_pk
from beacon.dal.items import api_key_from_item, api_key_item
from beacon.models.records import ApiKeyRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_PROJECT_INDEX = "ByProject"


class ApiKeysRepository:
    """Creates, finds, lists and revokes API keys."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> "DynamoDBClient":
        return self._client or dynamodb_client()

    def get(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this SHA-256, revoked or not; ``None`` if there is none."""
        with storage_errors("check the API key"):
            response = self.client.get_item(TableName=self.table_name, Key={"PK": {"S": api_key_pk(key_hash)}})
        item = response.get("Item")
        return api_key_from_item(item) if item else None

    def put(self, record: ApiKeyRecord) -> None:
        """Store a new key (never overwrites one with the same hash)."""
        with storage_errors("store the API key"):
            self.client.put_item(
                TableName=self.table_name, Item=api_key_item(record), ConditionExpression="attribute_not_exists(PK)"
            )

    def list_for_project(self, project_id: str) -> list[ApiKeyRecord]:
        """Every key of a project, oldest first."""
        records: list[ApiKeyRecord] = []
        paginator = self.client.get_paginator("query")
        with storage_errors("list the API keys"):
            for page in paginator.paginate(
                TableName=self.table_name,
                IndexName=BY_PROJECT_INDEX,
                KeyConditionExpression="project_id = :project",
                ExpressionAttributeValues={":project": {"S": project_id}},
            ):
                records.extend(api_key_from_item(item) for item in page.get("Items", []))
        return records

    def revoke(self, project_id: str, key_id: str) -> ApiKeyRecord | None:
        """Mark a key of this project revoked; ``None`` if the project has no such key."""
        record = next((r for r in self.list_for_project(project_id) if r.key_id == key_id), None)
        if record is None:
            return None
        revoked_at = record.revoked_at or int(time.time())
        with storage_errors("revoke the API key"):
            self.client.update_item(
                TableName=self.table_name,
                Key={"PK": {"S": api_key_pk(record.key_hash)}},
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
                ExpressionAttributeValues={":now": {"N": str(revoked_at)}},
            )
        return record.model_copy(update={"revoked_at": revoked_at})
