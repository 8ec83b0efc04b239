"""A customer's summary as the fold computes it: charge figures and sessions (pure data, no storage)."""

from dataclasses import dataclass, field

Span = tuple[int, int]  # [start, end] of a session's activity, UNIX seconds
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
    """Sessions: the recent ones as activity spans (oldest first), the older ones as a count.

    ``closed`` sessions are no longer kept as spans; ``closed_until`` is where the newest of them
    ended (``None`` while none is closed). A charge received within the session timeout of it could
    join it, so the stream never folds one in: its customer is recomputed (``logic.plan``).
    """

    spans: tuple[Span, ...] = ()
    closed: int = 0
    closed_until: int | None = None
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
