"""The ``data`` of ``GET /customers/summary`` (the envelope around every answer is ``beacon.api``'s)."""

from typing import Any

from pydantic import BaseModel, ConfigDict

from beacon.models.summary import CustomerSummary

# Built when GET /customers/summary first answers with a summary (not for a 404 or a 400).
_VIEW = ConfigDict(defer_build=True)


class ChargesView(BaseModel):
    model_config = _VIEW

    count: int
    total: int
    first_at: int | None
    last_at: int | None
    last_amount: int | None


class SessionsView(BaseModel):
    model_config = _VIEW

    count: int
    first_seen_at: int | None
    last_seen_at: int | None


class SummaryView(BaseModel):
    """``data`` of ``GET /customers/summary`` (times in UNIX seconds)."""

    model_config = _VIEW

    user_id: str | None
    email: str | None
    charges: ChargesView
    sessions: SessionsView

    @classmethod
    def of(cls, summary: CustomerSummary) -> "SummaryView":
        charges, sessions = summary.charges, summary.sessions
        return cls(
            user_id=summary.user_id,
            email=summary.email,
            charges=ChargesView(
                count=charges.count,
                total=charges.total,
                first_at=charges.first_at,
                last_at=charges.last_at,
                last_amount=charges.last_amount,
            ),
            sessions=SessionsView(
                count=sessions.count, first_seen_at=sessions.first_seen_at, last_seen_at=sessions.last_seen_at
            ),
        )

    def flat(self) -> dict[str, Any]:
        """``{"charges.count": 3, ...}``: one entry per field, for field-by-field comparisons."""
        flat: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, dict):
                flat.update({f"{name}.{inner}": inner_value for inner, inner_value in value.items()})
            else:
                flat[name] = value
        return flat
