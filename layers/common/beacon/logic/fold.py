"""The charge summary and session fold: pure functions from a summary and some charges to the next summary.

The fold is commutative and associative over charges, so that the stream may fold a customer's
charges in whatever split into batches and whatever order they arrive, and a recompute from the
stored charges gives the very same summary (docs/design.md, "The fold"):

- charges: count and total are sums; ``first_at`` / ``last_at`` are the min / max of ``created_at``;
  ``last_amount`` is the amount of the charge with the greatest ``(created_at, received_ms,
  position, charge_id)``: among charges created in the same second, the later request wins, and
  within one request the later charge (docs/design.md, "Order of charges").
- sessions (charges with ``update_session`` only, by ``received_at``): the set of activity times
  is kept as merged spans ``[start, end]``; two times at most ``session_timeout`` apart belong to
  the same span, a gap of more than the timeout starts a new session. ``close_sessions`` turns the
  older spans into a count, so that a summary stays small whatever the customer's age.
- ``first_seen_at``: the min of ``received_at`` over **every** charge, whatever ``update_session``
  says (when the customer was first added; not a session trait); ``last_seen_at``: the max over
  the session-updating ones.
- e-mail: the address of the latest charge that sent one, by ``(received_ms, position, charge_id)``.

``Tally`` does the work one charge at a time in memory that grows with the number of sessions,
never with the number of charges, which is what lets a recompute read a long history page by page.
"""

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import replace

from beacon.models.records import ChargeRecord
from beacon.models.summary import EMPTY_SUMMARY, ChargeStats, CustomerSummary, EmailKey, LastChargeKey, SessionStats


class Tally:
    """A summary being built: charges are added one at a time, in any order."""

    def __init__(self, summary: CustomerSummary, *, session_timeout: int) -> None:
        self.timeout = session_timeout
        self.user_id, self.email, self.email_key = summary.user_id, summary.email, summary.email_key
        charges, sessions = summary.charges, summary.sessions
        self.count, self.total = charges.count, charges.total
        self.first_at, self.last_at = charges.first_at, charges.last_at
        self.last_amount, self.last_key = charges.last_amount, charges.last_key
        self.starts = [start for start, _ in sessions.spans]
        self.ends = [end for _, end in sessions.spans]
        self.closed, self.closed_until = sessions.closed, sessions.closed_until
        self.first_seen, self.last_seen = sessions.first_seen_at, sessions.last_seen_at

    def add(self, charge: ChargeRecord) -> None:
        """Count one charge (the caller makes sure it was not counted before)."""
        self.add_values(
            amount=charge.amount,
            created_at=charge.created_at,
            arrival=charge.arrival,
            update_session=charge.update_session,
            user_id=charge.user_id,
            email=charge.email,
        )

    def add_values(
        self,
        *,
        amount: int,
        created_at: int,
        arrival: EmailKey,
        update_session: bool,
        user_id: str | None,
        email: str | None,
    ) -> None:
        """Count one charge given as its fields (a recompute reads them without building records)."""
        self.count += 1
        self.total += amount
        self.first_at = created_at if self.first_at is None else min(self.first_at, created_at)
        self.last_at = created_at if self.last_at is None else max(self.last_at, created_at)
        key: LastChargeKey = (created_at, *arrival)
        if self.last_key is None or key > self.last_key:
            self.last_key, self.last_amount = key, amount
        if user_id is not None:
            self.user_id = user_id
        if email is not None and (self.email_key is None or arrival > self.email_key):
            self.email, self.email_key = email, arrival
        received_at = arrival[0] // 1000
        self.first_seen = received_at if self.first_seen is None else min(self.first_seen, received_at)
        if update_session:
            self.last_seen = received_at if self.last_seen is None else max(self.last_seen, received_at)
            self._activity(received_at)

    def _activity(self, at: int) -> None:
        # Spans are sorted and pairwise more than the timeout apart: ``at`` touches at most the span
        # before it and the one after it, and merges with each it is within the timeout of.
        index = bisect_right(self.starts, at)
        low, high, start, end = index, index, at, at
        if index and at <= self.ends[index - 1] + self.timeout:
            low, start, end = index - 1, self.starts[index - 1], max(self.ends[index - 1], at)
        if index < len(self.starts) and self.starts[index] - self.timeout <= at:
            high, end = index + 1, max(end, self.ends[index])
        self.starts[low:high] = [start]
        self.ends[low:high] = [end]

    def summary(self) -> CustomerSummary:
        """The summary of everything added so far."""
        return CustomerSummary(
            user_id=self.user_id,
            email=self.email,
            email_key=self.email_key,
            charges=ChargeStats(
                count=self.count,
                total=self.total,
                first_at=self.first_at,
                last_at=self.last_at,
                last_amount=self.last_amount,
                last_key=self.last_key,
            ),
            sessions=SessionStats(
                spans=tuple(zip(self.starts, self.ends, strict=True)),
                closed=self.closed,
                closed_until=self.closed_until,
                first_seen_at=self.first_seen,
                last_seen_at=self.last_seen,
            ),
        )


def fold_charges(summary: CustomerSummary, charges: Iterable[ChargeRecord], *, session_timeout: int) -> CustomerSummary:
    """The summary after ``charges`` (new ones: the caller makes sure none was folded in before)."""
    tally = Tally(summary, session_timeout=session_timeout)
    for charge in charges:
        tally.add(charge)
    return tally.summary()


def summarize(charges: Iterable[ChargeRecord], *, session_timeout: int) -> CustomerSummary:
    """The summary of a customer with exactly these charges (what a recompute computes), every span kept."""
    return fold_charges(EMPTY_SUMMARY, charges, session_timeout=session_timeout)


def close_sessions(summary: CustomerSummary, *, before: int, session_timeout: int, keep: int) -> CustomerSummary:
    """``summary`` with its older spans turned into the ``closed`` count.

    A span is closed when no charge the stream may still fold can touch it (it ends more than the
    timeout before ``before``, the earliest receipt such a charge can have), and beyond the ``keep``
    newest spans, so that the summary stays small (a charge that could touch a span closed for that
    reason is recomputed instead: ``SessionStats``).
    """
    spans = summary.sessions.spans
    final = sum(1 for _, end in spans if end + session_timeout < before)
    count = max(final, len(spans) - keep)
    if not count:
        return summary
    sessions = summary.sessions
    closed_until = max(sessions.closed_until or spans[count - 1][1], spans[count - 1][1])
    closed = replace(sessions, spans=spans[count:], closed=sessions.closed + count, closed_until=closed_until)
    return replace(summary, sessions=closed)
