"""POST /charges/bulk: record 1 to 1,000 charges of one customer.

Trigger: API Gateway HTTP API (payload v2). Contract: docs/api.md and openapi.yaml. Every charge is
validated before anything is written; errors name ``charges[i].field``. Charges are written with
BatchWriteItem (25 a call, unprocessed items retried with backoff). The request ends with all of
them stored (200) or with an error that is safe to retry: with the same Idempotency-Key, a retry
stores only the charges a failed attempt did not.
"""

from beacon.api import (
    Response,
    any_key,
    create_resolver,
    current_caller,
    idempotency_key,
    parse_body,
    received_ms,
    success,
)
from beacon.models.requests import BulkChargesRequest
from beacon.observability import LambdaContext, MetricUnit, correlation_paths, log_invocation, metrics, record, tracer
from beacon.services.record_charges import record_charges

app = create_resolver()


@app.post("/charges/bulk", middlewares=[any_key])
@tracer.capture_method
def create_charges_in_bulk() -> Response:
    bulk = parse_body(app, BulkChargesRequest)
    caller = current_caller(app)
    result = record_charges(
        caller,
        endpoint="charges/bulk",
        user_id=bulk.user_id,
        email=bulk.email,
        charges=bulk.charges,
        idempotency_key=idempotency_key(app),
        lambda_context=app.lambda_context,
        received_ms=received_ms(app),
        sent_at=bulk.sent_at,
    )
    record(charges=result.accepted, replayed=result.replayed or None)
    metrics.add_metric(name="ChargesAccepted", unit=MetricUnit.Count, value=result.stored)
    metrics.add_metric(name="BulkSize", unit=MetricUnit.Count, value=result.accepted)
    return success(headers={"Idempotent-Replayed": "true"} if result.replayed else None)


@metrics.log_metrics(capture_cold_start_metric=True)
@log_invocation(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
