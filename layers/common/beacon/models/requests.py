"""Request bodies of the write endpoints.

Strict types, with one compatibility rule for integers (``beacon.models.fields``): a string of ASCII
digits (``"100"``, what existing clients send) or an integral JSON number (``100.0``) is the integer
it denotes; ``10.5``, ``"1e3"``, ``" 100"`` and ``true`` are not amounts.
"""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from beacon.models.fields import Amount, CreatedAt, Email, UserId

MAX_BULK_CHARGES = 1_000

# defer_build: a model's validator is built when it first validates, not at import: each write function reads
# one of these bodies, and the other's validator would only lengthen its cold start (docs/benchmarks.md).
_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)


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
