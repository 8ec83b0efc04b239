"""The items of the summaries table, mapped explicitly to and from attribute values: summaries, seen items, registry.

Loaded by the functions that read or write summaries; the charges' and keys' items are ``items``'.
"""

from collections.abc import Iterable
from types import MappingProxyType

from beacon.dal.item_keys import (
    REGISTRY_ITEM_TYPE,
    SEEN_ITEM_TYPE,
    SUMMARY_ITEM_TYPE,
    SUMMARY_SK,
    legacy_summary_pk,
    legacy_summary_sk,
    registry_pk,
    registry_shard,
    registry_sk,
    seen_pk,
    seen_sk,
    summary_pk,
)
from beacon.dal.items import AttributeValues, int_of, n_or_none, opt_int_of, s_or_none
from beacon.models.stored import SeenWindow, StoredSummary
from beacon.models.summary import Arrival, ChargeStats, CustomerSummary, SessionStats


def summary_key(project_id: str, customer: str) -> AttributeValues:
    """A summary item's primary key as attribute values."""
    return {"PK": {"S": summary_pk(project_id, customer)}, "SK": {"S": SUMMARY_SK}}


def legacy_summary_key(project_id: str, customer: str) -> AttributeValues:
    """The primary key a summary had in the first layout (``beacon summaries migrate`` moves them)."""
    return {"PK": {"S": legacy_summary_pk(project_id)}, "SK": {"S": legacy_summary_sk(customer)}}


def summary_item(stored: StoredSummary, updated_at: int) -> AttributeValues:
    """The summary item. Every number is an ``N`` of at most 16 digits: no stream sequence number is stored.

    The window of counted charges (``logic.seen``): ``seen_since``, ``seen`` (bucket -> the ids as
    16-byte binaries, concatenated) and ``seen_overflow`` (the buckets that have seen items). An erased
    customer's: ``erased_before`` (UNIX ms), and on the tombstone ``expiration`` (the table's TTL attribute).
    """
    charges, sessions = stored.summary.charges, stored.summary.sessions
    item: AttributeValues = {
        **summary_key(stored.project_id, stored.customer_id),
        "type": {"S": SUMMARY_ITEM_TYPE},
        "project_id": {"S": stored.project_id},
        "customer_id": {"S": stored.customer_id},
        "version": {"N": str(stored.version)},
        "updated_at": {"N": str(updated_at)},
        "charge_count": {"N": str(charges.count)},
        "charge_total": {"N": str(charges.total)},
        "session_count": {"N": str(sessions.count)},
        "sessions_closed": {"N": str(sessions.closed)},
        "session_spans": {"L": [{"L": [{"N": str(start)}, {"N": str(end)}]} for start, end in sessions.spans]},
    }
    optional: dict[str, AttributeValues | None] = {
        "user_id": s_or_none(stored.summary.user_id),
        "email": s_or_none(stored.summary.email),
        "first_at": n_or_none(charges.first_at),
        "last_at": n_or_none(charges.last_at),
        "last_amount": n_or_none(charges.last_amount),
        "first_seen_at": n_or_none(sessions.first_seen_at),
        "last_seen_at": n_or_none(sessions.last_seen_at),
        "sessions_closed_until": n_or_none(sessions.closed_until),
    }
    if stored.summary.email_key is not None:
        received_ms, position, charge_id = stored.summary.email_key
        optional.update(
            email_received_ms=n_or_none(received_ms),
            email_position=n_or_none(position),
            email_charge_id=s_or_none(charge_id),
        )
    if charges.last_key is not None:
        created_at, received_ms, position, charge_id = charges.last_key
        optional.update(
            last_created_at=n_or_none(created_at),
            last_received_ms=n_or_none(received_ms),
            last_position=n_or_none(position),
            last_charge_id=s_or_none(charge_id),
        )
    optional.update(erased_before=n_or_none(stored.erased_before), expiration=n_or_none(stored.expires_at))
    item.update({name: value for name, value in optional.items() if value is not None})
    item.update(_window_attributes(stored.seen))
    return item


def _window_attributes(window: SeenWindow) -> AttributeValues:
    attributes: AttributeValues = {}
    if window.since is not None:
        attributes["seen_since"] = {"N": str(window.since)}
    if window.buckets:
        attributes["seen"] = {"M": {str(b): {"B": pack_ids(ids)} for b, ids in sorted(window.buckets.items())}}
    if window.overflow:
        attributes["seen_overflow"] = {"NS": [str(bucket) for bucket in sorted(window.overflow)]}
    return attributes


def summary_from_item(item: AttributeValues) -> StoredSummary:
    """Read a summary item (of either layout: the keys are read from ``project_id`` and ``customer_id``)."""
    last_key = None
    if "last_charge_id" in item:
        last_key = (int_of(item, "last_created_at"), *_arrival(item, "last"))
    spans = tuple(
        (int(span["L"][0]["N"]), int(span["L"][1]["N"])) for span in item.get("session_spans", {}).get("L", [])
    )
    summary = CustomerSummary(
        user_id=item["user_id"]["S"] if "user_id" in item else None,
        email=item["email"]["S"] if "email" in item else None,
        email_key=_arrival(item, "email") if "email_charge_id" in item else None,
        charges=ChargeStats(
            count=int_of(item, "charge_count"),
            total=int_of(item, "charge_total"),
            first_at=opt_int_of(item, "first_at"),
            last_at=opt_int_of(item, "last_at"),
            last_amount=opt_int_of(item, "last_amount"),
            last_key=last_key,
        ),
        sessions=SessionStats(
            spans=spans,
            closed=int_of(item, "sessions_closed"),
            closed_until=opt_int_of(item, "sessions_closed_until"),
            first_seen_at=opt_int_of(item, "first_seen_at"),
            last_seen_at=opt_int_of(item, "last_seen_at"),
        ),
    )
    window = SeenWindow(
        since=opt_int_of(item, "seen_since"),
        buckets=MappingProxyType(
            {int(bucket): unpack_ids(value["B"]) for bucket, value in item.get("seen", {}).get("M", {}).items()}
        ),
        overflow=frozenset(int(bucket) for bucket in item.get("seen_overflow", {}).get("NS", [])),
    )
    return StoredSummary(
        project_id=item["project_id"]["S"],
        customer_id=item["customer_id"]["S"],
        summary=summary,
        version=int_of(item, "version"),
        seen=window,
        erased_before=opt_int_of(item, "erased_before"),
        expires_at=opt_int_of(item, "expiration"),
    )


def _arrival(item: AttributeValues, prefix: str) -> Arrival:
    """``(received_ms, position, charge_id)`` of the charge ``prefix`` names (``last``, ``email``).

    Summaries written before milliseconds were kept hold ``<prefix>_received_at`` in seconds.
    """
    if f"{prefix}_received_ms" in item:
        received_ms = int_of(item, f"{prefix}_received_ms")
    else:
        received_ms = int_of(item, f"{prefix}_received_at") * 1000
    return received_ms, opt_int_of(item, f"{prefix}_position") or 0, item[f"{prefix}_charge_id"]["S"]


# ---------------------------------------------------------------- the customer registry


def registry_key(project_id: str, customer: str) -> AttributeValues:
    """The primary key of a customer's registry entry."""
    return {"PK": {"S": registry_pk(project_id, registry_shard(customer))}, "SK": {"S": registry_sk(customer)}}


def registry_item(project_id: str, customer: str, registered_at: int) -> AttributeValues:
    """A customer's entry in its project's registry, written with its first summary (and its first after an erasure)."""
    return {
        **registry_key(project_id, customer),
        "type": {"S": REGISTRY_ITEM_TYPE},
        "project_id": {"S": project_id},
        "customer_id": {"S": customer},
        "registered_at": {"N": str(registered_at)},
    }


# ---------------------------------------------------------------- seen items


def seen_item(
    project_id: str, customer: str, *, bucket: int, version: int, part: int, ids: Iterable[str], expires_at: int
) -> AttributeValues:
    """A seen item: ids of ``bucket`` counted by the summary's ``version``; TTL deletes it after ``expires_at``."""
    return {
        "PK": {"S": seen_pk(project_id, customer)},
        "SK": {"S": seen_sk(bucket, version, part)},
        "type": {"S": SEEN_ITEM_TYPE},
        "bucket": {"N": str(bucket)},
        "ids": {"B": pack_ids(ids)},
        "expiration": {"N": str(expires_at)},
    }


def seen_ids_from_item(item: AttributeValues) -> frozenset[str]:
    """The charge ids of a seen item."""
    return unpack_ids(item["ids"]["B"])


# Charge ids are 32 lower-case hex digits (``logic.charges.charge_ids``): 16 bytes each once packed.
ID_BYTES = 16


def pack_ids(ids: Iterable[str]) -> bytes:
    """Charge ids as one binary: 16 bytes each, sorted (half the size of the hex strings)."""
    return b"".join(_id_bytes(charge_id) for charge_id in sorted(ids))


def _id_bytes(charge_id: str) -> bytes:
    raw = bytes.fromhex(charge_id)
    if len(raw) != ID_BYTES or raw.hex() != charge_id:
        raise ValueError(f"a charge id is 32 lower-case hex digits, not {charge_id!r}")
    return raw


def unpack_ids(packed: bytes) -> frozenset[str]:
    """The ids ``pack_ids`` packed."""
    return frozenset(packed[i : i + ID_BYTES].hex() for i in range(0, len(packed), ID_BYTES))
