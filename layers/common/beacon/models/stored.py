"""A summary as stored: the figures, the ``version`` every write checks, which charges it counts, an erasure."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from beacon.models.summary import CustomerSummary


@dataclass(frozen=True)
class SeenWindow:
    """Which charges a summary counts, as far as a stream record may still ask (``logic.seen``).

    - ``buckets``: the minute of each charge's ``received_at`` -> the ids of that minute it counts.
    - ``since``: a bucket of charges whose records were all created before it is dropped (expired):
      a record of an expired bucket cannot be decided, and its customer is recomputed. ``None``:
      nothing is known (a summary written before the window existed).
    - ``overflow``: minutes whose ids sit in seen items beside the summary, not in it.
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
    """A customer's summary as stored, with the ``version`` that every write checks and increments.

    ``erased_before``: the customer was erased when the API received a request at that time (UNIX ms):
    no charge received before it counts, ever. With nothing counted since, the summary is the erasure's
    tombstone (``is_erased``): the customer reads as unknown, and the item expires (``expires_at``,
    DynamoDB's TTL) once no record of an erased charge can still come (docs/design.md, "Erasure").
    """

    project_id: str
    customer_id: str
    summary: CustomerSummary
    version: int
    seen: SeenWindow = EMPTY_WINDOW
    erased_before: int | None = None
    expires_at: int | None = None

    @property
    def is_erased(self) -> bool:
        """The erasure's tombstone: erased, and no charge counted since."""
        return self.erased_before is not None and self.summary.charges.count == 0


@dataclass(frozen=True)
class SummaryWrite:
    """One conditional write: the next summary, the version it replaces, and the seen items beside it."""

    summary: StoredSummary
    expected_version: int | None  # None: there is no summary yet
    # bucket -> the ids of its seen items, one frozenset per item (a bucket of many ids takes several)
    seen_items: Mapping[int, tuple[frozenset[str], ...]] = field(default_factory=dict)
    counted: frozenset[str] = frozenset()  # ids of the charges it counts for the first time (a fold)
    recomputed: bool = False
    registers: bool = False  # the customer's first summary, or its first since it was erased: registry entry too

    def seen_ids(self, bucket: int) -> frozenset[str]:
        """The ids of ``bucket`` this write puts in seen items."""
        return frozenset().union(*self.seen_items.get(bucket, ()))
