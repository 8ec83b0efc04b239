"""The window of counted charges (beacon/logic/seen.py) and its item layout: examples, then a hypothesis model.

The model replays what the stream summarizer does with the window (classify, fold the new ones,
advance and add; recompute from the stored charges when a record is unknown) over random histories
of charges and of deliveries within the record age limit (duplicates, redeliveries, rewinds) or past
it (replays of the on-failure queue), and checks that every delivered charge is counted exactly once.
"""

from dataclasses import dataclass, field
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.dal.item_keys import seen_bucket_range, seen_sk
from beacon.dal.summary_items import (
    pack_ids,
    seen_ids_from_item,
    seen_item,
    summary_from_item,
    summary_item,
    unpack_ids,
)
from beacon.logic import seen
from beacon.logic.fold import summarize
from beacon.logic.seen import (
    BUCKET_SECONDS,
    WINDOW_MARGIN_SECONDS,
    WRITE_SLACK_SECONDS,
    Verdict,
    add,
    advance,
    bucket_of,
    by_bucket,
    classify,
    expired,
    horizon,
)
from beacon.models.records import ChargeRecord
from beacon.models.stored import EMPTY_WINDOW, SeenWindow, StoredSummary

T0 = 1_764_057_600  # a multiple of 60: the first second of a bucket
B0 = T0 // BUCKET_SECONDS
MAX_AGE = 3_600
NO_IDS: frozenset[str] = frozenset()
INLINE_MAX_IDS = seen.LIMITS.inline_ids


def cid(n: int) -> str:
    """A charge id as the API makes them: 32 lower-case hex digits."""
    return f"{n:032x}"


def window(since: int | None, buckets: dict[int, set[str]] | None = None, overflow: set[int] = frozenset()):
    frozen = {bucket: frozenset(ids) for bucket, ids in (buckets or {}).items()}
    return SeenWindow(since=since, buckets=MappingProxyType(frozen), overflow=frozenset(overflow))


# ---------------------------------------------------------------- horizon, buckets, expiry


def test_the_horizon_is_the_newest_record_minus_the_record_age_and_the_margin():
    assert horizon(T0, MAX_AGE) == T0 - MAX_AGE - WINDOW_MARGIN_SECONDS
    assert horizon(T0 + 1, 60) == T0 + 1 - 60 - WINDOW_MARGIN_SECONDS


def test_a_bucket_is_the_minute_of_received_at():
    assert bucket_of(T0) == bucket_of(T0 + 59) == B0
    assert bucket_of(T0 + 60) == B0 + 1
    assert by_bucket([(cid(1), T0), (cid(2), T0 + 59), (cid(3), T0 + 60), (cid(1), T0)]) == {
        B0: frozenset({cid(1), cid(2)}),
        B0 + 1: frozenset({cid(3)}),
    }


def test_a_bucket_expires_once_every_charge_of_it_was_written_before_since():
    # The last second of B0 is T0 + 59; its charge may be written up to WRITE_SLACK_SECONDS later
    first_expiring_since = (B0 + 1) * BUCKET_SECONDS + WRITE_SLACK_SECONDS
    assert not expired(B0, first_expiring_since - 1)
    assert expired(B0, first_expiring_since)
    assert not expired(B0 + 1, first_expiring_since)


def test_a_window_without_since_knows_nothing():
    assert expired(B0, None)


# ---------------------------------------------------------------- classify


def test_without_a_summary_every_charge_is_unknown():
    # The customer is recomputed from its stored charges: for a new customer they are the few just
    # written; for one whose summary is still in the first layout, its whole history
    assert classify(None, cid(1), T0, NO_IDS) is Verdict.UNKNOWN


def test_a_charge_in_its_bucket_or_in_a_seen_item_is_a_duplicate():
    counted = window(T0 - 10_000, {B0: {cid(1)}})
    assert classify(counted, cid(1), T0 + 30, NO_IDS) is Verdict.DUPLICATE
    assert classify(counted, cid(2), T0, frozenset({cid(2)})) is Verdict.DUPLICATE


def test_an_id_counted_in_another_bucket_does_not_make_a_duplicate():
    # The bucket is the record's own received_at: a redelivered record names the same one
    counted = window(T0 - 10_000, {B0 + 1: {cid(1)}})
    assert classify(counted, cid(1), T0, NO_IDS) is Verdict.NEW


def test_the_earliest_receipt_a_new_charge_can_have_is_the_start_of_the_first_bucket_kept():
    since = (B0 + 1) * BUCKET_SECONDS + WRITE_SLACK_SECONDS  # B0 has just expired
    assert seen.earliest_new(window(since)) == (B0 + 1) * BUCKET_SECONDS
    assert classify(window(since), cid(2), (B0 + 1) * BUCKET_SECONDS, NO_IDS) is Verdict.NEW
    assert classify(window(since), cid(2), (B0 + 1) * BUCKET_SECONDS - 1, NO_IDS) is Verdict.UNKNOWN
    assert seen.earliest_new(EMPTY_WINDOW) is None


def test_a_charge_absent_from_a_bucket_that_has_not_expired_is_new():
    assert classify(window(T0 - 10_000, {B0: {cid(1)}}), cid(2), T0, NO_IDS) is Verdict.NEW
    assert classify(window(T0 - 10_000), cid(2), T0, NO_IDS) is Verdict.NEW


def test_a_charge_absent_from_an_expired_bucket_is_unknown():
    since = (B0 + 1) * BUCKET_SECONDS + WRITE_SLACK_SECONDS
    assert classify(window(since), cid(2), T0, NO_IDS) is Verdict.UNKNOWN


def test_every_charge_is_unknown_to_a_summary_written_before_the_window_existed():
    assert classify(EMPTY_WINDOW, cid(1), T0, NO_IDS) is Verdict.UNKNOWN


# ---------------------------------------------------------------- advance, add


def test_advance_drops_the_expired_buckets_and_overflow_and_never_moves_back():
    since = (B0 + 1) * BUCKET_SECONDS + WRITE_SLACK_SECONDS  # expires B0, keeps B0 + 1
    start = window(T0 - 10_000, {B0: {cid(1)}, B0 + 1: {cid(2)}}, overflow={B0, B0 + 1})

    moved = advance(start, since)

    assert moved == window(since, {B0 + 1: {cid(2)}}, overflow={B0 + 1})
    assert advance(moved, since - 1_000) == moved
    assert advance(EMPTY_WINDOW, since).since == since


def test_add_keeps_new_ids_inline_up_to_the_bound():
    start = window(T0 - 10_000, {B0: {cid(n) for n in range(INLINE_MAX_IDS - 2)}})

    after, to_seen_items = add(start, {B0: frozenset({cid(1_000)}), B0 + 1: frozenset({cid(1_001)})})

    assert to_seen_items == {}
    assert after.inline_ids == INLINE_MAX_IDS
    assert after.buckets[B0] == frozenset({cid(n) for n in range(INLINE_MAX_IDS - 2)} | {cid(1_000)})
    assert after.buckets[B0 + 1] == frozenset({cid(1_001)})
    assert after.overflow == frozenset()


def test_past_the_bound_every_new_id_goes_to_seen_items_and_its_bucket_is_listed():
    inline = {B0: {cid(n) for n in range(INLINE_MAX_IDS)}}
    start = window(T0 - 10_000, inline)
    new = {B0: frozenset({cid(1_000)}), B0 + 2: frozenset({cid(1_001), cid(1_002)})}

    after, to_seen_items = add(start, new)

    assert to_seen_items == new
    assert after.buckets == start.buckets  # the summary item does not grow
    assert after.overflow == {B0, B0 + 2}
    assert classify(after, cid(1_001), T0 + 120, to_seen_items[B0 + 2]) is Verdict.DUPLICATE


def test_add_leaves_out_expired_buckets():
    since = (B0 + 1) * BUCKET_SECONDS + WRITE_SLACK_SECONDS
    after, to_seen_items = add(window(since), {B0: frozenset({cid(1)}), B0 + 1: frozenset({cid(2)})})
    assert (dict(after.buckets), to_seen_items) == ({B0 + 1: frozenset({cid(2)})}, {})


# ---------------------------------------------------------------- item layout


def test_ids_are_packed_in_16_bytes_each_sorted_and_unpacked_back():
    ids = {cid(3), cid(1), "ffffffffffffffffffffffffffffffff"}
    packed = pack_ids(ids)
    assert len(packed) == 16 * 3
    assert packed[:16] == bytes.fromhex(cid(1))
    assert unpack_ids(packed) == frozenset(ids)
    assert unpack_ids(pack_ids([])) == frozenset()


@pytest.mark.parametrize("bad", ["ABCDEF" * 5 + "00", "0" * 31, "0" * 33, "z" * 32, ""])
def test_an_id_that_is_not_32_lower_case_hex_digits_is_refused(bad):
    with pytest.raises(ValueError):
        pack_ids([bad])


def stored(seen_window: SeenWindow) -> StoredSummary:
    charges = [
        ChargeRecord(
            project_id="p",
            customer_id="u#u1",
            charge_id=cid(n),
            user_id="u1",
            email="a@example.com",
            amount=n,
            created_at=T0 + n,
            received_ms=(T0 + n) * 1000,
            update_session=n % 2 == 0,
        )
        for n in range(3)
    ]
    return StoredSummary("p", "u#u1", summarize(charges, session_timeout=1800), 7, seen_window)


def test_a_summary_item_round_trips_with_its_window():
    original = stored(window(T0 - 4_800, {B0: {cid(1), cid(2)}, B0 + 3: {cid(9)}}, overflow={B0 + 1, B0 + 2}))
    item = summary_item(original, updated_at=T0)
    assert item["seen_since"] == {"N": str(T0 - 4_800)}
    assert item["seen"]["M"][str(B0)] == {"B": pack_ids([cid(1), cid(2)])}
    assert summary_from_item(item) == original


def test_a_summary_without_a_window_has_no_seen_attributes_and_reads_back_as_knowing_nothing():
    item = summary_item(stored(EMPTY_WINDOW), updated_at=T0)
    assert not {"seen_since", "seen", "seen_overflow"} & set(item)
    assert summary_from_item(item).seen == EMPTY_WINDOW


windows = st.builds(
    window,
    st.none() | st.integers(0, 2 * T0),
    st.dictionaries(
        st.integers(0, B0 * 2), st.sets(st.integers(0, 2**128 - 1).map(cid), min_size=1, max_size=5), max_size=5
    ),
    st.sets(st.integers(0, B0 * 2), max_size=5),
)


@given(windows)
def test_any_window_round_trips_through_the_summary_item(seen_window):
    original = stored(seen_window)
    assert summary_from_item(summary_item(original, updated_at=T0)) == original


def test_a_seen_item_holds_its_ids_and_sorts_inside_its_bucket_range():
    item = seen_item("p", "u#u1", bucket=B0, version=12, part=1, ids=[cid(5), cid(4)], expires_at=T0)
    assert seen_ids_from_item(item) == {cid(4), cid(5)}
    assert item["PK"] == {"S": "P#p#C#u#u1#SEEN"}
    low, high = seen_bucket_range(B0, B0 + 1)
    assert low <= item["SK"]["S"] <= high
    assert not low <= seen_sk(B0 - 1, 999, 0) <= high
    assert not low <= seen_sk(B0 + 2, 1, 0) <= high


# ---------------------------------------------------------------- the model


@dataclass
class Summarizer:
    """What ``services.summarize_batch`` keeps per customer, with the figures as a count per charge id."""

    counts: dict[str, int] = field(default_factory=dict)
    window: SeenWindow | None = None  # None: no summary yet
    seen_items: dict[int, set[str]] = field(default_factory=dict)  # bucket -> ids (every version's items)
    recomputes: int = 0

    def batch(self, records: list[tuple[str, int, int]], stored: dict[str, int]) -> None:
        """Fold a batch of ``(charge_id, received_at, record created_at)``; ``stored``: every stored charge."""
        since = horizon(max(created for _, _, created in records), MAX_AGE)
        unique = {charge_id: received_at for charge_id, received_at, _ in records}
        elsewhere: set[str] = set()
        for bucket in self.window.overflow if self.window else ():
            elsewhere |= self.seen_items.get(bucket, set())
        verdicts = {c: classify(self.window, c, r, frozenset(elsewhere)) for c, r in unique.items()}
        if Verdict.UNKNOWN in verdicts.values():
            self.recomputes += 1
            self.counts = dict.fromkeys(stored, 1)
            start = SeenWindow(since=advance(self.window or EMPTY_WINDOW, since).since)
            self.write(start, by_bucket(stored.items()))
            return
        new = {c: unique[c] for c, verdict in verdicts.items() if verdict is Verdict.NEW}
        if not new:
            return  # nothing written
        for charge_id in new:
            self.counts[charge_id] = self.counts.get(charge_id, 0) + 1
        self.write(advance(self.window or EMPTY_WINDOW, since), by_bucket(new.items()))

    def write(self, start: SeenWindow, new: dict[int, frozenset[str]]) -> None:
        self.window, overflow = add(start, new)
        for bucket, ids in overflow.items():
            self.seen_items.setdefault(bucket, set()).update(ids)


@st.composite
def histories(draw):
    """Steps: time passing, charges written, one batch of records no older than MAX_AGE (or a replay)."""
    steps = []
    clock, written, serial = T0, [], 0
    for _ in range(draw(st.integers(1, 25))):
        clock += draw(st.sampled_from([0, 5, 60, 300, 1_200, 3_000, 3_590, 7_000]))
        for _ in range(draw(st.sampled_from([0, 1, 2, 3, 30]))):
            serial += 1
            # received by an API instance up to 90 s before it is written (and its record created)
            written.append((cid(serial), clock - draw(st.integers(0, 90)), clock))
        # now and then, a replay of the on-failure queue: records of any age
        replay = draw(st.sampled_from([False, False, False, True]))
        deliverable = [record for record in written if replay or clock - record[2] <= MAX_AGE]
        batch = draw(st.lists(st.sampled_from(deliverable), max_size=40)) if deliverable else []
        steps.append((list(written), batch))
    return steps


@settings(deadline=None, max_examples=300)
@given(histories())
def test_folding_only_the_new_records_counts_every_delivered_charge_exactly_once(history):
    summarizer = Summarizer()
    delivered: set[str] = set()
    for written, batch in history:
        if not batch:
            continue
        summarizer.batch(batch, stored={charge_id: received_at for charge_id, received_at, _ in written})
        delivered |= {charge_id for charge_id, _, _ in batch}
        # never counted twice, and never a charge that is not stored
        assert set(summarizer.counts.values()) <= {1}
        assert delivered <= set(summarizer.counts) <= {charge_id for charge_id, _, _ in written}


def test_the_model_goes_through_duplicates_overflow_and_recomputes():
    # A fixed history: a heavy minute (overflow), its redelivery, and a rewind past the window (recompute)
    heavy = [(cid(n), T0, T0 + 1) for n in range(INLINE_MAX_IDS + 5)]
    later = [(cid(1_000), T0 + 9_000, T0 + 9_001)]
    stored = {charge_id: received_at for charge_id, received_at, _ in heavy}
    summarizer = Summarizer()

    summarizer.batch(heavy, stored)  # no summary yet: recomputed
    assert summarizer.window.overflow == {B0} and summarizer.window.inline_ids == 0
    summarizer.batch(heavy[:10], stored)  # recognised through the seen items
    stored |= {charge_id: received_at for charge_id, received_at, _ in later}
    summarizer.batch(later, stored)  # new; moves since past B0
    summarizer.batch(heavy[:1], stored)  # too old for the window: recomputed

    assert summarizer.recomputes == 2
    assert summarizer.counts == dict.fromkeys(stored, 1)
    assert seen.expired(B0, summarizer.window.since)
