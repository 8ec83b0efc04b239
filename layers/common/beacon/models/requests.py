"""Requests: the bodies of the write endpoints (the query string that names a customer: ``queries``).

Strict types, with one compatibility rule for integers (``beacon.models.fields``): a string of ASCII
digits (``"100"``, what existing clients send) or an integral JSON number (``100.0``) is the integer
it denotes; ``10.5``, ``"1e3"``, ``" 100"`` and ``true`` are not amounts.

``created_at`` is checked against the validation context's ``clock`` (``fields.request_clock``): when the
API received the request, corrected by the client's clock error when the body carries ``sent_at``.
The models keep every value as the client sent it; the correction is applied when the charges are built.
"""

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from beacon.models.fields import Amount, ChargeId, CreatedAt, Email, SentAt, UserId

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
    # Left out of a dump when absent: a charge without one is dumped (and its request hashed, for the
    # Idempotency-Key's record and the ids derived from it) exactly as before charge_id existed.
    charge_id: ChargeId | None = Field(default=None, exclude_if=lambda value: value is None)


class _Request(BaseModel):
    model_config = _STRICT

    user_id: UserId | None = None
    email: Email | None = None
    sent_at: SentAt = None

    @model_validator(mode="after")
    def _require_identity(self) -> Self:
        if self.user_id is None and self.email is None:
            raise PydanticCustomError("identity_missing", "user_id or email is required", {"field": "user_id"})
        return self


class CreateChargeRequest(_Request, ChargeFields):
    """Body of ``POST /charges``."""


class BulkCharge(ChargeFields):
    """One element of ``charges`` in ``POST /charges/bulk``."""


class BulkChargesRequest(_Request):
    """Body of ``POST /charges/bulk``: one customer, 1 to 1,000 charges, each ``charge_id`` at most once."""

    charges: list[BulkCharge] = Field(min_length=1, max_length=MAX_BULK_CHARGES)

    @model_validator(mode="before")
    @classmethod
    def _identity_at_the_top_level(cls, data: Any) -> Any:
        """No customer beside ``charges`` but one inside a charge: say where it belongs (a charge's own is not read)."""
        if not isinstance(data, dict) or data.get("user_id") is not None or data.get("email") is not None:
            return data
        charges = data.get("charges")
        for index, charge in enumerate(charges if isinstance(charges, list) else []):
            name = next(
                (n for n in ("user_id", "email") if isinstance(charge, dict) and charge.get(n) is not None), None
            )
            if name is not None:
                raise PydanticCustomError(
                    "identity_in_charge",
                    "{field} belongs at the top level of a bulk request, beside charges, not inside "
                    "charges[{index}]: a bulk request records the charges of one customer",
                    {"field": name, "index": index},
                )
        return data

    @field_validator("charges")
    @classmethod
    def _charge_ids_once(cls, charges: list[BulkCharge]) -> list[BulkCharge]:
        first: dict[str, int] = {}
        for index, charge in enumerate(charges):
            if charge.charge_id is None:
                continue
            if charge.charge_id in first:
                raise PydanticCustomError(
                    "charge_id_repeated",
                    "charges[{index}].charge_id is charges[{first}].charge_id again: a charge_id names one charge, "
                    "send it once per request",
                    {"field": f"charges[{index}].charge_id", "index": index, "first": first[charge.charge_id]},
                )
            first[charge.charge_id] = index
        return charges
