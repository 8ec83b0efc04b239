"""Items as stored in DynamoDB, mapped explicitly to and from attribute values."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from beacon.dal.keys import CHARGE_ITEM_TYPE, api_key_pk, charge_pk, charge_sk

AttributeValues = dict[str, Any]

KeyKind = Literal["public", "secret"]


class ChargeRecord(BaseModel):
    """One accepted charge: an immutable fact, the input of every summary."""

    model_config = ConfigDict(frozen=True)

    project_id: str
    customer_id: str
    charge_id: str
    user_id: str | None
    email: str | None
    amount: int
    created_at: int
    received_at: int
    update_session: bool

    @property
    def key(self) -> AttributeValues:
        """The item's primary key as attribute values."""
        return {"PK": {"S": charge_pk(self.project_id, self.customer_id)}, "SK": {"S": charge_sk(self.charge_id)}}

    def to_item(self) -> AttributeValues:
        """The item as written by the ingest functions (``summarized_at`` is added later by the stream)."""
        item: AttributeValues = {
            **self.key,
            "type": {"S": CHARGE_ITEM_TYPE},
            "project_id": {"S": self.project_id},
            "customer_id": {"S": self.customer_id},
            "charge_id": {"S": self.charge_id},
            "amount": {"N": str(self.amount)},
            "created_at": {"N": str(self.created_at)},
            "received_at": {"N": str(self.received_at)},
            "update_session": {"BOOL": self.update_session},
        }
        if self.user_id is not None:
            item["user_id"] = {"S": self.user_id}
        if self.email is not None:
            item["email"] = {"S": self.email}
        return item

    @classmethod
    def from_item(cls, item: AttributeValues) -> "ChargeRecord":
        """Read a charge item (attribute values, as in a stream record's NewImage or a Query answer)."""
        return cls(
            project_id=item["project_id"]["S"],
            customer_id=item["customer_id"]["S"],
            charge_id=item["charge_id"]["S"],
            user_id=item["user_id"]["S"] if "user_id" in item else None,
            email=item["email"]["S"] if "email" in item else None,
            amount=int(item["amount"]["N"]),
            created_at=int(item["created_at"]["N"]),
            received_at=int(item["received_at"]["N"]),
            update_session=bool(item["update_session"]["BOOL"]),
        )


class ApiKeyRecord(BaseModel):
    """An API key as stored: its SHA-256, never the key itself."""

    model_config = ConfigDict(frozen=True)

    key_hash: str
    key_id: str
    project_id: str
    kind: KeyKind
    prefix: str
    created_at: int
    revoked_at: int | None = None

    def to_item(self) -> AttributeValues:
        """The key item; ``project_id`` and ``created_at`` feed the ``ByProject`` index."""
        item: AttributeValues = {
            "PK": {"S": api_key_pk(self.key_hash)},
            "key_hash": {"S": self.key_hash},
            "key_id": {"S": self.key_id},
            "project_id": {"S": self.project_id},
            "kind": {"S": self.kind},
            "prefix": {"S": self.prefix},
            "created_at": {"N": str(self.created_at)},
        }
        if self.revoked_at is not None:
            item["revoked_at"] = {"N": str(self.revoked_at)}
        return item

    @classmethod
    def from_item(cls, item: AttributeValues) -> "ApiKeyRecord":
        """Read a key item."""
        return cls(
            key_hash=item["key_hash"]["S"],
            key_id=item["key_id"]["S"],
            project_id=item["project_id"]["S"],
            kind=item["kind"]["S"],
            prefix=item["prefix"]["S"],
            created_at=int(item["created_at"]["N"]),
            revoked_at=int(item["revoked_at"]["N"]) if "revoked_at" in item else None,
        )
