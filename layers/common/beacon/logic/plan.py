"""Planning a summary write (pure): what one conditional write puts, given what is stored and what arrived.

Two plans, both ending in a ``SummaryWrite`` under the version they were planned from:

- ``plan_fold``: stream records of one customer against its stored summary. Each record is a
  duplicate, new or unknown (``logic.seen``); the new ones are folded in, as many as one write holds
  (the rest wait for the next write). One unknown record, or a session-updating charge that could
  touch a session the summary no longer keeps as a span, and the customer is recomputed instead.
- ``plan_recompute``: the summary its stored charges give (a ``Tally`` of all of them), with the
  window refilled with the ids of every charge whose bucket has not expired. A summary that changed
  while the charges were read is caught up by folding in what it counted and the recompute missed
  (``missed_by``), so that a recompute of a long history is never read again because of one write.

docs/design.md, "Exactly once", gives the argument; the services do the reads and the writes.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from beacon.logic import seen
from beacon.logic.fold import close_sessions, fold_charges
from beacon.models.records import ChargeRecord
from beacon.models.stored import EMPTY_WINDOW, SeenWindow, StoredSummary, SummaryWrite
from beacon.models.summary import EMPTY_SUMMARY, CustomerSummary

CustomerKey = tuple[str, str]  # (project_id, customer_id)


@dataclass(frozen=True)
class FoldPlan:
    """What to do with one customer's records: ``write`` (``None``: nothing new), or ``recompute``."""

    write: SummaryWrite | None = None
    duplicates: int = 0
    remaining: tuple[ChargeRecord, ...] = ()  # new charges for a later write: one write could not hold them
    recompute: bool = False


def buckets_to_read(stored: StoredSummary | None, charges: Iterable[ChargeRecord]) -> list[int]:
    """The buckets of ``charges`` whose ids sit in seen items (read them before ``plan_fold``)."""
    if stored is None or not stored.seen.overflow:
        return []
    return sorted({seen.bucket_of(c.received_at) for c in charges} & stored.seen.overflow)


def plan_fold(
    stored: StoredSummary | None,
    charges: Sequence[ChargeRecord],
    *,
    elsewhere: frozenset[str],
    since: int,
    session_timeout: int,
    limits: seen.WindowLimits = seen.LIMITS,
) -> FoldPlan:
    """The next write that counts those of ``charges`` the summary does not count yet.

    ``elsewhere``: the ids in the seen items of ``buckets_to_read``; ``since``: how far the window may
    be pruned (``seen.horizon`` of the newest record of the batch).
    """
    unique = [c for c in {charge.charge_id: charge for charge in charges}.values() if not erased(stored, c)]
    window = stored.seen if stored else None
    verdicts = [seen.classify(window, c.charge_id, c.received_at, elsewhere) for c in unique]
    if seen.Verdict.UNKNOWN in verdicts or stored is None:
        return FoldPlan(recompute=True)
    new = [c for c, verdict in zip(unique, verdicts, strict=True) if verdict is seen.Verdict.NEW]
    duplicates = len(charges) - len(new)
    if _touches_closed_sessions(stored.summary, new, session_timeout):
        return FoldPlan(recompute=True)
    if not new:
        return FoldPlan(duplicates=duplicates)
    chunk = _one_write_of(new, limits)
    counted = frozenset(c.charge_id for c in chunk)
    remaining = tuple(c for c in new if c.charge_id not in counted)
    # The window moves forward with the last write of the batch only: the writes before it keep the
    # ids of their minutes, which the next plan must still find (else they would be unknown).
    start = seen.advance(stored.seen, stored.seen.since if remaining and stored.seen.since else since)
    next_window, seen_items = seen.add(start, seen.by_bucket((c.charge_id, c.received_at) for c in chunk), limits)
    folded = fold_charges(stored.summary, chunk, session_timeout=session_timeout)
    key = (stored.project_id, stored.customer_id)
    write = _write(key, stored, folded, next_window, seen_items, session_timeout=session_timeout, limits=limits)
    return FoldPlan(write=replace(write, counted=counted), duplicates=duplicates, remaining=remaining)


def plan_recompute(
    key: CustomerKey,
    stored: StoredSummary | None,
    full: CustomerSummary,
    recent: Mapping[int, frozenset[str]],
    *,
    since: int,
    session_timeout: int,
    limits: seen.WindowLimits = seen.LIMITS,
) -> SummaryWrite | None:
    """The write that replaces ``stored`` with the summary of every stored charge (``full``, no span closed).

    ``recent``: the ids of the charges read, by bucket (those of expired buckets may be left out).
    The window is refilled with them; when more than one write holds, ``since`` moves forward past
    the oldest buckets: records of those charges, if any still come, are unknown again and their
    customer is recomputed again (right, only slower). ``None``: nothing to write, no charge counts
    and there is no summary (or only an erasure's tombstone) to replace.
    """
    if full.charges.count == 0 and (stored is None or stored.is_erased):
        return None
    base = seen.advance(stored.seen if stored else EMPTY_WINDOW, since)
    kept = {bucket: ids for bucket, ids in recent.items() if not seen.expired(bucket, base.since)}
    window = _fit_one_write(SeenWindow(since=base.since), kept, limits)
    next_window, seen_items = seen.add(window, kept, limits)  # leaves out what _fit_one_write expired
    write = _write(key, stored, full, next_window, seen_items, session_timeout=session_timeout, limits=limits)
    return replace(write, recomputed=True)


def missed_by(write: SummaryWrite, current_ids: Mapping[int, frozenset[str]]) -> set[str] | None:
    """The ids a summary written meanwhile counts and the recompute ``write`` did not read (``None``: cannot tell).

    The summary was written while the recompute read the charges; ``current_ids`` is its window with
    its seen items (bucket -> ids). A charge that ``write`` would have kept in its window and does not
    hold was not read: it was stored after the read passed its key. For a charge of an older bucket
    the window cannot tell, and the recompute must start over.
    """
    first_kept = seen.earliest_new(write.summary.seen)
    ours = write.summary.seen.buckets
    extra: set[str] = set()
    for bucket, ids in current_ids.items():
        missing = ids - ours.get(bucket, frozenset()) - write.seen_ids(bucket)
        if not missing:
            continue
        if first_kept is None or bucket * seen.BUCKET_SECONDS < first_kept:
            return None
        extra |= missing
    return extra


def _touches_closed_sessions(summary: CustomerSummary, new: Sequence[ChargeRecord], session_timeout: int) -> bool:
    closed_until = summary.sessions.closed_until
    if closed_until is None:
        return False
    return any(c.update_session and c.received_at <= closed_until + session_timeout for c in new)


def _write(
    key: CustomerKey,
    stored: StoredSummary | None,
    summary: CustomerSummary,
    window: SeenWindow,
    seen_items: Mapping[int, frozenset[str]],
    *,
    session_timeout: int,
    limits: seen.WindowLimits,
) -> SummaryWrite:
    """The write of ``summary`` and ``window`` in place of ``stored``, its older sessions closed."""
    version = stored.version if stored else 0
    closed = as_stored(summary, window, session_timeout=session_timeout, limits=limits)
    erased_before = stored.erased_before if stored else None  # charges from then on: no expiry
    return SummaryWrite(
        StoredSummary(key[0], key[1], closed, version + 1, window, erased_before=erased_before),
        expected_version=stored.version if stored else None,
        seen_items={bucket: _parts(ids, limits.ids_per_seen_item) for bucket, ids in seen_items.items()},
        registers=stored is None or stored.is_erased,
    )


def erased(stored: StoredSummary | None, charge: ChargeRecord) -> bool:
    """The charge was received before the customer was erased: it never counts again."""
    return stored is not None and stored.erased_before is not None and charge.received_ms < stored.erased_before


def plan_erasure(
    key: CustomerKey, stored: StoredSummary | None, *, erased_before: int, expires_at: int
) -> SummaryWrite | None:
    """The erasure's tombstone in place of ``stored``: nothing counted, no identity but the key, a floor below
    which no charge counts, an expiry. ``None`` when the summary has this erasure's floor or a later one
    already: the tombstone is there, or the charges counted since were received after it (a new customer,
    which a later pass of the same erasure must leave whole)."""
    if stored is not None and (stored.erased_before or 0) >= erased_before:
        return None
    floor = erased_before
    window = SeenWindow(since=stored.seen.since) if stored else EMPTY_WINDOW
    tombstone = StoredSummary(
        key[0], key[1], EMPTY_SUMMARY, (stored.version if stored else 0) + 1, window, floor, expires_at
    )
    return SummaryWrite(tombstone, expected_version=stored.version if stored else None)


def as_stored(
    summary: CustomerSummary, window: SeenWindow, *, session_timeout: int, limits: seen.WindowLimits = seen.LIMITS
) -> CustomerSummary:
    """``summary`` as a write with ``window`` stores it: the sessions no charge it may still fold can reach,
    and those beyond the ``limits.spans`` newest, closed (``fold.close_sessions``)."""
    before = seen.earliest_new(window)
    return close_sessions(
        summary, before=before if before is not None else 0, session_timeout=session_timeout, keep=limits.spans
    )


def _parts(ids: frozenset[str], size: int) -> tuple[frozenset[str], ...]:
    ordered = sorted(ids)
    return tuple(frozenset(ordered[start : start + size]) for start in range(0, len(ordered), size))


def _one_write_of(new: Sequence[ChargeRecord], limits: seen.WindowLimits) -> list[ChargeRecord]:
    """The first of ``new`` that one write can hold (a seen item per bucket, so few enough buckets and ids)."""
    ordered = sorted(new, key=lambda c: seen.bucket_of(c.received_at))
    buckets: set[int] = set()
    chunk: list[ChargeRecord] = []
    for charge in ordered[: limits.ids_per_seen_item]:
        bucket = seen.bucket_of(charge.received_at)
        if bucket not in buckets and len(buckets) == limits.seen_items_per_write:
            break
        buckets.add(bucket)
        chunk.append(charge)
    return chunk


def _fit_one_write(window: SeenWindow, buckets: dict[int, frozenset[str]], limits: seen.WindowLimits) -> SeenWindow:
    """``window`` with ``since`` moved past the oldest of ``buckets`` until the rest fit in one write."""
    newest_first = sorted(buckets, reverse=True)
    items, ids = 0, 0
    for index, bucket in enumerate(newest_first):
        parts = -(-len(buckets[bucket]) // limits.ids_per_seen_item)
        if items + parts > limits.seen_items_per_write or ids + len(buckets[bucket]) > limits.ids_per_write:
            oldest_kept = newest_first[index - 1] if index else bucket + 1
            return seen.advance(window, oldest_kept * seen.BUCKET_SECONDS + seen.WRITE_SLACK_SECONDS)
        items, ids = items + parts, ids + len(buckets[bucket])
    return window
