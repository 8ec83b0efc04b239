"""Requests: the bodies of the write endpoints and the summary's query string.

Strict types, with one compatibility rule for integers (``beacon.models.fields``): a string of ASCII
digits (``"100"``, what existing clients send) or an integral JSON number (``100.0``) is the integer
it denotes; ``10.5``, ``"1e3"``, ``" 100"`` and ``true`` are not amounts.
"""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from beacon.models.fields import Amount, CreatedAt, Email, UserId

MAX_BULK_CHARGES = 1_000

_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True)


class ChargeFields(BaseModel):
    """What one charge carries besides the customer."""

    model_config = _STRICT

    amount: Amount
    created_at: CreatedAt = None
    update_session: bool = True


class _Identified(BaseModel):
    model_config = _STRICT

    user_id: UserId | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _require_identity(self) -> Self:
        if self.user_id is None and self.email is None:
            raise PydanticCustomError("identity_missing", "user_id or email is required", {"field": "user_id"})
        return self


class CreateChargeRequest(_Identified, ChargeFields):
    """Body of ``POST /charges``."""


class BulkCharge(ChargeFields):
    """One element of ``charges`` in ``POST /charges/bulk``."""


class BulkChargesRequest(_Identified):
    """Body of ``POST /charges/bulk``: one customer, 1 to 1,000 charges."""

    charges: list[BulkCharge] = Field(min_length=1, max_length=MAX_BULK_CHARGES)


class SummaryQuery(BaseModel):
    """Query string of ``GET /customers/summary``: exactly one of ``user_id`` and ``email``."""

    model_config = _STRICT

    user_id: UserId | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if self.user_id is None and self.email is None:
            raise PydanticCustomError(
                "identity_missing", "send the customer as ?user_id=... or ?email=...", {"field": "user_id"}
            )
        if self.user_id is not None and self.email is not None:
            raise PydanticCustomError(
                "identity_ambiguous", "send either user_id or email, not both", {"field": "user_id"}
            )
        return self
