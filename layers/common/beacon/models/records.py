"""What is stored, as plain records: a charge and an API key. Their DynamoDB items are shaped in ``dal.items``."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

KeyKind = Literal["public", "secret"]


class ChargeRecord(BaseModel):
    """One accepted charge: an immutable fact, the input of every summary.

    ``received_ms`` is when the API received the request (UNIX milliseconds) and ``position`` the
    charge's index within it: with ``charge_id`` they order a customer's charges the way they were
    sent (docs/design.md, "Order of charges").

    A charge the client named keeps that name in ``client_charge_id`` (its ``charge_id`` is derived
    from it) and, when the client sent a ``created_at``, that value as sent in ``client_created_at``
    (before ``sent_at`` corrected it): what tells the same charge sent again from another one.
    """

    # Built on first use (defer_build), like the key's: the read endpoint never builds a charge.
    model_config = ConfigDict(frozen=True, defer_build=True)

    project_id: str
    customer_id: str
    charge_id: str
    user_id: str | None
    email: str | None
    amount: int
    created_at: int
    received_ms: int
    position: int = 0
    update_session: bool
    client_charge_id: str | None = None
    client_created_at: int | None = None

    @property
    def content(self) -> tuple[int, int | None]:
        """What a charge sent again under its ``client_charge_id`` must repeat to be the same charge: the
        amount, and ``created_at`` as the client sent it (``None`` when it sent none, both times)."""
        return self.amount, self.client_created_at

    @property
    def received_at(self) -> int:
        """When the API received the request, in UNIX seconds (sessions and windows count in seconds)."""
        return self.received_ms // 1000

    @property
    def arrival(self) -> tuple[int, int, str]:
        """The charge's place in the order requests arrived: receive time, position in its request, id."""
        return (self.received_ms, self.position, self.charge_id)


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
