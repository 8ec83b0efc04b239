"""Items as stored in DynamoDB, mapped explicitly to and from attribute values: charges, keys, summaries, registry.

Also the stream record of storing an item, as Lambda delivers it (``stream_record``): the one builder the tests,
the benchmarks and the operator tools use.
"""

import hashlib
import json
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

from beacon.dal.item_keys import (
    CHARGE_ITEM_TYPE,
    ERASURE_ITEM_TYPE,
    REGISTRY_ITEM_TYPE,
    SEEN_ITEM_TYPE,
    SUMMARY_ITEM_TYPE,
    SUMMARY_SK,
    api_key_pk,
    charge_pk,
    charge_sk,
    erasures_pk,
    legacy_summary_pk,
    legacy_summary_sk,
    registry_pk,
    registry_shard,
    registry_sk,
    seen_pk,
    seen_sk,
    summary_pk,
)
from beacon.models.records import ApiKeyRecord, ChargeRecord
from beacon.models.stored import SeenWindow, StoredSummary
from beacon.models.summary import Arrival, ChargeStats, CustomerSummary, SessionStats

AttributeValues = dict[str, Any]


# ---------------------------------------------------------------- charges


def charge_key(charge: ChargeRecord) -> AttributeValues:
    """The charge item's primary key as attribute values."""
    return {"PK": {"S": charge_pk(charge.project_id, charge.customer_id)}, "SK": {"S": charge_sk(charge.charge_id)}}


def charge_item(charge: ChargeRecord) -> AttributeValues:
    """The item as written by the ingest functions, once: nothing updates a charge afterwards.

    A charge the client named carries ``client_charge_id`` (and ``client_created_at`` when the client
    sent a ``created_at``): what a later request with the same ``charge_id`` is compared with.
    """
    item: AttributeValues = {
        **charge_key(charge),
        "type": {"S": CHARGE_ITEM_TYPE},
        "project_id": {"S": charge.project_id},
        "customer_id": {"S": charge.customer_id},
        "charge_id": {"S": charge.charge_id},
        "amount": {"N": str(charge.amount)},
        "created_at": {"N": str(charge.created_at)},
        "received_at": {"N": str(charge.received_at)},
        "received_ms": {"N": str(charge.received_ms)},
        "position": {"N": str(charge.position)},
        "update_session": {"BOOL": charge.update_session},
    }
    if charge.user_id is not None:
        item["user_id"] = {"S": charge.user_id}
    if charge.email is not None:
        item["email"] = {"S": charge.email}
    if charge.client_charge_id is not None:
        item["client_charge_id"] = {"S": charge.client_charge_id}
    if charge.client_created_at is not None:
        item["client_created_at"] = {"N": str(charge.client_created_at)}
    return item


def charge_content(item: AttributeValues) -> tuple[int, int | None]:
    """``ChargeRecord.content`` of a stored charge item (of which ``amount`` and ``client_created_at`` suffice)."""
    return int(item["amount"]["N"]), _opt_int(item, "client_created_at")


def charge_from_item(item: AttributeValues) -> ChargeRecord:
    """Read a charge item (attribute values, as in a stream record's NewImage or a Query answer).

    Items written before ``received_ms`` and ``position`` existed count as received at the start of
    their second, first in their request: the order among them is then decided by their ids.
    """
    received_ms = received_ms_of(item)
    return ChargeRecord(
        project_id=item["project_id"]["S"],
        customer_id=item["customer_id"]["S"],
        charge_id=item["charge_id"]["S"],
        user_id=item["user_id"]["S"] if "user_id" in item else None,
        email=item["email"]["S"] if "email" in item else None,
        amount=int(item["amount"]["N"]),
        created_at=int(item["created_at"]["N"]),
        received_ms=received_ms,
        position=_opt_int(item, "position") or 0,
        update_session=bool(item["update_session"]["BOOL"]),
        client_charge_id=item["client_charge_id"]["S"] if "client_charge_id" in item else None,
        client_created_at=_opt_int(item, "client_created_at"),
    )


def received_ms_of(item: AttributeValues) -> int:
    """When the API received a charge (UNIX ms); items written before milliseconds were kept hold seconds."""
    return _int(item, "received_ms") if "received_ms" in item else _int(item, "received_at") * 1000


# ---------------------------------------------------------------- stream records

# The charges table's stream in events/summarize_charges.json: what a record built here names as its source.
EXAMPLE_STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/beacon-charges-ChargesTable-1ABCDEF/stream/2026-11-25T08:00:00.000"
)


def stream_record(
    item: AttributeValues,
    *,
    sequence: str,
    created_at: int,
    event_name: str = "INSERT",
    stream_arn: str = EXAMPLE_STREAM_ARN,
) -> dict[str, Any]:
    """The record of writing ``item`` to a ``NEW_IMAGE`` stream (the charges table's), as Lambda delivers it.

    ``sequence`` is its ``SequenceNumber`` (a decimal string), ``created_at`` its ``ApproximateCreationDateTime``
    (seconds); its ``eventID`` is derived from the stream and the sequence number, so a record built twice is the
    same record.
    """
    return {
        "eventID": hashlib.sha256(f"{stream_arn}#{sequence}".encode()).hexdigest()[:32],
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": created_at,
            "Keys": {"PK": item["PK"], "SK": item["SK"]},
            "NewImage": item,
            "SequenceNumber": sequence,
            "SizeBytes": len(json.dumps(item)),
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": stream_arn,
    }


# ---------------------------------------------------------------- API keys


def api_key_item(record: ApiKeyRecord) -> AttributeValues:
    """The key item; ``project_id`` and ``created_at`` feed the ``ByProject`` index."""
    item: AttributeValues = {
        "PK": {"S": api_key_pk(record.key_hash)},
        "key_hash": {"S": record.key_hash},
        "key_id": {"S": record.key_id},
        "project_id": {"S": record.project_id},
        "kind": {"S": record.kind},
        "prefix": {"S": record.prefix},
        "created_at": {"N": str(record.created_at)},
    }
    if record.revoked_at is not None:
        item["revoked_at"] = {"N": str(record.revoked_at)}
    return item


def api_key_from_item(item: AttributeValues) -> ApiKeyRecord:
    """Read a key item."""
    return ApiKeyRecord(
        key_hash=item["key_hash"]["S"],
        key_id=item["key_id"]["S"],
        project_id=item["project_id"]["S"],
        kind=item["kind"]["S"],
        prefix=item["prefix"]["S"],
        created_at=int(item["created_at"]["N"]),
        revoked_at=int(item["revoked_at"]["N"]) if "revoked_at" in item else None,
    )


# ---------------------------------------------------------------- summaries


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
        "user_id": _s(stored.summary.user_id),
        "email": _s(stored.summary.email),
        "first_at": _n(charges.first_at),
        "last_at": _n(charges.last_at),
        "last_amount": _n(charges.last_amount),
        "first_seen_at": _n(sessions.first_seen_at),
        "last_seen_at": _n(sessions.last_seen_at),
        "sessions_closed_until": _n(sessions.closed_until),
    }
    if stored.summary.email_key is not None:
        received_ms, position, charge_id = stored.summary.email_key
        optional.update(email_received_ms=_n(received_ms), email_position=_n(position), email_charge_id=_s(charge_id))
    if charges.last_key is not None:
        created_at, received_ms, position, charge_id = charges.last_key
        optional.update(
            last_created_at=_n(created_at),
            last_received_ms=_n(received_ms),
            last_position=_n(position),
            last_charge_id=_s(charge_id),
        )
    optional.update(erased_before=_n(stored.erased_before), expiration=_n(stored.expires_at))
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
        last_key = (_int(item, "last_created_at"), *_arrival(item, "last"))
    spans = tuple(
        (int(span["L"][0]["N"]), int(span["L"][1]["N"])) for span in item.get("session_spans", {}).get("L", [])
    )
    summary = CustomerSummary(
        user_id=item["user_id"]["S"] if "user_id" in item else None,
        email=item["email"]["S"] if "email" in item else None,
        email_key=_arrival(item, "email") if "email_charge_id" in item else None,
        charges=ChargeStats(
            count=_int(item, "charge_count"),
            total=_int(item, "charge_total"),
            first_at=_opt_int(item, "first_at"),
            last_at=_opt_int(item, "last_at"),
            last_amount=_opt_int(item, "last_amount"),
            last_key=last_key,
        ),
        sessions=SessionStats(
            spans=spans,
            closed=_int(item, "sessions_closed"),
            closed_until=_opt_int(item, "sessions_closed_until"),
            first_seen_at=_opt_int(item, "first_seen_at"),
            last_seen_at=_opt_int(item, "last_seen_at"),
        ),
    )
    window = SeenWindow(
        since=_opt_int(item, "seen_since"),
        buckets=MappingProxyType(
            {int(bucket): unpack_ids(value["B"]) for bucket, value in item.get("seen", {}).get("M", {}).items()}
        ),
        overflow=frozenset(int(bucket) for bucket in item.get("seen_overflow", {}).get("NS", [])),
    )
    return StoredSummary(
        project_id=item["project_id"]["S"],
        customer_id=item["customer_id"]["S"],
        summary=summary,
        version=_int(item, "version"),
        seen=window,
        erased_before=_opt_int(item, "erased_before"),
        expires_at=_opt_int(item, "expiration"),
    )


def _arrival(item: AttributeValues, prefix: str) -> Arrival:
    """``(received_ms, position, charge_id)`` of the charge ``prefix`` names (``last``, ``email``).

    Summaries written before milliseconds were kept hold ``<prefix>_received_at`` in seconds.
    """
    if f"{prefix}_received_ms" in item:
        received_ms = _int(item, f"{prefix}_received_ms")
    else:
        received_ms = _int(item, f"{prefix}_received_at") * 1000
    return received_ms, _opt_int(item, f"{prefix}_position") or 0, item[f"{prefix}_charge_id"]["S"]


# ---------------------------------------------------------------- erasures


def erasure_item(project_id: str, subject_hash: str, *, erased_at: int, key_id: str) -> AttributeValues:
    """The record that a customer of the project was erased: a keyed hash of its identity, never the identity."""
    return {
        "PK": {"S": erasures_pk(project_id)},
        "SK": {"S": subject_hash},
        "type": {"S": ERASURE_ITEM_TYPE},
        "project_id": {"S": project_id},
        "erased_at": {"N": str(erased_at)},
        "key_id": {"S": key_id},
    }


def erasure_key(project_id: str, subject_hash: str) -> AttributeValues:
    """The primary key of an erasure record."""
    return {"PK": {"S": erasures_pk(project_id)}, "SK": {"S": subject_hash}}


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


def _s(value: str | None) -> AttributeValues | None:
    return None if value is None else {"S": value}


def _n(value: int | None) -> AttributeValues | None:
    return None if value is None else {"N": str(value)}


def _int(item: AttributeValues, name: str) -> int:
    return int(item[name]["N"])


def _opt_int(item: AttributeValues, name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None
