"""The query string that names a customer: ``GET /customers/summary`` and ``DELETE /customers``."""

from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from beacon.models.fields import Email, UserId


class CustomerQuery(BaseModel):
    """Exactly one of ``user_id`` and ``email``."""

    # Built when it first validates, as the request bodies are (models/requests.py).
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)

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
