"""Recording charges: the one use case both write handlers call.

Without an Idempotency-Key each call stores new charges. With one, Powertools' idempotency utility
keeps a record per (project, key) in the idempotency table: the same key and body replay the first
result, another body gets ``IdempotencyKeyReusedError`` (422), a request still in flight
``RequestInFlightError`` (409). Charge ids derived from the key make a retry after a failure
half-way through a bulk write store only what is missing.

A charge with the client's own ``charge_id`` is stored under an id derived from it, whatever the
request: sent again with the same amount and ``created_at`` (as the client sent it) it is not stored
again; with other content it is ``ChargeIdConflictError`` (409) and nothing of the request is written.
Both hold together with an Idempotency-Key. With ``sent_at`` every ``created_at`` the client sent is
corrected by the client's clock error, against ``received_ms``: the instant the charges are stored with.
"""

import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from beacon.dal.aws import dynamodb_client
from beacon.dal.charges import ChargeIdTakenError, ChargesRepository
from beacon.errors import (
    ChargeIdConflictError,
    FieldError,
    IdempotencyKeyReusedError,
    RequestInFlightError,
    StorageUnavailableError,
)
from beacon.logic.charges import build_charges, charge_ids, request_fingerprint
from beacon.models.caller import Caller
from beacon.models.records import ChargeRecord
from beacon.models.requests import ChargeFields
from beacon.settings import get_settings

if TYPE_CHECKING:
    # Powertools' idempotency utility is imported by the first request that sends an Idempotency-Key, not at
    # every cold start (docs/benchmarks.md, cold start).
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord


class IngestCommand(BaseModel):
    """Everything needed to store one request's charges; the idempotency utility hashes parts of it."""

    project_id: str
    idempotency_key: str | None
    endpoint: str
    received_ms: int
    sent_at: int | None = None
    user_id: str | None
    email: str | None
    charges: list[ChargeFields]


class IngestResult(BaseModel):
    """What a request stored: ``stored`` charges newly written, ``replayed`` when answered from the record."""

    accepted: int
    stored: int
    replayed: bool = False


def record_charges(
    caller: Caller,
    *,
    endpoint: str,
    user_id: str | None,
    email: str | None,
    charges: Sequence[ChargeFields],
    idempotency_key: str | None,
    lambda_context: LambdaContext | None,
    received_ms: int | None = None,
    sent_at: int | None = None,
) -> IngestResult:
    """Store a request's charges for the caller's project, at most once per Idempotency-Key.

    ``received_ms`` is when the API received the request (now, unless the caller read it already to
    check the request's ``created_at`` values); ``sent_at`` the client's clock when it sent it.
    """
    command = IngestCommand(
        project_id=caller.project_id,
        idempotency_key=idempotency_key,
        endpoint=endpoint,
        received_ms=time.time_ns() // 1_000_000 if received_ms is None else received_ms,
        sent_at=sent_at,
        user_id=user_id,
        email=email,
        charges=list(charges),
    )
    if idempotency_key is None:
        return _store(command)
    return _store_once(command, lambda_context)


def _store_once(command: IngestCommand, lambda_context: LambdaContext | None) -> IngestResult:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    store_once, config = idempotent_store()
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    try:
        result: IngestResult = store_once(command=command)
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was already used with a different request; use a new key for a new request",
            field="Idempotency-Key",
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise RequestInFlightError(
            "a request with this Idempotency-Key is still being processed; retry in a moment", field="Idempotency-Key"
        ) from exc
    except IdempotencyPersistenceLayerError as exc:
        raise StorageUnavailableError("storage is busy; retry the request", field="request") from exc
    return result


def _store(command: IngestCommand) -> IngestResult:
    fingerprint = request_fingerprint(
        command.endpoint, {"user_id": command.user_id, "email": command.email, "charges": _dump(command.charges)}
    )
    ids = charge_ids(
        len(command.charges),
        project_id=command.project_id,
        idempotency_key=command.idempotency_key,
        fingerprint=fingerprint,
    )
    records = build_charges(
        project_id=command.project_id,
        user_id=command.user_id,
        email=command.email,
        charges=command.charges,
        ids=ids,
        received_ms=command.received_ms,
        sent_at=command.sent_at,
    )
    repository = ChargesRepository(get_settings().charges_table_name)
    try:
        stored = repository.add(records, skip_existing=command.idempotency_key is not None)
    except ChargeIdTakenError as exc:
        raise _conflict(exc.charges, bulk=command.endpoint != "charges") from exc
    return IngestResult(accepted=len(records), stored=stored)


def _conflict(charges: Sequence[ChargeRecord], *, bulk: bool) -> ChargeIdConflictError:
    """409 naming each charge whose charge_id is stored with another amount or created_at (never the stored values)."""
    errors = []
    for charge in charges:
        field = f"charges[{charge.position}].charge_id" if bulk else "charge_id"
        shown = charge.client_charge_id or ""
        shown = shown if len(shown) <= 64 else f"{shown[:61]}..."
        message = (
            f"{field} '{shown}' is already stored for this customer with another amount or created_at: a "
            "charge_id names one charge, sent again only as it was; use a new charge_id for a new charge"
        )
        errors.append(FieldError(field, message))
    return ChargeIdConflictError(errors[0].message, errors=errors)


def _dump(charges: Sequence[ChargeFields]) -> list[dict[str, Any]]:
    return [charge.model_dump() for charge in charges]


def _mark_replayed(response: Any, idempotent_data: "DataRecord") -> Any:
    # The first answer, replayed: it stored its charges; this request stored none.
    if isinstance(response, IngestResult):
        return response.model_copy(update={"replayed": True, "stored": 0})
    return response


@lru_cache(maxsize=1)
def idempotent_store() -> tuple[Callable[..., IngestResult], "IdempotencyConfig"]:
    """The idempotent version of the store and its config, built once per execution environment."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

    settings = get_settings()
    config = IdempotencyConfig(
        # One record per project and key; the rest of the request must match for a replay.
        event_key_jmespath="[project_id, idempotency_key]",
        # sent_at is left out: a retry may say when it was sent again, and it is still the same request.
        payload_validation_jmespath="[endpoint, user_id, email, charges]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.idempotency_ttl_seconds,
        response_hook=_mark_replayed,
    )
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name, boto3_client=dynamodb_client())
    store_once = idempotent_function(
        _store,
        data_keyword_argument="command",
        persistence_store=persistence,
        config=config,
        output_serializer=PydanticSerializer,
        key_prefix="beacon-charges",
    )
    return store_once, config
