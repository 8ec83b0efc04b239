"""The response envelope every endpoint answers with, success or error."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class ErrorDetail(BaseModel):
    """One problem: the field it concerns (``charges[2].amount``, ``api_key``, ``body``...) and what is wrong."""

    # Built when a request first fails, not at every cold start.
    model_config = ConfigDict(defer_build=True)

    field: str
    message: str


class SuccessEnvelope(BaseModel):
    """``{"success": true, "code": 200, "data": ...}``."""

    success: Literal[True] = True
    code: int = 200
    data: Any = None


class ErrorEnvelope(BaseModel):
    """``{"success": false, "code": <status>, "data": null, "errors": [...]}``."""

    model_config = ConfigDict(defer_build=True)

    success: Literal[False] = False
    code: int
    data: None = None
    errors: list[ErrorDetail]
