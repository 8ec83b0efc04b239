"""Builders for DynamoDB stream events (from events/summarize_charges.json) and the charges they carry."""

import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from beacon.dal.item_keys import SUMMARY_ITEM_TYPE, SUMMARY_SK
from beacon.dal.items import charge_item
from beacon.dal.items import stream_record as build_stream_record
from beacon.dal.summary_items import seen_ids_from_item, summary_from_item
from beacon.logic import plan
from beacon.logic.fold import summarize
from beacon.logic.plan import as_stored
from beacon.models.records import ChargeRecord
from beacon.models.stored import StoredSummary
from beacon.models.summary import CustomerSummary

# Sequence numbers as DynamoDB writes them: decimal strings, up to 40 digits (beyond a DynamoDB Number).
_SEQUENCE_BASE = 4_000_000_000_000_000_000_000_000_000_000_000_000_000
_sequences = itertools.count(1)
T0 = 1_764_057_600


def next_sequence() -> str:
    return str(_SEQUENCE_BASE + next(_sequences) * 10)


def charge(
    customer: str = "u1",
    *,
    project: str = "local",
    amount: int = 100,
    created_at: int = T0,
    received_at: int | None = None,
    update_session: bool = True,
    email: str | None = None,
    charge_id: str | None = None,
    received_ms_offset: int = 0,
    position: int = 0,
) -> ChargeRecord:
    """A charge of customer ``u1`` (a user id) or ``e#x@y`` style e-mail customers when ``customer`` has an @."""
    by_email = "@" in customer
    return ChargeRecord(
        project_id=project,
        customer_id=f"e#{customer}" if by_email else f"u#{customer}",
        charge_id=charge_id or uuid.uuid4().hex,
        user_id=None if by_email else customer,
        email=customer if by_email else email,
        amount=amount,
        created_at=created_at,
        received_ms=(created_at if received_at is None else received_at) * 1000 + received_ms_offset,
        position=position,
        update_session=update_session,
    )


def stream_record(
    item: dict[str, Any], *, sequence: str | None = None, event_name: str = "INSERT", created_at: int | None = None
) -> dict[str, Any]:
    """A Lambda-format stream record of ``item`` (attribute values): ``beacon.dal.items.stream_record``.

    ``created_at``: the record's ``ApproximateCreationDateTime`` (by default that of events/summarize_charges.json,
    T0 + 60); ``sequence``: by default the next one.
    """
    return build_stream_record(
        item,
        sequence=sequence or next_sequence(),
        created_at=T0 + 60 if created_at is None else created_at,
        event_name=event_name,
    )


def stream_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def charge_records(charges: Iterable[ChargeRecord], *, created_at: int | None = None) -> list[dict[str, Any]]:
    """The INSERT records of ``charges``, created at ``created_at`` (``stream_record``)."""
    return [stream_record(charge_item(c), created_at=created_at) for c in charges]


def put_charges(client: Any, table: str, charges: Sequence[ChargeRecord]) -> None:
    """Store charges as the write path does (a recompute reads the stored charges)."""
    for chunk in (charges[i : i + 25] for i in range(0, len(charges), 25)):
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": charge_item(c)}} for c in chunk]})


def stored_summaries(client: Any, table: str) -> dict[tuple[str, str], StoredSummary]:
    """Every summary of the summaries table (its seen items, registry and summaries of the first layout left out)."""
    items = [i for page in client.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
    kept = (SUMMARY_ITEM_TYPE, SUMMARY_SK)
    summaries = (summary_from_item(i) for i in items if (i["type"]["S"], i["SK"]["S"]) == kept)
    return {(s.project_id, s.customer_id): s for s in summaries}


def expected_summaries(
    charges: Iterable[ChargeRecord], stored: dict[tuple[str, str], StoredSummary], timeout: int = 1800
) -> dict[tuple[str, str], CustomerSummary]:
    """What every customer's summary must be: the fold of all its charges at once, as its stored window keeps
    it (the sessions that window lets no charge reach are counted, not kept as spans: ``plan.as_stored``).
    A customer without a stored summary is compared with its whole fold."""
    by_customer: dict[tuple[str, str], list[ChargeRecord]] = {}
    for c in charges:
        by_customer.setdefault((c.project_id, c.customer_id), []).append(c)
    full = {key: summarize(group, session_timeout=timeout) for key, group in by_customer.items()}
    return {
        key: as_stored(summary, stored[key].seen, session_timeout=timeout) if key in stored else summary
        for key, summary in full.items()
    }


def stored_seen_ids(client: Any, table: str) -> dict[str, frozenset[str]]:
    """The charge ids held by the seen items of the summaries table, by partition key (``P#p#C#c#SEEN``)."""
    items = [i for page in client.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
    ids: dict[str, frozenset[str]] = {}
    for item in items:
        if item["type"]["S"] == "seen":
            ids[item["PK"]["S"]] = ids.get(item["PK"]["S"], frozenset()) | seen_ids_from_item(item)
    return ids


def count_plan_paths(monkeypatch: Any, paths: Counter[str]) -> None:
    """Count, in ``paths``, the paths of ``logic.plan`` that summaries go through: several writes for one
    batch, recomputes, a recompute that drops its oldest minutes, one caught up with a write meanwhile,
    a charge that could touch a closed session, writes with seen items."""
    lock = threading.Lock()

    def count(name: str, seen_in: Callable[[Any], dict[str, bool]]) -> None:
        real = getattr(plan, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            with lock:
                for path, happened in seen_in(result).items():
                    paths[path] += bool(happened)
            return result

        monkeypatch.setattr(plan, name, counted)

    count("plan_fold", lambda r: {"several_writes": bool(r.remaining), "recomputed": r.recompute})
    count("plan_recompute", lambda r: {"recompute_writes": True})
    count("_touches_closed_sessions", lambda r: {"closed_session": r})
    count("missed_by", lambda r: {"caught_up": bool(r)})
    count("_write", lambda r: {"seen_items": bool(r.seen_items)})
    real_fit = plan._fit_one_write

    def fit(window: Any, buckets: Any, limits: Any) -> Any:
        fitted = real_fit(window, buckets, limits)
        with lock:
            paths["drop_oldest_minutes"] += fitted.since != window.since
        return fitted

    monkeypatch.setattr(plan, "_fit_one_write", fit)
