"""Rebuilding summaries from the stored charges: compare field by field, repair with the stream's own recompute."""

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from beacon.logic import seen
from beacon.models.responses import SummaryView
from beacon.models.summary import EMPTY_SUMMARY, CustomerSummary
from beacon.services.summarize_batch import Context, Recompute, recompute_customer, repository
from beacon.settings import get_settings


def summary_fields(summary: CustomerSummary) -> dict[str, Any]:
    """Every field of a summary, flat: what the endpoint shows plus the state later folds depend on.

    Session spans are left out: a stored summary keeps only its recent ones (the others are counted),
    which the shown ``sessions.count`` already compares.
    """
    fields = SummaryView.of(summary).flat()
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


def context(now: Callable[[], float] = time.time) -> Context:
    """What a recompute of this command needs: the tables, the template's settings, no deadline."""
    settings = get_settings()
    return Context(
        summaries=repository(),
        since=seen.horizon(int(now()), settings.stream_max_record_age_seconds),
        session_timeout=settings.session_timeout_seconds,
        now=now,
    )


def rebuild_customer(
    project_id: str, customer: str, *, repair: bool, now: Callable[[], float] = time.time
) -> RebuildResult:
    """Recompute a customer's summary from its stored charges, compare it field by field, repair it if asked.

    A repair is the stream's own recompute (``summarize_batch.Recompute``): the summary the charges
    give, with the window of recently counted charges refilled, written under the version it was
    read at, so that a stream record of one of those charges that arrives later is a duplicate and
    a stream write meanwhile is caught up with.
    """
    recompute = Recompute(context(now), (project_id, customer))
    stored = recompute.stored
    stored_fields = summary_fields(stored.summary if stored else EMPTY_SUMMARY)
    differences = {
        name: (stored_fields[name], value)
        for name, value in summary_fields(recompute.expected).items()
        if stored_fields[name] != value
    }
    if stored is None and recompute.charges:
        differences.setdefault("summary", (None, "missing"))
    if stored is not None and stored.seen.since is None:
        differences["state.seen_since"] = (None, "a window of counted charges")
    result = RebuildResult(project_id, customer, differences, recompute.charges)
    if not repair or not differences or not recompute.charges:
        return result  # a summary without any charge is left for an operator to look at
    recompute_customer(recompute.context, recompute.key, first=recompute)
    return RebuildResult(project_id, customer, differences, recompute.charges, repaired=True)


def customers_of(project_id: str, *, scan_charges: bool = False) -> Iterator[str]:
    """A project's customers: its registry and the summaries not yet migrated; with ``scan_charges``,
    any customer with a stored charge too (a Scan of the whole charges table)."""
    summaries = repository()
    listed: set[str] = set()
    for _, customer in summaries.customers(project_id):
        listed.add(customer)
        yield customer
    more = {stored.customer_id for stored in summaries.legacy_summaries(project_id)}
    if scan_charges:
        more |= summaries.customers_with_charges(project_id)
    yield from sorted(more - listed)


def rebuild_project(project_id: str, *, repair: bool, scan_charges: bool = False) -> Iterable[RebuildResult]:
    """Check every customer of a project (its registry, and with ``scan_charges`` a Scan of the charges)."""
    for customer in customers_of(project_id, scan_charges=scan_charges):
        yield rebuild_customer(project_id, customer, repair=repair)
