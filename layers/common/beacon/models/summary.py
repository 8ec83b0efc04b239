"""Summaries: the stored item (mapped explicitly), the read endpoint's query and its answer."""

from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from beacon.dal.keys import summary_pk, summary_sk
from beacon.logic.summary import ChargeStats, CustomerSummary, SessionStats
from beacon.models.persistence import AttributeValues
from beacon.models.requests import Email, UserId

SUMMARY_ITEM_TYPE = "summary"


@dataclass(frozen=True)
class StoredSummary:
    """A customer's summary as stored, with the ``version`` that every write checks and increments."""

    project_id: str
    customer_id: str
    summary: CustomerSummary
    version: int

    @property
    def key(self) -> AttributeValues:
        return {"PK": {"S": summary_pk(self.project_id)}, "SK": {"S": summary_sk(self.customer_id)}}

    def to_item(self, updated_at: int) -> AttributeValues:
        """The summary item. Every number is an ``N`` of at most 16 digits: no stream sequence number is stored."""
        charges, sessions = self.summary.charges, self.summary.sessions
        item: AttributeValues = {
            **self.key,
            "type": {"S": SUMMARY_ITEM_TYPE},
            "project_id": {"S": self.project_id},
            "customer_id": {"S": self.customer_id},
            "version": {"N": str(self.version)},
            "updated_at": {"N": str(updated_at)},
            "charge_count": {"N": str(charges.count)},
            "charge_total": {"N": str(charges.total)},
            "session_count": {"N": str(sessions.count)},
            "sessions_closed": {"N": str(sessions.closed)},
            "session_spans": {"L": [{"L": [{"N": str(start)}, {"N": str(end)}]} for start, end in sessions.spans]},
        }
        optional: dict[str, AttributeValues | None] = {
            "user_id": _s(self.summary.user_id),
            "email": _s(self.summary.email),
            "first_at": _n(charges.first_at),
            "last_at": _n(charges.last_at),
            "last_amount": _n(charges.last_amount),
            "first_seen_at": _n(sessions.first_seen_at),
            "last_seen_at": _n(sessions.last_seen_at),
        }
        if self.summary.email_key is not None:
            optional["email_received_at"] = _n(self.summary.email_key[0])
            optional["email_charge_id"] = _s(self.summary.email_key[1])
        if charges.last_key is not None:
            optional["last_created_at"] = _n(charges.last_key[0])
            optional["last_received_at"] = _n(charges.last_key[1])
            optional["last_charge_id"] = _s(charges.last_key[2])
        item.update({name: value for name, value in optional.items() if value is not None})
        return item

    @classmethod
    def from_item(cls, item: AttributeValues) -> "StoredSummary":
        """Read a summary item."""
        last_key = None
        if "last_charge_id" in item:
            last_key = (_int(item, "last_created_at"), _int(item, "last_received_at"), item["last_charge_id"]["S"])
        email_key = None
        if "email_charge_id" in item:
            email_key = (_int(item, "email_received_at"), item["email_charge_id"]["S"])
        spans = tuple(
            (int(span["L"][0]["N"]), int(span["L"][1]["N"])) for span in item.get("session_spans", {}).get("L", [])
        )
        summary = CustomerSummary(
            user_id=item["user_id"]["S"] if "user_id" in item else None,
            email=item["email"]["S"] if "email" in item else None,
            email_key=email_key,
            charges=ChargeStats(
                count=_int(item, "charge_count"),
                total=_int(item, "charge_total"),
                first_at=_opt_int(item, "first_at"),
                last_at=_opt_int(item, "last_at"),
                last_amount=_opt_int(item, "last_amount"),
                last_key=last_key,
            ),
            sessions=SessionStats(
                spans=spans,
                closed=_int(item, "sessions_closed"),
                first_seen_at=_opt_int(item, "first_seen_at"),
                last_seen_at=_opt_int(item, "last_seen_at"),
            ),
        )
        return cls(
            project_id=item["project_id"]["S"],
            customer_id=item["customer_id"]["S"],
            summary=summary,
            version=_int(item, "version"),
        )


def _s(value: str | None) -> AttributeValues | None:
    return None if value is None else {"S": value}


def _n(value: int | None) -> AttributeValues | None:
    return None if value is None else {"N": str(value)}


def _int(item: AttributeValues, name: str) -> int:
    return int(item[name]["N"])


def _opt_int(item: AttributeValues, name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None


# ---------------------------------------------------------------- read endpoint


class SummaryQuery(BaseModel):
    """Query string of ``GET /customers/summary``: exactly one of ``user_id`` and ``email``."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

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


class ChargesView(BaseModel):
    count: int
    total: int
    first_at: int | None
    last_at: int | None
    last_amount: int | None


class SessionsView(BaseModel):
    count: int
    first_seen_at: int | None
    last_seen_at: int | None


class SummaryView(BaseModel):
    """``data`` of ``GET /customers/summary`` (times in UNIX seconds)."""

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
