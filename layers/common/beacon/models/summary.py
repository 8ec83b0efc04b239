"""A customer's summary as data: the fold's figures, the stored record, the read endpoint's query and answer."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from beacon.models.fields import Email, UserId

Span = tuple[int, int]
Arrival = tuple[int, int, str]  # (received_ms, position, charge_id): ``ChargeRecord.arrival``
LastChargeKey = tuple[int, int, int, str]  # (created_at, *arrival)
EmailKey = Arrival


@dataclass(frozen=True, slots=True)
class ChargeStats:
    """Count, total, first and last charge time and the latest charge's amount."""

    count: int = 0
    total: int = 0
    first_at: int | None = None
    last_at: int | None = None
    last_amount: int | None = None
    last_key: LastChargeKey | None = None


@dataclass(frozen=True, slots=True)
class SessionStats:
    """Sessions as merged activity spans (oldest first) plus the count of spans no longer kept."""

    spans: tuple[Span, ...] = ()
    closed: int = 0
    first_seen_at: int | None = None
    last_seen_at: int | None = None

    @property
    def count(self) -> int:
        """Number of sessions (visits) so far."""
        return self.closed + len(self.spans)


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    """Everything a customer's summary holds; ``EMPTY_SUMMARY`` before its first charge."""

    user_id: str | None = None
    email: str | None = None
    email_key: EmailKey | None = None
    charges: ChargeStats = field(default_factory=ChargeStats)
    sessions: SessionStats = field(default_factory=SessionStats)


EMPTY_SUMMARY = CustomerSummary()


@dataclass(frozen=True)
class SeenWindow:
    """The charges a summary counts whose stream records may still be delivered (``logic.seen``).

    ``buckets``: the minute of each charge's ``received_at`` -> the ids of that minute the summary
    counts. ``since``: a record created (``ApproximateCreationDateTime``) at or after it is new
    exactly when its id is not in the window; one created earlier may have been pruned and is not
    decidable. ``None``: nothing is known (a summary written before the window existed).
    ``overflow``: minutes whose ids are kept in seen items beside the summary, not in it.
    """

    since: int | None = None
    buckets: Mapping[int, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    overflow: frozenset[int] = frozenset()

    @property
    def inline_ids(self) -> int:
        """How many ids the summary item itself holds."""
        return sum(len(ids) for ids in self.buckets.values())


EMPTY_WINDOW = SeenWindow()


@dataclass(frozen=True)
class StoredSummary:
    """A customer's summary as stored, with the ``version`` that every write checks and increments."""

    project_id: str
    customer_id: str
    summary: CustomerSummary
    version: int
    seen: SeenWindow = EMPTY_WINDOW


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
