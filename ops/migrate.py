"""Moving summaries from the first layout (one partition key per project) to one partition key per customer.

Safe while the stream runs: the stream itself recomputes a customer that has no summary in the new
layout (``logic.seen``: no summary is *unknown*), and both write the new summary under the same
condition (it does not exist yet), so whichever comes second finds it there. The old summary is
deleted once the new one exists; the read endpoint reads an old one until then.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from beacon.services.summarize_batch import recompute_customer, repository
from ops.rebuild import context


@dataclass(frozen=True)
class Migrated:
    """What a migration did: customers registered, summaries recomputed into the new layout, old ones deleted."""

    registered: int
    recomputed: int
    deleted: int


def migrate(now: Callable[[], float] = time.time) -> Migrated:
    """Move every summary of the first layout (a Scan of the summaries table)."""
    summaries = repository()
    recompute = context(now)
    registered = recomputed = deleted = 0
    for old in summaries.legacy_summaries():
        key = (old.project_id, old.customer_id)
        summaries.register(*key, now=int(now()))
        registered += 1
        if summaries.get(*key) is None:
            recompute_customer(recompute, key)
            recomputed += 1
        summaries.delete_legacy(*key)
        deleted += 1
    return Migrated(registered, recomputed, deleted)
