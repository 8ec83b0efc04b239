"""From a validated request to the charge records to store (pure: time and ids are arguments)."""

import hashlib
import json
import uuid
from collections.abc import Sequence

from beacon.logic.identity import identify_customer
from beacon.models.fields import RequestClock
from beacon.models.records import ChargeRecord
from beacon.models.requests import ChargeFields


def request_fingerprint(endpoint: str, body: dict[str, object]) -> str:
    """SHA-256 of a validated request body in canonical JSON: equal requests, equal fingerprints."""
    canonical = json.dumps([endpoint, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def charge_ids(count: int, *, project_id: str, idempotency_key: str | None, fingerprint: str) -> list[str]:
    """Ids for the charges of one request.

    With an Idempotency-Key they are derived from the project, the key and the request's fingerprint,
    so that a retry of the same request (even after a half-finished bulk write) names the same
    charges and stores none twice, while the same key reused later for another body names new ones.
    Without a key every request gets fresh random ids.
    """
    if idempotency_key is None:
        return [uuid.uuid4().hex for _ in range(count)]
    seed = f"{project_id}\x1f{idempotency_key}\x1f{fingerprint}"
    return [hashlib.sha256(f"{seed}\x1f{index}".encode()).hexdigest()[:32] for index in range(count)]


def named_charge_id(project_id: str, customer_id: str, client_charge_id: str) -> str:
    """The id of a charge the client named with its own ``charge_id``: the same for the same project,
    customer and name in any request, at any time, so that the charge is stored under one key once."""
    seed = f"charge_id\x1f{project_id}\x1f{customer_id}\x1f{client_charge_id}"
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]


def build_charges(
    *,
    project_id: str,
    user_id: str | None,
    email: str | None,
    charges: Sequence[ChargeFields],
    ids: Sequence[str],
    received_ms: int,
    sent_at: int | None = None,
) -> list[ChargeRecord]:
    """One record per charge, in the request's order.

    ``created_at`` defaults to when the API received the request; one the client sent is corrected by
    the client's clock error when the request says when it was sent: ``created_at + (received_at - sent_at)``.
    A charge with a ``charge_id`` gets the id ``named_charge_id`` derives from it instead of ``ids``' one.
    """
    customer = identify_customer(user_id, email)
    clock = RequestClock.at(received_ms, sent_at)
    return [
        ChargeRecord(
            project_id=project_id,
            customer_id=customer,
            charge_id=named_charge_id(project_id, customer, charge.charge_id) if charge.charge_id else charge_id,
            user_id=user_id,
            email=email,
            amount=charge.amount,
            created_at=clock.received_at if charge.created_at is None else clock.correct(charge.created_at),
            received_ms=received_ms,
            position=position,
            update_session=charge.update_session,
            client_charge_id=charge.charge_id,
            client_created_at=charge.created_at if charge.charge_id is not None else None,
        )
        for position, (charge, charge_id) in enumerate(zip(charges, ids, strict=True))
    ]
