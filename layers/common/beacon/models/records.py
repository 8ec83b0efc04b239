"""What is stored, as plain records: a charge and an API key. Their DynamoDB items are shaped in ``dal.items``."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

KeyKind = Literal["public", "secret"]


class ChargeRecord(BaseModel):
    """One accepted charge: an immutable fact, the input of every summary."""

    # Built on first use (defer_build), like the key's: the read endpoint never builds a charge.
    model_config = ConfigDict(frozen=True, defer_build=True)

    project_id: str
    customer_id: str
    charge_id: str
    user_id: str | None
    email: str | None
    amount: int
    created_at: int
    received_at: int
    update_session: bool


class ApiKeyRecord(BaseModel):
    """An API key as stored: its SHA-256, never the key itself."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    key_hash: str
    key_id: str
    project_id: str
    kind: KeyKind
    prefix: str
    created_at: int
    revoked_at: int | None = None
