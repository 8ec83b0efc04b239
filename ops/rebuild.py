"""Rebuilding summaries from the stored charges: compare field by field, repair with the stream's own write."""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from beacon.logic import seen
from beacon.logic.fold import summarize
from beacon.models.summary import EMPTY_SUMMARY, CustomerSummary, SummaryView
from beacon.services.summarize_batch import MAX_COMMIT_ATTEMPTS, SummaryConflictError, recompute, repository
from beacon.settings import get_settings


def summary_fields(summary: CustomerSummary) -> dict[str, Any]:
    """Every field of a summary, flat: what the endpoint shows plus the state later folds depend on."""
    fields = SummaryView.of(summary).flat()
    fields["state.session_spans"] = [list(span) for span in summary.sessions.spans]
    fields["state.sessions_closed"] = summary.sessions.closed
    fields["state.last_charge_key"] = list(summary.charges.last_key) if summary.charges.last_key else None
    fields["state.email_key"] = list(summary.email_key) if summary.email_key else None
    return fields


@dataclass(frozen=True)
class RebuildResult:
    """One customer's check: the fields that differ, ``(stored, recomputed)``, and whether it was repaired."""

    project_id: str
    customer_id: str
    differences: dict[str, tuple[Any, Any]]
    charges: int
    repaired: bool = False


def rebuild_customer(
    project_id: str, customer: str, *, repair: bool, now: Callable[[], float] = time.time
) -> RebuildResult:
    """Recompute a customer's summary from its stored charges, compare it field by field, repair it if asked.

    A repair is the stream's own recompute (``summarize_batch.recompute``): the summary the charges
    give, with the window of recently counted charges refilled, written under the version it was
    read at, so that a stream record of one of those charges that arrives later is a duplicate and
    a concurrent stream write makes the repair start over. A summary written before the window
    existed differs in ``state.seen_since``: the repair moves it to the window.
    """
    summaries = repository()
    settings = get_settings()
    for _ in range(MAX_COMMIT_ATTEMPTS):
        stored = summaries.get(project_id, customer)
        charges = summaries.charges_of(project_id, customer)
        expected = summarize(charges, session_timeout=settings.session_timeout_seconds)
        stored_fields = summary_fields(stored.summary if stored else EMPTY_SUMMARY)
        expected_fields = summary_fields(expected)
        differences = {
            name: (stored_fields[name], value)
            for name, value in expected_fields.items()
            if stored_fields[name] != value
        }
        if stored is None and charges:
            differences.setdefault("summary", (None, "missing"))
        if stored is not None and stored.seen.since is None:
            differences["state.seen_since"] = (None, "a window of counted charges")
        result = RebuildResult(project_id, customer, differences, len(charges))
        if not repair or not differences or not charges:
            return result  # a summary without any charge is left for an operator to look at
        since = seen.horizon(int(now()), settings.stream_max_record_age_seconds)
        write = recompute(
            summaries,
            (project_id, customer),
            stored,
            since=since,
            session_timeout=settings.session_timeout_seconds,
            charges=charges,
        )
        if summaries.write(
            write.summary, expected_version=write.expected_version, seen=write.seen_items, now=int(now())
        ):
            return RebuildResult(project_id, customer, differences, len(charges), repaired=True)
    raise SummaryConflictError("the summary kept changing during the repair; run the rebuild again")


def rebuild_project(project_id: str, *, repair: bool) -> Iterable[RebuildResult]:
    """Check every customer of a project: those with a summary (a Query) and those with charges (a Scan)."""
    summaries = repository()
    customers = {stored.customer_id for stored in summaries.list_for_project(project_id)}
    customers |= summaries.customers_with_charges(project_id)
    for customer in sorted(customers):
        yield rebuild_customer(project_id, customer, repair=repair)
