"""Request bodies of the write endpoints. Strict types: ``"100"``, ``10.5`` and ``true`` are not amounts."""

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
