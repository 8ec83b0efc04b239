"""Items as stored in DynamoDB, mapped explicitly to and from attribute values: charges, keys, erasures.

Also the stream record of storing an item, as Lambda delivers it (``stream_record``): the one builder the tests,
the benchmarks and the operator tools use. The items of the summaries table are ``summary_items``': apart, so
that the write functions, which never read a summary, do not load its types at every cold start.
"""

import hashlib
import json
from typing import Any

from beacon.dal.item_keys import CHARGE_ITEM_TYPE, ERASURE_ITEM_TYPE, api_key_pk, charge_pk, charge_sk, erasures_pk
from beacon.models.records import ApiKeyRecord, ChargeRecord

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
    return int(item["amount"]["N"]), opt_int_of(item, "client_created_at")


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
        position=opt_int_of(item, "position") or 0,
        update_session=bool(item["update_session"]["BOOL"]),
        client_charge_id=item["client_charge_id"]["S"] if "client_charge_id" in item else None,
        client_created_at=opt_int_of(item, "client_created_at"),
    )


def received_ms_of(item: AttributeValues) -> int:
    """When the API received a charge (UNIX ms); items written before milliseconds were kept hold seconds."""
    return int_of(item, "received_ms") if "received_ms" in item else int_of(item, "received_at") * 1000


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


# ---------------------------------------------------------------- attribute values


def s_or_none(value: str | None) -> AttributeValues | None:
    """``{"S": value}``, or ``None`` (no attribute) for ``None``."""
    return None if value is None else {"S": value}


def n_or_none(value: int | None) -> AttributeValues | None:
    """``{"N": "<value>"}``, or ``None`` (no attribute) for ``None``."""
    return None if value is None else {"N": str(value)}


def int_of(item: AttributeValues, name: str) -> int:
    """The number attribute ``name`` of ``item``."""
    return int(item[name]["N"])


def opt_int_of(item: AttributeValues, name: str) -> int | None:
    """The number attribute ``name`` of ``item``, ``None`` when the item has none."""
    return int(item[name]["N"]) if name in item else None
