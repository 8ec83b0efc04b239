"""The charge summary and session fold: pure functions from a summary and some charges to the next summary.

The fold is commutative and associative over charges (up to the span limit below), so that the
stream handler may fold a customer's charges in whatever split into batches and in whatever order
they arrive, and a rebuild from the stored charges gives the very same summary:

- charges: count and total are sums; first_at / last_at are min / max of ``created_at``;
  ``last_amount`` is the amount of the charge with the greatest ``(created_at, received_ms,
  position, charge_id)``: among charges created in the same second, the later request wins, and
  within one request the later charge (docs/design.md, "The order of charges").
- sessions (charges with ``update_session`` only, by ``received_at``): the set of activity times
  is kept as merged spans ``[start, end]``; two times at most ``session_timeout`` apart belong to
  the same span, a gap of more than the timeout starts a new session. ``count`` is the number of
  spans plus the spans folded out of the retained window (``closed``). ``last_seen_at`` is the max
  of their ``received_at``.
- ``first_seen_at``: the min of ``received_at`` over **every** charge, whatever ``update_session``
  says (when the customer was first added; not a session trait).
- e-mail: the latest address sent with the customer's charges, by ``(received_ms, position, charge_id)``.

Limit: at most ``max_spans`` (50) recent spans are kept; older ones only add to ``closed``. A
session-updating charge that arrives older than the retained window (more than ~50 sessions late)
can no longer be matched with its neighbours and counts as a session of its own until the summary
is rebuilt from the stored charges.
"""

from collections.abc import Iterable
from dataclasses import replace

from beacon.models.records import ChargeRecord
from beacon.models.summary import EMPTY_SUMMARY, ChargeStats, CustomerSummary, LastChargeKey, SessionStats, Span

DEFAULT_MAX_SPANS = 50


def fold_charges(
    summary: CustomerSummary,
    charges: Iterable[ChargeRecord],
    *,
    session_timeout: int,
    max_spans: int = DEFAULT_MAX_SPANS,
) -> CustomerSummary:
    """The summary after ``charges`` (new ones: the caller makes sure none was folded in before).

    Charges are folded in the order they arrived (``ChargeRecord.arrival``); spans beyond
    ``max_spans`` are folded into the closed count once, at the end.
    """
    if max_spans < 1:
        raise ValueError("max_spans must be at least 1")
    ordered = sorted(charges, key=lambda c: c.arrival)
    if not ordered:
        return summary
    user_id, email, email_key = summary.user_id, summary.email, summary.email_key
    stats = summary.charges
    spans = list(summary.sessions.spans)
    closed = summary.sessions.closed
    first_seen, last_seen = summary.sessions.first_seen_at, summary.sessions.last_seen_at
    for charge in ordered:
        if charge.user_id is not None:
            user_id = charge.user_id
        if charge.email is not None and (email_key is None or charge.arrival > email_key):
            email, email_key = charge.email, charge.arrival
        stats = _add_charge(stats, charge)
        seen = charge.received_at
        first_seen = seen if first_seen is None else min(first_seen, seen)  # any charge: not a session trait
        if charge.update_session:
            last_seen = seen if last_seen is None else max(last_seen, seen)
            if closed and spans and seen < spans[0][0] - session_timeout:
                closed += 1  # older than the retained window: see the module's docstring
            else:
                spans = add_activity(spans, seen, session_timeout)
    if len(spans) > max_spans:
        closed += len(spans) - max_spans
        spans = spans[-max_spans:]
    sessions = SessionStats(spans=tuple(spans), closed=closed, first_seen_at=first_seen, last_seen_at=last_seen)
    return replace(summary, user_id=user_id, email=email, email_key=email_key, charges=stats, sessions=sessions)


def summarize(
    charges: Iterable[ChargeRecord], *, session_timeout: int, max_spans: int = DEFAULT_MAX_SPANS
) -> CustomerSummary:
    """The summary of a customer with exactly these charges (what a rebuild computes)."""
    return fold_charges(EMPTY_SUMMARY, charges, session_timeout=session_timeout, max_spans=max_spans)


def _add_charge(stats: ChargeStats, charge: ChargeRecord) -> ChargeStats:
    key: LastChargeKey = (charge.created_at, *charge.arrival)
    is_last = stats.last_key is None or key > stats.last_key
    return ChargeStats(
        count=stats.count + 1,
        total=stats.total + charge.amount,
        first_at=charge.created_at if stats.first_at is None else min(stats.first_at, charge.created_at),
        last_at=charge.created_at if stats.last_at is None else max(stats.last_at, charge.created_at),
        last_amount=charge.amount if is_last else stats.last_amount,
        last_key=key if is_last else stats.last_key,
    )


def add_activity(spans: list[Span], at: int, session_timeout: int) -> list[Span]:
    """Spans (sorted, pairwise more than ``session_timeout`` apart) after activity at ``at``.

    ``at`` joins every span it is within the timeout of (it may bridge two); otherwise it opens a
    span of its own. The result depends only on the set of activity times, not on their order.
    """
    start, end = at, at
    result: list[Span] = []
    for span_start, span_end in spans:
        if span_start - session_timeout <= at <= span_end + session_timeout:
            start, end = min(start, span_start), max(end, span_end)
        else:
            result.append((span_start, span_end))
    result.append((start, end))
    result.sort()
    return result
