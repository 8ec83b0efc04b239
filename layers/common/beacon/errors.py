"""Domain exceptions. api.py maps each one to an HTTP status and the error envelope, in one place."""

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field; ``field`` is a path such as ``charges[2].amount``."""

    field: str
    message: str


class BeaconError(Exception):
    """Base of every error the API answers on purpose; ``status`` is the HTTP status."""

    status = 500

    def __init__(self, message: str, *, field: str | None = None, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors if errors is not None else [FieldError(field or "request", message)]


class InvalidRequestError(BeaconError):
    """Malformed body or invalid fields (400). Nothing was written."""

    status = 400


class UnauthorizedError(BeaconError):
    """Missing, unknown or revoked API key (401)."""

    status = 401


class ForbiddenError(BeaconError):
    """A valid key that may not call this endpoint (403)."""

    status = 403


class NotFoundError(BeaconError):
    """Unknown route or unknown resource (404)."""

    status = 404


class MethodNotAllowedError(BeaconError):
    """Known route, other method (405)."""

    status = 405

    def __init__(self, message: str, *, allowed: list[str]) -> None:
        super().__init__(message, field="method")
        self.allowed = allowed


class RequestInFlightError(BeaconError):
    """The same Idempotency-Key is still being processed (409). Retry later."""

    status = 409


class ChargeIdConflictError(BeaconError):
    """A ``charge_id`` already stored for the customer with another amount or ``created_at`` (409).

    Nothing of the request was written; sending it again cannot succeed: it is not a request in flight.
    """

    status = 409


class PayloadTooLargeError(BeaconError):
    """Body larger than the API accepts (413)."""

    status = 413


class UnsupportedContentEncodingError(BeaconError):
    """A ``Content-Encoding`` other than gzip or identity (415)."""

    status = 415

    def __init__(self, message: str, *, accepted: list[str]) -> None:
        super().__init__(message, field="Content-Encoding")
        self.accepted = accepted


class IdempotencyKeyReusedError(BeaconError):
    """The same Idempotency-Key was sent with another body (422)."""

    status = 422


class StorageUnavailableError(BeaconError):
    """DynamoDB throttled, timed out or failed (503). Retrying the request is safe."""

    status = 503
