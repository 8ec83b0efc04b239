"""Which stream records a summary has counted already: a window of recent charge ids, kept in the summary.

Exactly once without a marker per charge (docs/design.md, "Exactly once"). Each summary write
stores, beside the figures, the ids of the charges it has counted, bucketed by the minute of each
charge's ``received_at`` (a field of the record itself, so a re-delivered record names the same
bucket). The write is conditioned on the summary's ``version``, so the figures and the window
change together or not at all. Old buckets are pruned: the window keeps ``since``, and a bucket is
dropped once every charge in it had its stream record created before ``since`` (``expired``). A
record is then:

- a **duplicate** when its id is in its bucket (or in a seen item of that bucket, below): skip it;
- **new** when it is not and its bucket has not expired: nothing was ever pruned from a bucket that
  has not expired, so a counted charge would be there;
- **unknown** otherwise (its bucket has expired, or there is no summary yet): the summary is
  recomputed from the stored charges, which is always right, and its window refilled with the
  ids of the buckets that have not expired.

That is the whole safety argument; it needs no clock to be right. Clocks decide only how often
the costly *unknown* case happens: ``since`` moves to ``horizon`` of the newest record a batch holds
(DynamoDB's ``ApproximateCreationDateTime``): the event source mapping never delivers a record
older than ``MaximumRecordAgeInSeconds``, an invocation lasts at most 900 s (Lambda's longest
timeout) and a charge item is written within seconds of its ``received_at`` (the API's timeout is
29 s), so with the margins below, a record that is still delivered finds its bucket kept.

Size. A customer's window holds the charges of about ``max age + margins`` (85 minutes with the
template's hour). Up to ``WindowLimits.inline_ids`` ids live in the summary item (16 bytes each);
past that, a write puts its new ids in *seen items* (one per bucket and write, in the same
transaction), so that a heavy customer (an import of 100,000 charges in ten minutes) neither grows
the summary toward DynamoDB's 400 KB nor pays for a big item on every write. The summary lists the
buckets that have seen items, so that only batches touching them read them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from types import MappingProxyType

from beacon.models.stored import SeenWindow

BUCKET_SECONDS = 60
# A charge item is written within this of its received_at (the API's 29 s timeout, clock skew).
WRITE_SLACK_SECONDS = 300
# Past the record age: Lambda's longest invocation (900 s) and 300 s of clock skew and rounding.
WINDOW_MARGIN_SECONDS = 1_200


@dataclass(frozen=True)
class WindowLimits:
    """How much one summary write may hold: DynamoDB's limits and the size of the summary item.

    Tests shrink them, so that every path (seen items, several writes, a recompute that drops its
    oldest minutes, closed sessions) is reached with a few charges.
    """

    # ids in the summary item itself (256 bytes), so that with 8 spans and a short identity the item is about 1 KB
    # (918 bytes with the ids in one minute, 1,053 over 16 minutes; each minute listed in ``overflow`` and a long
    # identity add to it: docs/design.md, "Summary size"); more go to seen items
    inline_ids: int = 16
    ids_per_seen_item: int = 20_000  # 320 KB of ids, under DynamoDB's 400 KB item limit
    seen_items_per_write: int = 99  # a transaction holds 100 items: the summary and 99 seen items
    ids_per_write: int = 200_000  # 3.2 MB, under the 4 MB of a transaction
    spans: int = 8  # session spans kept in the summary item; older ones are counted (``fold.close_sessions``)


LIMITS = WindowLimits()


class Verdict(Enum):
    """What a stream record is to a summary."""

    NEW = "new"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"


def bucket_of(received_at: int) -> int:
    """The window bucket of a charge: the minute of its ``received_at``."""
    return received_at // BUCKET_SECONDS


def horizon(newest_record_at: int, max_record_age: int) -> int:
    """The ``since`` a batch whose newest record was created at ``newest_record_at`` may prune to."""
    return newest_record_at - max_record_age - WINDOW_MARGIN_SECONDS


def expired(bucket: int, since: int | None) -> bool:
    """Every charge of ``bucket`` had its record created before ``since``: the bucket may be dropped."""
    if since is None:
        return True
    return (bucket + 1) * BUCKET_SECONDS + WRITE_SLACK_SECONDS <= since


def classify(window: SeenWindow | None, charge_id: str, received_at: int, seen_elsewhere: frozenset[str]) -> Verdict:
    """Whether the charge is counted already.

    ``window`` ``None`` (no summary) or without ``since`` (a summary older than the window) is
    unknown: whatever the stored charges say is decided by a recompute, which also covers a
    customer whose summary is still in an old layout.
    """
    if window is None or window.since is None:
        return Verdict.UNKNOWN
    bucket = bucket_of(received_at)
    if charge_id in window.buckets.get(bucket, ()) or charge_id in seen_elsewhere:
        return Verdict.DUPLICATE
    return Verdict.UNKNOWN if expired(bucket, window.since) else Verdict.NEW


def earliest_new(window: SeenWindow) -> int | None:
    """The earliest ``received_at`` a charge the window may still call new can have (``None``: none can)."""
    if window.since is None:
        return None
    return (window.since - WRITE_SLACK_SECONDS) // BUCKET_SECONDS * BUCKET_SECONDS


def advance(window: SeenWindow, since: int) -> SeenWindow:
    """The window with ``since`` moved forward (never back) and the buckets it expires dropped."""
    since = since if window.since is None else max(window.since, since)
    buckets = {bucket: ids for bucket, ids in window.buckets.items() if not expired(bucket, since)}
    overflow = frozenset(bucket for bucket in window.overflow if not expired(bucket, since))
    return SeenWindow(since=since, buckets=MappingProxyType(buckets), overflow=overflow)


def by_bucket(charges: Iterable[tuple[str, int]]) -> dict[int, frozenset[str]]:
    """``(charge_id, received_at)`` pairs grouped by bucket."""
    groups: dict[int, set[str]] = {}
    for charge_id, received_at in charges:
        groups.setdefault(bucket_of(received_at), set()).add(charge_id)
    return {bucket: frozenset(ids) for bucket, ids in groups.items()}


def add(
    window: SeenWindow, new: Mapping[int, frozenset[str]], limits: WindowLimits = LIMITS
) -> tuple[SeenWindow, dict[int, frozenset[str]]]:
    """The window after counting ``new`` (by bucket), and the ids that go to seen items instead of the summary.

    The new ids stay in the summary while it holds at most ``limits.inline_ids``; otherwise all of
    them go to seen items and their buckets are listed in ``overflow``. Expired buckets are left out.
    """
    new = {bucket: ids for bucket, ids in new.items() if ids and not expired(bucket, window.since)}
    if window.inline_ids + sum(len(ids) for ids in new.values()) <= limits.inline_ids:
        buckets = dict(window.buckets)
        for bucket, ids in new.items():
            buckets[bucket] = buckets.get(bucket, frozenset()) | ids
        return replace(window, buckets=MappingProxyType(buckets)), {}
    return replace(window, overflow=window.overflow | frozenset(new)), new
