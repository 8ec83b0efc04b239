"""The summary and session fold: examples, then hypothesis properties (split, order, reference model)."""

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.dal.summary_items import summary_from_item, summary_item
from beacon.logic.fold import EMPTY_SUMMARY, close_sessions, fold_charges, summarize
from beacon.models.records import ChargeRecord
from beacon.models.stored import StoredSummary

TIMEOUT = 1800
T0 = 1_764_000_000


def charge(
    charge_id: str,
    *,
    amount: int = 100,
    created_at: int = T0,
    received_at: int | None = None,
    update_session: bool = True,
    user_id: str | None = "u1",
    email: str | None = None,
    received_ms_offset: int = 0,
    position: int = 0,
) -> ChargeRecord:
    return ChargeRecord(
        project_id="p",
        customer_id=f"u#{user_id}" if user_id else f"e#{email}",
        charge_id=charge_id,
        user_id=user_id,
        email=email,
        amount=amount,
        created_at=created_at,
        received_ms=(created_at if received_at is None else received_at) * 1000 + received_ms_offset,
        position=position,
        update_session=update_session,
    )


def reference_sessions(times: list[int], timeout: int = TIMEOUT) -> int:
    """Sessions the obvious way: sorted activity, a new one after a gap of more than the timeout."""
    ordered = sorted(times)
    return sum(1 for i, t in enumerate(ordered) if i == 0 or t - ordered[i - 1] > timeout)


# ---------------------------------------------------------------- examples


def test_an_empty_summary_has_no_charges_and_no_sessions():
    summary = summarize([], session_timeout=TIMEOUT)
    assert summary == EMPTY_SUMMARY
    assert (summary.charges.count, summary.charges.total, summary.charges.last_amount) == (0, 0, None)
    assert (summary.sessions.count, summary.sessions.first_seen_at, summary.sessions.last_seen_at) == (0, None, None)


def test_count_total_first_last_and_last_amount_follow_created_at():
    charges = [
        charge("a", amount=500, created_at=T0 + 100, received_at=T0 + 300),
        charge("b", amount=200, created_at=T0, received_at=T0 + 400),  # received later, created earlier
        charge("c", amount=700, created_at=T0 + 50, received_at=T0 + 500),
    ]
    stats = summarize(charges, session_timeout=TIMEOUT).charges
    assert (stats.count, stats.total) == (3, 1400)
    assert (stats.first_at, stats.last_at) == (T0, T0 + 100)
    assert stats.last_amount == 500


def test_charges_created_in_the_same_second_break_ties_by_received_at_then_id():
    same_second = [
        charge("b", amount=1, created_at=T0, received_at=T0 + 10),
        charge("a", amount=2, created_at=T0, received_at=T0 + 10),
        charge("z", amount=3, created_at=T0, received_at=T0 + 5),
    ]
    assert summarize(same_second, session_timeout=TIMEOUT).charges.last_amount == 1  # ("b" > "a") at the latest receipt


def test_within_one_second_the_later_request_wins_whatever_the_charge_ids():
    # Given two requests of one user in the same second, the second 300 ms later, with one created_at
    for first_id, second_id in [("a", "b"), ("b", "a")]:
        old = charge(first_id, amount=1, received_at=T0, email="old@example.com")
        new = charge(second_id, amount=2, received_at=T0, received_ms_offset=300, email="new@example.com")
        # When they are folded, in either order
        for charges in ([old, new], [new, old]):
            summary = summarize(charges, session_timeout=TIMEOUT)
            # Then the later request gives the latest amount and address
            assert (summary.charges.last_amount, summary.email) == (2, "new@example.com")


def test_within_one_bulk_the_later_charge_wins():
    bulk = [charge(f"{9 - i}", amount=111 * (i + 1), received_at=T0, position=i) for i in range(3)]
    assert summarize(reversed(bulk), session_timeout=TIMEOUT).charges.last_amount == 333


def test_charges_stored_before_milliseconds_were_kept_still_fold_deterministically():
    # Items without received_ms count as received at the start of their second, position 0: the id decides
    old = [charge("b", amount=1, received_at=T0), charge("a", amount=2, received_at=T0)]
    assert summarize(old, session_timeout=TIMEOUT).charges.last_amount == 1
    assert summarize(reversed(old), session_timeout=TIMEOUT).charges.last_amount == 1


def test_first_tracked_activity_starts_session_one_and_sets_first_and_last_seen():
    sessions = summarize([charge("a", received_at=T0)], session_timeout=TIMEOUT).sessions
    assert (sessions.count, sessions.first_seen_at, sessions.last_seen_at) == (1, T0, T0)


@pytest.mark.parametrize(
    ("gap", "sessions"),
    [(0, 1), (TIMEOUT - 1, 1), (TIMEOUT, 1), (TIMEOUT + 1, 2), (10 * TIMEOUT, 2)],
)
def test_a_new_session_starts_only_after_more_than_the_timeout_of_inactivity(gap, sessions):
    charges = [charge("a", received_at=T0), charge("b", received_at=T0 + gap)]
    assert summarize(charges, session_timeout=TIMEOUT).sessions.count == sessions


def test_update_session_false_changes_neither_sessions_nor_last_seen():
    first = summarize([charge("a", received_at=T0)], session_timeout=TIMEOUT)
    after = fold_charges(
        first, [charge("b", received_at=T0 + 99 * TIMEOUT, update_session=False)], session_timeout=TIMEOUT
    )
    assert after.sessions == first.sessions
    assert after.charges.count == 2


def test_historical_imports_alone_give_no_session_but_a_first_seen():
    imported = [charge(str(i), received_at=T0 + i * 10 * TIMEOUT, update_session=False) for i in range(5)]
    summary = summarize(imported, session_timeout=TIMEOUT)
    assert (summary.sessions.count, summary.sessions.first_seen_at, summary.sessions.last_seen_at) == (0, T0, None)
    assert summary.charges.count == 5


def test_first_seen_is_the_earliest_charge_received_whatever_update_session_says():
    tracked = summarize([charge("b", received_at=T0 + 5000)], session_timeout=TIMEOUT)
    # a historical import received earlier (its stream record arriving late) moves First Seen, nothing else
    imported = fold_charges(tracked, [charge("a", received_at=T0, update_session=False)], session_timeout=TIMEOUT)
    assert (imported.sessions.first_seen_at, imported.sessions.last_seen_at, imported.sessions.count) == (
        T0,
        T0 + 5000,
        1,
    )
    assert imported.sessions.spans == tracked.sessions.spans


def test_first_seen_is_the_earliest_tracked_activity_even_when_it_arrives_late():
    late = fold_charges(
        summarize([charge("b", received_at=T0 + 5000)], session_timeout=TIMEOUT),
        [charge("a", received_at=T0)],
        session_timeout=TIMEOUT,
    )
    assert (late.sessions.first_seen_at, late.sessions.last_seen_at, late.sessions.count) == (T0, T0 + 5000, 2)


def test_a_late_charge_between_two_sessions_bridges_them_into_one():
    apart = summarize([charge("a", received_at=T0), charge("c", received_at=T0 + 2 * TIMEOUT)], session_timeout=TIMEOUT)
    assert apart.sessions.count == 2
    bridged = fold_charges(apart, [charge("b", received_at=T0 + TIMEOUT)], session_timeout=TIMEOUT)
    assert bridged.sessions.count == 1
    assert bridged.sessions.spans == ((T0, T0 + 2 * TIMEOUT),)


def test_the_latest_email_sent_with_the_user_id_is_kept():
    charges = [
        charge("a", received_at=T0 + 10, email="new@example.com"),
        charge("b", received_at=T0, email="old@example.com"),
        charge("c", received_at=T0 + 20, email=None),  # a charge without an address keeps the last one
    ]
    summary = summarize(charges, session_timeout=TIMEOUT)
    assert (summary.user_id, summary.email) == ("u1", "new@example.com")


def test_a_customer_known_by_email_only_has_no_user_id():
    summary = summarize([charge("a", user_id=None, email="ada@example.com")], session_timeout=TIMEOUT)
    assert (summary.user_id, summary.email) == (None, "ada@example.com")


def test_closing_sessions_keeps_the_newest_spans_and_counts_the_others():
    visits = [charge(str(i), received_at=T0 + i * 10 * TIMEOUT) for i in range(8)]
    summary = close_sessions(
        summarize(visits, session_timeout=TIMEOUT), before=0, session_timeout=TIMEOUT, keep=3
    ).sessions
    assert (summary.count, summary.closed, len(summary.spans)) == (8, 5, 3)
    # the newest closed span ends where the fifth visit was
    assert summary.closed_until == T0 + 4 * 10 * TIMEOUT


def test_spans_no_new_charge_can_reach_are_closed_whatever_keep_says():
    # Given three visits, the last one long ago
    visits = [charge(str(i), received_at=T0 + i * 10 * TIMEOUT) for i in range(3)]
    summary = summarize(visits, session_timeout=TIMEOUT)
    # When no charge received before the third visit's end plus the timeout can still be folded in
    closed = close_sessions(summary, before=T0 + 20 * TIMEOUT + TIMEOUT + 1, session_timeout=TIMEOUT, keep=8)
    # Then every span is closed, the count unchanged
    assert (closed.sessions.count, closed.sessions.spans, closed.sessions.closed_until) == (3, (), T0 + 20 * TIMEOUT)
    # and a span a new charge could still join stays open
    kept = close_sessions(summary, before=T0 + 20 * TIMEOUT + TIMEOUT, session_timeout=TIMEOUT, keep=8)
    assert kept.sessions.spans == ((T0 + 20 * TIMEOUT, T0 + 20 * TIMEOUT),)


def test_folding_after_closing_gives_what_folding_everything_gives():
    # Given a summary whose older visits were closed
    visits = [charge(str(i), received_at=T0 + i * 10 * TIMEOUT) for i in range(6)]
    closed = close_sessions(summarize(visits, session_timeout=TIMEOUT), before=0, session_timeout=TIMEOUT, keep=2)
    # When charges after the closed spans (plus the timeout) are folded in: one joins a kept span, one bridges none
    later = [charge("x", received_at=T0 + 50 * TIMEOUT + 5), charge("y", received_at=T0 + 70 * TIMEOUT)]
    folded = fold_charges(closed, later, session_timeout=TIMEOUT)
    # Then the count is the one of all charges at once
    assert folded.sessions.count == summarize([*visits, *later], session_timeout=TIMEOUT).sessions.count == 7


def test_spans_stay_sorted_and_apart_in_any_order_of_activity():
    times = [T0, T0 + 5 * TIMEOUT, T0 - 5 * TIMEOUT, T0 + 10, T0 + 2 * TIMEOUT, T0 + TIMEOUT + 5]
    summary = summarize([charge(str(i), received_at=t) for i, t in enumerate(times)], session_timeout=TIMEOUT)
    # T0, T0+10, T0+TIMEOUT+5 and T0+2*TIMEOUT chain into one span (each within the timeout of the
    # one before); the last one bridges two spans it came between; the others stand alone
    assert summary.sessions.spans == (
        (T0 - 5 * TIMEOUT, T0 - 5 * TIMEOUT),
        (T0, T0 + 2 * TIMEOUT),
        (T0 + 5 * TIMEOUT, T0 + 5 * TIMEOUT),
    )


# ---------------------------------------------------------------- properties

charge_lists = st.lists(
    st.builds(
        lambda amount, created, received, update, email: (amount, created, received, update, email),
        st.integers(min_value=0, max_value=10**12),
        st.integers(min_value=0, max_value=5 * TIMEOUT),
        st.integers(min_value=0, max_value=40 * TIMEOUT),
        st.booleans(),
        st.sampled_from([None, "a@example.com", "b@example.com"]),
    ),
    max_size=60,
).map(
    lambda rows: [
        charge(
            f"c{index:03d}",
            amount=amount,
            created_at=T0 + created,
            received_at=T0 + received,
            update_session=update,
            email=email,
        )
        for index, (amount, created, received, update, email) in enumerate(rows)
    ]
)


def fold_in_batches(charges: list[ChargeRecord], cuts: list[int]) -> object:
    summary = EMPTY_SUMMARY
    bounds = sorted({0, len(charges), *(c % (len(charges) + 1) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        summary = fold_charges(summary, charges[start:end], session_timeout=TIMEOUT)
    return summary


@settings(max_examples=300, deadline=None)
@given(charges=charge_lists, cuts=st.lists(st.integers(min_value=0), max_size=10), seed=st.randoms())
def test_folding_in_any_order_and_any_split_equals_folding_all_at_once(charges, cuts, seed):
    all_at_once = summarize(charges, session_timeout=TIMEOUT)
    shuffled = list(charges)
    seed.shuffle(shuffled)
    assert fold_in_batches(shuffled, cuts) == all_at_once


@settings(max_examples=300, deadline=None)
@given(charges=charge_lists)
def test_the_fold_agrees_with_a_reference_computation(charges):
    summary = summarize(charges, session_timeout=TIMEOUT)
    tracked = [c.received_at for c in charges if c.update_session]
    assert summary.charges.count == len(charges)
    assert summary.charges.total == sum(c.amount for c in charges)
    assert summary.charges.first_at == min((c.created_at for c in charges), default=None)
    assert summary.charges.last_at == max((c.created_at for c in charges), default=None)
    latest = max(charges, key=lambda c: (c.created_at, c.received_ms, c.position, c.charge_id), default=None)
    assert summary.charges.last_amount == (latest.amount if latest else None)
    assert summary.sessions.count == reference_sessions(tracked)
    assert summary.sessions.first_seen_at == min((c.received_at for c in charges), default=None)
    assert summary.sessions.last_seen_at == max(tracked, default=None)
    with_email = [c for c in charges if c.email is not None]
    newest = max(with_email, key=lambda c: (c.received_ms, c.position, c.charge_id), default=None)
    assert summary.email == (newest.email if newest else None)


requests_in_one_second = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=400),  # milliseconds after the previous request
        st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=4),  # the request's amounts
        st.sampled_from([None, "a@example.com", "b@example.com"]),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(requests=requests_in_one_second, cuts=st.lists(st.integers(min_value=0), max_size=6), seed=st.randoms())
def test_the_later_request_wins_in_any_interleaving_and_any_batch_split(requests, cuts, seed):
    # Given requests sent one after another (a few ms to 400 ms apart), every charge with one created_at,
    # each request holding 1 to 4 charges, with hash-like ids that say nothing of the order
    charges, received_ms = [], T0 * 1000
    for gap, amounts, email in requests:
        received_ms += gap
        for position, amount in enumerate(amounts):
            charges.append(
                charge(
                    f"{seed.getrandbits(128):032x}",
                    amount=amount,
                    received_at=received_ms // 1000,
                    received_ms_offset=received_ms % 1000,
                    position=position,
                    email=email,
                )
            )
    expected = summarize(charges, session_timeout=TIMEOUT)
    # When the stream delivers them in any order and any split into batches
    shuffled = list(charges)
    seed.shuffle(shuffled)
    # Then the summary is the same
    assert fold_in_batches(shuffled, cuts) == expected
    # and the last charge of the last request is the latest; the last request that sent an e-mail gives it
    assert expected.charges.last_amount == requests[-1][1][-1]
    emails = [email for _, _, email in requests if email is not None]
    assert expected.email == (emails[-1] if emails else None)


def test_order_independence_on_a_large_random_history():
    rng = random.Random(7)
    # 2,000 charges in 12 bursts of visits (even a partial burst makes at most 3 spans: fewer than the fold keeps),
    # shuffled and split in 40 batches
    charges = [
        charge(
            f"c{i}",
            amount=rng.randint(0, 10_000),
            created_at=T0 + rng.randint(0, 10**6),
            received_at=T0 + rng.randrange(12) * 20 * TIMEOUT + rng.randint(0, 3 * TIMEOUT),
            update_session=rng.random() < 0.8,
        )
        for i in range(2_000)
    ]
    expected = summarize(charges, session_timeout=TIMEOUT)
    rng.shuffle(charges)
    assert fold_in_batches(charges, [rng.randint(0, 2_000) for _ in range(40)]) == expected
    assert expected.sessions.count == reference_sessions([c.received_at for c in charges if c.update_session])


@settings(max_examples=100, deadline=None)
@given(charges=charge_lists, version=st.integers(min_value=1, max_value=10**9))
def test_a_summary_survives_its_dynamodb_item_unchanged(charges, version):
    stored = StoredSummary("p", "u#u1", summarize(charges, session_timeout=TIMEOUT), version)
    item = summary_item(stored, updated_at=T0)
    assert summary_from_item(item) == stored
    # every number fits a DynamoDB Number (38 digits); no stream sequence number is kept
    numbers = [v["N"] for v in item.values() if "N" in v]
    assert all(len(n.lstrip("-")) <= 38 for n in numbers)
    assert not any("sequence" in name.lower() for name in item)
