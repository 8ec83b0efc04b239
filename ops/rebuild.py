"""Rebuilding summaries from the stored charges: compare field by field, repair with the stream's own transaction."""

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from beacon.dal.summaries import MAX_CHARGES_PER_TRANSACTION, SummariesRepository
from beacon.logic.fold import fold_charges, summarize
from beacon.models.records import ChargeRecord
from beacon.models.summary import EMPTY_SUMMARY, CustomerSummary, StoredSummary, SummaryView
from beacon.services.summarize_batch import MAX_COMMIT_ATTEMPTS, SummaryConflictError, repository
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
    unsummarized: int
    repaired: bool = False


def rebuild_customer(
    project_id: str, customer: str, *, repair: bool, now: Callable[[], float] = time.time
) -> RebuildResult:
    """Recompute a customer's summary from its stored charges, compare it field by field, repair it if asked.

    A repair writes what the charges say and marks the charges not yet summarized, with the same
    transactions as the stream (version check, markers): a stream record of one of those charges
    that arrives later is dropped, and a concurrent stream write makes the repair start over.
    """
    summaries = repository()
    timeout = get_settings().session_timeout_seconds
    for _ in range(MAX_COMMIT_ATTEMPTS):
        stored = summaries.get(project_id, customer)
        charges = summaries.charges_of(project_id, customer)
        expected = summarize((charge for charge, _ in charges), session_timeout=timeout)
        stored_fields = summary_fields(stored.summary if stored else EMPTY_SUMMARY)
        expected_fields = summary_fields(expected)
        differences = {
            name: (stored_fields[name], value)
            for name, value in expected_fields.items()
            if stored_fields[name] != value
        }
        if stored is None and charges:
            differences.setdefault("summary", (None, "missing"))
        unsummarized = [charge for charge, marked in charges if not marked]
        result = RebuildResult(project_id, customer, differences, len(charges), len(unsummarized))
        if not repair or not differences or not charges:
            return result  # a summary without any charge is left for an operator to look at
        if _repair(summaries, stored, charges, timeout=timeout, now=int(now())):
            return RebuildResult(project_id, customer, differences, len(charges), len(unsummarized), repaired=True)
    raise SummaryConflictError("the summary kept changing during the repair; run the rebuild again")


def _repair(
    summaries: SummariesRepository,
    stored: StoredSummary | None,
    charges: Sequence[tuple[ChargeRecord, bool]],
    *,
    timeout: int,
    now: int,
) -> bool:
    first = charges[0][0]
    state = summarize((charge for charge, marked in charges if marked), session_timeout=timeout)
    pending = [charge for charge, marked in charges if not marked]
    version = stored.version if stored else None
    chunks = [pending[i : i + MAX_CHARGES_PER_TRANSACTION] for i in range(0, len(pending), MAX_CHARGES_PER_TRANSACTION)]
    for chunk in chunks or [[]]:
        state = fold_charges(state, chunk, session_timeout=timeout)
        new = StoredSummary(first.project_id, first.customer_id, state, (version or 0) + 1)
        if not summaries.commit(new, expected_version=version, charges=chunk, now=now).committed:
            return False
        version = new.version
    return True


def rebuild_project(project_id: str, *, repair: bool) -> Iterable[RebuildResult]:
    """Check every customer of a project: those with a summary (a Query) and those with charges (a Scan)."""
    summaries = repository()
    customers = {stored.customer_id for stored in summaries.list_for_project(project_id)}
    customers |= summaries.customers_with_charges(project_id)
    for customer in sorted(customers):
        yield rebuild_customer(project_id, customer, repair=repair)
